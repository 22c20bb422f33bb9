/*
 * h1_response.c - parsing of an HTTP/1.1 response head: the status line,
 * the header section and the empty line that ends it (RFC 9112 sections
 * 2 to 5), plus the view helpers the rest of the codec shares.
 *
 * The parser is pure: each call walks the caller's bytes from the start,
 * writes only into the caller's header array and hands back views into
 * the caller's buffer. Every byte it walks over is checked, so a malformed
 * head is refused as soon as the offending byte has arrived, not when the
 * whole head is in. A verdict on a prefix is never contradicted by a
 * longer buffer: NEED_MORE on a prefix may become anything, an error stays
 * the same error. One call costs one pass over at most max_head bytes.
 */
#include "h1.h"
#include "h1_chars.h"

#include <stdint.h>
#include <string.h>

/* Internal result: the walk ran out of bytes before the head ended. */
#define NEED AH_H1_NEED_MORE

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/*
 * Field values and the reason phrase allow HTAB, SP, VCHAR and obs-text
 * (RFC 9110 section 5.5, RFC 9112 section 4); every other control
 * character, DEL included, is refused.
 */
static int is_text(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Whether all 8 bytes at p are text other than HTAB: none below 0x20 and
 * none 0x7f (the exact "has a byte less than n" and "has a zero byte"
 * word tests). A line is walked a word at a time up to the first word
 * that fails, which holds its end (or a TAB, or a bad byte); from there
 * byte by byte, as most lines are short. */
static int plain_text_word(const unsigned char *p) {
  const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
  uint64_t x, del;
  memcpy(&x, p, sizeof x);
  del = x ^ (ones * 0x7f);
  return ((((x - ones * 0x20) & ~x) | ((del - ones) & ~del)) & highs) == 0;
}

/* The bytes being parsed: the caller's buffer cut to max_head. */
typedef struct cursor {
  const unsigned char *p;
  size_t end;
  size_t pos;
  const char **detail;
} cursor;

/*
 * Walks the rest of a line (a reason phrase or a field value) up to and
 * over its line end, checking each byte; *text_end is where the text stops
 * (before CR LF or LF). RFC 9112 section 2.2: a bare LF is accepted as a
 * line terminator, a bare CR (one not followed by LF) makes the message
 * invalid.
 */
static int rest_of_line(cursor *c, size_t *text_end, const char *ctl_why) {
  size_t i;

  i = c->pos;
  while (c->end - i >= 8 && plain_text_word(c->p + i))
    i += 8;
  for (; i < c->end; i++) {
    unsigned char ch = c->p[i];
    if (is_text(ch))
      continue;
    if (ch == '\n') {
      *text_end = i;
      c->pos = i + 1;
      return AH_H1_OK;
    }
    if (ch == '\r') {
      if (i + 1 >= c->end)
        return NEED;
      if (c->p[i + 1] != '\n')
        return ah__h1_fail(c->detail, AH_H1_E_SYNTAX,
                           "bare CR (not followed by LF) in the response head");
      *text_end = i;
      c->pos = i + 2;
      return AH_H1_OK;
    }
    if (ch == '\0')
      return ah__h1_fail(c->detail, AH_H1_E_SYNTAX,
                         "NUL byte in the response head");
    return ah__h1_fail(c->detail, AH_H1_E_SYNTAX, ctl_why);
  }
  return NEED;
}

/*
 * Matches `lit` at the cursor byte by byte, so that a prefix of it asks
 * for more and a wrong byte fails at once.
 */
static int expect_literal(cursor *c, const char *lit, const char *why) {
  size_t i, n = strlen(lit);

  for (i = 0; i < n; i++) {
    if (c->pos + i >= c->end)
      return NEED;
    if (c->p[c->pos + i] != (unsigned char)lit[i])
      return ah__h1_fail(c->detail, AH_H1_E_SYNTAX, why);
  }
  c->pos += n;
  return AH_H1_OK;
}

/*
 * status-line = HTTP-version SP status-code SP [ reason-phrase ]
 * (RFC 9112 section 4), HTTP-version = "HTTP/1." DIGIT for us (section
 * 2.3; the major version must be 1). We also take "HTTP/1.1 200" with the
 * second SP missing, as most clients do.
 */
static int parse_status_line(cursor *c, ah__h1_response *out) {
  const unsigned char *p = c->p;
  size_t i, text_end;
  int rc, status = 0;

  rc = expect_literal(c, "HTTP/1.",
                      "the response does not start with an HTTP/1.x status "
                      "line");
  if (rc != AH_H1_OK)
    return rc;
  if (c->pos >= c->end)
    return NEED;
  if (!is_digit(p[c->pos]))
    return ah__h1_fail(c->detail, AH_H1_E_SYNTAX,
                       "the HTTP version is not HTTP/1.<digit>");
  out->minor_version = p[c->pos] - '0';
  c->pos++;
  if (c->pos >= c->end)
    return NEED;
  if (p[c->pos] != ' ')
    return ah__h1_fail(c->detail, AH_H1_E_SYNTAX,
                       is_digit(p[c->pos])
                           ? "the HTTP version has more than one minor digit"
                           : "the HTTP version is not followed by a space");
  c->pos++;

  /* status-code = 3DIGIT (RFC 9112 section 4, RFC 9110 section 15). */
  for (i = 0; i < 3; i++) {
    if (c->pos >= c->end)
      return NEED;
    if (!is_digit(p[c->pos]))
      return ah__h1_fail(c->detail, AH_H1_E_SYNTAX,
                         "the status code is not three digits");
    status = status * 10 + (p[c->pos] - '0');
    c->pos++;
  }
  if (status < 100)
    return ah__h1_fail(c->detail, AH_H1_E_SYNTAX,
                       "the status code is below 100");
  out->status = status;

  if (c->pos >= c->end)
    return NEED;
  switch (p[c->pos]) {
  case ' ':
    c->pos++;
    break;
  case '\r':
  case '\n':
    break; /* no reason phrase and no SP before it */
  default:
    return ah__h1_fail(c->detail, AH_H1_E_SYNTAX,
                       is_digit(p[c->pos])
                           ? "the status code is longer than three digits"
                           : "the status code is not followed by a space");
  }
  out->reason.ptr = (const char *)p + c->pos;
  rc = rest_of_line(c, &text_end, "control character in the reason phrase");
  if (rc != AH_H1_OK)
    return rc;
  out->reason.len = text_end - (size_t)(out->reason.ptr - (const char *)p);
  return AH_H1_OK;
}

/*
 * field-line = field-name ":" OWS field-value OWS (RFC 9112 section 5).
 * The cursor is at the first byte of the line, known not to start the
 * empty line or whitespace.
 */
static int parse_field_line(cursor *c, ah__h1_header *h) {
  const unsigned char *p = c->p;
  size_t start = c->pos, text_end, vstart;
  unsigned char ch;
  int rc;

  while (c->pos < c->end && ah__h1_is_tchar(p[c->pos]))
    c->pos++;
  if (c->pos >= c->end)
    return NEED;
  ch = p[c->pos];
  if (ch != ':' || c->pos == start) {
    const char *why = "invalid character in a header field name";
    if (ch == ':')
      why = "empty header field name";
    else if (ch == ' ' || ch == '\t')
      /* RFC 9112 section 5.1: no whitespace between name and colon. */
      why = "whitespace between a header field name and the colon";
    else if (ch == '\r' || ch == '\n')
      why = "header line without a colon";
    else if (ch == '\0')
      why = "NUL byte in the response head";
    return ah__h1_fail(c->detail, AH_H1_E_SYNTAX, why);
  }
  h->name.ptr = (const char *)p + start;
  h->name.len = c->pos - start;
  c->pos++;

  /* Leading OWS is not part of the value (RFC 9112 section 5). */
  while (c->pos < c->end && (p[c->pos] == ' ' || p[c->pos] == '\t'))
    c->pos++;
  vstart = c->pos;
  rc = rest_of_line(c, &text_end, "control character in a header field value");
  if (rc != AH_H1_OK)
    return rc;
  while (text_end > vstart &&
         (p[text_end - 1] == ' ' || p[text_end - 1] == '\t'))
    text_end--;
  h->value.ptr = (const char *)p + vstart;
  h->value.len = text_end - vstart;
  return AH_H1_OK;
}

/* Walks the header section up to and over the empty line. */
static int parse_fields(cursor *c, ah__h1_header *headers, size_t cap,
                        size_t *count) {
  const unsigned char *p = c->p;
  size_t n = 0;
  int rc;

  for (;;) {
    if (c->pos >= c->end)
      return NEED;
    switch (p[c->pos]) {
    case '\n': /* the empty line, bare LF form (RFC 9112 section 2.2) */
      c->pos++;
      *count = n;
      return AH_H1_OK;
    case '\r':
      if (c->pos + 1 >= c->end)
        return NEED;
      if (p[c->pos + 1] != '\n')
        return ah__h1_fail(c->detail, AH_H1_E_SYNTAX,
                           "bare CR (not followed by LF) in the response head");
      c->pos += 2;
      *count = n;
      return AH_H1_OK;
    case ' ':
    case '\t':
      /*
       * RFC 9112 section 2.2 lets a recipient reject whitespace between
       * the start line and the first field; section 5.2 obs-fold is
       * something a user agent could unfold, but a folded line is also a
       * classic response-splitting vector, and we refuse it.
       */
      return ah__h1_fail(c->detail, AH_H1_E_SYNTAX,
                         n == 0
                             ? "whitespace between the status line and the "
                               "first header field"
                             : "obsolete line folding (a header line starting "
                               "with whitespace)");
    default:
      break;
    }
    if (n == cap)
      return ah__h1_fail(c->detail, AH_H1_E_TOO_MANY,
                         "more header fields than the parser has room for");
    rc = parse_field_line(c, &headers[n]);
    if (rc != AH_H1_OK)
      return rc;
    n++;
  }
}

int ah__h1_parse_response(const char *buf, size_t len, size_t max_head,
                          ah__h1_response *out, size_t *head_len,
                          const char **detail) {
  cursor c;
  ah__h1_response r;
  size_t count = 0;
  int rc;

  c.p = (const unsigned char *)buf;
  c.end = len < max_head ? len : max_head;
  c.pos = 0;
  c.detail = detail;

  /*
   * Parse into a copy so that on NEED_MORE the caller's num_headers still
   * holds the capacity for the next call.
   */
  r = *out;
  rc = parse_status_line(&c, &r);
  if (rc == AH_H1_OK)
    rc = parse_fields(&c, out->headers, out->num_headers, &count);
  if (rc == NEED) {
    if (len >= max_head)
      return ah__h1_fail(detail, AH_H1_E_TOO_LARGE,
                         "the response head is larger than the limit");
    return AH_H1_NEED_MORE;
  }
  if (rc != AH_H1_OK)
    return rc;
  r.num_headers = count;
  *out = r;
  *head_len = c.pos;
  return AH_H1_OK;
}

int ah__h1_str_ieq(ah__h1_str s, const char *name) {
  size_t i;

  for (i = 0; i < s.len; i++) {
    unsigned char a = (unsigned char)s.ptr[i], b = (unsigned char)name[i];
    if (b == '\0')
      return 0;
    if (a >= 'A' && a <= 'Z')
      a = (unsigned char)(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z')
      b = (unsigned char)(b - 'A' + 'a');
    if (a != b)
      return 0;
  }
  return name[s.len] == '\0';
}
