/*
 * test_util.h - small helpers shared by the integration tests: SHA-256 of
 * streamed bytes, deterministic fill patterns for uploads, percent-encoding,
 * files, temporary directories, loopback ports and a monotonic clock.
 *
 * Nothing here touches ahttp; every function is safe to call from the test's
 * main thread, and the SHA-256 and fill helpers from any thread.
 */
#ifndef AH_TEST_UTIL_H
#define AH_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Streaming SHA-256 (OpenSSL's libcrypto underneath). */
typedef struct tu_sha256 tu_sha256;

/* A fresh digest state; never NULL (aborts on allocation failure). */
tu_sha256 *tu_sha256_new(void);
void tu_sha256_update(tu_sha256 *s, const void *data, size_t len);
/* Writes the lowercase hex digest and a NUL into `hex`, frees `s`. */
void tu_sha256_final_hex(tu_sha256 *s, char hex[65]);
/* One-shot digest of a buffer. */
void tu_sha256_hex(const void *data, size_t len, char hex[65]);

/* Fills `buf` with `len` pseudo-random bytes determined by `seed`. */
void tu_fill(void *buf, size_t len, uint64_t seed);
/*
 * `size` bytes of tu_fill with `seed` in a malloc'd buffer (at least one
 * byte is allocated); `hex` (may be NULL) gets their SHA-256. Never NULL
 * (aborts on allocation failure).
 */
unsigned char *tu_fill_new(size_t size, uint64_t seed, char hex[65]);

/*
 * `in` percent-encoded for a URL's query value: every byte but the
 * unreserved ones (ALPHA DIGIT - . _ ~, RFC 3986) as %XX. The result is in
 * one of four rotating static buffers, so that a few can be used in one
 * call; main thread only. Aborts if it would not fit in 2 KiB.
 */
const char *tu_pct(const char *in);

/* Milliseconds of a monotonic clock. */
uint64_t tu_now_ms(void);
/* Reads from `fd` until a full line is in `buf` (its '\n' replaced by a
 * NUL) or the deadline (tu_now_ms) passes; 0, or -1 on EOF/error/time-out. */
int tu_read_line(int fd, char *buf, size_t cap, uint64_t deadline);
void tu_sleep_ms(unsigned ms);

/*
 * Reads a whole file into a malloc'd buffer with a NUL after the data
 * (so text can be used as a string); *len (may be NULL) is the size.
 * Returns NULL if the file cannot be read.
 */
char *tu_read_file(const char *path, size_t *len);
/* Writes `len` bytes to `path` (created or truncated). 0 or -1. */
int tu_write_file(const char *path, const void *data, size_t len);
/* Prints "<what> (<path>):" and the file's text (or "(none)") on stderr. */
void tu_print_file(const char *what, const char *path);

/* Creates a fresh directory /tmp/<prefix>-XXXXXX into `out`. 0 or -1. */
int tu_make_temp_dir(const char *prefix, char *out, size_t cap);
/* Removes a directory tree (best effort). */
void tu_remove_tree(const char *dir);

/*
 * A loopback port that was free a moment ago: bound on 127.0.0.1 port 0 and
 * closed again. 0 if none could be found.
 */
uint16_t tu_free_port(void);
/* Whether a TCP connect to 127.0.0.1:`port` succeeds (then closed). */
int tu_can_connect(uint16_t port);

/*
 * Parses one log line, [line, end) with `end` at its '\n', into `entry`;
 * returns whether the line is an entry (0: skip it).
 */
typedef int (*tu_line_parser)(const char *line, const char *end, void *entry);

/*
 * Reads the log file `path` and parses its complete lines (a last line
 * without '\n' is still being written) into out[0..cap), entries of `size`
 * bytes, re-reading every 10 ms until there are at least `min` entries or
 * `wait_ms` have passed. Returns the number of entries.
 */
size_t tu_read_log(const char *path, tu_line_parser parse, void *out,
                   size_t size, size_t cap, size_t min, unsigned wait_ms);

/* Counts the lines of `text` that contain `needle`. */
size_t tu_count_lines_with(const char *text, const char *needle);

#endif
