/*
 * test_handles.c - handle validity and argument checking through the
 * public API: NULL, made-up, closed and stale handles are refused with
 * AH_ERR_INVALID_HANDLE by every call without crashing; the wrong kind of
 * handle with AH_ERR_INCORRECT_HANDLE_TYPE; calls in the wrong state with
 * AH_ERR_INCORRECT_HANDLE_STATE; malformed methods, targets, hosts and
 * header lines with AH_ERR_INVALID_PARAMETER before anything is sent; and
 * the names and texts of every result and status code.
 */
#define _GNU_SOURCE

#include "test_main.h"

#include "ahtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every call that takes a handle, given `h`, returns AH_ERR_INVALID_HANDLE.
 * Each call gets otherwise valid arguments.
 */
static void assert_invalid_everywhere(ah_handle h) {
  char buf[64];
  size_t n = 0, len = sizeof(buf);
  ah_handle out = NULL;
  uint32_t ms = 1000;
#define INVALID(call)                                                          \
  do {                                                                         \
    int rc_ = (call);                                                          \
    if (rc_ != AH_ERR_INVALID_HANDLE)                                          \
      fail_msg("handle %p: %s returned %s, expected AH_ERR_INVALID_HANDLE",    \
               (void *)h, #call, rec_code_name(rc_));                          \
  } while (0)
  INVALID(ah_set_status_callback(h, rec_callback));
  INVALID(ah_connect(h, "127.0.0.1", 80, NULL, NULL, 0, NULL, &out));
  assert_null(out);
  INVALID(ah_open_request(h, "GET", "/", 0, NULL, &out));
  assert_null(out);
  INVALID(ah_send_request(h, NULL, 0, NULL, 0));
  INVALID(ah_send_request_ex(h, NULL, 0, 10));
  INVALID(ah_write(h, "x", 1, &n));
  INVALID(ah_end_request(h));
  INVALID(ah_read(h, buf, sizeof(buf), &n));
  INVALID(ah_read_ex(h, buf, sizeof(buf), &n, AH_READ_NO_WAIT));
  len = sizeof(buf);
  INVALID(ah_query_info(h, AH_INFO_STATUS_TEXT, NULL, 0, buf, &len));
  INVALID(ah_set_option(h, AH_OPTION_RECEIVE_TIMEOUT, &ms, sizeof(ms)));
  len = sizeof(ms);
  INVALID(ah_get_option(h, AH_OPTION_RECEIVE_TIMEOUT, &ms, &len));
  INVALID(ah_last_error_detail(h, buf, sizeof(buf)));
  INVALID(ah_close_handle(h));
#undef INVALID
}

static void test_handles_null_is_invalid_everywhere(void **state) {
  (void)state;
  rec_reset();
  assert_invalid_everywhere(NULL);
}

/* Made-up values: never crash, always refused, with or without sessions. */
static void test_handles_made_up_values_are_invalid_everywhere(void **state) {
  (void)state;
  static const uintptr_t values[] = {0x12345,
                                     0x1,
                                     0x2,
                                     0x3,
                                     0xdeadbeef,
                                     (uintptr_t)-1,
                                     (uintptr_t)-4096,
                                     (uintptr_t)1 << 40,
                                     (uintptr_t)0x7fffffff << 32};
  rec_reset();
  for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
    assert_invalid_everywhere((ah_handle)values[i]);
  /* Also while real handles exist in the table. */
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "GET", "/bytes/1");
  for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
    assert_invalid_everywhere((ah_handle)values[i]);
  /* A neighbour of a real handle value is not a handle either. */
  assert_invalid_everywhere((ah_handle)((uintptr_t)req + 1));
  assert_invalid_everywhere((ah_handle)((uintptr_t)req ^ ((uintptr_t)1 << 31)));
  t_close(req);
  t_teardown(&f);
}

/* A closed request is invalid at once, before its HANDLE_CLOSING too. */
static void test_handles_closed_request_is_invalid_immediately(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "GET", "/stall");
  assert_ah(ah_send_request(req, NULL, 0, NULL, 0), AH_IO_PENDING);
  assert_ah(ah_close_handle(req), AH_OK);
  assert_invalid_everywhere(req);
  assert_true(rec_wait_closing(req, 10000));
  assert_invalid_everywhere(req);
  t_teardown(&f);
}

