/*
 * fuzz_proxy_spec.c - libFuzzer target for src/util/proxy.c: proxy specs
 * (ah__proxy_parse, ah__proxy_free), no_proxy bypass lists
 * (ah__proxy_bypassed) and the Basic credentials' base64 (ah__base64).
 * The spec comes from the caller or the http_proxy variable, the list from
 * no_proxy, the host from the URL being fetched.
 *
 * Input: 4 control bytes, then three strings separated by NUL bytes (a
 * missing one is empty):
 *   bytes 0-1   the port of the request the bypass checks ask about
 *   bytes 2-3   another port (made different from the first)
 *   then        SPEC '\0' LIST '\0' HOST
 * ah__base64 encodes every byte after the control bytes.
 *
 * The spec is parsed by ah__proxy_parse and, independently, by the
 * grammar proxy.h documents ("[http://][user:pass@]host[:port]", at most
 * a "/" after it, no white space, userinfo percent-encoded); the two must
 * agree on acceptance, host, port and credentials, and the credentials
 * must be "Basic " and base64 (checked by a decoder of our own) of the
 * decoded "user:pass" ("user:" when there is no colon). The parse is
 * repeated with each of its allocations failing in turn: AH_ERR_NO_MEMORY
 * with nothing left allocated, or the same result. The bypass checks hold
 * for any list and host: a list joined with another bypasses exactly what
 * either does; letter case does not matter; "*" bypasses every host; a
 * host bypasses the list that is just itself (and itself with its port,
 * and not with another port); an IP literal is matched exactly, never by
 * a shorter "domain" of it.
 *
 * Bugs this target found, now fixed (issue 6; each has a reproducer
 * corpus/proxy_spec/known-<id>):
 *   bracket_tail  "[::1]junk:8080" was accepted as ::1 port 80
 *   basic_colon   "user@host" gave Basic base64("user") without the colon
 *                 RFC 7617 wants, and "@host" an empty "Basic "
 *   ip_exact      no_proxy "0.0.1" bypassed host 127.0.0.1
 */
#include "fuzz_common.h"

#include "ahttp.h"
#include "util/alloc.h"
#include "util/proxy.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define CTL_BYTES 4
#define MAX_HOST 255

static const char b64_digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- base64 ---- */

/* Decodes canonical padded base64 into out; -1 if `in` is not that. */
static long b64_decode(const char *in, size_t len, unsigned char *out) {
  size_t n = 0, pad = 0;
  if (len % 4 != 0)
    return -1;
  for (size_t i = 0; i < len; i += 4) {
    unsigned v = 0;
    for (size_t j = 0; j < 4; j++) {
      const char *d = in[i + j] != '\0' ? strchr(b64_digits, in[i + j]) : NULL;
      if (in[i + j] == '=' && i + 4 == len && j >= 2 &&
          (j == 3 || in[i + 3] == '=')) {
        pad++;
        v <<= 6;
        continue;
      }
      if (d == NULL || pad > 0)
        return -1;
      v = (v << 6) | (unsigned)(d - b64_digits);
    }
    out[n++] = (unsigned char)(v >> 16);
    if (pad < 2)
      out[n++] = (unsigned char)(v >> 8);
    if (pad < 1)
      out[n++] = (unsigned char)v;
    /* Canonical: the bits the padding hides are zero. */
    if ((pad == 1 && (v & 0xffu) != 0) || (pad == 2 && (v & 0xffffu) != 0))
      return -1;
  }
  return (long)n;
}

static void check_base64(const uint8_t *in, size_t len) {
  size_t want = 4 * ((len + 2) / 3);
  char *out = malloc(want + 1); /* exactly the documented room */
  unsigned char *back = malloc(len + 1);
  FUZZ_CHECK(out != NULL && back != NULL);
  ah__base64(in, len, out);
  FUZZ_CHECK(strlen(out) == want);
  for (size_t i = 0; i < want; i++) {
    size_t pad = (3 - len % 3) % 3;
    if (i >= want - pad)
      FUZZ_CHECK(out[i] == '=');
    else
      FUZZ_CHECK(out[i] != '\0' && strchr(b64_digits, out[i]) != NULL);
  }
  FUZZ_CHECK(b64_decode(out, want, back) == (long)len);
  FUZZ_CHECK(len == 0 || memcmp(back, in, len) == 0);
  free(out);
  free(back);
}

/* ---- the documented grammar of a spec ---- */

