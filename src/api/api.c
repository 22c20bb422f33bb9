/*
 * api.c - the public calls of ahttp.h. Each packs its arguments into an
 * ah__call and runs on the session's I/O thread through ah__invoke; the
 * do_* functions below run there, with the handle already checked live.
 */
#include "api/internal.h"
#include "http1/h1.h"
#include "request/cookie_jar.h"
#include "util/alloc.h"
#include "util/proxy.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- glue between the request layer and its handle ---- */

static ah__object *owner_of(ah__request *r) {
  return (ah__object *)((char *)r - offsetof(ah__request_object, req));
}

static int hook_wants(ah__request *r, int status) {
  return ah__wants(owner_of(r), status);
}

static void hook_status(ah__request *r, int status, const void *info,
                        size_t len) {
  ah__emit(owner_of(r), status, info, len);
}

static void hook_complete(ah__request *r, int err, uintptr_t result) {
  ah__complete(owner_of(r), err, result);
}

static int hook_prepare_hop(ah__request *r);

static const ah__request_hooks request_hooks = {
    hook_wants, hook_status, hook_complete, hook_prepare_hop};

/* ---- helpers ---- */

static int has_forbidden_bytes(const char *s, const char *forbidden) {
  return strpbrk(s, forbidden) != NULL;
}

static int init_child(ah__object *child, ah__object *parent, int type,
                      void *context) {
  int rc;
  child->type = type;
  child->session = parent->session;
  child->cb = parent->cb;
  child->context = context != NULL ? context : parent->context;
  rc = ah__options_copy(&child->opts, &parent->opts);
  if (rc != AH_OK)
    return rc;
  return ah__handles_add(child, &child->handle);
}

/* ---- ah_set_status_callback ---- */

static int do_set_callback(ah__call *c, ah__object *obj) {
  obj->cb = (ah_status_cb)(uintptr_t)c->ptr;
  return AH_OK;
}

int ah_set_status_callback(ah_handle handle, ah_status_cb cb) {
  ah__call c;
  memset(&c, 0, sizeof c);
  c.fn = do_set_callback;
  c.handle = handle;
  c.ptr = (void *)(uintptr_t)cb;
  return ah__invoke(&c);
}

/* ---- cookie files ---- */

static int do_cookie_file(ah__call *c, ah__object *obj) {
  ah__session *s = obj->session;
  int64_t now = (int64_t)time(NULL);
  int rc;
  if (obj->type != AH_HANDLE_TYPE_SESSION)
    return AH_ERR_INCORRECT_HANDLE_TYPE;
  if (s->jar == NULL && ah__cookie_jar_new(&s->jar) != AH_OK)
    return AH_ERR_NO_MEMORY;
  s->detail[0] = '\0';
  rc = c->i1 ? ah__cookie_jar_save(s->jar, c->s1, now, s->detail,
                                   sizeof s->detail)
             : ah__cookie_jar_load(s->jar, c->s1, now, s->detail,
                                   sizeof s->detail);
  s->error = rc;
  return rc;
}

static int cookie_file(ah_handle session, const char *path, int save) {
  ah__call c;
  if (path == NULL || path[0] == '\0')
    return ah__handles_get(session) == NULL ? AH_ERR_INVALID_HANDLE
                                            : AH_ERR_INVALID_PARAMETER;
  memset(&c, 0, sizeof c);
  c.fn = do_cookie_file;
  c.handle = session;
  c.s1 = path;
  c.i1 = save;
  return ah__invoke(&c);
}

int ah_cookies_load(ah_handle session, const char *path) {
  return cookie_file(session, path, 0);
}

int ah_cookies_save(ah_handle session, const char *path) {
  return cookie_file(session, path, 1);
}

/* ---- ah_connect ---- */

