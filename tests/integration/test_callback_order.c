/*
 * test_callback_order.c - the status callbacks of a request, in the order
 * DESIGN.md "Event order" promises, for GET and POST on a new connection,
 * for a request on a pooled connection, in synchronous sessions, with the
 * notification mask filtering statuses, and around closing a session.
 *
 * A handle's callbacks are matched as a string of letters (rec_trace)
 * against a regular expression built from what each call returned: a
 * REQUEST_COMPLETE ("D") is expected exactly where a call returned
 * AH_IO_PENDING.
 */
#define _GNU_SOURCE

#include "test_main.h"

#include "ahtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Builds a pattern piece by piece. */
typedef struct pattern {
  char text[1024];
} pattern;

static void pat_add(pattern *p, const char *piece) {
  size_t used = strlen(p->text);
  snprintf(p->text + used, sizeof(p->text) - used, "%s", piece);
}

/* "D" if the call returned AH_IO_PENDING, "" otherwise. */
static const char *done_if(int rc) { return rc == AH_IO_PENDING ? "D" : ""; }

/* Counts `handle`'s REQUEST_COMPLETE events. */
static size_t completes(ah_handle h) {
  return rec_count(h, AH_STATUS_REQUEST_COMPLETE);
}

/* Every event of `h` carries `ctx` as context. */
static void assert_context(ah_handle h, void *ctx) {
  size_t n;
  rec_event *ev = rec_events(h, &n);
  for (size_t i = 0; i < n; i++)
    if (ev[i].context != ctx) {
      void *got = ev[i].context;
      const char *name = ah_status_name(ev[i].status);
      free(ev);
      fail_msg("%s for %p carried context %p, expected %p", name, (void *)h,
               got, ctx);
    }
  free(ev);
}

/* Checks the per-status infos of a request's events. */
static void assert_infos(ah_handle req, uint64_t body_len) {
  size_t n;
  rec_event *ev = rec_events(req, &n);
  uint64_t sent = 0, received = 0;
  for (size_t i = 0; i < n; i++) {
    rec_event *e = &ev[i];
    switch (e->status) {
    case AH_STATUS_HANDLE_CREATED:
      assert_int_equal(e->result.result, (uintptr_t)req);
      assert_int_equal(e->result.error, AH_OK);
      break;
    case AH_STATUS_RESOLVING_NAME:
      assert_string_equal(e->text, "127.0.0.1");
      break;
    case AH_STATUS_NAME_RESOLVED:
    case AH_STATUS_CONNECTING_TO_SERVER:
    case AH_STATUS_CONNECTED_TO_SERVER:
      assert_non_null(strstr(e->text, "127.0.0.1"));
      break;
    case AH_STATUS_REQUEST_SENT:
      assert_true(e->value > 0);
      sent += e->value;
      break;
    case AH_STATUS_RESPONSE_RECEIVED:
      assert_true(e->value > 0);
      received += e->value;
      break;
    default:
      break;
    }
  }
  free(ev);
  assert_true(sent > 0);
  /* The bytes received include the head, so more than the body. */
  if (received <= body_len)
    fail_msg("RESPONSE_RECEIVED reported %llu bytes in all for a %llu-byte "
             "body plus its head",
             (unsigned long long)received, (unsigned long long)body_len);
}

/* RECEIVING_RESPONSE and RESPONSE_RECEIVED come in pairs. */
static void assert_receive_pairs(ah_handle req) {
  char trace[4096], pairs[4096];
  rec_trace(req, trace, sizeof(trace));
  size_t k = 0;
  for (size_t i = 0; trace[i] != '\0'; i++)
    if (trace[i] == 'V' || trace[i] == 'v')
      pairs[k++] = trace[i];
  pairs[k] = '\0';
  for (size_t i = 0; i < k; i++)
    if (pairs[i] != (i % 2 == 0 ? 'V' : 'v'))
      fail_msg("RECEIVING_RESPONSE/RESPONSE_RECEIVED not in pairs: %s "
               "(trace %s)",
               pairs, trace);
}

/* Reads to the end in 4096-byte reads, adding each read's "D" to `p`. */
static uint64_t read_all_pattern(ah_handle req, pattern *p, size_t *pending) {
  char buf[4096];
  uint64_t total = 0;
  for (;;) {
    size_t n = 0;
    uintptr_t result = 0;
    int rc = ah_read(req, buf, sizeof(buf), &n);
    assert_ah(t_done(req, rc, &result), AH_OK);
    pat_add(p, "[VvLl]*");
    pat_add(p, done_if(rc));
    if (rc == AH_IO_PENDING) {
      (*pending)++;
      assert_int_equal(result, n);
    }
    if (n == 0)
      break;
    total += n;
  }
  return total;
}

