/*
 * test_cookie_jar.c - the cookie jar (src/request/cookie_jar.c): RFC 6265's
 * examples and rules (dates, Max-Age, Domain, Path, Secure, public
 * suffixes through libpsl), the limits, the Netscape cookie file, and
 * allocation failures. No network; files live in a fresh folder under /tmp.
 */
#include "test_main.h"

#include "ahttp.h"
#include "request/cookie_jar.h"
#include "util/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 2023-11-14 22:13:20 UTC. */
#define NOW INT64_C(1700000000)
/* 2020-09-13, before the dates of RFC 6265's examples. */
#define RFC_NOW INT64_C(1600000000)

/* ---- helpers ---- */

static ah__cookie_jar *jar_new(void) {
  ah__cookie_jar *jar = NULL;
  assert_int_equal(ah__cookie_jar_new(&jar), AH_OK);
  assert_non_null(jar);
  return jar;
}

/* Stores a Set-Cookie value; returns 1 if accepted, 0 if rejected. */
static int set_at(ah__cookie_jar *jar, const char *host, const char *path,
                  int secure, int64_t now, const char *value) {
  ah_cookie_history h;
  memset(&h, 0x55, sizeof h);
  assert_int_equal(ah__cookie_jar_store(jar, value, strlen(value), host, path,
                                        secure, now, &h),
                   AH_OK);
  assert_int_equal(h.accepted + h.rejected, 1);
  assert_int_equal(h.leashed, 0);
  assert_int_equal(h.downgraded, 0);
  return h.accepted;
}

static int set(ah__cookie_jar *jar, const char *host, const char *path,
               const char *value) {
  return set_at(jar, host, path, 0, NOW, value);
}

/* Asserts the Cookie value (NULL: none) for a request. */
static void header_at(ah__cookie_jar *jar, const char *host, const char *path,
                      int secure, int64_t now, const char *expected) {
  char *out = (char *)1;
  size_t count = 99;
  assert_int_equal(
      ah__cookie_jar_header(jar, host, path, secure, now, &out, &count), AH_OK);
  if (expected == NULL) {
    assert_null(out);
    assert_int_equal(count, 0);
    return;
  }
  assert_non_null(out);
  assert_string_equal(out, expected);
  {
    size_t semis = 0;
    for (const char *p = out; *p != '\0'; p++)
      semis += *p == ';';
    assert_int_equal(count, semis + 1);
  }
  ah__free(out);
}

static void header(ah__cookie_jar *jar, const char *host, const char *path,
                   const char *expected) {
  header_at(jar, host, path, 0, NOW, expected);
}

/* The view of the cookie named `name` (the first one), or fails. */
static ah__cookie_view view_of(const ah__cookie_jar *jar, const char *name) {
  ah__cookie_view v;
  for (size_t i = 0; i < ah__cookie_jar_count(jar); i++) {
    assert_int_equal(ah__cookie_jar_at(jar, i, &v), AH_OK);
    if (strcmp(v.name, name) == 0)
      return v;
  }
  fail_msg("no cookie named %s", name);
  return v;
}

static int has_cookie(const ah__cookie_jar *jar, const char *name) {
  ah__cookie_view v;
  for (size_t i = 0; i < ah__cookie_jar_count(jar); i++) {
    assert_int_equal(ah__cookie_jar_at(jar, i, &v), AH_OK);
    if (strcmp(v.name, name) == 0)
      return 1;
  }
  return 0;
}

/* A fresh folder under /tmp; the test removes what it made. */
static void make_dir(char *dir, size_t size) {
  snprintf(dir, size, "/tmp/ah-cookie-test-XXXXXX");
  assert_non_null(mkdtemp(dir));
}

/* Removes the files in dir (not recursive) and dir itself. */
static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[512];
  assert_non_null(d);
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    assert_int_equal(unlink(path), 0);
  }
  closedir(d);
  assert_int_equal(rmdir(dir), 0);
}

/* How many entries dir has (besides . and ..). */
static int dir_entries(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  assert_non_null(d);
  while ((e = readdir(d)) != NULL)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  assert_int_equal(fclose(f), 0);
}

/* The file's content (malloc'd, NUL-terminated). */
static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  char *buf = malloc(65536);
  size_t n;
  assert_non_null(f);
  assert_non_null(buf);
  n = fread(buf, 1, 65535, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static int64_t date(const char *text) {
  int64_t t = 0;
  assert_int_equal(ah__cookie_parse_date(text, strlen(text), &t), 1);
  return t;
}

/* ---- RFC 6265 section 3.1's examples ---- */

static void rfc_sid_cookie_is_sent_back(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "www.example.com", "/", "SID=31d4d96e407aad42"));
  header(jar, "www.example.com", "/", "SID=31d4d96e407aad42");
  header(jar, "www.example.com", "/any/where", "SID=31d4d96e407aad42");
  ah__cookie_jar_free(jar);
}

static void rfc_domain_and_path_reach_subdomains(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "www.example.com", "/a/b",
                  "SID=31d4d96e407aad42; Path=/; Domain=example.com"));
  header(jar, "example.com", "/", "SID=31d4d96e407aad42");
  header(jar, "www.example.com", "/x", "SID=31d4d96e407aad42");
  header(jar, "deep.sub.example.com", "/", "SID=31d4d96e407aad42");
  header(jar, "notexample.com", "/", NULL);
  header(jar, "example.org", "/", NULL);
  assert_false(view_of(jar, "SID").host_only);
  ah__cookie_jar_free(jar);
}

static void rfc_secure_httponly_sent_only_over_tls(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set_at(jar, "www.example.com", "/", 1, NOW,
                     "SID=31d4d96e407aad42; Path=/; Secure; HttpOnly"));
  assert_true(set_at(jar, "www.example.com", "/", 1, NOW,
                     "lang=en-US; Path=/; Domain=example.com"));
  header_at(jar, "www.example.com", "/", 1, NOW,
            "SID=31d4d96e407aad42; lang=en-US");
  header_at(jar, "www.example.com", "/", 0, NOW, "lang=en-US");
  assert_true(view_of(jar, "SID").secure);
  assert_true(view_of(jar, "SID").http_only);
  ah__cookie_jar_free(jar);
}

static void rfc_expires_in_future_persists(void **state) {
  ah__cookie_jar *jar = jar_new();
  ah__cookie_view v;
  (void)state;
  assert_true(set_at(jar, "www.example.com", "/", 1, RFC_NOW,
                     "SID=31d4d96e407aad42; Path=/; Secure; HttpOnly"));
  assert_true(set_at(jar, "www.example.com", "/", 1, RFC_NOW,
                     "lang=en-US; Expires=Wed, 09 Jun 2021 10:18:14 GMT"));
  header_at(jar, "www.example.com", "/", 1, RFC_NOW,
            "SID=31d4d96e407aad42; lang=en-US");
  v = view_of(jar, "lang");
  assert_true(v.persistent);
  assert_int_equal(v.expiry, 1623233894);
  assert_false(view_of(jar, "SID").persistent);
  /* A second past its expiry it is gone. */
  header_at(jar, "www.example.com", "/", 1, 1623233894, "SID=31d4d96e407aad42");
  ah__cookie_jar_free(jar);
}

static void rfc_expires_in_past_deletes(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set_at(jar, "www.example.com", "/", 1, RFC_NOW,
                     "SID=31d4d96e407aad42; Path=/; Secure; HttpOnly"));
  assert_true(set_at(jar, "www.example.com", "/", 1, RFC_NOW,
                     "lang=en-US; Expires=Wed, 09 Jun 2021 10:18:14 GMT"));
  /* The deletion is honoured, hence "accepted". */
  assert_true(set_at(jar, "www.example.com", "/", 1, RFC_NOW,
                     "lang=; Expires=Sun, 06 Nov 1994 08:49:37 GMT"));
  header_at(jar, "www.example.com", "/", 1, RFC_NOW, "SID=31d4d96e407aad42");
  assert_int_equal(ah__cookie_jar_count(jar), 1);
  ah__cookie_jar_free(jar);
}

/* ---- Set-Cookie syntax (5.2) ---- */

static void name_and_value_are_trimmed(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "a.test", "/", " \t name \t= \t va lue \t; Path=/"));
  header(jar, "a.test", "/", "name=va lue");
  ah__cookie_jar_free(jar);
}

static void pair_without_equals_is_rejected(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_false(set(jar, "a.test", "/", "justavalue"));
  assert_false(set(jar, "a.test", "/", "novalue; a=b"));
  assert_false(set(jar, "a.test", "/", ""));
  assert_int_equal(ah__cookie_jar_count(jar), 0);
  ah__cookie_jar_free(jar);
}

static void empty_name_is_rejected(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_false(set(jar, "a.test", "/", "=value"));
  assert_false(set(jar, "a.test", "/", "  =value; Path=/"));
  assert_int_equal(ah__cookie_jar_count(jar), 0);
  ah__cookie_jar_free(jar);
}

static void empty_value_is_accepted(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "a.test", "/", "empty="));
  assert_true(set(jar, "a.test", "/", "b=2"));
  header(jar, "a.test", "/", "empty=; b=2");
  ah__cookie_jar_free(jar);
}

