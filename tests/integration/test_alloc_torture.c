/*
 * test_alloc_torture.c - allocation failure torture (issue 6, section 3).
 *
 * A scenario (two GETs, the second on the pooled connection; a streamed
 * POST; the two GETs over HTTPS) runs once with no failure to count
 * the allocations it makes through the library's hook (src/util/alloc.h),
 * then again with ah__alloc_fail_from(N) for N = 1, 2, ... (allocation N
 * and every later one fail) until a run completes with no failure
 * injected. The whole
 * scenario runs under injection: ah_open, ah_connect, ah_open_request, the
 * send, the upload, the reads, and closing the request and connect handles
 * (a user may well close handles while memory is short). Injection is
 * turned off only for the teardown: closing the session and the checks.
 *
 * For every N: every call returns AH_OK, AH_IO_PENDING or AH_ERR_NO_MEMORY
 * (an out-of-memory condition must surface as such, not as another error);
 * a pending call gets exactly one REQUEST_COMPLETE within 10 s, carrying
 * AH_OK or AH_ERR_NO_MEMORY; every handle a call gave us gets exactly one
 * HANDLE_CLOSING, as its last callback; the recorder sees no contract
 * violation; and a run whose calls all succeeded transferred the right
 * bytes. Libuv's, libc's and OpenSSL's own allocations are not hooked.
 * A watchdog aborts the process if one run takes longer than 60 s, naming
 * N and the step. Leaks are LeakSanitizer's to find (the ASan build).
 *
 * The GET also runs in a synchronous session without a status callback
 * (the blocking calls on a worker thread, so that one that never returns
 * is reported after 3 s instead of hanging the test). A fifth scenario,
 * close-many, aims at the one path that allocates while
 * closing: a connect handle with 100 pending requests is closed under
 * injection (the set-up runs without), so that the burst of cancelled
 * completions and HANDLE_CLOSINGs must grow the session's event queue.
 *
 * Problems are collected over all N and reported together at the end, so
 * one run of the test shows every failing N, not only the first.
 */
#define _GNU_SOURCE

#include "test_main.h"

#include "ahtest.h"
#include "util/alloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 10000u
#define SYNC_WAIT_MS 3000u /* a blocking 70 KB GET on loopback takes ms */
#define RUN_LIMIT_MS 60000u
#define MAX_PROBLEMS 40
#define GET_TARGET "/bytes/70000?framing=chunked&chunk=30000"
#define POST_LENGTH 100000u

/* ---- watchdog: no run may hang ---- */

static atomic_ulong watch_n;
static atomic_ullong watch_deadline; /* 0: idle */
static _Atomic(const char *) watch_step;
static atomic_int watch_stop;

static void *watchdog(void *arg) {
  (void)arg;
  while (!atomic_load(&watch_stop)) {
    uint64_t d = atomic_load(&watch_deadline);
    if (d != 0 && tu_now_ms() > d) {
      fprintf(stderr,
              "alloc torture: the run with fail_from(%lu) hung in step "
              "\"%s\" for more than %u ms\n",
              atomic_load(&watch_n), atomic_load(&watch_step), RUN_LIMIT_MS);
      abort();
    }
    tu_sleep_ms(100);
  }
  return NULL;
}

static void step(const char *name) { atomic_store(&watch_step, name); }

/* ---- problems, collected over every N ---- */

static char problems[MAX_PROBLEMS][320];
static int problem_count;
static pthread_mutex_t problem_mu = PTHREAD_MUTEX_INITIALIZER;

static void problem(unsigned long n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(unsigned long n, const char *fmt, ...) {
  pthread_mutex_lock(&problem_mu);
  if (problem_count < MAX_PROBLEMS) {
    int k = snprintf(problems[problem_count], sizeof(problems[0]),
                     "fail_from(%lu): ", n);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problems[problem_count] + k, sizeof(problems[0]) - (size_t)k, fmt,
              ap);
    va_end(ap);
    fprintf(stderr, "alloc torture: %s\n", problems[problem_count]);
  }
  problem_count++;
  pthread_mutex_unlock(&problem_mu);
}

