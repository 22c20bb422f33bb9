"""async GET against the scripted server: every body arrives byte for byte.

Bodies of 0, 1, 4095, 4096, 4097 bytes and 10 MiB are fetched with each
framing (Content-Length, chunked, close-delimited); 200 MiB with
Content-Length and chunked only (close-delimited differs from them only in
how the end is found, which the smaller sizes cover), to keep the suite
quick. The output file's SHA-256 must equal body_sha256(n, seed).
"""

import os
import re
import unittest

import support
from support import MiB, bodies


class CliGetTest(support.CliTestCase):

    def check_get(self, n, framing, seed=1, query="", timeout=None):
        target = "/bytes/%d?framing=%s&seed=%d%s" % (n, framing, seed, query)
        result = self.get(target, timeout=timeout or
                          support.DEFAULT_RUN_TIMEOUT)
        self.assertSucceeded(result)
        sha = bodies.body_sha256(n, seed)
        self.assertFileSha("out.bin", sha, n, result)
        self.assertDirIs({"out.bin": sha}, result)
        self.assertIn("HTTP/1.1 200 OK", result.stderr_lines,
                      result.describe())
        log = self.new_log_lines()
        self.assertEqual(len(log), 1, "requests seen by the server: %s" % log)
        self.assertRegex(log[0], r"^\d+ GET %s$" % re.escape(target))
        return result

    # ---- sizes x framings ----

    def test_get_0_length(self):
        self.check_get(0, "length")

    def test_get_0_chunked(self):
        self.check_get(0, "chunked")

    def test_get_0_close(self):
        self.check_get(0, "close")

    def test_get_1_length(self):
        self.check_get(1, "length")

    def test_get_1_chunked(self):
        self.check_get(1, "chunked")

    def test_get_1_close(self):
        self.check_get(1, "close")

    def test_get_4095_length(self):
        self.check_get(4095, "length")

    def test_get_4095_chunked(self):
        self.check_get(4095, "chunked")

    def test_get_4095_close(self):
        self.check_get(4095, "close")

    def test_get_4096_length(self):
        self.check_get(4096, "length")

    def test_get_4096_chunked(self):
        self.check_get(4096, "chunked")

    def test_get_4096_close(self):
        self.check_get(4096, "close")

    def test_get_4097_length(self):
        self.check_get(4097, "length")

    def test_get_4097_chunked(self):
        self.check_get(4097, "chunked")

    def test_get_4097_close(self):
        self.check_get(4097, "close")

    def test_get_10mib_length(self):
        self.check_get(10 * MiB, "length", seed=2)

    def test_get_10mib_chunked(self):
        self.check_get(10 * MiB, "chunked", seed=3)

    def test_get_10mib_close(self):
        self.check_get(10 * MiB, "close", seed=4)

    def test_get_200mib_length(self):
        self.check_get(200 * MiB, "length", timeout=240)

    def test_get_200mib_chunked(self):
        self.check_get(200 * MiB, "chunked", timeout=240)

    # ---- framing details ----

    def test_get_chunked_one_byte_chunks(self):
        # 4097 chunks of one byte: every chunk boundary in a different place.
        self.check_get(4097, "chunked", query="&chunk=1")

    def test_get_chunked_odd_chunks_across_blocks(self):
        # Chunks of 99991 bytes (a prime) over 3 MiB + 7 bytes.
        self.check_get(3 * MiB + 7, "chunked", seed=9, query="&chunk=99991")

    def test_get_slow_trickle(self):
        # 300 kB in 16 KiB pieces with 10 ms pauses: many partial reads.
        n = 300000
        result = self.get("/slow/%d?delay_ms=10&piece=16384" % n)
        self.assertSucceeded(result)
        sha = bodies.body_sha256(n, 1)
        self.assertFileSha("out.bin", sha, n, result)
        self.assertDirIs({"out.bin": sha}, result)

    def test_get_http10_close_delimited(self):
        result = self.get("/raw/http10-close")
        self.assertSucceeded(result)
        data = b"hello from http/1.0\n"
        self.assertFileSha("out.bin", support.sha256_bytes(data), len(data),
                           result)
        self.assertIn("HTTP/1.0 200 OK", result.stderr_lines,
                      result.describe())

    # ---- HTTP status codes are data ----

    def test_get_404_body_written_exit_0(self):
        result = self.get("/status/404")
        self.assertSucceeded(result)
        self.assertEqual(self.read_file("out.bin"), b"status 404\n")
        self.assertIn("HTTP/1.1 404 Not Found", result.stderr_lines,
                      result.describe())
        self.assertDirIs({"out.bin": support.sha256_bytes(b"status 404\n")},
                         result)

    def test_get_500_body_written_exit_0(self):
        result = self.get("/status/500")
        self.assertSucceeded(result)
        self.assertEqual(self.read_file("out.bin"), b"status 500\n")
        self.assertIn("HTTP/1.1 500 Internal Server Error",
                      result.stderr_lines, result.describe())

    def test_get_204_writes_empty_file(self):
        result = self.get("/status/204")
        self.assertSucceeded(result)
        self.assertEqual(self.read_file("out.bin"), b"")
        self.assertDirIs({"out.bin": support.sha256_bytes(b"")}, result)

    def test_get_fail_flag_with_200_succeeds(self):
        result = self.get("/bytes/1000", "-f")
        self.assertSucceeded(result)
        self.assertFileSha("out.bin", bodies.body_sha256(1000), 1000, result)

    # ---- files ----

    def test_get_replaces_existing_output(self):
        self.write_file("out.bin", support.PRECIOUS * 1000)
        result = self.get("/bytes/5000?seed=5")
        self.assertSucceeded(result)
        sha = bodies.body_sha256(5000, 5)
        self.assertDirIs({"out.bin": sha}, result)

    def test_get_output_in_subdirectory(self):
        os.mkdir(self.path("sub"))
        result = self.get("/bytes/4097", output="sub/out.bin")
        self.assertSucceeded(result)
        self.assertDirIs({"sub/": None,
                          "sub/out.bin": bodies.body_sha256(4097)}, result)

    def test_get_output_absolute_path(self):
        os.mkdir(self.path("abs"))
        result = self.get("/bytes/777", output=self.path("abs", "x.bin"))
        self.assertSucceeded(result)
        self.assertDirIs({"abs/": None,
                          "abs/x.bin": bodies.body_sha256(777)}, result)

    def test_get_default_output_file(self):
        result = self.run_async("-h", self.host, "-o", "/bytes/321")
        self.assertSucceeded(result)
        self.assertIn("Defaulting output file to: response.htm",
                      result.stdout_lines, result.describe())
        self.assertDirIs({"response.htm": bodies.body_sha256(321)}, result)

    # ---- the request itself ----

    def test_get_method_case_insensitive(self):
        result = self.get("/echo", "-m", "get")
        self.assertSucceeded(result)
        self.assertTrue(self.read_file("out.bin").startswith(
            b"GET /echo HTTP/1.1\r\n"), result.describe())

    def test_get_request_head(self):
        # /echo answers with the request head exactly as received.
        result = self.get("/echo?x=1", "-m", "GET")
        self.assertSucceeded(result)
        head = self.read_file("out.bin")
        self.assertTrue(head.startswith(b"GET /echo?x=1 HTTP/1.1\r\n"), head)
        self.assertTrue(head.endswith(b"\r\n\r\n"), head)
        lines = head[:-4].split(b"\r\n")[1:]
        names = [l.split(b":", 1)[0].lower() for l in lines]
        self.assertIn(b"host: " + self.host.encode(),
                      [l.lower() for l in lines], head)
        self.assertEqual(names.count(b"host"), 1, head)
        self.assertNotIn(b"content-length", names, head)
        self.assertNotIn(b"transfer-encoding", names, head)


if __name__ == "__main__":
    unittest.main()