static void control_characters_are_rejected(void **state) {
  static const char *const bad[] = {
      "a=b\rc",     "a=b\nc", "a=b\x01",           "a\x7f=b",
      "a=b\tc",     "a\tb=c", "a=b; Path=/x\r\ny", "a=b; Path=/x\ty",
      "a=b; x=\x1f"};
  ah__cookie_jar *jar = jar_new();
  ah_cookie_history h;
  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_false(set(jar, "a.test", "/", bad[i]));
  /* A NUL byte in the middle of the field. */
  assert_int_equal(
      ah__cookie_jar_store(jar, "a=b\0c", 5, "a.test", "/", 0, NOW, &h), AH_OK);
  assert_int_equal(h.rejected, 1);
  assert_int_equal(ah__cookie_jar_count(jar), 0);
  /* Tabs as whitespace around the parts are fine. */
  assert_true(set(jar, "a.test", "/", "a\t=\tb\t;\tPath=/"));
  header(jar, "a.test", "/", "a=b");
  ah__cookie_jar_free(jar);
}

static void name_plus_value_limit(void **state) {
  ah__cookie_jar *jar = jar_new();
  char *big = malloc(AH__COOKIE_MAX_PAIR + 16);
  (void)state;
  assert_non_null(big);
  /* name "n" + value of 4095 bytes: exactly the limit. */
  big[0] = 'n';
  big[1] = '=';
  memset(big + 2, 'v', AH__COOKIE_MAX_PAIR - 1);
  big[AH__COOKIE_MAX_PAIR + 1] = '\0';
  assert_true(set(jar, "a.test", "/", big));
  /* One byte more: rejected, and the stored one stays. */
  big[AH__COOKIE_MAX_PAIR + 1] = 'v';
  big[AH__COOKIE_MAX_PAIR + 2] = '\0';
  assert_false(set(jar, "a.test", "/", big));
  assert_int_equal(ah__cookie_jar_count(jar), 1);
  assert_int_equal(strlen(view_of(jar, "n").value), AH__COOKIE_MAX_PAIR - 1);
  free(big);
  ah__cookie_jar_free(jar);
}

static void long_attribute_value_is_ignored(void **state) {
  ah__cookie_jar *jar = jar_new();
  char sc[2200];
  (void)state;
  /* Path of 1025 bytes: ignored, so the default path applies. */
  snprintf(sc, sizeof sc, "a=1; Path=/%01024d", 0);
  assert_true(set(jar, "a.test", "/dir/page", sc));
  assert_string_equal(view_of(jar, "a").path, "/dir");
  /* 1024 bytes are kept. */
  snprintf(sc, sizeof sc, "b=1; Path=/%01023d", 0);
  assert_true(set(jar, "a.test", "/dir/page", sc));
  assert_int_equal(strlen(view_of(jar, "b").path), 1024);
  ah__cookie_jar_free(jar);
}

static void unknown_attributes_are_ignored(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "a.test", "/",
                  "a=1; Priority=High; Partitioned; =x; ;; foo=bar; Path=/"));
  header(jar, "a.test", "/", "a=1");
  ah__cookie_jar_free(jar);
}

static void attribute_names_ignore_case(void **state) {
  ah__cookie_jar *jar = jar_new();
  ah__cookie_view v;
  (void)state;
  assert_true(set_at(jar, "www.a.test", "/", 1, NOW,
                     "a=1; PATH=/p; dOmAiN=A.TEST; SECURE; httponly; "
                     "MAX-AGE=60; SameSite=LAX"));
  v = view_of(jar, "a");
  assert_string_equal(v.path, "/p");
  assert_string_equal(v.domain, "a.test");
  assert_false(v.host_only);
  assert_true(v.secure);
  assert_true(v.http_only);
  assert_true(v.persistent);
  assert_int_equal(v.expiry, NOW + 60);
  assert_int_equal(v.same_site, AH__SAME_SITE_LAX);
  ah__cookie_jar_free(jar);
}

static void last_domain_and_path_attributes_win(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "www.a.test", "/",
                  "a=1; Domain=other.test; Path=/x; Domain=a.test; Path=/y"));
  assert_string_equal(view_of(jar, "a").domain, "a.test");
  assert_string_equal(view_of(jar, "a").path, "/y");
  /* A later invalid Path means the default path, not the earlier one. */
  assert_true(set(jar, "www.a.test", "/d/page", "b=1; Path=/x; Path=rel"));
  assert_string_equal(view_of(jar, "b").path, "/d");
  ah__cookie_jar_free(jar);
}

static void same_site_is_parsed_and_stored(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "a.test", "/", "s=1; SameSite=Strict"));
  assert_true(set(jar, "a.test", "/", "l=1; SameSite=lax"));
  assert_true(set(jar, "a.test", "/", "n=1; SameSite=None"));
  assert_true(set(jar, "a.test", "/", "d=1; SameSite=bogus"));
  assert_true(set(jar, "a.test", "/", "e=1"));
  assert_int_equal(view_of(jar, "s").same_site, AH__SAME_SITE_STRICT);
  assert_int_equal(view_of(jar, "l").same_site, AH__SAME_SITE_LAX);
  assert_int_equal(view_of(jar, "n").same_site, AH__SAME_SITE_NONE);
  assert_int_equal(view_of(jar, "d").same_site, AH__SAME_SITE_DEFAULT);
  assert_int_equal(view_of(jar, "e").same_site, AH__SAME_SITE_DEFAULT);
  /* No effect on sending: not a browser. */
  header(jar, "a.test", "/", "s=1; l=1; n=1; d=1; e=1");
  ah__cookie_jar_free(jar);
}

static void http_only_is_stored_and_sent(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "a.test", "/", "h=1; HttpOnly"));
  assert_true(view_of(jar, "h").http_only);
  header(jar, "a.test", "/", "h=1");
  ah__cookie_jar_free(jar);
}

static void invalid_parameters(void **state) {
  ah__cookie_jar *jar = jar_new();
  ah_cookie_history h;
  char *out;
  size_t count;
  (void)state;
  assert_int_equal(
      ah__cookie_jar_store(NULL, "a=1", 3, "a.test", "/", 0, NOW, &h),
      AH_ERR_INVALID_PARAMETER);
  assert_int_equal(h.rejected, 1);
  assert_int_equal(
      ah__cookie_jar_store(jar, NULL, 0, "a.test", "/", 0, NOW, &h),
      AH_ERR_INVALID_PARAMETER);
  assert_int_equal(ah__cookie_jar_store(jar, "a=1", 3, NULL, "/", 0, NOW, &h),
                   AH_ERR_INVALID_PARAMETER);
  /* history and path may be NULL. */
  assert_int_equal(
      ah__cookie_jar_store(jar, "a=1", 3, "a.test", NULL, 0, NOW, NULL), AH_OK);
  assert_int_equal(
      ah__cookie_jar_header(NULL, "a.test", "/", 0, NOW, &out, &count),
      AH_ERR_INVALID_PARAMETER);
  assert_null(out);
  assert_int_equal(
      ah__cookie_jar_header(jar, "a.test", NULL, 0, NOW, &out, NULL), AH_OK);
  assert_string_equal(out, "a=1");
  ah__free(out);
  /* An empty host gets nothing. */
  assert_false(set(jar, "", "/", "b=1"));
  ah__cookie_jar_free(jar);
  ah__cookie_jar_free(NULL);
}

/* ---- dates (5.1.1) ---- */

static void date_formats_are_accepted(void **state) {
  static const char *const same[] = {
      "Sun, 06 Nov 1994 08:49:37 GMT",        /* RFC 1123 */
      "Sunday, 06-Nov-94 08:49:37 GMT",       /* RFC 850 */
      "Sun Nov  6 08:49:37 1994",             /* asctime */
      "Sun, 6 Nov 1994 8:49:37 GMT",          /* no leading zeros */
      "06 Nov 1994 08:49:37",                 /* no weekday, no zone */
      "1994 Nov 06 08:49:37",                 /* year first */
      "08:49:37 06 Nov 1994",                 /* time first */
      "Sun, 06-Nov-1994 08:49:37 GMT",        /* dashes, 4-digit year */
      "Sun, 06 November 1994 08:49:37 GMT",   /* the month spelled out */
      "sun, 06 nov 1994 08:49:37 gmt",        /* any case */
      "Sun,06 Nov 1994 08:49:37 +0000",       /* a numeric zone: ignored */
      "Sun, 06 Nov 1994 08:49:37 GMT junk 7", /* trailing tokens */
      "  ;06/Nov/1994;08:49:37;",             /* odd delimiters */
      "06th Nov 1994 08:49:37",               /* digits then non-digits */
      "06 Nov 1994 08:49:37:99",              /* time then non-digit */
  };
  (void)state;
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
    int64_t t = 0;
    assert_int_equal(ah__cookie_parse_date(same[i], strlen(same[i]), &t), 1);
    assert_int_equal(t, 784111777);
  }
}

static void date_two_digit_years(void **state) {
  (void)state;
  assert_int_equal(date("06 Nov 94 08:49:37"), 784111777);
  assert_int_equal(date("06 Nov 69 08:49:37"), 3150953377); /* 2069 */
  assert_int_equal(date("06 Nov 70 00:00:00"), 26697600);   /* 1970 */
  assert_int_equal(date("01 Jan 00 00:00:00"), 946684800);  /* 2000 */
}

