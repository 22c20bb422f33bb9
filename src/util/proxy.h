/*
 * proxy.h - proxy settings as text: parsing "[http://][user:pass@]host
 * [:port]", matching no_proxy-style bypass lists, and the Basic
 * credentials header value. No I/O.
 */
#ifndef AH_UTIL_PROXY_H
#define AH_UTIL_PROXY_H

#include <stddef.h>
#include <stdint.h>

typedef struct ah__proxy {
  char *host; /* without brackets */
  uint16_t port;
  char *authorization; /* "Basic <base64>" or NULL */
} ah__proxy;

/* Parses a proxy spec. Errors: AH_ERR_INVALID_PARAMETER (empty host, bad
 * port, a scheme other than http, CR/LF/space), AH_ERR_NO_MEMORY. */
int ah__proxy_parse(const char *spec, ah__proxy *out);
void ah__proxy_free(ah__proxy *p);

/* Whether host:port is in the bypass list (curl's no_proxy rules: "*"
 * matches all; a name matches itself and its subdomains, a leading dot
 * ignored; IP literals match exactly; "name:port" only that port). */
int ah__proxy_bypassed(const char *list, const char *host, uint16_t port);

/* Base64 of `len` bytes into out (room for 4 * ((len + 2) / 3) + 1). */
void ah__base64(const unsigned char *in, size_t len, char *out);

#endif
