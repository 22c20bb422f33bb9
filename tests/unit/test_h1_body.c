/*
 * test_h1_body.c - framing decisions and the body decoder
 * (src/http1/h1_body.c).
 *
 * Table-driven: a fixture is a whole response (head, body section, maybe
 * the start of the next response), the request method, and the expected
 * framing, keep-alive verdict, body bytes, and where the body ends (or
 * which error stops it, and at which byte). The body section is fed
 * whole, byte by byte, split in two at every point, and again whole and
 * byte by byte through the direct-read path (ah__h1_body_direct/skip);
 * every piece lives in a heap buffer of its exact size. Each way must give
 * the same concatenated data, the same verdict and the same end offset.
 */
#include "test_main.h"

#include "http1/h1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAW(s) s, sizeof(s) - 1
#define STR(s) s, sizeof(s) - 1

/* max_trailer used when a fixture leaves it 0. */
#define DEFAULT_TRAILER 1024
/* A fixture value meaning a real max_trailer of 0. */
#define TRAILER_NONE ((size_t)-1)

enum group {
  G_LENGTH,
  G_CL_ZERO,
  G_CHUNKED,
  G_CHUNK_EXT,
  G_TRAILERS,
  G_CLOSE,
  G_NO_BODY,
  G_KEEP_ALIVE,
  G_EOF_EARLY,
  G_CL_CONFLICT,
  G_CL_TE,
  G_CL_BAD,
  G_CL_OVERFLOW,
  G_TE_BAD,
  G_BAD_CHUNK_SIZE,
  G_CHUNK_OVERFLOW,
  G_CHUNK_CRLF,
  G_BAD_TRAILER
};

typedef struct body_case {
  const char *name;
  enum group group;
  const char *raw; /* the whole response */
  size_t raw_len;
  const char *method; /* NULL: "GET" */
  size_t max_trailer; /* 0: DEFAULT_TRAILER; TRAILER_NONE: 0 */
  int init_rc;
  ah__h1_framing framing;
  int keep_alive;
  /*
   * After the whole body section: AH_H1_BODY_DONE, an error, or
   * AH_H1_NEED_MORE (still waiting; then eof_rc is what ah__h1_body_eof
   * says).
   */
  int result;
  int eof_rc;
  const char *body; /* data expected, in order */
  size_t body_len;
  size_t at;       /* DONE: bytes of the body section consumed; error: the
                      offset of the offending byte */
  const char *why; /* errors: a substring of *detail */
} body_case;

