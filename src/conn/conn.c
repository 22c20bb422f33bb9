/*
 * conn.c - one TCP connection on the session's libuv loop: resolve, connect
 * (each resolved address in turn), read into the owner's buffers, write the
 * owner's buffers, time limits, and the idle pool.
 *
 * Invariants: a connection is freed only when every libuv handle it opened
 * is closed and every request it started has called back (`refs` counts
 * both), so a close may begin at any moment, even inside a callback. The
 * owner pointer is cleared on release and close; callbacks check it after
 * every call out, because the owner may release or close from inside.
 */
#include "conn/conn.h"

#include "ahttp.h"
#include "http1/h1.h"
#include "util/alloc.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <uv.h>

enum conn_state { RESOLVING, CONNECTING, OPEN, CLOSED };

struct ah__io {
  uv_loop_t *loop;
  ah__conn *idle; /* doubly linked list of pooled connections */
  /* Ciphertext of every TLS connection is read here: each read is fed to
   * its connection's OpenSSL at once, on this one thread, so one buffer
   * serves them all (made with the first TLS connection). */
  char *cipher_in;
  /* Reads nobody asked for land here: any byte means "close". */
  char scratch[64];
};

struct ah__conn {
  ah__io *io;
  enum conn_state state;
  int refs;
  uv_timer_t timer;
  uv_tcp_t tcp;
  int tcp_open;
  int reading;        /* the owner (or the pool) wants bytes */
  int socket_reading; /* libuv reads the socket */
  int socket_wanted;  /* and someone takes what it reads */
  int timed_read;
  int idle;
  /* One after the other, never both: the name is resolved, then each
   * address is tried in turn. */
  union {
    uv_getaddrinfo_t gai;
    uv_connect_t connect_req;
  } u;
  int resolving;
  uv_write_t write_req;
  int write_pending;
  struct addrinfo *addrs;
  struct addrinfo *next_addr;
  int last_connect_error;
  char *host; /* where TCP goes: the origin, or the proxy */
  uint16_t port;
  char *origin; /* the target's origin (pooling tells proxied ones apart) */
  int via_proxy;
  char *tunnel_host; /* CONNECT target through the proxy */
  uint16_t tunnel_port;
  char *proxy_authorization;
  int tunneling;     /* waiting for the proxy's answer to CONNECT */
  size_t tunnel_len; /* bytes of that answer in cbuf */
  ah__conn_timeouts limits;
  uint64_t connect_deadline, send_deadline, receive_deadline;
  uint64_t timer_due; /* when the timer fires; 0: not armed */
  const ah__conn_ops *ops;
  void *owner;
  ah__conn *prev, *next; /* pool links while idle */
  char peer[64];
  char *detail; /* the last failure's text: see failure_text */

  /* TLS: ciphertext is read into io->cipher_in and fed to `tls`;
   * plaintext goes to the owner's buffers. `kick` delivers plaintext
   * already buffered inside OpenSSL when the owner starts reading again.
   * cbuf holds a proxy's answer to CONNECT (and what follows it) only
   * while the tunnel is being opened. */
  ah__tls_ctx *tls_ctx;
  uint32_t tls_flags;
  ah__tls *tls;
  int handshaking;
  int tls_eof; /* TCP EOF seen; decided once buffered records are read */
  int tls_resumed;
  const char *tls_version;
  char *cbuf;
  uv_idle_t *kick;
  size_t owner_wants; /* the owner's last read size: sizes socket reads */
};

/* A write of ciphertext: its own copy of the bytes. */
typedef struct tls_write {
  uv_write_t req;
  ah__conn *conn;
  int owner; /* the owner's write, reported through ops->written */
  char data[];
} tls_write;

#define CIPHER_BUFFER_SIZE (16384 + 2048) /* a record and then some */
/* The session's read buffer: a socket read asks for about as much
 * ciphertext as the owner's read can take, one record at least and this
 * at most, so that a large read is filled by one wake-up, not one per
 * record, while a small one does not pull in what it would have to keep. */
#define CIPHER_READ_MAX (256 * 1024)

static void conn_unref(ah__conn *c);
static void try_next_address(ah__conn *c);
static void close_attempt(ah__conn *c);
static void start_tls(ah__conn *c);
static void start_tunnel(ah__conn *c);
static int begin_reading(ah__conn *c);
static int start_socket_reads(ah__conn *c);
static void stop_socket_reads(ah__conn *c);
static int flush_tls(ah__conn *c, int owner, int *sent_now);
static void keep_tls_input(ah__conn *c);

int ah__io_new(void *uv_loop, ah__io **out) {
  ah__io *io = ah__calloc(1, sizeof *io);
  if (io == NULL)
    return AH_ERR_NO_MEMORY;
  io->loop = uv_loop;
  *out = io;
  return AH_OK;
}

void ah__io_close_idle(ah__io *io) {
  while (io->idle != NULL)
    ah__conn_close(io->idle);
}

void ah__io_free(ah__io *io) {
  if (io != NULL)
    ah__free(io->cipher_in);
  ah__free(io);
}

const char *ah__conn_peer(const ah__conn *c) { return c->peer; }

int ah__conn_has_buffered(ah__conn *c) {
  return c->tls != NULL && ah__tls_has_input(c->tls);
}

static void pool_remove(ah__conn *c) {
  if (!c->idle)
    return;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    c->io->idle = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
  c->idle = 0;
}

static int map_uv_error(int uv_err, int fallback) {
  switch (uv_err) {
  case UV_ECONNREFUSED:
  case UV_ENETUNREACH:
  case UV_EHOSTUNREACH:
  case UV_EADDRNOTAVAIL:
    return AH_ERR_CANNOT_CONNECT;
  case UV_ETIMEDOUT:
    return AH_ERR_TIMEOUT;
  case UV_ECONNRESET:
    return AH_ERR_CONNECTION_RESET;
  case UV_EPIPE:
  case UV_ECONNABORTED:
    return AH_ERR_CONNECTION_ABORTED;
  case UV_ENOMEM:
  case UV_ENOBUFS:
    return AH_ERR_NO_MEMORY;
  default:
    return fallback;
  }
}

