/*
 * curl_multi_bench.c - the libcurl peer of ah_bench_get: the same work on a
 * libcurl multi handle, driven by curl_multi_socket_action over epoll
 * (libcurl's event-based interface, its fastest way to run many transfers
 * in one thread). Easy handles keep libcurl's defaults.
 *
 *   curl_multi_bench rate URL N C
 *       N GETs over C connections: C easy handles, each re-added to the
 *       multi handle when its transfer ends, so the connection cache
 *       hands the next transfer a kept-alive connection.
 *   curl_multi_bench mem URL C
 *       C transfers whose write callback pauses them at the first body
 *       bytes; prints (RSS(C) - RSS(0)) / C.
 *   ... --cacert CAFILE
 *       for https:// URLs: trust the CAs in CAFILE.
 */
#include "bench_util.h"

#include <curl/curl.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

enum mode { MODE_RATE, MODE_MEM };

typedef struct cbench cbench;

typedef struct xfer {
  CURL *easy;
  cbench *b;
  int paused;
} xfer;

struct cbench {
  enum mode mode;
  CURLM *multi;
  int ep;
  double deadline; /* libcurl's timer; < 0 when none */
  const char *url;
  const char *ca_file;
  uint64_t total, started, finished, paused, bytes, conns;
  int failed;
};

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
  xfer *x = userdata;
  size_t n = size * nmemb;
  (void)ptr;
  if (x->b->mode == MODE_MEM) {
    if (!x->paused) {
      x->paused = 1;
      x->b->paused++;
    }
    return CURL_WRITEFUNC_PAUSE; /* libcurl keeps these bytes */
  }
  x->b->bytes += n;
  return n;
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp,
                     void *socketp) {
  cbench *b = userp;
  struct epoll_event ev;
  (void)easy;
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(b->ep, EPOLL_CTL_DEL, s, NULL);
    return 0;
  }
  memset(&ev, 0, sizeof ev);
  ev.data.fd = s;
  ev.events = ((what & CURL_POLL_IN) ? (uint32_t)EPOLLIN : 0u) |
              ((what & CURL_POLL_OUT) ? (uint32_t)EPOLLOUT : 0u);
  if (socketp == NULL) {
    if (epoll_ctl(b->ep, EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST)
      epoll_ctl(b->ep, EPOLL_CTL_MOD, s, &ev);
    curl_multi_assign(b->multi, s, b); /* marks the socket as added */
  } else if (epoll_ctl(b->ep, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT) {
    epoll_ctl(b->ep, EPOLL_CTL_ADD, s, &ev);
  }
  return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp) {
  cbench *b = userp;
  (void)multi;
  b->deadline = timeout_ms < 0 ? -1.0 : bu_now() + (double)timeout_ms / 1e3;
  return 0;
}

static int make_xfer(cbench *b, xfer *x) {
  x->b = b;
  x->easy = curl_easy_init();
  if (x->easy == NULL)
    return -1;
  curl_easy_setopt(x->easy, CURLOPT_URL, b->url);
  curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
  curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
  if (b->ca_file != NULL)
    curl_easy_setopt(x->easy, CURLOPT_CAINFO, b->ca_file);
  return 0;
}

/* Collects finished transfers; in rate mode a finished easy handle is
 * added again while requests remain. */
static void collect(cbench *b) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(b->multi, &left)) != NULL) {
    CURL *easy = msg->easy_handle;
    CURLcode result = msg->data.result;
    long code = 0, conns = 0;
    if (msg->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &conns);
    curl_multi_remove_handle(b->multi, easy);
    if (result != CURLE_OK || code != 200) {
      fprintf(stderr, "curl_multi_bench: %s (HTTP %ld)\n",
              curl_easy_strerror(result), code);
      b->failed = 1;
      return;
    }
    b->conns += (uint64_t)conns;
    b->finished++;
    if (b->mode == MODE_RATE && b->started < b->total) {
      b->started++;
      curl_multi_add_handle(b->multi, easy);
    }
  }
}

