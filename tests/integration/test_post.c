/*
 * test_post.c - request bodies through the public API against the scripted
 * server's /upload, which answers "<sha256> <length>" of what it got: a
 * body given to ah_send_request, bodies streamed with ah_send_request_ex /
 * ah_write / ah_end_request of every interesting size, synchronous
 * sessions, the upload length rules (AH_ERR_UPLOAD_LENGTH) and an answer
 * that comes before the body was sent.
 */
#define _GNU_SOURCE

#include "test_main.h"

#include "ahtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (UINT64_C(1) << 20)

/* A body given whole to ah_send_request. */
static void send_body_case(unsigned flags, const char *method, size_t size) {
  t_fixture f;
  t_setup(&f, flags, 0);
  unsigned char *body = malloc(size > 0 ? size : 1);
  assert_non_null(body);
  tu_fill(body, size, 7);
  char hex[65];
  tu_sha256_hex(body, size, hex);
  ah_handle req = t_open_request(f.connect, method, "/upload");
  static const char hdr[] = "Content-Type: application/octet-stream\r\n";
  assert_done(req, ah_send_request(req, hdr, strlen(hdr),
                                   size > 0 ? body : NULL, size));
  t_check_upload_answer(req, hex, size);
  free(body);
  t_close(req);
  t_teardown(&f);
}

static void test_post_small_body_with_send_request(void **state) {
  (void)state;
  send_body_case(AH_FLAG_ASYNC, "POST", 1000);
}

static void test_post_empty_body_with_send_request(void **state) {
  (void)state;
  send_body_case(AH_FLAG_ASYNC, "POST", 0);
}

static void test_put_small_body_with_send_request(void **state) {
  (void)state;
  send_body_case(AH_FLAG_ASYNC, "PUT", 4097);
}

static void test_post_sync_small_body_with_send_request(void **state) {
  (void)state;
  send_body_case(0, "POST", 1000);
}

/*
 * Streams `size` bytes in writes of at most `piece` bytes (a 1 MiB pattern
 * repeated) and checks the server's digest.
 */
static void streamed_case(unsigned flags, uint64_t size, size_t piece) {
  t_fixture f;
  t_setup(&f, flags, 0);
  ah_handle req = t_open_request(f.connect, "POST", "/upload");
  static const char hdr[] = "Content-Type: application/octet-stream";
  assert_done(req, ah_send_request_ex(req, hdr, strlen(hdr), size));
  char hex[65];
  t_stream_body(req, size, piece, 42, hex);
  t_check_upload_answer(req, hex, size);
  t_close(req);
  t_teardown(&f);
}

static void test_post_streamed_0(void **state) {
  (void)state;
  streamed_case(AH_FLAG_ASYNC, 0, 65536);
}

static void test_post_streamed_1(void **state) {
  (void)state;
  streamed_case(AH_FLAG_ASYNC, 1, 65536);
}

static void test_post_streamed_4096(void **state) {
  (void)state;
  streamed_case(AH_FLAG_ASYNC, 4096, 65536);
}

static void test_post_streamed_10m(void **state) {
  (void)state;
  streamed_case(AH_FLAG_ASYNC, 10 * MIB, 65536);
}

static void test_post_streamed_200m(void **state) {
  (void)state;
  streamed_case(AH_FLAG_ASYNC, 200 * MIB, (size_t)MIB);
}

static void test_post_streamed_10m_in_one_write(void **state) {
  (void)state;
  streamed_case(AH_FLAG_ASYNC, 10 * MIB, (size_t)(10 * MIB));
}

static void test_post_streamed_odd_pieces(void **state) {
  (void)state;
  streamed_case(AH_FLAG_ASYNC, MIB + 3, 1000);
}

static void test_post_sync_streamed_10m(void **state) {
  (void)state;
  streamed_case(0, 10 * MIB, 100000);
}

/*
 * The server answers as soon as it has the whole body, which may be before
 * the client calls ah_end_request: the answer must wait for that call and
 * be delivered by it.
 */