/* Fixture tables keep several fields to a line. */
/* clang-format off */
static const body_case cases[] = {
    /* ---- Content-Length ---- */
    {.name = "length_simple", .group = G_LENGTH,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
     .framing = AH_H1_FRAMING_LENGTH, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("hello"), .at = 5},
    {.name = "length_then_next_response", .group = G_LENGTH,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
                "helloHTTP/1.1 200 OK\r\n\r\n"),
     .framing = AH_H1_FRAMING_LENGTH, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("hello"), .at = 5},
    {.name = "length_binary_with_crlf_and_nul", .group = G_LENGTH,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"
                "a\r\n\0\r\n0\r\nzz"),
     .framing = AH_H1_FRAMING_LENGTH, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("a\r\n\0\r\n0\r\n"), .at = 9},
    {.name = "length_repeated_same_value", .group = G_LENGTH,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n"
                "Content-Length:3\r\n\r\nabcdef"),
     .framing = AH_H1_FRAMING_LENGTH, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("abc"), .at = 3},
    {.name = "length_leading_zeros", .group = G_LENGTH,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 003\r\n"
                "Content-Length: 3\r\n\r\nabc"),
     .framing = AH_H1_FRAMING_LENGTH, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("abc"), .at = 3},
    {.name = "length_lowercase_name", .group = G_LENGTH,
     .raw = RAW("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
     .framing = AH_H1_FRAMING_LENGTH, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("ok"), .at = 2},
    {.name = "length_max_value", .group = G_LENGTH,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n"
                "\r\nabc"),
     .framing = AH_H1_FRAMING_LENGTH, .keep_alive = 1,
     .result = AH_H1_NEED_MORE, .eof_rc = AH_H1_E_SYNTAX, .body = STR("abc"),
     .why = "closed before the end of the body"},
    {.name = "length_on_404", .group = G_LENGTH,
     .raw = RAW("HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope"),
     .framing = AH_H1_FRAMING_LENGTH, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("nope"), .at = 4},

    /* ---- Content-Length: 0 ---- */
    {.name = "length_zero", .group = G_CL_ZERO,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
     .framing = AH_H1_FRAMING_NONE, .keep_alive = 1, .result = AH_H1_BODY_DONE,
     .body = STR(""), .at = 0},
    {.name = "length_zero_then_next_response", .group = G_CL_ZERO,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                "HTTP/1.1 200 OK\r\n\r\n"),
     .framing = AH_H1_FRAMING_NONE, .keep_alive = 1, .result = AH_H1_BODY_DONE,
     .body = STR(""), .at = 0},
    {.name = "length_zeros", .group = G_CL_ZERO,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 000\r\n\r\nxyz"),
     .framing = AH_H1_FRAMING_NONE, .keep_alive = 1, .result = AH_H1_BODY_DONE,
     .body = STR(""), .at = 0},

    /* ---- chunked ---- */
    {.name = "chunked_two_chunks", .group = G_CHUNKED,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("hello world"), .at = 26},
    {.name = "chunked_then_next_response", .group = G_CHUNKED,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "3\r\nabc\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("abc"), .at = 13},
    {.name = "chunked_hex_sizes_any_case", .group = G_CHUNKED,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n"
                "0010\r\nABCDEFGHIJKLMNOP\r\n0\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_BODY_DONE,
     .body = STR("0123456789abcdefghijkABCDEFGHIJKLMNOP"), .at = 60},
    {.name = "chunked_many_leading_zeros", .group = G_CHUNKED,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "00000000000000000000000002\r\nhi\r\n"
                "00000000000000000000000000\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("hi"), .at = 62},
    {.name = "chunked_bare_lf", .group = G_CHUNKED,
     .raw = RAW("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
                "5\nhello\n1\r\n!\n0\n\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("hello!"), .at = 16},
    {.name = "chunked_data_looks_like_framing", .group = G_CHUNKED,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "7\r\n\r\n0\r\n\r\n\r\n0\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("\r\n0\r\n\r\n"), .at = 17},
    {.name = "chunked_uppercase_coding", .group = G_CHUNKED,
     .raw = RAW("HTTP/1.1 200 OK\r\ntransfer-encoding: CHUNKED\r\n\r\n"
                "1\r\nx\r\n0\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("x"), .at = 11},
    {.name = "chunked_after_other_coding", .group = G_CHUNKED,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                "1\r\nx\r\n0\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("x"), .at = 11},
    {.name = "chunked_in_second_te_field", .group = G_CHUNKED,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
                "Transfer-Encoding: ,chunked ,\r\n\r\n1\r\nx\r\n0\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("x"), .at = 11},
    {.name = "chunked_http10_not_kept_alive", .group = G_CHUNKED,
     .raw = RAW("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n"
                "Connection: keep-alive\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 0,
     .result = AH_H1_BODY_DONE, .body = STR("ok"), .at = 12},

    /* ---- chunk extensions (RFC 9112 section 7.1.1) ---- */
    {.name = "extension_name_value", .group = G_CHUNK_EXT,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5;name=value\r\nhello\r\n0;last\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("hello"), .at = 31},
    {.name = "extension_bws_and_quoted", .group = G_CHUNK_EXT,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5 ; a = \"q;\\\"x\" ;b\r\nhello\r\n0\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("hello"), .at = 32},
    {.name = "whitespace_after_size", .group = G_CHUNK_EXT,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5 \t\r\nhello\r\n0\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("hello"), .at = 17},
    {.name = "extension_control_char", .group = G_CHUNK_EXT,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5;a\x01\r\nhello\r\n0\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR(""), .at = 3,
     .why = "control character in a chunk extension"},

    /* ---- trailers (RFC 9112 section 7.1.2) ---- */
    {.name = "trailer_fields_skipped", .group = G_TRAILERS,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "2\r\nhi\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\nNEXT"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("hi"), .at = 38},
    {.name = "trailer_bare_lf", .group = G_TRAILERS,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "0\nA: b\nC: d\r\n\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR(""), .at = 14},
    {.name = "trailer_exactly_at_limit", .group = G_TRAILERS,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "0\r\nX-Long: 12345\r\n\r\n"),
     .max_trailer = 15, .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR(""), .at = 20},
    {.name = "no_trailer_with_zero_limit", .group = G_TRAILERS,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "1\r\na\r\n0\r\n\r\n"),
     .max_trailer = TRAILER_NONE, .framing = AH_H1_FRAMING_CHUNKED,
     .keep_alive = 1, .result = AH_H1_BODY_DONE, .body = STR("a"), .at = 11},

    /* ---- close-delimited ---- */
    {.name = "close_http11_no_framing", .group = G_CLOSE,
     .raw = RAW("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n"
                "abc\r\n\r\nHTTP/1.1 200 OK\r\n"),
     .framing = AH_H1_FRAMING_CLOSE, .keep_alive = 0, .result = AH_H1_NEED_MORE,
     .eof_rc = AH_H1_BODY_DONE, .body = STR("abc\r\n\r\nHTTP/1.1 200 OK\r\n")},
    {.name = "close_http10", .group = G_CLOSE,
     .raw = RAW("HTTP/1.0 200 OK\r\n\r\n<html>\0</html>"),
     .framing = AH_H1_FRAMING_CLOSE, .keep_alive = 0, .result = AH_H1_NEED_MORE,
     .eof_rc = AH_H1_BODY_DONE, .body = STR("<html>\0</html>")},
    {.name = "close_ignores_keep_alive", .group = G_CLOSE,
     .raw = RAW("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nxy"),
     .framing = AH_H1_FRAMING_CLOSE, .keep_alive = 0, .result = AH_H1_NEED_MORE,
     .eof_rc = AH_H1_BODY_DONE, .body = STR("xy")},
    {.name = "close_te_without_chunked", .group = G_CLOSE,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"
                "5\r\nhello\r\n0\r\n\r\n"),
     .framing = AH_H1_FRAMING_CLOSE, .keep_alive = 0, .result = AH_H1_NEED_MORE,
     .eof_rc = AH_H1_BODY_DONE, .body = STR("5\r\nhello\r\n0\r\n\r\n")},
    {.name = "close_te_deflate", .group = G_CLOSE,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: deflate\r\n\r\nxyz"),
     .framing = AH_H1_FRAMING_CLOSE, .keep_alive = 0, .result = AH_H1_NEED_MORE,
     .eof_rc = AH_H1_BODY_DONE, .body = STR("xyz")},
    {.name = "close_empty_body", .group = G_CLOSE,
     .raw = RAW("HTTP/1.1 200 OK\r\n\r\n"), .framing = AH_H1_FRAMING_CLOSE,
     .keep_alive = 0, .result = AH_H1_NEED_MORE, .eof_rc = AH_H1_BODY_DONE,
     .body = STR("")},

    /* ---- responses without a body (RFC 9112 section 6.3 rules 1-2) ---- */
    {.name = "head_with_length", .group = G_NO_BODY, .method = "HEAD",
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
                "HTTP/1.1 200 OK\r\n\r\n"),
     .framing = AH_H1_FRAMING_NONE, .keep_alive = 1, .result = AH_H1_BODY_DONE,
     .body = STR(""), .at = 0},
    {.name = "head_with_chunked", .group = G_NO_BODY, .method = "HEAD",
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"),
     .framing = AH_H1_FRAMING_NONE, .keep_alive = 1, .result = AH_H1_BODY_DONE,
     .body = STR(""), .at = 0},
    {.name = "head_with_bad_length", .group = G_NO_BODY, .method = "HEAD",
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n"
                "Connection: close\r\n\r\n"),
     .framing = AH_H1_FRAMING_NONE, .keep_alive = 0, .result = AH_H1_BODY_DONE,
     .body = STR(""), .at = 0},
    {.name = "status_204_with_length", .group = G_NO_BODY,
     .raw = RAW("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello"),
     .framing = AH_H1_FRAMING_NONE, .keep_alive = 1, .result = AH_H1_BODY_DONE,
     .body = STR(""), .at = 0},
    {.name = "status_304_with_length_and_te", .group = G_NO_BODY,
     .raw = RAW("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"),
     .framing = AH_H1_FRAMING_NONE, .keep_alive = 1, .result = AH_H1_BODY_DONE,
     .body = STR(""), .at = 0},
    {.name = "status_100", .group = G_NO_BODY,
     .raw = RAW("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"),
     .framing = AH_H1_FRAMING_NONE, .keep_alive = 1, .result = AH_H1_BODY_DONE,
     .body = STR(""), .at = 0},
    {.name = "status_103_with_length", .group = G_NO_BODY,
     .raw = RAW("HTTP/1.1 103 Early Hints\r\nContent-Length: 3\r\n\r\nabc"),
     .framing = AH_H1_FRAMING_NONE, .keep_alive = 1, .result = AH_H1_BODY_DONE,
     .body = STR(""), .at = 0},
    {.name = "connect_2xx_is_a_tunnel", .group = G_NO_BODY, .method = "CONNECT",
     .raw = RAW("HTTP/1.1 200 Connection established\r\n"
                "Content-Length: 10\r\n\r\n\x16\x03\x01"),
     .framing = AH_H1_FRAMING_NONE, .keep_alive = 0, .result = AH_H1_BODY_DONE,
     .body = STR(""), .at = 0},
    {.name = "connect_407_has_body", .group = G_NO_BODY, .method = "CONNECT",
     .raw = RAW("HTTP/1.1 407 Proxy Authentication Required\r\n"
                "Content-Length: 3\r\n\r\nno!"),
     .framing = AH_H1_FRAMING_LENGTH, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("no!"), .at = 3},
    {.name = "lowercase_head_is_another_method", .group = G_NO_BODY,
     .method = "head",
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab"),
     .framing = AH_H1_FRAMING_LENGTH, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("ab"), .at = 2},

    /* ---- persistence (RFC 9112 section 9.3) ---- */
    {.name = "http11_default_keep_alive", .group = G_KEEP_ALIVE,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
     .framing = AH_H1_FRAMING_NONE, .keep_alive = 1, .result = AH_H1_BODY_DONE,
     .body = STR(""), .at = 0},
    {.name = "http11_connection_close", .group = G_KEEP_ALIVE,
     .raw = RAW("HTTP/1.1 200 OK\r\nConnection: close\r\n"
                "Content-Length: 1\r\n\r\na"),
     .framing = AH_H1_FRAMING_LENGTH, .keep_alive = 0,
     .result = AH_H1_BODY_DONE, .body = STR("a"), .at = 1},
    {.name = "http11_close_in_list_any_case", .group = G_KEEP_ALIVE,
     .raw = RAW("HTTP/1.1 200 OK\r\nConnection: Keep-Alive , CLOSE\r\n"
                "Content-Length: 0\r\n\r\n"),
     .framing = AH_H1_FRAMING_NONE, .keep_alive = 0, .result = AH_H1_BODY_DONE,
     .body = STR(""), .at = 0},
    {.name = "http11_close_in_second_field", .group = G_KEEP_ALIVE,
     .raw = RAW("HTTP/1.1 200 OK\r\nConnection: upgrade\r\n"
                "connection: close\r\nContent-Length: 0\r\n\r\n"),
     .framing = AH_H1_FRAMING_NONE, .keep_alive = 0, .result = AH_H1_BODY_DONE,
     .body = STR(""), .at = 0},
    {.name = "http11_closed_is_not_close", .group = G_KEEP_ALIVE,
     .raw = RAW("HTTP/1.1 200 OK\r\nConnection: closed, xclose\r\n"
                "Content-Length: 0\r\n\r\n"),
     .framing = AH_H1_FRAMING_NONE, .keep_alive = 1, .result = AH_H1_BODY_DONE,
     .body = STR(""), .at = 0},
    {.name = "http10_default_close", .group = G_KEEP_ALIVE,
     .raw = RAW("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nab"),
     .framing = AH_H1_FRAMING_LENGTH, .keep_alive = 0,
     .result = AH_H1_BODY_DONE, .body = STR("ab"), .at = 2},
    {.name = "http10_keep_alive", .group = G_KEEP_ALIVE,
     .raw = RAW("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
                "Content-Length: 2\r\n\r\nab"),
     .framing = AH_H1_FRAMING_LENGTH, .keep_alive = 1,
     .result = AH_H1_BODY_DONE, .body = STR("ab"), .at = 2},
    {.name = "http10_keep_alive_and_close", .group = G_KEEP_ALIVE,
     .raw = RAW("HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\n"
                "Content-Length: 2\r\n\r\nab"),
     .framing = AH_H1_FRAMING_LENGTH, .keep_alive = 0,
     .result = AH_H1_BODY_DONE, .body = STR("ab"), .at = 2},
    {.name = "http10_head_keep_alive", .group = G_KEEP_ALIVE, .method = "HEAD",
     .raw = RAW("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n"),
     .framing = AH_H1_FRAMING_NONE, .keep_alive = 1, .result = AH_H1_BODY_DONE,
     .body = STR(""), .at = 0},

    /* ---- the connection closes too early ---- */
    {.name = "length_truncated", .group = G_EOF_EARLY,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"),
     .framing = AH_H1_FRAMING_LENGTH, .keep_alive = 1,
     .result = AH_H1_NEED_MORE, .eof_rc = AH_H1_E_SYNTAX, .body = STR("hello"),
     .why = "closed before the end of the body"},
    {.name = "chunked_truncated_in_data", .group = G_EOF_EARLY,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhel"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_NEED_MORE, .eof_rc = AH_H1_E_SYNTAX, .body = STR("hel"),
     .why = "closed before the end of the body"},
    {.name = "chunked_truncated_before_last_crlf", .group = G_EOF_EARLY,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "2\r\nhi\r\n0\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_NEED_MORE, .eof_rc = AH_H1_E_SYNTAX, .body = STR("hi"),
     .why = "closed before the end of the body"},
    {.name = "chunked_truncated_in_trailer", .group = G_EOF_EARLY,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "0\r\nA: b\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_NEED_MORE, .eof_rc = AH_H1_E_SYNTAX, .body = STR(""),
     .why = "closed before the end of the body"},
    {.name = "chunked_no_bytes_at_all", .group = G_EOF_EARLY,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_NEED_MORE, .eof_rc = AH_H1_E_SYNTAX, .body = STR(""),
     .why = "closed before the end of the body"},

    /* ---- invalid Content-Length / Transfer-Encoding ---- */
    {.name = "differing_in_one_field", .group = G_CL_CONFLICT,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!"),
     .init_rc = AH_H1_E_FRAMING, .why = "differing Content-Length"},
    {.name = "differing_fields", .group = G_CL_CONFLICT,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                "Content-Length: 6\r\n\r\nhello!"),
     .init_rc = AH_H1_E_FRAMING, .why = "differing Content-Length"},
    {.name = "differing_after_same", .group = G_CL_CONFLICT,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                "Content-Length: 5,5,0\r\n\r\nhello"),
     .init_rc = AH_H1_E_FRAMING, .why = "differing Content-Length"},
    {.name = "length_and_chunked", .group = G_CL_TE,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
     .init_rc = AH_H1_E_FRAMING, .why = "both Transfer-Encoding and"},
    {.name = "chunked_and_length", .group = G_CL_TE,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                "Content-Length: 0\r\n\r\n0\r\n\r\n"),
     .init_rc = AH_H1_E_FRAMING, .why = "both Transfer-Encoding and"},
    {.name = "gzip_and_length", .group = G_CL_TE,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
                "Content-Length: 3\r\n\r\nabc"),
     .init_rc = AH_H1_E_FRAMING, .why = "both Transfer-Encoding and"},
    {.name = "bad_length_and_te", .group = G_CL_TE,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                "Content-Length: x\r\n\r\n0\r\n\r\n"),
     .init_rc = AH_H1_E_FRAMING, .why = "both Transfer-Encoding and"},
    {.name = "empty_length", .group = G_CL_BAD,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n"),
     .init_rc = AH_H1_E_FRAMING, .why = "empty Content-Length"},
    {.name = "blank_length", .group = G_CL_BAD,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length:   \r\n\r\n"),
     .init_rc = AH_H1_E_FRAMING, .why = "empty Content-Length"},
    {.name = "empty_list_element", .group = G_CL_BAD,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 5,,5\r\n\r\nhello"),
     .init_rc = AH_H1_E_FRAMING, .why = "empty Content-Length"},
    {.name = "trailing_comma", .group = G_CL_BAD,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\nhello"),
     .init_rc = AH_H1_E_FRAMING, .why = "empty Content-Length"},
    {.name = "negative_length", .group = G_CL_BAD,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
     .init_rc = AH_H1_E_FRAMING, .why = "not a decimal number"},
    {.name = "plus_sign", .group = G_CL_BAD,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello"),
     .init_rc = AH_H1_E_FRAMING, .why = "not a decimal number"},
    {.name = "hex_digit_suffix", .group = G_CL_BAD,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 6a\r\n\r\n"),
     .init_rc = AH_H1_E_FRAMING, .why = "not a decimal number"},
    {.name = "hex_prefix", .group = G_CL_BAD,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n"),
     .init_rc = AH_H1_E_FRAMING, .why = "not a decimal number"},
    {.name = "inner_space", .group = G_CL_BAD,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n"),
     .init_rc = AH_H1_E_FRAMING, .why = "not a decimal number"},
    {.name = "fraction", .group = G_CL_BAD,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 1.0\r\n\r\n"),
     .init_rc = AH_H1_E_FRAMING, .why = "not a decimal number"},
    {.name = "two_to_the_63", .group = G_CL_OVERFLOW,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n"
                "\r\n"),
     .init_rc = AH_H1_E_OVERFLOW, .why = "larger than 2^63-1"},
    {.name = "two_to_the_64", .group = G_CL_OVERFLOW,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n"
                "\r\n"),
     .init_rc = AH_H1_E_OVERFLOW, .why = "larger than 2^63-1"},
    {.name = "thirty_digits", .group = G_CL_OVERFLOW,
     .raw = RAW("HTTP/1.1 200 OK\r\nContent-Length: "
                "123456789012345678901234567890\r\n\r\n"),
     .init_rc = AH_H1_E_OVERFLOW, .why = "larger than 2^63-1"},
    {.name = "chunked_then_gzip", .group = G_TE_BAD,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n"
                "\r\n0\r\n\r\n"),
     .init_rc = AH_H1_E_FRAMING, .why = "not the final transfer coding"},
    {.name = "chunked_field_then_gzip_field", .group = G_TE_BAD,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                "Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n"),
     .init_rc = AH_H1_E_FRAMING, .why = "not the final transfer coding"},
    {.name = "chunked_twice", .group = G_TE_BAD,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n"
                "\r\n0\r\n\r\n"),
     .init_rc = AH_H1_E_FRAMING, .why = "more than once"},
    {.name = "chunked_in_two_fields", .group = G_TE_BAD,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                "Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n"),
     .init_rc = AH_H1_E_FRAMING, .why = "more than once"},
    {.name = "empty_transfer_encoding", .group = G_TE_BAD,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n"),
     .init_rc = AH_H1_E_FRAMING, .why = "names no coding"},
    {.name = "commas_only_transfer_encoding", .group = G_TE_BAD,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: , ,\r\n\r\n"),
     .init_rc = AH_H1_E_FRAMING, .why = "names no coding"},

    /* ---- bad chunk sizes ---- */
    {.name = "size_not_hex", .group = G_BAD_CHUNK_SIZE,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "zz\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR(""), .at = 0,
     .why = "missing or not hexadecimal"},
    {.name = "size_empty", .group = G_BAD_CHUNK_SIZE,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "\r\nhello\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR(""), .at = 0,
     .why = "missing or not hexadecimal"},
    {.name = "size_empty_with_extension", .group = G_BAD_CHUNK_SIZE,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                ";a=b\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR(""), .at = 0,
     .why = "missing or not hexadecimal"},
    {.name = "size_negative", .group = G_BAD_CHUNK_SIZE,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "-5\r\nhello\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR(""), .at = 0,
     .why = "missing or not hexadecimal"},
    {.name = "size_leading_space", .group = G_BAD_CHUNK_SIZE,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                " 5\r\nhello\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR(""), .at = 0,
     .why = "missing or not hexadecimal"},
    {.name = "size_with_junk", .group = G_BAD_CHUNK_SIZE,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5x\r\nhello\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR(""), .at = 1,
     .why = "invalid character after a chunk size"},
    {.name = "size_hex_prefix", .group = G_BAD_CHUNK_SIZE,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "0x5\r\nhello\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR(""), .at = 1,
     .why = "invalid character after a chunk size"},
    {.name = "size_space_junk", .group = G_BAD_CHUNK_SIZE,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5 x\r\nhello\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR(""), .at = 2,
     .why = "invalid character after a chunk size"},
    {.name = "size_line_bare_cr", .group = G_BAD_CHUNK_SIZE,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\rhello\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR(""), .at = 2, .why = "bare CR"},
    {.name = "second_size_bad", .group = G_BAD_CHUNK_SIZE,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "2\r\nok\r\ng\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR("ok"), .at = 7,
     .why = "missing or not hexadecimal"},

    /* ---- chunk sizes over 2^63-1 ---- */
    {.name = "size_two_to_the_63", .group = G_CHUNK_OVERFLOW,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "8000000000000000\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_OVERFLOW, .body = STR(""), .at = 15,
     .why = "larger than 2^63-1"},
    {.name = "size_seventeen_digits", .group = G_CHUNK_OVERFLOW,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "10000000000000000\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_OVERFLOW, .body = STR(""), .at = 16,
     .why = "larger than 2^63-1"},
    {.name = "size_all_f", .group = G_CHUNK_OVERFLOW,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "ffffffffffffffffffff\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_OVERFLOW, .body = STR(""), .at = 15,
     .why = "larger than 2^63-1"},
    {.name = "size_largest_accepted", .group = G_CHUNK_OVERFLOW,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "7fffffffffffffff\r\nab"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_NEED_MORE, .eof_rc = AH_H1_E_SYNTAX, .body = STR("ab"),
     .why = "closed before the end of the body"},

    /* ---- the CRLF after chunk data ---- */
    {.name = "data_followed_by_junk", .group = G_CHUNK_CRLF,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhelloX\r\n0\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR("hello"), .at = 8,
     .why = "not followed by CRLF"},
    {.name = "data_followed_by_next_size", .group = G_CHUNK_CRLF,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello0\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR("hello"), .at = 8,
     .why = "not followed by CRLF"},
    {.name = "data_followed_by_bare_cr", .group = G_CHUNK_CRLF,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\rX0\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR("hello"), .at = 9,
     .why = "not followed by CRLF"},
    {.name = "data_longer_than_size", .group = G_CHUNK_CRLF,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "3\r\nhello\r\n0\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR("hel"), .at = 6,
     .why = "not followed by CRLF"},

    /* ---- bad trailers ---- */
    {.name = "trailer_nul", .group = G_BAD_TRAILER,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "0\r\nA: b\0c\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR(""), .at = 7, .why = "NUL"},
    {.name = "trailer_bare_cr", .group = G_BAD_TRAILER,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "0\r\nA: b\rc\r\n\r\n"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR(""), .at = 8, .why = "bare CR"},
    {.name = "final_line_bare_cr", .group = G_BAD_TRAILER,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "0\r\n\rX"),
     .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_SYNTAX, .body = STR(""), .at = 4, .why = "bare CR"},
    {.name = "trailer_over_limit", .group = G_BAD_TRAILER,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "0\r\nX-Long: 12345\r\n\r\n"),
     .max_trailer = 14, .framing = AH_H1_FRAMING_CHUNKED, .keep_alive = 1,
     .result = AH_H1_E_TOO_LARGE, .body = STR(""), .at = 17,
     .why = "trailer section is larger than the limit"},
    {.name = "trailer_with_zero_limit", .group = G_BAD_TRAILER,
     .raw = RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "0\r\nA: b\r\n\r\n"),
     .max_trailer = TRAILER_NONE, .framing = AH_H1_FRAMING_CHUNKED,
     .keep_alive = 1, .result = AH_H1_E_TOO_LARGE, .body = STR(""), .at = 3,
     .why = "trailer section is larger than the limit"},
};
/* clang-format on */

