/*
 * test_errors.c - failures through the public API: a refused connection, a
 * name that does not resolve, receive time-outs, malformed responses from
 * the scripted server's /raw table, bodies cut short; and HTTP error
 * statuses, which are data, not errors. Every failure carries a detail
 * text from ah_last_error_detail.
 */
#define _GNU_SOURCE

#include "test_main.h"

#include "ahtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ah_last_error_detail of `h` is `code` with a non-empty text. */
static void assert_detail(ah_handle h, int code) {
  char detail[512];
  memset(detail, 'x', sizeof(detail));
  assert_ah(ah_last_error_detail(h, detail, sizeof(detail)), code);
  assert_non_null(memchr(detail, '\0', sizeof(detail)));
  if (detail[0] == '\0')
    fail_msg("ah_last_error_detail gave an empty text for %s",
             rec_code_name(code));
  print_message("detail for %s: %s\n", ah_err_name(code), detail);
  /* Truncation keeps the NUL. */
  char tiny[4] = "zzz";
  assert_ah(ah_last_error_detail(h, tiny, sizeof(tiny)), code);
  assert_true(strlen(tiny) <= 3);
}

/* A GET to `host`:`port` whose send fails with `expected`. */
static void send_fails_case(unsigned flags, const char *host, uint16_t port,
                            int expected) {
  rec_reset();
  ah_handle session = NULL, connect = NULL;
  t_open_session(flags, &session);
  assert_ah(ah_connect(session, host, port, NULL, NULL, 0, NULL, &connect),
            AH_OK);
  ah_handle req = t_open_request(connect, "GET", "/");
  uint64_t start = tu_now_ms();
  assert_ah(t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL),
            expected);
  assert_true(tu_now_ms() - start < 20000);
  assert_detail(req, expected);
  /* No response to query. */
  uint32_t code = 0;
  size_t len = sizeof(code);
  assert_ah(ah_query_info(req, AH_INFO_STATUS_CODE, NULL, 0, &code, &len),
            AH_ERR_INCORRECT_HANDLE_STATE);
  t_close(req);
  assert_ah(ah_close_handle(session), AH_OK);
  assert_true(rec_wait_closing(session, 10000));
  assert_rec(rec_check_all_closed(REC_WHY));
  assert_rec(rec_check_violations(REC_WHY));
}

static void test_errors_refused_port_is_cannot_connect(void **state) {
  (void)state;
  uint16_t port = tu_free_port();
  assert_int_not_equal(port, 0);
  send_fails_case(AH_FLAG_ASYNC, "127.0.0.1", port, AH_ERR_CANNOT_CONNECT);
}

static void test_errors_sync_refused_port_is_cannot_connect(void **state) {
  (void)state;
  uint16_t port = tu_free_port();
  assert_int_not_equal(port, 0);
  send_fails_case(0, "127.0.0.1", port, AH_ERR_CANNOT_CONNECT);
}

/*
 * A name that cannot resolve. Tests talk to loopback only, so instead of a
 * plain "nosuch.invalid" (which the system resolver would send to its DNS
 * server) the name has a 64-character label: the resolver refuses to build
 * a query for it and fails on the spot, and it is still "nosuch.invalid".
 */
static void test_errors_unresolvable_host_is_name_not_resolved(void **state) {
  (void)state;
  static const char host[] =
      "nosuch-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx."
      "invalid";
  send_fails_case(AH_FLAG_ASYNC, host, 80, AH_ERR_NAME_NOT_RESOLVED);
}

/* A request on `f`'s connect handle with a 200 ms receive time-out. */
static ah_handle timed_request(t_fixture *f, const char *target) {
  ah_handle req = t_open_request(f->connect, "GET", target);
  uint32_t ms = 200;
  assert_ah(ah_set_option(req, AH_OPTION_RECEIVE_TIMEOUT, &ms, sizeof(ms)),
            AH_OK);
  return req;
}

