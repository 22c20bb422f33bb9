/*
 * transfer.c - the request state machine of `async`, driven by
 * AH_STATUS_REQUEST_COMPLETE as the WinInet sample drives its own.
 *
 *   GET:  SEND -> HEADERS -> (RECEIVE -> STORE)* -> COMPLETE
 *   POST: SEND_WITH_BODY -> (FILE_READ -> UPLOAD)* -> END_UPLOAD -> HEADERS
 *         -> (RECEIVE -> STORE)* -> COMPLETE
 *
 * The library follows redirects itself, except a 307 or 308 to a POST:
 * it does not have the streamed body any more. Then END_UPLOAD fails with
 * AH_ERR_REDIRECT_NEEDS_BODY, and RESEND opens handles for the new URL and
 * starts over at SEND_WITH_BODY with the file read from its start.
 *
 * Each step sets the next state before its call, so that a completion
 * arriving on the I/O thread, even before the call has returned on the
 * issuing thread, finds the machine ready for the next step. After a call
 * returned AH_IO_PENDING the issuing thread touches none of the machine's
 * fields again: from then on they belong to the completion. So exactly
 * one thread runs the machine at any time, and the machine's fields need
 * no lock.
 *
 * What main and the I/O thread share (the closing flag, the usage count of
 * the request handle, the handle-closed flags, the failure) is guarded by
 * `lock`, which is never held across a library call: a library call may
 * need the I/O thread, and the I/O thread may be waiting for `lock` inside
 * our callback.
 *
 * Closing follows the sample: while a thread is inside a call with the
 * request handle, the handle is "in use"; a close asked for meanwhile is
 * done by the last user on its way out, so that no call is ever made with
 * the handle after ah_close_handle. A REQUEST_COMPLETE that arrives once
 * closing has begun (normally AH_ERR_OPERATION_CANCELLED) only ends the
 * machine; it never starts another step.
 */
#define _POSIX_C_SOURCE 200809L

#include "transfer.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "trace.h"

typedef enum transfer_state {
  STATE_SEND,           /* GET: ah_send_request */
  STATE_SEND_WITH_BODY, /* POST: ah_send_request_ex with the file's size */
  STATE_FILE_READ,      /* POST: next piece of the input file */
  STATE_UPLOAD,         /* POST: ah_write of that piece */
  STATE_END_UPLOAD,     /* POST: ah_end_request */
  STATE_RESEND,         /* POST: follow a 307/308 with the file again */
  STATE_HEADERS,        /* status line, -f check */
  STATE_RECEIVE,        /* ah_read into the buffer */
  STATE_STORE,          /* write what was read to the output file */
  STATE_COMPLETE
} transfer_state;

/* The library calls the machine makes, for messages and the trace. */
typedef enum transfer_call {
  CALL_SEND_REQUEST,
  CALL_SEND_REQUEST_EX,
  CALL_WRITE,
  CALL_END_REQUEST,
  CALL_READ
} transfer_call;

/* A step's result that is no library code: the step has recorded its own
 * failure (a local file error, -f). */
#define STEP_FAILED (-1000)

struct transfer {
  /* Set before the machine starts; read-only afterwards. */
  async_method method;
  const char *host;
  uint16_t port;
  bool secure; /* -s: AH_FLAG_SECURE on the request */
  bool fail_on_http_error;
  const char *scheme; /* "http" or "https", for messages */
  char server[300];   /* "host:port" for messages */
  bool proxy_given;   /* -p */
  char proxy[512];    /* the proxy for messages, password masked: -p's,
                         or the environment's for this scheme, or "" */
  const char *resource;
  const char *user; /* -u, for the first server only */
  const char *password;
  bool no_follow;
  uint32_t max_redirects;
  unsigned hops;    /* redirects followed: by the library, and resends */
  char *moved_host; /* where a resend went (owned) */
  char *moved_resource;
  char *first_origin; /* "scheme://host:port" the credentials are for */
  ah_handle session;
  input_file *input;
  output_file *output;
  ah_handle connect; /* written under lock, before the machine starts */
  ah_handle request;

  /* The machine's own fields; see the file comment. */
  transfer_state state;
  transfer_call pending; /* the call whose completion is awaited */
  unsigned char *buffer; /* TRANSFER_BUFFER_SIZE bytes */
  size_t io_bytes;       /* out-parameter of ah_read; file piece size */
  size_t written;        /* out-parameter of ah_write */