typedef struct ref_spec {
  int valid;
  const char *user; /* userinfo before the last '@', or NULL */
  size_t user_len;
  const char *host;
  size_t host_len;
  unsigned port;
} ref_spec;

static int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* RFC 3986 section 2.1 percent-decoding; -1 on a malformed escape. */
static long unescape(const char *in, size_t len, char *out) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (in[i] != '%') {
      out[n++] = in[i];
      continue;
    }
    if (len - i < 3 || hex_digit(in[i + 1]) < 0 || hex_digit(in[i + 2]) < 0)
      return -1;
    out[n++] = (char)(hex_digit(in[i + 1]) * 16 + hex_digit(in[i + 2]));
    i += 2;
  }
  return (long)n;
}

/* Whether every '%' of in[0..len) starts a two-digit hex escape. */
static int escapes_ok(const char *in, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (in[i] == '%' &&
        (len - i < 3 || hex_digit(in[i + 1]) < 0 || hex_digit(in[i + 2]) < 0))
      return 0;
  return 1;
}

/* ":port" after the host: 1 to 5 digits, 1 to 65535. */
static int ref_port(const char *s, size_t len, unsigned *port) {
  unsigned long v = 0;
  if (len == 0 || len > 5)
    return 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  *port = (unsigned)v;
  return v >= 1 && v <= 65535;
}

/* "[http://][userinfo@]host[:port][/]", host "[v6]" or without ':'. */
static void ref_parse(const char *spec, ref_spec *r) {
  const char *s = spec, *hp, *at = NULL, *after;
  size_t auth_len, hp_len;
  memset(r, 0, sizeof *r);
  r->port = 80;
  if (strpbrk(spec, " \t\r\n") != NULL)
    return;
  if (strncasecmp(s, "http://", 7) == 0)
    s += 7;
  else if (strstr(s, "://") != NULL)
    return;
  auth_len = strcspn(s, "/?#");
  if (s[auth_len] != '\0' && strcmp(s + auth_len, "/") != 0)
    return;
  for (size_t i = 0; i < auth_len; i++)
    if (s[i] == '@')
      at = s + i;
  hp = at != NULL ? at + 1 : s;
  hp_len = auth_len - (size_t)(hp - s);
  if (at != NULL) {
    r->user = s;
    r->user_len = (size_t)(at - s);
    if (!escapes_ok(r->user, r->user_len))
      return;
  }
  if (hp_len > 0 && hp[0] == '[') {
    const char *close = memchr(hp, ']', hp_len);
    if (close == NULL)
      return;
    r->host = hp + 1;
    r->host_len = (size_t)(close - hp - 1);
    after = close + 1;
  } else {
    const char *colon = memchr(hp, ':', hp_len);
    r->host = hp;
    r->host_len = colon != NULL ? (size_t)(colon - hp) : hp_len;
    after = hp + r->host_len;
  }
  if (r->host_len == 0)
    return;
  if (after < hp + hp_len &&
      (after[0] != ':' ||
       !ref_port(after + 1, (size_t)(hp + hp_len - after - 1), &r->port)))
    return;
  r->valid = 1;
}

/* ---- ah__proxy_parse ---- */

/*
 * The credentials of userinfo `user`: "Basic " and the base64 of its
 * decoded "user:pass" (RFC 7617 section 2). Without a colon the password
 * is empty, "user:", as curl sends it. Empty userinfo ("@host") may also
 * mean no credentials at all.
 */
static void check_credentials(const char *auth, const char *user,
                              size_t user_len) {
  char *want = malloc(user_len + 2);
  unsigned char *got;
  size_t b64_len;
  long want_len, got_len;
  FUZZ_CHECK(want != NULL);
  want_len = unescape(user, user_len, want);
  FUZZ_CHECK(want_len >= 0);
  if (auth == NULL) {
    FUZZ_CHECK(want_len == 0);
    free(want);
    return;
  }
  FUZZ_CHECK(strncmp(auth, "Basic ", 6) == 0);
  b64_len = strlen(auth + 6);
  got = malloc(b64_len / 4 * 3 + 1);
  FUZZ_CHECK(got != NULL);
  got_len = b64_decode(auth + 6, b64_len, got);
  FUZZ_CHECK(got_len >= 0);
  if (memchr(want, ':', (size_t)want_len) != NULL) {
    FUZZ_CHECK(got_len == want_len);
    FUZZ_CHECK(want_len == 0 || memcmp(got, want, (size_t)want_len) == 0);
  } else {
    /* No password: "user:" (RFC 7617 section 2). */
    want[want_len] = ':';
    FUZZ_CHECK(got_len == want_len + 1 &&
               memcmp(got, want, (size_t)got_len) == 0);
  }
  free(want);
  free(got);
}

