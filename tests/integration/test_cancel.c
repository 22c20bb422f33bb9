/*
 * test_cancel.c - ah_close_handle at every stage of a request: during name
 * resolution, connecting, sending, waiting for the head, mid-body, mid-
 * upload; from the main thread, from inside a callback, from another
 * thread; closing parents with children open. Each time a pending
 * operation completes with AH_ERR_OPERATION_CANCELLED, HANDLE_CLOSING comes
 * exactly once and last, and nothing follows it (checked after 100 ms).
 * Leaks are LeakSanitizer's to find in the ASan build.
 */
#define _GNU_SOURCE

#include "test_main.h"

#include "ahtest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Closes `to_close` from inside the callback `status` for `target`. */
typedef struct closer {
  ah_handle target;
  int at_status;
  ah_handle to_close;
  int fired;
  int close_rc;
} closer;

static void close_hook(ah_handle handle, int status, const void *info,
                       size_t info_len, void *context, void *arg) {
  (void)info;
  (void)info_len;
  (void)context;
  closer *c = arg;
  if (c->fired || handle != c->target || status != c->at_status)
    return;
  c->fired = 1;
  c->close_rc = ah_close_handle(c->to_close);
}

/*
 * After `req` was closed: HANDLE_CLOSING comes, exactly once and last
 * (still so 100 ms later); if an operation was pending, exactly one more
 * REQUEST_COMPLETE than the `completes_before` already seen came, with
 * AH_ERR_OPERATION_CANCELLED.
 */
static void assert_closed_after_cancel(ah_handle req, size_t completes_before,
                                       int was_pending) {
  if (!rec_wait_closing(req, 10000)) {
    rec_dump(req);
    fail_msg("no HANDLE_CLOSING after closing the request");
  }
  tu_sleep_ms(100);
  assert_rec(rec_check_closed(req, REC_WHY));
  size_t n = rec_count(req, AH_STATUS_REQUEST_COMPLETE);
  if (n != completes_before + (was_pending ? 1u : 0u)) {
    rec_dump(req);
    fail_msg("%zu REQUEST_COMPLETE for the request, expected %zu", n,
             completes_before + (was_pending ? 1u : 0u));
  }
  if (was_pending) {
    ah_async_result r;
    assert_true(rec_wait_complete(req, 0, &r));
    assert_ah(r.error, AH_ERR_OPERATION_CANCELLED);
  }
}

/* The server's log has no line containing `what`. */
static void assert_not_logged(const ts_server *server, const char *what) {
  char *log = ts_server_log(server, 0, 0);
  assert_non_null(log);
  size_t hits = tu_count_lines_with(log, what);
  if (hits != 0) {
    fprintf(stderr, "server log:\n%s", log);
    free(log);
    fail_msg("%s reached the server after the request was closed", what);
  }
  free(log);
}

/* Closes the request from inside the callback `status` of its send. */
static void close_in_callback_case(const char *host, int status,
                                   const char *target, int must_not_arrive) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle connect = NULL;
  assert_ah(
      ah_connect(f.session, host, f.server.port, NULL, NULL, 0, NULL, &connect),
      AH_OK);
  ah_handle req = t_open_request(connect, "GET", target);
  closer c = {req, status, req, 0, 0};
  rec_set_hook(close_hook, &c);
  assert_ah(ah_send_request(req, NULL, 0, NULL, 0), AH_IO_PENDING);
  assert_closed_after_cancel(req, 0, 1);
  rec_set_hook(NULL, NULL);
  assert_true(c.fired);
  assert_ah(c.close_rc, AH_OK);
  if (must_not_arrive)
    assert_not_logged(&f.server, target);
  t_close(connect);
  t_teardown(&f);
}

static void test_cancel_in_resolving_name_callback(void **state) {
  (void)state;
  close_in_callback_case("localhost", AH_STATUS_RESOLVING_NAME,
                         "/stall?case=resolving", 1);
}

static void test_cancel_in_connecting_callback(void **state) {
  (void)state;
  close_in_callback_case("127.0.0.1", AH_STATUS_CONNECTING_TO_SERVER,
                         "/stall?case=connecting", 1);
}

static void test_cancel_in_sending_request_callback(void **state) {
  (void)state;
  close_in_callback_case("127.0.0.1", AH_STATUS_SENDING_REQUEST,
                         "/stall?case=sending", 0);
}

