/*
 * fuzz_cookie_jar.c - libFuzzer target for the cookie jar
 * (src/request/cookie_jar.c): Set-Cookie values made by the fuzzer, stored
 * for hosts, paths and schemes it chooses at times it moves, with Cookie
 * values built in between, all checked against what RFC 6265 and
 * cookie_jar.h promise.
 *
 * Input: records separated by '\n'. A record starts with 4 control bytes:
 *   byte 0  operation (modulo 4): 0 and 1 store, 2 build a Cookie value,
 *           3 move the clock forward by bytes 1-2 seconds (times 3600 when
 *           bit 0 of byte 3 is set)
 *   byte 1  host: an index into hosts[] (modulo)
 *   byte 2  path: an index into paths[] (modulo); for a Cookie value with
 *           bit 7 set, the rest of the record is the request path instead
 *   byte 3  bit 0: over TLS; bit 1: every '~' of the rest becomes LF (so
 *           that values can hold one); bit 2: fail allocations after
 *           (byte 3 >> 3) successful ones during this operation
 * The rest of the record is the Set-Cookie value for a store.
 *
 * After every store: the verdict is one of accepted and rejected; every
 * stored cookie is well formed (a name, no control characters, name and
 * value within the limit, a lowercase domain, a path starting with '/'),
 * the per-domain and total limits hold, no domain cookie is for a public
 * suffix or an IP address, a new cookie's domain is its host or one the
 * host domain-matches, and a store over plain HTTP neither adds nor
 * changes a Secure cookie. Every Cookie value is compared byte for byte
 * with one built from the jar's cookies by an independent model of RFC
 * 6265 5.4 (host-only cookies only to their host, domain cookies to hosts
 * that domain-match, Secure cookies only over TLS, path-match, order),
 * and holds no control character. An operation that runs out of memory
 * returns AH_ERR_NO_MEMORY and leaves the jar as it was.
 */
#include "fuzz_common.h"

#include "request/cookie_jar.h"
#include "util/alloc.h"

#include <libpsl.h>
#include <string.h>

#define CTL_BYTES 4
#define START_TIME INT64_C(1700000000)

static const char *const hosts[] = {
    "example.com",
    "www.example.com",
    "a.b.example.com",
    "example.org",
    "xexample.com",
    "co.uk",
    "example.co.uk",
    "www.example.co.uk",
    "github.io",
    "alice.github.io",
    "bob.github.io",
    "localhost",
    "a.localhost",
    "127.0.0.1",
    "10.0.0.1",
    "::1",
    "com",
    "test",
    "a.test",
    "b.a.test",
};

static const char *const paths[] = {
    "/",     "",         "/a",        "/a/",     "/a/b", "/a/b/c.html",
    "/ab",   "/a?x=/b/", "/A",        "/docs/x", "x/y",  "//",
    "/a/b/", "/a/bc",    "/a#frag/x", NULL,
};

/* What a cookie looked like, to tell whether an operation changed it. */
typedef struct snap {
  uint64_t creation;
  uint64_t hash; /* of every field */
  int secure;
} snap;

static snap before[AH__COOKIE_MAX_TOTAL], after[AH__COOKIE_MAX_TOTAL];

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * UINT64_C(1099511628211);
  return h;
}

static uint64_t hash_view(const ah__cookie_view *v) {
  uint64_t h = UINT64_C(14695981039346656037);
  int flags[5] = {v->host_only, v->secure, v->http_only, v->persistent,
                  v->same_site};
  h = fnv(h, v->name, strlen(v->name) + 1);
  h = fnv(h, v->value, strlen(v->value) + 1);
  h = fnv(h, v->domain, strlen(v->domain) + 1);
  h = fnv(h, v->path, strlen(v->path) + 1);
  h = fnv(h, &v->expiry, sizeof v->expiry);
  h = fnv(h, &v->last_access, sizeof v->last_access);
  return fnv(h, flags, sizeof flags);
}

static int alive(const ah__cookie_view *v, int64_t now) {
  return !v->persistent || v->expiry > now;
}

/* The cookies alive at `now`, in jar order. */
static size_t take_snapshot(const ah__cookie_jar *jar, int64_t now, snap *s) {
  size_t n = 0;
  for (size_t i = 0; i < ah__cookie_jar_count(jar); i++) {
    ah__cookie_view v;
    FUZZ_CHECK(ah__cookie_jar_at(jar, i, &v) == AH_OK);
    if (!alive(&v, now))
      continue;
    s[n].creation = v.creation;
    s[n].hash = hash_view(&v);
    s[n].secure = v.secure;
    n++;
  }
  return n;
}

