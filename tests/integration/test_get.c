/*
 * test_get.c - GET through the public API against the scripted server:
 * bodies of every interesting size under each framing (Content-Length,
 * chunked, close-delimited) arrive byte for byte (SHA-256 against the
 * server's X-Body-Sha256), with status, headers and content length
 * queryable, in asynchronous and synchronous sessions, with filling reads
 * and with AH_READ_NO_WAIT.
 */
#define _GNU_SOURCE

#include "test_main.h"

#include "ahtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (UINT64_C(1) << 20)

/* A read after the end of the body reports the end again. */
static void assert_body_over(ah_handle req) {
  char b[16];
  size_t n = 99;
  assert_done(req, ah_read(req, b, sizeof(b), &n));
  assert_int_equal(n, 0);
}

/*
 * GET /bytes/<size>?framing=<framing>, reads it in `chunk`-byte reads and
 * checks status, content length, and the body against X-Body-Sha256.
 */
static void get_case(unsigned flags, const char *framing, uint64_t size,
                     size_t chunk, const char *extra_query) {
  t_fixture f;
  t_setup(&f, flags, 0);
  char target[160];
  snprintf(target, sizeof(target), "/bytes/%llu?framing=%s%s",
           (unsigned long long)size, framing,
           extra_query != NULL ? extra_query : "");
  ah_handle req = t_open_request(f.connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);

  char want[80];
  assert_ah(t_header(req, "X-Body-Sha256", want, sizeof(want)), AH_OK);
  uint64_t length = 0;
  size_t len = sizeof(length);
  int rc = ah_query_info(req, AH_INFO_CONTENT_LENGTH, NULL, 0, &length, &len);
  if (strcmp(framing, "length") == 0) {
    assert_ah(rc, AH_OK);
    assert_int_equal(len, sizeof(length));
    assert_int_equal(length, size);
  } else {
    assert_ah(rc, AH_ERR_HEADER_NOT_FOUND);
  }

  char hex[65];
  uint64_t total = 0;
  assert_ah(t_read_all(req, chunk, 0, hex, &total, NULL, NULL), AH_OK);
  assert_int_equal(total, size);
  assert_string_equal(hex, want);
  assert_body_over(req);
  t_close(req);
  t_teardown(&f);
}

#define GET_TEST(framing, label, size)                                         \
  static void test_get_##framing##_##label(void **state) {                     \
    (void)state;                                                               \
    get_case(AH_FLAG_ASYNC, #framing, (size),                                  \
             (size) >= 10 * MIB ? (size_t)MIB : 65536, NULL);                  \
  }

GET_TEST(length, 0, 0)
GET_TEST(length, 1, 1)
GET_TEST(length, 4095, 4095)
GET_TEST(length, 4096, 4096)
GET_TEST(length, 4097, 4097)
GET_TEST(length, 10m, 10 * MIB)
GET_TEST(length, 200m, 200 * MIB)
GET_TEST(chunked, 0, 0)
GET_TEST(chunked, 1, 1)
GET_TEST(chunked, 4095, 4095)
GET_TEST(chunked, 4096, 4096)
GET_TEST(chunked, 4097, 4097)
GET_TEST(chunked, 10m, 10 * MIB)
GET_TEST(chunked, 200m, 200 * MIB)
GET_TEST(close, 0, 0)
GET_TEST(close, 1, 1)
GET_TEST(close, 4095, 4095)
GET_TEST(close, 4096, 4096)
GET_TEST(close, 4097, 4097)
GET_TEST(close, 10m, 10 * MIB)
GET_TEST(close, 200m, 200 * MIB)

/* One-byte chunks: the decoder handles thousands of tiny chunks. */
static void test_get_chunked_one_byte_chunks(void **state) {
  (void)state;
  get_case(AH_FLAG_ASYNC, "chunked", 4097, 65536, "&chunk=1");
}

/* Chunks larger than a read and not aligned to anything. */
static void test_get_chunked_odd_chunk_size(void **state) {
  (void)state;
  get_case(AH_FLAG_ASYNC, "chunked", MIB + 7, 4096, "&chunk=100003");
}

/* Tiny reads: the body is delivered correctly 7 bytes at a time. */
static void test_get_length_small_reads(void **state) {
  (void)state;
  get_case(AH_FLAG_ASYNC, "length", 70001, 7, NULL);
}

static void test_get_chunked_small_reads(void **state) {
  (void)state;
  get_case(AH_FLAG_ASYNC, "chunked", 70001, 7, "&chunk=1000");
}

/* Synchronous sessions: every call blocks and returns the final result. */
static void test_get_sync_length_4097(void **state) {
  (void)state;
  get_case(0, "length", 4097, 65536, NULL);
}

static void test_get_sync_chunked_10m(void **state) {
  (void)state;
  get_case(0, "chunked", 10 * MIB, (size_t)MIB, NULL);
}

static void test_get_sync_close_4096(void **state) {
  (void)state;
  get_case(0, "close", 4096, 1000, NULL);
}

