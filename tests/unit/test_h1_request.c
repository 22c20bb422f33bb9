/*
 * test_h1_request.c - the request serializer and the validation of
 * caller-given header lines (src/http1/h1_request.c).
 *
 * Serializer fixtures give a request and the exact bytes expected; each is
 * written into a heap buffer of exactly ah__h1_request_size bytes (so a
 * sanitizer catches any write past it) and into a larger buffer whose
 * tail must stay untouched. Validation fixtures give raw header text and
 * the verdict.
 */
#include "test_main.h"

#include "http1/h1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR(s) s, sizeof(s) - 1

typedef struct write_case {
  const char *name;
  ah__h1_request req;
  const char *want;
} write_case;

static const write_case writes[] = {
    {"minimal_get",
     {"GET", "/", "example.com", NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL, NULL,
      0},
     "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"},
    {"user_agent_after_host",
     {"GET", "/index.html?q=1", "example.com:8080", "async/0.1", NULL, 0, 0, 0,
      0, NULL, NULL, NULL, NULL, 0},
     "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n"
     "User-Agent: async/0.1\r\n\r\n"},
    {"post_with_body_and_close",
     {"POST", "/upload", "h", "ua", STR("Content-Type: text/plain\r\n"), 1,
      1234, 1, NULL, NULL, NULL, NULL, 0},
     "POST /upload HTTP/1.1\r\nHost: h\r\nUser-Agent: ua\r\n"
     "Content-Type: text/plain\r\nContent-Length: 1234\r\n"
     "Connection: close\r\n\r\n"},
    {"content_length_zero",
     {"PUT", "/x", "h", NULL, NULL, 0, 1, 0, 0, NULL, NULL, NULL, NULL, 0},
     "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"},
    {"content_length_max",
     {"PUT", "/x", "h", NULL, NULL, 0, 1, UINT64_MAX, 0, NULL, NULL, NULL, NULL,
      0},
     "PUT /x HTTP/1.1\r\nHost: h\r\n"
     "Content-Length: 18446744073709551615\r\n\r\n"},
    {"close_without_body",
     {"GET", "/", "h", NULL, NULL, 0, 0, 99, 1, NULL, NULL, NULL, NULL, 0},
     "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"},
    {"absolute_form_target",
     {"GET", "http://example.com/a", "example.com", NULL, NULL, 0, 0, 0, 0,
      NULL, NULL, NULL, NULL, 0},
     "GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\n\r\n"},
    {"extra_without_final_crlf",
     {"GET", "/", "h", NULL, STR("A: 1\r\nB: 2"), 0, 0, 0, NULL, NULL, NULL,
      NULL, 0},
     "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n"},
    {"extra_final_crlf_not_doubled",
     {"GET", "/", "h", NULL, STR("A: 1\r\nB: 2\r\n"), 0, 0, 0, NULL, NULL, NULL,
      NULL, 0},
     "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n"},
    {"extra_empty_lines_skipped",
     {"GET", "/", "h", NULL, STR("\r\nA: 1\r\n\r\n\r\nB: 2\r\n\r\n"), 0, 0, 0,
      NULL, NULL, NULL, NULL, 0},
     "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n"},
    {"extra_only_empty_lines",
     {"GET", "/", "h", NULL, STR("\r\n\r\n"), 0, 0, 0, NULL, NULL, NULL, NULL,
      0},
     "GET / HTTP/1.1\r\nHost: h\r\n\r\n"},
    {"extra_empty_length",
     {"GET", "/", "h", NULL, "ignored", 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0},
     "GET / HTTP/1.1\r\nHost: h\r\n\r\n"},
    {"proxy_authorization_after_user_agent",
     {"GET", "http://h:81/x", "h:81", "ua", STR("X-A: a\r\n"), 0, 0, 0,
      "Basic dTpw", NULL, NULL, NULL, 0},
     "GET http://h:81/x HTTP/1.1\r\nHost: h:81\r\nUser-Agent: ua\r\n"
     "Proxy-Authorization: Basic dTpw\r\nX-A: a\r\n\r\n"},
    {"everything_in_order",
     {"OPTIONS", "*", "[::1]:8443", "agent", STR("X-A: a\r\nX-B: b\r\n"), 1, 5,
      1, NULL, NULL, NULL, NULL, 0},
     "OPTIONS * HTTP/1.1\r\nHost: [::1]:8443\r\nUser-Agent: agent\r\n"
     "X-A: a\r\nX-B: b\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"},
    {"engine_fields_before_caller_lines",
     {"POST", "/p", "h", "ua", STR("X-A: a\r\n"), 1, 7, 1, "Basic cDpx",
      "Basic dTpw", "gzip, deflate", "a=1; b=2", 1},
     "POST /p HTTP/1.1\r\nHost: h\r\nUser-Agent: ua\r\n"
     "Proxy-Authorization: Basic cDpx\r\nAuthorization: Basic dTpw\r\n"
     "Accept-Encoding: gzip, deflate\r\nCookie: a=1; b=2\r\nX-A: a\r\n"
     "Content-Length: 7\r\nExpect: 100-continue\r\nConnection: close\r\n"
     "\r\n"},
};

