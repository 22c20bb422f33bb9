/*
 * ahttp.h - the whole public API of ahttp, an asynchronous HTTP/1.1 client
 * library with the WinInet asynchronous model.
 *
 * Handles form a tree: a session (ah_open) owns connect handles
 * (ah_connect), which own request handles (ah_open_request). Every handle
 * reports progress through the status callback it inherited from its parent
 * or was given with ah_set_status_callback.
 *
 * Return convention of every fallible call:
 *   AH_OK          the call finished now; its outputs are valid.
 *   AH_IO_PENDING  the call goes on in the background (asynchronous sessions
 *                  only). It ends with exactly one AH_STATUS_REQUEST_COMPLETE
 *                  callback on the handle, carrying an ah_async_result whose
 *                  `error` is AH_OK or the AH_ERR_* code it failed with.
 *                  Buffers and out-pointers given to the call are borrowed
 *                  until that callback and must stay valid until then.
 *   AH_ERR_*       (negative) the call failed now; no REQUEST_COMPLETE
 *                  follows for it and nothing it was given is kept.
 *
 * Threads: a session owns one I/O thread. Every callback of the session runs
 * on that thread, one at a time, never nested. Every call may be made from
 * any thread, from inside a callback too.
 *
 * Lifetime: ah_close_handle may be called at any moment from any thread. It
 * makes the handle invalid at once (every later call with it returns
 * AH_ERR_INVALID_HANDLE), cancels what is pending on it and on its children
 * (their REQUEST_COMPLETE carries AH_ERR_OPERATION_CANCELLED), closes the
 * children, and then delivers AH_STATUS_HANDLE_CLOSING exactly once, as the
 * last callback for that handle. After HANDLE_CLOSING the context pointer
 * given for the handle is never used again.
 *
 * Handles are generation-checked table entries, not pointers: a closed,
 * stale or made-up handle is rejected with AH_ERR_INVALID_HANDLE.
 */
#ifndef AHTTP_H
#define AHTTP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define AH_EXTERN __attribute__((visibility("default")))
#else
#define AH_EXTERN
#endif

#define AH_VERSION_MAJOR 0
#define AH_VERSION_MINOR 1
#define AH_VERSION_PATCH 0
#define AH_VERSION_STRING "0.1.0"

/* An opaque handle. NULL is never a valid handle. */
typedef struct ah_handle_opaque *ah_handle;

/*
 * Result codes. Codes are appended, never renumbered. AH_OK and
 * AH_IO_PENDING are not errors; every AH_ERR_* is negative.
 * X(name, value, description)
 */
