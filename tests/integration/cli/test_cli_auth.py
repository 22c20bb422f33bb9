"""async -u USER[:PASSWORD] (issue 5): Basic credentials for the origin of
-h only, never carried to another origin by a redirect, the password never
printed; a 401 is an answer like any other (exit 6 with -f).

The scripted server's /auth/basic?user=U&pass=P answers 200
"authenticated U" to exactly "Authorization: Basic base64(U:P)" and 401
otherwise; its header log shows the Authorization field of every request.
"""

import unittest

import support
from support import q

SECRET = "s3cr3t-Zq9"  # never in a URL, so it must not show anywhere
PASSWORD = "open-pw"  # the password of /auth/basic URLs (shown there)
USER = "alice"


class CliAuthTest(support.FeatureTestCase):

    def auth_path(self, user=USER, password=PASSWORD):
        return "/auth/basic?user=%s&pass=%s" % (q(user), q(password))

    def authorizations(self, server=None):
        return [r.values("authorization") for r in self.requests(server)]

    # ---- sent to the server of -h ----

    def test_credentials_accepted(self):
        result = self.run_ok("-h", self.host, "-o", self.auth_path(), "-u",
                             "%s:%s" % (USER, PASSWORD), "-w", "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"authenticated alice\n")
        self.assertEqual(self.authorizations(),
                         [[support.basic_credentials(USER, PASSWORD)]])
        self.assertIn("HTTP/1.1 200 OK", result.stderr_lines)

    def test_long_switch(self):
        self.run_ok("-h", self.host, "-o", self.auth_path(), "--user",
                    "%s:%s" % (USER, PASSWORD), "-w", "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"authenticated alice\n")

    def check_sent_as(self, switch_value, user, password):
        result = self.run_ok("-h", self.host, "-o", "/inspect", "-u",
                             switch_value, "-w", "out.txt")
        expected = support.basic_credentials(user, password)
        self.assertEqual(self.authorizations(), [[expected]])
        answer = support.inspect_answer(self.read_file("out.txt"))
        self.assertEqual(answer["authorization"], [expected])
        return result

    def test_credentials_sent_password_not_printed(self):
        result = self.check_sent_as("%s:%s" % (USER, SECRET), USER, SECRET)
        self.assertNoSecret(result, SECRET)

    def test_user_without_password(self):
        self.check_sent_as(USER, USER, "")

    def test_empty_password(self):
        self.check_sent_as(USER + ":", USER, "")

    def test_password_with_colons(self):
        # Only the first ':' separates (RFC 7617: a user-id has no ':').
        self.check_sent_as("bob:pa:ss:", "bob", "pa:ss:")
        result = self.run_ok("-h", self.host, "-o",
                             self.auth_path("bob", "pa:ss:"), "-u",
                             "bob:pa:ss:", "-w", "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"authenticated bob\n",
                         result.describe())

    def test_utf8_credentials(self):
        user, password = "j\u00f6rg", "p\u00e4ss \u20ac"
        # The server decodes its parameters as ISO-8859-1: give it the
        # UTF-8 bytes RFC 7617 section 2.1 has a client send.
        path = "/auth/basic?user=%s&pass=%s" % (
            q(user.encode("utf-8")), q(password.encode("utf-8")))
        result = self.run_ok("-h", self.host, "-o", path, "-u",
                             "%s:%s" % (user, password), "-w", "out.txt")
        self.assertEqual(self.read_file("out.txt"),
                         b"authenticated " + user.encode("utf-8") + b"\n",
                         result.describe())

    def test_no_credentials_without_u(self):
        result = self.run_ok("-h", self.host, "-o", self.auth_path(), "-w",
                             "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"unauthorized\n")
        self.assertEqual(self.authorizations(), [[]])
        self.assertIn("HTTP/1.1 401 Unauthorized", result.stderr_lines)

    # ---- 401 ----

    def test_wrong_password_401_written(self):
        result = self.run_ok("-h", self.host, "-o", self.auth_path(), "-u",
                             "%s:wrong-%s" % (USER, SECRET), "-w", "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"unauthorized\n")
        self.assertIn("HTTP/1.1 401 Unauthorized", result.stderr_lines)
        self.assertNoSecret(result, SECRET)
        # One request: a Basic challenge answered with the same
        # credentials would only be refused again.
        self.assertEqual(len(self.requests()), 1)

    def test_401_with_fail_is_exit_6(self):
        results = self.check_failure_leaves_no_trace(
            ["-h", self.host, "-o", self.auth_path(), "-u",
             "%s:wrong-%s" % (USER, SECRET), "-f", "-w", "out.txt"],
            support.EXIT_HTTP_STATUS, needles=["401"], output="out.txt")
        for result in results:
            self.assertNoSecret(result, SECRET)

    def test_401_without_u_with_fail_is_exit_6(self):
        self.check_failure_leaves_no_trace(
            ["-h", self.host, "-o", self.auth_path(), "-f", "-w", "out.txt"],
            support.EXIT_HTTP_STATUS, needles=["401"], output="out.txt")

    # ---- redirects ----

    def test_credentials_kept_on_same_origin_redirect(self):
        result = self.run_ok("-h", self.host, "-o",
                             "/redirect/302?to=" + q(self.auth_path()),
                             "-u", "%s:%s" % (USER, PASSWORD), "-w",
                             "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"authenticated alice\n",
                         result.describe())
        expected = support.basic_credentials(USER, PASSWORD)
        self.assertEqual(self.authorizations(), [[expected], [expected]])

    def test_credentials_not_sent_to_another_port(self):
        other = self.other_server()
        to = "http://%s%s" % (other.host, self.auth_path())
        result = self.run_ok("-h", self.host, "-o", "/redirect/302?to=" +
                             q(to), "-u", "%s:%s" % (USER, SECRET), "-w",
                             "out.txt")
        self.assertEqual(self.read_file("out.txt"), b"unauthorized\n",
                         result.describe())
        self.assertEqual(self.authorizations(other), [[]])
        self.assertEqual(self.authorizations(),
                         [[support.basic_credentials(USER, SECRET)]])
        self.assertNoSecret(result, SECRET)

    def test_credentials_not_sent_to_another_host_name(self):
        to = "http://localhost:%d/inspect" % self.server.port
        result = self.run_ok("-h", self.host, "-o", "/redirect/301?to=" +
                             q(to), "-u", "%s:%s" % (USER, SECRET), "-w",
                             "out.txt")
        answer = support.inspect_answer(self.read_file("out.txt"))
        self.assertNotIn("authorization", answer, result.describe())
        self.assertEqual(self.authorizations(),
                         [[support.basic_credentials(USER, SECRET)], []])

    def test_credentials_not_sent_back_after_a_chain_through_another_port(
            self):
        # -h server -> other server -> other server again: only the first
        # request carries them.
        other = self.other_server()
        to = "http://%s/redirect/307?to=%s" % (other.host, q("/inspect"))
        result = self.run_ok("-h", self.host, "-o", "/redirect/302?to=" +
                             q(to), "-u", "%s:%s" % (USER, SECRET), "-w",
                             "out.txt")
        self.assertEqual(self.authorizations(other), [[], []],
                         result.describe())

    def test_post_307_same_origin_keeps_credentials(self):
        sha = self.make_body_file("in.bin", 4000)
        result = self.run_ok("-m", "POST", "-r", "in.bin", "-h", self.host,
                             "-o", "/redirect/307?to=" + q("/inspect"), "-u",
                             "%s:%s" % (USER, SECRET), "-w", "out.txt")
        answer = support.inspect_answer(self.read_file("out.txt"))
        self.assertEqual(answer["sha256"], [sha], result.describe())
        expected = support.basic_credentials(USER, SECRET)
        self.assertEqual(answer.get("authorization"), [expected])
        self.assertEqual(self.authorizations(), [[expected], [expected]])

    def test_post_307_to_another_port_drops_credentials(self):
        other = self.other_server()
        sha = self.make_body_file("in.bin", 4000)
        to = "http://%s/inspect" % other.host
        result = self.run_ok("-m", "POST", "-r", "in.bin", "-h", self.host,
                             "-o", "/redirect/307?to=" + q(to), "-u",
                             "%s:%s" % (USER, SECRET), "-w", "out.txt")
        answer = support.inspect_answer(self.read_file("out.txt"))
        self.assertEqual(answer["sha256"], [sha], result.describe())
        self.assertNotIn("authorization", answer)
        self.assertEqual(self.authorizations(other), [[]])
        self.assertNoSecret(result, SECRET)

    def test_post_308_to_another_host_name_drops_credentials(self):
        self.make_body_file("in.bin", 10)
        to = "http://localhost:%d/inspect" % self.server.port
        result = self.run_ok("-m", "POST", "-r", "in.bin", "-h", self.host,
                             "-o", "/redirect/308?to=" + q(to), "-u",
                             "%s:%s" % (USER, SECRET), "-w", "out.txt")
        answer = support.inspect_answer(self.read_file("out.txt"))
        self.assertNotIn("authorization", answer, result.describe())

    # ---- the password is never printed ----

    def check_failure_quiet(self, args, code):
        result = self.run_async(*args, "-u", "%s:%s" % (USER, SECRET))
        self.assertFailed(result, code)
        self.assertNoSecret(result, SECRET)

    def test_password_not_printed_when_refused(self):
        self.check_failure_quiet(
            ["-h", "127.0.0.1:%d" % support.free_port_refusing(), "-w",
             "out.txt"], support.EXIT_NETWORK)

    def test_password_not_printed_on_protocol_error(self):
        self.check_failure_quiet(["-h", self.host, "-o", "/raw/garbage", "-w",
                                  "out.txt"], support.EXIT_PROTOCOL)

    def test_password_not_printed_on_redirect_loop(self):
        self.check_failure_quiet(["-h", self.host, "-o", "/loop/a", "-w",
                                  "out.txt"], support.EXIT_PROTOCOL)

    def test_password_not_printed_on_timeout(self):
        self.check_failure_quiet(["-h", self.host, "-o", "/stall", "-t",
                                  "300", "-w", "out.txt"],
                                 support.EXIT_TIMEOUT)

    def test_password_not_printed_on_output_error(self):
        self.check_failure_quiet(["-h", self.host, "-o", "/inspect", "-w",
                                  "nodir/out.txt"], support.EXIT_FILE)

    # ---- usage errors: exit 1, the value not echoed ----

    def check_usage(self, value, secret=None):
        results = self.check_failure_leaves_no_trace(
            ["-h", self.host, "-o", "/inspect", "-u", value, "-w", "out.txt"],
            support.EXIT_USAGE, any_of=["-u", "credentials", "user"],
            output="out.txt")
        for result in results:
            self.assertUsagePrinted(result)
            if secret:
                self.assertNoSecret(result, secret)
        self.assertEqual(self.requests(), [], "a request reached the server")

    def test_empty_credentials(self):
        self.check_usage("")

    def test_password_without_user(self):
        self.check_usage(":" + SECRET, SECRET)

    def test_colon_alone(self):
        self.check_usage(":")

    def test_newline_in_credentials(self):
        self.check_usage("%s:%s\r\nX-Injected: 1" % (USER, SECRET), SECRET)

    def test_missing_value(self):
        result = self.run_async("-h", self.host, "-w", "out.txt", "-u")
        self.assertFailed(result, support.EXIT_USAGE, needles=["-u"])
        self.assertEqual(self.requests(), [])


if __name__ == "__main__":
    unittest.main()
