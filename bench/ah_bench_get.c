/*
 * ah_bench_get.c - ahttp measured at library level, driven from
 * REQUEST_COMPLETE the way the WinInet sample drives its state machine.
 *
 *   ah_bench_get rate HOST PORT PATH N C
 *       N GETs of PATH over C pooled connections of one session: C jobs,
 *       each starting its next request when the previous body has ended.
 *   ah_bench_get body HOST PORT PATH
 *       one GET whose body is read with ah_read into a 1 MiB buffer and
 *       discarded (the library-level bulk row).
 *   ah_bench_get mem HOST PORT PATH C
 *       C transfers, each paused after its first ah_read (nothing more is
 *       asked for); prints (RSS(C) - RSS(0)) / C.
 *   ... --tls CAFILE
 *       any mode over HTTPS (AH_FLAG_SECURE), trusting the CAs in CAFILE.
 *
 * Every status except REQUEST_COMPLETE and HANDLE_CLOSING (which are always
 * delivered) is masked with AH_OPTION_NOTIFICATION_MASK, as a user who does
 * not print them would do. The job state is touched on the session's I/O
 * thread only, apart from the first request of each job, which main starts
 * before any completion for that job can exist.
 */
#include "bench_util.h"

#include <ahttp.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BODY_READ_LEN ((size_t)1 << 20) /* body mode: 1 MiB per ah_read */
#define RATE_READ_LEN ((size_t)65536)   /* rate mode: one buffer per job */
#define MEM_READ_LEN ((size_t)16384)    /* mem mode: the first bytes */

enum mode { MODE_RATE, MODE_BODY, MODE_MEM };
enum phase { PHASE_IDLE, PHASE_SEND, PHASE_READ, PHASE_PAUSED };

typedef struct bench bench;

typedef struct job {
  bench *b;
  ah_handle req;
  enum phase phase;
  char *buf;
  size_t cap;
  size_t got; /* ah_read's out-parameter */
} job;

struct bench {
  enum mode mode;
  ah_handle session;
  ah_handle connect;
  const char *path;
  unsigned request_flags; /* AH_FLAG_SECURE with --tls */
  uint64_t total;         /* requests to make, or transfers to pause */
  atomic_uint_fast64_t started;
  /* I/O thread only until `over` is seen under `mu`. */
  uint64_t finished;
  uint64_t paused;
  uint64_t fresh_conns;
  uint64_t bytes;
  double t_end;
  /* Guarded by mu. */
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int over;
  int error;
  char detail[300];
};

static void start_request(job *j);

/* Wakes main: the run is over (all done, or a failure). */
static void finish_run(bench *b, int err, const char *detail) {
  pthread_mutex_lock(&b->mu);
  if (err != AH_OK && b->error == AH_OK) {
    b->error = err;
    snprintf(b->detail, sizeof b->detail, "%s", detail ? detail : "");
  }
  b->t_end = bu_now();
  b->over = 1;
  pthread_cond_broadcast(&b->cond);
  pthread_mutex_unlock(&b->mu);
}

static void job_failed(job *j, int err, const char *what) {
  char text[200] = "";
  char detail[300];
  if (j->req != NULL)
    ah_last_error_detail(j->req, text, sizeof text);
  snprintf(detail, sizeof detail, "%s: %s%s%s", what, ah_strerror(err),
           text[0] ? " - " : "", text);
  j->phase = PHASE_IDLE;
  finish_run(j->b, err, detail);
}

/* After the response head: the status must be 200, and the rate mode
 * counts the connections that were not taken from the pool. */
static int check_head(job *j) {
  uint32_t code = 0, reused = 1;
  size_t len = sizeof code;
  int rc = ah_query_info(j->req, AH_INFO_STATUS_CODE, NULL, 0, &code, &len);
  if (rc != AH_OK) {
    job_failed(j, rc, "ah_query_info");
    return -1;
  }
  if (code != 200) {
    char detail[64];
    snprintf(detail, sizeof detail, "HTTP status %u", (unsigned)code);
    finish_run(j->b, AH_ERR_PROTOCOL, detail);
    return -1;
  }
  if (j->b->mode == MODE_RATE) {
    len = sizeof reused;
    if (ah_get_option(j->req, AH_OPTION_CONNECTION_REUSED, &reused, &len) ==
            AH_OK &&
        reused == 0)
      j->b->fresh_conns++;
  }
  return 0;
}

