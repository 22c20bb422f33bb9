"""Runtime failures of async: local files (exit 2), network (3), protocol
(4), HTTP status with -f (6). Each must print one `async: ` line naming the
problem, create no output file, leave an existing one byte for byte as it
was, and leave no temporary file behind (check_failure_leaves_no_trace runs
each case both without and with a file at the output path)."""

import os
import unittest

import support


class CliErrorsTest(support.CliTestCase):

    def check_get_fails(self, target, code, needles=(), any_of=(), extra=()):
        return self.check_failure_leaves_no_trace(
            ["-h", self.host, "-o", target, "-w", "out.htm"] + list(extra),
            code, needles, any_of)

    # ---- local files: exit 2 ----

    def test_missing_input_file(self):
        self.check_failure_leaves_no_trace(
            ["-m", "POST", "-h", self.host, "-o", "/upload",
             "-r", "missing-input.bin", "-w", "out.htm"],
            support.EXIT_FILE, needles=["missing-input.bin"])

    def test_input_is_a_directory(self):
        os.mkdir(self.path("indir"))
        self.check_failure_leaves_no_trace(
            ["-m", "POST", "-h", self.host, "-o", "/upload",
             "-r", "indir", "-w", "out.htm"],
            support.EXIT_FILE, needles=["indir"])

    def test_output_directory_missing(self):
        self.check_failure_leaves_no_trace(
            ["-h", self.host, "-o", "/bytes/10", "-w", "nodir/out.htm"],
            support.EXIT_FILE, needles=["nodir"], output="nodir/out.htm",
            variants=(False,))

    def test_output_under_regular_file(self):
        # Tests may run as root, where mode bits do not stop writing; a
        # path below a regular file cannot be written by anyone.
        self.write_file("afile", b"not a directory\n")
        self.check_failure_leaves_no_trace(
            ["-h", self.host, "-o", "/bytes/10", "-w", "afile/out.htm"],
            support.EXIT_FILE, needles=["afile"], output="afile/out.htm",
            variants=(False,))

    def test_output_path_is_a_directory(self):
        os.mkdir(self.path("outdir"))
        self.check_failure_leaves_no_trace(
            ["-h", self.host, "-o", "/bytes/10", "-w", "outdir"],
            support.EXIT_FILE, needles=["outdir"], output="outdir",
            variants=(False,))

    # ---- network: exit 3 ----

    def test_unresolvable_host(self):
        self.check_failure_leaves_no_trace(
            ["-h", "nosuch.invalid", "-o", "/", "-w", "out.htm"],
            support.EXIT_NETWORK, needles=["nosuch.invalid"])

    def test_connection_refused(self):
        port = support.free_port_refusing()
        self.check_failure_leaves_no_trace(
            ["-h", "127.0.0.1:%d" % port, "-o", "/", "-w", "out.htm"],
            support.EXIT_NETWORK, any_of=["refused", "connect"])

    def test_server_closes_without_reply(self):
        self.check_get_fails("/raw/empty-reply", support.EXIT_NETWORK)

    def test_connection_reset_mid_body(self):
        self.check_get_fails("/bytes/5000000?reset_after=100000",
                             support.EXIT_NETWORK)

    def test_connection_reset_before_body(self):
        self.check_get_fails("/bytes/5000000?framing=chunked&reset_after=0",
                             support.EXIT_NETWORK)

    def test_server_closes_mid_head(self):
        self.check_get_fails("/raw/truncated-head", support.EXIT_NETWORK)

    def test_truncated_body(self):
        self.check_get_fails("/raw/truncated-body", support.EXIT_NETWORK)

    def test_truncated_chunked_body(self):
        self.check_get_fails("/raw/truncated-chunked", support.EXIT_NETWORK)

    def test_chunked_body_without_last_chunk(self):
        self.check_get_fails("/raw/truncated-chunked-no-last",
                             support.EXIT_NETWORK)

    # ---- protocol: exit 4 ----

    def test_protocol_content_length_and_chunked(self):
        self.check_get_fails("/raw/cl-and-te", support.EXIT_PROTOCOL)

    def test_protocol_conflicting_content_lengths(self):
        self.check_get_fails("/raw/cl-cl-conflict", support.EXIT_PROTOCOL)

    def test_protocol_no_status_line(self):
        self.check_get_fails("/raw/no-status-line", support.EXIT_PROTOCOL)

    def test_protocol_bad_chunk_size(self):
        self.check_get_fails("/raw/bad-chunk-size", support.EXIT_PROTOCOL)

    def test_protocol_obs_fold(self):
        self.check_get_fails("/raw/obs-fold", support.EXIT_PROTOCOL)

    def test_protocol_bare_cr_in_header(self):
        self.check_get_fails("/raw/bare-cr-header", support.EXIT_PROTOCOL)

    def test_protocol_header_too_large(self):
        self.check_get_fails("/raw/huge-header", support.EXIT_PROTOCOL)

    # ---- HTTP status with -f: exit 6 ----

    def test_fail_flag_404(self):
        self.check_get_fails("/status/404", support.EXIT_HTTP_STATUS,
                             needles=["404"], extra=["-f"])

    def test_fail_flag_500(self):
        self.check_get_fails("/status/500", support.EXIT_HTTP_STATUS,
                             needles=["500"], extra=["-f"])

    def test_fail_flag_400_boundary(self):
        self.check_get_fails("/status/400", support.EXIT_HTTP_STATUS,
                             needles=["400"], extra=["-f"])

    def test_fail_flag_399_is_not_an_error(self):
        result = self.get("/status/399", "-f")
        self.assertSucceeded(result)
        self.assertEqual(self.read_file("out.bin"), b"status 399\n")


if __name__ == "__main__":
    unittest.main()
