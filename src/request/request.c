/*
 * request.c - one HTTP/1.1 exchange on top of a pooled connection.
 *
 * Flow: send (or send_ex + write* + end) takes a connection from the pool
 * or opens one, writes the head and body, then reads until the final
 * response head is parsed; read then hands out body bytes until the
 * decoder reports the end, when a reusable connection goes back to the
 * pool. At most one operation is pending (r->op); it ends through exactly
 * one hooks->complete, unless it finished at once (AH_OK).
 *
 * Reading is on only while something waits for bytes (a head, or a
 * pending read): an idle transfer costs no buffer refills and applies
 * backpressure to the server. A pending read whose bytes need no decoding
 * gets them straight into the caller's buffer.
 */
#include "request/request.h"

#include "ahttp.h"
#include "request/content_decoder.h"
#include "request/cookie_jar.h"
#include "request/redirect.h"
#include "util/alloc.h"
#include "util/proxy.h"
#include "util/url.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_HEADERS 256  /* fields per head, at most */
#define FIRST_HEADERS 24 /* most heads have fewer */
#define MAX_TRAILER_BYTES 65536
#define ZBUF_SIZE 16384 /* compressed bytes waiting for the decoder */

static const ah__conn_ops conn_ops;
static void start_connection(ah__request *r, int fresh);
static void pump(ah__request *r);
static void finish_body(ah__request *r);
static void drop_empty_staging(ah__request *r);
static void on_written(void *owner, int err, const char *detail);
static void finish_read(ah__request *r);
static void parse_head(ah__request *r);
static void check_expect(ah__request *r);
static int note_interim(ah__request *r, int status);
static int parse_at(ah__request *r, size_t off, ah__h1_response *resp,
                    size_t *head_len, const char **detail);
static int has_final_head(ah__request *r);

/* ---- hooks ---- */

static void emit(ah__request *r, int status, const void *info, size_t len) {
  if (r->hooks->wants(r, status))
    r->hooks->status(r, status, info, len);
}

static void emit_count(ah__request *r, int status, size_t n) {
  uint32_t v = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
  if (r->hooks->wants(r, status))
    r->hooks->status(r, status, &v, sizeof v);
}

/* Network reads are reported as RECEIVING_RESPONSE, RESPONSE_RECEIVED
 * pairs: the first half when a wait for bytes begins or goes on. */
static void announce_receiving(ah__request *r) {
  if (!r->receiving_announced) {
    r->receiving_announced = 1;
    emit(r, AH_STATUS_RECEIVING_RESPONSE, NULL, 0);
  }
}

static void complete(ah__request *r, int err, uintptr_t result) {
  r->op = AH_OP_NONE;
  r->hooks->complete(r, err, result);
}

/* Reports bytes read while uploading, so that the response phase's
 * statuses never interleave with the upload's (DESIGN.md event order). */
static void report_unreported(ah__request *r) {
  if (r->unreported > 0) {
    announce_receiving(r);
    emit_count(r, AH_STATUS_RESPONSE_RECEIVED, r->unreported);
    r->receiving_announced = 0;
    r->unreported = 0;
  }
}

/* ---- set-up ---- */

static int is_secure(const ah__request *r) {
  return (r->flags & AH_FLAG_SECURE) != 0;
}

static uint16_t default_port(const ah__request *r) {
  return is_secure(r) ? AH_DEFAULT_HTTPS_PORT : AH_DEFAULT_HTTP_PORT;
}

/* The request's URL as a view of its fields (not to be freed). */
static void current_url(const ah__request *r, ah__url *u) {
  memset(u, 0, sizeof *u);
  u->scheme = (char *)(uintptr_t)(is_secure(r) ? "https" : "http");
  u->host = r->host;
  u->port = r->port;
  u->target = r->target;
}

/* "scheme://host:port", the key credentials are bound to. */
static char *origin_of(const ah__request *r) {
  size_t n = strlen(r->host) + 32;
  char *s = ah__malloc(n);
  if (s != NULL)
    snprintf(s, n, "%s://%s:%u", is_secure(r) ? "https" : "http", r->host,
             (unsigned)r->port);
  return s;
}

static int at_first_origin(const ah__request *r) {
  char *now = origin_of(r);
  int same = now != NULL && r->first_origin != NULL &&
             strcmp(now, r->first_origin) == 0;
  ah__free(now);
  return same;
}

/* Basic credentials (RFC 7617) for the origin the request starts at. */
static int keep_credentials(ah__request *r, const char *user,
                            const char *password) {
  size_t ulen, plen;
  unsigned char *pair;
  if (user == NULL || (r->flags & AH_FLAG_NO_AUTH))
    return AH_OK;
  ulen = strlen(user);
  plen = password != NULL ? strlen(password) : 0;
  pair = ah__malloc(ulen + plen + 1);
  r->authorization = ah__malloc(6 + 4 * ((ulen + plen + 3) / 3) + 1);
  r->first_origin = origin_of(r);
  if (pair == NULL || r->authorization == NULL || r->first_origin == NULL) {
    ah__free(pair);
    return AH_ERR_NO_MEMORY;
  }
  memcpy(pair, user, ulen);
  pair[ulen] = ':';
  if (plen > 0)
    memcpy(pair + ulen + 1, password, plen);
  memcpy(r->authorization, "Basic ", 6);
  ah__base64(pair, ulen + plen + 1, r->authorization + 6);
  ah__free(pair);
  return AH_OK;
}

int ah__request_init(ah__request *r, const ah__request_params *p) {
  memset(r, 0, sizeof *r);
  r->hooks = p->hooks;
  r->io = p->io;
  r->flags = p->flags;
  r->port = p->port != 0 ? p->port : default_port(r);
  r->read_buffer_size = p->read_buffer_size;
  r->max_header_bytes = p->max_header_bytes;
  r->timeouts = p->timeouts;
  r->method = ah__strdup(p->method);
  r->target = ah__strdup(p->target);
  /* Kept without brackets; the head and URLs add them back. */
  if (p->host[0] == '[' && strlen(p->host) >= 2)
    r->host = ah__strndup(p->host + 1, strlen(p->host) - 2);
  else
    r->host = ah__strdup(p->host);
  r->user_agent = ah__strdup(p->user_agent);
  r->jar = p->jar;
  r->max_redirects = 10;
  if (r->method == NULL || r->target == NULL || r->host == NULL ||
      (p->user_agent != NULL && r->user_agent == NULL) ||
      keep_credentials(r, p->user, p->password) != AH_OK) {
    ah__request_dispose(r);
    return AH_ERR_NO_MEMORY;
  }
  return AH_OK;
}

static void drop_connection(ah__request *r) {
  if (r->conn != NULL) {
    ah__conn *c = r->conn;
    r->conn = NULL;
    ah__conn_close(c);
  }
}

void ah__request_dispose(ah__request *r) {
  drop_connection(r);
  ah__free(r->method);
  ah__free(r->target);
  ah__free(r->host);
  ah__free(r->user_agent);
  ah__free(r->head);
  ah__free(r->rbuf);
  ah__free(r->resp_head);
  ah__free(r->headers);
  ah__free(r->extra);
  ah__free(r->authorization);
  ah__free(r->first_origin);
  ah__free(r->redirect_url);
  ah__free(r->zbuf);
  ah__decoder_free(r->decoder);
  ah__proxy_free(&r->proxy);
  ah__free(r->detail);
  memset(r, 0, sizeof *r);
}

static void set_text(ah__request *r, const char *text) {
  if (text == r->detail) /* already in place */
    return;
  ah__free(r->detail);
  r->detail = text != NULL && text[0] != '\0' ? ah__strdup(text) : NULL;
}

