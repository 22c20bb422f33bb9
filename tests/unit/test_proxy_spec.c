/*
 * test_proxy_spec.c - proxy specs, bypass lists (curl's no_proxy rules)
 * and the Basic credentials value.
 */
#include "test_main.h"

#include "ahttp.h"
#include "util/proxy.h"

#include <string.h>

static void parses_host_port_and_credentials(void **state) {
  ah__proxy p;
  (void)state;
  assert_int_equal(ah__proxy_parse("http://user:pass@proxy.test:3128/", &p),
                   AH_OK);
  assert_string_equal(p.host, "proxy.test");
  assert_int_equal(p.port, 3128);
  /* base64("user:pass") */
  assert_string_equal(p.authorization, "Basic dXNlcjpwYXNz");
  ah__proxy_free(&p);
}

static void default_port_is_80_and_no_credentials(void **state) {
  ah__proxy p;
  (void)state;
  assert_int_equal(ah__proxy_parse("127.0.0.1", &p), AH_OK);
  assert_string_equal(p.host, "127.0.0.1");
  assert_int_equal(p.port, 80);
  assert_null(p.authorization);
  ah__proxy_free(&p);
}

static void ipv6_literal_in_brackets(void **state) {
  ah__proxy p;
  (void)state;
  assert_int_equal(ah__proxy_parse("[::1]:8080", &p), AH_OK);
  assert_string_equal(p.host, "::1");
  assert_int_equal(p.port, 8080);
  ah__proxy_free(&p);
}

static void password_may_contain_at_sign(void **state) {
  ah__proxy p;
  (void)state;
  assert_int_equal(ah__proxy_parse("u:p@ss@h:1", &p), AH_OK);
  assert_string_equal(p.host, "h");
  /* base64("u:p@ss") */
  assert_string_equal(p.authorization, "Basic dTpwQHNz");
  ah__proxy_free(&p);
}

static void credentials_are_percent_decoded(void **state) {
  ah__proxy p;
  (void)state;
  assert_int_equal(ah__proxy_parse("http://%61lice:a%2Fb%40c@h:1", &p), AH_OK);
  /* base64("alice:a/b@c") */
  assert_string_equal(p.authorization, "Basic YWxpY2U6YS9iQGM=");
  ah__proxy_free(&p);
  assert_int_equal(ah__proxy_parse("u:%zz@h:1", &p), AH_ERR_INVALID_PARAMETER);
  assert_int_equal(ah__proxy_parse("u:%4@h:1", &p), AH_ERR_INVALID_PARAMETER);
}

static void rejects_malformed_specs(void **state) {
  static const char *const bad[] = {
      "",        "http://",      "https://p:1", "socks5://p:1", "p:0",
      "p:65536", "p:12a",        "p:",          "p q:1",        "p\r\n:1",
      "[::1:80", "http://p:1/x", ":8080"};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ah__proxy p;
    assert_int_equal(ah__proxy_parse(bad[i], &p), AH_ERR_INVALID_PARAMETER);
  }
}

static void bypass_follows_curl_rules(void **state) {
  static const struct {
    const char *list, *host;
    uint16_t port;
    int bypassed;
  } cases[] = {
      {"*", "anything.test", 80, 1},
      {"example.com", "example.com", 80, 1},
      {"example.com", "www.example.com", 80, 1},
      {".example.com", "www.example.com", 80, 1},
      {".example.com", "example.com", 80, 1},
      {"example.com", "badexample.com", 80, 0},
      {"example.com", "example.com.evil", 80, 0},
      {"EXAMPLE.com", "www.Example.COM", 80, 1},
      {"127.0.0.1", "127.0.0.1", 8080, 1},
      {"127.0.0.1", "127.0.0.10", 8080, 0},
      {"localhost", "127.0.0.1", 80, 0},
      {"a.test, b.test ,c.test", "b.test", 80, 1},
      {"127.0.0.1:8080", "127.0.0.1", 8080, 1},
      {"127.0.0.1:8080", "127.0.0.1", 8081, 0},
      {"::1", "::1", 80, 1},
      {"[::1]:443", "[::1]", 443, 1},
      {"[::1]:443", "::1", 80, 0},
      {"", "example.com", 80, 0},
      {",,", "example.com", 80, 0},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int got = ah__proxy_bypassed(cases[i].list, cases[i].host, cases[i].port);
    if (got != cases[i].bypassed)
      fail_msg("no_proxy=\"%s\" host %s:%u: expected %d, got %d", cases[i].list,
               cases[i].host, (unsigned)cases[i].port, cases[i].bypassed, got);
  }
  assert_false(ah__proxy_bypassed(NULL, "example.com", 80));
}

