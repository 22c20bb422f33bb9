/*
 * test_content_decoder.c - Content-Encoding names and the gzip/deflate
 * decoder (src/request/content_decoder.c).
 *
 * Every stream is made at test time with zlib's deflate (gzip wrapper,
 * zlib wrapper, bare deflate) from random or compressible data, so the
 * expected output is always the original bytes. A stream is decoded
 * whole, split in two at every point, byte by byte, and into output
 * buffers down to one byte; every way must give the same bytes and the
 * same verdict. Every call is checked against the header's contract:
 * nothing written past the output buffer (guard bytes), all input taken
 * or the output full, progress whenever both sides have room, a static
 * detail exactly on errors, and errors that stay.
 */
#include "test_main.h"

#include "ahttp.h"
#include "request/content_decoder.h"
#include "util/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST
#include <zlib.h>

#define KIB 1024u
#define MIB (1024u * 1024u)
#define GUARD 16u      /* bytes checked past every output buffer */
#define COPY_UP_TO 512 /* inputs this short get a heap copy of their size */

enum fmt { FMT_GZIP, FMT_ZLIB, FMT_RAW };
enum kind { KIND_RANDOM, KIND_TEXT };

static const char *const fmt_names[] = {"gzip", "zlib", "raw deflate"};

/* A growable byte string (plain malloc: only the decoder uses ah__). */
typedef struct buf {
  unsigned char *p;
  size_t len, cap;
} buf;

static void buf_reserve(buf *b, size_t more) {
  size_t cap = b->cap != 0 ? b->cap : 256;
  if (b->len + more <= b->cap)
    return;
  while (cap < b->len + more)
    cap *= 2;
  b->p = realloc(b->p, cap);
  assert_non_null(b->p);
  b->cap = cap;
}

static void buf_add(buf *b, const void *p, size_t n) {
  if (n == 0)
    return;
  buf_reserve(b, n);
  memcpy(b->p + b->len, p, n);
  b->len += n;
}

