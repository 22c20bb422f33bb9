/*
 * h1_request.c - serialization of a request head (RFC 9112 section 3) and
 * validation of the header lines a caller adds to it.
 *
 * The head is written in one fixed order: request line, Host (RFC 9110
 * section 7.2 wants it first among the fields, RFC 9112 section 3.2),
 * User-Agent, the engine's own optional fields (Proxy-Authorization,
 * Authorization, Accept-Encoding, Cookie), the caller's lines,
 * Content-Length, Expect, Connection: close, and the empty line.
 * ah__h1_request_size and ah__h1_write_request walk the same pieces, so the
 * size is exact by construction. Nothing here checks method, target or host:
 * the request layer hands in values it built or validated, and
 * ah__h1_validate_extra_headers is for the caller's lines.
 */
#include "h1.h"
#include "h1_chars.h"

#include <string.h>

int ah__h1_is_token(const char *s) {
  if (s == NULL || *s == '\0')
    return 0;
  for (; *s != '\0'; s++) {
    if (!ah__h1_is_tchar((unsigned char)*s))
      return 0;
  }
  return 1;
}

/*
 * The next non-empty line of the caller's extra header text, without its
 * line end. Lines end at LF with an optional CR before it, so that a
 * trailing CRLF is not doubled and empty lines vanish.
 */
static int next_extra_line(const ah__h1_request *req, size_t *pos,
                           ah__h1_str *line) {
  while (req->extra != NULL && *pos < req->extra_len) {
    const char *start = req->extra + *pos;
    size_t left = req->extra_len - *pos;
    const char *lf = memchr(start, '\n', left);
    size_t n = lf != NULL ? (size_t)(lf - start) : left;

    *pos += lf != NULL ? n + 1 : n;
    if (n > 0 && start[n - 1] == '\r')
      n--;
    if (n > 0) {
      line->ptr = start;
      line->len = n;
      return 1;
    }
  }
  return 0;
}

/* Decimal digits of v into buf (at least 20 bytes); returns the count. */
static size_t u64_digits(uint64_t v, char *buf) {
  char tmp[20];
  size_t n = 0, i;

  do {
    tmp[n++] = (char)('0' + (int)(v % 10));
    v /= 10;
  } while (v != 0);
  for (i = 0; i < n; i++)
    buf[i] = tmp[n - 1 - i];
  return n;
}

/*
 * Appends n bytes when `out` is non-NULL; counts them either way. One
 * routine for both the size and the write keeps the two in step.
 */
typedef struct sink {
  char *out;
  size_t n;
} sink;

static void put(sink *k, const char *s, size_t n) {
  if (k->out != NULL && n > 0)
    memcpy(k->out + k->n, s, n);
  k->n += n;
}

static void puts_z(sink *k, const char *s) { put(k, s, strlen(s)); }

/* "Name: value" CRLF, for an optional field (NULL value: none). */
static void put_field(sink *k, const char *name_colon, const char *value) {
  if (value != NULL) {
    puts_z(k, name_colon);
    puts_z(k, value);
    put(k, "\r\n", 2);
  }
}

static void emit(const ah__h1_request *req, sink *k) {
  ah__h1_str line;
  size_t pos = 0;

  /* request-line = method SP request-target SP HTTP-version CRLF (3). */
  puts_z(k, req->method);
  put(k, " ", 1);
  puts_z(k, req->target);
  put(k, " HTTP/1.1\r\nHost: ", 17);
  puts_z(k, req->host);
  put(k, "\r\n", 2);
  if (req->user_agent != NULL) {
    put(k, "User-Agent: ", 12);
    puts_z(k, req->user_agent);
    put(k, "\r\n", 2);
  }
  put_field(k, "Proxy-Authorization: ", req->proxy_authorization);
  put_field(k, "Authorization: ", req->authorization);
  put_field(k, "Accept-Encoding: ", req->accept_encoding);
  put_field(k, "Cookie: ", req->cookie);
  while (next_extra_line(req, &pos, &line)) {
    put(k, line.ptr, line.len);
    put(k, "\r\n", 2);
  }
  if (req->has_body) {
    char digits[20];
    put(k, "Content-Length: ", 16);
    put(k, digits, u64_digits(req->content_length, digits));
    put(k, "\r\n", 2);
  }
  if (req->expect_continue)
    put(k, "Expect: 100-continue\r\n", 22);
  if (req->close)
    put(k, "Connection: close\r\n", 19);
  put(k, "\r\n", 2);
}

size_t ah__h1_request_size(const ah__h1_request *req) {
  sink k = {NULL, 0};
  emit(req, &k);
  return k.n;
}

size_t ah__h1_write_request(const ah__h1_request *req, char *out) {
  sink k;
  k.out = out;
  k.n = 0;
  emit(req, &k);
  return k.n;
}

/*
 * One caller-given line: field-name ":" OWS field-value OWS (RFC 9112
 * section 5) with a token name, the colon right after it (section 5.1),
 * and a value of VCHAR, SP, HTAB and obs-text only (RFC 9110 section
 * 5.5). A leading SP or HTAB would be obs-fold (section 5.2), which a
 * sender must not generate.
 */
static int check_line(const unsigned char *s, size_t n, const char **detail) {
  size_t i = 0;

  if (s[0] == ' ' || s[0] == '\t')
    return ah__h1_fail(detail, AH_H1_E_SYNTAX,
                       "a header line starts with whitespace (obsolete line "
                       "folding)");
  while (i < n && ah__h1_is_tchar(s[i]))
    i++;
  if (i == n)
    return ah__h1_fail(detail, AH_H1_E_SYNTAX, "header line without a colon");
  if (s[i] != ':') {
    if (s[i] == ' ' || s[i] == '\t')
      return ah__h1_fail(
          detail, AH_H1_E_SYNTAX,
          "whitespace between a header field name and the colon");
    return ah__h1_fail(detail, AH_H1_E_SYNTAX,
                       "invalid character in a header field name");
  }
  if (i == 0)
    return ah__h1_fail(detail, AH_H1_E_SYNTAX, "empty header field name");
  for (i++; i < n; i++) {
    if (s[i] != '\t' && (s[i] < 0x20 || s[i] == 0x7f))
      return ah__h1_fail(detail, AH_H1_E_SYNTAX,
                         "control character in a header field value");
  }
  return AH_H1_OK;
}

int ah__h1_validate_extra_headers(const char *lines, size_t len,
                                  const char **detail) {
  const unsigned char *s = (const unsigned char *)lines;
  size_t pos = 0;
  int rc;

  while (pos < len) {
    size_t start = pos, i = pos;

    /* Line ends are CRLF only: a lone CR or LF could split the head. */
    while (i < len && s[i] != '\r' && s[i] != '\n') {
      if (s[i] == '\0')
        return ah__h1_fail(detail, AH_H1_E_SYNTAX, "NUL byte in a header line");
      i++;
    }
    if (i < len && s[i] == '\n')
      return ah__h1_fail(detail, AH_H1_E_SYNTAX,
                         "bare LF in header lines (lines must end with CRLF)");
    if (i < len && (i + 1 == len || s[i + 1] != '\n'))
      return ah__h1_fail(detail, AH_H1_E_SYNTAX,
                         "bare CR (not followed by LF) in header lines");
    pos = i < len ? i + 2 : len;
    if (i == start)
      continue; /* an empty line is skipped, as the writer does */
    rc = check_line(s + start, i - start, detail);
    if (rc != AH_H1_OK)
      return rc;
  }
  return AH_H1_OK;
}
