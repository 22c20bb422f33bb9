/*
 * test_expect.c - 1xx responses and "Expect: 100-continue" through the
 * public API (issue 5), against the scripted server's /expect/100 (sends
 * 100, then reads the body), /expect/none (never sends 100; says how long
 * the body took to come), /expect/reject (answers 417 or 401 right after
 * the head, counting body bytes that arrived meanwhile) and /early-hints:
 * the body waits for 100 (REQUEST_SENT of the body only after
 * INTERMEDIATE_RESPONSE 100), AH_OPTION_EXPECT_CONTINUE_SIZE at its exact
 * threshold (the server's header log), the time-out after which the body
 * goes anyway, a final answer instead of 100 (body never sent, connection
 * not reused), and INTERMEDIATE_RESPONSE for each 1xx in order.
 */
#define _GNU_SOURCE

#include "test_main.h"

#include "ahtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB ((size_t)1 << 20)

/* ---- helpers ---- */

/* A header of the response as a string, asserting it is there. */
static const char *header(ah_handle req, const char *name) {
  static char bufs[4][256];
  static unsigned next;
  char *out = bufs[next++ % 4];
  if (t_header(req, name, out, sizeof(bufs[0])) != AH_OK)
    fail_msg("the response has no %s", name);
  return out;
}

/* The server received exactly the body with digest `hex`, `size` bytes. */
static void assert_received(ah_handle req, const char *hex, size_t size) {
  assert_int_equal(t_header_ulong(req, "X-Received-Length"), size);
  assert_string_equal(header(req, "X-Received-Sha256"), hex);
}

/* The INTERMEDIATE_RESPONSE codes of `req`, "100,103" style. */
static void interim_codes(ah_handle req, char *out, size_t cap) {
  size_t n;
  rec_event *ev = rec_events(req, &n);
  out[0] = '\0';
  for (size_t i = 0; i < n; i++)
    if (ev[i].status == AH_STATUS_INTERMEDIATE_RESPONSE) {
      size_t used = strlen(out);
      snprintf(out + used, cap - used, "%s%u", used ? "," : "",
               (unsigned)ev[i].value);
    }
  free(ev);
}

static void assert_interim_codes(ah_handle req, const char *want) {
  char got[256];
  interim_codes(req, got, sizeof(got));
  if (strcmp(got, want) != 0) {
    rec_dump(req);
    fail_msg("INTERMEDIATE_RESPONSE codes \"%s\", expected \"%s\"", got, want);
  }
}

/*
 * REQUEST_SENT bytes of `req` before and after its first
 * INTERMEDIATE_RESPONSE (all of them "before" if there is none).
 */
static void sent_around_100(ah_handle req, uint64_t *before, uint64_t *after) {
  size_t n;
  rec_event *ev = rec_events(req, &n);
  int seen = 0;
  *before = *after = 0;
  for (size_t i = 0; i < n; i++) {
    if (ev[i].status == AH_STATUS_INTERMEDIATE_RESPONSE)
      seen = 1;
    if (ev[i].status == AH_STATUS_REQUEST_SENT)
      *(seen ? after : before) += ev[i].value;
  }
  free(ev);
}

/* The `nth` request carried Expect: 100-continue (the header log). */
static int logged_expect(const ts_server *s, size_t nth) {
  char value[64];
  return t_logged_field(s, NULL, nth, "expect", value, sizeof(value)) > 0 &&
         strcmp(value, "100-continue") == 0;
}

/* POST `size` bytes (seed 3) to `target` with ah_send_request. */
static ah_handle post_whole(ah_handle connect, const char *target, size_t size,
                            char hex[65]) {
  unsigned char *body = tu_fill_new(size, 3, hex);
  ah_handle req = t_open_request(connect, "POST", target);
  assert_done(req, ah_send_request(req, NULL, 0, body, size));
  free(body);
  return req;
}

/* POST `size` bytes (t_stream_body, seed 4) streamed in 64 KiB writes. */
static ah_handle post_streamed(ah_handle connect, const char *target,
                               size_t size, char hex[65]) {
  ah_handle req = t_open_request(connect, "POST", target);
  assert_done(req, ah_send_request_ex(req, NULL, 0, size));
  t_stream_body(req, size, 65536, 4, hex);
  return req;
}

