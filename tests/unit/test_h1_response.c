/*
 * test_h1_response.c - the response head parser (src/http1/h1_response.c).
 *
 * Table-driven: each fixture is raw bytes plus the expected outcome. Every
 * fixture is parsed on every prefix of its bytes, in a heap buffer of
 * exactly that size (so a sanitizer catches any read past `len`), reusing
 * one output struct the way a caller reading a socket does. The whole
 * input must give the expected result; shorter prefixes must give
 * NEED_MORE, or the expected error once the offending byte is in, and
 * never anything else.
 */
#include "test_main.h"

#include "http1/h1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAW(s) s, sizeof(s) - 1
#define MAX_FIELDS 16

enum group {
  G_STATUS,
  G_FIELDS,
  G_BARE_LF,
  G_BAD_STATUS,
  G_BARE_CR,
  G_NUL,
  G_OBS_FOLD,
  G_SPACE_COLON,
  G_BAD_NAME,
  G_CTL,
  G_TOO_MANY,
  G_TOO_LARGE
};

typedef struct resp_case {
  const char *name;
  enum group group;
  const char *raw;
  size_t raw_len;
  size_t max_head; /* 0: 8192 */
  size_t cap;      /* 0: MAX_FIELDS; use CAP(n) for a real n */
  int rc;
  size_t head_len; /* for AH_H1_OK; 0: raw_len */
  int minor;
  int status;
  const char *reason;
  const char *fields[MAX_FIELDS][2];
  const char *why; /* for errors: a substring of *detail */
  size_t err_at;   /* for errors, when nonzero: the shortest prefix that
                      gives the error (checks early rejection) */
} resp_case;

/* A capacity of n, distinguishable from "default" even for n = 0. */
#define CAP(n) ((n) + 1000)

