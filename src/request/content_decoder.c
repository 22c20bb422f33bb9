/*
 * content_decoder.c - gzip and deflate response bodies through zlib's
 * inflate, streamed: bytes in, decoded bytes out, no I/O.
 *
 * Invariants: the decoder writes only into the caller's output buffer
 * (zlib writes straight there; nothing is staged), so its memory does not
 * grow with the data; every zlib allocation goes through ah__malloc; an
 * error is sticky, so no byte decoded after corrupt data can be mistaken
 * for body. The only bytes the decoder keeps are the first two of a
 * "deflate" body, which decide its format before zlib sees them.
 */
#include "request/content_decoder.h"

#include "ahttp.h"
#include "util/alloc.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#define ZLIB_CONST /* next_in is a pointer to const */
#include <zlib.h>

enum phase {
  PHASE_SNIFF, /* deflate: gathering the two bytes that decide the format */
  PHASE_DATA,  /* inside a stream (a gzip member) */
  PHASE_END    /* a stream (a gzip member) has ended */
};

struct ah__decoder {
  z_stream z;
  int coding;             /* AH_CODING_* */
  int err;                /* AH_OK, or the error every later call gives */
  const char *err_detail; /* static */
  unsigned char phase;    /* enum phase */
  unsigned char any;      /* some input byte was taken */
  unsigned char head[2];  /* deflate: the first two bytes */
  unsigned char nhead;    /* how many of head[] arrived */
  unsigned char hfed;     /* how many of head[] zlib has taken */
  unsigned char magic;    /* gzip: bytes of 1f 8b still to check before a
                             member that follows another one */
};

/* One ASCII case-insensitive comparison of s[0..n) with a lowercase name. */
static int name_is(const char *s, size_t n, const char *name) {
  size_t i;
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if (name[i] == '\0' || c != name[i])
      return 0;
  }
  return name[n] == '\0';
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/*
 * Content-Encoding is a list of the codings applied in order (RFC 9110
 * section 8.4). "identity" means none and empty elements mean nothing
 * (section 5.6.1), so both are skipped; one coding left is decoded, two
 * (a coding applied twice, or one we lack) are not.
 */
int ah__content_coding(const char *value, size_t len) {
  int coding = AH_CODING_IDENTITY;
  size_t pos = 0;

  while (pos < len) {
    size_t start = pos, end;
    int this_one;
    while (pos < len && value[pos] != ',')
      pos++;
    end = pos;
    pos++; /* past the comma (or the end) */
    while (start < end && is_ows(value[start]))
      start++;
    while (end > start && is_ows(value[end - 1]))
      end--;
    if (start == end || name_is(value + start, end - start, "identity"))
      continue;
    if (name_is(value + start, end - start, "gzip") ||
        name_is(value + start, end - start, "x-gzip"))
      this_one = AH_CODING_GZIP;
    else if (name_is(value + start, end - start, "deflate"))
      this_one = AH_CODING_DEFLATE;
    else
      return AH_CODING_UNSUPPORTED;
    if (coding != AH_CODING_IDENTITY)
      return AH_CODING_UNSUPPORTED;
    coding = this_one;
  }
  return coding;
}

static voidpf zalloc_hook(voidpf opaque, uInt items, uInt size) {
  (void)opaque;
  if (size != 0 && items > SIZE_MAX / size)
    return Z_NULL;
  return ah__malloc((size_t)items * size);
}

static void zfree_hook(voidpf opaque, voidpf ptr) {
  (void)opaque;
  ah__free(ptr);
}

int ah__decoder_new(int coding, ah__decoder **out) {
  ah__decoder *d;
  int zr;

  if (out == NULL)
    return AH_ERR_INVALID_PARAMETER;
  *out = NULL;
  if (coding != AH_CODING_IDENTITY && coding != AH_CODING_GZIP &&
      coding != AH_CODING_DEFLATE)
    return AH_ERR_INVALID_PARAMETER;
  d = ah__calloc(1, sizeof *d);
  if (d == NULL)
    return AH_ERR_NO_MEMORY;
  d->coding = coding;
  d->phase = coding == AH_CODING_DEFLATE ? PHASE_SNIFF : PHASE_DATA;
  if (coding != AH_CODING_IDENTITY) {
    d->z.zalloc = zalloc_hook;
    d->z.zfree = zfree_hook;
    d->z.opaque = Z_NULL;
    /* 16 + 15: the gzip wrapper only (15 + 32 would also take zlib).
     * Deflate starts as zlib and may be switched to raw by the sniff. */
    zr = inflateInit2(&d->z,
                      coding == AH_CODING_GZIP ? 16 + MAX_WBITS : MAX_WBITS);
    if (zr != Z_OK) {
      ah__free(d);
      return zr == Z_MEM_ERROR ? AH_ERR_NO_MEMORY : AH_ERR_DECODING;
    }
  }
  *out = d;
  return AH_OK;
}

