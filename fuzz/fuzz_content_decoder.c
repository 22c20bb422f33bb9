/*
 * fuzz_content_decoder.c - libFuzzer target for the gzip/deflate content
 * decoder (ah__decoder_* in src/request/content_decoder.c).
 *
 * Input: 9 control bytes, then the data.
 *   byte 0      bits 0-1: the coding the data is decoded with (gzip,
 *               deflate, identity, deflate); bits 2-4: the output buffer
 *               size of the piecewise runs (1, 2, 3, 7, 16, 100, 1024,
 *               65536); bits 5-6: the format of the round trip (gzip,
 *               zlib, bare deflate, two gzip members); bit 7: its level
 *               (1 or 9)
 *   bytes 1-6   three split points (16 bits each, modulo the length)
 *   byte 7      most bytes handed to one call (0: all that arrived)
 *   byte 8      the round trip's window (2^9..2^15, low nibble) and
 *               memLevel (1-9, high nibble)
 *
 * Property 1, the data as a body: decoded whole into a large buffer, and
 * in pieces (split points, a feed limit, the small output buffer), and
 * byte by byte into a 1-byte buffer when short. Every call is checked
 * against content_decoder.h (bounds, all input taken or the output full,
 * progress, a detail exactly on errors, errors that stay), and the runs
 * must agree on every decoded byte, the verdict and its detail, and
 * whether the stream had finished.
 *
 * Property 2, the data as a Content-Encoding value: ah__content_coding
 * gives one of its four answers, the same with whitespace in front and
 * ", identity," behind, and a value listed twice names two codings.
 *
 * Property 3, a round trip: the data compressed by zlib in the chosen
 * format, decoded in pieces, gives the data back, finished, with no
 * error.
 *
 * Every call's input is copied to the end of a heap block and its output
 * buffer ends where a heap block ends, so a read or write past either is
 * caught (without an allocation per call, which would make the fuzzer
 * slow). A run stops after MAX_OUT decoded bytes, or 4096 per byte of its
 * output buffer, so that a small input that inflates to megabytes into a
 * 1-byte buffer keeps the fuzzer fast; runs that stop there are compared
 * on the bytes both produced.
 */
#include "fuzz_common.h"

#include "ahttp.h"
#include "request/content_decoder.h"

#include <string.h>

#define ZLIB_CONST
#include <zlib.h>

#define CTL_BYTES 9
#define MAX_OUT (256u * 1024u)
#define OUT_PER_BYTE 4096u /* of output buffer, at most per run */
#define BYTEWISE_UP_TO 256

/* How a run ended. */
typedef struct outcome {
  int rc;             /* the first error of a run, else ah__decoder_end's */
  int capped;         /* stopped at MAX_OUT bytes: no verdict */
  int finished;       /* *finished of the last successful call */
  const char *detail; /* rc's detail */
  uint8_t *out;       /* decoded bytes (at most MAX_OUT) */
  size_t out_len;
} outcome;

/* Heap blocks whose ends are the ends of a call's input and output. */
typedef struct arena {
  uint8_t *in; /* as long as the whole input */
  size_t in_cap;
  uint8_t *out; /* as long as the output buffer */
  size_t out_cap;
} arena;

/*
 * One ah__decoder_run on in[0..len), copied to the end of a.in, with an
 * output buffer of `room` bytes ending at the end of a.out; what it
 * produced is copied to dest.
 */
static int run_checked(ah__decoder *d, const arena *a, const uint8_t *in,
                       size_t len, uint8_t *dest, size_t room, size_t *consumed,
                       size_t *produced, int *finished, const char **detail) {
  uint8_t *at = a->in + a->in_cap - len, *out = a->out + a->out_cap - room;
  int rc;
  FUZZ_CHECK(len <= a->in_cap && room <= a->out_cap);
  if (len > 0)
    memmove(at, in, len);
  *consumed = *produced = (size_t)-1;
  *finished = -1;
  *detail = "unset";
  rc = ah__decoder_run(d, at, len, consumed, out, room, produced, finished,
                       detail);
  FUZZ_CHECK(*consumed <= len && *produced <= room);
  FUZZ_CHECK(*finished == 0 || *finished == 1);
  if (rc == AH_OK) {
    FUZZ_CHECK(*detail == NULL);
    FUZZ_CHECK(*consumed == len || *produced == room);
    if (len > 0 && room > 0)
      FUZZ_CHECK(*consumed > 0 || *produced > 0);
  } else {
    /* No allocation fails here, so corrupt data is the only error. */
    FUZZ_CHECK(rc == AH_ERR_DECODING);
    FUZZ_CHECK(*detail != NULL && (*detail)[0] != '\0');
    FUZZ_CHECK(*finished == 0);
  }
  if (*produced > 0)
    memcpy(dest, out, *produced);
  return rc;
}

/*
 * Decodes in[0..len) arriving in pieces that end at cuts[0..ncuts)
 * (sorted), at most `limit` bytes (0: all) to a call, into an output
 * buffer of out_cap bytes.
 */
