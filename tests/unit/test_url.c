/*
 * test_url.c - URL parsing, reference resolution (RFC 3986 section 5.4,
 * every example), the lenient reading of what servers send in Location,
 * what is refused, formatting, and allocation failures (src/util/url.c).
 */
#include "test_main.h"

#include "ahttp.h"
#include "util/alloc.h"
#include "util/url.h"

#include <stdlib.h>
#include <string.h>

/* The base URI of RFC 3986 section 5.4. */
#define RFC_BASE "http://a/b/c/d;p?q"

static void parse_ok(const char *text, ah__url *u) {
  int rc = ah__url_parse(text, strlen(text), u);
  if (rc != AH_OK)
    fail_msg("parsing \"%s\" gave %d", text, rc);
}

static void assert_zeroed(const ah__url *u) {
  ah__url zero;
  memset(&zero, 0, sizeof zero);
  assert_memory_equal(u, &zero, sizeof zero);
}

static void assert_parse_fails(const char *text, size_t len, int want) {
  ah__url u;
  int rc = ah__url_parse(text, len, &u);
  if (rc != want)
    fail_msg("parsing \"%.*s\" gave %d, want %d", (int)len, text, rc, want);
  assert_zeroed(&u);
}

/* Resolves `ref` against `base` and compares the formatted result. */
static void assert_resolves(const char *base, const char *ref,
                            const char *want) {
  ah__url b, t;
  char *got = NULL;
  int rc;
  parse_ok(base, &b);
  rc = ah__url_resolve(&b, ref, strlen(ref), &t);
  if (rc != AH_OK)
    fail_msg("resolving \"%s\" against %s gave %d", ref, base, rc);
  assert_int_equal(ah__url_format(&t, &got), AH_OK);
  if (strcmp(got, want) != 0)
    fail_msg("resolving \"%s\" against %s gave %s, want %s", ref, base, got,
             want);
  ah__free(got);
  ah__url_free(&t);
  ah__url_free(&b);
}

typedef struct example {
  const char *ref, *want;
} example;

static void assert_examples(const example *ex, size_t count) {
  size_t i;
  for (i = 0; i < count; i++)
    assert_resolves(RFC_BASE, ex[i].ref, ex[i].want);
}

/* ---- RFC 3986 section 5.4 ---------------------------------------------- */

/*
 * 5.4.1, in order. Where ours differs from the RFC's text it is because the
 * target drops the fragment and an empty path is "/" (RFC 3986 6.2.3, RFC
 * 9112 3.2.1); the RFC's answer is in the comment.
 */
static void rfc3986_normal_examples(void **state) {
  static const example ex[] = {
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g/"}, /* http://g */
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q"},  /* http://a/b/c/d;p?q#s */
      {"g#s", "http://a/b/c/g"},     /* http://a/b/c/g#s */
      {"g?y#s", "http://a/b/c/g?y"}, /* http://a/b/c/g?y#s */
      {";x", "http://a/b/c/;x"},
      {"g;x", "http://a/b/c/g;x"},
      {"g;x?y#s", "http://a/b/c/g;x?y"}, /* http://a/b/c/g;x?y#s */
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../", "http://a/"},
      {"../../g", "http://a/g"},
  };
  ah__url b, t;
  (void)state;
  assert_examples(ex, sizeof ex / sizeof ex[0]);
  /* The first example, "g:h" -> "g:h", has no authority: nothing a request
   * can go to, so it is refused as not supported. */
  parse_ok(RFC_BASE, &b);
  assert_int_equal(ah__url_resolve(&b, "g:h", 3, &t), AH_ERR_NOT_SUPPORTED);
  assert_zeroed(&t);
  ah__url_free(&b);
}

/* 5.4.2: more ".." than there are segments stops at the root. */
static void rfc3986_abnormal_above_root(void **state) {
  static const example ex[] = {
      {"../../../g", "http://a/g"},
      {"../../../../g", "http://a/g"},
  };
  (void)state;
  assert_examples(ex, sizeof ex / sizeof ex[0]);
}

/* 5.4.2: "." and ".." only count as complete segments. */
static void rfc3986_abnormal_dot_like_segments(void **state) {
  static const example ex[] = {
      {"/./g", "http://a/g"},      {"/../g", "http://a/g"},
      {"g.", "http://a/b/c/g."},   {".g", "http://a/b/c/.g"},
      {"g..", "http://a/b/c/g.."}, {"..g", "http://a/b/c/..g"},
  };
  (void)state;
  assert_examples(ex, sizeof ex / sizeof ex[0]);
}