  /* Shared by the main and the I/O thread, under `lock`. */
  pthread_mutex_t lock;
  pthread_cond_t changed;
  unsigned users;      /* threads inside a call with `request` */
  bool closing;        /* the request is being closed: take no new step */
  bool close_issued;   /* ah_close_handle(request) was called */
  bool finished;       /* the machine ended (the sample's completion) */
  bool completed;      /* ... and reached STATE_COMPLETE */
  bool request_closed; /* its HANDLE_CLOSING arrived */
  bool connect_closed;
  failure fail;
};

static const char *call_name(transfer_call call) {
  switch (call) {
  case CALL_SEND_REQUEST:
    return "ah_send_request";
  case CALL_SEND_REQUEST_EX:
    return "ah_send_request_ex";
  case CALL_WRITE:
    return "ah_write";
  case CALL_END_REQUEST:
    return "ah_end_request";
  case CALL_READ:
    return "ah_read_ex";
  }
  return "?";
}

/* ---- shared state ---- */

/* Records a failure unless the transfer is being closed: once main has
 * given up on it (time-out), what the cancellation causes is no news. */
static void record_failure(transfer *t, const failure *f) {
  pthread_mutex_lock(&t->lock);
  if (!t->closing && !t->fail.set)
    t->fail = *f;
  pthread_mutex_unlock(&t->lock);
}

/* "proxy 127.0.0.1:3128 " or "proxy ", for messages about the proxy. */
static const char *proxy_name(const transfer *t, char *out, size_t cap) {
  snprintf(out, cap, "proxy %s%s", t->proxy, t->proxy[0] != '\0' ? " " : "");
  return out;
}

/* Why a proxy answers 407, as far as we can tell. */
static const char *credentials_hint(const transfer *t) {
  return strchr(t->proxy, '@') != NULL
             ? "it did not accept the credentials"
             : "it wants credentials (USER:PASSWORD@ in the proxy)";
}

/* Describes a failed library call. The detail is fetched before taking
 * the lock (see the file comment). With -p every connection goes to the
 * proxy, so a name or connection failure is the proxy's. */
static void record_call_failure(transfer *t, transfer_call call, int code) {
  failure f = {false, 0, ""};
  const char *input = t->input != NULL ? t->input->path : "";
  char proxy[600];
  proxy_name(t, proxy, sizeof proxy);
  switch (code) {
  case AH_ERR_NAME_NOT_RESOLVED:
    if (t->proxy_given)
      failure_set_library(&f, code, t->request, "cannot resolve %s", t->proxy);
    else
      failure_set_library(&f, code, t->request, "cannot resolve host '%s'",
                          t->host);
    break;
  case AH_ERR_CANNOT_CONNECT:
    if (t->proxy_given)
      failure_set_library(&f, code, t->request,
                          "cannot connect to proxy %s (for %s)", t->proxy,
                          t->server);
    else
      failure_set_library(&f, code, t->request, "cannot connect to %s",
                          t->server);
    break;
  /* The detail names the proxy's address and its status line. */
  case AH_ERR_PROXY_REFUSED:
    failure_set_library(&f, code, t->request,
                        "%srefused to open a tunnel to %s", proxy, t->server);
    break;
  case AH_ERR_PROXY_AUTH_REQUIRED:
    failure_set_library(&f, code, t->request,
                        "%srefused to open a tunnel to %s: %s", proxy,
                        t->server, credentials_hint(t));
    break;
  /* The certificate's faults name the server; the library's detail names
   * OpenSSL's reason and the certificate's subject. */
  case AH_ERR_TLS_UNKNOWN_CA:
  case AH_ERR_TLS_CERT_DATE_INVALID:
  case AH_ERR_TLS_CERT_NAME_INVALID:
  case AH_ERR_TLS_CERT_INVALID:
    failure_set_library(&f, code, t->request, "certificate of %s refused",
                        t->server);
    break;
  case AH_ERR_TLS_HANDSHAKE:
  case AH_ERR_TLS_PROTOCOL_VERSION:
  case AH_ERR_TLS_CLIENT_CERT:
    failure_set_library(&f, code, t->request, "TLS handshake with %s failed",
                        t->server);
    break;
  default:
    switch (call) {
    case CALL_SEND_REQUEST:
      failure_set_library(&f, code, t->request,
                          "sending the request to %s://%s%s failed", t->scheme,
                          t->server, t->resource);
      break;
    case CALL_SEND_REQUEST_EX:
      failure_set_library(&f, code, t->request,
                          "starting the upload to %s://%s%s failed", t->scheme,
                          t->server, t->resource);
      break;
    case CALL_WRITE:
      failure_set_library(&f, code, t->request,
                          "uploading '%s' to %s://%s%s failed", input,
                          t->scheme, t->server, t->resource);
      break;
    case CALL_END_REQUEST:
      failure_set_library(&f, code, t->request,
                          "finishing the upload to %s://%s%s failed", t->scheme,
                          t->server, t->resource);
      break;
    case CALL_READ:
      failure_set_library(&f, code, t->request,
                          "reading the response from %s://%s%s failed",
                          t->scheme, t->server, t->resource);
      break;
    }
    break;
  }
  record_failure(t, &f);
}

