/*
 * test_cancel_torture.c - cancel torture (issue 6, section 4).
 *
 * Many requests (10,000) in one asynchronous session against the scripted
 * server, a fifth of them over HTTPS to a second instance in its TLS mode
 * (trusting the test CA), at most CONCURRENCY at once, each closed at
 * a random moment chosen by a seeded PRNG (the seed is printed; set
 * AHTTP_TORTURE_SEED to replay one). The requests mix GETs of bodies
 * (length, chunked and close framing), slow trickles, stalls and statuses
 * with streamed and one-shot POST uploads, some answered early with 413,
 * some never read. Each request is driven from its callbacks, as the
 * WinInet sample does: the send's completion starts the reads or writes,
 * each completion the next one. Each request is closed by one of:
 *   delay     a random delay, from a closer thread of the test's own
 *   callback  inside its own status callback: the k-th time a randomly
 *             chosen status arrives (falls back to a delay if it never does)
 *   io        a random delay, but on the I/O thread: from inside some other
 *             request's callback
 *   at-once   from the starting thread right after the first call returned
 *   at-end    when its transfer ends (body read, or an error), from the
 *             callback that saw the end (falls back to a delay)
 * and a few get a second close, which must say AH_ERR_INVALID_HANDLE.
 *
 * Every callback is recorded per request (the context is the request's
 * record, so this stays linear in the number of callbacks). Checked for
 * each request: exactly one HANDLE_CLOSING, carrying the handle; it is the
 * last callback (stragglers are given STRAGGLER_MS more); HANDLE_CREATED
 * came first; every call that returned AH_IO_PENDING got exactly one
 * REQUEST_COMPLETE, before HANDLE_CLOSING, and no call that returned
 * anything else got one; AH_ERR_OPERATION_CANCELLED and
 * AH_ERR_INVALID_HANDLE only after the test closed the handle; byte counts
 * in completions are sane. For the session: callbacks only on one thread
 * (not the test's), never nested. Leaks and races are the sanitizers' to
 * find (the ASan and TSan builds).
 *
 * The request count is AHTTP_TORTURE_COUNT if set, else 10,000 in every
 * build (see DEFAULT_COUNT). The test fails rather than hang: requests that
 * have no HANDLE_CLOSING 60 s after the last one started are reported.
 */
#define _GNU_SOURCE

#include "test_main.h"

#include "ahtest.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * The run time is set by the scripted server (Python, a thread per
 * connection) and by the random delays, not by the client: 10,000 requests
 * took 21-24 s on the 2-core machine in the plain, ASan+UBSan and TSan
 * builds alike, so every build runs the full count.
 */
#define DEFAULT_COUNT 10000

#define CONCURRENCY 150
#define READ_BUF 16384
#define UPLOAD_BYTES (1u << 20)
#define TRACE_CAP 120
#define STRAGGLER_MS 300u
#define DRAIN_LIMIT_MS 60000u
#define MAX_REPORTS 12

/* ---- a small seeded PRNG (splitmix64) ---- */

static uint64_t rng_state;

