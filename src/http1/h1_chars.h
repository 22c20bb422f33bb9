/*
 * h1_chars.h - character classes and the error helper shared by the
 * codec's files (private to src/http1).
 */
#ifndef AH_HTTP1_H1_CHARS_H
#define AH_HTTP1_H1_CHARS_H

/* Sets *detail (when given) and returns `code`. */
static inline int ah__h1_fail(const char **detail, int code, const char *why) {
  if (detail)
    *detail = why;
  return code;
}

/* tchar of RFC 9110 section 5.6.2: the characters of a token. */
static inline int ah__h1_is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9'))
    return 1;
  /* A switch, not strchr: every header name walks this. */
  /* clang-format off */
  switch (c) {
  case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
  case '+': case '-': case '.': case '^': case '_': case '`': case '|':
  case '~':
    return 1;
  default:
    return 0;
  }
  /* clang-format on */
}

#endif
