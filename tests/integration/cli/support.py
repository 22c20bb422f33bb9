"""Shared helpers for the end-to-end tests of the `async` command.

Each test file holds one unittest.TestCase class derived from CliTestCase.
CTest runs every test method as its own process (`python3 -m unittest
module.Class.test`), so a class starts its own scripted server in
setUpClass, every test gets a fresh temporary directory as the working
directory of `async`, and nothing is shared between tests but that server.

Environment (set by tests/CMakeLists.txt; defaults for running by hand):
  AHTTP_ASYNC        the async binary under test
  AHTTP_TEST_SERVER  tests/server/ahttp_test_server.py
  AHTTP_SOURCE_DIR   the source tree
  PYTHON3            the interpreter for the server
  AHTTP_TEST_TIME_SCALE  optional factor (default 1) for the wall-time limits
                     that timing tests assert, for slow runs (valgrind)

Only 127.0.0.1 is ever used. Servers are stopped by their process id.
"""

import hashlib
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("AHTTP_SOURCE_DIR") or os.path.normpath(
    os.path.join(HERE, "..", "..", ".."))
SERVER_SCRIPT = os.environ.get("AHTTP_TEST_SERVER") or os.path.join(
    SOURCE_DIR, "tests", "server", "ahttp_test_server.py")
PYTHON = os.environ.get("PYTHON3") or sys.executable

sys.path.insert(0, os.path.dirname(SERVER_SCRIPT))
import bodies  # noqa: E402  (tests/server/bodies.py, found through the path)

MiB = 1 << 20
LOCALHOST = "127.0.0.1"
DEFAULT_RUN_TIMEOUT = 120.0  # seconds before a hung async is killed
TIME_SCALE = float(os.environ.get("AHTTP_TEST_TIME_SCALE") or "1")

# Exit codes of async (its contract).
EXIT_OK = 0
EXIT_USAGE = 1
EXIT_FILE = 2
EXIT_NETWORK = 3
EXIT_PROTOCOL = 4
EXIT_TIMEOUT = 5
EXIT_HTTP_STATUS = 6
EXIT_OTHER = 7
EXIT_TLS = 8

PRECIOUS = b"precious bytes that a failed run must not touch\n"


def async_binary():
    path = os.environ.get("AHTTP_ASYNC") or os.path.join(
        SOURCE_DIR, "build", "async")
    if not os.access(path, os.X_OK):
        raise AssertionError("async binary not found or not executable: %s "
                             "(set AHTTP_ASYNC)" % path)
    return path


def library_version():
    """AH_VERSION_STRING from include/ahttp.h."""
    with open(os.path.join(SOURCE_DIR, "include", "ahttp.h")) as header:
        match = re.search(r'#define AH_VERSION_STRING "([^"]+)"',
                          header.read())
    return match.group(1) if match else None