/* A request closed and gone, and handles opened after it reuse nothing. */
static void
test_handles_closed_request_is_invalid_after_handle_closing(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle old = t_open_request(f.connect, "GET", "/bytes/1");
  t_close(old);
  assert_invalid_everywhere(old);
  /* Newer handles (which may take the same table slot) stay distinct. */
  for (int i = 0; i < 20; i++) {
    ah_handle req = t_open_request(f.connect, "GET", "/bytes/1");
    assert_ptr_not_equal(req, old);
    assert_invalid_everywhere(old);
    t_close(req);
  }
  t_teardown(&f);
}

/* After the session closed, its connect handles and requests are invalid. */
static void test_handles_closed_session_and_children_are_invalid(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = t_open_request(f.connect, "GET", "/bytes/1");
  ah_handle session = f.session, connect = f.connect;
  t_teardown(&f);
  assert_invalid_everywhere(req);
  assert_invalid_everywhere(connect);
  assert_invalid_everywhere(session);
}

/* Each call refuses a handle of the wrong kind. */
static void test_handles_wrong_type_is_incorrect_handle_type(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle s = f.session, c = f.connect;
  ah_handle r = t_open_request(c, "GET", "/bytes/1");
  ah_handle out = NULL;
  char buf[64];
  size_t n = 0, len = sizeof(buf);
  const int T = AH_ERR_INCORRECT_HANDLE_TYPE;
  assert_ah(ah_connect(c, "127.0.0.1", 80, NULL, NULL, 0, NULL, &out), T);
  assert_ah(ah_connect(r, "127.0.0.1", 80, NULL, NULL, 0, NULL, &out), T);
  assert_ah(ah_open_request(s, "GET", "/", 0, NULL, &out), T);
  assert_ah(ah_open_request(r, "GET", "/", 0, NULL, &out), T);
  assert_null(out);
  ah_handle not_requests[] = {s, c};
  for (size_t i = 0; i < 2; i++) {
    ah_handle h = not_requests[i];
    assert_ah(ah_send_request(h, NULL, 0, NULL, 0), T);
    assert_ah(ah_send_request_ex(h, NULL, 0, 1), T);
    assert_ah(ah_write(h, "x", 1, &n), T);
    assert_ah(ah_end_request(h), T);
    assert_ah(ah_read(h, buf, sizeof(buf), &n), T);
    assert_ah(ah_read_ex(h, buf, sizeof(buf), &n, AH_READ_NO_WAIT), T);
    len = sizeof(buf);
    assert_ah(ah_query_info(h, AH_INFO_STATUS_TEXT, NULL, 0, buf, &len), T);
  }
  /* AH_OPTION_HANDLE_TYPE tells the kinds apart. */
  ah_handle all[] = {s, c, r};
  for (uint32_t i = 0; i < 3; i++) {
    uint32_t type = 0;
    len = sizeof(type);
    assert_ah(ah_get_option(all[i], AH_OPTION_HANDLE_TYPE, &type, &len), AH_OK);
    assert_int_equal(type, i + 1);
  }
  t_close(r);
  t_teardown(&f);
}

/*
 * A request's option asked of a session or connect handle is "unknown
 * option for this handle" (the errors ah_get_option documents).
 */
static void
test_handles_request_option_on_session_is_invalid_option(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  uint32_t reused = 0;
  size_t len = sizeof(reused);
  assert_ah(
      ah_get_option(f.session, AH_OPTION_CONNECTION_REUSED, &reused, &len),
      AH_ERR_INVALID_OPTION);
  len = sizeof(reused);
  assert_ah(
      ah_get_option(f.connect, AH_OPTION_CONNECTION_REUSED, &reused, &len),
      AH_ERR_INVALID_OPTION);
  t_teardown(&f);
}