/* The SHA-256 of /bytes/<n> (default seed), learnt with HEAD. */
static void head_sha(ah_handle connect, uint64_t n, char want[80]) {
  char target[64];
  snprintf(target, sizeof(target), "/bytes/%llu", (unsigned long long)n);
  ah_handle req = t_open_request(connect, "HEAD", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  assert_ah(t_header(req, "X-Body-Sha256", want, 80), AH_OK);
  t_close(req);
}

/*
 * AH_READ_NO_WAIT on a body that trickles in: each read completes with what
 * is there (so some reads are short), never more than asked, and the bytes
 * add up to the body.
 */
static void no_wait_case(unsigned flags) {
  t_fixture f;
  t_setup(&f, flags, 0);
  char want[80];
  head_sha(f.connect, 65536, want);
  ah_handle req =
      t_open_request(f.connect, "GET", "/slow/65536?delay_ms=10&piece=4096");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  char hex[65];
  uint64_t total = 0;
  size_t reads = 0, short_reads = 0;
  assert_ah(t_read_all(req, 65536, AH_READ_NO_WAIT, hex, &total, &reads,
                       &short_reads),
            AH_OK);
  assert_int_equal(total, 65536);
  assert_string_equal(hex, want);
  /* 16 pieces 10 ms apart cannot all arrive before the first read. */
  assert_true(reads >= 2);
  assert_true(short_reads >= 1);
  t_close(req);
  t_teardown(&f);
}

static void test_get_read_ex_no_wait_returns_what_is_there(void **state) {
  (void)state;
  no_wait_case(AH_FLAG_ASYNC);
}

static void test_get_sync_read_ex_no_wait_returns_what_is_there(void **state) {
  (void)state;
  no_wait_case(0);
}

/* AH_READ_NO_WAIT on a large body that is there at once. */
static void test_get_read_ex_no_wait_10m(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "GET", "/bytes/10485760");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  char want[80], hex[65];
  assert_ah(t_header(req, "X-Body-Sha256", want, sizeof(want)), AH_OK);
  uint64_t total = 0;
  assert_ah(t_read_all(req, 300000, AH_READ_NO_WAIT, hex, &total, NULL, NULL),
            AH_OK);
  assert_int_equal(total, 10 * MIB);
  assert_string_equal(hex, want);
  assert_body_over(req);
  t_close(req);
  t_teardown(&f);
}

/* HEAD: the headers of the GET, Content-Length included, and no body. */
static void test_get_head_has_headers_and_no_body(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "HEAD", "/bytes/4096");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  uint64_t length = 0;
  size_t len = sizeof(length);
  assert_ah(ah_query_info(req, AH_INFO_CONTENT_LENGTH, NULL, 0, &length, &len),
            AH_OK);
  assert_int_equal(length, 4096);
  assert_body_over(req);
  t_close(req);
  /* The connection is still good for a GET after the bodiless HEAD. */
  uint64_t total = 0;
  ah_handle get = t_get(f.connect, "/bytes/4096", &total);
  assert_int_equal(total, 4096);
  t_close(get);
  t_teardown(&f);
}

/* Status line, version, raw headers, method and URL are all queryable. */
static void test_get_query_info_status_line_and_headers(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "GET", "/bytes/10");
  /* Nothing to query before the response. */
  uint32_t code = 0;
  size_t len = sizeof(code);
  assert_ah(ah_query_info(req, AH_INFO_STATUS_CODE, NULL, 0, &code, &len),
            AH_ERR_INCORRECT_HANDLE_STATE);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);

  char text[4096];
  len = sizeof(text);
  assert_ah(ah_query_info(req, AH_INFO_STATUS_TEXT, NULL, 0, text, &len),
            AH_OK);
  assert_string_equal(text, "OK");
  assert_int_equal(len, 2);
  len = sizeof(text);
  assert_ah(ah_query_info(req, AH_INFO_VERSION, NULL, 0, text, &len), AH_OK);
  assert_string_equal(text, "HTTP/1.1");
  len = sizeof(text);
  assert_ah(ah_query_info(req, AH_INFO_REQUEST_METHOD, NULL, 0, text, &len),
            AH_OK);
  assert_string_equal(text, "GET");
  len = sizeof(text);
  assert_ah(ah_query_info(req, AH_INFO_URL, NULL, 0, text, &len), AH_OK);
  assert_non_null(strstr(text, "/bytes/10"));

  len = sizeof(text);
  assert_ah(ah_query_info(req, AH_INFO_RAW_HEADERS, NULL, 0, text, &len),
            AH_OK);
  assert_int_equal(len, strlen(text));
  assert_true(strncmp(text, "HTTP/1.1 200", 12) == 0);
  assert_non_null(strstr(text, "\r\nX-Body-Sha256: "));
  assert_non_null(strstr(text, "\r\nX-Conn-Id: 1\r\n"));
  assert_true(len >= 4 && strcmp(text + len - 4, "\r\n\r\n") == 0);

  /* Too small a buffer: the need (with the NUL) comes back. */
  size_t full = len;
  len = 5;
  assert_ah(ah_query_info(req, AH_INFO_RAW_HEADERS, NULL, 0, text, &len),
            AH_ERR_INSUFFICIENT_BUFFER);
  assert_int_equal(len, full + 1);

  /* Header names are case-insensitive; missing ones are reported. */
  char value[80];
  assert_ah(t_header(req, "x-conn-id", value, sizeof(value)), AH_OK);
  assert_string_equal(value, "1");
  assert_ah(t_header(req, "X-No-Such-Header", value, sizeof(value)),
            AH_ERR_HEADER_NOT_FOUND);

  char hex[65];
  assert_ah(t_read_all(req, 100, 0, hex, NULL, NULL, NULL), AH_OK);
  t_close(req);
  t_teardown(&f);
}