def sha256_file(path):
    """Hex SHA-256 and length of a file."""
    return bodies.sha256_of_file(path)


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def free_port_refusing():
    """A 127.0.0.1 port with nothing listening on it (bound, then closed)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


def snapshot_dir(path):
    """{relative path: sha256} of every file below `path`; directories as
    'dir/' entries, so stray temporary files and directories both show."""
    found = {}
    for root, dirs, files in os.walk(path):
        rel_root = os.path.relpath(root, path)
        for name in dirs:
            found[os.path.normpath(os.path.join(rel_root, name)) + "/"] = None
        for name in files:
            full = os.path.join(root, name)
            rel = os.path.normpath(os.path.join(rel_root, name))
            if os.path.isfile(full):
                found[rel] = sha256_file(full)[0]
            else:
                found[rel] = "special"
    return found


# ---- certificates ----

MAKE_CERTS = os.path.join(SOURCE_DIR, "tests", "support", "make_certs.sh")


def make_certs(directory):
    """Makes the test PKI in `directory` with tests/support/make_certs.sh
    (see its header: ca, server, expired, wronghost, selfsigned, untrusted,
    client, each NAME.pem and NAME.key) and returns the directory."""
    done = subprocess.run(["bash", MAKE_CERTS, directory],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=120)
    if done.returncode != 0:
        raise AssertionError("make_certs.sh failed (%d): %s" % (
            done.returncode, done.stdout.decode(errors="replace")))
    return directory


def tls_server_args(cert_dir, name="server", client_ca=None,
                    max_version=None):
    """Scripted-server arguments for HTTPS with NAME.pem/NAME.key from
    `cert_dir`; `client_ca` (a path) makes it require a client certificate,
    `max_version` ("1.1", ...) caps the TLS version it offers."""
    args = ["--tls-cert", os.path.join(cert_dir, name + ".pem"),
            "--tls-key", os.path.join(cert_dir, name + ".key")]
    if client_ca is not None:
        args += ["--tls-client-ca", client_ca]
    if max_version is not None:
        args += ["--tls-max-version", max_version]
    return args


# ---- the scripted server ----


class TestServer:
    """The scripted server as a child process on a free 127.0.0.1 port;
    `args` are extra command-line arguments (tls_server_args for HTTPS)."""

    def __init__(self, workdir, args=()):
        self.workdir = workdir
        self.args = list(args)
        self.log_path = os.path.join(workdir, "server.log")
        self.err_path = os.path.join(workdir, "server.stderr")
        self.proc = None
        self.port = None

    def start(self, timeout=15.0):
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [PYTHON, SERVER_SCRIPT, "--port", "0", "--log", self.log_path]
                + self.args,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        line = self._read_line(timeout)
        match = re.fullmatch(rb"PORT (\d+)\n", line)
        if not match:
            self.stop()
            raise AssertionError("test server did not announce its port: %r; "
                                 "stderr: %s" % (line, self.stderr_text()))
        self.port = int(match.group(1))
        return self

    def _read_line(self, timeout):
        deadline = time.monotonic() + timeout
        out = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while not out.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    break
                data = os.read(self.proc.stdout.fileno(), 1)
                if not data:
                    break
                out += data
        return out

    @property
    def host(self):
        return "%s:%d" % (LOCALHOST, self.port)

    def stop(self):
        """SIGTERM by pid, SIGKILL if it does not go within 5 s. Returns the
        exit status."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc.stdout:
            proc.stdout.close()
        return proc.returncode

    def log_lines(self):
        try:
            with open(self.log_path) as log:
                return log.read().splitlines()
        except FileNotFoundError:
            return []

    def stderr_text(self):
        try:
            with open(self.err_path, errors="replace") as err:
                return err.read()
        except FileNotFoundError:
            return ""


# ---- running async ----


class Result:
    """What one run of async did."""

    def __init__(self, args, returncode, stdout, stderr, elapsed):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed

    @property
    def stdout_lines(self):
        return self.stdout.splitlines()

    @property
    def stderr_lines(self):
        return self.stderr.splitlines()

    def error_lines(self):
        return [l for l in self.stderr_lines if l.startswith("async: ")]

    def describe(self, limit=3000):
        def tail(text):
            return text if len(text) <= limit else "...\n" + text[-limit:]
        return ("\n--- async %s\n--- exit %s after %.2fs\n--- stdout:\n%s\n"
                "--- stderr:\n%s" % (" ".join(self.args), self.returncode,
                                     self.elapsed, tail(self.stdout),
                                     tail(self.stderr)))