/* 5.4.2: unnecessary or nonsensical dot segments. */
static void rfc3986_abnormal_nonsensical_dots(void **state) {
  static const example ex[] = {
      {"./../g", "http://a/b/g"},
      {"./g/.", "http://a/b/c/g/"},
      {"g/./h", "http://a/b/c/g/h"},
      {"g/../h", "http://a/b/c/h"},
      {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
      {"g;x=1/../y", "http://a/b/c/y"},
  };
  (void)state;
  assert_examples(ex, sizeof ex / sizeof ex[0]);
}

/* 5.4.2: dot segments in the query or fragment are not path segments. */
static void rfc3986_abnormal_query_and_fragment(void **state) {
  static const example ex[] = {
      {"g?y/./x", "http://a/b/c/g?y/./x"},
      {"g?y/../x", "http://a/b/c/g?y/../x"},
      {"g#s/./x", "http://a/b/c/g"},  /* http://a/b/c/g#s/./x */
      {"g#s/../x", "http://a/b/c/g"}, /* http://a/b/c/g#s/../x */
  };
  (void)state;
  assert_examples(ex, sizeof ex / sizeof ex[0]);
}

/* 5.4.2: "http:g" is "http:g" to a strict parser; we take the backward
 * compatible reading the RFC allows, as browsers do. */
static void rfc3986_abnormal_same_scheme_is_relative(void **state) {
  (void)state;
  assert_resolves(RFC_BASE, "http:g", "http://a/b/c/g");
  assert_resolves(RFC_BASE, "HTTP:g", "http://a/b/c/g");
  assert_resolves(RFC_BASE, "http:/g", "http://a/g");
  /* Another scheme without an authority is absolute and has no host. */
  {
    ah__url b, t;
    parse_ok(RFC_BASE, &b);
    assert_int_equal(ah__url_resolve(&b, "https:g", 7, &t),
                     AH_ERR_INVALID_PARAMETER);
    ah__url_free(&b);
  }
}

/* ---- parsing ----------------------------------------------------------- */

static void parse_splits_every_component(void **state) {
  ah__url u;
  (void)state;
  parse_ok("http://user:pw@[::1]:8080/a/b?x=1&y#frag", &u);
  assert_string_equal(u.scheme, "http");
  assert_string_equal(u.user, "user");
  assert_string_equal(u.password, "pw");
  assert_string_equal(u.host, "::1");
  assert_int_equal(u.port, 8080);
  assert_int_equal(u.port_given, 1);
  assert_string_equal(u.target, "/a/b?x=1&y");
  ah__url_free(&u);
  assert_zeroed(&u);
}

static void parse_default_ports(void **state) {
  static const struct {
    const char *url;
    uint16_t port;
  } cases[] = {
      {"http://h/", 80}, {"https://h/", 443}, {"ftp://h/", 0}, {"ws://h/", 0}};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ah__url u;
    parse_ok(cases[i].url, &u);
    assert_int_equal(u.port, cases[i].port);
    assert_int_equal(u.port_given, 0);
    assert_null(u.user);
    assert_null(u.password);
    ah__url_free(&u);
  }
}

static void parse_explicit_ports(void **state) {
  static const struct {
    const char *url;
    uint16_t port;
    int given;
  } cases[] = {
      {"http://h:8080/", 8080, 1},  {"https://h:80/", 80, 1},
      {"http://h:80/", 80, 1},      {"http://h:1", 1, 1},
      {"http://h:65535", 65535, 1}, {"http://h:0080/", 80, 1},
      {"ftp://h:21/", 21, 1},       {"http://h:/", 80, 0} /* empty: none */};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ah__url u;
    parse_ok(cases[i].url, &u);
    assert_string_equal(u.host, "h");
    assert_int_equal(u.port, cases[i].port);
    assert_int_equal(u.port_given, cases[i].given);
    ah__url_free(&u);
  }
}

static void parse_ipv6_without_port(void **state) {
  ah__url u;
  (void)state;
  parse_ok("https://[2001:DB8::A]/x", &u);
  assert_string_equal(u.host, "2001:db8::a");
  assert_int_equal(u.port, 443);
  assert_int_equal(u.port_given, 0);
  assert_string_equal(u.target, "/x");
  ah__url_free(&u);
}

static void parse_ipv6_with_port(void **state) {
  ah__url u;
  (void)state;
  parse_ok("http://[::1]:8080", &u);
  assert_string_equal(u.host, "::1");
  assert_int_equal(u.port, 8080);
  assert_int_equal(u.port_given, 1);
  assert_string_equal(u.target, "/");
  ah__url_free(&u);
}

static void parse_ipv6_forms(void **state) {
  static const char *const good[] = {
      "http://[::]/",
      "http://[1:2:3:4:5:6:7:8]/",
      "http://[1::]/",
      "http://[1:2:3:4:5:6:7::]/",
      "http://[::2:3:4:5:6:7:8]/",
      "http://[::ffff:192.0.2.1]/",
      "http://[1:2:3:4:5:6:1.2.3.4]/",
      "http://[fe80::abcd:1234]/",
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof good / sizeof good[0]; i++) {
    ah__url u;
    parse_ok(good[i], &u);
    ah__url_free(&u);
  }
}

