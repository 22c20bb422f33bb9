"""The status trace async prints on stderr: its format, the order of the
statuses (DESIGN.md "Event order"), the byte counts it reports, and the
handle lifetime rules (HANDLE_CLOSING exactly once per handle, last).

The order is checked by encoding each status as one letter (support.py,
STATUS_CODES) and matching a regular expression over the whole string;
test_matcher_* make sure that matcher rejects wrong orders.
"""

import unittest

import support
from support import bodies


def synthetic(*rows):
    """stderr text from (handle, status text) rows."""
    return "".join("Callback received for handle %s\tStatus: %s\n" % row
                   for row in rows)


CONN, REQ, SESSION = "0x10", "0x20", "0x1"

VALID_GET = [
    (CONN, "Handle 0x10 created"),
    (REQ, "Handle 0x20 created"),
    (REQ, "Resolving Name"),
    (REQ, "Name Resolved"),
    (REQ, "Connecting to Server"),
    (REQ, "Connected to Server"),
    (REQ, "Sending request"),
    (REQ, "Request sent (80 Bytes)"),
    (REQ, "Receiving Response"),
    (REQ, "Response Received (300 Bytes)"),
    (REQ, "Request complete"),
    (REQ, "Receiving Response"),
    (REQ, "Response Received (100 Bytes)"),
    (REQ, "Request complete"),
    (REQ, "Handle Closing"),
    (CONN, "Handle Closing"),
]