/* No response head within the receive time-out. */
static void timeout_head_case(unsigned flags) {
  t_fixture f;
  t_setup(&f, flags, 0);
  ah_handle req = timed_request(&f, "/stall");
  uint64_t start = tu_now_ms();
  assert_ah(t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL),
            AH_ERR_TIMEOUT);
  uint64_t elapsed = tu_now_ms() - start;
  if (elapsed < 150 || elapsed > 5000)
    fail_msg("timed out after %llu ms with a 200 ms limit",
             (unsigned long long)elapsed);
  assert_detail(req, AH_ERR_TIMEOUT);
  t_close(req);
  t_teardown(&f);
}

static void test_errors_receive_timeout_waiting_for_head(void **state) {
  (void)state;
  timeout_head_case(AH_FLAG_ASYNC);
}

static void test_errors_sync_receive_timeout_waiting_for_head(void **state) {
  (void)state;
  timeout_head_case(0);
}

/* The body stops coming: the read times out. */
static void test_errors_receive_timeout_mid_body(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req =
      timed_request(&f, "/stall?after=body&bytes=1000&length=100000");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  static char buf[65536];
  size_t n = 0;
  uint64_t start = tu_now_ms();
  int err = t_done(req, ah_read(req, buf, sizeof(buf), &n), NULL);
  uint64_t elapsed = tu_now_ms() - start;
  assert_ah(err, AH_ERR_TIMEOUT);
  assert_true(elapsed >= 150 && elapsed <= 5000);
  t_close(req);
  t_teardown(&f);
}

/* A body that trickles more slowly than nothing does not time out. */
static void test_errors_receive_timeout_is_per_byte_not_total(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  /* 10 pieces 50 ms apart: 450 ms in all, never 200 ms of silence. */
  ah_handle req = timed_request(&f, "/slow/10240?delay_ms=50&piece=1024");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  char hex[65];
  uint64_t total = 0;
  assert_ah(t_read_all(req, 65536, 0, hex, &total, NULL, NULL), AH_OK);
  assert_int_equal(total, 10240);
  t_close(req);
  t_teardown(&f);
}

/* GET /raw/<name>: the send fails with `err` and a detail. */
static void raw_head_error_case(const char *name, int err) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  char target[64];
  snprintf(target, sizeof(target), "/raw/%s", name);
  ah_handle req = t_open_request(f.connect, "GET", target);
  assert_ah(t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL), err);
  assert_detail(req, err);
  t_close(req);
  /* The bad connection is not reused: the next request works. */
  uint64_t total = 0;
  req = t_get(f.connect, "/bytes/100", &total);
  assert_int_equal(total, 100);
  t_close(req);
  t_teardown(&f);
}

#define RAW_HEAD_TEST(fn, name, err)                                           \
  static void fn(void **state) {                                               \
    (void)state;                                                               \
    raw_head_error_case(name, err);                                            \
  }

RAW_HEAD_TEST(test_errors_raw_cl_cl_conflict_is_protocol, "cl-cl-conflict",
              AH_ERR_PROTOCOL)
RAW_HEAD_TEST(test_errors_raw_cl_and_te_is_protocol, "cl-and-te",
              AH_ERR_PROTOCOL)
RAW_HEAD_TEST(test_errors_raw_cl_negative_is_protocol, "cl-negative",
              AH_ERR_PROTOCOL)
RAW_HEAD_TEST(test_errors_raw_cl_huge_is_protocol, "cl-huge", AH_ERR_PROTOCOL)
RAW_HEAD_TEST(test_errors_raw_cl_not_a_number_is_protocol, "cl-not-a-number",
              AH_ERR_PROTOCOL)
RAW_HEAD_TEST(test_errors_raw_no_status_line_is_protocol, "no-status-line",
              AH_ERR_PROTOCOL)
RAW_HEAD_TEST(test_errors_raw_garbage_is_protocol, "garbage", AH_ERR_PROTOCOL)
RAW_HEAD_TEST(test_errors_raw_bad_version_is_protocol, "bad-version",
              AH_ERR_PROTOCOL)
