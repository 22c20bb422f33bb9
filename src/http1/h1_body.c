/*
 * h1_body.c - how a response body is delimited (RFC 9112 section 6) and
 * the incremental decoder that finds its data and its end (section 7.1
 * for the chunked coding).
 *
 * ah__h1_body_init reads only the parsed header views. The decoder keeps
 * all its state in ah__h1_body, so input may be split at any byte: each
 * byte of chunk framing moves the state machine one step, and data bytes
 * are handed back as spans of the caller's input without copying. A
 * verdict depends only on the bytes seen, never on how they were split.
 */
#include "h1.h"
#include "h1_chars.h"

#include <assert.h>
#include <string.h>

/* Decoder states (ah__h1_body.state). */
enum {
  ST_DONE = 0,      /* the body has ended (or there is none) */
  ST_DATA,          /* LENGTH, CLOSE, or inside a chunk's data */
  ST_SIZE_FIRST,    /* first hex digit of a chunk size */
  ST_SIZE,          /* further hex digits */
  ST_SIZE_WS,       /* BWS after the size, before ";" or the line end */
  ST_EXT,           /* chunk extensions, skipped up to the line end */
  ST_SIZE_LF,       /* CR seen at the end of the chunk-size line */
  ST_DATA_CR,       /* the CRLF that ends a chunk's data */
  ST_DATA_LF,       /* CR seen after chunk data */
  ST_TRAILER_START, /* first byte of a trailer line or of the empty line */
  ST_TRAILER_LINE,  /* inside a trailer field line */
  ST_TRAILER_LF,    /* CR seen inside a trailer field line */
  ST_END_LF         /* CR seen at the start of the final empty line */
};

/* Bytes of chunk extensions allowed on one chunk-size line. */
#define MAX_CHUNK_EXT 4096

/* Largest value a Content-Length or chunk size may have: 2^63-1. */
#define MAX_LENGTH ((uint64_t)INT64_MAX)

/* ---- framing decision ---------------------------------------------- */

/*
 * Iterates the elements of a comma-separated list (RFC 9110 section
 * 5.6.1), trimming OWS around each. Returns 0 after the last element.
 * Empty elements are returned too (callers decide what they mean).
 */
static int next_element(ah__h1_str *rest, ah__h1_str *elem) {
  const char *p, *end, *comma;

  if (rest->ptr == NULL)
    return 0;
  p = rest->ptr;
  end = p + rest->len;
  comma = memchr(p, ',', rest->len);
  if (comma == NULL) {
    comma = end;
    rest->ptr = NULL;
    rest->len = 0;
  } else {
    rest->len = (size_t)(end - comma - 1);
    rest->ptr = comma + 1;
  }
  while (p < comma && (*p == ' ' || *p == '\t'))
    p++;
  end = comma;
  while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  elem->ptr = p;
  elem->len = (size_t)(end - p);
  return 1;
}

/* A list view over a whole field value (NULL when empty: no elements). */
static ah__h1_str list_of(ah__h1_str value) {
  ah__h1_str all = value;
  if (all.len == 0)
    all.ptr = NULL;
  return all;
}

/* What the header fields say about framing and persistence. */
typedef struct fields_summary {
  int has_cl;
  uint64_t cl;
  int has_te;
  int te_codings;      /* number of transfer codings listed */
  int te_chunked;      /* how many of them are "chunked" */
  int te_last_chunked; /* the final coding is "chunked" */
  int conn_close;      /* Connection lists "close" */
  int conn_keep_alive; /* Connection lists "keep-alive" */
  int cl_rc;           /* first Content-Length error, or AH_H1_OK */
  const char *cl_why;  /* its detail */
} fields_summary;

/*
 * Content-Length = 1*DIGIT (RFC 9110 section 8.6). A list of identical
 * values, in one field or several, is taken as that value; anything else
 * is invalid framing (RFC 9112 section 6.3 rule 5).
 */