/* Fixture tables keep several fields to a line. */
/* clang-format off */
static const resp_case cases[] = {
    /* ---- status lines that parse ---- */
    {.name = "ok_with_reason", .group = G_STATUS,
     .raw = RAW("HTTP/1.1 200 OK\r\n\r\n"), .rc = AH_H1_OK, .minor = 1,
     .status = 200, .reason = "OK"},
    {.name = "http10_multiword_reason", .group = G_STATUS,
     .raw = RAW("HTTP/1.0 404 Not Found\r\n\r\n"), .rc = AH_H1_OK, .minor = 0,
     .status = 404, .reason = "Not Found"},
    {.name = "empty_reason_after_space", .group = G_STATUS,
     .raw = RAW("HTTP/1.1 200 \r\n\r\n"), .rc = AH_H1_OK, .minor = 1,
     .status = 200, .reason = ""},
    {.name = "no_space_no_reason", .group = G_STATUS,
     .raw = RAW("HTTP/1.1 204\r\n\r\n"), .rc = AH_H1_OK, .minor = 1,
     .status = 204, .reason = ""},
    {.name = "no_space_no_reason_bare_lf", .group = G_STATUS,
     .raw = RAW("HTTP/1.1 204\n\n"), .rc = AH_H1_OK, .minor = 1, .status = 204,
     .reason = ""},
    {.name = "status_999", .group = G_STATUS,
     .raw = RAW("HTTP/1.1 999 Whatever\r\n\r\n"), .rc = AH_H1_OK, .minor = 1,
     .status = 999, .reason = "Whatever"},
    {.name = "status_100", .group = G_STATUS,
     .raw = RAW("HTTP/1.1 100 Continue\r\n\r\n"), .rc = AH_H1_OK, .minor = 1,
     .status = 100, .reason = "Continue"},
    {.name = "minor_version_9", .group = G_STATUS,
     .raw = RAW("HTTP/1.9 200 OK\r\n\r\n"), .rc = AH_H1_OK, .minor = 9,
     .status = 200, .reason = "OK"},
    {.name = "reason_with_htab_obs_text", .group = G_STATUS,
     .raw = RAW("HTTP/1.1 200 Tr\xe8s\tbien \r\n\r\n"), .rc = AH_H1_OK,
     .minor = 1, .status = 200, .reason = "Tr\xe8s\tbien "},
    {.name = "head_followed_by_body", .group = G_STATUS,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
     .rc = AH_H1_OK, .head_len = 38, .minor = 1, .status = 200, .reason = "OK",
     .fields = {{"Content-Length", "3"}}},
    {.name = "head_followed_by_next_head", .group = G_STATUS,
     .raw = RAW("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"),
     .rc = AH_H1_OK, .head_len = 25, .minor = 1, .status = 100,
     .reason = "Continue"},

    /* ---- header fields ---- */
    {.name = "fields_trimmed_and_in_order", .group = G_FIELDS,
     .raw = RAW("HTTP/1.1 200 OK\r\n"
                "Content-Type: text/html; charset=utf-8\r\n"
                "X-Pad:   padded value \t \r\n"
                "X-Empty:\r\n"
                "X-Blank:  \t \r\n"
                "Location: http://example.com:8080/a?b=c\r\n"
                "set-cookie: a=1\r\n"
                "Set-Cookie: b=2\r\n"
                "X-Obs: caf\xc3\xa9\r\n"
                "\r\n"),
     .rc = AH_H1_OK, .minor = 1, .status = 200, .reason = "OK",
     .fields = {{"Content-Type", "text/html; charset=utf-8"},
                {"X-Pad", "padded value"},
                {"X-Empty", ""},
                {"X-Blank", ""},
                {"Location", "http://example.com:8080/a?b=c"},
                {"set-cookie", "a=1"},
                {"Set-Cookie", "b=2"},
                {"X-Obs", "caf\xc3\xa9"}}},
    {.name = "every_tchar_in_name", .group = G_FIELDS,
     .raw = RAW("HTTP/1.1 200 OK\r\n"
                "!#$%&'*+-.^_`|~09azAZ:v\r\n\r\n"),
     .rc = AH_H1_OK, .minor = 1, .status = 200, .reason = "OK",
     .fields = {{"!#$%&'*+-.^_`|~09azAZ", "v"}}},
    {.name = "value_with_inner_htab_and_colons", .group = G_FIELDS,
     .raw = RAW("HTTP/1.1 200 OK\r\nX-A:\ta\tb: c:\r\n\r\n"), .rc = AH_H1_OK,
     .minor = 1, .status = 200, .reason = "OK",
     .fields = {{"X-A", "a\tb: c:"}}},

    /* ---- bare LF line ends (RFC 9112 section 2.2) ---- */
    {.name = "all_bare_lf", .group = G_BARE_LF,
     .raw = RAW("HTTP/1.1 200 OK\nServer: x\nContent-Length: 0\n\n"),
     .rc = AH_H1_OK, .minor = 1, .status = 200, .reason = "OK",
     .fields = {{"Server", "x"}, {"Content-Length", "0"}}},
    {.name = "mixed_crlf_and_lf", .group = G_BARE_LF,
     .raw = RAW("HTTP/1.1 200 OK\r\nA: b\n\r\n"), .rc = AH_H1_OK, .minor = 1,
     .status = 200, .reason = "OK", .fields = {{"A", "b"}}},
    {.name = "crlf_fields_lf_end", .group = G_BARE_LF,
     .raw = RAW("HTTP/1.1 200 OK\nA: b\r\n\nbody"), .rc = AH_H1_OK,
     .head_len = 23, .minor = 1, .status = 200, .reason = "OK",
     .fields = {{"A", "b"}}},

    /* ---- status lines that do not ---- */
    {.name = "http09_style_reply", .group = G_BAD_STATUS,
     .raw = RAW("<html><body>hi</body></html>\n\n"), .rc = AH_H1_E_SYNTAX,
     .why = "does not start with an HTTP/1.x status line", .err_at = 1},
    {.name = "lowercase_http", .group = G_BAD_STATUS,
     .raw = RAW("http/1.1 200 OK\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "does not start with an HTTP/1.x"},
    {.name = "icy_reply", .group = G_BAD_STATUS,
     .raw = RAW("ICY 200 OK\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "does not start with an HTTP/1.x"},
    {.name = "leading_space", .group = G_BAD_STATUS,
     .raw = RAW(" HTTP/1.1 200 OK\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "does not start with an HTTP/1.x"},
    {.name = "leading_empty_line", .group = G_BAD_STATUS,
     .raw = RAW("\r\nHTTP/1.1 200 OK\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "does not start with an HTTP/1.x"},
    {.name = "http2_version", .group = G_BAD_STATUS,
     .raw = RAW("HTTP/2.0 200 OK\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "does not start with an HTTP/1.x", .err_at = 6},
    {.name = "no_minor_version", .group = G_BAD_STATUS,
     .raw = RAW("HTTP/1 200 OK\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "does not start with an HTTP/1.x"},
    {.name = "letter_minor_version", .group = G_BAD_STATUS,
     .raw = RAW("HTTP/1.x 200 OK\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "not HTTP/1.<digit>"},
    {.name = "two_digit_minor", .group = G_BAD_STATUS,
     .raw = RAW("HTTP/1.10 200 OK\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "more than one minor digit"},
    {.name = "hundred_digit_version", .group = G_BAD_STATUS,
     .raw = RAW("HTTP/1.1000000000000000000000000000000000000000000000000"
                "00000000000000000000000000000000000000000000000000 200 "
                "OK\r\n\r\n"),
     .rc = AH_H1_E_SYNTAX, .why = "more than one minor digit"},
    {.name = "two_digit_status", .group = G_BAD_STATUS,
     .raw = RAW("HTTP/1.1 20 OK\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "not three digits", .err_at = 12},
    {.name = "four_digit_status", .group = G_BAD_STATUS,
     .raw = RAW("HTTP/1.1 2000 OK\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "longer than three digits", .err_at = 13},
    {.name = "status_below_100", .group = G_BAD_STATUS,
     .raw = RAW("HTTP/1.1 099 Low\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "below 100"},
    {.name = "letter_in_status", .group = G_BAD_STATUS,
     .raw = RAW("HTTP/1.1 2x0 OK\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "not three digits"},
    {.name = "two_spaces_before_status", .group = G_BAD_STATUS,
     .raw = RAW("HTTP/1.1  200 OK\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "not three digits"},
    {.name = "no_space_after_status", .group = G_BAD_STATUS,
     .raw = RAW("HTTP/1.1 200OK\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "not followed by a space"},
    {.name = "tab_after_version", .group = G_BAD_STATUS,
     .raw = RAW("HTTP/1.1\t200 OK\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "not followed by a space"},
    {.name = "control_char_in_reason", .group = G_BAD_STATUS,
     .raw = RAW("HTTP/1.1 200 O\x01K\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "control character in the reason phrase"},
    {.name = "empty_status_line", .group = G_BAD_STATUS, .raw = RAW("\n\n"),
     .rc = AH_H1_E_SYNTAX, .why = "does not start with an HTTP/1.x"},

    /* ---- bare CR (RFC 9112 section 2.2) ---- */
    {.name = "bare_cr_ends_status_line", .group = G_BARE_CR,
     .raw = RAW("HTTP/1.1 200 OK\rA: b\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "bare CR"},
    {.name = "bare_cr_in_value", .group = G_BARE_CR,
     .raw = RAW("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "bare CR", .err_at = 23},
    {.name = "cr_cr_lf_after_value", .group = G_BARE_CR,
     .raw = RAW("HTTP/1.1 200 OK\r\nA: b\r\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "bare CR"},
    {.name = "bare_cr_as_empty_line", .group = G_BARE_CR,
     .raw = RAW("HTTP/1.1 200 OK\r\nA: b\r\n\r\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "bare CR"},
    {.name = "bare_cr_line_ends_only", .group = G_BARE_CR,
     .raw = RAW("HTTP/1.1 200 OK\rA: b\r\r"), .rc = AH_H1_E_SYNTAX,
     .why = "bare CR"},
    {.name = "bare_cr_in_reason", .group = G_BARE_CR,
     .raw = RAW("HTTP/1.1 200 O\rK\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "bare CR"},

    /* ---- NUL ---- */
    {.name = "nul_in_value", .group = G_NUL,
     .raw = RAW("HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "NUL", .err_at = 22},
    {.name = "nul_in_name", .group = G_NUL,
     .raw = RAW("HTTP/1.1 200 OK\r\nA\0B: c\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "NUL"},
    {.name = "nul_in_reason", .group = G_NUL,
     .raw = RAW("HTTP/1.1 200 O\0K\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "NUL"},
    {.name = "nul_before_colon_value", .group = G_NUL,
     .raw = RAW("HTTP/1.1 200 OK\r\nA:\0\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "NUL"},

    /* ---- obs-fold (RFC 9112 section 5.2) ---- */
    {.name = "space_folded_line", .group = G_OBS_FOLD,
     .raw = RAW("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "obsolete line folding"},
    {.name = "tab_folded_line", .group = G_OBS_FOLD,
     .raw = RAW("HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "obsolete line folding", .err_at = 24},
    {.name = "whitespace_after_status_line", .group = G_OBS_FOLD,
     .raw = RAW("HTTP/1.1 200 OK\r\n A: b\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "whitespace between the status line and the first"},

    /* ---- whitespace before the colon (RFC 9112 section 5.1) ---- */
    {.name = "space_before_colon", .group = G_SPACE_COLON,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello"),
     .rc = AH_H1_E_SYNTAX, .why = "whitespace between a header field name",
     .err_at = 32},
    {.name = "tab_before_colon", .group = G_SPACE_COLON,
     .raw = RAW("HTTP/1.1 200 OK\r\nA\t: b\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "whitespace between a header field name"},

    /* ---- field names ---- */
    {.name = "empty_name", .group = G_BAD_NAME,
     .raw = RAW("HTTP/1.1 200 OK\r\n: b\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "empty header field name"},
    {.name = "no_colon", .group = G_BAD_NAME,
     .raw = RAW("HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "without a colon"},
    {.name = "no_colon_bare_lf", .group = G_BAD_NAME,
     .raw = RAW("HTTP/1.1 200 OK\nNoColonHere\n\n"), .rc = AH_H1_E_SYNTAX,
     .why = "without a colon"},
    {.name = "cr_in_name", .group = G_BAD_NAME,
     .raw = RAW("HTTP/1.1 200 OK\r\nA\r: b\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "without a colon"},
    {.name = "separator_in_name", .group = G_BAD_NAME,
     .raw = RAW("HTTP/1.1 200 OK\r\nA(b): c\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "invalid character in a header field name"},
    {.name = "slash_in_name", .group = G_BAD_NAME,
     .raw = RAW("HTTP/1.1 200 OK\r\nA/b: c\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "invalid character in a header field name"},
    {.name = "non_ascii_name", .group = G_BAD_NAME,
     .raw = RAW("HTTP/1.1 200 OK\r\n\xc3\x84: c\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "invalid character in a header field name"},
    {.name = "request_line_as_field", .group = G_BAD_NAME,
     .raw = RAW("HTTP/1.1 200 OK\r\nGET / HTTP/1.1\r\n\r\n"),
     .rc = AH_H1_E_SYNTAX, .why = "whitespace between a header field name"},

    /* ---- control characters in values ---- */
    {.name = "soh_in_value", .group = G_CTL,
     .raw = RAW("HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "control character in a header field value"},
    {.name = "del_in_value", .group = G_CTL,
     .raw = RAW("HTTP/1.1 200 OK\r\nA: \x7f\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "control character in a header field value"},
    {.name = "esc_in_value", .group = G_CTL,
     .raw = RAW("HTTP/1.1 200 OK\r\nA: \x1b[31m\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "control character in a header field value"},
    {.name = "vt_in_value", .group = G_CTL,
     .raw = RAW("HTTP/1.1 200 OK\r\nA: b\x0b c\r\n\r\n"), .rc = AH_H1_E_SYNTAX,
     .why = "control character in a header field value"},

    /* ---- header count against the caller's array ---- */
    {.name = "three_fields_room_for_two", .group = G_TOO_MANY,
     .raw = RAW("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"),
     .cap = CAP(2), .rc = AH_H1_E_TOO_MANY, .why = "more header fields",
     .err_at = 30},
    {.name = "two_fields_room_for_two", .group = G_TOO_MANY,
     .raw = RAW("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n"), .cap = CAP(2),
     .rc = AH_H1_OK, .minor = 1, .status = 200, .reason = "OK",
     .fields = {{"A", "1"}, {"B", "2"}}},
    {.name = "one_field_room_for_none", .group = G_TOO_MANY,
     .raw = RAW("HTTP/1.1 200 OK\r\nA: 1\r\n\r\n"), .cap = CAP(0),
     .rc = AH_H1_E_TOO_MANY, .why = "more header fields"},
    {.name = "no_field_room_for_none", .group = G_TOO_MANY,
     .raw = RAW("HTTP/1.1 304 Not Modified\r\n\r\n"), .cap = CAP(0),
     .rc = AH_H1_OK, .minor = 1, .status = 304, .reason = "Not Modified"},

    /* ---- head size against max_head ---- */
    {.name = "head_exactly_max_head", .group = G_TOO_LARGE,
     .raw = RAW("HTTP/1.1 200 OK\r\n\r\nbody bytes beyond the limit"),
     .max_head = 19, .rc = AH_H1_OK, .head_len = 19, .minor = 1, .status = 200,
     .reason = "OK"},
    {.name = "head_one_over_max_head", .group = G_TOO_LARGE,
     .raw = RAW("HTTP/1.1 200 OK\r\n\r\n"), .max_head = 18,
     .rc = AH_H1_E_TOO_LARGE, .why = "larger than the limit", .err_at = 18},
    {.name = "long_field_over_max_head", .group = G_TOO_LARGE,
     .raw = RAW("HTTP/1.1 200 OK\r\nServer: a very long server name "
                "that goes on and on\r\n\r\n"),
     .max_head = 40, .rc = AH_H1_E_TOO_LARGE, .why = "larger than the limit",
     .err_at = 40},
    {.name = "endless_fields_never_terminated", .group = G_TOO_LARGE,
     .raw = RAW("HTTP/1.1 200 OK\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\n"
                "A: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\n"),
     .max_head = 64, .rc = AH_H1_E_TOO_LARGE, .why = "larger than the limit",
     .err_at = 64},
    {.name = "status_line_over_max_head", .group = G_TOO_LARGE,
     .raw = RAW("HTTP/1.1 200 OK\r\n"), .max_head = 4, .rc = AH_H1_E_TOO_LARGE,
     .why = "larger than the limit", .err_at = 4},
};
/* clang-format on */

#define CHECK(tc, k, cond)                                                     \
  do {                                                                         \
    if (!(cond)) {                                                             \
      print_error("fixture %s, prefix of %zu bytes: %s\n", (tc)->name,         \
                  (size_t)(k), #cond);                                         \
      fail();                                                                  \
    }                                                                          \
  } while (0)

static int view_is(ah__h1_str s, const char *want) {
  return s.len == strlen(want) &&
         (s.len == 0 || memcmp(s.ptr, want, s.len) == 0);
}

static void check_parsed(const resp_case *tc, size_t k, const char *buf,
                         const ah__h1_response *out, size_t head_len) {
  size_t want_head = tc->head_len ? tc->head_len : tc->raw_len;
  size_t i, nfields = 0;

  while (nfields < MAX_FIELDS && tc->fields[nfields][0] != NULL)
    nfields++;
  CHECK(tc, k, head_len == want_head);
  CHECK(tc, k, out->minor_version == tc->minor);
  CHECK(tc, k, out->status == tc->status);
  CHECK(tc, k, view_is(out->reason, tc->reason));
  CHECK(tc, k, out->reason.ptr >= buf && out->reason.ptr <= buf + head_len);
  CHECK(tc, k, out->num_headers == nfields);
  for (i = 0; i < nfields && i < out->num_headers; i++) {
    CHECK(tc, k, view_is(out->headers[i].name, tc->fields[i][0]));
    CHECK(tc, k, view_is(out->headers[i].value, tc->fields[i][1]));
    CHECK(tc, k,
          out->headers[i].name.ptr >= buf &&
              out->headers[i].name.ptr < buf + head_len);
  }
}

/* Parses every prefix of the fixture, the whole input last. */
static void run_case(const resp_case *tc) {
  size_t max_head = tc->max_head ? tc->max_head : 8192;
  size_t cap = tc->cap >= 1000 ? tc->cap - 1000 : MAX_FIELDS;
  size_t want_head = tc->head_len ? tc->head_len : tc->raw_len;
  ah__h1_header fields[MAX_FIELDS];
  ah__h1_response out;
  int seen_error = 0;
  size_t k;

  memset(&out, 0, sizeof out);
  out.headers = fields;
  out.num_headers = cap;
  for (k = 0; k <= tc->raw_len; k++) {
    char *buf = malloc(k > 0 ? k : 1);
    const char *detail = NULL;
    size_t head_len = 0;
    int rc;

    assert_non_null(buf);
    memcpy(buf, tc->raw, k);
    rc = ah__h1_parse_response(buf, k, max_head, &out, &head_len, &detail);
    if (tc->rc == AH_H1_OK) {
      if (k < want_head) {
        CHECK(tc, k, rc == AH_H1_NEED_MORE);
        CHECK(tc, k, out.num_headers == cap);
      } else {
        CHECK(tc, k, rc == AH_H1_OK);
        check_parsed(tc, k, buf, &out, head_len);
        out.num_headers = cap;
      }
    } else {
      if (seen_error || k == tc->raw_len)
        CHECK(tc, k, rc == tc->rc);
      else
        CHECK(tc, k, rc == AH_H1_NEED_MORE || rc == tc->rc);
      if (tc->err_at != 0 && k == tc->err_at - 1)
        CHECK(tc, k, rc == AH_H1_NEED_MORE);
      if (tc->err_at != 0 && k == tc->err_at)
        CHECK(tc, k, rc == tc->rc);
      if (rc == tc->rc) {
        seen_error = 1;
        CHECK(tc, k, detail != NULL && strstr(detail, tc->why) != NULL);
      }
      if (rc == AH_H1_NEED_MORE)
        CHECK(tc, k, out.num_headers == cap);
    }
    free(buf);
  }
}

static void run_group(enum group g) {
  size_t i, n = 0;

  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (cases[i].group == g) {
      run_case(&cases[i]);
      n++;
    }
  }
  assert_true(n > 0);
}

static void parses_status_lines(void **state) {
  (void)state;
  run_group(G_STATUS);
}

static void parses_and_trims_header_fields(void **state) {
  (void)state;
  run_group(G_FIELDS);
}

static void accepts_bare_lf_line_ends(void **state) {
  (void)state;
  run_group(G_BARE_LF);
}

static void rejects_bad_status_lines(void **state) {
  (void)state;
  run_group(G_BAD_STATUS);
}

static void rejects_bare_cr(void **state) {
  (void)state;
  run_group(G_BARE_CR);
}

static void rejects_nul_in_head(void **state) {
  (void)state;
  run_group(G_NUL);
}

static void rejects_obs_fold(void **state) {
  (void)state;
  run_group(G_OBS_FOLD);
}

static void rejects_space_before_colon(void **state) {
  (void)state;
  run_group(G_SPACE_COLON);
}

static void rejects_bad_field_names(void **state) {
  (void)state;
  run_group(G_BAD_NAME);
}

static void rejects_control_chars_in_values(void **state) {
  (void)state;
  run_group(G_CTL);
}

static void rejects_too_many_headers(void **state) {
  (void)state;
  run_group(G_TOO_MANY);
}

static void rejects_oversized_head(void **state) {
  (void)state;
  run_group(G_TOO_LARGE);
}

/*
 * A 1xx head, another 1xx and the final response arrive in one read: the
 * caller parses a head, frames it (no body for 1xx), and parses the next
 * head where the previous one ended.
 */
static void informational_then_final_in_one_buffer(void **state) {
  static const char raw[] = "HTTP/1.1 100 Continue\r\n\r\n"
                            "HTTP/1.1 103 Early Hints\r\n"
                            "Link: </style.css>; rel=preload\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
                            "hi";
  static const int want_status[] = {100, 103, 200};
  ah__h1_header fields[4];
  ah__h1_response out;
  ah__h1_body body;
  size_t off = 0, head_len, consumed, data_len;
  const char *data, *detail = NULL;
  int i, ka;

  (void)state;
  for (i = 0; i < 3; i++) {
    memset(&out, 0, sizeof out);
    out.headers = fields;
    out.num_headers = 4;
    assert_int_equal(ah__h1_parse_response(raw + off, sizeof raw - 1 - off,
                                           8192, &out, &head_len, &detail),
                     AH_H1_OK);
    assert_int_equal(out.status, want_status[i]);
    off += head_len;
    assert_int_equal(ah__h1_body_init(&body, &out, "GET", 1024, &ka, &detail),
                     AH_H1_OK);
    if (i < 2) {
      assert_int_equal(body.framing, AH_H1_FRAMING_NONE);
      assert_int_equal(ah__h1_body_next(&body, raw + off, sizeof raw - 1 - off,
                                        &consumed, &data, &data_len, &detail),
                       AH_H1_BODY_DONE);
      assert_int_equal(consumed, 0);
    }
  }
  assert_int_equal(out.num_headers, 1);
  assert_int_equal(body.framing, AH_H1_FRAMING_LENGTH);
  assert_int_equal(ah__h1_body_next(&body, raw + off, sizeof raw - 1 - off,
                                    &consumed, &data, &data_len, &detail),
                   AH_H1_BODY_DATA);
  assert_int_equal(data_len, 2);
  assert_memory_equal(data, "hi", 2);
  assert_int_equal(off + consumed, sizeof raw - 1);
}

/* The caller's capacity survives NEED_MORE, so *out can be reused. */
static void need_more_keeps_header_capacity(void **state) {
  static const char raw[] = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n";
  ah__h1_header fields[3];
  ah__h1_response out;
  size_t head_len = 12345;
  const char *detail = NULL;

  (void)state;
  memset(&out, 0, sizeof out);
  out.headers = fields;
  out.num_headers = 3;
  assert_int_equal(ah__h1_parse_response(raw, sizeof raw - 1, 8192, &out,
                                         &head_len, &detail),
                   AH_H1_NEED_MORE);
  assert_int_equal(out.num_headers, 3);
  assert_int_equal(head_len, 12345);
  assert_null(detail);
}

static void str_ieq_ignores_ascii_case_only(void **state) {
  ah__h1_str s = {"Content-LENGTH", 14};
  ah__h1_str shorter = {"Content", 7};
  ah__h1_str empty = {"", 0};
  ah__h1_str nonascii = {"\xc3\x84", 2};

  (void)state;
  assert_true(ah__h1_str_ieq(s, "content-length"));
  assert_true(ah__h1_str_ieq(s, "CONTENT-length"));
  assert_false(ah__h1_str_ieq(s, "content-lengthx"));
  assert_false(ah__h1_str_ieq(s, "content-lengt"));
  assert_false(ah__h1_str_ieq(shorter, "content-length"));
  assert_true(ah__h1_str_ieq(empty, ""));
  assert_false(ah__h1_str_ieq(empty, "a"));
  assert_true(ah__h1_str_ieq(nonascii, "\xc3\x84"));
  assert_false(ah__h1_str_ieq(nonascii, "\xe3\xa4"));
}

/* Parses "HTTP/1.1 200 OK\r\nX: <value>\r\n\r\n" from a heap buffer of
 * exactly its size; returns the parser's result, the detail and (when
 * parsed) the value's length, having checked its bytes. */
static int parse_with_value(const char *value, size_t len, size_t *got_len,
                            const char **detail) {
  static const char start[] = "HTTP/1.1 200 OK\r\nX: ", end[] = "\r\n\r\n";
  size_t n = sizeof start - 1 + len + sizeof end - 1, head_len = 0;
  char *buf = malloc(n);
  ah__h1_header fields[2];
  ah__h1_response out;
  int rc;

  assert_non_null(buf);
  memcpy(buf, start, sizeof start - 1);
  memcpy(buf + sizeof start - 1, value, len);
  memcpy(buf + sizeof start - 1 + len, end, sizeof end - 1);
  memset(&out, 0, sizeof out);
  out.headers = fields;
  out.num_headers = 2;
  *detail = NULL;
  rc = ah__h1_parse_response(buf, n, 8192, &out, &head_len, detail);
  if (rc == AH_H1_OK) {
    assert_int_equal(head_len, n);
    assert_int_equal(out.num_headers, 1);
    assert_int_equal(out.headers[0].value.len, len);
    /* the view points into buf: compare before it goes */
    assert_memory_equal(out.headers[0].value.ptr, value, len);
    *got_len = out.headers[0].value.len;
  }
  free(buf);
  return rc;
}

/* Values are checked 8 bytes at a time: one odd byte at every offset of a
 * long value (so at every place in a word, and in the bytes after the last
 * whole word) must be judged exactly as a byte-by-byte walk would. */
static void checks_every_byte_of_long_values(void **state) {
  static const unsigned char refused[] = {0x01, 0x08, 0x0b, 0x1f, 0x7f};
  static const unsigned char allowed[] = {'\t', ' ', '~', 0x80, 0xfe, 0xff};
  char value[43];
  size_t got = 0;
  const char *detail;
  size_t at, k;

  (void)state;
  for (at = 1; at + 1 < sizeof value; at++) { /* not first or last: those
                                                 would be trimmed as OWS */
    for (k = 0; k < sizeof refused; k++) {
      memset(value, 'v', sizeof value);
      value[at] = (char)refused[k];
      assert_int_equal(parse_with_value(value, sizeof value, &got, &detail),
                       AH_H1_E_SYNTAX);
      assert_non_null(detail);
      assert_non_null(strstr(detail, "control character in a header field"));
    }
    memset(value, 'v', sizeof value);
    value[at] = '\0';
    assert_int_equal(parse_with_value(value, sizeof value, &got, &detail),
                     AH_H1_E_SYNTAX);
    assert_non_null(strstr(detail, "NUL byte"));
    for (k = 0; k < sizeof allowed; k++) {
      memset(value, 'v', sizeof value);
      value[at] = (char)allowed[k];
      assert_int_equal(parse_with_value(value, sizeof value, &got, &detail),
                       AH_H1_OK);
      assert_int_equal(got, sizeof value);
    }
  }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(parses_status_lines),
    cmocka_unit_test(parses_and_trims_header_fields),
    cmocka_unit_test(accepts_bare_lf_line_ends),
    cmocka_unit_test(rejects_bad_status_lines),
    cmocka_unit_test(rejects_bare_cr),
    cmocka_unit_test(rejects_nul_in_head),
    cmocka_unit_test(rejects_obs_fold),
    cmocka_unit_test(rejects_space_before_colon),
    cmocka_unit_test(rejects_bad_field_names),
    cmocka_unit_test(rejects_control_chars_in_values),
    cmocka_unit_test(checks_every_byte_of_long_values),
    cmocka_unit_test(rejects_too_many_headers),
    cmocka_unit_test(rejects_oversized_head),
    cmocka_unit_test(informational_then_final_in_one_buffer),
    cmocka_unit_test(need_more_keeps_header_capacity),
    cmocka_unit_test(str_ieq_ignores_ascii_case_only),
};

AH_TEST_MAIN(tests)