static void parse_userinfo_percent_decoded(void **state) {
  ah__url u;
  (void)state;
  parse_ok("http://%61lice:p%40ss:w%3Ard@h/", &u);
  assert_string_equal(u.user, "alice");
  assert_string_equal(u.password, "p@ss:w:rd"); /* ':' in the password */
  assert_string_equal(u.host, "h");
  ah__url_free(&u);
  /* An unencoded '@' in the password: the last '@' ends the userinfo. */
  parse_ok("http://u:p@ss@h/", &u);
  assert_string_equal(u.user, "u");
  assert_string_equal(u.password, "p@ss");
  assert_string_equal(u.host, "h");
  ah__url_free(&u);
  /* Empty parts are kept apart from absent ones. */
  parse_ok("http://u:@h/", &u);
  assert_string_equal(u.user, "u");
  assert_string_equal(u.password, "");
  ah__url_free(&u);
  parse_ok("http://u@h/", &u);
  assert_string_equal(u.user, "u");
  assert_null(u.password);
  ah__url_free(&u);
  /* A '%' without two hex digits stays as it is. */
  parse_ok("http://u:100%@h/", &u);
  assert_string_equal(u.password, "100%");
  ah__url_free(&u);
  /* A NUL cannot be represented. */
  assert_parse_fails("http://u:a%00b@h/", 17, AH_ERR_INVALID_PARAMETER);
}

static void parse_lowercases_scheme_and_host_only(void **state) {
  ah__url u;
  (void)state;
  parse_ok("HtTp://UsEr:PaSs@WWW.Example.COM/Path?Q=A", &u);
  assert_string_equal(u.scheme, "http");
  assert_string_equal(u.host, "www.example.com");
  assert_string_equal(u.user, "UsEr");
  assert_string_equal(u.password, "PaSs");
  assert_string_equal(u.target, "/Path?Q=A");
  assert_int_equal(u.port, 80);
  ah__url_free(&u);
}

static void parse_empty_path_is_slash(void **state) {
  ah__url u;
  (void)state;
  parse_ok("http://h", &u);
  assert_string_equal(u.target, "/");
  ah__url_free(&u);
  parse_ok("http://h:81", &u);
  assert_string_equal(u.target, "/");
  ah__url_free(&u);
}

static void parse_query_without_path(void **state) {
  ah__url u;
  (void)state;
  parse_ok("http://h?x", &u);
  assert_string_equal(u.host, "h");
  assert_string_equal(u.target, "/?x");
  ah__url_free(&u);
  /* An empty query is kept (RFC 3986 6.2.3). */
  parse_ok("http://h/p?", &u);
  assert_string_equal(u.target, "/p?");
  ah__url_free(&u);
}

static void parse_drops_fragment(void **state) {
  ah__url u;
  (void)state;
  parse_ok("http://h/p?q#f", &u);
  assert_string_equal(u.target, "/p?q");
  ah__url_free(&u);
  parse_ok("http://h#f?not-a-query", &u);
  assert_string_equal(u.target, "/");
  ah__url_free(&u);
  parse_ok("http://h/p#", &u);
  assert_string_equal(u.target, "/p");
  ah__url_free(&u);
}

static void parse_removes_dot_segments(void **state) {
  ah__url u;
  (void)state;
  parse_ok("http://h/a/./b/../c/..", &u);
  assert_string_equal(u.target, "/a/");
  ah__url_free(&u);
  parse_ok("http://h/../../x/.?y/../z", &u);
  assert_string_equal(u.target, "/x/?y/../z");
  ah__url_free(&u);
}

static void parse_reads_only_len(void **state) {
  ah__url u;
  (void)state;
  assert_int_equal(ah__url_parse("http://h/abc", 8, &u), AH_OK);
  assert_string_equal(u.host, "h");
  assert_string_equal(u.target, "/");
  ah__url_free(&u);
}

static void parse_any_scheme_with_authority(void **state) {
  ah__url u;
  (void)state;
  parse_ok("FTP://files.test:2121/pub/f.txt", &u);
  assert_string_equal(u.scheme, "ftp");
  assert_int_equal(u.port, 2121);
  assert_string_equal(u.target, "/pub/f.txt");
  ah__url_free(&u);
  /* Only http and https need a host. */
  parse_ok("file:///etc/hosts", &u);
  assert_string_equal(u.scheme, "file");
  assert_string_equal(u.host, "");
  assert_int_equal(u.port, 0);
  assert_string_equal(u.target, "/etc/hosts");
  ah__url_free(&u);
  parse_ok("svn+ssh.x-y://h/", &u);
  assert_string_equal(u.scheme, "svn+ssh.x-y");
  ah__url_free(&u);
}