static const char *last_failure(const ah__conn *c) {
  return c->detail != NULL ? c->detail : "out of memory";
}

/* Formats the text that goes with a failure. It lives until the next
 * failure or until the connection is freed (after the owner heard of
 * it); only texts of failures take memory. */
static const char *failure_text(ah__conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *failure_text(ah__conn *c, const char *fmt, ...) {
  char text[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  ah__free(c->detail);
  c->detail = ah__strdup(text);
  return last_failure(c);
}

static const char *set_detail(ah__conn *c, const char *what, int uv_err) {
  return failure_text(c, "%s %s%s: %s", what, c->via_proxy ? "proxy " : "",
                      c->peer[0] ? c->peer : c->host, uv_strerror(uv_err));
}

/* ---- time limits: one timer, the earliest of three deadlines ---- */

static void on_timer(uv_timer_t *timer);

static void arm_timer(ah__conn *c) {
  uint64_t earliest = 0, now;
  uint64_t deadlines[3];
  size_t i;
  if (c->state == CLOSED)
    return;
  deadlines[0] = c->connect_deadline;
  deadlines[1] = c->send_deadline;
  deadlines[2] = c->receive_deadline;
  for (i = 0; i < 3; i++)
    if (deadlines[i] != 0 && (earliest == 0 || deadlines[i] < earliest))
      earliest = deadlines[i];
  /* Deadlines move on every read; the timer is only moved when it would
   * fire too late. One that fires early finds nothing due and re-arms. */
  if (earliest == 0 || (c->timer_due != 0 && c->timer_due <= earliest))
    return;
  now = uv_now(c->io->loop);
  c->timer_due = earliest;
  uv_timer_start(&c->timer, on_timer, earliest > now ? earliest - now : 0, 0);
}

static uint64_t deadline_in(ah__conn *c, uint32_t ms) {
  return ms == 0 ? 0 : uv_now(c->io->loop) + ms;
}

static void on_timer(uv_timer_t *timer) {
  ah__conn *c = timer->data;
  uint64_t now = uv_now(c->io->loop);
  c->timer_due = 0;
  c->refs++;
  if (c->connect_deadline != 0 && now >= c->connect_deadline) {
    c->connect_deadline = 0;
    c->last_connect_error = UV_ETIMEDOUT;
    close_attempt(c);
  } else if (c->send_deadline != 0 && now >= c->send_deadline) {
    c->send_deadline = 0;
    failure_text(c, "send to %s timed out", c->peer);
    if (c->ops != NULL)
      c->ops->written(c->owner, AH_ERR_TIMEOUT, last_failure(c));
  } else if (c->receive_deadline != 0 && now >= c->receive_deadline) {
    ah__conn_read_stop(c);
    failure_text(c, "receive from %s timed out", c->peer);
    if (c->ops != NULL)
      c->ops->read_end(c->owner, AH_ERR_TIMEOUT, last_failure(c));
  }
  arm_timer(c);
  conn_unref(c);
}

/* ---- lifetime ---- */

static void conn_free(ah__conn *c) {
  ah__tls_free(c->tls);
  ah__free(c->cbuf);
  if (c->addrs != NULL)
    uv_freeaddrinfo(c->addrs);
  ah__free(c->origin);
  ah__free(c->tunnel_host);
  ah__free(c->proxy_authorization);
  ah__free(c->host);
  ah__free(c->detail);
  ah__free(c->kick);
  ah__free(c);
}

static void conn_unref(ah__conn *c) {
  if (--c->refs == 0 && c->state == CLOSED)
    conn_free(c);
}

static void on_handle_closed(uv_handle_t *handle) { conn_unref(handle->data); }

static void status(ah__conn *c, int st, const char *text) {
  if (c->ops != NULL && c->ops->status != NULL)
    c->ops->status(c->owner, st, text);
}

void ah__conn_close(ah__conn *c) {
  int was_connected;
  if (c->state == CLOSED)
    return;
  was_connected = c->state == OPEN;
  pool_remove(c);
  if (was_connected && c->tls != NULL) {
    /* Best effort: libuv writes at once when nothing else is queued. */
    ah__tls_close_notify(c->tls);
    flush_tls(c, 0, NULL);
  }
  if (was_connected)
    status(c, AH_STATUS_CLOSING_CONNECTION, c->peer);
  c->state = CLOSED;
  if (c->resolving)
    uv_cancel((uv_req_t *)&c->u.gai);
  if (c->tcp_open) {
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    c->tcp_open = 0;
    c->socket_reading = c->socket_wanted = 0;
  }
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  if (c->tls_ctx != NULL)
    uv_close((uv_handle_t *)c->kick, on_handle_closed);
  if (was_connected)
    status(c, AH_STATUS_CONNECTION_CLOSED, c->peer);
  c->ops = NULL;
  c->owner = NULL;
}

/* ---- resolving and connecting ---- */

static void fail_connect(ah__conn *c, int err, const char *detail) {
  const ah__conn_ops *ops = c->ops;
  void *owner = c->owner;
  c->connect_deadline = 0;
  c->ops = NULL; /* the owner hears nothing more from a failed connection */
  c->owner = NULL;
  ah__conn_close(c);
  if (ops != NULL)
    ops->connected(owner, err, detail);
}

static void on_connect(uv_connect_t *req, int status_code) {
  ah__conn *c = req->data;
  if (c->state == CLOSED) {
    conn_unref(c);
    return;
  }
  if (status_code == 0) {
    uv_tcp_nodelay(&c->tcp, 1);
    /* No other address will be tried (a failed handshake or tunnel is
     * not retried elsewhere). */
    uv_freeaddrinfo(c->addrs);
    c->addrs = c->next_addr = NULL;
    if (c->tunnel_host != NULL || c->tls_ctx != NULL) {
      /* The connect deadline runs on through the tunnel and handshake. */
      status(c, AH_STATUS_CONNECTED_TO_SERVER, c->peer);
      if (c->state != CLOSED && c->tunnel_host != NULL)
        start_tunnel(c);
      else if (c->state != CLOSED)
        start_tls(c);
    } else {
      c->state = OPEN;
      c->connect_deadline = 0;
      arm_timer(c);
      status(c, AH_STATUS_CONNECTED_TO_SERVER, c->peer);
      if (c->state != CLOSED && c->ops != NULL)
        c->ops->connected(c->owner, AH_OK, NULL);
    }
  } else if (status_code != UV_ECANCELED) {
    c->last_connect_error = status_code;
    close_attempt(c);
  }
  conn_unref(c); /* the connect request's */
}

/* The tcp handle of a failed attempt is reused only after libuv has
 * finished closing it, so the next address is tried from its close
 * callback. */
static void on_attempt_closed(uv_handle_t *handle) {
  ah__conn *c = handle->data;
  if (c->state != CLOSED)
    try_next_address(c);
  conn_unref(c);
}

static void close_attempt(ah__conn *c) {
  c->connect_deadline = 0;
  if (c->tcp_open) {
    c->tcp_open = 0;
    c->socket_reading = c->socket_wanted = 0;
    uv_close((uv_handle_t *)&c->tcp, on_attempt_closed);
  }
}

static void format_peer(ah__conn *c, const struct sockaddr *sa) {
  char ip[INET6_ADDRSTRLEN];
  if (uv_ip_name(sa, ip, sizeof ip) != 0)
    snprintf(ip, sizeof ip, "?");
  if (sa->sa_family == AF_INET6)
    snprintf(c->peer, sizeof c->peer, "[%s]:%u", ip, (unsigned)c->port);
  else
    snprintf(c->peer, sizeof c->peer, "%s:%u", ip, (unsigned)c->port);
}

static void try_next_address(ah__conn *c) {
  struct addrinfo *ai;
  int rc;
  while ((ai = c->next_addr) != NULL) {
    c->next_addr = ai->ai_next;
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
      continue;
    format_peer(c, ai->ai_addr);
    status(c, AH_STATUS_CONNECTING_TO_SERVER, c->peer);
    if (c->state == CLOSED)
      return;
    rc = uv_tcp_init(c->io->loop, &c->tcp);
    if (rc != 0) {
      c->last_connect_error = rc;
      continue;
    }
    c->tcp.data = c;
    c->tcp_open = 1;
    c->refs++; /* the tcp handle's */
    c->u.connect_req.data = c;
    rc = uv_tcp_connect(&c->u.connect_req, &c->tcp, ai->ai_addr, on_connect);
    if (rc == 0) {
      c->refs++;
      c->connect_deadline = deadline_in(c, c->limits.connect_ms);
      arm_timer(c);
      return;
    }
    c->last_connect_error = rc;
    close_attempt(c);
    return;
  }
  if (c->last_connect_error == UV_ETIMEDOUT) {
    failure_text(c, "connect to %s timed out", c->peer[0] ? c->peer : c->host);
    fail_connect(c, AH_ERR_TIMEOUT, last_failure(c));
  } else {
    set_detail(c, "connect",
               c->last_connect_error ? c->last_connect_error
                                     : UV_EADDRNOTAVAIL);
    fail_connect(c, AH_ERR_CANNOT_CONNECT, last_failure(c));
  }
}

static void on_resolved(uv_getaddrinfo_t *req, int rc, struct addrinfo *res) {
  ah__conn *c = req->data;
  char ip[INET6_ADDRSTRLEN];
  c->resolving = 0;
  if (c->state == CLOSED) {
    if (res != NULL)
      uv_freeaddrinfo(res);
    conn_unref(c);
    return;
  }
  if (rc != 0 || res == NULL) {
    failure_text(c, "cannot resolve %s'%s': %s", c->via_proxy ? "proxy " : "",
                 c->host, uv_strerror(rc != 0 ? rc : UV_EAI_NONAME));
    fail_connect(c, AH_ERR_NAME_NOT_RESOLVED, last_failure(c));
    conn_unref(c);
    return;
  }
  c->addrs = res;
  c->next_addr = res;
  c->state = CONNECTING;
  if (uv_ip_name(res->ai_addr, ip, sizeof ip) != 0)
    snprintf(ip, sizeof ip, "?");
  status(c, AH_STATUS_NAME_RESOLVED, ip);
  if (c->state != CLOSED)
    try_next_address(c);
  conn_unref(c);
}

/* RFC 6761 6.4: names under "invalid" never resolve, and resolvers
 * should not ask the DNS about them. */
static int is_invalid_tld(const char *host) {
  size_t len = strlen(host);
  if (len > 0 && host[len - 1] == '.')
    len--;
  if (len == 7)
    return strncasecmp(host, "invalid", 7) == 0;
  return len > 8 && strncasecmp(host + len - 8, ".invalid", 8) == 0;
}

static int start_resolve(ah__conn *c) {
  struct addrinfo hints, *literal = NULL;
  char service[8];
  char name[256];
  size_t len = strlen(c->host);
  int rc;
  /* An IPv6 literal may come in brackets; getaddrinfo wants it bare. */
  if (len >= 2 && c->host[0] == '[' && c->host[len - 1] == ']' &&
      len - 2 < sizeof name) {
    memcpy(name, c->host + 1, len - 2);
    name[len - 2] = '\0';
  } else {
    snprintf(name, sizeof name, "%s", c->host);
  }
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  snprintf(service, sizeof service, "%u", (unsigned)c->port);
  status(c, AH_STATUS_RESOLVING_NAME, c->host);
  if (is_invalid_tld(c->host)) {
    failure_text(c, "cannot resolve '%s': names under .invalid never resolve",
                 c->host);
    return AH_ERR_NAME_NOT_RESOLVED;
  }
  c->u.gai.data = c;
  c->resolving = 1;
  c->refs++;
  /* An IP literal needs no resolver: parsed here, it spares a fresh
   * process libuv's resolver threads. The statuses come in the same
   * order as after a lookup. */
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  if (getaddrinfo(name, service, &hints, &literal) == 0) {
    on_resolved(&c->u.gai, 0, literal);
    return AH_OK;
  }
  hints.ai_flags = 0;
  rc = uv_getaddrinfo(c->io->loop, &c->u.gai, on_resolved, name, service,
                      &hints);
  if (rc != 0) {
    c->resolving = 0;
    c->refs--;
    return AH_ERR_SYSTEM;
  }
  return AH_OK;
}

/* Whether an idle connection is still clean: no EOF and no byte waiting
 * that no request asked for (stray bytes must never be read as the next
 * response). The loop may not have run since they arrived, so look. */
static int still_clean(ah__conn *c) {
  uv_os_fd_t fd;
  char byte;
  ssize_t n;
  if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0)
    return 0;
  n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static int same_text(const char *a, const char *b) {
  return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/* Whether `c` can carry a request for `t`: everything that makes two
 * connections interchangeable, compared field by field (no key is built
 * per request). */
static int serves(const ah__conn *c, const ah__conn_target *t) {
  return c->port == t->port && c->tunnel_port == t->tunnel_port &&
         c->via_proxy == t->via_proxy &&
         c->tls_ctx == (t->tls != NULL ? t->tls->ctx : NULL) &&
         c->tls_flags == (t->tls != NULL ? t->tls->security_flags : 0) &&
         strcmp(c->host, t->host) == 0 &&
         same_text(c->tunnel_host, t->tunnel_host) &&
         same_text(c->origin, t->origin) &&
         same_text(c->proxy_authorization, t->proxy_authorization);
}

/* The newest idle connection for this target that is still clean. */
static ah__conn *take_pooled(ah__io *io, const ah__conn_target *t) {
  ah__conn *c = io->idle, *next;
  for (; c != NULL; c = next) {
    next = c->next;
    if (!serves(c, t))
      continue;
    pool_remove(c);
    if (still_clean(c))
      return c;
    ah__conn_close(c);
  }
  return NULL;
}

static int copy_target(ah__conn *c, const ah__conn_target *t) {
  c->host = ah__strdup(t->host);
  c->origin = ah__strdup(t->origin);
  c->tunnel_host = ah__strdup(t->tunnel_host);
  c->proxy_authorization = ah__strdup(t->proxy_authorization);
  c->port = t->port;
  c->tunnel_port = t->tunnel_port;
  c->via_proxy = t->via_proxy;
  c->tls_ctx = t->tls != NULL ? t->tls->ctx : NULL;
  c->tls_flags = t->tls != NULL ? t->tls->security_flags : 0;
  return c->host != NULL && (t->origin == NULL || c->origin != NULL) &&
         (t->tunnel_host == NULL || c->tunnel_host != NULL) &&
         (t->proxy_authorization == NULL || c->proxy_authorization != NULL);
}

int ah__conn_acquire(ah__io *io, const ah__conn_target *target,
                     const ah__conn_timeouts *timeouts, int fresh,
                     const ah__conn_ops *ops, void *owner, ah__conn **out,
                     int *reused) {
  ah__conn *c;
  int rc;
  if (!fresh) {
    c = take_pooled(io, target);
    if (c != NULL) {
      /* Its idle read stops: the new owner reads when it has a buffer. */
      ah__conn_read_stop(c);
      c->ops = ops;
      c->owner = owner;
      c->limits = *timeouts;
      *out = c;
      *reused = 1;
      return AH_OK;
    }
  }
  c = ah__calloc(1, sizeof *c);
  if (c == NULL)
    return AH_ERR_NO_MEMORY;
  if (!copy_target(c, target) ||
      (c->tls_ctx != NULL && (c->kick = ah__malloc(sizeof *c->kick)) == NULL)) {
    conn_free(c);
    return AH_ERR_NO_MEMORY;
  }
  c->io = io;
  c->limits = *timeouts;
  c->ops = ops;
  c->owner = owner;
  c->state = RESOLVING;
  uv_timer_init(io->loop, &c->timer);
  c->timer.data = c;
  c->refs = 1; /* the timer's */
  if (c->tls_ctx != NULL) {
    uv_idle_init(io->loop, c->kick);
    c->kick->data = c;
    c->refs++;
  }
  *out = c;
  *reused = 0;
  rc = start_resolve(c);
  if (rc == AH_ERR_NAME_NOT_RESOLVED) {
    fail_connect(c, rc, last_failure(c)); /* the owner hears it as usual */
    return AH_OK;
  }
  if (rc != AH_OK) {
    c->ops = NULL;
    ah__conn_close(c);
    return rc;
  }
  return AH_OK;
}

void ah__conn_set_timeouts(ah__conn *c, const ah__conn_timeouts *t) {
  c->limits = *t;
}

/* ---- TLS plumbing ---- */

/* Offers ub[0..count) to the socket at once: returns 1 if it took every
 * byte; else what it took is dropped and ub[*first..count) is what is
 * left for uv_write. A failure is left to uv_write too, which reports it
 * through its callback as it always does. */
static int write_now(ah__conn *c, uv_buf_t *ub, unsigned count,
                     unsigned *first) {
  size_t total = 0, n;
  unsigned i;
  int rc;
  *first = 0;
  for (i = 0; i < count; i++)
    total += ub[i].len;
  rc = uv_try_write((uv_stream_t *)&c->tcp, ub, count);
  if (rc <= 0)
    return 0;
  if ((size_t)rc == total)
    return 1;
  for (n = (size_t)rc; n >= ub[*first].len; (*first)++)
    n -= ub[*first].len;
  ub[*first].base += n;
  ub[*first].len -= n;
  return 0;
}

static void on_tls_written(uv_write_t *req, int rc);

/* Sends whatever ciphertext OpenSSL produced, as one write. `owner`
 * marks the owner's write, whose completion it reports; with `sent_now`
 * the socket is offered it first, as ah__conn_write does for plain. */
static int flush_tls(ah__conn *c, int owner, int *sent_now) {
  size_t n = ah__tls_out_pending(c->tls);
  tls_write *w;
  uv_buf_t buf;
  unsigned first;
  int rc;
  if (n == 0 && !owner)
    return AH_OK;
  w = ah__malloc(sizeof *w + (n > 0 ? n : 1));
  if (w == NULL)
    return AH_ERR_NO_MEMORY;
  w->conn = c;
  w->owner = owner;
  n = ah__tls_out_take(c->tls, w->data, n);
  buf = uv_buf_init(w->data, (unsigned)n);
  if (sent_now != NULL && n > 0 && write_now(c, &buf, 1, &first)) {
    ah__free(w);
    *sent_now = 1;
    return AH_OK;
  }
  w->req.data = w;
  rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_tls_written);
  if (rc != 0) {
    ah__free(w);
    return map_uv_error(rc, AH_ERR_CONNECTION_ABORTED);
  }
  c->refs++;
  if (owner) {
    c->write_pending = 1;
    c->send_deadline = deadline_in(c, c->limits.send_ms);
    arm_timer(c);
  }
  return AH_OK;
}

static void on_tls_written(uv_write_t *req, int rc) {
  tls_write *w = req->data;
  ah__conn *c = w->conn;
  int owner = w->owner;
  ah__free(w);
  if (owner) {
    c->write_pending = 0;
    c->send_deadline = 0;
    if (c->state != CLOSED && c->ops != NULL) {
      if (rc == 0)
        c->ops->written(c->owner, AH_OK, NULL);
      else
        c->ops->written(c->owner, map_uv_error(rc, AH_ERR_CONNECTION_ABORTED),
                        set_detail(c, "send to", rc));
    }
  }
  /* A failed handshake or alert write shows up on the read side. */
  conn_unref(c);
}

static void drive_handshake(ah__conn *c) {
  char why[256] = "";
  char desc[96];
  int rc = ah__tls_handshake(c->tls, why, sizeof why);
  int flushed = flush_tls(c, 0, NULL);
  if (rc == AH_IO_PENDING && flushed == AH_OK)
    return;
  if (rc == AH_OK || rc == AH_IO_PENDING) {
    rc = flushed;
    snprintf(why, sizeof why, "cannot send TLS handshake data to %s", c->peer);
  }
  if (rc != AH_OK) {
    if (c->via_proxy)
      fail_connect(c, rc,
                   failure_text(c, "%s (TLS with %s:%u through proxy %s)", why,
                                c->tunnel_host, (unsigned)c->tunnel_port,
                                c->peer));
    else
      fail_connect(c, rc, failure_text(c, "%s", why));
    return;
  }
  c->handshaking = 0;
  c->connect_deadline = 0;
  ah__conn_read_stop(c);
  c->state = OPEN;
  arm_timer(c);
  c->tls_resumed = ah__tls_resumed(c->tls);
  c->tls_version = ah__tls_version(c->tls);
  ah__tls_describe(c->tls, desc, sizeof desc);
  status(c, AH_STATUS_TLS_HANDSHAKE_DONE, desc); /* the text is copied */
  if (c->state != CLOSED && c->ops != NULL)
    c->ops->connected(c->owner, AH_OK, NULL);
}

static void start_tls(ah__conn *c) {
  int rc;
  status(c, AH_STATUS_TLS_HANDSHAKE_START, NULL);
  if (c->state == CLOSED)
    return;
  ah__tls_free(c->tls); /* from an earlier address's attempt */
  c->tls = NULL;
  /* Through a tunnel, the names checked are the origin's. */
  rc = ah__tls_new(c->tls_ctx, c->tunnel_host ? c->tunnel_host : c->host,
                   c->tunnel_host ? c->tunnel_port : c->port, c->tls_flags,
                   &c->tls);
  if (rc == AH_OK && c->io->cipher_in == NULL) {
    c->io->cipher_in = ah__malloc(CIPHER_READ_MAX);
    if (c->io->cipher_in == NULL)
      rc = AH_ERR_NO_MEMORY;
  }
  if (rc == AH_OK && c->tunnel_len > 0) {
    rc = ah__tls_feed(c->tls, c->cbuf, c->tunnel_len);
    if (rc == AH_OK)
      rc = ah__tls_keep_input(c->tls); /* cbuf goes now */
    c->tunnel_len = 0;
  }
  if (rc == AH_OK) { /* the tunnel's buffer has done its job */
    ah__free(c->cbuf);
    c->cbuf = NULL;
  }
  if (rc == AH_OK) {
    c->handshaking = 1;
    rc = begin_reading(c);
  }
  if (rc != AH_OK) {
    failure_text(c, "cannot start TLS with %s", c->peer);
    fail_connect(c, rc, last_failure(c));
    return;
  }
  drive_handshake(c);
}

/* ---- CONNECT tunnels (RFC 9110 9.3.6) ---- */

static void start_tunnel(ah__conn *c) {
  char head[1024];
  tls_write *w;
  uv_buf_t buf;
  int n, rc;
  n = snprintf(head, sizeof head,
               "CONNECT %s:%u HTTP/1.1\r\nHost: %s:%u\r\n%s%s%s\r\n",
               c->tunnel_host, (unsigned)c->tunnel_port, c->tunnel_host,
               (unsigned)c->tunnel_port,
               c->proxy_authorization ? "Proxy-Authorization: " : "",
               c->proxy_authorization ? c->proxy_authorization : "",
               c->proxy_authorization ? "\r\n" : "");
  rc = AH_ERR_NO_MEMORY;
  if (n < 0 || (size_t)n >= sizeof head)
    goto fail;
  if (c->cbuf == NULL && (c->cbuf = ah__malloc(CIPHER_BUFFER_SIZE)) == NULL)
    goto fail;
  w = ah__malloc(sizeof *w + (size_t)n);
  if (w == NULL)
    goto fail;
  w->conn = c;
  w->owner = 0;
  memcpy(w->data, head, (size_t)n);
  buf = uv_buf_init(w->data, (unsigned)n);
  w->req.data = w;
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_tls_written) != 0) {
    ah__free(w);
    rc = AH_ERR_CONNECTION_ABORTED;
    goto fail;
  }
  c->refs++;
  c->tunneling = 1;
  c->tunnel_len = 0;
  rc = begin_reading(c);
  if (rc == AH_OK)
    return;
fail:
  failure_text(c, "cannot ask proxy %s for a tunnel", c->peer);
  fail_connect(c, rc, last_failure(c));
}