/* The sample's AcquireRequestHandle: false once closing has begun. */
static bool acquire_request(transfer *t) {
  bool ok;
  pthread_mutex_lock(&t->lock);
  ok = !t->closing;
  if (ok)
    t->users++;
  pthread_mutex_unlock(&t->lock);
  return ok;
}

/* Called without the lock when ah_close_handle(request) failed: the handle
 * is gone already, so no HANDLE_CLOSING is to be waited for. */
static void close_request_now(transfer *t) {
  if (ah_close_handle(t->request) != AH_OK) {
    pthread_mutex_lock(&t->lock);
    t->request_closed = true;
    pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->lock);
  }
}

/* The sample's ReleaseRequestHandle: the last user closes the handle if a
 * close was asked for while it was in use. */
static void release_request(transfer *t) {
  bool close_now;
  pthread_mutex_lock(&t->lock);
  t->users--;
  close_now = t->closing && t->users == 0 && !t->close_issued;
  if (close_now)
    t->close_issued = true;
  pthread_mutex_unlock(&t->lock);
  if (close_now)
    close_request_now(t);
}

/* The machine has ended (the sample's CompletionEvent). */
static void finish(transfer *t, bool completed) {
  pthread_mutex_lock(&t->lock);
  t->finished = true;
  t->completed = completed && !t->closing;
  pthread_cond_broadcast(&t->changed);
  pthread_mutex_unlock(&t->lock);
}

/* ---- the steps ---- */

/*
 * A write that fails with AH_ERR_CONNECTION_ABORTED means the server
 * answered before taking the whole body; ah_end_request then delivers that
 * answer (a 413, say), which is worth showing rather than an error.
 */
static bool answered_early(transfer_call call, int rc) {
  return call == CALL_WRITE && rc == AH_ERR_CONNECTION_ABORTED;
}

/* Moves on to fetch the early answer (see answered_early). */
static int skip_to_answer(transfer *t) {
  trace_note("The server answered before the upload was complete");
  t->state = STATE_END_UPLOAD;
  return AH_OK;
}

/*
 * Makes one library call with the request handle held in use. Returns its
 * result; a failure is described here, a pending call announced. After
 * AH_IO_PENDING nothing of the machine is touched (file comment).
 */
static int issue(transfer *t, transfer_call call) {
  char note[64];
  int rc;
  if (!acquire_request(t))
    return AH_ERR_OPERATION_CANCELLED;
  t->pending = call;
  switch (call) {
  case CALL_SEND_REQUEST:
    rc = ah_send_request(t->request, NULL, 0, NULL, 0);
    break;
  case CALL_SEND_REQUEST_EX:
    rc = ah_send_request_ex(t->request, NULL, 0, t->input->size);
    break;
  case CALL_WRITE:
    rc = ah_write(t->request, t->buffer, t->io_bytes, &t->written);
    break;
  case CALL_END_REQUEST:
    rc = ah_end_request(t->request);
    break;
  case CALL_READ:
  default:
    /* What arrived is written at once, while it is still in the cache:
     * measured faster than filling the whole 1 MiB first (issue 7). */
    rc = ah_read_ex(t->request, t->buffer, TRANSFER_BUFFER_SIZE, &t->io_bytes,
                    AH_READ_NO_WAIT);
    break;
  }
  release_request(t);
  if (rc == AH_IO_PENDING) {
    snprintf(note, sizeof note, "Waiting for %s to complete", call_name(call));
    trace_note(note);
  } else if (rc < 0 && !answered_early(call, rc)) {
    record_call_failure(t, call, rc);
  }
  return rc;
}