static int add_content_length(fields_summary *s, ah__h1_str value,
                              const char **why) {
  ah__h1_str rest = list_of(value), e;
  int any = 0;

  while (next_element(&rest, &e)) {
    uint64_t v = 0;
    size_t i;
    if (e.len == 0)
      return ah__h1_fail(why, AH_H1_E_FRAMING, "empty Content-Length value");
    for (i = 0; i < e.len; i++) {
      if (e.ptr[i] < '0' || e.ptr[i] > '9')
        return ah__h1_fail(why, AH_H1_E_FRAMING,
                           "Content-Length is not a decimal number");
    }
    for (i = 0; i < e.len; i++) {
      uint64_t d = (uint64_t)(e.ptr[i] - '0');
      if (v > (MAX_LENGTH - d) / 10)
        return ah__h1_fail(why, AH_H1_E_OVERFLOW,
                           "Content-Length is larger than 2^63-1");
      v = v * 10 + d;
    }
    if (s->has_cl && v != s->cl)
      return ah__h1_fail(why, AH_H1_E_FRAMING,
                         "differing Content-Length values");
    s->has_cl = 1;
    s->cl = v;
    any = 1;
  }
  if (!any)
    return ah__h1_fail(why, AH_H1_E_FRAMING, "empty Content-Length value");
  return AH_H1_OK;
}

/*
 * Transfer-Encoding = #transfer-coding, each coding a token with optional
 * ";" parameters (RFC 9112 section 6.1). Several fields form one list.
 */
static void add_transfer_encoding(fields_summary *s, ah__h1_str value) {
  ah__h1_str rest = list_of(value), e;

  s->has_te = 1;
  while (next_element(&rest, &e)) {
    const char *semi = memchr(e.ptr, ';', e.len);
    if (semi != NULL) {
      e.len = (size_t)(semi - e.ptr);
      while (e.len > 0 && (e.ptr[e.len - 1] == ' ' || e.ptr[e.len - 1] == '\t'))
        e.len--;
    }
    if (e.len == 0)
      continue; /* empty list element (RFC 9110 section 5.6.1) */
    s->te_codings++;
    s->te_last_chunked = AH__H1_STR_IS(e, "chunked");
    if (s->te_last_chunked)
      s->te_chunked++;
  }
}

/* Connection = #connection-option (RFC 9110 section 7.6.1). */
static void add_connection(fields_summary *s, ah__h1_str value) {
  ah__h1_str rest = list_of(value), e;

  while (next_element(&rest, &e)) {
    if (AH__H1_STR_IS(e, "close"))
      s->conn_close = 1;
    else if (AH__H1_STR_IS(e, "keep-alive"))
      s->conn_keep_alive = 1;
  }
}

/*
 * Reads every field once. A bad Content-Length is remembered (the first
 * one) rather than returned, since rule 1 below makes it irrelevant for
 * some responses, and the Connection fields after it still count.
 */
static void summarize(const ah__h1_response *resp, fields_summary *s) {
  size_t i;

  memset(s, 0, sizeof *s);
  for (i = 0; i < resp->num_headers; i++) {
    const ah__h1_header *h = &resp->headers[i];
    if (AH__H1_STR_IS(h->name, "content-length")) {
      const char *why = NULL;
      int rc = add_content_length(s, h->value, &why);
      if (rc != AH_H1_OK && s->cl_rc == AH_H1_OK) {
        s->cl_rc = rc;
        s->cl_why = why;
      }
      s->has_cl = 1;
    } else if (AH__H1_STR_IS(h->name, "transfer-encoding")) {
      add_transfer_encoding(s, h->value);
    } else if (AH__H1_STR_IS(h->name, "connection")) {
      add_connection(s, h->value);
    }
  }
}

/*
 * The rules, in the order of RFC 9112 section 6.3:
 *  1. A response to HEAD, and any 1xx, 204 or 304 response, has no body
 *     whatever its Content-Length or Transfer-Encoding say.
 *  2. A 2xx response to CONNECT has no body: the connection becomes a
 *     tunnel, so it carries no further HTTP request (keep_alive 0).
 *  3. Transfer-Encoding together with Content-Length is refused as a
 *     smuggling attempt (the RFC says "ought to be handled as an error").
 *  4. Transfer-Encoding whose final coding is chunked: chunked. Chunked
 *     listed twice (section 6.1: "MUST NOT apply chunked more than once")
 *     or not last is an error. Transfer-Encoding without chunked: read
 *     until close. Transfer-Encoding in an HTTP/1.0 response: framing
 *     decoded as given, but the connection is not reused (section 6.1).
 *  5. An invalid Content-Length (not digits, differing values, over
 *     2^63-1) is an error; 6. a valid one of 0 means no body, else LENGTH.
 *  8. Otherwise (rule 7 is for requests) the body runs until the server
 *     closes.
 * Persistence (section 9.3): "close" in Connection ends the connection;
 * otherwise HTTP/1.1 persists and HTTP/1.0 persists only with
 * "keep-alive". A close-delimited body always ends the connection.
 */
