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
#include "util/alloc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADERS 256  /* fields per head, at most */
#define FIRST_HEADERS 24 /* most heads have fewer */
#define MAX_TRAILER_BYTES 65536

static const ah__conn_ops conn_ops;
static void start_connection(ah__request *r, int fresh);
static void pump(ah__request *r);
static void finish_body(ah__request *r);

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
  r->host = ah__strdup(p->host);
  r->user_agent = ah__strdup(p->user_agent);
  if (r->method == NULL || r->target == NULL || r->host == NULL ||
      (p->user_agent != NULL && r->user_agent == NULL)) {
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
  ah__proxy_free(&r->proxy);
  memset(r, 0, sizeof *r);
}

static void set_detail(ah__request *r, int err, const char *detail) {
  r->error = err;
  snprintf(r->detail, sizeof r->detail, "%s", detail ? detail : "");
}

/* Ends the exchange with `err`: the connection cannot be trusted any more. */
static void fail(ah__request *r, int err, const char *detail) {
  set_detail(r, err, detail);
  r->state = AH_REQ_FAILED;
  drop_connection(r);
  if (r->op != AH_OP_NONE)
    complete(r, err, 0);
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

static int build_head(ah__request *r, const char *headers, size_t headers_len,
                      int has_body, uint64_t content_length) {
  ah__h1_request req;
  char host[300];
  char absolute[2400];
  const char *detail = NULL;
  int bracket = strchr(r->host, ':') != NULL && r->host[0] != '[';
  if (headers != NULL && headers_len > 0 &&
      ah__h1_validate_extra_headers(headers, headers_len, &detail) !=
          AH_H1_OK) {
    set_detail(r, AH_ERR_INVALID_PARAMETER, detail);
    return AH_ERR_INVALID_PARAMETER;
  }
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
    int n = snprintf(absolute, sizeof absolute, "http://%s%s", host, r->target);
    if (n < 0 || (size_t)n >= sizeof absolute)
      return AH_ERR_INVALID_PARAMETER;
    req.target = absolute;
    req.proxy_authorization = r->proxy.authorization;
  }
  req.host = host;
  req.user_agent = r->user_agent;
  req.extra = headers;
  req.extra_len = headers != NULL ? headers_len : 0;
  req.has_body = has_body;
  req.content_length = content_length;
  req.close = (r->flags & AH_FLAG_NO_KEEP_ALIVE) != 0;
  ah__free(r->head);
  r->head_len = ah__h1_request_size(&req);
  r->head = ah__malloc(r->head_len);
  if (r->head == NULL)
    return AH_ERR_NO_MEMORY;
  if (ah__h1_write_request(&req, r->head) != r->head_len)
    return AH_ERR_INTERNAL;
  return AH_OK;
}

/* ---- sending ---- */

static void send_head(ah__request *r) {
  ah__iov iov[2];
  unsigned n = 0;
  int rc;
  emit(r, AH_STATUS_SENDING_REQUEST, NULL, 0);
  if (r->conn == NULL)
    return; /* cancelled from the status callback path */
  iov[n].base = r->head;
  iov[n++].len = r->head_len;
  if (!r->streaming && r->send_body_len > 0) {
    iov[n].base = r->send_body;
    iov[n++].len = r->send_body_len;
  }
  rc = ah__conn_write(r->conn, iov, n);
  if (rc != AH_OK)
    fail(r, rc, "cannot write to the connection");
}