/* The next piece of the file to POST; sets the next state. */
static int step_file_read(transfer *t) {
  failure f = {false, 0, ""};
  input_file *in = t->input;
  int err = 0;
  switch (input_file_read(in, t->buffer, TRANSFER_BUFFER_SIZE, &t->io_bytes,
                          &err)) {
  case INPUT_READ_DATA:
    t->state = STATE_UPLOAD;
    return AH_OK;
  case INPUT_READ_END:
    trace_note("Finished posting file");
    t->state = STATE_END_UPLOAD;
    return AH_OK;
  case INPUT_READ_SHRANK:
    failure_set(&f, ASYNC_EXIT_LOCAL_FILE,
                "input file '%s' shrank while it was being posted (ended "
                "after %" PRIu64 " of %" PRIu64 " bytes)",
                in->path, in->sent, in->size);
    break;
  case INPUT_READ_GREW:
    failure_set(&f, ASYNC_EXIT_LOCAL_FILE,
                "input file '%s' grew while it was being posted (more than "
                "the %" PRIu64 " bytes announced)",
                in->path, in->size);
    break;
  case INPUT_READ_ERROR:
    failure_set(&f, ASYNC_EXIT_LOCAL_FILE, "cannot read input file '%s': %s",
                in->path, strerror(err));
    break;
  }
  record_failure(t, &f);
  return STEP_FAILED;
}

/* A string from ah_query_info, in a buffer of the size it needs. */
static int query_text(ah_handle request, int info, char **out) {
  size_t len = 64;
  int rc;
  for (int attempt = 0; attempt < 2; attempt++) {
    char *buf = malloc(len);
    if (buf == NULL)
      return AH_ERR_NO_MEMORY;
    rc = ah_query_info(request, info, NULL, 0, buf, &len);
    if (rc == AH_OK) {
      *out = buf;
      return AH_OK;
    }
    free(buf);
    if (rc != AH_ERR_INSUFFICIENT_BUFFER)
      return rc;
  }
  return AH_ERR_INSUFFICIENT_BUFFER;
}

/* The response headers are in: show the status line, apply -f. */
static int step_headers(transfer *t) {
  failure f = {false, 0, ""};
  char *version = NULL;
  char *reason = NULL;
  uint32_t code = 0;
  size_t len = sizeof code;
  int rc;

  rc = ah_query_info(t->request, AH_INFO_STATUS_CODE, NULL, 0, &code, &len);
  if (rc == AH_OK)
    rc = query_text(t->request, AH_INFO_VERSION, &version);
  if (rc == AH_OK)
    rc = query_text(t->request, AH_INFO_STATUS_TEXT, &reason);
  if (rc != AH_OK) {
    failure_set_library(&f, rc, t->request,
                        "reading the response status from %s failed",
                        t->server);
  } else {
    trace_status_line(version, code, reason);
    /* 407 is a proxy's answer (RFC 9110 15.5.8): not the server's
     * response, and not worth a file. */
    if (code == 407) {
      char proxy[600];
      failure_set(&f, ASYNC_EXIT_PROXY,
                  "%sanswered %s %" PRIu32 " %s to %s://%s%s: %s",
                  proxy_name(t, proxy, sizeof proxy), version, code, reason,
                  t->scheme, t->server, t->resource, credentials_hint(t));
    } else if (t->fail_on_http_error && code >= 400)
      failure_set(&f, ASYNC_EXIT_HTTP_STATUS,
                  "the server answered %" PRIu32 " %s", code, reason);
  }
  free(version);
  free(reason);
  if (!f.set)
    return AH_OK;
  record_failure(t, &f);
  return STEP_FAILED;
}

/* The request flags of every request the machine opens. */
static unsigned request_flags(const transfer *t) {
  /* The sample's flags: no cache read, no cache write. ahttp has no cache
   * and accepts them for compatibility. */
  return AH_FLAG_RELOAD | AH_FLAG_NO_CACHE_WRITE |
         (t->secure ? AH_FLAG_SECURE : 0u) |
         (t->no_follow ? AH_FLAG_NO_AUTO_REDIRECT : 0u);
}