/* ---- one run ---- */

#define MAX_REQUESTS 2

typedef struct run {
  unsigned long n; /* fail_from(n); 0 = the clean counting run */
  uint16_t port;
  const char *ca_file; /* HTTPS: trust this CA (set under injection too) */
  ah_handle session;   /* handles the calls gave us (NULL: none) */
  ah_handle connect;
  ah_handle req[MAX_REQUESTS];
  size_t pending[MAX_REQUESTS]; /* calls on req[i] that went pending */
  int sync;                     /* a synchronous session, no callback */
  int failed;                   /* some call ended with an error */
  int first_error;
  const char *first_error_step;
} run;

static int req_index(const run *r, ah_handle h) {
  for (int i = 0; i < MAX_REQUESTS; i++)
    if (r->req[i] != NULL && r->req[i] == h)
      return i;
  return -1;
}

/*
 * The outcome of a call: waits for the completion if it went pending and
 * checks that the result is one that running out of memory may give.
 * Returns AH_OK or the (final) error.
 */
static int outcome(run *r, ah_handle h, const char *what, int rc,
                   uintptr_t *result) {
  if (result != NULL)
    *result = 0;
  if (rc == AH_IO_PENDING && r->sync) {
    problem(r->n, "%s returned AH_IO_PENDING in a synchronous session", what);
  } else if (rc == AH_IO_PENDING) {
    ah_async_result ar;
    int i = req_index(r, h);
    if (i >= 0)
      r->pending[i]++;
    if (!rec_wait_complete(h, WAIT_MS, &ar)) {
      problem(r->n, "%s went pending and no REQUEST_COMPLETE came in %u ms",
              what, WAIT_MS);
      rc = REC_ERR_NO_COMPLETION;
    } else {
      rc = ar.error;
      if (result != NULL)
        *result = ar.result;
      if (rc == AH_IO_PENDING)
        problem(r->n, "%s completed with AH_IO_PENDING as its result", what);
    }
  }
  if (rc != AH_OK && rc != AH_ERR_NO_MEMORY && rc != REC_ERR_NO_COMPLETION) {
    char detail[256] = "";
    if (h != NULL)
      ah_last_error_detail(h, detail, sizeof(detail));
    problem(r->n,
            "%s ended with %s (%d), detail \"%s\"; expected AH_OK or "
            "AH_ERR_NO_MEMORY",
            what, rec_code_name(rc), rc, detail);
  }
  if (rc != AH_OK && !r->failed) {
    r->failed = 1;
    r->first_error = rc;
    r->first_error_step = what;
  }
  return rc;
}

/* Closes a connect or request handle and waits for its HANDLE_CLOSING. */
static void close_child(run *r, ah_handle h, const char *what) {
  step(what);
  int rc = ah_close_handle(h);
  if (rc != AH_OK) {
    problem(r->n, "%s returned %s", what, rec_code_name(rc));
    return;
  }
  if (!rec_wait_closing(h, WAIT_MS))
    problem(r->n, "%s: no HANDLE_CLOSING within %u ms", what, WAIT_MS);
}

/* Reads to the end; 1 if the body arrived whole and hashes to `want`. */
static int read_body(run *r, ah_handle req, const char *want_hex, char *text,
                     size_t text_cap) {
  static unsigned char buf[16384];
  tu_sha256 *sha = tu_sha256_new();
  size_t used = 0;
  int ok = 1;
  for (;;) {
    size_t n = 0;
    uintptr_t result = 0;
    step("ah_read");
    int rc =
        outcome(r, req, "ah_read", ah_read(req, buf, sizeof(buf), &n), &result);
    if (rc != AH_OK) {
      ok = 0;
      break;
    }
    if (n > sizeof(buf)) {
      problem(r->n, "ah_read returned %zu bytes into %zu", n, sizeof(buf));
      ok = 0;
      break;
    }
    if (n == 0)
      break;
    tu_sha256_update(sha, buf, n);
    if (text != NULL && used + n < text_cap) {
      memcpy(text + used, buf, n);
      used += n;
    }
  }
  if (text != NULL)
    text[used] = '\0';
  char hex[65];
  tu_sha256_final_hex(sha, hex);
  if (ok && want_hex != NULL && strcmp(hex, want_hex) != 0) {
    problem(r->n,
            "every call succeeded but the body's SHA-256 is %s, the "
            "server's is %s",
            hex, want_hex);
    ok = 0;
  }
  return ok;
}