static void buf_free(buf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

static uint32_t rng(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

/* len bytes of noise, or of text made of a few words (compressible). */
static unsigned char *make_data(enum kind kind, size_t len, uint32_t seed) {
  static const char *const words[] = {
      "the ",      "body ", "of ",      "a ",   "response ", "is ",
      "encoded\n", "gzip ", "deflate ", "200 ", "OK\r\n",    "HTTP/1.1 "};
  unsigned char *p = malloc(len > 0 ? len : 1);
  uint32_t s = seed | 1u;
  size_t i = 0;
  assert_non_null(p);
  while (i < len) {
    if (kind == KIND_RANDOM) {
      p[i++] = (unsigned char)rng(&s);
    } else {
      const char *w = words[rng(&s) % (sizeof words / sizeof words[0])];
      while (*w != '\0' && i < len)
        p[i++] = (unsigned char)*w++;
    }
  }
  return p;
}

/* Appends one complete stream of src[0..len) in format f. */
static void compress_to(buf *out, enum fmt f, int level, int strategy,
                        const unsigned char *src, size_t len) {
  int bits = f == FMT_GZIP ? 16 + 15 : f == FMT_ZLIB ? 15 : -15;
  z_stream z;
  size_t bound;
  memset(&z, 0, sizeof z);
  assert_int_equal(deflateInit2(&z, level, Z_DEFLATED, bits, 8, strategy),
                   Z_OK);
  bound = deflateBound(&z, (uLong)len);
  buf_reserve(out, bound);
  z.next_in = src;
  z.avail_in = (uInt)len;
  z.next_out = out->p + out->len;
  z.avail_out = (uInt)bound;
  assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
  out->len += bound - z.avail_out;
  assert_int_equal(deflateEnd(&z), Z_OK);
}

static void compress_simple(buf *out, enum fmt f, const unsigned char *src,
                            size_t len) {
  compress_to(out, f, Z_DEFAULT_COMPRESSION, Z_DEFAULT_STRATEGY, src, len);
}

static int coding_of(enum fmt f) {
  return f == FMT_GZIP ? AH_CODING_GZIP : AH_CODING_DEFLATE;
}

/* How one decoding went. */
typedef struct outcome {
  int rc;             /* the first error of a run, else ah__decoder_end's */
  int from_end;       /* rc came from ah__decoder_end */
  int finished;       /* *finished of the last successful run */
  const char *detail; /* rc's detail */
  buf out;            /* every byte produced, failing call included */
} outcome;

static void check_guard(const unsigned char *g) {
  for (size_t i = 0; i < GUARD; i++)
    assert_int_equal(g[i], 0xA5);
}

/* One ah__decoder_run on in[0..len), checked against the contract. */
static int run_once(ah__decoder *d, const unsigned char *in, size_t len,
                    unsigned char *obuf, size_t out_cap, size_t *consumed,
                    size_t *produced, int *finished, const char **detail) {
  unsigned char *copy = NULL;
  int rc;
  if (len > 0 && len <= COPY_UP_TO) {
    copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, in, len);
    in = copy;
  }
  *consumed = *produced = (size_t)-1;
  *finished = -1;
  *detail = "unset";
  rc = ah__decoder_run(d, in, len, consumed, obuf, out_cap, produced, finished,
                       detail);
  free(copy);
  check_guard(obuf + out_cap);
  assert_true(*consumed <= len);
  assert_true(*produced <= out_cap);
  assert_true(*finished == 0 || *finished == 1);
  if (rc == AH_OK) {
    assert_null(*detail);
    assert_true(*consumed == len || *produced == out_cap);
    if (len > 0 && out_cap > 0)
      assert_true(*consumed > 0 || *produced > 0);
  } else {
    assert_true(rc == AH_ERR_DECODING || rc == AH_ERR_NO_MEMORY);
    assert_non_null(*detail);
    assert_true((*detail)[0] != '\0');
    assert_int_equal(*finished, 0);
  }
  return rc;
}

/* After an error: the decoder says the same again and takes nothing. */
static void check_sticky(ah__decoder *d, int rc, const char *detail,
                         const unsigned char *in, size_t len,
                         unsigned char *obuf, size_t out_cap) {
  size_t consumed, produced;
  int finished;
  const char *again;
  assert_int_equal(run_once(d, in, len, obuf, out_cap, &consumed, &produced,
                            &finished, &again),
                   rc);
  assert_ptr_equal(again, detail);
  assert_int_equal(consumed, 0);
  assert_int_equal(produced, 0);
  assert_int_equal(ah__decoder_end(d, &again), rc);
  assert_ptr_equal(again, detail);
}

/*
 * Decodes in[0..in_len) arriving in pieces that end at cuts[0..ncuts)
 * (sorted; the last piece ends at in_len), giving at most piece_max bytes
 * (0: all that arrived) to one call and an output buffer of out_cap
 * bytes. The whole input is a heap copy of its exact size.
 */
static void decode(int coding, const unsigned char *in_orig, size_t in_len,
                   const size_t *cuts, size_t ncuts, size_t piece_max,
                   size_t out_cap, outcome *res) {
  unsigned char *in = malloc(in_len > 0 ? in_len : 1);
  unsigned char *obuf = malloc(out_cap + GUARD);
  ah__decoder *d = NULL;
  size_t pos = 0;

  assert_non_null(in);
  assert_non_null(obuf);
  if (in_len > 0)
    memcpy(in, in_orig, in_len);
  memset(obuf + out_cap, 0xA5, GUARD);
  memset(res, 0, sizeof *res);
  assert_int_equal(ah__decoder_new(coding, &d), AH_OK);
  assert_non_null(d);
  for (size_t piece = 0; piece <= ncuts; piece++) {
    size_t arrived = piece < ncuts ? cuts[piece] : in_len;
    if (arrived < pos)
      arrived = pos;
    for (;;) {
      size_t avail = arrived - pos, consumed, produced;
      int finished, rc;
      const char *detail;
      if (piece_max != 0 && avail > piece_max)
        avail = piece_max;
      rc = run_once(d, in + pos, avail, obuf, out_cap, &consumed, &produced,
                    &finished, &detail);
      buf_add(&res->out, obuf, produced);
      pos += consumed;
      if (rc != AH_OK) {
        check_sticky(d, rc, detail, in + pos, arrived - pos, obuf, out_cap);
        res->rc = rc;
        res->detail = detail;
        goto done;
      }
      res->finished = finished;
      if (pos == arrived && produced < out_cap)
        break;
    }
  }
  res->from_end = 1;
  res->rc = ah__decoder_end(d, &res->detail);
  if (res->rc == AH_OK)
    assert_null(res->detail);
  else
    assert_non_null(res->detail);
done:
  ah__decoder_free(d);
  free(obuf);
  free(in);
}

static void decode_whole(int coding, const unsigned char *in, size_t len,
                         size_t out_cap, outcome *res) {
  decode(coding, in, len, NULL, 0, 0, out_cap, res);
}

static void expect_output(const outcome *res, const unsigned char *want,
                          size_t want_len) {
  if (res->rc != AH_OK)
    fail_msg("decoding failed: %s", res->detail);
  assert_int_equal(res->out.len, want_len);
  assert_true(want_len == 0 || memcmp(res->out.p, want, want_len) == 0);
}

static void expect_error(const outcome *res, int rc, const char *detail) {
  assert_int_equal(res->rc, rc);
  assert_non_null(res->detail);
  assert_string_equal(res->detail, detail);
}

static void check_outcome(outcome *res, int rc, const char *detail,
                          const unsigned char *want, size_t want_len) {
  if (rc == AH_OK)
    expect_output(res, want, want_len);
  else
    expect_error(res, rc, detail);
  buf_free(&res->out);
}

/*
 * Decodes `in` whole, split in two at every point (output buffer of 7
 * bytes), and byte by byte into 1- and 3-byte output buffers; each way
 * must give `want` (or the error rc with `detail`).
 */
static void check_every_split(int coding, const unsigned char *in, size_t len,
                              int rc, const char *detail,
                              const unsigned char *want, size_t want_len) {
  outcome res;
  decode(coding, in, len, NULL, 0, 0, 64 * KIB, &res);
  check_outcome(&res, rc, detail, want, want_len);
  for (size_t cut = 0; cut <= len; cut++) {
    decode(coding, in, len, &cut, 1, 0, 7, &res);
    check_outcome(&res, rc, detail, want, want_len);
  }
  decode(coding, in, len, NULL, 0, 1, 1, &res);
  check_outcome(&res, rc, detail, want, want_len);
  decode(coding, in, len, NULL, 0, 1, 3, &res);
  check_outcome(&res, rc, detail, want, want_len);
}

/* ---- Content-Encoding names ---- */

static void content_coding_names(void **state) {
  static const struct {
    const char *value;
    int coding;
  } cases[] = {
      {"gzip", AH_CODING_GZIP},
      {"GZIP", AH_CODING_GZIP},
      {"x-gzip", AH_CODING_GZIP},
      {"X-GZip", AH_CODING_GZIP},
      {" \tgzip\t ", AH_CODING_GZIP},
      {"deflate", AH_CODING_DEFLATE},
      {"DeFlAtE ", AH_CODING_DEFLATE},
      {"identity", AH_CODING_IDENTITY},
      {"IDENTITY", AH_CODING_IDENTITY},
      {"", AH_CODING_IDENTITY},
      {"  \t", AH_CODING_IDENTITY},
      {",", AH_CODING_IDENTITY},
      {" , ,", AH_CODING_IDENTITY},
      {"gzip,", AH_CODING_GZIP},
      {", gzip", AH_CODING_GZIP},
      {"identity, gzip", AH_CODING_GZIP},
      {"deflate , identity", AH_CODING_DEFLATE},
      {"gzip, br", AH_CODING_UNSUPPORTED},
      {"br, gzip", AH_CODING_UNSUPPORTED},
      {"gzip, gzip", AH_CODING_UNSUPPORTED},
      {"deflate, gzip", AH_CODING_UNSUPPORTED},
      {"br", AH_CODING_UNSUPPORTED},
      {"zstd", AH_CODING_UNSUPPORTED},
      {"compress", AH_CODING_UNSUPPORTED},
      {"x-compress", AH_CODING_UNSUPPORTED},
      {"x-deflate", AH_CODING_UNSUPPORTED},
      {"gzi", AH_CODING_UNSUPPORTED},
      {"gzipp", AH_CODING_UNSUPPORTED},
      {"g zip", AH_CODING_UNSUPPORTED},
      {"gzip;q=1", AH_CODING_UNSUPPORTED},
      {"\"gzip\"", AH_CODING_UNSUPPORTED},
      {"gzip\r\n", AH_CODING_UNSUPPORTED},
      {"identity2", AH_CODING_UNSUPPORTED},
  };
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int got = ah__content_coding(cases[i].value, strlen(cases[i].value));
    if (got != cases[i].coding)
      fail_msg("\"%s\": got %d, want %d", cases[i].value, got, cases[i].coding);
  }
  /* Only len bytes are read: no terminator needed, a NUL is a byte. */
  assert_int_equal(ah__content_coding("gzipXYZ", 4), AH_CODING_GZIP);
  assert_int_equal(ah__content_coding("deflate", 3), AH_CODING_UNSUPPORTED);
  assert_int_equal(ah__content_coding("gzip\0", 5), AH_CODING_UNSUPPORTED);
  assert_int_equal(ah__content_coding(NULL, 0), AH_CODING_IDENTITY);
}