static int decide(ah__h1_body *body, const ah__h1_response *resp,
                  const fields_summary *s, const char *method, int *ka,
                  const char **detail) {
  int is_head = method != NULL && strcmp(method, "HEAD") == 0;
  int is_connect = method != NULL && strcmp(method, "CONNECT") == 0;

  if (is_head || (resp->status >= 100 && resp->status < 200) ||
      resp->status == 204 || resp->status == 304)
    return AH_H1_OK; /* rule 1: a bad Content-Length does not matter here */
  if (is_connect && resp->status >= 200 && resp->status < 300) {
    *ka = 0;
    return AH_H1_OK;
  }
  if (s->has_te && s->has_cl)
    return ah__h1_fail(detail, AH_H1_E_FRAMING,
                       "both Transfer-Encoding and Content-Length are present");
  if (s->has_te) {
    if (s->te_codings == 0)
      return ah__h1_fail(detail, AH_H1_E_FRAMING,
                         "Transfer-Encoding names no coding");
    if (s->te_chunked > 1)
      return ah__h1_fail(
          detail, AH_H1_E_FRAMING,
          "the chunked transfer coding is applied more than once");
    if (s->te_chunked == 1 && !s->te_last_chunked)
      return ah__h1_fail(detail, AH_H1_E_FRAMING,
                         "chunked is not the final transfer coding");
    if (resp->minor_version == 0)
      *ka = 0;
    body->framing =
        s->te_last_chunked ? AH_H1_FRAMING_CHUNKED : AH_H1_FRAMING_CLOSE;
    return AH_H1_OK;
  }
  if (s->cl_rc != AH_H1_OK)
    return ah__h1_fail(detail, s->cl_rc, s->cl_why);
  if (s->has_cl) {
    if (s->cl > 0) {
      body->framing = AH_H1_FRAMING_LENGTH;
      body->remaining = s->cl;
    }
    return AH_H1_OK;
  }
  body->framing = AH_H1_FRAMING_CLOSE;
  return AH_H1_OK;
}

int ah__h1_body_init(ah__h1_body *body, const ah__h1_response *resp,
                     const char *method, size_t max_trailer, int *keep_alive,
                     const char **detail) {
  fields_summary s;
  int ka, rc;

  memset(body, 0, sizeof *body);
  body->max_trailer = max_trailer;
  body->framing = AH_H1_FRAMING_NONE;

  summarize(resp, &s);
  if (s.conn_close)
    ka = 0;
  else if (resp->minor_version >= 1)
    ka = 1;
  else
    ka = s.conn_keep_alive;

  rc = decide(body, resp, &s, method, &ka, detail);
  if (rc != AH_H1_OK) {
    body->framing = AH_H1_FRAMING_NONE;
    body->remaining = 0;
    ka = 0;
  }
  switch (body->framing) {
  case AH_H1_FRAMING_NONE:
    body->state = ST_DONE;
    break;
  case AH_H1_FRAMING_CHUNKED:
    body->state = ST_SIZE_FIRST;
    break;
  case AH_H1_FRAMING_CLOSE:
    ka = 0;
    body->state = ST_DATA;
    break;
  case AH_H1_FRAMING_LENGTH:
    body->state = ST_DATA;
    break;
  }
  if (keep_alive != NULL)
    *keep_alive = ka;
  return rc;
}

/* ---- decoding ------------------------------------------------------ */

static int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* The chunk-size line has ended: data follows, or the trailer section. */
static void size_line_done(ah__h1_body *b) {
  b->state = b->remaining > 0 ? ST_DATA : ST_TRAILER_START;
  b->scratch = 0;
}