void ah__request_set_error(ah__request *r, int err, const char *text) {
  r->error = err;
  set_text(r, text);
}

/* Ends the exchange with `err`: the connection cannot be trusted any more. */
static void fail(ah__request *r, int err, const char *detail) {
  ah__request_set_error(r, err, detail);
  r->state = AH_REQ_FAILED;
  drop_connection(r);
  if (r->op != AH_OP_NONE)
    complete(r, err, 0);
}

/* set_text and fail with a formatted text (256 bytes at most). */
static void set_textv(ah__request *r, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void set_textv(ah__request *r, const char *fmt, va_list ap) {
  char text[256];
  vsnprintf(text, sizeof text, fmt, ap);
  set_text(r, text);
}

static void set_textf(ah__request *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_textf(ah__request *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_textv(r, fmt, ap);
  va_end(ap);
}

static void failf(ah__request *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void failf(ah__request *r, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_textv(r, fmt, ap);
  va_end(ap);
  fail(r, err, r->detail); /* the text is in place already */
}

/* ---- the request head ---- */

static int is_idempotent(const char *method) {
  static const char *const safe[] = {"GET",   "HEAD", "OPTIONS",
                                     "TRACE", "PUT",  "DELETE"};
  size_t i;
  for (i = 0; i < sizeof safe / sizeof safe[0]; i++)
    if (strcmp(method, safe[i]) == 0)
      return 1;
  return 0;
}

static int method_has_body(const char *method) {
  return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
         strcmp(method, "PATCH") == 0;
}

/* The caller's header lines, checked and kept for every hop. */
static int keep_extra(ah__request *r, const char *headers, size_t len) {
  const char *detail = NULL;
  if (headers == NULL || len == 0)
    return AH_OK;
  if (ah__h1_validate_extra_headers(headers, len, &detail) != AH_H1_OK) {
    ah__request_set_error(r, AH_ERR_INVALID_PARAMETER, detail);
    return AH_ERR_INVALID_PARAMETER;
  }
  ah__free(r->extra);
  r->extra = ah__strndup(headers, len);
  if (r->extra == NULL)
    return AH_ERR_NO_MEMORY;
  r->extra_len = len;
  return AH_OK;
}

/* The host as the jar knows it: lowercase. */
static const char *cookie_host(const ah__request *r, char *buf, size_t size) {
  const char *h = r->host;
  size_t n = strlen(h), i;
  if (n >= size)
    n = size - 1;
  for (i = 0; i < n; i++)
    buf[i] = (char)(h[i] >= 'A' && h[i] <= 'Z' ? h[i] - 'A' + 'a' : h[i]);
  buf[n] = '\0';
  return buf;
}

/* The Cookie value the jar has for this request, or NULL. */
static int jar_cookies(ah__request *r, char **value, size_t *count) {
  char host[260];
  char *path;
  int rc;
  *value = NULL;
  *count = 0;
  if (r->jar == NULL || (r->flags & AH_FLAG_NO_COOKIES) ||
      ah__has_field(r->extra, r->extra_len, "Cookie"))
    return AH_OK; /* the caller's own Cookie field wins */
  path = ah__strndup(r->target, strcspn(r->target, "?"));
  if (path == NULL)
    return AH_ERR_NO_MEMORY;
  rc = ah__cookie_jar_header(r->jar, cookie_host(r, host, sizeof host), path,
                             is_secure(r), (int64_t)time(NULL), value, count);
  ah__free(path);
  return rc;
}

static int build_head(ah__request *r, int has_body, uint64_t content_length) {
  ah__h1_request req;
  char host[300];
  char *absolute = NULL, *cookie = NULL;
  size_t cookies = 0;
  int bracket = strchr(r->host, ':') != NULL;
  int rc;
  if (r->port == default_port(r))
    snprintf(host, sizeof host, bracket ? "[%s]" : "%s", r->host);
  else
    snprintf(host, sizeof host, bracket ? "[%s]:%u" : "%s:%u", r->host,
             (unsigned)r->port);
  memset(&req, 0, sizeof req);
  req.method = r->method;
  req.target = r->target;
  if (r->proxy.host != NULL && !is_secure(r)) {
    /* RFC 9112 3.2.2: absolute-form to a proxy. */
    ah__url u;
    current_url(r, &u);
    rc = ah__url_format(&u, &absolute);
    if (rc != AH_OK)
      return rc;
    req.target = absolute;
    req.proxy_authorization = r->proxy.authorization;
  }
  rc = jar_cookies(r, &cookie, &cookies);
  if (rc != AH_OK) {
    ah__free(absolute);
    return rc;
  }
  req.host = host;
  req.user_agent = r->user_agent;
  if (r->authorization != NULL && at_first_origin(r) &&
      !ah__has_field(r->extra, r->extra_len, "Authorization"))
    req.authorization = r->authorization;
  if (r->decoding && !ah__has_field(r->extra, r->extra_len, "Accept-Encoding"))
    req.accept_encoding = AH__ACCEPT_ENCODING;
  req.cookie = cookie;
  req.extra = r->extra;
  req.extra_len = r->extra_len;
  req.has_body = has_body;
  req.content_length = content_length;
  req.expect_continue = r->expect;
  req.close = (r->flags & AH_FLAG_NO_KEEP_ALIVE) != 0;
  ah__free(r->head);
  r->head_len = ah__h1_request_size(&req);
  r->head = ah__malloc(r->head_len);
  rc = AH_OK;
  if (r->head == NULL)
    rc = AH_ERR_NO_MEMORY;
  else if (ah__h1_write_request(&req, r->head) != r->head_len)
    rc = AH_ERR_INTERNAL;
  ah__free(absolute);
  ah__free(cookie);
  if (rc == AH_OK && cookies > 0)
    emit_count(r, AH_STATUS_COOKIE_SENT, cookies);
  return rc;
}

/* Whether an upload of `size` bytes first waits for 100 Continue. */
static int wants_expect(const ah__request *r, uint64_t size) {
  return r->expect_size > 0 && r->expect_timeout > 0 && size >= r->expect_size;
}

/* ---- sending ---- */

static void send_head(ah__request *r) {
  ah__iov iov[2];
  unsigned n = 0;
  int rc, sent_now;
  emit(r, AH_STATUS_SENDING_REQUEST, NULL, 0);
  if (r->conn == NULL)
    return; /* cancelled from the status callback path */
  iov[n].base = r->head;
  iov[n++].len = r->head_len;
  if (!r->streaming && r->send_body_len > 0 && !r->expect) {
    iov[n].base = r->send_body;
    iov[n++].len = r->send_body_len;
  }
  rc = ah__conn_write(r->conn, iov, n, &sent_now);
  if (rc != AH_OK)
    fail(r, rc, "cannot write to the connection");
  else if (sent_now)
    on_written(r, AH_OK, NULL);
}

/* Starts one exchange (the first, or the next hop of a redirect). */
static void start_exchange(ah__request *r) {
  r->state = AH_REQ_SENDING;
  r->got_response_bytes = 0;
  if (r->detecting_proxy)
    emit(r, AH_STATUS_DETECTING_PROXY, NULL, 0);
  start_connection(r, 0);
}

static int begin_send(ah__request *r) {
  r->op = AH_OP_SEND;
  /* Even a failure to start is reported through the completion, as the
   * operation is pending from here on. */
  start_exchange(r);
  return AH_IO_PENDING;
}

static void note_tls(ah__request *r) {
  if (is_secure(r) && r->conn != NULL)
    ah__conn_tls_info(r->conn, &r->tls_resumed, &r->tls_version);
}

static void start_connection(ah__request *r, int fresh) {
  ah__conn_target t;
  char origin[300];
  int rc;
  memset(&t, 0, sizeof t);
  t.tls = is_secure(r) ? &r->tls : NULL;
  if (r->proxy.host != NULL) {
    t.host = r->proxy.host;
    t.port = r->proxy.port;
    t.via_proxy = 1;
    snprintf(origin, sizeof origin, "%s:%u", r->host, (unsigned)r->port);
    if (is_secure(r)) {
      t.tunnel_host = r->host;
      t.tunnel_port = r->port;
      t.proxy_authorization = r->proxy.authorization;
    } else {
      t.origin = origin;
    }
  } else {
    t.host = r->host;
    t.port = r->port;
  }
  rc = ah__conn_acquire(r->io, &t, &r->timeouts, fresh, &conn_ops, r, &r->conn,
                        &r->reused);
  if (rc != AH_OK) {
    r->conn = NULL;
    fail(r, rc, "cannot start a connection");
    return;
  }
  if (r->reused) {
    note_tls(r);
    send_head(r);
  }
}

int ah__request_send(ah__request *r, const char *headers, size_t headers_len,
                     const void *body, size_t body_len) {
  int rc;
  if (r->state != AH_REQ_IDLE || r->op != AH_OP_NONE)
    return AH_ERR_INCORRECT_HANDLE_STATE;
  if (body == NULL && body_len > 0)
    return AH_ERR_INVALID_PARAMETER;
  r->expect = wants_expect(r, body_len);
  rc = keep_extra(r, headers, headers_len);
  if (rc == AH_OK)
    rc = build_head(r, body_len > 0 || method_has_body(r->method), body_len);
  if (rc != AH_OK)
    return rc;
  r->send_body = body;
  r->send_body_len = body_len;
  r->streaming = 0;
  return begin_send(r);
}

int ah__request_send_ex(ah__request *r, const char *headers, size_t headers_len,
                        uint64_t total) {
  int rc;
  if (r->state != AH_REQ_IDLE || r->op != AH_OP_NONE)
    return AH_ERR_INCORRECT_HANDLE_STATE;
  r->expect = wants_expect(r, total);
  rc = keep_extra(r, headers, headers_len);
  if (rc == AH_OK)
    rc = build_head(r, 1, total);
  if (rc != AH_OK)
    return rc;
  r->streaming = 1;
  r->upload_total = total;
  r->upload_sent = 0;
  return begin_send(r);
}

int ah__request_write(ah__request *r, const void *buf, size_t len,
                      size_t *written) {
  ah__iov iov;
  int rc;
  if (r->state == AH_REQ_FAILED && r->op == AH_OP_NONE)
    return r->error;
  if (r->state != AH_REQ_UPLOADING || r->op != AH_OP_NONE)
    return AH_ERR_INCORRECT_HANDLE_STATE;
  if (r->early_answer) {
    ah__request_set_error(r, AH_ERR_CONNECTION_ABORTED,
                          "the server answered before the whole body was sent");
    return AH_ERR_CONNECTION_ABORTED;
  }
  if (buf == NULL && len > 0)
    return AH_ERR_INVALID_PARAMETER;
  if (len > r->upload_total - r->upload_sent)
    return AH_ERR_UPLOAD_LENGTH;
  if (len == 0) {
    if (written != NULL)
      *written = 0;
    return AH_OK;
  }
  iov.base = buf;
  iov.len = len;
  rc = ah__conn_write(r->conn, &iov, 1, NULL);
  if (rc != AH_OK) {
    fail(r, rc, "cannot write to the connection");
    return rc;
  }
  r->op = AH_OP_WRITE;
  r->write_buf = buf;
  r->write_len = len;
  r->write_out = written;
  return AH_IO_PENDING;
}

/* A head rarely needs more than this; the buffer grows when it does, and
 * to the read buffer size once the body is read through it. Small heads
 * keep paused transfers cheap. */
#define HEAD_BUFFER_SIZE 2048

/* The buffered bytes not consumed yet; "" when there is no buffer (a
 * dropped staging buffer is no pointer to do arithmetic on). */
static const char *staged(const ah__request *r) {
  return r->rbuf != NULL ? r->rbuf + r->rstart : "";
}

static int ensure_rbuf(ah__request *r) {
  if (r->rbuf == NULL) {
    r->rcap = r->state == AH_REQ_BODY || r->read_buffer_size < HEAD_BUFFER_SIZE
                  ? r->read_buffer_size
                  : HEAD_BUFFER_SIZE;
    r->rbuf = ah__malloc(r->rcap);
    if (r->rbuf == NULL)
      return AH_ERR_NO_MEMORY;
    r->rstart = r->rend = 0;
  }
  return AH_OK;
}

/* Reads into the staging buffer: for the response head, or (untimed)
 * to catch an answer that arrives while an upload is still going. The
 * buffer itself is taken only when bytes arrive (on_alloc): a transfer
 * that waits for its answer holds none. */
static int start_receiving(ah__request *r, int timed) {
  int rc = AH_OK;
  if (r->headers == NULL) {
    r->headers = ah__malloc(FIRST_HEADERS * sizeof *r->headers);
    if (r->headers == NULL)
      rc = AH_ERR_NO_MEMORY;
    r->header_cap = FIRST_HEADERS;
  }
  if (rc == AH_OK)
    rc = ah__conn_read_start(r->conn, timed);
  return rc;
}

/* Starts waiting for the response head. */
static void await_head(ah__request *r) {
  int rc;
  r->state = AH_REQ_AWAIT_HEAD;
  announce_receiving(r);
  if (r->conn == NULL)
    return;
  rc = start_receiving(r, 1);
  if (rc != AH_OK) {
    fail(r, rc, "cannot read from the connection");
    return;
  }
  if (r->rend > r->rstart) {
    report_unreported(r);
    parse_head(r); /* bytes that came during the upload */
  }
}

int ah__request_end(ah__request *r) {
  if (r->state == AH_REQ_FAILED && r->op == AH_OP_NONE)
    return r->error;
  if (r->state != AH_REQ_UPLOADING || r->op != AH_OP_NONE)
    return AH_ERR_INCORRECT_HANDLE_STATE;
  if (r->upload_sent != r->upload_total && !r->early_answer) {
    set_textf(r, "%llu of %llu announced body bytes were written",
              (unsigned long long)r->upload_sent,
              (unsigned long long)r->upload_total);
    return AH_ERR_UPLOAD_LENGTH;
  }
  r->op = AH_OP_END;
  if (r->early_answer) {
    r->state = AH_REQ_AWAIT_HEAD;
    report_unreported(r);
    parse_head(r); /* the answer is buffered: it completes right away */
  } else {
    await_head(r);
  }
  return AH_IO_PENDING;
}

/* ---- Expect: 100-continue (RFC 9110 10.1.1) ---- */

/* The head went out with Expect: wait for 100, a final answer, or the
 * expect time-out (the connection's receive limit, lent for the wait). */
static void begin_expect(ah__request *r) {
  ah__conn_timeouts wait = r->timeouts;
  int rc;
  r->state = AH_REQ_EXPECTING;
  wait.receive_ms = r->expect_timeout;
  ah__conn_set_timeouts(r->conn, &wait);
  rc = start_receiving(r, 1);
  if (rc != AH_OK) {
    fail(r, rc, "cannot read from the connection");
    return;
  }
  if (r->rend > r->rstart)
    check_expect(r);
}

/* 100 Continue came, or the wait ran out: the body goes. */
static void end_expect(ah__request *r) {
  int rc;
  ah__iov iov;
  r->expect = 0;
  ah__conn_read_stop(r->conn);
  ah__conn_set_timeouts(r->conn, &r->timeouts);
  if (r->streaming) {
    r->state = AH_REQ_UPLOADING;
    rc = start_receiving(r, 0);
    if (rc != AH_OK) {
      fail(r, rc, "cannot read from the connection");
      return;
    }
    complete(r, AH_OK, 0);
    return;
  }
  r->state = AH_REQ_SENDING;
  r->sending_body = 1;
  iov.base = r->send_body;
  iov.len = r->send_body_len;
  rc = ah__conn_write(r->conn, &iov, 1, NULL);
  if (rc != AH_OK)
    fail(r, rc, "cannot write to the connection");
}

/* The server answered instead of sending 100: the body is not sent (RFC
 * 9110 10.1.1 lets a client skip it), and the connection is not reused. */
static void answered_without_body(ah__request *r) {
  r->expect = 0;
  r->body_withheld = 1;
  ah__conn_set_timeouts(r->conn, &r->timeouts);
  if (r->streaming) {
    r->state = AH_REQ_UPLOADING;
    r->early_answer = 1;
    ah__conn_read_stop(r->conn);
    complete(r, AH_OK, 0); /* ah_end_request delivers the answer */
    return;
  }
  r->state = AH_REQ_AWAIT_HEAD;
  parse_head(r);
}

static void check_expect(ah__request *r) {
  ah__h1_response resp;
  const char *detail = NULL;
  size_t head_len;
  for (;;) {
    int rc = parse_at(r, r->rstart, &resp, &head_len, &detail);
    if (rc == AH_H1_NEED_MORE)
      return;
    if (rc != AH_H1_OK || resp.status >= 200 || resp.status == 101) {
      answered_without_body(r); /* parse_head reports a bad head */
      return;
    }
    r->rstart += head_len;
    if (!note_interim(r, resp.status))
      return;
    if (resp.status == 100) {
      end_expect(r);
      return;
    }
  }
}

/* ---- retry of an idempotent request on a stale pooled connection ---- */

static int can_retry(const ah__request *r) {
  return r->reused && !r->retried && !r->got_response_bytes && !r->streaming &&
         is_idempotent(r->method);
}

static void retry(ah__request *r) {
  r->retried = 1;
  drop_connection(r);
  if (r->rbuf != NULL)
    r->rstart = r->rend = 0;
  r->eof = 0;
  r->state = AH_REQ_SENDING;
  start_connection(r, 1);
}

/* ---- connection events ---- */

static void on_conn_status(void *owner, int status, const char *text) {
  ah__request *r = owner;
  emit(r, status, text, text != NULL ? strlen(text) + 1 : 0);
}

static void on_connected(void *owner, int err, const char *detail) {
  ah__request *r = owner;
  if (err != AH_OK) {
    r->conn = NULL; /* a failed connection closes itself */
    fail(r, err, detail);
    return;
  }
  note_tls(r);
  send_head(r);
}

static void on_written(void *owner, int err, const char *detail) {
  ah__request *r = owner;
  size_t n;
  if (r->op == AH_OP_WRITE && r->early_answer && err != AH_OK) {
    /* The server stopped taking the body after it answered; the answer
     * is buffered and ah_end_request delivers it. */
    ah__request_set_error(r, AH_ERR_CONNECTION_ABORTED,
                          "the server answered before the whole body was sent");
    complete(r, AH_ERR_CONNECTION_ABORTED, 0);
    return;
  }
  if (err != AH_OK) {
    if (r->op != AH_OP_WRITE && can_retry(r)) {
      retry(r);
      return;
    }
    fail(r, err, detail);
    return;
  }
  if (r->op == AH_OP_WRITE) {
    n = r->write_len;
    r->upload_sent += n;
    emit_count(r, AH_STATUS_REQUEST_SENT, n);
    if (r->write_out != NULL)
      *r->write_out = n;
    complete(r, AH_OK, n);
    return;
  }
  if (r->sending_body) { /* the body, after 100 Continue */
    r->sending_body = 0;
    emit_count(r, AH_STATUS_REQUEST_SENT, r->send_body_len);
    if (r->conn != NULL)
      await_head(r);
    return;
  }
  /* The head (and a small body) went out. */
  emit_count(r, AH_STATUS_REQUEST_SENT,
             r->head_len + (r->streaming || r->expect ? 0 : r->send_body_len));
  if (r->conn == NULL)
    return;
  if (r->expect) {
    begin_expect(r);
    return;
  }
  if (r->streaming) {
    r->state = AH_REQ_UPLOADING;
    if (start_receiving(r, 0) != AH_OK) {
      fail(r, AH_ERR_NO_MEMORY, "cannot read from the connection");
      return;
    }
    complete(r, AH_OK, 0);
    return;
  }
  await_head(r);
}

static void on_alloc(void *owner, char **buf, size_t *len) {
  ah__request *r = owner;
  uint64_t direct;
  size_t space;
  if (r->state == AH_REQ_BODY && r->op == AH_OP_READ && r->rstart == r->rend &&
      r->decoder == NULL) {
    direct = ah__h1_body_direct(&r->body);
    space = r->ulen - r->ufill;
    if (direct > 0 && space > 0) {
      *buf = r->ubuf + r->ufill;
      *len = direct < space ? (size_t)direct : space;
      return;
    }
  }
  if (r->rbuf == NULL && ensure_rbuf(r) != AH_OK) {
    *buf = NULL; /* the connection reports it */
    *len = 0;
    return;
  }
  if (r->rstart == r->rend) {
    r->rstart = r->rend = 0;
    if (r->state == AH_REQ_BODY && r->rcap < r->read_buffer_size) {
      char *bigger = ah__realloc(r->rbuf, r->read_buffer_size);
      if (bigger != NULL) {
        r->rbuf = bigger;
        r->rcap = r->read_buffer_size;
      }
    }
  }
  if (r->rend == r->rcap && r->rstart > 0) {
    memmove(r->rbuf, r->rbuf + r->rstart, r->rend - r->rstart);
    r->rend -= r->rstart;
    r->rstart = 0;
  }
  if (r->rend == r->rcap &&
      (r->state == AH_REQ_AWAIT_HEAD || r->state == AH_REQ_UPLOADING ||
       r->state == AH_REQ_EXPECTING) &&
      r->rcap < (size_t)r->max_header_bytes + 1) {
    /* A head larger than the buffer: grow up to the head limit. */
    size_t cap = r->rcap * 2;
    char *bigger;
    if (cap > (size_t)r->max_header_bytes + 1)
      cap = (size_t)r->max_header_bytes + 1;
    bigger = ah__realloc(r->rbuf, cap);
    if (bigger != NULL) {
      r->rbuf = bigger;
      r->rcap = cap;
    }
  } else if (r->rend == r->rcap && r->state == AH_REQ_BODY &&
             r->rcap < r->read_buffer_size) {
    /* Body bytes fill the head-sized buffer and the framing wants more. */
    char *bigger = ah__realloc(r->rbuf, r->read_buffer_size);
    if (bigger != NULL) {
      r->rbuf = bigger;
      r->rcap = r->read_buffer_size;
    }
  }
  *buf = r->rbuf + r->rend;
  *len = r->rcap - r->rend;
}

/* Parses the head at rbuf[off..rend), growing the header array up to
 * MAX_HEADERS when the head has more fields than it holds. */
static int parse_at(ah__request *r, size_t off, ah__h1_response *resp,
                    size_t *head_len, const char **detail) {
  for (;;) {
    int rc;
    resp->headers = r->headers;
    resp->num_headers = r->header_cap;
    rc = ah__h1_parse_response(r->rbuf + off, r->rend - off,
                               r->max_header_bytes, resp, head_len, detail);
    if (rc != AH_H1_E_TOO_MANY || r->header_cap >= MAX_HEADERS)
      return rc;
    {
      size_t cap =
          r->header_cap * 2 > MAX_HEADERS ? MAX_HEADERS : r->header_cap * 2;
      ah__h1_header *bigger = ah__realloc(r->headers, cap * sizeof *r->headers);
      if (bigger == NULL)
        return rc;
      r->headers = bigger;
      r->header_cap = cap;
    }
  }
}

/* Whether the staging buffer holds a whole final response head (or one
 * that is malformed, which parse_head will report). */
static int has_final_head(ah__request *r) {
  ah__h1_response resp;
  const char *detail = NULL;
  size_t off = r->rstart, head_len;
  int rc;
  if (r->rbuf == NULL) /* nothing came (the buffer comes with bytes) */
    return 0;
  for (;;) {
    rc = parse_at(r, off, &resp, &head_len, &detail);
    if (rc == AH_H1_NEED_MORE)
      return 0;
    if (rc != AH_H1_OK || resp.status >= 200 || resp.status == 101)
      return 1;
    off += head_len;
  }
}

/* Bytes that arrive while the caller is still uploading: an early answer
 * (RFC 9112 9.5 allows it, e.g. 413) ends the upload. */
static void on_upload_data(ah__request *r) {
  if (has_final_head(r)) {
    r->early_answer = 1;
    ah__conn_read_stop(r->conn);
  } else if (r->rend == r->rcap) {
    ah__conn_read_stop(r->conn); /* no room: wait for ah_end_request */
  }
}

static void on_data(void *owner, char *data, size_t n) {
  ah__request *r = owner;
  r->got_response_bytes = 1;
  if (r->state == AH_REQ_UPLOADING) {
    r->rend += n;
    r->unreported += n;
    on_upload_data(r);
    return;
  }
  announce_receiving(r);
  emit_count(r, AH_STATUS_RESPONSE_RECEIVED, n);
  r->receiving_announced = 0;
  if (r->conn == NULL)
    return;
  if (r->op == AH_OP_READ && data == r->ubuf + r->ufill &&
      r->rstart == r->rend) {
    ah__h1_body_skip(&r->body, n);
    r->ufill += n;
  } else {
    r->rend += n;
  }
  pump(r);
}

static void on_read_end(void *owner, int err, const char *detail) {
  ah__request *r = owner;
  if (r->state == AH_REQ_EXPECTING) {
    if (err == AH_ERR_TIMEOUT) {
      end_expect(r); /* no 100 came: send the body anyway */
      return;
    }
    r->eof = err == AH_OK;
    if (has_final_head(r)) {
      answered_without_body(r);
      return;
    }
    if (r->rstart == r->rend && can_retry(r)) {
      retry(r);
      return;
    }
    fail(r, err != AH_OK ? err : AH_ERR_CONNECTION_ABORTED,
         err != AH_OK ? detail
                      : "the server closed the connection before answering");
    return;
  }
  if (r->state == AH_REQ_UPLOADING) {
    if (has_final_head(r)) {
      r->early_answer = 1;
      r->eof = err == AH_OK;
      return;
    }
    fail(r, err != AH_OK ? err : AH_ERR_CONNECTION_ABORTED,
         err != AH_OK ? detail
                      : "the server closed the connection during the upload");
    return;
  }
  if (err != AH_OK) {
    if (r->state == AH_REQ_AWAIT_HEAD && can_retry(r)) {
      retry(r);
      return;
    }
    fail(r, err, detail);
    return;
  }
  r->eof = 1;
  if (r->state == AH_REQ_AWAIT_HEAD && r->rstart == r->rend && can_retry(r)) {
    retry(r);
    return;
  }
  pump(r);
}

/* Everything received is handed over: a read that takes what is there
 * ends now (over TLS, read_satisfied waited for the rest of the batch). */
static void on_drained(void *owner) {
  ah__request *r = owner;
  if (r->state == AH_REQ_BODY && r->op == AH_OP_READ && r->no_wait &&
      r->ufill > 0)
    finish_read(r);
}

static const ah__conn_ops conn_ops = {on_conn_status, on_connected, on_alloc,
                                      on_data,        on_read_end,  on_written,
                                      on_drained};

/* ---- the response head ---- */

/* Moves a view from the staging buffer to the same bytes in the copy. */
static void rebase(ah__h1_str *s, const char *from, const char *to) {
  if (s->ptr != NULL)
    s->ptr = to + (s->ptr - from);
}

/* Copies the head out of the staging buffer so its views outlive it. */
static int keep_head(ah__request *r, size_t head_len) {
  const char *from = r->rbuf + r->rstart;
  size_t i;
  ah__free(r->resp_head);
  r->resp_head = ah__malloc(head_len);
  if (r->resp_head == NULL)
    return AH_ERR_NO_MEMORY;
  memcpy(r->resp_head, from, head_len);
  r->resp_head_len = head_len;
  if (r->resp.num_headers < r->header_cap) {
    /* Only the fields the head has are kept (a paused transfer's cost). */
    size_t cap = r->resp.num_headers > 0 ? r->resp.num_headers : 1;
    ah__h1_header *fit = ah__realloc(r->headers, cap * sizeof *fit);
    if (fit != NULL) {
      r->headers = fit;
      r->header_cap = cap;
      r->resp.headers = fit;
    }
  }
  rebase(&r->resp.reason, from, r->resp_head);
  for (i = 0; i < r->resp.num_headers; i++) {
    rebase(&r->resp.headers[i].name, from, r->resp_head);
    rebase(&r->resp.headers[i].value, from, r->resp_head);
  }
  return AH_OK;
}

/* Reports a 1xx head (RFC 9110 15.2: interim; the final one follows).
 * Returns 0 if the request was cancelled meanwhile. */
static int note_interim(ah__request *r, int status) {
  uint32_t code = (uint32_t)status;
  r->interims++;
  emit(r, AH_STATUS_INTERMEDIATE_RESPONSE, &code, sizeof code);
  return r->conn != NULL;
}

static const ah__h1_header *find_header(const ah__request *r, const char *name,
                                        unsigned index) {
  size_t i, len = strlen(name);
  for (i = 0; i < r->resp.num_headers; i++)
    if (r->resp.headers[i].name.len == len && /* most names end here */
        ah__h1_str_ieq(r->resp.headers[i].name, name) && index-- == 0)
      return &r->resp.headers[i];
  return NULL;
}

/* Hands each Set-Cookie field to the session's jar (RFC 6265 5.3). */
static void store_cookies(ah__request *r) {
  const ah__h1_header *h;
  char host[260];
  char *path;
  unsigned i;
  int64_t now = (int64_t)time(NULL);
  if (r->jar == NULL || (r->flags & AH_FLAG_NO_COOKIES) ||
      find_header(r, "Set-Cookie", 0) == NULL)
    return;
  path = ah__strndup(r->target, strcspn(r->target, "?"));
  if (path == NULL)
    return; /* out of memory: the cookies are lost, the response is not */
  cookie_host(r, host, sizeof host);
  for (i = 0; (h = find_header(r, "Set-Cookie", i)) != NULL; i++) {
    ah_cookie_history verdict;
    memset(&verdict, 0, sizeof verdict);
    if (ah__cookie_jar_store(r->jar, h->value.ptr, h->value.len, host, path,
                             is_secure(r), now, &verdict) != AH_OK)
      break;
    if (verdict.accepted)
      emit_count(r, AH_STATUS_COOKIE_RECEIVED, 1);
    emit(r, AH_STATUS_COOKIE_HISTORY, &verdict, sizeof verdict);
  }
  ah__free(path);
}

/* Clears what one exchange left, before the next hop of a redirect. */
static void reset_exchange(ah__request *r) {
  r->reused = r->retried = r->got_response_bytes = 0;
  r->early_answer = r->body_withheld = r->sending_body = 0;
  r->unreported = 0;
  r->receiving_announced = 0;
  r->eof = 0;
  r->interims = 0;
  ah__free(r->rbuf);
  r->rbuf = NULL;
  r->rcap = r->rstart = r->rend = 0;
  ah__free(r->resp_head);
  r->resp_head = NULL;
  r->resp_head_len = 0;
  memset(&r->resp, 0, sizeof r->resp);
  memset(&r->body, 0, sizeof r->body);
  r->keep_alive = 0;
  r->framing_done = 0;
  r->tls_resumed = 0;
  r->tls_version = NULL;
}

/* Drops a redirect's body: what is buffered is read past, so the
 * connection can go back to the pool; one still owing bytes is closed. */
static void discard_body(ah__request *r) {
  const char *detail = NULL, *data;
  size_t consumed, n;
  int rc = AH_H1_BODY_DONE;
  if (r->body.framing != AH_H1_FRAMING_NONE) {
    do {
      rc = ah__h1_body_next(&r->body, staged(r), r->rend - r->rstart, &consumed,
                            &data, &n, &detail);
      r->rstart += consumed;
    } while (rc == AH_H1_BODY_DATA ||
             (rc == AH_H1_NEED_MORE && r->rstart < r->rend));
    if (rc == AH_H1_NEED_MORE && r->eof)
      rc = ah__h1_body_eof(&r->body, &detail);
  }
  if (rc != AH_H1_BODY_DONE)
    r->keep_alive = 0;
  finish_body(r);
}

/* Moves the request to the redirect's URL and starts the next exchange
 * inside the operation still pending. */
static void follow(ah__request *r, ah__redirect *plan) {
  char *url = NULL, *host, *target, *method = NULL;
  int rc, left_origin;
  discard_body(r);
  if (r->first_origin == NULL)
    r->first_origin = origin_of(r); /* where the chain started */
  rc = r->first_origin != NULL ? ah__url_format(&plan->url, &url)
                               : AH_ERR_NO_MEMORY;
  host = ah__strdup(plan->url.host);
  target = ah__strdup(plan->url.target);
  if (plan->method != NULL)
    method = ah__strdup(plan->method);
  if (rc != AH_OK || host == NULL || target == NULL ||
      (plan->method != NULL && method == NULL)) {
    ah__free(url);
    ah__free(host);
    ah__free(target);
    ah__free(method);
    fail(r, AH_ERR_NO_MEMORY, "cannot follow the redirect");
    return;
  }
  emit(r, AH_STATUS_REDIRECT, url, strlen(url) + 1);
  ah__free(url);
  ah__free(r->host);
  ah__free(r->target);
  r->host = host;
  r->target = target;
  r->port = plan->url.port;
  if (strcmp(plan->url.scheme, "https") == 0)
    r->flags |= AH_FLAG_SECURE;
  else
    r->flags &= ~AH_FLAG_SECURE;
  if (method != NULL) { /* the body stays behind (RFC 9110 15.4) */
    ah__free(r->method);
    r->method = method;
    r->send_body = NULL;
    r->send_body_len = 0;
  }
  /* A streamed body can only be here if it was empty. */
  r->streaming = 0;
  r->upload_total = r->upload_sent = 0;
  r->redirects++;
  reset_exchange(r);
  left_origin = !at_first_origin(r);
  if (left_origin && r->extra != NULL) {
    char *kept;
    size_t kept_len;
    rc = ah__strip_credential_fields(r->extra, r->extra_len, &kept, &kept_len);
    if (rc != AH_OK) {
      fail(r, rc, "cannot follow the redirect");
      return;
    }
    ah__free(r->extra);
    r->extra = kept;
    r->extra_len = kept_len;
  }
  rc = r->hooks->prepare_hop(r);
  if (rc != AH_OK) {
    fail(r, rc, r->detail);
    return;
  }
  r->expect = wants_expect(r, r->send_body_len);
  rc = build_head(r, r->send_body_len > 0 || method_has_body(r->method),
                  r->send_body_len);
  if (rc != AH_OK) {
    fail(r, rc, "cannot build the redirected request");
    return;
  }
  start_exchange(r);
}

/* Follows the response if it is a redirect to follow. Returns 1 when it
 * took the request over (following, or failed), 0 to deliver it. */
static int take_redirect(ah__request *r) {
  const ah__h1_header *location;
  ah__redirect plan;
  ah__url now;
  const char *detail = NULL;
  int rc;
  if (!ah__redirect_status(r->resp.status))
    return 0;
  location = find_header(r, "Location", 0);
  if (location == NULL)
    return 0; /* nowhere to go: the 3xx is the answer */
  current_url(r, &now);
  rc = ah__redirect_plan(
      &now, r->method, r->resp.status, location->value.ptr, location->value.len,
      (r->flags & AH_FLAG_IGNORE_REDIRECT_TO_HTTP) != 0, &plan, &detail);
  if (r->flags & AH_FLAG_NO_AUTO_REDIRECT) {
    if (rc == AH_OK) { /* kept for AH_INFO_REDIRECT_URL */
      ah__free(r->redirect_url);
      r->redirect_url = NULL;
      ah__url_format(&plan.url, &r->redirect_url);
      ah__redirect_free(&plan);
    }
    return 0;
  }
  if (rc != AH_OK) {
    fail(r, rc, detail != NULL ? detail : "cannot follow the redirect");
    return 1;
  }
  if (r->redirects >= r->max_redirects) {
    ah__redirect_free(&plan);
    failf(r, AH_ERR_TOO_MANY_REDIRECTS, "more than %u redirects",
          (unsigned)r->max_redirects);
    return 1;
  }
  if (plan.method == NULL && r->streaming && r->upload_total > 0) {
    /* 307/308 want the body again, and the caller streamed it. */
    ah__free(r->redirect_url);
    r->redirect_url = NULL;
    ah__url_format(&plan.url, &r->redirect_url);
    ah__redirect_free(&plan);
    failf(r, AH_ERR_REDIRECT_NEEDS_BODY,
          "the server redirects (%d) and wants the body sent again to %.180s",
          r->resp.status, r->redirect_url != NULL ? r->redirect_url : "?");
    return 1;
  }
  follow(r, &plan);
  ah__redirect_free(&plan);
  return 1;
}

/* Sets up decoding when it was asked for and the response is encoded
 * with a coding ahttp knows; any other coding is handed out as it is. */
static int start_decoding(ah__request *r) {
  const ah__h1_header *h;
  int coding, rc;
  if (!r->decoding || r->body.framing == AH_H1_FRAMING_NONE)
    return AH_OK;
  h = find_header(r, "Content-Encoding", 0);
  if (h == NULL || find_header(r, "Content-Encoding", 1) != NULL)
    return AH_OK;
  coding = ah__content_coding(h->value.ptr, h->value.len);
  if (coding != AH_CODING_GZIP && coding != AH_CODING_DEFLATE)
    return AH_OK;
  r->zbuf = ah__malloc(ZBUF_SIZE);
  if (r->zbuf == NULL)
    return AH_ERR_NO_MEMORY;
  r->zstart = r->zend = 0;
  rc = ah__decoder_new(coding, &r->decoder);
  return rc;
}

static void parse_head(ah__request *r) {
  const char *detail = NULL;
  size_t head_len = 0;
  int rc, keep_alive = 0;
  for (;;) {
    rc = parse_at(r, r->rstart, &r->resp, &head_len, &detail);
    if (rc == AH_H1_NEED_MORE) {
      if (r->eof) {
        fail(r, AH_ERR_CONNECTION_ABORTED,
             r->rstart == r->rend
                 ? "the server closed the connection without a response"
                 : "the server closed the connection inside the response "
                   "head");
      }
      return;
    }
    if (rc != AH_H1_OK) {
      fail(r, AH_ERR_PROTOCOL, detail);
      return;
    }
    if (r->resp.status >= 200 || r->resp.status == 101)
      break;
    r->rstart += head_len;
    if (!note_interim(r, r->resp.status))
      return;
  }
  if (r->resp.status == 101) {
    fail(r, AH_ERR_PROTOCOL, "unexpected 101 Switching Protocols");
    return;
  }
  rc = keep_head(r, head_len);
  if (rc != AH_OK) {
    fail(r, rc, "cannot keep the response head");
    return;
  }
  r->rstart += head_len;
  memset(&r->body, 0, sizeof r->body);
  rc = ah__h1_body_init(&r->body, &r->resp, r->method, MAX_TRAILER_BYTES,
                        &keep_alive, &detail);
  if (rc != AH_H1_OK) {
    fail(r, AH_ERR_PROTOCOL, detail);
    return;
  }
  /* A connection whose upload was cut short by an early answer has
   * unsent body bytes owed to it: never reuse it. */
  r->keep_alive = keep_alive && r->upload_sent == r->upload_total &&
                  !r->body_withheld && !(r->flags & AH_FLAG_NO_KEEP_ALIVE);
  ah__conn_read_stop(r->conn);
  store_cookies(r);
  if (r->conn == NULL || take_redirect(r))
    return;
  r->state = AH_REQ_BODY;
  rc = start_decoding(r);
  if (rc != AH_OK) {
    fail(r, rc, "cannot start decoding the body");
    return;
  }
  if (r->body.framing == AH_H1_FRAMING_NONE)
    finish_body(r); /* nothing to read: the connection is free now */
  else
    drop_empty_staging(r);
  complete(r, AH_OK, 0);
}

/* ---- the response body ---- */

/* The body's last byte is in: a reusable connection goes back to the
 * pool, and the staging buffer goes. */
static void release_connection(ah__request *r) {
  ah__conn *c = r->conn;
  r->framing_done = 1;
  r->conn = NULL;
  if (c != NULL) {
    /* Bytes after the body mean the server broke framing or pipelined
     * unasked: either way the connection is not reused. */
    if (r->keep_alive && !r->eof && r->rstart == r->rend)
      ah__conn_release(c);
    else
      ah__conn_close(c);
  }
  ah__free(r->rbuf);
  r->rbuf = NULL;
  r->rcap = r->rstart = r->rend = 0;
}

static void finish_body(ah__request *r) {
  release_connection(r);
  r->state = AH_REQ_DONE;
  ah__decoder_free(r->decoder);
  r->decoder = NULL;
  ah__free(r->zbuf);
  r->zbuf = NULL;
}

/* A NO_WAIT read takes what is there: over TLS that is every record
 * already received, not just the first one. */
static int read_satisfied(const ah__request *r) {
  return r->ufill == r->ulen ||
         (r->no_wait && r->ufill > 0 &&
          (r->conn == NULL || !ah__conn_has_buffered(r->conn)));
}

/* An empty head-sized staging buffer is dropped: a transfer that waits
 * for its next read holds no buffer, and reads of a known length go
 * straight into the caller's buffer anyway. A grown one is kept, as a
 * transfer that needs it needs it for every read. */
static void drop_empty_staging(ah__request *r) {
  if (r->rbuf != NULL && r->rstart == r->rend && r->rcap <= HEAD_BUFFER_SIZE) {
    ah__free(r->rbuf);
    r->rbuf = NULL;
    r->rcap = r->rstart = r->rend = 0;
  }
}

static void finish_read(ah__request *r) {
  size_t n = r->ufill;
  if (r->uout != NULL)
    *r->uout = n;
  if (r->conn != NULL)
    ah__conn_read_stop(r->conn);
  drop_empty_staging(r);
  complete(r, AH_OK, n);
}

/* The framing's next bytes of body: into the caller's buffer, or (when
 * decoding) into zbuf. Feeding no more than fits keeps every span the
 * framing decoder produces within the room left. Returns AH_H1_BODY_DATA
 * after progress, AH_H1_BODY_DONE at the body's end, AH_H1_NEED_MORE, or
 * an error (the request has failed). */
static int next_body_bytes(ah__request *r, char *to, size_t room, size_t *got) {
  const char *detail = NULL, *data;
  size_t consumed, data_len, avail = r->rend - r->rstart;
  int rc = ah__h1_body_next(&r->body, staged(r), avail < room ? avail : room,
                            &consumed, &data, &data_len, &detail);
  r->rstart += consumed;
  *got = 0;
  if (rc == AH_H1_BODY_DATA) {
    memcpy(to, data, data_len);
    *got = data_len;
    return rc;
  }
  if (rc == AH_H1_BODY_DONE)
    return rc;
  if (rc == AH_H1_NEED_MORE) {
    if (r->rstart < r->rend)
      return AH_H1_BODY_DATA; /* the slice was cut to fit; more is here */
    if (!r->eof)
      return rc;
    rc = ah__h1_body_eof(&r->body, &detail);
    if (rc == AH_H1_BODY_DONE)
      return rc;
    fail(r, AH_ERR_CONNECTION_ABORTED, detail);
    return AH_H1_E_SYNTAX;
  }
  fail(r, AH_ERR_PROTOCOL, detail);
  return rc;
}

/* Decoding: zbuf's compressed bytes through the decoder into the read.
 * Returns 1 when the read is over (done or failed), 0 for more input. */
static int inflate_into_read(ah__request *r) {
  const char *detail = NULL;
  size_t used, made, got;
  int finished, rc;
  for (;;) {
    if (read_satisfied(r))
      return 1;
    finished = 0;
    rc = ah__decoder_run(r->decoder, r->zbuf + r->zstart, r->zend - r->zstart,
                         &used, r->ubuf + r->ufill, r->ulen - r->ufill, &made,
                         &finished, &detail);
    if (rc != AH_OK) {
      fail(r, rc, detail);
      return 1;
    }
    r->zstart += used;
    r->ufill += made;
    if (used > 0 || made > 0)
      continue;
    if (r->zstart < r->zend) {
      fail(r, AH_ERR_DECODING, "the decoder stopped making progress");
      return 1;
    }
    if (r->framing_done) { /* all input given, all output taken */
      rc = ah__decoder_end(r->decoder, &detail);
      if (rc != AH_OK) {
        fail(r, rc, detail);
        return 1;
      }
      finish_body(r);
      return 1;
    }
    r->zstart = r->zend = 0;
    rc = next_body_bytes(r, r->zbuf, ZBUF_SIZE, &got);
    if (rc == AH_H1_BODY_DONE)
      release_connection(r);
    else if (rc == AH_H1_NEED_MORE)
      return 0;
    else if (rc != AH_H1_BODY_DATA)
      return 1;
    r->zend = got;
  }
}

/* Decodes buffered bytes into the pending read. Returns 1 when the read
 * is over (done or failed), 0 when more input is needed. */
static int decode_into_read(ah__request *r) {
  size_t got;
  int rc;
  if (r->decoder != NULL)
    return inflate_into_read(r);
  for (;;) {
    if (read_satisfied(r))
      return 1;
    rc = next_body_bytes(r, r->ubuf + r->ufill, r->ulen - r->ufill, &got);
    r->ufill += got;
    if (rc == AH_H1_BODY_DONE) {
      finish_body(r);
      return 1;
    }
    if (rc == AH_H1_NEED_MORE)
      return 0;
    if (rc != AH_H1_BODY_DATA)
      return 1;
  }
}

/* Moves the exchange on with whatever is buffered. */
static void pump(ah__request *r) {
  if (r->state == AH_REQ_AWAIT_HEAD) {
    parse_head(r);
    return;
  }
  if (r->state == AH_REQ_EXPECTING) {
    check_expect(r);
    return;
  }
  if (r->state != AH_REQ_BODY || r->op != AH_OP_READ)
    return;
  if (decode_into_read(r)) {
    if (r->op == AH_OP_READ)
      finish_read(r);
    return;
  }
  /* The staging buffer, if one is needed, comes with the read (on_alloc):
   * a read into the caller's buffer needs none. */
  if (ah__conn_read_start(r->conn, 1) != AH_OK)
    fail(r, AH_ERR_CONNECTION_ABORTED, "cannot read from the connection");
}

int ah__request_read(ah__request *r, void *buf, size_t len, size_t *out,
                     unsigned flags) {
  if (out == NULL || (buf == NULL && len > 0))
    return AH_ERR_INVALID_PARAMETER;
  if (r->op != AH_OP_NONE)
    return AH_ERR_INCORRECT_HANDLE_STATE;
  if (r->state == AH_REQ_DONE) {
    *out = 0;
    return AH_OK;
  }
  if (r->state == AH_REQ_FAILED)
    return r->error;
  if (r->state != AH_REQ_BODY)
    return AH_ERR_INCORRECT_HANDLE_STATE;
  if (len == 0) {
    *out = 0;
    return AH_OK;
  }
  r->ubuf = buf;
  r->ulen = len;
  r->ufill = 0;
  r->uout = out;
  r->no_wait = (flags & AH_READ_NO_WAIT) != 0;
  /* First from buffered bytes, with no operation pending: a read that
   * ends here returns its result and has no completion callback. */
  if (decode_into_read(r)) {
    if (r->state == AH_REQ_FAILED)
      return r->error;
    *out = r->ufill;
    drop_empty_staging(r);
    return AH_OK;
  }
  if (ah__conn_read_start(r->conn, 1) != AH_OK) {
    fail(r, AH_ERR_CONNECTION_ABORTED, "cannot read from the connection");
    return AH_ERR_CONNECTION_ABORTED;
  }
  r->op = AH_OP_READ;
  announce_receiving(r);
  return AH_IO_PENDING;
}

void ah__request_cancel(ah__request *r) {
  enum ah__request_op op = r->op;
  r->state = AH_REQ_CANCELLED;
  if (op != AH_OP_NONE) {
    ah__request_set_error(r, AH_ERR_OPERATION_CANCELLED,
                          "the handle was closed");
    complete(r, AH_ERR_OPERATION_CANCELLED, 0);
  }
  drop_connection(r);
}

/* ---- ah_query_info ---- */

static int copy_text(const char *s, size_t n, void *buf, size_t *len) {
  if (buf == NULL || *len < n + 1) {
    *len = n + 1;
    return AH_ERR_INSUFFICIENT_BUFFER;
  }
  memcpy(buf, s, n);
  ((char *)buf)[n] = '\0';
  *len = n;
  return AH_OK;
}

static int copy_number(uint64_t v, size_t size, void *buf, size_t *len) {
  if (buf == NULL || *len < size) {
    *len = size;
    return AH_ERR_INSUFFICIENT_BUFFER;
  }
  if (size == sizeof(uint32_t)) {
    uint32_t v32 = (uint32_t)v;
    memcpy(buf, &v32, sizeof v32);
  } else {
    memcpy(buf, &v, sizeof v);
  }
  *len = size;
  return AH_OK;
}

static int query_raw_headers(const ah__request *r, void *buf, size_t *len) {
  size_t need = 0, i, off = 0;
  char line[64];
  int n = snprintf(line, sizeof line, "HTTP/1.%d %03d ", r->resp.minor_version,
                   r->resp.status);
  char *out = buf;
  need = (size_t)n + r->resp.reason.len + 2;
  for (i = 0; i < r->resp.num_headers; i++)
    need += r->resp.headers[i].name.len + 2 + r->resp.headers[i].value.len + 2;
  need += 2;
  if (buf == NULL || *len < need + 1) {
    *len = need + 1;
    return AH_ERR_INSUFFICIENT_BUFFER;
  }
#define PUT(p, l)                                                              \
  do {                                                                         \
    memcpy(out + off, (p), (l));                                               \
    off += (l);                                                                \
  } while (0)
  PUT(line, (size_t)n);
  PUT(r->resp.reason.ptr, r->resp.reason.len);
  PUT("\r\n", 2);
  for (i = 0; i < r->resp.num_headers; i++) {
    PUT(r->resp.headers[i].name.ptr, r->resp.headers[i].name.len);
    PUT(": ", 2);
    PUT(r->resp.headers[i].value.ptr, r->resp.headers[i].value.len);
    PUT("\r\n", 2);
  }
  PUT("\r\n", 2);
#undef PUT
  out[off] = '\0';
  *len = off;
  return AH_OK;
}

static int parse_u64(ah__h1_str s, uint64_t *out) {
  uint64_t v = 0;
  size_t i;
  if (s.len == 0)
    return 0;
  for (i = 0; i < s.len; i++) {
    if (s.ptr[i] < '0' || s.ptr[i] > '9' || v > (UINT64_MAX - 9) / 10)
      return 0;
    v = v * 10 + (uint64_t)(s.ptr[i] - '0');
  }
  *out = v;
  return 1;
}

int ah__request_query(ah__request *r, int info, const char *name,
                      unsigned index, void *buf, size_t *len) {
  const ah__h1_header *h;
  char text[32];
  uint64_t v;
  if (len == NULL)
    return AH_ERR_INVALID_PARAMETER;
  if (info == AH_INFO_REQUEST_METHOD)
    return copy_text(r->method, strlen(r->method), buf, len);
  if (info == AH_INFO_URL) {
    ah__url u;
    char *url = NULL;
    int rc;
    current_url(r, &u);
    rc = ah__url_format(&u, &url);
    if (rc == AH_OK)
      rc = copy_text(url, strlen(url), buf, len);
    ah__free(url);
    return rc;
  }
  if (info == AH_INFO_REDIRECT_URL) {
    if (r->redirect_url == NULL)
      return AH_ERR_HEADER_NOT_FOUND;
    return copy_text(r->redirect_url, strlen(r->redirect_url), buf, len);
  }
  if (r->resp_head == NULL)
    return AH_ERR_INCORRECT_HANDLE_STATE;
  switch (info) {
  case AH_INFO_STATUS_CODE:
    return copy_number((uint64_t)r->resp.status, sizeof(uint32_t), buf, len);
  case AH_INFO_STATUS_TEXT:
    return copy_text(r->resp.reason.ptr, r->resp.reason.len, buf, len);
  case AH_INFO_VERSION:
    snprintf(text, sizeof text, "HTTP/1.%d", r->resp.minor_version);
    return copy_text(text, strlen(text), buf, len);
  case AH_INFO_RAW_HEADERS:
    return query_raw_headers(r, buf, len);
  case AH_INFO_HEADER:
    if (name == NULL)
      return AH_ERR_INVALID_PARAMETER;
    h = find_header(r, name, index);
    if (h == NULL)
      return AH_ERR_HEADER_NOT_FOUND;
    return copy_text(h->value.ptr, h->value.len, buf, len);
  case AH_INFO_CONTENT_LENGTH:
    h = find_header(r, "Content-Length", 0);
    if (h == NULL || !parse_u64(h->value, &v))
      return AH_ERR_HEADER_NOT_FOUND;
    return copy_number(v, sizeof(uint64_t), buf, len);
  default:
    return AH_ERR_INVALID_PARAMETER;
  }
}