/* Calls out of order on a request. */
static void test_handles_calls_in_wrong_state_are_refused(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle r = t_open_request(f.connect, "GET", "/bytes/10");
  char buf[64];
  size_t n = 0, len = sizeof(buf);
  const int S = AH_ERR_INCORRECT_HANDLE_STATE;
  /* Before the send. */
  assert_ah(ah_read(r, buf, sizeof(buf), &n), S);
  assert_ah(ah_read_ex(r, buf, sizeof(buf), &n, AH_READ_NO_WAIT), S);
  assert_ah(ah_write(r, "x", 1, &n), S);
  assert_ah(ah_end_request(r), S);
  assert_ah(ah_query_info(r, AH_INFO_STATUS_TEXT, NULL, 0, buf, &len), S);
  /* After the send. */
  assert_done(r, ah_send_request(r, NULL, 0, NULL, 0));
  assert_ah(ah_send_request(r, NULL, 0, NULL, 0), S);
  assert_ah(ah_send_request_ex(r, NULL, 0, 1), S);
  char hex[65];
  assert_ah(t_read_all(r, 64, 0, hex, NULL, NULL, NULL), AH_OK);
  assert_ah(ah_send_request(r, NULL, 0, NULL, 0), S);
  /* No REQUEST_COMPLETE came for any refused call. */
  tu_sleep_ms(50);
  ah_async_result extra;
  assert_false(rec_wait_complete(r, 0, &extra));
  t_close(r);
  t_teardown(&f);
}

/* One pending operation per request: a second one is refused, not queued. */
static void test_handles_second_pending_operation_is_refused(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  const int S = AH_ERR_INCORRECT_HANDLE_STATE;
  char buf[64];
  size_t n = 0;
  ah_handle r = t_open_request(f.connect, "GET", "/stall");
  assert_ah(ah_send_request(r, NULL, 0, NULL, 0), AH_IO_PENDING);
  assert_ah(ah_send_request(r, NULL, 0, NULL, 0), S);
  assert_ah(ah_read(r, buf, sizeof(buf), &n), S);
  assert_ah(ah_end_request(r), S);

  static char big[65536];
  size_t got = 0;
  ah_handle r2 = t_open_request(f.connect, "GET",
                                "/stall?after=body&bytes=10&length=100000");
  assert_done(r2, ah_send_request(r2, NULL, 0, NULL, 0));
  assert_ah(ah_read(r2, big, sizeof(big), &got), AH_IO_PENDING);
  assert_ah(ah_read(r2, buf, sizeof(buf), &n), S);
  assert_ah(ah_read_ex(r2, buf, sizeof(buf), &n, AH_READ_NO_WAIT), S);
  assert_ah(ah_send_request(r2, NULL, 0, NULL, 0), S);
  /* The refusals did not disturb the pending calls: closing cancels each
     exactly once. */
  assert_ah(ah_close_handle(r), AH_OK);
  assert_ah(ah_close_handle(r2), AH_OK);
  assert_true(rec_wait_closing(r, 10000));
  assert_true(rec_wait_closing(r2, 10000));
  tu_sleep_ms(50);
  assert_int_equal(rec_count(r, AH_STATUS_REQUEST_COMPLETE), 1);
  assert_int_equal(rec_count(r2, AH_STATUS_REQUEST_COMPLETE), 2);
  ah_async_result res;
  assert_true(rec_wait_complete(r, 0, &res));
  assert_ah(res.error, AH_ERR_OPERATION_CANCELLED);
  assert_true(rec_wait_complete(r2, 0, &res));
  assert_ah(res.error, AH_ERR_OPERATION_CANCELLED);
  t_teardown(&f);
}

/* Methods, targets and hosts that would break the request line. */
static void
test_handles_bad_method_target_host_are_invalid_parameter(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  static const char *const targets[] = {
      "/a b", "/a\r\nX-Injected: 1", "/a\n", "/a\r", "a", "", "http://x/"};
  static const char *const methods[] = {"GE T", "G\r\nET", "",
                                        "GET/", "GET\n",   "G:T"};
  static const char *const hosts[] = {"", "a b", "a/b", "a\r\nb", "a\nb"};
  const int P = AH_ERR_INVALID_PARAMETER;
  ah_handle out = NULL;
  for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
    int rc = ah_open_request(f.connect, "GET", targets[i], 0, NULL, &out);
    if (rc != P)
      fail_msg("target \"%s\": %s", targets[i], rec_code_name(rc));
  }
  for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
    int rc = ah_open_request(f.connect, methods[i], "/", 0, NULL, &out);
    if (rc != P)
      fail_msg("method \"%s\": %s", methods[i], rec_code_name(rc));
  }
  for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
    int rc = ah_connect(f.session, hosts[i], 80, NULL, NULL, 0, NULL, &out);
    if (rc != P)
      fail_msg("host \"%s\": %s", hosts[i], rec_code_name(rc));
  }
  assert_ah(ah_connect(f.session, NULL, 80, NULL, NULL, 0, NULL, &out), P);
  assert_null(out);
  /* NULL method and target are GET and "/"; "*" is allowed. */
  ah_handle r = NULL;
  assert_ah(ah_open_request(f.connect, NULL, NULL, 0, NULL, &r), AH_OK);
  char text[32];
  size_t len = sizeof(text);
  assert_done(r, ah_send_request(r, NULL, 0, NULL, 0));
  assert_ah(ah_query_info(r, AH_INFO_REQUEST_METHOD, NULL, 0, text, &len),
            AH_OK);
  assert_string_equal(text, "GET");
  assert_int_equal(t_status_code(r), 200); /* "/" lists the routes */
  char *body = t_read_text(r);
  assert_true(strncmp(body, "ahttp test server routes", 24) == 0);
  free(body);
  t_close(r);
  assert_ah(ah_open_request(f.connect, "OPTIONS", "*", 0, NULL, &r), AH_OK);
  t_close(r);
  t_teardown(&f);
}