/* Counts one trailer byte against the caller's limit. */
static int trailer_byte(ah__h1_body *b, const char **detail) {
  if (++b->trailer_bytes > b->max_trailer)
    return ah__h1_fail(detail, AH_H1_E_TOO_LARGE,
                       "the trailer section is larger than the limit");
  return AH_H1_OK;
}

/*
 * One byte of chunked framing (RFC 9112 section 7.1):
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-ext    = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
 * Extensions are skipped unread (section 7.1.1) but bounded. Trailer
 * fields are skipped too (section 7.1.2: a recipient may discard them),
 * checked only for NUL and bare CR and bounded by max_trailer. Bare LF is
 * accepted wherever CRLF is expected (section 2.2). Returns AH_H1_OK to go
 * on, AH_H1_BODY_DONE after the final LF, or an error.
 */
static int chunk_byte(ah__h1_body *b, unsigned char ch, const char **detail) {
  int h;

  switch (b->state) {
  case ST_SIZE_FIRST:
    h = hex_value(ch);
    if (h < 0)
      return ah__h1_fail(detail, AH_H1_E_SYNTAX,
                         "a chunk size is missing or not hexadecimal");
    b->scratch = (uint64_t)h;
    b->state = ST_SIZE;
    return AH_H1_OK;
  case ST_SIZE:
    h = hex_value(ch);
    if (h >= 0) {
      /* scratch <= (2^63-1) >> 4 keeps scratch * 16 + 15 <= 2^63-1. */
      if (b->scratch > (MAX_LENGTH >> 4))
        return ah__h1_fail(detail, AH_H1_E_OVERFLOW,
                           "a chunk size is larger than 2^63-1");
      b->scratch = b->scratch * 16 + (uint64_t)h;
      return AH_H1_OK;
    }
    b->remaining = b->scratch;
    b->scratch = 0; /* from here: bytes of chunk extensions */
    b->state = ST_SIZE_WS;
    return chunk_byte(b, ch, detail);
  case ST_SIZE_WS:
    if (ch == ' ' || ch == '\t' || ch == ';') {
      if (++b->scratch > MAX_CHUNK_EXT)
        return ah__h1_fail(detail, AH_H1_E_TOO_LARGE,
                           "chunk extensions are longer than 4096 bytes");
      if (ch == ';')
        b->state = ST_EXT;
      return AH_H1_OK;
    }
    if (ch == '\r') {
      b->state = ST_SIZE_LF;
      return AH_H1_OK;
    }
    if (ch == '\n') {
      size_line_done(b);
      return AH_H1_OK;
    }
    return ah__h1_fail(detail, AH_H1_E_SYNTAX,
                       "invalid character after a chunk size");
  case ST_EXT:
    if (ch == '\r') {
      b->state = ST_SIZE_LF;
      return AH_H1_OK;
    }
    if (ch == '\n') {
      size_line_done(b);
      return AH_H1_OK;
    }
    if (ch != '\t' && (ch < 0x20 || ch == 0x7f))
      return ah__h1_fail(detail, AH_H1_E_SYNTAX,
                         "control character in a chunk extension");
    if (++b->scratch > MAX_CHUNK_EXT)
      return ah__h1_fail(detail, AH_H1_E_TOO_LARGE,
                         "chunk extensions are longer than 4096 bytes");
    return AH_H1_OK;
  case ST_SIZE_LF:
    if (ch != '\n')
      return ah__h1_fail(detail, AH_H1_E_SYNTAX,
                         "bare CR (not followed by LF) in a chunk-size line");
    size_line_done(b);
    return AH_H1_OK;
  case ST_DATA_CR:
    if (ch == '\r') {
      b->state = ST_DATA_LF;
      return AH_H1_OK;
    }
    if (ch == '\n') {
      b->state = ST_SIZE_FIRST;
      return AH_H1_OK;
    }
    return ah__h1_fail(detail, AH_H1_E_SYNTAX,
                       "chunk data is not followed by CRLF");
  case ST_DATA_LF:
    if (ch != '\n')
      return ah__h1_fail(detail, AH_H1_E_SYNTAX,
                         "chunk data is not followed by CRLF");
    b->state = ST_SIZE_FIRST;
    return AH_H1_OK;
  case ST_TRAILER_START:
    if (ch == '\r') {
      b->state = ST_END_LF;
      return AH_H1_OK;
    }
    if (ch == '\n') {
      b->state = ST_DONE;
      return AH_H1_BODY_DONE;
    }
    b->state = ST_TRAILER_LINE;
    return chunk_byte(b, ch, detail);
  case ST_TRAILER_LINE:
    if (ch == '\0')
      return ah__h1_fail(detail, AH_H1_E_SYNTAX,
                         "NUL byte in the trailer section");
    if (ch == '\r')
      b->state = ST_TRAILER_LF;
    else if (ch == '\n')
      b->state = ST_TRAILER_START;
    return trailer_byte(b, detail);
  case ST_TRAILER_LF:
    if (ch != '\n')
      return ah__h1_fail(detail, AH_H1_E_SYNTAX,
                         "bare CR (not followed by LF) in the trailer section");
    b->state = ST_TRAILER_START;
    return trailer_byte(b, detail);
  case ST_END_LF:
    if (ch != '\n')
      return ah__h1_fail(detail, AH_H1_E_SYNTAX,
                         "bare CR (not followed by LF) in the trailer section");
    b->state = ST_DONE;
    return AH_H1_BODY_DONE;
  default:
    assert(0 && "chunk_byte called outside chunk framing");
    return ah__h1_fail(detail, AH_H1_E_SYNTAX, "internal decoder state error");
  }
}