static int begin_send(ah__request *r) {
  r->state = AH_REQ_SENDING;
  r->op = AH_OP_SEND;
  r->got_response_bytes = 0;
  if (r->detecting_proxy)
    emit(r, AH_STATUS_DETECTING_PROXY, NULL, 0);
  /* Even a failure to start is reported through the completion, as the
   * operation is pending from here on. */
  start_connection(r, 0);
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
  rc = build_head(r, headers, headers_len,
                  body_len > 0 || method_has_body(r->method), body_len);
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
  rc = build_head(r, headers, headers_len, 1, total);
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
    set_detail(r, AH_ERR_CONNECTION_ABORTED,
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
  rc = ah__conn_write(r->conn, &iov, 1);
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
 * to catch an answer that arrives while an upload is still going. */
static int start_receiving(ah__request *r, int timed) {
  int rc = ensure_rbuf(r);
  if (rc == AH_OK && r->headers == NULL) {
    r->headers = ah__malloc(FIRST_HEADERS * sizeof *r->headers);
    if (r->headers == NULL)
      rc = AH_ERR_NO_MEMORY;
    r->header_cap = FIRST_HEADERS;
  }
  if (rc == AH_OK)
    rc = ah__conn_read_start(r->conn, timed);
  return rc;
}

static void parse_head(ah__request *r);

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
    snprintf(r->detail, sizeof r->detail,
             "%llu of %llu announced body bytes were written",
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
    set_detail(r, AH_ERR_CONNECTION_ABORTED,
               "the server answered before the whole body was sent");
    complete(r, AH_ERR_CONNECTION_ABORTED, 0);
    return;
  }
  if (err != AH_OK) {
    if (r->op == AH_OP_SEND && can_retry(r)) {
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
  /* The head (and a small body) went out. */
  emit_count(r, AH_STATUS_REQUEST_SENT,
             r->head_len + (r->streaming ? 0 : r->send_body_len));
  if (r->conn == NULL)
    return;
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
  if (r->state == AH_REQ_BODY && r->op == AH_OP_READ && r->rstart == r->rend) {
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
      (r->state == AH_REQ_AWAIT_HEAD || r->state == AH_REQ_UPLOADING) &&
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

static const ah__conn_ops conn_ops = {on_conn_status, on_connected, on_alloc,
                                      on_data,        on_read_end,  on_written};

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
  rebase(&r->resp.reason, from, r->resp_head);
  for (i = 0; i < r->resp.num_headers; i++) {
    rebase(&r->resp.headers[i].name, from, r->resp_head);
    rebase(&r->resp.headers[i].value, from, r->resp_head);
  }
  return AH_OK;
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
    /* RFC 9110 15.2: 1xx responses are interim; the final one follows. */
    {
      uint32_t code = (uint32_t)r->resp.status;
      r->rstart += head_len;
      emit(r, AH_STATUS_INTERMEDIATE_RESPONSE, &code, sizeof code);
      if (r->conn == NULL)
        return;
    }
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
                  !(r->flags & AH_FLAG_NO_KEEP_ALIVE);
  r->state = AH_REQ_BODY;
  ah__conn_read_stop(r->conn);
  if (r->body.framing == AH_H1_FRAMING_NONE)
    finish_body(r); /* nothing to read: the connection is free now */
  complete(r, AH_OK, 0);
}

/* ---- the response body ---- */

static void finish_body(ah__request *r) {
  ah__conn *c = r->conn;
  r->state = AH_REQ_DONE;
  r->conn = NULL;
  if (c == NULL)
    return;
  /* Bytes after the body mean the server broke framing or pipelined
   * unasked: either way the connection is not reused. */
  if (r->keep_alive && !r->eof && r->rstart == r->rend)
    ah__conn_release(c);
  else
    ah__conn_close(c);
  ah__free(r->rbuf);
  r->rbuf = NULL;
  r->rcap = r->rstart = r->rend = 0;
}

static int read_satisfied(const ah__request *r) {
  return r->ufill == r->ulen || (r->no_wait && r->ufill > 0);
}

static void finish_read(ah__request *r) {
  size_t n = r->ufill;
  if (r->uout != NULL)
    *r->uout = n;
  if (r->conn != NULL)
    ah__conn_read_stop(r->conn);
  complete(r, AH_OK, n);
}

/* Decodes buffered bytes into the pending read. Returns 1 when the read
 * is over (done or failed), 0 when more input is needed. */
static int decode_into_read(ah__request *r) {
  const char *detail = NULL, *data;
  size_t consumed, data_len, avail, space;
  int rc;
  for (;;) {
    if (read_satisfied(r))
      return 1;
    avail = r->rend - r->rstart;
    space = r->ulen - r->ufill;
    /* Feeding no more than fits keeps every produced span within it. */
    rc = ah__h1_body_next(&r->body, r->rbuf + r->rstart,
                          avail < space ? avail : space, &consumed, &data,
                          &data_len, &detail);
    r->rstart += consumed;
    if (rc == AH_H1_BODY_DATA) {
      memcpy(r->ubuf + r->ufill, data, data_len);
      r->ufill += data_len;
      continue;
    }
    if (rc == AH_H1_BODY_DONE) {
      finish_body(r);
      return 1;
    }
    if (rc == AH_H1_NEED_MORE) {
      if (r->rstart < r->rend)
        continue; /* the slice was cut to fit; more input is buffered */
      if (!r->eof)
        return 0;
      rc = ah__h1_body_eof(&r->body, &detail);
      if (rc == AH_H1_BODY_DONE) {
        finish_body(r);
        return 1;
      }
      fail(r, AH_ERR_CONNECTION_ABORTED, detail);
      return 1;
    }
    fail(r, AH_ERR_PROTOCOL, detail);
    return 1;
  }
}

/* Moves the exchange on with whatever is buffered. */
static void pump(ah__request *r) {
  if (r->state == AH_REQ_AWAIT_HEAD) {
    parse_head(r);
    return;
  }
  if (r->state != AH_REQ_BODY || r->op != AH_OP_READ)
    return;
  if (decode_into_read(r)) {
    if (r->op == AH_OP_READ)
      finish_read(r);
    return;
  }
  if (ensure_rbuf(r) != AH_OK) {
    fail(r, AH_ERR_NO_MEMORY, "cannot allocate a read buffer");
    return;
  }
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
    return AH_OK;
  }
  if (ensure_rbuf(r) != AH_OK) {
    fail(r, AH_ERR_NO_MEMORY, "cannot allocate a read buffer");
    return AH_ERR_NO_MEMORY;
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
    set_detail(r, AH_ERR_OPERATION_CANCELLED, "the handle was closed");
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

static const ah__h1_header *find_header(const ah__request *r, const char *name,
                                        unsigned index) {
  size_t i;
  for (i = 0; i < r->resp.num_headers; i++)
    if (ah__h1_str_ieq(r->resp.headers[i].name, name) && index-- == 0)
      return &r->resp.headers[i];
  return NULL;
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
    char url[2048];
    int bracket = strchr(r->host, ':') != NULL && r->host[0] != '[';
    const char *scheme = is_secure(r) ? "https" : "http";
    int n =
        r->port == default_port(r)
            ? snprintf(url, sizeof url, bracket ? "%s://[%s]%s" : "%s://%s%s",
                       scheme, r->host, r->target)
            : snprintf(url, sizeof url,
                       bracket ? "%s://[%s]:%u%s" : "%s://%s:%u%s", scheme,
                       r->host, (unsigned)r->port, r->target);
    if (n < 0 || (size_t)n >= sizeof url)
      return AH_ERR_INTERNAL;
    return copy_text(url, (size_t)n, buf, len);
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