static int do_connect(ah__call *c, ah__object *parent) {
  ah__connect *conn;
  int rc;
  if (parent->type != AH_HANDLE_TYPE_SESSION)
    return AH_ERR_INCORRECT_HANDLE_TYPE;
  if (ah__reserve_events(parent->session) != AH_OK)
    return AH_ERR_NO_MEMORY;
  conn = ah__calloc(1, sizeof *conn);
  if (conn == NULL) {
    ah__release_events(parent->session);
    return AH_ERR_NO_MEMORY;
  }
  conn->host = ah__strdup(c->s1);
  conn->port = c->port; /* 0: the default of each request's scheme */
  conn->user = ah__strdup(c->s2);
  conn->password = ah__strdup((const char *)c->p1);
  rc = AH_ERR_NO_MEMORY;
  if (conn->host == NULL || (c->s2 != NULL && conn->user == NULL) ||
      (c->p1 != NULL && conn->password == NULL))
    goto fail;
  rc = init_child(&conn->base, parent, AH_HANDLE_TYPE_CONNECT, c->ptr);
  if (rc != AH_OK)
    goto fail;
  ah__adopt(parent, &conn->base);
  *(ah_handle *)c->out = conn->base.handle;
  return AH_OK;
fail:
  ah__release_events(parent->session);
  ah__options_free(&conn->base.opts);
  ah__free(conn->host);
  ah__free(conn->user);
  ah__free(conn->password);
  ah__free(conn);
  return rc;
}

static int valid_host(const char *host) {
  size_t len;
  if (host == NULL || host[0] == '\0')
    return 0;
  len = strlen(host);
  if (len > 255 || has_forbidden_bytes(host, " \t\r\n/?#@\\"))
    return 0;
  if (host[0] == '[')
    return host[len - 1] == ']';
  return 1;
}

int ah_connect(ah_handle session, const char *host, uint16_t port,
               const char *user, const char *password, unsigned flags,
               void *context, ah_handle *out) {
  ah__call c;
  if (out == NULL)
    return AH_ERR_INVALID_PARAMETER;
  *out = NULL;
  if (!valid_host(host) || flags != 0 ||
      (user != NULL && has_forbidden_bytes(user, "\r\n")) ||
      (password != NULL && has_forbidden_bytes(password, "\r\n"))) {
    /* Still an invalid handle first, as every call reports it. */
    return ah__handles_get(session) == NULL ? AH_ERR_INVALID_HANDLE
                                            : AH_ERR_INVALID_PARAMETER;
  }
  memset(&c, 0, sizeof c);
  c.fn = do_connect;
  c.handle = session;
  c.s1 = host;
  c.s2 = user;
  c.p1 = password;
  c.port = port;
  c.ptr = context;
  c.out = out;
  return ah__invoke(&c);
}

/* ---- ah_open_request ---- */

static int do_open_request(ah__call *c, ah__object *parent) {
  ah__connect *conn = (ah__connect *)parent;
  ah__request_object *ro;
  ah__request_params p;
  int rc;
  if (parent->type != AH_HANDLE_TYPE_CONNECT)
    return AH_ERR_INCORRECT_HANDLE_TYPE;
  if (parent->session->jar == NULL &&
      ah__cookie_jar_new(&parent->session->jar) != AH_OK)
    return AH_ERR_NO_MEMORY;
  if (ah__reserve_events(parent->session) != AH_OK)
    return AH_ERR_NO_MEMORY;
  ro = ah__calloc(1, sizeof *ro);
  if (ro == NULL) {
    ah__release_events(parent->session);
    return AH_ERR_NO_MEMORY;
  }
  memset(&p, 0, sizeof p);
  p.io = parent->session->io;
  p.hooks = &request_hooks;
  p.method = c->s1;
  p.target = c->s2;
  p.host = conn->host;
  p.port = conn->port;
  p.flags = c->flags;
  p.user_agent = parent->opts.user_agent;
  p.user = conn->user;
  p.password = conn->password;
  p.jar = parent->session->jar;
  p.read_buffer_size = parent->opts.read_buffer_size;
  p.max_header_bytes = parent->opts.max_header_bytes;
  p.timeouts.connect_ms = parent->opts.connect_timeout;
  p.timeouts.send_ms = parent->opts.send_timeout;
  p.timeouts.receive_ms = parent->opts.receive_timeout;
  rc = ah__request_init(&ro->req, &p);
  if (rc != AH_OK) {
    ah__release_events(parent->session);
    ah__free(ro);
    return rc;
  }
  ro->req.tls.security_flags = parent->opts.security_flags;
  rc = init_child(&ro->base, parent, AH_HANDLE_TYPE_REQUEST, c->ptr);
  if (rc != AH_OK) {
    ah__release_events(parent->session);
    ah__request_dispose(&ro->req);
    ah__options_free(&ro->base.opts);
    ah__free(ro);
    return rc;
  }
  ah__adopt(parent, &ro->base);
  *(ah_handle *)c->out = ro->base.handle;
  return AH_OK;
}