/* The proxy's answer to CONNECT: 2xx opens the tunnel, anything else is
 * the proxy's refusal, whose body is never passed on. */
static void on_tunnel_read(ah__conn *c, ssize_t nread) {
  ah__h1_header headers[64];
  ah__h1_response resp;
  const char *why = NULL;
  size_t head_len = 0;
  int rc;
  if (nread < 0) {
    failure_text(c, "proxy %s closed the connection before answering CONNECT",
                 c->peer);
    fail_connect(c, AH_ERR_PROXY_REFUSED, last_failure(c));
    return;
  }
  c->tunnel_len += (size_t)nread;
  for (;;) {
    resp.headers = headers;
    resp.num_headers = sizeof headers / sizeof headers[0];
    rc = ah__h1_parse_response(c->cbuf, c->tunnel_len, CIPHER_BUFFER_SIZE,
                               &resp, &head_len, &why);
    if (rc == AH_H1_NEED_MORE)
      return;
    if (rc != AH_H1_OK) {
      failure_text(c, "proxy %s sent an invalid answer to CONNECT: %s", c->peer,
                   why ? why : "malformed");
      fail_connect(c, AH_ERR_PROXY_REFUSED, last_failure(c));
      return;
    }
    if (resp.status >= 200)
      break;
    memmove(c->cbuf, c->cbuf + head_len, c->tunnel_len - head_len);
    c->tunnel_len -= head_len; /* an interim 1xx */
  }
  if (resp.status < 200 || resp.status > 299) {
    failure_text(c, "proxy %s answered CONNECT %s:%u with %d %.*s", c->peer,
                 c->tunnel_host, (unsigned)c->tunnel_port, resp.status,
                 (int)(resp.reason.len > 100 ? 100 : resp.reason.len),
                 resp.reason.ptr);
    fail_connect(c,
                 resp.status == 407 ? AH_ERR_PROXY_AUTH_REQUIRED
                                    : AH_ERR_PROXY_REFUSED,
                 last_failure(c));
    return;
  }
  c->tunneling = 0;
  /* Bytes after the answer belong to the origin's TLS. */
  c->tunnel_len -= head_len;
  memmove(c->cbuf, c->cbuf + head_len, c->tunnel_len);
  start_tls(c);
}