/* One request's body is over: close it and start the job's next one. */
static void request_done(job *j) {
  bench *b = j->b;
  ah_handle req = j->req;
  j->req = NULL;
  j->phase = PHASE_IDLE;
  ah_close_handle(req);
  if (++b->finished == b->total) {
    finish_run(b, AH_OK, NULL);
    return;
  }
  start_request(j);
}

/* Runs the job's steps that finish at once; returns when one is pending. */
static void advance(job *j, int rc) {
  bench *b = j->b;
  for (;;) {
    if (rc == AH_IO_PENDING)
      return;
    if (rc != AH_OK) {
      job_failed(j, rc, j->phase == PHASE_SEND ? "send" : "read");
      return;
    }
    if (j->phase == PHASE_SEND) {
      if (check_head(j) != 0)
        return;
      j->phase = PHASE_READ;
    } else if (j->phase == PHASE_READ) {
      if (b->mode == MODE_MEM) {
        j->phase = PHASE_PAUSED; /* no further read: the transfer waits */
        if (++b->paused == b->total)
          finish_run(b, AH_OK, NULL);
        return;
      }
      if (j->got == 0) {
        request_done(j);
        return;
      }
      b->bytes += j->got;
    } else {
      return;
    }
    j->got = 0;
    rc = ah_read_ex(j->req, j->buf, j->cap, &j->got,
                    b->mode == MODE_MEM ? AH_READ_NO_WAIT : 0);
  }
}

static void start_request(job *j) {
  bench *b = j->b;
  int rc;
  if (atomic_fetch_add(&b->started, 1) >= b->total)
    return; /* every request has been handed out */
  j->phase = PHASE_SEND;
  rc =
      ah_open_request(b->connect, "GET", b->path, b->request_flags, j, &j->req);
  if (rc != AH_OK) {
    job_failed(j, rc, "ah_open_request");
    return;
  }
  advance(j, ah_send_request(j->req, NULL, 0, NULL, 0));
}

static void on_status(ah_handle h, int status, const void *info, size_t len,
                      void *context) {
  job *j = context;
  (void)len;
  /* Only completions of a job's current request matter; HANDLE_CLOSING of
   * requests already closed, and the connect handle's events, do not. */
  if (j == NULL || status != AH_STATUS_REQUEST_COMPLETE || h != j->req)
    return;
  advance(j, ((const ah_async_result *)info)->error);
}

/* Waits at most `limit_s` seconds until the run is over; returns its
 * error (AH_ERR_TIMEOUT if it did not end). */
static int wait_over(bench *b, double limit_s) {
  struct timespec until;
  int err, rc = 0;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += (time_t)limit_s;
  pthread_mutex_lock(&b->mu);
  while (!b->over && rc != ETIMEDOUT)
    rc = pthread_cond_timedwait(&b->cond, &b->mu, &until);
  if (!b->over) {
    b->error = AH_ERR_TIMEOUT;
    snprintf(b->detail, sizeof b->detail, "the run did not end in %.0f s",
             limit_s);
  }
  err = b->error;
  pthread_mutex_unlock(&b->mu);
  return err;
}

static void reset_run(bench *b, uint64_t total) {
  pthread_mutex_lock(&b->mu);
  b->over = 0;
  b->total = total;
  atomic_store(&b->started, 0);
  b->finished = b->paused = b->fresh_conns = b->bytes = 0;
  pthread_mutex_unlock(&b->mu);
}