/* Opens the session and the connect handle; 1 if both exist. */
static int open_handles(run *r) {
  step("ah_open");
  ah_handle s = NULL;
  int rc = ah_open(NULL, AH_OPEN_TYPE_DIRECT, NULL, NULL, AH_FLAG_ASYNC, &s);
  if (outcome(r, NULL, "ah_open", rc, NULL) != AH_OK)
    return 0;
  r->session = s;
  step("ah_set_status_callback");
  if (outcome(r, NULL, "ah_set_status_callback",
              ah_set_status_callback(s, rec_callback), NULL) != AH_OK)
    return 0;
  if (r->ca_file != NULL) {
    step("ah_set_option(AH_OPTION_TLS_CA_FILE)");
    if (outcome(r, NULL, "ah_set_option(AH_OPTION_TLS_CA_FILE)",
                ah_set_option(s, AH_OPTION_TLS_CA_FILE, r->ca_file,
                              strlen(r->ca_file)),
                NULL) != AH_OK)
      return 0;
  }
  step("ah_connect");
  ah_handle c = NULL;
  rc = ah_connect(s, "127.0.0.1", r->port, NULL, NULL, 0, NULL, &c);
  if (outcome(r, NULL, "ah_connect", rc, NULL) != AH_OK)
    return 0;
  r->connect = c;
  return 1;
}

static ah_handle open_request(run *r, int i, const char *method,
                              const char *target) {
  step("ah_open_request");
  ah_handle h = NULL;
  unsigned flags = r->ca_file != NULL ? AH_FLAG_SECURE : 0;
  int rc = ah_open_request(r->connect, method, target, flags, NULL, &h);
  if (outcome(r, NULL, "ah_open_request", rc, NULL) != AH_OK)
    return NULL;
  r->req[i] = h;
  return h;
}

/* One GET of GET_TARGET on request slot i, checked against the server. */
static int one_get(run *r, int i) {
  ah_handle req = open_request(r, i, "GET", GET_TARGET);
  if (req == NULL)
    return 0;
  step("ah_send_request");
  static const char extra[] = "X-Torture: alloc\r\n";
  if (outcome(r, req, "ah_send_request",
              ah_send_request(req, extra, sizeof(extra) - 1, NULL, 0),
              NULL) != AH_OK)
    return 0;
  uint32_t code = 0;
  size_t len = sizeof(code);
  int rc = ah_query_info(req, AH_INFO_STATUS_CODE, NULL, 0, &code, &len);
  if (rc != AH_OK || code != 200) {
    problem(r->n, "after a successful send: status query %s, code %u",
            rec_code_name(rc), (unsigned)code);
    return 0;
  }
  char want[80];
  len = sizeof(want);
  rc = ah_query_info(req, AH_INFO_HEADER, "X-Body-Sha256", 0, want, &len);
  if (rc != AH_OK) {
    problem(r->n, "X-Body-Sha256 query: %s", rec_code_name(rc));
    return 0;
  }
  return read_body(r, req, want, NULL, 0);
}

/* Two GETs, the second on the connection the first left in the pool. */
static int scenario_get(run *r) {
  if (!open_handles(r))
    return 0;
  int ok = one_get(r, 0);
  if (r->req[0] != NULL)
    close_child(r, r->req[0], "ah_close_handle(first GET)");
  if (ok)
    ok = one_get(r, 1);
  if (r->req[1] != NULL)
    close_child(r, r->req[1], "ah_close_handle(second GET)");
  return ok;
}

