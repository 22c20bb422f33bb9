/*
 * test_decoding.c - content decoding through the public API (issue 5)
 * against the scripted server's /gzip, /deflate, /gzip-corrupt and
 * /gzip-truncated routes: with AH_OPTION_DECODING the body handed out by
 * ah_read is the decoded one (its SHA-256 equals X-Body-Sha256, which the
 * server computes before encoding, and for the text bodies also the
 * SHA-256 this file computes itself), for gzip, zlib deflate and raw
 * deflate, of sizes from 0 to 5 MiB, framed by Content-Length, chunks or
 * the close, read in pieces of 1, 7, 4096 and 65536 bytes; a corrupt or
 * truncated stream fails the read with AH_ERR_DECODING after handing out
 * only real decoded bytes; without the option, or for an unknown coding,
 * the bytes are the encoded ones (X-Encoded-Sha256); Accept-Encoding as
 * the server's header log saw it.
 */
#define _GNU_SOURCE

#include "test_main.h"

#include "ahtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB ((size_t)1 << 20)

/* ---- the bodies ---- */

/*
 * The server's text body (text_body in ahttp_test_server.py): numbered
 * lines "%08d the quick brown fox jumps over the lazy dog\n", cut to n
 * bytes. Malloc'd (at least 1 byte).
 */
static unsigned char *text_body(size_t n) {
  unsigned char *out = malloc(n + 80);
  assert_non_null(out);
  size_t used = 0;
  for (unsigned line = 0; used < n; line++)
    used += (size_t)snprintf((char *)out + used, 80,
                             "%08u the quick brown fox jumps over the lazy "
                             "dog\n",
                             line);
  return out;
}

static void text_sha(size_t n, char hex[65]) {
  unsigned char *body = text_body(n);
  tu_sha256_hex(body, n, hex);
  free(body);
}

/* ---- requests ---- */

/* A GET of `target`, AH_OPTION_DECODING = `decoding` on the request. */
static ah_handle send_get(ah_handle connect, const char *target, int decoding,
                          const char *headers) {
  ah_handle req = t_open_request(connect, "GET", target);
  if (decoding)
    t_set_u32(req, AH_OPTION_DECODING, 1);
  t_send(req, headers);
  assert_int_equal(t_status_code(req), 200);
  return req;
}

/* Reads the body in `chunk`-byte reads; it must hash to header `which`. */
static uint64_t read_matches(ah_handle req, size_t chunk, unsigned flags,
                             const char *which) {
  char hex[65], want[80];
  uint64_t total = 0;
  assert_ah(t_read_all(req, chunk, flags, hex, &total, NULL, NULL), AH_OK);
  assert_ah(t_header(req, which, want, sizeof(want)), AH_OK);
  if (strcmp(hex, want) != 0)
    fail_msg("the body read (%llu bytes) hashes to %s, %s says %s",
             (unsigned long long)total, hex, which, want);
  return total;
}

/*
 * GET `target` with decoding; the body read in `chunk`-byte reads is the
 * decoded one, of `size` bytes (and for text bodies, the text this file
 * makes).
 */
static void decoded_case(const char *target, size_t size, size_t chunk,
                         unsigned flags, int is_text) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = send_get(f.connect, target, 1, NULL);
  uint64_t total = read_matches(req, chunk, flags, "X-Body-Sha256");
  assert_int_equal(total, size);
  assert_int_equal(t_header_ulong(req, "X-Body-Length"), size);
  if (is_text) {
    char want[65], got[80];
    text_sha(size, want);
    assert_ah(t_header(req, "X-Body-Sha256", got, sizeof(got)), AH_OK);
    assert_string_equal(got, want);
  }
  char ae[128];
  assert_int_equal(
      t_logged_field(&f.server, NULL, 0, "accept-encoding", ae, sizeof(ae)), 1);
  assert_string_equal(ae, "gzip, deflate");
  t_close(req);
  t_teardown(&f);
}

static void gzip_case(size_t size, const char *framing, size_t chunk) {
  char target[128];
  snprintf(target, sizeof(target), "/gzip/%zu?framing=%s", size, framing);
  decoded_case(target, size, chunk, 0, 1);
}

static void test_decoding_gzip_0_length(void **state) {
  (void)state;
  gzip_case(0, "length", 65536);
}

static void test_decoding_gzip_0_chunked(void **state) {
  (void)state;
  gzip_case(0, "chunked", 65536);
}