#define CHECK(tc, how, cond)                                                   \
  do {                                                                         \
    if (!(cond)) {                                                             \
      print_error("fixture %s, fed %s: %s\n", (tc)->name, (how), #cond);       \
      fail();                                                                  \
    }                                                                          \
  } while (0)

/* What one way of feeding the body section produced. */
typedef struct outcome {
  int rc; /* DONE, an error, or NEED_MORE when the input ran out */
  size_t at;
  int eof_rc;
  const char *why;
  char *data;
  size_t data_len;
} outcome;

static void append(outcome *o, const char *p, size_t n) {
  o->data = realloc(o->data, o->data_len + n + 1);
  assert_non_null(o->data);
  memcpy(o->data + o->data_len, p, n);
  o->data_len += n;
}

static size_t trailer_limit(const body_case *tc) {
  if (tc->max_trailer == TRAILER_NONE)
    return 0;
  return tc->max_trailer ? tc->max_trailer : DEFAULT_TRAILER;
}

/* Parses the head of a fixture; the fixture's head must be valid. */
static void parse_head(const body_case *tc, ah__h1_response *resp,
                       ah__h1_header *fields, size_t nfields,
                       size_t *head_len) {
  const char *detail = NULL;

  memset(resp, 0, sizeof *resp);
  resp->headers = fields;
  resp->num_headers = nfields;
  if (ah__h1_parse_response(tc->raw, tc->raw_len, 8192, resp, head_len,
                            &detail) != AH_H1_OK) {
    print_error("fixture %s: head does not parse: %s\n", tc->name,
                detail ? detail : "(incomplete)");
    fail();
  }
}

static void init_body(const body_case *tc, ah__h1_body *body,
                      const ah__h1_response *resp) {
  const char *detail = NULL;
  int ka = -1;
  int rc = ah__h1_body_init(body, resp, tc->method ? tc->method : "GET",
                            trailer_limit(tc), &ka, &detail);
  CHECK(tc, "to init", rc == tc->init_rc);
  CHECK(tc, "to init", ka == (tc->init_rc == AH_H1_OK ? tc->keep_alive : 0));
  if (rc != AH_H1_OK) {
    CHECK(tc, "to init", detail != NULL && strstr(detail, tc->why) != NULL);
    CHECK(tc, "to init", body->framing == AH_H1_FRAMING_NONE);
  } else {
    CHECK(tc, "to init", body->framing == tc->framing);
  }
}

/*
 * Feeds b[0..n) in the pieces that `cuts` (ncuts ascending offsets, the
 * last one n) delimit, each piece copied into its own exact-size buffer.
 * With `direct`, takes what ah__h1_body_direct allows straight from the
 * piece before asking the decoder, as a caller reading a socket into the
 * user's buffer does.
 */
static void feed(const body_case *tc, const char *how,
                 const ah__h1_response *resp, const char *b, const size_t *cuts,
                 size_t ncuts, int direct, outcome *o) {
  ah__h1_body body;
  size_t i, start = 0;

  memset(o, 0, sizeof *o);
  init_body(tc, &body, resp);
  if (ncuts == 0) { /* no bytes at all: the caller still asks once */
    cuts = &start;
    ncuts = 1;
  }
  o->rc = AH_H1_NEED_MORE;
  for (i = 0; i < ncuts; start = cuts[i], i++) {
    size_t plen = cuts[i] - start, off = 0;
    char *p = malloc(plen > 0 ? plen : 1);

    assert_non_null(p);
    memcpy(p, b + start, plen);
    for (;;) {
      const char *data = NULL, *detail = NULL;
      size_t consumed = 9999, data_len = 0;
      uint64_t d = ah__h1_body_direct(&body);
      int rc;

      if (direct && d > 0 && off < plen) {
        size_t m = plen - off;
        if (d < m)
          m = (size_t)d;
        append(o, p + off, m);
        ah__h1_body_skip(&body, m);
        off += m;
        continue;
      }
      rc = ah__h1_body_next(&body, p + off, plen - off, &consumed, &data,
                            &data_len, &detail);
      CHECK(tc, how, consumed <= plen - off);
      if (rc == AH_H1_BODY_DATA) {
        CHECK(tc, how, data_len > 0);
        CHECK(tc, how, data >= p + off);
        CHECK(tc, how, data + data_len == p + off + consumed);
        append(o, data, data_len);
        off += consumed;
        continue;
      }
      if (rc == AH_H1_NEED_MORE) {
        CHECK(tc, how, consumed == plen - off);
        break;
      }
      o->rc = rc;
      o->at = start + off + consumed;
      o->why = detail;
      free(p);
      goto end;
    }
    free(p);
  }
  o->at = start;
  o->eof_rc = ah__h1_body_eof(&body, &o->why);
  return;

end:
  if (o->rc == AH_H1_BODY_DONE) {
    const char *data = NULL, *detail = NULL;
    size_t consumed = 9999, data_len = 0;
    /* Done stays done, takes nothing more, and EOF now is fine. */
    CHECK(tc, how,
          ah__h1_body_next(&body, "x", 1, &consumed, &data, &data_len,
                           &detail) == AH_H1_BODY_DONE);
    CHECK(tc, how, consumed == 0);
    CHECK(tc, how, ah__h1_body_direct(&body) == 0);
    CHECK(tc, how, ah__h1_body_eof(&body, &detail) == AH_H1_BODY_DONE);
  }
}

static void check_outcome(const body_case *tc, const char *how,
                          const outcome *o, size_t n) {
  CHECK(tc, how, o->rc == tc->result);
  CHECK(tc, how, o->data_len == tc->body_len);
  CHECK(tc, how,
        o->data_len == 0 || memcmp(o->data, tc->body, o->data_len) == 0);
  if (tc->result == AH_H1_NEED_MORE) {
    CHECK(tc, how, o->at == n);
    CHECK(tc, how, o->eof_rc == tc->eof_rc);
    if (tc->eof_rc != AH_H1_BODY_DONE)
      CHECK(tc, how, o->why != NULL && strstr(o->why, tc->why) != NULL);
  } else {
    if (o->at != tc->at)
      print_error("fixture %s, fed %s: ended at %zu, expected %zu\n", tc->name,
                  how, o->at, tc->at);
    CHECK(tc, how, o->at == tc->at);
    if (tc->result != AH_H1_BODY_DONE)
      CHECK(tc, how, o->why != NULL && strstr(o->why, tc->why) != NULL);
  }
}

static void run_case(const body_case *tc) {
  ah__h1_header fields[16];
  ah__h1_response resp;
  ah__h1_body body;
  size_t head_len, n, i, k;
  size_t *cuts;
  const char *b;
  outcome o;
  char how[64];

  parse_head(tc, &resp, fields, 16, &head_len);
  if (tc->init_rc != AH_H1_OK) {
    init_body(tc, &body, &resp);
    return;
  }
  b = tc->raw + head_len;
  n = tc->raw_len - head_len;
  cuts = malloc((n + 1) * sizeof *cuts);
  assert_non_null(cuts);
  for (i = 0; i < n; i++)
    cuts[i] = i + 1;

  /* Whole, then byte by byte, each also through the direct path. */
  for (k = 0; k < 2; k++) {
    cuts[n] = n;
    feed(tc, k ? "whole, direct" : "whole", &resp, b, &cuts[n], 1, (int)k, &o);
    check_outcome(tc, k ? "whole, direct" : "whole", &o, n);
    free(o.data);
    feed(tc, k ? "byte by byte, direct" : "byte by byte", &resp, b, cuts, n,
         (int)k, &o);
    check_outcome(tc, k ? "byte by byte, direct" : "byte by byte", &o, n);
    free(o.data);
  }
  /* Two pieces, split at every point (empty pieces included). */
  for (k = 0; k <= n; k++) {
    size_t two[2];
    two[0] = k;
    two[1] = n;
    snprintf(how, sizeof how, "split at %zu", k);
    feed(tc, how, &resp, b, two, 2, 0, &o);
    check_outcome(tc, how, &o, n);
    free(o.data);
  }
  free(cuts);
}

static void run_group(enum group g) {
  size_t i, n = 0;

  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (cases[i].group == g) {
      run_case(&cases[i]);
      n++;
    }
  }
  assert_true(n > 0);
}