static uint64_t rng_next(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static uint64_t rng_range(uint64_t lo, uint64_t hi) {
  return lo + rng_next() % (hi - lo + 1);
}

/* ---- one request's record ---- */

enum kind { K_GET, K_POST_STREAM, K_POST_BODY };
enum op { OP_NONE, OP_SEND, OP_SEND_EX, OP_WRITE, OP_END, OP_READ };
enum strategy { S_DELAY, S_CALLBACK, S_IO, S_AT_ONCE, S_AT_END, S_COUNT };
static const char *const strategy_names[S_COUNT] = {"delay", "callback", "io",
                                                    "at-once", "at-end"};

typedef struct slot {
  pthread_mutex_t mu;
  int id;
  enum kind kind;
  int secure; /* HTTPS, to the scripted server's TLS twin */
  enum strategy strategy;
  char target[112];
  int cb_status; /* S_CALLBACK: close at the cb_nth (0-based) of this */
  int cb_nth;
  uint64_t due_ms; /* S_DELAY, S_IO: when; others: the fallback */
  int double_close;
  atomic_int close_called; /* the one close attempt has begun */
  atomic_int active;       /* in the closer's list */

  /* Driver state: the one call in flight and the transfer's progress. */
  ah_handle handle;
  enum op op;
  uint64_t upload_total, upload_sent;
  size_t write_len;
  size_t nread, nwritten;
  unsigned char *buf;
  int done;

  /* What the callbacks and calls saw (under mu). */
  int pending_calls; /* calls that returned AH_IO_PENDING (see issue()) */
  int completes;
  int closings;
  int after_closing;
  int status_seen[32];
  int problems;
  char first_problem[160];
  char trace[TRACE_CAP + 1];
  size_t trace_len;
} slot;

static slot *slots;
static int slot_count;
static const unsigned char *upload_data;

/* The session-wide state. */
static pthread_mutex_t state_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t state_cond = PTHREAD_COND_INITIALIZER;
static int inflight;
static slot *active_list[CONCURRENCY + 8];
static int active_count;
static atomic_int closer_stop;
static pthread_t io_thread;
static atomic_int io_thread_known;
static pthread_t main_thread; /* the test's: starts requests, never called */
static atomic_int session_problems;
static char session_problem[256];
static _Thread_local int cb_depth;
static atomic_ulong callbacks_total;
static atomic_ulong closes_by[S_COUNT];
static atomic_ulong error_hist[32]; /* by -error, [0] = AH_OK */
static atomic_ulong done_count;
static atomic_int other_closings; /* connect + session */

static void session_problem_note(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void session_problem_note(const char *fmt, ...) {
  if (atomic_fetch_add(&session_problems, 1) == 0) {
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&state_mu);
    vsnprintf(session_problem, sizeof(session_problem), fmt, ap);
    pthread_mutex_unlock(&state_mu);
    va_end(ap);
  }
}

/* Called with s->mu held. */
static void slot_problem(slot *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void slot_problem(slot *s, const char *fmt, ...) {
  if (s->problems++ == 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->first_problem, sizeof(s->first_problem), fmt, ap);
    va_end(ap);
  }
}

static char letter(int status) {
  static const char letters[] = "?rnckSsVvLlCXPDRITKKKHh";
  return status > 0 && status < (int)sizeof(letters) - 1 ? letters[status]
                                                         : '?';
}

static void count_error(int err) {
  int i = err <= 0 && err > -32 ? -err : 31;
  atomic_fetch_add(&error_hist[i], 1);
}

/* ---- the closer's list of open requests ---- */

static void activate(slot *s) {
  pthread_mutex_lock(&state_mu);
  active_list[active_count++] = s;
  inflight++;
  pthread_mutex_unlock(&state_mu);
  atomic_store(&s->active, 1);
}

static void deactivate(slot *s) {
  pthread_mutex_lock(&state_mu);
  for (int i = 0; i < active_count; i++) {
    if (active_list[i] == s) {
      active_list[i] = active_list[--active_count];
      break;
    }
  }
  inflight--;
  pthread_cond_broadcast(&state_cond);
  pthread_mutex_unlock(&state_mu);
}

/*
 * The one close of a request (whoever gets here first wins). `h` is the
 * handle if the caller knows it (a callback does), else the recorded one.
 */
static void try_close(slot *s, ah_handle h, enum strategy by) {
  int expected = 0;
  if (h == NULL) {
    pthread_mutex_lock(&s->mu);
    h = s->handle;
    pthread_mutex_unlock(&s->mu);
    if (h == NULL)
      return; /* not created yet: later */
  }
  if (!atomic_compare_exchange_strong(&s->close_called, &expected, 1))
    return;
  atomic_fetch_add(&closes_by[by], 1);
  int rc = ah_close_handle(h);
  if (rc != AH_OK) {
    pthread_mutex_lock(&s->mu);
    slot_problem(s, "ah_close_handle returned %s", ah_err_name(rc));
    pthread_mutex_unlock(&s->mu);
  }
  if (s->double_close) {
    rc = ah_close_handle(h);
    if (rc != AH_ERR_INVALID_HANDLE) {
      pthread_mutex_lock(&s->mu);
      slot_problem(s, "a second ah_close_handle returned %s", ah_err_name(rc));
      pthread_mutex_unlock(&s->mu);
    }
  }
}

/* Requests whose close is due; `io` picks the S_IO ones, else the rest. */
static int due_slots(slot **out, int cap, int io, uint64_t now) {
  int n = 0;
  pthread_mutex_lock(&state_mu);
  for (int i = 0; i < active_count && n < cap; i++) {
    slot *s = active_list[i];
    if (atomic_load(&s->close_called))
      continue;
    /* The I/O thread gets first go at S_IO ones; the closer thread takes
     * them too once they are well overdue (no callbacks may be coming). */
    uint64_t due = s->due_ms;
    if (s->strategy == S_IO && !io)
      due += 1000;
    if ((io && s->strategy != S_IO) || now < due)
      continue;
    out[n++] = s;
  }
  pthread_mutex_unlock(&state_mu);
  return n;
}

static void *closer_thread(void *arg) {
  (void)arg;
  slot *due[CONCURRENCY + 8];
  while (!atomic_load(&closer_stop)) {
    int n = due_slots(due, CONCURRENCY + 8, 0, tu_now_ms());
    for (int i = 0; i < n; i++)
      try_close(due[i], NULL,
                due[i]->strategy == S_IO ? S_DELAY : due[i]->strategy);
    tu_sleep_ms(1);
  }
  return NULL;
}

/* ---- driving a request from its completions ---- */

static size_t next_piece(const slot *s) {
  uint64_t left = s->upload_total - s->upload_sent;
  size_t piece = (size_t)(16384 + (s->upload_sent * 7919u) % 49152u);
  return left < piece ? (size_t)left : piece;
}

/*
 * Starts one call. Returns AH_IO_PENDING, or the call's own result (with
 * *result its synchronous byte count). pending_calls counts the call
 * before it is made, because its completion may arrive (on the I/O thread)
 * before the call returns here; a call that does not go pending is taken
 * back out.
 */
static int issue(slot *s, ah_handle h, enum op op, uintptr_t *result) {
  int rc;
  pthread_mutex_lock(&s->mu);
  s->op = op;
  s->pending_calls++;
  pthread_mutex_unlock(&s->mu);
  *result = 0;
  switch (op) {
  case OP_SEND:
    rc = ah_send_request(h, "X-Torture: cancel\r\n", 19,
                         s->kind == K_POST_BODY ? upload_data : NULL,
                         s->kind == K_POST_BODY ? (size_t)s->upload_total : 0);
    break;
  case OP_SEND_EX:
    rc = ah_send_request_ex(h, NULL, 0, s->upload_total);
    break;
  case OP_WRITE:
    s->write_len = next_piece(s);
    rc = ah_write(h, upload_data + (s->upload_sent % (UPLOAD_BYTES / 2)),
                  s->write_len, &s->nwritten);
    *result = s->nwritten;
    break;
  case OP_END:
    rc = ah_end_request(h);
    break;
  case OP_READ:
  default:
    rc = ah_read(h, s->buf, READ_BUF, &s->nread);
    *result = s->nread;
    break;
  }
  if (rc != AH_IO_PENDING) {
    pthread_mutex_lock(&s->mu);
    s->pending_calls--;
    if (rc == AH_ERR_INVALID_HANDLE && !atomic_load(&s->close_called))
      slot_problem(s, "a call returned AH_ERR_INVALID_HANDLE before the "
                      "handle was closed");
    pthread_mutex_unlock(&s->mu);
  }
  return rc;
}

/* The transfer is over (body read, or an error): maybe close now. */
static void transfer_done(slot *s, ah_handle h, int err) {
  pthread_mutex_lock(&s->mu);
  s->done = 1;
  pthread_mutex_unlock(&s->mu);
  count_error(err);
  atomic_fetch_add(&done_count, 1);
  if (s->strategy == S_AT_END)
    try_close(s, h, S_AT_END);
}

/*
 * Moves the request on after `op` finished with `err` and `result`,
 * issuing calls until one goes pending, fails, or the transfer ends.
 */
static void drive(slot *s, ah_handle h, enum op op, int err, uintptr_t result) {
  for (;;) {
    enum op next;
    if (err != AH_OK) {
      if (err != AH_ERR_INVALID_HANDLE)
        transfer_done(s, h, err);
      return;
    }
    switch (op) {
    case OP_SEND_EX:
      next = s->upload_total > 0 ? OP_WRITE : OP_END;
      break;
    case OP_WRITE:
      if (result != s->write_len) {
        pthread_mutex_lock(&s->mu);
        slot_problem(s, "a write of %zu bytes completed with %lu", s->write_len,
                     (unsigned long)result);
        pthread_mutex_unlock(&s->mu);
      }
      s->upload_sent += s->write_len;
      next = s->upload_sent < s->upload_total ? OP_WRITE : OP_END;
      break;
    case OP_READ:
      if (result > READ_BUF) {
        pthread_mutex_lock(&s->mu);
        slot_problem(s, "a read returned %lu bytes into %d",
                     (unsigned long)result, READ_BUF);
        pthread_mutex_unlock(&s->mu);
      }
      if (result == 0) {
        transfer_done(s, h, AH_OK);
        return;
      }
      next = OP_READ;
      break;
    case OP_SEND:
    case OP_END:
    default:
      next = OP_READ;
      break;
    }
    err = issue(s, h, next, &result);
    if (err == AH_IO_PENDING)
      return;
    op = next;
  }
}

/* ---- the status callback ---- */

static void check_thread(int status) {
  if (cb_depth > 0)
    session_problem_note("nested callback (%s)", ah_status_name(status));
  if (pthread_equal(main_thread, pthread_self()))
    session_problem_note("a callback (%s) on the test's own thread",
                         ah_status_name(status));
  if (!atomic_load(&io_thread_known)) {
    pthread_mutex_lock(&state_mu);
    if (!atomic_load(&io_thread_known)) {
      io_thread = pthread_self();
      atomic_store(&io_thread_known, 1);
    }
    pthread_mutex_unlock(&state_mu);
  } else if (!pthread_equal(io_thread, pthread_self())) {
    session_problem_note("a callback (%s) on a second thread",
                         ah_status_name(status));
  }
}

/* Records one callback for a request; returns 1 for its HANDLE_CLOSING. */
static int record(slot *s, ah_handle h, int status, const void *info,
                  size_t info_len, ah_async_result *ar, int *nth) {
  int closing = 0;
  pthread_mutex_lock(&s->mu);
  if (s->trace_len < TRACE_CAP)
    s->trace[s->trace_len++] = letter(status);
  s->trace[s->trace_len] = '\0';
  if (s->closings > 0)
    slot_problem(s, "%s after HANDLE_CLOSING", ah_status_name(status));
  if (s->trace_len == 1 && status != AH_STATUS_HANDLE_CREATED)
    slot_problem(s, "first callback %s, not HANDLE_CREATED",
                 ah_status_name(status));
  if (s->handle == NULL)
    s->handle = h;
  else if (s->handle != h)
    slot_problem(s, "callback for handle %p on the record of %p", (void *)h,
                 (void *)s->handle);
  *nth = status > 0 && status < 32 ? s->status_seen[status]++ : 0;
  if (status == AH_STATUS_REQUEST_COMPLETE) {
    if (info == NULL || info_len < sizeof(*ar)) {
      slot_problem(s, "REQUEST_COMPLETE without an ah_async_result");
      memset(ar, 0, sizeof(*ar));
    } else {
      memcpy(ar, info, sizeof(*ar));
    }
    s->completes++;
    if (ar->error == AH_ERR_OPERATION_CANCELLED &&
        !atomic_load(&s->close_called))
      slot_problem(s, "AH_ERR_OPERATION_CANCELLED before the handle was "
                      "closed");
  } else if (status == AH_STATUS_HANDLE_CLOSING) {
    ah_handle got = NULL;
    if (info != NULL && info_len >= sizeof(got))
      memcpy(&got, info, sizeof(got));
    if (got != h)
      slot_problem(s, "HANDLE_CLOSING carries %p", (void *)got);
    if (!atomic_load(&s->close_called))
      slot_problem(s, "HANDLE_CLOSING before the handle was closed");
    closing = s->closings++ == 0;
  }
  pthread_mutex_unlock(&s->mu);
  return closing;
}

/* Closes, from the I/O thread, S_IO requests that are due. */
static void io_closes(void) {
  static unsigned tick;
  slot *due[CONCURRENCY + 8];
  if ((++tick & 15u) != 0)
    return;
  int n = due_slots(due, CONCURRENCY + 8, 1, tu_now_ms());
  for (int i = 0; i < n; i++)
    try_close(due[i], NULL, S_IO);
}

static int connect_ctx, session_ctx;

static void torture_cb(ah_handle h, int status, const void *info,
                       size_t info_len, void *context) {
  atomic_fetch_add(&callbacks_total, 1);
  check_thread(status);
  cb_depth++;
  if (context == &connect_ctx || context == &session_ctx || context == NULL) {
    if (status == AH_STATUS_HANDLE_CLOSING)
      atomic_fetch_add(&other_closings, 1);
    cb_depth--;
    return;
  }
  slot *s = context;
  ah_async_result ar = {0, 0};
  int nth = 0;
  int closing = record(s, h, status, info, info_len, &ar, &nth);
  if (closing) {
    /* The last callback: the buffers are ours again. */
    free(s->buf);
    s->buf = NULL;
    deactivate(s);
  } else if (!atomic_load(&s->close_called) ||
             status == AH_STATUS_REQUEST_COMPLETE) {
    if (status == AH_STATUS_REQUEST_COMPLETE) {
      enum op op;
      pthread_mutex_lock(&s->mu);
      op = s->op;
      pthread_mutex_unlock(&s->mu);
      drive(s, h, op, ar.error, ar.result);
    }
    if (s->strategy == S_CALLBACK && status == s->cb_status && nth == s->cb_nth)
      try_close(s, h, S_CALLBACK);
  }
  io_closes();
  cb_depth--;
}

/* ---- choosing and starting requests ---- */

static void choose(slot *s, uint64_t now) {
  static const int cb_statuses[] = {
      AH_STATUS_HANDLE_CREATED,      AH_STATUS_RESOLVING_NAME,
      AH_STATUS_NAME_RESOLVED,       AH_STATUS_CONNECTING_TO_SERVER,
      AH_STATUS_CONNECTED_TO_SERVER, AH_STATUS_SENDING_REQUEST,
      AH_STATUS_REQUEST_SENT,        AH_STATUS_RECEIVING_RESPONSE,
      AH_STATUS_RESPONSE_RECEIVED,   AH_STATUS_REQUEST_COMPLETE,
      AH_STATUS_CLOSING_CONNECTION,  AH_STATUS_CONNECTION_CLOSED,
      AH_STATUS_TLS_HANDSHAKE_START, AH_STATUS_TLS_HANDSHAKE_DONE};
  static const char *const framings[] = {"length", "chunked", "close"};
  static const char *const stalls[] = {"none", "headers", "body"};
  unsigned pick = (unsigned)rng_range(0, 99);
  s->secure = rng_range(0, 4) == 0;
  s->kind = K_GET;
  if (pick < 30) {
    snprintf(s->target, sizeof(s->target), "/bytes/%lu?framing=%s&chunk=%lu",
             (unsigned long)rng_range(0, 120000), framings[rng_range(0, 2)],
             (unsigned long)rng_range(100, 40000));
  } else if (pick < 45) {
    snprintf(s->target, sizeof(s->target), "/slow/%lu?delay_ms=%lu&piece=%lu",
             (unsigned long)rng_range(1000, 40000),
             (unsigned long)rng_range(1, 15),
             (unsigned long)rng_range(512, 8192));
  } else if (pick < 52) {
    snprintf(s->target, sizeof(s->target), "/stall?after=%s&bytes=%lu",
             stalls[rng_range(0, 2)], (unsigned long)rng_range(0, 5000));
  } else if (pick < 57) {
    snprintf(s->target, sizeof(s->target), "/status/%s",
             rng_range(0, 1) ? "204" : "404");
  } else if (pick < 77) {
    s->kind = K_POST_STREAM;
    s->upload_total = rng_range(0, 300000);
    snprintf(s->target, sizeof(s->target), "/upload");
  } else if (pick < 87) {
    s->kind = K_POST_BODY;
    s->upload_total = rng_range(0, 65536);
    snprintf(s->target, sizeof(s->target), "/upload");
  } else if (pick < 94) {
    s->kind = K_POST_STREAM;
    s->upload_total = rng_range(1, 400000);
    snprintf(s->target, sizeof(s->target), "/upload?respond_early=1");
  } else {
    s->kind = K_POST_STREAM;
    s->upload_total = rng_range(100000, 2000000);
    snprintf(s->target, sizeof(s->target), "/stall");
  }

  pick = (unsigned)rng_range(0, 99);
  s->strategy = pick < 30   ? S_DELAY
                : pick < 58 ? S_CALLBACK
                : pick < 75 ? S_IO
                : pick < 85 ? S_AT_ONCE
                            : S_AT_END;
  s->cb_status = cb_statuses[rng_range(
      0, sizeof(cb_statuses) / sizeof(cb_statuses[0]) - 1)];
  s->cb_nth = rng_range(0, 3) == 0 ? (int)rng_range(1, 3) : 0;
  switch (s->strategy) {
  case S_DELAY:
  case S_IO:
    /* Half early (connecting, sending, the head), half spread out. */
    s->due_ms = now + (rng_range(0, 1) ? rng_range(0, 20) : rng_range(0, 300));
    break;
  case S_CALLBACK:
    s->due_ms = now + 1500; /* if the status never comes */
    break;
  case S_AT_END:
    s->due_ms = now + 3000; /* if the transfer never ends */
    break;
  default:
    s->due_ms = now + 1000;
    break;
  }
  s->double_close = rng_range(0, 19) == 0;
}

static void start_one(slot *s, ah_handle connect, ah_handle tls_connect) {
  uint64_t now = tu_now_ms();
  choose(s, now);
  s->buf = malloc(READ_BUF);
  assert_non_null(s->buf);
  ah_handle h = NULL;
  const char *method = s->kind == K_GET ? "GET" : "POST";
  activate(s);
  int rc = ah_open_request(s->secure ? tls_connect : connect, method, s->target,
                           s->secure ? AH_FLAG_SECURE : 0, s, &h);
  if (rc != AH_OK || h == NULL)
    fail_msg("ah_open_request #%d: %s", s->id, ah_err_name(rc));
  pthread_mutex_lock(&s->mu);
  if (s->handle == NULL)
    s->handle = h;
  else if (s->handle != h)
    slot_problem(s, "HANDLE_CREATED named %p, ah_open_request gave %p",
                 (void *)s->handle, (void *)h);
  pthread_mutex_unlock(&s->mu);
  enum op op = s->kind == K_POST_STREAM ? OP_SEND_EX : OP_SEND;
  uintptr_t result = 0;
  rc = issue(s, h, op, &result);
  if (s->strategy == S_AT_ONCE)
    try_close(s, h, S_AT_ONCE);
  else if (rc != AH_IO_PENDING)
    drive(s, h, op, rc, result);
}

static unsigned long env_ulong(const char *name, unsigned long fallback) {
  const char *v = getenv(name);
  if (v == NULL || v[0] == '\0')
    return fallback;
  return strtoul(v, NULL, 0);
}

/* ---- the test ---- */

static void report_slot(const slot *s) {
  fprintf(stderr,
          "  request #%d %s %s%s, close %s%s%s (status %s #%d): %s\n"
          "    trace %s (completes %d, pending calls %d, closings %d)\n",
          s->id, s->kind == K_GET ? "GET" : "POST", s->secure ? "https:" : "",
          s->target, strategy_names[s->strategy],
          s->double_close ? "+twice" : "", s->done ? ", transfer ended" : "",
          ah_status_name(s->cb_status), s->cb_nth,
          s->first_problem[0] ? s->first_problem : "-", s->trace, s->completes,
          s->pending_calls, s->closings);
}

static void test_cancel_torture(void **state) {
  (void)state;
  uint64_t t0 = tu_now_ms();
  main_thread = pthread_self();
  int count = (int)env_ulong("AHTTP_TORTURE_COUNT", DEFAULT_COUNT);
  uint64_t seed = env_ulong("AHTTP_TORTURE_SEED", 0);
  if (seed == 0)
    seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
  rng_state = seed;
  printf("cancel torture: %d requests, at most %d at once, seed %llu "
         "(AHTTP_TORTURE_SEED=%llu replays it)\n",
         count, CONCURRENCY, (unsigned long long)seed,
         (unsigned long long)seed);
  fflush(stdout);

  unsigned char *data = malloc(UPLOAD_BYTES);
  assert_non_null(data);
  tu_fill(data, UPLOAD_BYTES, seed);
  upload_data = data;
  slots = calloc((size_t)count, sizeof(*slots));
  assert_non_null(slots);
  slot_count = count;
  for (int i = 0; i < count; i++) {
    pthread_mutex_init(&slots[i].mu, NULL);
    slots[i].id = i;
  }

  ts_server server, tls_server;
  if (ts_server_start(&server, 0) != 0)
    fail_msg("could not start the scripted server");
  char cert[512], key[512], ca[512];
  if (ts_certs_dir() == NULL)
    fail_msg("could not make the test certificates");
  ts_cert_path("server.pem", cert, sizeof(cert));
  ts_cert_path("server.key", key, sizeof(key));
  ts_cert_path("ca.pem", ca, sizeof(ca));
  ts_server_tls tls = {cert, key, NULL, NULL};
  if (ts_server_start_tls(&tls_server, 0, &tls) != 0)
    fail_msg("could not start the scripted server with TLS");
  ah_handle session = NULL, connect = NULL, tls_connect = NULL;
  assert_ah(
      ah_open(NULL, AH_OPEN_TYPE_DIRECT, NULL, NULL, AH_FLAG_ASYNC, &session),
      AH_OK);
  void *ctx = &session_ctx;
  assert_ah(ah_set_option(session, AH_OPTION_CONTEXT, &ctx, sizeof(ctx)),
            AH_OK);
  assert_ah(ah_set_status_callback(session, torture_cb), AH_OK);
  assert_ah(ah_set_option(session, AH_OPTION_TLS_CA_FILE, ca, strlen(ca)),
            AH_OK);
  assert_ah(ah_connect(session, "127.0.0.1", server.port, NULL, NULL, 0,
                       &connect_ctx, &connect),
            AH_OK);
  assert_ah(ah_connect(session, "127.0.0.1", tls_server.port, NULL, NULL, 0,
                       &connect_ctx, &tls_connect),
            AH_OK);

  pthread_t closer;
  atomic_store(&closer_stop, 0);
  assert_int_equal(pthread_create(&closer, NULL, closer_thread, NULL), 0);

  for (int i = 0; i < count; i++) {
    pthread_mutex_lock(&state_mu);
    while (inflight >= CONCURRENCY)
      pthread_cond_wait(&state_cond, &state_mu);
    pthread_mutex_unlock(&state_mu);
    start_one(&slots[i], connect, tls_connect);
  }
  uint64_t t_started = tu_now_ms();

  /* Every request gets closed (fallback deadlines); wait for the last. */
  int left;
  pthread_mutex_lock(&state_mu);
  for (;;) {
    left = inflight;
    if (left == 0 || tu_now_ms() - t_started > DRAIN_LIMIT_MS)
      break;
    pthread_mutex_unlock(&state_mu);
    tu_sleep_ms(10);
    pthread_mutex_lock(&state_mu);
  }
  pthread_mutex_unlock(&state_mu);
  tu_sleep_ms(STRAGGLER_MS);
  atomic_store(&closer_stop, 1);
  pthread_join(closer, NULL);
  uint64_t t_drained = tu_now_ms();

  assert_ah(ah_close_handle(connect), AH_OK);
  assert_ah(ah_close_handle(tls_connect), AH_OK);
  assert_ah(ah_close_handle(session), AH_OK);
  ts_server_stop(&server);
  ts_server_stop(&tls_server);

  int bad = 0, reported = 0;
  for (int i = 0; i < count; i++) {
    slot *s = &slots[i];
    pthread_mutex_lock(&s->mu);
    if (s->closings != 1 && s->problems == 0)
      slot_problem(s, "%d HANDLE_CLOSING", s->closings);
    if (s->completes != s->pending_calls && s->problems == 0)
      slot_problem(s, "%d calls went pending, %d REQUEST_COMPLETE arrived",
                   s->pending_calls, s->completes);
    if (s->trace_len > 0 && s->trace_len < TRACE_CAP &&
        s->trace[s->trace_len - 1] != 'X' && s->problems == 0)
      slot_problem(s, "the last callback was not HANDLE_CLOSING");
    if (s->problems > 0) {
      bad++;
      if (reported++ < MAX_REPORTS)
        report_slot(s);
    }
    pthread_mutex_unlock(&s->mu);
  }

  printf("cancel torture: started %d in %.1f s, all closed %.1f s later; "
         "%lu callbacks; closed by delay %lu, callback %lu, io %lu, at-once "
         "%lu, at-end %lu; %lu transfers ended (read to the end or "
         "failed, cancellation included)\n",
         count, (double)(t_started - t0) / 1000.0,
         (double)(t_drained - t_started) / 1000.0,
         atomic_load(&callbacks_total), atomic_load(&closes_by[S_DELAY]),
         atomic_load(&closes_by[S_CALLBACK]), atomic_load(&closes_by[S_IO]),
         atomic_load(&closes_by[S_AT_ONCE]), atomic_load(&closes_by[S_AT_END]),
         atomic_load(&done_count));
  printf("cancel torture: how ended transfers ended:");
  for (int i = 0; i < 32; i++)
    if (atomic_load(&error_hist[i]) > 0)
      printf(" %s %lu", ah_err_name(-i), atomic_load(&error_hist[i]));
  printf("\n");
  for (int i = 0; i < count; i++)
    pthread_mutex_destroy(&slots[i].mu);
  free(slots);
  free(data);

  if (left != 0)
    fail_msg("%d requests had no HANDLE_CLOSING %u s after the last start",
             left, DRAIN_LIMIT_MS / 1000u);
  if (atomic_load(&session_problems) > 0)
    fail_msg("session: %d problem(s), the first: %s",
             atomic_load(&session_problems), session_problem);
  if (atomic_load(&other_closings) != 3)
    fail_msg("%d HANDLE_CLOSING for the two connect handles and the "
             "session, expected 3",
             atomic_load(&other_closings));
  if (bad > 0)
    fail_msg("%d of %d requests broke the close contract (first %d above; "
             "seed %llu)",
             bad, count, MAX_REPORTS, (unsigned long long)seed);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cancel_torture),
};

AH_TEST_MAIN(tests)
