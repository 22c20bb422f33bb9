/*
 * cookie_jar.c - the cookie jar of RFC 6265 section 5 (see cookie_jar.h
 * for the choices made where the RFC leaves one, and the limits).
 *
 * A jar is an array of cookies kept in creation order: a new cookie is
 * appended, a replacement takes its predecessor's slot (and creation
 * number), a removal closes the gap. Each cookie is one allocation holding
 * its strings. Every scan is linear, which is fine for at most
 * AH__COOKIE_MAX_TOTAL cookies. Each call either finishes or leaves the jar
 * as it found it: what may fail (allocations) happens before the jar is
 * touched. Expired cookies are evicted whenever the jar is used (RFC 6265
 * 5.3: "MUST evict all expired cookies"), so no call ever sees one.
 *
 * The public suffix list is libpsl's psl_latest(NULL): the newer of the
 * list compiled into libpsl and the one of the distribution's
 * "publicsuffix" package (/usr/share/publicsuffix), which is updated on its
 * own schedule. psl_builtin() alone would freeze the list at the time
 * libpsl was built. It is loaded once per process, on first use, under
 * pthread_once, and kept for the life of the process (lookups only read
 * it, so jars on different threads share it safely). If neither list can
 * be loaded, every domain counts as a public suffix: Domain attributes are
 * then refused unless they name the request host (host-only cookies).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkstemp, fsync, fdopen, inet_pton */
#endif

#include "request/cookie_jar.h"

#include "util/alloc.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOT_FOUND ((size_t)-1)

enum { C_HOST_ONLY = 1u, C_SECURE = 2u, C_HTTP_ONLY = 4u, C_PERSISTENT = 8u };

typedef struct cookie {
  char *name; /* these four point into the same allocation */
  char *value;
  char *domain; /* lowercase, no leading dot */
  char *path;
  size_t name_len, value_len, domain_len, path_len;
  int64_t expiry; /* persistent cookies only; INT64_MAX otherwise */
  int64_t last_access;
  uint64_t creation;
  unsigned flags;
  int same_site;
} cookie;

struct ah__cookie_jar {
  cookie **v; /* creation order */
  size_t n, cap;
  uint64_t next_creation;
};

/* ---- characters (ASCII only: no locale may change a protocol rule) ---- */

