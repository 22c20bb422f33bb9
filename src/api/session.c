/*
 * session.c - a session's I/O thread, cross-thread calls, the event queue
 * and closing.
 *
 * Every status callback goes through the session's FIFO event queue and
 * is delivered from the loop, never from inside another callback or an
 * API call. That gives the guarantees of ahttp.h: callbacks are not
 * nested, a cancelled operation's REQUEST_COMPLETE comes before its
 * handle's HANDLE_CLOSING, and HANDLE_CLOSING is the last event for a
 * handle (enqueueing after it is refused), after which the object is
 * freed.
 */
#include "api/internal.h"
#include "request/cookie_jar.h"
#include "util/alloc.h"
#include "util/proxy.h"

#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local ah__session *current_session;

static void free_environment(ah__session *s);
static void free_event_info(ah__event *ev);

int ah__on_io_thread(const ah__session *s) { return current_session == s; }

void ah__session_unref(ah__session *s) {
  if (atomic_fetch_sub(&s->refs, 1) != 1)
    return;
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cond);
  ah__options_free(&s->base.opts);
  free_environment(s);
  /* Nothing is queued once the session's HANDLE_CLOSING went out, but a
   * session that never ran its loop may still hold events. */
  for (size_t i = 0; i < s->ev_count; i++)
    free_event_info(&s->events[(s->ev_head + i) % s->ev_cap]);
  ah__free(s->events);
  ah__free(s);
}

/* ---- the event queue ---- */

int ah__wants(const ah__object *obj, int status) {
  if (status == AH_STATUS_REQUEST_COMPLETE ||
      status == AH_STATUS_HANDLE_CLOSING)
    return 1;
  return obj->cb != NULL && status > 0 && status < 64 &&
         (obj->opts.notify_mask & AH_NOTIFY(status)) != 0;
}

static void on_idle(uv_idle_t *idle);
static void shrink_events(ah__session *s);

static const void *event_info(const ah__event *ev) {
  if (!ev->has_info)
    return NULL;
  return ev->len > AH__EVENT_INLINE ? (const void *)ev->info.copy
                                    : (const void *)ev->info.bytes;
}

static void free_event_info(ah__event *ev) {
  if (ev->has_info && ev->len > AH__EVENT_INLINE)
    ah__free(ev->info.copy);
}

/* One HANDLE_CLOSING, one completion, and one HANDLE_CREATED. */
#define EVENTS_PER_OBJECT 3

/* The most info bytes an event keeps: longer text is cut and still ends
 * in NUL (AH_STATUS_REDIRECT documents the cut at 255 bytes). */
#define EVENT_INFO_MAX 256

static int grow_events(ah__session *s, size_t need) {
  size_t cap = s->ev_cap == 0 ? 16 : s->ev_cap, i;
  ah__event *grown;
  while (cap < need)
    cap *= 2;
  if (cap == s->ev_cap)
    return AH_OK;
  grown = ah__malloc(cap * sizeof *grown);
  if (grown == NULL)
    return AH_ERR_NO_MEMORY;
  for (i = 0; i < s->ev_count; i++)
    grown[i] = s->events[(s->ev_head + i) % s->ev_cap];
  ah__free(s->events);
  s->events = grown;
  s->ev_cap = cap;
  s->ev_head = 0;
  return AH_OK;
}

int ah__reserve_events(ah__session *s) {
  if (grow_events(s, s->ev_count + s->ev_reserved + EVENTS_PER_OBJECT + 1) !=
      AH_OK)
    return AH_ERR_NO_MEMORY;
  s->ev_reserved += EVENTS_PER_OBJECT;
  return AH_OK;
}

void ah__release_events(ah__session *s) { s->ev_reserved -= EVENTS_PER_OBJECT; }

static int is_vital(int status) {
  return status == AH_STATUS_REQUEST_COMPLETE ||
         status == AH_STATUS_HANDLE_CLOSING ||
         status == AH_STATUS_HANDLE_CREATED;
}

