#!/usr/bin/env python3
"""ahttp's scripted HTTP/1.1 test server: good routes and faults on purpose.

Run: python3 ahttp_test_server.py [--port N] [--log FILE]
                                [--tls-cert FILE --tls-key FILE
                                 [--tls-client-ca FILE]
                                 [--tls-max-version V]]

It listens on 127.0.0.1 only (port 0, the default, picks a free one), prints
"PORT <n>" on stdout as soon as it listens, and serves until SIGTERM or
SIGINT, when it closes every connection and exits 0 within a fraction of a
second. Nothing else is ever written to stdout; stderr gets a traceback only
for an unexpected server error (never for a client going away).

With --tls-cert and --tls-key it speaks HTTPS instead of HTTP on that port
(TLS 1.2 or later; the routes are the same). TLS runs over memory BIOs, so
the server decides what reaches the wire: a normal close sends a TLS
close_notify first, while the /truncate routes close the TCP connection
without one, as a truncation attack or a crashed server would.

Requests are parsed here, on raw sockets, so that a route can misbehave in
exactly the way a test needs. One thread per connection; connections are
persistent unless the request or the route says otherwise. Every blocking
socket call wakes up at least every POLL seconds to notice a shutdown, which
is how stalled connections never hold the server up. The routes are listed
in README.md beside this file and in ROUTES_TEXT below.

Python 3 standard library only.
"""

import argparse
import base64
import fcntl
import gzip
import hashlib
import http
import os
import select
import signal
import socket
import ssl
import struct
import sys
import termios
import threading
import time
import traceback
import warnings
import zlib
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bodies  # noqa: E402  (needs the path above)

POLL = 0.2  # seconds a blocked socket call waits before checking for stop
MAX_HEAD = 64 * 1024  # limit on a request head (request line + headers)
MAX_LINE = 8 * 1024  # limit on a chunk-size or trailer line of a request
SEND_SLICE = 1 << 20  # the most handed to one send()
COALESCE = 64 * 1024  # smaller writes are gathered before sending
RECV_SIZE = 1 << 20
LINGER_S = 1.0  # how long respond_early keeps reading after its 413
HANDSHAKE_S = 10.0  # how long a TLS client may take over its handshake

ROUTES_TEXT = b"""ahttp test server routes
GET|HEAD /bytes/<n>?framing=length|chunked|close&seed=S&chunk=C
         &close_next=1&idle_close_ms=T&reset_after=K
POST|PUT /upload[?respond_early=1]
ANY      /status/<code>
ANY      /echo
ANY      /stall?after=none|headers|body&bytes=K&length=L&read=0
GET      /slow/<n>?delay_ms=D&piece=P
ANY      /raw/<name>
GET      /truncate/<n>?after=K
GET      /truncate-close/<n>?after=K
ANY      /reset/<name>?after=K
GET      /endless/headers|trailers|interim
GET      /many-headers/<count>
GET      /head-size/<n>
GET      /interim/<count>?code=C
GET      /overlong/<n>?pause_ms=T
ANY      /inspect
ANY      /redirect/<code>?to=LOCATION&c=SET-COOKIE&size=N&framing=F&early=1
ANY      /chain/<n>?code=C&style=path|url|relative
ANY      /loop/a|b?code=C
ANY      /cookies/set?c=SET-COOKIE&c=...
ANY      /cookies/echo
ANY      /auth/basic?user=U&pass=P
GET      /gzip/<n>?framing=F&content=text|random&coding=NAME&level=L
GET      /deflate/<n>?raw=1&framing=F&content=text|random&level=L
GET      /gzip-corrupt/<n>?where=header|data|crc|garbage&format=gzip|zlib
GET      /gzip-truncated/<n>?keep=K&framing=F&format=gzip|zlib|raw
POST|PUT /expect/100?hints=1&delay_ms=D
POST|PUT /expect/none
POST|PUT /expect/reject?code=C&wait_ms=T&keep=1
GET      /early-hints?codes=103,...
"""


def _garbage_header():
    # A header block over 64 KiB, for a client's header size limit.
    return (b"HTTP/1.1 200 OK\r\n" +
            b"".join(b"X-Filler-%05d: %s\r\n" % (i, b"x" * 100)
                     for i in range(1000)) +
            b"Content-Length: 5\r\n\r\nhello")


def _long_header_line():
    # One header field line of about 100 KB, beyond a 64 KiB head limit.
    return (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 100000 + b"\r\n"
            b"Content-Length: 5\r\n\r\nhello")


# /raw/<name>: the exact bytes sent, after which the connection is closed.
RAW_REPLIES = {
    # Valid responses, for the parser's tolerant side.
    "http10-close": b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                    b"hello from http/1.0\n",
    "status-204-with-te": b"HTTP/1.1 204 No Content\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n",
    "status-304-with-cl": b"HTTP/1.1 304 Not Modified\r\n"
                          b"Content-Length: 100\r\n\r\n",
    "chunked-trailers": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                        b"\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n"
                        b"X-Trailer: yes\r\n\r\n",
    "continue-then-200": b"HTTP/1.1 100 Continue\r\n\r\n"
                         b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "early-hints-then-200": b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
                            b"hello",
    "lf-only": b"HTTP/1.1 200 OK\nContent-Length: 5\n\nhello",
    "te-gzip-close": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"
                     b"not really gzip",
    "http-1-2": b"HTTP/1.2 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "hello": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "te-unknown-chunked": b"HTTP/1.1 200 OK\r\n"
                          b"Transfer-Encoding: x-custom, chunked\r\n\r\n"
                          b"5\r\nhello\r\n0\r\n\r\n",
    # Invalid responses: a client must reject these (RFC 9112).
    "cl-cl-conflict": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                      b"Content-Length: 6\r\n\r\nhello!",
    "cl-and-te": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "cl-negative": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello",
    "cl-huge": b"HTTP/1.1 200 OK\r\n"
               b"Content-Length: 99999999999999999999999999\r\n\r\nhello",
    "cl-not-a-number": b"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello",
    "bad-chunk-size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                      b"\r\nzz\r\nhello\r\n0\r\n\r\n",
    "chunk-size-overflow": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                           b"\r\nfffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    "chunk-missing-crlf": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                          b"\r\n5\r\nhelloXX0\r\n\r\n",
    "no-status-line": b"Content-Type: text/plain\r\nContent-Length: 5\r\n"
                      b"\r\nhello",
    "garbage": b"this is not http at all\r\n\r\n",
    "bad-version": b"HTTP/9.9 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "bad-status-code": b"HTTP/1.1 2000 OK\r\nContent-Length: 5\r\n\r\nhello",
    "bare-cr-header": b"HTTP/1.1 200 OK\r\nX-Bad: a\rb\r\n"
                      b"Content-Length: 5\r\n\r\nhello",
    "nul-in-header": b"HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\n"
                     b"Content-Length: 5\r\n\r\nhello",
    "obs-fold": b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\n"
                b"Content-Length: 5\r\n\r\nhello",
    "space-before-colon": b"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n"
                          b"\r\nhello",
    "header-no-colon": b"HTTP/1.1 200 OK\r\nNoColonHere\r\n"
                       b"Content-Length: 5\r\n\r\nhello",
    "huge-header": _garbage_header(),
    "http09": b"<html><body>hello from http/0.9</body></html>\n",
    "status-1-digit": b"HTTP/1.1 2 OK\r\nContent-Length: 5\r\n\r\nhello",
    "version-100-digits": b"HTTP/" + b"0" * 99 + b"1.1 200 OK\r\n"
                          b"Content-Length: 5\r\n\r\nhello",
    "cl-6a": b"HTTP/1.1 200 OK\r\nContent-Length: 6a\r\n\r\nhello!",
    "cl-empty": b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\nhello",
    "cl-2-63": b"HTTP/1.1 200 OK\r\n"
               b"Content-Length: 9223372036854775808\r\n\r\nhello",
    "te-chunked-not-last": b"HTTP/1.1 200 OK\r\n"
                           b"Transfer-Encoding: chunked, x-custom\r\n\r\n"
                           b"5\r\nhello\r\n0\r\n\r\n",
    "trailer-nul": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"5\r\nhello\r\n0\r\nX-Trailer: a\x00b\r\n\r\n",
    "header-100k-line": _long_header_line(),
    # Early ends: the server closes before the response is complete.
    "empty-reply": b"",
    "truncated-head": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
    "truncated-body": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
                      b"0123456789",
    "truncated-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                         b"\r\n10\r\n0123456789",
    "truncated-chunked-no-last": b"HTTP/1.1 200 OK\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n"
                                 b"5\r\nhello\r\n",
    "continue-then-close": b"HTTP/1.1 100 Continue\r\n\r\n",
}