static void parse_without_authority_not_supported(void **state) {
  (void)state;
  assert_parse_fails("mailto:a@b.test", 15, AH_ERR_NOT_SUPPORTED);
  assert_parse_fails("urn:isbn:0451450523", 19, AH_ERR_NOT_SUPPORTED);
  assert_parse_fails("data:,x", 7, AH_ERR_NOT_SUPPORTED);
  assert_parse_fails("localhost:8080/x", 16, AH_ERR_NOT_SUPPORTED);
}

static void parse_trims_surrounding_spaces(void **state) {
  ah__url u;
  (void)state;
  parse_ok("  http://h/a b  ", &u);
  assert_string_equal(u.host, "h");
  assert_string_equal(u.target, "/a%20b");
  ah__url_free(&u);
}

/* ---- lenient encoding -------------------------------------------------- */

static void lenient_encodes_space(void **state) {
  ah__url u;
  (void)state;
  parse_ok("http://h/a b/c?d e f", &u);
  assert_string_equal(u.target, "/a%20b/c?d%20e%20f");
  ah__url_free(&u);
  assert_resolves(RFC_BASE, "new page.html", "http://a/b/c/new%20page.html");
}

static void lenient_encodes_utf8_bytes(void **state) {
  ah__url u;
  (void)state;
  /* "/café?q=ü" in UTF-8 */
  parse_ok("http://h/caf\xc3\xa9?q=\xc3\xbc", &u);
  assert_string_equal(u.target, "/caf%C3%A9?q=%C3%BC");
  ah__url_free(&u);
  assert_resolves(RFC_BASE, "\xe2\x82\xac", "http://a/b/c/%E2%82%AC");
}

static void lenient_encodes_backslash_not_slash(void **state) {
  ah__url u;
  (void)state;
  parse_ok("http://h/a\\b\\..\\c", &u);
  assert_string_equal(u.target, "/a%5Cb%5C..%5Cc");
  ah__url_free(&u);
  /* A browser would go to host "evil"; we stay on the base's host. */
  assert_resolves(RFC_BASE, "\\\\evil\\x", "http://a/b/c/%5C%5Cevil%5Cx");
  assert_resolves(RFC_BASE, "/\\evil/x", "http://a/%5Cevil/x");
}

static void lenient_encodes_unsafe_ascii(void **state) {
  ah__url u;
  (void)state;
  parse_ok("http://h/\"<>^`{|}\x7f?\"<>^`{|}", &u);
  assert_string_equal(u.target, "/%22%3C%3E%5E%60%7B%7C%7D%7F"
                                "?%22%3C%3E%5E%60%7B%7C%7D");
  ah__url_free(&u);
  /* What RFC 3986 allows stays as it is, '[' and ']' too. */
  parse_ok("http://h/a-._~!$&'()*+,;=:@[]/?/?a=b", &u);
  assert_string_equal(u.target, "/a-._~!$&'()*+,;=:@[]/?/?a=b");
  ah__url_free(&u);
}

static void lenient_keeps_percent_as_is(void **state) {
  ah__url u;
  (void)state;
  parse_ok("http://h/100%/%zz/%4?%", &u);
  assert_string_equal(u.target, "/100%/%zz/%4?%");
  ah__url_free(&u);
  /* Escapes are neither decoded nor recased. */
  parse_ok("http://h/a%2Fb%2e%2E/%7e", &u);
  assert_string_equal(u.target, "/a%2Fb%2e%2E/%7e");
  ah__url_free(&u);
}

/* ---- refused ----------------------------------------------------------- */

static void refuses_cr_lf_nul(void **state) {
  static const char *const bad[] = {
      "http://h/a\rb", "http://h/a\nb",   "http://h/\r\nX-Injected: 1",
      "http://h\r/",   "http://u\n:p@h/", "http://h/?q\r",
      "http://h/#f\n", "\rhttp://h/",     "http://h/\r"};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_parse_fails(bad[i], strlen(bad[i]), AH_ERR_INVALID_PARAMETER);
  assert_parse_fails("http://h/a\0b", 12, AH_ERR_INVALID_PARAMETER);
  assert_parse_fails("http://h/#\0", 11, AH_ERR_INVALID_PARAMETER);
}

static void refuses_other_controls(void **state) {
  char text[] = "http://h/a?b";
  unsigned c;
  (void)state;
  for (c = 1; c < 0x20; c++) {
    text[10] = (char)c;
    assert_parse_fails(text, strlen(text), AH_ERR_INVALID_PARAMETER);
  }
}

static void refuses_bad_ports(void **state) {
  static const char *const bad[] = {"http://h:0/",
                                    "http://h:00/",
                                    "http://h:65536/",
                                    "http://h:99999/",
                                    "http://h:8o/",
                                    "http://h:-1/",
                                    "http://h:+80/",
                                    "http://h: 80/",
                                    "http://h:80:81/",
                                    "http://h:0x50/",
                                    "http://[::1]:8o/",
                                    "http://[::1]:0",
                                    "http://h:123456789012345678901234567890/"};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_parse_fails(bad[i], strlen(bad[i]), AH_ERR_INVALID_PARAMETER);
}