static void base64_pads_every_length(void **state) {
  char out[16];
  (void)state;
  ah__base64((const unsigned char *)"", 0, out);
  assert_string_equal(out, "");
  ah__base64((const unsigned char *)"f", 1, out);
  assert_string_equal(out, "Zg==");
  ah__base64((const unsigned char *)"fo", 2, out);
  assert_string_equal(out, "Zm8=");
  ah__base64((const unsigned char *)"foo", 3, out);
  assert_string_equal(out, "Zm9v");
  ah__base64((const unsigned char *)"foob", 4, out);
  assert_string_equal(out, "Zm9vYg==");
}

/* clang-format off */
/* RFC 7617 section 2: user-id ":" password, the colon even when the
 * password is empty (found by the proxy_spec fuzzer). */
static void user_without_password_gets_the_colon(void **state) {
  ah__proxy p;
  (void)state;
  assert_int_equal(ah__proxy_parse("user@h", &p), AH_OK);
  assert_string_equal(p.authorization, "Basic dXNlcjo="); /* "user:" */
  ah__proxy_free(&p);
}

static void empty_userinfo_means_no_credentials(void **state) {
  ah__proxy p;
  (void)state;
  assert_int_equal(ah__proxy_parse("http://@h:3128", &p), AH_OK);
  assert_string_equal(p.host, "h");
  assert_int_equal(p.port, 3128);
  assert_null(p.authorization);
  ah__proxy_free(&p);
}

static void nothing_but_a_port_after_the_bracket(void **state) {
  ah__proxy p;
  (void)state;
  assert_int_equal(ah__proxy_parse("[::1]junk:8080", &p),
                   AH_ERR_INVALID_PARAMETER);
  assert_int_equal(ah__proxy_parse("[::1]:", &p), AH_ERR_INVALID_PARAMETER);
  assert_int_equal(ah__proxy_parse("[::1]:8080", &p), AH_OK);
  assert_string_equal(p.host, "::1");
  assert_int_equal(p.port, 8080);
  ah__proxy_free(&p);
}

/* curl matches IP literals exactly: no "domain" of an address. */
static void ip_literals_bypass_only_exactly(void **state) {
  (void)state;
  assert_false(ah__proxy_bypassed("0.0.1", "127.0.0.1", 80));
  assert_false(ah__proxy_bypassed(".0.0.1", "127.0.0.1", 80));
  assert_true(ah__proxy_bypassed("127.0.0.1", "127.0.0.1", 80));
  assert_true(ah__proxy_bypassed("example.com", "www.example.com", 80));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(parses_host_port_and_credentials),
    cmocka_unit_test(default_port_is_80_and_no_credentials),
    cmocka_unit_test(ipv6_literal_in_brackets),
    cmocka_unit_test(password_may_contain_at_sign),
    cmocka_unit_test(credentials_are_percent_decoded),
    cmocka_unit_test(rejects_malformed_specs),
    cmocka_unit_test(bypass_follows_curl_rules),
    cmocka_unit_test(base64_pads_every_length),
    cmocka_unit_test(user_without_password_gets_the_colon),
    cmocka_unit_test(empty_userinfo_means_no_credentials),
    cmocka_unit_test(nothing_but_a_port_after_the_bracket),
    cmocka_unit_test(ip_literals_bypass_only_exactly),
};
/* clang-format on */

AH_TEST_MAIN(tests)
