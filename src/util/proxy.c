/*
 * proxy.c - proxy specs and bypass lists. The bypass rules are curl's
 * no_proxy rules, so that environments set up for curl behave the same.
 */
#include "util/proxy.h"

#include "ahttp.h"
#include "util/alloc.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void ah__base64(const unsigned char *in, size_t len, char *out) {
  static const char digits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i;
  for (i = 0; i + 2 < len; i += 3) {
    *out++ = digits[in[i] >> 2];
    *out++ = digits[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
    *out++ = digits[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
    *out++ = digits[in[i + 2] & 63];
  }
  if (i < len) {
    *out++ = digits[in[i] >> 2];
    if (i + 1 < len) {
      *out++ = digits[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
      *out++ = digits[(in[i + 1] & 15) << 2];
    } else {
      *out++ = digits[(in[i] & 3) << 4];
      *out++ = '=';
    }
    *out++ = '=';
  }
  *out = '\0';
}

void ah__proxy_free(ah__proxy *p) {
  ah__free(p->host);
  ah__free(p->authorization);
  memset(p, 0, sizeof *p);
}

static int parse_port(const char *s, size_t len, uint16_t *out) {
  unsigned long v = 0;
  size_t i;
  if (len == 0 || len > 5)
    return 0;
  for (i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v == 0 || v > 65535)
    return 0;
  *out = (uint16_t)v;
  return 1;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* RFC 3986 2.1: credentials in a URL are percent-encoded ("%40" for '@',
 * "%2F" for '/'); the proxy wants them decoded. Returns the decoded
 * length, or 0 on a malformed escape. */
static size_t percent_decode(const char *in, size_t len, char *out) {
  size_t i, n = 0;
  for (i = 0; i < len; i++) {
    if (in[i] == '%') {
      int hi = i + 2 < len ? hex_value(in[i + 1]) : -1;
      int lo = hi >= 0 ? hex_value(in[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return 0;
      out[n++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      out[n++] = in[i];
    }
  }
  return n;
}

/* "Basic <base64(user:password)>" (RFC 7617); a user without a password
 * gets the colon all the same ("user:"), as curl sends it. Empty userinfo
 * ("@host") means no credentials. */
static int make_authorization(ah__proxy *p, const char *userinfo, size_t len) {
  char *plain, *b64;
  size_t need, plain_len;
  if (len == 0)
    return AH_OK;
  plain = ah__malloc(len + 2);
  b64 = ah__malloc(4 * ((len + 3) / 3) + 1);
  if (plain == NULL || b64 == NULL) {
    ah__free(plain);
    ah__free(b64);
    return AH_ERR_NO_MEMORY;
  }
  plain_len = percent_decode(userinfo, len, plain);
  if (plain_len == 0) {
    ah__free(plain);
    ah__free(b64);
    return AH_ERR_INVALID_PARAMETER;
  }
  if (memchr(plain, ':', plain_len) == NULL)
    plain[plain_len++] = ':';
  ah__base64((const unsigned char *)plain, plain_len, b64);
  ah__free(plain);
  need = strlen("Basic ") + strlen(b64) + 1;
  p->authorization = ah__malloc(need);
  if (p->authorization != NULL)
    snprintf(p->authorization, need, "Basic %s", b64);
  ah__free(b64);
  return p->authorization != NULL ? AH_OK : AH_ERR_NO_MEMORY;
}

int ah__proxy_parse(const char *spec, ah__proxy *out) {
  const char *s = spec, *at, *end, *host, *host_end, *colon;
  int rc;
  memset(out, 0, sizeof *out);
  if (spec == NULL || strpbrk(spec, " \t\r\n") != NULL)
    return AH_ERR_INVALID_PARAMETER;
  if (strncasecmp(s, "http://", 7) == 0)
    s += 7;
  else if (strstr(s, "://") != NULL)
    return AH_ERR_INVALID_PARAMETER; /* only HTTP proxies */
  end = s + strcspn(s, "/?#");
  if (*end != '\0' && strcmp(end, "/") != 0)
    return AH_ERR_INVALID_PARAMETER;
  at = memchr(s, '@', (size_t)(end - s));
  if (at != NULL) {
    const char *last_at = at;
    while ((at = memchr(last_at + 1, '@', (size_t)(end - last_at - 1))))
      last_at = at;
    at = last_at;
  }
  host = at != NULL ? at + 1 : s;
  if (*host == '[') {
    host_end = memchr(host, ']', (size_t)(end - host));
    if (host_end == NULL ||
        (host_end + 1 < end && host_end[1] != ':')) /* "[::1]junk" */
      return AH_ERR_INVALID_PARAMETER;
    colon = host_end + 1 < end ? host_end + 1 : NULL;
    host++;
  } else {
    colon = memchr(host, ':', (size_t)(end - host));
    host_end = colon != NULL ? colon : end;
  }
  if (host_end == host)
    return AH_ERR_INVALID_PARAMETER;
  out->port = 80;
  if (colon != NULL &&
      !parse_port(colon + 1, (size_t)(end - colon - 1), &out->port))
    return AH_ERR_INVALID_PARAMETER;
  out->host = ah__strndup(host, (size_t)(host_end - host));
  if (out->host == NULL)
    return AH_ERR_NO_MEMORY;
  if (at != NULL) {
    rc = make_authorization(out, s, (size_t)(at - s));
    if (rc != AH_OK) {
      ah__proxy_free(out);
      return rc;
    }
  }
  return AH_OK;
}

static int is_ip_literal(const char *host) {
  unsigned char addr[16];
  return inet_pton(AF_INET, host, addr) == 1 ||
         inet_pton(AF_INET6, host, addr) == 1;
}

/* One bypass entry against host:port. */
static int entry_matches(const char *entry, size_t len, const char *host,
                         uint16_t port) {
  const char *colon;
  uint16_t entry_port = 0;
  size_t host_len = strlen(host);
  if (len == 1 && entry[0] == '*')
    return 1;
  if (len > 0 && entry[0] == '[') { /* [v6]:port or [v6] */
    const char *close = memchr(entry, ']', len);
    if (close == NULL)
      return 0;
    if ((size_t)(close - entry) + 1 < len) {
      if (close[1] != ':' ||
          !parse_port(close + 2, len - (size_t)(close - entry) - 2,
                      &entry_port))
        return 0;
    }
    entry++;
    len = (size_t)(close - entry);
  } else if ((colon = memchr(entry, ':', len)) != NULL &&
             memchr(colon + 1, ':', len - (size_t)(colon - entry) - 1) ==
                 NULL) {
    /* Exactly one colon: name:port. More than one: a bare IPv6 literal. */
    if (!parse_port(colon + 1, len - (size_t)(colon - entry) - 1, &entry_port))
      return 0;
    len = (size_t)(colon - entry);
  }
  if (entry_port != 0 && entry_port != port)
    return 0;
  if (len > 0 && entry[0] == '.') {
    entry++;
    len--;
  }
  if (len == 0)
    return 0;
  if (host_len == len)
    return strncasecmp(host, entry, len) == 0;
  /* A subdomain: "www.example.com" for "example.com". An IP literal has
   * none: "0.0.1" must not match 127.0.0.1. */
  return host_len > len && host[host_len - len - 1] == '.' &&
         !is_ip_literal(host) &&
         strncasecmp(host + host_len - len, entry, len) == 0;
}

int ah__proxy_bypassed(const char *list, const char *host, uint16_t port) {
  const char *p = list;
  char bare[256];
  size_t hl;
  if (list == NULL || host == NULL)
    return 0;
  hl = strlen(host);
  if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' &&
      hl - 2 < sizeof bare) {
    memcpy(bare, host + 1, hl - 2);
    bare[hl - 2] = '\0';
    host = bare;
  }
  while (*p != '\0') {
    const char *start, *stop;
    while (*p == ',' || *p == ' ' || *p == '\t')
      p++;
    start = p;
    while (*p != '\0' && *p != ',')
      p++;
    stop = p;
    while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t'))
      stop--;
    if (stop > start &&
        entry_matches(start, (size_t)(stop - start), host, port))
      return 1;
  }
  return 0;
}