/* Hands decrypted bytes to the owner while it wants them. */
static void deliver_plaintext(ah__conn *c) {
  char *buf = NULL;
  char why[256] = "";
  size_t len = 0, got = 0, filled;
  int rc;
  c->refs++;
  while (c->reading && c->ops != NULL && !c->idle && c->state == OPEN) {
    c->ops->alloc(c->owner, &buf, &len);
    if (buf == NULL || len == 0) {
      /* The owner had no buffer to give (out of memory): say so, as the
       * plain path does, rather than wait for bytes nobody will take. */
      ah__conn_read_stop(c);
      failure_text(c, "no buffer to receive from %s", c->peer);
      c->ops->read_end(c->owner, AH_ERR_NO_MEMORY, last_failure(c));
      break;
    }
    c->owner_wants = len;
    /* As many records as the buffer takes, handed over at once (as one
     * socket read would be): the owner's work and statuses are per batch,
     * not per record. What stopped the batch is seen again next round. */
    filled = 0;
    do {
      rc = ah__tls_read(c->tls, buf + filled, len - filled, &got, why,
                        sizeof why);
      if (rc == AH_OK)
        filled += got;
    } while (rc == AH_OK && filled < len);
    if (filled > 0) {
      c->ops->data(c->owner, buf, filled);
      continue;
    }
    if (rc == AH_IO_PENDING && flush_tls(c, 0, NULL) != AH_OK) {
      rc = AH_ERR_NO_MEMORY;
      snprintf(why, sizeof why, "cannot answer %s's TLS records", c->peer);
    }
    if (rc == AH_IO_PENDING && c->tls_eof) {
      /* Every record is read and no close_notify came. */
      ah__conn_read_stop(c);
      failure_text(c, "%s closed the TLS connection without close_notify",
                   c->peer);
      c->ops->read_end(c->owner, AH_ERR_TLS_TRUNCATED, last_failure(c));
      break;
    }
    if (rc == AH_IO_PENDING) {
      /* All that came is handed over; a read that still wants bytes gets
       * them from the socket now. */
      c->ops->drained(c->owner);
      if (!c->reading || c->ops == NULL || c->state != OPEN)
        break;
      rc = start_socket_reads(c);
      if (rc != AH_OK) {
        ah__conn_read_stop(c);
        c->ops->read_end(c->owner, rc,
                         failure_text(c, "cannot read from %s", c->peer));
      }
      break;
    }
    ah__conn_read_stop(c);
    if (rc == AH_TLS_CLOSED)
      c->ops->read_end(c->owner, AH_OK, NULL);
    else
      c->ops->read_end(c->owner, rc, failure_text(c, "%s", why));
    break;
  }
  conn_unref(c);
}