static void date_limits(void **state) {
  (void)state;
  assert_int_equal(date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  assert_int_equal(date("01 Jan 1601 00:00:00"), INT64_C(-11644473600));
  assert_int_equal(date("31 Dec 9999 23:59:59"), INT64_C(253402300799));
  assert_int_equal(date("29 Feb 2000 00:00:00"), 951782400);
  assert_int_equal(date("29 Feb 2020 00:00:00"), 1582934400);
}

static void invalid_dates_are_refused(void **state) {
  static const char *const bad[] = {
      "",
      "garbage",
      "Sun, 06 Nov 1994",      /* no time */
      "06 1994 08:49:37",      /* no month */
      "Nov 1994 08:49:37",     /* no day */
      "06 Nov 08:49:37",       /* no year */
      "32 Nov 1994 08:49:37",  /* day 32 */
      "00 Nov 1994 08:49:37",  /* day 0 */
      "06 Nov 1600 08:49:37",  /* before 1601 */
      "06 Nov 1994 24:00:00",  /* hour 24 */
      "06 Nov 1994 08:60:00",  /* minute 60 */
      "06 Nov 1994 08:49:60",  /* second 60 */
      "31 Apr 2020 00:00:00",  /* no such day */
      "29 Feb 2019 00:00:00",  /* not a leap year */
      "29 Feb 1900 00:00:00",  /* not a leap year */
      "06 Nov 19940 08:49:37", /* five-digit year */
      "06 Nov 1994 108:49:37", /* three-digit hour */
      "06 Nov 1994 08:49",     /* no seconds */
      "06 Nox 1994 08:49:37",  /* no such month */
  };
  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t t = 42;
    assert_int_equal(ah__cookie_parse_date(bad[i], strlen(bad[i]), &t), 0);
    assert_int_equal(t, 42);
  }
}

static void invalid_expires_is_ignored(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "a.test", "/", "a=1; Expires=tomorrow"));
  assert_false(view_of(jar, "a").persistent);
  /* The last valid Expires counts. */
  assert_true(set(jar, "a.test", "/",
                  "b=1; Expires=Wed, 09 Jun 2100 10:18:14 GMT; Expires=soon"));
  assert_true(view_of(jar, "b").persistent);
  assert_int_equal(view_of(jar, "b").expiry,
                   date("Wed, 09 Jun 2100 10:18:14 GMT"));
  ah__cookie_jar_free(jar);
}

/* ---- Max-Age (5.2.2) ---- */

static void max_age_wins_over_expires(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "a.test", "/",
                  "a=1; Max-Age=100; Expires=Wed, 09 Jun 2100 10:18:14 GMT"));
  assert_true(set(jar, "a.test", "/",
                  "b=1; Expires=Wed, 09 Jun 2100 10:18:14 GMT; Max-Age=100"));
  assert_int_equal(view_of(jar, "a").expiry, NOW + 100);
  assert_int_equal(view_of(jar, "b").expiry, NOW + 100);
  /* Max-Age keeps a cookie an Expires in the past would delete. */
  assert_true(set(jar, "a.test", "/",
                  "c=1; Expires=Sun, 06 Nov 1994 08:49:37 GMT; Max-Age=5"));
  header(jar, "a.test", "/", "a=1; b=1; c=1");
  header_at(jar, "a.test", "/", 0, NOW + 5, "a=1; b=1");
  header_at(jar, "a.test", "/", 0, NOW + 100, NULL);
  ah__cookie_jar_free(jar);
}

static void max_age_zero_or_negative_deletes(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "a.test", "/", "a=1"));
  assert_true(set(jar, "a.test", "/", "b=1"));
  assert_true(set(jar, "a.test", "/", "c=1"));
  assert_true(set(jar, "a.test", "/", "a=x; Max-Age=0"));
  assert_true(set(jar, "a.test", "/", "b=x; Max-Age=-1"));
  /* Max-Age=0 wins over a future Expires too. */
  assert_true(set(jar, "a.test", "/",
                  "c=x; Expires=Wed, 09 Jun 2100 10:18:14 GMT; Max-Age=-0"));
  header(jar, "a.test", "/", NULL);
  assert_int_equal(ah__cookie_jar_count(jar), 0);
  ah__cookie_jar_free(jar);
}

static void invalid_max_age_is_ignored(void **state) {
  static const char *const bad[] = {
      "a=1; Max-Age=abc", "a=1; Max-Age=",  "a=1; Max-Age=+5",
      "a=1; Max-Age=5s",  "a=1; Max-Age=-", "a=1; Max-Age=1 2"};
  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ah__cookie_jar *jar = jar_new();
    assert_true(set(jar, "a.test", "/", bad[i]));
    assert_false(view_of(jar, "a").persistent);
    ah__cookie_jar_free(jar);
  }
  {
    /* Falls back on Expires. */
    ah__cookie_jar *jar = jar_new();
    assert_true(set(jar, "a.test", "/",
                    "a=1; Max-Age=x; Expires=Wed, 09 Jun 2100 10:18:14 GMT"));
    assert_int_equal(view_of(jar, "a").expiry,
                     date("Wed, 09 Jun 2100 10:18:14 GMT"));
    ah__cookie_jar_free(jar);
  }
}

static void huge_max_age_saturates(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(
      set(jar, "a.test", "/", "a=1; Max-Age=99999999999999999999999999999999"));
  assert_true(view_of(jar, "a").persistent);
  assert_int_equal(view_of(jar, "a").expiry, INT64_MAX);
  assert_true(set(jar, "a.test", "/", "b=1; Max-Age=9223372036854775807"));
  assert_int_equal(view_of(jar, "b").expiry, INT64_MAX);
  header_at(jar, "a.test", "/", 0, INT64_MAX - 1, "a=1; b=1");
  ah__cookie_jar_free(jar);
}

static void last_max_age_wins(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "a.test", "/", "a=1; Max-Age=0; Max-Age=50"));
  assert_int_equal(view_of(jar, "a").expiry, NOW + 50);
  assert_true(set(jar, "a.test", "/", "a=1; Max-Age=50; Max-Age=0"));
  assert_int_equal(ah__cookie_jar_count(jar), 0);
  ah__cookie_jar_free(jar);
}

/* ---- Domain (5.1.3, 5.2.3, 5.3 steps 4-6) ---- */

static void domain_match_table(void **state) {
  static const struct {
    const char *host, *domain;
    int match;
  } cases[] = {
      {"example.com", "example.com", 1},
      {"www.example.com", "example.com", 1},
      {"a.b.example.com", "example.com", 1},
      {"WWW.Example.COM", "example.com", 1},
      {"example.com", "www.example.com", 0},
      {"wwwexample.com", "example.com", 0},
      {"example.com.evil", "example.com", 0},
      {"xexample.com", "example.com", 0},
      {"com", "example.com", 0},
      {"127.0.0.1", "127.0.0.1", 1},
      {"127.0.0.1", "0.0.1", 0},
      {"10.0.0.1", "0.1", 0},
      {"::1", "::1", 1},
      {"fe80::1", "1", 0},
      {"a.example.com", ".example.com", 0},
  };
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_int_equal(ah__cookie_domain_match(cases[i].host, cases[i].domain),
                     cases[i].match);
}

static void domain_leading_dot_is_ignored(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "www.example.com", "/", "a=1; Domain=.example.com"));
  assert_string_equal(view_of(jar, "a").domain, "example.com");
  assert_false(view_of(jar, "a").host_only);
  header(jar, "other.example.com", "/", "a=1");
  ah__cookie_jar_free(jar);
}

static void domain_of_another_site_is_rejected(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_false(set(jar, "www.example.com", "/", "a=1; Domain=example.org"));
  assert_false(set(jar, "www.example.com", "/", "a=1; Domain=ww.example.com"));
  assert_false(
      set(jar, "www.example.com", "/", "a=1; Domain=a.www.example.com"));
  assert_false(set(jar, "example.com", "/", "a=1; Domain=www.example.com"));
  assert_false(set(jar, "www.example.com", "/", "a=1; Domain=..example.com"));
  assert_false(set(jar, "www.example.com", "/", "a=1; Domain=example.com."));
  assert_int_equal(ah__cookie_jar_count(jar), 0);
  ah__cookie_jar_free(jar);
}

static void domain_attribute_is_lowercased(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "www.example.com", "/", "a=1; Domain=EXAMPLE.Com"));
  assert_string_equal(view_of(jar, "a").domain, "example.com");
  header(jar, "example.com", "/", "a=1");
  ah__cookie_jar_free(jar);
}

static void empty_domain_attribute_means_host_only(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "www.example.com", "/", "a=1; Domain="));
  assert_true(view_of(jar, "a").host_only);
  assert_string_equal(view_of(jar, "a").domain, "www.example.com");
  ah__cookie_jar_free(jar);
}

static void host_only_cookie_stays_on_its_host(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "example.com", "/", "a=1"));
  assert_true(view_of(jar, "a").host_only);
  header(jar, "example.com", "/", "a=1");
  header(jar, "EXAMPLE.COM", "/", "a=1");
  header(jar, "www.example.com", "/", NULL);
  header(jar, "xexample.com", "/", NULL);
  ah__cookie_jar_free(jar);
}