static char lower(char c) {
  return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int is_ctl(char c) {
  unsigned char u = (unsigned char)c;
  return u < 0x20 || u == 0x7f;
}

static int is_wsp(char c) { return c == ' ' || c == '\t'; }

static int has_ctl(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (is_ctl(s[i]))
      return 1;
  return 0;
}

/* Whether s[0..len) equals `lit` (lowercase), ASCII case ignored. */
static int ieq_lit(const char *s, size_t len, const char *lit) {
  size_t i;
  for (i = 0; i < len; i++)
    if (lit[i] == '\0' || lower(s[i]) != lit[i])
      return 0;
  return lit[i] == '\0';
}

/* Whether s[0..len) starts with `lit` (lowercase), ASCII case ignored. */
static int istarts_lit(const char *s, size_t len, const char *lit) {
  size_t n = strlen(lit);
  return len >= n && ieq_lit(s, n, lit);
}

static int ieq(const char *a, const char *b, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (lower(a[i]) != lower(b[i]))
      return 0;
  return 1;
}

static void trim(const char **s, size_t *len) {
  while (*len > 0 && is_wsp((*s)[0])) {
    (*s)++;
    (*len)--;
  }
  while (*len > 0 && is_wsp((*s)[*len - 1]))
    (*len)--;
}

static void set_detail(char *detail, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_detail(char *detail, size_t len, const char *fmt, ...) {
  va_list ap;
  if (detail == NULL || len == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(detail, len, fmt, ap);
  va_end(ap);
}

/* strerror's words without its shared buffer (the XSI strerror_r, which
 * _POSIX_C_SOURCE selects). */
static const char *error_text(int err, char *buf, size_t len) {
  if (strerror_r(err, buf, len) != 0)
    snprintf(buf, len, "error %d", err);
  return buf;
}

/* ---- public suffixes and hosts ---- */

/* libpsl, and the IDN libraries it pulls in, are opened on first use, not
 * linked: mapping them costs a fresh process a sixth of a plain GET, and
 * most transfers never see a Domain attribute. The library stays loaded.
 * Without it every domain counts as a public suffix: Domain cookies are
 * refused, host-only ones still work. */
#define AH_PSL_LIBRARY "libpsl.so.5"

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static const psl_ctx_t *psl;
static __typeof__(&psl_is_public_suffix) psl_check;

static void psl_load(void) {
  void *lib = dlopen(AH_PSL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
  void *latest_sym, *builtin_sym, *check_sym;
  __typeof__(&psl_latest) latest;
  __typeof__(&psl_builtin) builtin;
  const psl_ctx_t *ctx;
  if (lib == NULL)
    return;
  latest_sym = dlsym(lib, "psl_latest");
  builtin_sym = dlsym(lib, "psl_builtin");
  check_sym = dlsym(lib, "psl_is_public_suffix");
  if (latest_sym == NULL || builtin_sym == NULL || check_sym == NULL)
    return;
  /* POSIX: a function pointer is stored through a void * of equal size. */
  memcpy(&latest, &latest_sym, sizeof latest);
  memcpy(&builtin, &builtin_sym, sizeof builtin);
  memcpy(&psl_check, &check_sym, sizeof psl_check);
  ctx = latest(NULL);
  psl = ctx != NULL ? ctx : builtin();
}

/* `domain`: lowercase, NUL-terminated. */
static int public_suffix(const char *domain) {
  pthread_once(&psl_once, psl_load);
  return psl == NULL || psl_check(psl, domain) != 0;
}

/* An IP literal: IPv6 (a name never holds ':') or dotted-quad IPv4. */
static int is_ip(const char *host) {
  unsigned char addr[4];
  return strchr(host, ':') != NULL || inet_pton(AF_INET, host, addr) == 1;
}

/* RFC 6265 5.1.3 on lengths; `host_ip` tells whether host is an IP. */
static int dmatch(const char *host, size_t hl, int host_ip, const char *domain,
                  size_t dl) {
  if (hl == dl)
    return ieq(host, domain, hl);
  if (dl == 0 || hl < dl + 1 || host_ip)
    return 0;
  return host[hl - dl - 1] == '.' && ieq(host + hl - dl, domain, dl);
}

int ah__cookie_domain_match(const char *host, const char *domain) {
  return dmatch(host, strlen(host), is_ip(host), domain, strlen(domain));
}

/* RFC 6265 5.1.4 on lengths. */
static int pmatch(const char *rp, size_t rl, const char *cp, size_t cl) {
  if (cl > rl || memcmp(rp, cp, cl) != 0)
    return 0;
  if (cl == rl)
    return 1;
  return (cl > 0 && cp[cl - 1] == '/') || rp[cl] == '/';
}

int ah__cookie_path_match(const char *request_path, const char *cookie_path) {
  return pmatch(request_path, strlen(request_path), cookie_path,
                strlen(cookie_path));
}

/* The request path as the jar sees it: up to a query; "/" if empty. */
static void request_path(const char *path, const char **rp, size_t *rl) {
  if (path == NULL || path[0] == '\0' || path[0] == '?' || path[0] == '#') {
    *rp = "/";
    *rl = 1;
    return;
  }
  *rp = path;
  *rl = strcspn(path, "?#");
}

/* RFC 6265 5.1.4 default-path: a prefix of rp, or "/". */
static void default_path(const char *rp, size_t rl, const char **dp,
                         size_t *dl) {
  size_t last = rl;
  while (last > 0 && rp[last - 1] != '/')
    last--;
  /* last - 1 is the rightmost '/'; 0 means none. */
  if (rl == 0 || rp[0] != '/' || last <= 1) {
    *dp = "/";
    *dl = 1;
    return;
  }
  *dp = rp;
  *dl = last - 1;
}

/* ---- dates (RFC 6265 5.1.1) ---- */

static int is_delimiter(char ch) {
  unsigned char c = (unsigned char)ch;
  return c == 0x09 || (c >= 0x20 && c <= 0x2f) || (c >= 0x3b && c <= 0x40) ||
         (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
}

/*
 * min..max DIGITs at t[0..len), then the end or a non-digit: returns how
 * many digits were read (their value in *val), or 0 if it is not so.
 */
static size_t digits(const char *t, size_t len, size_t min, size_t max,
                     int *val) {
  size_t i = 0;
  int v = 0;
  while (i < len && i < max && is_digit(t[i]))
    v = v * 10 + (t[i++] - '0');
  if (i < min || (i < len && is_digit(t[i])))
    return 0;
  *val = v;
  return i;
}

/* time = hms-time ( non-digit *OCTET ); hms-time = 1*2DIGIT ":" 1*2DIGIT
 * ":" 1*2DIGIT. */
static int date_time(const char *t, size_t len, int *h, int *m, int *s) {
  int v[3];
  size_t at = 0;
  for (int i = 0; i < 3; i++) {
    size_t n = digits(t + at, len - at, 1, 2, &v[i]);
    if (n == 0)
      return 0;
    at += n;
    if (i < 2) {
      if (at >= len || t[at] != ':')
        return 0;
      at++;
    }
  }
  *h = v[0];
  *m = v[1];
  *s = v[2];
  return 1;
}

/* month = ( "jan" / ... / "dec" ) *OCTET: 1..12, or 0. */
static int date_month(const char *t, size_t len) {
  static const char *const names[12] = {"jan", "feb", "mar", "apr",
                                        "may", "jun", "jul", "aug",
                                        "sep", "oct", "nov", "dec"};
  if (len < 3)
    return 0;
  for (int m = 0; m < 12; m++)
    if (ieq_lit(t, 3, names[m]))
      return m + 1;
  return 0;
}

static int leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* Days from 1970-01-01 to y-m-d (a valid date, y >= 1). */
static int64_t days_since_epoch(int y, int m, int d) {
  static const int before[12] = {0,   31,  59,  90,  120, 151,
                                 181, 212, 243, 273, 304, 334};
  int64_t py = (int64_t)y - 1;
  /* Days from 0001-01-01 to the start of year y, minus that of 1970. */
  int64_t days = py * 365 + py / 4 - py / 100 + py / 400 - 719162;
  days += before[m - 1] + (m > 2 && leap(y)) + (d - 1);
  return days;
}

int ah__cookie_parse_date(const char *text, size_t len, int64_t *out) {
  static const int month_days[12] = {31, 28, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
  int found_time = 0, found_day = 0, found_month = 0, found_year = 0;
  int hour = 0, minute = 0, second = 0, day = 0, month = 0, year = 0;
  size_t i = 0;

  while (i < len) {
    const char *tok;
    size_t tlen, start;
    int v, h, m, s;
    while (i < len && is_delimiter(text[i]))
      i++;
    start = i;
    while (i < len && !is_delimiter(text[i]))
      i++;
    if (i == start)
      break;
    tok = text + start;
    tlen = i - start;
    if (!found_time && date_time(tok, tlen, &h, &m, &s)) {
      found_time = 1;
      hour = h;
      minute = m;
      second = s;
    } else if (!found_day && digits(tok, tlen, 1, 2, &v) > 0) {
      found_day = 1;
      day = v;
    } else if (!found_month && (v = date_month(tok, tlen)) > 0) {
      found_month = 1;
      month = v;
    } else if (!found_year && digits(tok, tlen, 2, 4, &v) > 0) {
      found_year = 1;
      year = v;
    }
  }
  if (year >= 70 && year <= 99)
    year += 1900;
  else if (year >= 0 && year <= 69)
    year += 2000;
  if (!found_time || !found_day || !found_month || !found_year || day < 1 ||
      day > 31 || year < 1601 || hour > 23 || minute > 59 || second > 59)
    return 0;
  if (day > month_days[month - 1] + (month == 2 && leap(year)))
    return 0; /* no such date (5.1.1 step 6) */
  *out = days_since_epoch(year, month, day) * 86400 + hour * 3600 +
         minute * 60 + second;
  return 1;
}

/* ---- Set-Cookie parsing (RFC 6265 5.2) ---- */

typedef struct set_cookie {
  const char *name, *value;
  size_t name_len, value_len;
  const char *domain; /* the last Domain attribute, leading dot removed */
  size_t domain_len;
  int has_domain;
  const char *path; /* the last Path attribute, if it starts with '/' */
  size_t path_len;
  int has_path;
  int has_max_age, has_expires;
  int64_t max_age_expiry, expires;
  int secure, http_only, same_site;
} set_cookie;

/* Max-Age (5.2.2) into an expiry time; 0 if the value is to be ignored. */
static int max_age(const char *v, size_t len, int64_t now, int64_t *expiry) {
  size_t i = 0;
  int negative = 0;
  int64_t delta = 0;
  if (len > 0 && v[0] == '-') {
    negative = 1;
    i = 1;
  }
  if (i == len)
    return 0;
  for (; i < len; i++) {
    if (!is_digit(v[i]))
      return 0;
    if (delta <= (INT64_MAX - 9) / 10)
      delta = delta * 10 + (v[i] - '0');
    else
      delta = INT64_MAX; /* stays saturated */
  }
  if (negative || delta == 0)
    *expiry = INT64_MIN; /* the earliest representable time */
  else if (now > 0 && delta > INT64_MAX - now)
    *expiry = INT64_MAX;
  else
    *expiry = now + delta;
  return 1;
}

/* One cookie-av (5.2 steps 4-6). Unknown attributes are ignored. */
static void attribute(set_cookie *sc, const char *name, size_t nlen,
                      const char *v, size_t vlen, int64_t now) {
  int64_t t;
  if (vlen > AH__COOKIE_MAX_ATTR)
    return; /* RFC 6265bis 5.6: too long, ignored */
  if (ieq_lit(name, nlen, "expires")) {
    if (ah__cookie_parse_date(v, vlen, &t)) {
      sc->has_expires = 1;
      sc->expires = t;
    }
  } else if (ieq_lit(name, nlen, "max-age")) {
    if (max_age(v, vlen, now, &t)) {
      sc->has_max_age = 1;
      sc->max_age_expiry = t;
    }
  } else if (ieq_lit(name, nlen, "domain")) {
    if (vlen == 0)
      return; /* 5.2.3: SHOULD ignore an empty Domain */
    if (v[0] == '.') {
      v++;
      vlen--;
    }
    sc->has_domain = 1;
    sc->domain = v;
    sc->domain_len = vlen;
  } else if (ieq_lit(name, nlen, "path")) {
    /* 5.2.4: an empty or relative Path means the default path. */
    sc->has_path = vlen > 0 && v[0] == '/';
    sc->path = v;
    sc->path_len = vlen;
  } else if (ieq_lit(name, nlen, "secure")) {
    sc->secure = 1;
  } else if (ieq_lit(name, nlen, "httponly")) {
    sc->http_only = 1;
  } else if (ieq_lit(name, nlen, "samesite")) {
    if (ieq_lit(v, vlen, "strict"))
      sc->same_site = AH__SAME_SITE_STRICT;
    else if (ieq_lit(v, vlen, "lax"))
      sc->same_site = AH__SAME_SITE_LAX;
    else if (ieq_lit(v, vlen, "none"))
      sc->same_site = AH__SAME_SITE_NONE;
    else
      sc->same_site = AH__SAME_SITE_DEFAULT;
  }
}

/* 5.2: 1 and *sc filled (views into s), or 0 when the cookie is ignored. */
static int parse_set_cookie(const char *s, size_t len, int64_t now,
                            set_cookie *sc) {
  const char *end = s + len, *pair_end, *eq, *p;

  memset(sc, 0, sizeof *sc);
  for (size_t i = 0; i < len; i++)
    if (is_ctl(s[i]) && s[i] != '\t')
      return 0; /* RFC 6265bis 5.6 step 1 */
  pair_end = memchr(s, ';', len);
  if (pair_end == NULL)
    pair_end = end;
  eq = memchr(s, '=', (size_t)(pair_end - s));
  if (eq == NULL)
    return 0;
  sc->name = s;
  sc->name_len = (size_t)(eq - s);
  sc->value = eq + 1;
  sc->value_len = (size_t)(pair_end - eq - 1);
  trim(&sc->name, &sc->name_len);
  trim(&sc->value, &sc->value_len);
  if (sc->name_len == 0 || sc->name_len + sc->value_len > AH__COOKIE_MAX_PAIR)
    return 0;
  if (has_ctl(sc->name, sc->name_len) || has_ctl(sc->value, sc->value_len))
    return 0; /* an inner tab: the cookie file could not hold it */

  for (p = pair_end; p < end;) {
    const char *av = p + 1, *av_end, *aname, *aval;
    size_t alen, nlen, vlen;
    av_end = memchr(av, ';', (size_t)(end - av));
    if (av_end == NULL)
      av_end = end;
    alen = (size_t)(av_end - av);
    eq = memchr(av, '=', alen);
    aname = av;
    nlen = eq != NULL ? (size_t)(eq - av) : alen;
    aval = eq != NULL ? eq + 1 : av_end;
    vlen = eq != NULL ? (size_t)(av_end - eq - 1) : 0;
    trim(&aname, &nlen);
    trim(&aval, &vlen);
    attribute(sc, aname, nlen, aval, vlen, now);
    p = av_end;
  }
  return 1;
}

/* ---- the jar ---- */

static int expired(const cookie *c, int64_t now) {
  return (c->flags & C_PERSISTENT) != 0 && c->expiry <= now;
}

/* One allocation with the strings after the struct; domain lowercased. */
static cookie *cookie_make(const char *name, size_t nl, const char *value,
                           size_t vl, const char *domain, size_t dl,
                           const char *path, size_t pl) {
  cookie *c = ah__malloc(sizeof *c + nl + vl + dl + pl + 4);
  char *p;
  if (c == NULL)
    return NULL;
  memset(c, 0, sizeof *c);
  p = (char *)(c + 1);
  c->name = p;
  memcpy(p, name, nl);
  p[nl] = '\0';
  p += nl + 1;
  c->value = p;
  if (vl > 0)
    memcpy(p, value, vl);
  p[vl] = '\0';
  p += vl + 1;
  c->domain = p;
  for (size_t i = 0; i < dl; i++)
    p[i] = lower(domain[i]);
  p[dl] = '\0';
  p += dl + 1;
  c->path = p;
  memcpy(p, path, pl);
  p[pl] = '\0';
  c->name_len = nl;
  c->value_len = vl;
  c->domain_len = dl;
  c->path_len = pl;
  c->expiry = INT64_MAX;
  return c;
}

/* The cookie with c's name, domain and path (5.3 step 11), or NOT_FOUND. */
static size_t find_same(const ah__cookie_jar *jar, const cookie *c) {
  for (size_t i = 0; i < jar->n; i++) {
    const cookie *o = jar->v[i];
    if (o->name_len == c->name_len && o->domain_len == c->domain_len &&
        o->path_len == c->path_len &&
        memcmp(o->name, c->name, c->name_len) == 0 &&
        memcmp(o->domain, c->domain, c->domain_len) == 0 &&
        memcmp(o->path, c->path, c->path_len) == 0)
      return i;
  }
  return NOT_FOUND;
}

static void remove_at(ah__cookie_jar *jar, size_t i) {
  ah__free(jar->v[i]);
  memmove(&jar->v[i], &jar->v[i + 1], (jar->n - i - 1) * sizeof jar->v[0]);
  jar->n--;
}

static void purge_expired(ah__cookie_jar *jar, int64_t now) {
  size_t kept = 0;
  for (size_t i = 0; i < jar->n; i++) {
    if (expired(jar->v[i], now))
      ah__free(jar->v[i]);
    else
      jar->v[kept++] = jar->v[i];
  }
  jar->n = kept;
}

/* Room for `want` cookies (at most AH__COOKIE_MAX_TOTAL). */
static int reserve(ah__cookie_jar *jar, size_t want) {
  size_t cap = jar->cap > 0 ? jar->cap : 16;
  cookie **v;
  if (want > AH__COOKIE_MAX_TOTAL)
    want = AH__COOKIE_MAX_TOTAL;
  if (want <= jar->cap)
    return AH_OK;
  while (cap < want)
    cap *= 2;
  if (cap > AH__COOKIE_MAX_TOTAL)
    cap = AH__COOKIE_MAX_TOTAL;
  v = ah__realloc(jar->v, cap * sizeof *v);
  if (v == NULL)
    return AH_ERR_NO_MEMORY;
  jar->v = v;
  jar->cap = cap;
  return AH_OK;
}

/* Whether a is to be evicted before b: least recently sent, then oldest. */
static int evict_before(const cookie *a, const cookie *b) {
  return a->last_access < b->last_access ||
         (a->last_access == b->last_access && a->creation < b->creation);
}

/*
 * Makes room for one more cookie of `domain` (5.3, last paragraph; the
 * expired ones are gone already): the least recently sent cookie of a
 * full domain goes, then the least recently sent of a full jar.
 */
static void make_room(ah__cookie_jar *jar, const char *domain) {
  size_t same = 0, victim = NOT_FOUND;
  for (size_t i = 0; i < jar->n; i++) {
    if (strcmp(jar->v[i]->domain, domain) != 0)
      continue;
    same++;
    if (victim == NOT_FOUND || evict_before(jar->v[i], jar->v[victim]))
      victim = i;
  }
  if (same >= AH__COOKIE_MAX_PER_DOMAIN)
    remove_at(jar, victim);
  if (jar->n >= AH__COOKIE_MAX_TOTAL) {
    victim = 0;
    for (size_t i = 1; i < jar->n; i++)
      if (evict_before(jar->v[i], jar->v[victim]))
        victim = i;
    remove_at(jar, victim);
  }
}

/*
 * Puts c (unexpired) in the jar, replacing the cookie of the same name,
 * domain and path and keeping its creation (5.3 steps 11-12). The caller
 * has reserved room for one more cookie; nothing here can fail.
 */
static void insert(ah__cookie_jar *jar, cookie *c, int64_t now) {
  size_t old = find_same(jar, c);
  c->last_access = now;
  if (old != NOT_FOUND) {
    c->creation = jar->v[old]->creation;
    ah__free(jar->v[old]);
    jar->v[old] = c;
    return;
  }
  make_room(jar, c->domain);
  c->creation = jar->next_creation++;
  jar->v[jar->n++] = c;
}

int ah__cookie_jar_new(ah__cookie_jar **out) {
  ah__cookie_jar *jar = ah__calloc(1, sizeof *jar);
  *out = jar;
  return jar != NULL ? AH_OK : AH_ERR_NO_MEMORY;
}

void ah__cookie_jar_free(ah__cookie_jar *jar) {
  if (jar == NULL)
    return;
  for (size_t i = 0; i < jar->n; i++)
    ah__free(jar->v[i]);
  ah__free(jar->v);
  ah__free(jar);
}

size_t ah__cookie_jar_count(const ah__cookie_jar *jar) {
  return jar != NULL ? jar->n : 0;
}

int ah__cookie_jar_at(const ah__cookie_jar *jar, size_t i,
                      ah__cookie_view *out) {
  const cookie *c;
  if (jar == NULL || out == NULL || i >= jar->n)
    return AH_ERR_INVALID_PARAMETER;
  c = jar->v[i];
  out->name = c->name;
  out->value = c->value;
  out->domain = c->domain;
  out->path = c->path;
  out->expiry = c->expiry;
  out->last_access = c->last_access;
  out->creation = c->creation;
  out->host_only = (c->flags & C_HOST_ONLY) != 0;
  out->secure = (c->flags & C_SECURE) != 0;
  out->http_only = (c->flags & C_HTTP_ONLY) != 0;
  out->persistent = (c->flags & C_PERSISTENT) != 0;
  out->same_site = c->same_site;
  return AH_OK;
}

/* 5.3 step 5-6: the cookie's domain from its Domain attribute (or the
 * host), its host-only flag; 0 when the cookie is to be ignored. */
static int cookie_domain(const set_cookie *sc, const char *host,
                         const char **domain, size_t *dl, int *host_only,
                         char *buf) {
  size_t hl = strlen(host);
  int host_ip = is_ip(host);

  *domain = host;
  *dl = hl;
  *host_only = 1;
  if (!sc->has_domain || sc->domain_len == 0)
    return 1;
  /* buf has room for AH__COOKIE_MAX_ATTR + 1 bytes. */
  for (size_t i = 0; i < sc->domain_len; i++)
    buf[i] = lower(sc->domain[i]);
  buf[sc->domain_len] = '\0';
  if (!dmatch(host, hl, host_ip, buf, sc->domain_len))
    return 0; /* another site's domain (step 6) */
  if (host_ip || public_suffix(buf))
    return sc->domain_len == hl; /* only the host itself, host-only */
  *domain = buf;
  *dl = sc->domain_len;
  *host_only = 0;
  return 1;
}

/*
 * RFC 6265bis 5.7 step 16: a cookie from an insecure response must not
 * overwrite or shadow a Secure one of the same name whose domain matches
 * either way round and whose path its path matches.
 */
static int shadows_secure(const ah__cookie_jar *jar, const cookie *c) {
  int c_ip = is_ip(c->domain);
  for (size_t i = 0; i < jar->n; i++) {
    const cookie *o = jar->v[i];
    if ((o->flags & C_SECURE) == 0 || o->name_len != c->name_len ||
        memcmp(o->name, c->name, c->name_len) != 0)
      continue;
    if ((dmatch(o->domain, o->domain_len, is_ip(o->domain), c->domain,
                c->domain_len) ||
         dmatch(c->domain, c->domain_len, c_ip, o->domain, o->domain_len)) &&
        pmatch(c->path, c->path_len, o->path, o->path_len))
      return 1;
  }
  return 0;
}

/*
 * RFC 6265 5.3 steps 1-10 (and the 6265bis rules of cookie_jar.h): the
 * cookie to store in *out, or *out = NULL when it is to be ignored.
 */
static int judge(const ah__cookie_jar *jar, const char *s, size_t len,
                 const char *host, const char *path, int secure, int64_t now,
                 cookie **out) {
  char buf[AH__COOKIE_MAX_ATTR + 1];
  set_cookie sc;
  const char *rp, *domain, *cp;
  size_t rl, dl, cl;
  int host_only;
  cookie *c;

  *out = NULL;
  if (host[0] == '\0' || !parse_set_cookie(s, len, now, &sc))
    return AH_OK;
  if (sc.secure && !secure)
    return AH_OK; /* 6265bis: Secure only from a secure origin */
  if (!cookie_domain(&sc, host, &domain, &dl, &host_only, buf))
    return AH_OK;
  request_path(path, &rp, &rl);
  if (sc.has_path) {
    cp = sc.path;
    cl = sc.path_len;
  } else {
    default_path(rp, rl, &cp, &cl);
  }
  if (has_ctl(domain, dl) || has_ctl(cp, cl))
    return AH_OK; /* a tab would break the cookie file */
  /* 6265bis 4.1.3: the name prefixes. */
  if (istarts_lit(sc.name, sc.name_len, "__secure-") && !sc.secure)
    return AH_OK;
  if (istarts_lit(sc.name, sc.name_len, "__host-") &&
      (!sc.secure || !host_only || !sc.has_path || cl != 1))
    return AH_OK;

  c = cookie_make(sc.name, sc.name_len, sc.value, sc.value_len, domain, dl, cp,
                  cl);
  if (c == NULL)
    return AH_ERR_NO_MEMORY;
  if (sc.has_max_age) {
    c->flags |= C_PERSISTENT;
    c->expiry = sc.max_age_expiry;
  } else if (sc.has_expires) {
    c->flags |= C_PERSISTENT;
    c->expiry = sc.expires;
  }
  c->flags |= (host_only ? C_HOST_ONLY : 0u) | (sc.secure ? C_SECURE : 0u) |
              (sc.http_only ? C_HTTP_ONLY : 0u);
  c->same_site = sc.same_site;
  if (!secure && !sc.secure && shadows_secure(jar, c)) {
    ah__free(c);
    return AH_OK;
  }
  *out = c;
  return AH_OK;
}

static void set_history(ah_cookie_history *history, int accepted) {
  if (history == NULL)
    return;
  memset(history, 0, sizeof *history);
  history->accepted = accepted;
  history->rejected = !accepted;
}

int ah__cookie_jar_store(ah__cookie_jar *jar, const char *value, size_t len,
                         const char *host, const char *path, int secure,
                         int64_t now, ah_cookie_history *history) {
  cookie *c;
  size_t old;
  int rc;

  set_history(history, 0);
  if (jar == NULL || value == NULL || host == NULL)
    return AH_ERR_INVALID_PARAMETER;
  purge_expired(jar, now);
  rc = judge(jar, value, len, host, path, secure, now, &c);
  if (rc != AH_OK || c == NULL)
    return rc;
  old = find_same(jar, c);
  if (expired(c, now)) {
    /* A deletion (5.3: expired cookies are evicted at once). */
    if (old != NOT_FOUND)
      remove_at(jar, old);
    ah__free(c);
  } else {
    if (old == NOT_FOUND && reserve(jar, jar->n + 1) != AH_OK) {
      ah__free(c);
      return AH_ERR_NO_MEMORY;
    }
    insert(jar, c, now);
  }
  set_history(history, 1);
  return AH_OK;
}

/* 5.4 step 2: longer paths first, then earlier created. */
static int send_order(const void *a, const void *b) {
  const cookie *x = *(const cookie *const *)a, *y = *(const cookie *const *)b;
  if (x->path_len != y->path_len)
    return x->path_len > y->path_len ? -1 : 1;
  return x->creation < y->creation ? -1 : x->creation > y->creation;
}

/* 5.4 step 1. */
static int sent_with(const cookie *c, const char *host, size_t hl, int host_ip,
                     const char *rp, size_t rl, int secure) {
  if ((c->flags & C_SECURE) != 0 && !secure)
    return 0;
  if ((c->flags & C_HOST_ONLY) != 0) {
    if (hl != c->domain_len || !ieq(host, c->domain, hl))
      return 0;
  } else if (!dmatch(host, hl, host_ip, c->domain, c->domain_len)) {
    return 0;
  }
  return pmatch(rp, rl, c->path, c->path_len);
}

int ah__cookie_jar_header(ah__cookie_jar *jar, const char *host,
                          const char *path, int secure, int64_t now, char **out,
                          size_t *count) {
  cookie **list;
  const char *rp;
  size_t rl, hl, k = 0, size = 0;
  int host_ip;
  char *buf, *p;

  if (out != NULL)
    *out = NULL;
  if (count != NULL)
    *count = 0;
  if (jar == NULL || host == NULL || out == NULL)
    return AH_ERR_INVALID_PARAMETER;
  purge_expired(jar, now);
  request_path(path, &rp, &rl);
  hl = strlen(host);
  host_ip = is_ip(host);
  for (size_t i = 0; i < jar->n; i++)
    if (sent_with(jar->v[i], host, hl, host_ip, rp, rl, secure))
      k++;
  if (k == 0)
    return AH_OK;
  list = ah__malloc(k * sizeof *list);
  if (list == NULL)
    return AH_ERR_NO_MEMORY;
  k = 0;
  for (size_t i = 0; i < jar->n; i++) {
    cookie *c = jar->v[i];
    if (sent_with(c, host, hl, host_ip, rp, rl, secure)) {
      list[k++] = c;
      size += c->name_len + 1 + c->value_len + 2;
    }
  }
  qsort(list, k, sizeof *list, send_order);
  buf = ah__malloc(size - 1); /* no "; " after the last, one NUL */
  if (buf == NULL) {
    ah__free(list);
    return AH_ERR_NO_MEMORY;
  }
  p = buf;
  for (size_t i = 0; i < k; i++) {
    const cookie *c = list[i];
    if (i > 0) {
      *p++ = ';';
      *p++ = ' ';
    }
    memcpy(p, c->name, c->name_len);
    p += c->name_len;
    *p++ = '=';
    memcpy(p, c->value, c->value_len);
    p += c->value_len;
    list[i]->last_access = now; /* 5.4 step 3 */
  }
  *p = '\0';
  ah__free(list);
  *out = buf;
  if (count != NULL)
    *count = k;
  return AH_OK;
}

/* ---- the Netscape cookie file ---- */

enum { LINE_OK, LINE_END, LINE_TOO_LONG, LINE_READ_ERROR };

/* One line (without its LF or CRLF) into buf[0..cap), NUL-terminated. */
static int read_line(FILE *f, char *buf, size_t cap, size_t *len) {
  size_t n = 0;
  int ch;
  while ((ch = getc(f)) != EOF && ch != '\n') {
    if (n + 1 >= cap)
      return LINE_TOO_LONG;
    buf[n++] = (char)ch;
  }
  if (ch == EOF) {
    if (ferror(f))
      return LINE_READ_ERROR;
    if (n == 0)
      return LINE_END;
  }
  if (n > 0 && buf[n - 1] == '\r')
    n--;
  buf[n] = '\0';
  *len = n;
  return LINE_OK;
}

/* TRUE or FALSE (any case) into *flag; 0 if neither. */
static int bool_field(const char *s, size_t len, int *flag) {
  *flag = ieq_lit(s, len, "true");
  return *flag || ieq_lit(s, len, "false");
}

/* A decimal int64 (an optional '-'); 0 if it is not one. */
static int int_field(const char *s, size_t len, int64_t *out) {
  size_t i = len > 0 && s[0] == '-' ? 1 : 0;
  int64_t v = 0;
  if (i == len)
    return 0;
  for (; i < len; i++) {
    int d;
    if (!is_digit(s[i]))
      return 0;
    d = s[i] - '0';
    if (v > (INT64_MAX - d) / 10)
      return 0;
    v = v * 10 + d;
  }
  *out = s[0] == '-' ? -v : v;
  return 1;
}

/*
 * The tab-separated fields of line[at..len) into f/fl (7 of them; a
 * missing 7th, the value, is empty as curl reads it): 1, or 0 with *why.
 */
static int split_fields(const char *line, size_t at, size_t len, const char **f,
                        size_t *fl, const char **why) {
  size_t nf = 0, start = at;
  for (;; at++) {
    if (at == len || line[at] == '\t') {
      if (nf == 7) {
        *why = "not 7 tab-separated fields";
        return 0;
      }
      f[nf] = line + start;
      fl[nf++] = at - start;
      start = at + 1;
      if (at == len)
        break;
    } else if (is_ctl(line[at])) {
      *why = "a control character";
      return 0;
    }
  }
  if (nf < 6) {
    *why = "not 7 tab-separated fields";
    return 0;
  }
  if (nf == 6) {
    f[6] = "";
    fl[6] = 0;
  }
  return 1;
}

/*
 * One line of a cookie file into `into` (a staging jar). AH_OK (a cookie
 * added, or a line skipped), AH_ERR_INVALID_PARAMETER with *why, or
 * AH_ERR_NO_MEMORY.
 */
static int load_line(ah__cookie_jar *into, const char *line, size_t len,
                     int64_t now, const char **why) {
  static const char http_only[] = "#HttpOnly_";
  const char *f[7];
  size_t fl[7], at = 0;
  unsigned flags = 0;
  int tailmatch, secure;
  int64_t expiry;
  cookie *c;

  while (at < len && is_wsp(line[at]))
    at++;
  if (at == len)
    return AH_OK; /* blank */
  if (len - at >= sizeof http_only - 1 &&
      memcmp(line + at, http_only, sizeof http_only - 1) == 0) {
    flags |= C_HTTP_ONLY;
    at += sizeof http_only - 1;
  } else if (line[at] == '#') {
    return AH_OK; /* a comment */
  }
  if (!split_fields(line, at, len, f, fl, why))
    return AH_ERR_INVALID_PARAMETER;
  if (fl[0] > 0 && f[0][0] == '.') {
    f[0]++;
    fl[0]--;
  }
  if (fl[0] == 0) {
    *why = "an empty domain";
    return AH_ERR_INVALID_PARAMETER;
  }
  if (!bool_field(f[1], fl[1], &tailmatch) ||
      !bool_field(f[3], fl[3], &secure)) {
    *why = "the 2nd and 4th fields must be TRUE or FALSE";
    return AH_ERR_INVALID_PARAMETER;
  }
  if (fl[2] == 0 || f[2][0] != '/') {
    *why = "the path does not start with '/'";
    return AH_ERR_INVALID_PARAMETER;
  }
  if (!int_field(f[4], fl[4], &expiry)) {
    *why = "the expiry is not a number";
    return AH_ERR_INVALID_PARAMETER;
  }
  if (fl[5] == 0) {
    *why = "an empty cookie name";
    return AH_ERR_INVALID_PARAMETER;
  }

  /* Well formed; skip what a Set-Cookie could never have made. */
  if ((expiry != 0 && expiry <= now) || fl[5] + fl[6] > AH__COOKIE_MAX_PAIR ||
      memchr(f[5], '=', fl[5]) != NULL || memchr(f[5], ';', fl[5]) != NULL ||
      memchr(f[6], ';', fl[6]) != NULL)
    return AH_OK;
  c = cookie_make(f[5], fl[5], f[6], fl[6], f[0], fl[0], f[2], fl[2]);
  if (c == NULL)
    return AH_ERR_NO_MEMORY;
  if (tailmatch && (is_ip(c->domain) || public_suffix(c->domain))) {
    if (!is_ip(c->domain)) {
      ah__free(c); /* a domain cookie for a public suffix */
      return AH_OK;
    }
    tailmatch = 0; /* an IP address matches only itself anyway */
  }
  c->flags = flags | (tailmatch ? 0u : C_HOST_ONLY) | (secure ? C_SECURE : 0u) |
             (expiry != 0 ? C_PERSISTENT : 0u);
  c->expiry = expiry != 0 ? expiry : INT64_MAX;
  if (reserve(into, into->n + 1) != AH_OK) {
    ah__free(c);
    return AH_ERR_NO_MEMORY;
  }
  insert(into, c, now);
  return AH_OK;
}

/* Moves every cookie of `from` into `jar`, in order. Cannot fail once room
 * was reserved. */
static int merge(ah__cookie_jar *jar, ah__cookie_jar *from, int64_t now) {
  purge_expired(jar, now);
  if (reserve(jar, jar->n + from->n) != AH_OK)
    return AH_ERR_NO_MEMORY;
  for (size_t i = 0; i < from->n; i++)
    insert(jar, from->v[i], now);
  from->n = 0;
  return AH_OK;
}

int ah__cookie_jar_load(ah__cookie_jar *jar, const char *path, int64_t now,
                        char *detail, size_t detail_len) {
  ah__cookie_jar *staging = NULL;
  char why_buf[128];
  char *line = NULL;
  FILE *f = NULL;
  unsigned long lineno = 0;
  int rc;

  if (jar == NULL || path == NULL) {
    set_detail(detail, detail_len, "no jar or no path");
    return AH_ERR_INVALID_PARAMETER;
  }
  line = ah__malloc(AH__COOKIE_MAX_LINE + 1);
  rc = ah__cookie_jar_new(&staging);
  if (line == NULL || rc != AH_OK) {
    rc = AH_ERR_NO_MEMORY;
    goto done;
  }
  f = fopen(path, "r");
  if (f == NULL) {
    set_detail(detail, detail_len, "cannot open %s: %s", path,
               error_text(errno, why_buf, sizeof why_buf));
    rc = AH_ERR_SYSTEM;
    goto done;
  }
  for (;;) {
    const char *why = NULL;
    size_t len = 0;
    int r = read_line(f, line, AH__COOKIE_MAX_LINE + 1, &len);
    if (r == LINE_END)
      break;
    lineno++;
    if (r == LINE_READ_ERROR) {
      set_detail(detail, detail_len, "cannot read %s: %s", path,
                 error_text(errno, why_buf, sizeof why_buf));
      rc = AH_ERR_SYSTEM;
      goto done;
    }
    if (r == LINE_TOO_LONG) {
      set_detail(detail, detail_len, "line %lu: longer than %d bytes", lineno,
                 AH__COOKIE_MAX_LINE);
      rc = AH_ERR_INVALID_PARAMETER;
      goto done;
    }
    rc = load_line(staging, line, len, now, &why);
    if (rc == AH_ERR_INVALID_PARAMETER)
      set_detail(detail, detail_len, "line %lu: %s", lineno, why);
    if (rc != AH_OK)
      goto done;
  }
  rc = merge(jar, staging, now);
done:
  if (f != NULL)
    fclose(f);
  ah__cookie_jar_free(staging);
  ah__free(line);
  if (rc == AH_ERR_NO_MEMORY)
    set_detail(detail, detail_len, "out of memory");
  return rc;
}

static int write_cookies(FILE *f, const ah__cookie_jar *jar) {
  fputs("# Netscape HTTP Cookie File\n"
        "# Written by ahttp; the format of curl -b and -c.\n\n",
        f);
  for (size_t i = 0; i < jar->n; i++) {
    const cookie *c = jar->v[i];
    int host_only = (c->flags & C_HOST_ONLY) != 0;
    fprintf(f, "%s%s%s\t%s\t%s\t%s\t%" PRId64 "\t%s\t%s\n",
            (c->flags & C_HTTP_ONLY) != 0 ? "#HttpOnly_" : "",
            host_only ? "" : ".", c->domain, host_only ? "FALSE" : "TRUE",
            c->path, (c->flags & C_SECURE) != 0 ? "TRUE" : "FALSE",
            (c->flags & C_PERSISTENT) != 0 ? c->expiry : (int64_t)0, c->name,
            c->value);
  }
  return fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;
}

int ah__cookie_jar_save(ah__cookie_jar *jar, const char *path, int64_t now,
                        char *detail, size_t detail_len) {
  static const char suffix[] = ".XXXXXX";
  char why_buf[128];
  size_t plen;
  char *tmp;
  FILE *f;
  int fd, ok, err;

  if (jar == NULL || path == NULL) {
    set_detail(detail, detail_len, "no jar or no path");
    return AH_ERR_INVALID_PARAMETER;
  }
  purge_expired(jar, now);
  plen = strlen(path);
  tmp = ah__malloc(plen + sizeof suffix);
  if (tmp == NULL) {
    set_detail(detail, detail_len, "out of memory");
    return AH_ERR_NO_MEMORY;
  }
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, suffix, sizeof suffix);
  fd = mkstemp(tmp); /* mode 0600 */
  if (fd < 0) {
    set_detail(detail, detail_len, "cannot create a file beside %s: %s", path,
               error_text(errno, why_buf, sizeof why_buf));
    ah__free(tmp);
    return AH_ERR_SYSTEM;
  }
  f = fdopen(fd, "w");
  if (f == NULL) {
    err = errno;
    close(fd);
    ok = 0;
  } else {
    ok = write_cookies(f, jar);
    err = errno;
    if (fclose(f) != 0 && ok) {
      ok = 0;
      err = errno;
    }
  }
  if (ok && rename(tmp, path) != 0) {
    ok = 0;
    err = errno;
  }
  if (!ok) {
    unlink(tmp);
    set_detail(detail, detail_len, "cannot write %s: %s", path,
               error_text(err, why_buf, sizeof why_buf));
  }
  ah__free(tmp);
  return ok ? AH_OK : AH_ERR_SYSTEM;
}