#define AH_ERRORS(X)                                                           \
  X(AH_OK, 0, "success")                                                       \
  X(AH_IO_PENDING, 1, "the operation will complete asynchronously")            \
  X(AH_ERR_INVALID_HANDLE, -1, "the handle is closed or was never valid")      \
  X(AH_ERR_INVALID_PARAMETER, -2, "an argument is not valid")                  \
  X(AH_ERR_NO_MEMORY, -3, "out of memory")                                     \
  X(AH_ERR_INCORRECT_HANDLE_STATE, -4,                                         \
    "the handle is not in a state that allows this call")                      \
  X(AH_ERR_INCORRECT_HANDLE_TYPE, -5,                                          \
    "the call does not apply to this kind of handle")                          \
  X(AH_ERR_OPERATION_CANCELLED, -6, "the operation was cancelled")             \
  X(AH_ERR_TIMEOUT, -7, "the operation timed out")                             \
  X(AH_ERR_NAME_NOT_RESOLVED, -8, "the server name could not be resolved")     \
  X(AH_ERR_CANNOT_CONNECT, -9, "could not connect to the server")              \
  X(AH_ERR_CONNECTION_RESET, -10, "the connection was reset")                  \
  X(AH_ERR_CONNECTION_ABORTED, -11,                                            \
    "the server closed the connection before the response was complete")       \
  X(AH_ERR_PROTOCOL, -12, "the server's response is not valid HTTP/1.1")       \
  X(AH_ERR_HEADER_NOT_FOUND, -13, "the response has no such header")           \
  X(AH_ERR_INSUFFICIENT_BUFFER, -14, "the buffer is too small")                \
  X(AH_ERR_NOT_SUPPORTED, -15, "not supported")                                \
  X(AH_ERR_INVALID_OPTION, -16, "unknown option for this handle")              \
  X(AH_ERR_UPLOAD_LENGTH, -17,                                                 \
    "the bytes written differ from the announced length")                      \
  X(AH_ERR_WOULD_DEADLOCK, -18,                                                \
    "a blocking call was made on the session's I/O thread")                    \
  X(AH_ERR_SYSTEM, -19, "a system call failed")                                \
  X(AH_ERR_INTERNAL, -20, "internal error")                                    \
  X(AH_ERR_TLS_UNKNOWN_CA, -21,                                                \
    "the server's certificate is not signed by a trusted authority")           \
  X(AH_ERR_TLS_CERT_DATE_INVALID, -22,                                         \
    "the server's certificate has expired or is not yet valid")                \
  X(AH_ERR_TLS_CERT_NAME_INVALID, -23,                                         \
    "the server's certificate does not match the host name")                   \
  X(AH_ERR_TLS_CERT_INVALID, -24, "the server's certificate is invalid")       \
  X(AH_ERR_TLS_HANDSHAKE, -25, "the TLS handshake failed")                     \
  X(AH_ERR_TLS_PROTOCOL_VERSION, -26,                                          \
    "the server offers no TLS version that is allowed (1.2 or later)")         \
  X(AH_ERR_TLS_CLIENT_CERT, -27,                                               \
    "the client certificate or key could not be used")                         \
  X(AH_ERR_TLS_TRUNCATED, -28,                                                 \
    "the TLS connection ended without close_notify")                           \
  X(AH_ERR_PROXY_REFUSED, -29, "the proxy refused to open a tunnel")           \
  X(AH_ERR_PROXY_AUTH_REQUIRED, -30,                                           \
    "the proxy requires authentication (407)")                                 \
  X(AH_ERR_TOO_MANY_REDIRECTS, -31, "too many redirects, or a redirect loop")  \
  X(AH_ERR_REDIRECT_NEEDS_BODY, -32,                                           \
    "a 307/308 redirect needs the request body sent again")                    \
  X(AH_ERR_REDIRECT_REFUSED, -33,                                              \
    "the redirect's target is not allowed (scheme or https to http)")          \
  X(AH_ERR_DECODING, -34, "the response body could not be decoded")

enum ah_result {
#define AH__ERR_ENUM(name, value, text) name = value,
  AH_ERRORS(AH__ERR_ENUM)
#undef AH__ERR_ENUM
};

/* A short sentence for a result code; never NULL. */
AH_EXTERN const char *ah_strerror(int code);
/* The code's symbolic name ("AH_ERR_TIMEOUT"); "AH_ERR_UNKNOWN" if unknown. */
AH_EXTERN const char *ah_err_name(int code);

/*
 * Status codes, with WinInet's names and meaning. Where the info is text
 * (char *), `info` points to the NUL-terminated text itself and `info_len`
 * counts the NUL; where it is a uint32_t or a struct, `info` points to it. The
 * numbers are ahttp's own, dense so that a 64-bit notification mask can name
 * each; they are appended, never renumbered.
 */
typedef enum ah_status {
  AH_STATUS_RESOLVING_NAME = 1,       /* info: host name (char *) */
  AH_STATUS_NAME_RESOLVED = 2,        /* info: address text (char *) */
  AH_STATUS_CONNECTING_TO_SERVER = 3, /* info: address text (char *) */
  AH_STATUS_CONNECTED_TO_SERVER = 4,  /* info: address text (char *) */
  AH_STATUS_SENDING_REQUEST = 5,
  AH_STATUS_REQUEST_SENT = 6, /* info: uint32_t bytes just sent */
  AH_STATUS_RECEIVING_RESPONSE = 7,
  AH_STATUS_RESPONSE_RECEIVED = 8, /* info: uint32_t bytes just received */
  AH_STATUS_CLOSING_CONNECTION = 9,
  AH_STATUS_CONNECTION_CLOSED = 10,
  AH_STATUS_HANDLE_CREATED = 11, /* info: ah_async_result, result=handle */
  AH_STATUS_HANDLE_CLOSING = 12, /* info: the handle (ah_handle *) */
  AH_STATUS_DETECTING_PROXY = 13,
  AH_STATUS_REQUEST_COMPLETE = 14,      /* info: ah_async_result */
  AH_STATUS_REDIRECT = 15,              /* info: new URL (char *), cut at
                                           255 bytes; AH_INFO_URL has it
                                           whole */
  AH_STATUS_INTERMEDIATE_RESPONSE = 16, /* info: uint32_t 1xx status code */
  AH_STATUS_STATE_CHANGE = 17,
  AH_STATUS_COOKIE_SENT = 18,     /* info: uint32_t cookies in the request */
  AH_STATUS_COOKIE_RECEIVED = 19, /* info: uint32_t cookies one Set-Cookie
                                     stored (1) */
  AH_STATUS_COOKIE_HISTORY = 20,  /* info: ah_cookie_history, one per
                                     Set-Cookie */
  AH_STATUS_TLS_HANDSHAKE_START = 21,
  AH_STATUS_TLS_HANDSHAKE_DONE = 22
} ah_status;