/* "host:port" (an IPv6 literal in brackets) for the messages. */
static void name_server(transfer *t, const char *host, unsigned port) {
  snprintf(t->server, sizeof t->server,
           strchr(host, ':') != NULL ? "[%s]:%u" : "%s:%u", host, port);
}

/* Points the messages at the server a resend goes to. */
static int move_to(transfer *t, const ah_url_parts *to) {
  char *host = strdup(to->host);
  char *resource = strdup(to->target);
  if (host == NULL || resource == NULL) {
    free(host);
    free(resource);
    return ENOMEM;
  }
  free(t->moved_host);
  free(t->moved_resource);
  t->host = t->moved_host = host;
  t->resource = t->moved_resource = resource;
  t->port = to->port;
  t->secure = strcmp(to->scheme, "https") == 0;
  t->scheme = t->secure ? "https" : "http";
  name_server(t, to->host, to->port);
  return 0;
}

/* Opens the connect and request handles of a resend and puts them in
 * place of the old ones, which are closed. */
static int swap_handles(transfer *t, const ah_url_parts *to, failure *f) {
  ah_handle connect = NULL, request = NULL, old_request, old_connect;
  uint32_t hops_left = t->max_redirects - t->hops;
  char origin[400];
  bool same_origin, closing;
  int rc;
  snprintf(origin, sizeof origin, "%s://%s:%u", to->scheme, to->host,
           (unsigned)to->port);
  same_origin = strcasecmp(origin, t->first_origin) == 0;
  rc = ah_connect(t->session, to->host, to->port, same_origin ? t->user : NULL,
                  same_origin ? t->password : NULL, 0, t, &connect);
  if (rc == AH_OK)
    rc = ah_open_request(connect, "POST", to->target, request_flags(t), t,
                         &request);
  /* --max-redirs counts the whole chain, not each request's part. */
  if (rc == AH_OK)
    rc = ah_set_option(request, AH_OPTION_MAX_REDIRECTS, &hops_left,
                       sizeof hops_left);
  if (rc != AH_OK) {
    if (request != NULL)
      ah_close_handle(request);
    if (connect != NULL)
      ah_close_handle(connect);
    failure_set_library(f, rc, NULL, "cannot open a request for %s://%s%s",
                        to->scheme, to->host, to->target);
    return STEP_FAILED;
  }
  pthread_mutex_lock(&t->lock);
  closing = t->closing; /* once closing, main closes what it sees */
  old_request = t->request;
  old_connect = t->connect;
  if (!closing) {
    t->request = request;
    t->connect = connect;
  }
  pthread_mutex_unlock(&t->lock);
  if (closing) {
    ah_close_handle(request);
    ah_close_handle(connect);
    return AH_ERR_OPERATION_CANCELLED;
  }
  ah_close_handle(old_request);
  ah_close_handle(old_connect);
  return AH_OK;
}

/* A 307 or 308 wants the POST again at another URL (see the file
 * comment); -u's credentials go along only to the same origin. */
static int step_resend(transfer *t) {
  failure f = {false, 0, ""};
  ah_url_parts to;
  char *url = NULL;
  char note[600];
  int rc, err;
  memset(&to, 0, sizeof to);
  rc = query_text(t->request, AH_INFO_REDIRECT_URL, &url);
  if (rc == AH_OK)
    rc = ah_crack_url(url, &to);
  if (rc != AH_OK) {
    failure_set_library(&f, rc, t->request,
                        "cannot follow the redirect of "
                        "%s://%s%s",
                        t->scheme, t->server, t->resource);
  } else if (t->hops >= t->max_redirects) {
    failure_set(&f, ASYNC_EXIT_PROTOCOL,
                "too many redirects from %s://%s%s (more than %u)", t->scheme,
                t->server, t->resource, t->max_redirects);
  } else if ((err = input_file_rewind(t->input)) != 0) {
    failure_set(&f, ASYNC_EXIT_LOCAL_FILE, "cannot read input file '%s': %s",
                t->input->path, strerror(err));
  } else {
    t->hops++;
    snprintf(note, sizeof note, "Redirected to %.400s: sending '%.100s' again",
             url, t->input->path);
    trace_note(note);
    rc = swap_handles(t, &to, &f);
    if (rc == AH_OK && move_to(t, &to) != 0) {
      failure_set(&f, ASYNC_EXIT_LIBRARY, "out of memory");
      rc = STEP_FAILED;
    }
  }
  free(url);
  ah_url_parts_free(&to);
  if (f.set) {
    record_failure(t, &f);
    return STEP_FAILED;
  }
  t->state = STATE_SEND_WITH_BODY;
  return rc;
}