static int valid_target(const char *t) {
  if (strcmp(t, "*") == 0)
    return 1;
  return t[0] == '/' && !has_forbidden_bytes(t, " \t\r\n");
}

int ah_open_request(ah_handle connect, const char *method, const char *target,
                    unsigned flags, void *context, ah_handle *out) {
  const unsigned known = AH_FLAG_RELOAD | AH_FLAG_NO_CACHE_WRITE |
                         AH_FLAG_SECURE | AH_FLAG_NO_AUTO_REDIRECT |
                         AH_FLAG_KEEP_CONNECTION | AH_FLAG_NO_KEEP_ALIVE |
                         AH_FLAG_IGNORE_REDIRECT_TO_HTTP | AH_FLAG_NO_COOKIES |
                         AH_FLAG_NO_AUTH;
  ah__call c;
  if (out == NULL)
    return AH_ERR_INVALID_PARAMETER;
  *out = NULL;
  if (method == NULL)
    method = "GET";
  if (target == NULL)
    target = "/";
  if (ah__handles_get(connect) == NULL)
    return AH_ERR_INVALID_HANDLE;
  if (!ah__h1_is_token(method) || !valid_target(target) ||
      (flags & ~known) != 0)
    return AH_ERR_INVALID_PARAMETER;
  memset(&c, 0, sizeof c);
  c.fn = do_open_request;
  c.handle = connect;
  c.s1 = method;
  c.s2 = target;
  c.flags = flags;
  c.ptr = context;
  c.out = out;
  return ah__invoke(&c);
}

/* ---- request operations ---- */

static ah__request *request_of(ah__object *obj) {
  return obj->type == AH_HANDLE_TYPE_REQUEST ? &((ah__request_object *)obj)->req
                                             : NULL;
}

/*
 * Runs one request operation. In a synchronous session the caller waits
 * for the completion, so it is registered before the operation starts:
 * an operation may complete (through the event queue) before it returns.
 */
static int run_request_op(ah__call *c, ah__object *obj,
                          int (*op)(ah__request *r, ah__call *c)) {
  ah__request_object *ro;
  int armed = 0, rc;
  if (obj->type != AH_HANDLE_TYPE_REQUEST)
    return AH_ERR_INCORRECT_HANDLE_TYPE;
  ro = (ah__request_object *)obj;
  if (!(obj->session->flags & AH_FLAG_ASYNC) && ro->req.op == AH_OP_NONE &&
      ro->sync_call == NULL) {
    ro->sync_call = c;
    armed = 1;
  }
  rc = op(&ro->req, c);
  if (rc != AH_IO_PENDING && armed)
    ro->sync_call = NULL;
  return rc;
}

/* An HTTPS request gets its session's TLS context for its options just
 * before it is sent (and again after a redirect to https), so options set
 * until then count. */
static int choose_tls(ah__object *obj, ah__request *r) {
  char why[256] = "";
  int rc;
  if (!(r->flags & AH_FLAG_SECURE) || r->tls.ctx != NULL)
    return AH_OK;
  rc = ah__session_tls_ctx(obj, &r->tls.ctx, why, sizeof why);
  if (rc != AH_OK)
    ah__request_set_error(r, rc, why);
  return rc;
}

/* Decides whether and through which proxy the request goes (the handle's
 * override, else the session's access type), before it is sent and again
 * for each redirect. */
static int choose_proxy(ah__object *obj, ah__request *r) {
  ah__session *s = obj->session;
  const char *spec = NULL, *bypass = NULL;
  int rc;
  ah__proxy_free(&r->proxy);
  r->detecting_proxy = 0;
  if (obj->opts.proxy != NULL) {
    spec = obj->opts.proxy;
    bypass = obj->opts.proxy_bypass;
  } else if (s->access_type == AH_OPEN_TYPE_PRECONFIG) {
    r->detecting_proxy = 1;
    spec = (r->flags & AH_FLAG_SECURE) ? s->env_https_proxy : s->env_http_proxy;
    bypass = obj->opts.proxy_bypass != NULL ? obj->opts.proxy_bypass
                                            : s->env_no_proxy;
  }
  if (spec == NULL || spec[0] == '\0' ||
      (bypass != NULL && ah__proxy_bypassed(bypass, r->host, r->port)))
    return AH_OK;
  rc = ah__proxy_parse(spec, &r->proxy);
  if (rc != AH_OK) {
    char text[256];
    snprintf(text, sizeof text, "invalid proxy '%s'", spec);
    ah__request_set_error(r, rc, text);
  }
  return rc;
}