/* A streamed upload of POST_LENGTH bytes in three writes. */
static int scenario_post(run *r) {
  static unsigned char data[POST_LENGTH];
  static const size_t pieces[] = {40000, 40000, POST_LENGTH - 80000};
  if (!open_handles(r))
    return 0;
  tu_fill(data, sizeof(data), 7);
  int ok = 0;
  ah_handle req = open_request(r, 0, "POST", "/upload");
  if (req == NULL)
    goto out;
  step("ah_send_request_ex");
  static const char extra[] = "Content-Type: application/octet-stream\r\n";
  if (outcome(r, req, "ah_send_request_ex",
              ah_send_request_ex(req, extra, sizeof(extra) - 1, POST_LENGTH),
              NULL) != AH_OK)
    goto out;
  size_t off = 0;
  for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
    size_t written = 0;
    uintptr_t result = 0;
    step("ah_write");
    int rc = ah_write(req, data + off, pieces[i], &written);
    if (outcome(r, req, "ah_write", rc, &result) != AH_OK)
      goto out;
    if (written != pieces[i]) {
      problem(r->n, "ah_write of %zu bytes reported %zu written", pieces[i],
              written);
      goto out;
    }
    off += pieces[i];
  }
  step("ah_end_request");
  if (outcome(r, req, "ah_end_request", ah_end_request(req), NULL) != AH_OK)
    goto out;
  uint32_t code = 0;
  size_t len = sizeof(code);
  int rc = ah_query_info(req, AH_INFO_STATUS_CODE, NULL, 0, &code, &len);
  if (rc != AH_OK || code != 200) {
    problem(r->n, "after a successful upload: status query %s, code %u",
            rec_code_name(rc), (unsigned)code);
    goto out;
  }
  char text[256];
  if (!read_body(r, req, NULL, text, sizeof(text)))
    goto out;
  char want[65], expect[128];
  tu_sha256_hex(data, sizeof(data), want);
  snprintf(expect, sizeof(expect), "%s %u\n", want, POST_LENGTH);
  if (strcmp(text, expect) != 0) {
    problem(r->n, "every call succeeded but the server received \"%s\"", text);
    goto out;
  }
  ok = 1;
out:
  if (r->req[0] != NULL)
    close_child(r, r->req[0], "ah_close_handle(POST)");
  return ok;
}

/*
 * A synchronous session without a status callback (how a blocking user
 * typically calls it): every call blocks until done. It runs on a worker
 * thread so that a call that never returns is reported, not waited for.
 */
static int scenario_sync_get(run *r) {
  step("ah_open (synchronous)");
  ah_handle s = NULL;
  if (outcome(r, NULL, "ah_open",
              ah_open(NULL, AH_OPEN_TYPE_DIRECT, NULL, NULL, 0, &s),
              NULL) != AH_OK)
    return 0;
  r->session = s;
  step("ah_connect");
  ah_handle c = NULL;
  if (outcome(r, NULL, "ah_connect",
              ah_connect(s, "127.0.0.1", r->port, NULL, NULL, 0, NULL, &c),
              NULL) != AH_OK)
    return 0;
  r->connect = c;
  int ok = one_get(r, 0);
  if (r->req[0] != NULL) {
    step("ah_close_handle(GET)");
    int rc = ah_close_handle(r->req[0]);
    if (rc != AH_OK)
      problem(r->n, "ah_close_handle(GET) returned %s", rec_code_name(rc));
  }
  step("ah_close_handle(connect)");
  int rc = ah_close_handle(c);
  if (rc != AH_OK)
    problem(r->n, "ah_close_handle(connect) returned %s", rec_code_name(rc));
  return ok;
}

typedef struct sync_job {
  run r;
  int ok;
  atomic_int finished;
} sync_job;

static void *sync_worker(void *arg) {
  sync_job *job = arg;
  job->ok = scenario_sync_get(&job->r);
  atomic_store(&job->finished, 1);
  return NULL;
}

