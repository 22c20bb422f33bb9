/*
 * fuzz_url.c - libFuzzer target for the URL module (src/util/url.c):
 * ah__url_parse, ah__url_resolve, ah__url_format and
 * ah__url_format_authority.
 *
 * Input: 1 control byte, then text.
 *   byte 0      the allocation to fail (1-31) in a second run of each
 *               parse and resolve under injection; 0 (or above 31): none
 *   text        "A" or "A\nB": A is parsed as an absolute URL; B (or A
 *               when there is no '\n') is a reference, resolved against A
 *               when A parsed and against a few fixed bases. A '\n' can
 *               never be part of a URL, so it is free to act as the
 *               separator.
 *
 * Every URL the module produces is checked against what url.h promises:
 * a lowercase scheme of scheme characters; a lowercase reg-name host or an
 * IPv6 literal that inet_pton accepts, never empty for http and https;
 * the port the default one unless given, never 0 when given; a target
 * that starts with '/', holds no space, control byte, '#', byte >= 0x80
 * or other byte the module encodes, and has no dot segment left in its
 * path; format -> parse gives the same scheme, host, port and target;
 * format_authority is the formatted URL's authority; resolving "" copies.
 * Resolving a reference that parses as an absolute URL gives exactly what
 * parsing it gives. Under allocation failure a call either gives what it
 * gave without it or AH_ERR_NO_MEMORY with *out zeroed (and LeakSanitizer
 * finds any leak). Each call sees a heap copy of exactly its text, so
 * reading past it is caught.
 */
#include "fuzz_common.h"

#include "ahttp.h"
#include "util/alloc.h"
#include "util/url.h"

#include <arpa/inet.h>
#include <string.h>

#define CTL_BYTES 1
#define MAX_FAIL 31

static const char *const fixed_bases[] = {
    "http://a/b/c/d;p?q",
    "https://u:p@[::1]:8443/x/y/",
    "http://h:8080",
    "file:///",
};

static char *copy_of(const uint8_t *p, size_t n) {
  char *c = malloc(n > 0 ? n : 1);
  FUZZ_CHECK(c != NULL);
  if (n > 0)
    memcpy(c, p, n);
  return c;
}

static int same_str(const char *a, const char *b) {
  if (a == NULL || b == NULL)
    return a == b;
  return strcmp(a, b) == 0;
}

static int same_url(const ah__url *a, const ah__url *b) {
  return same_str(a->scheme, b->scheme) && same_str(a->user, b->user) &&
         same_str(a->password, b->password) && same_str(a->host, b->host) &&
         a->port == b->port && a->port_given == b->port_given &&
         same_str(a->target, b->target);
}

static int is_zeroed(const ah__url *u) {
  return u->scheme == NULL && u->user == NULL && u->password == NULL &&
         u->host == NULL && u->target == NULL && u->port == 0 &&
         u->port_given == 0;
}

static int lower_alpha(char c) { return c >= 'a' && c <= 'z'; }
static int digit(char c) { return c >= '0' && c <= '9'; }

static void check_target(const char *t) {
  const char *q = strchr(t, '?');
  size_t path_len = q != NULL ? (size_t)(q - t) : strlen(t);
  FUZZ_CHECK(t[0] == '/');
  for (const char *p = t; *p != '\0'; p++) {
    unsigned char c = (unsigned char)*p;
    FUZZ_CHECK(c > 0x20 && c < 0x7f);
    FUZZ_CHECK(strchr("#\"<>\\^`{|}", c) == NULL);
  }
  /* No dot segment in the path: "/./", "/../", or a path ending in "/."
   * or "/..". The query may hold anything. */
  for (size_t i = 0; i < path_len; i++) {
    size_t rest = path_len - i;
    if (t[i] != '/')
      continue;
    FUZZ_CHECK(!(rest >= 3 && memcmp(t + i, "/./", 3) == 0));
    FUZZ_CHECK(!(rest >= 4 && memcmp(t + i, "/../", 4) == 0));
    FUZZ_CHECK(!(rest == 2 && memcmp(t + i, "/.", 2) == 0));
    FUZZ_CHECK(!(rest == 3 && memcmp(t + i, "/..", 3) == 0));
  }
}

static uint16_t default_port(const char *scheme) {
  if (strcmp(scheme, "http") == 0)
    return 80;
  if (strcmp(scheme, "https") == 0)
    return 443;
  return 0;
}

