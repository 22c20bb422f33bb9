#!/usr/bin/env python3
"""fake_proxy.py - an HTTP proxy that misbehaves on purpose, for ahttp's
proxy tests.

    python3 tests/server/fake_proxy.py --mode MODE [--port N] [--log FILE]

It binds 127.0.0.1 only (`--port 0`, the default, takes a free port), prints
one line `PORT <n>` on stdout as soon as it listens, and serves until
SIGTERM or SIGINT. `--log FILE` appends one line per request head it reads,
flushed at once: `<conn_id> <request line>`, e.g.
`1 CONNECT 127.0.0.1:8443 HTTP/1.1`, so a test can see what a client sent
(absolute-form targets included). It connects nowhere itself, except to
127.0.0.1 in the `tunnel10` mode.

Every request on a connection gets the mode's answer, CONNECT or not:

  refuse        `502 Bad Gateway` with a Content-Length body that contains
                BODY_MARKER, then the connection stays open for more.
  refuse-close  `502 Bad Gateway`, `Connection: close`, no length: the body
                (with BODY_MARKER) ends when the proxy closes.
  refuse-407    `407 Proxy Authentication Required` with
                `Proxy-Authenticate: Basic realm="fake"` and a body.
  garbage       `200 Connection established`, then bytes that are not TLS
                (nor HTTP) at all; then it reads and drops whatever comes
                until the client closes.
  drop          `200 Connection established`, then it closes at once: a
                tunnel that dies before the TLS handshake.
  stall         reads the request and never answers; it keeps the
                connection open until the client closes it.
  tunnel10      a working tunnel answered the way old proxies do:
                `HTTP/1.0 200 Connection established` with a `Proxy-Agent`
                header, then bytes relayed both ways. Only CONNECT to
                127.0.0.1 or localhost is served (anything else gets a 403).

A client must never deliver BODY_MARKER as a response body of an HTTPS
request: the proxy's answer to CONNECT is not the origin's.
"""

import argparse
import signal
import socket
import sys
import threading

BODY_MARKER = b"FAKE-PROXY-ERROR-BODY"
MAX_HEAD = 65536

GARBAGE = (b"this is not TLS, it is the fake proxy talking nonsense\r\n" * 40)

MODES = ("refuse", "refuse-close", "refuse-407", "garbage", "drop", "stall",
         "tunnel10")