static void answer_before_end_case(unsigned flags) {
  t_fixture f;
  t_setup(&f, flags, 1);
  char body[5000];
  tu_fill(body, sizeof(body), 9);
  char hex[65];
  tu_sha256_hex(body, sizeof(body), hex);
  ah_handle req = t_open_request(f.connect, "POST", "/upload");
  assert_done(req, ah_send_request_ex(req, NULL, 0, sizeof(body)));
  assert_done(req, ah_write(req, body, sizeof(body), NULL));
  /* Give the server time to read the body and answer. */
  char *log = ts_server_log(&f.server, 1, 5000);
  free(log);
  tu_sleep_ms(200);
  assert_done(req, ah_end_request(req));
  t_check_upload_answer(req, hex, sizeof(body));
  t_close(req);
  t_teardown(&f);
}

static void test_post_answer_before_end_request_is_delivered(void **state) {
  (void)state;
  answer_before_end_case(AH_FLAG_ASYNC);
}

static void
test_post_sync_answer_before_end_request_is_delivered(void **state) {
  (void)state;
  answer_before_end_case(0);
}

/* The client announces the body's length. */
static void test_post_sends_content_length(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  char body[1000];
  tu_fill(body, sizeof(body), 3);
  ah_handle req = t_open_request(f.connect, "POST", "/echo");
  assert_done(req, ah_send_request(req, NULL, 0, body, sizeof(body)));
  assert_int_equal(t_status_code(req), 200);
  char *head = t_read_text(req);
  assert_true(strncmp(head, "POST /echo HTTP/1.1\r\n", 21) == 0);
  assert_non_null(strcasestr(head, "\r\nContent-Length: 1000\r\n"));
  free(head);
  t_close(req);

  req = t_open_request(f.connect, "POST", "/echo");
  assert_done(req, ah_send_request_ex(req, NULL, 0, 5));
  assert_done(req, ah_write(req, "hello", 5, NULL));
  assert_done(req, ah_end_request(req));
  head = t_read_text(req);
  assert_non_null(strcasestr(head, "\r\nContent-Length: 5\r\n"));
  free(head);
  t_close(req);
  t_teardown(&f);
}

/* One write longer than the announced length is refused. */
static void test_post_write_longer_than_total_is_upload_length(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "POST", "/upload");
  assert_done(req, ah_send_request_ex(req, NULL, 0, 10));
  assert_ah(t_done(req, ah_write(req, "0123456789X", 11, NULL), NULL),
            AH_ERR_UPLOAD_LENGTH);
  t_close(req);
  t_teardown(&f);
}

/* Writes adding up to more than the announced length: the last is refused. */
static void test_post_writes_past_total_are_upload_length(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "POST", "/upload");
  assert_done(req, ah_send_request_ex(req, NULL, 0, 10));
  assert_done(req, ah_write(req, "012345", 6, NULL));
  assert_ah(t_done(req, ah_write(req, "6789X", 5, NULL), NULL),
            AH_ERR_UPLOAD_LENGTH);
  t_close(req);
  t_teardown(&f);
}

/* Ending before the announced length was written is refused. */
static void test_post_end_before_total_is_upload_length(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "POST", "/upload");
  assert_done(req, ah_send_request_ex(req, NULL, 0, 10));
  assert_done(req, ah_write(req, "01234", 5, NULL));
  assert_ah(t_done(req, ah_end_request(req), NULL), AH_ERR_UPLOAD_LENGTH);
  t_close(req);
  t_teardown(&f);
}

static void test_post_sync_end_before_total_is_upload_length(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, 0, 0);
  ah_handle req = t_open_request(f.connect, "POST", "/upload");
  assert_done(req, ah_send_request_ex(req, NULL, 0, 10));
  assert_ah(t_done(req, ah_write(req, "0123456789X", 11, NULL), NULL),
            AH_ERR_UPLOAD_LENGTH);
  assert_done(req, ah_write(req, "01234", 5, NULL));
  assert_ah(t_done(req, ah_end_request(req), NULL), AH_ERR_UPLOAD_LENGTH);
  t_close(req);
  t_teardown(&f);
}