/* The status's WinInet-style name without prefix ("RESOLVING_NAME"). */
AH_EXTERN const char *ah_status_name(int status);

/* Bit for a status in AH_OPTION_NOTIFICATION_MASK. */
#define AH_NOTIFY(status) (UINT64_C(1) << (status))
/* Every status; the default mask. */
#define AH_NOTIFY_ALL UINT64_MAX

/*
 * What AH_STATUS_REQUEST_COMPLETE (and HANDLE_CREATED) carry. `error` is
 * AH_OK or the AH_ERR_* code the pending call failed with. `result` is the
 * byte count for ah_read/ah_read_ex/ah_write, the handle value (as an
 * integer) for HANDLE_CREATED, and 0 otherwise.
 */
typedef struct ah_async_result {
  uintptr_t result;
  int error;
} ah_async_result;

/*
 * The status callback. `info` points to status-specific data (see
 * ah_status) of `info_len` bytes, valid only during the call. `context` is
 * the pointer given when the handle was created (or with
 * AH_OPTION_CONTEXT). Runs on the session's I/O thread, never nested.
 */
typedef void (*ah_status_cb)(ah_handle handle, int status, const void *info,
                             size_t info_len, void *context);

/* ---- flags ---- */

/* ah_open: asynchronous session. Without it every call blocks until done. */
#define AH_FLAG_ASYNC 0x1u

/* ah_open access types (WinInet's INTERNET_OPEN_TYPE_*). */
#define AH_OPEN_TYPE_PRECONFIG 0 /* proxy from the environment */
#define AH_OPEN_TYPE_DIRECT 1
#define AH_OPEN_TYPE_PROXY 2

/* ah_open_request flags (WinInet's INTERNET_FLAG_*). */
#define AH_FLAG_RELOAD 0x1u         /* accepted; ahttp has no cache */
#define AH_FLAG_NO_CACHE_WRITE 0x2u /* accepted; ahttp has no cache */
#define AH_FLAG_SECURE 0x4u         /* HTTPS */
#define AH_FLAG_NO_AUTO_REDIRECT 0x8u
#define AH_FLAG_KEEP_CONNECTION 0x10u /* accepted; keep-alive is default */
#define AH_FLAG_NO_KEEP_ALIVE 0x20u   /* send Connection: close */
/* Follow redirects from https to plain http (refused by default). */
#define AH_FLAG_IGNORE_REDIRECT_TO_HTTP 0x40u
/* No cookies sent, none stored for this request. */
#define AH_FLAG_NO_COOKIES 0x80u
/* No Authorization from ah_connect's user and password. */
#define AH_FLAG_NO_AUTH 0x100u

/*
 * What AH_STATUS_COOKIE_HISTORY carries (WinInet's InternetCookieHistory):
 * one per Set-Cookie field of a response, flags set as the jar judged it.
 * accepted: stored. rejected: refused (bad syntax, a public suffix or
 * another site's domain, Secure over http, ...). downgraded and leashed
 * are WinInet's privacy outcomes; ahttp has no privacy policy and leaves
 * them 0.
 */
typedef struct ah_cookie_history {
  int accepted;
  int leashed;
  int downgraded;
  int rejected;
} ah_cookie_history;

/* ah_read_ex flags. */
#define AH_READ_NO_WAIT                                                        \
  0x1u /* complete with what is there (at least 1 byte                         \
           or end of body) instead of filling */

/* ah_query_info selectors. */
typedef enum ah_info {
  AH_INFO_STATUS_CODE = 1,    /* uint32_t */
  AH_INFO_STATUS_TEXT = 2,    /* reason phrase, string */
  AH_INFO_VERSION = 3,        /* "HTTP/1.1", string */
  AH_INFO_RAW_HEADERS = 4,    /* status line and header lines, CRLF each,
                                 ending with an empty line; string */
  AH_INFO_HEADER = 5,         /* value of the header named by `name` */
  AH_INFO_CONTENT_LENGTH = 6, /* uint64_t; AH_ERR_HEADER_NOT_FOUND if none */
  AH_INFO_REQUEST_METHOD = 7, /* string */
  AH_INFO_URL = 8,            /* the request's URL, string; after
                                 redirects, the URL of the final one */
  AH_INFO_REDIRECT_URL = 9    /* a redirect that was not followed
                                 (AH_FLAG_NO_AUTO_REDIRECT, or
                                 AH_ERR_REDIRECT_NEEDS_BODY): its Location
                                 resolved to an absolute URL, string;
                                 AH_ERR_HEADER_NOT_FOUND if none */
} ah_info;