static void on_kick(uv_idle_t *kick) {
  ah__conn *c = kick->data;
  uv_idle_stop(kick);
  if (c->state == OPEN && c->reading && !c->idle) {
    deliver_plaintext(c);
    keep_tls_input(c); /* frees the kept bytes once they are read */
  }
}

/* An idle pooled TLS connection got bytes: a session ticket is fine,
 * anything that decrypts to data, an alert or close_notify ends it. */
static void idle_tls_input(ah__conn *c) {
  size_t got = 0;
  char why[256];
  int rc = ah__tls_read(c->tls, c->io->scratch, sizeof c->io->scratch, &got,
                        why, sizeof why);
  if (rc != AH_IO_PENDING || flush_tls(c, 0, NULL) != AH_OK)
    ah__conn_close(c);
}

void ah__conn_tls_info(const ah__conn *c, int *resumed, const char **version) {
  *resumed = c->tls_resumed;
  *version = c->tls_version;
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  ah__conn *c = handle->data;
  char *base = NULL;
  size_t len = 0;
  (void)suggested;
  if (!c->socket_wanted) {
    /* A stop that was not taken back: libuv reports UV_ENOBUFS and
     * on_read stops the socket for real, leaving the bytes in it. */
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  if (c->tunneling) {
    base = c->cbuf + c->tunnel_len;
    len = CIPHER_BUFFER_SIZE - c->tunnel_len;
  } else if (c->tls != NULL) {
    base = c->io->cipher_in;
    len = c->owner_wants < CIPHER_BUFFER_SIZE ? CIPHER_BUFFER_SIZE
          : c->owner_wants < CIPHER_READ_MAX  ? c->owner_wants
                                              : CIPHER_READ_MAX;
  } else if (c->ops != NULL && !c->idle) {
    c->ops->alloc(c->owner, &base, &len);
  }
  if (base == NULL || len == 0) {
    base = c->io->scratch;
    len = sizeof c->io->scratch;
  }
  *buf = uv_buf_init(base, (unsigned)(len > UINT32_MAX ? UINT32_MAX : len));
}

static void on_tls_read(ah__conn *c, ssize_t nread, const uv_buf_t *buf) {
  if (nread > 0 && ah__tls_feed(c->tls, buf->base, (size_t)nread) != AH_OK)
    nread = UV_ENOMEM;
  if (c->handshaking) {
    if (nread > 0) {
      drive_handshake(c);
    } else {
      if (c->via_proxy)
        failure_text(c,
                     "proxy %s closed the tunnel to %s:%u during the TLS "
                     "handshake",
                     c->peer, c->tunnel_host, (unsigned)c->tunnel_port);
      else
        failure_text(c, "%s closed the connection during the TLS handshake",
                     c->peer);
      fail_connect(c,
                   nread == UV_EOF
                       ? AH_ERR_TLS_HANDSHAKE
                       : map_uv_error((int)nread, AH_ERR_CONNECTION_RESET),
                   last_failure(c));
    }
    return;
  }
  if (c->idle || c->ops == NULL) {
    if (nread > 0)
      idle_tls_input(c);
    else
      ah__conn_close(c);
    return;
  }
  if (nread > 0) {
    deliver_plaintext(c);
    return;
  }
  if (nread == UV_EOF) {
    /* The close_notify may still sit unread behind data the owner has
     * not asked for yet: judge the EOF after those records. */
    c->tls_eof = 1;
    stop_socket_reads(c);
    deliver_plaintext(c);
    return;
  }
  ah__conn_read_stop(c);
  c->ops->read_end(c->owner, map_uv_error((int)nread, AH_ERR_CONNECTION_RESET),
                   set_detail(c, "receive from", (int)nread));
}

/* The shared read buffer is about to serve other connections: what
 * OpenSSL has not consumed of it is copied; a connection that cannot
 * keep those bytes cannot go on. */
static void keep_tls_input(ah__conn *c) {
  if (ah__tls_keep_input(c->tls) == AH_OK || c->state == CLOSED)
    return;
  failure_text(c, "no memory to keep TLS records from %s", c->peer);
  if (c->handshaking) {
    fail_connect(c, AH_ERR_NO_MEMORY, last_failure(c));
    return;
  }
  if (c->ops != NULL && !c->idle) {
    /* Reading or not, the owner must let go of the connection. */
    ah__conn_read_stop(c);
    c->ops->read_end(c->owner, AH_ERR_NO_MEMORY, last_failure(c));
  }
  ah__conn_close(c);
}

/* libuv reports a hang-up after a partial read as EOF without reading
 * again, so a reset that follows data would pass for a clean close (and a
 * cut close-delimited body for a complete one). The socket still holds
 * the reset as its pending error. */
static ssize_t real_eof_or_error(ah__conn *c) {
  uv_os_fd_t fd;
  int err = 0;
  socklen_t len = sizeof err;
  if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 &&
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0)
    return uv_translate_sys_error(err);
  return UV_EOF;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  ah__conn *c = stream->data;
  int err;
  if (nread < 0 && !c->socket_wanted) {
    /* Nobody reads now (a lazy stop). A refused buffer stops libuv for
     * real; an EOF libuv reports on its own (a hang-up after a partial
     * read) stays with the socket, which tells the next reader again. */
    if (nread == UV_ENOBUFS)
      uv_read_stop(stream);
    c->socket_reading = 0;
    return;
  }
  if (nread < 0) /* libuv stops reading by itself after EOF or an error */
    c->socket_reading = 0;
  if (nread == 0 || c->state == CLOSED)
    return;
  if (nread == UV_EOF)
    nread = real_eof_or_error(c);
  if (nread > 0 && c->timed_read && c->limits.receive_ms != 0)
    c->receive_deadline = deadline_in(c, c->limits.receive_ms);
  if (c->tunneling) {
    c->refs++;
    on_tunnel_read(c, nread);
    conn_unref(c);
    return;
  }
  if (c->tls != NULL) {
    c->refs++;
    on_tls_read(c, nread, buf);
    keep_tls_input(c);
    conn_unref(c);
    return;
  }
  if (c->idle || c->ops == NULL) {
    /* A pooled connection that the server closed, or that got bytes no
     * request asked for, cannot carry another request. */
    ah__conn_close(c);
    return;
  }
  c->refs++;
  if (nread > 0 && buf->base == c->io->scratch) {
    /* The owner had no buffer to give (out of memory). */
    ah__conn_read_stop(c);
    failure_text(c, "no buffer to receive from %s", c->peer);
    c->ops->read_end(c->owner, AH_ERR_NO_MEMORY, last_failure(c));
  } else if (nread > 0) {
    c->ops->data(c->owner, buf->base, (size_t)nread);
  } else {
    ah__conn_read_stop(c);
    if (nread == UV_EOF) {
      c->ops->read_end(c->owner, AH_OK, NULL);
    } else {
      err = map_uv_error((int)nread, AH_ERR_CONNECTION_RESET);
      c->ops->read_end(c->owner, err,
                       set_detail(c, "receive from", (int)nread));
    }
  }
  conn_unref(c);
}