/* A slot for one event. Vital events may use the reserve; other statuses
 * leave it alone and are dropped if the queue cannot grow. */
static ah__event *push_event(ah__session *s, int vital) {
  size_t tail, need = s->ev_count + 1 + (vital ? 0 : s->ev_reserved);
  if (need > s->ev_cap && grow_events(s, need) != AH_OK)
    return NULL;
  /* An active idle handle keeps the loop from blocking in poll while
   * events wait; it is stopped when the queue is empty again. */
  if (!s->delivering && !s->shutting_down)
    uv_idle_start(&s->idle, on_idle);
  tail = (s->ev_head + s->ev_count) % s->ev_cap;
  s->ev_count++;
  memset(&s->events[tail], 0, offsetof(ah__event, info));
  return &s->events[tail];
}

static int carries_text(int status) {
  return status == AH_STATUS_RESOLVING_NAME ||
         status == AH_STATUS_NAME_RESOLVED ||
         status == AH_STATUS_CONNECTING_TO_SERVER ||
         status == AH_STATUS_CONNECTED_TO_SERVER ||
         status == AH_STATUS_CLOSING_CONNECTION ||
         status == AH_STATUS_CONNECTION_CLOSED ||
         status == AH_STATUS_REDIRECT || status == AH_STATUS_TLS_HANDSHAKE_DONE;
}

/* Vital events carry an ah_async_result or a handle: they never need a
 * block of their own, so the reserve is all they need. */
_Static_assert(sizeof(ah_async_result) <= AH__EVENT_INLINE &&
                   sizeof(ah_handle) <= AH__EVENT_INLINE,
               "vital info must fit inline");

static void queue_event(ah__object *obj, int status, const void *info,
                        size_t len, ah__call *sync_call) {
  ah__session *s = obj->session;
  ah__event *ev;
  char *copy = NULL;
  size_t kept = len > EVENT_INFO_MAX ? EVENT_INFO_MAX : len;
  if (obj->closing_sent)
    return;
  if (info != NULL && kept > AH__EVENT_INLINE) {
    copy = ah__malloc(kept);
    if (copy == NULL)
      return; /* out of memory: a progress status is lost, nothing vital */
  }
  ev = push_event(s, is_vital(status));
  if (ev == NULL) {
    ah__free(copy);
    return; /* out of memory: a progress status is lost, nothing vital */
  }
  ev->obj = obj;
  ev->status = status;
  ev->sync_call = sync_call;
  ev->len = len;
  if (info != NULL && len > 0) {
    unsigned char *to = copy != NULL ? (unsigned char *)copy : ev->info.bytes;
    ev->len = kept;
    memcpy(to, info, kept);
    if (carries_text(status))
      to[kept - 1] = '\0'; /* a cut text still ends */
    if (copy != NULL)
      ev->info.copy = copy;
    ev->has_info = 1;
  }
  if (status == AH_STATUS_HANDLE_CLOSING)
    obj->closing_sent = 1;
}

void ah__emit(ah__object *obj, int status, const void *info, size_t len) {
  if (ah__wants(obj, status))
    queue_event(obj, status, info, len, NULL);
}

void ah__complete(ah__object *obj, int err, uintptr_t result) {
  ah_async_result ar;
  ah__call *sync_call = NULL;
  if (obj->type == AH_HANDLE_TYPE_REQUEST) {
    ah__request_object *ro = (ah__request_object *)obj;
    sync_call = ro->sync_call;
    ro->sync_call = NULL;
  }
  ar.result = result;
  ar.error = err;
  queue_event(obj, AH_STATUS_REQUEST_COMPLETE, &ar, sizeof ar, sync_call);
}

static void finish_call(ah__session *s, ah__call *call, int result) {
  pthread_mutex_lock(&s->mu);
  call->result = result;
  call->done = 1;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->mu);
}