/*
 * One synchronous run with fail_from(n). A run whose calls have not
 * returned after WAIT_MS is reported and abandoned: its worker stays
 * blocked and its session open (so the job is not freed).
 */
static unsigned long sync_run(uint16_t port, unsigned long n, int *ok,
                              int *first_error, unsigned long *refused) {
  sync_job *job = calloc(1, sizeof(*job));
  assert_non_null(job);
  job->r.n = n;
  job->r.port = port;
  job->r.sync = 1;
  pthread_t worker;
  atomic_store(&watch_n, n);
  ah__alloc_fail_from(n, NULL);
  assert_int_equal(pthread_create(&worker, NULL, sync_worker, job), 0);
  uint64_t until = tu_now_ms() + SYNC_WAIT_MS;
  while (!atomic_load(&job->finished) && tu_now_ms() < until)
    tu_sleep_ms(2);
  unsigned long used = ah__alloc_fail_from(0, refused);
  if (!atomic_load(&job->finished)) {
    problem(n, "a blocking call (step \"%s\") has not returned %u ms later",
            atomic_load(&watch_step), SYNC_WAIT_MS);
    pthread_detach(worker);
    *ok = 0;
    *first_error = REC_ERR_NO_COMPLETION;
    return used;
  }
  pthread_join(worker, NULL);
  atomic_store(&watch_deadline, tu_now_ms() + RUN_LIMIT_MS);
  if (job->r.session != NULL) {
    step("ah_close_handle(session), injection off");
    int rc = ah_close_handle(job->r.session);
    if (rc != AH_OK)
      problem(n, "ah_close_handle(session) returned %s", rec_code_name(rc));
  }
  atomic_store(&watch_deadline, 0);
  *ok = job->ok;
  *first_error = job->r.failed ? job->r.first_error : AH_OK;
  const char *verbose = getenv("AHTTP_TORTURE_VERBOSE");
  if (verbose != NULL && verbose[0] == '1')
    printf("  fail_from(%lu): %lu allocations, %s%s%s\n", n, used,
           job->ok ? "succeeded" : rec_code_name(job->r.first_error),
           job->r.failed ? " in " : "",
           job->r.failed ? job->r.first_error_step : "");
  if (job->ok && job->r.failed)
    problem(n, "the scenario reported success after %s failed with %s",
            job->r.first_error_step, rec_code_name(job->r.first_error));
  free(job);
  return used;
}

typedef int (*scenario_fn)(run *r);

/* Closes the session with injection off; bounded by the watchdog. */
static void teardown_run(run *r) {
  if (r->session == NULL)
    return;
  step("ah_close_handle(session), injection off");
  int rc = ah_close_handle(r->session);
  if (rc != AH_OK)
    problem(r->n, "ah_close_handle(session) returned %s", rec_code_name(rc));
  /* From outside the I/O thread the close has waited for the thread, so
   * everything the session will ever deliver is in the log now. */
  char why[512];
  ah_handle handles[2 + MAX_REQUESTS] = {r->session, r->connect, r->req[0],
                                         r->req[1]};
  for (size_t i = 0; i < 2 + MAX_REQUESTS; i++) {
    if (handles[i] != NULL && !rec_check_closed(handles[i], why, sizeof(why)))
      problem(r->n, "%s", why);
  }
  for (int i = 0; i < MAX_REQUESTS; i++) {
    if (r->req[i] == NULL)
      continue;
    size_t got = rec_count(r->req[i], AH_STATUS_REQUEST_COMPLETE);
    if (got != r->pending[i])
      problem(r->n,
              "request %d: %zu calls went pending but %zu "
              "REQUEST_COMPLETE arrived",
              i, r->pending[i], got);
  }
  if (!rec_check_all_closed(why, sizeof(why)))
    problem(r->n, "%s", why);
  if (!rec_check_violations(why, sizeof(why)))
    problem(r->n, "%s", why);
}

/*
 * One run with fail_from(n) (0: none). Returns the allocations that
 * succeeded during the scenario; *ok says whether every call succeeded,
 * *refused how many allocations were made to fail.
 */