static void refuses_missing_host(void **state) {
  static const char *const bad[] = {"http://",    "http:///x",   "https://:80/",
                                    "http://u@/", "http://u:p@", "http:x",
                                    "https:/x"};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_parse_fails(bad[i], strlen(bad[i]), AH_ERR_INVALID_PARAMETER);
}

static void refuses_malformed_ipv6(void **state) {
  static const char *const bad[] = {"http://[::1",
                                    "http://[::1/",
                                    "http://[::1]x/",
                                    "http://[]/",
                                    "http://[:]/",
                                    "http://[:::]/",
                                    "http://[1::2::3]/",
                                    "http://[g::1]/",
                                    "http://[12345::1]/",
                                    "http://[1:2:3:4:5:6:7:8:9]/",
                                    "http://[1:2:3:4:5:6:7]/",
                                    "http://[1:2:3:4:5:6:7:8::]/",
                                    "http://[1:]/",
                                    "http://[:1]/",
                                    "http://[1.2.3.4]/",
                                    "http://[::1.2.3]/",
                                    "http://[::1.2.3.256]/",
                                    "http://[::01.2.3.4]/",
                                    "http://[1:2:3:4:5:6:7:1.2.3.4]/",
                                    "http://[v1.x]/",
                                    "http://[fe80::1%25eth0]/",
                                    "http://::1/",
                                    "http://[::1]]/",
                                    "http://h[::1]/"};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_parse_fails(bad[i], strlen(bad[i]), AH_ERR_INVALID_PARAMETER);
}

static void refuses_bad_host_characters(void **state) {
  static const char *const bad[] = {
      "http://h%41/", "http://%68/",  "http://caf\xc3\xa9.test/",
      "http://a b/",  "http://a<b/",  "http://a\\b/",
      "http://a\"b/", "http://a{b}/", "http://a^b/",
      "http://\xff/"};
  size_t i;
  ah__url u;
  (void)state;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_parse_fails(bad[i], strlen(bad[i]), AH_ERR_INVALID_PARAMETER);
  /* Sub-delims are reg-name characters (RFC 3986 3.2.2). */
  parse_ok("http://a-b_c~d!$&'()*+,;=.test/", &u);
  assert_string_equal(u.host, "a-b_c~d!$&'()*+,;=.test");
  ah__url_free(&u);
}

static void refuses_missing_scheme(void **state) {
  static const char *const bad[] = {
      "",        "//h/x", "/x",         "h/x", "1http://h/",
      "-x://h/", "://h/", "ht tp://h/", "?q",  "#f"};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_parse_fails(bad[i], strlen(bad[i]), AH_ERR_INVALID_PARAMETER);
}

static void refuses_too_long(void **state) {
  size_t len = AH__URL_MAX_LEN + 1;
  char *text = malloc(len);
  ah__url u;
  (void)state;
  assert_non_null(text);
  memcpy(text, "http://h/", 9);
  memset(text + 9, 'a', len - 9);
  assert_parse_fails(text, len, AH_ERR_INVALID_PARAMETER);
  assert_int_equal(ah__url_parse(text, len - 1, &u), AH_OK);
  assert_int_equal(strlen(u.target), len - 1 - 8);
  ah__url_free(&u);
  free(text);
}

static void refuses_bad_arguments(void **state) {
  ah__url b, u;
  (void)state;
  assert_int_equal(ah__url_parse(NULL, 0, &u), AH_ERR_INVALID_PARAMETER);
  assert_int_equal(ah__url_parse("http://h/", 9, NULL),
                   AH_ERR_INVALID_PARAMETER);
  parse_ok("http://h/", &b);
  assert_int_equal(ah__url_resolve(NULL, "x", 1, &u), AH_ERR_INVALID_PARAMETER);
  assert_int_equal(ah__url_resolve(&b, NULL, 1, &u), AH_ERR_INVALID_PARAMETER);
  assert_int_equal(ah__url_resolve(&b, "x", 1, NULL), AH_ERR_INVALID_PARAMETER);
  /* out must not be the base: the base is left alone. */
  assert_int_equal(ah__url_resolve(&b, "x", 1, &b), AH_ERR_INVALID_PARAMETER);
  assert_string_equal(b.target, "/");
  /* NULL with length 0 is the empty reference. */
  assert_int_equal(ah__url_resolve(&b, NULL, 0, &u), AH_OK);
  assert_string_equal(u.target, "/");
  ah__url_free(&u);
  ah__url_free(&b);
  ah__url_free(NULL);
}

/* ---- resolution beyond the RFC's examples ------------------------------ */