# /overlong: what follows the body, in the same write. A client that put
# the connection back into its pool would read it as the next answer.
SMUGGLED = (b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Conn-Id: 0\r\n"
            b"X-Smuggled: yes\r\n\r\nsmuggled")

ENDLESS_PIECE = 16 * 1024  # bytes per write of the /endless routes


class Stopping(Exception):
    """The server is shutting down; the connection thread just ends."""


class PeerGone(Exception):
    """The client closed its side (or went silent past an idle limit)."""


class ResetNow(Exception):
    """The route wants the connection reset (RST) rather than closed."""


class HangUp(Exception):
    """The route has closed its side of the TCP connection on purpose,
    without a TLS close_notify; nothing more is to be sent."""


class HandshakeFailed(Exception):
    """The TLS handshake did not complete (the client refused our
    certificate, had none to give, or went away). Never reported."""


class BadRequest(Exception):
    """A request we refuse; answered with this status, then closed."""

    def __init__(self, status, why):
        super().__init__(why)
        self.status = status
        self.why = why


# Errors that mean only "the client went away": never reported.
QUIET_ERRORS = (ConnectionError, PeerGone, Stopping, HandshakeFailed)


# Reason phrases where RFC 9110's or the spec's name differs from Python's.
REASONS = {413: "Payload Too Large"}


def reason_phrase(code):
    if code in REASONS:
        return REASONS[code]
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"


class Request:
    """A parsed request head."""

    def __init__(self, raw, method, target, version, headers):
        self.raw = raw  # the head exactly as received, final CRLF included
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # [(lowercase name, value)] in order
        parts = urlsplit(target)
        self.path = parts.path
        self.query_string = parts.query
        # iso-8859-1 so that any percent-encoded byte comes back as it was.
        self.query_all = parse_qs(parts.query, keep_blank_values=True,
                                  encoding="iso-8859-1")
        self.query = {k: v[-1] for k, v in self.query_all.items()}

    def header(self, name):
        """The last value of a header, or None."""
        found = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found

    def tokens(self, name):
        """The comma-separated tokens of every such header, lowercased."""
        out = []
        for key, value in self.headers:
            if key == name:
                out.extend(t.strip().lower() for t in value.split(","))
        return [t for t in out if t]

    def wants_close(self):
        conn = self.tokens("connection")
        if "close" in conn:
            return True
        return self.version == "HTTP/1.0" and "keep-alive" not in conn

    def int_param(self, name, default, minimum=0):
        text = self.query.get(name)
        if text is None or text == "":
            return default
        try:
            value = int(text, 10)
        except ValueError:
            raise BadRequest(400, "parameter %s is not a number" % name)
        if value < minimum:
            raise BadRequest(400, "parameter %s is too small" % name)
        return value