/* What the client sends: request line, Host, User-Agent, extra headers. */
static void
test_get_request_head_has_host_user_agent_and_extra_headers(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "GET", "/echo");
  static const char extra[] = "X-One: 1\r\nX-Two: two words";
  assert_done(req, ah_send_request(req, extra, strlen(extra), NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  char *head = t_read_text(req);
  char host[64];
  snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%u\r\n",
           (unsigned)f.server.port);
  assert_true(strncmp(head, "GET /echo HTTP/1.1\r\n", 20) == 0);
  assert_non_null(strstr(head, host));
  assert_non_null(strstr(head, "\r\nUser-Agent: ahttp/"));
  assert_non_null(strstr(head, "\r\nX-One: 1\r\n"));
  assert_non_null(strstr(head, "\r\nX-Two: two words\r\n"));
  size_t n = strlen(head);
  assert_true(n >= 4 && strcmp(head + n - 4, "\r\n\r\n") == 0);
  free(head);
  t_close(req);
  t_teardown(&f);
}

/* A user agent set on the session is the one sent. */
static void test_get_user_agent_option_is_sent(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  static const char ua[] = "ahttp-test/1.0 (integration)";
  ah_handle connect = NULL;
  assert_ah(ah_set_option(f.session, AH_OPTION_USER_AGENT, ua, strlen(ua)),
            AH_OK);
  assert_ah(ah_connect(f.session, "127.0.0.1", f.server.port, NULL, NULL, 0,
                       NULL, &connect),
            AH_OK);
  ah_handle req = t_open_request(connect, "GET", "/echo");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  char *head = t_read_text(req);
  assert_non_null(
      strstr(head, "\r\nUser-Agent: ahttp-test/1.0 (integration)\r\n"));
  free(head);
  t_close(req);
  t_close(connect);
  t_teardown(&f);
}

/* One entry a line: CMake reads the names from these lines. */
/* clang-format off */
static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_get_length_0),
    cmocka_unit_test(test_get_length_1),
    cmocka_unit_test(test_get_length_4095),
    cmocka_unit_test(test_get_length_4096),
    cmocka_unit_test(test_get_length_4097),
    cmocka_unit_test(test_get_length_10m),
    cmocka_unit_test(test_get_length_200m),
    cmocka_unit_test(test_get_chunked_0),
    cmocka_unit_test(test_get_chunked_1),
    cmocka_unit_test(test_get_chunked_4095),
    cmocka_unit_test(test_get_chunked_4096),
    cmocka_unit_test(test_get_chunked_4097),
    cmocka_unit_test(test_get_chunked_10m),
    cmocka_unit_test(test_get_chunked_200m),
    cmocka_unit_test(test_get_close_0),
    cmocka_unit_test(test_get_close_1),
    cmocka_unit_test(test_get_close_4095),
    cmocka_unit_test(test_get_close_4096),
    cmocka_unit_test(test_get_close_4097),
    cmocka_unit_test(test_get_close_10m),
    cmocka_unit_test(test_get_close_200m),
    cmocka_unit_test(test_get_chunked_one_byte_chunks),
    cmocka_unit_test(test_get_chunked_odd_chunk_size),
    cmocka_unit_test(test_get_length_small_reads),
    cmocka_unit_test(test_get_chunked_small_reads),
    cmocka_unit_test(test_get_sync_length_4097),
    cmocka_unit_test(test_get_sync_chunked_10m),
    cmocka_unit_test(test_get_sync_close_4096),
    cmocka_unit_test(test_get_read_ex_no_wait_returns_what_is_there),
    cmocka_unit_test(test_get_sync_read_ex_no_wait_returns_what_is_there),
    cmocka_unit_test(test_get_read_ex_no_wait_10m),
    cmocka_unit_test(test_get_head_has_headers_and_no_body),
    cmocka_unit_test(test_get_query_info_status_line_and_headers),
    cmocka_unit_test(test_get_request_head_has_host_user_agent_and_extra_headers),
    cmocka_unit_test(test_get_user_agent_option_is_sent),
};
/* clang-format on */

AH_TEST_MAIN(tests)