static unsigned long one_run(const ts_server *server, const char *ca_file,
                             unsigned long n, scenario_fn fn, int *ok,
                             int *first_error, unsigned long *refused) {
  if (fn == scenario_sync_get)
    return sync_run(server->port, n, ok, first_error, refused);
  run r;
  memset(&r, 0, sizeof(r));
  r.n = n;
  r.port = server->port;
  r.ca_file = ca_file;
  rec_reset();
  atomic_store(&watch_n, n);
  atomic_store(&watch_deadline, tu_now_ms() + RUN_LIMIT_MS);
  ah__alloc_fail_from(n, NULL);
  *ok = fn(&r);
  if (r.connect != NULL)
    close_child(&r, r.connect, "ah_close_handle(connect)");
  unsigned long used = ah__alloc_fail_from(0, refused);
  teardown_run(&r);
  atomic_store(&watch_deadline, 0);
  *first_error = r.failed ? r.first_error : AH_OK;
  /* AHTTP_TORTURE_VERBOSE=1 shows what each run did. */
  const char *verbose = getenv("AHTTP_TORTURE_VERBOSE");
  if (verbose != NULL && verbose[0] == '1')
    printf("  fail_from(%lu): %lu allocations, %s%s%s\n", n, used,
           *ok ? "succeeded" : rec_code_name(r.first_error),
           r.failed ? " in " : "", r.failed ? r.first_error_step : "");
  if (*ok && r.failed)
    problem(n, "the scenario reported success after %s failed with %s",
            r.first_error_step, rec_code_name(r.first_error));
  return used;
}

/*
 * Runs `fn` for fail_from(1, 2, ...) against the scripted server, over
 * HTTPS (trusting `ca_file`) when `tls` is given.
 */
static void torture(const char *name, scenario_fn fn, const ts_server_tls *tls,
                    const char *ca_file) {
  ts_server server;
  pthread_t dog;
  if ((tls != NULL ? ts_server_start_tls(&server, 0, tls)
                   : ts_server_start(&server, 0)) != 0)
    fail_msg("could not start the scripted server");
  problem_count = 0;
  atomic_store(&watch_stop, 0);
  assert_int_equal(pthread_create(&dog, NULL, watchdog, NULL), 0);

  /* Counting run; a second one, now that process-wide tables exist. */
  int ok = 0, err = AH_OK;
  unsigned long refused = 0;
  one_run(&server, ca_file, 0, fn, &ok, &err, &refused);
  unsigned long clean = one_run(&server, ca_file, 0, fn, &ok, &err, &refused);
  if (!ok || problem_count != 0) {
    atomic_store(&watch_stop, 1);
    pthread_join(dog, NULL);
    ts_server_stop(&server);
    fail_msg("%s: the scenario fails even without injected failures", name);
  }

  unsigned long n, limit = 2 * clean + 50, nomem = 0, succeeded = 0;
  uint64_t start = tu_now_ms();
  for (n = 1; n <= limit; n++) {
    unsigned long used = one_run(&server, ca_file, n, fn, &ok, &err, &refused);
    if (err == AH_ERR_NO_MEMORY)
      nomem++;
    if (ok)
      succeeded++;
    if (refused == 0) {
      if (!ok)
        problem(n,
                "no allocation was made to fail (%lu made) yet the scenario "
                "did not succeed",
                used);
      break;
    }
  }
  atomic_store(&watch_stop, 1);
  pthread_join(dog, NULL);
  ts_server_stop(&server);
  printf("alloc torture %s: a clean run makes %lu allocations; ran "
         "fail_from(1..%lu) in %llu ms: %lu ended with AH_ERR_NO_MEMORY, "
         "%lu succeeded anyway; %d problem(s)\n",
         name, clean, n, (unsigned long long)(tu_now_ms() - start), nomem,
         succeeded, problem_count);
  if (n > limit)
    problem(n, "still failing after %lu runs (a clean run needs %lu)", limit,
            clean);
  if (nomem == 0)
    problem(0, "no run ended with AH_ERR_NO_MEMORY");
  if (problem_count != 0) {
    for (int i = 0; i < problem_count && i < MAX_PROBLEMS; i++)
      fprintf(stderr, "  %s\n", problems[i]);
    fail_msg("%s: %d problem(s) under allocation failures (listed above)", name,
             problem_count);
  }
}

