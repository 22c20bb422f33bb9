"""async through an HTTP proxy: `-p PROXY[:PORT]`, and without it the
environment's http_proxy / https_proxy / no_proxy (the seed's
"pre-configured" access).

The proxy is a real squid started by each test that needs it, with its own
config in a temporary directory (127.0.0.1 only, no cache, an access log
with method, URL, status, result and user); refusals squid does not produce
come from tests/server/fake_proxy.py. The origin is the scripted server,
plain (the class's server) or with TLS (an extra server per test).

Every run of async gets an environment without any proxy variable except
the ones a test sets, so the machine's own settings never leak in.
"""

import ctypes
import os
import pwd
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import support
from support import bodies

SQUID = "/usr/sbin/squid"
NCSA_AUTH = "/usr/lib/squid/basic_ncsa_auth"
FAKE_PROXY = os.path.join(os.path.dirname(support.SERVER_SCRIPT),
                          "fake_proxy.py")
PROXY_USER = "alice"
PROXY_PASS = "s3cret-pw"
EXIT_PROXY = 9  # the proxy refused the tunnel or wants credentials

PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
              "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY")

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def clean_env(**extra):
    """os.environ without proxy variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    env.update(extra)
    return env


def squid_user():
    """(uid, gid) squid runs as when we are root (`proxy`, else `nobody`);
    None when we are not root (it runs as we do)."""
    if os.geteuid() != 0:
        return None
    for name in ("proxy", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return entry.pw_uid, entry.pw_gid
    raise AssertionError("running as root and no `proxy` or `nobody` user "
                         "for squid to run as")


def free_port():
    return support.free_port_refusing()


class Squid:
    """A squid on a free 127.0.0.1 port with its own config in `workdir`.
    As root it runs as `proxy`: squid will not keep root, and dropping the
    user before exec keeps the parent-death signal that stops it if the
    test dies."""

    def __init__(self, workdir, auth=False, connect_ports="1-65535"):
        self.dir = tempfile.mkdtemp(prefix="squid-", dir=workdir)
        self.auth = auth
        self.connect_ports = connect_ports
        self.conf = os.path.join(self.dir, "squid.conf")
        self.access_log = os.path.join(self.dir, "access.log")
        self.cache_log = os.path.join(self.dir, "cache.log")
        self.passwd = os.path.join(self.dir, "passwd")
        self.proc = None
        self.port = None
        self.user = squid_user()

    def _give(self, path):
        if self.user is not None:
            os.chown(path, *self.user)

    def _write_conf(self):
        lines = [
            "http_port 127.0.0.1:%d" % self.port,
            "visible_hostname ahttp-test-squid",
            "pid_filename %s/squid.pid" % self.dir,
            "cache_log %s" % self.cache_log,
            "coredump_dir %s" % self.dir,
            "netdb_filename none",
            "cache_store_log none",
            "logformat ahttp %rm %ru %>Hs %Ss/%Sh %un",
            "access_log stdio:%s ahttp" % self.access_log,
            "buffered_logs off",
            "strip_query_terms off",
            "cache deny all",
            "cache_mem 8 MB",
            "shutdown_lifetime 0 seconds",
            "pinger_enable off",
            "dns_nameservers 127.0.0.1",
            "connect_timeout 10 seconds",
            "acl from_loopback src 127.0.0.1/32",
            "acl to_loopback dst 127.0.0.1/32",
            "acl SSL_ports port %s" % self.connect_ports,
            "acl CONNECT method CONNECT",
            "http_access deny !from_loopback",
            "http_access deny !to_loopback",
            "http_access deny CONNECT !SSL_ports",
        ]
        if self.auth:
            lines += [
                "auth_param basic program %s %s" % (NCSA_AUTH, self.passwd),
                "auth_param basic children 2",
                "auth_param basic realm ahttp test proxy",
                "acl authenticated proxy_auth REQUIRED",
                "http_access deny !authenticated",
            ]
        lines += ["http_access allow from_loopback", "http_access deny all"]
        with open(self.conf, "w") as conf:
            conf.write("\n".join(lines) + "\n")
        self._give(self.conf)

    def _write_passwd(self):
        done = subprocess.run(["openssl", "passwd", "-apr1", PROXY_PASS],
                              stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=30, check=True)
        digest = done.stdout.decode().strip()
        with open(self.passwd, "w") as out:
            out.write("%s:%s\n" % (PROXY_USER, digest))
        self._give(self.passwd)

    def _preexec(self):
        if self.user is not None:
            os.setgroups([])
            os.setgid(self.user[1])
            os.setuid(self.user[0])
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    def start(self):
        if not os.access(SQUID, os.X_OK):
            raise AssertionError("%s is not installed" % SQUID)
        self._give(self.dir)
        if self.auth:
            self._write_passwd()
        for _ in range(5):
            self.port = free_port()
            self._write_conf()
            if os.path.exists(self.cache_log):
                os.unlink(self.cache_log)
            self.proc = subprocess.Popen(
                [SQUID, "-N", "-f", self.conf], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                preexec_fn=self._preexec)
            state = self._wait_up()
            if state == "up":
                return self
            if state != "busy":
                break
        log = self._read(self.cache_log)
        self.stop()
        raise AssertionError("squid did not come up; cache.log:\n%s" % log)

    def _wait_up(self):
        marker = "local=127.0.0.1:%d " % self.port
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                busy = "Address already in use" in self._read(self.cache_log)
                self.proc = None
                return "busy" if busy else "dead"
            log = self._read(self.cache_log)
            if "Accepting HTTP" in log and marker in log:
                return "up"
            time.sleep(0.01)
        return "slow"

    @staticmethod
    def _read(path):
        try:
            with open(path, errors="replace") as src:
                return src.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        """SIGTERM by pid, SIGKILL if it does not go within 5 s."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def entries(self):
        """(method, url, status, tag, user) per logged transaction."""
        found = []
        for line in self._read(self.access_log).splitlines():
            words = line.split()
            if len(words) != 5 or words[0] in ("-", "NONE"):
                continue
            found.append((words[0], words[1], int(words[2]), words[3],
                          words[4]))
        return found

    def count(self, method, url, want=1, wait=10.0):
        """How often `method url` is in the log, waiting up to `wait` s for
        `want` of them (squid logs a CONNECT when its tunnel closes, which
        is when async exits)."""
        deadline = time.monotonic() + wait
        while True:
            got = sum(1 for e in self.entries()
                      if e[0] == method and e[1] == url)
            if got >= want or time.monotonic() >= deadline:
                return got
            time.sleep(0.02)

    def describe(self):
        return "\n--- squid access.log:\n%s--- squid cache.log (tail):\n%s" % (
            self._read(self.access_log), self._read(self.cache_log)[-3000:])