/*
 * Extra header lines that would inject headers or a second request, or hold
 * a NUL, are refused before anything is sent; the request is unharmed and
 * can then be sent properly.
 */
static void test_handles_header_injection_is_invalid_parameter(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  static const struct {
    const char *text;
    size_t len;
  } bad[] = {
      {"X-A: a\rX-B: b", 13},
      {"X-A: a\nX-B: b", 13},
      {"X-A: a\r\n\r\nGET /evil HTTP/1.1", 29},
      {"X-A: a\0b", 8},
      {"NoColonHere", 11},
      {"X A: b", 6},
      {": empty-name", 12},
      {"X-A: a\r\n b", 10}, /* obs-fold */
  };
  const int P = AH_ERR_INVALID_PARAMETER;
  ah_handle r = t_open_request(f.connect, "GET", "/echo?injection=1");
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = ah_send_request(r, bad[i].text, bad[i].len, NULL, 0);
    if (rc != P)
      fail_msg("headers #%zu: ah_send_request returned %s, expected "
               "AH_ERR_INVALID_PARAMETER",
               i, rec_code_name(rc));
  }
  ah_handle r2 = t_open_request(f.connect, "POST", "/upload?injection=1");
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = ah_send_request_ex(r2, bad[i].text, bad[i].len, 1);
    if (rc != P)
      fail_msg("headers #%zu: ah_send_request_ex returned %s", i,
               rec_code_name(rc));
  }
  t_close(r2);
  /* Nothing reached the server. */
  tu_sleep_ms(100);
  char *log = ts_server_log(&f.server, 0, 0);
  assert_non_null(log);
  assert_int_equal(tu_count_lines_with(log, "injection"), 0);
  free(log);
  /* Good lines, with and without the final CRLF, are sent as given. */
  static const char good[] = "X-A: a\r\nX-B: b\r\n";
  assert_done(r, ah_send_request(r, good, strlen(good), NULL, 0));
  char *head = t_read_text(r);
  assert_non_null(strstr(head, "\r\nX-A: a\r\nX-B: b\r\n"));
  assert_null(strstr(head, "evil"));
  free(head);
  t_close(r);
  t_teardown(&f);
}

/* Arguments of reads, queries and options. */
static void test_handles_bad_arguments_are_invalid_parameter(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  const int P = AH_ERR_INVALID_PARAMETER;
  ah_handle r = t_open_request(f.connect, "GET", "/bytes/100");
  assert_done(r, ah_send_request(r, NULL, 0, NULL, 0));
  char buf[200];
  size_t n = 0;
  assert_ah(ah_read(r, NULL, 10, &n), P);
  assert_ah(ah_read(r, buf, sizeof(buf), NULL), P);
  size_t len = sizeof(buf);
  assert_ah(ah_query_info(r, AH_INFO_HEADER, NULL, 0, buf, &len), P);
  assert_ah(ah_query_info(r, 9999, NULL, 0, buf, &len), P);
  assert_ah(ah_query_info(r, AH_INFO_STATUS_TEXT, NULL, 0, buf, NULL), P);
  uint32_t ms = 10;
  assert_ah(ah_set_option(r, 9999, &ms, sizeof(ms)), AH_ERR_INVALID_OPTION);
  assert_ah(ah_set_option(r, AH_OPTION_RECEIVE_TIMEOUT, &ms, 2), P);
  assert_ah(ah_set_option(r, AH_OPTION_RECEIVE_TIMEOUT, NULL, sizeof(ms)), P);
  /* Get-only options cannot be set. */
  uint32_t one = 1;
  int rc = ah_set_option(r, AH_OPTION_HANDLE_TYPE, &one, sizeof(one));
  assert_true(rc == AH_ERR_INVALID_OPTION || rc == P);
  /* The refused calls changed nothing: the body is still all there. */
  char hex[65], want[80];
  uint64_t total = 0;
  assert_ah(t_header(r, "X-Body-Sha256", want, sizeof(want)), AH_OK);
  assert_ah(t_read_all(r, 64, 0, hex, &total, NULL, NULL), AH_OK);
  assert_int_equal(total, 100);
  assert_string_equal(hex, want);
  t_close(r);
  assert_ah(ah_open(NULL, 99, NULL, NULL, AH_FLAG_ASYNC, &r), P);
  assert_ah(ah_open(NULL, AH_OPEN_TYPE_DIRECT, NULL, NULL, AH_FLAG_ASYNC, NULL),
            P);
  t_teardown(&f);
}