class Proxy:
    def __init__(self, port, mode, log_path):
        self.mode = mode
        self.log_path = log_path
        self.log_lock = threading.Lock()
        self.conn_ids = 0
        self.stopping = threading.Event()
        self.sockets = set()
        self.sockets_lock = threading.Lock()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(64)

    @property
    def port(self):
        return self.listener.getsockname()[1]

    def log(self, conn_id, line):
        if self.log_path is None:
            return
        with self.log_lock, open(self.log_path, "a") as log:
            log.write("%d %s\n" % (conn_id, line))
            log.flush()

    def serve(self):
        self.listener.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self.conn_ids += 1
            with self.sockets_lock:
                self.sockets.add(sock)
            threading.Thread(target=self.handle, args=(sock, self.conn_ids),
                             daemon=True).start()
        self.listener.close()

    def stop(self):
        self.stopping.set()
        with self.sockets_lock:
            for sock in list(self.sockets):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    # ---- one connection ----

    def handle(self, sock, conn_id):
        try:
            self.converse(sock, conn_id)
        except OSError:
            pass
        finally:
            with self.sockets_lock:
                self.sockets.discard(sock)
            sock.close()

    def read_head(self, sock, buffered):
        """The request head (through the empty line) and what follows it,
        or (None, b"") if the client went away first."""
        data = buffered
        while b"\r\n\r\n" not in data:
            if len(data) > MAX_HEAD:
                return None, b""
            chunk = sock.recv(65536)
            if not chunk:
                return None, b""
            data += chunk
        end = data.index(b"\r\n\r\n") + 4
        return data[:end], data[end:]

    @staticmethod
    def body_length(head):
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                try:
                    return int(value.strip())
                except ValueError:
                    return 0
        return 0

    def converse(self, sock, conn_id):
        rest = b""
        while not self.stopping.is_set():
            head, rest = self.read_head(sock, rest)
            if head is None:
                return
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            self.log(conn_id, request_line)
            method = request_line.split(" ", 1)[0]
            # Drop a request body (a POST sent through the proxy).
            left = self.body_length(head) if method != "CONNECT" else 0
            while left > 0:
                if rest:
                    taken = min(left, len(rest))
                    rest = rest[taken:]
                    left -= taken
                    continue
                chunk = sock.recv(min(left, 65536))
                if not chunk:
                    return
                left -= len(chunk)
            if self.mode == "tunnel10":
                self.tunnel(sock, request_line, rest)
                return
            if not self.answer(sock):
                return

    def answer(self, sock):
        """Sends the mode's answer; False if the connection is over."""
        if self.mode == "refuse":
            body = (b"<html><body>" + BODY_MARKER +
                    b": no tunnel</body></html>\n")
            sock.sendall(b"HTTP/1.1 502 Bad Gateway\r\n"
                         b"Content-Type: text/html\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body)
            return True
        if self.mode == "refuse-close":
            sock.sendall(b"HTTP/1.1 502 Bad Gateway\r\n"
                         b"Content-Type: text/html\r\n"
                         b"Connection: close\r\n\r\n"
                         b"<html><body>" + BODY_MARKER +
                         b": no tunnel</body></html>\n")
            sock.shutdown(socket.SHUT_WR)
            self.drain(sock, 1.0)
            return False
        if self.mode == "refuse-407":
            body = (b"<html><body>" + BODY_MARKER +
                    b": who are you</body></html>\n")
            sock.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Basic realm=\"fake\"\r\n"
                         b"Content-Type: text/html\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body)
            return True
        if self.mode == "garbage":
            sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n"
                         + GARBAGE)
            self.drain(sock, None)
            return False
        if self.mode == "drop":
            sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            return False
        if self.mode == "stall":
            self.drain(sock, None)
            return False
        raise AssertionError("unknown mode %r" % self.mode)

    def tunnel(self, sock, request_line, rest):
        """CONNECT to loopback, answered in HTTP/1.0, then a relay."""
        words = request_line.split(" ")
        host, _, port = words[1].rpartition(":") if len(words) == 3 else (
            "", "", "")
        if words[0] != "CONNECT" or host not in ("127.0.0.1", "localhost") \
                or not port.isdigit():
            sock.sendall(b"HTTP/1.0 403 Forbidden\r\n"
                         b"Content-Length: 0\r\n\r\n")
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", int(port)), 10)
        except OSError:
            sock.sendall(b"HTTP/1.0 502 Bad Gateway\r\n"
                         b"Content-Length: 0\r\n\r\n")
            return
        with self.sockets_lock:
            self.sockets.add(upstream)
        try:
            sock.sendall(b"HTTP/1.0 200 Connection established\r\n"
                         b"Proxy-Agent: ahttp-fake-proxy\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            pump = threading.Thread(target=self.relay, args=(upstream, sock),
                                    daemon=True)
            pump.start()
            self.relay(sock, upstream)
            pump.join()
        finally:
            with self.sockets_lock:
                self.sockets.discard(upstream)
            upstream.close()

    @staticmethod
    def relay(src, dst):
        """Copies src to dst until src ends, then ends dst's sending side."""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def drain(self, sock, seconds):
        """Reads and drops until the client closes (or `seconds` pass)."""
        sock.settimeout(seconds if seconds is not None else 0.2)
        while not self.stopping.is_set():
            try:
                if not sock.recv(65536):
                    return
            except socket.timeout:
                if seconds is not None:
                    return
            except OSError:
                return


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", metavar="FILE")
    args = parser.parse_args()
    proxy = Proxy(args.port, args.mode, args.log)

    def on_signal(signum, frame):
        proxy.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.stdout.write("PORT %d\n" % proxy.port)
    sys.stdout.flush()
    proxy.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
