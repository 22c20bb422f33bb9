/*
 * conn.h - TCP connections and the session's keep-alive pool.
 *
 * A connection belongs to at most one owner (a request) at a time, or sits
 * idle in the pool. The owner gets events through ah__conn_ops; after
 * ah__conn_release or ah__conn_close the owner gets nothing more, so an
 * owner may free itself right after either call. This header does not
 * expose libuv, so the request layer above stays free of it.
 */
#ifndef AH_CONN_CONN_H
#define AH_CONN_CONN_H

#include "tls/tls.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ah__io ah__io;
typedef struct ah__conn ah__conn;

/* Per-connection time limits in milliseconds; 0 means none. */
typedef struct ah__conn_timeouts {
  uint32_t connect_ms;
  uint32_t send_ms;
  uint32_t receive_ms;
} ah__conn_timeouts;

/* TLS for a connection: the context and the verification failures to
 * accept. Connections are pooled per (host, port, context, flags). */
typedef struct ah__conn_tls {
  ah__tls_ctx *ctx;
  uint32_t security_flags;
} ah__conn_tls;

/* Where a connection goes. Through a proxy, `host`:`port` is the proxy;
 * `tunnel_host` (HTTPS) asks it for a CONNECT tunnel to the origin, and
 * `origin` (plain HTTP, absolute-form requests) only keeps the pool from
 * mixing origins. */
typedef struct ah__conn_target {
  const char *host;
  uint16_t port;
  int via_proxy;
  const char *tunnel_host; /* NULL: no tunnel */
  uint16_t tunnel_port;
  const char *proxy_authorization; /* "Basic ..." for the CONNECT, or NULL */
  const char *origin;              /* "host:port", or NULL */
  const ah__conn_tls *tls;         /* NULL: plain */
} ah__conn_target;

typedef struct ah__iov {
  const void *base;
  size_t len;
} ah__iov;

typedef struct ah__conn_ops {
  /* Resolve, connect and close progress: an AH_STATUS_* and its text
   * (host name or address), or NULL. */
  void (*status)(void *owner, int status, const char *text);
  /* A new connection is open (err AH_OK) or could not be opened. */
  void (*connected)(void *owner, int err, const char *detail);
  /* Where the next read may put its bytes: at most *len bytes at *buf. */
  void (*alloc)(void *owner, char **buf, size_t *len);
  /* `n` bytes landed at `data` (inside the last buffer from alloc). */
  void (*data)(void *owner, char *data, size_t n);
  /* The peer closed (err AH_OK), the read failed, or the receive time-out
   * passed (AH_ERR_TIMEOUT). Reading has stopped. */
  void (*read_end)(void *owner, int err, const char *detail);
  /* The pending write finished. */
  void (*written)(void *owner, int err, const char *detail);
  /* Every byte received so far has been handed over by data (TLS: after
   * a batch of records); a read that takes what is there may end. */
  void (*drained)(void *owner);
} ah__conn_ops;

/* The I/O context of a session: its loop (a uv_loop_t *) and pool. */
int ah__io_new(void *uv_loop, ah__io **out);
/* Closes every idle pooled connection (session shutdown). */
void ah__io_close_idle(ah__io *io);
/* Frees the context; every connection must be closed and its close
 * finished (the loop has run until no handle is left). */
void ah__io_free(ah__io *io);

/*
 * Gives the owner a connection to `target` (see ah__conn_target), over
 * TLS when target->tls is not NULL. A live idle one from the pool is returned
 * at once with *reused = 1 (unless `fresh`); otherwise a new one starts
 * resolving and connecting
 * (*reused = 0), reporting RESOLVING_NAME .. CONNECTED_TO_SERVER (and
 * TLS_HANDSHAKE_START/DONE) through ops->status and ending with
 * ops->connected. The connect time-out covers the CONNECT exchange and
 * the TLS handshake too. A refused tunnel ends ops->connected with
 * AH_ERR_PROXY_REFUSED or AH_ERR_PROXY_AUTH_REQUIRED.
 * Errors: AH_ERR_NO_MEMORY, AH_ERR_SYSTEM.
 */
int ah__conn_acquire(ah__io *io, const ah__conn_target *target,
                     const ah__conn_timeouts *timeouts, int fresh,
                     const ah__conn_ops *ops, void *owner, ah__conn **out,
                     int *reused);

/* TLS facts of an open connection: whether it resumed a cached session,
 * and the protocol version ("TLSv1.3"); NULL version when plain. */
void ah__conn_tls_info(const ah__conn *conn, int *resumed,
                       const char **version);

void ah__conn_set_timeouts(ah__conn *conn, const ah__conn_timeouts *t);

/* Starts or stops reading. With `timed`, the receive time-out runs while
 * reading (it does not while an upload merely watches for an answer). */
int ah__conn_read_start(ah__conn *conn, int timed);
void ah__conn_read_stop(ah__conn *conn);

/* Writes the buffers (borrowed until ops->written). One write at a time:
 * AH_ERR_INCORRECT_HANDLE_STATE if one is in flight. At most 4 buffers.
 * With `sent_now`, the bytes (over TLS, their records) are first offered to
 * the socket directly: when it takes them all, *sent_now is 1, the write is
 * over and no ops->written follows (the caller goes on as that callback
 * would). */
int ah__conn_write(ah__conn *conn, const ah__iov *bufs, unsigned count,
                   int *sent_now);

/* Returns a healthy connection to the pool; the owner is detached. */
void ah__conn_release(ah__conn *conn);

/* Closes the connection; the owner gets CLOSING_CONNECTION and
 * CONNECTION_CLOSED through ops->status first (if it was connected), then
 * nothing more. */
void ah__conn_close(ah__conn *conn);

/* The peer address text ("127.0.0.1:8080"), "" before connecting. */
const char *ah__conn_peer(const ah__conn *conn);
/* Whether bytes for the owner are already here (decrypted or not) that a
 * read would get without waiting for the network (TLS only). */
int ah__conn_has_buffered(ah__conn *conn);

#endif