/* ah_set_option / ah_get_option selectors. */
typedef enum ah_option {
  AH_OPTION_CONNECT_TIMEOUT = 1,    /* uint32_t ms per connect attempt,
                                       including a proxy's answer to
                                       CONNECT and the TLS handshake;
                                       default 60000; 0 = none */
  AH_OPTION_SEND_TIMEOUT = 2,       /* uint32_t ms a send may stall;
                                       default 30000; 0 = none */
  AH_OPTION_RECEIVE_TIMEOUT = 3,    /* uint32_t ms without a received byte
                                       while one is awaited; default 30000 */
  AH_OPTION_USER_AGENT = 4,         /* string; default "ahttp/VERSION" */
  AH_OPTION_READ_BUFFER_SIZE = 5,   /* uint32_t bytes the engine reads from a
                                       socket at once; 1024 .. 64 MiB;
                                       default 65536 */
  AH_OPTION_MAX_HEADER_BYTES = 6,   /* uint32_t limit on a response header
                                       block; 256 .. 64 MiB; default 65536.
                                       A head may also have at most 256
                                       fields. */
  AH_OPTION_NOTIFICATION_MASK = 7,  /* uint64_t of AH_NOTIFY(status) bits;
                                       default AH_NOTIFY_ALL. REQUEST_COMPLETE
                                       and HANDLE_CLOSING are always sent. */
  AH_OPTION_CONTEXT = 8,            /* void *; the callback's context */
  AH_OPTION_HANDLE_TYPE = 9,        /* get only: uint32_t AH_HANDLE_TYPE_* */
  AH_OPTION_CONNECTION_REUSED = 10, /* get only, request: uint32_t 1 if the
                                       request went over a pooled connection */
  /* TLS. Strings are file paths (PEM), copied; they apply to connections
   * opened after they are set. */
  AH_OPTION_TLS_CA_FILE = 11,            /* trust these CAs (instead of the
                                            system store); default: the system
                                            store, SSL_CERT_FILE/SSL_CERT_DIR */
  AH_OPTION_TLS_CA_DIR = 12,             /* a hashed CA directory, likewise */
  AH_OPTION_TLS_CLIENT_CERT = 13,        /* client certificate chain (PEM) */
  AH_OPTION_TLS_CLIENT_KEY = 14,         /* its private key (PEM) */
  AH_OPTION_SECURITY_FLAGS = 15,         /* uint32_t AH_SECURITY_FLAG_* bits;
                                            default 0 (verify everything) */
  AH_OPTION_TLS_SESSION_REUSED = 16,     /* get only, request: uint32_t 1 if
                                            its TLS connection resumed a cached
                                            session */
  AH_OPTION_TLS_VERSION = 17,            /* get only, request: the negotiated
                                            version, string ("TLSv1.3") */
  AH_OPTION_PROXY = 18,                  /* string "[http://][user:pass@]host
                                            [:port]" (port 80 by default), or
                                            "" for a direct connection;
                                            overrides the session's access type
                                            for handles it is set on */
  AH_OPTION_PROXY_BYPASS = 19,           /* string: hosts that skip the proxy,
                                            comma-separated, with no_proxy's
                                            rules (see ah_open) */
  AH_OPTION_MAX_REDIRECTS = 20,          /* uint32_t redirects followed at most
                                            per request; default 10 */
  AH_OPTION_DECODING = 21,               /* uint32_t 1: send Accept-Encoding
                                            gzip, deflate and hand out the
                                            decoded body (WinInet's
                                            HTTP_DECODING); default 0 */
  AH_OPTION_EXPECT_CONTINUE_SIZE = 22,   /* uint64_t: uploads of at least this
                                            many bytes send "Expect:
                                            100-continue" and wait for 100
                                            before the body; default 1 MiB;
                                            0 = never */
  AH_OPTION_EXPECT_CONTINUE_TIMEOUT = 23 /* uint32_t ms to wait for 100
                                            before sending the body
                                            anyway; default 1000 */
} ah_option;