static void free_object(ah__object *obj) {
  if (obj->type == AH_HANDLE_TYPE_REQUEST) {
    ah__request_dispose(&((ah__request_object *)obj)->req);
  } else if (obj->type == AH_HANDLE_TYPE_CONNECT) {
    ah__connect *c = (ah__connect *)obj;
    ah__free(c->host);
    ah__free(c->user);
    ah__free(c->password);
  }
  ah__options_free(&obj->opts);
  ah__free(obj);
}

static void begin_shutdown(ah__session *s);

static void deliver(ah__session *s) {
  ah__event ev;
  ah__object *obj;
  if (s->delivering)
    return;
  s->delivering = 1;
  while (s->ev_count > 0) {
    ev = s->events[s->ev_head];
    s->ev_head = (s->ev_head + 1) % s->ev_cap;
    s->ev_count--;
    obj = ev.obj;
    if (ev.sync_call != NULL) {
      finish_call(s, ev.sync_call, ev.info.result.error);
      continue;
    }
    if (obj->cb != NULL)
      obj->cb(obj->handle, ev.status, event_info(&ev), ev.len, obj->context);
    free_event_info(&ev);
    if (ev.status == AH_STATUS_HANDLE_CLOSING) {
      if (obj->type == AH_HANDLE_TYPE_SESSION) {
        begin_shutdown(s);
      } else {
        free_object(obj);
        ah__release_events(s);
      }
    }
  }
  s->delivering = 0;
  shrink_events(s);
  if (!s->shutting_down)
    uv_idle_stop(&s->idle);
}

/* Gives back a queue grown by a burst of handles once it is empty again,
 * so a session's memory follows what it holds now, not its high-water
 * mark. The reserve for live handles is kept. */
static void shrink_events(ah__session *s) {
  size_t want = 16;
  ah__event *smaller;
  while (want < s->ev_reserved + 1)
    want *= 2;
  if (s->ev_count != 0 || s->ev_cap <= want * 4)
    return;
  smaller = ah__malloc(want * sizeof *smaller);
  if (smaller == NULL)
    return; /* keep the big one */
  ah__free(s->events);
  s->events = smaller;
  s->ev_cap = want;
  s->ev_head = 0;
}

static void on_idle(uv_idle_t *idle) { deliver(idle->data); }

/* ---- cross-thread calls ---- */

static void run_call(ah__session *s, ah__call *call) {
  ah__object *obj = ah__handles_get(call->handle);
  int rc;
  if (obj == NULL || obj->session != s) {
    finish_call(s, call, AH_ERR_INVALID_HANDLE);
    return;
  }
  rc = call->fn(call, obj);
  /* A blocking call of a synchronous session that went pending is
   * finished by its completion event instead. */
  if (rc == AH_IO_PENDING && call->blocking && !(s->flags & AH_FLAG_ASYNC))
    return;
  finish_call(s, call, rc);
}

static void on_wake(uv_async_t *wake) {
  ah__session *s = wake->data;
  ah__call *list, *next;
  pthread_mutex_lock(&s->mu);
  list = s->calls_head;
  s->calls_head = s->calls_tail = NULL;
  pthread_mutex_unlock(&s->mu);
  for (; list != NULL; list = next) {
    next = list->next;
    run_call(s, list);
  }
  deliver(s);
}