static void decode(int coding, const uint8_t *in, size_t len,
                   const size_t *cuts, size_t ncuts, size_t limit,
                   size_t out_cap, outcome *res) {
  size_t max_out =
      out_cap < MAX_OUT / OUT_PER_BYTE ? out_cap * OUT_PER_BYTE : MAX_OUT;
  arena a = {malloc(len > 0 ? len : 1), len, malloc(out_cap), out_cap};
  ah__decoder *d = NULL;
  size_t pos = 0;

  memset(res, 0, sizeof *res);
  res->out = malloc(max_out);
  FUZZ_CHECK(res->out != NULL && a.in != NULL && a.out != NULL);
  FUZZ_CHECK(ah__decoder_new(coding, &d) == AH_OK && d != NULL);
  for (size_t piece = 0; piece <= ncuts; piece++) {
    size_t arrived = piece < ncuts ? cuts[piece] : len;
    if (arrived < pos)
      arrived = pos;
    for (;;) {
      size_t avail = arrived - pos, room = max_out - res->out_len;
      size_t consumed, produced;
      const char *detail;
      int finished, rc;
      if (limit != 0 && avail > limit)
        avail = limit;
      if (room > out_cap)
        room = out_cap;
      if (room == 0) {
        res->capped = 1;
        goto done;
      }
      rc = run_checked(d, &a, in + pos, avail, res->out + res->out_len, room,
                       &consumed, &produced, &finished, &detail);
      res->out_len += produced;
      pos += consumed;
      if (rc != AH_OK) {
        /* The error stays, and takes and gives nothing more. */
        uint8_t scratch[1];
        const char *again;
        FUZZ_CHECK(run_checked(d, &a, in + pos, arrived - pos, scratch, 1,
                               &consumed, &produced, &finished, &again) == rc);
        FUZZ_CHECK(again == detail && consumed == 0 && produced == 0);
        FUZZ_CHECK(ah__decoder_end(d, &again) == rc && again == detail);
        res->rc = rc;
        res->detail = detail;
        goto done;
      }
      res->finished = finished;
      if (pos == arrived && produced < room)
        break;
    }
  }
  res->rc = ah__decoder_end(d, &res->detail);
  FUZZ_CHECK(res->rc == AH_OK || res->rc == AH_ERR_DECODING);
  FUZZ_CHECK((res->rc == AH_OK) == (res->detail == NULL));
  /* A complete stream finished; an unfinished one is an error unless
   * nothing came (identity has no end of its own). */
  if (coding != AH_CODING_IDENTITY)
    FUZZ_CHECK((res->rc == AH_OK) == (res->finished || len == 0));
  else
    FUZZ_CHECK(res->rc == AH_OK && !res->finished);
done:
  ah__decoder_free(d);
  free(a.out);
  free(a.in);
}

static void check_same(const outcome *a, const outcome *b) {
  if (a->capped || b->capped) {
    size_t n = a->out_len < b->out_len ? a->out_len : b->out_len;
    /* A capped run stopped before its verdict (and runs with different
     * output buffers stop at different points): only the bytes both
     * produced can be compared. */
    FUZZ_CHECK(n == 0 || memcmp(a->out, b->out, n) == 0);
    if (!a->capped)
      FUZZ_CHECK(b->out_len <= a->out_len);
    if (!b->capped)
      FUZZ_CHECK(a->out_len <= b->out_len);
    return;
  }
  FUZZ_CHECK(a->rc == b->rc);
  FUZZ_CHECK(a->detail == b->detail);
  if (a->rc == AH_OK)
    FUZZ_CHECK(a->finished == b->finished);
  FUZZ_CHECK(a->out_len == b->out_len);
  FUZZ_CHECK(a->out_len == 0 || memcmp(a->out, b->out, a->out_len) == 0);
}

/* Appends one zlib stream of src[0..len) in `fmt` to out[*out_len..). */
static void compress_into(int fmt, int level, unsigned shape,
                          const uint8_t *src, size_t len, uint8_t *out,
                          size_t cap, size_t *out_len) {
  int wbits = 9 + (int)((shape & 15u) % 7u), mem = 1 + (int)((shape >> 4) % 9u);
  z_stream z;
  memset(&z, 0, sizeof z);
  FUZZ_CHECK(deflateInit2(&z, level, Z_DEFLATED,
                          fmt == 0   ? 16 + wbits
                          : fmt == 1 ? wbits
                                     : -wbits,
                          mem, Z_DEFAULT_STRATEGY) == Z_OK);
  z.next_in = src;
  z.avail_in = (uInt)len;
  z.next_out = out + *out_len;
  z.avail_out = (uInt)(cap - *out_len);
  FUZZ_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
  *out_len = cap - z.avail_out;
  deflateEnd(&z);
}

