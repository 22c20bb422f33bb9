/*
 * h1.h - the sans-I/O HTTP/1.1 codec (RFC 9112): request serialization,
 * response head parsing and response body framing.
 *
 * The codec does no I/O and allocates nothing: the caller hands it bytes
 * and storage, it hands back views into the caller's bytes. It includes
 * libc only. Every function returns AH_H1_OK (0), a positive "need more"
 * signal documented at the function, or a negative AH_H1_E_* error; on an
 * error `*detail` (when the caller gives one) points to a static sentence.
 */
#ifndef AH_HTTP1_H1_H
#define AH_HTTP1_H1_H

#include <stddef.h>
#include <stdint.h>

enum {
  AH_H1_OK = 0,
  AH_H1_NEED_MORE = 1,    /* head incomplete: call again with more bytes */
  AH_H1_BODY_DATA = 2,    /* body_next: a data span was produced */
  AH_H1_BODY_DONE = 3,    /* body_next: the message body is complete */
  AH_H1_E_SYNTAX = -1,    /* malformed status line, header or chunk */
  AH_H1_E_TOO_LARGE = -2, /* header block over the caller's limit */
  AH_H1_E_TOO_MANY = -3,  /* more header fields than the caller's array */
  AH_H1_E_FRAMING = -4,   /* conflicting or invalid Content-Length /
                             Transfer-Encoding */
  AH_H1_E_OVERFLOW = -5   /* a number does not fit in 64 bits */
};

/* A view into the caller's bytes. */
typedef struct ah__h1_str {
  const char *ptr;
  size_t len;
} ah__h1_str;

typedef struct ah__h1_header {
  ah__h1_str name;
  ah__h1_str value; /* leading and trailing SP/HTAB trimmed */
} ah__h1_header;

/* A parsed response head. Views point into the buffer given to parse. */
typedef struct ah__h1_response {
  int minor_version; /* HTTP/1.x */
  int status;        /* 100..999 */
  ah__h1_str reason;
  ah__h1_header *headers; /* caller's array (at least num_headers) */
  size_t num_headers;     /* in: capacity of headers; out: count */
} ah__h1_response;

/*
 * Parses a response head (status line, header fields, empty line) from
 * the start of `buf`. Returns AH_H1_OK with *head_len = bytes of the head
 * (the body starts there), AH_H1_NEED_MORE if the empty line has not
 * arrived yet (and len < max_head), or an error. `max_head` is the limit
 * on the head size (AH_H1_E_TOO_LARGE once len reaches it without a
 * complete head). Accepts CRLF or bare LF line ends; rejects bare CR,
 * NUL and other control characters except HTAB in field values, obs-fold
 * (a line starting with SP or HTAB), whitespace before the colon, empty
 * or non-token field names, a status code other than three digits, and
 * versions other than HTTP/1.<digit>. Pure: the caller may call it again
 * on a longer buffer from the start. out->num_headers (and the other
 * fields of *out) change only on AH_H1_OK, so the same *out can be passed
 * again after AH_H1_NEED_MORE; the header array may be scribbled on by any
 * call. An error found in a prefix is reported as soon as the offending
 * byte is there, and a longer buffer reports the same error.
 */
int ah__h1_parse_response(const char *buf, size_t len, size_t max_head,
                          ah__h1_response *out, size_t *head_len,
                          const char **detail);

/* Case-insensitive comparison of a view with a NUL-terminated name. */
int ah__h1_str_ieq(ah__h1_str s, const char *name);

/* The same against a string literal, lengths compared first (most header
 * names are rejected there without a walk). */
#define AH__H1_STR_IS(s, literal)                                              \
  ((s).len == sizeof(literal) - 1 && ah__h1_str_ieq((s), (literal)))

/* How a response body is delimited (RFC 9112 section 6.3). */
typedef enum ah__h1_framing {
  AH_H1_FRAMING_NONE = 0,    /* no body: HEAD, 1xx, 204, 304, or CL 0 */
  AH_H1_FRAMING_LENGTH = 1,  /* Content-Length bytes */
  AH_H1_FRAMING_CHUNKED = 2, /* chunked transfer coding */
  AH_H1_FRAMING_CLOSE = 3    /* until the server closes */
} ah__h1_framing;

/* The decoder of one response body; zero it and call ah__h1_body_init. */
typedef struct ah__h1_body {
  ah__h1_framing framing;
  uint64_t remaining; /* LENGTH: body bytes still to come; CHUNKED: of the
                         current chunk */
  int state;          /* private to the codec */
  uint64_t scratch;   /* private to the codec */
  size_t trailer_bytes;
  size_t max_trailer; /* limit on trailer section bytes */
} ah__h1_body;