RAW_HEAD_TEST(test_errors_raw_bad_status_code_is_protocol, "bad-status-code",
              AH_ERR_PROTOCOL)
RAW_HEAD_TEST(test_errors_raw_bare_cr_header_is_protocol, "bare-cr-header",
              AH_ERR_PROTOCOL)
RAW_HEAD_TEST(test_errors_raw_nul_in_header_is_protocol, "nul-in-header",
              AH_ERR_PROTOCOL)
RAW_HEAD_TEST(test_errors_raw_obs_fold_is_protocol, "obs-fold", AH_ERR_PROTOCOL)
RAW_HEAD_TEST(test_errors_raw_space_before_colon_is_protocol,
              "space-before-colon", AH_ERR_PROTOCOL)
RAW_HEAD_TEST(test_errors_raw_header_no_colon_is_protocol, "header-no-colon",
              AH_ERR_PROTOCOL)
RAW_HEAD_TEST(test_errors_raw_huge_header_is_protocol, "huge-header",
              AH_ERR_PROTOCOL)
RAW_HEAD_TEST(test_errors_raw_empty_reply_is_connection_aborted, "empty-reply",
              AH_ERR_CONNECTION_ABORTED)
RAW_HEAD_TEST(test_errors_raw_truncated_head_is_connection_aborted,
              "truncated-head", AH_ERR_CONNECTION_ABORTED)

/*
 * GET /raw/<name>: the head is fine and the body is bad, so a read fails
 * with `err`. An engine that decodes the body bytes that came with the head
 * may already fail the send with it; that is accepted too.
 */
static void raw_body_error_case(const char *name, int err) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  char target[64];
  snprintf(target, sizeof(target), "/raw/%s", name);
  ah_handle req = t_open_request(f.connect, "GET", target);
  int rc = t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL);
  if (rc != err) {
    assert_ah(rc, AH_OK);
    assert_int_equal(t_status_code(req), 200);
    char hex[65];
    assert_ah(t_read_all(req, 4096, 0, hex, NULL, NULL, NULL), err);
  }
  assert_detail(req, err);
  t_close(req);
  t_teardown(&f);
}

#define RAW_BODY_TEST(fn, name, err)                                           \
  static void fn(void **state) {                                               \
    (void)state;                                                               \
    raw_body_error_case(name, err);                                            \
  }

RAW_BODY_TEST(test_errors_raw_truncated_body_is_connection_aborted,
              "truncated-body", AH_ERR_CONNECTION_ABORTED)
RAW_BODY_TEST(test_errors_raw_truncated_chunked_is_connection_aborted,
              "truncated-chunked", AH_ERR_CONNECTION_ABORTED)
RAW_BODY_TEST(test_errors_raw_truncated_chunked_no_last_is_connection_aborted,
              "truncated-chunked-no-last", AH_ERR_CONNECTION_ABORTED)
RAW_BODY_TEST(test_errors_raw_bad_chunk_size_is_protocol, "bad-chunk-size",
              AH_ERR_PROTOCOL)
RAW_BODY_TEST(test_errors_raw_chunk_size_overflow_is_protocol,
              "chunk-size-overflow", AH_ERR_PROTOCOL)
RAW_BODY_TEST(test_errors_raw_chunk_missing_crlf_is_protocol,
              "chunk-missing-crlf", AH_ERR_PROTOCOL)

/*
 * GET /raw/<name>, a valid if unusual response: status `code`, body `body`,
 * and the 1xx codes reported as INTERMEDIATE_RESPONSE, if `interim` != 0.
 */
