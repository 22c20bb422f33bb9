/*
 * url.h - absolute URLs and the resolution of references against them
 * (RFC 3986), reduced to what a request needs: scheme, userinfo, host,
 * port and an origin-form request target. No I/O.
 *
 * Only URLs with an authority ("scheme://...") are represented: a URL
 * without one ("mailto:a@b", "urn:x", "data:,x") names nothing a request
 * can be sent to and is refused with AH_ERR_NOT_SUPPORTED.
 *
 * Leniency (what servers really send in Location, handled the way browsers
 * and curl handle it, RFC 3986 section 7.3 notwithstanding):
 *   - spaces around the text are ignored;
 *   - in the path and the query, a space, DEL, a byte >= 0x80 and
 *     " < > \ ^ ` { | } are percent-encoded into the target instead of
 *     being refused; a '%' not followed by two hex digits is kept as is;
 *     existing escapes are kept as they are (never decoded or recased);
 *   - a backslash is data, encoded as %5C, never a slash: we are not a
 *     browser, so "\\host\x" is a relative path, not another host;
 *   - a fragment is dropped: the target never carries one (RFC 9110
 *     10.2.2 lets a Location without a fragment inherit the base's, which
 *     matters only to a user agent that scrolls to it);
 *   - a reference with the base's own scheme and no authority ("http:g")
 *     is relative, as RFC 3986 5.2.2 allows for backward compatibility.
 * Never accepted: CR, LF, NUL or any other C0 control anywhere in the text
 * (fragment included); a host with percent-encoding or non-ASCII bytes
 * (no IDN in this version: such a host is refused, not converted).
 */
#ifndef AH_UTIL_URL_H
#define AH_UTIL_URL_H

#include <stddef.h>
#include <stdint.h>

/* The longest text ah__url_parse and ah__url_resolve accept, in bytes. */
#define AH__URL_MAX_LEN 65536

/*
 * A parsed URL. Every string is owned by the struct (allocated through
 * util/alloc.h) and released by ah__url_free. Invariants of a URL that
 * ah__url_parse or ah__url_resolve produced:
 *   - scheme and host are lowercase ASCII; host is "" only for schemes
 *     other than http and https ("file:///x");
 *   - target starts with '/', has no dot segments in its path, and
 *     contains no space, control byte, '#' or byte >= 0x80.
 */
typedef struct ah__url {
  char *scheme;   /* lowercase; any RFC 3986 scheme, the caller decides */
  char *user;     /* percent-decoded userinfo before ':'; NULL if absent */
  char *password; /* percent-decoded userinfo after ':'; NULL if absent */
  char *host;     /* lowercase reg-name, or an IPv6 literal (no brackets) */
  uint16_t port;  /* the explicit port, else 80 (http), 443 (https), 0 */
  int port_given; /* whether the text named a port */
  char *target;   /* path (at least "/") and optional "?query" */
} ah__url;

/*
 * Parses the absolute URL text[0..len) ("http://user:pw@[::1]:8080/a?x#f")
 * into *out. The path's dot segments are removed (RFC 3986 5.2.4), an
 * empty path becomes "/", the fragment is dropped, userinfo is
 * percent-decoded ("%40" gives '@'; the last '@' of the authority ends the
 * userinfo, the first ':' in it starts the password). An empty port
 * ("http://h:/") counts as no port. Only IPv6 literals are accepted in
 * brackets (no IPvFuture, no zone identifier).
 *
 * On success the caller owns *out (release with ah__url_free). On failure
 * *out is zeroed and holds nothing to release.
 * Errors:
 *   AH_ERR_INVALID_PARAMETER  NULL arguments; longer than AH__URL_MAX_LEN;
 *                             no scheme; a control byte anywhere; an empty
 *                             host for http or https; a bad port
 *                             (non-digits, 0, > 65535); a malformed IPv6
 *                             literal; a host with a character a reg-name
 *                             cannot hold, '%' or a byte >= 0x80 included;
 *                             userinfo decoding to a NUL byte.
 *   AH_ERR_NOT_SUPPORTED      a scheme other than http and https with no
 *                             authority ("mailto:x").
 *   AH_ERR_NO_MEMORY
 */
int ah__url_parse(const char *text, size_t len, ah__url *out);

/*
 * Resolves the reference ref[0..len) (a Location value: an absolute URL,
 * "//host/p", "/p", "p", "../p", "?q", "#f" or "") against `base` per
 * RFC 3986 5.2.2, with remove_dot_segments (5.2.4), into *out. `ref` may
 * be NULL when `len` is 0. `base` must be a URL made by ah__url_parse or
 * ah__url_resolve and must not be `out`; it is only read.
 *
 * A reference without an authority keeps the base's userinfo, host and
 * port (the authority is inherited whole, as RFC 3986 says); one with an
 * authority takes its own (none if it has none) and the default port of
 * the resulting scheme unless it names one. Deciding whether credentials
 * may follow a redirect is the caller's business. An absolute reference
 * gives exactly what ah__url_parse gives for it. Resolving "" makes a
 * copy of the base.
 *
 * Ownership and errors as for ah__url_parse.
 */
int ah__url_resolve(const ah__url *base, const char *ref, size_t len,
                    ah__url *out);

/*
 * Writes "scheme://host[:port]target" into *out: an IPv6 host in
 * brackets, the port left out when it is the scheme's default (or 0), no
 * userinfo. The caller frees *out with ah__free; *out is NULL on failure.
 * Parsing the result gives back the same scheme, host, port and target.
 * Errors: AH_ERR_INVALID_PARAMETER (NULL arguments or fields),
 * AH_ERR_NO_MEMORY.
 */
int ah__url_format(const ah__url *u, char **out);

/*
 * Writes the authority without userinfo, "host[:port]" (IPv6 in
 * brackets, the default port left out): the value of a Host header field
 * (RFC 9110 7.2). Ownership and errors as for ah__url_format.
 */
int ah__url_format_authority(const ah__url *u, char **out);

/* Releases what *u owns and zeroes it. NULL and a zeroed struct are fine. */
void ah__url_free(ah__url *u);

#endif