static void test_decoding_gzip_1_length(void **state) {
  (void)state;
  gzip_case(1, "length", 65536);
}

static void test_decoding_gzip_1000_length(void **state) {
  (void)state;
  gzip_case(1000, "length", 65536);
}

static void test_decoding_gzip_100k_chunked(void **state) {
  (void)state;
  gzip_case(100000, "chunked", 65536);
}

static void test_decoding_gzip_5m_length(void **state) {
  (void)state;
  gzip_case(5 * MIB, "length", 65536);
}

static void test_decoding_gzip_5m_chunked(void **state) {
  (void)state;
  gzip_case(5 * MIB + 3, "chunked", 65536);
}

static void test_decoding_gzip_close_delimited(void **state) {
  (void)state;
  gzip_case(300000, "close", 65536);
}

static void test_decoding_gzip_1_byte_reads(void **state) {
  (void)state;
  gzip_case(20000, "length", 1);
}

static void test_decoding_gzip_7_byte_reads_chunked(void **state) {
  (void)state;
  gzip_case(50000, "chunked", 7);
}

static void test_decoding_gzip_4096_byte_reads(void **state) {
  (void)state;
  gzip_case(MIB, "length", 4096);
}

/* Chunks of 1 byte: every compressed byte arrives framed alone. */
static void test_decoding_gzip_tiny_chunks(void **state) {
  (void)state;
  decoded_case("/gzip/30000?framing=chunked&chunk=1", 30000, 65536, 0, 1);
}

/* Incompressible bytes: the stream is mostly stored blocks. */
static void test_decoding_gzip_random_5m_chunked(void **state) {
  (void)state;
  decoded_case("/gzip/5242880?framing=chunked&content=random", 5 * MIB, 65536,
               0, 0);
}

static void test_decoding_gzip_level_9_and_0(void **state) {
  (void)state;
  decoded_case("/gzip/200000?level=9", 200000, 65536, 0, 1);
  decoded_case("/gzip/200000?level=0", 200000, 65536, 0, 1);
}

static void test_decoding_gzip_read_ex_no_wait(void **state) {
  (void)state;
  decoded_case("/gzip/1048576?framing=chunked", MIB, 65536, AH_READ_NO_WAIT, 1);
}

static void test_decoding_x_gzip_name(void **state) {
  (void)state;
  decoded_case("/gzip/10000?coding=x-gzip", 10000, 4096, 0, 1);
}

static void test_decoding_coding_name_case_insensitive(void **state) {
  (void)state;
  decoded_case("/gzip/10000?coding=GZip", 10000, 4096, 0, 1);
}

static void deflate_case(size_t size, int raw, const char *framing,
                         size_t chunk) {
  char target[128];
  snprintf(target, sizeof(target), "/deflate/%zu?framing=%s%s", size, framing,
           raw ? "&raw=1" : "");
  decoded_case(target, size, chunk, 0, 1);
}

static void test_decoding_deflate_zlib_0(void **state) {
  (void)state;
  deflate_case(0, 0, "length", 65536);
}

static void test_decoding_deflate_zlib_1000(void **state) {
  (void)state;
  deflate_case(1000, 0, "length", 65536);
}

static void test_decoding_deflate_zlib_5m_chunked(void **state) {
  (void)state;
  deflate_case(5 * MIB, 0, "chunked", 65536);
}

static void test_decoding_deflate_zlib_7_byte_reads(void **state) {
  (void)state;
  deflate_case(30000, 0, "length", 7);
}

static void test_decoding_deflate_raw_0(void **state) {
  (void)state;
  deflate_case(0, 1, "length", 65536);
}

static void test_decoding_deflate_raw_1000(void **state) {
  (void)state;
  deflate_case(1000, 1, "length", 65536);
}

static void test_decoding_deflate_raw_5m_length(void **state) {
  (void)state;
  deflate_case(5 * MIB, 1, "length", 65536);
}

static void test_decoding_deflate_raw_1_byte_reads_chunked(void **state) {
  (void)state;
  deflate_case(10000, 1, "chunked", 1);
}

static void test_decoding_deflate_random_1m(void **state) {
  (void)state;
  decoded_case("/deflate/1048576?content=random", MIB, 65536, 0, 0);
}

/* ---- broken streams ---- */

/*
 * GET `target` with decoding, reading in `chunk`-byte reads until a read
 * fails: it fails with AH_ERR_DECODING. With `exact`, every byte handed
 * out before it is the text body's; without, they are what the damaged
 * stream decodes to (a flipped bit inside the compressed data can only
 * be caught by the checksum at the end), and only their count is bounded.
 */
