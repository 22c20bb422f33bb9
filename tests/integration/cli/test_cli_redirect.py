"""async and redirects (issue 5): followed by default, --no-follow,
--max-redirs, the method rules of RFC 9110 for a POST, refused targets.

The scripted server's /chain/<n> answers n redirects and then what
/inspect answers (the method, target, length and SHA-256 of the body that
arrived, and the Authorization, Cookie ... fields), so the output file says
what the last request was; the server's request log (with its header
fields, FILE.headers) says what each hop was. A redirect that cannot be
followed is exit 4 with one "async: " line, and no output file is written
(an existing one is left as it was).
"""

import os
import shutil
import tempfile
import unittest

import support
from support import MiB, q

CODES = (301, 302, 303, 307, 308)


class CliRedirectTest(support.FeatureTestCase):

    # ---- helpers ----

    def url(self, path, server=None):
        return "http://%s%s" % ((server or self.server).host, path)

    def redirects(self, result):
        """The URLs of the trace's Redirect lines, in order."""
        found = []
        for text in support.status_texts(result):
            if text.startswith("Redirect ("):
                found.append(text[len("Redirect ("):-1])
        return found

    def resend_notes(self, result):
        return [line for line in result.stderr_lines
                if line.startswith("Redirected to ")]

    def answer(self, name="out.txt"):
        return support.inspect_answer(self.read_file(name))

    def check_get_chain(self, code, style="path", hops=3):
        query = "code=%d&style=%s" % (code, style)
        result = self.run_ok("-h", self.host, "-o",
                             "/chain/%d?%s" % (hops, query), "-w", "out.txt")
        answer = self.answer()
        self.assertEqual(answer["method"], ["GET"], result.describe())
        self.assertEqual(answer["target"], ["/chain/0?" + query])
        expected = [self.url("/chain/%d?%s" % (k, query))
                    for k in range(hops - 1, -1, -1)]
        self.assertEqual(self.redirects(result), expected, result.describe())
        self.assertEqual([(r.method, r.target) for r in self.requests()],
                         [("GET", "/chain/%d?%s" % (k, query))
                          for k in range(hops, -1, -1)])
        self.assertIn("HTTP/1.1 200 OK", result.stderr_lines)
        self.assertNotIn("HTTP/1.1 %d" % code, " ".join(result.stderr_lines))
        return result

    def check_refused(self, args, needles=(), any_of=(), env=None):
        """Exit 4, one error line, no output file, an old one untouched."""
        return self.check_failure_leaves_no_trace(
            args, support.EXIT_PROTOCOL, needles, any_of, output="out.txt",
            env=env)

    # ---- GET: every code is followed ----

    def test_get_follows_301(self):
        self.check_get_chain(301)

    def test_get_follows_302(self):
        self.check_get_chain(302)

    def test_get_follows_303(self):
        self.check_get_chain(303)

    def test_get_follows_307(self):
        self.check_get_chain(307)

    def test_get_follows_308(self):
        self.check_get_chain(308)

    def test_get_follows_absolute_locations(self):
        self.check_get_chain(302, style="url")

    def test_get_follows_relative_locations(self):
        # "2?..." against /chain/3?... is /chain/2?... (RFC 3986 5.2).
        self.check_get_chain(301, style="relative")

    def test_dot_dot_location_resolved(self):
        result = self.run_ok("-h", self.host, "-o",
                             "/redirect/302?to=" + q("../inspect?x=1"),
                             "-w", "out.txt")
        self.assertEqual(self.answer()["target"], ["/inspect?x=1"])
        self.assertEqual(self.redirects(result), [self.url("/inspect?x=1")])

    def test_network_path_location_resolved(self):
        to = "//%s/inspect?n=1" % self.host
        result = self.run_ok("-h", self.host, "-o",
                             "/redirect/301?to=" + q(to), "-w", "out.txt")
        self.assertEqual(self.answer()["target"], ["/inspect?n=1"])
        self.assertEqual(self.redirects(result), [self.url("/inspect?n=1")])

    def test_location_fragment_not_sent(self):
        result = self.run_ok("-h", self.host, "-o",
                             "/redirect/302?to=" + q("/inspect?a=b#frag"),
                             "-w", "out.txt")
        self.assertEqual(self.answer()["target"], ["/inspect?a=b"],
                         result.describe())
        self.assertNotIn("#", self.requests()[-1].target)

    def test_long_location_followed_whole(self):
        # The REDIRECT status text may be cut (at 255 bytes); the request
        # must still go to the whole URL.
        target = "/inspect?pad=" + "p" * 600 + "&end=1"
        result = self.run_ok("-h", self.host, "-o",
                             "/redirect/302?to=" + q(target), "-w", "out.txt")
        self.assertEqual(self.answer()["target"], [target], result.describe())
        shown = self.redirects(result)
        self.assertEqual(len(shown), 1, result.describe())
        self.assertTrue(self.url(target).startswith(shown[0]), shown)

    def test_redirect_to_another_port_followed(self):
        other = self.other_server()
        to = self.url("/inspect?o=1", other)
        result = self.run_ok("-h", self.host, "-o",
                             "/redirect/307?to=" + q(to), "-w", "out.txt")
        self.assertEqual(self.answer()["target"], ["/inspect?o=1"])
        self.assertEqual([(r.method, r.target) for r in self.requests(other)],
                         [("GET", "/inspect?o=1")])
        self.assertIn("Connecting to Server (%s)" % other.host,
                      support.status_texts(result), result.describe())

    def test_trace_order_of_one_redirect(self):
        # The redirect is reported after the 3xx came in and before the
        # next request goes out, on the same request handle.
        result = self.run_ok("-h", self.host, "-o",
                             "/redirect/302?to=" + q("/bytes/10"), "-w",
                             "out.bin")
        events = support.parse_trace(result.stderr)
        codes = support.encode(events)
        self.assertRegex(codes, r"^CCP?RrNnSs+(?:V?v)+D[^D]*Ss+(?:V?v)+",
                         result.describe())
        request = events[1].arg
        redirect = [e for e in events if e.code == "D"][0]
        self.assertEqual(redirect.handle, request)
        self.assertFileSha("out.bin", support.bodies.body_sha256(10), 10,
                           result)

    # ---- the 3xx body is never the answer when followed ----

    def check_redirect_body_dropped(self, framing):
        to = "/bytes/1000?seed=7"
        result = self.run_ok("-h", self.host, "-o",
                             "/redirect/302?size=300000&framing=%s&to=%s"
                             % (framing, q(to)), "-w", "out.bin")
        self.assertFileSha("out.bin", support.bodies.body_sha256(1000, 7),
                           1000, result)
        self.assertDirIs({"out.bin": support.bodies.body_sha256(1000, 7)},
                         result)

    def test_redirect_body_with_length_dropped(self):
        self.check_redirect_body_dropped("length")

    def test_redirect_body_chunked_dropped(self):
        self.check_redirect_body_dropped("chunked")

    def test_redirect_body_close_delimited_dropped(self):
        self.check_redirect_body_dropped("close")

    # ---- not followed ----

    def test_no_follow_writes_the_3xx(self):
        result = self.run_ok("-h", self.host, "-o",
                             "/redirect/302?to=" + q("/inspect"),
                             "--no-follow", "-w", "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"redirect 302\n")
        self.assertIn("HTTP/1.1 302 Found", result.stderr_lines)
        self.assertEqual(self.redirects(result), [], result.describe())
        self.assertEqual([r.target for r in self.requests()],
                         ["/redirect/302?to=%2Finspect"])

    def test_no_follow_with_fail_is_not_an_error(self):
        result = self.run_ok("-h", self.host, "-o",
                             "/redirect/301?to=" + q("/status/404"),
                             "--no-follow", "-f", "-w", "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"redirect 301\n",
                         result.describe())

    def test_no_follow_post_307_not_sent_again(self):
        self.make_body_file("in.bin", 5000)
        result = self.run_ok("-m", "POST", "-r", "in.bin", "-h", self.host,
                             "-o", "/redirect/307?to=" + q("/inspect"),
                             "--no-follow", "-w", "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"redirect 307\n")
        self.assertEqual(self.resend_notes(result), [], result.describe())
        self.assertEqual([r.method for r in self.requests()], ["POST"])

    def test_3xx_without_location_is_the_answer(self):
        result = self.run_ok("-h", self.host, "-o", "/redirect/302",
                             "-w", "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"redirect 302\n",
                         result.describe())
        self.assertEqual(len(self.requests()), 1)

    def test_300_is_not_followed(self):
        result = self.run_ok("-h", self.host, "-o",
                             "/redirect/300?to=" + q("/inspect"),
                             "-w", "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"redirect 300\n",
                         result.describe())
        self.assertEqual(len(self.requests()), 1)

    # ---- how many ----

    def test_ten_redirects_followed_by_default(self):
        result = self.run_ok("-h", self.host, "-o", "/chain/10", "-w",
                             "out.txt")
        self.assertEqual(self.answer()["target"], ["/chain/0"])
        self.assertEqual(len(self.redirects(result)), 10)

    def test_eleven_redirects_refused_by_default(self):
        self.check_refused(["-h", self.host, "-o", "/chain/11", "-w",
                            "out.txt"], needles=["too many redirects"])
        # Both runs: /chain/11 down to /chain/1, then no further request.
        targets = [r.target for r in self.requests()]
        self.assertEqual(targets, ["/chain/%d" % k for k in
                                   range(11, 0, -1)] * 2)

    def test_max_redirs_2_allows_two(self):
        result = self.run_ok("-h", self.host, "-o", "/chain/2", "--max-redirs",
                             "2", "-w", "out.txt")
        self.assertEqual(len(self.redirects(result)), 2)

    def test_max_redirs_2_refuses_three(self):
        self.check_refused(["-h", self.host, "-o", "/chain/3", "--max-redirs",
                            "2", "-w", "out.txt"],
                           needles=["too many redirects"])

    def test_max_redirs_0_refuses_any(self):
        self.check_refused(["-h", self.host, "-o",
                            "/redirect/302?to=" + q("/inspect"),
                            "--max-redirs", "0", "-w", "out.txt"],
                           needles=["too many redirects"])
        self.assertEqual([r.target for r in self.requests()],
                         ["/redirect/302?to=%2Finspect"] * 2)

    def test_max_redirs_1000_accepted(self):
        self.run_ok("-h", self.host, "-o", "/chain/1", "--max-redirs", "1000",
                    "-w", "out.txt")

    def test_redirect_loop_refused(self):
        results = self.check_refused(["-h", self.host, "-o", "/loop/a", "-w",
                                      "out.txt"],
                                     needles=["too many redirects"])
        self.assertEqual(len(self.redirects(results[0])), 10,
                         results[0].describe())

    def test_post_307_loop_refused(self):
        self.make_body_file("in.bin", 100)
        self.check_refused(["-m", "POST", "-r", "in.bin", "-h", self.host,
                            "-o", "/loop/a?code=307", "-w", "out.txt"],
                           needles=["too many redirects"])
        # 11 POSTs each run: the first and 10 sent again.
        self.assertEqual([r.method for r in self.requests()], ["POST"] * 22)

    def test_post_resends_count_against_max_redirs(self):
        self.make_body_file("in.bin", 100)
        self.check_refused(["-m", "POST", "-r", "in.bin", "-h", self.host,
                            "-o", "/chain/3?code=308", "--max-redirs", "2",
                            "-w", "out.txt"], needles=["too many redirects"])

    def test_post_resend_and_followed_hops_count_together(self):
        # One 307 sent again by async, then two 302s the library follows:
        # three redirects, one more than --max-redirs 2 allows.
        self.make_body_file("in.bin", 100)
        self.check_refused(["-m", "POST", "-r", "in.bin", "-h", self.host,
                            "-o", "/redirect/307?to=" +
                            q("/chain/2?code=302"), "--max-redirs", "2",
                            "-w", "out.txt"], needles=["too many redirects"])

    # ---- refused targets ----

    def test_redirect_to_ftp_refused(self):
        self.check_refused(["-h", self.host, "-o", "/redirect/302?to=" +
                            q("ftp://127.0.0.1/file"), "-w", "out.txt"],
                           any_of=["scheme"])
        self.assertEqual(len(self.requests()), 2)

    def test_redirect_to_invalid_url_refused(self):
        self.check_refused(["-h", self.host, "-o", "/redirect/301?to=" +
                            q("http://127.0.0.1:99999/"), "-w", "out.txt"],
                           any_of=["redirect", "location"])

    _pki = None

    @classmethod
    def pki(cls):
        """The test PKI (make_certs.sh), made the first time it is needed."""
        if cls._pki is None:
            folder = tempfile.mkdtemp(prefix="ahttp-cli-pki-")
            cls.addClassCleanup(shutil.rmtree, folder, True)
            cls._pki = support.make_certs(folder)
        return cls._pki

    def test_https_to_http_refused(self):
        pki = self.pki()
        tls = self.other_server("tls", support.tls_server_args(pki))
        to = self.url("/inspect")
        self.check_refused(["-s", "--cacert", os.path.join(pki, "ca.pem"),
                            "-h", tls.host, "-o", "/redirect/302?to=" + q(to),
                            "-w", "out.txt"],
                           any_of=["https to http", "plain http", "downgrade"])
        self.assertEqual(self.requests(), [], "the plain server was asked")
        self.assertEqual(len(self.requests(tls)), 2)

    def test_http_to_https_followed(self):
        pki = self.pki()
        tls = self.other_server("tls", support.tls_server_args(pki))
        env = dict(os.environ, SSL_CERT_FILE=os.path.join(pki, "ca.pem"))
        env.pop("SSL_CERT_DIR", None)
        to = "https://%s/inspect?tls=1" % tls.host
        result = self.run_async("-h", self.host, "-o",
                                "/redirect/302?to=" + q(to), "-w", "out.txt",
                                env=env)
        self.assertSucceeded(result)
        self.assertEqual(self.answer()["target"], ["/inspect?tls=1"])
        texts = support.status_texts(result)
        self.assertIn("Redirect (%s)" % to, texts)
        self.assertTrue(any(t.startswith("TLS handshake done") for t in
                            texts[texts.index("Redirect (%s)" % to):]),
                        result.describe())

    # ---- the final response counts ----

    def test_redirect_to_404_written(self):
        result = self.run_ok("-h", self.host, "-o", "/redirect/302?to=" +
                             q("/status/404"), "-w", "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"status 404\n",
                         result.describe())
        self.assertIn("HTTP/1.1 404 Not Found", result.stderr_lines)

    def test_redirect_to_404_with_fail_is_exit_6(self):
        self.check_failure_leaves_no_trace(
            ["-h", self.host, "-o", "/redirect/301?to=" + q("/status/404"),
             "-f", "-w", "out.txt"], support.EXIT_HTTP_STATUS,
            needles=["404"], output="out.txt")

    # ---- a failure after a redirect names the server it happened with ----

    def what_failed(self, result):
        """The part of the error line before the library's description:
        "cannot connect to HOST:PORT" and the like."""
        errors = result.error_lines()
        self.assertEqual(len(errors), 1, result.describe())
        return errors[0][len("async: "):].split(": ")[0]

    def test_refused_after_redirect_names_the_new_server(self):
        port = support.free_port_refusing()
        result = self.run_async("-h", self.host, "-o", "/redirect/302?to=" +
                                q("http://127.0.0.1:%d/x" % port), "-w",
                                "out.txt")
        self.assertFailed(result, support.EXIT_NETWORK)
        what = self.what_failed(result)
        self.assertIn("127.0.0.1:%d" % port, what, result.describe())
        self.assertNotIn(self.host, what, result.describe())

    def test_unresolvable_after_redirect_names_the_new_host(self):
        # .invalid never resolves (RFC 6761); no query leaves the machine.
        result = self.run_async("-h", self.host, "-o", "/redirect/302?to=" +
                                q("http://nosuch.invalid/x"), "-w", "out.txt")
        self.assertFailed(result, support.EXIT_NETWORK)
        what = self.what_failed(result)
        self.assertIn("nosuch.invalid", what, result.describe())

    def test_certificate_refused_after_redirect_names_the_new_server(self):
        tls = self.other_server("tls", support.tls_server_args(self.pki()))
        # Our test CA is not trusted by default: the certificate is refused.
        env = {k: v for k, v in os.environ.items()
               if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
        result = self.run_async("-h", self.host, "-o", "/redirect/302?to=" +
                                q("https://%s/x" % tls.host), "-w", "out.txt",
                                env=env)
        self.assertFailed(result, support.EXIT_TLS)
        what = self.what_failed(result)
        self.assertIn(tls.host, what, result.describe())
        self.assertNotIn(self.host, what, result.describe())

    # ---- POST: RFC 9110 15.4 ----

    def check_post_becomes_get(self, code):
        self.make_body_file("in.bin", 5000)
        result = self.run_ok("-m", "POST", "-r", "in.bin", "-h", self.host,
                             "-o", "/redirect/%d?to=%s" % (code,
                                                            q("/inspect")),
                             "-w", "out.txt")
        answer = self.answer()
        self.assertEqual(answer["method"], ["GET"], result.describe())
        self.assertEqual(answer["length"], ["0"])
        logged = self.requests()
        self.assertEqual([(r.method, r.target) for r in logged],
                         [("POST", "/redirect/%d?to=%%2Finspect" % code),
                          ("GET", "/inspect")])
        self.assertEqual(logged[0].values("content-length"), ["5000"])
        self.assertEqual(logged[1].values("content-length"), [])
        self.assertEqual(logged[1].values("transfer-encoding"), [])
        self.assertEqual(self.resend_notes(result), [])
        self.assertEqual(self.redirects(result), [self.url("/inspect")])

    def test_post_301_becomes_get(self):
        self.check_post_becomes_get(301)

    def test_post_302_becomes_get(self):
        self.check_post_becomes_get(302)

    def test_post_303_becomes_get(self):
        self.check_post_becomes_get(303)

    def check_post_sent_again(self, code, n=5000):
        sha = self.make_body_file("in.bin", n, seed=5)
        result = self.run_ok("-m", "POST", "-r", "in.bin", "-h", self.host,
                             "-o", "/redirect/%d?to=%s" % (code,
                                                            q("/inspect")),
                             "-w", "out.txt")
        answer = self.answer()
        self.assertEqual(answer["method"], ["POST"], result.describe())
        self.assertEqual(answer["length"], [str(n)])
        self.assertEqual(answer["sha256"], [sha])
        if n > 0:
            # (An empty body the library can send again by itself.)
            self.assertEqual(self.resend_notes(result),
                             ["Redirected to %s: sending 'in.bin' again"
                              % self.url("/inspect")])
        logged = self.requests()
        self.assertEqual([(r.method, r.target) for r in logged],
                         [("POST", "/redirect/%d?to=%%2Finspect" % code),
                          ("POST", "/inspect")])
        self.assertEqual(logged[1].values("content-length"), [str(n)])

    def test_post_307_sends_the_file_again(self):
        self.check_post_sent_again(307)

    def test_post_308_sends_the_file_again(self):
        self.check_post_sent_again(308)

    def test_post_307_empty_file_sent_again(self):
        self.check_post_sent_again(307, n=0)

    def test_post_308_two_mib_sent_again(self):
        self.check_post_sent_again(308, n=2 * MiB)

    def test_post_307_chain_sends_the_file_each_time(self):
        sha = self.make_body_file("in.bin", 70000, seed=3)
        result = self.run_ok("-m", "POST", "-r", "in.bin", "-h", self.host,
                             "-o", "/chain/3?code=307", "-w", "out.txt")
        answer = self.answer()
        self.assertEqual((answer["method"], answer["sha256"]),
                         (["POST"], [sha]), result.describe())
        self.assertEqual(len(self.resend_notes(result)), 3)
        self.assertEqual([(r.method, r.values("content-length"))
                          for r in self.requests()],
                         [("POST", ["70000"])] * 4)

    def test_post_307_then_303_becomes_get(self):
        self.make_body_file("in.bin", 1000)
        to = "/redirect/303?to=" + q("/inspect")
        result = self.run_ok("-m", "POST", "-r", "in.bin", "-h", self.host,
                             "-o", "/redirect/307?to=" + q(to), "-w",
                             "out.txt")
        self.assertEqual(self.answer()["method"], ["GET"], result.describe())
        self.assertEqual([r.method for r in self.requests()],
                         ["POST", "POST", "GET"])

    def test_post_307_to_another_port(self):
        other = self.other_server()
        sha = self.make_body_file("in.bin", 3000)
        to = self.url("/inspect", other)
        result = self.run_ok("-m", "POST", "-r", "in.bin", "-h", self.host,
                             "-o", "/redirect/307?to=" + q(to), "-w",
                             "out.txt")
        self.assertEqual(self.answer()["sha256"], [sha], result.describe())
        self.assertEqual([(r.method, r.target) for r in self.requests(other)],
                         [("POST", "/inspect")])

    # ---- usage errors ----

    def check_usage(self, value):
        results = self.check_failure_leaves_no_trace(
            ["-h", self.host, "-o", "/inspect", "--max-redirs", value, "-w",
             "out.txt"], support.EXIT_USAGE, needles=["--max-redirs"],
            output="out.txt")
        for result in results:
            self.assertUsagePrinted(result)
        self.assertEqual(self.requests(), [], "a request reached the server")

    def test_max_redirs_not_a_number(self):
        self.check_usage("x")

    def test_max_redirs_too_large(self):
        self.check_usage("1001")

    def test_max_redirs_negative(self):
        self.check_usage("-1")

    def test_max_redirs_trailing_garbage(self):
        self.check_usage("10x")


if __name__ == "__main__":
    unittest.main()