class FakeProxy:
    """tests/server/fake_proxy.py in one of its modes."""

    def __init__(self, workdir, mode):
        self.log_path = os.path.join(workdir, "fake-proxy-%s.log" % mode)
        self.mode = mode
        self.proc = None
        self.port = None

    def start(self):
        self.proc = subprocess.Popen(
            [support.PYTHON, FAKE_PROXY, "--mode", self.mode, "--port", "0",
             "--log", self.log_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], 15)
        line = self.proc.stdout.readline() if ready else b""
        match = re.fullmatch(rb"PORT (\d+)\n", line)
        if not match:
            self.stop()
            raise AssertionError("fake proxy did not announce its port: %r"
                                 % line)
        self.port = int(match.group(1))
        return self

    def stop(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        proc.stdout.close()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def lines(self):
        try:
            with open(self.log_path) as log:
                return log.read().splitlines()
        except FileNotFoundError:
            return []


class CliProxyTest(support.CliTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cert_dir = support.make_certs(
            tempfile.mkdtemp(prefix="certs-", dir=cls.server_dir))
        cls.ca = os.path.join(cls.cert_dir, "ca.pem")

    # ---- helpers ----

    @property
    def aux(self):
        """A temp dir of this test for the proxies' and extra servers'
        files, apart from async's working directory (whose contents the
        tests compare)."""
        if getattr(self, "_aux", None) is None:
            self._aux = tempfile.mkdtemp(prefix="ahttp-cli-proxy-")
            self.addCleanup(shutil.rmtree, self._aux, True)
            # squid's user must reach its folder inside.
            os.chmod(self._aux, 0o755)
        return self._aux

    def start_squid(self, auth=False, connect_ports="1-65535"):
        squid = Squid(self.aux, auth, connect_ports)
        self.addCleanup(squid.stop)
        return squid.start()

    def start_fake_proxy(self, mode):
        fake = FakeProxy(self.aux, mode)
        self.addCleanup(fake.stop)
        return fake.start()

    def start_tls_origin(self):
        server = support.TestServer(
            tempfile.mkdtemp(prefix="tls-origin-", dir=self.aux),
            support.tls_server_args(self.cert_dir))
        server.start()
        self.addCleanup(self._check_stopped, server)
        return server

    def run_proxy(self, *args, env=None):
        return self.run_async(*args, env=env if env is not None
                              else clean_env())

    def assertSquidSaw(self, squid, method, url, want, result=None):
        got = squid.count(method, url, want if want else 1,
                          10.0 if want else 0.3)
        if got != want:
            self.fail("squid logged %s %s %d times, expected %d%s%s" % (
                method, url, got, want, squid.describe(),
                result.describe() if result else ""))

    def assertNoSecret(self, result):
        if PROXY_PASS in result.stdout + result.stderr:
            self.fail("the proxy password was printed%s" % result.describe())

    def origin_url(self, target, host=None):
        return "http://%s%s" % (host or self.host, target)

    # ---- plain HTTP through squid ----

    def test_get_through_squid(self):
        squid = self.start_squid()
        target = "/bytes/300000?framing=chunked"
        result = self.run_proxy("-p", squid.address, "-h", self.host,
                                "-o", target, "-w", "out.bin")
        self.assertSucceeded(result)
        self.assertFileSha("out.bin", bodies.body_sha256(300000), 300000,
                           result)
        support.check_order(support.parse_trace(result.stderr),
                            support.GET_ORDER)
        self.assertSquidSaw(squid, "GET", self.origin_url(target), 1, result)
        self.assertEqual(self.new_log_lines()[-1].split(" ", 1)[1],
                         "GET " + target)

    def test_post_through_squid(self):
        squid = self.start_squid()
        size = 1 * support.MiB + 3
        sha = self.make_body_file("in.bin", size)
        result = self.run_proxy("-p", squid.address, "-m", "POST", "-r",
                                "in.bin", "-h", self.host, "-o", "/upload",
                                "-w", "out.txt")
        self.assertSucceeded(result)
        self.assertEqual(self.read_file("out.txt").decode(),
                         "%s %d\n" % (sha, size), result.describe())
        self.assertSquidSaw(squid, "POST", self.origin_url("/upload"), 1,
                            result)

    def test_proxy_with_scheme_and_default_port_is_accepted(self):
        # "http://host:port" works as well as "host:port".
        squid = self.start_squid()
        result = self.run_proxy("-p", "http://" + squid.address, "-h",
                                self.host, "-o", "/bytes/10", "-w", "o.bin")
        self.assertSucceeded(result)
        self.assertSquidSaw(squid, "GET", self.origin_url("/bytes/10"), 1,
                            result)

    # ---- HTTPS through a CONNECT tunnel ----

    def test_https_get_through_squid_tunnel(self):
        squid = self.start_squid()
        origin = self.start_tls_origin()
        result = self.run_proxy("-p", squid.address, "-s", "--cacert",
                                self.ca, "-h", origin.host, "-o",
                                "/bytes/500000", "-w", "out.bin")
        self.assertSucceeded(result)
        self.assertFileSha("out.bin", bodies.body_sha256(500000), 500000,
                           result)
        self.assertSquidSaw(squid, "CONNECT", origin.host, 1, result)
        self.assertEqual(origin.log_lines()[-1].split(" ", 1)[1],
                         "GET /bytes/500000")

    def test_https_post_through_squid_tunnel(self):
        squid = self.start_squid()
        origin = self.start_tls_origin()
        size = 700001
        sha = self.make_body_file("in.bin", size, seed=7)
        result = self.run_proxy("-p", squid.address, "-s", "--cacert",
                                self.ca, "-m", "POST", "-r", "in.bin",
                                "-h", origin.host, "-o", "/upload",
                                "-w", "out.txt")
        self.assertSucceeded(result)
        self.assertEqual(self.read_file("out.txt").decode(),
                         "%s %d\n" % (sha, size), result.describe())
        self.assertSquidSaw(squid, "CONNECT", origin.host, 1, result)

    # ---- proxy authentication ----

    def test_auth_credentials_are_used_and_never_printed(self):
        squid = self.start_squid(auth=True)
        origin = self.start_tls_origin()
        proxy = "%s:%s@%s" % (PROXY_USER, PROXY_PASS, squid.address)
        plain = self.run_proxy("-p", proxy, "-h", self.host, "-o", "/echo",
                               "-w", "plain.txt")
        self.assertSucceeded(plain)
        self.assertNoSecret(plain)
        self.assertIn("%s:***@" % PROXY_USER, plain.stderr + plain.stdout,
                      plain.describe())
        self.assertNotIn(b"proxy-authorization",
                         self.read_file("plain.txt").lower())
        secure = self.run_proxy("-p", "http://" + proxy, "-s", "--cacert",
                                self.ca, "-h", origin.host, "-o", "/echo",
                                "-w", "secure.txt")
        self.assertSucceeded(secure)
        self.assertNoSecret(secure)
        # Inside the tunnel the origin sees exactly what async sent.
        head = self.read_file("secure.txt").lower()
        self.assertNotIn(b"proxy-authorization", head)
        self.assertSquidSaw(squid, "CONNECT", origin.host, 1, secure)
        users = {e[4] for e in squid.entries()}
        self.assertEqual(users, {PROXY_USER}, squid.describe())

    def test_auth_missing_plain_get_fails_with_407(self):
        squid = self.start_squid(auth=True)
        self.check_failure_leaves_no_trace(
            ["-p", squid.address, "-h", self.host, "-o", "/bytes/10",
             "-w", "out.htm"],
            EXIT_PROXY, needles=(squid.address, "407"),
            env=clean_env())
        self.assertEqual(self.new_log_lines(), [])

    def test_auth_missing_https_fails_with_407(self):
        squid = self.start_squid(auth=True)
        origin = self.start_tls_origin()
        self.check_failure_leaves_no_trace(
            ["-p", squid.address, "-s", "--cacert", self.ca, "-h",
             origin.host, "-o", "/bytes/10", "-w", "out.htm"],
            EXIT_PROXY, needles=(squid.address, "407"), env=clean_env())
        self.assertEqual(origin.log_lines(), [])

    def test_auth_wrong_password_fails_and_is_not_printed(self):
        squid = self.start_squid(auth=True)
        proxy = "%s:%s@%s" % (PROXY_USER, "not-" + PROXY_PASS, squid.address)
        results = self.check_failure_leaves_no_trace(
            ["-p", proxy, "-h", self.host, "-o", "/bytes/10", "-w",
             "out.htm"],
            EXIT_PROXY, needles=(squid.address, "407"), env=clean_env())
        for result in results:
            if "not-" + PROXY_PASS in result.stdout + result.stderr:
                self.fail("the proxy password was printed%s"
                          % result.describe())

    # ---- refusals and failures ----

    def test_refused_tunnel_names_proxy_and_status(self):
        fake = self.start_fake_proxy("refuse")
        results = self.check_failure_leaves_no_trace(
            ["-p", fake.address, "-s", "--cacert", self.ca, "-h",
             "127.0.0.1:9443", "-o", "/x", "-w", "out.htm"],
            EXIT_PROXY, needles=(fake.address, "502 Bad Gateway"),
            env=clean_env())
        for result in results:
            if "FAKE-PROXY-ERROR-BODY" in result.stdout + result.stderr:
                self.fail("the proxy's body was shown%s" % result.describe())
        self.assertIn("CONNECT 127.0.0.1:9443 HTTP/1.1",
                      [l.split(" ", 1)[1] for l in fake.lines()])

    def test_squid_forbidden_tunnel_is_refused(self):
        squid = self.start_squid(connect_ports="443")
        origin = self.start_tls_origin()
        self.check_failure_leaves_no_trace(
            ["-p", squid.address, "-s", "--cacert", self.ca, "-h",
             origin.host, "-o", "/bytes/10", "-w", "out.htm"],
            EXIT_PROXY, needles=(squid.address, "403"), env=clean_env())
        self.assertEqual(origin.log_lines(), [])

    def test_garbage_in_tunnel_is_tls_error(self):
        fake = self.start_fake_proxy("garbage")
        self.check_failure_leaves_no_trace(
            ["-p", fake.address, "-s", "--cacert", self.ca, "-h",
             "127.0.0.1:9443", "-o", "/x", "-w", "out.htm"],
            support.EXIT_TLS, env=clean_env())

    def test_unreachable_proxy_is_network_error_naming_it(self):
        dead = "127.0.0.1:%d" % free_port()
        self.check_failure_leaves_no_trace(
            ["-p", dead, "-h", self.host, "-o", "/bytes/10", "-w",
             "out.htm"],
            support.EXIT_NETWORK, needles=(dead,), env=clean_env())
        self.assertEqual(self.new_log_lines(), [])

    def test_malformed_proxy_is_usage_error(self):
        for bad in ("", "127.0.0.1:99999", "127.0.0.1:port",
                    "socks5://127.0.0.1:1080"):
            result = self.run_proxy("-p", bad, "-h", self.host, "-o", "/",
                                    "-w", "out.htm")
            self.assertFailed(result, support.EXIT_USAGE)
            self.assertUsagePrinted(result)
            self.assertDirIs({}, result)

    # ---- the environment (no -p) ----

    def test_env_http_proxy_is_used_without_p(self):
        squid = self.start_squid()
        result = self.run_proxy("-h", self.host, "-o", "/bytes/1000",
                                "-w", "out.bin",
                                env=clean_env(http_proxy=squid.address))
        self.assertSucceeded(result)
        self.assertFileSha("out.bin", bodies.body_sha256(1000), 1000, result)
        self.assertSquidSaw(squid, "GET", self.origin_url("/bytes/1000"), 1,
                            result)
        events = support.parse_trace(result.stderr)
        support.check_order(events, support.GET_ORDER)
        self.assertIn("Detecting Proxy", [e.text for e in events],
                      result.describe())

    def test_env_https_proxy_is_used_without_p(self):
        squid = self.start_squid()
        origin = self.start_tls_origin()
        result = self.run_proxy(
            "-s", "--cacert", self.ca, "-h", origin.host, "-o", "/bytes/1000",
            "-w", "out.bin", env=clean_env(https_proxy="http://" +
                                           squid.address))
        self.assertSucceeded(result)
        self.assertSquidSaw(squid, "CONNECT", origin.host, 1, result)

    def test_env_credentials_are_used_and_never_printed(self):
        squid = self.start_squid(auth=True)
        proxy = "http://%s:%s@%s" % (PROXY_USER, PROXY_PASS, squid.address)
        result = self.run_proxy("-h", self.host, "-o", "/bytes/10", "-w",
                                "out.bin", env=clean_env(http_proxy=proxy))
        self.assertSucceeded(result)
        self.assertNoSecret(result)
        self.assertSquidSaw(squid, "GET", self.origin_url("/bytes/10"), 1,
                            result)

    def test_env_no_proxy_is_honoured(self):
        squid = self.start_squid()
        result = self.run_proxy(
            "-h", self.host, "-o", "/bytes/10", "-w", "out.bin",
            env=clean_env(http_proxy=squid.address, no_proxy="127.0.0.1"))
        self.assertSucceeded(result)
        self.assertSquidSaw(squid, "GET", self.origin_url("/bytes/10"), 0,
                            result)
        self.assertEqual([l.split(" ", 1)[1] for l in self.new_log_lines()],
                         ["GET /bytes/10"])
        self.assertIn("Detecting Proxy", result.stderr, result.describe())

    def test_env_no_proxy_other_host_does_not_bypass(self):
        squid = self.start_squid()
        result = self.run_proxy(
            "-h", self.host, "-o", "/bytes/10", "-w", "out.bin",
            env=clean_env(http_proxy=squid.address, no_proxy="example.com"))
        self.assertSucceeded(result)
        self.assertSquidSaw(squid, "GET", self.origin_url("/bytes/10"), 1,
                            result)

    def test_p_overrides_the_environment(self):
        squid = self.start_squid()
        other = self.start_squid()
        result = self.run_proxy(
            "-p", squid.address, "-h", self.host, "-o", "/bytes/10", "-w",
            "out.bin", env=clean_env(http_proxy=other.address,
                                     no_proxy="127.0.0.1"))
        self.assertSucceeded(result)
        self.assertSquidSaw(squid, "GET", self.origin_url("/bytes/10"), 1,
                            result)
        self.assertSquidSaw(other, "GET", self.origin_url("/bytes/10"), 0,
                            result)

    def test_env_refused_tunnel_is_proxy_error(self):
        fake = self.start_fake_proxy("refuse")
        self.check_failure_leaves_no_trace(
            ["-s", "--cacert", self.ca, "-h", "127.0.0.1:9443", "-o", "/x",
             "-w", "out.htm"],
            EXIT_PROXY, needles=(fake.address, "502"),
            env=clean_env(https_proxy=fake.address))


if __name__ == "__main__":
    unittest.main()