static void broken_case_ex(const char *target, size_t size, size_t chunk,
                           int exact) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = send_get(f.connect, target, 1, NULL);
  unsigned char *want = text_body(size);
  unsigned char *buf = malloc(chunk);
  assert_non_null(buf);
  size_t got = 0;
  int err = AH_OK;
  for (;;) {
    size_t n = 0;
    err = t_done(req, ah_read(req, buf, chunk, &n), NULL);
    if (err != AH_OK || n == 0)
      break;
    if (got + n > size || (exact && memcmp(buf, want + got, n) != 0))
      fail_msg("bytes %zu..%zu handed out are not the decoded body's", got,
               got + n);
    got += n;
  }
  free(buf);
  free(want);
  if (err != AH_ERR_DECODING)
    fail_msg("after %zu good bytes the read ended with %s, expected "
             "AH_ERR_DECODING",
             got, rec_code_name(err));
  char detail[256] = "";
  assert_ah(ah_last_error_detail(req, detail, sizeof(detail)), AH_ERR_DECODING);
  assert_true(strlen(detail) > 0);
  /* The failure stays: a read after it does not pass for the end. */
  size_t n = 99;
  char one[16];
  int again = t_done(req, ah_read(req, one, sizeof(one), &n), NULL);
  if (again == AH_OK)
    fail_msg("a read after AH_ERR_DECODING succeeded with %zu bytes", n);
  t_close(req);
  t_teardown(&f);
}

static void broken_case(const char *target, size_t size, size_t chunk) {
  broken_case_ex(target, size, chunk, 1);
}

static void test_decoding_gzip_corrupt_header(void **state) {
  (void)state;
  broken_case("/gzip-corrupt/100000?where=header", 100000, 65536);
}

static void test_decoding_gzip_corrupt_data(void **state) {
  (void)state;
  broken_case_ex("/gzip-corrupt/100000?where=data", 100000, 4096, 0);
}

static void test_decoding_gzip_corrupt_crc(void **state) {
  (void)state;
  broken_case("/gzip-corrupt/100000?where=crc", 100000, 4096);
}

static void test_decoding_gzip_corrupt_crc_chunked(void **state) {
  (void)state;
  broken_case("/gzip-corrupt/100000?where=crc&framing=chunked", 100000, 7);
}

static void test_decoding_gzip_garbage(void **state) {
  (void)state;
  broken_case("/gzip-corrupt/1000?where=garbage", 1000, 65536);
}

static void test_decoding_zlib_corrupt_header(void **state) {
  (void)state;
  broken_case("/gzip-corrupt/100000?where=header&format=zlib", 100000, 65536);
}

static void test_decoding_zlib_corrupt_adler(void **state) {
  (void)state;
  broken_case("/gzip-corrupt/100000?where=crc&format=zlib", 100000, 4096);
}

static void test_decoding_gzip_truncated_length(void **state) {
  (void)state;
  broken_case("/gzip-truncated/100000", 100000, 4096);
}

static void test_decoding_gzip_truncated_chunked(void **state) {
  (void)state;
  broken_case("/gzip-truncated/100000?framing=chunked", 100000, 4096);
}

/* Cut inside the 8-byte trailer: all data there, the check missing. */
static void test_decoding_gzip_truncated_in_trailer(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = send_get(f.connect, "/gzip/5000", 0, NULL);
  unsigned long encoded = t_header_ulong(req, "X-Encoded-Length");
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
  char target[128];
  snprintf(target, sizeof(target), "/gzip-truncated/5000?keep=%lu",
           encoded - 3);
  broken_case(target, 5000, 4096);
}

static void test_decoding_gzip_truncated_1_byte_reads(void **state) {
  (void)state;
  broken_case("/gzip-truncated/3000", 3000, 1);
}

static void test_decoding_zlib_truncated(void **state) {
  (void)state;
  broken_case("/gzip-truncated/100000?format=zlib&framing=chunked", 100000,
              4096);
}

static void test_decoding_raw_deflate_truncated(void **state) {
  (void)state;
  broken_case("/gzip-truncated/100000?format=raw", 100000, 4096);
}

/* Only the gzip header arrived. */
static void test_decoding_gzip_truncated_to_10_bytes(void **state) {
  (void)state;
  broken_case("/gzip-truncated/100000?keep=10", 100000, 65536);
}