static int same_snapshot(const snap *a, size_t na, const snap *b, size_t nb) {
  return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

/* ---- an independent model of the matching rules ---- */

static int looks_ip(const char *host) {
  if (strchr(host, ':') != NULL)
    return 1;
  for (const char *p = host; *p != '\0'; p++)
    if (!((*p >= '0' && *p <= '9') || *p == '.'))
      return 0;
  return 1;
}

static int ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), t = strlen(tail);
  return n >= t && strcmp(s + n - t, tail) == 0;
}

/* RFC 6265 5.1.3, hosts and domains lowercase. */
static int model_domain_match(const char *host, const char *domain) {
  size_t hl = strlen(host), dl = strlen(domain);
  if (strcmp(host, domain) == 0)
    return 1;
  return !looks_ip(host) && hl > dl + 1 && ends_with(host, domain) &&
         host[hl - dl - 1] == '.';
}

/* RFC 6265 5.1.4 on the request path's first rl bytes. */
static int model_path_match(const char *rp, size_t rl, const char *cp) {
  size_t cl = strlen(cp);
  if (cl == rl && strncmp(rp, cp, rl) == 0)
    return 1;
  if (cl >= rl || strncmp(rp, cp, cl) != 0)
    return 0;
  return cp[cl - 1] == '/' || rp[cl] == '/';
}

static int model_sends(const ah__cookie_view *v, const char *host,
                       const char *rp, size_t rl, int secure, int64_t now) {
  if (!alive(v, now))
    return 0;
  if (v->secure && !secure)
    return 0; /* Secure cookies never in an insecure header */
  if (v->host_only ? strcmp(v->domain, host) != 0
                   : !model_domain_match(host, v->domain))
    return 0; /* a host-only cookie never goes to another host */
  return model_path_match(rp, rl, v->path);
}

static void check_well_formed(const ah__cookie_view *v, const psl_ctx_t *psl) {
  const char *fields[4] = {v->name, v->value, v->domain, v->path};
  FUZZ_CHECK(v->name[0] != '\0');
  FUZZ_CHECK(strlen(v->name) + strlen(v->value) <= AH__COOKIE_MAX_PAIR);
  FUZZ_CHECK(strchr(v->name, '=') == NULL && strchr(v->name, ';') == NULL);
  FUZZ_CHECK(strchr(v->value, ';') == NULL);
  for (int f = 0; f < 4; f++)
    for (const char *p = fields[f]; *p != '\0'; p++)
      FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
  FUZZ_CHECK(v->domain[0] != '\0' && v->domain[0] != '.');
  for (const char *p = v->domain; *p != '\0'; p++)
    FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'));
  FUZZ_CHECK(v->path[0] == '/');
  if (!v->host_only) {
    FUZZ_CHECK(!looks_ip(v->domain));
    FUZZ_CHECK(psl == NULL || !psl_is_public_suffix(psl, v->domain));
  }
  FUZZ_CHECK(v->same_site >= AH__SAME_SITE_DEFAULT &&
             v->same_site <= AH__SAME_SITE_STRICT);
}

/* No two cookies share name, domain and path; no domain is over its
 * limit. Quadratic: run once per input. */
static void check_pairs(const ah__cookie_jar *jar) {
  size_t n = ah__cookie_jar_count(jar);
  for (size_t i = 0; i < n; i++) {
    ah__cookie_view v;
    size_t same_domain = 0;
    FUZZ_CHECK(ah__cookie_jar_at(jar, i, &v) == AH_OK);
    for (size_t j = 0; j < n; j++) {
      ah__cookie_view w;
      FUZZ_CHECK(ah__cookie_jar_at(jar, j, &w) == AH_OK);
      same_domain += strcmp(w.domain, v.domain) == 0;
      if (j != i)
        FUZZ_CHECK(strcmp(w.name, v.name) != 0 ||
                   strcmp(w.domain, v.domain) != 0 ||
                   strcmp(w.path, v.path) != 0);
    }
    FUZZ_CHECK(same_domain <= AH__COOKIE_MAX_PER_DOMAIN);
  }
}

