"""async -m POST -r FILE: the file goes out whole, the answer is written.

The server's /upload answers "<sha256> <length>\\n" of what it received, so
the output file proves the request body arrived byte for byte.
"""

import re
import unittest

import support
from support import MiB


class CliPostTest(support.CliTestCase):

    def check_post(self, n, seed=1, timeout=None):
        sha = self.make_body_file("in.bin", n, seed)
        result = self.run_async("-m", "POST", "-h", self.host, "-o", "/upload",
                                "-r", "in.bin", "-w", "answer.txt",
                                timeout=timeout or support.DEFAULT_RUN_TIMEOUT)
        self.assertSucceeded(result)
        answer = ("%s %d\n" % (sha, n)).encode()
        self.assertEqual(self.read_file("answer.txt"), answer,
                         result.describe())
        self.assertDirIs({"in.bin": sha,
                          "answer.txt": support.sha256_bytes(answer)}, result)
        self.assertIn("HTTP/1.1 200 OK", result.stderr_lines,
                      result.describe())
        log = self.new_log_lines()
        self.assertEqual(len(log), 1, "requests seen by the server: %s" % log)
        self.assertRegex(log[0], r"^\d+ POST /upload$")

    def test_post_0_bytes(self):
        self.check_post(0)

    def test_post_1_byte(self):
        self.check_post(1)

    def test_post_4096_bytes(self):
        self.check_post(4096, seed=2)

    def test_post_10mib(self):
        self.check_post(10 * MiB, seed=3)

    def test_post_200mib(self):
        self.check_post(200 * MiB, timeout=240)

    def test_post_method_case_insensitive(self):
        sha = self.make_body_file("in.bin", 100)
        result = self.run_async("-m", "post", "-h", self.host, "-o", "/upload",
                                "-r", "in.bin", "-w", "answer.txt")
        self.assertSucceeded(result)
        self.assertEqual(self.read_file("answer.txt"),
                         ("%s 100\n" % sha).encode())

    def echo_head(self, n):
        self.make_body_file("in.bin", n)
        result = self.run_async("-m", "POST", "-h", self.host, "-o", "/echo",
                                "-r", "in.bin", "-w", "head.txt")
        self.assertSucceeded(result)
        head = self.read_file("head.txt")
        self.assertTrue(head.startswith(b"POST /echo HTTP/1.1\r\n"), head)
        self.assertTrue(head.endswith(b"\r\n\r\n"), head)
        return [l for l in head[:-4].split(b"\r\n")[1:]]

    def test_post_sends_content_length(self):
        lines = self.echo_head(1234)
        lowered = [l.lower() for l in lines]
        self.assertIn(b"content-length: 1234", lowered, lines)
        self.assertFalse(any(l.startswith(b"transfer-encoding:")
                             for l in lowered), lines)
        self.assertIn(b"host: " + self.host.encode(), lowered, lines)

    def test_post_empty_file_sends_content_length_0(self):
        lines = self.echo_head(0)
        self.assertIn(b"content-length: 0", [l.lower() for l in lines], lines)

    def test_post_answer_404_written(self):
        self.make_body_file("in.bin", 10)
        result = self.run_async("-m", "POST", "-h", self.host, "-o",
                                "/status/404", "-r", "in.bin", "-w", "out.txt")
        self.assertSucceeded(result)
        self.assertEqual(self.read_file("out.txt"), b"status 404\n")

    def test_post_server_refuses_early_with_413(self):
        # The server answers 413 after the head and stops reading. Either
        # async sees the 413 (a complete response: written, exit 0) or its
        # upload is cut off first (a network error: exit 3, no file).
        sha = self.make_body_file("in.bin", 50 * MiB)
        result = self.run_async("-m", "POST", "-h", self.host, "-o",
                                "/upload?respond_early=1", "-r", "in.bin",
                                "-w", "out.txt", timeout=60)
        if result.returncode == support.EXIT_OK:
            self.assertSucceeded(result)
            self.assertEqual(self.read_file("out.txt"), b"too large\n")
            self.assertTrue(any(re.match(r"HTTP/1\.1 413 ", l)
                                for l in result.stderr_lines),
                            result.describe())
        else:
            self.assertFailed(result, support.EXIT_NETWORK)
            self.assertDirIs({"in.bin": sha}, result)


if __name__ == "__main__":
    unittest.main()
