/*
 * fuzz_h1_body.c - libFuzzer target for body framing: the decision
 * (ah__h1_body_init) and the decoder (ah__h1_body_next, _eof, _direct,
 * _skip) in src/http1/h1_body.c.
 *
 * Input: 16 control bytes, then the bytes after the head (or a head and
 * what follows it).
 *   byte 0      mode: 0 the input starts with a response head (interim
 *               heads skipped, as the request layer does); 1 chunked,
 *               2 Content-Length (bytes 4-7), 3 close-delimited, each with
 *               a made-up head and the whole input as what follows it
 *   byte 1      method: GET, HEAD, CONNECT or none (NULL)
 *   bytes 2-3   max_trailer
 *   bytes 4-7   Content-Length for mode 2
 *   bytes 8-13  three split points (16 bits each, modulo the length)
 *   byte 14     most bytes handed to one ah__h1_body_next call (0: all),
 *               as a caller filling a small read buffer does
 *   byte 15     bit 0: take body bytes through ah__h1_body_direct/_skip
 *               whenever nothing is buffered, as request.c reads a socket
 *               straight into the caller's buffer
 *
 * The framing decision is checked against what ah.h documents (errors
 * leave no body and no keep-alive, HEAD/1xx/204/304 have no body, a
 * close-delimited body never keeps the connection). Then the bytes after
 * the head are decoded twice, whole and in pieces (split points, a feed
 * limit, the direct path), every call's output is checked (spans inside
 * the input, NEED_MORE consumes everything, an error points inside it),
 * and the two runs must agree on every decoded byte, where the body ended
 * or failed, and the error's detail. Short bodies are also fed byte by
 * byte. Each call sees a heap copy of exactly its input, so reading past
 * it is caught.
 */
#include "fuzz_common.h"

#include "http1/h1.h"

#include <string.h>

#define CTL_BYTES 16
#define MAX_FIELDS 128
#define MAX_INTERIM 8
#define BYTEWISE_UP_TO 256

/* How a run ended. */
typedef struct outcome {
  int rc;          /* AH_H1_BODY_DONE or an AH_H1_E_* */
  int by_eof;      /* DONE only through ah__h1_body_eof */
  size_t at;       /* DONE: bytes of input the body took; error: where */
  const char *why; /* error detail */
  uint8_t *out;    /* decoded body bytes */
  size_t out_len;
} outcome;

/* One ah__h1_body_next on a heap copy of exactly in[0..len). */
static int next_on_copy(ah__h1_body *b, const uint8_t *in, size_t len,
                        size_t *consumed, size_t *data_off, size_t *data_len,
                        const char **why) {
  char *copy = malloc(len > 0 ? len : 1);
  const char *data = NULL;
  int rc;
  FUZZ_CHECK(copy != NULL);
  if (len > 0)
    memcpy(copy, in, len);
  *consumed = (size_t)-1;
  *why = NULL;
  rc = ah__h1_body_next(b, copy, len, consumed, &data, data_len, why);
  FUZZ_CHECK(*consumed <= len);
  switch (rc) {
  case AH_H1_BODY_DATA:
    FUZZ_CHECK(data != NULL && *data_len > 0);
    FUZZ_CHECK(data >= copy && data + *data_len == copy + *consumed);
    *data_off = (size_t)(data - copy);
    break;
  case AH_H1_NEED_MORE:
    FUZZ_CHECK(*consumed == len);
    break;
  case AH_H1_BODY_DONE:
    break;
  case AH_H1_E_SYNTAX:
  case AH_H1_E_TOO_LARGE:
  case AH_H1_E_OVERFLOW:
    FUZZ_CHECK(*consumed < len); /* the offending byte is there */
    FUZZ_CHECK(*why != NULL && (*why)[0] != '\0');
    break;
  default:
    FUZZ_CHECK(rc == AH_H1_BODY_DATA); /* an undocumented code */
  }
  free(copy);
  return rc;
}

/*
 * Decodes in[0..len) arriving in pieces that end at cuts[0..ncuts) (sorted;
 * the last piece ends at len), handing at most `limit` bytes (0: all) to a
 * call, optionally through the direct path. Then the end of input is EOF.
 */