/* Compresses the data, decodes it in pieces, and wants it back. */
static void round_trip(unsigned fmt, int level, unsigned shape,
                       const uint8_t *data, size_t len, const unsigned *cut16,
                       size_t limit, size_t out_cap) {
  size_t cap = 2 * compressBound((uLong)len) + 64, zlen = 0, cuts[3];
  uint8_t *z = malloc(cap);
  outcome res;
  FUZZ_CHECK(z != NULL);
  if (fmt == 3) {
    /* Two gzip members, split where the first cut says. */
    size_t half = cut16[0] % (len + 1);
    compress_into(0, level, shape, data, half, z, cap, &zlen);
    compress_into(0, level, shape, data + half, len - half, z, cap, &zlen);
  } else {
    compress_into((int)fmt, level, shape, data, len, z, cap, &zlen);
  }
  for (size_t i = 0; i < 3; i++)
    cuts[i] = cut16[i] % (zlen + 1);
  fuzz_sort(cuts, 3);
  decode(fmt == 1 || fmt == 2 ? AH_CODING_DEFLATE : AH_CODING_GZIP, z, zlen,
         cuts, 3, limit, out_cap, &res);
  FUZZ_CHECK(!res.capped || len > MAX_OUT || len > out_cap * OUT_PER_BYTE);
  if (!res.capped) {
    FUZZ_CHECK(res.rc == AH_OK && res.finished);
    FUZZ_CHECK(res.out_len == len);
  }
  FUZZ_CHECK(res.out_len == 0 || memcmp(res.out, data, res.out_len) == 0);
  free(res.out);
  free(z);
}

/* ah__content_coding on a heap copy of exactly s[0..len). */
static int coding_of(const uint8_t *s, size_t len) {
  char *copy = malloc(len > 0 ? len : 1);
  int coding;
  FUZZ_CHECK(copy != NULL);
  if (len > 0)
    memcpy(copy, s, len);
  coding = ah__content_coding(copy, len);
  free(copy);
  FUZZ_CHECK(coding >= AH_CODING_IDENTITY && coding <= AH_CODING_UNSUPPORTED);
  return coding;
}

static void check_coding_name(const uint8_t *value, size_t len) {
  static const char pre[] = " \t", post[] = " , identity,";
  uint8_t *v = malloc(2 * len + sizeof pre + sizeof post);
  int coding = coding_of(value, len), twice;
  FUZZ_CHECK(v != NULL);
  memcpy(v, pre, sizeof pre - 1);
  if (len > 0)
    memcpy(v + sizeof pre - 1, value, len);
  memcpy(v + sizeof pre - 1 + len, post, sizeof post - 1);
  FUZZ_CHECK(coding_of(v, len + sizeof pre + sizeof post - 2) == coding);
  if (len > 0) {
    memcpy(v, value, len);
    v[len] = ',';
    memcpy(v + len + 1, value, len);
    twice = coding_of(v, 2 * len + 1);
    FUZZ_CHECK(twice == (coding == AH_CODING_IDENTITY ? AH_CODING_IDENTITY
                                                      : AH_CODING_UNSUPPORTED));
  }
  free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int codings[] = {AH_CODING_GZIP, AH_CODING_DEFLATE,
                                AH_CODING_IDENTITY, AH_CODING_DEFLATE};
  static const size_t out_caps[] = {1, 2, 3, 7, 16, 100, 1024, 65536};
  fuzz_ctl ctl = {data, size, 0};
  unsigned mode = fuzz_u8(&ctl), cut16[3];
  int coding = codings[mode & 3u];
  size_t out_cap = out_caps[(mode >> 2) & 7u];
  unsigned fmt = (mode >> 5) & 3u;
  int level = (mode & 0x80u) != 0 ? 9 : 1;
  const uint8_t *msg;
  size_t len, cuts[3], limit;
  unsigned shape;
  outcome whole, pieces;

  for (size_t i = 0; i < 3; i++)
    cut16[i] = fuzz_u16(&ctl);
  limit = fuzz_u8(&ctl);
  shape = fuzz_u8(&ctl);
  fuzz_rest(data, size, CTL_BYTES, &msg, &len);
  for (size_t i = 0; i < 3; i++)
    cuts[i] = cut16[i] % (len + 1);
  fuzz_sort(cuts, 3);

  decode(coding, msg, len, NULL, 0, 0, 65536, &whole);
  if (coding == AH_CODING_IDENTITY) {
    FUZZ_CHECK(whole.out_len == len && !whole.capped);
    FUZZ_CHECK(len == 0 || memcmp(whole.out, msg, len) == 0);
  }
  decode(coding, msg, len, cuts, 3, limit, out_cap, &pieces);
  check_same(&whole, &pieces);
  free(pieces.out);
  if (len <= BYTEWISE_UP_TO) {
    decode(coding, msg, len, NULL, 0, 1, 1, &pieces);
    check_same(&whole, &pieces);
    free(pieces.out);
  }
  free(whole.out);

  check_coding_name(msg, len);
  round_trip(fmt, level, shape, msg, len, cut16, limit, out_cap);
  return 0;
}