#define GROUP_TEST(fn, g)                                                      \
  static void fn(void **state) {                                               \
    (void)state;                                                               \
    run_group(g);                                                              \
  }

GROUP_TEST(content_length_split_at_every_byte, G_LENGTH)
GROUP_TEST(content_length_zero_has_no_body, G_CL_ZERO)
GROUP_TEST(chunked_split_at_every_byte, G_CHUNKED)
GROUP_TEST(chunked_extensions_are_skipped, G_CHUNK_EXT)
GROUP_TEST(chunked_trailers_are_skipped, G_TRAILERS)
GROUP_TEST(close_delimited_body_ends_at_eof, G_CLOSE)
GROUP_TEST(no_body_for_head_1xx_204_304_connect, G_NO_BODY)
GROUP_TEST(keep_alive_decisions, G_KEEP_ALIVE)
GROUP_TEST(eof_before_end_of_body_is_an_error, G_EOF_EARLY)
GROUP_TEST(rejects_conflicting_content_length, G_CL_CONFLICT)
GROUP_TEST(rejects_content_length_with_transfer_encoding, G_CL_TE)
GROUP_TEST(rejects_malformed_content_length, G_CL_BAD)
GROUP_TEST(rejects_content_length_overflow, G_CL_OVERFLOW)
GROUP_TEST(rejects_chunked_not_final_or_repeated, G_TE_BAD)
GROUP_TEST(rejects_bad_chunk_sizes, G_BAD_CHUNK_SIZE)
GROUP_TEST(rejects_chunk_size_overflow, G_CHUNK_OVERFLOW)
GROUP_TEST(rejects_missing_crlf_after_chunk_data, G_CHUNK_CRLF)
GROUP_TEST(rejects_bad_trailers, G_BAD_TRAILER)