/*
 * Closing under memory pressure: a connect handle with CLOSE_MANY requests,
 * each with a send pending (the server never answers /stall), is closed
 * with fail_from(N). The set-up runs without injection; the close queues
 * a cancelled REQUEST_COMPLETE, the connection's CLOSING_CONNECTION and
 * CONNECTION_CLOSED and a HANDLE_CLOSING per request at once, far more than
 * the session's event queue holds, so the queue must grow (several times)
 * while allocations fail. N runs from 1 until no allocation of the close
 * is made to fail.
 */
#define CLOSE_MANY 100

static unsigned long close_many_run(uint16_t port, unsigned long n,
                                    unsigned long *refused) {
  run r;
  ah_handle reqs[CLOSE_MANY];
  char why[512];
  memset(&r, 0, sizeof(r));
  r.n = n;
  r.port = port;
  rec_reset();
  atomic_store(&watch_n, n);
  atomic_store(&watch_deadline, tu_now_ms() + RUN_LIMIT_MS);
  step("set-up (no injection)");
  if (!open_handles(&r))
    fail_msg("set-up without injection failed");
  /* One at a time, so that no burst of statuses grows the event queue
   * before the close: the close then needs every growth itself. */
  for (int i = 0; i < CLOSE_MANY; i++) {
    char target[64];
    snprintf(target, sizeof(target), "/stall?run=%lu&i=%d", n, i);
    assert_ah(ah_open_request(r.connect, "GET", target, 0, NULL, &reqs[i]),
              AH_OK);
    assert_ah(ah_send_request(reqs[i], NULL, 0, NULL, 0), AH_IO_PENDING);
    if (!rec_wait_status(reqs[i], AH_STATUS_RECEIVING_RESPONSE, 1, WAIT_MS))
      fail_msg("set-up: request %d was not sent", i);
  }
  tu_sleep_ms(20);

  step("ah_close_handle(connect) under injection");
  ah__alloc_fail_from(n, NULL);
  int rc = ah_close_handle(r.connect);
  if (rc != AH_OK)
    problem(n, "ah_close_handle(connect) returned %s", rec_code_name(rc));
  int missing = 0;
  uint64_t until = tu_now_ms() + WAIT_MS / 2;
  for (int i = 0; i < CLOSE_MANY; i++) {
    uint64_t now = tu_now_ms();
    unsigned left = until > now ? (unsigned)(until - now) : 0u;
    if (!rec_wait_closing(reqs[i], left))
      missing++;
  }
  /* The connect handle's HANDLE_CLOSING follows its requests' ones: it
   * gets the rest of the same wait, not a look at this very moment. */
  uint64_t now_ms = tu_now_ms();
  if (!rec_wait_closing(r.connect,
                        until > now_ms ? (unsigned)(until - now_ms) : 0u))
    problem(n, "the connect handle got no HANDLE_CLOSING");
  unsigned long used = ah__alloc_fail_from(0, refused);
  if (missing > 0)
    problem(n,
            "%d of %d requests got no HANDLE_CLOSING after their connect "
            "handle was closed (%lu allocations succeeded during the close)",
            missing, CLOSE_MANY, used);

  step("ah_close_handle(session), injection off");
  assert_ah(ah_close_handle(r.session), AH_OK);
  int no_complete = 0, bad_complete = 0, not_closed = 0;
  for (int i = 0; i < CLOSE_MANY; i++) {
    ah_async_result ar;
    size_t completes = rec_count(reqs[i], AH_STATUS_REQUEST_COMPLETE);
    if (completes != 1)
      no_complete++;
    else if (rec_wait_complete(reqs[i], 0, &ar) &&
             ar.error != AH_ERR_OPERATION_CANCELLED)
      bad_complete++;
    if (!rec_check_closed(reqs[i], why, sizeof(why)))
      not_closed++;
  }
  if (no_complete > 0)
    problem(n,
            "%d of %d cancelled sends did not get exactly one "
            "REQUEST_COMPLETE",
            no_complete, CLOSE_MANY);
  if (bad_complete > 0)
    problem(n,
            "%d cancelled sends completed with an error other than "
            "AH_ERR_OPERATION_CANCELLED",
            bad_complete);
  if (not_closed > 0)
    problem(n,
            "%d of %d requests did not end with exactly one "
            "HANDLE_CLOSING, last",
            not_closed, CLOSE_MANY);
  if (!rec_check_closed(r.connect, why, sizeof(why)))
    problem(n, "%s", why);
  if (!rec_check_closed(r.session, why, sizeof(why)))
    problem(n, "%s", why);
  if (!rec_check_violations(why, sizeof(why)))
    problem(n, "%s", why);
  atomic_store(&watch_deadline, 0);
  const char *verbose = getenv("AHTTP_TORTURE_VERBOSE");
  if (verbose != NULL && verbose[0] == '1')
    printf("  fail_from(%lu): %lu allocations during the close, %d "
           "HANDLE_CLOSING missing\n",
           n, used, missing);
  return used;
}