static int start_socket_reads(ah__conn *c) {
  int rc;
  if (c->tls_eof) /* after EOF only OpenSSL's input */
    return AH_OK;
  c->socket_wanted = 1;
  if (c->socket_reading)
    return AH_OK;
  rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc != 0) {
    c->socket_wanted = 0;
    return map_uv_error(rc, AH_ERR_SYSTEM);
  }
  c->socket_reading = 1;
  return AH_OK;
}

/* The stop is lazy: libuv keeps the socket in epoll until bytes come that
 * nobody wants (on_alloc, on_read). A response ends, the connection goes
 * idle, the next request takes it and reads again, all in one turn of the
 * loop: stopping at once would cost two epoll_ctl calls per request. */
static void stop_socket_reads(ah__conn *c) { c->socket_wanted = 0; }

/* While OpenSSL still holds input for the owner, the socket waits (the
 * kick reads that input first, and deliver_plaintext starts the socket
 * when OpenSSL wants more): a reader slower than the network must not
 * pile up ciphertext. */
static int begin_reading(ah__conn *c) {
  int rc = AH_OK;
  if (c->reading)
    return AH_OK;
  if (c->tls == NULL || c->handshaking || c->idle || !ah__tls_has_input(c->tls))
    rc = start_socket_reads(c);
  if (rc != AH_OK)
    return rc;
  c->reading = 1;
  return AH_OK;
}

