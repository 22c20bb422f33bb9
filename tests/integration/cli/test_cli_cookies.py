"""async and cookies (issue 5): -b FILE to start with, -c FILE to save,
both in the Netscape cookie-file format curl uses; cookies set by any
response of a run (a redirect's included) are sent where they match.

The scripted server's /cookies/set answers a Set-Cookie field per `c`
parameter, /cookies/echo answers the Cookie fields it got (one a line), and
its header log shows every field of every request. The trace shows
"Cookie Received (1)" for each cookie stored, "Cookie History" followed by
a "Cookie Accepted" or "Cookie Rejected" line for each Set-Cookie, and
"Cookie found and will be sent with request (N)" before a request that
carries N cookies.
"""

import os
import time
import unittest

import support
from support import q

JAR_HEADER = "# Netscape HTTP Cookie File"
FUTURE = 4102444800  # 2100-01-01
SENT = "Cookie found and will be sent with request"


def cookie_line(domain, path, name, value, tailmatch=False, secure=False,
                expiry=0, http_only=False):
    return "%s%s\t%s\t%s\t%s\t%d\t%s\t%s\n" % (
        "#HttpOnly_" if http_only else "", domain,
        "TRUE" if tailmatch else "FALSE", path,
        "TRUE" if secure else "FALSE", expiry, name, value)