static int open_session(bench *b, const char *host, uint16_t port,
                        const char *ca_file) {
  uint64_t mask = 0; /* REQUEST_COMPLETE and HANDLE_CLOSING only */
  int rc = ah_open(NULL, AH_OPEN_TYPE_DIRECT, NULL, NULL, AH_FLAG_ASYNC,
                   &b->session);
  if (rc != AH_OK) {
    fprintf(stderr, "ah_open: %s\n", ah_strerror(rc));
    return -1;
  }
  rc = ah_set_status_callback(b->session, on_status);
  if (rc == AH_OK)
    rc = ah_set_option(b->session, AH_OPTION_NOTIFICATION_MASK, &mask,
                       sizeof mask);
  if (rc == AH_OK && ca_file != NULL)
    rc = ah_set_option(b->session, AH_OPTION_TLS_CA_FILE, ca_file,
                       strlen(ca_file));
  if (rc == AH_OK)
    rc = ah_connect(b->session, host, port, NULL, NULL, 0, NULL, &b->connect);
  if (rc != AH_OK) {
    fprintf(stderr, "session set-up: %s\n", ah_strerror(rc));
    ah_close_handle(b->session);
    return -1;
  }
  return 0;
}

static job *make_jobs(bench *b, size_t count, size_t cap, char *shared) {
  job *jobs = calloc(count, sizeof *jobs);
  size_t i;
  if (jobs == NULL)
    return NULL;
  for (i = 0; i < count; i++) {
    jobs[i].b = b;
    jobs[i].cap = cap;
    jobs[i].buf = shared != NULL ? shared : malloc(cap);
    if (jobs[i].buf == NULL)
      return NULL; /* the process exits on this path */
    memset(jobs[i].buf, 0, cap);
  }
  return jobs;
}

static void report_failure(const bench *b, const char *mode) {
  fprintf(stderr, "ah_bench_get %s: %s\n", mode,
          b->detail[0] ? b->detail : ah_strerror(b->error));
}

static int run_rate(bench *b, uint64_t n, uint64_t c) {
  job *jobs = make_jobs(b, (size_t)c, RATE_READ_LEN, NULL);
  double t0, cpu0, secs, cpu;
  size_t i;
  if (jobs == NULL)
    return 1;
  reset_run(b, n);
  t0 = bu_now();
  cpu0 = bu_cpu_seconds();
  for (i = 0; i < c; i++)
    start_request(&jobs[i]);
  if (wait_over(b, 600) != AH_OK) {
    report_failure(b, "rate");
    return 1;
  }
  secs = b->t_end - t0;
  cpu = bu_cpu_seconds() - cpu0;
  printf("%-6s %-14s %9s %6s %9s %8s %10s %9s %7s %8s\n", "mode", "path",
         "requests", "conns", "new-conns", "seconds", "req/s", "MiB/s", "cpu-s",
         "cpu-us/r");
  printf("%-6s %-14s %9" PRIu64 " %6" PRIu64 " %9" PRIu64
         " %8.3f %10.0f %9.1f %7.3f %8.2f\n",
         "rate", b->path, n, c, b->fresh_conns, secs, (double)n / secs,
         (double)b->bytes / secs / 1048576.0, cpu, cpu * 1e6 / (double)n);
  printf("RESULT mode=rate requests=%" PRIu64 " conns=%" PRIu64
         " new_conns=%" PRIu64 " seconds=%.6f rps=%.1f bytes=%" PRIu64
         " cpu=%.4f\n",
         n, c, b->fresh_conns, secs, (double)n / secs, b->bytes, cpu);
  return 0;
}

static int run_body(bench *b) {
  job *jobs = make_jobs(b, 1, BODY_READ_LEN, NULL);
  double t0, cpu0, secs, cpu;
  if (jobs == NULL)
    return 1;
  reset_run(b, 1);
  t0 = bu_now();
  cpu0 = bu_cpu_seconds();
  start_request(&jobs[0]);
  if (wait_over(b, 600) != AH_OK) {
    report_failure(b, "body");
    return 1;
  }
  secs = b->t_end - t0;
  cpu = bu_cpu_seconds() - cpu0;
  printf("%-6s %-14s %14s %8s %8s %7s\n", "mode", "path", "bytes", "seconds",
         "GB/s", "cpu-s");
  printf("%-6s %-14s %14" PRIu64 " %8.3f %8.3f %7.3f\n", "body", b->path,
         b->bytes, secs, (double)b->bytes / secs / 1e9, cpu);
  printf("RESULT mode=body bytes=%" PRIu64 " seconds=%.6f gbps=%.4f cpu=%.4f\n",
         b->bytes, secs, (double)b->bytes / secs / 1e9, cpu);
  return 0;
}