/* ---- not decoded ---- */

/* Without the option: the encoded bytes, and no Accept-Encoding. */
static void raw_case(const char *target, int decoding, const char *headers) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = send_get(f.connect, target, decoding, headers);
  uint64_t total = read_matches(req, 65536, 0, "X-Encoded-Sha256");
  assert_int_equal(total, t_header_ulong(req, "X-Encoded-Length"));
  t_close(req);
  if (!decoding && headers == NULL) {
    char ae[128];
    assert_int_equal(
        t_logged_field(&f.server, NULL, 0, "accept-encoding", ae, sizeof(ae)),
        0);
  }
  t_teardown(&f);
}

static void test_decoding_off_gives_gzip_bytes(void **state) {
  (void)state;
  raw_case("/gzip/100000", 0, NULL);
}

static void test_decoding_off_gives_deflate_bytes(void **state) {
  (void)state;
  raw_case("/deflate/100000?framing=chunked", 0, NULL);
}

/* Without the option even a corrupt stream is just bytes. */
static void test_decoding_off_corrupt_is_just_bytes(void **state) {
  (void)state;
  raw_case("/gzip-corrupt/100000?where=data", 0, NULL);
}

static void test_decoding_unknown_coding_not_decoded(void **state) {
  (void)state;
  raw_case("/gzip/100000?coding=br", 1, NULL);
}

static void test_decoding_two_codings_not_decoded(void **state) {
  (void)state;
  raw_case("/gzip/100000?coding=gzip%2C%20br", 1, NULL);
}

/* ---- Accept-Encoding and the option ---- */

/* The caller's own Accept-Encoding is sent alone; decoding still works. */
static void test_decoding_caller_accept_encoding_wins(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req =
      send_get(f.connect, "/gzip/10000", 1, "Accept-Encoding: gzip\r\n");
  read_matches(req, 65536, 0, "X-Body-Sha256");
  t_close(req);
  char ae[128];
  assert_int_equal(
      t_logged_field(&f.server, NULL, 0, "accept-encoding", ae, sizeof(ae)), 1);
  assert_string_equal(ae, "gzip");
  t_teardown(&f);
}

static void test_decoding_option_default_off(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  assert_int_equal(t_get_u32(f.session, AH_OPTION_DECODING), 0);
  uint64_t wide = 1;
  assert_ah(ah_set_option(f.session, AH_OPTION_DECODING, &wide, sizeof(wide)),
            AH_ERR_INVALID_PARAMETER);
  t_teardown(&f);
}

/* Set on the session or on the connect handle, inherited by requests. */
static void inherited_case(int on_session) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  if (on_session)
    t_set_u32(f.session, AH_OPTION_DECODING, 1);
  ah_handle connect =
      t_connect(f.session, "127.0.0.1", f.server.port, NULL, NULL);
  if (!on_session)
    t_set_u32(connect, AH_OPTION_DECODING, 1);
  ah_handle req = send_get(connect, "/deflate/20000", 0, NULL);
  read_matches(req, 65536, 0, "X-Body-Sha256");
  t_close(req);
  t_close(connect);
  t_teardown(&f);
}

static void test_decoding_option_on_session(void **state) {
  (void)state;
  inherited_case(1);
}

static void test_decoding_option_on_connect(void **state) {
  (void)state;
  inherited_case(0);
}

/* A request may turn it off again. */
static void test_decoding_option_off_on_request(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  t_set_u32(f.session, AH_OPTION_DECODING, 1);
  ah_handle connect =
      t_connect(f.session, "127.0.0.1", f.server.port, NULL, NULL);
  ah_handle req = t_open_request(connect, "GET", "/gzip/20000");
  t_set_u32(req, AH_OPTION_DECODING, 0);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  read_matches(req, 65536, 0, "X-Encoded-Sha256");
  t_close(req);
  t_close(connect);
  t_teardown(&f);
}

/* ---- with the rest of the engine ---- */

/* A decoded body read to its end gives its connection back. */
static void test_decoding_connection_reused_after_decoded_body(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = send_get(f.connect, "/gzip/300000?framing=chunked", 1, NULL);
  read_matches(req, 65536, 0, "X-Body-Sha256");
  t_close(req);
  req = send_get(f.connect, "/deflate/300000", 1, NULL);
  assert_int_equal(t_reused(req), 1);
  read_matches(req, 65536, 0, "X-Body-Sha256");
  t_close(req);
  req = send_get(f.connect, "/bytes/1000", 1, NULL);
  assert_int_equal(t_reused(req), 1);
  read_matches(req, 65536, 0, "X-Body-Sha256");
  t_close(req);
  t_teardown(&f);
}