class CliCookiesTest(support.FeatureTestCase):

    # ---- helpers ----

    def set_path(self, *cookies):
        return "/cookies/set?" + "&".join("c=" + q(c) for c in cookies)

    def jar(self, name):
        """The cookie lines of a jar file as (http_only, domain, tailmatch,
        path, secure, expiry, name, value) tuples."""
        text = self.read_file(name).decode()
        found = []
        for line in text.splitlines():
            http_only = line.startswith("#HttpOnly_")
            if http_only:
                line = line[len("#HttpOnly_"):]
            elif not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            self.assertEqual(len(fields), 7, "bad jar line %r in:\n%s"
                             % (line, text))
            found.append((http_only, fields[0], fields[1], fields[2],
                          fields[3], int(fields[4]), fields[5], fields[6]))
        return found

    def echo(self, *extra, output="echo.txt"):
        """/cookies/echo with `extra` switches: (result, Cookie lines)."""
        result = self.run_async("-h", self.host, "-o", "/cookies/echo", "-w",
                                output, *extra)
        self.assertExit(result, support.EXIT_OK)
        self.assertIn("Done!", result.stdout_lines, result.describe())
        sent = self.read_file(output).decode().splitlines()
        logged = self.requests()[-1]
        self.assertEqual(logged.values("cookie"), sent)
        return result, sent

    def sent_counts(self, result):
        return [t for t in support.status_texts(result) if t.startswith(SENT)]

    def write_cookie_file(self, name, *lines):
        self.write_file(name, (JAR_HEADER + "\n\n" + "".join(lines)).encode())

    # ---- the round trip ----

    def test_round_trip_through_jar(self):
        result = self.run_ok("-h", self.host, "-o",
                             self.set_path("a=1; Path=/", "b=2"),
                             "-c", "jar.txt", "-w", "out.txt")
        texts = support.status_texts(result)
        self.assertEqual([t for t in texts if t.startswith("Cookie ")],
                         ["Cookie Received (1)", "Cookie History"] * 2,
                         result.describe())
        self.assertEqual(support.cookie_histories(result.stderr),
                         [["Cookie Accepted"]] * 2)
        self.assertEqual(self.sent_counts(result), [])
        self.assertTrue(self.read_file("jar.txt").decode().startswith(
            JAR_HEADER), self.read_file("jar.txt"))
        # b has the default path /cookies (RFC 6265 5.1.4).
        self.assertEqual(sorted(self.jar("jar.txt")), [
            (False, "127.0.0.1", "FALSE", "/", "FALSE", 0, "a", "1"),
            (False, "127.0.0.1", "FALSE", "/cookies", "FALSE", 0, "b", "2")])

        result, sent = self.echo("-b", "jar.txt")
        # One Cookie field, the longer path first (RFC 6265 5.4).
        self.assertEqual(sent, ["b=2; a=1"], result.describe())
        self.assertEqual(self.sent_counts(result), [SENT + " (2)"])
        self.assertEqual(support.cookie_histories(result.stderr), [])

    def test_cookie_sent_reported_before_the_request(self):
        self.write_cookie_file("jar.txt", cookie_line("127.0.0.1", "/", "s",
                                                      "1"))
        result, sent = self.echo("-b", "jar.txt")
        self.assertEqual(sent, ["s=1"])
        texts = support.status_texts(result)
        at = texts.index(SENT + " (1)")
        self.assertIn("Sending request", texts[at:], result.describe())
        self.assertNotIn("Sending request", texts[:at], result.describe())

    def test_no_cookies_without_b(self):
        self.run_ok("-h", self.host, "-o", self.set_path("a=1; Path=/"),
                    "-w", "out.txt")
        # A new run starts with an empty jar.
        result, sent = self.echo()
        self.assertEqual(sent, [], result.describe())
        self.assertEqual(self.sent_counts(result), [])

    def test_same_file_for_b_and_c_over_runs(self):
        result = self.run_async("-h", self.host, "-o",
                                self.set_path("one=1; Path=/"), "-b",
                                "jar.txt", "-c", "jar.txt", "-w", "out.txt")
        self.assertExit(result, support.EXIT_OK)
        notes = result.error_lines()
        self.assertEqual(len(notes), 1, result.describe())
        self.assertIn("note", notes[0])
        self.assertIn("jar.txt", notes[0])
        result = self.run_ok("-h", self.host, "-o",
                             self.set_path("two=2; Path=/"), "-b", "jar.txt",
                             "-c", "jar.txt", "-w", "out.txt")
        self.assertEqual(self.sent_counts(result), [SENT + " (1)"])
        self.assertEqual(sorted(c[6:] for c in self.jar("jar.txt")),
                         [("one", "1"), ("two", "2")])
        result, sent = self.echo("-b", "jar.txt")
        self.assertEqual(sorted(sent[0].split("; ")), ["one=1", "two=2"])

    def test_missing_b_file_is_only_a_note(self):
        result, sent = self.echo("-b", "nosuch.txt")
        self.assertEqual(sent, [])
        notes = result.error_lines()
        self.assertEqual(len(notes), 1, result.describe())
        self.assertIn("nosuch.txt", notes[0])
        self.assertIn("note", notes[0].lower())
        self.assertFalse(os.path.exists(self.path("nosuch.txt")))

    def test_c_replaces_the_file_whole(self):
        self.write_file("jar.txt", b"old junk that is no cookie line\n" * 50)
        self.run_ok("-h", self.host, "-o", self.set_path("k=v; Path=/"),
                    "-c", "jar.txt", "-w", "out.txt")
        text = self.read_file("jar.txt").decode()
        self.assertNotIn("junk", text)
        self.assertEqual([c[6:] for c in self.jar("jar.txt")], [("k", "v")])
        self.assertEqual(sorted(os.listdir(self.dir)), ["jar.txt", "out.txt"])

    def test_c_writes_an_empty_jar(self):
        self.run_ok("-h", self.host, "-o", "/cookies/echo", "-c", "jar.txt",
                    "-w", "out.txt")
        self.assertTrue(self.read_file("jar.txt").decode().startswith(
            JAR_HEADER))
        self.assertEqual(self.jar("jar.txt"), [])

    def test_persistent_cookie_keeps_its_expiry(self):
        before = int(time.time())
        self.run_ok("-h", self.host, "-o",
                    self.set_path("p=1; Path=/; Max-Age=3600"), "-c",
                    "jar.txt", "-w", "out.txt")
        after = int(time.time())
        (cookie,) = self.jar("jar.txt")
        self.assertEqual(cookie[6:], ("p", "1"))
        self.assertTrue(before + 3600 - 2 <= cookie[5] <= after + 3600 + 2,
                        cookie)

    def test_newer_cookie_replaces_older(self):
        self.write_cookie_file("in.txt", cookie_line("127.0.0.1", "/", "a",
                                                     "old"))
        self.run_ok("-h", self.host, "-o", self.set_path("a=new; Path=/"),
                    "-b", "in.txt", "-c", "jar.txt", "-w", "out.txt")
        self.assertEqual([c[6:] for c in self.jar("jar.txt")], [("a", "new")])

    def test_max_age_0_deletes_a_cookie(self):
        self.write_cookie_file("in.txt",
                               cookie_line("127.0.0.1", "/", "a", "1"),
                               cookie_line("127.0.0.1", "/", "b", "2"))
        self.run_ok("-h", self.host, "-o",
                    self.set_path("a=; Path=/; Max-Age=0"), "-b", "in.txt",
                    "-c", "jar.txt", "-w", "out.txt")
        self.assertEqual([c[6:] for c in self.jar("jar.txt")], [("b", "2")])

    def test_rejected_cookie_reported_and_not_kept(self):
        result = self.run_ok("-h", self.host, "-o",
                             self.set_path("d=1; Domain=example.com",
                                           "ok=1; Path=/"),
                             "-c", "jar.txt", "-w", "out.txt")
        self.assertEqual(support.cookie_histories(result.stderr),
                         [["Cookie Rejected"], ["Cookie Accepted"]],
                         result.describe())
        self.assertEqual(
            [t for t in support.status_texts(result)
             if t.startswith("Cookie Received")], ["Cookie Received (1)"])
        self.assertEqual([c[6:] for c in self.jar("jar.txt")], [("ok", "1")])

    # ---- what the -b file's cookies match ----

    def test_b_file_cookies_matched(self):
        self.write_cookie_file(
            "in.txt",
            "# a comment line\n",
            "\n",
            cookie_line("127.0.0.1", "/", "plain", "1"),
            cookie_line("127.0.0.1", "/cookies", "deeper", "2"),
            cookie_line("127.0.0.1", "/", "future", "3", expiry=FUTURE),
            cookie_line("127.0.0.1", "/", "ho", "4", http_only=True),
            cookie_line("127.0.0.1", "/", "secure", "x", secure=True),
            cookie_line("127.0.0.1", "/", "expired", "x", expiry=1),
            cookie_line("127.0.0.1", "/other", "otherpath", "x"),
            cookie_line("example.com", "/", "otherhost", "x"),
            cookie_line(".example.com", "/", "otherdomain", "x",
                        tailmatch=True))
        result, sent = self.echo("-b", "in.txt")
        self.assertEqual(len(sent), 1, result.describe())
        pairs = sent[0].split("; ")
        self.assertEqual(pairs[0], "deeper=2", sent)
        self.assertEqual(sorted(pairs),
                         ["deeper=2", "future=3", "ho=4", "plain=1"], sent)
        self.assertEqual(self.sent_counts(result), [SENT + " (4)"])

    def test_b_file_round_trips_through_c(self):
        self.write_cookie_file(
            "in.txt",
            cookie_line("127.0.0.1", "/", "future", "3", expiry=FUTURE),
            cookie_line("127.0.0.1", "/", "ho", "4", http_only=True),
            cookie_line("127.0.0.1", "/", "secure", "5", secure=True),
            cookie_line("127.0.0.1", "/", "expired", "x", expiry=1),
            cookie_line(".example.com", "/", "dom", "6", tailmatch=True))
        self.run_ok("-h", self.host, "-o", "/cookies/echo", "-b", "in.txt",
                    "-c", "jar.txt", "-w", "out.txt")
        self.assertEqual(sorted(self.jar("jar.txt")), sorted([
            (False, "127.0.0.1", "FALSE", "/", "FALSE", FUTURE, "future",
             "3"),
            (True, "127.0.0.1", "FALSE", "/", "FALSE", 0, "ho", "4"),
            (False, "127.0.0.1", "FALSE", "/", "TRUE", 0, "secure", "5"),
            (False, ".example.com", "TRUE", "/", "FALSE", 0, "dom", "6")]))

    # ---- redirects ----

    def test_cookie_set_by_302_sent_on_the_redirected_request(self):
        result = self.run_ok("-h", self.host, "-o",
                             "/redirect/302?c=%s&to=%s" % (
                                 q("r=1; Path=/"), q("/cookies/echo")),
                             "-w", "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"r=1\n")
        texts = support.status_texts(result)
        received = texts.index("Cookie Received (1)")
        redirect = [i for i, t in enumerate(texts) if t.startswith("Redirect")]
        sent = texts.index(SENT + " (1)")
        self.assertEqual(len(redirect), 1, result.describe())
        self.assertTrue(received < redirect[0] < sent, texts)
        logged = self.requests()
        self.assertEqual([r.values("cookie") for r in logged], [[], ["r=1"]])

    def test_cookie_not_sent_to_another_host_after_redirect(self):
        # 127.0.0.1 and localhost are different hosts to a cookie.
        to = "http://localhost:%d/cookies/echo" % self.server.port
        self.write_cookie_file("in.txt", cookie_line("127.0.0.1", "/", "b",
                                                     "1"))
        result = self.run_ok("-h", self.host, "-o",
                             "/redirect/302?c=%s&to=%s" % (q("r=1; Path=/"),
                                                           q(to)),
                             "-b", "in.txt", "-w", "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"", result.describe())
        logged = self.requests()
        self.assertEqual(len(logged), 2)
        self.assertEqual(logged[0].values("cookie"), ["b=1"])
        self.assertEqual(logged[1].values("host"),
                         ["localhost:%d" % self.server.port])
        self.assertEqual(logged[1].values("cookie"), [])

    def test_cookie_sent_to_another_port_of_the_host(self):
        # RFC 6265 section 8.5: cookies do not isolate ports.
        other = self.other_server()
        to = "http://%s/cookies/echo" % other.host
        result = self.run_ok("-h", self.host, "-o",
                             "/redirect/307?c=%s&to=%s" % (q("r=1; Path=/"),
                                                           q(to)),
                             "-w", "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"r=1\n",
                         result.describe())
        self.assertEqual([r.values("cookie") for r in self.requests(other)],
                         [["r=1"]])

    def test_cookie_set_by_307_sent_with_the_file_again(self):
        sha = self.make_body_file("in.bin", 2000)
        result = self.run_ok("-m", "POST", "-r", "in.bin", "-h", self.host,
                             "-o", "/redirect/307?c=%s&to=%s" % (
                                 q("k=v; Path=/"), q("/inspect")),
                             "-w", "out.txt")
        answer = support.inspect_answer(self.read_file("out.txt"))
        self.assertEqual(answer["sha256"], [sha], result.describe())
        self.assertEqual(answer["cookie"], ["k=v"])

    # ---- bad files ----

    def check_bad_cookie_file(self, lines, line_number):
        self.write_cookie_file("bad.txt", *lines)
        results = self.check_failure_leaves_no_trace(
            ["-h", self.host, "-o", "/cookies/echo", "-b", "bad.txt", "-w",
             "out.txt"], support.EXIT_FILE,
            needles=["bad.txt", "line %d" % line_number], output="out.txt")
        self.assertEqual(self.requests(), [], "a request was sent")
        return results

    def test_malformed_b_file_too_few_fields(self):
        # The header, a blank line, a good line, then the bad one: line 4.
        self.check_bad_cookie_file(
            [cookie_line("127.0.0.1", "/", "a", "1"),
             "127.0.0.1\tFALSE\t/\tFALSE\n"], 4)

    def test_malformed_b_file_not_true_or_false(self):
        self.check_bad_cookie_file(
            ["127.0.0.1\tMAYBE\t/\tFALSE\t0\ta\t1\n"], 3)

    def test_malformed_b_file_expiry_not_a_number(self):
        self.check_bad_cookie_file(
            ["127.0.0.1\tFALSE\t/\tFALSE\tsoon\ta\t1\n"], 3)

    def test_b_file_is_a_directory(self):
        os.mkdir(self.path("dir"))
        self.check_failure_leaves_no_trace(
            ["-h", self.host, "-o", "/cookies/echo", "-b", "dir", "-w",
             "out.txt"], support.EXIT_FILE, needles=["dir"],
            output="out.txt")
        self.assertEqual(self.requests(), [], "a request was sent")

    def run_jar_in_missing_directory(self):
        result = self.run_async("-h", self.host, "-o",
                                self.set_path("a=1; Path=/"), "-c",
                                "nodir/jar.txt", "-w", "out.txt")
        self.assertFalse(os.path.exists(self.path("nodir")))
        return result

    def test_jar_in_missing_directory_is_exit_2(self):
        result = self.run_jar_in_missing_directory()
        self.assertExit(result, support.EXIT_FILE)
        errors = result.error_lines()
        self.assertEqual(len(errors), 1, result.describe())
        self.assertIn("nodir/jar.txt", errors[0])

    def test_jar_in_missing_directory_is_no_success(self):
        # Exit 2 is a failure: "Done!" (success) must not be printed.
        result = self.run_jar_in_missing_directory()
        self.assertFailed(result, support.EXIT_FILE, needles=["nodir/jar.txt"])


if __name__ == "__main__":
    unittest.main()