/*
 * GET on a new connection: HANDLE_CREATED, name, connect, send, receive,
 * REQUEST_COMPLETE (pending), the reads, HANDLE_CLOSING last.
 */
static void get_order_case(unsigned flags) {
  t_fixture f;
  t_setup(&f, flags, 0);
  int ctx_c = 0, ctx_r = 0;
  ah_handle connect = NULL, req = NULL;
  assert_ah(ah_connect(f.session, "127.0.0.1", f.server.port, NULL, NULL, 0,
                       &ctx_c, &connect),
            AH_OK);
  assert_ah(ah_open_request(connect, "GET", "/slow/4096?delay_ms=30&piece=1024",
                            0, &ctx_r, &req),
            AH_OK);
  pattern p = {""};
  pat_add(&p, "^CP?rnckSs+V[Vv]*v");
  size_t pending = 0;
  int rc = ah_send_request(req, NULL, 0, NULL, 0);
  if (flags & AH_FLAG_ASYNC)
    assert_ah(rc, AH_IO_PENDING); /* a new connection cannot be instant */
  assert_ah(t_done(req, rc, NULL), AH_OK);
  pat_add(&p, done_if(rc));
  pending += rc == AH_IO_PENDING;
  assert_int_equal(read_all_pattern(req, &p, &pending), 4096);
  pat_add(&p, "[VvLl]*X$");
  t_close(req);
  t_close(connect);

  assert_rec(rec_check_trace(req, p.text, REC_WHY));
  assert_rec(rec_check_trace(connect, "^C[Ll]*X$", REC_WHY));
  assert_int_equal(completes(req), pending);
  assert_int_equal(completes(connect), 0);
  assert_receive_pairs(req);
  assert_infos(req, 4096);
  assert_context(req, &ctx_r);
  assert_context(connect, &ctx_c);
  assert_true(rec_index(connect, AH_STATUS_HANDLE_CREATED, 0) <
              rec_index(req, AH_STATUS_HANDLE_CREATED, 0));
  assert_true(rec_index(req, AH_STATUS_HANDLE_CLOSING, 0) <
              rec_index(connect, AH_STATUS_HANDLE_CLOSING, 0));
  assert_int_equal(rec_thread_count(), 1);
  t_teardown(&f);
}

static void test_order_get_new_connection_async(void **state) {
  (void)state;
  get_order_case(AH_FLAG_ASYNC);
}

/* Synchronous: the same statuses, and no REQUEST_COMPLETE at all. */
static void test_order_get_new_connection_sync(void **state) {
  (void)state;
  get_order_case(0);
}

/*
 * Streamed POST on a new connection: connect and send the head, a
 * REQUEST_SENT per write, the response after ah_end_request.
 */
static void test_order_post_streamed_async(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "POST", "/upload");
  static char body[200000];
  tu_fill(body, sizeof(body), 11);
  pattern p = {""};
  size_t pending = 0;
  pat_add(&p, "^CP?rnckSs+");
  int rc = ah_send_request_ex(req, NULL, 0, sizeof(body));
  assert_ah(rc, AH_IO_PENDING);
  assert_ah(t_done(req, rc, NULL), AH_OK);
  pat_add(&p, done_if(rc));
  pending += rc == AH_IO_PENDING;
  for (int i = 0; i < 2; i++) {
    size_t written = 0;
    rc = ah_write(req, body + i * 100000, 100000, &written);
    assert_ah(t_done(req, rc, NULL), AH_OK);
    assert_int_equal(written, 100000);
    pat_add(&p, "S?s+");
    pat_add(&p, done_if(rc));
    pending += rc == AH_IO_PENDING;
  }
  rc = ah_end_request(req);
  assert_ah(t_done(req, rc, NULL), AH_OK);
  pat_add(&p, "V[Vv]*v");
  pat_add(&p, done_if(rc));
  pending += rc == AH_IO_PENDING;
  assert_int_equal(t_status_code(req), 200);
  assert_true(read_all_pattern(req, &p, &pending) > 64);
  pat_add(&p, "[VvLl]*X$");
  t_close(req);

  assert_rec(rec_check_trace(req, p.text, REC_WHY));
  assert_int_equal(completes(req), pending);
  assert_receive_pairs(req);
  assert_infos(req, 64);
  /* Every body byte was reported sent, and the head too. */
  size_t n;
  rec_event *ev = rec_events(req, &n);
  uint64_t sent = 0;
  for (size_t i = 0; i < n; i++)
    if (ev[i].status == AH_STATUS_REQUEST_SENT)
      sent += ev[i].value;
  free(ev);
  assert_true(sent > sizeof(body));
  t_teardown(&f);
}