static void check_write(const write_case *tc) {
  size_t want_len = strlen(tc->want);
  size_t size = ah__h1_request_size(&tc->req);
  char *exact, *roomy;
  size_t n, i;

  if (size != want_len) {
    print_error("fixture %s: size %zu, expected %zu\n", tc->name, size,
                want_len);
    fail();
  }
  exact = malloc(size);
  assert_non_null(exact);
  n = ah__h1_write_request(&tc->req, exact);
  assert_int_equal(n, size);
  if (memcmp(exact, tc->want, want_len) != 0) {
    print_error("fixture %s: wrote \"%.*s\"\n", tc->name, (int)n, exact);
    fail();
  }
  free(exact);

  roomy = malloc(size + 64);
  assert_non_null(roomy);
  memset(roomy, 0x5a, size + 64);
  assert_int_equal(ah__h1_write_request(&tc->req, roomy), size);
  for (i = size; i < size + 64; i++)
    assert_int_equal((unsigned char)roomy[i], 0x5a);
  free(roomy);
}

static void writes_request_heads_byte_exact(void **state) {
  size_t i;

  (void)state;
  for (i = 0; i < sizeof writes / sizeof writes[0]; i++)
    check_write(&writes[i]);
}

/* What the writer emits for extra lines is what the validator accepted. */
static void validated_extra_lines_round_trip(void **state) {
  static const char extra[] = "X-A: 1\r\n\r\nX-B:\tb c \r\n";
  ah__h1_request req;
  memset(&req, 0, sizeof req);
  req.method = "GET";
  req.target = "/";
  req.host = "h";
  req.extra = extra;
  req.extra_len = sizeof extra - 1;
  static const char want[] =
      "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nX-B:\tb c \r\n\r\n";
  char buf[128];
  const char *detail = NULL;

  (void)state;
  assert_int_equal(
      ah__h1_validate_extra_headers(extra, sizeof extra - 1, &detail),
      AH_H1_OK);
  assert_int_equal(ah__h1_request_size(&req), sizeof want - 1);
  assert_int_equal(ah__h1_write_request(&req, buf), sizeof want - 1);
  assert_memory_equal(buf, want, sizeof want - 1);
}

typedef struct valid_case {
  const char *name;
  const char *lines;
  size_t len;
  int rc;
  const char *why;
} valid_case;