/*
 * AH_OPTION_SECURITY_FLAGS bits (WinInet's SECURITY_FLAG_IGNORE_*). Each
 * turns one verification failure into an accepted connection; use them
 * only for testing. Nothing else turns verification off.
 */
#define AH_SECURITY_FLAG_IGNORE_UNKNOWN_CA 0x1u
#define AH_SECURITY_FLAG_IGNORE_CERT_DATE_INVALID 0x2u
#define AH_SECURITY_FLAG_IGNORE_CERT_CN_INVALID 0x4u

#define AH_HANDLE_TYPE_SESSION 1
#define AH_HANDLE_TYPE_CONNECT 2
#define AH_HANDLE_TYPE_REQUEST 3

#define AH_DEFAULT_HTTP_PORT 80
#define AH_DEFAULT_HTTPS_PORT 443

/* ---- sessions ---- */

/*
 * Opens a session and starts its I/O thread. `user_agent` may be NULL for
 * the default; it is copied. `flags` is 0 (synchronous: every call blocks
 * until done) or AH_FLAG_ASYNC. On AH_OK *out is the session handle. No
 * HANDLE_CREATED is sent for a session (no callback can be set yet).
 *
 * `access_type` says how requests reach servers:
 *   AH_OPEN_TYPE_DIRECT     directly.
 *   AH_OPEN_TYPE_PROXY      through the HTTP proxy `proxy`
 *                           ("[http://][user:pass@]host[:port]", port 80 by
 *                           default), except for hosts in `proxy_bypass`.
 *   AH_OPEN_TYPE_PRECONFIG  as the environment says, read once here:
 *                           http_proxy for http URLs, https_proxy or
 *                           HTTPS_PROXY for https URLs (uppercase
 *                           HTTP_PROXY is ignored, as curl does), no_proxy
 *                           or NO_PROXY for the bypass list. Requests then
 *                           report DETECTING_PROXY first.
 * Bypass lists follow curl's no_proxy: comma-separated; "*" matches every
 * host; a name matches itself and its subdomains (a leading dot is
 * ignored); an IP literal matches exactly; "name:port" only that port.
 * Plain-HTTP requests go to the proxy in absolute form; HTTPS requests
 * open a CONNECT tunnel and do TLS with the origin through it (its name is
 * checked, never the proxy's). Credentials in the proxy URL go to the proxy
 * only (Basic), never to the origin. Connections through a proxy are pooled
 * per (proxy, origin).
 * Errors: AH_ERR_INVALID_PARAMETER (bad access type, or a malformed
 * proxy), AH_ERR_NO_MEMORY, AH_ERR_SYSTEM.
 */
AH_EXTERN int ah_open(const char *user_agent, int access_type,
                      const char *proxy, const char *proxy_bypass,
                      unsigned flags, ah_handle *out);

/*
 * Sets the status callback of a handle; connect and request handles
 * created from it later inherit it. NULL removes it. Takes effect for
 * callbacks delivered after the call returns.
 * Errors: AH_ERR_INVALID_HANDLE.
 */
AH_EXTERN int ah_set_status_callback(ah_handle handle, ah_status_cb cb);

/*
 * Each session has a cookie jar (RFC 6265): Set-Cookie fields of its
 * responses are stored (COOKIE_RECEIVED and COOKIE_HISTORY report each),
 * and matching cookies are sent with its requests (COOKIE_SENT), unless a
 * request has AH_FLAG_NO_COOKIES. Cookies for public suffixes are refused.
 *
 * ah_cookies_load adds the cookies of a Netscape cookie file (the format
 * of curl -b and -c) to the jar; expired ones are skipped. Returns when
 * done. Errors: AH_ERR_INVALID_HANDLE, AH_ERR_INCORRECT_HANDLE_TYPE (not a
 * session), AH_ERR_INVALID_PARAMETER (a malformed line; the detail names
 * it and nothing is added), AH_ERR_SYSTEM (the file cannot be read; the
 * detail has the reason), AH_ERR_NO_MEMORY.
 *
 * ah_cookies_save writes the jar's unexpired cookies in that format,
 * through a temporary file renamed into place, so `path` is either its
 * old content or complete. Errors as for loading.
 */
AH_EXTERN int ah_cookies_load(ah_handle session, const char *path);
AH_EXTERN int ah_cookies_save(ah_handle session, const char *path);