static void assert_same_url(const ah__url *a, const ah__url *b) {
  assert_string_equal(a->scheme, b->scheme);
  assert_string_equal(a->host, b->host);
  assert_int_equal(a->port, b->port);
  assert_int_equal(a->port_given, b->port_given);
  assert_string_equal(a->target, b->target);
  if (a->user == NULL || b->user == NULL)
    assert_ptr_equal(a->user, b->user);
  else
    assert_string_equal(a->user, b->user);
  if (a->password == NULL || b->password == NULL)
    assert_ptr_equal(a->password, b->password);
  else
    assert_string_equal(a->password, b->password);
}

static void resolve_absolute_equals_parse(void **state) {
  static const char *const refs[] = {"https://U:P@Other.Test:8443/x/../y?z#f",
                                     "http://h", "ftp://h:21/a",
                                     "HTTP://h/./a b"};
  size_t i;
  ah__url b;
  (void)state;
  parse_ok("http://u:p@a:81/b/c", &b);
  for (i = 0; i < sizeof refs / sizeof refs[0]; i++) {
    ah__url p, r;
    parse_ok(refs[i], &p);
    assert_int_equal(ah__url_resolve(&b, refs[i], strlen(refs[i]), &r), AH_OK);
    assert_same_url(&p, &r);
    ah__url_free(&p);
    ah__url_free(&r);
  }
  ah__url_free(&b);
}

static void resolve_network_path(void **state) {
  ah__url b, t;
  (void)state;
  parse_ok("https://u:p@a:8443/b/c?q", &b);
  /* The scheme stays, the whole authority is replaced: the default port of
   * https and no userinfo. */
  assert_int_equal(ah__url_resolve(&b, "//Other/x/../y", 14, &t), AH_OK);
  assert_string_equal(t.scheme, "https");
  assert_string_equal(t.host, "other");
  assert_int_equal(t.port, 443);
  assert_int_equal(t.port_given, 0);
  assert_null(t.user);
  assert_null(t.password);
  assert_string_equal(t.target, "/y");
  ah__url_free(&t);
  /* "///x" has an empty host. */
  assert_int_equal(ah__url_resolve(&b, "///x", 4, &t),
                   AH_ERR_INVALID_PARAMETER);
  assert_zeroed(&t);
  ah__url_free(&b);
}

static void resolve_relative_keeps_authority(void **state) {
  ah__url b, t;
  (void)state;
  parse_ok("http://us%40er:pw@[::1]:8080/b/c?q", &b);
  assert_int_equal(ah__url_resolve(&b, "../d?e", 6, &t), AH_OK);
  assert_string_equal(t.scheme, "http");
  assert_string_equal(t.user, "us@er");
  assert_string_equal(t.password, "pw");
  assert_string_equal(t.host, "::1");
  assert_int_equal(t.port, 8080);
  assert_int_equal(t.port_given, 1);
  assert_string_equal(t.target, "/d?e");
  ah__url_free(&t);
  ah__url_free(&b);
}

static void resolve_absolute_replaces_userinfo(void **state) {
  ah__url b, t;
  (void)state;
  parse_ok("http://u:p@a/", &b);
  assert_int_equal(ah__url_resolve(&b, "http://a/x", 10, &t), AH_OK);
  assert_null(t.user);
  assert_null(t.password);
  ah__url_free(&t);
  assert_int_equal(ah__url_resolve(&b, "http://v@a/x", 12, &t), AH_OK);
  assert_string_equal(t.user, "v");
  assert_null(t.password);
  ah__url_free(&t);
  ah__url_free(&b);
}

static void resolve_refuses_controls(void **state) {
  static const char *const bad[] = {
      "/a\r\nSet-Cookie: x=y", "a\nb", "?q\r", "#f\n", "\t/x", "//h\r/"};
  size_t i;
  ah__url b;
  (void)state;
  parse_ok(RFC_BASE, &b);
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ah__url t;
    assert_int_equal(ah__url_resolve(&b, bad[i], strlen(bad[i]), &t),
                     AH_ERR_INVALID_PARAMETER);
    assert_zeroed(&t);
  }
  {
    ah__url t;
    assert_int_equal(ah__url_resolve(&b, "/a\0b", 4, &t),
                     AH_ERR_INVALID_PARAMETER);
    assert_zeroed(&t);
  }
  ah__url_free(&b);
}

static void resolve_other_schemes(void **state) {
  ah__url b, t;
  (void)state;
  parse_ok(RFC_BASE, &b);
  /* Any scheme with an authority is resolved; the caller refuses it. */
  assert_int_equal(ah__url_resolve(&b, "ftp://f/x", 9, &t), AH_OK);
  assert_string_equal(t.scheme, "ftp");
  assert_int_equal(t.port, 0);
  ah__url_free(&t);
  assert_int_equal(ah__url_resolve(&b, "mailto:x@y", 10, &t),
                   AH_ERR_NOT_SUPPORTED);
  assert_int_equal(ah__url_resolve(&b, "javascript:alert(1)", 19, &t),
                   AH_ERR_NOT_SUPPORTED);
  assert_zeroed(&t);
  /* An https base and an http Location: the downgrade is the caller's. */
  assert_resolves("https://a/b", "http://a/c", "http://a/c");
  assert_resolves("https://a:444/b", "//c", "https://c/");
  ah__url_free(&b);
}