/* ah_write and ah_end_request need ah_send_request_ex first. */
static void test_post_write_without_send_request_ex_is_refused(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "POST", "/upload");
  assert_ah(ah_write(req, "x", 1, NULL), AH_ERR_INCORRECT_HANDLE_STATE);
  assert_ah(ah_end_request(req), AH_ERR_INCORRECT_HANDLE_STATE);
  /* Nor after a whole-body ah_send_request. */
  assert_done(req, ah_send_request(req, NULL, 0, "abc", 3));
  assert_ah(ah_write(req, "x", 1, NULL), AH_ERR_INCORRECT_HANDLE_STATE);
  char hex[65];
  tu_sha256_hex("abc", 3, hex);
  t_check_upload_answer(req, hex, 3);
  t_close(req);
  t_teardown(&f);
}

/*
 * The server answers 413 right after the request head, without reading the
 * body: a write then fails with AH_ERR_CONNECTION_ABORTED and
 * ah_end_request delivers the 413.
 */
static void test_post_early_answer_is_delivered_by_end_request(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  uint64_t size = 200 * MIB;
  unsigned char *pattern = malloc(MIB);
  assert_non_null(pattern);
  tu_fill(pattern, MIB, 5);
  ah_handle req = t_open_request(f.connect, "POST", "/upload?respond_early=1");
  assert_done(req, ah_send_request_ex(req, NULL, 0, size));
  uint64_t sent = 0;
  int err = AH_OK;
  while (sent < size && err == AH_OK) {
    err = t_done(req, ah_write(req, pattern, (size_t)MIB, NULL), NULL);
    if (err == AH_OK)
      sent += MIB;
  }
  free(pattern);
  if (err != AH_ERR_CONNECTION_ABORTED)
    fail_msg("after %llu bytes the upload ended with %s, expected a write to "
             "fail with AH_ERR_CONNECTION_ABORTED",
             (unsigned long long)sent, rec_code_name(err));
  assert_done(req, ah_end_request(req));
  assert_int_equal(t_status_code(req), 413);
  char *text = t_read_text(req);
  assert_string_equal(text, "too large\n");
  free(text);
  t_close(req);
  t_teardown(&f);
}

/* One entry a line: CMake reads the names from these lines. */
/* clang-format off */
static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_post_small_body_with_send_request),
    cmocka_unit_test(test_post_empty_body_with_send_request),
    cmocka_unit_test(test_put_small_body_with_send_request),
    cmocka_unit_test(test_post_sync_small_body_with_send_request),
    cmocka_unit_test(test_post_streamed_0),
    cmocka_unit_test(test_post_streamed_1),
    cmocka_unit_test(test_post_streamed_4096),
    cmocka_unit_test(test_post_streamed_10m),
    cmocka_unit_test(test_post_streamed_200m),
    cmocka_unit_test(test_post_streamed_10m_in_one_write),
    cmocka_unit_test(test_post_streamed_odd_pieces),
    cmocka_unit_test(test_post_sync_streamed_10m),
    cmocka_unit_test(test_post_answer_before_end_request_is_delivered),
    cmocka_unit_test(test_post_sync_answer_before_end_request_is_delivered),
    cmocka_unit_test(test_post_sends_content_length),
    cmocka_unit_test(test_post_write_longer_than_total_is_upload_length),
    cmocka_unit_test(test_post_writes_past_total_are_upload_length),
    cmocka_unit_test(test_post_end_before_total_is_upload_length),
    cmocka_unit_test(test_post_sync_end_before_total_is_upload_length),
    cmocka_unit_test(test_post_write_without_send_request_ex_is_refused),
    cmocka_unit_test(test_post_early_answer_is_delivered_by_end_request),
};
/* clang-format on */

AH_TEST_MAIN(tests)