static void test_decoding_sync_session(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, 0, 1);
  ah_handle req = send_get(f.connect, "/gzip/500000?framing=chunked", 1, NULL);
  read_matches(req, 1000, 0, "X-Body-Sha256");
  t_close(req);
  t_teardown(&f);
}

/* HEAD: no body to decode. */
static void test_decoding_head_has_no_body(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = t_open_request(f.connect, "HEAD", "/gzip/10000");
  t_set_u32(req, AH_OPTION_DECODING, 1);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  char hex[65];
  uint64_t total = 1;
  assert_ah(t_read_all(req, 4096, 0, hex, &total, NULL, NULL), AH_OK);
  assert_int_equal(total, 0);
  t_close(req);
  t_teardown(&f);
}

/* The redirect's body is dropped, the final one decoded. */
static void test_decoding_after_redirect(void **state) {
  (void)state;
  decoded_case("/redirect/302?to=%2Fgzip%2F70000%3Fframing%3Dchunked", 70000,
               4096, 0, 1);
}

/* An unencoded body with the option on passes through. */
static void test_decoding_identity_body_untouched(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = send_get(f.connect, "/bytes/200000?framing=chunked", 1, NULL);
  read_matches(req, 7000, 0, "X-Body-Sha256");
  t_close(req);
  t_teardown(&f);
}

/* ---- a real server: nginx with gzip on ---- */

/* The file `name` in nginx's root: text (compressible) of `size` bytes. */
static void add_text_file(const ts_nginx *ngx, const char *name, size_t size,
                          char hex[65]) {
  char path[512];
  unsigned char *body = text_body(size);
  snprintf(path, sizeof(path), "%s/%s", ngx->root, name);
  assert_int_equal(tu_write_file(path, body, size), 0);
  tu_sha256_hex(body, size, hex);
  free(body);
}

/*
 * nginx gzips /gzip/X on the fly (chunked) when asked: with decoding the
 * bytes read are the file's, with the gzip header on the response; the
 * next request reuses the connection (the decoded body was read to its
 * end). Without decoding nginx is not asked and sends the file as it is.
 */
static void test_decoding_nginx_gzip_matches_the_file(void **state) {
  (void)state;
  ts_nginx ngx;
  if (ts_nginx_start(&ngx) != 0)
    fail_msg("could not start nginx");
  static const size_t sizes[] = {1, 4096, 3 << 20};
  char sha[3][65], name[32], target[48], hex[65], coding[32];
  for (size_t i = 0; i < 3; i++) {
    snprintf(name, sizeof(name), "text%zu.txt", i);
    add_text_file(&ngx, name, sizes[i], sha[i]);
  }
  ah_handle session;
  rec_reset();
  t_open_session(AH_FLAG_ASYNC, &session);
  ah_handle connect = t_connect(session, "127.0.0.1", ngx.port, NULL, NULL);
  for (size_t i = 0; i < 3; i++) {
    uint64_t total = 0;
    snprintf(target, sizeof(target), "/gzip/text%zu.txt", i);
    ah_handle req = send_get(connect, target, 1, NULL);
    assert_ah(t_header(req, "Content-Encoding", coding, sizeof(coding)), AH_OK);
    assert_string_equal(coding, "gzip");
    assert_int_equal(t_reused(req), i == 0 ? 0 : 1);
    assert_ah(t_read_all(req, 65536, 0, hex, &total, NULL, NULL), AH_OK);
    assert_int_equal(total, sizes[i]);
    assert_string_equal(hex, sha[i]);
    t_close(req);
  }
  ah_handle req = send_get(connect, "/gzip/text2.txt", 0, NULL);
  assert_ah(t_header(req, "Content-Encoding", coding, sizeof(coding)),
            AH_ERR_HEADER_NOT_FOUND);
  uint64_t total = 0;
  assert_ah(t_read_all(req, 65536, 0, hex, &total, NULL, NULL), AH_OK);
  assert_int_equal(total, sizes[2]);
  assert_string_equal(hex, sha[2]);
  t_close(req);
  assert_ah(ah_close_handle(session), AH_OK);
  assert_true(rec_wait_closing(session, 10000));
  assert_rec(rec_check_all_closed(REC_WHY));
  assert_rec(rec_check_violations(REC_WHY));
  ts_nginx_stop(&ngx);
}