/* Options round-trip, and a too-small buffer reports the size needed. */
static void test_handles_options_round_trip(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  static const int ms_options[] = {AH_OPTION_CONNECT_TIMEOUT,
                                   AH_OPTION_SEND_TIMEOUT,
                                   AH_OPTION_RECEIVE_TIMEOUT};
  for (size_t i = 0; i < 3; i++) {
    uint32_t v = 1234 + (uint32_t)i, got = 0;
    size_t len = sizeof(got);
    assert_ah(ah_set_option(f.session, ms_options[i], &v, sizeof(v)), AH_OK);
    assert_ah(ah_get_option(f.session, ms_options[i], &got, &len), AH_OK);
    assert_int_equal(got, v);
    /* Inherited by handles created afterwards. */
    ah_handle c = NULL;
    assert_ah(ah_connect(f.session, "127.0.0.1", f.server.port, NULL, NULL, 0,
                         NULL, &c),
              AH_OK);
    ah_handle r = t_open_request(c, "GET", "/");
    got = 0;
    len = sizeof(got);
    assert_ah(ah_get_option(r, ms_options[i], &got, &len), AH_OK);
    assert_int_equal(got, v);
    t_close(r);
    t_close(c);
  }
  static const char ua[] = "round-trip/2";
  assert_ah(ah_set_option(f.session, AH_OPTION_USER_AGENT, ua, strlen(ua)),
            AH_OK);
  char text[64];
  size_t len = 4;
  assert_ah(ah_get_option(f.session, AH_OPTION_USER_AGENT, text, &len),
            AH_ERR_INSUFFICIENT_BUFFER);
  assert_int_equal(len, strlen(ua) + 1);
  len = sizeof(text);
  assert_ah(ah_get_option(f.session, AH_OPTION_USER_AGENT, text, &len), AH_OK);
  assert_int_equal(len, strlen(ua));
  assert_string_equal(text, ua);
  t_teardown(&f);
}

/* Calls a blocking API from inside a callback of a synchronous session. */
typedef struct blocking_call {
  ah_handle from;  /* the handle whose REQUEST_SENT triggers it */
  ah_handle other; /* an unsent request to send from the callback */
  int fired;
  int rc;
} blocking_call;

static void blocking_hook(ah_handle handle, int status, const void *info,
                          size_t info_len, void *context, void *arg) {
  (void)info;
  (void)info_len;
  (void)context;
  blocking_call *b = arg;
  if (b->fired || handle != b->from || status != AH_STATUS_REQUEST_SENT)
    return;
  b->fired = 1;
  b->rc = ah_send_request(b->other, NULL, 0, NULL, 0);
}

/*
 * In a synchronous session a call that would block, made on the session's
 * own I/O thread (inside a callback), is refused instead of hanging.
 */
static void
test_handles_blocking_call_in_sync_callback_would_deadlock(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, 0, 0);
  ah_handle r1 = t_open_request(f.connect, "GET", "/bytes/10");
  ah_handle r2 = t_open_request(f.connect, "GET", "/bytes/10");
  blocking_call b = {r1, r2, 0, 99};
  rec_set_hook(blocking_hook, &b);
  assert_done(r1, ah_send_request(r1, NULL, 0, NULL, 0));
  rec_set_hook(NULL, NULL);
  assert_true(b.fired);
  assert_ah(b.rc, AH_ERR_WOULD_DEADLOCK);
  /* r2 was not disturbed: it can be sent now from the main thread. */
  assert_done(r2, ah_send_request(r2, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(r2), 200);
  t_close(r1);
  t_close(r2);
  t_teardown(&f);
}