/*
 * Chunk extensions are bounded: 4096 bytes per size line pass, 4097 do
 * not, whether they are ";name" extensions or whitespace after the size.
 */
static void rejects_oversized_chunk_extensions(void **state) {
  static const char head[] = "HTTP/1.1 200 OK\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n";
  const size_t hl = sizeof head - 1;
  char *raw = malloc(hl + 8192);
  size_t ext;
  int spaces;

  (void)state;
  assert_non_null(raw);
  for (spaces = 0; spaces < 2; spaces++) {
    for (ext = 4096; ext <= 4097; ext++) {
      body_case tc;
      size_t n = hl;

      memcpy(raw, head, hl);
      raw[n++] = '1';
      if (spaces) {
        memset(raw + n, ' ', ext);
        n += ext;
      } else {
        raw[n++] = ';'; /* ";" plus ext-1 bytes: ext in all */
        memset(raw + n, 'e', ext - 1);
        n += ext - 1;
      }
      memcpy(raw + n, "\r\nx\r\n0\r\n\r\n", 10);
      n += 10;

      memset(&tc, 0, sizeof tc);
      tc.name = spaces ? (ext == 4096 ? "spaces_4096" : "spaces_4097")
                       : (ext == 4096 ? "extension_4096" : "extension_4097");
      tc.raw = raw;
      tc.raw_len = n;
      tc.framing = AH_H1_FRAMING_CHUNKED;
      tc.keep_alive = 1;
      if (ext == 4096) {
        tc.result = AH_H1_BODY_DONE;
        tc.body = "x";
        tc.body_len = 1;
        tc.at = n - hl;
      } else {
        tc.result = AH_H1_E_TOO_LARGE;
        tc.body = "";
        tc.at = 1 + 4096; /* the 4097th extension byte */
        tc.why = "chunk extensions are longer than 4096 bytes";
      }
      run_case(&tc);
    }
  }
  free(raw);
}

