"""async over HTTPS (-s) against the scripted server in TLS mode.

setUpClass makes the test PKI (tests/support/make_certs.sh) in a temporary
folder and starts the scripted server with server.pem, a certificate for
127.0.0.1 and localhost from the test CA. Servers with the other
certificates (self-signed, untrusted CA, expired, wrong host), one that
requires a client certificate, one that offers only TLS 1.0/1.1 and a plain
HTTP one are started when a test first needs them.

What is checked: bodies of 0 B to 200 MiB go both ways byte for byte; the
trace has the TLS phases between "Connected to Server" and "Sending
request"; every certificate the client must refuse is refused with exit 8,
one "async: " line naming the problem, no output file and an existing one
untouched; -k accepts them with a warning; a body cut by a TCP close
without close_notify is never a complete download; client certificates;
the trust switches and variables (--cacert, --capath, SSL_CERT_FILE,
SSL_CERT_DIR); time-outs during the handshake and mid-body.
"""

import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import unittest
import warnings

import support
from support import MiB, bodies

VERIFY_OFF_WARNING = ("async: warning: certificate verification is disabled "
                      "(-k)")

# The library's words for each certificate fault (ah_strerror), which the
# error line must carry, so that each case is told apart by its error.
UNKNOWN_CA = "not signed by a trusted authority"
DATE_INVALID = "expired or is not yet valid"
NAME_INVALID = "does not match the host name"