static void new_refuses_unknown_codings(void **state) {
  ah__decoder *d = (ah__decoder *)&d;
  (void)state;
  assert_int_equal(ah__decoder_new(AH_CODING_UNSUPPORTED, &d),
                   AH_ERR_INVALID_PARAMETER);
  assert_null(d);
  d = (ah__decoder *)&d;
  assert_int_equal(ah__decoder_new(-1, &d), AH_ERR_INVALID_PARAMETER);
  assert_null(d);
  assert_int_equal(ah__decoder_new(AH_CODING_GZIP, NULL),
                   AH_ERR_INVALID_PARAMETER);
  ah__decoder_free(NULL);
}

static void identity_copies_bytes(void **state) {
  unsigned char *data = make_data(KIND_RANDOM, 300, 7);
  outcome res;
  (void)state;
  check_every_split(AH_CODING_IDENTITY, data, 300, AH_OK, NULL, data, 300);
  decode_whole(AH_CODING_IDENTITY, data, 300, 64, &res);
  expect_output(&res, data, 300);
  assert_int_equal(res.finished, 0); /* identity has no end of its own */
  buf_free(&res.out);
  free(data);
}

/* ---- Round trips ---- */

static const size_t sizes[] = {0, 1, 2, 100, 4095, 65539, MIB};

static void round_trip(enum fmt f, size_t out_cap) {
  for (int kind = KIND_RANDOM; kind <= KIND_TEXT; kind++) {
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      unsigned char *data =
          make_data((enum kind)kind, sizes[i], (uint32_t)(i * 2 + 1));
      buf z = {0};
      outcome res;
      compress_simple(&z, f, data, sizes[i]);
      decode_whole(coding_of(f), z.p, z.len, out_cap, &res);
      if (res.rc != AH_OK || res.out.len != sizes[i])
        fail_msg("%s, %zu %s bytes: %s", fmt_names[f], sizes[i],
                 kind == KIND_TEXT ? "text" : "random", res.detail);
      expect_output(&res, data, sizes[i]);
      assert_int_equal(res.finished, 1);
      buf_free(&res.out);
      buf_free(&z);
      free(data);
    }
  }
}

static void gzip_round_trip(void **state) {
  (void)state;
  round_trip(FMT_GZIP, 64 * KIB);
}

static void gzip_round_trip_one_byte_output(void **state) {
  (void)state;
  round_trip(FMT_GZIP, 1);
}

static void deflate_zlib_round_trip(void **state) {
  (void)state;
  round_trip(FMT_ZLIB, 64 * KIB);
}

static void deflate_zlib_round_trip_one_byte_output(void **state) {
  (void)state;
  round_trip(FMT_ZLIB, 1);
}

