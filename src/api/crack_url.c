/*
 * crack_url.c - ah_crack_url: the URL parser of src/util for callers, so
 * that they can follow a redirect the library handed back to them.
 */
#include "ahttp.h"
#include "util/alloc.h"
#include "util/url.h"

#include <string.h>

int ah_crack_url(const char *url, ah_url_parts *out) {
  ah__url u;
  int rc;
  if (out == NULL)
    return AH_ERR_INVALID_PARAMETER;
  memset(out, 0, sizeof *out);
  if (url == NULL)
    return AH_ERR_INVALID_PARAMETER;
  rc = ah__url_parse(url, strlen(url), &u);
  if (rc != AH_OK)
    return rc;
  if (strcmp(u.scheme, "http") != 0 && strcmp(u.scheme, "https") != 0) {
    ah__url_free(&u);
    return AH_ERR_NOT_SUPPORTED;
  }
  /* The same strings change hands: ah_url_parts_free frees them. */
  out->scheme = u.scheme;
  out->user = u.user;
  out->password = u.password;
  out->host = u.host;
  out->port = u.port;
  out->target = u.target;
  return AH_OK;
}

void ah_url_parts_free(ah_url_parts *parts) {
  if (parts == NULL)
    return;
  ah__free(parts->scheme);
  ah__free(parts->user);
  ah__free(parts->password);
  ah__free(parts->host);
  ah__free(parts->target);
  memset(parts, 0, sizeof *parts);
}