static void decode(const ah__h1_body *init, const uint8_t *in, size_t len,
                   const size_t *cuts, size_t ncuts, size_t limit,
                   int use_direct, outcome *res) {
  ah__h1_body b = *init;
  size_t start = 0, end = 0; /* buffered, not yet consumed: [start, end) */

  memset(res, 0, sizeof *res);
  res->out = malloc(len > 0 ? len : 1);
  FUZZ_CHECK(res->out != NULL);
  for (size_t piece = 0; piece <= ncuts; piece++) {
    size_t arrive_to = piece < ncuts ? cuts[piece] : len;
    if (arrive_to < end)
      arrive_to = end;
    if (use_direct && start == end && arrive_to > end) {
      /* Straight into the reader's buffer: no decoding. */
      uint64_t direct = ah__h1_body_direct(&b);
      size_t n = arrive_to - end;
      if (direct > 0) {
        if ((uint64_t)n > direct)
          n = (size_t)direct;
        memcpy(res->out + res->out_len, in + end, n);
        res->out_len += n;
        ah__h1_body_skip(&b, n);
        start = end = end + n;
      }
    }
    end = arrive_to;
    for (;;) {
      size_t avail = end - start, consumed, off = 0, dlen = 0;
      const char *why;
      int rc;
      if (limit != 0 && avail > limit)
        avail = limit;
      rc = next_on_copy(&b, in + start, avail, &consumed, &off, &dlen, &why);
      if (rc == AH_H1_BODY_DATA) {
        memcpy(res->out + res->out_len, in + start + off, dlen);
        res->out_len += dlen;
        start += consumed;
        continue;
      }
      start += consumed;
      if (rc == AH_H1_NEED_MORE) {
        if (start < end)
          continue; /* the slice was cut by the limit */
        break;
      }
      res->rc = rc;
      res->at = start;
      res->why = rc < 0 ? why : NULL;
      if (rc == AH_H1_BODY_DONE) {
        /* Done stays done and takes nothing more. */
        size_t c2, o2, d2;
        const char *w2;
        FUZZ_CHECK(ah__h1_body_direct(&b) == 0);
        FUZZ_CHECK(next_on_copy(&b, in + start, len - start, &c2, &o2, &d2,
                                &w2) == AH_H1_BODY_DONE);
        FUZZ_CHECK(c2 == 0);
        FUZZ_CHECK(ah__h1_body_eof(&b, &w2) == AH_H1_BODY_DONE);
      }
      return;
    }
  }
  FUZZ_CHECK(start == len);
  {
    const char *why = NULL;
    int rc = ah__h1_body_eof(&b, &why);
    FUZZ_CHECK(rc == AH_H1_BODY_DONE || rc == AH_H1_E_SYNTAX);
    if (rc != AH_H1_BODY_DONE)
      FUZZ_CHECK(why != NULL && why[0] != '\0');
    else
      FUZZ_CHECK(ah__h1_body_direct(&b) == 0);
    res->rc = rc;
    res->by_eof = 1;
    res->at = len;
    res->why = rc < 0 ? why : NULL;
  }
}

static void check_same(const outcome *a, const outcome *b) {
  FUZZ_CHECK(a->rc == b->rc);
  FUZZ_CHECK(a->by_eof == b->by_eof);
  FUZZ_CHECK(a->at == b->at);
  FUZZ_CHECK(a->why == b->why);
  FUZZ_CHECK(a->out_len == b->out_len);
  FUZZ_CHECK(a->out_len == 0 || memcmp(a->out, b->out, a->out_len) == 0);
}

/* What ah__h1_body_init promises, for one parsed head. */
static int init_body(ah__h1_body *b, const ah__h1_response *resp,
                     const char *method, size_t max_trailer) {
  ah__h1_body other;
  const char *why = NULL;
  int ka = -1;
  int rc = ah__h1_body_init(b, resp, method, max_trailer, &ka, &why);
  int no_body_status = (resp->status >= 100 && resp->status < 200) ||
                       resp->status == 204 || resp->status == 304;

  FUZZ_CHECK(rc == AH_H1_OK || rc == AH_H1_E_FRAMING || rc == AH_H1_E_OVERFLOW);
  FUZZ_CHECK(ka == 0 || ka == 1);
  FUZZ_CHECK(b->max_trailer == max_trailer);
  if (rc != AH_H1_OK) {
    FUZZ_CHECK(why != NULL && why[0] != '\0');
    FUZZ_CHECK(b->framing == AH_H1_FRAMING_NONE && b->remaining == 0);
    FUZZ_CHECK(ka == 0);
  }
  if (no_body_status || (method != NULL && strcmp(method, "HEAD") == 0)) {
    FUZZ_CHECK(rc == AH_H1_OK);
    FUZZ_CHECK(b->framing == AH_H1_FRAMING_NONE);
  }
  if (b->framing == AH_H1_FRAMING_CLOSE)
    FUZZ_CHECK(ka == 0);
  if (b->framing == AH_H1_FRAMING_LENGTH)
    FUZZ_CHECK(b->remaining > 0 && b->remaining <= (uint64_t)INT64_MAX);
  if (b->framing == AH_H1_FRAMING_NONE)
    FUZZ_CHECK(ah__h1_body_direct(b) == 0);
  /* keep_alive may be NULL and changes nothing else. */
  FUZZ_CHECK(ah__h1_body_init(&other, resp, method, max_trailer, NULL, NULL) ==
             rc);
  FUZZ_CHECK(memcmp(&other, b, sizeof other) == 0);
  return rc;
}