static void deflate_raw_round_trip(void **state) {
  (void)state;
  round_trip(FMT_RAW, 64 * KIB);
}

static void deflate_raw_round_trip_one_byte_output(void **state) {
  (void)state;
  round_trip(FMT_RAW, 1);
}

/* Every level and strategy, so stored, fixed and dynamic blocks occur. */
static void every_level_and_strategy(void **state) {
  static const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FILTERED,
                                   Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED};
  unsigned char *data = make_data(KIND_TEXT, 20000, 11);
  (void)state;
  for (int f = FMT_GZIP; f <= FMT_RAW; f++)
    for (int level = 0; level <= 9; level++)
      for (size_t s = 0; s < sizeof strategies / sizeof strategies[0]; s++) {
        buf z = {0};
        outcome res;
        compress_to(&z, (enum fmt)f, level, strategies[s], data, 20000);
        decode_whole(coding_of((enum fmt)f), z.p, z.len, 4096, &res);
        expect_output(&res, data, 20000);
        buf_free(&res.out);
        buf_free(&z);
      }
  free(data);
}

static void split_at_every_byte(enum fmt f) {
  unsigned char *text = make_data(KIND_TEXT, 400, 3);
  unsigned char *noise = make_data(KIND_RANDOM, 40, 5);
  buf data = {0}, z = {0};
  buf_add(&data, text, 400);
  buf_add(&data, noise, 40);
  compress_simple(&z, f, data.p, data.len);
  check_every_split(coding_of(f), z.p, z.len, AH_OK, NULL, data.p, data.len);
  buf_free(&z);
  /* Level 0: stored blocks, whose bytes are copied as they come. */
  compress_to(&z, f, 0, Z_DEFAULT_STRATEGY, data.p, data.len);
  check_every_split(coding_of(f), z.p, z.len, AH_OK, NULL, data.p, data.len);
  buf_free(&z);
  buf_free(&data);
  free(noise);
  free(text);
}

static void gzip_split_at_every_byte(void **state) {
  (void)state;
  split_at_every_byte(FMT_GZIP);
}

static void deflate_zlib_split_at_every_byte(void **state) {
  (void)state;
  split_at_every_byte(FMT_ZLIB);
}

static void deflate_raw_split_at_every_byte(void **state) {
  (void)state;
  split_at_every_byte(FMT_RAW);
}

/*
 * "deflate" is decided from the first two bytes: every zlib header zlib
 * writes (levels 0-9, windows 2^9..2^15) is taken as zlib, and bare
 * deflate data of every level as bare.
 */
static void deflate_accepts_zlib_and_raw(void **state) {
  unsigned char *data = make_data(KIND_TEXT, 3000, 13);
  (void)state;
  for (int level = 0; level <= 9; level++)
    for (int bits = 9; bits <= 15; bits++)
      for (int sign = -1; sign <= 1; sign += 2) {
        buf z = {0};
        outcome res;
        z_stream zs;
        size_t bound;
        memset(&zs, 0, sizeof zs);
        assert_int_equal(deflateInit2(&zs, level, Z_DEFLATED, sign * bits, 8,
                                      Z_DEFAULT_STRATEGY),
                         Z_OK);
        bound = deflateBound(&zs, 3000);
        buf_reserve(&z, bound);
        zs.next_in = data;
        zs.avail_in = 3000;
        zs.next_out = z.p;
        zs.avail_out = (uInt)bound;
        assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
        z.len = bound - zs.avail_out;
        deflateEnd(&zs);
        decode_whole(AH_CODING_DEFLATE, z.p, z.len, 1000, &res);
        expect_output(&res, data, 3000);
        buf_free(&res.out);
        buf_free(&z);
      }
  free(data);
}

static void deflate_preset_dictionary_is_refused(void **state) {
  static const unsigned char dict[] = "a preset dictionary";
  unsigned char *data = make_data(KIND_TEXT, 500, 17);
  buf z = {0};
  z_stream zs;
  size_t bound;
  (void)state;
  memset(&zs, 0, sizeof zs);
  assert_int_equal(deflateInit(&zs, 6), Z_OK);
  assert_int_equal(deflateSetDictionary(&zs, dict, sizeof dict - 1), Z_OK);
  bound = deflateBound(&zs, 500);
  buf_reserve(&z, bound);
  zs.next_in = data;
  zs.avail_in = 500;
  zs.next_out = z.p;
  zs.avail_out = (uInt)bound;
  assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
  z.len = bound - zs.avail_out;
  deflateEnd(&zs);
  check_every_split(AH_CODING_DEFLATE, z.p, z.len, AH_ERR_DECODING,
                    "corrupt deflate data: needs a preset dictionary", NULL, 0);
  buf_free(&z);
  free(data);
}

/* ---- gzip members and what follows a stream ---- */

