"""async -t MS: an overall time limit. Past it the request is cancelled
through the safe-close path and async exits 5 within about a second, with no
output file, an existing one untouched and no temporary file left.

Each stall case runs twice (no file at the output path, then a precious
one), and each run must end between 0.25 s (not before the limit) and 2 s
(the limit plus a second and a margin for process start-up).
"""

import re
import unittest

import support
from support import bodies


class CliTimeoutTest(support.CliTestCase):

    LIMIT_MS = 300

    def check_times_out(self, target):
        results = self.check_failure_leaves_no_trace(
            ["-h", self.host, "-o", target, "-w", "out.htm",
             "-t", str(self.LIMIT_MS)],
            support.EXIT_TIMEOUT, any_of=["time"], timeout=30,
            max_elapsed=2.0, min_elapsed=0.25)
        # The request reached the server both times: the limit covered
        # the wait for the answer, not just connecting.
        log = self.new_log_lines()
        self.assertEqual(len(log), 2, log)
        for line in log:
            self.assertRegex(line, r"^\d+ GET %s$" % re.escape(target))
        return results

    def test_timeout_stall_before_headers(self):
        self.check_times_out("/stall")

    def test_timeout_stall_after_headers(self):
        self.check_times_out("/stall?after=headers&length=100000")

    def test_timeout_stall_mid_body(self):
        self.check_times_out("/stall?after=body&bytes=5000&length=100000")

    def test_timeout_stall_mid_large_body(self):
        # 3 MiB of a 10 MiB body arrive, then nothing: a partial file must
        # not survive.
        self.check_times_out("/stall?after=body&bytes=3145728&length=10485760")

    def test_timeout_slow_body(self):
        # Data keeps trickling (1 kB per 100 ms, 100 s in all), so only an
        # overall limit can end this.
        self.check_times_out("/slow/1000000?delay_ms=100&piece=1000")

    def test_timeout_closes_every_handle(self):
        result = self.get("/stall?after=headers", "-t", str(self.LIMIT_MS),
                          timeout=30)
        self.assertFailed(result, support.EXIT_TIMEOUT, any_of=["time"])
        events = support.parse_trace(result.stderr)
        try:
            support.check_handles(events)
        except AssertionError as err:
            self.fail("%s%s" % (err, result.describe()))

    def test_timeout_not_reached(self):
        n = 2 * support.MiB
        result = self.get("/bytes/%d" % n, "-t", "20000", timeout=60)
        self.assertSucceeded(result)
        self.assertFileSha("out.bin", bodies.body_sha256(n), n, result)
        # Finishing does not wait for the timer.
        self.assertLess(result.elapsed, 10.0, result.describe())

    def test_timeout_slow_but_within_limit(self):
        # About 0.5 s of trickle under a 10 s limit: must complete.
        n = 20000
        result = self.get("/slow/%d?delay_ms=25&piece=1000" % n, "-t", "10000",
                          timeout=60)
        self.assertSucceeded(result)
        self.assertFileSha("out.bin", bodies.body_sha256(n), n, result)


if __name__ == "__main__":
    unittest.main()