int ah__conn_read_start(ah__conn *c, int timed) {
  int rc;
  if (c->state != OPEN)
    return AH_ERR_INCORRECT_HANDLE_STATE;
  c->timed_read = timed;
  c->receive_deadline = timed ? deadline_in(c, c->limits.receive_ms) : 0;
  rc = begin_reading(c);
  if (rc != AH_OK)
    return rc;
  /* Plaintext OpenSSL already holds, or an EOF behind it, would never
   * wake the socket. */
  if (c->tls != NULL && !c->idle && (c->tls_eof || ah__tls_has_input(c->tls)))
    uv_idle_start(c->kick, on_kick);
  arm_timer(c);
  return AH_OK;
}

void ah__conn_read_stop(ah__conn *c) {
  c->receive_deadline = 0;
  stop_socket_reads(c);
  c->reading = 0;
  if (c->tls != NULL)
    uv_idle_stop(c->kick);
}

/* ---- writing ---- */

static void on_write(uv_write_t *req, int rc) {
  ah__conn *c = req->data;
  c->write_pending = 0;
  c->send_deadline = 0;
  if (c->state != CLOSED && c->ops != NULL) {
    if (rc == 0)
      c->ops->written(c->owner, AH_OK, NULL);
    else
      c->ops->written(c->owner, map_uv_error(rc, AH_ERR_CONNECTION_ABORTED),
                      set_detail(c, "send to", rc));
  }
  conn_unref(c);
}