static void domain_equal_to_host_is_a_domain_cookie(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "example.com", "/", "a=1; Domain=example.com"));
  assert_false(view_of(jar, "a").host_only);
  header(jar, "www.example.com", "/", "a=1");
  ah__cookie_jar_free(jar);
}

static void ip_host_domain_must_equal_host(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "127.0.0.1", "/", "a=1"));
  assert_true(set(jar, "127.0.0.1", "/", "b=1; Domain=127.0.0.1"));
  assert_true(view_of(jar, "b").host_only);
  assert_false(set(jar, "127.0.0.1", "/", "c=1; Domain=0.0.1"));
  assert_false(set(jar, "127.0.0.1", "/", "c=1; Domain=1"));
  assert_true(set(jar, "::1", "/", "d=1; Domain=::1"));
  assert_false(set(jar, "::1", "/", "e=1; Domain=1"));
  header(jar, "127.0.0.1", "/", "a=1; b=1");
  header(jar, "::1", "/", "d=1");
  header(jar, "127.0.0.2", "/", NULL);
  ah__cookie_jar_free(jar);
}

/* ---- Path (5.1.4) ---- */

static void path_match_table(void **state) {
  static const struct {
    const char *request, *cookie;
    int match;
  } cases[] = {
      {"/", "/", 1},         {"/a", "/", 1},         {"/a", "/a", 1},
      {"/a/", "/a", 1},      {"/a/b", "/a", 1},      {"/a/b", "/a/", 1},
      {"/ab", "/a", 0},      {"/a", "/a/", 0},       {"/", "/a", 0},
      {"/A", "/a", 0},       {"/a/b/c", "/a/b", 1},  {"/a/bc", "/a/b", 0},
      {"/docs", "/docs", 1}, {"/docsx", "/docs", 0}, {"/docs/x", "/docs/", 1},
  };
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_int_equal(ah__cookie_path_match(cases[i].request, cases[i].cookie),
                     cases[i].match);
}

static void default_path_table(void **state) {
  static const struct {
    const char *request, *path;
  } cases[] = {
      {"/", "/"},
      {"", "/"},
      {"/a", "/"},
      {"/a/", "/a"},
      {"/a/b", "/a"},
      {"/a/b/c.html", "/a/b"},
      {"/a/b?x=/y/z", "/a"},
      {"x/y", "/"},
      {"//", "/"},
      {"/a//b", "/a/"},
      {"?q=/a/b", "/"},
  };
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ah__cookie_jar *jar = jar_new();
    assert_true(set(jar, "a.test", cases[i].request, "a=1"));
    assert_string_equal(view_of(jar, "a").path, cases[i].path);
    ah__cookie_jar_free(jar);
  }
}

static void relative_path_attribute_means_default(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "a.test", "/x/y/z", "a=1; Path=rel/ative"));
  assert_true(set(jar, "a.test", "/x/y/z", "b=1; Path="));
  assert_string_equal(view_of(jar, "a").path, "/x/y");
  assert_string_equal(view_of(jar, "b").path, "/x/y");
  ah__cookie_jar_free(jar);
}

static void cookie_is_sent_only_under_its_path(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "a.test", "/", "a=1; Path=/docs"));
  header(jar, "a.test", "/docs", "a=1");
  header(jar, "a.test", "/docs/", "a=1");
  header(jar, "a.test", "/docs/x/y", "a=1");
  header(jar, "a.test", "/docs?q=1", "a=1");
  header(jar, "a.test", "/docsx", NULL);
  header(jar, "a.test", "/", NULL);
  header(jar, "a.test", "/Docs", NULL);
  ah__cookie_jar_free(jar);
}

/* ---- public suffixes (5.3 step 5, through libpsl) ---- */

static void public_suffix_com_is_rejected(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_false(set(jar, "www.example.com", "/", "a=1; Domain=com"));
  assert_false(set(jar, "www.example.com", "/", "a=1; Domain=.com"));
  assert_false(set(jar, "www.example.com", "/", "a=1; Domain=COM"));
  assert_int_equal(ah__cookie_jar_count(jar), 0);
  ah__cookie_jar_free(jar);
}

static void public_suffix_co_uk_is_rejected(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_false(set(jar, "www.example.co.uk", "/", "a=1; Domain=co.uk"));
  assert_false(set(jar, "www.example.co.uk", "/", "a=1; Domain=uk"));
  assert_true(set(jar, "www.example.co.uk", "/", "a=1; Domain=example.co.uk"));
  header(jar, "shop.example.co.uk", "/", "a=1");
  header(jar, "other.co.uk", "/", NULL);
  ah__cookie_jar_free(jar);
}

static void public_suffix_github_io_is_rejected_from_user_site(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  /* github.io is on the list's private part: users' sites are separate. */
  assert_false(set(jar, "alice.github.io", "/", "a=1; Domain=github.io"));
  assert_true(set(jar, "alice.github.io", "/", "a=1; Domain=alice.github.io"));
  header(jar, "alice.github.io", "/", "a=1");
  header(jar, "bob.github.io", "/", NULL);
  ah__cookie_jar_free(jar);
}

static void registrable_domain_is_accepted(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "www.example.com", "/", "a=1; Domain=example.com"));
  header(jar, "example.com", "/", "a=1");
  header(jar, "api.example.com", "/", "a=1");
  ah__cookie_jar_free(jar);
}

static void public_suffix_host_sets_host_only_cookie(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "github.io", "/", "a=1"));
  assert_true(view_of(jar, "a").host_only);
  header(jar, "github.io", "/", "a=1");
  header(jar, "alice.github.io", "/", NULL);
  ah__cookie_jar_free(jar);
}

static void public_suffix_domain_equal_to_host_is_host_only(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  /* 5.3 step 5: the Domain is the request host itself. */
  assert_true(set(jar, "github.io", "/", "a=1; Domain=github.io"));
  assert_true(set(jar, "localhost", "/", "b=1; Domain=localhost"));
  assert_true(view_of(jar, "a").host_only);
  assert_true(view_of(jar, "b").host_only);
  header(jar, "alice.github.io", "/", NULL);
  header(jar, "github.io", "/", "a=1");
  header(jar, "a.localhost", "/", NULL);
  /* A name not on the list is a suffix too (the "*" rule). */
  assert_false(set(jar, "a.localhost", "/", "c=1; Domain=localhost"));
  ah__cookie_jar_free(jar);
}

/* ---- Secure ---- */

static void secure_cookie_over_http_is_rejected(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_false(set_at(jar, "a.test", "/", 0, NOW, "a=1; Secure"));
  assert_int_equal(ah__cookie_jar_count(jar), 0);
  assert_true(set_at(jar, "a.test", "/", 1, NOW, "a=1; Secure"));
  ah__cookie_jar_free(jar);
}

static void secure_cookie_is_not_sent_over_http(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set_at(jar, "a.test", "/", 1, NOW, "s=1; Secure"));
  assert_true(set_at(jar, "a.test", "/", 1, NOW, "p=1"));
  header_at(jar, "a.test", "/", 1, NOW, "s=1; p=1");
  header_at(jar, "a.test", "/", 0, NOW, "p=1");
  ah__cookie_jar_free(jar);
}

static void http_cannot_overwrite_secure_cookie(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set_at(jar, "www.a.test", "/", 1, NOW,
                     "s=1; Secure; Domain=a.test; Path=/"));
  /* Same name from http: not over it, not a subdomain, not a deletion. */
  assert_false(set_at(jar, "www.a.test", "/", 0, NOW, "s=2; Domain=a.test"));
  assert_false(set_at(jar, "www.a.test", "/", 0, NOW, "s=2"));
  assert_false(set_at(jar, "www.a.test", "/", 0, NOW, "s=2; Path=/deeper"));
  assert_false(set_at(jar, "www.a.test", "/", 0, NOW, "s=; Max-Age=0"));
  header_at(jar, "www.a.test", "/", 1, NOW, "s=1");
  /* Another name, or an unrelated domain, is fine. */
  assert_true(set_at(jar, "www.a.test", "/", 0, NOW, "t=2"));
  assert_true(set_at(jar, "b.test", "/", 0, NOW, "s=2"));
  /* Over https the Secure cookie can be replaced. */
  assert_true(
      set_at(jar, "www.a.test", "/", 1, NOW, "s=3; Domain=a.test; Path=/"));
  header_at(jar, "www.a.test", "/", 0, NOW, "s=3; t=2");
  ah__cookie_jar_free(jar);
}

static void secure_prefix_needs_secure(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_false(set_at(jar, "a.test", "/", 1, NOW, "__Secure-a=1"));
  assert_false(set_at(jar, "a.test", "/", 0, NOW, "__Secure-a=1; Secure"));
  assert_false(set_at(jar, "a.test", "/", 1, NOW, "__secure-a=1"));
  assert_true(set_at(jar, "a.test", "/", 1, NOW, "__Secure-a=1; Secure"));
  ah__cookie_jar_free(jar);
}