static void gzip_multiple_members(void **state) {
  unsigned char *a = make_data(KIND_TEXT, 1000, 19);
  unsigned char *b = make_data(KIND_RANDOM, 300, 23);
  buf z = {0}, want = {0};
  size_t first;
  outcome res;
  (void)state;
  compress_simple(&z, FMT_GZIP, a, 1000);
  first = z.len;
  compress_simple(&z, FMT_GZIP, a, 0); /* an empty member */
  compress_to(&z, FMT_GZIP, 0, Z_DEFAULT_STRATEGY, b, 300);
  compress_simple(&z, FMT_GZIP, a, 10);
  buf_add(&want, a, 1000);
  buf_add(&want, b, 300);
  buf_add(&want, a, 10);
  check_every_split(AH_CODING_GZIP, z.p, z.len, AH_OK, NULL, want.p, want.len);

  /* finished says whether the bytes so far end a member. */
  decode(AH_CODING_GZIP, z.p, first, NULL, 0, 0, 4096, &res);
  expect_output(&res, a, 1000);
  assert_int_equal(res.finished, 1);
  buf_free(&res.out);
  decode(AH_CODING_GZIP, z.p, first + 1, NULL, 0, 0, 4096, &res);
  assert_int_equal(res.finished, 0);
  expect_error(&res, AH_ERR_DECODING, "truncated gzip stream");
  buf_free(&res.out);

  buf_free(&want);
  buf_free(&z);
  free(b);
  free(a);
}

static void gzip_bytes_after_the_stream(void **state) {
  static const struct {
    const char *tail;
    size_t len;
    const char *detail;
  } cases[] = {
      {"x", 1, "bytes after the end of the gzip stream"},
      {"\n", 1, "bytes after the end of the gzip stream"},
      {"\0\0\0\0", 4, "bytes after the end of the gzip stream"},
      {"\x1f\x00", 2, "bytes after the end of the gzip stream"},
      {"\x8b\x1f", 2, "bytes after the end of the gzip stream"},
      {"\x1f", 1, "truncated gzip stream"},
      {"\x1f\x8b", 2, "truncated gzip stream"},
      {"\x1f\x8b\x08\0\0\0\0\0\0\x03", 10, "truncated gzip stream"},
      {"\x1f\x8b\x07\0\0\0\0\0\0\x03", 10,
       "corrupt gzip data: unknown compression method"},
  };
  unsigned char *data = make_data(KIND_TEXT, 200, 29);
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    buf z = {0};
    compress_simple(&z, FMT_GZIP, data, 200);
    buf_add(&z, cases[i].tail, cases[i].len);
    check_every_split(AH_CODING_GZIP, z.p, z.len, AH_ERR_DECODING,
                      cases[i].detail, NULL, 0);
    buf_free(&z);
  }
  free(data);
}

static void deflate_bytes_after_the_stream(void **state) {
  unsigned char *data = make_data(KIND_TEXT, 200, 31);
  (void)state;
  for (int f = FMT_ZLIB; f <= FMT_RAW; f++) {
    buf z = {0};
    compress_simple(&z, (enum fmt)f, data, 200);
    buf_add(&z, "\0", 1);
    check_every_split(AH_CODING_DEFLATE, z.p, z.len, AH_ERR_DECODING,
                      "bytes after the end of the deflate stream", NULL, 0);
    /* A second stream is not allowed either. */
    z.len--;
    compress_simple(&z, (enum fmt)f, data, 10);
    check_every_split(AH_CODING_DEFLATE, z.p, z.len, AH_ERR_DECODING,
                      "bytes after the end of the deflate stream", NULL, 0);
    buf_free(&z);
  }
  free(data);
}

/* ---- Corruption ---- */

/* The stream of `len` text bytes with byte `at` (from the end when
 * negative) replaced: by `value`, or XORed with 0x01 when value < 0. */
static void stream_with_byte(buf *z, enum fmt f, int level, size_t len, long at,
                             int value) {
  unsigned char *data = make_data(KIND_TEXT, len, 37);
  size_t pos;
  compress_to(z, f, level, Z_DEFAULT_STRATEGY, data, len);
  pos = at >= 0 ? (size_t)at : z->len - (size_t)(-at);
  z->p[pos] =
      value < 0 ? (unsigned char)(z->p[pos] ^ 1u) : (unsigned char)value;
  free(data);
}

static void check_corrupt(enum fmt f, int level, size_t len, long at, int value,
                          const char *detail) {
  buf z = {0};
  stream_with_byte(&z, f, level, len, at, value);
  check_every_split(coding_of(f), z.p, z.len, AH_ERR_DECODING, detail, NULL, 0);
  buf_free(&z);
}

static void gzip_corrupt_header(void **state) {
  (void)state;
  check_corrupt(FMT_GZIP, 6, 100, 0, 0x1e,
                "corrupt gzip data: not a gzip header");
  check_corrupt(FMT_GZIP, 6, 100, 1, 0x8c,
                "corrupt gzip data: not a gzip header");
  check_corrupt(FMT_GZIP, 6, 100, 2, 7,
                "corrupt gzip data: unknown compression method");
  check_corrupt(FMT_GZIP, 6, 100, 3, 0x20,
                "corrupt gzip data: unknown header flags set");
}

/* Optional header fields (RFC 1952 section 2.3.1) are skipped; a header
 * CRC is checked. */