static void raw_ok_case(const char *name, uint32_t code, const char *body,
                        uint32_t interim) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  char target[64];
  snprintf(target, sizeof(target), "/raw/%s", name);
  ah_handle req = t_open_request(f.connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), code);
  char *text = t_read_text(req);
  assert_string_equal(text, body);
  free(text);
  size_t n;
  rec_event *ev = rec_events(req, &n);
  size_t interims = 0;
  for (size_t i = 0; i < n; i++)
    if (ev[i].status == AH_STATUS_INTERMEDIATE_RESPONSE) {
      interims++;
      assert_int_equal(ev[i].value, interim);
    }
  free(ev);
  assert_int_equal(interims, interim != 0 ? 1 : 0);
  t_close(req);
  t_teardown(&f);
}

static void test_errors_raw_http10_close_body_is_ok(void **state) {
  (void)state;
  raw_ok_case("http10-close", 200, "hello from http/1.0\n", 0);
}

static void test_errors_raw_http10_reports_version(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "GET", "/raw/http10-close");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  char version[16];
  size_t len = sizeof(version);
  assert_ah(ah_query_info(req, AH_INFO_VERSION, NULL, 0, version, &len), AH_OK);
  assert_string_equal(version, "HTTP/1.0");
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

static void test_errors_raw_204_with_te_has_no_body(void **state) {
  (void)state;
  raw_ok_case("status-204-with-te", 204, "", 0);
}

static void test_errors_raw_304_with_cl_has_no_body(void **state) {
  (void)state;
  raw_ok_case("status-304-with-cl", 304, "", 0);
}

static void
test_errors_raw_chunked_trailers_and_extensions_are_ok(void **state) {
  (void)state;
  raw_ok_case("chunked-trailers", 200, "hello world", 0);
}

static void
test_errors_raw_100_continue_is_intermediate_response(void **state) {
  (void)state;
  raw_ok_case("continue-then-200", 200, "hello", 100);
}

static void
test_errors_raw_103_early_hints_is_intermediate_response(void **state) {
  (void)state;
  raw_ok_case("early-hints-then-200", 200, "hello", 103);
}

static void test_errors_raw_lf_only_lines_are_accepted(void **state) {
  (void)state;
  raw_ok_case("lf-only", 200, "hello", 0);
}

static void test_errors_raw_te_without_chunked_reads_until_close(void **state) {
  (void)state;
  raw_ok_case("te-gzip-close", 200, "not really gzip", 0);
}

/* HTTP error statuses are data: the transfer succeeds. */
static void status_case(unsigned flags, uint32_t code, int has_body) {
  t_fixture f;
  t_setup(&f, flags, 0);
  char target[32];
  snprintf(target, sizeof(target), "/status/%u", (unsigned)code);
  ah_handle req = t_open_request(f.connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), code);
  char *body = t_read_text(req);
  if (has_body) {
    char want[32];
    snprintf(want, sizeof(want), "status %u\n", (unsigned)code);
    assert_string_equal(body, want);
  } else {
    assert_string_equal(body, "");
  }
  free(body);
  t_close(req);
  /* The connection stays usable. */
  uint64_t total = 0;
  req = t_get(f.connect, "/bytes/10", &total);
  assert_int_equal(t_reused(req), 1);
  t_close(req);
  t_teardown(&f);
}

static void test_errors_404_is_ok_with_status_404(void **state) {
  (void)state;
  status_case(AH_FLAG_ASYNC, 404, 1);
}

static void test_errors_500_is_ok_with_status_500(void **state) {
  (void)state;
  status_case(AH_FLAG_ASYNC, 500, 1);
}

static void test_errors_sync_404_is_ok_with_status_404(void **state) {
  (void)state;
  status_case(0, 404, 1);
}

static void test_errors_204_has_no_body(void **state) {
  (void)state;
  status_case(AH_FLAG_ASYNC, 204, 0);
}

/* An unknown path gets the server's 404, still a successful transfer. */
static void test_errors_unknown_path_is_404_with_text(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "GET", "/no/such/path");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 404);
  char text[64];
  size_t len = sizeof(text);
  assert_ah(ah_query_info(req, AH_INFO_STATUS_TEXT, NULL, 0, text, &len),
            AH_OK);
  assert_string_equal(text, "Not Found");
  char detail[64];
  assert_ah(ah_last_error_detail(req, detail, sizeof(detail)), AH_OK);
  assert_string_equal(detail, "");
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