/*
 * Creates a connect handle for `host` (name or IP literal; IPv6 literals
 * with or without brackets) and `port` (0 means the default of each
 * request's scheme: 80, or 443 for AH_FLAG_SECURE). No network I/O
 * happens. `user` and `password` are copied and may be NULL; with a
 * `user`, requests carry "Authorization: Basic" for them (RFC 7617) to
 * this host, port and scheme only: never to another origin a redirect
 * leads to (AH_FLAG_NO_AUTH turns it off per request; a caller's own
 * Authorization line wins). `context` is
 * given to the callback for this handle and inherited by its requests unless
 * they give their own. Delivers HANDLE_CREATED.
 * Errors: AH_ERR_INVALID_HANDLE, AH_ERR_INCORRECT_HANDLE_TYPE (not a
 * session), AH_ERR_INVALID_PARAMETER (empty host, or CR, LF, NUL, space or
 * '/' in it), AH_ERR_NO_MEMORY.
 */
AH_EXTERN int ah_connect(ah_handle session, const char *host, uint16_t port,
                         const char *user, const char *password, unsigned flags,
                         void *context, ah_handle *out);

/*
 * Creates a request handle. `method` NULL means "GET"; it must be an HTTP
 * token. `target` NULL means "/"; it must start with '/' (or be "*") and
 * have no CR, LF, NUL or space. `flags` are AH_FLAG_* request flags. No
 * network I/O happens. Delivers HANDLE_CREATED. `context` NULL means the
 * connect handle's context.
 * Errors: AH_ERR_INVALID_HANDLE, AH_ERR_INCORRECT_HANDLE_TYPE,
 * AH_ERR_INVALID_PARAMETER, AH_ERR_NO_MEMORY. AH_FLAG_SECURE makes it an
 * HTTPS request (port 443 when the connect handle's port is 0).
 */
AH_EXTERN int ah_open_request(ah_handle connect, const char *method,
                              const char *target, unsigned flags, void *context,
                              ah_handle *out);

/*
 * Sends the request and waits for the response headers. `headers` are
 * extra request header lines ("Name: value", separated by CRLF; the final
 * CRLF optional), `headers_len` bytes, or NULL/0; they are copied. `body`
 * of `body_len` bytes is sent as the request body with a Content-Length;
 * it is borrowed until completion. Completes (AH_OK or REQUEST_COMPLETE)
 * when the final response's headers have been received; 1xx responses
 * are reported as INTERMEDIATE_RESPONSE. An HTTP error status is not an
 * error: query AH_INFO_STATUS_CODE.
 *
 * Redirects (301, 302, 303, 307, 308 with a Location) are followed inside
 * the pending call unless AH_FLAG_NO_AUTO_REDIRECT: REDIRECT reports each
 * new URL, then the next exchange's statuses follow. 303 turns any method
 * but HEAD into GET, 301 and 302 turn POST into GET, both without the
 * body; 307 and 308 keep method and body (a body given here is sent
 * again; one streamed with ah_write is not there any more, so
 * ah_end_request fails with AH_ERR_REDIRECT_NEEDS_BODY and
 * AH_INFO_REDIRECT_URL says where to send it). Relative Locations are
 * resolved (RFC 3986). Credentials from ah_connect and the caller's own
 * Authorization and Cookie lines go only to the origin the request
 * started at.
 *
 * An upload of at least AH_OPTION_EXPECT_CONTINUE_SIZE bytes is sent with
 * "Expect: 100-continue": the body waits for 100 Continue (reported as
 * INTERMEDIATE_RESPONSE) or AH_OPTION_EXPECT_CONTINUE_TIMEOUT; a final
 * answer that comes first is the response, and the body is not sent.
 *
 * Statuses: COOKIE_SENT, DETECTING_PROXY, RESOLVING_NAME ..
 * CONNECTED_TO_SERVER (new connection only), SENDING_REQUEST,
 * REQUEST_SENT, RECEIVING_RESPONSE, RESPONSE_RECEIVED,
 * INTERMEDIATE_RESPONSE, COOKIE_RECEIVED and COOKIE_HISTORY, REDIRECT.
 * Errors: AH_ERR_INVALID_HANDLE, AH_ERR_INCORRECT_HANDLE_TYPE,
 * AH_ERR_INCORRECT_HANDLE_STATE (already sent, or an operation is
 * pending), AH_ERR_INVALID_PARAMETER (malformed header lines), and through
 * completion AH_ERR_TOO_MANY_REDIRECTS (more than AH_OPTION_MAX_REDIRECTS),
 * AH_ERR_REDIRECT_REFUSED (a Location that is not a valid http or https
 * URL, or https to http without AH_FLAG_IGNORE_REDIRECT_TO_HTTP),
 * AH_ERR_PROXY_REFUSED (a CONNECT answered with a non-2xx
 * status; the detail has the proxy and its status line),
 * AH_ERR_PROXY_AUTH_REQUIRED (407 to a CONNECT), AH_ERR_TLS_* (HTTPS),
 * AH_ERR_NAME_NOT_RESOLVED, AH_ERR_CANNOT_CONNECT,
 * AH_ERR_TIMEOUT, AH_ERR_CONNECTION_RESET, AH_ERR_CONNECTION_ABORTED,
 * AH_ERR_PROTOCOL, AH_ERR_OPERATION_CANCELLED, AH_ERR_NO_MEMORY, and
 * AH_ERR_SYSTEM when an HTTPS request finds no OpenSSL to load (the library
 * opens libssl on its first HTTPS request; the detail names what failed).
 */