/* POST with its body given to ah_send_request: one pending call. */
static void test_order_post_small_body_async(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "POST", "/upload");
  pattern p = {""};
  size_t pending = 0;
  pat_add(&p, "^CP?rnckSs+V[Vv]*v");
  int rc = ah_send_request(req, NULL, 0, "0123456789", 10);
  assert_ah(rc, AH_IO_PENDING);
  assert_ah(t_done(req, rc, NULL), AH_OK);
  pat_add(&p, "D");
  pending++;
  read_all_pattern(req, &p, &pending);
  pat_add(&p, "[VvLl]*X$");
  t_close(req);
  assert_rec(rec_check_trace(req, p.text, REC_WHY));
  assert_int_equal(completes(req), pending);
  t_teardown(&f);
}

/* A request on a pooled connection skips resolving and connecting. */
static void test_order_pooled_connection_skips_connect_statuses(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  uint64_t total = 0;
  ah_handle first = t_get(f.connect, "/bytes/100", &total);
  t_close(first);
  ah_handle req = t_open_request(f.connect, "GET", "/bytes/100");
  pattern p = {""};
  size_t pending = 0;
  pat_add(&p, "^CSs+V[Vv]*v");
  int rc = ah_send_request(req, NULL, 0, NULL, 0);
  assert_ah(t_done(req, rc, NULL), AH_OK);
  assert_int_equal(t_reused(req), 1);
  pat_add(&p, done_if(rc));
  pending += rc == AH_IO_PENDING;
  read_all_pattern(req, &p, &pending);
  pat_add(&p, "[VvLl]*X$");
  t_close(req);
  assert_rec(rec_check_trace(req, p.text, REC_WHY));
  assert_int_equal(completes(req), pending);
  assert_rec(rec_check_trace(first, "^CP?rnckSs+V[Vv]*vD?[VvLlD]*X$", REC_WHY));
  t_teardown(&f);
}

/*
 * A close-delimited body ends with the server closing: the request sees
 * CLOSING_CONNECTION then CONNECTION_CLOSED, before its HANDLE_CLOSING.
 */
static void
test_order_close_delimited_body_reports_connection_closing(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "GET", "/bytes/4097?framing=close");
  pattern p = {""};
  size_t pending = 0;
  pat_add(&p, "^CP?rnckSs+V[Vv]*v");
  int rc = ah_send_request(req, NULL, 0, NULL, 0);
  assert_ah(t_done(req, rc, NULL), AH_OK);
  pat_add(&p, done_if(rc));
  pending += rc == AH_IO_PENDING;
  assert_int_equal(read_all_pattern(req, &p, &pending), 4097);
  pat_add(&p, "[VvLl]*X$");
  t_close(req);
  assert_rec(rec_check_trace(req, p.text, REC_WHY));
  assert_rec(rec_check_trace(req, "^[^L]*L[^Ll]*l[^Ll]*X$", REC_WHY));
  assert_int_equal(completes(req), pending);
  t_teardown(&f);
}

/* Sends `req` and reads it to the end; returns the calls that pended. */
static size_t masked_get(ah_handle req) {
  size_t pending = 0;
  int rc = ah_send_request(req, NULL, 0, NULL, 0);
  assert_ah(t_done(req, rc, NULL), AH_OK);
  pending += rc == AH_IO_PENDING;
  pattern p = {""};
  read_all_pattern(req, &p, &pending);
  return pending;
}

/*
 * A mask set on the session is inherited: with only HANDLE_CREATED in it,
 * a request sees HANDLE_CREATED, its REQUEST_COMPLETEs (always sent) and
 * HANDLE_CLOSING (always sent), nothing else.
 */
static void
test_notification_mask_on_session_suppresses_statuses(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  uint64_t mask = AH_NOTIFY(AH_STATUS_HANDLE_CREATED);
  assert_ah(ah_set_option(f.session, AH_OPTION_NOTIFICATION_MASK, &mask,
                          sizeof(mask)),
            AH_OK);
  ah_handle connect = NULL;
  assert_ah(ah_connect(f.session, "127.0.0.1", f.server.port, NULL, NULL, 0,
                       NULL, &connect),
            AH_OK);
  ah_handle req = t_open_request(connect, "GET", "/bytes/4096");
  uint64_t got = 0;
  size_t len = sizeof(got);
  assert_ah(ah_get_option(req, AH_OPTION_NOTIFICATION_MASK, &got, &len), AH_OK);
  assert_int_equal(len, sizeof(got));
  assert_true(got == mask);
  size_t pending = masked_get(req);
  t_close(req);
  t_close(connect);
  assert_rec(rec_check_trace(req, "^CD*X$", REC_WHY));
  assert_rec(rec_check_trace(connect, "^CX$", REC_WHY));
  assert_int_equal(completes(req), pending);
  t_teardown(&f);
}