/* Everything url.h promises about a URL the module made. */
static void check_url(const ah__url *u) {
  ah__url again, copy;
  char *text = NULL, *authority = NULL;
  int web;

  FUZZ_CHECK(u->scheme != NULL && u->host != NULL && u->target != NULL);
  FUZZ_CHECK(lower_alpha(u->scheme[0]));
  for (const char *p = u->scheme; *p != '\0'; p++)
    FUZZ_CHECK(lower_alpha(*p) || digit(*p) || strchr("+-.", *p) != NULL);
  web = strcmp(u->scheme, "http") == 0 || strcmp(u->scheme, "https") == 0;
  if (web)
    FUZZ_CHECK(u->host[0] != '\0');
  if (strchr(u->host, ':') != NULL) {
    unsigned char addr[16];
    FUZZ_CHECK(inet_pton(AF_INET6, u->host, addr) == 1);
    for (const char *p = u->host; *p != '\0'; p++)
      FUZZ_CHECK(digit(*p) || (*p >= 'a' && *p <= 'f') || *p == ':' ||
                 *p == '.');
  } else {
    for (const char *p = u->host; *p != '\0'; p++)
      FUZZ_CHECK(lower_alpha(*p) || digit(*p) ||
                 strchr("-._~!$&'()*+,;=", *p) != NULL);
  }
  if (u->port_given)
    FUZZ_CHECK(u->port != 0);
  else
    FUZZ_CHECK(u->port == default_port(u->scheme));
  FUZZ_CHECK(u->password == NULL || u->user != NULL);
  check_target(u->target);

  /* format -> parse round trip. */
  FUZZ_CHECK(ah__url_format(u, &text) == AH_OK);
  FUZZ_CHECK(ah__url_parse(text, strlen(text), &again) == AH_OK);
  FUZZ_CHECK(strcmp(again.scheme, u->scheme) == 0);
  FUZZ_CHECK(strcmp(again.host, u->host) == 0);
  FUZZ_CHECK(again.port == u->port);
  FUZZ_CHECK(strcmp(again.target, u->target) == 0);
  FUZZ_CHECK(again.user == NULL && again.password == NULL);
  ah__url_free(&again);

  /* The authority is the formatted URL's, between "://" and the target. */
  FUZZ_CHECK(ah__url_format_authority(u, &authority) == AH_OK);
  {
    size_t skip = strlen(u->scheme) + 3, alen = strlen(authority);
    FUZZ_CHECK(strlen(text) == skip + alen + strlen(u->target));
    FUZZ_CHECK(memcmp(text + skip, authority, alen) == 0);
  }
  ah__free(authority);
  ah__free(text);

  /* Resolving "" is a copy. */
  FUZZ_CHECK(ah__url_resolve(u, "", 0, &copy) == AH_OK);
  FUZZ_CHECK(same_url(u, &copy));
  ah__url_free(&copy);
}

/* Runs parse (base NULL) or resolve on a heap copy of exactly the text. */
static int run(const ah__url *base, const uint8_t *p, size_t n, ah__url *out) {
  char *text = copy_of(p, n);
  int rc = base == NULL ? ah__url_parse(text, n, out)
                        : ah__url_resolve(base, text, n, out);
  free(text);
  FUZZ_CHECK(rc == AH_OK || rc == AH_ERR_INVALID_PARAMETER ||
             rc == AH_ERR_NOT_SUPPORTED);
  if (rc == AH_OK)
    check_url(out);
  else
    FUZZ_CHECK(is_zeroed(out));
  return rc;
}

/* The same call with allocation number `fail` failing: the same result,
 * or AH_ERR_NO_MEMORY with nothing to release. */
static void run_failing(const ah__url *base, const uint8_t *p, size_t n,
                        unsigned fail, int rc, const ah__url *want) {
  char *text = copy_of(p, n);
  ah__url got;
  int rc2;
  ah__alloc_fail_from(fail, NULL);
  rc2 = base == NULL ? ah__url_parse(text, n, &got)
                     : ah__url_resolve(base, text, n, &got);
  ah__alloc_fail_from(0, NULL);
  free(text);
  if (rc2 == AH_ERR_NO_MEMORY) {
    FUZZ_CHECK(is_zeroed(&got));
    return;
  }
  FUZZ_CHECK(rc2 == rc);
  if (rc == AH_OK) {
    FUZZ_CHECK(same_url(&got, want));
    ah__url_free(&got);
  } else {
    FUZZ_CHECK(is_zeroed(&got));
  }
}

/* Resolves ref against base; an absolute ref must give what parsing gives
 * (`parsed`, when parse_rc is AH_OK). */
static void resolve_against(const ah__url *base, const uint8_t *ref, size_t n,
                            int parse_rc, const ah__url *parsed,
                            unsigned fail) {
  ah__url t;
  int rc = run(base, ref, n, &t);
  if (parse_rc == AH_OK) {
    FUZZ_CHECK(rc == AH_OK);
    FUZZ_CHECK(same_url(&t, parsed));
  }
  if (fail != 0)
    run_failing(base, ref, n, fail, rc, &t);
  ah__url_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_ctl ctl = {data, size, 0};
  unsigned fail = fuzz_u8(&ctl);
  const uint8_t *text, *nl, *ref;
  size_t len, a_len, ref_len;
  ah__url a, r;
  int a_rc, r_rc;

  if (fail > MAX_FAIL)
    fail = 0;
  fuzz_rest(data, size, CTL_BYTES, &text, &len);
  nl = len > 0 ? memchr(text, '\n', len) : NULL;
  a_len = nl != NULL ? (size_t)(nl - text) : len;
  ref = nl != NULL ? nl + 1 : text;
  ref_len = nl != NULL ? len - a_len - 1 : len;

  a_rc = run(NULL, text, a_len, &a);
  if (fail != 0)
    run_failing(NULL, text, a_len, fail, a_rc, &a);

  /* The reference on its own, for the absolute-equals-parse property. */
  if (nl != NULL) {
    r_rc = run(NULL, ref, ref_len, &r);
    if (fail != 0)
      run_failing(NULL, ref, ref_len, fail, r_rc, &r);
  } else {
    r_rc = a_rc;
    r = a;
  }

  if (a_rc == AH_OK)
    resolve_against(&a, ref, ref_len, r_rc, &r, fail);
  for (size_t i = 0; i < sizeof fixed_bases / sizeof fixed_bases[0]; i++) {
    ah__url base;
    FUZZ_CHECK(ah__url_parse(fixed_bases[i], strlen(fixed_bases[i]), &base) ==
               AH_OK);
    resolve_against(&base, ref, ref_len, r_rc, &r, 0);
    ah__url_free(&base);
  }

  if (nl != NULL)
    ah__url_free(&r);
  ah__url_free(&a);
  return 0;
}
