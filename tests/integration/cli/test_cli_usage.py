"""The async command line: --help, --version, announced defaults, and every
kind of bad command line (exit 1, one `async: ` line naming the problem,
the usage text, nothing written and nothing sent to the server)."""

import re
import unittest

import support


class CliUsageTest(support.CliTestCase):

    def check_usage_error(self, args, needles=(), any_of=()):
        # -h is always our server, so a tool that wrongly goes ahead shows up
        # in the server's log rather than on the internet.
        results = self.check_failure_leaves_no_trace(
            args, support.EXIT_USAGE, needles, any_of, output="out.htm")
        for result in results:
            self.assertUsagePrinted(result)
        self.assertEqual(self.new_log_lines(), [],
                         "a request reached the server")

    # ---- help and version ----

    def test_help(self):
        result = self.run_async("--help")
        self.assertExit(result, support.EXIT_OK)
        self.assertIn("usage", result.stdout.lower(), result.describe())
        for switch in ("-m", "-h", "-o", "-s", "-p", "-w", "-r", "-t", "-f"):
            self.assertRegex(result.stdout, r"(?<![\w-])%s\b" % switch,
                             "switch %s not in the usage%s"
                             % (switch, result.describe()))
        self.assertEqual(result.error_lines(), [], result.describe())
        self.assertDirIs({}, result)

    def test_version(self):
        result = self.run_async("--version")
        self.assertExit(result, support.EXIT_OK)
        lines = result.stdout_lines
        self.assertTrue(lines, result.describe())
        match = re.fullmatch(r"async (\S+) \(ahttp (\S+)\)", lines[0])
        self.assertTrue(match, result.describe())
        self.assertEqual(match.group(2), support.library_version(),
                         result.describe())
        self.assertDirIs({}, result)

    # ---- defaults ----

    def test_defaults_announced(self):
        result = self.run_async("-h", self.host)
        self.assertSucceeded(result)
        for line in ("Defaulting resource to: /",
                     "Defaulting output file to: response.htm",
                     "Defaulting method to: GET",
                     "Defaulting timeout to: 120000"):
            self.assertIn(line, result.stdout_lines, result.describe())
        self.assertFalse(any(l.startswith("Defaulting hostname")
                             for l in result.stdout_lines), result.describe())
        # The server's "/" is its route list.
        self.assertTrue(self.read_file("response.htm").startswith(
            b"ahttp test server routes\n"))
        log = self.new_log_lines()
        self.assertEqual(len(log), 1, log)
        self.assertRegex(log[0], r"^\d+ GET /$")

    def test_no_defaults_when_all_given(self):
        result = self.run_async("-m", "GET", "-h", self.host, "-o", "/bytes/3",
                                "-w", "o.bin", "-t", "60000")
        self.assertSucceeded(result)
        self.assertEqual([l for l in result.stdout_lines
                          if l.startswith("Defaulting ")], [],
                         result.describe())

    # ---- bad command lines: exit 1 ----

    def test_unknown_switch(self):
        self.check_usage_error(["-h", self.host, "-x", "-w", "out.htm"],
                               needles=["-x"])

    def test_missing_value_last_switch(self):
        self.check_usage_error(["-w", "out.htm", "-o", "/", "-h"],
                               needles=["-h"])

    def test_missing_value_for_timeout(self):
        self.check_usage_error(["-h", self.host, "-w", "out.htm", "-t"],
                               needles=["-t"])

    def test_method_put_refused(self):
        self.check_usage_error(["-m", "PUT", "-h", self.host, "-w", "out.htm"],
                               needles=["PUT"])

    def test_method_head_refused(self):
        self.check_usage_error(["-m", "HEAD", "-h", self.host, "-w",
                                "out.htm"], needles=["HEAD"])

    def test_post_without_input_file(self):
        self.check_usage_error(["-m", "POST", "-h", self.host, "-o", "/upload",
                                "-w", "out.htm"], needles=["-r"])

    def test_extra_argument(self):
        self.check_usage_error(["-h", self.host, "-w", "out.htm", "stray"],
                               needles=["stray"])

    def test_timeout_not_a_number(self):
        self.check_usage_error(["-h", self.host, "-w", "out.htm", "-t", "abc"],
                               any_of=["abc", "-t"])

    def test_timeout_trailing_garbage(self):
        self.check_usage_error(["-h", self.host, "-w", "out.htm", "-t",
                                "300ms"], any_of=["300ms", "-t"])

    def test_timeout_zero(self):
        self.check_usage_error(["-h", self.host, "-w", "out.htm", "-t", "0"],
                               any_of=["-t", "timeout", "time-out"])

    def test_timeout_negative(self):
        self.check_usage_error(["-h", self.host, "-w", "out.htm", "-t", "-5"],
                               any_of=["-t", "-5", "timeout", "time-out"])



if __name__ == "__main__":
    unittest.main()