/* One entry a line: CMake reads the names from these lines. */
/* clang-format off */
static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_decoding_gzip_0_length),
    cmocka_unit_test(test_decoding_gzip_0_chunked),
    cmocka_unit_test(test_decoding_gzip_1_length),
    cmocka_unit_test(test_decoding_gzip_1000_length),
    cmocka_unit_test(test_decoding_gzip_100k_chunked),
    cmocka_unit_test(test_decoding_gzip_5m_length),
    cmocka_unit_test(test_decoding_gzip_5m_chunked),
    cmocka_unit_test(test_decoding_gzip_close_delimited),
    cmocka_unit_test(test_decoding_gzip_1_byte_reads),
    cmocka_unit_test(test_decoding_gzip_7_byte_reads_chunked),
    cmocka_unit_test(test_decoding_gzip_4096_byte_reads),
    cmocka_unit_test(test_decoding_gzip_tiny_chunks),
    cmocka_unit_test(test_decoding_gzip_random_5m_chunked),
    cmocka_unit_test(test_decoding_gzip_level_9_and_0),
    cmocka_unit_test(test_decoding_gzip_read_ex_no_wait),
    cmocka_unit_test(test_decoding_x_gzip_name),
    cmocka_unit_test(test_decoding_coding_name_case_insensitive),
    cmocka_unit_test(test_decoding_deflate_zlib_0),
    cmocka_unit_test(test_decoding_deflate_zlib_1000),
    cmocka_unit_test(test_decoding_deflate_zlib_5m_chunked),
    cmocka_unit_test(test_decoding_deflate_zlib_7_byte_reads),
    cmocka_unit_test(test_decoding_deflate_raw_0),
    cmocka_unit_test(test_decoding_deflate_raw_1000),
    cmocka_unit_test(test_decoding_deflate_raw_5m_length),
    cmocka_unit_test(test_decoding_deflate_raw_1_byte_reads_chunked),
    cmocka_unit_test(test_decoding_deflate_random_1m),
    cmocka_unit_test(test_decoding_gzip_corrupt_header),
    cmocka_unit_test(test_decoding_gzip_corrupt_data),
    cmocka_unit_test(test_decoding_gzip_corrupt_crc),
    cmocka_unit_test(test_decoding_gzip_corrupt_crc_chunked),
    cmocka_unit_test(test_decoding_gzip_garbage),
    cmocka_unit_test(test_decoding_zlib_corrupt_header),
    cmocka_unit_test(test_decoding_zlib_corrupt_adler),
    cmocka_unit_test(test_decoding_gzip_truncated_length),
    cmocka_unit_test(test_decoding_gzip_truncated_chunked),
    cmocka_unit_test(test_decoding_gzip_truncated_in_trailer),
    cmocka_unit_test(test_decoding_gzip_truncated_1_byte_reads),
    cmocka_unit_test(test_decoding_zlib_truncated),
    cmocka_unit_test(test_decoding_raw_deflate_truncated),
    cmocka_unit_test(test_decoding_gzip_truncated_to_10_bytes),
    cmocka_unit_test(test_decoding_off_gives_gzip_bytes),
    cmocka_unit_test(test_decoding_off_gives_deflate_bytes),
    cmocka_unit_test(test_decoding_off_corrupt_is_just_bytes),
    cmocka_unit_test(test_decoding_unknown_coding_not_decoded),
    cmocka_unit_test(test_decoding_two_codings_not_decoded),
    cmocka_unit_test(test_decoding_caller_accept_encoding_wins),
    cmocka_unit_test(test_decoding_option_default_off),
    cmocka_unit_test(test_decoding_option_on_session),
    cmocka_unit_test(test_decoding_option_on_connect),
    cmocka_unit_test(test_decoding_option_off_on_request),
    cmocka_unit_test(test_decoding_connection_reused_after_decoded_body),
    cmocka_unit_test(test_decoding_sync_session),
    cmocka_unit_test(test_decoding_head_has_no_body),
    cmocka_unit_test(test_decoding_after_redirect),
    cmocka_unit_test(test_decoding_identity_body_untouched),
    cmocka_unit_test(test_decoding_nginx_gzip_matches_the_file),
};
/* clang-format on */

AH_TEST_MAIN(tests)