AH_EXTERN int ah_send_request(ah_handle request, const char *headers,
                              size_t headers_len, const void *body,
                              size_t body_len);

/*
 * Starts a request whose body of exactly `total_length` bytes the caller
 * streams with ah_write and finishes with ah_end_request. Completes when
 * the connection is open and the request head has been sent.
 * Errors: as ah_send_request.
 */
AH_EXTERN int ah_send_request_ex(ah_handle request, const char *headers,
                                 size_t headers_len, uint64_t total_length);

/*
 * Sends `len` bytes of the request body (borrowed until completion).
 * Completes when all of them were handed to the socket; *written (may be
 * NULL) is then `len`. REQUEST_SENT reports each write.
 * Errors: AH_ERR_INCORRECT_HANDLE_STATE (no ah_send_request_ex, or a call
 * pending), AH_ERR_UPLOAD_LENGTH (more than total_length), and through
 * completion the network errors of ah_send_request. If the server answers
 * before the body is sent, the write completes with
 * AH_ERR_CONNECTION_ABORTED and ah_end_request then delivers that answer.
 */
AH_EXTERN int ah_write(ah_handle request, const void *buf, size_t len,
                       size_t *written);

/*
 * Ends a streamed upload and waits for the response headers, as the second
 * half of ah_send_request does.
 * Errors: AH_ERR_UPLOAD_LENGTH (fewer bytes written than announced),
 * AH_ERR_REDIRECT_NEEDS_BODY (a 307 or 308 wants the streamed body again:
 * open a request for AH_INFO_REDIRECT_URL, see ah_crack_url, and send it
 * there), and those of ah_send_request.
 */
AH_EXTERN int ah_end_request(ah_handle request);

/*
 * Reads response body bytes into `buf`. Completes when `len` bytes were
 * read or the body ended; *bytes_read is then the count, and 0 means the
 * body is over (and the connection went back to the pool if it can be
 * reused). With AH_READ_NO_WAIT (ah_read_ex) it completes as soon as at
 * least one byte (or the end) is there, with every byte that has arrived
 * by then (over TLS: every record received so far), up to len. `buf` and
 * `bytes_read` are borrowed until completion.
 * RECEIVING_RESPONSE/RESPONSE_RECEIVED report network reads unless masked.
 * Errors: AH_ERR_INCORRECT_HANDLE_STATE (headers not yet received, or a
 * call pending), AH_ERR_INVALID_PARAMETER (NULL buf with len > 0 or NULL
 * bytes_read), and through completion AH_ERR_TIMEOUT,
 * AH_ERR_CONNECTION_RESET, AH_ERR_CONNECTION_ABORTED (body cut short),
 * AH_ERR_TLS_TRUNCATED (TLS ended without close_notify before the body's
 * end), AH_ERR_PROTOCOL, AH_ERR_DECODING (AH_OPTION_DECODING: the body
 * is not valid gzip/deflate, or ends inside the compressed stream),
 * AH_ERR_OPERATION_CANCELLED. A read that fails hands over none of the
 * bytes it had gathered. With AH_OPTION_DECODING a gzip or deflate body
 * is handed out decoded (AH_INFO_CONTENT_LENGTH still gives the encoded
 * length); another coding is handed out as it came.
 */
AH_EXTERN int ah_read(ah_handle request, void *buf, size_t len,
                      size_t *bytes_read);
AH_EXTERN int ah_read_ex(ah_handle request, void *buf, size_t len,
                         size_t *bytes_read, unsigned flags);