static void host_prefix_rules(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_false(set_at(jar, "www.a.test", "/", 1, NOW, "__Host-a=1; Path=/"));
  assert_false(set_at(jar, "www.a.test", "/", 1, NOW, "__Host-a=1; Secure"));
  assert_false(
      set_at(jar, "www.a.test", "/", 1, NOW, "__Host-a=1; Secure; Path=/x"));
  assert_false(set_at(jar, "www.a.test", "/", 1, NOW,
                      "__Host-a=1; Secure; Path=/; Domain=a.test"));
  assert_true(
      set_at(jar, "www.a.test", "/x", 1, NOW, "__Host-a=1; Secure; Path=/"));
  assert_true(view_of(jar, "__Host-a").host_only);
  ah__cookie_jar_free(jar);
}

/* ---- storage (5.3 steps 11-12) and sending (5.4) ---- */

static void replacement_keeps_creation_time(void **state) {
  ah__cookie_jar *jar = jar_new();
  ah__cookie_view before, after;
  (void)state;
  assert_true(set_at(jar, "a.test", "/", 0, NOW, "a=1"));
  assert_true(set_at(jar, "a.test", "/", 0, NOW + 1, "b=2"));
  before = view_of(jar, "a");
  assert_true(set_at(jar, "a.test", "/", 0, NOW + 2, "a=3; HttpOnly"));
  after = view_of(jar, "a");
  assert_int_equal(after.creation, before.creation);
  assert_int_equal(after.last_access, NOW + 2);
  assert_true(after.http_only);
  assert_int_equal(ah__cookie_jar_count(jar), 2);
  /* Still first among equal paths. */
  header_at(jar, "a.test", "/", 0, NOW + 2, "a=3; b=2");
  ah__cookie_jar_free(jar);
}

static void name_domain_and_path_identify_a_cookie(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "www.a.test", "/", "a=1"));
  assert_true(set(jar, "www.a.test", "/", "a=2; Domain=a.test"));
  assert_true(set(jar, "www.a.test", "/", "a=3; Path=/p"));
  assert_true(set(jar, "www.a.test", "/", "A=4"));
  assert_int_equal(ah__cookie_jar_count(jar), 4);
  header(jar, "www.a.test", "/p", "a=3; a=1; a=2; A=4");
  /* The host-only and the domain cookie for the same domain are one. */
  assert_true(set(jar, "a.test", "/", "b=1"));
  assert_true(set(jar, "a.test", "/", "b=2; Domain=a.test"));
  header(jar, "a.test", "/", "a=2; b=2");
  header(jar, "www.a.test", "/", "a=1; a=2; A=4; b=2");
  ah__cookie_jar_free(jar);
}

static void header_order_longer_paths_first(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set_at(jar, "a.test", "/", 0, NOW, "a=1; Path=/"));
  assert_true(set_at(jar, "a.test", "/", 0, NOW, "b=2; Path=/x/y"));
  assert_true(set_at(jar, "a.test", "/", 0, NOW, "c=3; Path=/x"));
  assert_true(set_at(jar, "a.test", "/", 0, NOW, "d=4; Path=/"));
  assert_true(set_at(jar, "a.test", "/", 0, NOW, "e=5; Path=/x/"));
  header(jar, "a.test", "/x/y/z", "b=2; e=5; c=3; a=1; d=4");
  header(jar, "a.test", "/x", "c=3; a=1; d=4");
  ah__cookie_jar_free(jar);
}

static void header_updates_last_access(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set_at(jar, "a.test", "/", 0, NOW, "a=1; Path=/a"));
  assert_true(set_at(jar, "a.test", "/", 0, NOW, "b=1; Path=/b"));
  header_at(jar, "a.test", "/a", 0, NOW + 50, "a=1");
  assert_int_equal(view_of(jar, "a").last_access, NOW + 50);
  assert_int_equal(view_of(jar, "b").last_access, NOW);
  ah__cookie_jar_free(jar);
}

static void expired_cookie_is_not_sent(void **state) {
  ah__cookie_jar *jar = jar_new();
  (void)state;
  assert_true(set(jar, "a.test", "/", "a=1; Max-Age=10"));
  assert_true(set(jar, "a.test", "/", "s=1"));
  header_at(jar, "a.test", "/", 0, NOW + 9, "a=1; s=1");
  header_at(jar, "a.test", "/", 0, NOW + 10, "s=1");
  assert_int_equal(ah__cookie_jar_count(jar), 1);
  ah__cookie_jar_free(jar);
}

/* ---- limits ---- */

static void per_domain_limit_evicts_least_recently_used(void **state) {
  ah__cookie_jar *jar = jar_new();
  char sc[64], path[16];
  (void)state;
  assert_true(set_at(jar, "other.test", "/", 0, NOW, "keep=1"));
  for (int i = 0; i < AH__COOKIE_MAX_PER_DOMAIN; i++) {
    snprintf(sc, sizeof sc, "c%d=1; Path=/p%d", i, i);
    assert_true(set_at(jar, "a.test", "/", 0, NOW + i, sc));
  }
  assert_int_equal(ah__cookie_jar_count(jar), AH__COOKIE_MAX_PER_DOMAIN + 1);
  /* c0 is sent now, so c1 is the least recently used. */
  snprintf(path, sizeof path, "/p0");
  header_at(jar, "a.test", path, 0, NOW + 100, "c0=1");
  assert_true(set_at(jar, "a.test", "/", 0, NOW + 101, "new=1"));
  assert_int_equal(ah__cookie_jar_count(jar), AH__COOKIE_MAX_PER_DOMAIN + 1);
  assert_true(has_cookie(jar, "c0"));
  assert_false(has_cookie(jar, "c1"));
  assert_true(has_cookie(jar, "c2"));
  assert_true(has_cookie(jar, "new"));
  assert_true(has_cookie(jar, "keep"));
  /* Replacing one evicts nothing. */
  assert_true(set_at(jar, "a.test", "/", 0, NOW + 102, "new=2"));
  assert_true(has_cookie(jar, "c2"));
  ah__cookie_jar_free(jar);
}

static void total_limit_evicts_least_recently_used(void **state) {
  ah__cookie_jar *jar = jar_new();
  char sc[64], host[64];
  int64_t t = NOW;
  (void)state;
  for (int d = 0; d < AH__COOKIE_MAX_TOTAL / AH__COOKIE_MAX_PER_DOMAIN; d++) {
    snprintf(host, sizeof host, "h%d.test", d);
    for (int i = 0; i < AH__COOKIE_MAX_PER_DOMAIN; i++) {
      snprintf(sc, sizeof sc, "c%d_%d=1", d, i);
      assert_true(set_at(jar, host, "/", 0, t++, sc));
    }
  }
  assert_int_equal(ah__cookie_jar_count(jar), AH__COOKIE_MAX_TOTAL);
  /* Send h0's cookies: h1's first one is now the least recently used. */
  {
    char *out = NULL;
    size_t count = 0;
    assert_int_equal(
        ah__cookie_jar_header(jar, "h0.test", "/", 0, t++, &out, &count),
        AH_OK);
    assert_int_equal(count, AH__COOKIE_MAX_PER_DOMAIN);
    ah__free(out);
  }
  assert_true(set_at(jar, "new.test", "/", 0, t++, "n=1"));
  assert_int_equal(ah__cookie_jar_count(jar), AH__COOKIE_MAX_TOTAL);
  assert_true(has_cookie(jar, "c0_0"));
  assert_false(has_cookie(jar, "c1_0"));
  assert_true(has_cookie(jar, "c1_1"));
  assert_true(has_cookie(jar, "n"));
  ah__cookie_jar_free(jar);
}

static void expired_cookies_are_evicted_first(void **state) {
  ah__cookie_jar *jar = jar_new();
  char sc[64];
  (void)state;
  for (int i = 0; i < AH__COOKIE_MAX_PER_DOMAIN - 1; i++) {
    snprintf(sc, sizeof sc, "c%d=1", i);
    assert_true(set_at(jar, "a.test", "/", 0, NOW, sc));
  }
  assert_true(set_at(jar, "a.test", "/", 0, NOW + 1, "short=1; Max-Age=5"));
  assert_int_equal(ah__cookie_jar_count(jar), AH__COOKIE_MAX_PER_DOMAIN);
  assert_true(set_at(jar, "a.test", "/", 0, NOW + 10, "new=1"));
  /* The expired one went; the least recently used one stays. */
  assert_false(has_cookie(jar, "short"));
  assert_true(has_cookie(jar, "c0"));
  assert_int_equal(ah__cookie_jar_count(jar), AH__COOKIE_MAX_PER_DOMAIN);
  ah__cookie_jar_free(jar);
}

/* ---- the Netscape cookie file ---- */

/* A jar with one cookie of each kind, set over https. */
static ah__cookie_jar *varied_jar(void) {
  ah__cookie_jar *jar = jar_new();
  assert_true(set_at(jar, "www.example.com", "/", 1, NOW, "host=1"));
  assert_true(set_at(jar, "www.example.com", "/", 1, NOW,
                     "dom=2; Domain=example.com; Max-Age=3600"));
  assert_true(
      set_at(jar, "www.example.com", "/", 1, NOW, "sec=3; Secure; Path=/app"));
  assert_true(set_at(jar, "www.example.com", "/", 1, NOW,
                     "ho=4; HttpOnly; Path=/app/x; Expires=Wed, 09 Jun 2100 "
                     "10:18:14 GMT"));
  assert_true(set_at(jar, "127.0.0.1", "/", 1, NOW, "ip=5"));
  assert_true(set_at(jar, "www.example.com", "/", 1, NOW, "empty="));
  assert_true(set_at(jar, "www.example.com", "/", 1, NOW, "sp=a b c"));
  return jar;
}