static void gzip_optional_header_fields(void **state) {
  static unsigned char extra[] = "AB\x04\0xyzw";
  static unsigned char name[] = "file.txt";
  static unsigned char comment[] = "a comment";
  unsigned char *data = make_data(KIND_TEXT, 500, 41);
  gz_header head;
  z_stream zs;
  size_t bound;
  buf z = {0};
  (void)state;
  memset(&head, 0, sizeof head);
  head.text = 1;
  head.time = 0x12345678;
  head.os = 3;
  head.extra = extra;
  head.extra_len = sizeof extra - 1;
  head.name = name;
  head.comment = comment;
  head.hcrc = 1;
  memset(&zs, 0, sizeof zs);
  assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY),
                   Z_OK);
  assert_int_equal(deflateSetHeader(&zs, &head), Z_OK);
  bound = deflateBound(&zs, 500) + 64;
  buf_reserve(&z, bound);
  zs.next_in = data;
  zs.avail_in = 500;
  zs.next_out = z.p;
  zs.avail_out = (uInt)bound;
  assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
  z.len = bound - zs.avail_out;
  deflateEnd(&zs);
  check_every_split(AH_CODING_GZIP, z.p, z.len, AH_OK, NULL, data, 500);
  z.p[5] ^= 1; /* MTIME, covered by the header CRC */
  check_every_split(AH_CODING_GZIP, z.p, z.len, AH_ERR_DECODING,
                    "corrupt gzip data: header crc mismatch", NULL, 0);
  buf_free(&z);
  free(data);
}

static void gzip_corrupt_data(void **state) {
  (void)state;
  /* Byte 10 starts the deflate data: BFINAL 1, BTYPE 11 (reserved). */
  check_corrupt(FMT_GZIP, 6, 1000, 10, 0x07,
                "corrupt gzip data: invalid block type");
  /* A stored block's LEN no longer matches its NLEN. */
  check_corrupt(FMT_GZIP, 0, 1000, 11, -1,
                "corrupt gzip data: invalid stored block lengths");
}

static void deflate_corrupt_data(void **state) {
  (void)state;
  check_corrupt(FMT_ZLIB, 6, 1000, 2, 0x07,
                "corrupt deflate data: invalid block type");
  check_corrupt(FMT_RAW, 6, 1000, 0, 0x07,
                "corrupt deflate data: invalid block type");
  check_corrupt(FMT_RAW, 0, 1000, 1, -1,
                "corrupt deflate data: invalid stored block lengths");
}

static void gzip_crc_mismatch(void **state) {
  (void)state;
  /* The CRC-32 field itself. */
  check_corrupt(FMT_GZIP, 6, 1000, -8, -1,
                "corrupt gzip data: CRC-32 mismatch");
  /* A data byte of a stored block: it decodes, but the CRC tells. */
  check_corrupt(FMT_GZIP, 0, 1000, 100, -1,
                "corrupt gzip data: CRC-32 mismatch");
}

static void gzip_isize_mismatch(void **state) {
  (void)state;
  check_corrupt(FMT_GZIP, 6, 1000, -4, -1,
                "corrupt gzip data: length (ISIZE) does not match the data");
  check_corrupt(FMT_GZIP, 6, 1000, -1, -1,
                "corrupt gzip data: length (ISIZE) does not match the data");
}

static void deflate_adler_mismatch(void **state) {
  (void)state;
  check_corrupt(FMT_ZLIB, 6, 1000, -1, -1,
                "corrupt deflate data: Adler-32 mismatch");
  check_corrupt(FMT_ZLIB, 0, 1000, 100, -1,
                "corrupt deflate data: Adler-32 mismatch");
}

/* ---- Truncation and empty bodies ---- */

static void truncated_streams(void **state) {
  static const char *const details[] = {"truncated gzip stream",
                                        "truncated deflate stream",
                                        "truncated deflate stream"};
  unsigned char *data = make_data(KIND_TEXT, 5000, 43);
  (void)state;
  for (int f = FMT_GZIP; f <= FMT_RAW; f++) {
    buf z = {0};
    compress_simple(&z, (enum fmt)f, data, 5000);
    const size_t cuts[] = {1, 2, 3, 9, 10, 11, z.len / 2, z.len - 4, z.len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
      outcome res;
      decode(coding_of((enum fmt)f), z.p, cuts[i], NULL, 0, 0, 333, &res);
      expect_error(&res, AH_ERR_DECODING, details[f]);
      /* Nothing wrong was seen until the end: what came is a prefix. */
      assert_int_equal(res.from_end, 1);
      assert_int_equal(res.finished, 0);
      assert_true(res.out.len <= 5000);
      assert_true(res.out.len == 0 ||
                  memcmp(res.out.p, data, res.out.len) == 0);
      buf_free(&res.out);
    }
    buf_free(&z);
  }
  free(data);
}

static void empty_body_is_empty(void **state) {
  static const int codings[] = {AH_CODING_GZIP, AH_CODING_DEFLATE,
                                AH_CODING_IDENTITY};
  (void)state;
  for (size_t i = 0; i < 3; i++) {
    ah__decoder *d;
    const char *detail = "unset";
    unsigned char out[4];
    size_t consumed = 9, produced = 9;
    int finished = 9;
    /* No call at all. */
    assert_int_equal(ah__decoder_new(codings[i], &d), AH_OK);
    assert_int_equal(ah__decoder_end(d, &detail), AH_OK);
    assert_null(detail);
    ah__decoder_free(d);
    /* Calls with no bytes. */
    assert_int_equal(ah__decoder_new(codings[i], &d), AH_OK);
    assert_int_equal(ah__decoder_run(d, NULL, 0, &consumed, out, sizeof out,
                                     &produced, &finished, &detail),
                     AH_OK);
    assert_int_equal(consumed, 0);
    assert_int_equal(produced, 0);
    assert_int_equal(finished, 0);
    assert_null(detail);
    assert_int_equal(ah__decoder_run(d, NULL, 0, &consumed, NULL, 0, &produced,
                                     &finished, &detail),
                     AH_OK);
    assert_int_equal(ah__decoder_end(d, &detail), AH_OK);
    ah__decoder_free(d);
  }
}