int ah__h1_body_next(ah__h1_body *body, const char *in, size_t len,
                     size_t *consumed, const char **data, size_t *data_len,
                     const char **detail) {
  size_t pos = 0;
  int rc;

  *consumed = 0;
  while (body->state != ST_DONE) {
    if (body->state == ST_DATA) {
      uint64_t n = len - pos;
      if (body->framing != AH_H1_FRAMING_CLOSE && n > body->remaining)
        n = body->remaining;
      if (n == 0)
        break; /* out of input */
      *data = in + pos;
      *data_len = (size_t)n;
      *consumed = pos + (size_t)n;
      if (body->framing != AH_H1_FRAMING_CLOSE) {
        body->remaining -= n;
        if (body->remaining == 0)
          body->state =
              body->framing == AH_H1_FRAMING_CHUNKED ? ST_DATA_CR : ST_DONE;
      }
      return AH_H1_BODY_DATA;
    }
    if (pos == len)
      break;
    rc = chunk_byte(body, (unsigned char)in[pos], detail);
    if (rc < 0) {
      *consumed = pos;
      return rc;
    }
    pos++;
    if (rc == AH_H1_BODY_DONE)
      break;
  }
  *consumed = pos;
  return body->state == ST_DONE ? AH_H1_BODY_DONE : AH_H1_NEED_MORE;
}

int ah__h1_body_eof(ah__h1_body *body, const char **detail) {
  if (body->framing == AH_H1_FRAMING_CLOSE)
    body->state = ST_DONE;
  else if (body->framing == AH_H1_FRAMING_LENGTH && body->remaining == 0)
    body->state = ST_DONE;
  if (body->state == ST_DONE)
    return AH_H1_BODY_DONE;
  return ah__h1_fail(detail, AH_H1_E_SYNTAX,
                     "connection closed before the end of the body");
}

uint64_t ah__h1_body_direct(const ah__h1_body *body) {
  if (body->state != ST_DATA)
    return 0;
  if (body->framing == AH_H1_FRAMING_CLOSE)
    return UINT64_MAX;
  return body->remaining;
}

void ah__h1_body_skip(ah__h1_body *body, uint64_t n) {
  assert(n <= ah__h1_body_direct(body));
  if (body->state != ST_DATA || body->framing == AH_H1_FRAMING_CLOSE)
    return;
  if (n > body->remaining)
    n = body->remaining;
  body->remaining -= n;
  if (body->remaining == 0)
    body->state = body->framing == AH_H1_FRAMING_CHUNKED ? ST_DATA_CR : ST_DONE;
}