static void test_alloc_torture_close_many(void **state) {
  (void)state;
  ts_server server;
  pthread_t dog;
  if (ts_server_start(&server, 0) != 0)
    fail_msg("could not start the scripted server");
  problem_count = 0;
  atomic_store(&watch_stop, 0);
  assert_int_equal(pthread_create(&dog, NULL, watchdog, NULL), 0);
  unsigned long refused, n;
  unsigned long clean = close_many_run(server.port, 0, &refused);
  if (clean == 0)
    problem(0, "a clean close made no allocation: nothing was tortured");
  for (n = 1; n <= 2 * clean + 10; n++) {
    close_many_run(server.port, n, &refused);
    if (refused == 0)
      break;
  }
  atomic_store(&watch_stop, 1);
  pthread_join(dog, NULL);
  ts_server_stop(&server);
  printf("alloc torture close-many: a clean close makes %lu allocations; "
         "ran fail_from(1..%lu); %d problem(s)\n",
         clean, n, problem_count);
  if (problem_count != 0) {
    for (int i = 0; i < problem_count && i < MAX_PROBLEMS; i++)
      fprintf(stderr, "  %s\n", problems[i]);
    fail_msg("close-many: %d problem(s) under allocation failures (listed "
             "above)",
             problem_count);
  }
}

static void test_alloc_torture_get(void **state) {
  (void)state;
  torture("GET", scenario_get, NULL, NULL);
}

static void test_alloc_torture_post(void **state) {
  (void)state;
  torture("POST", scenario_post, NULL, NULL);
}

/* One GET in a synchronous session with no status callback. */
static void test_alloc_torture_sync_get(void **state) {
  (void)state;
  torture("synchronous GET", scenario_sync_get, NULL, NULL);
}

/* The GET scenario over HTTPS (the scripted server's TLS mode). */
static void test_alloc_torture_https_get(void **state) {
  (void)state;
  const char *dir = ts_certs_dir();
  if (dir == NULL)
    fail_msg("could not make the test certificates");
  char cert[512], key[512], ca[512];
  ts_cert_path("server.pem", cert, sizeof(cert));
  ts_cert_path("server.key", key, sizeof(key));
  ts_cert_path("ca.pem", ca, sizeof(ca));
  ts_server_tls tls = {cert, key, NULL, NULL};
  torture("HTTPS GET", scenario_get, &tls, ca);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_alloc_torture_get),
    cmocka_unit_test(test_alloc_torture_post),
    cmocka_unit_test(test_alloc_torture_https_get),
    cmocka_unit_test(test_alloc_torture_sync_get),
    cmocka_unit_test(test_alloc_torture_close_many),
};

AH_TEST_MAIN(tests)