static void same_headers(ah__cookie_jar *a, ah__cookie_jar *b) {
  static const struct {
    const char *host, *path;
    int secure;
  } req[] = {
      {"www.example.com", "/", 0},
      {"www.example.com", "/", 1},
      {"www.example.com", "/app/x", 1},
      {"www.example.com", "/app/x/y", 0},
      {"example.com", "/", 0},
      {"a.example.com", "/app", 1},
      {"127.0.0.1", "/", 0},
      {"other.test", "/", 1},
  };
  for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
    char *x, *y;
    size_t nx, ny;
    assert_int_equal(ah__cookie_jar_header(a, req[i].host, req[i].path,
                                           req[i].secure, NOW, &x, &nx),
                     AH_OK);
    assert_int_equal(ah__cookie_jar_header(b, req[i].host, req[i].path,
                                           req[i].secure, NOW, &y, &ny),
                     AH_OK);
    assert_int_equal(nx, ny);
    if (x == NULL)
      assert_null(y);
    else
      assert_string_equal(x, y);
    ah__free(x);
    ah__free(y);
  }
}

static void save_load_round_trip(void **state) {
  ah__cookie_jar *jar = varied_jar(), *back = jar_new();
  char dir[64], path[128], detail[256];
  (void)state;
  make_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/cookies.txt", dir);
  assert_int_equal(ah__cookie_jar_save(jar, path, NOW, detail, sizeof detail),
                   AH_OK);
  assert_int_equal(ah__cookie_jar_load(back, path, NOW, detail, sizeof detail),
                   AH_OK);
  assert_int_equal(ah__cookie_jar_count(back), ah__cookie_jar_count(jar));
  same_headers(jar, back);
  for (size_t i = 0; i < ah__cookie_jar_count(jar); i++) {
    ah__cookie_view a, b;
    assert_int_equal(ah__cookie_jar_at(jar, i, &a), AH_OK);
    assert_int_equal(ah__cookie_jar_at(back, i, &b), AH_OK);
    assert_string_equal(a.name, b.name);
    assert_string_equal(a.value, b.value);
    assert_string_equal(a.domain, b.domain);
    assert_string_equal(a.path, b.path);
    assert_int_equal(a.expiry, b.expiry);
    assert_int_equal(a.host_only, b.host_only);
    assert_int_equal(a.secure, b.secure);
    assert_int_equal(a.http_only, b.http_only);
    assert_int_equal(a.persistent, b.persistent);
  }
  ah__cookie_jar_free(jar);
  ah__cookie_jar_free(back);
  remove_dir(dir);
}

static void saved_file_has_curl_format(void **state) {
  ah__cookie_jar *jar = varied_jar();
  char dir[64], path[128], line[256];
  char *text;
  struct stat st;
  (void)state;
  make_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/cookies.txt", dir);
  assert_int_equal(ah__cookie_jar_save(jar, path, NOW, NULL, 0), AH_OK);
  text = read_file(path);
  assert_true(strncmp(text, "# Netscape HTTP Cookie File\n", 28) == 0);
  assert_non_null(
      strstr(text, "\nwww.example.com\tFALSE\t/\tFALSE\t0\thost\t1\n"));
  snprintf(line, sizeof line, "\n.example.com\tTRUE\t/\tFALSE\t%lld\tdom\t2\n",
           (long long)(NOW + 3600));
  assert_non_null(strstr(text, line));
  assert_non_null(
      strstr(text, "\nwww.example.com\tFALSE\t/app\tTRUE\t0\tsec\t3\n"));
  snprintf(line, sizeof line,
           "\n#HttpOnly_www.example.com\tFALSE\t/app/x\tFALSE\t%lld\tho\t4\n",
           (long long)date("Wed, 09 Jun 2100 10:18:14 GMT"));
  assert_non_null(strstr(text, line));
  assert_non_null(strstr(text, "\n127.0.0.1\tFALSE\t/\tFALSE\t0\tip\t5\n"));
  assert_non_null(
      strstr(text, "\nwww.example.com\tFALSE\t/\tFALSE\t0\tempty\t\n"));
  free(text);
  /* Cookies are credentials: only the owner may read the file. */
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  ah__cookie_jar_free(jar);
  remove_dir(dir);
}

static void save_leaves_out_expired_cookies(void **state) {
  ah__cookie_jar *jar = jar_new();
  char dir[64], path[128];
  char *text;
  (void)state;
  make_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/cookies.txt", dir);
  assert_true(set(jar, "a.test", "/", "short=1; Max-Age=10"));
  assert_true(set(jar, "a.test", "/", "long=1; Max-Age=1000"));
  assert_int_equal(ah__cookie_jar_save(jar, path, NOW + 10, NULL, 0), AH_OK);
  text = read_file(path);
  assert_null(strstr(text, "short"));
  assert_non_null(strstr(text, "long"));
  free(text);
  ah__cookie_jar_free(jar);
  remove_dir(dir);
}

static void load_reads_curl_files(void **state) {
  ah__cookie_jar *jar = jar_new();
  char dir[64], path[128], detail[256];
  ah__cookie_view v;
  (void)state;
  make_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/cookies.txt", dir);
  write_file(path,
             "# Netscape HTTP Cookie File\r\n"
             "# https://curl.se/docs/http-cookies.html\n"
             "# This file was generated by libcurl! Edit at your own risk.\n"
             "\n"
             "   \t  \n"
             ".example.com\tTRUE\t/\tFALSE\t0\tdom\tv1\r\n"
             "www.example.com\tfalse\t/app\ttrue\t4102444800\tsec\tv 2\n"
             "#HttpOnly_www.example.com\tFALSE\t/\tFALSE\t0\tho\tv3\n"
             "#HttpOnly_.example.com\tTRUE\t/\tFALSE\t0\thod\tv4\n"
             "www.example.com\tFALSE\t/\tFALSE\t0\tnoval\n"
             "www.example.com\tFALSE\t/\tFALSE\t0\tempty\t\n"
             "127.0.0.1\tTRUE\t/\tFALSE\t0\tip\tv5"); /* no final newline */
  assert_int_equal(ah__cookie_jar_load(jar, path, NOW, detail, sizeof detail),
                   AH_OK);
  assert_int_equal(ah__cookie_jar_count(jar), 7);
  v = view_of(jar, "dom");
  assert_false(v.host_only);
  assert_string_equal(v.domain, "example.com");
  assert_false(v.persistent);
  v = view_of(jar, "sec");
  assert_true(v.secure);
  assert_true(v.host_only);
  assert_true(v.persistent);
  assert_int_equal(v.expiry, 4102444800);
  assert_string_equal(v.value, "v 2");
  assert_true(view_of(jar, "ho").http_only);
  assert_true(view_of(jar, "ho").host_only);
  assert_true(view_of(jar, "hod").http_only);
  assert_false(view_of(jar, "hod").host_only);
  assert_false(view_of(jar, "dom").http_only);
  assert_string_equal(view_of(jar, "noval").value, "");
  assert_true(view_of(jar, "ip").host_only);
  header_at(jar, "www.example.com", "/app", 1, NOW,
            "sec=v 2; dom=v1; ho=v3; hod=v4; noval=; empty=");
  header(jar, "api.example.com", "/", "dom=v1; hod=v4");
  header(jar, "127.0.0.1", "/", "ip=v5");
  ah__cookie_jar_free(jar);
  remove_dir(dir);
}

static void load_skips_expired_and_public_suffix_cookies(void **state) {
  ah__cookie_jar *jar = jar_new();
  char dir[64], path[128], text[512];
  (void)state;
  make_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/cookies.txt", dir);
  snprintf(text, sizeof text,
           "a.test\tFALSE\t/\tFALSE\t%lld\tgone\t1\n"
           "a.test\tFALSE\t/\tFALSE\t-5\tneg\t1\n"
           "a.test\tFALSE\t/\tFALSE\t%lld\tkept\t1\n"
           ".com\tTRUE\t/\tFALSE\t0\tpsl\t1\n"
           ".co.uk\tTRUE\t/\tFALSE\t0\tpsl2\t1\n"
           "a.test\tFALSE\t/\tFALSE\t0\tbad=name\t1\n"
           "a.test\tFALSE\t/\tFALSE\t0\tsemi\tx;y\n",
           (long long)NOW, (long long)(NOW + 1));
  write_file(path, text);
  assert_int_equal(ah__cookie_jar_load(jar, path, NOW, NULL, 0), AH_OK);
  assert_int_equal(ah__cookie_jar_count(jar), 1);
  assert_true(has_cookie(jar, "kept"));
  ah__cookie_jar_free(jar);
  remove_dir(dir);
}