/* Writes what ah_read delivered; 0 bytes means the body is over. */
static int step_store(transfer *t) {
  failure f = {false, 0, ""};
  int err;
  if (t->io_bytes == 0) {
    t->state = STATE_COMPLETE;
    return AH_OK;
  }
  t->state = STATE_RECEIVE;
  err = output_file_write(t->output, t->buffer, t->io_bytes);
  if (err == 0)
    return AH_OK;
  failure_set(&f, ASYNC_EXIT_LOCAL_FILE, "cannot write output file '%s': %s",
              t->output->path, strerror(err));
  record_failure(t, &f);
  return STEP_FAILED;
}

/*
 * The sample's ProcessRequest: takes steps while they finish at once and
 * returns when one is pending or the machine has ended. `rc` is the result
 * of the step that was pending (AH_OK to start).
 */
static void process(transfer *t, int rc) {
  while (rc == AH_OK && t->state != STATE_COMPLETE) {
    switch (t->state) {
    case STATE_SEND:
      t->state = STATE_HEADERS;
      rc = issue(t, CALL_SEND_REQUEST);
      break;
    case STATE_SEND_WITH_BODY:
      t->state = STATE_FILE_READ;
      rc = issue(t, CALL_SEND_REQUEST_EX);
      break;
    case STATE_FILE_READ:
      rc = step_file_read(t);
      break;
    case STATE_UPLOAD:
      t->state = STATE_FILE_READ;
      rc = issue(t, CALL_WRITE);
      if (answered_early(CALL_WRITE, rc))
        rc = skip_to_answer(t);
      break;
    case STATE_END_UPLOAD:
      t->state = STATE_HEADERS;
      rc = issue(t, CALL_END_REQUEST);
      break;
    case STATE_HEADERS:
      t->state = STATE_RECEIVE;
      rc = step_headers(t);
      break;
    case STATE_RECEIVE:
      t->state = STATE_STORE;
      rc = issue(t, CALL_READ);
      break;
    case STATE_STORE:
      rc = step_store(t);
      break;
    case STATE_RESEND:
      rc = step_resend(t);
      break;
    case STATE_COMPLETE:
      break;
    }
  }
  if (rc != AH_IO_PENDING)
    finish(t, rc == AH_OK);
}

/* ---- callbacks ---- */

/* REQUEST_COMPLETE of the pending call: resume, or end. */
static void on_request_complete(transfer *t, const void *info,
                                size_t info_len) {
  ah_async_result result = {0, AH_ERR_INTERNAL};
  bool closing;
  pthread_mutex_lock(&t->lock);
  closing = t->closing;
  pthread_mutex_unlock(&t->lock);
  if (closing) {
    /* The close cancelled the pending call: no new step. */
    finish(t, false);
    return;
  }
  if (info != NULL && info_len >= sizeof result)
    memcpy(&result, info, sizeof result);
  if (answered_early(t->pending, result.error)) {
    process(t, skip_to_answer(t));
    return;
  }
  if (t->pending == CALL_END_REQUEST &&
      result.error == AH_ERR_REDIRECT_NEEDS_BODY) {
    t->state = STATE_RESEND;
    process(t, AH_OK);
    return;
  }
  if (result.error != AH_OK)
    record_call_failure(t, t->pending, result.error);
  process(t, result.error);
}

static void on_handle_closing(transfer *t, ah_handle handle) {
  pthread_mutex_lock(&t->lock);
  if (handle == t->request)
    t->request_closed = true;
  else if (handle == t->connect)
    t->connect_closed = true;
  pthread_cond_broadcast(&t->changed);
  pthread_mutex_unlock(&t->lock);
}

/* The request handle's context is the transfer; comparing under the lock
 * tells the request's callbacks from the connect handle's. */