/* A mask set on a request keeps only the statuses it names. */
static void
test_notification_mask_on_request_keeps_named_statuses(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "GET", "/bytes/100000");
  uint64_t mask = AH_NOTIFY(AH_STATUS_REQUEST_SENT) |
                  AH_NOTIFY(AH_STATUS_RESPONSE_RECEIVED);
  assert_ah(
      ah_set_option(req, AH_OPTION_NOTIFICATION_MASK, &mask, sizeof(mask)),
      AH_OK);
  size_t pending = masked_get(req);
  t_close(req);
  /* HANDLE_CREATED may have been delivered before the mask was set. */
  assert_rec(rec_check_trace(req, "^C?s[svD]*v[svD]*X$", REC_WHY));
  assert_int_equal(completes(req), pending);
  t_teardown(&f);
}

/* A mask of the wrong size is refused. */
static void
test_notification_mask_wrong_size_is_invalid_parameter(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  uint32_t small = 0;
  assert_ah(ah_set_option(f.session, AH_OPTION_NOTIFICATION_MASK, &small,
                          sizeof(small)),
            AH_ERR_INVALID_PARAMETER);
  t_teardown(&f);
}

/*
 * Closing a session from the main thread returns only after every handle
 * under it got HANDLE_CLOSING, children before parents, the session last.
 */
static void test_session_close_returns_after_all_handle_closing(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  uint64_t total = 0;
  ah_handle done = t_get(f.connect, "/bytes/100", &total);
  ah_handle idle = t_open_request(f.connect, "GET", "/bytes/1");
  ah_handle session = f.session;
  assert_ah(ah_close_handle(session), AH_OK);
  /* No waiting: it is all there already. */
  assert_int_equal(rec_count(session, AH_STATUS_HANDLE_CLOSING), 1);
  assert_int_equal(rec_count(f.connect, AH_STATUS_HANDLE_CLOSING), 1);
  assert_int_equal(rec_count(done, AH_STATUS_HANDLE_CLOSING), 1);
  assert_int_equal(rec_count(idle, AH_STATUS_HANDLE_CLOSING), 1);
  long s = rec_index(session, AH_STATUS_HANDLE_CLOSING, 0);
  long c = rec_index(f.connect, AH_STATUS_HANDLE_CLOSING, 0);
  assert_true(rec_index(done, AH_STATUS_HANDLE_CLOSING, 0) < c);
  assert_true(rec_index(idle, AH_STATUS_HANDLE_CLOSING, 0) < c);
  assert_true(c < s);
  size_t n;
  free(rec_events(NULL, &n));
  assert_int_equal(s, (long)n - 1);
  /* Nothing trickles in later. */
  tu_sleep_ms(100);
  free(rec_events(NULL, &n));
  assert_int_equal(s, (long)n - 1);
  f.session = NULL;
  t_teardown(&f);
}

/* AH_OPTION_CONTEXT changes the context later callbacks get. */
static void test_context_option_changes_callback_context(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  int first = 0, second = 0;
  ah_handle req = NULL;
  assert_ah(ah_open_request(f.connect, "GET", "/bytes/10", 0, &first, &req),
            AH_OK);
  void *ctx = &second;
  assert_ah(ah_set_option(req, AH_OPTION_CONTEXT, &ctx, sizeof(ctx)), AH_OK);
  void *got = NULL;
  size_t len = sizeof(got);
  assert_ah(ah_get_option(req, AH_OPTION_CONTEXT, &got, &len), AH_OK);
  assert_ptr_equal(got, &second);
  size_t before = rec_count_all(req);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  t_close(req);
  size_t n;
  rec_event *ev = rec_events(req, &n);
  for (size_t i = before; i < n; i++)
    assert_ptr_equal(ev[i].context, &second);
  free(ev);
  t_teardown(&f);
}

/* One entry a line: CMake reads the names from these lines. */
/* clang-format off */
static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_order_get_new_connection_async),
    cmocka_unit_test(test_order_get_new_connection_sync),
    cmocka_unit_test(test_order_post_streamed_async),
    cmocka_unit_test(test_order_post_small_body_async),
    cmocka_unit_test(test_order_pooled_connection_skips_connect_statuses),
    cmocka_unit_test(test_order_close_delimited_body_reports_connection_closing),
    cmocka_unit_test(test_notification_mask_on_session_suppresses_statuses),
    cmocka_unit_test(test_notification_mask_on_request_keeps_named_statuses),
    cmocka_unit_test(test_notification_mask_wrong_size_is_invalid_parameter),
    cmocka_unit_test(test_session_close_returns_after_all_handle_closing),
    cmocka_unit_test(test_context_option_changes_callback_context),
};
/* clang-format on */

AH_TEST_MAIN(tests)