/* What the direct-read path offers in each state. */
static void direct_read_only_inside_data(void **state) {
  static const char chunked[] = "HTTP/1.1 200 OK\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n";
  static const char length[] = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n";
  static const char closed[] = "HTTP/1.0 200 OK\r\n\r\n";
  static const char none[] = "HTTP/1.1 204 No Content\r\n\r\n";
  ah__h1_header fields[4];
  ah__h1_response resp;
  ah__h1_body body;
  size_t head_len, consumed, data_len;
  const char *data, *detail = NULL;

  (void)state;
  memset(&resp, 0, sizeof resp);
  resp.headers = fields;

  resp.num_headers = 4;
  assert_int_equal(ah__h1_parse_response(chunked, sizeof chunked - 1, 8192,
                                         &resp, &head_len, &detail),
                   AH_H1_OK);
  assert_int_equal(ah__h1_body_init(&body, &resp, "GET", 0, NULL, &detail),
                   AH_H1_OK);
  assert_true(ah__h1_body_direct(&body) == 0); /* at the size line */
  assert_int_equal(
      ah__h1_body_next(&body, "a\r\n", 3, &consumed, &data, &data_len, &detail),
      AH_H1_NEED_MORE);
  assert_int_equal(consumed, 3);
  assert_true(ah__h1_body_direct(&body) == 10);
  ah__h1_body_skip(&body, 4);
  assert_true(ah__h1_body_direct(&body) == 6);
  ah__h1_body_skip(&body, 6);
  assert_true(ah__h1_body_direct(&body) == 0); /* at the CRLF */
  assert_int_equal(ah__h1_body_next(&body, "\r\n0\r\n\r\n", 7, &consumed, &data,
                                    &data_len, &detail),
                   AH_H1_BODY_DONE);
  assert_int_equal(consumed, 7);

  resp.num_headers = 4;
  assert_int_equal(ah__h1_parse_response(length, sizeof length - 1, 8192, &resp,
                                         &head_len, &detail),
                   AH_H1_OK);
  assert_int_equal(ah__h1_body_init(&body, &resp, "GET", 0, NULL, &detail),
                   AH_H1_OK);
  assert_true(ah__h1_body_direct(&body) == 7);
  ah__h1_body_skip(&body, 7);
  assert_true(ah__h1_body_direct(&body) == 0);
  /* The end is reported by the next call, with nothing consumed. */
  assert_int_equal(
      ah__h1_body_next(&body, NULL, 0, &consumed, &data, &data_len, &detail),
      AH_H1_BODY_DONE);
  assert_int_equal(consumed, 0);

  resp.num_headers = 4;
  assert_int_equal(ah__h1_parse_response(closed, sizeof closed - 1, 8192, &resp,
                                         &head_len, &detail),
                   AH_H1_OK);
  assert_int_equal(ah__h1_body_init(&body, &resp, "GET", 0, NULL, &detail),
                   AH_H1_OK);
  assert_true(ah__h1_body_direct(&body) == UINT64_MAX);
  ah__h1_body_skip(&body, 100000);
  assert_true(ah__h1_body_direct(&body) == UINT64_MAX);
  assert_int_equal(ah__h1_body_eof(&body, &detail), AH_H1_BODY_DONE);
  assert_true(ah__h1_body_direct(&body) == 0);

  resp.num_headers = 4;
  assert_int_equal(ah__h1_parse_response(none, sizeof none - 1, 8192, &resp,
                                         &head_len, &detail),
                   AH_H1_OK);
  assert_int_equal(ah__h1_body_init(&body, &resp, "GET", 0, NULL, &detail),
                   AH_H1_OK);
  assert_true(ah__h1_body_direct(&body) == 0);
}