/*
 * Decides the framing of the response `resp` to a request with method
 * `method` (NUL-terminated) and sets up `body`. Also reports through
 * *keep_alive (may be NULL) whether the connection may carry another
 * request afterwards (HTTP/1.1 without "Connection: close", or HTTP/1.0
 * with "Connection: keep-alive"; never for close-delimited bodies).
 * `method` may be NULL (taken as not HEAD). A 2xx response to CONNECT has
 * no body and reports keep_alive 0: the connection is now a tunnel, not
 * something to send another HTTP request on. Transfer-Encoding in an
 * HTTP/1.0 response also gives keep_alive 0 (RFC 9112 section 6.1).
 * Errors (AH_H1_E_FRAMING): Content-Length together with
 * Transfer-Encoding, differing or empty Content-Length values, a
 * Content-Length that is not digits, "chunked" applied twice or not as the
 * final coding, a Transfer-Encoding naming no coding (h1_body.c lists the
 * rules); AH_H1_E_OVERFLOW for a Content-Length over 2^63-1. None of these
 * is checked for responses that have no body (HEAD, 1xx, 204, 304). On an
 * error the body is set to NONE and *keep_alive to 0. `max_trailer` bounds
 * the bytes of trailer field lines of a chunked body (their line ends
 * included, the final empty line not); 0 allows no trailer fields.
 */
int ah__h1_body_init(ah__h1_body *body, const ah__h1_response *resp,
                     const char *method, size_t max_trailer, int *keep_alive,
                     const char **detail);

/*
 * Decodes body framing from `in` (len bytes). Sets *consumed to the bytes
 * of `in` used. Returns:
 *   AH_H1_BODY_DATA  *data and *data_len give a span of body bytes inside
 *                    `in` (consumed includes it); call again with the rest.
 *   AH_H1_NEED_MORE  all of `in` was consumed (framing or nothing) and more
 *                    input is needed.
 *   AH_H1_BODY_DONE  the body (and any trailers) ended; bytes after
 *                    *consumed belong to the next response.
 *   AH_H1_E_*        malformed chunk framing or trailers (*consumed is
 *                    where the offending byte is); AH_H1_E_OVERFLOW for a
 *                    chunk size over 2^63-1, AH_H1_E_TOO_LARGE for chunk
 *                    extensions over 4096 bytes on one line or trailers
 *                    over max_trailer.
 * For AH_H1_FRAMING_CLOSE every byte is data; the end is the caller's EOF
 * (ah__h1_body_eof). Handles input split at any byte.
 */
int ah__h1_body_next(ah__h1_body *body, const char *in, size_t len,
                     size_t *consumed, const char **data, size_t *data_len,
                     const char **detail);

/*
 * Tells the decoder the peer closed the connection. Returns AH_H1_BODY_DONE
 * if that ends the body properly (close-delimited, or already done), or
 * AH_H1_E_SYNTAX with detail "connection closed before the end of the
 * body" otherwise.
 */
int ah__h1_body_eof(ah__h1_body *body, const char **detail);

/*
 * Raw body bytes the decoder can take straight away as data without
 * looking at them (LENGTH: `remaining`; CHUNKED: the rest of the current
 * chunk's data; CLOSE: UINT64_MAX; otherwise 0). Lets the caller read the
 * socket directly into a user buffer; it then reports them with
 * ah__h1_body_skip, with n at most what ah__h1_body_direct returned. When
 * that ends a LENGTH body, the next ah__h1_body_next returns
 * AH_H1_BODY_DONE with nothing consumed.
 */
uint64_t ah__h1_body_direct(const ah__h1_body *body);
void ah__h1_body_skip(ah__h1_body *body, uint64_t n);

/* A request head to serialize. */
typedef struct ah__h1_request {
  const char *method;     /* token */
  const char *target;     /* origin-form or absolute-form */
  const char *host;       /* Host header value (with :port when not default) */
  const char *user_agent; /* may be NULL: no User-Agent header */
  const char *extra;      /* caller's header lines, CRLF-separated, already
                             validated; may be NULL */
  size_t extra_len;
  int has_body; /* send Content-Length: content_length */
  uint64_t content_length;
  int close;                       /* send Connection: close */
  const char *proxy_authorization; /* NULL: none; sent to a proxy only */
  const char *authorization;       /* origin credentials, or NULL */
  const char *accept_encoding;     /* NULL: none */
  const char *cookie;              /* Cookie value, or NULL */
  int expect_continue;             /* send Expect: 100-continue */
} ah__h1_request;

/*
 * The bytes ah__h1_write_request needs for `req`, and the writer. The
 * writer writes exactly that many bytes into `out` and returns the count.
 * Extra header lines are emitted each followed by CRLF (a trailing CRLF in
 * `extra` is not doubled; empty lines in it are skipped).
 */
size_t ah__h1_request_size(const ah__h1_request *req);
size_t ah__h1_write_request(const ah__h1_request *req, char *out);

/*
 * Validates caller-given header lines for ah__h1_request.extra: each line
 * "Name: value" with a token name, no CR/LF inside a line except as CRLF
 * separators, no NUL, no obs-fold. Returns AH_H1_OK or AH_H1_E_SYNTAX.
 */
int ah__h1_validate_extra_headers(const char *lines, size_t len,
                                  const char **detail);

/* True if `s` (NUL-terminated) is a non-empty HTTP token (RFC 9110 5.6.2). */
int ah__h1_is_token(const char *s);

#endif /* AH_HTTP1_H1_H */