/* Closed from the main thread right after the send went pending. */
static void test_cancel_right_after_send_returns_pending(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle connect = NULL;
  assert_ah(ah_connect(f.session, "localhost", f.server.port, NULL, NULL, 0,
                       NULL, &connect),
            AH_OK);
  ah_handle req = t_open_request(connect, "GET", "/stall");
  assert_ah(ah_send_request(req, NULL, 0, NULL, 0), AH_IO_PENDING);
  assert_ah(ah_close_handle(req), AH_OK);
  assert_closed_after_cancel(req, 0, 1);
  t_teardown(&f);
}

/* The request is at the server; no head comes back. */
static void test_cancel_while_waiting_for_headers(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = t_open_request(f.connect, "GET", "/stall");
  assert_ah(ah_send_request(req, NULL, 0, NULL, 0), AH_IO_PENDING);
  assert_true(rec_wait_status(req, AH_STATUS_REQUEST_SENT, 1, 10000));
  char *log = ts_server_log(&f.server, 1, 5000);
  assert_non_null(log);
  assert_int_equal(tu_count_lines_with(log, "GET /stall"), 1);
  free(log);
  assert_int_equal(rec_count(req, AH_STATUS_REQUEST_COMPLETE), 0);
  assert_ah(ah_close_handle(req), AH_OK);
  assert_closed_after_cancel(req, 0, 1);
  t_teardown(&f);
}

/* Sends a request for a body that stops after 1000 bytes, then a read. */
static ah_handle start_stalled_read(ah_handle connect, char *buf, size_t len,
                                    size_t *n) {
  ah_handle req = t_open_request(connect, "GET",
                                 "/stall?after=body&bytes=1000&length=1000000");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  assert_ah(ah_read(req, buf, len, n), AH_IO_PENDING);
  tu_sleep_ms(50);
  /* Only the send's completion so far: the read is still waiting. */
  assert_int_equal(rec_count(req, AH_STATUS_REQUEST_COMPLETE), 1);
  return req;
}

/* A read is pending mid-body. */
static void test_cancel_mid_body_read(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  static char buf[65536];
  size_t n = 0;
  ah_handle req = start_stalled_read(f.connect, buf, sizeof(buf), &n);
  assert_ah(ah_close_handle(req), AH_OK);
  assert_closed_after_cancel(req, 1, 1);
  t_teardown(&f);
}

/* A large write is pending mid-upload: the server reads none of the body
 * (a server that read it could take all 64 MiB before the close came). */
static void test_cancel_mid_upload_write(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  size_t len = (size_t)64 << 20;
  unsigned char *data = malloc(len);
  assert_non_null(data);
  memset(data, 'u', len);
  ah_handle req = t_open_request(f.connect, "POST", "/stall?read=0");
  assert_done(req, ah_send_request_ex(req, NULL, 0, (uint64_t)1 << 30));
  size_t before = rec_count(req, AH_STATUS_REQUEST_COMPLETE);
  size_t written = 0;
  assert_ah(ah_write(req, data, len, &written), AH_IO_PENDING);
  assert_ah(ah_close_handle(req), AH_OK);
  assert_closed_after_cancel(req, before, 1);
  /* The buffer is the caller's again only now. */
  free(data);
  t_teardown(&f);
}

typedef struct thread_close {
  ah_handle handle;
  unsigned delay_ms;
  int rc;
} thread_close;

static void *close_thread(void *arg) {
  thread_close *tc = arg;
  tu_sleep_ms(tc->delay_ms);
  tc->rc = ah_close_handle(tc->handle);
  return NULL;
}

/* A pending read is cancelled by a close from a thread of the user's. */
static void test_cancel_from_another_thread(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  static char buf[65536];
  size_t n = 0;
  ah_handle req = start_stalled_read(f.connect, buf, sizeof(buf), &n);
  thread_close tc = {req, 0, 99};
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, close_thread, &tc), 0);
  assert_int_equal(pthread_join(thread, NULL), 0);
  assert_ah(tc.rc, AH_OK);
  assert_closed_after_cancel(req, 1, 1);
  t_teardown(&f);
}

/*
 * Synchronous session: the main thread is blocked in ah_read; another
 * thread closes the request and the read returns cancelled.
 */
static void test_cancel_sync_blocked_read_from_another_thread(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, 0, 0);
  ah_handle req = t_open_request(f.connect, "GET",
                                 "/stall?after=body&bytes=1000&length=1000000");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  thread_close tc = {req, 200, 99};
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, close_thread, &tc), 0);
  static char buf[65536];
  size_t n = 0;
  uint64_t start = tu_now_ms();
  int rc = ah_read(req, buf, sizeof(buf), &n);
  uint64_t elapsed = tu_now_ms() - start;
  assert_int_equal(pthread_join(thread, NULL), 0);
  assert_ah(rc, AH_ERR_OPERATION_CANCELLED);
  assert_ah(tc.rc, AH_OK);
  assert_true(elapsed >= 150);
  assert_true(rec_wait_closing(req, 10000));
  tu_sleep_ms(100);
  assert_rec(rec_check_closed(req, REC_WHY));
  assert_int_equal(rec_count(req, AH_STATUS_REQUEST_COMPLETE), 0);
  t_teardown(&f);
}

