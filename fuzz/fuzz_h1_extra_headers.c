/*
 * fuzz_h1_extra_headers.c - libFuzzer target for the caller's extra header
 * lines: ah__h1_validate_extra_headers and the request serializer
 * (ah__h1_request_size / ah__h1_write_request) in src/http1/h1_request.c,
 * plus ah__h1_is_token.
 *
 * Input: 9 control bytes, then the header text a caller might pass.
 *   byte 0      bits 0-1 method, bit 2 User-Agent, bit 3 Connection:
 *               close, bit 4 a body (Content-Length), bits 5-6 host
 *   bytes 1-8   the Content-Length (big-endian 64 bits)
 *
 * The validator's verdict is compared with a second, independent reading
 * of the rules in h1.h (CRLF-separated lines, no NUL, no bare CR or LF,
 * token name, colon right after it, no control characters in the value,
 * no leading whitespace). Text it accepts is serialized into a heap buffer
 * of exactly ah__h1_request_size bytes; the writer must write exactly that
 * many. The head must then be a clean HTTP/1.1 request: every CR is
 * followed by LF and every LF preceded by CR, no NUL, one empty line at
 * the end. Its field lines, read back by the response parser (with the
 * request line swapped for a status line), must be exactly Host,
 * User-Agent, the caller's non-empty lines in order with their values, then
 * Content-Length and Connection: nothing a caller passes can add, split or
 * hide a field.
 */
#include "fuzz_common.h"

#include "http1/h1.h"

#include <string.h>

#define CTL_BYTES 9
#define MAX_FIELDS 4096

static int is_tchar(unsigned char c) {
  static const char extra[] = "!#$%&'*+-.^_`|~";
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9'))
    return 1;
  for (size_t i = 0; i < sizeof extra - 1; i++)
    if (c == (unsigned char)extra[i])
      return 1;
  return 0;
}

static int is_value_byte(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* One line (without its CRLF) by the rules; empty lines are allowed. */
static int oracle_line(const uint8_t *s, size_t n) {
  size_t colon = 0;
  if (n == 0)
    return 1;
  while (colon < n && s[colon] != ':')
    colon++;
  if (colon == 0 || colon == n)
    return 0;
  for (size_t i = 0; i < colon; i++)
    if (!is_tchar(s[i]))
      return 0;
  for (size_t i = colon + 1; i < n; i++)
    if (!is_value_byte(s[i]))
      return 0;
  return 1;
}

/* 1 if the text is acceptable, reading it as CRLF-terminated lines. */
static int oracle_valid(const uint8_t *s, size_t len) {
  size_t line = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '\0')
      return 0;
    if (s[i] == '\n')
      return 0; /* an LF not consumed by a CRLF below */
    if (s[i] == '\r') {
      if (i + 1 >= len || s[i + 1] != '\n')
        return 0;
      if (!oracle_line(s + line, i - line))
        return 0;
      i++;
      line = i + 1;
    }
  }
  return oracle_line(s + line, len - line);
}

static int oracle_token(const char *s) {
  if (*s == '\0')
    return 0;
  for (; *s != '\0'; s++)
    if (!is_tchar((unsigned char)*s))
      return 0;
  return 1;
}

static int view_is(ah__h1_str v, const void *p, size_t n) {
  return v.len == n && (n == 0 || memcmp(v.ptr, p, n) == 0);
}

/* Trims SP/HTAB around a value, as the response parser does. */
static void trim(const uint8_t **p, size_t *n) {
  while (*n > 0 && (**p == ' ' || **p == '\t')) {
    (*p)++;
    (*n)--;
  }
  while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
    (*n)--;
}

