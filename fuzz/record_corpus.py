#!/usr/bin/env python3
"""Rebuilds the seed corpora in fuzz/corpus/ from real responses.

Starts nginx (a temporary configuration) and the scripted test server
(tests/server/ahttp_test_server.py) on free 127.0.0.1 ports, records the raw
bytes of a set of requests with a plain socket client, adds hand-written
malformed cases, and writes each as a corpus file in the input format of
the target that reads it (control bytes first; see the comment at the top
of each fuzz_*.c). Both servers are stopped by pid at the end.

Usage: python3 fuzz/record_corpus.py [--out DIR]   (default: fuzz/corpus)
Only loopback addresses are used. Python 3 standard library only.
"""

import argparse
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SERVER = os.path.join(ROOT, "tests", "server", "ahttp_test_server.py")
NGINX = "/usr/sbin/nginx"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def exchange(port, request, timeout=3.0):
    """Sends `request` and returns every byte until the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(request)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return b"".join(chunks)


def get(path, extra=b"", method=b"GET", body=b""):
    req = (method + b" " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
           b"User-Agent: ahttp-corpus/1\r\n" + extra)
    if body:
        req += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
    return req + b"Connection: close\r\n\r\n" + body


# ---- servers ---------------------------------------------------------------

class Nginx:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ahttp-corpus-nginx-")
        self.root = os.path.join(self.dir, "root")
        os.makedirs(os.path.join(self.root, "dir"))
        os.makedirs(os.path.join(self.dir, "tmp"))
        with open(os.path.join(self.root, "index.html"), "wb") as f:
            f.write(b"<html><body>hello from nginx</body></html>\n")
        with open(os.path.join(self.root, "text.txt"), "wb") as f:
            f.write(b"line of text for gzip and chunked framing\n" * 40)
        with open(os.path.join(self.root, "dir", "a.bin"), "wb") as f:
            f.write(bytes(range(256)) * 2)
        self.port = free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        d = self.dir
        with open(conf, "w") as f:
            f.write(f"""daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;
  default_type application/octet-stream;
  types {{ text/html html; text/plain txt; }}
  gzip on;
  gzip_types text/plain;
  gzip_min_length 10;
  server {{
    listen 127.0.0.1:{self.port};
    server_name localhost;
    root {self.root};
    location /redirect {{ return 302 /index.html; }}
    location /teapot {{ return 418 "short and stout\\n"; }}
    location /nocontent {{ return 204; }}
    location /headers {{
      add_header X-One "1";
      add_header X-Two "two words";
      add_header Set-Cookie "a=b; Path=/";
      add_header Set-Cookie "c=d; HttpOnly";
      return 200 "many headers\\n";
    }}
  }}
}}
""")
        self.proc = subprocess.Popen([NGINX, "-p", self.dir, "-c", conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not start")

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Scripted:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, SERVER, "--port", "0"],
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError("scripted server did not start")
        self.port = int(line.split()[1])

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


# ---- what to record -----------------------------------------------------

NGINX_REQUESTS = [
    ("get-index", get(b"/index.html")),
    ("get-404", get(b"/missing")),
    ("get-dir-301", get(b"/dir")),
    ("get-redirect-302", get(b"/redirect")),
    ("get-teapot-418", get(b"/teapot")),
    ("get-204", get(b"/nocontent")),
    ("get-headers", get(b"/headers")),
    ("get-gzip-chunked", get(b"/text.txt", b"Accept-Encoding: gzip\r\n")),
    ("get-range-206", get(b"/dir/a.bin", b"Range: bytes=10-40\r\n")),
    ("get-range-416", get(b"/dir/a.bin", b"Range: bytes=9999-\r\n")),
    ("get-304", get(b"/index.html",
                    b"If-Modified-Since: Sat, 01 Jan 2050 00:00:00 GMT\r\n")),
    ("head-index", get(b"/index.html", method=b"HEAD")),
    ("post-405", get(b"/index.html", method=b"POST", body=b"x=1")),
    ("bad-request-400", b"GARBAGE\r\n\r\n"),
    ("http10-get", b"GET /index.html HTTP/1.0\r\n\r\n"),
    ("pipelined-two", b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n"
                      b"GET /missing HTTP/1.1\r\nHost: a\r\n"
                      b"Connection: close\r\n\r\n"),
]

SCRIPTED_REQUESTS = [
    ("bytes-length", get(b"/bytes/300")),
    ("bytes-chunked", get(b"/bytes/300?framing=chunked&chunk=100")),
    ("bytes-chunked-small", get(b"/bytes/40?framing=chunked&chunk=7")),
    ("bytes-close", get(b"/bytes/200?framing=close")),
    ("status-404", get(b"/status/404")),
    ("status-204", get(b"/status/204")),
    ("echo", get(b"/echo", b"X-Test: 1\r\n")),
    ("upload", get(b"/upload", method=b"POST", body=b"hello upload")),
    ("upload-413", get(b"/upload?respond_early=1", method=b"POST",
                       body=b"abc")),
    ("head-bytes", get(b"/bytes/100", method=b"HEAD")),
]

RAW_NAMES = [
    "http10-close", "status-204-with-te", "status-304-with-cl",
    "chunked-trailers", "continue-then-200", "early-hints-then-200",
    "lf-only", "te-gzip-close", "cl-cl-conflict", "cl-and-te",
    "cl-negative", "cl-huge", "cl-not-a-number", "bad-chunk-size",
    "chunk-size-overflow", "chunk-missing-crlf", "no-status-line",
    "garbage", "bad-version", "bad-status-code", "bare-cr-header",
    "nul-in-header", "obs-fold", "space-before-colon", "header-no-colon",
    "huge-header", "empty-reply", "truncated-head", "truncated-body",
    "truncated-chunked", "truncated-chunked-no-last",
]

# The raw replies whose head parses, so that their bodies are decoded.
RAW_BODY_NAMES = {
    "http10-close", "status-204-with-te", "status-304-with-cl",
    "chunked-trailers", "continue-then-200", "early-hints-then-200",
    "lf-only", "te-gzip-close", "cl-cl-conflict", "cl-and-te",
    "cl-negative", "cl-huge", "cl-not-a-number", "bad-chunk-size",
    "chunk-size-overflow", "chunk-missing-crlf", "truncated-body",
    "truncated-chunked", "truncated-chunked-no-last",
}

H = b"HTTP/1.1 200 OK\r\n"
HAND_RESPONSES = [
    ("status-1-digit", b"HTTP/1.1 2 OK\r\n\r\n"),
    ("status-4-digits", b"HTTP/1.1 2000 OK\r\n\r\n"),
    ("status-099", b"HTTP/1.1 099 Low\r\n\r\n"),
    ("version-1-2", b"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ("version-100-digits", b"HTTP/1." + b"1" * 100 + b" 200 OK\r\n\r\n"),
    ("http09-body-only", b"<html>just a body</html>\n"),
    ("no-reason", b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok"),
    ("no-reason-space", b"HTTP/1.1 200 \r\n\r\n"),
    ("reason-obs-text", b"HTTP/1.1 200 \xc3\xa9t\xc3\xa9\r\n\r\n"),
    ("reason-ctl", b"HTTP/1.1 200 O\x01K\r\n\r\n"),
    ("ws-before-first-field", H + b" X: 1\r\n\r\n"),
    ("tab-before-colon", H + b"X\t: 1\r\n\r\n"),
    ("empty-name", H + b": v\r\n\r\n"),
    ("name-with-slash", H + b"X/Y: v\r\n\r\n"),
    ("value-tab-and-spaces", H + b"X:\t a \t b \t\r\nY:\r\nZ:   \r\n\r\n"),
    ("value-del", H + b"X: a\x7fb\r\n\r\n"),
    ("bare-cr-end", H + b"X: a\r\r\n\r\n"),
    ("bare-cr-blank", H + b"X: a\r\n\r\r\n"),
    ("mixed-line-ends", b"HTTP/1.1 200 OK\nA: 1\r\nB: 2\n\r\n"),
    ("many-tiny-headers", H + b"".join(b"%x:\r\n" % i for i in range(300)) +
     b"\r\n"),
    ("long-value", H + b"X-Long: " + b"v" * 3000 + b"\r\n\r\n"),
    ("1xx-flood", b"HTTP/1.1 100 Continue\r\n\r\n" * 12 + H + b"\r\n"),
    ("101-switching", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"),
    ("100-then-nothing", b"HTTP/1.1 100 Continue\r\n\r\n"),
    ("empty", b""),
    ("crlf-only", b"\r\n\r\n"),
]

HAND_BODIES = [
    ("cl-empty", H + b"Content-Length: \r\n\r\n"),
    ("cl-6a", H + b"Content-Length: 6a\r\n\r\nabcdef"),
    ("cl-2-63", H + b"Content-Length: 9223372036854775808\r\n\r\n"),
    ("cl-2-63-minus-1", H + b"Content-Length: 9223372036854775807\r\n\r\nab"),
    ("cl-list-same", H + b"Content-Length: 3, 3\r\n\r\nabc"),
    ("cl-list-differ", H + b"Content-Length: 3, 4\r\n\r\nabcd"),
    ("cl-two-fields-same", H + b"Content-Length: 3\r\nContent-Length: 3\r\n"
                           b"\r\nabc"),
    ("cl-and-te-chunked", H + b"Content-Length: 3\r\nTransfer-Encoding: "
                          b"chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
    ("te-chunked-not-last", H + b"Transfer-Encoding: chunked, gzip\r\n\r\nx"),
    ("te-chunked-twice", H + b"Transfer-Encoding: chunked\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("te-unknown", H + b"Transfer-Encoding: frobnicate\r\n\r\nraw until close"),
    ("te-empty", H + b"Transfer-Encoding: \r\n\r\n"),
    ("te-params", H + b"Transfer-Encoding: gzip;q=1 , chunked\r\n\r\n"
                  b"0\r\n\r\n"),
    ("http10-te-chunked", b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n"
                          b"\r\n2\r\nhi\r\n0\r\n\r\n"),
    ("http10-keep-alive", b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
                          b"Content-Length: 2\r\n\r\nhi"),
    ("connection-close-list", H + b"Connection: foo, close\r\n"
                              b"Content-Length: 2\r\n\r\nhi"),
    ("chunk-non-hex", H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"),
    ("chunk-overflow", H + b"Transfer-Encoding: chunked\r\n\r\n"
                       b"ffffffffffffffffff\r\n"),
    ("chunk-8-f", H + b"Transfer-Encoding: chunked\r\n\r\n"
                  b"7fffffffffffffff\r\nab"),
    ("chunk-no-crlf-after-data", H + b"Transfer-Encoding: chunked\r\n\r\n"
                                 b"3\r\nabcX\r\n0\r\n\r\n"),
    ("chunk-ext-quoted", H + b"Transfer-Encoding: chunked\r\n\r\n"
                         b"3 ; name=\"v;x\"\r\nabc\r\n0;last\r\n\r\n"),
    ("chunk-ext-long", H + b"Transfer-Encoding: chunked\r\n\r\n3;" +
     b"e" * 4200 + b"\r\nabc\r\n0\r\n\r\n"),
    ("chunk-bare-lf", H + b"Transfer-Encoding: chunked\r\n\r\n"
                      b"3\nabc\n0\n\n"),
    ("chunk-trailer-nul", H + b"Transfer-Encoding: chunked\r\n\r\n"
                          b"0\r\nX-T: a\x00b\r\n\r\n"),
    ("chunk-trailers-many", H + b"Transfer-Encoding: chunked\r\n\r\n"
                            b"1\r\na\r\n0\r\n" +
     b"".join(b"T%d: v\r\n" % i for i in range(50)) + b"\r\n"),
    ("chunk-trailer-bare-cr", H + b"Transfer-Encoding: chunked\r\n\r\n"
                              b"0\r\nX: a\rb\r\n\r\n"),
    ("chunk-leading-zeros", H + b"Transfer-Encoding: chunked\r\n\r\n"
                            b"0003\r\nabc\r\n000\r\n\r\n"),
    ("chunk-then-next-response", H + b"Transfer-Encoding: chunked\r\n\r\n"
                                 b"2\r\nhi\r\n0\r\n\r\n" + H +
     b"Content-Length: 0\r\n\r\n"),
    ("length-then-extra", H + b"Content-Length: 2\r\n\r\nhiEXTRA"),
    ("length-short-eof", H + b"Content-Length: 10\r\n\r\nabc"),
    ("head-304-cl", b"HTTP/1.1 304 Not Modified\r\nContent-Length: zz\r\n\r\n"),
    ("status-204-cl", b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"),
]

# Text a caller might give to ah_send_request as extra header lines.
EXTRA_HEADERS = [
    ("one-line", b"X-One: 1"),
    ("one-line-crlf", b"X-One: 1\r\n"),
    ("two-lines", b"Accept: */*\r\nX-Two: two words\r\n"),
    ("empty-lines", b"\r\n\r\nA: 1\r\n\r\n"),
    ("empty-value", b"A:\r\nB: \r\n"),
    ("tab-value", b"A:\tx\ty\t\r\n"),
    ("obs-text", b"A: \xc3\xa9\r\n"),
    ("bare-lf", b"A: 1\nB: 2"),
    ("bare-cr", b"A: 1\rB: 2"),
    ("cr-at-end", b"A: 1\r"),
    ("nul", b"A: 1\x00\r\n"),
    ("no-colon", b"NoColon\r\n"),
    ("space-before-colon", b"A : 1\r\n"),
    ("leading-space", b"A: 1\r\n folded\r\n"),
    ("empty-name", b": v\r\n"),
    ("bad-name-char", b"A(b): v\r\n"),
    ("ctl-in-value", b"A: a\x01b\r\n"),
    ("del-in-value", b"A: a\x7fb\r\n"),
    ("injection-attempt", b"X: a\r\nHost: evil\r\n\r\nGET / HTTP/1.1\r\n"),
    ("many-lines", b"".join(b"H%d: %d\r\n" % (i, i) for i in range(100))),
    ("long-line", b"X-Long: " + b"a" * 2000 + b"\r\n"),
    ("token-only", b"GET"),
]


# ---- writing the corpus ---------------------------------------------------

def response_ctl(cap=0, max_head=None, splits=(0, 0, 0)):
    mh = 0 if max_head is None else (0x8000 | max_head)
    return struct.pack(">BHHHH", cap, mh, *splits)


def body_ctl(mode=0, method=0, max_trailer=4096, cl=0, splits=(0, 0, 0),
             limit=0, direct=0):
    return struct.pack(">BBHIHHHBB", mode, method, max_trailer, cl, *splits,
                       limit, direct)


def extra_ctl(flags=0x14, cl=5):
    return struct.pack(">BQ", flags, cl)


def thirds(n):
    """Three split points inside n bytes (16 bits each)."""
    return tuple(min(x, 0xffff) for x in (n // 3, n // 2, (2 * n) // 3))


def write(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def add_response(out, name, raw, head=True, body=True):
    """A recorded or hand-written response for the response targets: the
    head parser's and (if its head parses, so the body matters) the body
    decoder's."""
    n = len(raw)
    if head:
        write(out, "h1_response", name, response_ctl(splits=thirds(n)) + raw)
    if body:
        write(out, "h1_body", name, body_ctl(splits=thirds(n), limit=7,
                                             direct=1) + raw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    args = ap.parse_args()
    for target in ("h1_response", "h1_body", "h1_extra_headers"):
        shutil.rmtree(os.path.join(args.out, target), ignore_errors=True)

    nginx = Nginx()
    try:
        for name, req in NGINX_REQUESTS:
            raw = exchange(nginx.port, req)
            if raw:
                add_response(args.out, "nginx-" + name, raw)
    finally:
        nginx.stop()

    server = Scripted()
    try:
        for name, req in SCRIPTED_REQUESTS:
            raw = exchange(server.port, req)
            if raw:
                add_response(args.out, "scripted-" + name, raw)
        for name in RAW_NAMES:
            raw = exchange(server.port, get(b"/raw/" + name.encode()))
            add_response(args.out, "raw-" + name, raw,
                         body=name in RAW_BODY_NAMES)
    finally:
        server.stop()

    for name, raw in HAND_RESPONSES:
        add_response(args.out, "hand-" + name, raw, body=False)
    for name, raw in HAND_BODIES:
        add_response(args.out, "hand-" + name, raw, head=False)
    # Limits and capacities the control bytes can choose.
    nginx_like = H + b"A: 1\r\nB: 2\r\nC: 3\r\n\r\n"
    write(args.out, "h1_response", "hand-cap-2",
          response_ctl(cap=128 + 2) + nginx_like)
    write(args.out, "h1_response", "hand-max-head-20",
          response_ctl(max_head=20) + nginx_like)
    # Bodies alone, with a made-up head (modes 1-3 of fuzz_h1_body.c).
    write(args.out, "h1_body", "mode-chunked",
          body_ctl(mode=1, splits=(3, 9, 14), limit=3) +
          b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: 1\r\n\r\n")
    write(args.out, "h1_body", "mode-chunked-trailer-limit",
          body_ctl(mode=1, max_trailer=8) +
          b"0\r\nTrailer-One: 1\r\nTrailer-Two: 2\r\n\r\n")
    write(args.out, "h1_body", "mode-length",
          body_ctl(mode=2, cl=11, splits=(1, 5, 10), direct=1) +
          b"hello worldEXTRA")
    write(args.out, "h1_body", "mode-length-short",
          body_ctl(mode=2, cl=100, direct=1) + b"short")
    write(args.out, "h1_body", "mode-close",
          body_ctl(mode=3, splits=(2, 4, 6)) + b"all of this is body")
    write(args.out, "h1_body", "head-method",
          body_ctl(method=1) + H + b"Content-Length: 100\r\n\r\n")
    write(args.out, "h1_body", "connect-method",
          body_ctl(method=2) + H + b"\r\ntunnel bytes")
    for name, text in EXTRA_HEADERS:
        write(args.out, "h1_extra_headers", name, extra_ctl() + text)
    write(args.out, "h1_extra_headers", "no-ua-close",
          extra_ctl(flags=0x08 | 0x60, cl=0) + b"A: 1\r\n")
    write(args.out, "h1_extra_headers", "huge-cl",
          extra_ctl(flags=0x11, cl=2**64 - 1) + b"A: 1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
