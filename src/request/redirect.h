/*
 * redirect.h - what a 3xx response asks of the next request (RFC 9110
 * section 15.4): its URL, its method, whether the body goes again, and
 * which of the caller's header lines may go along. No I/O.
 */
#ifndef AH_REQUEST_REDIRECT_H
#define AH_REQUEST_REDIRECT_H

#include "util/url.h"

#include <stddef.h>

typedef struct ah__redirect {
  ah__url url;        /* where the next request goes */
  const char *method; /* "GET" when the method changes, else NULL */
} ah__redirect;

/* Whether ahttp follows responses with this status: 301, 302, 303, 307,
 * 308 (300, 304 and 305 are handed to the caller). */
int ah__redirect_status(int status);

/*
 * Plans the request that follows a `status` response with Location
 * `location` (`len` bytes) to `method` `current`. 303 turns every method
 * but HEAD into GET, 301 and 302 turn POST into GET (as browsers and curl
 * do, RFC 9110 15.4.2-3), 307 and 308 keep the method and the body.
 * Returns AH_OK with *out filled (release with ah__redirect_free), or
 * AH_ERR_REDIRECT_REFUSED with *detail (a Location that is not a valid
 * URL, a scheme other than http and https, https to http unless
 * `allow_downgrade`), or AH_ERR_NO_MEMORY.
 */
int ah__redirect_plan(const ah__url *current, const char *method, int status,
                      const char *location, size_t len, int allow_downgrade,
                      ah__redirect *out, const char **detail);
void ah__redirect_free(ah__redirect *r);

/* Whether two URLs share scheme, host and port. */
int ah__same_origin(const ah__url *a, const ah__url *b);

/*
 * The caller's header lines without Authorization and Cookie fields, for
 * a request to another origin. *out is allocated (ah__free), NULL when
 * nothing is left. Errors: AH_ERR_NO_MEMORY.
 */
int ah__strip_credential_fields(const char *lines, size_t len, char **out,
                                size_t *out_len);

/* Whether the caller's header lines have a field named `name`. */
int ah__has_field(const char *lines, size_t len, const char *name);

#endif