/* The jar-wide invariants after a store, and what the store may add. */
static void check_jar(const ah__cookie_jar *jar, const psl_ctx_t *psl,
                      int64_t now, uint64_t max_creation_before,
                      const char *host, int secure) {
  size_t n = ah__cookie_jar_count(jar), fresh = 0, same_domain = 0;
  ah__cookie_view v, prev, made;
  memset(&prev, 0, sizeof prev); /* gcc cannot see they are set first */
  memset(&made, 0, sizeof made);
  FUZZ_CHECK(n <= AH__COOKIE_MAX_TOTAL);
  for (size_t i = 0; i < n; i++) {
    FUZZ_CHECK(ah__cookie_jar_at(jar, i, &v) == AH_OK);
    check_well_formed(&v, psl);
    FUZZ_CHECK(alive(&v, now)); /* expired cookies are evicted at once */
    if (i > 0)
      FUZZ_CHECK(prev.creation < v.creation); /* creation order */
    prev = v;
    if (v.creation + 1 > max_creation_before) {
      /* Made by this store. */
      fresh++;
      made = v;
      FUZZ_CHECK(v.last_access == now);
      if (v.host_only)
        FUZZ_CHECK(strcmp(v.domain, host) == 0);
      else
        FUZZ_CHECK(model_domain_match(host, v.domain));
      FUZZ_CHECK(!v.secure || secure);
    }
  }
  FUZZ_CHECK(fresh <= 1);
  FUZZ_CHECK(ah__cookie_jar_at(jar, n, &v) == AH_ERR_INVALID_PARAMETER);
  if (fresh == 0)
    return;
  /* The new cookie is unique and its domain within its limit. */
  for (size_t i = 0; i < n; i++) {
    FUZZ_CHECK(ah__cookie_jar_at(jar, i, &v) == AH_OK);
    if (strcmp(v.domain, made.domain) != 0)
      continue;
    same_domain++;
    if (v.creation != made.creation)
      FUZZ_CHECK(strcmp(v.name, made.name) != 0 ||
                 strcmp(v.path, made.path) != 0);
  }
  FUZZ_CHECK(same_domain <= AH__COOKIE_MAX_PER_DOMAIN);
}

static uint64_t max_creation(const ah__cookie_jar *jar) {
  uint64_t m = 0;
  for (size_t i = 0; i < ah__cookie_jar_count(jar); i++) {
    ah__cookie_view v;
    FUZZ_CHECK(ah__cookie_jar_at(jar, i, &v) == AH_OK);
    if (v.creation + 1 > m)
      m = v.creation + 1;
  }
  return m;
}

/* Arms the allocation failure: the next call's allocation number
 * (flags >> 3) + 1 and every later one fail. */
static void arm(unsigned flags) {
  if (flags & 4u)
    ah__alloc_fail_from((flags >> 3) + 1, NULL);
}

static void op_store(ah__cookie_jar *jar, const psl_ctx_t *psl,
                     const char *value, size_t len, const char *host,
                     const char *path, unsigned flags, int64_t now) {
  int secure = (int)(flags & 1u);
  uint64_t top = max_creation(jar);
  size_t nb = take_snapshot(jar, now, before), na;
  ah_cookie_history h;
  int rc;

  arm(flags);
  rc = ah__cookie_jar_store(jar, value, len, host, path, secure, now, &h);
  ah__alloc_fail_from(0, NULL);
  FUZZ_CHECK(rc == AH_OK || (rc == AH_ERR_NO_MEMORY && (flags & 4u)));
  FUZZ_CHECK(h.accepted + h.rejected == 1 && h.leashed == 0 &&
             h.downgraded == 0);
  na = take_snapshot(jar, now, after);
  if (rc != AH_OK) {
    FUZZ_CHECK(h.rejected == 1);
    FUZZ_CHECK(same_snapshot(before, nb, after, na));
    return;
  }
  if (h.rejected)
    FUZZ_CHECK(same_snapshot(before, nb, after, na));
  check_jar(jar, psl, now, top, host, secure);
  if (!secure) {
    /* Every Secure cookie after was there before, unchanged. */
    for (size_t i = 0; i < na; i++) {
      size_t j;
      if (!after[i].secure)
        continue;
      for (j = 0; j < nb; j++)
        if (before[j].creation == after[i].creation)
          break;
      FUZZ_CHECK(j < nb && before[j].hash == after[i].hash);
    }
  }
}