/*
 * Queries the response (after headers were received). For strings, `buf`
 * gets the text and a NUL; *len is in: the capacity, out: the length
 * without the NUL. If the capacity is too small, *len is set to the
 * capacity needed (with the NUL) and AH_ERR_INSUFFICIENT_BUFFER is
 * returned. For integers, `buf` points to the type named in ah_info and
 * *len is its size. `name` is the header name for AH_INFO_HEADER
 * (case-insensitive; the first of several fields; `index` picks a later
 * one), NULL otherwise. While a redirect is being followed there is no
 * response; afterwards it is the final one. A head refused only for its
 * framing (AH_ERR_PROTOCOL for conflicting Content-Length, say) stays
 * queryable, so that the caller can see what the server sent.
 * Errors: AH_ERR_INVALID_HANDLE, AH_ERR_INCORRECT_HANDLE_TYPE,
 * AH_ERR_INCORRECT_HANDLE_STATE (no response yet), AH_ERR_HEADER_NOT_FOUND,
 * AH_ERR_INSUFFICIENT_BUFFER, AH_ERR_INVALID_PARAMETER.
 */
AH_EXTERN int ah_query_info(ah_handle request, int info, const char *name,
                            unsigned index, void *buf, size_t *len);

/*
 * Sets an option on a handle (see ah_option for types). Strings are
 * copied; `size` is their length in bytes. Integers are passed by pointer
 * with `size` their sizeof. Options set on a session or connect handle are
 * inherited by handles created from it afterwards.
 * Errors: AH_ERR_INVALID_HANDLE, AH_ERR_INVALID_OPTION,
 * AH_ERR_INVALID_PARAMETER (wrong size or value), AH_ERR_NO_MEMORY.
 */
AH_EXTERN int ah_set_option(ah_handle handle, int option, const void *value,
                            size_t size);

/*
 * Reads an option. *size is in: the capacity of `value`, out: the bytes
 * written (strings: without the NUL, which is written too). Too small:
 * *size becomes the need and AH_ERR_INSUFFICIENT_BUFFER is returned.
 */
AH_EXTERN int ah_get_option(ah_handle handle, int option, void *value,
                            size_t *size);

/*
 * Closes a handle (see "Lifetime" above). Returns AH_OK once the close has
 * begun; HANDLE_CLOSING follows on the I/O thread. Closing a session closes
 * everything under it; called from outside the I/O thread it also waits
 * until the session's HANDLE_CLOSING has been delivered and its thread has
 * ended, so the caller may free every context afterwards.
 * Errors: AH_ERR_INVALID_HANDLE (already closed, or never valid).
 */
AH_EXTERN int ah_close_handle(ah_handle handle);

/*
 * The last error detail recorded for this handle (a server's or the
 * system's words: "connect 127.0.0.1:9: Connection refused"), copied into
 * `buf` of `len` bytes with a NUL and truncated to fit. Returns the code
 * of that error, or AH_OK with an empty text if there was none.
 * A closed handle yields AH_ERR_INVALID_HANDLE.
 */
AH_EXTERN int ah_last_error_detail(ah_handle handle, char *buf, size_t len);

/* The library's version string, AH_VERSION_STRING of the built library. */
/*
 * Splits an absolute http or https URL (WinInet's InternetCrackUrl), for
 * example one AH_INFO_REDIRECT_URL returned, into the pieces ah_connect
 * and ah_open_request take. `user` and `password` are percent-decoded and
 * NULL when absent; `host` is lowercase, an IPv6 literal without brackets;
 * `port` is the explicit one or the scheme's default; `target` is the path
 * and query ("/" at least), without the fragment. Strings are allocated;
 * release them with ah_url_parts_free. Runs at once, no I/O.
 * Errors: AH_ERR_INVALID_PARAMETER (not an absolute URL, a bad port or
 * host, control characters), AH_ERR_NOT_SUPPORTED (a scheme other than
 * http and https), AH_ERR_NO_MEMORY. Nothing is to be freed after an
 * error.
 */
typedef struct ah_url_parts {
  char *scheme; /* "http" or "https" */
  char *user;
  char *password;
  char *host;
  uint16_t port;
  char *target;
} ah_url_parts;

AH_EXTERN int ah_crack_url(const char *url, ah_url_parts *out);
AH_EXTERN void ah_url_parts_free(ah_url_parts *parts);

AH_EXTERN const char *ah_version(void);

#ifdef __cplusplus
}
#endif

#endif /* AHTTP_H */