static bool is_request(transfer *t, ah_handle handle) {
  bool yes;
  pthread_mutex_lock(&t->lock);
  yes = handle == t->request;
  pthread_mutex_unlock(&t->lock);
  return yes;
}

/* The library followed a redirect: count it (--max-redirs covers resends
 * too) and name the new server in messages from now on. */
static void on_redirect(transfer *t) {
  ah_url_parts now;
  char *url = NULL;
  t->hops++;
  memset(&now, 0, sizeof now);
  if (query_text(t->request, AH_INFO_URL, &url) == AH_OK &&
      ah_crack_url(url, &now) == AH_OK)
    (void)move_to(t, &now); /* out of memory: the old names stay */
  ah_url_parts_free(&now);
  free(url);
}

void transfer_status_cb(ah_handle handle, int status, const void *info,
                        size_t info_len, void *context) {
  transfer *t = context;
  trace_status(handle, status, info, info_len);
  if (t == NULL)
    return; /* the session's own callbacks */
  if (status == AH_STATUS_REDIRECT && is_request(t, handle))
    on_redirect(t);
  else if (status == AH_STATUS_REQUEST_COMPLETE && is_request(t, handle))
    on_request_complete(t, info, info_len);
  else if (status == AH_STATUS_HANDLE_CLOSING)
    on_handle_closing(t, handle);
}

/* ---- life cycle, from the main thread ---- */

static int init_sync(transfer *t) {
  pthread_condattr_t attr;
  int err = pthread_condattr_init(&attr);
  if (err != 0)
    return err;
  /* The -t deadline must not move with the wall clock. */
  err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (err == 0)
    err = pthread_cond_init(&t->changed, &attr);
  pthread_condattr_destroy(&attr);
  if (err != 0)
    return err;
  err = pthread_mutex_init(&t->lock, NULL);
  if (err != 0)
    pthread_cond_destroy(&t->changed);
  return err;
}

/* The port connected to: the one given, else the scheme's default. */
static unsigned effective_port(const async_options *opts) {
  if (opts->port != 0)
    return opts->port;
  return opts->secure ? AH_DEFAULT_HTTPS_PORT : AH_DEFAULT_HTTP_PORT;
}

/*
 * The proxy to name in messages: -p's, else the one the library takes from
 * the environment for this scheme (ah_open's rules), masked either way.
 */
static void set_proxy_for_messages(transfer *t, const async_options *opts) {
  const char *env = NULL;
  t->proxy_given = opts->proxy != NULL;
  if (t->proxy_given) {
    snprintf(t->proxy, sizeof t->proxy, "%s", opts->proxy_shown);
    return;
  }
  if (opts->secure) {
    env = getenv("https_proxy");
    if (env == NULL || env[0] == '\0')
      env = getenv("HTTPS_PROXY");
  } else {
    env = getenv("http_proxy");
  }
  if (env != NULL && env[0] != '\0')
    options_mask_proxy(env, t->proxy, sizeof t->proxy);
  else
    t->proxy[0] = '\0';
}

int transfer_create(const async_options *opts, input_file *input,
                    output_file *output, transfer **out) {
  transfer *t = calloc(1, sizeof *t);
  int err;
  if (t == NULL)
    return ENOMEM;
  t->buffer = malloc(TRANSFER_BUFFER_SIZE);
  if (t->buffer == NULL) {
    free(t);
    return ENOMEM;
  }
  err = init_sync(t);
  if (err != 0) {
    free(t->buffer);
    free(t);
    return err;
  }
  t->method = opts->method;
  t->host = opts->host;
  t->port = opts->port;
  t->secure = opts->secure;
  t->fail_on_http_error = opts->fail_on_http_error;
  t->scheme = opts->secure ? "https" : "http";
  name_server(t, opts->host, effective_port(opts));
  t->resource = opts->resource;
  t->user = opts->user;
  t->password = opts->password;
  t->no_follow = opts->no_follow;
  t->max_redirects = opts->max_redirects;
  t->first_origin = malloc(strlen(opts->host) + 32);
  if (t->first_origin == NULL) {
    transfer_destroy(t);
    return ENOMEM;
  }
  sprintf(t->first_origin, "%s://%s:%u", t->scheme, opts->host,
          effective_port(opts));
  set_proxy_for_messages(t, opts);
  t->input = input;
  t->output = output;
  t->state =
      opts->method == ASYNC_METHOD_POST ? STATE_SEND_WITH_BODY : STATE_SEND;
  *out = t;
  return 0;
}