static int hook_prepare_hop(ah__request *r) {
  ah__object *obj = owner_of(r);
  int rc = choose_proxy(obj, r);
  return rc != AH_OK ? rc : choose_tls(obj, r);
}

/* Just before a request is sent: the options that shape its exchanges,
 * its proxy and its TLS context. */
static int prepare(ah__object *obj) {
  ah__request *r = request_of(obj);
  if (r == NULL || r->state != AH_REQ_IDLE)
    return AH_OK; /* the operation itself reports what is wrong */
  r->max_redirects = obj->opts.max_redirects;
  r->decoding = obj->opts.decoding != 0;
  r->expect_size = obj->opts.expect_continue_size;
  r->expect_timeout = obj->opts.expect_continue_timeout;
  return hook_prepare_hop(r);
}

static int op_send(ah__request *r, ah__call *c) {
  return ah__request_send(r, c->s1, c->n1, c->p1, (size_t)c->u64);
}

static int do_send(ah__call *c, ah__object *obj) {
  int rc = prepare(obj);
  return rc != AH_OK ? rc : run_request_op(c, obj, op_send);
}

int ah_send_request(ah_handle request, const char *headers, size_t headers_len,
                    const void *body, size_t body_len) {
  ah__call c;
  memset(&c, 0, sizeof c);
  c.fn = do_send;
  c.handle = request;
  c.blocking = 1;
  c.s1 = headers;
  c.n1 = headers_len;
  c.p1 = body;
  c.u64 = body_len;
  return ah__invoke(&c);
}

static int op_send_ex(ah__request *r, ah__call *c) {
  return ah__request_send_ex(r, c->s1, c->n1, c->u64);
}

static int do_send_ex(ah__call *c, ah__object *obj) {
  int rc = prepare(obj);
  return rc != AH_OK ? rc : run_request_op(c, obj, op_send_ex);
}

int ah_send_request_ex(ah_handle request, const char *headers,
                       size_t headers_len, uint64_t total_length) {
  ah__call c;
  memset(&c, 0, sizeof c);
  c.fn = do_send_ex;
  c.handle = request;
  c.blocking = 1;
  c.s1 = headers;
  c.n1 = headers_len;
  c.u64 = total_length;
  return ah__invoke(&c);
}

static int op_write(ah__request *r, ah__call *c) {
  return ah__request_write(r, c->p1, c->n1, c->n_out);
}

static int do_write(ah__call *c, ah__object *obj) {
  return run_request_op(c, obj, op_write);
}

int ah_write(ah_handle request, const void *buf, size_t len, size_t *written) {
  ah__call c;
  memset(&c, 0, sizeof c);
  c.fn = do_write;
  c.handle = request;
  c.blocking = 1;
  c.p1 = buf;
  c.n1 = len;
  c.n_out = written;
  return ah__invoke(&c);
}

static int op_end(ah__request *r, ah__call *c) {
  (void)c;
  return ah__request_end(r);
}

static int do_end(ah__call *c, ah__object *obj) {
  return run_request_op(c, obj, op_end);
}

int ah_end_request(ah_handle request) {
  ah__call c;
  memset(&c, 0, sizeof c);
  c.fn = do_end;
  c.handle = request;
  c.blocking = 1;
  return ah__invoke(&c);
}

static int op_read(ah__request *r, ah__call *c) {
  return ah__request_read(r, c->ptr, c->n1, c->n_out, c->flags);
}

static int do_read(ah__call *c, ah__object *obj) {
  return run_request_op(c, obj, op_read);
}