static int run_mem(bench *b, uint64_t c) {
  static char first_bytes[MEM_READ_LEN]; /* shared: reads land one by one */
  job *jobs = make_jobs(b, (size_t)c, sizeof first_bytes, first_bytes);
  job *warm = make_jobs(b, 1, sizeof first_bytes, first_bytes);
  long rss0, rss1;
  size_t i;
  if (jobs == NULL || warm == NULL)
    return 1;
  /* One paused transfer first, closed again, so that what the library
   * sets up once (threads, tables) is in RSS(0). */
  reset_run(b, 1);
  start_request(&warm[0]);
  if (wait_over(b, 60) != AH_OK) {
    report_failure(b, "mem (warm-up)");
    return 1;
  }
  ah_close_handle(warm[0].req);
  bu_sleep_ms(200);
  reset_run(b, c);
  rss0 = bu_rss_kib();
  for (i = 0; i < c; i++)
    start_request(&jobs[i]);
  if (wait_over(b, 120) != AH_OK) {
    report_failure(b, "mem");
    return 1;
  }
  bu_sleep_ms(500);
  rss1 = bu_rss_kib();
  printf("%-6s %-14s %9s %10s %10s %12s\n", "mode", "path", "transfers",
         "rss0-KiB", "rssC-KiB", "KiB/transfer");
  printf("%-6s %-14s %9" PRIu64 " %10ld %10ld %12.2f\n", "mem", b->path, c,
         rss0, rss1, (double)(rss1 - rss0) / (double)c);
  printf("RESULT mode=mem transfers=%" PRIu64
         " rss0_kib=%ld rss_kib=%ld kib_per_transfer=%.3f\n",
         c, rss0, rss1, (double)(rss1 - rss0) / (double)c);
  return 0;
}

static void usage(void) {
  fprintf(stderr, "usage: ah_bench_get rate HOST PORT PATH N C [--tls CAFILE]\n"
                  "       ah_bench_get body HOST PORT PATH [--tls CAFILE]\n"
                  "       ah_bench_get mem  HOST PORT PATH C [--tls CAFILE]\n");
}

int main(int argc, char **argv) {
  static bench b;
  uint64_t port, n = 0, c = 0;
  const char *ca_file = NULL;
  int status;
  if (argc >= 3 && strcmp(argv[argc - 2], "--tls") == 0) {
    ca_file = argv[argc - 1];
    b.request_flags = AH_FLAG_SECURE;
    argc -= 2;
  }
  if (argc < 5) {
    usage();
    return 2;
  }
  if (strcmp(argv[1], "rate") == 0 && argc == 7) {
    b.mode = MODE_RATE;
    if (bu_parse_u64(argv[5], "N", 1, UINT32_MAX, &n) != 0 ||
        bu_parse_u64(argv[6], "C", 1, 100000, &c) != 0)
      return 2;
  } else if (strcmp(argv[1], "body") == 0 && argc == 5) {
    b.mode = MODE_BODY;
  } else if (strcmp(argv[1], "mem") == 0 && argc == 6) {
    b.mode = MODE_MEM;
    if (bu_parse_u64(argv[5], "C", 1, 100000, &c) != 0)
      return 2;
  } else {
    usage();
    return 2;
  }
  if (bu_parse_u64(argv[3], "PORT", 1, 65535, &port) != 0)
    return 2;
  if (bu_raise_nofile(c + 1024) != 0)
    return 1;
  b.path = argv[4];
  pthread_mutex_init(&b.mu, NULL);
  pthread_cond_init(&b.cond, NULL);
  if (open_session(&b, argv[2], (uint16_t)port, ca_file) != 0)
    return 1;
  if (b.mode == MODE_RATE)
    status = run_rate(&b, n, c);
  else if (b.mode == MODE_BODY)
    status = run_body(&b);
  else
    status = run_mem(&b, c);
  ah_close_handle(b.session); /* waits for the I/O thread */
  return status;
}
