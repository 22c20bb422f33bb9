/*
 * url.c - absolute URLs and reference resolution (RFC 3986 sections 3 and
 * 5). A text is first split into views of its components (5.2.1, the
 * regular expression of appendix B), with no allocation; the result is then
 * composed into a fresh ah__url that is handed over only when complete, so
 * every failure path releases everything and leaves *out zeroed.
 *
 * The target is built by percent-encoding the path pieces (see url.h for
 * which bytes), removing dot segments, and appending the encoded query.
 * Encoding only touches bytes that never occur in a target we made, so it
 * is idempotent: a base's path and query go through it again unchanged,
 * and parse(format(u)) gives u's target back.
 */
#include "util/url.h"

#include "ahttp.h"
#include "util/alloc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct view {
  const char *p;
  size_t n;
} view;

/* The components of a URI reference; the fragment is not kept. */
typedef struct ref_parts {
  int has_scheme, has_authority, has_query;
  view scheme, authority, path, query;
} ref_parts;

static int is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hex_value(char c) {
  if (is_digit(c))
    return c - '0';
  return (c | 0x20) - 'a' + 10;
}

static char to_lower(char c) {
  return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* RFC 3986 3.2.2 reg-name without pct-encoded: unreserved / sub-delims. */
static int is_reg_name_char(char c) {
  return is_alpha(c) || is_digit(c) ||
         (c != '\0' && strchr("-._~!$&'()*+,;=", c) != NULL);
}

/* Bytes the target never holds raw (see url.h). C0 controls never get this
 * far; they are listed so that the rule stands on its own. */
static int must_encode(unsigned char c) {
  return c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' ||
         c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' || c == '}';
}

/*
 * Trims surrounding spaces (header values are trimmed already; URLs typed
 * or pasted often are not) and refuses what no URL may hold: C0 controls
 * anywhere, NUL, CR and LF included, whether in the path or the fragment.
 */
static int prepare(const char **text, size_t *len) {
  const char *s = *text;
  size_t n = *len, i;
  if (n > AH__URL_MAX_LEN)
    return AH_ERR_INVALID_PARAMETER;
  while (n > 0 && s[0] == ' ') {
    s++;
    n--;
  }
  while (n > 0 && s[n - 1] == ' ')
    n--;
  for (i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20)
      return AH_ERR_INVALID_PARAMETER;
  *text = s;
  *len = n;
  return AH_OK;
}

/* RFC 3986 5.2.1 / appendix B, with a scheme only when it is a valid one
 * (3.1): "1x:y" is a relative path. Backslashes delimit nothing. */
static void split(const char *s, size_t n, ref_parts *r) {
  size_t i = 0, start;
  memset(r, 0, sizeof *r);
  if (n > 0 && is_alpha(s[0])) {
    for (i = 1; i < n; i++)
      if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '+' && s[i] != '-' &&
          s[i] != '.')
        break;
    if (i < n && s[i] == ':') {
      r->has_scheme = 1;
      r->scheme.p = s;
      r->scheme.n = i;
      i++;
    } else {
      i = 0;
    }
  }
  if (n - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
    i += 2;
    start = i;
    while (i < n && s[i] != '/' && s[i] != '?' && s[i] != '#')
      i++;
    r->has_authority = 1;
    r->authority.p = s + start;
    r->authority.n = i - start;
  }
  start = i;
  while (i < n && s[i] != '?' && s[i] != '#')
    i++;
  r->path.p = s + start;
  r->path.n = i - start;
  if (i < n && s[i] == '?') {
    start = ++i;
    while (i < n && s[i] != '#')
      i++;
    r->has_query = 1;
    r->query.p = s + start;
    r->query.n = i - start;
  }
}

static uint16_t default_port(const char *scheme) {
  if (strcmp(scheme, "http") == 0)
    return 80;
  if (strcmp(scheme, "https") == 0)
    return 443;
  return 0;
}

static int needs_host(const char *scheme) {
  return strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0;
}