void ah__decoder_free(ah__decoder *d) {
  if (d == NULL)
    return;
  if (d->coding != AH_CODING_IDENTITY)
    inflateEnd(&d->z);
  ah__free(d);
}

static int fail(ah__decoder *d, int err, const char *detail) {
  d->err = err;
  d->err_detail = detail;
  return err;
}

/* zlib's words for what is wrong, prefixed with the coding's name. */
#define SAME(msg)                                                              \
  { msg, "corrupt gzip data: " msg, "corrupt deflate data: " msg }
static const struct zlib_message {
  const char *zlib, *gzip, *deflate;
} zlib_messages[] = {
    {"incorrect data check", "corrupt gzip data: CRC-32 mismatch",
     "corrupt deflate data: Adler-32 mismatch"},
    {"incorrect length check",
     "corrupt gzip data: length (ISIZE) does not match the data",
     "corrupt deflate data: length does not match the data"},
    {"incorrect header check", "corrupt gzip data: not a gzip header",
     "corrupt deflate data: incorrect header check"},
    SAME("header crc mismatch"),
    SAME("unknown compression method"),
    SAME("unknown header flags set"),
    SAME("invalid window size"),
    SAME("invalid block type"),
    SAME("invalid stored block lengths"),
    SAME("too many length or distance symbols"),
    SAME("invalid code lengths set"),
    SAME("invalid bit length repeat"),
    SAME("invalid code -- missing end-of-block"),
    SAME("invalid literal/lengths set"),
    SAME("invalid distances set"),
    SAME("invalid literal/length code"),
    SAME("invalid distance code"),
    SAME("invalid distance too far back"),
};
#undef SAME

static int fail_zlib(ah__decoder *d, int zr) {
  int gzip = d->coding == AH_CODING_GZIP;
  const char *detail = gzip ? "corrupt gzip data" : "corrupt deflate data";
  size_t i;

  switch (zr) {
  case Z_MEM_ERROR:
    return fail(d, AH_ERR_NO_MEMORY, "no memory for the decompression window");
  case Z_NEED_DICT:
    return fail(d, AH_ERR_DECODING,
                "corrupt deflate data: needs a preset dictionary");
  case Z_DATA_ERROR:
    for (i = 0;
         d->z.msg != NULL && i < sizeof zlib_messages / sizeof zlib_messages[0];
         i++)
      if (strcmp(d->z.msg, zlib_messages[i].zlib) == 0)
        detail = gzip ? zlib_messages[i].gzip : zlib_messages[i].deflate;
    return fail(d, AH_ERR_DECODING, detail);
  default: /* Z_STREAM_ERROR: our own misuse of zlib */
    return fail(d, AH_ERR_DECODING, "internal error in the content decoder");
  }
}

/*
 * RFC 9110 section 8.4.1.2 says "deflate" is the zlib format (RFC 1950),
 * but servers that follow early Microsoft code send bare deflate data
 * (RFC 1951), and browsers and curl accept both. We do as browsers do and
 * decide from the first two bytes: they are a zlib header when the
 * compression method is 8 (deflate), the window size at most 32 KiB, and
 * the two bytes taken as a big-endian number are a multiple of 31 (the
 * FCHECK rule). Bare deflate data cannot pass that test as compressors
 * write it: a low nibble of 8 would be a non-final stored block (BFINAL 0,
 * BTYPE 00) with a padding bit set, and padding is written as zeros. A
 * zlib header that asks for a preset dictionary is refused later (HTTP
 * has no way to name one).
 */
static int is_zlib_header(unsigned b0, unsigned b1) {
  return (b0 & 0x0fu) == 8u && (b0 >> 4) <= 7u && ((b0 << 8) | b1) % 31u == 0;
}

static uInt clamp_uint(size_t n) { return n > UINT_MAX ? UINT_MAX : (uInt)n; }

/*
 * A gzip member ended and more bytes follow: they must be another member
 * (RFC 1952 section 2.2), whose first bytes are 1f 8b. zlib would call
 * anything else an "incorrect header check"; saying what happened is
 * more useful. Checks the bytes of the magic still unchecked that are in
 * src[0..len).
 */