static int write_tls(ah__conn *c, const ah__iov *bufs, unsigned count,
                     int *sent_now) {
  char why[256]; /* the caller reports a failed write in its own words */
  unsigned i;
  int rc;
  for (i = 0; i < count; i++) {
    rc = ah__tls_write(c->tls, bufs[i].base, bufs[i].len, why, sizeof why);
    if (rc != AH_OK)
      return rc;
  }
  return flush_tls(c, 1, sent_now);
}

int ah__conn_write(ah__conn *c, const ah__iov *bufs, unsigned count,
                   int *sent_now) {
  uv_buf_t ub[4] = {0}; /* GCC cannot tell only `count` of them are read */
  unsigned i, first = 0;
  int rc;
  if (sent_now != NULL)
    *sent_now = 0;
  if (c->state != OPEN || c->write_pending || count > 4)
    return AH_ERR_INCORRECT_HANDLE_STATE;
  if (c->tls != NULL)
    return write_tls(c, bufs, count, sent_now);
  for (i = 0; i < count; i++)
    ub[i] = uv_buf_init((char *)(uintptr_t)bufs[i].base, (unsigned)bufs[i].len);
  /* Most request heads fit the socket's buffer at once: no write
   * callback, and so no extra turn of the loop before reading. */
  if (sent_now != NULL && write_now(c, ub, count, &first)) {
    *sent_now = 1;
    return AH_OK;
  }
  c->write_req.data = c;
  rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, ub + first,
                count - first, on_write);
  if (rc != 0)
    return map_uv_error(rc, AH_ERR_CONNECTION_ABORTED);
  c->refs++;
  c->write_pending = 1;
  c->send_deadline = deadline_in(c, c->limits.send_ms);
  arm_timer(c);
  return AH_OK;
}

/* ---- the pool ---- */

void ah__conn_release(ah__conn *c) {
  if (c->state != OPEN || c->write_pending || c->tls_eof) {
    c->ops = NULL;
    c->owner = NULL;
    ah__conn_close(c);
    return;
  }
  c->ops = NULL;
  c->owner = NULL;
  c->receive_deadline = 0;
  c->send_deadline = 0;
  arm_timer(c);
  c->idle = 1;
  c->prev = NULL;
  c->next = c->io->idle;
  if (c->next != NULL)
    c->next->prev = c;
  c->io->idle = c;
  /* Keep reading while idle: the server closing shows up as EOF. */
  if (ah__conn_read_start(c, 0) != AH_OK)
    ah__conn_close(c);
}