static char *dup_lower(const char *s, size_t n) {
  char *copy = ah__strndup(s, n);
  size_t i;
  for (i = 0; copy != NULL && i < n; i++)
    copy[i] = to_lower(copy[i]);
  return copy;
}

/*
 * RFC 3986 3.2.1: userinfo is percent-decoded for use in credentials. A
 * '%' without two hex digits stays a '%' (the lenient reading of the rest
 * of the URL); an escape decoding to NUL is refused since the result is a
 * C string.
 */
static int decode_userinfo(view v, char **out) {
  char *s = ah__malloc(v.n + 1);
  size_t i, n = 0;
  *out = NULL;
  if (s == NULL)
    return AH_ERR_NO_MEMORY;
  for (i = 0; i < v.n; i++) {
    char c = v.p[i];
    if (c == '%' && i + 2 < v.n && is_hex(v.p[i + 1]) && is_hex(v.p[i + 2])) {
      c = (char)(hex_value(v.p[i + 1]) * 16 + hex_value(v.p[i + 2]));
      i += 2;
      if (c == '\0') {
        ah__free(s);
        return AH_ERR_INVALID_PARAMETER;
      }
    }
    s[n++] = c;
  }
  s[n] = '\0';
  *out = s;
  return AH_OK;
}

/* A dotted quad as RFC 3986 3.2.2 IPv4address has it: no leading zeros. */
static int valid_ipv4(const char *s, size_t n) {
  size_t i = 0;
  int part;
  for (part = 0; part < 4; part++) {
    size_t start = i;
    unsigned v = 0;
    while (i < n && is_digit(s[i]) && i - start < 3)
      v = v * 10 + (unsigned)(s[i++] - '0');
    if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
      return 0;
    if (part < 3) {
      if (i >= n || s[i] != '.')
        return 0;
      i++;
    }
  }
  return i == n;
}

/* RFC 3986 3.2.2 IPv6address: eight groups of 1-4 hex digits, the last two
 * possibly a dotted quad, one "::" standing for one or more zero groups. */
static int valid_ipv6(const char *s, size_t n) {
  size_t i = 0;
  int groups = 0, gap = 0;
  if (n >= 2 && s[0] == ':' && s[1] == ':') {
    gap = 1;
    i = 2;
    if (i == n)
      return 1;
  } else if (n == 0 || s[0] == ':') {
    return 0;
  }
  for (;;) {
    size_t start = i;
    while (i < n && i - start < 4 && is_hex(s[i]))
      i++;
    if (i < n && s[i] == '.') {
      if (groups > 6 || !valid_ipv4(s + start, n - start))
        return 0;
      groups += 2;
      break;
    }
    if (i == start)
      return 0;
    groups++;
    if (i == n)
      break;
    if (s[i] != ':' || groups == 8)
      return 0;
    i++;
    if (i < n && s[i] == ':') {
      if (gap)
        return 0;
      gap = 1;
      i++;
      if (i == n)
        break;
    } else if (i == n) {
      return 0; /* a single trailing ':' */
    }
  }
  return gap ? groups <= 7 : groups == 8;
}

/* RFC 3986 3.2.3: digits only; empty means no port (6.2.3). */
static int parse_port(view v, uint16_t *port, int *given) {
  unsigned long value = 0;
  size_t i;
  if (v.n == 0)
    return AH_OK;
  for (i = 0; i < v.n; i++) {
    if (!is_digit(v.p[i]))
      return AH_ERR_INVALID_PARAMETER;
    value = value * 10 + (unsigned long)(v.p[i] - '0');
    if (value > 65535)
      return AH_ERR_INVALID_PARAMETER;
  }
  if (value == 0)
    return AH_ERR_INVALID_PARAMETER;
  *port = (uint16_t)value;
  *given = 1;
  return AH_OK;
}