static void load_replaces_cookies_and_keeps_others(void **state) {
  ah__cookie_jar *jar = jar_new();
  char dir[64], path[128];
  (void)state;
  make_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/cookies.txt", dir);
  assert_true(set(jar, "a.test", "/", "a=old"));
  assert_true(set(jar, "a.test", "/", "b=mine"));
  write_file(path, "a.test\tFALSE\t/\tFALSE\t0\ta\tnew\n"
                   "a.test\tFALSE\t/\tFALSE\t0\tc\tfile\n"
                   "a.test\tFALSE\t/\tFALSE\t0\tc\tfile2\n");
  assert_int_equal(ah__cookie_jar_load(jar, path, NOW, NULL, 0), AH_OK);
  header(jar, "a.test", "/", "a=new; b=mine; c=file2");
  ah__cookie_jar_free(jar);
  remove_dir(dir);
}

static void malformed_line_leaves_jar_unchanged(void **state) {
  static const char *const bad[] = {
      "a.test\tFALSE\t/\tFALSE\t0\n",              /* 5 fields */
      "a.test\tFALSE\t/\tFALSE\t0\tn\tv\textra\n", /* 8 fields */
      "a.test\tMAYBE\t/\tFALSE\t0\tn\tv\n",        /* flag */
      "a.test\tFALSE\t/\tyes\t0\tn\tv\n",          /* flag */
      "a.test\tFALSE\trel\tFALSE\t0\tn\tv\n",      /* path */
      "a.test\tFALSE\t/\tFALSE\tsoon\tn\tv\n",     /* expiry */
      "a.test\tFALSE\t/\tFALSE\t99999999999999999999\tn\tv\n",
      "\tFALSE\t/\tFALSE\t0\tn\tv\n",          /* domain */
      ".\tTRUE\t/\tFALSE\t0\tn\tv\n",          /* domain */
      "a.test\tFALSE\t/\tFALSE\t0\t\tv\n",     /* name */
      "a.test\tFALSE\t/\tFALSE\t0\tn\tv\rx\n", /* CR */
      "#HttpOnly_\n",                          /* nothing */
  };
  char dir[64], path[128], text[512], detail[256];
  (void)state;
  make_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/cookies.txt", dir);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ah__cookie_jar *jar = jar_new();
    assert_true(set(jar, "a.test", "/", "mine=1"));
    snprintf(text, sizeof text,
             "# comment\n"
             "a.test\tFALSE\t/\tFALSE\t0\tgood\t1\n"
             "%s"
             "a.test\tFALSE\t/\tFALSE\t0\tlater\t1\n",
             bad[i]);
    write_file(path, text);
    detail[0] = '\0';
    assert_int_equal(ah__cookie_jar_load(jar, path, NOW, detail, sizeof detail),
                     AH_ERR_INVALID_PARAMETER);
    assert_true(strncmp(detail, "line 3: ", 8) == 0);
    assert_int_equal(ah__cookie_jar_count(jar), 1);
    header(jar, "a.test", "/", "mine=1");
    ah__cookie_jar_free(jar);
  }
  remove_dir(dir);
}

static void load_refuses_nul_and_overlong_lines(void **state) {
  ah__cookie_jar *jar = jar_new();
  char dir[64], path[128], detail[256];
  char *big;
  FILE *f;
  (void)state;
  make_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/cookies.txt", dir);
  f = fopen(path, "wb");
  assert_non_null(f);
  fwrite("a.test\tFALSE\t/\tFALSE\t0\tn\tv\0w\n", 1, 29, f);
  fclose(f);
  assert_int_equal(ah__cookie_jar_load(jar, path, NOW, detail, sizeof detail),
                   AH_ERR_INVALID_PARAMETER);
  assert_string_equal(detail, "line 1: a control character");
  big = malloc(AH__COOKIE_MAX_LINE + 64);
  assert_non_null(big);
  snprintf(big, 64, "a.test\tFALSE\t/\tFALSE\t0\tn\t");
  memset(big + strlen(big), 'v', AH__COOKIE_MAX_LINE);
  big[AH__COOKIE_MAX_LINE + 20] = '\0';
  write_file(path, big);
  assert_int_equal(ah__cookie_jar_load(jar, path, NOW, detail, sizeof detail),
                   AH_ERR_INVALID_PARAMETER);
  assert_non_null(strstr(detail, "line 1: longer than"));
  assert_int_equal(ah__cookie_jar_count(jar), 0);
  free(big);
  ah__cookie_jar_free(jar);
  remove_dir(dir);
}

static void load_missing_file_is_a_system_error(void **state) {
  ah__cookie_jar *jar = jar_new();
  char detail[256];
  (void)state;
  assert_int_equal(ah__cookie_jar_load(jar, "/nonexistent-ahttp/cookies.txt",
                                       NOW, detail, sizeof detail),
                   AH_ERR_SYSTEM);
  assert_non_null(strstr(detail, strerror(ENOENT)));
  assert_int_equal(ah__cookie_jar_load(NULL, "x", NOW, NULL, 0),
                   AH_ERR_INVALID_PARAMETER);
  ah__cookie_jar_free(jar);
}

static void load_enforces_the_limits(void **state) {
  ah__cookie_jar *jar = jar_new();
  char dir[64], path[128], line[128];
  FILE *f;
  (void)state;
  make_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/cookies.txt", dir);
  f = fopen(path, "w");
  assert_non_null(f);
  for (int i = 0; i < 2 * AH__COOKIE_MAX_PER_DOMAIN; i++) {
    snprintf(line, sizeof line, "a.test\tFALSE\t/\tFALSE\t0\tc%d\t1\n", i);
    fputs(line, f);
  }
  fclose(f);
  assert_int_equal(ah__cookie_jar_load(jar, path, NOW, NULL, 0), AH_OK);
  assert_int_equal(ah__cookie_jar_count(jar), AH__COOKIE_MAX_PER_DOMAIN);
  /* The earliest lines went first. */
  assert_false(has_cookie(jar, "c0"));
  assert_true(has_cookie(jar, "c99"));
  ah__cookie_jar_free(jar);
  remove_dir(dir);
}

static void save_into_missing_folder_fails_cleanly(void **state) {
  ah__cookie_jar *jar = varied_jar();
  char detail[256];
  (void)state;
  detail[0] = '\0';
  assert_int_equal(ah__cookie_jar_save(jar, "/nonexistent-ahttp/dir/c.txt", NOW,
                                       detail, sizeof detail),
                   AH_ERR_SYSTEM);
  assert_non_null(strstr(detail, strerror(ENOENT)));
  assert_int_equal(ah__cookie_jar_save(NULL, "x", NOW, NULL, 0),
                   AH_ERR_INVALID_PARAMETER);
  ah__cookie_jar_free(jar);
}

static void failed_save_keeps_what_was_there(void **state) {
  ah__cookie_jar *jar = varied_jar();
  char dir[64], path[128], inner[160], detail[256];
  char *text;
  (void)state;
  make_dir(dir, sizeof dir);
  /* The target is a folder with a file in it: the rename must fail. */
  snprintf(path, sizeof path, "%s/cookies.txt", dir);
  assert_int_equal(mkdir(path, 0700), 0);
  snprintf(inner, sizeof inner, "%s/precious", path);
  write_file(inner, "keep me");
  assert_int_equal(ah__cookie_jar_save(jar, path, NOW, detail, sizeof detail),
                   AH_ERR_SYSTEM);
  assert_non_null(strstr(detail, "cookies.txt"));
  text = read_file(inner);
  assert_string_equal(text, "keep me");
  free(text);
  /* No temporary file is left beside it. */
  assert_int_equal(dir_entries(dir), 1);
  remove_dir(path);
  remove_dir(dir);
  ah__cookie_jar_free(jar);
}

static void save_replaces_an_existing_file(void **state) {
  ah__cookie_jar *jar = jar_new();
  char dir[64], path[128];
  char *text;
  (void)state;
  make_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/cookies.txt", dir);
  write_file(path, "old content\n");
  assert_true(set(jar, "a.test", "/", "a=1"));
  assert_int_equal(ah__cookie_jar_save(jar, path, NOW, NULL, 0), AH_OK);
  text = read_file(path);
  assert_null(strstr(text, "old content"));
  assert_non_null(strstr(text, "\ta\t1\n"));
  free(text);
  assert_int_equal(dir_entries(dir), 1);
  ah__cookie_jar_free(jar);
  remove_dir(dir);
}

/* ---- allocation failures ---- */

/* Fails the allocations after the first `n` of the next call. */
static void fail_after(unsigned long n) { ah__alloc_fail_from(n + 1, NULL); }

static char *header_text(ah__cookie_jar *jar, const char *host, int secure) {
  char *out = NULL;
  assert_int_equal(
      ah__cookie_jar_header(jar, host, "/", secure, NOW, &out, NULL), AH_OK);
  return out;
}

static void new_jar_out_of_memory(void **state) {
  ah__cookie_jar *jar = (ah__cookie_jar *)1;
  (void)state;
  fail_after(0);
  assert_int_equal(ah__cookie_jar_new(&jar), AH_ERR_NO_MEMORY);
  ah__alloc_fail_from(0, NULL);
  assert_null(jar);
}

