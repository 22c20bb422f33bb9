/*
 * bench_util.h - small helpers shared by the benchmark programs: clocks,
 * CPU time, resident memory, descriptor limits and argument parsing.
 *
 * The programs print a human table and one machine-readable line that
 * starts with "RESULT " (key=value pairs) for bench/bench.py to parse.
 */
#ifndef AH_BENCH_UTIL_H
#define AH_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic wall clock in seconds. */
double bu_now(void);

/* CPU seconds (user + system) this process has used so far, all threads. */
double bu_cpu_seconds(void);

/* Resident set size of this process in KiB (from /proc/self/statm), or -1
 * where that file does not exist. */
long bu_rss_kib(void);

/* Raises RLIMIT_NOFILE to at least `want` descriptors (the hard limit too,
 * which root may do). Returns 0, or -1 with a message on stderr. */
int bu_raise_nofile(uint64_t want);

/* Parses a decimal number in [min, max]; returns 0, or -1 with a message
 * naming `what` on stderr. */
int bu_parse_u64(const char *text, const char *what, uint64_t min, uint64_t max,
                 uint64_t *out);

/* Sleeps for `ms` milliseconds. */
void bu_sleep_ms(unsigned ms);

#endif