bool transfer_open_handles(transfer *t, ah_handle session) {
  failure f = {false, 0, ""};
  ah_handle connect = NULL;
  ah_handle request = NULL;
  const char *verb = t->method == ASYNC_METHOD_POST ? "POST" : "GET";
  int rc;

  t->session = session;
  /* Like the sample: connect and request handles share one context. */
  rc = ah_connect(session, t->host, t->port, t->user, t->password, 0, t,
                  &connect);
  if (rc != AH_OK) {
    failure_set_library(&f, rc, NULL, "cannot create a connect handle for %s",
                        t->server);
    goto fail;
  }
  pthread_mutex_lock(&t->lock);
  t->connect = connect;
  pthread_mutex_unlock(&t->lock);
  /* The connect handle's port 0 means 443 for a secure request. */
  rc = ah_open_request(connect, verb, t->resource, request_flags(t), t,
                       &request);
  if (rc != AH_OK) {
    failure_set_library(&f, rc, NULL, "cannot create a %s request for %s%s",
                        verb, t->server, t->resource);
    goto fail;
  }
  pthread_mutex_lock(&t->lock);
  t->request = request;
  pthread_mutex_unlock(&t->lock);
  return true;

fail:
  record_failure(t, &f);
  return false;
}

void transfer_start(transfer *t) { process(t, AH_OK); }

static void deadline_after(struct timespec *at, uint32_t ms) {
  clock_gettime(CLOCK_MONOTONIC, at);
  at->tv_sec += (time_t)(ms / 1000u);
  at->tv_nsec += (long)(ms % 1000u) * 1000000L;
  if (at->tv_nsec >= 1000000000L) {
    at->tv_sec++;
    at->tv_nsec -= 1000000000L;
  }
}

bool transfer_wait(transfer *t, uint32_t timeout_ms) {
  struct timespec deadline;
  bool ended;
  deadline_after(&deadline, timeout_ms);
  pthread_mutex_lock(&t->lock);
  while (!t->finished) {
    if (pthread_cond_timedwait(&t->changed, &t->lock, &deadline) == ETIMEDOUT)
      break;
  }
  ended = t->finished;
  if (!ended)
    t->closing = true; /* from now on no step is taken */
  pthread_mutex_unlock(&t->lock);
  return ended;
}

/* Waits, without a limit, for a flag that a HANDLE_CLOSING sets: the
 * library promises that callback for every handle it accepted a close of. */
static void wait_for_flag(transfer *t, const bool *flag) {
  pthread_mutex_lock(&t->lock);
  while (!*flag)
    pthread_cond_wait(&t->changed, &t->lock);
  pthread_mutex_unlock(&t->lock);
}

void transfer_close(transfer *t) {
  bool close_now;
  pthread_mutex_lock(&t->lock);
  t->closing = true;
  close_now = t->request != NULL && t->users == 0 && !t->close_issued;
  if (close_now)
    t->close_issued = true;
  pthread_mutex_unlock(&t->lock);
  if (close_now)
    close_request_now(t);
  if (t->request != NULL)
    wait_for_flag(t, &t->request_closed);

  if (t->connect != NULL) {
    if (ah_close_handle(t->connect) == AH_OK)
      wait_for_flag(t, &t->connect_closed);
  }
}

bool transfer_succeeded(transfer *t) {
  bool ok;
  pthread_mutex_lock(&t->lock);
  ok = t->completed && !t->fail.set;
  pthread_mutex_unlock(&t->lock);
  return ok;
}

const failure *transfer_failure(transfer *t) {
  const failure *f;
  pthread_mutex_lock(&t->lock);
  f = &t->fail;
  pthread_mutex_unlock(&t->lock);
  return f;
}

void transfer_destroy(transfer *t) {
  if (t == NULL)
    return;
  pthread_mutex_destroy(&t->lock);
  pthread_cond_destroy(&t->changed);
  free(t->moved_host);
  free(t->moved_resource);
  free(t->first_origin);
  free(t->buffer);
  free(t);
}