int ah_read_ex(ah_handle request, void *buf, size_t len, size_t *bytes_read,
               unsigned flags) {
  ah__call c;
  if ((flags & ~AH_READ_NO_WAIT) != 0)
    return ah__handles_get(request) == NULL ? AH_ERR_INVALID_HANDLE
                                            : AH_ERR_INVALID_PARAMETER;
  memset(&c, 0, sizeof c);
  c.fn = do_read;
  c.handle = request;
  c.blocking = 1;
  c.ptr = buf;
  c.n1 = len;
  c.n_out = bytes_read;
  c.flags = flags;
  return ah__invoke(&c);
}

int ah_read(ah_handle request, void *buf, size_t len, size_t *bytes_read) {
  return ah_read_ex(request, buf, len, bytes_read, 0);
}

static int do_query(ah__call *c, ah__object *obj) {
  ah__request *r = request_of(obj);
  if (r == NULL)
    return AH_ERR_INCORRECT_HANDLE_TYPE;
  return ah__request_query(r, c->i1, c->s1, c->flags, c->ptr, c->n_out);
}

int ah_query_info(ah_handle request, int info, const char *name, unsigned index,
                  void *buf, size_t *len) {
  ah__call c;
  memset(&c, 0, sizeof c);
  c.fn = do_query;
  c.handle = request;
  c.i1 = info;
  c.s1 = name;
  c.flags = index;
  c.ptr = buf;
  c.n_out = len;
  return ah__invoke(&c);
}

/* ---- options ---- */

static int do_set_option(ah__call *c, ah__object *obj) {
  return ah__set_option(obj, c->i1, c->p1, c->n1);
}

int ah_set_option(ah_handle handle, int option, const void *value,
                  size_t size) {
  ah__call c;
  memset(&c, 0, sizeof c);
  c.fn = do_set_option;
  c.handle = handle;
  c.i1 = option;
  c.p1 = value;
  c.n1 = size;
  return ah__invoke(&c);
}

static int do_get_option(ah__call *c, ah__object *obj) {
  return ah__get_option(obj, c->i1, c->ptr, c->n_out);
}

int ah_get_option(ah_handle handle, int option, void *value, size_t *size) {
  ah__call c;
  memset(&c, 0, sizeof c);
  c.fn = do_get_option;
  c.handle = handle;
  c.i1 = option;
  c.ptr = value;
  c.n_out = size;
  return ah__invoke(&c);
}

/* ---- errors ---- */

static int do_last_error(ah__call *c, ah__object *obj) {
  ah__request *r = request_of(obj);
  const char *text = "";
  int code = AH_OK;
  if (r != NULL) {
    text = r->detail != NULL ? r->detail : "";
    code = r->error;
  } else if (obj->type == AH_HANDLE_TYPE_SESSION) {
    text = obj->session->detail;
    code = obj->session->error;
  }
  if (c->ptr != NULL && c->n1 > 0)
    snprintf(c->ptr, c->n1, "%s", text);
  return code;
}

int ah_last_error_detail(ah_handle handle, char *buf, size_t len) {
  ah__call c;
  memset(&c, 0, sizeof c);
  c.fn = do_last_error;
  c.handle = handle;
  c.ptr = buf;
  c.n1 = len;
  if (buf != NULL && len > 0)
    buf[0] = '\0';
  return ah__invoke(&c);
}

/* ---- closing ---- */

static int do_close(ah__call *c, ah__object *obj) {
  (void)c;
  ah__close_object(obj);
  return AH_OK;
}

int ah_close_handle(ah_handle handle) {
  ah__call c;
  ah__session *s = ah__handles_session(handle);
  int is_session, on_thread, rc;
  if (s == NULL)
    return AH_ERR_INVALID_HANDLE;
  /* Only a pointer comparison: a non-session object may be freed by the
   * I/O thread at any time, the session cannot while we hold a ref. */
  is_session = ah__handles_get(handle) == &s->base;
  on_thread = ah__on_io_thread(s);
  if (is_session && on_thread)
    ah__session_mark_detached(s); /* a thread cannot join itself */
  memset(&c, 0, sizeof c);
  c.fn = do_close;
  c.handle = handle;
  rc = ah__invoke(&c);
  if (rc == AH_OK && is_session && !on_thread)
    ah__close_session_and_wait(s);
  ah__session_unref(s);
  return rc;
}