/* The seed's pattern: close the request from its REQUEST_COMPLETE. */
static void test_cancel_in_request_complete_callback(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "GET", "/bytes/100");
  closer c = {req, AH_STATUS_REQUEST_COMPLETE, req, 0, 0};
  rec_set_hook(close_hook, &c);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  /* Nothing was pending any more: no cancelled completion. */
  assert_closed_after_cancel(req, 1, 0);
  rec_set_hook(NULL, NULL);
  assert_true(c.fired);
  assert_ah(c.close_rc, AH_OK);
  t_teardown(&f);
}

/* Closing the connect handle from inside the request's HANDLE_CLOSING. */
static void test_cancel_close_parent_in_handle_closing_callback(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "GET", "/bytes/100");
  closer c = {req, AH_STATUS_HANDLE_CLOSING, f.connect, 0, 0};
  rec_set_hook(close_hook, &c);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_ah(ah_close_handle(req), AH_OK);
  assert_true(rec_wait_closing(f.connect, 10000));
  tu_sleep_ms(100);
  rec_set_hook(NULL, NULL);
  assert_ah(c.close_rc, AH_OK);
  assert_rec(rec_check_closed(req, REC_WHY));
  assert_rec(rec_check_closed(f.connect, REC_WHY));
  t_teardown(&f);
}

/* A second close is refused; HANDLE_CLOSING still comes once. */
static void test_cancel_close_twice_is_invalid_handle(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "GET", "/stall");
  assert_ah(ah_send_request(req, NULL, 0, NULL, 0), AH_IO_PENDING);
  assert_ah(ah_close_handle(req), AH_OK);
  assert_ah(ah_close_handle(req), AH_ERR_INVALID_HANDLE);
  assert_closed_after_cancel(req, 0, 1);
  assert_ah(ah_close_handle(req), AH_ERR_INVALID_HANDLE);
  t_teardown(&f);
}

/* After a cancelled request, the next one on the connect handle works. */
static void test_cancel_then_next_request_works(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "GET", "/stall");
  assert_ah(ah_send_request(req, NULL, 0, NULL, 0), AH_IO_PENDING);
  assert_true(rec_wait_status(req, AH_STATUS_REQUEST_SENT, 1, 10000));
  assert_ah(ah_close_handle(req), AH_OK);
  assert_closed_after_cancel(req, 0, 1);
  uint64_t total = 0;
  req = t_get(f.connect, "/bytes/5000", &total);
  assert_int_equal(total, 5000);
  /* Not over the abandoned connection. */
  assert_int_equal(t_header_ulong(req, "X-Conn-Id"), 2);
  t_close(req);
  t_teardown(&f);
}

/* Closing a connect handle closes its requests first. */
static void test_cancel_connect_close_closes_its_requests(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle pending = t_open_request(f.connect, "GET", "/stall");
  ah_handle idle = t_open_request(f.connect, "GET", "/bytes/1");
  assert_ah(ah_send_request(pending, NULL, 0, NULL, 0), AH_IO_PENDING);
  assert_true(rec_wait_status(pending, AH_STATUS_REQUEST_SENT, 1, 10000));
  assert_ah(ah_close_handle(f.connect), AH_OK);
  assert_true(rec_wait_closing(f.connect, 10000));
  assert_closed_after_cancel(pending, 0, 1);
  assert_closed_after_cancel(idle, 0, 0);
  assert_rec(rec_check_closed(f.connect, REC_WHY));
  long c = rec_index(f.connect, AH_STATUS_HANDLE_CLOSING, 0);
  assert_true(rec_index(pending, AH_STATUS_HANDLE_CLOSING, 0) < c);
  assert_true(rec_index(idle, AH_STATUS_HANDLE_CLOSING, 0) < c);
  /* The children are invalid now too. */
  assert_ah(ah_close_handle(idle), AH_ERR_INVALID_HANDLE);
  t_teardown(&f);
}

/*
 * Closing the session with requests in every state closes all of them:
 * pending ones complete cancelled, every handle gets one HANDLE_CLOSING,
 * children before parents, the session last, all before the call returns.
 */