int ah__invoke(ah__call *call) {
  ah__session *s;
  ah__object *obj = ah__handles_get_ref(call->handle, &s);
  int rc;
  if (obj == NULL)
    return AH_ERR_INVALID_HANDLE;
  if (ah__on_io_thread(s)) {
    /* On the I/O thread nothing can free obj while fn runs. */
    if (call->blocking && !(s->flags & AH_FLAG_ASYNC))
      rc = AH_ERR_WOULD_DEADLOCK;
    else
      rc = call->fn(call, obj);
    ah__session_unref(s);
    return rc;
  }
  call->done = 0;
  call->next = NULL;
  pthread_mutex_lock(&s->mu);
  if (!s->accepting) {
    pthread_mutex_unlock(&s->mu);
    ah__session_unref(s);
    return AH_ERR_INVALID_HANDLE;
  }
  if (s->calls_tail != NULL)
    s->calls_tail->next = call;
  else
    s->calls_head = call;
  s->calls_tail = call;
  pthread_mutex_unlock(&s->mu);
  uv_async_send(&s->wake);
  pthread_mutex_lock(&s->mu);
  while (!call->done)
    pthread_cond_wait(&s->cond, &s->mu);
  rc = call->result;
  pthread_mutex_unlock(&s->mu);
  ah__session_unref(s);
  return rc;
}

/* ---- the tree of objects ---- */

void ah__adopt(ah__object *parent, ah__object *child) {
  ah_async_result ar;
  child->parent = parent;
  child->session = parent->session;
  child->prev = NULL;
  child->next = parent->children;
  if (child->next != NULL)
    child->next->prev = child;
  parent->children = child;
  ar.result = (uintptr_t)child->handle;
  ar.error = AH_OK;
  ah__emit(child, AH_STATUS_HANDLE_CREATED, &ar, sizeof ar);
}

static void unlink_child(ah__object *obj) {
  if (obj->parent == NULL)
    return;
  if (obj->prev != NULL)
    obj->prev->next = obj->next;
  else
    obj->parent->children = obj->next;
  if (obj->next != NULL)
    obj->next->prev = obj->prev;
  obj->prev = obj->next = NULL;
  obj->parent = NULL;
}

void ah__close_object(ah__object *obj) {
  ah_handle h = obj->handle;
  if (obj->closing)
    return;
  obj->closing = 1;
  ah__handles_remove(h);
  while (obj->children != NULL) {
    ah__object *child = obj->children;
    ah__close_object(child);
  }
  if (obj->type == AH_HANDLE_TYPE_REQUEST)
    ah__request_cancel(&((ah__request_object *)obj)->req);
  else if (obj->type == AH_HANDLE_TYPE_SESSION)
    ah__io_close_idle(obj->session->io);
  unlink_child(obj);
  queue_event(obj, AH_STATUS_HANDLE_CLOSING, &h, sizeof h, NULL);
}

/* ---- TLS contexts ---- */

int ah__session_tls_ctx(ah__object *obj, ah__tls_ctx **out, char *detail,
                        size_t detail_len) {
  ah__session *s = obj->session;
  ah__tls_config cfg;
  tls_ctx_entry *e;
  int rc;
  cfg.ca_file = obj->opts.ca_file;
  cfg.ca_dir = obj->opts.ca_dir;
  cfg.client_cert = obj->opts.client_cert;
  cfg.client_key = obj->opts.client_key;
  for (e = s->tls_ctxs; e != NULL; e = e->next) {
    if (ah__tls_ctx_matches(e->ctx, &cfg)) {
      *out = e->ctx;
      return AH_OK;
    }
  }
  e = ah__calloc(1, sizeof *e);
  if (e == NULL)
    return AH_ERR_NO_MEMORY;
  rc = ah__tls_ctx_new(&cfg, &e->ctx, detail, detail_len);
  if (rc != AH_OK) {
    ah__free(e);
    return rc;
  }
  e->next = s->tls_ctxs;
  s->tls_ctxs = e;
  *out = e->ctx;
  return AH_OK;
}

static void free_tls_ctxs(ah__session *s) {
  while (s->tls_ctxs != NULL) {
    tls_ctx_entry *e = s->tls_ctxs;
    s->tls_ctxs = e->next;
    ah__tls_ctx_free(e->ctx);
    ah__free(e);
  }
}

/* ---- the thread ---- */

static void close_walk(uv_handle_t *handle, void *arg) {
  (void)arg;
  if (!uv_is_closing(handle))
    uv_close(handle, NULL);
}

