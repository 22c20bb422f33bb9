/*
 * bench_util.c - clocks, CPU time, resident memory and descriptor limits
 * for the benchmark programs (see bench_util.h).
 */
#include "bench_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

double bu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_seconds(const struct timeval *tv) {
  return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

double bu_cpu_seconds(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0.0;
  return tv_seconds(&ru.ru_utime) + tv_seconds(&ru.ru_stime);
}

long bu_rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, resident = 0, page;
  if (f == NULL)
    return -1;
  if (fscanf(f, "%ld %ld", &size, &resident) != 2)
    resident = -1;
  fclose(f);
  if (resident < 0)
    return -1;
  page = sysconf(_SC_PAGESIZE);
  return resident * (page > 0 ? page / 1024 : 4);
}

int bu_raise_nofile(uint64_t want) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    perror("getrlimit");
    return -1;
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= want)
    return 0;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
    rl.rlim_max = (rlim_t)want; /* allowed for root only */
  rl.rlim_cur = (rlim_t)want;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    fprintf(stderr, "cannot raise the descriptor limit to %llu: %s\n",
            (unsigned long long)want, strerror(errno));
    return -1;
  }
  return 0;
}

int bu_parse_u64(const char *text, const char *what, uint64_t min, uint64_t max,
                 uint64_t *out) {
  char *end = NULL;
  unsigned long long v;
  errno = 0;
  v = strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min ||
      v > max) {
    fprintf(stderr, "bad %s '%s' (want %llu..%llu)\n", what, text,
            (unsigned long long)min, (unsigned long long)max);
    return -1;
  }
  *out = (uint64_t)v;
  return 0;
}

void bu_sleep_ms(unsigned ms) {
  struct timespec ts;
  ts.tv_sec = (time_t)(ms / 1000u);
  ts.tv_nsec = (long)(ms % 1000u) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}