static void test_cancel_session_close_closes_everything(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle b = NULL;
  assert_ah(ah_connect(f.session, "127.0.0.1", f.server.port, NULL, NULL, 0,
                       NULL, &b),
            AH_OK);
  ah_handle a1 = t_open_request(f.connect, "GET", "/stall");
  assert_ah(ah_send_request(a1, NULL, 0, NULL, 0), AH_IO_PENDING);
  static char buf[65536];
  size_t n = 0;
  ah_handle a2 = start_stalled_read(f.connect, buf, sizeof(buf), &n);
  ah_handle b1 = t_open_request(b, "GET", "/bytes/1");
  uint64_t total = 0;
  ah_handle b2 = t_get(b, "/bytes/100", &total);
  assert_true(rec_wait_status(a1, AH_STATUS_REQUEST_SENT, 1, 10000));

  ah_handle session = f.session;
  f.session = NULL;
  assert_ah(ah_close_handle(session), AH_OK);
  ah_handle all[] = {a1, a2, b1, b2, f.connect, b, session};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    assert_int_equal(rec_count(all[i], AH_STATUS_HANDLE_CLOSING), 1);
  assert_closed_after_cancel(a1, 0, 1);
  assert_closed_after_cancel(a2, 1, 1);
  assert_closed_after_cancel(b1, 0, 0);
  long ca = rec_index(f.connect, AH_STATUS_HANDLE_CLOSING, 0);
  long cb = rec_index(b, AH_STATUS_HANDLE_CLOSING, 0);
  long cs = rec_index(session, AH_STATUS_HANDLE_CLOSING, 0);
  assert_true(rec_index(a1, AH_STATUS_HANDLE_CLOSING, 0) < ca);
  assert_true(rec_index(a2, AH_STATUS_HANDLE_CLOSING, 0) < ca);
  assert_true(rec_index(b1, AH_STATUS_HANDLE_CLOSING, 0) < cb);
  assert_true(rec_index(b2, AH_STATUS_HANDLE_CLOSING, 0) < cb);
  assert_true(ca < cs && cb < cs);
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    assert_ah(ah_close_handle(all[i]), AH_ERR_INVALID_HANDLE);
  t_teardown(&f);
}

/* Closing the session from inside a callback of one of its requests. */
static void test_cancel_session_close_in_callback(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "GET", "/stall");
  ah_handle session = f.session;
  closer c = {req, AH_STATUS_REQUEST_SENT, session, 0, 0};
  rec_set_hook(close_hook, &c);
  assert_ah(ah_send_request(req, NULL, 0, NULL, 0), AH_IO_PENDING);
  if (!rec_wait_closing(session, 10000)) {
    rec_dump(NULL);
    fail_msg("no HANDLE_CLOSING for the session closed in a callback");
  }
  f.session = NULL;
  assert_closed_after_cancel(req, 0, 1);
  rec_set_hook(NULL, NULL);
  assert_ah(c.close_rc, AH_OK);
  assert_true(rec_index(req, AH_STATUS_HANDLE_CLOSING, 0) <
              rec_index(session, AH_STATUS_HANDLE_CLOSING, 0));
  assert_ah(ah_close_handle(session), AH_ERR_INVALID_HANDLE);
  t_teardown(&f);
}

/* One entry a line: CMake reads the names from these lines. */
/* clang-format off */
static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cancel_in_resolving_name_callback),
    cmocka_unit_test(test_cancel_in_connecting_callback),
    cmocka_unit_test(test_cancel_in_sending_request_callback),
    cmocka_unit_test(test_cancel_right_after_send_returns_pending),
    cmocka_unit_test(test_cancel_while_waiting_for_headers),
    cmocka_unit_test(test_cancel_mid_body_read),
    cmocka_unit_test(test_cancel_mid_upload_write),
    cmocka_unit_test(test_cancel_from_another_thread),
    cmocka_unit_test(test_cancel_sync_blocked_read_from_another_thread),
    cmocka_unit_test(test_cancel_in_request_complete_callback),
    cmocka_unit_test(test_cancel_close_parent_in_handle_closing_callback),
    cmocka_unit_test(test_cancel_close_twice_is_invalid_handle),
    cmocka_unit_test(test_cancel_then_next_request_works),
    cmocka_unit_test(test_cancel_connect_close_closes_its_requests),
    cmocka_unit_test(test_cancel_session_close_closes_everything),
    cmocka_unit_test(test_cancel_session_close_in_callback),
};
/* clang-format on */

AH_TEST_MAIN(tests)