def run_async(args, cwd, timeout=DEFAULT_RUN_TIMEOUT, env=None):
    """Runs async with `args` in `cwd`; kills it after `timeout` s. `env`,
    if given, is its whole environment."""
    binary = async_binary()
    args = [str(a) for a in args]
    start = time.monotonic()
    proc = subprocess.Popen([binary] + args, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        result = Result(args, None, out.decode(errors="replace"),
                        err.decode(errors="replace"),
                        time.monotonic() - start)
        raise AssertionError("async did not exit within %.0f s%s"
                             % (timeout, result.describe()))
    return Result(args, proc.returncode, out.decode(errors="replace"),
                  err.decode(errors="replace"), time.monotonic() - start)


# ---- the status trace ----

STATUS_LINE = re.compile(
    r"Callback received for handle (0x[0-9a-fA-F]+)\tStatus: (.*)")

# Status text -> one letter, so an order can be checked with a regex. The
# statuses that carry a host, an address or a URL may show it after the
# name in parentheses ("Resolving Name (127.0.0.1)").
_DETAIL = r"(?: \([^()]*\))?"
STATUS_CODES = [
    (re.compile(r"Handle (0x[0-9a-fA-F]+) created"), "C"),
    (re.compile(r"Detecting Proxy"), "P"),
    (re.compile(r"Resolving Name" + _DETAIL), "R"),
    (re.compile(r"Name Resolved" + _DETAIL), "r"),
    (re.compile(r"Connecting to Server" + _DETAIL), "N"),
    (re.compile(r"Connected to Server" + _DETAIL), "n"),
    (re.compile(r"Sending request"), "S"),
    (re.compile(r"Request sent \((\d+) Bytes\)"), "s"),
    (re.compile(r"Receiving Response"), "V"),
    (re.compile(r"Response Received \((\d+) Bytes\)"), "v"),
    (re.compile(r"Request complete"), "Q"),
    (re.compile(r"Closing Connection"), "K"),
    (re.compile(r"Connection Closed"), "k"),
    (re.compile(r"Handle Closing"), "X"),
    (re.compile(r"Redirect(?: .*)?"), "D"),
    (re.compile(r"Intermediate response(?: .*)?"), "I"),
    (re.compile(r"State Change(?: .*)?"), "T"),
    (re.compile(r"Cookie.*"), "O"),
    (re.compile(r"TLS handshake started"), "H"),
    (re.compile(r"TLS handshake done \((.+)\)"), "h"),
]


class Event:
    """One status line: the handle it was for, its letter, its argument
    (created handle for C, byte count for s and v, the TLS version and
    cipher for h, else None)."""

    def __init__(self, handle, code, text, arg):
        self.handle = handle
        self.code = code
        self.text = text
        self.arg = arg

    def __repr__(self):
        return "%s:%s" % (self.handle, self.text)


def parse_trace(stderr):
    """The status events on async's stderr, in order. A line that carries
    "\\tStatus: " but is not a well-formed status line is an error."""
    events = []
    for line in stderr.splitlines():
        if "\tStatus: " not in line:
            continue
        match = STATUS_LINE.fullmatch(line)
        if not match:
            raise AssertionError("malformed status line: %r" % line)
        handle, text = match.group(1).lower(), match.group(2)
        for pattern, code in STATUS_CODES:
            found = pattern.fullmatch(text)
            if found:
                arg = found.group(1) if found.groups() else None
                if code in "sv":
                    arg = int(arg)
                elif code == "C":
                    arg = arg.lower()
                events.append(Event(handle, code, text, arg))
                break
        else:
            raise AssertionError("unknown status name: %r" % line)
    return events


def encode(events):
    return "".join(e.code for e in events)


# What a successful transfer looks like, in letters (see STATUS_CODES):
# the two HANDLE_CREATED (connect, request), an optional proxy detection,
# name resolution and connection, the request going out, the response
# head coming in and REQUEST_COMPLETE for the send, then reads (with their
# RECEIVING/RESPONSE_RECEIVED and REQUEST_COMPLETE; a RECEIVING_RESPONSE
# that ends in the peer's close has no RESPONSE_RECEIVED), a connection
# closing at any point after the response started, and the HANDLE_CLOSINGs
# last (the request's first; only handle closings and connection closings
# after it).
GET_ORDER = re.compile(
    r"CCP?RrNnSs+(?:V?v)+(?:Kk)?Q(?:[VvQ]|Kk)*X(?:X|Kk)*")
# A POST may report its body going out in several writes (each maybe with
# its own SENDING_REQUEST and REQUEST_COMPLETE) before the response. One of
# 1 MiB or more sends "Expect: 100-continue" and may see the 100 (I) come
# in after its head.
POST_ORDER = re.compile(
    r"CCP?RrNnS[SsQ]*s(?:(?:V?v)+I)?[SsQ]*(?:V?v)+(?:Kk)?Q(?:[VvQ]|Kk)*"
    r"X(?:X|Kk)*")
# A failed connect: the attempt, REQUEST_COMPLETE with the error, closings.
REFUSED_ORDER = re.compile(r"CCP?RrN(?:Kk)?QX(?:X|Kk)*")
# The same over HTTPS: the TLS handshake starts (H) and is done (h) right
# after the connection is made and before the request goes out.
TLS_GET_ORDER = re.compile(
    r"CCP?RrNnHhSs+(?:V?v)+(?:Kk)?Q(?:[VvQ]|Kk)*X(?:X|Kk)*")
TLS_POST_ORDER = re.compile(
    r"CCP?RrNnHhS[SsQ]*s(?:(?:V?v)+I)?[SsQ]*(?:V?v)+(?:Kk)?Q(?:[VvQ]|Kk)*"
    r"X(?:X|Kk)*")
# A handshake that fails: started, never done, no request sent.
TLS_REJECTED_ORDER = re.compile(r"CCP?RrNnH(?:Kk)?Q(?:Kk)?X(?:X|Kk)*")


def check_handles(events):
    """The lifetime rules every trace must keep, success or failure: two
    handles created first (connect, then request); HANDLE_CLOSING exactly
    once for each, the request's before the connect's; at most once for any
    other handle (the session); nothing for a handle after its closing, and
    nothing but closings of other handles and connections after the
    request's. Returns (connect handle, request handle)."""
    codes = encode(events)
    if not codes.startswith("CC"):
        raise AssertionError("trace does not start with two HANDLE_CREATED: "
                             "%s %r" % (codes, events[:3]))
    connect, request = events[0].arg, events[1].arg
    if connect == request:
        raise AssertionError("connect and request handles are the same: %s"
                             % connect)
    created = [e.arg for e in events if e.code == "C"]
    if len(created) != 2:
        raise AssertionError("expected 2 HANDLE_CREATED, got %s" % created)
    closing_at = {}
    for index, event in enumerate(events):
        if event.handle in closing_at:
            raise AssertionError("status after HANDLE_CLOSING of %s: %r (%s)"
                                 % (event.handle, event, codes))
        if event.code == "X":
            closing_at[event.handle] = index
    for name, handle in (("connect", connect), ("request", request)):
        if handle not in closing_at:
            raise AssertionError("no HANDLE_CLOSING for the %s handle %s: %s"
                                 % (name, handle, codes))
    if closing_at[request] > closing_at[connect]:
        raise AssertionError("connect handle closed before its request: %s"
                             % codes)
    tail = events[closing_at[request] + 1:]
    for event in tail:
        if event.code not in "XKk":
            raise AssertionError("%r after the request's HANDLE_CLOSING (%s)"
                                 % (event, codes))
    return connect, request


def check_order(events, order):
    """Asserts the letters of `events` fully match `order` (a compiled
    regex) and the handle rules of check_handles."""
    codes = encode(events)
    if not order.fullmatch(codes):
        raise AssertionError("status order %s does not match %s\n%s" % (
            codes, order.pattern, "\n".join(map(repr, events[:60]))))
    return check_handles(events)


# ---- the base class ----


class CliTestCase(unittest.TestCase):
    """Starts one scripted server per class; a fresh cwd per test. A class
    may set `server_args` (e.g. tls_server_args) before setUpClass runs, and
    start more servers with start_extra_server."""

    server = None
    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.server_dir = tempfile.mkdtemp(prefix="ahttp-cli-server-")
        cls.addClassCleanup(shutil.rmtree, cls.server_dir, True)
        cls.server = TestServer(cls.server_dir, cls.server_args)
        cls.addClassCleanup(cls._stop_server)
        cls.server.start()

    @staticmethod
    def _check_stopped(server):
        status = server.stop()
        errors = server.stderr_text()
        if status != 0 or "Traceback" in errors:
            raise AssertionError("test server exited with %s; stderr:\n%s"
                                 % (status, errors))

    @classmethod
    def _stop_server(cls):
        server, cls.server = cls.server, None
        if server is not None:
            cls._check_stopped(server)

    @classmethod
    def start_extra_server(cls, args=()):
        """Another scripted server (with `args`) for the rest of the class,
        in a folder of its own; stopped and checked like the main one."""
        workdir = tempfile.mkdtemp(prefix="extra-", dir=cls.server_dir)
        server = TestServer(workdir, args)
        server.start()
        cls.addClassCleanup(cls._check_stopped, server)
        return server

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ahttp-cli-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.log_mark = len(self.server.log_lines()) if self.server else 0

    # ---- running ----

    @property
    def host(self):
        return self.server.host

    def run_async(self, *args, timeout=DEFAULT_RUN_TIMEOUT, env=None):
        return run_async(args, self.dir, timeout, env)

    def get(self, target, *extra, output="out.bin",
            timeout=DEFAULT_RUN_TIMEOUT):
        return self.run_async("-h", self.host, "-o", target, "-w", output,
                              *extra, timeout=timeout)

    def new_log_lines(self):
        """Server log lines written since this test started."""
        return self.server.log_lines()[self.log_mark:]

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write_file(self, name, data):
        with open(self.path(name), "wb") as out:
            out.write(data)
        return sha256_bytes(data)

    def make_body_file(self, name, n, seed=1):
        return bodies.write_body(self.path(name), n, seed)

    def read_file(self, name):
        with open(self.path(name), "rb") as src:
            return src.read()

    # ---- assertions ----

    def assertExit(self, result, code):
        if result.returncode != code:
            self.fail("expected exit %d, got %s%s"
                      % (code, result.returncode, result.describe()))

    def assertSucceeded(self, result):
        """Exit 0, `Done!` on stdout, no `async: ` error line."""
        self.assertExit(result, EXIT_OK)
        if "Done!" not in result.stdout_lines:
            self.fail("no 'Done!' line on stdout%s" % result.describe())
        if result.error_lines():
            self.fail("error line on success: %s%s"
                      % (result.error_lines(), result.describe()))

    def assertFailed(self, result, code, needles=(), any_of=()):
        """The documented exit code, exactly one `async: ` line containing
        every needle (and one of any_of, if given; both case-insensitive),
        and no `Done!`."""
        self.assertExit(result, code)
        errors = result.error_lines()
        if len(errors) != 1:
            self.fail("expected exactly one 'async: ' line, got %d%s"
                      % (len(errors), result.describe()))
        line = errors[0].lower()
        for needle in needles:
            if needle.lower() not in line:
                self.fail("error line %r does not name %r%s"
                          % (errors[0], needle, result.describe()))
        if any_of and not any(n.lower() in line for n in any_of):
            self.fail("error line %r names none of %s%s"
                      % (errors[0], list(any_of), result.describe()))
        if "Done!" in result.stdout_lines:
            self.fail("'Done!' printed on failure%s" % result.describe())

    def assertUsagePrinted(self, result):
        text = (result.stdout + result.stderr).lower()
        if "usage" not in text:
            self.fail("usage text not printed%s" % result.describe())

    def assertFileSha(self, name, sha, length, result=None):
        path = self.path(name)
        if not os.path.isfile(path):
            self.fail("output file %s missing%s" % (
                name, result.describe() if result else ""))
        got_sha, got_len = sha256_file(path)
        if (got_sha, got_len) != (sha, length):
            self.fail("%s: got %d bytes sha256 %s, expected %d bytes %s%s" % (
                name, got_len, got_sha, length, sha,
                result.describe() if result else ""))

    def assertDirIs(self, expected, result=None, where=None):
        """The directory holds exactly `expected` ({name: sha256 or None for
        a directory}): no stray temporary or partial files."""
        got = snapshot_dir(where or self.dir)
        if got != expected:
            extra = sorted(set(got) - set(expected))
            missing = sorted(set(expected) - set(got))
            changed = sorted(k for k in set(got) & set(expected)
                             if got[k] != expected[k])
            self.fail("directory differs: unexpected %s, missing %s, "
                      "changed %s%s" % (extra, missing, changed,
                                        result.describe() if result else ""))

    def check_failure_leaves_no_trace(self, args, code, needles=(), any_of=(),
                                      output="out.htm", timeout=None,
                                      max_elapsed=None, min_elapsed=None,
                                      variants=(False, True), env=None):
        """Runs `async args` twice: with no file at `output` (none must
        appear) and with a precious file there (it must stay as it was).
        Each run must fail with `code` and one error line naming the
        problem; the directory must hold nothing new afterwards. `variants`
        picks the runs (False: no file first, True: a precious file)."""
        results = []
        for precious in variants:
            target = self.path(output)
            if precious:
                self.write_file(output, PRECIOUS)
            elif os.path.lexists(target) and not os.path.isdir(target):
                os.unlink(target)
            before = snapshot_dir(self.dir)
            result = self.run_async(*args, timeout=timeout or
                                    DEFAULT_RUN_TIMEOUT, env=env)
            self.assertFailed(result, code, needles, any_of)
            limit = None if max_elapsed is None else max_elapsed * TIME_SCALE
            if limit is not None and result.elapsed > limit:
                self.fail("took %.2f s, limit %.2f s%s"
                          % (result.elapsed, limit, result.describe()))
            if min_elapsed is not None and result.elapsed < min_elapsed:
                self.fail("exited after %.2f s, before %.2f s%s"
                          % (result.elapsed, min_elapsed, result.describe()))
            self.assertDirIs(before, result)
            results.append(result)
        return results


# ---- issue 5: redirects, cookies, authentication, decoding, 1xx ----
# (Helpers for test_cli_redirect, _cookies, _auth, _decoding, _expect.)

import base64  # noqa: E402
import gzip  # noqa: E402
import urllib.parse  # noqa: E402
import zlib  # noqa: E402


def q(text):
    """`text` percent-encoded for a query parameter value (nothing kept)."""
    return urllib.parse.quote(text, safe="")


def text_body(n):
    """What the server's /gzip/<n> and /deflate/<n> encode by default
    (content=text): numbered lines "%08d the quick brown fox jumps over the
    lazy dog\\n", cut to n bytes (tests/server/README.md). Written here
    again so that a change of the server's text shows up as a failure."""
    parts = []
    size = 0
    line = 0
    while size < n:
        piece = b"%08d the quick brown fox jumps over the lazy dog\n" % line
        parts.append(piece)
        size += len(piece)
        line += 1
    return b"".join(parts)[:n]


def encoded(data, fmt, level=6):
    """`data` encoded as the server encodes it: gzip (mtime 0), zlib, or
    raw deflate."""
    if fmt == "gzip":
        return gzip.compress(data, compresslevel=level, mtime=0)
    if fmt == "zlib":
        return zlib.compress(data, level)
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush()


def basic_credentials(user, password):
    """The Authorization value RFC 7617 makes of USER:PASSWORD (UTF-8)."""
    pair = ("%s:%s" % (user, password)).encode("utf-8")
    return "Basic " + base64.b64encode(pair).decode("ascii")


class LoggedRequest:
    """One line of the server's FILE.headers: the connection id, method,
    target and every header field (lowercased names) in order."""

    def __init__(self, line):
        parts = line.split("\t")
        head = parts[0].split(" ", 2)
        self.conn = head[0]
        self.method = head[1] if len(head) > 1 else "-"
        self.target = head[2] if len(head) > 2 else "-"
        self.fields = []
        for part in parts[1:]:
            name, _, value = part.partition(": ")
            self.fields.append((name, value))
        self.line = line

    def values(self, name):
        return [v for k, v in self.fields if k == name.lower()]

    def __repr__(self):
        return repr(self.line)


def header_log(server):
    """Every request the server logged with its header fields, in order."""
    try:
        with open(server.log_path + ".headers", errors="replace") as log:
            return [LoggedRequest(l) for l in log.read().splitlines()]
    except FileNotFoundError:
        return []


def status_texts(result):
    """The status names of async's trace, in order ("Redirect (url)" ...)."""
    return [e.text for e in parse_trace(result.stderr)]


COOKIE_VERDICTS = ("Cookie Accepted", "Cookie Leashed", "Cookie Downgraded",
                   "Cookie Rejected")


def cookie_histories(stderr):
    """For each "Cookie History" status line, the verdict lines the trace
    prints right after it (e.g. ["Cookie Accepted"])."""
    lines = stderr.splitlines()
    found = []
    for index, line in enumerate(lines):
        if not line.endswith("\tStatus: Cookie History"):
            continue
        verdicts = []
        for after in lines[index + 1:]:
            if after not in COOKIE_VERDICTS:
                break
            verdicts.append(after)
        found.append(verdicts)
    return found


def inspect_answer(data):
    """The body /inspect (and /chain/0, /expect/100) answers, as a dict of
    lists: {"method": ["GET"], "cookie": [...], ...}."""
    answer = {}
    for line in data.decode("iso-8859-1").splitlines():
        key, _, value = line.partition(" ")
        answer.setdefault(key, []).append(value)
    return answer


def check_handle_pairs(events):
    """check_handles for a run that may open more than one pair of handles
    (a POST sent again after a 307 or 308 opens a connect and a request
    handle for the new URL): handles are created in pairs (connect, then
    request); each gets exactly one HANDLE_CLOSING, the request's before
    its connect's; nothing is reported for a handle after its closing; the
    last request's closing is followed by closings only. Returns the
    [(connect, request)] pairs."""
    codes = encode(events)
    created = [e.arg for e in events if e.code == "C"]
    if not created or len(created) % 2:
        raise AssertionError("HANDLE_CREATED not in pairs: %s" % created)
    pairs = list(zip(created[0::2], created[1::2]))
    closing_at = {}
    for index, event in enumerate(events):
        if event.handle in closing_at:
            raise AssertionError("status after HANDLE_CLOSING of %s: %r (%s)"
                                 % (event.handle, event, codes))
        if event.code == "X":
            closing_at[event.handle] = index
    for connect, request in pairs:
        for handle in (connect, request):
            if handle not in closing_at:
                raise AssertionError("no HANDLE_CLOSING for %s: %s"
                                     % (handle, codes))
        if closing_at[request] > closing_at[connect]:
            raise AssertionError("connect handle %s closed before its "
                                 "request %s: %s" % (connect, request, codes))
    for event in events[closing_at[pairs[-1][1]] + 1:]:
        if event.code not in "XKk":
            raise AssertionError("%r after the last request's HANDLE_CLOSING"
                                 " (%s)" % (event, codes))
    return pairs


class FeatureTestCase(CliTestCase):
    """CliTestCase with the header log of each server this class started
    (the main one and those of other_server), read per test."""

    _others = None

    @classmethod
    def other_server(cls, name="other", args=()):
        """A second scripted server (on its own port, so another origin),
        started the first time a test asks for `name`."""
        if cls._others is None:
            cls._others = {}
        if name not in cls._others:
            cls._others[name] = cls.start_extra_server(args)
        return cls._others[name]

    def setUp(self):
        super().setUp()
        self._header_marks = {}
        for server in [self.server] + list((self._others or {}).values()):
            self._header_marks[id(server)] = len(header_log(server))

    def requests(self, server=None):
        """The requests `server` (default: the main one) logged with their
        headers since this test started."""
        server = server or self.server
        return header_log(server)[self._header_marks.get(id(server), 0):]

    def run_ok(self, *args, timeout=DEFAULT_RUN_TIMEOUT):
        """Runs async, asserts success and the handle rules of the trace."""
        result = self.run_async(*args, timeout=timeout)
        self.assertSucceeded(result)
        try:
            check_handle_pairs(parse_trace(result.stderr))
        except AssertionError as err:
            self.fail("%s%s" % (err, result.describe()))
        return result

    def assertNoSecret(self, result, secret):
        for name, text in (("stdout", result.stdout),
                           ("stderr", result.stderr)):
            if secret in text:
                self.fail("%r printed on %s%s" % (secret, name,
                                                  result.describe()))
