"""async and 1xx responses (issue 5): a POST of 1 MiB or more is sent with
"Expect: 100-continue" and its body waits for "100 Continue" (shown as
"Intermediate response (100)") or, from a server that never sends one,
for about a second; a server that rejects the request right after its head
(417, 401, a redirect) gets no body, and its answer is the response.
Smaller bodies go without Expect. Interim responses of a GET (103 Early
Hints, 102) are each shown before the final one.

The scripted server's /expect/100, /expect/none and /expect/reject play
those servers; /inspect and the header log show whether Expect was sent;
the trace's "Request sent (N Bytes)" lines show what went out when.
"""

import time
import unittest

import support
from support import MiB, q

INTERIM = "Intermediate response"


class CliExpectTest(support.FeatureTestCase):

    # ---- helpers ----

    def post(self, path, n, *extra, seed=1):
        sha = self.make_body_file("in.bin", n, seed)
        result = self.run_async("-m", "POST", "-r", "in.bin", "-h", self.host,
                                "-o", path, "-w", "out.txt", *extra)
        return sha, result

    def post_ok(self, path, n, *extra, seed=1):
        sha, result = self.post(path, n, *extra, seed=seed)
        self.assertSucceeded(result)
        support.check_handle_pairs(support.parse_trace(result.stderr))
        return sha, result

    def sent_and_interim(self, result):
        """The trace's Request sent byte counts and interim codes, in order:
        [("s", 137), ("I", "100"), ("s", 65536) ...]."""
        found = []
        for event in support.parse_trace(result.stderr):
            if event.code == "s":
                found.append(("s", event.arg))
            elif event.code == "I":
                found.append(("I", event.text[len(INTERIM) + 2:-1]))
        return found

    def bytes_sent(self, result):
        return sum(n for kind, n in self.sent_and_interim(result)
                   if kind == "s")

    def assertBodyAfterContinue(self, result, n):
        """The head went out, then the 100 came, then the n body bytes."""
        seen = self.sent_and_interim(result)
        kinds = [kind for kind, _ in seen]
        self.assertIn("I", kinds, result.describe())
        at = seen.index(("I", "100"))
        before = sum(v for k, v in seen[:at] if k == "s")
        after = sum(v for k, v in seen[at + 1:] if k == "s")
        self.assertTrue(0 < before < 4096, "before the 100: %d bytes (%s)%s"
                        % (before, seen, result.describe()))
        self.assertEqual(after, n, "%s%s" % (seen, result.describe()))

    # ---- when Expect is sent ----

    def check_expect_sent(self, n, sent):
        sha, result = self.post_ok("/inspect", n)
        answer = support.inspect_answer(self.read_file("out.txt"))
        self.assertEqual(answer["sha256"], [sha], result.describe())
        self.assertEqual(answer.get("expect"), ["100-continue"] if sent else
                         None)
        self.assertEqual(self.requests()[-1].values("expect"),
                         ["100-continue"] if sent else [])
        return result

    def test_expect_sent_for_1_mib(self):
        result = self.check_expect_sent(MiB, True)
        # /inspect answers 100 Continue when asked.
        self.assertBodyAfterContinue(result, MiB)

    def test_expect_sent_for_5_mib(self):
        self.check_expect_sent(5 * MiB, True)

    def test_no_expect_just_below_1_mib(self):
        result = self.check_expect_sent(MiB - 1, False)
        self.assertNotIn(INTERIM + " (100)", support.status_texts(result))

    def test_no_expect_for_small_post(self):
        self.check_expect_sent(1000, False)

    def test_no_expect_for_get(self):
        self.run_ok("-h", self.host, "-o", "/inspect", "-w", "out.txt")
        self.assertEqual(self.requests()[-1].values("expect"), [])

    # ---- a server that sends 100 ----

    def test_100_continue_then_the_body(self):
        sha, result = self.post_ok("/expect/100", 2 * MiB, seed=3)
        answer = support.inspect_answer(self.read_file("out.txt"))
        self.assertEqual(answer["sha256"], [sha])
        self.assertEqual(answer["expect"], ["100-continue"])
        self.assertBodyAfterContinue(result, 2 * MiB)
        support.check_order(support.parse_trace(result.stderr),
                            support.POST_ORDER)
        # The 100 came at once: no waiting for the time-out.
        self.assertLess(result.elapsed, 0.9 * support.TIME_SCALE,
                        result.describe())

    def test_late_100_continue_then_the_body(self):
        sha, result = self.post_ok("/expect/100?delay_ms=400", MiB)
        self.assertEqual(support.inspect_answer(
            self.read_file("out.txt"))["sha256"], [sha], result.describe())
        self.assertBodyAfterContinue(result, MiB)
        self.assertGreaterEqual(result.elapsed, 0.38, result.describe())

    def test_100_continue_then_103(self):
        sha, result = self.post_ok("/expect/100?hints=1", MiB)
        self.assertEqual(support.inspect_answer(
            self.read_file("out.txt"))["sha256"], [sha], result.describe())
        interim = [t for t in support.status_texts(result)
                   if t.startswith(INTERIM)]
        self.assertEqual(interim, [INTERIM + " (100)", INTERIM + " (103)"],
                         result.describe())
        self.assertBodyAfterContinue(result, MiB)
        last_interim = max(i for i, l in enumerate(result.stderr_lines)
                           if INTERIM in l)
        self.assertLess(last_interim,
                        result.stderr_lines.index("HTTP/1.1 200 OK"))

    # ---- a server that never sends 100 ----

    def test_no_100_body_sent_after_the_wait(self):
        sha, result = self.post_ok("/expect/none", MiB, seed=6)
        self.assertEqual(self.read_file("out.txt"),
                         ("%s %d\n" % (sha, MiB)).encode(), result.describe())
        self.assertEqual(self.requests()[-1].values("expect"),
                         ["100-continue"])
        self.assertNotIn("I", [k for k, _ in self.sent_and_interim(result)])
        self.assertGreaterEqual(result.elapsed, 0.8, result.describe())
        self.assertLess(result.elapsed, 4.0 * support.TIME_SCALE,
                        result.describe())

    # ---- a server that rejects ----

    def check_rejected(self, query, status_line, *extra):
        _, result = self.post("/expect/reject" + query, MiB, *extra)
        self.assertIn(status_line, result.stderr_lines, result.describe())
        sent = self.bytes_sent(result)
        self.assertLess(sent, 65536, "%d bytes went out: the body was sent%s"
                        % (sent, result.describe()))
        self.assertEqual(self.requests()[0].values("expect"),
                         ["100-continue"])
        return result

    def test_417_is_the_answer(self):
        result = self.check_rejected("", "HTTP/1.1 417 Expectation Failed")
        self.assertSucceeded(result)
        self.assertEqual(self.read_file("out.txt"), b"rejected\n")

    def test_401_is_the_answer(self):
        result = self.check_rejected("?code=401", "HTTP/1.1 401 Unauthorized")
        self.assertSucceeded(result)
        self.assertEqual(self.read_file("out.txt"), b"rejected\n")

    def test_417_with_fail_is_exit_6(self):
        self.write_file("out.txt", support.PRECIOUS)
        result = self.check_rejected("", "HTTP/1.1 417 Expectation Failed",
                                     "-f")
        self.assertFailed(result, support.EXIT_HTTP_STATUS, needles=["417"])
        self.assertEqual(self.read_file("out.txt"), support.PRECIOUS)

    def test_rejected_body_never_follows_on_the_connection(self):
        # keep=1: the server answers 417 at once and keeps reading the
        # connection as requests. The file is made of requests, so a body
        # sent after all would show up in the log as more of them.
        request = b"GET /status/299 HTTP/1.1\r\nHost: x\r\n\r\n"
        data = request * (MiB // len(request) + 1)
        self.write_file("in.bin", data)
        result = self.run_async("-m", "POST", "-r", "in.bin", "-h", self.host,
                                "-o", "/expect/reject?keep=1&wait_ms=0", "-w",
                                "out.txt")
        self.assertSucceeded(result)
        self.assertIn("HTTP/1.1 417 Expectation Failed", result.stderr_lines)
        time.sleep(0.3)  # what the server might still be reading
        self.assertEqual([(r.method, r.target) for r in self.requests()],
                         [("POST", "/expect/reject?keep=1&wait_ms=0")],
                         result.describe())

    def test_redirect_instead_of_100_sends_the_file_to_the_new_url(self):
        # The 307 comes right after the head: the body goes only to
        # /expect/100, after its 100 Continue.
        sha, result = self.post_ok("/redirect/307?early=1&to=" +
                                   q("/expect/100"), MiB, seed=8)
        answer = support.inspect_answer(self.read_file("out.txt"))
        self.assertEqual(answer["sha256"], [sha], result.describe())
        self.assertEqual([(r.method, r.values("expect"))
                          for r in self.requests()],
                         [("POST", ["100-continue"])] * 2)
        seen = self.sent_and_interim(result)
        self.assertEqual([k for k, _ in seen].count("I"), 1, seen)
        self.assertEqual(self.bytes_sent(result) - MiB,
                         sum(v for k, v in seen[:seen.index(("I", "100"))]
                             if k == "s"), seen)

    def test_303_instead_of_100_sends_no_body(self):
        _, result = self.post_ok("/redirect/303?early=1&to=" + q("/inspect"),
                                 MiB)
        answer = support.inspect_answer(self.read_file("out.txt"))
        self.assertEqual((answer["method"], answer["length"]),
                         (["GET"], ["0"]), result.describe())
        self.assertLess(self.bytes_sent(result), 65536, result.describe())

    # ---- interim responses of a GET ----

    def check_interim(self, codes):
        result = self.run_ok("-h", self.host, "-o",
                             "/early-hints?codes=" + ",".join(codes), "-w",
                             "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"hello")
        texts = support.status_texts(result)
        self.assertEqual([t for t in texts if t.startswith(INTERIM)],
                         ["%s (%s)" % (INTERIM, c) for c in codes],
                         result.describe())
        lines = result.stderr_lines
        last = max(i for i, l in enumerate(lines) if INTERIM in l)
        self.assertLess(last, lines.index("HTTP/1.1 200 OK"))
        # After the request went out, before the response is complete.
        events = support.parse_trace(result.stderr)
        codes_seen = support.encode(events)
        self.assertRegex(codes_seen, r"Ss+(?:V?v)+I(?:(?:V?v)*I)*(?:V?v)*Q",
                         result.describe())

    def test_early_hints(self):
        self.check_interim(["103"])

    def test_several_interim_responses(self):
        self.check_interim(["103", "102", "103"])


if __name__ == "__main__":
    unittest.main()