static void resolve_empty_copies_base(void **state) {
  ah__url b, t;
  (void)state;
  parse_ok("https://u:p@a:8443/b/c?q", &b);
  assert_int_equal(ah__url_resolve(&b, "", 0, &t), AH_OK);
  assert_same_url(&b, &t);
  assert_true(t.target != b.target);
  ah__url_free(&t);
  assert_int_equal(ah__url_resolve(&b, " #frag ", 7, &t), AH_OK);
  assert_same_url(&b, &t);
  ah__url_free(&t);
  ah__url_free(&b);
}

/* ---- formatting -------------------------------------------------------- */

static void assert_formats(const char *text, const char *want) {
  ah__url u;
  char *s = NULL;
  parse_ok(text, &u);
  assert_int_equal(ah__url_format(&u, &s), AH_OK);
  assert_string_equal(s, want);
  ah__free(s);
  ah__url_free(&u);
}

static void format_omits_default_port(void **state) {
  (void)state;
  assert_formats("http://h:80/a", "http://h/a");
  assert_formats("https://h:443/a", "https://h/a");
  assert_formats("HTTP://H", "http://h/");
}

static void format_keeps_other_port(void **state) {
  (void)state;
  assert_formats("http://h:443/a", "http://h:443/a");
  assert_formats("https://h:80/a", "https://h:80/a");
  assert_formats("http://h:08080/a", "http://h:8080/a");
  assert_formats("ftp://h:21/a", "ftp://h:21/a");
}

static void format_brackets_ipv6(void **state) {
  (void)state;
  assert_formats("http://[::1]/x", "http://[::1]/x");
  assert_formats("http://[::FFFF:1.2.3.4]:8080/x?y",
                 "http://[::ffff:1.2.3.4]:8080/x?y");
}

static void format_leaves_out_userinfo(void **state) {
  (void)state;
  assert_formats("http://user:secret@h/x#f", "http://h/x");
}

static void format_authority_for_host_header(void **state) {
  static const struct {
    const char *url, *want;
  } cases[] = {{"http://h/", "h"},
               {"http://h:80/", "h"},
               {"http://h:8080/", "h:8080"},
               {"https://u:p@[::1]/", "[::1]"},
               {"https://[::1]:8443/", "[::1]:8443"}};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ah__url u;
    char *s = NULL;
    parse_ok(cases[i].url, &u);
    assert_int_equal(ah__url_format_authority(&u, &s), AH_OK);
    assert_string_equal(s, cases[i].want);
    ah__free(s);
    ah__url_free(&u);
  }
}

static void format_refuses_bad_arguments(void **state) {
  ah__url u;
  char *s = (char *)"x";
  (void)state;
  memset(&u, 0, sizeof u);
  assert_int_equal(ah__url_format(&u, &s), AH_ERR_INVALID_PARAMETER);
  assert_null(s);
  assert_int_equal(ah__url_format(NULL, &s), AH_ERR_INVALID_PARAMETER);
  assert_int_equal(ah__url_format(&u, NULL), AH_ERR_INVALID_PARAMETER);
}

/* ---- allocation failures ----------------------------------------------- */

/*
 * Runs `op` with the 1st, 2nd, ... of its allocations failing until it
 * needs no more than it was allowed. Every failure must be
 * AH_ERR_NO_MEMORY with nothing to release; leaks are LeakSanitizer's to
 * find (the ASan build).
 */
typedef int (*alloc_op)(const void *arg);

static unsigned long torture(alloc_op op, const void *arg) {
  unsigned long n;
  for (n = 1;; n++) {
    int rc;
    ah__alloc_fail_from(n, NULL);
    rc = op(arg);
    ah__alloc_fail_from(0, NULL);
    if (rc == AH_OK)
      return n - 1; /* allocations that were made to fail */
    if (rc != AH_ERR_NO_MEMORY)
      fail_msg("allocation %lu failing gave %d", n, rc);
  }
}

static int op_parse(const void *arg) {
  const char *text = arg;
  ah__url u;
  int rc = ah__url_parse(text, strlen(text), &u);
  if (rc != AH_OK) {
    assert_zeroed(&u);
    return rc;
  }
  ah__url_free(&u);
  return rc;
}

static void alloc_failure_in_parse(void **state) {
  (void)state;
  /* scheme, user, password, host and the target (two). */
  assert_true(torture(op_parse, "http://us%65r:p%40ss@Host:81/a/../b?c#d") >=
              6);
  assert_true(torture(op_parse, "https://[::1]") >= 3);
}