/* One entry a line: CMake reads the names from these lines. */
/* clang-format off */
static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_errors_refused_port_is_cannot_connect),
    cmocka_unit_test(test_errors_sync_refused_port_is_cannot_connect),
    cmocka_unit_test(test_errors_unresolvable_host_is_name_not_resolved),
    cmocka_unit_test(test_errors_receive_timeout_waiting_for_head),
    cmocka_unit_test(test_errors_sync_receive_timeout_waiting_for_head),
    cmocka_unit_test(test_errors_receive_timeout_mid_body),
    cmocka_unit_test(test_errors_receive_timeout_is_per_byte_not_total),
    cmocka_unit_test(test_errors_raw_cl_cl_conflict_is_protocol),
    cmocka_unit_test(test_errors_raw_cl_and_te_is_protocol),
    cmocka_unit_test(test_errors_raw_cl_negative_is_protocol),
    cmocka_unit_test(test_errors_raw_cl_huge_is_protocol),
    cmocka_unit_test(test_errors_raw_cl_not_a_number_is_protocol),
    cmocka_unit_test(test_errors_raw_no_status_line_is_protocol),
    cmocka_unit_test(test_errors_raw_garbage_is_protocol),
    cmocka_unit_test(test_errors_raw_bad_version_is_protocol),
    cmocka_unit_test(test_errors_raw_bad_status_code_is_protocol),
    cmocka_unit_test(test_errors_raw_bare_cr_header_is_protocol),
    cmocka_unit_test(test_errors_raw_nul_in_header_is_protocol),
    cmocka_unit_test(test_errors_raw_obs_fold_is_protocol),
    cmocka_unit_test(test_errors_raw_space_before_colon_is_protocol),
    cmocka_unit_test(test_errors_raw_header_no_colon_is_protocol),
    cmocka_unit_test(test_errors_raw_huge_header_is_protocol),
    cmocka_unit_test(test_errors_raw_empty_reply_is_connection_aborted),
    cmocka_unit_test(test_errors_raw_truncated_head_is_connection_aborted),
    cmocka_unit_test(test_errors_raw_truncated_body_is_connection_aborted),
    cmocka_unit_test(test_errors_raw_truncated_chunked_is_connection_aborted),
    cmocka_unit_test(test_errors_raw_truncated_chunked_no_last_is_connection_aborted),
    cmocka_unit_test(test_errors_raw_bad_chunk_size_is_protocol),
    cmocka_unit_test(test_errors_raw_chunk_size_overflow_is_protocol),
    cmocka_unit_test(test_errors_raw_chunk_missing_crlf_is_protocol),
    cmocka_unit_test(test_errors_raw_http10_close_body_is_ok),
    cmocka_unit_test(test_errors_raw_http10_reports_version),
    cmocka_unit_test(test_errors_raw_204_with_te_has_no_body),
    cmocka_unit_test(test_errors_raw_304_with_cl_has_no_body),
    cmocka_unit_test(test_errors_raw_chunked_trailers_and_extensions_are_ok),
    cmocka_unit_test(test_errors_raw_100_continue_is_intermediate_response),
    cmocka_unit_test(test_errors_raw_103_early_hints_is_intermediate_response),
    cmocka_unit_test(test_errors_raw_lf_only_lines_are_accepted),
    cmocka_unit_test(test_errors_raw_te_without_chunked_reads_until_close),
    cmocka_unit_test(test_errors_404_is_ok_with_status_404),
    cmocka_unit_test(test_errors_500_is_ok_with_status_500),
    cmocka_unit_test(test_errors_sync_404_is_ok_with_status_404),
    cmocka_unit_test(test_errors_204_has_no_body),
    cmocka_unit_test(test_errors_unknown_path_is_404_with_text),
};
/* clang-format on */

AH_TEST_MAIN(tests)