static void op_header(ah__cookie_jar *jar, const char *host, const char *path,
                      unsigned flags, int64_t now) {
  int secure = (int)(flags & 1u);
  const char *rp = path;
  size_t rl, k = 0, n, nb, na, expected_len = 0;
  static size_t order[AH__COOKIE_MAX_TOTAL];
  static ah__cookie_view views[AH__COOKIE_MAX_TOTAL];
  char *out = (char *)1, *expected, *p;
  size_t count = 99;
  int rc;

  nb = take_snapshot(jar, now, before);
  arm(flags);
  rc = ah__cookie_jar_header(jar, host, path, secure, now, &out, &count);
  ah__alloc_fail_from(0, NULL);
  FUZZ_CHECK(rc == AH_OK || (rc == AH_ERR_NO_MEMORY && (flags & 4u)));
  if (rc != AH_OK) {
    FUZZ_CHECK(out == NULL && count == 0);
    na = take_snapshot(jar, now, after);
    FUZZ_CHECK(same_snapshot(before, nb, after, na));
    return;
  }

  /* The model's answer from the jar as it is now. */
  if (rp == NULL || rp[0] == '\0' || rp[0] == '?' || rp[0] == '#')
    rp = "/";
  rl = strcspn(rp, "?#");
  n = ah__cookie_jar_count(jar);
  for (size_t i = 0; i < n; i++) {
    FUZZ_CHECK(ah__cookie_jar_at(jar, i, &views[i]) == AH_OK);
    FUZZ_CHECK(alive(&views[i], now));
    if (!model_sends(&views[i], host, rp, rl, secure, now)) {
      continue;
    }
    FUZZ_CHECK(views[i].last_access == now); /* 5.4 step 3 */
    /* Insertion: longer paths first, then earlier created (jar order). */
    size_t j = k++;
    while (j > 0 && strlen(views[order[j - 1]].path) < strlen(views[i].path)) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = i;
    expected_len += strlen(views[i].name) + 1 + strlen(views[i].value) + 2;
  }
  FUZZ_CHECK(count == k);
  if (k == 0) {
    FUZZ_CHECK(out == NULL);
    return;
  }
  FUZZ_CHECK(out != NULL);
  for (p = out; *p != '\0'; p++)
    FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f); /* no CR/LF/NUL */
  expected = malloc(expected_len);
  FUZZ_CHECK(expected != NULL);
  p = expected;
  for (size_t i = 0; i < k; i++) {
    const ah__cookie_view *v = &views[order[i]];
    p += sprintf(p, "%s%s=%s", i > 0 ? "; " : "", v->name, v->value);
  }
  FUZZ_CHECK(strcmp(out, expected) == 0);
  free(expected);
  ah__free(out);
}

static const psl_ctx_t *model_psl(void) {
  static const psl_ctx_t *psl;
  static int loaded;
  if (!loaded) {
    psl = psl_latest(NULL);
    if (psl == NULL)
      psl = psl_builtin();
    loaded = 1;
  }
  return psl;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char rest[65536];
  const psl_ctx_t *psl = model_psl();
  ah__cookie_jar *jar = NULL;
  int64_t now = START_TIME;
  size_t at = 0;

  FUZZ_CHECK(ah__cookie_jar_new(&jar) == AH_OK);
  while (at < size) {
    const uint8_t *rec = data + at, *nl;
    size_t len, rlen;
    fuzz_ctl ctl;
    unsigned op, hi, pi, flags;
    const char *host, *path;

    nl = memchr(rec, '\n', size - at);
    len = nl != NULL ? (size_t)(nl - rec) : size - at;
    at += len + 1;
    ctl = (fuzz_ctl){rec, len, 0};
    op = fuzz_u8(&ctl) % 4u;
    hi = fuzz_u8(&ctl);
    pi = fuzz_u8(&ctl);
    flags = fuzz_u8(&ctl);
    rlen = len > CTL_BYTES ? len - CTL_BYTES : 0;
    if (rlen >= sizeof rest)
      rlen = sizeof rest - 1;
    if (rlen > 0)
      memcpy(rest, rec + CTL_BYTES, rlen);
    rest[rlen] = '\0';
    if (flags & 2u)
      for (size_t i = 0; i < rlen; i++)
        if (rest[i] == '~')
          rest[i] = '\n';
    host = hosts[hi % (sizeof hosts / sizeof hosts[0])];
    path = paths[(pi & 0x7fu) % (sizeof paths / sizeof paths[0])];

    switch (op) {
    case 0:
    case 1:
      op_store(jar, psl, rest, rlen, host, path, flags, now);
      break;
    case 2:
      if ((pi & 0x80u) && memchr(rest, '\0', rlen) == NULL)
        path = rest;
      op_header(jar, host, path, flags, now);
      break;
    default:
      now += (int64_t)((hi << 8) | pi) * ((flags & 1u) ? 3600 : 1);
      break;
    }
  }
  check_pairs(jar);
  ah__cookie_jar_free(jar);
  return 0;
}
