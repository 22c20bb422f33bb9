/*
 * fuzz_h1_response.c - libFuzzer target for the response head parser,
 * ah__h1_parse_response (src/http1/h1_response.c).
 *
 * Input: 9 control bytes, then the bytes of a response.
 *   byte 0      header capacity: < 128 means the whole array (256),
 *               otherwise (byte - 128), so that E_TOO_MANY is reachable
 *   bytes 1-2   max_head: high bit set means (value & 0x7fff), else none
 *   bytes 3-8   three split points (16 bits each, taken modulo len + 1)
 *
 * Each parse gets a heap copy of exactly the bytes it may look at, so
 * AddressSanitizer catches any read past `len`. Checked on every parse:
 * the result is one the header documents; errors carry a detail; NEED_MORE
 * only below max_head and with *out untouched; on OK the head fits the
 * buffer and the limit, every view lies inside the head, names are tokens,
 * values have no CR, LF or NUL and no surrounding whitespace, and the head
 * has no NUL, bare CR or folded line. Across prefixes (the split points,
 * or every prefix of a short input), which is how a caller reading a
 * socket feeds the parser: an error stays the same error, OK stays the
 * same OK. On OK the head alone parses the same (the request layer keeps
 * such a copy), limits of exactly the head size and header count pass and
 * one less fails with the documented error. Interim (1xx) heads are
 * followed by the next head in the same buffer, as the request layer does.
 */
#include "fuzz_common.h"

#include "http1/h1.h"

#include <string.h>

#define CTL_BYTES 9
#define MAX_FIELDS 256
#define ALL_PREFIXES_UP_TO 128
#define MAX_INTERIM 8

/* One parse, with views as offsets so different copies compare. */
typedef struct parsed {
  int rc;
  const char *detail;
  size_t head_len;
  int minor, status;
  size_t reason_off, reason_len;
  size_t nh;
  struct {
    size_t no, nl, vo, vl;
  } h[MAX_FIELDS];
} parsed;

static ah__h1_header fields[MAX_FIELDS];