/* Splits host[:port] into views, checking the host's characters. */
static int split_host_port(view hp, view *host, view *port) {
  size_t i;
  port->p = hp.p + hp.n;
  port->n = 0;
  if (hp.n > 0 && hp.p[0] == '[') {
    const char *close = memchr(hp.p, ']', hp.n);
    size_t after;
    if (close == NULL)
      return AH_ERR_INVALID_PARAMETER;
    host->p = hp.p + 1;
    host->n = (size_t)(close - host->p);
    if (!valid_ipv6(host->p, host->n))
      return AH_ERR_INVALID_PARAMETER;
    after = (size_t)(close - hp.p) + 1;
    if (after < hp.n) {
      if (hp.p[after] != ':')
        return AH_ERR_INVALID_PARAMETER;
      port->p = hp.p + after + 1;
      port->n = hp.n - after - 1;
    }
    return AH_OK;
  }
  host->p = hp.p;
  host->n = hp.n;
  for (i = 0; i < hp.n; i++) {
    if (hp.p[i] == ':') {
      host->n = i;
      port->p = hp.p + i + 1;
      port->n = hp.n - i - 1;
      break;
    }
    if (!is_reg_name_char(hp.p[i]))
      return AH_ERR_INVALID_PARAMETER; /* '%', non-ASCII, '[', '\', ... */
  }
  return AH_OK;
}

/*
 * RFC 3986 3.2: [ userinfo "@" ] host [ ":" port ], into t (whose scheme
 * is set). The last '@' ends the userinfo, as browsers and curl read an
 * unencoded '@' in a password.
 */
static int parse_authority(view a, ah__url *t) {
  view hp = a, host, port;
  size_t i;
  int rc;
  for (i = a.n; i > 0; i--)
    if (a.p[i - 1] == '@')
      break;
  if (i > 0) {
    view user = {a.p, i - 1}, pass = {NULL, 0};
    const char *colon = memchr(a.p, ':', i - 1);
    hp.p = a.p + i;
    hp.n = a.n - i;
    if (colon != NULL) {
      user.n = (size_t)(colon - a.p);
      pass.p = colon + 1;
      pass.n = i - 1 - user.n - 1;
    }
    if ((rc = decode_userinfo(user, &t->user)) != AH_OK)
      return rc;
    if (colon != NULL && (rc = decode_userinfo(pass, &t->password)) != AH_OK)
      return rc;
  }
  if ((rc = split_host_port(hp, &host, &port)) != AH_OK)
    return rc;
  if (host.n == 0 && needs_host(t->scheme))
    return AH_ERR_INVALID_PARAMETER;
  t->port = default_port(t->scheme);
  if ((rc = parse_port(port, &t->port, &t->port_given)) != AH_OK)
    return rc;
  t->host = dup_lower(host.p, host.n);
  return t->host != NULL ? AH_OK : AH_ERR_NO_MEMORY;
}

/* Percent-encodes in[0..n) into out (which has room for 3 * n bytes). */
static size_t encode(view in, char *out) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i, o = 0;
  for (i = 0; i < in.n; i++) {
    unsigned char c = (unsigned char)in.p[i];
    if (must_encode(c)) {
      out[o++] = '%';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    } else {
      out[o++] = (char)c;
    }
  }
  return o;
}

/* Output length without its last segment (RFC 3986 5.2.4 step 2C). */
static size_t drop_last_segment(const char *out, size_t o) {
  while (o > 0 && out[o - 1] != '/')
    o--;
  return o > 0 ? o - 1 : 0;
}

/*
 * RFC 3986 5.2.4 remove_dot_segments, from in[0..n) into out (room for n
 * bytes: the output never outgrows the input). Returns the output length.
 * Our paths are absolute (they start with '/', and every step keeps the
 * rest of the input so), so steps 2A and 2D, which only strip a relative
 * path's leading "./" and "../", never apply and are left out.
 */
