/*
 * cookie_jar.h - a session's cookie jar (RFC 6265 section 5): judging
 * Set-Cookie fields, building Cookie fields, and the Netscape cookie file
 * that curl's -b and -c read and write. No I/O except the file calls.
 *
 * A jar is not thread-safe: one thread at a time (the session's I/O
 * thread). Jars of different sessions may be used on different threads at
 * once; the only state they share is the public suffix list, loaded once.
 *
 * What it does, where RFC 6265 leaves a choice:
 * - A Set-Cookie without '=' in its name-value pair, or with an empty name,
 *   is rejected (RFC 6265 5.2 steps 2 and 5; not 6265bis's empty names).
 * - A Set-Cookie with a control character (0x00-0x1F or 0x7F) anywhere is
 *   rejected, as RFC 6265bis 5.6 says, and so is one with a tab inside its
 *   name, value or Path: a tab would break the cookie file's fields. A
 *   Cookie field built by the jar therefore never holds CR, LF or NUL.
 * - Public suffixes come from libpsl (see cookie_jar.c for which list): a
 *   Domain attribute that is a public suffix is rejected unless it is the
 *   request host itself, which then gets a host-only cookie (5.3 step 5).
 *   Names not on the list count as public suffixes (the list's "*" rule),
 *   so Domain=localhost from a.localhost is rejected.
 * - An IP-literal host gets host-only cookies only: a Domain attribute
 *   must then equal the host.
 * - From RFC 6265bis, because they cost little and close real attacks:
 *   Secure cookies from a non-TLS response are rejected; a non-TLS
 *   response cannot overwrite or shadow a Secure cookie (6265bis 5.7
 *   step 16); the "__Secure-" and "__Host-" name prefixes are enforced;
 *   an attribute value longer than 1024 bytes is ignored.
 * - HttpOnly is stored (and kept in the file) but has no effect: every
 *   request of ours is an HTTP API request. SameSite is parsed and stored
 *   only: a client that is not a browser has no "site for cookies", so it
 *   never withholds a cookie for it.
 * - A Set-Cookie that deletes (expiry in the past, Max-Age <= 0) is
 *   "accepted": it was honoured.
 * - Creation time is an order: each new cookie gets the next number of a
 *   per-jar counter, and a replacement keeps the old one (5.3 step 11), so
 *   "earlier creation" never depends on the wall clock going forward.
 *
 * Limits (so a hostile server cannot grow the jar without bound):
 * AH__COOKIE_MAX_PAIR bytes of name plus value (a longer cookie is
 * rejected), AH__COOKIE_MAX_ATTR bytes of an attribute value (ignored if
 * longer), AH__COOKIE_MAX_PER_DOMAIN cookies sharing a domain and
 * AH__COOKIE_MAX_TOTAL in a jar. When a new cookie would pass one of the
 * two counts, the jar evicts first expired cookies, then the least recently
 * sent one of that domain, then the least recently sent one of all (5.3,
 * last paragraph; ties go to the earliest created). The file loader reads
 * lines of at most AH__COOKIE_MAX_LINE bytes.
 */
#ifndef AH_REQUEST_COOKIE_JAR_H
#define AH_REQUEST_COOKIE_JAR_H

#include "ahttp.h"

#include <stddef.h>
#include <stdint.h>

#define AH__COOKIE_MAX_PAIR 4096
#define AH__COOKIE_MAX_ATTR 1024
#define AH__COOKIE_MAX_PER_DOMAIN 50
#define AH__COOKIE_MAX_TOTAL 3000
#define AH__COOKIE_MAX_LINE 16384

typedef struct ah__cookie_jar ah__cookie_jar;

/* The SameSite attribute as stored (RFC 6265bis 5.6.7). */
enum ah__same_site {
  AH__SAME_SITE_DEFAULT = 0, /* absent or unrecognised */
  AH__SAME_SITE_NONE,
  AH__SAME_SITE_LAX,
  AH__SAME_SITE_STRICT
};

/* One stored cookie, as ah__cookie_jar_at shows it. The strings belong to
 * the jar and stay valid until the next call that changes it (store,
 * header, load, save, free); they are NUL-terminated. */
typedef struct ah__cookie_view {
  const char *name;
  const char *value;
  const char *domain; /* lowercase, no leading dot */
  const char *path;   /* starts with '/' */
  int64_t expiry;     /* Unix seconds; INT64_MAX for a session cookie */
  int64_t last_access;
  uint64_t creation; /* creation order: smaller was created earlier */
  int host_only;
  int secure;
  int http_only;
  int persistent; /* 0: a session cookie */
  int same_site;  /* enum ah__same_site */
} ah__cookie_view;

/*
 * Creates an empty jar in *out; the caller frees it with
 * ah__cookie_jar_free. Errors: AH_ERR_NO_MEMORY (*out is then NULL).
 */
int ah__cookie_jar_new(ah__cookie_jar **out);

/* Frees the jar and every cookie in it. NULL is allowed. */
void ah__cookie_jar_free(ah__cookie_jar *jar);