/* ---- Memory ---- */

/*
 * A gzip stream of 1 GiB of zeros (about 1 MiB), built without
 * compressing 1 GiB: bare deflate of 1 MiB of zeros ending in a full
 * flush refers to nothing before it, so 1024 copies of it, a final empty
 * block and the gzip trailer form a valid stream.
 */
static void zero_bomb(buf *z) {
  static const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  unsigned char *zeros = calloc(MIB, 1);
  z_stream zs;
  buf seg = {0};
  uLong crc_mib, crc = crc32(0, Z_NULL, 0);
  unsigned char trailer[8];
  assert_non_null(zeros);
  memset(&zs, 0, sizeof zs);
  assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY),
                   Z_OK);
  buf_reserve(&seg, 4 * KIB);
  zs.next_in = zeros;
  zs.avail_in = MIB;
  zs.next_out = seg.p;
  zs.avail_out = (uInt)seg.cap;
  assert_int_equal(deflate(&zs, Z_FULL_FLUSH), Z_OK);
  assert_int_equal(zs.avail_in, 0);
  assert_true(zs.avail_out > 0);
  seg.len = seg.cap - zs.avail_out;
  deflateEnd(&zs);
  crc_mib = crc32(0, zeros, MIB);
  buf_add(z, header, sizeof header);
  for (int i = 0; i < 1024; i++) {
    buf_add(z, seg.p, seg.len);
    crc = crc32_combine(crc, crc_mib, (z_off_t)MIB);
  }
  buf_add(z, "\x03\x00", 2); /* BFINAL, fixed Huffman, end of block */
  for (int i = 0; i < 4; i++) {
    trailer[i] = (unsigned char)(crc >> (8 * i));
    trailer[4 + i] = (unsigned char)((1024u * MIB) >> (8 * i)); /* ISIZE */
  }
  buf_add(z, trailer, sizeof trailer);
  buf_free(&seg);
  free(zeros);
}

/* Allocations one decoding of z[0..len) makes, counted by the hook. */
static unsigned long count_allocations(int coding, const unsigned char *z,
                                       size_t len, size_t out_cap,
                                       uint64_t *total) {
  unsigned char *out = malloc(out_cap + GUARD);
  ah__decoder *d;
  size_t pos = 0, consumed, produced;
  int finished;
  const char *detail;
  assert_non_null(out);
  memset(out + out_cap, 0xA5, GUARD);
  *total = 0;
  ah__alloc_fail_from(0, NULL); /* resets the count */
  assert_int_equal(ah__decoder_new(coding, &d), AH_OK);
  do {
    assert_int_equal(ah__decoder_run(d, z + pos, len - pos, &consumed, out,
                                     out_cap, &produced, &finished, &detail),
                     AH_OK);
    assert_true(produced <= out_cap);
    check_guard(out + out_cap);
    assert_true(produced == 0 ||
                (out[0] == 0 && memcmp(out, out + 1, produced - 1) == 0));
    *total += produced;
    pos += consumed;
  } while (pos < len || produced == out_cap);
  assert_int_equal(ah__decoder_end(d, &detail), AH_OK);
  ah__decoder_free(d);
  free(out);
  return ah__alloc_fail_from(0, NULL);
}

/*
 * 1 GiB of zeros from about 1 MiB of gzip: the output buffer bounds every
 * call, and the decoder makes the same three allocations (itself, zlib's
 * state and window) as for 100 KB. (A stream that ends within the first
 * call needs no window: two allocations.)
 */
static void zero_bomb_costs_no_memory(void **state) {
  unsigned char *small = calloc(100000, 1);
  buf bomb = {0}, tiny = {0};
  uint64_t total;
  unsigned long big_allocs, small_allocs;
  (void)state;
  assert_non_null(small);
  zero_bomb(&bomb);
  assert_true(bomb.len < 2 * MIB);
  compress_simple(&tiny, FMT_GZIP, small, 100000);
  small_allocs =
      count_allocations(AH_CODING_GZIP, tiny.p, tiny.len, 64 * KIB, &total);
  assert_int_equal(total, 100000);
  big_allocs =
      count_allocations(AH_CODING_GZIP, bomb.p, bomb.len, 64 * KIB, &total);
  assert_true(total == 1024ull * MIB);
  assert_int_equal(small_allocs, 3);
  assert_int_equal(big_allocs, small_allocs);
  buf_free(&tiny);
  buf_free(&bomb);
  free(small);
}

/* One decoding under the allocation hook: AH_OK, or the NO_MEMORY it
 * gave (then the decoder keeps saying so), leaving nothing allocated. */