static size_t remove_dot_segments(const char *in, size_t n, char *out) {
  size_t i = 0, o = 0;
  while (i < n) {
    const char *p = in + i;
    size_t rest = n - i;
    if (rest >= 3 && memcmp(p, "/./", 3) == 0) {
      i += 2; /* 2B: "/./" becomes "/" */
    } else if (rest == 2 && memcmp(p, "/.", 2) == 0) {
      out[o++] = '/';
      i = n;
    } else if (rest >= 4 && memcmp(p, "/../", 4) == 0) {
      o = drop_last_segment(out, o); /* 2C */
      i += 3;
    } else if (rest == 3 && memcmp(p, "/..", 3) == 0) {
      o = drop_last_segment(out, o);
      out[o++] = '/';
      i = n;
    } else {
      size_t j = 1; /* 2E: the first segment, with its leading '/' */
      while (j < rest && p[j] != '/')
        j++;
      memcpy(out + o, p, j);
      o += j;
      i += j;
    }
  }
  return o;
}

/*
 * The target from path pieces (concatenated, then encoded and cleared of
 * dot segments; "/" when empty) and an optional query (encoded).
 */
static int build_target(const view *pieces, size_t count, int has_query,
                        view query, char **out) {
  size_t raw = 0, n = 0, o, i;
  char *encoded, *target;
  *out = NULL;
  for (i = 0; i < count; i++)
    raw += pieces[i].n;
  encoded = ah__malloc(3 * raw + 1);
  if (encoded == NULL)
    return AH_ERR_NO_MEMORY;
  for (i = 0; i < count; i++)
    n += encode(pieces[i], encoded + n);
  if (n == 0)
    encoded[n++] = '/';
  target = ah__malloc(n + 1 + 3 * query.n + 1);
  if (target == NULL) {
    ah__free(encoded);
    return AH_ERR_NO_MEMORY;
  }
  o = remove_dot_segments(encoded, n, target);
  ah__free(encoded);
  if (has_query) {
    target[o++] = '?';
    o += encode(query, target + o);
  }
  target[o] = '\0';
  *out = target;
  return AH_OK;
}

/* Copies the base's authority into t (RFC 3986 5.2.2: T.authority =
 * Base.authority). */
static int copy_authority(const ah__url *base, ah__url *t) {
  if (base->user != NULL && (t->user = ah__strdup(base->user)) == NULL)
    return AH_ERR_NO_MEMORY;
  if (base->password != NULL &&
      (t->password = ah__strdup(base->password)) == NULL)
    return AH_ERR_NO_MEMORY;
  t->host = ah__strdup(base->host);
  t->port = base->port;
  t->port_given = base->port_given;
  return t->host != NULL ? AH_OK : AH_ERR_NO_MEMORY;
}

/* The target of a reference without an authority, against the base's
 * (RFC 3986 5.2.2 and 5.2.3 merge). */
static int relative_target(const ref_parts *r, const char *base_target,
                           char **out) {
  const char *q = strchr(base_target, '?');
  view base_path = {base_target, q != NULL ? (size_t)(q - base_target)
                                           : strlen(base_target)};
  view base_query = {q != NULL ? q + 1 : "", q != NULL ? strlen(q + 1) : 0};
  view pieces[2];
  if (r->path.n == 0) {
    pieces[0] = base_path;
    if (r->has_query)
      return build_target(pieces, 1, 1, r->query, out);
    return build_target(pieces, 1, q != NULL, base_query, out);
  }
  if (r->path.p[0] == '/') {
    pieces[0] = r->path;
    return build_target(pieces, 1, r->has_query, r->query, out);
  }
  /* Merge: the base path up to and including its last '/'. A base always
   * has an authority and a path starting with '/', so there is one. */
  pieces[0] = base_path;
  while (pieces[0].n > 0 && base_path.p[pieces[0].n - 1] != '/')
    pieces[0].n--;
  pieces[1] = r->path;
  return build_target(pieces, 2, r->has_query, r->query, out);
}