/* Runs the event loop until `stop` says so, a failure, or `limit_s`. */
static int drive(cbench *b, int (*stop)(const cbench *), double limit_s) {
  struct epoll_event evs[256];
  double give_up = bu_now() + limit_s;
  int running, n, i;
  while (!stop(b) && !b->failed) {
    double now = bu_now();
    int wait_ms = 100;
    if (now > give_up) {
      fprintf(stderr, "curl_multi_bench: the run did not end in %.0f s\n",
              limit_s);
      return -1;
    }
    if (b->deadline >= 0) {
      double left = (b->deadline - now) * 1e3;
      wait_ms = left <= 0 ? 0 : left < 100 ? (int)left + 1 : 100;
    }
    n = epoll_wait(b->ep, evs, (int)(sizeof evs / sizeof evs[0]), wait_ms);
    if (n < 0 && errno != EINTR) {
      perror("epoll_wait");
      return -1;
    }
    for (i = 0; i < n; i++) {
      int flags = 0;
      if (evs[i].events & EPOLLIN)
        flags |= CURL_CSELECT_IN;
      if (evs[i].events & EPOLLOUT)
        flags |= CURL_CSELECT_OUT;
      if (evs[i].events & (EPOLLERR | EPOLLHUP))
        flags |= CURL_CSELECT_ERR;
      curl_multi_socket_action(b->multi, evs[i].data.fd, flags, &running);
    }
    if (b->deadline >= 0 && bu_now() >= b->deadline) {
      b->deadline = -1.0;
      curl_multi_socket_action(b->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    collect(b);
  }
  return b->failed ? -1 : 0;
}

static int rate_done(const cbench *b) { return b->finished >= b->total; }
static int all_paused(const cbench *b) { return b->paused >= b->total; }

static int run_rate(cbench *b, uint64_t n, uint64_t c) {
  xfer *xs = calloc((size_t)c, sizeof *xs);
  double t0, cpu0, secs, cpu;
  uint64_t i;
  if (xs == NULL)
    return 1;
  b->total = n;
  t0 = bu_now();
  cpu0 = bu_cpu_seconds();
  for (i = 0; i < c && b->started < n; i++) {
    if (make_xfer(b, &xs[i]) != 0)
      return 1;
    b->started++;
    curl_multi_add_handle(b->multi, xs[i].easy);
  }
  if (drive(b, rate_done, 600) != 0)
    return 1;
  secs = bu_now() - t0;
  cpu = bu_cpu_seconds() - cpu0;
  printf("%-6s %-28s %9s %6s %9s %8s %10s %9s %7s %8s\n", "mode", "url",
         "requests", "conns", "new-conns", "seconds", "req/s", "MiB/s", "cpu-s",
         "cpu-us/r");
  printf("%-6s %-28s %9" PRIu64 " %6" PRIu64 " %9" PRIu64
         " %8.3f %10.0f %9.1f %7.3f %8.2f\n",
         "rate", b->url, n, c, b->conns, secs, (double)n / secs,
         (double)b->bytes / secs / 1048576.0, cpu, cpu * 1e6 / (double)n);
  printf("RESULT mode=rate requests=%" PRIu64 " conns=%" PRIu64
         " new_conns=%" PRIu64 " seconds=%.6f rps=%.1f bytes=%" PRIu64
         " cpu=%.4f\n",
         n, c, b->conns, secs, (double)n / secs, b->bytes, cpu);
  for (i = 0; i < c; i++)
    if (xs[i].easy != NULL) {
      curl_multi_remove_handle(b->multi, xs[i].easy);
      curl_easy_cleanup(xs[i].easy);
    }
  free(xs);
  return 0;
}

static int run_mem(cbench *b, uint64_t c) {
  xfer *xs = calloc((size_t)c, sizeof *xs);
  xfer warm;
  long rss0, rss1;
  uint64_t i;
  if (xs == NULL)
    return 1;
  /* One paused transfer first, removed again, so that what libcurl sets
   * up once (connection cache, resolver cache) is in RSS(0). */
  memset(&warm, 0, sizeof warm);
  b->total = 1;
  if (make_xfer(b, &warm) != 0)
    return 1;
  curl_multi_add_handle(b->multi, warm.easy);
  if (drive(b, all_paused, 60) != 0)
    return 1;
  curl_multi_remove_handle(b->multi, warm.easy);
  curl_easy_cleanup(warm.easy);
  bu_sleep_ms(200);
  b->paused = 0;
  b->total = c;
  rss0 = bu_rss_kib();
  for (i = 0; i < c; i++) {
    if (make_xfer(b, &xs[i]) != 0)
      return 1;
    curl_multi_add_handle(b->multi, xs[i].easy);
  }
  if (drive(b, all_paused, 120) != 0)
    return 1;
  bu_sleep_ms(500);
  rss1 = bu_rss_kib();
  printf("%-6s %-28s %9s %10s %10s %12s\n", "mode", "url", "transfers",
         "rss0-KiB", "rssC-KiB", "KiB/transfer");
  printf("%-6s %-28s %9" PRIu64 " %10ld %10ld %12.2f\n", "mem", b->url, c, rss0,
         rss1, (double)(rss1 - rss0) / (double)c);
  printf("RESULT mode=mem transfers=%" PRIu64
         " rss0_kib=%ld rss_kib=%ld kib_per_transfer=%.3f\n",
         c, rss0, rss1, (double)(rss1 - rss0) / (double)c);
  for (i = 0; i < c; i++) {
    curl_multi_remove_handle(b->multi, xs[i].easy);
    curl_easy_cleanup(xs[i].easy);
  }
  free(xs);
  return 0;
}

static void usage(void) {
  fprintf(stderr, "usage: curl_multi_bench rate URL N C [--cacert CAFILE]\n"
                  "       curl_multi_bench mem  URL C [--cacert CAFILE]\n");
}

int main(int argc, char **argv) {
  static cbench b;
  uint64_t n = 0, c = 0;
  int status;
  if (argc >= 3 && strcmp(argv[argc - 2], "--cacert") == 0) {
    b.ca_file = argv[argc - 1];
    argc -= 2;
  }
  if (argc >= 2 && strcmp(argv[1], "rate") == 0 && argc == 5) {
    b.mode = MODE_RATE;
    if (bu_parse_u64(argv[3], "N", 1, UINT32_MAX, &n) != 0 ||
        bu_parse_u64(argv[4], "C", 1, 100000, &c) != 0)
      return 2;
  } else if (argc >= 2 && strcmp(argv[1], "mem") == 0 && argc == 4) {
    b.mode = MODE_MEM;
    if (bu_parse_u64(argv[3], "C", 1, 100000, &c) != 0)
      return 2;
  } else {
    usage();
    return 2;
  }
  b.url = argv[2];
  b.deadline = -1.0;
  if (bu_raise_nofile(c + 1024) != 0)
    return 1;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 1;
  b.multi = curl_multi_init();
  b.ep = epoll_create1(EPOLL_CLOEXEC);
  if (b.multi == NULL || b.ep < 0)
    return 1;
  curl_multi_setopt(b.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(b.multi, CURLMOPT_SOCKETDATA, &b);
  curl_multi_setopt(b.multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(b.multi, CURLMOPT_TIMERDATA, &b);
  status = b.mode == MODE_RATE ? run_rate(&b, n, c) : run_mem(&b, c);
  curl_multi_cleanup(b.multi);
  close(b.ep);
  curl_global_cleanup();
  return status;
}