static void check_parsed(const ah__proxy *p, const ref_spec *r) {
  FUZZ_CHECK(p->host != NULL && p->host[0] != '\0');
  FUZZ_CHECK(strpbrk(p->host, " \t\r\n@/?#") == NULL);
  FUZZ_CHECK(strlen(p->host) == r->host_len);
  FUZZ_CHECK(memcmp(p->host, r->host, r->host_len) == 0);
  FUZZ_CHECK(p->port != 0 && p->port == r->port);
  if (r->user == NULL)
    FUZZ_CHECK(p->authorization == NULL);
  else
    check_credentials(p->authorization, r->user, r->user_len);
}

static int same_proxy(const ah__proxy *a, const ah__proxy *b) {
  if (a->port != b->port || strcmp(a->host, b->host) != 0)
    return 0;
  if (a->authorization == NULL || b->authorization == NULL)
    return a->authorization == b->authorization;
  return strcmp(a->authorization, b->authorization) == 0;
}

/* Each allocation of the parse fails in turn: a clean AH_ERR_NO_MEMORY or
 * the unfailed result. */
static void check_parse_oom(const char *spec, int rc, const ah__proxy *ok) {
  int again = AH_ERR_NO_MEMORY;
  for (unsigned long n = 1; n < 16 && again == AH_ERR_NO_MEMORY; n++) {
    ah__proxy p;
    memset(&p, 0x5a, sizeof p);
    ah__alloc_fail_from(n, NULL);
    again = ah__proxy_parse(spec, &p);
    ah__alloc_fail_from(0, NULL);
    if (again == AH_ERR_NO_MEMORY) {
      FUZZ_CHECK(p.host == NULL && p.authorization == NULL);
      continue;
    }
    FUZZ_CHECK(again == rc);
    if (rc == AH_OK)
      FUZZ_CHECK(same_proxy(&p, ok));
    ah__proxy_free(&p);
  }
  FUZZ_CHECK(again != AH_ERR_NO_MEMORY); /* it stops allocating */
}

static void check_parse(const char *spec) {
  ah__proxy p;
  ref_spec r;
  int rc;
  memset(&p, 0x5a, sizeof p); /* the parse must set every field */
  rc = ah__proxy_parse(spec, &p);
  ref_parse(spec, &r);
  FUZZ_CHECK(rc == AH_OK || rc == AH_ERR_INVALID_PARAMETER);
  FUZZ_CHECK((rc == AH_OK) == (r.valid != 0));
  if (rc != AH_OK)
    FUZZ_CHECK(p.host == NULL && p.authorization == NULL);
  else if (r.valid)
    check_parsed(&p, &r);
  check_parse_oom(spec, rc, &p);
  ah__proxy_free(&p);
  FUZZ_CHECK(p.host == NULL && p.authorization == NULL && p.port == 0);
  ah__proxy_free(&p); /* freeing twice is harmless */
}

/* ---- ah__proxy_bypassed ---- */

/* A fresh "a" "sep" "b" string (malloc'd). */
static char *join(const char *a, const char *sep, const char *b) {
  size_t la = strlen(a), ls = strlen(sep), lb = strlen(b);
  char *s = malloc(la + ls + lb + 1);
  FUZZ_CHECK(s != NULL);
  memcpy(s, a, la);
  memcpy(s + la, sep, ls);
  memcpy(s + la + ls, b, lb + 1);
  return s;
}

static char *upper(const char *s) {
  char *u = join(s, "", "");
  for (char *c = u; *c != '\0'; c++)
    if (*c >= 'a' && *c <= 'z')
      *c = (char)(*c - 'a' + 'A');
  return u;
}

/* The host without the brackets of "[v6]", into out. */
static void bare_host(const char *host, char *out, size_t cap) {
  size_t len = strlen(host);
  if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < cap) {
    memcpy(out, host + 1, len - 2);
    out[len - 2] = '\0';
  } else {
    snprintf(out, cap, "%s", host);
  }
}

/*
 * Whether `bare` can stand alone as a list entry that names itself: not
 * empty, not ".", none of the list's separators, no brackets, and either
 * no colon (a name or IPv4) or at least two (an IPv6 literal; one colon
 * would be "name:port").
 */
