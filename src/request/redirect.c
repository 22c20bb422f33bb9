/*
 * redirect.c - planning the request that follows a redirect, and keeping
 * credentials to the origin they were given for.
 */
#include "request/redirect.h"

#include "ahttp.h"
#include "util/alloc.h"

#include <string.h>
#include <strings.h>

int ah__redirect_status(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 ||
         status == 308;
}

static const char *next_method(const char *method, int status) {
  if (status == 303 && strcmp(method, "HEAD") != 0 &&
      strcmp(method, "GET") != 0)
    return "GET";
  if ((status == 301 || status == 302) && strcmp(method, "POST") == 0)
    return "GET";
  return NULL;
}

int ah__redirect_plan(const ah__url *current, const char *method, int status,
                      const char *location, size_t len, int allow_downgrade,
                      ah__redirect *out, const char **detail) {
  int rc;
  memset(out, 0, sizeof *out);
  rc = ah__url_resolve(current, location, len, &out->url);
  if (rc == AH_ERR_NO_MEMORY)
    return rc;
  if (rc == AH_ERR_NOT_SUPPORTED) { /* "mailto:x" and the like */
    *detail = "the redirect leads to a scheme other than http and https";
    return AH_ERR_REDIRECT_REFUSED;
  }
  if (rc != AH_OK) {
    *detail = "the redirect's Location is not a valid URL";
    return AH_ERR_REDIRECT_REFUSED;
  }
  if (strcmp(out->url.scheme, "http") != 0 &&
      strcmp(out->url.scheme, "https") != 0) {
    *detail = "the redirect leads to a scheme other than http and https";
    ah__url_free(&out->url);
    return AH_ERR_REDIRECT_REFUSED;
  }
  if (strcmp(current->scheme, "https") == 0 &&
      strcmp(out->url.scheme, "http") == 0 && !allow_downgrade) {
    *detail = "the redirect leads from https to plain http";
    ah__url_free(&out->url);
    return AH_ERR_REDIRECT_REFUSED;
  }
  out->method = next_method(method, status);
  return AH_OK;
}

void ah__redirect_free(ah__redirect *r) { ah__url_free(&r->url); }

int ah__same_origin(const ah__url *a, const ah__url *b) {
  return strcmp(a->scheme, b->scheme) == 0 && strcmp(a->host, b->host) == 0 &&
         a->port == b->port;
}

/* The next line of validated header text: [start, end) without CRLF;
 * *pos moves past it. */
static int next_line(const char *lines, size_t len, size_t *pos, size_t *start,
                     size_t *end) {
  while (*pos < len) {
    const char *lf = memchr(lines + *pos, '\n', len - *pos);
    size_t stop = lf != NULL ? (size_t)(lf - lines) : len;
    *start = *pos;
    *end = stop > *pos && lines[stop - 1] == '\r' ? stop - 1 : stop;
    *pos = lf != NULL ? stop + 1 : len;
    if (*end > *start)
      return 1;
  }
  return 0;
}

static int line_is(const char *line, size_t n, const char *name) {
  size_t k = strlen(name);
  return n > k && line[k] == ':' && strncasecmp(line, name, k) == 0;
}

int ah__has_field(const char *lines, size_t len, const char *name) {
  size_t pos = 0, start, end;
  while (lines != NULL && next_line(lines, len, &pos, &start, &end))
    if (line_is(lines + start, end - start, name))
      return 1;
  return 0;
}

int ah__strip_credential_fields(const char *lines, size_t len, char **out,
                                size_t *out_len) {
  size_t pos = 0, start, end, n = 0;
  char *copy;
  *out = NULL;
  *out_len = 0;
  if (lines == NULL || len == 0)
    return AH_OK;
  copy = ah__malloc(len + 2); /* the last line may lack its CRLF */
  if (copy == NULL)
    return AH_ERR_NO_MEMORY;
  while (next_line(lines, len, &pos, &start, &end)) {
    if (line_is(lines + start, end - start, "Authorization") ||
        line_is(lines + start, end - start, "Cookie"))
      continue;
    memcpy(copy + n, lines + start, end - start);
    n += end - start;
    memcpy(copy + n, "\r\n", 2);
    n += 2;
  }
  if (n == 0) {
    ah__free(copy);
    return AH_OK;
  }
  *out = copy;
  *out_len = n;
  return AH_OK;
}