/* After the session's HANDLE_CLOSING: refuse new calls, fail queued ones,
 * and let the loop run out. */
static void begin_shutdown(ah__session *s) {
  ah__call *list, *next;
  s->shutting_down = 1;
  pthread_mutex_lock(&s->mu);
  s->accepting = 0;
  list = s->calls_head;
  s->calls_head = s->calls_tail = NULL;
  pthread_mutex_unlock(&s->mu);
  for (; list != NULL; list = next) {
    next = list->next;
    finish_call(s, list, AH_ERR_INVALID_HANDLE);
  }
  uv_close((uv_handle_t *)&s->wake, NULL);
  uv_close((uv_handle_t *)&s->idle, NULL);
}

static void *session_thread(void *arg) {
  ah__session *s = arg;
  sigset_t pipe_only;
  int detach;
  /* Every socket write happens on this thread: with SIGPIPE blocked here
   * a write to a reset connection fails with EPIPE instead of killing the
   * user's process, without touching the process's own signal setup. */
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, NULL);
  current_session = s;
  uv_run(&s->loop, UV_RUN_DEFAULT);
  /* Connections still closing finish here; then the loop is empty. */
  uv_walk(&s->loop, close_walk, NULL);
  uv_run(&s->loop, UV_RUN_DEFAULT);
  uv_loop_close(&s->loop);
  ah__io_free(s->io);
  s->io = NULL;
  free_tls_ctxs(s); /* every connection using them is gone */
  ah__cookie_jar_free(s->jar);
  s->jar = NULL;
  current_session = NULL;
  pthread_mutex_lock(&s->mu);
  s->loop_done = 1;
  detach = s->detach;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->mu);
  if (detach)
    pthread_detach(pthread_self());
  ah__session_unref(s); /* the thread's own reference */
  return NULL;
}

static int set_string(char **slot, const char *value) {
  if (value == NULL)
    return AH_OK;
  *slot = ah__strdup(value);
  return *slot != NULL ? AH_OK : AH_ERR_NO_MEMORY;
}

/* The first of the variables that is set (curl's names and precedence). */
static const char *first_env(const char *a, const char *b, const char *c) {
  const char *v = a != NULL ? getenv(a) : NULL;
  if ((v == NULL || v[0] == '\0') && b != NULL)
    v = getenv(b);
  if ((v == NULL || v[0] == '\0') && c != NULL)
    v = getenv(c);
  return v != NULL && v[0] != '\0' ? v : NULL;
}

static void free_environment(ah__session *s) {
  ah__free(s->env_http_proxy);
  ah__free(s->env_https_proxy);
  ah__free(s->env_no_proxy);
}

/* The environment is read once, here: getenv is not safe against a
 * concurrent setenv, and a session should not change under its users.
 * Uppercase HTTP_PROXY is not read (a CGI program gets it from the
 * client's "Proxy:" header). */
static int read_environment(ah__session *s) {
  const char *all = first_env("all_proxy", "ALL_PROXY", NULL);
  const char *http = first_env("http_proxy", NULL, NULL);
  const char *https = first_env("https_proxy", "HTTPS_PROXY", NULL);
  const char *no = first_env("no_proxy", "NO_PROXY", NULL);
  if (set_string(&s->env_http_proxy, http ? http : all) != AH_OK ||
      set_string(&s->env_https_proxy, https ? https : all) != AH_OK ||
      set_string(&s->env_no_proxy, no) != AH_OK)
    return AH_ERR_NO_MEMORY;
  return AH_OK;
}