static int plain_entry(const char *bare) {
  size_t colons = 0;
  if (bare[0] == '\0' || strcmp(bare, ".") == 0 || strlen(bare) > MAX_HOST)
    return 0;
  if (strpbrk(bare, ", \t[]") != NULL)
    return 0;
  for (const char *c = bare; *c != '\0'; c++)
    if (*c == ':')
      colons++;
  return colons != 1;
}

static int bypassed(const char *list, const char *host, unsigned port) {
  int r = ah__proxy_bypassed(list, host, (uint16_t)port);
  FUZZ_CHECK(r == 0 || r == 1);
  return r;
}

/* A host (as a URL gives it, "[v6]" or bare) against its own entries. */
static void check_self(const char *host, unsigned port, unsigned other) {
  char bare[MAX_HOST + 8], entry[MAX_HOST + 32];
  int v6;
  bare_host(host, bare, sizeof bare);
  if (!plain_entry(bare))
    return;
  v6 = strchr(bare, ':') != NULL;
  if (other == port)
    other = port % 65535u + 1u;
  FUZZ_CHECK(bypassed(bare, host, port) == 1);
  snprintf(entry, sizeof entry, ".%s", bare);
  FUZZ_CHECK(bypassed(entry, host, port) == 1);
  if (v6) {
    snprintf(entry, sizeof entry, "[%s]", bare);
    FUZZ_CHECK(bypassed(entry, host, port) == 1);
  }
  if (port != 0) {
    snprintf(entry, sizeof entry, v6 ? "[%s]:%u" : "%s:%u", bare, port);
    FUZZ_CHECK(bypassed(entry, host, port) == 1);
    snprintf(entry, sizeof entry, v6 ? "[%s]:%u" : "%s:%u", bare, other);
    FUZZ_CHECK(bypassed(entry, host, port) == 0);
  }
}

/* An IP literal matches exactly: no shorter "domain" of it matches. */
static void check_ip_exact(const char *host, unsigned port) {
  char bare[MAX_HOST + 8];
  unsigned char addr[16];
  bare_host(host, bare, sizeof bare);
  if (inet_pton(AF_INET, bare, addr) != 1 &&
      inet_pton(AF_INET6, bare, addr) != 1)
    return;
  for (const char *dot = strchr(bare, '.'); dot != NULL;
       dot = strchr(dot + 1, '.'))
    FUZZ_CHECK(bypassed(dot + 1, host, port) == 0);
}

static void check_bypass(const char *list, const char *other_list,
                         const char *host, unsigned port, unsigned other) {
  int r = bypassed(list, host, port);
  char *both = join(list, ",", other_list);
  char *up = upper(host);
  FUZZ_CHECK(bypassed(both, host, port) ==
             (r || bypassed(other_list, host, port)));
  FUZZ_CHECK(bypassed(list, up, port) == r);
  FUZZ_CHECK(bypassed("*", host, port) == 1);
  FUZZ_CHECK(ah__proxy_bypassed(NULL, host, (uint16_t)port) == 0);
  FUZZ_CHECK(ah__proxy_bypassed(list, NULL, (uint16_t)port) == 0);
  check_self(host, port, other);
  check_ip_exact(host, port);
  free(both);
  free(up);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_ctl ctl = {data, size, 0};
  unsigned port = fuzz_u16(&ctl);
  unsigned other = fuzz_u16(&ctl);
  const uint8_t *rest;
  size_t rest_len;
  char *text, *field[3];
  size_t at = 0;
  ah__proxy parsed;

  if (other == port || other == 0)
    other = port % 65535u + 1u;
  fuzz_rest(data, size, CTL_BYTES, &rest, &rest_len);
  check_base64(rest, rest_len);

  /* SPEC '\0' LIST '\0' HOST, each its own exact heap copy. */
  for (size_t i = 0; i < 3; i++) {
    size_t end = at;
    while (end < rest_len && rest[end] != '\0')
      end++;
    text = malloc(end - at + 1);
    FUZZ_CHECK(text != NULL);
    if (end > at)
      memcpy(text, rest + at, end - at);
    text[end - at] = '\0';
    field[i] = text;
    at = end < rest_len ? end + 1 : end;
  }

  check_parse(field[0]);
  check_bypass(field[1], field[0], field[2], port, other);
  /* The proxy's own host, as a spec gives it, against the list too. */
  if (ah__proxy_parse(field[0], &parsed) == AH_OK) {
    check_bypass(field[1], field[2], parsed.host, parsed.port, other);
    ah__proxy_free(&parsed);
  }
  for (size_t i = 0; i < 3; i++)
    free(field[i]);
  return 0;
}