/* LENGTH: the last span is DATA; DONE follows even on empty input. */
static void length_done_after_last_span(void **state) {
  static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
  ah__h1_header fields[2];
  ah__h1_response resp;
  ah__h1_body body;
  size_t head_len, consumed, data_len;
  const char *data, *detail = NULL;

  (void)state;
  memset(&resp, 0, sizeof resp);
  resp.headers = fields;
  resp.num_headers = 2;
  assert_int_equal(ah__h1_parse_response(head, sizeof head - 1, 8192, &resp,
                                         &head_len, &detail),
                   AH_H1_OK);
  assert_int_equal(ah__h1_body_init(&body, &resp, "GET", 0, NULL, &detail),
                   AH_H1_OK);
  assert_int_equal(
      ah__h1_body_next(&body, "", 0, &consumed, &data, &data_len, &detail),
      AH_H1_NEED_MORE);
  assert_int_equal(ah__h1_body_next(&body, "abcdef", 6, &consumed, &data,
                                    &data_len, &detail),
                   AH_H1_BODY_DATA);
  assert_int_equal(consumed, 3);
  assert_int_equal(data_len, 3);
  assert_true(body.remaining == 0);
  assert_int_equal(
      ah__h1_body_next(&body, "", 0, &consumed, &data, &data_len, &detail),
      AH_H1_BODY_DONE);
  assert_int_equal(consumed, 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(content_length_split_at_every_byte),
    cmocka_unit_test(content_length_zero_has_no_body),
    cmocka_unit_test(chunked_split_at_every_byte),
    cmocka_unit_test(chunked_extensions_are_skipped),
    cmocka_unit_test(chunked_trailers_are_skipped),
    cmocka_unit_test(close_delimited_body_ends_at_eof),
    cmocka_unit_test(no_body_for_head_1xx_204_304_connect),
    cmocka_unit_test(keep_alive_decisions),
    cmocka_unit_test(eof_before_end_of_body_is_an_error),
    cmocka_unit_test(rejects_conflicting_content_length),
    cmocka_unit_test(rejects_content_length_with_transfer_encoding),
    cmocka_unit_test(rejects_malformed_content_length),
    cmocka_unit_test(rejects_content_length_overflow),
    cmocka_unit_test(rejects_chunked_not_final_or_repeated),
    cmocka_unit_test(rejects_bad_chunk_sizes),
    cmocka_unit_test(rejects_chunk_size_overflow),
    cmocka_unit_test(rejects_missing_crlf_after_chunk_data),
    cmocka_unit_test(rejects_bad_trailers),
    cmocka_unit_test(rejects_oversized_chunk_extensions),
    cmocka_unit_test(direct_read_only_inside_data),
    cmocka_unit_test(length_done_after_last_span),
};

AH_TEST_MAIN(tests)