int ah_open(const char *user_agent, int access_type, const char *proxy,
            const char *proxy_bypass, unsigned flags, ah_handle *out) {
  ah__session *s;
  int rc;
  (void)proxy_bypass;
  if (out == NULL || (flags & ~AH_FLAG_ASYNC) != 0)
    return AH_ERR_INVALID_PARAMETER;
  *out = NULL;
  if (access_type != AH_OPEN_TYPE_PRECONFIG &&
      access_type != AH_OPEN_TYPE_DIRECT && access_type != AH_OPEN_TYPE_PROXY)
    return AH_ERR_INVALID_PARAMETER;
  if (access_type == AH_OPEN_TYPE_PROXY) {
    ah__proxy parsed;
    if (proxy == NULL || ah__proxy_parse(proxy, &parsed) != AH_OK)
      return AH_ERR_INVALID_PARAMETER;
    ah__proxy_free(&parsed);
  }
  s = ah__calloc(1, sizeof *s);
  if (s == NULL)
    return AH_ERR_NO_MEMORY;
  s->base.type = AH_HANDLE_TYPE_SESSION;
  s->base.session = s;
  s->flags = flags;
  atomic_init(&s->refs, 1); /* the thread's */
  ah__options_defaults(&s->base.opts);
  s->access_type = access_type;
  rc = AH_ERR_NO_MEMORY;
  if (access_type == AH_OPEN_TYPE_PROXY &&
      (set_string(&s->base.opts.proxy, proxy) != AH_OK ||
       set_string(&s->base.opts.proxy_bypass, proxy_bypass) != AH_OK))
    goto fail_options;
  if (access_type == AH_OPEN_TYPE_PRECONFIG && read_environment(s) != AH_OK)
    goto fail_options;
  if (user_agent != NULL) {
    ah__free(s->base.opts.user_agent);
    s->base.opts.user_agent = ah__strdup(user_agent);
    if (s->base.opts.user_agent == NULL)
      goto fail_options;
  }
  rc = AH_ERR_SYSTEM;
  if (pthread_mutex_init(&s->mu, NULL) != 0)
    goto fail_options;
  if (pthread_cond_init(&s->cond, NULL) != 0)
    goto fail_mutex;
  if (uv_loop_init(&s->loop) != 0)
    goto fail_cond;
  if (uv_async_init(&s->loop, &s->wake, on_wake) != 0)
    goto fail_loop;
  s->wake.data = s;
  uv_idle_init(&s->loop, &s->idle);
  s->idle.data = s;
  rc = ah__io_new(&s->loop, &s->io);
  if (rc != AH_OK)
    goto fail_handles;
  rc = ah__reserve_events(s); /* the session's own */
  if (rc != AH_OK)
    goto fail_io;
  rc = ah__handles_add(&s->base, out);
  if (rc != AH_OK)
    goto fail_io;
  s->accepting = 1;
  if (pthread_create(&s->thread, NULL, session_thread, s) != 0) {
    rc = AH_ERR_SYSTEM;
    ah__handles_remove(*out);
    *out = NULL;
    goto fail_io;
  }
  return AH_OK;

fail_io:
  ah__io_free(s->io);
fail_handles:
  uv_close((uv_handle_t *)&s->wake, NULL);
  uv_close((uv_handle_t *)&s->idle, NULL);
  uv_run(&s->loop, UV_RUN_DEFAULT);
fail_loop:
  uv_loop_close(&s->loop);
fail_cond:
  pthread_cond_destroy(&s->cond);
fail_mutex:
  pthread_mutex_destroy(&s->mu);
fail_options:
  ah__options_free(&s->base.opts);
  free_environment(s);
  ah__free(s->events);
  ah__free(s);
  return rc;
}

/* Closing a session from outside its thread waits for the thread, so the
 * caller may free every context once this returns. */
int ah__close_session_and_wait(ah__session *s) {
  pthread_mutex_lock(&s->mu);
  while (!s->loop_done)
    pthread_cond_wait(&s->cond, &s->mu);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->thread, NULL);
  return AH_OK;
}

void ah__session_mark_detached(ah__session *s) {
  pthread_mutex_lock(&s->mu);
  s->detach = 1;
  pthread_mutex_unlock(&s->mu);
}