/*
 * Judges one Set-Cookie field value, `len` bytes (not NUL-terminated; any
 * byte may occur), received in a response to a request for `host` (a
 * lowercase name or an IP literal without brackets; NUL-terminated) and
 * request path `path` (the target's path; anything from a '?' on is
 * ignored; NULL or "" is "/"), over TLS when `secure`, at `now` (Unix
 * seconds). Stores, replaces or deletes the cookie as RFC 6265 5.3 says
 * (with the choices listed at the top of this file). Nothing is borrowed:
 * the jar copies what it keeps.
 * *history (may be NULL) is set to accepted = 1 or rejected = 1, the other
 * flags 0; on an error it says rejected.
 * Returns AH_OK whatever the verdict. Errors: AH_ERR_INVALID_PARAMETER
 * (jar, value or host NULL), AH_ERR_NO_MEMORY (the jar is then as before).
 */
int ah__cookie_jar_store(ah__cookie_jar *jar, const char *value, size_t len,
                         const char *host, const char *path, int secure,
                         int64_t now, ah_cookie_history *history);

/*
 * The Cookie field value for a request to `host` and `path` (as for
 * ah__cookie_jar_store), over TLS when `secure`, at `now`: "a=1; b=2" in
 * RFC 6265 5.4 order (longer paths first, then earlier created), in *out,
 * NUL-terminated, which the caller frees with ah__free; or *out = NULL when
 * no cookie matches. *count (may be NULL) is how many cookies it holds.
 * Expired cookies are evicted; the sent ones get `now` as their last
 * access time. Errors: AH_ERR_INVALID_PARAMETER (jar, host or out NULL),
 * AH_ERR_NO_MEMORY (*out NULL, *count 0, the jar as before).
 */
int ah__cookie_jar_header(ah__cookie_jar *jar, const char *host,
                          const char *path, int secure, int64_t now, char **out,
                          size_t *count);

/*
 * Adds the cookies of the Netscape cookie file at `path` (curl -b and -c):
 * one cookie a line, seven fields separated by tabs: domain (a leading dot
 * is ignored), TRUE when subdomains match too (FALSE: host-only), path,
 * TRUE when Secure, expiry in Unix seconds (0: a session cookie), name,
 * value (the value field may be missing: an empty value). Lines starting
 * with "#HttpOnly_" are HttpOnly cookies (the domain follows the prefix);
 * other lines starting with '#' and blank lines are skipped; CRLF line ends
 * are accepted. Well-formed lines that no Set-Cookie could have made are
 * skipped silently: cookies expired by `now`, name and value over
 * AH__COOKIE_MAX_PAIR, '=' or ';' in the name or ';' in the value, domain
 * cookies of a public suffix (a domain cookie of an IP address becomes
 * host-only). The jar's limits apply as for stored cookies, and a cookie
 * replaces one of the same name, domain and path, keeping its creation.
 * All or nothing: on any error nothing is added.
 * `detail` (may be NULL) of `detail_len` bytes receives a sentence on an
 * error. Errors: AH_ERR_INVALID_PARAMETER (jar or path NULL, or a
 * malformed line; the detail says "line N: ..."), AH_ERR_SYSTEM (the file
 * cannot be opened or read; the detail has strerror's words),
 * AH_ERR_NO_MEMORY.
 */
int ah__cookie_jar_load(ah__cookie_jar *jar, const char *path, int64_t now,
                        char *detail, size_t detail_len);

/*
 * Writes the jar's cookies that have not expired by `now` to `path` in the
 * format ah__cookie_jar_load reads (session cookies with expiry 0, as curl
 * writes them; HttpOnly ones with the "#HttpOnly_" prefix; domain cookies
 * with a leading dot; SameSite is not part of the format and is lost), in
 * creation order. The file is written to a temporary file beside `path`
 * (mode 0600: cookies are credentials), flushed to disk and renamed into
 * place, so `path` keeps its old content unless the save succeeds. Errors:
 * AH_ERR_INVALID_PARAMETER (jar or path NULL), AH_ERR_SYSTEM (the
 * temporary file cannot be created, written or renamed; the detail has
 * strerror's words), AH_ERR_NO_MEMORY.
 */
int ah__cookie_jar_save(ah__cookie_jar *jar, const char *path, int64_t now,
                        char *detail, size_t detail_len);

/* How many cookies the jar holds (expired ones not yet evicted included). */
size_t ah__cookie_jar_count(const ah__cookie_jar *jar);

/*
 * The cookie at index `i` (0 .. count-1; creation order) in *out, for
 * tests and listings. Errors: AH_ERR_INVALID_PARAMETER (i out of range).
 */
int ah__cookie_jar_at(const ah__cookie_jar *jar, size_t i,
                      ah__cookie_view *out);

/*
 * The RFC 6265 5.1.1 date algorithm on `len` bytes: on success *out is the
 * date in Unix seconds (UTC) and the result 1; 0 when the text is not a
 * cookie date (a missing part, a day past the month's end, a year before
 * 1601, ...).
 */
int ah__cookie_parse_date(const char *text, size_t len, int64_t *out);

/* RFC 6265 5.1.3: whether `host` domain-matches `domain` (ASCII case
 * ignored; an IP literal matches only itself). */
int ah__cookie_domain_match(const char *host, const char *domain);

/* RFC 6265 5.1.4: whether `request_path` path-matches `cookie_path`. */
int ah__cookie_path_match(const char *request_path, const char *cookie_path);

#endif