/* A made-up head for modes 1-3, parsed the normal way. */
static size_t synthetic_head(unsigned mode, uint32_t cl, char *buf,
                             size_t cap) {
  int n;
  if (mode == 1)
    n = snprintf(buf, cap,
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  else if (mode == 2)
    n = snprintf(buf, cap, "HTTP/1.1 200 OK\r\nContent-Length: %lu\r\n\r\n",
                 (unsigned long)cl);
  else
    n = snprintf(buf, cap, "HTTP/1.0 200 OK\r\nServer: x\r\n\r\n");
  FUZZ_CHECK(n > 0 && (size_t)n < cap);
  return (size_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const methods[] = {"GET", "HEAD", "CONNECT", NULL};
  static ah__h1_header fields[MAX_FIELDS];
  static char synth[128];
  fuzz_ctl ctl = {data, size, 0};
  unsigned mode = fuzz_u8(&ctl) % 4u;
  const char *method = methods[fuzz_u8(&ctl) % 4u];
  size_t max_trailer = fuzz_u16(&ctl);
  uint32_t cl = (uint32_t)fuzz_u16(&ctl) << 16;
  const uint8_t *msg;
  size_t len, cuts[3], limit, head_len = 0;
  int use_direct;
  ah__h1_response resp;
  ah__h1_body body;
  const char *why = NULL;
  outcome whole, pieces;

  cl |= fuzz_u16(&ctl);
  fuzz_rest(data, size, CTL_BYTES, &msg, &len);

  memset(&resp, 0, sizeof resp);
  if (mode == 0) {
    /* The head comes from the input; skip interim heads. */
    for (int round = 0;; round++) {
      int rc;
      resp.headers = fields;
      resp.num_headers = MAX_FIELDS;
      rc = ah__h1_parse_response((const char *)msg, len, 65536, &resp,
                                 &head_len, &why);
      if (rc != AH_H1_OK || round > MAX_INTERIM)
        return 0;
      msg += head_len;
      len -= head_len;
      if (resp.status >= 200)
        break;
    }
  } else {
    size_t n = synthetic_head(mode, cl, synth, sizeof synth);
    resp.headers = fields;
    resp.num_headers = MAX_FIELDS;
    FUZZ_CHECK(ah__h1_parse_response(synth, n, n + 1, &resp, &head_len, &why) ==
               AH_H1_OK);
  }
  for (size_t i = 0; i < 3; i++)
    cuts[i] = fuzz_u16(&ctl) % (len + 1);
  fuzz_sort(cuts, 3);
  limit = fuzz_u8(&ctl);
  use_direct = (int)(fuzz_u8(&ctl) & 1u);

  if (init_body(&body, &resp, method, max_trailer) != AH_H1_OK)
    return 0;
  if (mode == 2 && (method == NULL || strcmp(method, "HEAD") != 0) &&
      !(method != NULL && strcmp(method, "CONNECT") == 0)) {
    FUZZ_CHECK(body.framing ==
               (cl > 0 ? AH_H1_FRAMING_LENGTH : AH_H1_FRAMING_NONE));
    FUZZ_CHECK(body.remaining == cl);
  }

  decode(&body, msg, len, NULL, 0, 0, 0, &whole);
  if (whole.rc == AH_H1_BODY_DONE && body.framing == AH_H1_FRAMING_LENGTH)
    FUZZ_CHECK(whole.out_len == cl || mode != 2);
  if (body.framing == AH_H1_FRAMING_CLOSE) {
    /* Every byte is body; only EOF ends it. */
    FUZZ_CHECK(whole.rc == AH_H1_BODY_DONE && whole.by_eof);
    FUZZ_CHECK(whole.out_len == len && memcmp(whole.out, msg, len) == 0);
  }

  decode(&body, msg, len, cuts, 3, limit, use_direct, &pieces);
  check_same(&whole, &pieces);
  free(pieces.out);
  if (len <= BYTEWISE_UP_TO) {
    size_t every[BYTEWISE_UP_TO];
    for (size_t i = 0; i < len; i++)
      every[i] = i + 1;
    decode(&body, msg, len, every, len, 1, use_direct, &pieces);
    check_same(&whole, &pieces);
    free(pieces.out);
  }
  free(whole.out);
  return 0;
}