def parse_head(raw):
    """Parses a request head (bytes ending with CRLF CRLF) into a Request."""
    try:
        text = raw.decode("iso-8859-1")
    except UnicodeDecodeError:  # iso-8859-1 decodes anything; be safe
        raise BadRequest(400, "undecodable head")
    lines = text[:-4].split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise BadRequest(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise BadRequest(505, "unsupported version")
    if not (target.startswith("/") or target == "*"):
        raise BadRequest(400, "unsupported request target")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or "\r" in line \
                or "\0" in line:
            raise BadRequest(400, "malformed header line")
        headers.append((name.lower(), value.strip(" \t")))
    return Request(raw, method, target, version, headers)


class Writer:
    """Buffers small writes so a response head and a small body leave in one
    segment; large pieces go straight to the socket without a copy.

    With `limit`, only that many bytes in all are sent; the write that
    reaches it flushes and raises ResetNow."""

    def __init__(self, conn, limit=None):
        self.conn = conn
        self.pending = bytearray()
        self.limit = limit

    def write(self, data):
        if self.limit is not None:
            data = memoryview(data).cast("B")
            if len(data) >= self.limit:
                data = data[:self.limit]
                self.limit = 0
                self._write(data)
                self.flush()
                raise ResetNow()
            self.limit -= len(data)
        self._write(data)

    def _write(self, data):
        if len(data) >= COALESCE:
            self.flush()
            self.conn.send_all(data)
            return
        self.pending += data
        if len(self.pending) >= COALESCE:
            self.flush()

    def flush(self):
        if self.pending:
            data = bytes(self.pending)
            self.pending.clear()
            self.conn.send_all(data)


class TlsStream:
    """TLS over one accepted TCP socket, through memory BIOs.

    It offers the socket methods Connection uses (recv, recv_into, send,
    shutdown), so routes need not know whether they speak HTTP or HTTPS.
    As with the plain socket, a wait on the TCP socket raises TimeoutError
    after POLL seconds, and the call may simply be repeated: nothing is lost
    (the TLS state lives in self.tls, the bytes in the BIOs).

    The point of the BIOs is control over the wire: a close_notify is sent
    only by close_notify() (or shutdown()), never implicitly, so closing the
    TCP socket without calling it is a truncation the client can detect.
    """

    def __init__(self, raw, context, stopping):
        self.raw = raw
        self.stopping = stopping
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing,
                                    server_side=True)
        self.notified = False  # our close_notify has been sent

    def _flush(self):
        """Sends every TLS byte produced so far, waiting as long as needed
        (bytes half sent cannot be taken back, so a time-out is no reason
        to give up; only a stop is)."""
        if not self.outgoing.pending:
            return
        view = memoryview(self.outgoing.read())
        while view:
            if self.stopping.is_set():
                raise Stopping()
            try:
                sent = self.raw.send(view[:SEND_SLICE])
            except TimeoutError:
                continue
            view = view[sent:]

    def _fill(self):
        """Feeds what the TCP socket has to TLS (TimeoutError after POLL)."""
        if self.stopping.is_set():
            raise Stopping()
        data = self.raw.recv(RECV_SIZE)
        if data:
            self.incoming.write(data)
        else:
            self.incoming.write_eof()

    def handshake(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.tls.do_handshake()
                self._flush()  # our Finished, TLS 1.3 session tickets
                return
            except ssl.SSLWantReadError:
                self._flush()
            except ssl.SSLError as err:
                # Send our alert (certificate required, say) if we can.
                try:
                    self._flush()
                except OSError:
                    pass
                raise HandshakeFailed(str(err))
            while True:
                try:
                    self._fill()
                    break
                except TimeoutError:
                    if time.monotonic() >= deadline:
                        raise HandshakeFailed("handshake timed out")

    def _read(self, n, buffer):
        while True:
            if self.notified:
                # After our close_notify the client's bytes are only
                # drained (linger_and_close): hand over the raw ones.
                data = self.raw.recv(n)
                if buffer is None:
                    return data
                buffer[:len(data)] = data
                return len(data)
            try:
                if buffer is None:
                    got = self.tls.read(n)
                else:
                    got = self.tls.read(n, buffer)
                self._flush()
                return got
            except ssl.SSLWantReadError:
                self._flush()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                # The client's close_notify, or its TCP close without one:
                # either way the end of what it sends.
                return b"" if buffer is None else 0
            except ssl.SSLError:
                raise PeerGone()  # a fatal alert or garbage from the client
            self._fill()

    def recv(self, n):
        return self._read(n, None)

    def recv_into(self, buffer):
        return self._read(len(buffer), buffer)

    def send(self, data):
        """Encrypts all of `data` and sends it before returning."""
        if self.notified:
            raise BrokenPipeError("send after close_notify")
        written = self.tls.write(data)
        self._flush()
        return written

    def close_notify(self):
        """Sends our close_notify (once), without waiting for the client's."""
        if self.notified:
            return
        self.notified = True
        try:
            self.tls.unwrap()
        except ssl.SSLError:
            pass  # SSLWantReadError: ours is out, theirs is not awaited
        try:
            self._flush()
        except OSError:
            pass  # the client has gone already

    def shutdown(self, how):
        if how in (socket.SHUT_WR, socket.SHUT_RDWR):
            self.close_notify()
        self.raw.shutdown(how)


def make_tls_context(cert, key, client_ca=None, max_version=None):
    """The server's TLS settings: TLS 1.2 or later, ALPN http/1.1, and with
    `client_ca` a client certificate from that CA required. `max_version`
    ("1.0" ... "1.3") caps the version; below 1.2 the minimum drops too and
    OpenSSL's security level goes to 0, which TLS 1.0/1.1 need."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if max_version is not None:
        top = TLS_VERSIONS[max_version]
        with warnings.catch_warnings():
            # Python deprecates the old versions; offering them is the point.
            warnings.simplefilter("ignore", DeprecationWarning)
            if top < ssl.TLSVersion.TLSv1_2:
                context.set_ciphers("DEFAULT:@SECLEVEL=0")
                context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = top
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=client_ca)
    return context


TLS_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


class Connection:
    """One accepted TCP connection and its requests, served in one thread."""

    def __init__(self, server, sock, conn_id, raw=None):
        self.server = server
        self.sock = sock  # the socket, or a TlsStream over `raw`
        self.raw = raw if raw is not None else sock  # the TCP socket
        self.id = conn_id
        self.buf = bytearray()  # received but not yet consumed
        self.requests = 0
        self.close_next = False  # set by close_next=1
        self.idle_deadline = None  # set by idle_close_ms=T
        self.recv_area = None  # body receive buffer, made when first needed
        self.current = None  # the request being served, once parsed

    # ---- low-level I/O, every wait bounded by POLL to notice a stop ----

    def check_stop(self):
        if self.server.stopping.is_set():
            raise Stopping()

    def recv_some(self, deadline=None):
        """Up to RECV_SIZE bytes, b"" at end of stream. Raises PeerGone when
        `deadline` (time.monotonic) passes first."""
        while True:
            self.check_stop()
            try:
                return self.sock.recv(RECV_SIZE)
            except TimeoutError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise PeerGone()

    def send_all(self, data):
        view = memoryview(data).cast("B")
        while view:
            self.check_stop()
            try:
                sent = self.sock.send(view[:SEND_SLICE])
            except TimeoutError:
                continue  # nothing was sent; the peer is slow to read
            view = view[sent:]

    def read_head(self):
        """The next request head (bytes), or None if the client closed the
        connection cleanly between requests."""
        start = 0
        while True:
            end = self.buf.find(b"\r\n\r\n", start)
            if end >= 0:
                end += 4
                if end > MAX_HEAD:
                    raise BadRequest(431, "request head too large")
                raw = bytes(self.buf[:end])
                del self.buf[:end]
                return raw
            if len(self.buf) > MAX_HEAD:
                raise BadRequest(431, "request head too large")
            start = max(0, len(self.buf) - 3)
            deadline = self.idle_deadline if not self.buf else None
            try:
                data = self.recv_some(deadline)
            except PeerGone:
                return None  # idle_close_ms elapsed with nothing received
            if not data:
                if self.buf:
                    raise PeerGone()  # closed in the middle of a head
                return None
            self.buf += data

    def read_line(self):
        """A CRLF-terminated line of the request body framing, without CRLF."""
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buf[:end])
                del self.buf[:end + 2]
                return line
            if len(self.buf) > MAX_LINE:
                raise BadRequest(400, "request body line too long")
            data = self.recv_some()
            if not data:
                raise PeerGone()
            self.buf += data

    def read_exact(self, n, sink):
        """Passes the next n bytes to sink (as memoryviews), streaming."""
        if self.buf:
            take = min(n, len(self.buf))
            sink(memoryview(self.buf)[:take])
            del self.buf[:take]
            n -= take
        if self.recv_area is None:
            self.recv_area = bytearray(RECV_SIZE)
        area = memoryview(self.recv_area)
        while n > 0:
            self.check_stop()
            try:
                got = self.sock.recv_into(area[:min(n, RECV_SIZE)])
            except TimeoutError:
                continue
            if got == 0:
                raise PeerGone()
            sink(area[:got])
            n -= got

    def read_chunked(self, sink):
        """Decodes a chunked request body into sink, trailers discarded."""
        while True:
            line = self.read_line()
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadRequest(400, "bad chunk size")
            if size_text.startswith((b"-", b"+", b"0x", b"0X")) or size < 0:
                raise BadRequest(400, "bad chunk size")
            if size == 0:
                break
            self.read_exact(size, sink)
            if self.read_line() != b"":
                raise BadRequest(400, "chunk data not followed by CRLF")
        while self.read_line() != b"":
            pass  # trailer fields

    def read_body(self, req, sink, send_continue=True):
        """Reads the request's body (Content-Length, chunked or none),
        first answering Expect: 100-continue unless `send_continue` is
        false (the route has answered it, or never will)."""
        te = req.tokens("transfer-encoding")
        lengths = [v for k, v in req.headers if k == "content-length"]
        if te:
            if te[-1] != "chunked" or lengths:
                raise BadRequest(400, "unsupported transfer coding")
            if send_continue:
                self.maybe_continue(req)
            self.read_chunked(sink)
            return
        if not lengths:
            return
        values = {v.strip() for text in lengths for v in text.split(",")}
        if len(values) != 1:
            raise BadRequest(400, "conflicting Content-Length")
        value = values.pop()
        if not value.isdigit() or not value.isascii():
            raise BadRequest(400, "bad Content-Length")
        length = int(value)
        if length:
            if send_continue:
                self.maybe_continue(req)
            self.read_exact(length, sink)

    def maybe_continue(self, req):
        expect = req.tokens("expect")
        if req.version == "HTTP/1.1" and "100-continue" in expect:
            self.send_all(b"HTTP/1.1 100 Continue\r\n\r\n")

    def linger_and_close(self, seconds):
        """Half-closes, then reads and drops what the client still sends for
        a while, so it sees our answer and a FIN rather than a reset."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if not self.recv_some(deadline):
                    return
            except PeerGone:
                return

    def stall(self):
        """Sends nothing until the client closes or the server stops."""
        while self.recv_some():
            pass

    def stall_unread(self):
        """Sends nothing and reads nothing, so that what the client writes
        backs up in its socket, until the client hangs up or the server
        stops."""
        poller = select.poll()
        poller.register(self.raw, select.POLLRDHUP | select.POLLHUP |
                        select.POLLERR)
        while not self.server.stopping.is_set():
            if poller.poll(50):
                return

    def hang_up(self):
        """Ends the connection on the TCP level only: a FIN after what was
        sent, no TLS close_notify. Drains what the client still sends for a
        while (so that our close is a FIN, not a reset that could destroy
        data in flight), then raises HangUp."""
        try:
            self.raw.shutdown(socket.SHUT_WR)
        except OSError:
            raise HangUp()
        deadline = time.monotonic() + LINGER_S
        while time.monotonic() < deadline and \
                not self.server.stopping.is_set():
            try:
                if not self.raw.recv(RECV_SIZE):
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        raise HangUp()

    # ---- responses ----

    def head_bytes(self, req, status, headers, close):
        lines = ["HTTP/1.1 %d %s" % (status, reason_phrase(status))]
        lines += ["%s: %s" % pair for pair in headers]
        lines.append("X-Conn-Id: %d" % self.id)
        lines.append("X-Req-On-Conn: %d" % self.requests)
        if close:
            lines.append("Connection: close")
        elif req is not None and req.version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1")

    def respond(self, req, status, body=b"", headers=(), close=False,
                content_type="text/plain"):
        """A complete response with Content-Length (none for 1xx/204/304)."""
        headers = list(headers)
        if content_type and status not in (204, 304):
            headers.insert(0, ("Content-Type", content_type))
        if status in (204, 304):
            body = b""
        else:
            headers.append(("Content-Length", str(len(body))))
        writer = Writer(self)
        writer.write(self.head_bytes(req, status, headers, close))
        if req is None or req.method != "HEAD":
            writer.write(body)
        writer.flush()
        return close

    # ---- the request loop ----

    def serve(self):
        while True:
            self.current = None
            try:
                if not self.serve_one():
                    return
            except BadRequest as err:
                self.respond(self.current, err.status,
                             (err.why + "\n").encode(), close=True)
                self.linger_and_close(0.5)
                return

    def serve_one(self):
        """Reads and answers one request; False when the connection ends."""
        raw = self.read_head()
        if raw is None:
            return False
        self.idle_deadline = None
        self.requests += 1
        try:
            req = parse_head(raw)
        except BadRequest:
            self.server.log(self.id, "-", "-")
            raise
        self.current = req
        self.server.log(self.id, req.method, req.target, req.headers)
        if self.close_next:
            # close_next=1 on the previous request: swallow this one and
            # hang up without a word.
            self.read_body(req, lambda data: None)
            return False
        close = self.dispatch(req)
        return not (close or req.wants_close())

    def dispatch(self, req):
        """Serves one request; returns True if the connection must close."""
        path = req.path
        close = req.wants_close()
        if path == "/upload":
            return self.route_upload(req, close)
        # These read the request body themselves.
        if path == "/inspect":
            return self.respond_inspect(req, close)
        if path.startswith("/chain/"):
            return self.route_chain(req, path[len("/chain/"):], close)
        if path.startswith("/expect/"):
            return self.route_expect(req, path[len("/expect/"):], close)
        if path.startswith("/redirect/") and req.query.get("early") == "1":
            return self.route_redirect(req, path[len("/redirect/"):], close,
                                       early=True)
        if path == "/stall" and req.query.get("read") == "0":
            # The body is asked for (100 Continue) and left unread.
            self.maybe_continue(req)
            return self.route_stall(req)
        # Every other route reads the request body fully, then answers.
        self.read_body(req, lambda data: None)
        if path == "/":
            return self.respond(req, 200, ROUTES_TEXT, close=close)
        if path.startswith("/bytes/"):
            return self.route_bytes(req, path[len("/bytes/"):], close)
        if path.startswith("/status/"):
            return self.route_status(req, path[len("/status/"):], close)
        if path == "/echo":
            return self.respond(req, 200, req.raw, close=close)
        if path == "/stall":
            return self.route_stall(req)
        if path.startswith("/slow/"):
            return self.route_slow(req, path[len("/slow/"):], close)
        if path.startswith("/raw/"):
            return self.route_raw(req, path[len("/raw/"):])
        if path.startswith("/truncate/"):
            return self.route_truncate(req, path[len("/truncate/"):], True)
        if path.startswith("/truncate-close/"):
            return self.route_truncate(req, path[len("/truncate-close/"):],
                                       False)
        if path.startswith("/reset/"):
            return self.route_reset(req, path[len("/reset/"):])
        if path.startswith("/endless/"):
            return self.route_endless(req, path[len("/endless/"):])
        if path.startswith("/many-headers/"):
            return self.route_many_headers(req,
                                           path[len("/many-headers/"):])
        if path.startswith("/head-size/"):
            return self.route_head_size(req, path[len("/head-size/"):])
        if path.startswith("/interim/"):
            return self.route_interim(req, path[len("/interim/"):], close)
        if path.startswith("/overlong/"):
            return self.route_overlong(req, path[len("/overlong/"):], close)
        if path.startswith("/redirect/"):
            return self.route_redirect(req, path[len("/redirect/"):], close)
        if path.startswith("/loop/"):
            return self.route_loop(req, path[len("/loop/"):], close)
        if path == "/cookies/set":
            return self.respond(req, 200, b"cookies set\n", close=close,
                                headers=set_cookie_fields(req))
        if path == "/cookies/echo":
            return self.route_cookies_echo(req, close)
        if path == "/auth/basic":
            return self.route_auth_basic(req, close)
        if path.startswith("/gzip/"):
            return self.route_encoded(req, path[len("/gzip/"):], "gzip",
                                      close)
        if path.startswith("/deflate/"):
            fmt = "raw" if req.query.get("raw") == "1" else "zlib"
            return self.route_encoded(req, path[len("/deflate/"):], fmt,
                                      close)
        if path.startswith("/gzip-corrupt/"):
            return self.route_gzip_corrupt(req, path[len("/gzip-corrupt/"):],
                                           close)
        if path.startswith("/gzip-truncated/"):
            return self.route_gzip_truncated(
                req, path[len("/gzip-truncated/"):], close)
        if path == "/early-hints":
            return self.route_early_hints(req, close)
        return self.respond(req, 404, b"not found: " +
                            path.encode("iso-8859-1") + b"\n", close=close)

    def require(self, req, *methods):
        if req.method not in methods:
            self.respond(req, 405, b"method not allowed\n",
                         headers=[("Allow", ", ".join(methods))], close=True)
            return False
        return True

    def route_bytes(self, req, size_text, close):
        if not self.require(req, "GET", "HEAD"):
            return True
        n = parse_size(size_text)
        seed = req.int_param("seed", bodies.DEFAULT_SEED)
        chunk = req.int_param("chunk", 65536, minimum=1)
        framing = req.query.get("framing", "length") or "length"
        reset_after = req.int_param("reset_after", -1, minimum=-1)
        idle_ms = req.int_param("idle_close_ms", -1, minimum=-1)
        headers = [("X-Body-Sha256", bodies.body_sha256(n, seed))]
        if framing == "length":
            headers.append(("Content-Length", str(n)))
        elif framing == "chunked":
            headers.append(("Transfer-Encoding", "chunked"))
        elif framing == "close":
            close = True
        else:
            raise BadRequest(400, "framing must be length, chunked or close")
        writer = Writer(self)
        writer.write(self.head_bytes(
            req, 200, [("Content-Type", "application/octet-stream")] + headers,
            close))
        if reset_after >= 0:
            writer.flush()
            writer = Writer(self, limit=reset_after)
            if reset_after == 0:
                raise ResetNow()
        if req.method != "HEAD":
            if framing == "chunked":
                for start in range(0, n, chunk):
                    size = min(chunk, n - start)
                    writer.write(b"%x\r\n" % size)
                    for view in bodies.body_range_views(start, size, seed):
                        writer.write(view)
                    writer.write(b"\r\n")
                writer.write(b"0\r\n\r\n")
            else:
                for view in bodies.body_views(n, seed):
                    writer.write(view)
        writer.flush()
        if reset_after >= 0:
            raise ResetNow()  # the whole response was shorter than K
        if req.query.get("close_next") == "1":
            self.close_next = True
        if idle_ms >= 0:
            self.idle_deadline = time.monotonic() + idle_ms / 1000.0
        return close

    def route_upload(self, req, close):
        if not self.require(req, "POST", "PUT"):
            return True
        if req.query.get("respond_early") == "1":
            self.respond(req, 413, b"too large\n", close=True)
            self.linger_and_close(LINGER_S)
            return True
        digest = hashlib.sha256()
        count = [0]

        def sink(data):
            digest.update(data)
            count[0] += len(data)

        self.read_body(req, sink)
        hexdigest = digest.hexdigest()
        body = ("%s %d\n" % (hexdigest, count[0])).encode()
        return self.respond(req, 200, body, close=close, headers=[
            ("X-Received-Sha256", hexdigest),
            ("X-Received-Length", str(count[0]))])

    def route_status(self, req, code_text, close):
        if not (code_text.isdigit() and code_text.isascii()) or \
                not 200 <= int(code_text) <= 599:
            raise BadRequest(400, "status code must be 200..599")
        code = int(code_text)
        return self.respond(req, code, b"status %d\n" % code, close=close)

    def route_stall(self, req):
        after = req.query.get("after", "none") or "none"
        length = req.int_param("length", 1000000)
        count = min(req.int_param("bytes", 1000), length)
        if after not in ("none", "headers", "body"):
            raise BadRequest(400, "after must be none, headers or body")
        if after != "none":
            writer = Writer(self)
            writer.write(self.head_bytes(req, 200, [
                ("Content-Type", "application/octet-stream"),
                ("X-Body-Sha256", bodies.body_sha256(length, 1)),
                ("Content-Length", str(length))], False))
            if after == "body":
                for view in bodies.body_views(count, 1):
                    writer.write(view)
            writer.flush()
        if req.query.get("read") == "0":
            self.stall_unread()
        else:
            self.stall()
        return True

    def route_slow(self, req, size_text, close):
        n = parse_size(size_text)
        delay = req.int_param("delay_ms", 50) / 1000.0
        piece = req.int_param("piece", 1024, minimum=1)
        self.send_all(self.head_bytes(req, 200, [
            ("Content-Type", "application/octet-stream"),
            ("X-Body-Sha256", bodies.body_sha256(n, 1)),
            ("Content-Length", str(n))], close))
        if req.method == "HEAD":
            return close
        first = True
        for start in range(0, n, piece):
            if not first and self.server.stopping.wait(delay):
                raise Stopping()
            first = False
            size = min(piece, n - start)
            for view in bodies.body_range_views(start, size, 1):
                self.send_all(view)
        return close

    def route_truncate(self, req, size_text, with_length):
        """A 200 for body(n, 1) cut after K bytes by a TCP close without a
        TLS close_notify: announced with Content-Length n, or (with_length
        false) close-delimited, whose end over TLS is then untrustworthy."""
        if not self.require(req, "GET"):
            return True
        n = parse_size(size_text)
        after = min(req.int_param("after", n // 2), n)
        headers = [("Content-Type", "application/octet-stream"),
                   ("X-Body-Sha256", bodies.body_sha256(n, 1))]
        if with_length:
            headers.append(("Content-Length", str(n)))
        writer = Writer(self)
        writer.write(self.head_bytes(req, 200, headers, not with_length))
        for view in bodies.body_views(after, 1):
            writer.write(view)
        writer.flush()
        self.hang_up()

    def route_raw(self, req, name):
        reply = RAW_REPLIES.get(name)
        if reply is None:
            return self.respond(req, 404, b"no such raw reply\n", close=True)
        self.send_all(reply)
        return True

    def route_reset(self, req, name):
        """The first K bytes of /raw/<name>'s reply, then a reset (RST)."""
        reply = RAW_REPLIES.get(name)
        if reply is None:
            return self.respond(req, 404, b"no such raw reply\n", close=True)
        after = min(req.int_param("after", 0), len(reply))
        if after:
            self.send_all(reply[:after])
        raise ResetNow()

    def route_endless(self, req, part):
        """A response that never ends: header lines, trailer lines or 1xx
        heads, sent as fast as the client reads them, until it closes."""
        if part == "headers":
            start = b"HTTP/1.1 200 OK\r\n"
            line = b"X-Endless-%08d: more\r\n"
        elif part == "trailers":
            start = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                     b"\r\n5\r\nhello\r\n0\r\n")
            line = b"X-Trailer-%08d: more\r\n"
        elif part == "interim":
            start = b""
            line = b"HTTP/1.1 102 Processing\r\nX-Count: %d\r\n\r\n"
        else:
            raise BadRequest(400, "endless part must be headers, trailers "
                             "or interim")
        self.send_all(start)
        count = 0
        while True:
            piece = bytearray()
            while len(piece) < ENDLESS_PIECE:
                piece += line % count
                count += 1
            self.send_all(piece)

    def route_many_headers(self, req, count_text):
        """A 200 with exactly `count` header fields, the last of them
        Content-Length: 5, and the body hello; then a close."""
        count = parse_size(count_text)
        if count < 1:
            raise BadRequest(400, "count must be at least 1")
        writer = Writer(self)
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for i in range(count - 1):
            writer.write(b"H%d: x\r\n" % i)
        writer.write(b"Content-Length: 5\r\n\r\nhello")
        writer.flush()
        return True

    def route_head_size(self, req, size_text):
        """A 200 whose head (status line through the empty line) is exactly
        n bytes, padded with one X-Pad field; body hello; then a close."""
        n = parse_size(size_text)
        fixed = (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Pad: \r\n"
                 b"\r\n")
        if n < len(fixed):
            raise BadRequest(400, "a head is at least %d bytes" % len(fixed))
        pad = b"p" * (n - len(fixed))
        self.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Pad: " +
                      pad + b"\r\n\r\nhello")
        return True

    def route_interim(self, req, count_text, close):
        """`count` 1xx heads (code C, default 102), then a 200 with the body
        `hello`, in one stream."""
        count = parse_size(count_text)
        code = req.int_param("code", 102)
        if not 100 <= code <= 199 or code == 101:
            raise BadRequest(400, "code must be 1xx other than 101")
        interim = ("HTTP/1.1 %d %s\r\n\r\n" % (
            code, reason_phrase(code))).encode("iso-8859-1")
        writer = Writer(self)
        for _ in range(count):
            writer.write(interim)
        writer.flush()
        return self.respond(req, 200, b"hello", close=close)

    def route_overlong(self, req, size_text, close):
        """A keep-alive 200 with Content-Length n, whose body is followed in
        the same write by a complete second response (SMUGGLED) that no
        request asked for. With pause_ms=T the head goes out alone and the
        body T ms later. The connection then stays open as usual."""
        if not self.require(req, "GET"):
            return True
        n = parse_size(size_text)
        pause = req.int_param("pause_ms", 0) / 1000.0
        self.send_all(self.head_bytes(req, 200, [
            ("Content-Type", "application/octet-stream"),
            ("X-Body-Sha256", bodies.body_sha256(n, 1)),
            ("Content-Length", str(n))], close))
        if pause > 0 and self.server.stopping.wait(pause):
            raise Stopping()
        self.send_all(bodies.body(n, 1) + SMUGGLED)
        return close

    # ---- redirects, cookies, authentication (issue 5) ----

    def respond_framed(self, req, status, headers, data, framing, close,
                       chunk=65536):
        """A response whose body `data` is framed by Content-Length
        (framing "length"), chunks of `chunk` bytes ("chunked") or the
        connection's close ("close"). Returns whether to close."""
        headers = list(headers)
        if framing == "length":
            headers.append(("Content-Length", str(len(data))))
        elif framing == "chunked":
            headers.append(("Transfer-Encoding", "chunked"))
        elif framing == "close":
            close = True
        else:
            raise BadRequest(400, "framing must be length, chunked or close")
        writer = Writer(self)
        writer.write(self.head_bytes(req, status, headers, close))
        if req.method != "HEAD":
            view = memoryview(data).cast("B")
            if framing == "chunked":
                for start in range(0, len(view), chunk):
                    piece = view[start:start + chunk]
                    writer.write(b"%x\r\n" % len(piece))
                    writer.write(piece)
                    writer.write(b"\r\n")
                writer.write(b"0\r\n\r\n")
            else:
                writer.write(view)
        writer.flush()
        return close

    def respond_inspect(self, req, close, send_continue=True, extra=()):
        """Reads the body and answers 200 with what the request was: lines
        `method M`, `target T`, `length N`, `sha256 H` of the body, then
        `<name> <value>` for each Authorization, Cookie, Accept-Encoding,
        Expect and Content-Type field; headers X-Method,
        X-Received-Length and X-Received-Sha256 say the same."""
        digest = hashlib.sha256()
        count = [0]

        def sink(data):
            digest.update(data)
            count[0] += len(data)

        self.read_body(req, sink, send_continue)
        lines = ["method %s" % req.method, "target %s" % req.target,
                 "length %d" % count[0], "sha256 %s" % digest.hexdigest()]
        for name in INSPECTED:
            lines += ["%s %s" % (name, value) for key, value in req.headers
                      if key == name]
        body = ("\n".join(lines) + "\n").encode("iso-8859-1")
        return self.respond(req, 200, body, close=close, headers=[
            ("X-Method", req.method),
            ("X-Received-Length", str(count[0])),
            ("X-Received-Sha256", digest.hexdigest())] + list(extra))

    def route_redirect(self, req, code_text, close, early=False):
        """A 3xx with Location `to` (none without it), a Set-Cookie per
        `c`, and the body `redirect <code>\\n` (or body(size, 1)) framed
        by `framing`. With `early` (early=1) it answers right after the
        head, without 100 Continue or reading the body, and closes as
        /upload?respond_early=1 does."""
        code = parse_size(code_text)
        if not 300 <= code <= 399:
            raise BadRequest(400, "redirect code must be 300..399")
        headers = []
        to = req.query.get("to")
        if to is not None:
            check_field_value(to)
            headers.append(("Location", to))
        headers += set_cookie_fields(req)
        size = req.int_param("size", -1, minimum=-1)
        data = (b"redirect %d\n" % code) if size < 0 else bodies.body(size, 1)
        framing = req.query.get("framing", "length") or "length"
        if early:
            self.respond_framed(req, code, headers, data, framing, True)
            self.linger_and_close(LINGER_S)
            return True
        return self.respond_framed(req, code, headers, data, framing, close)

    def route_chain(self, req, n_text, close):
        """n redirects with status `code` (default 302), /chain/<n> to
        /chain/<n-1> with the same query, then /chain/0 answers as
        /inspect. `style` is how Location is written: "path" (default,
        /chain/<n-1>?...), "url" (absolute, from the Host field) or
        "relative" (<n-1>?...)."""
        n = parse_size(n_text)
        if n == 0:
            return self.respond_inspect(req, close)
        code = req.int_param("code", 302)
        if code not in REDIRECT_CODES:
            raise BadRequest(400, "code must be one of 301 302 303 307 308")
        style = req.query.get("style", "path") or "path"
        self.read_body(req, lambda data: None)
        rest = "%d" % (n - 1)
        if req.query_string:
            rest += "?" + req.query_string
        if style == "path":
            location = "/chain/" + rest
        elif style == "url":
            location = "http://%s/chain/%s" % (req.header("host"), rest)
        elif style == "relative":
            location = rest
        else:
            raise BadRequest(400, "style must be path, url or relative")
        return self.respond(req, code, b"chain %d\n" % n, close=close,
                            headers=[("Location", location)])

    def route_loop(self, req, name, close):
        """/loop/a redirects to /loop/b and /loop/b to /loop/a, for ever."""
        if name not in ("a", "b"):
            raise BadRequest(400, "loop name must be a or b")
        code = req.int_param("code", 302)
        if code not in REDIRECT_CODES:
            raise BadRequest(400, "code must be one of 301 302 303 307 308")
        location = "/loop/%s" % ("b" if name == "a" else "a")
        if req.query_string:
            location += "?" + req.query_string
        return self.respond(req, code, b"loop\n", close=close,
                            headers=[("Location", location)])

    def route_cookies_echo(self, req, close):
        """The value of each Cookie field, a line each; X-Cookie-Fields
        counts them."""
        values = [value for key, value in req.headers if key == "cookie"]
        body = "".join(value + "\n" for value in values)
        return self.respond(req, 200, body.encode("iso-8859-1"), close=close,
                            headers=[("X-Cookie-Fields", str(len(values)))])

    def route_auth_basic(self, req, close):
        """200 if the request's Authorization is exactly Basic
        base64(user:pass) (defaults "user", "pass"), else 401 with a
        WWW-Authenticate challenge."""
        user = req.query.get("user", "user")
        password = req.query.get("pass", "pass")
        pair = ("%s:%s" % (user, password)).encode("iso-8859-1")
        want = "Basic " + base64.b64encode(pair).decode("ascii")
        if req.header("authorization") == want:
            return self.respond(req, 200, b"authenticated %s\n" %
                                user.encode("iso-8859-1"), close=close)
        return self.respond(req, 401, b"unauthorized\n", close=close,
                            headers=[("WWW-Authenticate",
                                      'Basic realm="ahttp-test"')])

    # ---- content codings (issue 5) ----

    def encoded_parts(self, req, size_text, fmt):
        """(decoded body, encoded body) for the /gzip and /deflate
        routes."""
        n = parse_size(size_text)
        content = req.query.get("content", "text") or "text"
        if content == "text":
            plain = text_body(n)
        elif content == "random":
            plain = bodies.body(n, req.int_param("seed", bodies.DEFAULT_SEED))
        else:
            raise BadRequest(400, "content must be text or random")
        level = req.int_param("level", 6)
        if level > 9:
            raise BadRequest(400, "level must be 0..9")
        return plain, encode(plain, fmt, level)

    def respond_encoded(self, req, plain, encoded, coding, close):
        framing = req.query.get("framing", "length") or "length"
        headers = [("Content-Type", "application/octet-stream"),
                   ("Content-Encoding", coding),
                   ("X-Body-Sha256", hashlib.sha256(plain).hexdigest()),
                   ("X-Body-Length", str(len(plain))),
                   ("X-Encoded-Sha256", hashlib.sha256(encoded).hexdigest()),
                   ("X-Encoded-Length", str(len(encoded)))]
        chunk = req.int_param("chunk", 65536, minimum=1)
        return self.respond_framed(req, 200, headers, encoded, framing,
                                   close, chunk)

    def route_encoded(self, req, size_text, fmt, close):
        """A body encoded as gzip, zlib or raw deflate, with
        Content-Encoding gzip or deflate (or `coding`)."""
        if not self.require(req, "GET", "HEAD"):
            return True
        plain, encoded = self.encoded_parts(req, size_text, fmt)
        coding = req.query.get("coding") or \
            ("gzip" if fmt == "gzip" else "deflate")
        check_field_value(coding)
        return self.respond_encoded(req, plain, encoded, coding, close)

    def route_gzip_corrupt(self, req, size_text, close):
        """A gzip (or zlib) stream damaged at `where`: header (a bad magic
        or zlib header byte), data (a byte in the middle inverted), crc
        (the checksum trailer inverted) or garbage (not compressed at all)."""
        if not self.require(req, "GET"):
            return True
        fmt = req.query.get("format", "gzip") or "gzip"
        if fmt not in ("gzip", "zlib"):
            raise BadRequest(400, "format must be gzip or zlib")
        plain, encoded = self.encoded_parts(req, size_text, fmt)
        where = req.query.get("where", "data") or "data"
        damaged = bytearray(encoded)
        if where == "header":
            damaged[0] ^= 0xFF
        elif where == "data":
            damaged[len(damaged) // 2] ^= 0xFF
        elif where == "crc":
            # gzip: CRC-32 then ISIZE; zlib: Adler-32 last.
            at = len(damaged) - (8 if fmt == "gzip" else 4)
            damaged[at] ^= 0xFF
        elif where == "garbage":
            damaged = bytearray(b"this is not compressed data\n" * 40)
        else:
            raise BadRequest(400, "where must be header, data, crc or garbage")
        coding = "gzip" if fmt == "gzip" else "deflate"
        return self.respond_encoded(req, plain, bytes(damaged), coding, close)

    def route_gzip_truncated(self, req, size_text, close):
        """A gzip, zlib or raw deflate stream cut after `keep` bytes
        (default half), correctly framed as that many bytes."""
        if not self.require(req, "GET"):
            return True
        fmt = req.query.get("format", "gzip") or "gzip"
        if fmt not in ("gzip", "zlib", "raw"):
            raise BadRequest(400, "format must be gzip, zlib or raw")
        plain, encoded = self.encoded_parts(req, size_text, fmt)
        keep = min(req.int_param("keep", len(encoded) // 2), len(encoded))
        coding = "gzip" if fmt == "gzip" else "deflate"
        return self.respond_encoded(req, plain, encoded[:keep], coding, close)

    # ---- 1xx and Expect: 100-continue (issue 5) ----

    def send_interim(self, code, headers=()):
        lines = ["HTTP/1.1 %d %s" % (code, reason_phrase(code))]
        lines += ["%s: %s" % pair for pair in headers]
        self.send_all(("\r\n".join(lines) + "\r\n\r\n").encode(
            "iso-8859-1"))

    def route_early_hints(self, req, close):
        """The interim responses listed in `codes` (default 103; 103 ones
        carry a Link field), then a 200 with the body hello."""
        text = req.query.get("codes", "103") or "103"
        codes = []
        for item in text.split(","):
            if not item.isdigit() or not 100 <= int(item) <= 199 or \
                    int(item) == 101:
                raise BadRequest(400, "codes must be 1xx other than 101")
            codes.append(int(item))
        for code in codes:
            self.send_interim(code, EARLY_HINT_LINK if code == 103 else ())
        return self.respond(req, 200, b"hello", close=close)

    def route_expect(self, req, mode, close):
        if not self.require(req, "POST", "PUT"):
            return True
        expect = req.header("expect") or "-"
        asked = req.version == "HTTP/1.1" and \
            "100-continue" in req.tokens("expect")
        if mode == "100":
            # 100 Continue (after delay_ms), [103], then the body.
            delay = req.int_param("delay_ms", 0) / 1000.0
            if asked and delay > 0 and self.server.stopping.wait(delay):
                raise Stopping()
            if asked:
                self.send_interim(100)
            if req.query.get("hints") == "1":
                self.send_interim(103, EARLY_HINT_LINK)
            return self.respond_inspect(req, close, False, [
                ("X-Expect", expect), ("X-Continue-Sent", "1" if asked
                                       else "0")])
        if mode == "none":
            return self.expect_none(req, expect, close)
        if mode == "reject":
            return self.expect_reject(req, expect, close)
        raise BadRequest(400, "expect mode must be 100, none or reject")

    def expect_none(self, req, expect, close):
        """Never 100: waits for the body, and says in X-Waited-Ms how long
        after the head its first byte came."""
        start = time.monotonic()
        first = []
        digest = hashlib.sha256()
        count = [0]

        def sink(data):
            if not first and len(data):
                first.append(time.monotonic())
            digest.update(data)
            count[0] += len(data)

        self.read_body(req, sink, send_continue=False)
        waited = int(((first[0] if first else start) - start) * 1000)
        body = ("%s %d\n" % (digest.hexdigest(), count[0])).encode()
        return self.respond(req, 200, body, close=close, headers=[
            ("X-Received-Sha256", digest.hexdigest()),
            ("X-Received-Length", str(count[0])),
            ("X-Expect", expect), ("X-Waited-Ms", str(waited))])

    def expect_reject(self, req, expect, close):
        """Watches for `wait_ms` (default 200) whether body bytes come,
        then answers `code` (417 by default; 401 with a challenge) without
        reading the body: X-Early-Body-Bytes counts what came meanwhile.
        Then closes (Connection: close), unless keep=1: then the
        connection stays open and the next bytes are read as a request."""
        code = req.int_param("code", 417)
        if not 400 <= code <= 599:
            raise BadRequest(400, "code must be 400..599")
        deadline = time.monotonic() + req.int_param("wait_ms", 200) / 1000.0
        early = len(self.buf)
        while time.monotonic() < deadline:
            try:
                data = self.recv_some(deadline)
            except PeerGone:
                break
            if not data:
                break
            early += len(data)
        headers = [("X-Expect", expect), ("X-Early-Body-Bytes", str(early))]
        if code == 401:
            headers.append(("WWW-Authenticate", 'Basic realm="ahttp-test"'))
        keep = req.query.get("keep") == "1"
        self.respond(req, code, b"rejected\n", headers=headers,
                     close=not keep or close)
        if keep and not close:
            self.buf.clear()  # whatever came is not a request
            return False
        self.linger_and_close(LINGER_S)
        return True


def reset(sock):
    """Lets what was sent reach the peer, then closes with a RST."""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        try:
            unsent = struct.unpack("i", fcntl.ioctl(
                sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
        except (OSError, AttributeError):
            time.sleep(0.1)  # no way to ask: give it a moment
            break
        if unsent == 0:
            break
        time.sleep(0.005)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))


# Fields /inspect lists from the request head.
INSPECTED = ("authorization", "cookie", "accept-encoding", "expect",
             "content-type")
REDIRECT_CODES = (301, 302, 303, 307, 308)
EARLY_HINT_LINK = [("Link", "</style.css>; rel=preload; as=style")]
_text_lock = threading.Lock()
_text_cache = {}


def text_body(n):
    """n bytes of numbered lines of text: a compressible body."""
    with _text_lock:
        data = _text_cache.get(n)
        if data is None:
            parts = []
            size = 0
            line = 0
            while size < n:
                piece = b"%08d the quick brown fox jumps over the lazy dog\n" \
                    % line
                parts.append(piece)
                size += len(piece)
                line += 1
            data = b"".join(parts)[:n]
            if len(_text_cache) > 32:
                _text_cache.clear()
            _text_cache[n] = data
        return data


def encode(data, fmt, level=6):
    """`data` compressed as gzip (RFC 1952; mtime 0 so the bytes are
    always the same), zlib (RFC 1950) or raw deflate (RFC 1951)."""
    if fmt == "gzip":
        return gzip.compress(data, compresslevel=level, mtime=0)
    if fmt == "zlib":
        return zlib.compress(data, level)
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush()


def check_field_value(text):
    if any(c in text for c in "\r\n\0"):
        raise BadRequest(400, "a header value may not hold CR, LF or NUL")


def set_cookie_fields(req):
    """A Set-Cookie field for each `c` parameter."""
    fields = []
    for value in req.query_all.get("c", []):
        check_field_value(value)
        fields.append(("Set-Cookie", value))
    return fields


def parse_size(text):
    if not text.isdigit() or not text.isascii():
        raise BadRequest(400, "size must be a non-negative decimal number")
    return int(text)


class Server:
    def __init__(self, port, log_path, tls_context=None):
        self.stopping = threading.Event()
        self.tls_context = tls_context  # None: plain HTTP
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.active = {}  # socket -> thread
        self.next_id = 1
        self.log_file = open(log_path, "a") if log_path else None
        # Beside the request log, the same lines with every header field.
        self.header_log_file = (open(log_path + ".headers", "a")
                                if log_path else None)

    def log(self, conn_id, method, target, headers=()):
        if self.log_file is None:
            return
        line = "%d %s %s" % (conn_id, method, target)
        fields = "".join("\t%s: %s" % pair for pair in headers)
        with self.lock:
            # The header line first: a test that saw the request line may
            # read the headers at once.
            self.header_log_file.write(line + fields + "\n")
            self.header_log_file.flush()
            self.log_file.write(line + "\n")
            self.log_file.flush()

    def run(self):
        while not self.stopping.is_set():
            try:
                ready, _, _ = select.select([self.listener], [], [], POLL)
            except InterruptedError:
                continue
            if not ready or self.stopping.is_set():
                continue
            try:
                sock, _ = self.listener.accept()
            except OSError:
                time.sleep(0.01)  # aborted before accept, or out of fds
                continue
            with self.lock:
                conn_id = self.next_id
                self.next_id += 1
                thread = threading.Thread(target=self.serve_connection,
                                          args=(sock, conn_id), daemon=True)
                self.active[sock] = thread
            thread.start()
        self.shutdown()

    def serve_connection(self, sock, conn_id):
        try:
            sock.settimeout(POLL)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls_context is None:
                Connection(self, sock, conn_id).serve()
            else:
                stream = TlsStream(sock, self.tls_context, self.stopping)
                stream.handshake(HANDSHAKE_S)
                Connection(self, stream, conn_id, sock).serve()
                # A clean end: the body of a close-delimited response is
                # complete only with this.
                stream.close_notify()
        except ResetNow:
            reset(sock)
        except HangUp:
            pass
        except QUIET_ERRORS:
            pass
        except OSError:
            if not self.stopping.is_set():
                traceback.print_exc()
        except Exception:  # a server bug: say so, keep serving others
            traceback.print_exc()
        finally:
            with self.lock:
                self.active.pop(sock, None)
            try:
                sock.close()
            except OSError:
                pass

    def shutdown(self):
        self.listener.close()
        with self.lock:
            items = list(self.active.items())
        for sock, _ in items:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + 0.5
        for _, thread in items:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self.log_file is not None:
            with self.lock:
                self.log_file.flush()
                self.header_log_file.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="ahttp's scripted HTTP/1.1 test server (127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=0,
                        help="port to listen on; 0 (default) picks a free one")
    parser.add_argument("--log", metavar="FILE",
                        help="append '<conn_id> <method> <target>' per "
                        "request; FILE.headers gets the same lines with "
                        "'\\t<name>: <value>' for each header field")
    parser.add_argument("--tls-cert", metavar="FILE",
                        help="serve HTTPS with this certificate chain (PEM)")
    parser.add_argument("--tls-key", metavar="FILE",
                        help="the private key of --tls-cert (PEM)")
    parser.add_argument("--tls-client-ca", metavar="FILE",
                        help="require a client certificate issued by a CA "
                        "in this file (PEM)")
    parser.add_argument("--tls-max-version", choices=sorted(TLS_VERSIONS),
                        help="the highest TLS version offered; 1.0 or 1.1 "
                        "also allow the old versions (and only them)")
    args = parser.parse_args(argv)
    tls_context = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            parser.error("--tls-cert and --tls-key go together")
        tls_context = make_tls_context(args.tls_cert, args.tls_key,
                                       args.tls_client_ca,
                                       args.tls_max_version)
    elif args.tls_client_ca or args.tls_max_version:
        parser.error("--tls-client-ca and --tls-max-version need --tls-cert")
    server = Server(args.port, args.log, tls_context)

    def stop(signum, frame):
        server.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    sys.stdout.write("PORT %d\n" % server.port)
    sys.stdout.flush()
    server.run()
    sys.stdout.flush()
    sys.stderr.flush()
    # Daemon threads may still sit in a socket call for up to POLL seconds;
    # leave without waiting for them.
    os._exit(0)


if __name__ == "__main__":
    main()