/* Every result code has a distinct name and text. */
static void test_handles_error_names_and_texts(void **state) {
  (void)state;
  static const struct {
    int code;
    const char *name;
  } codes[] = {
#define AH_T_CODE(name, value, text) {name, #name},
      AH_ERRORS(AH_T_CODE)
#undef AH_T_CODE
  };
  enum { N = sizeof(codes) / sizeof(codes[0]) };
  for (size_t i = 0; i < N; i++) {
    const char *name = ah_err_name(codes[i].code);
    const char *text = ah_strerror(codes[i].code);
    assert_non_null(name);
    assert_non_null(text);
    assert_string_equal(name, codes[i].name);
    assert_true(text[0] != '\0');
    for (size_t j = 0; j < i; j++) {
      assert_string_not_equal(name, ah_err_name(codes[j].code));
      assert_string_not_equal(text, ah_strerror(codes[j].code));
    }
  }
  static const int unknown[] = {-1000, 2, 12345, -999};
  for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
    assert_string_equal(ah_err_name(unknown[i]), "AH_ERR_UNKNOWN");
    assert_non_null(ah_strerror(unknown[i]));
  }
  assert_string_equal(ah_version(), AH_VERSION_STRING);
}

/* Every status has its WinInet-style name. */
static void test_handles_status_names(void **state) {
  (void)state;
  static const char *const names[] = {
      NULL,
      "RESOLVING_NAME",
      "NAME_RESOLVED",
      "CONNECTING_TO_SERVER",
      "CONNECTED_TO_SERVER",
      "SENDING_REQUEST",
      "REQUEST_SENT",
      "RECEIVING_RESPONSE",
      "RESPONSE_RECEIVED",
      "CLOSING_CONNECTION",
      "CONNECTION_CLOSED",
      "HANDLE_CREATED",
      "HANDLE_CLOSING",
      "DETECTING_PROXY",
      "REQUEST_COMPLETE",
      "REDIRECT",
      "INTERMEDIATE_RESPONSE",
      "STATE_CHANGE",
      "COOKIE_SENT",
      "COOKIE_RECEIVED",
      "COOKIE_HISTORY",
      "TLS_HANDSHAKE_START",
      "TLS_HANDSHAKE_DONE",
  };
  for (int s = 1; s <= AH_STATUS_TLS_HANDSHAKE_DONE; s++) {
    const char *name = ah_status_name(s);
    assert_non_null(name);
    assert_string_equal(name, names[s]);
  }
  assert_non_null(ah_status_name(0));
  assert_non_null(ah_status_name(9999));
}

/* One entry a line: CMake reads the names from these lines. */
/* clang-format off */
static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_handles_null_is_invalid_everywhere),
    cmocka_unit_test(test_handles_made_up_values_are_invalid_everywhere),
    cmocka_unit_test(test_handles_closed_request_is_invalid_immediately),
    cmocka_unit_test(test_handles_closed_request_is_invalid_after_handle_closing),
    cmocka_unit_test(test_handles_closed_session_and_children_are_invalid),
    cmocka_unit_test(test_handles_wrong_type_is_incorrect_handle_type),
    cmocka_unit_test(test_handles_request_option_on_session_is_invalid_option),
    cmocka_unit_test(test_handles_calls_in_wrong_state_are_refused),
    cmocka_unit_test(test_handles_second_pending_operation_is_refused),
    cmocka_unit_test(test_handles_bad_method_target_host_are_invalid_parameter),
    cmocka_unit_test(test_handles_header_injection_is_invalid_parameter),
    cmocka_unit_test(test_handles_bad_arguments_are_invalid_parameter),
    cmocka_unit_test(test_handles_options_round_trip),
    cmocka_unit_test(test_handles_blocking_call_in_sync_callback_would_deadlock),
    cmocka_unit_test(test_handles_error_names_and_texts),
    cmocka_unit_test(test_handles_status_names),
};
/* clang-format on */

AH_TEST_MAIN(tests)