static int is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') ||
         (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int is_ws(unsigned char c) { return c == ' ' || c == '\t'; }

/* The view lies inside buf[0..limit) and has no CR, LF or NUL. */
static void check_view(const char *buf, size_t limit, ah__h1_str v) {
  FUZZ_CHECK(v.ptr != NULL);
  FUZZ_CHECK(v.ptr >= buf && v.ptr <= buf + limit);
  FUZZ_CHECK(v.len <= limit - (size_t)(v.ptr - buf));
  for (size_t i = 0; i < v.len; i++) {
    unsigned char c = (unsigned char)v.ptr[i];
    FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
  }
}

/* The safety properties of an accepted head, byte by byte. */
static void check_head_bytes(const unsigned char *p, size_t n) {
  FUZZ_CHECK(n >= 14); /* "HTTP/1.1 200\n\n" */
  FUZZ_CHECK(memcmp(p, "HTTP/1.", 7) == 0);
  FUZZ_CHECK(p[n - 1] == '\n');
  for (size_t i = 0; i < n; i++) {
    FUZZ_CHECK(p[i] != '\0');
    if (p[i] == '\r')
      FUZZ_CHECK(i + 1 < n && p[i + 1] == '\n');
    if (p[i] == '\n' && i + 1 < n)
      FUZZ_CHECK(!is_ws(p[i + 1])); /* no obs-fold */
  }
}

/*
 * Parses buf[0..len) (a heap copy of exactly len bytes) and checks what a
 * single call promises. Fills *res.
 */
static void parse_one(const char *buf, size_t len, size_t max_head, size_t cap,
                      parsed *res) {
  static const char sentinel[] = "sentinel";
  ah__h1_response out;
  size_t head_len = (size_t)-1;
  const char *detail = NULL;
  int rc;

  memset(&out, 0, sizeof out);
  out.minor_version = -7;
  out.status = -7;
  out.reason.ptr = sentinel;
  out.reason.len = 12345;
  out.headers = fields;
  out.num_headers = cap;
  rc = ah__h1_parse_response(buf, len, max_head, &out, &head_len, &detail);

  memset(res, 0, sizeof *res);
  res->rc = rc;
  FUZZ_CHECK(rc == AH_H1_OK || rc == AH_H1_NEED_MORE || rc == AH_H1_E_SYNTAX ||
             rc == AH_H1_E_TOO_LARGE || rc == AH_H1_E_TOO_MANY);
  if (rc != AH_H1_OK) {
    /* Nothing of *out changes unless the head parsed. */
    FUZZ_CHECK(out.minor_version == -7 && out.status == -7);
    FUZZ_CHECK(out.reason.ptr == sentinel && out.reason.len == 12345);
    FUZZ_CHECK(out.headers == fields && out.num_headers == cap);
  }
  if (rc < 0) {
    FUZZ_CHECK(detail != NULL && detail[0] != '\0');
    res->detail = detail;
  }
  if (rc == AH_H1_NEED_MORE)
    FUZZ_CHECK(len < max_head);
  if (rc == AH_H1_E_TOO_LARGE)
    FUZZ_CHECK(len >= max_head);
  if (rc != AH_H1_OK)
    return;

  FUZZ_CHECK(head_len <= len && head_len <= max_head);
  check_head_bytes((const unsigned char *)buf, head_len);
  FUZZ_CHECK(out.minor_version >= 0 && out.minor_version <= 9);
  FUZZ_CHECK(out.minor_version == buf[7] - '0');
  FUZZ_CHECK(out.status >= 100 && out.status <= 999);
  FUZZ_CHECK(out.headers == fields);
  FUZZ_CHECK(out.num_headers <= cap);
  check_view(buf, head_len, out.reason);
  FUZZ_CHECK(out.reason.ptr >= buf + 12);
  res->head_len = head_len;
  res->minor = out.minor_version;
  res->status = out.status;
  res->reason_off = (size_t)(out.reason.ptr - buf);
  res->reason_len = out.reason.len;
  res->nh = out.num_headers;
  {
    const char *prev_end = out.reason.ptr + out.reason.len;
    for (size_t i = 0; i < out.num_headers; i++) {
      ah__h1_header *h = &fields[i];
      check_view(buf, head_len, h->name);
      check_view(buf, head_len, h->value);
      FUZZ_CHECK(h->name.len > 0);
      for (size_t k = 0; k < h->name.len; k++)
        FUZZ_CHECK(is_tchar((unsigned char)h->name.ptr[k]));
      /* The colon follows the name at once (no whitespace before it). */
      FUZZ_CHECK(h->name.ptr[h->name.len] == ':');
      /* In order, and the value after its name. */
      FUZZ_CHECK(h->name.ptr > prev_end);
      FUZZ_CHECK(h->value.ptr > h->name.ptr + h->name.len);
      if (h->value.len > 0) {
        FUZZ_CHECK(!is_ws((unsigned char)h->value.ptr[0]));
        FUZZ_CHECK(!is_ws((unsigned char)h->value.ptr[h->value.len - 1]));
      }
      prev_end = h->value.ptr + h->value.len;
      res->h[i].no = (size_t)(h->name.ptr - buf);
      res->h[i].nl = h->name.len;
      res->h[i].vo = (size_t)(h->value.ptr - buf);
      res->h[i].vl = h->value.len;
    }
  }
}

static int same_parse(const parsed *a, const parsed *b) {
  if (a->rc != b->rc || a->detail != b->detail)
    return 0;
  if (a->rc != AH_H1_OK)
    return 1;
  if (a->head_len != b->head_len || a->minor != b->minor ||
      a->status != b->status || a->reason_off != b->reason_off ||
      a->reason_len != b->reason_len || a->nh != b->nh)
    return 0;
  return memcmp(a->h, b->h, a->nh * sizeof a->h[0]) == 0;
}

/* Parses a heap copy of exactly msg[0..len). */
static void parse_copy(const uint8_t *msg, size_t len, size_t max_head,
                       size_t cap, parsed *res) {
  char *copy = malloc(len > 0 ? len : 1);
  FUZZ_CHECK(copy != NULL);
  if (len > 0)
    memcpy(copy, msg, len);
  parse_one(copy, len, max_head, cap, res);
  free(copy);
}

/* A shorter prefix's verdict may only be NEED_MORE or the final one. */
static void check_prefix_order(const parsed *shorter, const parsed *longer) {
  if (shorter->rc == AH_H1_NEED_MORE)
    return;
  FUZZ_CHECK(same_parse(shorter, longer));
}

/* What an accepted head promises beyond one call. */
static void check_accepted(const uint8_t *msg, size_t len, size_t max_head,
                           size_t cap, const parsed *whole) {
  static parsed again;
  size_t n = whole->head_len;

  /* The head alone, as keep_head in request.c parses its copy. */
  parse_copy(msg, n, n + 1, cap, &again);
  FUZZ_CHECK(same_parse(&again, whole));
  parse_copy(msg, n, n, cap, &again);
  FUZZ_CHECK(same_parse(&again, whole));
  /* A limit one byte short of the head refuses it as too large. */
  parse_copy(msg, len, n - 1, cap, &again);
  FUZZ_CHECK(again.rc == AH_H1_E_TOO_LARGE);
  /* Exactly enough room for the fields passes; one less does not. */
  parse_copy(msg, len, max_head, whole->nh, &again);
  FUZZ_CHECK(same_parse(&again, whole));
  if (whole->nh > 0) {
    parse_copy(msg, len, max_head, whole->nh - 1, &again);
    FUZZ_CHECK(again.rc == AH_H1_E_TOO_MANY);
  }
}

/* Every check on one head that starts at msg[0]. Returns its parse. */
static void fuzz_head(const uint8_t *msg, size_t len, size_t max_head,
                      size_t cap, const size_t *splits, size_t nsplits,
                      parsed *whole) {
  static parsed prev, cur;

  parse_copy(msg, len, max_head, cap, whole);
  if (len <= ALL_PREFIXES_UP_TO) {
    /* Byte by byte, as a socket may deliver it. */
    parse_copy(msg, 0, max_head, cap, &prev);
    for (size_t k = 1; k <= len; k++) {
      parse_copy(msg, k, max_head, cap, &cur);
      check_prefix_order(&prev, &cur);
      prev = cur;
    }
    FUZZ_CHECK(same_parse(&prev, whole));
  } else {
    for (size_t i = 0; i < nsplits; i++) {
      parse_copy(msg, splits[i], max_head, cap, &cur);
      check_prefix_order(&cur, whole);
      if (i > 0)
        check_prefix_order(&prev, &cur);
      prev = cur;
    }
  }
  if (whole->rc == AH_H1_OK)
    check_accepted(msg, len, max_head, cap, whole);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static parsed whole;
  fuzz_ctl ctl = {data, size, 0};
  const uint8_t *msg;
  size_t len, cap, max_head, splits[3];
  unsigned cap_sel = fuzz_u8(&ctl), mh = fuzz_u16(&ctl);

  cap = cap_sel < 128 ? MAX_FIELDS : cap_sel - 128u;
  max_head = (mh & 0x8000u) ? (size_t)(mh & 0x7fffu) : (size_t)-1;
  fuzz_rest(data, size, CTL_BYTES, &msg, &len);
  for (size_t i = 0; i < 3; i++)
    splits[i] = fuzz_u16(&ctl) % (len + 1);
  fuzz_sort(splits, 3);

  /* Interim heads are followed by the next one, as the request layer
   * does while it waits for the final response. */
  for (int round = 0; round <= MAX_INTERIM; round++) {
    fuzz_head(msg, len, max_head, cap, splits, 3, &whole);
    if (whole.rc != AH_H1_OK || whole.status >= 200)
      break;
    msg += whole.head_len;
    len -= whole.head_len;
    for (size_t i = 0; i < 3; i++)
      splits[i] = splits[i] % (len + 1);
    fuzz_sort(splits, 3);
  }
  return 0;
}