/* ---- 100 Continue ---- */

/* Above the default threshold (1 MiB): Expect, 100, then the body. */
static void test_expect_100_then_body_send_request(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  t_set_u32(f.connect, AH_OPTION_EXPECT_CONTINUE_TIMEOUT, 30000);
  char hex[65];
  uint64_t start = tu_now_ms();
  ah_handle req = post_whole(f.connect, "/expect/100", 2 * MIB, hex);
  assert_int_equal(t_status_code(req), 200);
  assert_received(req, hex, 2 * MIB);
  assert_string_equal(header(req, "X-Expect"), "100-continue");
  assert_string_equal(header(req, "X-Continue-Sent"), "1");
  assert_interim_codes(req, "100");
  /* The body went after the 100 only. */
  uint64_t before, after;
  sent_around_100(req, &before, &after);
  if (before >= 65536 || after < 2 * MIB)
    fail_msg("REQUEST_SENT: %llu bytes before the 100, %llu after",
             (unsigned long long)before, (unsigned long long)after);
  /* ... and did not wait for the 30 s time-out. */
  assert_true(tu_now_ms() - start < 10000);
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

static void test_expect_100_then_body_streamed(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  t_set_u32(f.connect, AH_OPTION_EXPECT_CONTINUE_TIMEOUT, 30000);
  char hex[65];
  ah_handle req = post_streamed(f.connect, "/expect/100", 3 * MIB + 5, hex);
  assert_int_equal(t_status_code(req), 200);
  assert_received(req, hex, 3 * MIB + 5);
  assert_string_equal(header(req, "X-Expect"), "100-continue");
  assert_interim_codes(req, "100");
  uint64_t before, after;
  sent_around_100(req, &before, &after);
  if (before >= 65536 || after < 3 * MIB + 5)
    fail_msg("REQUEST_SENT: %llu bytes before the 100, %llu after",
             (unsigned long long)before, (unsigned long long)after);
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

static void test_expect_100_sync_session(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, 0, 1);
  t_set_u64(f.connect, AH_OPTION_EXPECT_CONTINUE_SIZE, 1000);
  char hex[65];
  ah_handle req = post_whole(f.connect, "/expect/100", 5000, hex);
  assert_int_equal(t_status_code(req), 200);
  assert_received(req, hex, 5000);
  assert_interim_codes(req, "100");
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

/* 100, 103 Early Hints, then the 200: both reported, in order. */
static void test_expect_100_then_103_then_200(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  t_set_u64(f.connect, AH_OPTION_EXPECT_CONTINUE_SIZE, 1);
  char hex[65];
  ah_handle req = post_whole(f.connect, "/expect/100?hints=1", 100000, hex);
  assert_int_equal(t_status_code(req), 200);
  assert_received(req, hex, 100000);
  assert_interim_codes(req, "100,103");
  /* The interim heads are not the response's headers. */
  char link[128];
  assert_ah(t_header(req, "Link", link, sizeof(link)), AH_ERR_HEADER_NOT_FOUND);
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

/* ---- the threshold ---- */

/* A body of `size` with threshold `threshold` (UINT64_MAX: the default). */
static void threshold_case(uint64_t threshold, size_t size, int expect) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  if (threshold != UINT64_MAX)
    t_set_u64(f.connect, AH_OPTION_EXPECT_CONTINUE_SIZE, threshold);
  char hex[65];
  ah_handle req = post_whole(f.connect, "/expect/100", size, hex);
  assert_int_equal(t_status_code(req), 200);
  assert_received(req, hex, size);
  assert_string_equal(header(req, "X-Expect"), expect ? "100-continue" : "-");
  assert_interim_codes(req, expect ? "100" : "");
  assert_int_equal(logged_expect(&f.server, 0), expect);
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

static void test_expect_at_threshold_sends_expect(void **state) {
  (void)state;
  threshold_case(1000, 1000, 1);
}

static void test_expect_below_threshold_no_expect(void **state) {
  (void)state;
  threshold_case(1000, 999, 0);
}

static void test_expect_default_threshold_1mib_sends(void **state) {
  (void)state;
  threshold_case(UINT64_MAX, MIB, 1);
}

static void test_expect_default_threshold_below_1mib_no_expect(void **state) {
  (void)state;
  threshold_case(UINT64_MAX, MIB - 1, 0);
}

static void test_expect_size_0_never(void **state) {
  (void)state;
  threshold_case(0, 2 * MIB, 0);
}

/* The threshold also holds for streamed uploads (their total). */
static void test_expect_streamed_below_threshold_no_expect(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  t_set_u64(f.connect, AH_OPTION_EXPECT_CONTINUE_SIZE, 100001);
  char hex[65];
  ah_handle req = post_streamed(f.connect, "/expect/100", 100000, hex);
  assert_received(req, hex, 100000);
  assert_int_equal(logged_expect(&f.server, 0), 0);
  assert_interim_codes(req, "");
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

/* Set on the request itself. */
static void test_expect_size_on_request(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  char hex[65];
  unsigned char *body = tu_fill_new(10, 5, hex);
  ah_handle req = t_open_request(f.connect, "PUT", "/expect/100");
  t_set_u64(req, AH_OPTION_EXPECT_CONTINUE_SIZE, 10);
  assert_done(req, ah_send_request(req, NULL, 0, body, 10));
  free(body);
  assert_received(req, hex, 10);
  assert_int_equal(logged_expect(&f.server, 0), 1);
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

static void test_expect_option_defaults(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  uint64_t size = t_get_u64(f.session, AH_OPTION_EXPECT_CONTINUE_SIZE);
  assert_int_equal(size, MIB);
  assert_int_equal(t_get_u32(f.session, AH_OPTION_EXPECT_CONTINUE_TIMEOUT),
                   1000);
  uint32_t narrow = 5;
  assert_ah(ah_set_option(f.session, AH_OPTION_EXPECT_CONTINUE_SIZE, &narrow,
                          sizeof(narrow)),
            AH_ERR_INVALID_PARAMETER);
  assert_ah(ah_set_option(f.session, AH_OPTION_EXPECT_CONTINUE_TIMEOUT, &size,
                          sizeof(size)),
            AH_ERR_INVALID_PARAMETER);
  t_teardown(&f);
}

/* ---- no 100 ---- */

/*
 * A server that never sends 100: after the time-out the body goes anyway
 * and the upload completes. The time-out is set above the default (1000
 * ms), so a wait at least that long shows the option counted; only lower
 * bounds are asserted, as a loaded machine may always be slower.
 */
#define LONG_EXPECT_MS 1500

static void test_expect_no_100_body_sent_after_timeout(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  t_set_u32(f.connect, AH_OPTION_EXPECT_CONTINUE_TIMEOUT, LONG_EXPECT_MS);
  char hex[65];
  uint64_t start = tu_now_ms();
  ah_handle req = post_whole(f.connect, "/expect/none", 2 * MIB, hex);
  uint64_t elapsed = tu_now_ms() - start;
  assert_int_equal(t_status_code(req), 200);
  assert_received(req, hex, 2 * MIB);
  assert_string_equal(header(req, "X-Expect"), "100-continue");
  unsigned long waited = t_header_ulong(req, "X-Waited-Ms");
  if (waited < LONG_EXPECT_MS - 100 || elapsed < LONG_EXPECT_MS - 50)
    fail_msg("the body came %lu ms after the head (call took %llu ms); the "
             "time-out is %d ms",
             waited, (unsigned long long)elapsed, LONG_EXPECT_MS);
  assert_interim_codes(req, "");
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

static void test_expect_no_100_streamed_completes(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  t_set_u32(f.connect, AH_OPTION_EXPECT_CONTINUE_TIMEOUT, LONG_EXPECT_MS);
  char hex[65];
  ah_handle req = post_streamed(f.connect, "/expect/none", 2 * MIB, hex);
  assert_int_equal(t_status_code(req), 200);
  assert_received(req, hex, 2 * MIB);
  unsigned long waited = t_header_ulong(req, "X-Waited-Ms");
  if (waited < LONG_EXPECT_MS - 100)
    fail_msg("the body came %lu ms after the head; the time-out is %d ms",
             waited, LONG_EXPECT_MS);
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

/* Without Expect the body follows the head at once. */
static void test_expect_none_below_threshold_no_wait(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  t_set_u32(f.connect, AH_OPTION_EXPECT_CONTINUE_TIMEOUT, 3000);
  char hex[65];
  ah_handle req = post_whole(f.connect, "/expect/none", 100000, hex);
  assert_received(req, hex, 100000);
  assert_string_equal(header(req, "X-Expect"), "-");
  assert_true(t_header_ulong(req, "X-Waited-Ms") < 2000);
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

/* A 100 that comes after the time-out is still reported, then the 200. */
static void test_expect_late_100_after_timeout(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  t_set_u32(f.connect, AH_OPTION_EXPECT_CONTINUE_TIMEOUT, 200);
  t_set_u64(f.connect, AH_OPTION_EXPECT_CONTINUE_SIZE, 1);
  char hex[65];
  ah_handle req = post_whole(f.connect, "/expect/100?delay_ms=800", 50000, hex);
  assert_int_equal(t_status_code(req), 200);
  assert_received(req, hex, 50000);
  assert_interim_codes(req, "100");
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

/* ---- a final answer instead of 100 ---- */

static void reject_case(int code) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  t_set_u32(f.connect, AH_OPTION_EXPECT_CONTINUE_TIMEOUT, 20000);
  char hex[65], target[64];
  snprintf(target, sizeof(target), "/expect/reject?code=%d&wait_ms=300", code);
  uint64_t start = tu_now_ms();
  ah_handle req = post_whole(f.connect, target, 2 * MIB, hex);
  assert_true(tu_now_ms() - start < 10000); /* not the 20 s time-out */
  assert_int_equal(t_status_code(req), (uint32_t)code);
  assert_string_equal(header(req, "X-Expect"), "100-continue");
  /* Nothing of the body reached the server while it watched. */
  assert_int_equal(t_header_ulong(req, "X-Early-Body-Bytes"), 0);
  if (code == 401)
    assert_string_equal(header(req, "WWW-Authenticate"),
                        "Basic realm=\"ahttp-test\"");
  char *body = t_read_text(req);
  assert_string_equal(body, "rejected\n");
  free(body);
  assert_interim_codes(req, "");
  uint64_t sent, after;
  sent_around_100(req, &sent, &after);
  if (sent >= 65536)
    fail_msg("REQUEST_SENT reported %llu bytes: the body went out",
             (unsigned long long)sent);
  t_close(req);
  t_teardown(&f);
}

static void test_expect_reject_417_body_not_sent(void **state) {
  (void)state;
  reject_case(417);
}

static void test_expect_reject_401_body_not_sent(void **state) {
  (void)state;
  reject_case(401);
}

/*
 * Streamed: ah_send_request_ex completes, ah_write fails with
 * AH_ERR_CONNECTION_ABORTED, ah_end_request delivers the answer.
 */
static void test_expect_reject_streamed(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  t_set_u32(f.connect, AH_OPTION_EXPECT_CONTINUE_TIMEOUT, 20000);
  char hex[65];
  unsigned char *body = tu_fill_new(65536, 6, hex);
  ah_handle req = t_open_request(f.connect, "POST", "/expect/reject?code=417");
  assert_done(req, ah_send_request_ex(req, NULL, 0, 2 * MIB));
  assert_ah(t_done(req, ah_write(req, body, 65536, NULL), NULL),
            AH_ERR_CONNECTION_ABORTED);
  free(body);
  assert_done(req, ah_end_request(req));
  assert_int_equal(t_status_code(req), 417);
  assert_int_equal(t_header_ulong(req, "X-Early-Body-Bytes"), 0);
  char *text = t_read_text(req);
  assert_string_equal(text, "rejected\n");
  free(text);
  t_close(req);
  t_teardown(&f);
}

/* The connection of a rejected upload is not reused, even if the server
 * would keep it. */
static void test_expect_reject_connection_not_reused(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  t_set_u32(f.connect, AH_OPTION_EXPECT_CONTINUE_TIMEOUT, 20000);
  char hex[65];
  ah_handle req =
      post_whole(f.connect, "/expect/reject?code=417&keep=1", 2 * MIB, hex);
  assert_int_equal(t_status_code(req), 417);
  free(t_read_text(req));
  t_close(req);
  req = t_open_request(f.connect, "GET", "/bytes/10");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_reused(req), 0);
  assert_int_equal(t_header_ulong(req, "X-Conn-Id"), 2);
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

/* ---- 1xx in general ---- */

static void test_expect_early_hints_then_200(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = t_open_request(f.connect, "GET", "/early-hints");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  assert_interim_codes(req, "103");
  long sending = rec_index(req, AH_STATUS_SENDING_REQUEST, 0);
  long interim = rec_index(req, AH_STATUS_INTERMEDIATE_RESPONSE, 0);
  long complete = rec_index(req, AH_STATUS_REQUEST_COMPLETE, 0);
  if (!(sending >= 0 && interim > sending && complete > interim)) {
    rec_dump(req);
    fail_msg("SENDING_REQUEST %ld, INTERMEDIATE_RESPONSE %ld, "
             "REQUEST_COMPLETE %ld out of order",
             sending, interim, complete);
  }
  assert_rec(rec_check_trace(req, "^CrnckSs+V[VvI]*D", REC_WHY));
  char *body = t_read_text(req);
  assert_string_equal(body, "hello");
  free(body);
  t_close(req);
  t_teardown(&f);
}

static void test_expect_several_1xx_in_order(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req =
      t_open_request(f.connect, "GET", "/early-hints?codes=100,102,103,103");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  assert_interim_codes(req, "100,102,103,103");
  char *body = t_read_text(req);
  assert_string_equal(body, "hello");
  free(body);
  t_close(req);
  t_teardown(&f);
}

/* The connection stays usable after interim responses. */
static void test_expect_connection_reused_after_1xx(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = t_open_request(f.connect, "GET", "/early-hints?codes=103");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  free(t_read_text(req));
  t_close(req);
  req = t_open_request(f.connect, "GET", "/bytes/100");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_reused(req), 1);
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

/* A 307 of a big upload: each hop asks for 100 and the body goes twice. */
static void test_expect_with_307_redirect(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  t_set_u32(f.connect, AH_OPTION_EXPECT_CONTINUE_TIMEOUT, 30000);
  char hex[65];
  ah_handle req =
      post_whole(f.connect, "/redirect/307?to=%2Fexpect%2F100", 2 * MIB, hex);
  assert_int_equal(t_status_code(req), 200);
  assert_received(req, hex, 2 * MIB);
  assert_interim_codes(req, "100,100");
  assert_int_equal(logged_expect(&f.server, 0), 1);
  assert_int_equal(logged_expect(&f.server, 1), 1);
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

/* One entry a line: CMake reads the names from these lines. */
/* clang-format off */
static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_expect_100_then_body_send_request),
    cmocka_unit_test(test_expect_100_then_body_streamed),
    cmocka_unit_test(test_expect_100_sync_session),
    cmocka_unit_test(test_expect_100_then_103_then_200),
    cmocka_unit_test(test_expect_at_threshold_sends_expect),
    cmocka_unit_test(test_expect_below_threshold_no_expect),
    cmocka_unit_test(test_expect_default_threshold_1mib_sends),
    cmocka_unit_test(test_expect_default_threshold_below_1mib_no_expect),
    cmocka_unit_test(test_expect_size_0_never),
    cmocka_unit_test(test_expect_streamed_below_threshold_no_expect),
    cmocka_unit_test(test_expect_size_on_request),
    cmocka_unit_test(test_expect_option_defaults),
    cmocka_unit_test(test_expect_no_100_body_sent_after_timeout),
    cmocka_unit_test(test_expect_no_100_streamed_completes),
    cmocka_unit_test(test_expect_none_below_threshold_no_wait),
    cmocka_unit_test(test_expect_late_100_after_timeout),
    cmocka_unit_test(test_expect_reject_417_body_not_sent),
    cmocka_unit_test(test_expect_reject_401_body_not_sent),
    cmocka_unit_test(test_expect_reject_streamed),
    cmocka_unit_test(test_expect_reject_connection_not_reused),
    cmocka_unit_test(test_expect_early_hints_then_200),
    cmocka_unit_test(test_expect_several_1xx_in_order),
    cmocka_unit_test(test_expect_connection_reused_after_1xx),
    cmocka_unit_test(test_expect_with_307_redirect),
};
/* clang-format on */

AH_TEST_MAIN(tests)