static void store_out_of_memory(void **state) {
  unsigned long n;
  int rc = AH_ERR_NO_MEMORY;
  (void)state;
  for (n = 0; rc != AH_OK && n < 100; n++) {
    ah__cookie_jar *jar = jar_new();
    ah_cookie_history h;
    char *before, *after;
    /* 16 cookies fill the first array; the next one grows it. */
    for (int i = 0; i < 16; i++) {
      char sc[32];
      snprintf(sc, sizeof sc, "c%d=%d", i, i);
      assert_true(set(jar, "a.test", "/", sc));
    }
    before = header_text(jar, "a.test", 0);
    fail_after(n);
    rc = ah__cookie_jar_store(jar, "new=1", 5, "a.test", "/", 0, NOW, &h);
    ah__alloc_fail_from(0, NULL);
    assert_true(rc == AH_OK || rc == AH_ERR_NO_MEMORY);
    after = header_text(jar, "a.test", 0);
    if (rc == AH_ERR_NO_MEMORY) {
      assert_int_equal(h.rejected, 1);
      assert_string_equal(before, after);
      assert_int_equal(ah__cookie_jar_count(jar), 16);
    } else {
      assert_int_equal(h.accepted, 1);
      assert_int_equal(ah__cookie_jar_count(jar), 17);
    }
    ah__free(before);
    ah__free(after);
    ah__cookie_jar_free(jar);
  }
  assert_int_equal(rc, AH_OK);
  assert_true(n > 2); /* the cookie and the array both failed once */
}

static void header_out_of_memory(void **state) {
  ah__cookie_jar *jar = jar_new();
  unsigned long n;
  int rc = AH_ERR_NO_MEMORY;
  (void)state;
  assert_true(set_at(jar, "a.test", "/", 0, NOW, "a=1"));
  assert_true(set_at(jar, "a.test", "/", 0, NOW, "b=2"));
  for (n = 0; rc != AH_OK && n < 100; n++) {
    char *out = (char *)1;
    size_t count = 9;
    fail_after(n);
    rc = ah__cookie_jar_header(jar, "a.test", "/", 0, NOW + 5, &out, &count);
    ah__alloc_fail_from(0, NULL);
    if (rc == AH_ERR_NO_MEMORY) {
      assert_null(out);
      assert_int_equal(count, 0);
      /* Not sent, so not accessed. */
      assert_int_equal(view_of(jar, "a").last_access, NOW);
    } else {
      assert_int_equal(rc, AH_OK);
      assert_string_equal(out, "a=1; b=2");
      assert_int_equal(count, 2);
      ah__free(out);
    }
  }
  assert_int_equal(rc, AH_OK);
  assert_int_equal(n, 3);
  ah__cookie_jar_free(jar);
}

static void load_out_of_memory(void **state) {
  char dir[64], path[128], detail[256];
  unsigned long n;
  int rc = AH_ERR_NO_MEMORY;
  FILE *f;
  (void)state;
  make_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/cookies.txt", dir);
  f = fopen(path, "w");
  assert_non_null(f);
  for (int i = 0; i < 20; i++)
    fprintf(f, "a.test\tFALSE\t/\tFALSE\t0\tf%d\t1\n", i);
  fclose(f);
  for (n = 0; rc != AH_OK && n < 200; n++) {
    ah__cookie_jar *jar = jar_new();
    assert_true(set(jar, "a.test", "/", "mine=1"));
    fail_after(n);
    rc = ah__cookie_jar_load(jar, path, NOW, detail, sizeof detail);
    ah__alloc_fail_from(0, NULL);
    if (rc == AH_ERR_NO_MEMORY) {
      assert_int_equal(ah__cookie_jar_count(jar), 1);
      header(jar, "a.test", "/", "mine=1");
    } else {
      assert_int_equal(rc, AH_OK);
      assert_int_equal(ah__cookie_jar_count(jar), 21);
    }
    ah__cookie_jar_free(jar);
  }
  assert_int_equal(rc, AH_OK);
  assert_true(n > 20);
  remove_dir(dir);
}

static void save_out_of_memory_keeps_the_file(void **state) {
  ah__cookie_jar *jar = varied_jar();
  char dir[64], path[128], detail[256];
  char *text;
  (void)state;
  make_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/cookies.txt", dir);
  write_file(path, "old content\n");
  fail_after(0);
  assert_int_equal(ah__cookie_jar_save(jar, path, NOW, detail, sizeof detail),
                   AH_ERR_NO_MEMORY);
  ah__alloc_fail_from(0, NULL);
  text = read_file(path);
  assert_string_equal(text, "old content\n");
  free(text);
  assert_int_equal(dir_entries(dir), 1);
  ah__cookie_jar_free(jar);
  remove_dir(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(rfc_sid_cookie_is_sent_back),
    cmocka_unit_test(rfc_domain_and_path_reach_subdomains),
    cmocka_unit_test(rfc_secure_httponly_sent_only_over_tls),
    cmocka_unit_test(rfc_expires_in_future_persists),
    cmocka_unit_test(rfc_expires_in_past_deletes),
    cmocka_unit_test(name_and_value_are_trimmed),
    cmocka_unit_test(pair_without_equals_is_rejected),
    cmocka_unit_test(empty_name_is_rejected),
    cmocka_unit_test(empty_value_is_accepted),
    cmocka_unit_test(control_characters_are_rejected),
    cmocka_unit_test(name_plus_value_limit),
    cmocka_unit_test(long_attribute_value_is_ignored),
    cmocka_unit_test(unknown_attributes_are_ignored),
    cmocka_unit_test(attribute_names_ignore_case),
    cmocka_unit_test(last_domain_and_path_attributes_win),
    cmocka_unit_test(same_site_is_parsed_and_stored),
    cmocka_unit_test(http_only_is_stored_and_sent),
    cmocka_unit_test(invalid_parameters),
    cmocka_unit_test(date_formats_are_accepted),
    cmocka_unit_test(date_two_digit_years),
    cmocka_unit_test(date_limits),
    cmocka_unit_test(invalid_dates_are_refused),
    cmocka_unit_test(invalid_expires_is_ignored),
    cmocka_unit_test(max_age_wins_over_expires),
    cmocka_unit_test(max_age_zero_or_negative_deletes),
    cmocka_unit_test(invalid_max_age_is_ignored),
    cmocka_unit_test(huge_max_age_saturates),
    cmocka_unit_test(last_max_age_wins),
    cmocka_unit_test(domain_match_table),
    cmocka_unit_test(domain_leading_dot_is_ignored),
    cmocka_unit_test(domain_of_another_site_is_rejected),
    cmocka_unit_test(domain_attribute_is_lowercased),
    cmocka_unit_test(empty_domain_attribute_means_host_only),
    cmocka_unit_test(host_only_cookie_stays_on_its_host),
    cmocka_unit_test(domain_equal_to_host_is_a_domain_cookie),
    cmocka_unit_test(ip_host_domain_must_equal_host),
    cmocka_unit_test(path_match_table),
    cmocka_unit_test(default_path_table),
    cmocka_unit_test(relative_path_attribute_means_default),
    cmocka_unit_test(cookie_is_sent_only_under_its_path),
    cmocka_unit_test(public_suffix_com_is_rejected),
    cmocka_unit_test(public_suffix_co_uk_is_rejected),
    cmocka_unit_test(public_suffix_github_io_is_rejected_from_user_site),
    cmocka_unit_test(registrable_domain_is_accepted),
    cmocka_unit_test(public_suffix_host_sets_host_only_cookie),
    cmocka_unit_test(public_suffix_domain_equal_to_host_is_host_only),
    cmocka_unit_test(secure_cookie_over_http_is_rejected),
    cmocka_unit_test(secure_cookie_is_not_sent_over_http),
    cmocka_unit_test(http_cannot_overwrite_secure_cookie),
    cmocka_unit_test(secure_prefix_needs_secure),
    cmocka_unit_test(host_prefix_rules),
    cmocka_unit_test(replacement_keeps_creation_time),
    cmocka_unit_test(name_domain_and_path_identify_a_cookie),
    cmocka_unit_test(header_order_longer_paths_first),
    cmocka_unit_test(header_updates_last_access),
    cmocka_unit_test(expired_cookie_is_not_sent),
    cmocka_unit_test(per_domain_limit_evicts_least_recently_used),
    cmocka_unit_test(total_limit_evicts_least_recently_used),
    cmocka_unit_test(expired_cookies_are_evicted_first),
    cmocka_unit_test(save_load_round_trip),
    cmocka_unit_test(saved_file_has_curl_format),
    cmocka_unit_test(save_leaves_out_expired_cookies),
    cmocka_unit_test(load_reads_curl_files),
    cmocka_unit_test(load_skips_expired_and_public_suffix_cookies),
    cmocka_unit_test(load_replaces_cookies_and_keeps_others),
    cmocka_unit_test(malformed_line_leaves_jar_unchanged),
    cmocka_unit_test(load_refuses_nul_and_overlong_lines),
    cmocka_unit_test(load_missing_file_is_a_system_error),
    cmocka_unit_test(load_enforces_the_limits),
    cmocka_unit_test(save_into_missing_folder_fails_cleanly),
    cmocka_unit_test(failed_save_keeps_what_was_there),
    cmocka_unit_test(save_replaces_an_existing_file),
    cmocka_unit_test(new_jar_out_of_memory),
    cmocka_unit_test(store_out_of_memory),
    cmocka_unit_test(header_out_of_memory),
    cmocka_unit_test(load_out_of_memory),
    cmocka_unit_test(save_out_of_memory_keeps_the_file),
};

AH_TEST_MAIN(tests)
