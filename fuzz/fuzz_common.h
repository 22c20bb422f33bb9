/*
 * fuzz_common.h - what the fuzz targets share: the libFuzzer entry point's
 * prototype (each target defines it; libFuzzer or replay_main.c calls it),
 * an invariant check that stays on in every build (NDEBUG does not turn it
 * off, unlike assert), its variant for bugs reported but not fixed yet,
 * and a little reader for the control bytes with which a target lets the
 * fuzzer choose split points and limits.
 */
#ifndef AH_FUZZ_COMMON_H
#define AH_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the failed condition, so that libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,     \
              #cond);                                                          \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/*
 * Whether the comma-separated list in the environment variable
 * AHTTP_FUZZ_KNOWN names `id`: read once. See FUZZ_KNOWN.
 */
static inline int fuzz_known(const char *id) {
  static const char *list;
  static int loaded;
  size_t len = strlen(id);
  if (!loaded) {
    list = getenv("AHTTP_FUZZ_KNOWN");
    loaded = 1;
  }
  for (const char *p = list; p != NULL && *p != '\0';) {
    size_t n = strcspn(p, ",");
    if (n == len && strncmp(p, id, len) == 0)
      return 1;
    p += n;
    if (*p == ',')
      p++;
  }
  return 0;
}

/*
 * An invariant whose failure is a bug already reported and not fixed yet,
 * named `id` (each target's header lists its ids). It aborts as
 * FUZZ_CHECK does, unless AHTTP_FUZZ_KNOWN names `id`: a long run can then
 * look past the known bug for others. CTest never sets it, so the replay
 * of the reproducer in the corpus fails until the bug is fixed.
 */
#define FUZZ_KNOWN(id, cond)                                                   \
  do {                                                                         \
    if (!(cond) && !fuzz_known(id)) {                                          \
      fprintf(stderr, "%s:%d: invariant failed (%s): %s\n", __FILE__,          \
              __LINE__, id, #cond);                                            \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/*
 * Control bytes at the start of an input. Reading past the end gives
 * zeros, so every input, however short, is a valid one.
 */
typedef struct fuzz_ctl {
  const uint8_t *p;
  size_t len;
  size_t pos;
} fuzz_ctl;

static inline unsigned fuzz_u8(fuzz_ctl *c) {
  unsigned v = c->pos < c->len ? c->p[c->pos] : 0u;
  c->pos++;
  return v;
}

static inline unsigned fuzz_u16(fuzz_ctl *c) {
  unsigned hi = fuzz_u8(c);
  return (hi << 8) | fuzz_u8(c);
}

/* The bytes after `n` control bytes (empty if the input is shorter). */
static inline void fuzz_rest(const uint8_t *data, size_t size, size_t n,
                             const uint8_t **msg, size_t *msg_len) {
  *msg = size > n ? data + n : data + size;
  *msg_len = size > n ? size - n : 0;
}

/* Sorts a few split points in place (insertion sort). */
static inline void fuzz_sort(size_t *v, size_t n) {
  for (size_t i = 1; i < n; i++) {
    size_t x = v[i], j = i;
    while (j > 0 && v[j - 1] > x) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
}

#endif