/* Reads the serialized head back and checks every field. */
static void check_head(const ah__h1_request *req, const char *head, size_t size,
                       const uint8_t *extra, size_t extra_len) {
  static ah__h1_header fields[MAX_FIELDS];
  char line[64];
  size_t rl, k = 0, head_len = 0, pos = 0;
  char *as_resp;
  ah__h1_response resp;
  const char *why = NULL;
  int n = snprintf(line, sizeof line, "%s %s HTTP/1.1\r\n", req->method,
                   req->target);

  FUZZ_CHECK(n > 0 && (size_t)n < sizeof line);
  rl = (size_t)n;
  FUZZ_CHECK(size >= rl + 2 && memcmp(head, line, rl) == 0);
  FUZZ_CHECK(memcmp(head + size - 4, "\r\n\r\n", 4) == 0);
  for (size_t i = 0; i < size; i++) {
    FUZZ_CHECK(head[i] != '\0');
    if (head[i] == '\r')
      FUZZ_CHECK(i + 1 < size && head[i + 1] == '\n');
    if (head[i] == '\n')
      FUZZ_CHECK(i > 0 && head[i - 1] == '\r');
  }

  /* The field lines, behind a status line, through the response parser. */
  as_resp = malloc(size - rl + 17);
  FUZZ_CHECK(as_resp != NULL);
  memcpy(as_resp, "HTTP/1.1 200 OK\r\n", 17);
  memcpy(as_resp + 17, head + rl, size - rl);
  memset(&resp, 0, sizeof resp);
  resp.headers = fields;
  resp.num_headers = MAX_FIELDS;
  FUZZ_CHECK(ah__h1_parse_response(as_resp, size - rl + 17, (size_t)-1, &resp,
                                   &head_len, &why) == AH_H1_OK);
  FUZZ_CHECK(head_len == size - rl + 17);

  FUZZ_CHECK(k < resp.num_headers);
  FUZZ_CHECK(ah__h1_str_ieq(fields[k].name, "Host"));
  FUZZ_CHECK(view_is(fields[k].value, req->host, strlen(req->host)));
  k++;
  if (req->user_agent != NULL) {
    FUZZ_CHECK(k < resp.num_headers);
    FUZZ_CHECK(ah__h1_str_ieq(fields[k].name, "User-Agent"));
    FUZZ_CHECK(
        view_is(fields[k].value, req->user_agent, strlen(req->user_agent)));
    k++;
  }
  while (pos < extra_len) {
    const uint8_t *s = extra + pos, *colon, *v;
    const uint8_t *crlf = NULL;
    size_t n_line, vlen;
    for (size_t i = pos; i + 1 < extra_len; i++)
      if (extra[i] == '\r' && extra[i + 1] == '\n') {
        crlf = extra + i;
        break;
      }
    n_line = crlf != NULL ? (size_t)(crlf - s) : extra_len - pos;
    pos += n_line + (crlf != NULL ? 2 : 0);
    if (n_line == 0)
      continue;
    colon = memchr(s, ':', n_line);
    FUZZ_CHECK(colon != NULL);
    FUZZ_CHECK(k < resp.num_headers);
    FUZZ_CHECK(view_is(fields[k].name, s, (size_t)(colon - s)));
    v = colon + 1;
    vlen = n_line - (size_t)(colon - s) - 1;
    trim(&v, &vlen);
    FUZZ_CHECK(view_is(fields[k].value, v, vlen));
    k++;
  }
  if (req->has_body) {
    char digits[32];
    int dn = snprintf(digits, sizeof digits, "%llu",
                      (unsigned long long)req->content_length);
    FUZZ_CHECK(k < resp.num_headers);
    FUZZ_CHECK(ah__h1_str_ieq(fields[k].name, "Content-Length"));
    FUZZ_CHECK(dn > 0 && view_is(fields[k].value, digits, (size_t)dn));
    k++;
  }
  if (req->close) {
    FUZZ_CHECK(k < resp.num_headers);
    FUZZ_CHECK(ah__h1_str_ieq(fields[k].name, "Connection"));
    FUZZ_CHECK(view_is(fields[k].value, "close", 5));
    k++;
  }
  FUZZ_CHECK(k == resp.num_headers);
  free(as_resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const methods[] = {"GET", "POST", "PUT", "M-SEARCH"};
  static const char *const hosts[] = {"127.0.0.1:8080", "example.com",
                                      "[::1]:443", "h"};
  fuzz_ctl ctl = {data, size, 0};
  unsigned flags = fuzz_u8(&ctl);
  uint64_t cl = 0;
  const uint8_t *msg;
  size_t len, need, wrote;
  char *copy, *head, *z;
  const char *why = NULL;
  ah__h1_request req;
  int rc;

  for (int i = 0; i < 4; i++)
    cl = (cl << 16) | fuzz_u16(&ctl);
  fuzz_rest(data, size, CTL_BYTES, &msg, &len);

  /* A token check on the text up to its first NUL. */
  z = malloc(len + 1);
  FUZZ_CHECK(z != NULL);
  if (len > 0)
    memcpy(z, msg, len);
  z[len] = '\0';
  FUZZ_CHECK(ah__h1_is_token(z) == oracle_token(z));
  free(z);

  copy = malloc(len > 0 ? len : 1);
  FUZZ_CHECK(copy != NULL);
  if (len > 0)
    memcpy(copy, msg, len);
  rc = ah__h1_validate_extra_headers(copy, len, &why);
  FUZZ_CHECK(rc == AH_H1_OK || rc == AH_H1_E_SYNTAX);
  if (rc != AH_H1_OK)
    FUZZ_CHECK(why != NULL && why[0] != '\0');
  FUZZ_CHECK((rc == AH_H1_OK) == oracle_valid(msg, len));
  if (rc != AH_H1_OK) {
    free(copy);
    return 0;
  }

  memset(&req, 0, sizeof req);
  req.method = methods[flags & 3u];
  req.target = "/path?q=1";
  req.host = hosts[(flags >> 5) & 3u];
  req.user_agent = (flags & 4u) ? "ahttp-fuzz/1" : NULL;
  req.extra = len > 0 ? copy : NULL;
  req.extra_len = len;
  req.has_body = (flags & 16u) != 0;
  req.content_length = cl;
  req.close = (flags & 8u) != 0;
  need = ah__h1_request_size(&req);
  head = malloc(need);
  FUZZ_CHECK(head != NULL);
  wrote = ah__h1_write_request(&req, head);
  FUZZ_CHECK(wrote == need);
  check_head(&req, head, need, msg, len);
  free(head);
  free(copy);
  return 0;
}