static const valid_case valids[] = {
    {"one_line", STR("X-A: 1"), AH_H1_OK, NULL},
    {"two_lines_crlf_end", STR("X-A: 1\r\nX-B: 2\r\n"), AH_H1_OK, NULL},
    {"trailing_empty_line", STR("X-A: 1\r\n\r\n"), AH_H1_OK, NULL},
    {"nothing", STR(""), AH_H1_OK, NULL},
    {"empty_value", STR("X-Empty:"), AH_H1_OK, NULL},
    {"tabs_in_value", STR("X-Tab:\tv\tw\t"), AH_H1_OK, NULL},
    {"obs_text_in_value", STR("X-Name: Jos\xc3\xa9"), AH_H1_OK, NULL},
    {"every_tchar_name", STR("!#$%&'*+-.^_`|~09azAZ: v"), AH_H1_OK, NULL},
    {"empty_line_cannot_end_head", STR("X-A: 1\r\n\r\nX-B: 2"), AH_H1_OK, NULL},
    {"bare_lf_separator", STR("X-A: 1\nX-B: 2"), AH_H1_E_SYNTAX, "bare LF"},
    {"lf_injection_in_value", STR("X-A: 1\nHost: evil"), AH_H1_E_SYNTAX,
     "bare LF"},
    {"bare_cr_separator", STR("X-A: 1\rX-B: 2"), AH_H1_E_SYNTAX, "bare CR"},
    {"cr_at_end", STR("X-A: 1\r"), AH_H1_E_SYNTAX, "bare CR"},
    {"cr_cr_lf", STR("X-A: 1\r\r\n"), AH_H1_E_SYNTAX, "bare CR"},
    {"nul_in_value", STR("X-A: a\0b"), AH_H1_E_SYNTAX, "NUL"},
    {"nul_in_name", STR("X\0A: b"), AH_H1_E_SYNTAX, "NUL"},
    {"empty_name", STR(": value"), AH_H1_E_SYNTAX, "empty header field name"},
    {"empty_name_second_line", STR("X-A: 1\r\n: v"), AH_H1_E_SYNTAX,
     "empty header field name"},
    {"obs_fold_space", STR("X-A: 1\r\n continued"), AH_H1_E_SYNTAX,
     "obsolete line folding"},
    {"obs_fold_tab", STR("\tX-A: 1"), AH_H1_E_SYNTAX, "obsolete line folding"},
    {"space_before_colon", STR("X-A : 1"), AH_H1_E_SYNTAX,
     "whitespace between a header field name and the colon"},
    {"space_in_name", STR("X A: 1"), AH_H1_E_SYNTAX,
     "whitespace between a header field name and the colon"},
    {"no_colon", STR("X-A"), AH_H1_E_SYNTAX, "without a colon"},
    {"request_line_injection", STR("X-A: 1\r\nGET /x HTTP/1.1"), AH_H1_E_SYNTAX,
     "whitespace between a header field name"},
    {"separator_in_name", STR("X(A): 1"), AH_H1_E_SYNTAX,
     "invalid character in a header field name"},
    {"non_ascii_name", STR("\xc3\x84: 1"), AH_H1_E_SYNTAX,
     "invalid character in a header field name"},
    {"control_in_value", STR("X-A: \x01"), AH_H1_E_SYNTAX,
     "control character in a header field value"},
    {"del_in_value", STR("X-A: \x7f"), AH_H1_E_SYNTAX,
     "control character in a header field value"},
};

static void run_valid_cases(int want_ok) {
  size_t i, n = 0;

  for (i = 0; i < sizeof valids / sizeof valids[0]; i++) {
    const valid_case *tc = &valids[i];
    const char *detail = NULL;
    char *copy;
    int rc;

    if ((tc->rc == AH_H1_OK) != want_ok)
      continue;
    n++;
    /* An exact-size copy: reading past len would be caught. */
    copy = malloc(tc->len > 0 ? tc->len : 1);
    assert_non_null(copy);
    memcpy(copy, tc->lines, tc->len);
    rc = ah__h1_validate_extra_headers(copy, tc->len, &detail);
    free(copy);
    if (rc != tc->rc) {
      print_error("fixture %s: got %d (%s), expected %d\n", tc->name, rc,
                  detail ? detail : "-", tc->rc);
      fail();
    }
    if (tc->why != NULL &&
        (detail == NULL || strstr(detail, tc->why) == NULL)) {
      print_error("fixture %s: detail \"%s\", expected \"%s\"\n", tc->name,
                  detail ? detail : "(none)", tc->why);
      fail();
    }
  }
  assert_true(n > 0);
}

static void accepts_valid_extra_headers(void **state) {
  (void)state;
  run_valid_cases(1);
}

static void rejects_injection_and_malformed_extra_headers(void **state) {
  (void)state;
  run_valid_cases(0);
}

static void is_token_follows_rfc9110_tchar(void **state) {
  (void)state;
  assert_true(ah__h1_is_token("GET"));
  assert_true(ah__h1_is_token("M-SEARCH"));
  assert_true(ah__h1_is_token("!#$%&'*+-.^_`|~09azAZ"));
  assert_false(ah__h1_is_token(""));
  assert_false(ah__h1_is_token(NULL));
  assert_false(ah__h1_is_token("GE T"));
  assert_false(ah__h1_is_token("GET\r\n"));
  assert_false(ah__h1_is_token("a:b"));
  assert_false(ah__h1_is_token("a/b"));
  assert_false(ah__h1_is_token("\"q\""));
  assert_false(ah__h1_is_token("caf\xc3\xa9"));
  assert_false(ah__h1_is_token("\x7f"));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(writes_request_heads_byte_exact),
    cmocka_unit_test(validated_extra_lines_round_trip),
    cmocka_unit_test(accepts_valid_extra_headers),
    cmocka_unit_test(rejects_injection_and_malformed_extra_headers),
    cmocka_unit_test(is_token_follows_rfc9110_tchar),
};

AH_TEST_MAIN(tests)