class CliTraceTest(support.CliTestCase):

    def trace_of(self, result, order):
        try:
            events = support.parse_trace(result.stderr)
            handles = support.check_order(events, order)
        except AssertionError as err:
            self.fail("%s%s" % (err, result.describe()))
        return events, handles

    # ---- the matcher itself (no async needed) ----

    def test_matcher_accepts_valid_traces(self):
        events = support.parse_trace(synthetic(*VALID_GET))
        self.assertEqual(support.encode(events), "CCRrNnSsVvQVvQXX")
        self.assertEqual(support.check_order(events, support.GET_ORDER),
                         (CONN, REQ))
        # Connection closings, a proxy check and the session's closing
        # are allowed where the contract allows them.
        rows = (VALID_GET[:2] + [(REQ, "Detecting Proxy")] + VALID_GET[2:13] +
                [(REQ, "Closing Connection"), (REQ, "Connection Closed")] +
                VALID_GET[13:] + [(SESSION, "Closing Connection"),
                                  (SESSION, "Connection Closed"),
                                  (SESSION, "Handle Closing")])
        support.check_order(support.parse_trace(synthetic(*rows)),
                            support.GET_ORDER)
        # Other stderr lines are ignored.
        text = "HTTP/1.1 200 OK\nWaiting for the response\n" + synthetic(
            *VALID_GET)
        support.check_order(support.parse_trace(text), support.GET_ORDER)

    def test_matcher_rejects_wrong_orders(self):
        def swapped(rows, i, j):
            rows = list(rows)
            rows[i], rows[j] = rows[j], rows[i]
            return rows

        bad = {
            "resolved before resolving": swapped(VALID_GET, 2, 3),
            "sent before connected": swapped(VALID_GET, 5, 6),
            "complete before response": swapped(VALID_GET, 9, 10),
            "created after resolving": swapped(VALID_GET, 1, 2),
            "connect closed first": swapped(VALID_GET, 14, 15),
            "request closed twice": VALID_GET + [(REQ, "Handle Closing")],
            "connect never closed": VALID_GET[:-1],
            "request never closed": VALID_GET[:-2] + VALID_GET[-1:],
            "no request complete": VALID_GET[:10] + VALID_GET[14:],
            "status after closing": VALID_GET[:15] + [
                (REQ, "Response Received (5 Bytes)"), VALID_GET[15]],
            "read after closing on another handle": VALID_GET + [
                (SESSION, "Request complete")],
            "nothing received": VALID_GET[:8] + [(REQ, "Request complete")] +
            VALID_GET[14:],
            "one handle created": VALID_GET[1:-1],
            "no connect": VALID_GET[:4] + VALID_GET[6:],
        }
        for name, rows in bad.items():
            with self.subTest(name):
                events = support.parse_trace(synthetic(*rows))
                with self.assertRaises(AssertionError):
                    support.check_order(events, support.GET_ORDER)

    def test_matcher_rejects_malformed_lines(self):
        for line in ("Callback received for handle 0x10 Status: Name Resolved",
                     "Callback received for handle 16\tStatus: Name Resolved",
                     "Callback received for handle 0x10\tStatus: "
                     "Nmae Resolved",
                     "Callback received for handle 0x10\tStatus: "
                     "Request sent (x Bytes)"):
            with self.subTest(line):
                with self.assertRaises(AssertionError):
                    events = support.parse_trace(line + "\n")
                    support.check_order(events, support.GET_ORDER)

    # ---- async's real traces ----

    def test_trace_lines_well_formed(self):
        result = self.get("/bytes/1000")
        self.assertSucceeded(result)
        status_lines = [l for l in result.stderr_lines if "Status:" in l]
        self.assertTrue(status_lines, result.describe())
        for line in status_lines:
            self.assertTrue(support.STATUS_LINE.fullmatch(line),
                            "malformed: %r%s" % (line, result.describe()))
        self.assertIn("HTTP/1.1 200 OK", result.stderr_lines,
                      result.describe())
        self.trace_of(result, support.GET_ORDER)

    def test_trace_get_order(self):
        result = self.get("/bytes/10000")
        self.assertSucceeded(result)
        self.trace_of(result, support.GET_ORDER)

    def test_trace_get_chunked_order(self):
        result = self.get("/bytes/100000?framing=chunked&chunk=1000")
        self.assertSucceeded(result)
        self.trace_of(result, support.GET_ORDER)

    def test_trace_get_404_order(self):
        result = self.get("/status/404")
        self.assertSucceeded(result)
        self.assertIn("HTTP/1.1 404 Not Found", result.stderr_lines,
                      result.describe())
        self.trace_of(result, support.GET_ORDER)

    def test_trace_get_close_framing_reports_connection_closed(self):
        # The server ends the body by closing: the socket closes while the
        # request is open, so CLOSING_CONNECTION and CONNECTION_CLOSED come
        # before the request's HANDLE_CLOSING.
        result = self.get("/bytes/10000?framing=close")
        self.assertSucceeded(result)
        events, (_, request) = self.trace_of(result, support.GET_ORDER)
        codes = support.encode(events)
        request_closing = next(i for i, e in enumerate(events)
                               if e.code == "X" and e.handle == request)
        self.assertIn("Kk", codes[:request_closing], result.describe())

    def test_trace_post_order(self):
        self.make_body_file("in.bin", 100000)
        result = self.run_async("-m", "POST", "-h", self.host, "-o", "/upload",
                                "-r", "in.bin", "-w", "answer.txt")
        self.assertSucceeded(result)
        self.trace_of(result, support.POST_ORDER)

    def test_trace_request_sent_bytes_match_request(self):
        # /echo returns the request head exactly, so the REQUEST_SENT byte
        # counts of a GET must add up to its length.
        result = self.get("/echo")
        self.assertSucceeded(result)
        events, _ = self.trace_of(result, support.GET_ORDER)
        sent = sum(e.arg for e in events if e.code == "s")
        self.assertEqual(sent, len(self.read_file("out.bin")),
                         result.describe())

    def test_trace_post_request_sent_bytes_cover_body(self):
        n = 300000
        self.make_body_file("in.bin", n)
        result = self.run_async("-m", "POST", "-h", self.host, "-o", "/upload",
                                "-r", "in.bin", "-w", "answer.txt")
        self.assertSucceeded(result)
        events, _ = self.trace_of(result, support.POST_ORDER)
        sent = sum(e.arg for e in events if e.code == "s")
        head = len(b"POST /upload HTTP/1.1\r\n\r\n")
        self.assertGreaterEqual(sent, n + head, result.describe())
        self.assertLess(sent, n + 8192, result.describe())

    def test_trace_response_received_bytes_cover_body(self):
        n = 10000
        result = self.get("/bytes/%d" % n)
        self.assertSucceeded(result)
        self.assertFileSha("out.bin", bodies.body_sha256(n), n, result)
        events, _ = self.trace_of(result, support.GET_ORDER)
        received = sum(e.arg for e in events if e.code == "v")
        self.assertGreaterEqual(received, n, result.describe())
        self.assertLess(received, n + 8192, result.describe())

    def test_trace_refused_closes_every_handle(self):
        port = support.free_port_refusing()
        result = self.run_async("-h", "127.0.0.1:%d" % port, "-o", "/",
                                "-w", "out.htm")
        self.assertFailed(result, support.EXIT_NETWORK)
        self.trace_of(result, support.REFUSED_ORDER)


if __name__ == "__main__":
    unittest.main()