/* T from the split reference and, for a relative one, the base. */
static int compose(const ref_parts *r, const ah__url *base, ah__url *out) {
  ah__url t;
  int rc;
  memset(&t, 0, sizeof t);
  if (r->has_scheme)
    t.scheme = dup_lower(r->scheme.p, r->scheme.n);
  else
    t.scheme = ah__strdup(base->scheme);
  if (t.scheme == NULL) {
    rc = AH_ERR_NO_MEMORY;
    goto fail;
  }
  if (r->has_scheme && !r->has_authority) {
    /* "mailto:x": nothing to send a request to. For http and https it is
     * an empty host. */
    rc = needs_host(t.scheme) ? AH_ERR_INVALID_PARAMETER : AH_ERR_NOT_SUPPORTED;
    goto fail;
  }
  if (r->has_authority) {
    view piece = r->path;
    if ((rc = parse_authority(r->authority, &t)) != AH_OK)
      goto fail;
    rc = build_target(&piece, 1, r->has_query, r->query, &t.target);
  } else {
    if ((rc = copy_authority(base, &t)) != AH_OK)
      goto fail;
    rc = relative_target(r, base->target, &t.target);
  }
  if (rc != AH_OK)
    goto fail;
  *out = t;
  return AH_OK;
fail:
  ah__url_free(&t);
  return rc;
}

int ah__url_parse(const char *text, size_t len, ah__url *out) {
  ref_parts r;
  int rc;
  if (out == NULL)
    return AH_ERR_INVALID_PARAMETER;
  memset(out, 0, sizeof *out);
  if (text == NULL)
    return AH_ERR_INVALID_PARAMETER;
  if ((rc = prepare(&text, &len)) != AH_OK)
    return rc;
  split(text, len, &r);
  if (!r.has_scheme)
    return AH_ERR_INVALID_PARAMETER;
  return compose(&r, NULL, out);
}

int ah__url_resolve(const ah__url *base, const char *ref, size_t len,
                    ah__url *out) {
  ref_parts r;
  int rc;
  if (out == NULL || out == base)
    return AH_ERR_INVALID_PARAMETER;
  memset(out, 0, sizeof *out);
  if (base == NULL || base->scheme == NULL || base->host == NULL ||
      base->target == NULL || (ref == NULL && len > 0))
    return AH_ERR_INVALID_PARAMETER;
  if (ref == NULL)
    ref = "";
  if ((rc = prepare(&ref, &len)) != AH_OK)
    return rc;
  split(ref, len, &r);
  /* RFC 3986 5.2.2, the non-strict variant: "http:g" against an http base
   * is the relative "g", as browsers read it. */
  if (r.has_scheme && !r.has_authority && r.scheme.n == strlen(base->scheme) &&
      strncasecmp(r.scheme.p, base->scheme, r.scheme.n) == 0)
    r.has_scheme = 0;
  return compose(&r, base, out);
}

/* "[scheme://]host[:port][target]" into a fresh string. */
static int format(const ah__url *u, int whole, char **out) {
  char port[8] = "";
  size_t need;
  int bracket;
  if (out == NULL)
    return AH_ERR_INVALID_PARAMETER;
  *out = NULL;
  if (u == NULL || u->scheme == NULL || u->host == NULL || u->target == NULL)
    return AH_ERR_INVALID_PARAMETER;
  if (u->port != 0 && u->port != default_port(u->scheme))
    snprintf(port, sizeof port, ":%u", (unsigned)u->port);
  bracket = strchr(u->host, ':') != NULL; /* a reg-name holds no ':' */
  need = strlen(u->host) + 2 + strlen(port) + 1;
  if (whole)
    need += strlen(u->scheme) + 3 + strlen(u->target);
  *out = ah__malloc(need);
  if (*out == NULL)
    return AH_ERR_NO_MEMORY;
  snprintf(*out, need, "%s%s%s%s%s%s%s", whole ? u->scheme : "",
           whole ? "://" : "", bracket ? "[" : "", u->host, bracket ? "]" : "",
           port, whole ? u->target : "");
  return AH_OK;
}

int ah__url_format(const ah__url *u, char **out) { return format(u, 1, out); }

int ah__url_format_authority(const ah__url *u, char **out) {
  return format(u, 0, out);
}

void ah__url_free(ah__url *u) {
  if (u == NULL)
    return;
  ah__free(u->scheme);
  ah__free(u->user);
  ah__free(u->password);
  ah__free(u->host);
  ah__free(u->target);
  memset(u, 0, sizeof *u);
}