static int magic_fits(const ah__decoder *d, const unsigned char *src,
                      size_t len) {
  static const unsigned char magic[2] = {0x1f, 0x8b};
  size_t i;
  for (i = 0; i < len && i < d->magic; i++)
    if (src[i] != magic[2u - d->magic + i])
      return 0;
  return 1;
}

/*
 * Feeds zlib until the input is used up or the output is full, going on
 * into the next gzip member when one follows. The two sniffed bytes of a
 * deflate body are fed before the caller's.
 */
static int inflate_some(ah__decoder *d, const unsigned char *in, size_t in_len,
                        size_t *ipos, unsigned char *out, size_t out_len,
                        size_t *opos) {
  unsigned char none = 0; /* zlib wants a next_out even for no room */

  if (d->phase == PHASE_SNIFF) {
    while (d->nhead < 2 && *ipos < in_len)
      d->head[d->nhead++] = in[(*ipos)++];
    if (d->nhead < 2)
      return AH_OK;
    if (!is_zlib_header(d->head[0], d->head[1]) &&
        inflateReset2(&d->z, -MAX_WBITS) != Z_OK)
      return fail_zlib(d, Z_STREAM_ERROR);
    d->phase = PHASE_DATA;
  }
  for (;;) {
    int from_head = d->hfed < d->nhead, zr;
    const unsigned char *src = from_head    ? d->head + d->hfed
                               : in != NULL ? in + *ipos
                                            : NULL;
    uInt avail =
        clamp_uint(from_head ? (size_t)(d->nhead - d->hfed) : in_len - *ipos);
    uInt room = clamp_uint(out_len - *opos);
    size_t took, wrote;

    if (d->phase == PHASE_END) {
      if (avail == 0)
        return AH_OK;
      if (d->coding != AH_CODING_GZIP)
        return fail(d, AH_ERR_DECODING,
                    "bytes after the end of the deflate stream");
      if (inflateReset(&d->z) != Z_OK)
        return fail_zlib(d, Z_STREAM_ERROR);
      d->phase = PHASE_DATA;
      d->magic = 2;
    }
    if (d->magic > 0 && !magic_fits(d, src, avail))
      return fail(d, AH_ERR_DECODING, "bytes after the end of the gzip stream");
    d->z.next_in = avail > 0 ? src : Z_NULL;
    d->z.avail_in = avail;
    d->z.next_out = room > 0 ? out + *opos : &none;
    d->z.avail_out = room;
    zr = inflate(&d->z, Z_NO_FLUSH);
    took = avail - d->z.avail_in;
    wrote = room - d->z.avail_out;
    if (from_head)
      d->hfed = (unsigned char)(d->hfed + took);
    else
      *ipos += took;
    *opos += wrote;
    d->magic = (unsigned char)(took >= d->magic ? 0 : d->magic - took);
    if (zr == Z_STREAM_END)
      d->phase = PHASE_END;
    else if (zr != Z_OK && zr != Z_BUF_ERROR)
      return fail_zlib(d, zr);
    else if (took == 0 && wrote == 0)
      return AH_OK; /* input used up or output full */
  }
}

int ah__decoder_run(ah__decoder *d, const void *in, size_t in_len,
                    size_t *consumed, void *out, size_t out_len,
                    size_t *produced, int *finished, const char **detail) {
  size_t ipos = 0, opos = 0;
  int rc = d->err;

  if (rc == AH_OK && d->coding == AH_CODING_IDENTITY) {
    ipos = opos = in_len < out_len ? in_len : out_len;
    if (opos > 0)
      memcpy(out, in, opos);
  } else if (rc == AH_OK) {
    rc = inflate_some(d, in, in_len, &ipos, out, out_len, &opos);
  }
  if (ipos > 0)
    d->any = 1;
  *consumed = ipos;
  *produced = opos;
  *finished = rc == AH_OK && d->coding != AH_CODING_IDENTITY &&
              d->phase == PHASE_END && d->hfed == d->nhead;
  *detail = rc == AH_OK ? NULL : d->err_detail;
  return rc;
}

int ah__decoder_end(ah__decoder *d, const char **detail) {
  *detail = NULL;
  if (d->err != AH_OK) {
    *detail = d->err_detail;
    return d->err;
  }
  if (d->coding == AH_CODING_IDENTITY || !d->any ||
      (d->phase == PHASE_END && d->hfed == d->nhead))
    return AH_OK;
  *detail = d->coding == AH_CODING_GZIP ? "truncated gzip stream"
                                        : "truncated deflate stream";
  return AH_ERR_DECODING;
}