static int decode_under_hook(int coding, const unsigned char *z, size_t len,
                             const unsigned char *want, size_t want_len) {
  unsigned char out[4096];
  buf got = {0};
  ah__decoder *d = (ah__decoder *)&got;
  size_t pos = 0, consumed, produced;
  int finished, rc;
  const char *detail;

  rc = ah__decoder_new(coding, &d);
  if (rc != AH_OK) {
    assert_int_equal(rc, AH_ERR_NO_MEMORY);
    assert_null(d);
    return rc;
  }
  do {
    rc = ah__decoder_run(d, z + pos, len - pos, &consumed, out, sizeof out,
                         &produced, &finished, &detail);
    if (rc != AH_OK) {
      assert_int_equal(rc, AH_ERR_NO_MEMORY);
      assert_non_null(detail);
      memset(out + 64, 0xA5, GUARD);
      check_sticky(d, rc, detail, z + pos + consumed, len - pos - consumed, out,
                   64);
      ah__decoder_free(d);
      buf_free(&got);
      return rc;
    }
    buf_add(&got, out, produced);
    pos += consumed;
  } while (pos < len || produced == sizeof out);
  assert_int_equal(ah__decoder_end(d, &detail), AH_OK);
  ah__decoder_free(d);
  assert_int_equal(got.len, want_len);
  assert_true(want_len == 0 || memcmp(got.p, want, want_len) == 0);
  buf_free(&got);
  return AH_OK;
}

/*
 * Fails each allocation of a decoding in turn (the decoder's own and
 * zlib's, which go through the same hook): each gives AH_ERR_NO_MEMORY
 * and leaks nothing (LeakSanitizer checks in the address build).
 */
static void allocation_failure_is_no_memory(void **state) {
  static const int codings[] = {AH_CODING_GZIP, AH_CODING_DEFLATE,
                                AH_CODING_DEFLATE, AH_CODING_IDENTITY};
  static const enum fmt fmts[] = {FMT_GZIP, FMT_ZLIB, FMT_RAW, FMT_GZIP};
  static const unsigned long expected[] = {3, 3, 3, 1};
  unsigned char *data = make_data(KIND_TEXT, 50000, 47);
  (void)state;
  for (size_t c = 0; c < 4; c++) {
    buf z = {0};
    unsigned long n;
    const unsigned char *in = data, *want = data;
    size_t in_len = 50000;
    if (codings[c] != AH_CODING_IDENTITY) {
      compress_simple(&z, fmts[c], data, 50000);
      in = z.p;
      in_len = z.len;
    }
    ah__alloc_fail_from(0, NULL);
    assert_int_equal(decode_under_hook(codings[c], in, in_len, want, 50000),
                     AH_OK);
    n = ah__alloc_fail_from(0, NULL);
    assert_int_equal(n, expected[c]);
    for (unsigned long k = 0; k < n; k++) {
      int rc;
      /* The decoder's allocation k + 1 (counting from 1) fails. */
      ah__alloc_fail_from(k + 1, NULL);
      rc = decode_under_hook(codings[c], in, in_len, want, 50000);
      ah__alloc_fail_from(0, NULL);
      assert_int_equal(rc, AH_ERR_NO_MEMORY);
    }
    assert_int_equal(decode_under_hook(codings[c], in, in_len, want, 50000),
                     AH_OK);
    buf_free(&z);
  }
  free(data);
}

/* Freeing a decoder in the middle of a stream (a cancelled read). */
static void free_in_the_middle(void **state) {
  unsigned char *data = make_data(KIND_TEXT, 100000, 53);
  buf z = {0};
  ah__decoder *d;
  unsigned char out[100];
  size_t consumed, produced;
  int finished;
  const char *detail;
  (void)state;
  compress_simple(&z, FMT_GZIP, data, 100000);
  assert_int_equal(ah__decoder_new(AH_CODING_GZIP, &d), AH_OK);
  assert_int_equal(ah__decoder_run(d, z.p, z.len / 2, &consumed, out,
                                   sizeof out, &produced, &finished, &detail),
                   AH_OK);
  assert_int_equal(produced, sizeof out);
  assert_true(memcmp(out, data, sizeof out) == 0);
  ah__decoder_free(d);
  buf_free(&z);
  free(data);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(content_coding_names),
    cmocka_unit_test(new_refuses_unknown_codings),
    cmocka_unit_test(identity_copies_bytes),
    cmocka_unit_test(gzip_round_trip),
    cmocka_unit_test(gzip_round_trip_one_byte_output),
    cmocka_unit_test(deflate_zlib_round_trip),
    cmocka_unit_test(deflate_zlib_round_trip_one_byte_output),
    cmocka_unit_test(deflate_raw_round_trip),
    cmocka_unit_test(deflate_raw_round_trip_one_byte_output),
    cmocka_unit_test(every_level_and_strategy),
    cmocka_unit_test(gzip_split_at_every_byte),
    cmocka_unit_test(deflate_zlib_split_at_every_byte),
    cmocka_unit_test(deflate_raw_split_at_every_byte),
    cmocka_unit_test(deflate_accepts_zlib_and_raw),
    cmocka_unit_test(deflate_preset_dictionary_is_refused),
    cmocka_unit_test(gzip_multiple_members),
    cmocka_unit_test(gzip_bytes_after_the_stream),
    cmocka_unit_test(deflate_bytes_after_the_stream),
    cmocka_unit_test(gzip_corrupt_header),
    cmocka_unit_test(gzip_optional_header_fields),
    cmocka_unit_test(gzip_corrupt_data),
    cmocka_unit_test(deflate_corrupt_data),
    cmocka_unit_test(gzip_crc_mismatch),
    cmocka_unit_test(gzip_isize_mismatch),
    cmocka_unit_test(deflate_adler_mismatch),
    cmocka_unit_test(truncated_streams),
    cmocka_unit_test(empty_body_is_empty),
    cmocka_unit_test(zero_bomb_costs_no_memory),
    cmocka_unit_test(allocation_failure_is_no_memory),
    cmocka_unit_test(free_in_the_middle),
};

AH_TEST_MAIN(tests)