def environment_without_trust_variables(**extra):
    """async's environment without SSL_CERT_FILE / SSL_CERT_DIR (so only the
    system store is trusted), plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    env.update(extra)
    return env


class CliTlsTest(support.CliTestCase):

    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.mkdtemp(prefix="ahttp-cli-pki-")
        cls.addClassCleanup(shutil.rmtree, cls.pki, True)
        support.make_certs(cls.pki)
        cls.server_args = support.tls_server_args(cls.pki, "server")
        cls.extra = {}
        super().setUpClass()

    @classmethod
    def cert(cls, name):
        return os.path.join(cls.pki, name)

    @classmethod
    def other_server(cls, key, args):
        """The server started with `args`, started on first use."""
        if key not in cls.extra:
            cls.extra[key] = cls.start_extra_server(args)
        return cls.extra[key]

    @classmethod
    def tls_server(cls, name, **options):
        key = (name,) + tuple(sorted(options.items()))
        return cls.other_server(key, support.tls_server_args(
            cls.pki, name, **options))

    @classmethod
    def plain_server(cls):
        return cls.other_server("plain", [])

    # ---- helpers ----

    def secure(self, host, target, *extra, output="out.bin", cacert=True,
               timeout=support.DEFAULT_RUN_TIMEOUT, env=None):
        args = ["-s", "-h", host, "-o", target, "-w", output]
        if cacert:
            args += ["--cacert", self.cert("ca.pem")]
        return self.run_async(*(args + list(extra)), timeout=timeout, env=env)

    def check_tls_phases(self, result, order=support.TLS_GET_ORDER):
        """The trace matches `order` (TLS phases right after the connection)
        and the handshake reports a version of 1.2 or later."""
        events = support.parse_trace(result.stderr)
        support.check_order(events, order)
        done = [e for e in events if e.code == "h"]
        self.assertEqual(len(done), 1, result.describe())
        self.assertRegex(done[0].arg, r"^TLSv1\.[23] \S+", result.describe())
        return done[0].arg

    def check_get(self, n, framing="length", seed=1, timeout=None):
        target = "/bytes/%d?framing=%s&seed=%d" % (n, framing, seed)
        result = self.secure(self.host, target, timeout=timeout or
                             support.DEFAULT_RUN_TIMEOUT)
        self.assertSucceeded(result)
        sha = bodies.body_sha256(n, seed)
        self.assertFileSha("out.bin", sha, n, result)
        self.assertDirIs({"out.bin": sha}, result)
        self.assertIn("HTTP/1.1 200 OK", result.stderr_lines,
                      result.describe())
        self.check_tls_phases(result)
        log = self.new_log_lines()
        self.assertEqual(len(log), 1, "requests seen by the server: %s" % log)
        self.assertRegex(log[0], r"^\d+ GET %s$" % re.escape(target))
        return result

    def check_post(self, n, seed=1, timeout=None):
        sha = self.make_body_file("in.bin", n, seed)
        result = self.secure(self.host, "/upload", "-m", "POST", "-r",
                             "in.bin", output="answer.txt",
                             timeout=timeout or support.DEFAULT_RUN_TIMEOUT)
        self.assertSucceeded(result)
        answer = ("%s %d\n" % (sha, n)).encode()
        self.assertEqual(self.read_file("answer.txt"), answer,
                         result.describe())
        self.assertDirIs({"in.bin": sha,
                          "answer.txt": support.sha256_bytes(answer)}, result)
        self.check_tls_phases(result, support.TLS_POST_ORDER)
        log = self.new_log_lines()
        self.assertEqual(len(log), 1, "requests seen by the server: %s" % log)
        self.assertRegex(log[0], r"^\d+ POST /upload$")
        return result

    def check_refused(self, server, needles=(), any_of=(), extra=(),
                      host=None, cacert=True, env=None, order=None,
                      code=support.EXIT_TLS):
        """Both runs (no output file, a precious one) fail with `code` and
        one line naming the problem; the server never sees a request."""
        args = ["-s", "-h", host or server.host, "-o", "/bytes/1000", "-w",
                "out.htm"]
        if cacert:
            args += ["--cacert", self.cert("ca.pem")]
        mark = len(server.log_lines())
        results = self.check_failure_leaves_no_trace(
            args + list(extra), code, needles, any_of, env=env)
        for result in results:
            support.check_order(support.parse_trace(result.stderr),
                                order or support.TLS_REJECTED_ORDER)
        self.assertEqual(server.log_lines()[mark:], [],
                         "a request went out over a refused connection")
        return results

    # ---- GET and POST over TLS ----

    def test_tls_get_0(self):
        self.check_get(0)

    def test_tls_get_4096(self):
        self.check_get(4096)

    def test_tls_get_10mib(self):
        self.check_get(10 * MiB, seed=2)

    def test_tls_get_200mib(self):
        self.check_get(200 * MiB, timeout=240)

    def test_tls_get_10mib_chunked(self):
        self.check_get(10 * MiB, "chunked", seed=3)

    def test_tls_get_close_delimited_with_close_notify(self):
        # A close-delimited body is complete when the server's close_notify
        # comes before its FIN, as the scripted server sends it.
        self.check_get(4097, "close", seed=4)

    def test_tls_get_10mib_close_delimited(self):
        self.check_get(10 * MiB, "close", seed=5)

    def test_tls_post_0(self):
        self.check_post(0)

    def test_tls_post_4096(self):
        self.check_post(4096, seed=6)

    def test_tls_post_10mib(self):
        self.check_post(10 * MiB, seed=7)

    def test_tls_post_200mib(self):
        self.check_post(200 * MiB, timeout=240)

    def test_tls_get_by_name_localhost(self):
        # server.pem names localhost as well: the name is checked (and sent
        # as SNI) rather than the address.
        result = self.secure("localhost:%d" % self.server.port, "/bytes/777")
        self.assertSucceeded(result)
        self.assertDirIs({"out.bin": bodies.body_sha256(777)}, result)
        self.check_tls_phases(result)

    def test_tls_get_tls12_server(self):
        server = self.tls_server("server", max_version="1.2")
        result = self.secure(server.host, "/bytes/4096")
        self.assertSucceeded(result)
        self.assertDirIs({"out.bin": bodies.body_sha256(4096)}, result)
        self.assertTrue(self.check_tls_phases(result).startswith("TLSv1.2 "),
                        result.describe())

    def test_tls_trace_phases(self):
        result = self.secure(self.host, "/bytes/10")
        self.assertSucceeded(result)
        info = self.check_tls_phases(result)
        self.assertTrue(info.startswith("TLSv1.3 "), result.describe())
        self.assertNotIn("(resumed)", info, "a first connection resumed")
        lines = [l.split("\tStatus: ", 1)[1] for l in result.stderr_lines
                 if "\tStatus: " in l]
        connected = [i for i, l in enumerate(lines)
                     if l.startswith("Connected to Server")]
        started = lines.index("TLS handshake started")
        done = [i for i, l in enumerate(lines)
                if l.startswith("TLS handshake done (")]
        sending = lines.index("Sending request")
        self.assertEqual(len(connected), 1, lines)
        self.assertEqual(connected[0] + 1, started, lines)
        self.assertTrue(started < done[0] < sending, lines)

    # ---- certificates that must be refused: exit 8 ----

    def test_tls_reject_self_signed(self):
        self.check_refused(self.tls_server("selfsigned"),
                           needles=[UNKNOWN_CA],
                           any_of=["self-signed", "self signed"])

    def test_tls_reject_untrusted_ca(self):
        self.check_refused(self.tls_server("untrusted"),
                           needles=[UNKNOWN_CA, "certificate"])

    def test_tls_reject_expired(self):
        self.check_refused(self.tls_server("expired"),
                           needles=[DATE_INVALID, "expired"])

    def test_tls_reject_wrong_host_address(self):
        # wronghost.pem is for wrong.example only; we asked for 127.0.0.1.
        self.check_refused(self.tls_server("wronghost"),
                           needles=[NAME_INVALID, "wrong.example"])

    def test_tls_reject_wrong_host_name(self):
        server = self.tls_server("wronghost")
        self.check_refused(server, host="localhost:%d" % server.port,
                           needles=[NAME_INVALID, "wrong.example"])

    def test_tls_reject_without_cacert(self):
        # The system store does not know the test CA.
        self.check_refused(self.server, cacert=False, needles=[UNKNOWN_CA],
                           env=environment_without_trust_variables())

    def test_tls_reject_wrong_cacert(self):
        # Trusting another CA (the untrusted one) instead of the test CA.
        self.check_refused(self.server, cacert=False, needles=[UNKNOWN_CA],
                           extra=["--cacert", self.cert("other-ca.pem")])

    def test_tls_reject_post_self_signed(self):
        server = self.tls_server("selfsigned")
        self.write_file("in.bin", b"x" * 5000)
        mark = len(server.log_lines())
        self.check_failure_leaves_no_trace(
            ["-s", "--cacert", self.cert("ca.pem"), "-m", "POST", "-r",
             "in.bin", "-h", server.host, "-o", "/upload", "-w", "out.htm"],
            support.EXIT_TLS, needles=[UNKNOWN_CA])
        self.assertEqual(server.log_lines()[mark:], [])

    def test_tls_reject_old_protocol_version(self):
        server = self.tls_server("server", max_version="1.1")
        reason = self.old_tls_unavailable(server.port)
        if reason:
            print("skipped: the local OpenSSL cannot serve TLS 1.1 (%s)"
                  % reason)
            self.skipTest("the local OpenSSL cannot serve TLS 1.1: %s"
                          % reason)
        self.check_refused(server, needles=["version"],
                           any_of=["1.2 or later", "protocol version"])

    @staticmethod
    def old_tls_unavailable(port):
        """None if a TLS 1.1 handshake with the server works, else why not
        (then only our client's refusal could not be tested)."""
        try:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = ssl.TLSVersion.TLSv1_1
                context.maximum_version = ssl.TLSVersion.TLSv1_1
            with socket.create_connection((support.LOCALHOST, port),
                                          timeout=10) as raw:
                with context.wrap_socket(raw) as tls:
                    if tls.version() != "TLSv1.1":
                        return "negotiated %s" % tls.version()
        except (OSError, ValueError) as err:
            return str(err)
        return None

    # ---- -k ----

    def check_insecure(self, name, switch="-k"):
        server = self.tls_server(name)
        result = self.secure(server.host, "/bytes/4096", switch)
        self.assertExit(result, support.EXIT_OK)
        self.assertIn("Done!", result.stdout_lines, result.describe())
        self.assertEqual(result.error_lines(), [VERIFY_OFF_WARNING],
                         result.describe())
        self.assertDirIs({"out.bin": bodies.body_sha256(4096)}, result)
        self.check_tls_phases(result)

    def test_tls_insecure_accepts_self_signed(self):
        self.check_insecure("selfsigned")

    def test_tls_insecure_long_switch(self):
        self.check_insecure("selfsigned", "--insecure")

    def test_tls_insecure_accepts_expired(self):
        self.check_insecure("expired")

    def test_tls_insecure_accepts_wrong_host(self):
        self.check_insecure("wronghost")

    def test_tls_insecure_accepts_untrusted(self):
        self.check_insecure("untrusted")

    # ---- truncation: a TCP close without close_notify ----

    def test_tls_truncated_length_body(self):
        self.check_failure_leaves_no_trace(
            ["-s", "--cacert", self.cert("ca.pem"), "-h", self.host, "-o",
             "/truncate/100000?after=5000", "-w", "out.htm"],
            support.EXIT_TLS, any_of=["close_notify", "truncat"])

    def test_tls_truncated_length_body_after_head(self):
        self.check_failure_leaves_no_trace(
            ["-s", "--cacert", self.cert("ca.pem"), "-h", self.host, "-o",
             "/truncate/3000000?after=0", "-w", "out.htm"],
            support.EXIT_TLS, any_of=["close_notify", "truncat"])

    def test_tls_truncated_close_delimited_body(self):
        # Without close_notify the end of a close-delimited body cannot be
        # told from an attacker's or a crash's FIN.
        self.check_failure_leaves_no_trace(
            ["-s", "--cacert", self.cert("ca.pem"), "-h", self.host, "-o",
             "/truncate-close/100000?after=5000", "-w", "out.htm"],
            support.EXIT_TLS, any_of=["close_notify", "truncat"])

    def test_tls_complete_length_body_then_unclean_close(self):
        # All n bytes came before the FIN: the body is whole, whatever the
        # close looked like.
        result = self.secure(self.host, "/truncate/100000?after=100000")
        self.assertSucceeded(result)
        self.assertDirIs({"out.bin": bodies.body_sha256(100000)}, result)

    def test_plain_truncated_routes(self):
        # The same routes over plain HTTP: a short Content-Length body is a
        # network error; a close-delimited one is whatever came.
        server = self.plain_server()
        result = self.run_async("-h", server.host, "-o",
                                "/truncate/100000?after=5000", "-w", "a.bin")
        self.assertFailed(result, support.EXIT_NETWORK)
        result = self.run_async("-h", server.host, "-o",
                                "/truncate-close/100000?after=5000", "-w",
                                "b.bin")
        self.assertSucceeded(result)
        self.assertDirIs({"b.bin": bodies.body_sha256(5000)}, result)

    def test_fixture_close_notify_only_on_clean_close(self):
        # The server does what the truncation tests rely on: no close_notify
        # on /truncate*, one on a normal close.
        self.assertEqual(self.tls_read_to_end("/truncate/1000?after=300"),
                         "no close_notify")
        self.assertEqual(
            self.tls_read_to_end("/truncate-close/1000?after=300"),
            "no close_notify")
        self.assertEqual(self.tls_read_to_end("/bytes/1000?framing=close"),
                         "close_notify")

    def tls_read_to_end(self, target):
        context = ssl.create_default_context(cafile=self.cert("ca.pem"))
        with socket.create_connection((support.LOCALHOST, self.server.port),
                                      timeout=30) as raw:
            with context.wrap_socket(raw, server_hostname=support.LOCALHOST,
                                     suppress_ragged_eofs=False) as tls:
                tls.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n"
                            b"Connection: close\r\n\r\n" % target.encode())
                try:
                    while tls.recv(65536):
                        pass
                except ssl.SSLEOFError:
                    return "no close_notify"
                return "close_notify"

    # ---- client certificates ----

    def client_ca_server(self):
        return self.tls_server("server", client_ca=self.cert("ca.pem"))

    def test_tls_client_cert_required_and_missing(self):
        server = self.client_ca_server()
        # With TLS 1.3 the server's refusal arrives after the client's
        # handshake is done, so the request may have gone out; the server
        # never reads it.
        mark = len(server.log_lines())
        self.check_failure_leaves_no_trace(
            ["-s", "--cacert", self.cert("ca.pem"), "-h", server.host, "-o",
             "/bytes/1000", "-w", "out.htm"],
            support.EXIT_TLS, any_of=["certificate required", "certificate"])
        self.assertEqual(server.log_lines()[mark:], [])

    def test_tls_client_cert_accepted(self):
        server = self.client_ca_server()
        result = self.secure(server.host, "/bytes/4096", "--cert",
                             self.cert("client.pem"), "--key",
                             self.cert("client.key"))
        self.assertSucceeded(result)
        self.assertDirIs({"out.bin": bodies.body_sha256(4096)}, result)
        self.check_tls_phases(result)

    def test_tls_client_cert_and_key_in_one_file(self):
        server = self.client_ca_server()
        both = self.path("client-both.pem")
        with open(both, "wb") as out:
            for name in ("client.pem", "client.key"):
                with open(self.cert(name), "rb") as part:
                    out.write(part.read())
        result = self.secure(server.host, "/bytes/100", "--cert", both)
        self.assertSucceeded(result)
        self.assertFileSha("out.bin", bodies.body_sha256(100), 100, result)

    def test_tls_client_key_does_not_match(self):
        server = self.client_ca_server()
        mark = len(server.log_lines())
        self.check_failure_leaves_no_trace(
            ["-s", "--cacert", self.cert("ca.pem"), "-h", server.host, "-o",
             "/bytes/1000", "-w", "out.htm", "--cert",
             self.cert("client.pem"), "--key", self.cert("server.key")],
            support.EXIT_TLS, needles=["client certificate"])
        self.assertEqual(server.log_lines()[mark:], [])

    # ---- where trust comes from ----

    def hashed_ca_dir(self):
        """A CA directory as OpenSSL looks one up: <subject hash>.0."""
        folder = self.path("cadir")
        os.mkdir(folder)
        digest = subprocess.run(
            ["openssl", "x509", "-hash", "-noout", "-in", self.cert("ca.pem")],
            check=True, stdout=subprocess.PIPE).stdout.decode().strip()
        shutil.copy(self.cert("ca.pem"), os.path.join(folder, digest + ".0"))
        return folder

    def test_tls_capath(self):
        folder = self.hashed_ca_dir()
        result = self.secure(self.host, "/bytes/4096", "--capath", folder,
                             cacert=False,
                             env=environment_without_trust_variables())
        self.assertSucceeded(result)
        self.assertFileSha("out.bin", bodies.body_sha256(4096), 4096, result)

    def test_tls_ssl_cert_file_honoured(self):
        result = self.secure(self.host, "/bytes/4096", cacert=False,
                             env=environment_without_trust_variables(
                                 SSL_CERT_FILE=self.cert("ca.pem")))
        self.assertSucceeded(result)
        self.assertFileSha("out.bin", bodies.body_sha256(4096), 4096, result)

    def test_tls_ssl_cert_dir_honoured(self):
        folder = self.hashed_ca_dir()
        result = self.secure(self.host, "/bytes/4096", cacert=False,
                             env=environment_without_trust_variables(
                                 SSL_CERT_DIR=folder))
        self.assertSucceeded(result)
        self.assertFileSha("out.bin", bodies.body_sha256(4096), 4096, result)

    def test_tls_missing_cacert_file_is_local_error(self):
        self.check_failure_leaves_no_trace(
            ["-s", "--cacert", "no-such-ca.pem", "-h", self.host, "-o",
             "/bytes/10", "-w", "out.htm"],
            support.EXIT_FILE, needles=["no-such-ca.pem"])
        self.assertEqual(self.new_log_lines(), [])

    def test_tls_missing_capath_is_local_error(self):
        self.check_failure_leaves_no_trace(
            ["-s", "--capath", "no-such-dir", "-h", self.host, "-o",
             "/bytes/10", "-w", "out.htm"],
            support.EXIT_FILE, needles=["no-such-dir"])

    def test_tls_missing_client_key_is_local_error(self):
        self.check_failure_leaves_no_trace(
            ["-s", "--cacert", self.cert("ca.pem"), "--cert",
             self.cert("client.pem"), "--key", "no-such.key", "-h",
             self.host, "-o", "/bytes/10", "-w", "out.htm"],
            support.EXIT_FILE, needles=["no-such.key"])

    # ---- the command line ----

    def test_tls_switch_without_value(self):
        for switch in ("--cacert", "--capath", "--cert", "--key"):
            results = self.check_failure_leaves_no_trace(
                ["-s", "-h", self.host, "-w", "out.htm", switch],
                support.EXIT_USAGE, needles=[switch])
            for result in results:
                self.assertUsagePrinted(result)

    def test_tls_key_without_cert(self):
        results = self.check_failure_leaves_no_trace(
            ["-s", "-h", self.host, "-w", "out.htm", "--key",
             self.cert("client.key")],
            support.EXIT_USAGE, needles=["--key", "--cert"])
        for result in results:
            self.assertUsagePrinted(result)
        self.assertEqual(self.new_log_lines(), [])

    def test_tls_switches_ignored_without_s(self):
        server = self.plain_server()
        result = self.run_async("-h", server.host, "-o", "/bytes/10", "-w",
                                "out.bin", "--cacert", self.cert("ca.pem"),
                                "-k")
        self.assertExit(result, support.EXIT_OK)
        self.assertEqual(result.error_lines(), [
            "async: warning: --cacert is only for HTTPS (-s); ignoring it",
            "async: warning: -k is only for HTTPS (-s); ignoring it"],
            result.describe())
        self.assertFileSha("out.bin", bodies.body_sha256(10), 10, result)

    def test_tls_help_lists_switches(self):
        result = self.run_async("--help")
        self.assertExit(result, support.EXIT_OK)
        for switch in ("-s", "--cacert", "--capath", "--cert", "--key", "-k",
                       "--insecure"):
            self.assertRegex(result.stdout, r"(?<![\w-])%s\b" % switch,
                             result.describe())
        self.assertRegex(result.stdout, r"\n  8  TLS", result.describe())

    def test_tls_default_port_443(self):
        try:
            with socket.create_connection((support.LOCALHOST, 443),
                                          timeout=2):
                self.skipTest("something listens on 127.0.0.1:443")
        except OSError:
            pass
        self.check_failure_leaves_no_trace(
            ["-s", "-h", support.LOCALHOST, "-o", "/", "-w", "out.htm"],
            support.EXIT_NETWORK, needles=["127.0.0.1:443"])

    # ---- OpenSSL is opened on the first HTTPS request only ----

    def test_tls_without_openssl_fails_clearly_and_plain_http_works(self):
        # The loader finds these unloadable "libraries" first: an HTTPS
        # request must fail with the loader's reason (and leave no file),
        # while a plain GET, which must never open OpenSSL, still works.
        fake = tempfile.mkdtemp(prefix="ahttp-fake-openssl-")
        self.addCleanup(shutil.rmtree, fake, True)
        for name in ("libcrypto.so.3", "libssl.so.3"):
            with open(os.path.join(fake, name), "wb") as f:
                f.write(b"not a shared object\n")
        env = dict(os.environ, LD_LIBRARY_PATH=fake)
        self.check_failure_leaves_no_trace(
            ["-s", "--cacert", self.cert("ca.pem"), "-h", self.host, "-o",
             "/bytes/10", "-w", "out.htm"],
            support.EXIT_OTHER, needles=["cannot load OpenSSL", "libcrypto"],
            env=env)
        self.assertEqual(self.new_log_lines(), [])
        server = self.plain_server()
        result = self.run_async("-h", server.host, "-o", "/bytes/10", "-w",
                                "out.bin", env=env)
        self.assertExit(result, support.EXIT_OK)
        self.assertFileSha("out.bin", bodies.body_sha256(10), 10, result)

    # ---- time limits over TLS ----

    def test_tls_timeout_during_handshake(self):
        # A listener whose connections are never accepted: the kernel
        # completes the TCP handshake, nobody answers the ClientHello.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
            silent.bind((support.LOCALHOST, 0))
            silent.listen(8)
            host = "%s:%d" % (support.LOCALHOST, silent.getsockname()[1])
            results = self.check_failure_leaves_no_trace(
                ["-s", "--cacert", self.cert("ca.pem"), "-h", host, "-o",
                 "/", "-w", "out.htm", "-t", "700"],
                support.EXIT_TIMEOUT, any_of=["timed out"], max_elapsed=10)
        for result in results:
            lines = result.stderr
            self.assertIn("Status: TLS handshake started", lines,
                          result.describe())
            self.assertNotIn("Status: TLS handshake done", lines,
                             result.describe())
            support.check_handles(support.parse_trace(lines))

    def test_tls_timeout_mid_body(self):
        self.check_failure_leaves_no_trace(
            ["-s", "--cacert", self.cert("ca.pem"), "-h", self.host, "-o",
             "/stall?after=body&bytes=200000&length=1000000", "-w", "out.htm",
             "-t", "1500"],
            support.EXIT_TIMEOUT, any_of=["timed out"], max_elapsed=10)


if __name__ == "__main__":
    unittest.main()