static const ah__url *torture_base;

static int op_resolve(const void *arg) {
  const char *ref = arg;
  ah__url t;
  int rc = ah__url_resolve(torture_base, ref, strlen(ref), &t);
  if (rc != AH_OK) {
    assert_zeroed(&t);
    return rc;
  }
  ah__url_free(&t);
  return rc;
}

static void alloc_failure_in_resolve(void **state) {
  static const char *const refs[] = {
      "",      "?y", "../g;x?y#s", "/abs", "//u:p@other:99/x", "http://v:w@h/",
      "http:g"};
  ah__url b;
  size_t i;
  (void)state;
  parse_ok("http://u:p@a:8080/b/c/d;p?q", &b);
  torture_base = &b;
  for (i = 0; i < sizeof refs / sizeof refs[0]; i++)
    assert_true(torture(op_resolve, refs[i]) >= 4);
  torture_base = NULL;
  ah__url_free(&b);
}

static int op_format(const void *arg) {
  const ah__url *u = arg;
  char *s = (char *)"x";
  int rc = ah__url_format(u, &s);
  if (rc != AH_OK) {
    assert_null(s);
    return rc;
  }
  ah__free(s);
  rc = ah__url_format_authority(u, &s);
  if (rc != AH_OK) {
    assert_null(s);
    return rc;
  }
  ah__free(s);
  return rc;
}

static void alloc_failure_in_format(void **state) {
  ah__url u;
  (void)state;
  parse_ok("http://[::1]:8080/x", &u);
  assert_int_equal(torture(op_format, &u), 2);
  ah__url_free(&u);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(rfc3986_normal_examples),
    cmocka_unit_test(rfc3986_abnormal_above_root),
    cmocka_unit_test(rfc3986_abnormal_dot_like_segments),
    cmocka_unit_test(rfc3986_abnormal_nonsensical_dots),
    cmocka_unit_test(rfc3986_abnormal_query_and_fragment),
    cmocka_unit_test(rfc3986_abnormal_same_scheme_is_relative),
    cmocka_unit_test(parse_splits_every_component),
    cmocka_unit_test(parse_default_ports),
    cmocka_unit_test(parse_explicit_ports),
    cmocka_unit_test(parse_ipv6_without_port),
    cmocka_unit_test(parse_ipv6_with_port),
    cmocka_unit_test(parse_ipv6_forms),
    cmocka_unit_test(parse_userinfo_percent_decoded),
    cmocka_unit_test(parse_lowercases_scheme_and_host_only),
    cmocka_unit_test(parse_empty_path_is_slash),
    cmocka_unit_test(parse_query_without_path),
    cmocka_unit_test(parse_drops_fragment),
    cmocka_unit_test(parse_removes_dot_segments),
    cmocka_unit_test(parse_reads_only_len),
    cmocka_unit_test(parse_any_scheme_with_authority),
    cmocka_unit_test(parse_without_authority_not_supported),
    cmocka_unit_test(parse_trims_surrounding_spaces),
    cmocka_unit_test(lenient_encodes_space),
    cmocka_unit_test(lenient_encodes_utf8_bytes),
    cmocka_unit_test(lenient_encodes_backslash_not_slash),
    cmocka_unit_test(lenient_encodes_unsafe_ascii),
    cmocka_unit_test(lenient_keeps_percent_as_is),
    cmocka_unit_test(refuses_cr_lf_nul),
    cmocka_unit_test(refuses_other_controls),
    cmocka_unit_test(refuses_bad_ports),
    cmocka_unit_test(refuses_missing_host),
    cmocka_unit_test(refuses_malformed_ipv6),
    cmocka_unit_test(refuses_bad_host_characters),
    cmocka_unit_test(refuses_missing_scheme),
    cmocka_unit_test(refuses_too_long),
    cmocka_unit_test(refuses_bad_arguments),
    cmocka_unit_test(resolve_absolute_equals_parse),
    cmocka_unit_test(resolve_network_path),
    cmocka_unit_test(resolve_relative_keeps_authority),
    cmocka_unit_test(resolve_absolute_replaces_userinfo),
    cmocka_unit_test(resolve_refuses_controls),
    cmocka_unit_test(resolve_other_schemes),
    cmocka_unit_test(resolve_empty_copies_base),
    cmocka_unit_test(format_omits_default_port),
    cmocka_unit_test(format_keeps_other_port),
    cmocka_unit_test(format_brackets_ipv6),
    cmocka_unit_test(format_leaves_out_userinfo),
    cmocka_unit_test(format_authority_for_host_header),
    cmocka_unit_test(format_refuses_bad_arguments),
    cmocka_unit_test(alloc_failure_in_parse),
    cmocka_unit_test(alloc_failure_in_resolve),
    cmocka_unit_test(alloc_failure_in_format),
};

AH_TEST_MAIN(tests)
