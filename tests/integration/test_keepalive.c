/*
 * test_keepalive.c - connection reuse: sequential requests on one connect
 * handle share one TCP connection (against a real nginx, checked in its
 * access log, and against the scripted server, checked with X-Conn-Id);
 * connections that cannot be reused are not; an idempotent request whose
 * pooled connection turns out dead is retried transparently, a POST is not.
 */
#define _GNU_SOURCE

#include "test_main.h"

#include "ahtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Lines "<conn_id> <rest>" of the server's request log with that rest, on
 * connection `conn_id` (0: any).
 */
static size_t log_count(const char *log, unsigned long conn_id,
                        const char *rest) {
  size_t count = 0;
  const char *line = log;
  while (*line != '\0') {
    const char *end = strchr(line, '\n');
    size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
    char *copy = strndup(line, len);
    assert_non_null(copy);
    char *sp = strchr(copy, ' ');
    if (sp != NULL) {
      *sp = '\0';
      unsigned long id = strtoul(copy, NULL, 10);
      if ((conn_id == 0 || id == conn_id) && strcmp(sp + 1, rest) == 0)
        count++;
    }
    free(copy);
    if (end == NULL)
      break;
    line = end + 1;
  }
  return count;
}

/* Opens a session with the recorder and a connect handle to `port`. */
static void open_connect(uint16_t port, ah_handle *session,
                         ah_handle *connect) {
  t_open_session(AH_FLAG_ASYNC, session);
  assert_ah(
      ah_connect(*session, "127.0.0.1", port, NULL, NULL, 0, NULL, connect),
      AH_OK);
}

static void close_session_and_check(ah_handle session) {
  assert_ah(ah_close_handle(session), AH_OK);
  assert_true(rec_wait_closing(session, 10000));
  assert_rec(rec_check_all_closed(REC_WHY));
  assert_rec(rec_check_violations(REC_WHY));
}

/*
 * nginx: five GETs of static files in sequence on one connect handle, each
 * read to the end and closed: the first opens the connection, the others
 * reuse it, and nginx saw one connection with five requests on it.
 */
static void
test_keepalive_nginx_sequential_gets_share_one_connection(void **state) {
  (void)state;
  static const size_t sizes[] = {0, 1, 4096, 100000, 1 << 20};
  enum { N = sizeof(sizes) / sizeof(sizes[0]) };
  ts_nginx ngx;
  if (ts_nginx_start(&ngx) != 0)
    fail_msg("could not start nginx");
  char sha[N][65];
  for (size_t i = 0; i < N; i++) {
    char name[32];
    snprintf(name, sizeof(name), "file%zu.bin", i);
    assert_int_equal(ts_nginx_add_file(&ngx, name, sizes[i], 100 + i, sha[i]),
                     0);
  }
  rec_reset();
  ah_handle session, connect;
  open_connect(ngx.port, &session, &connect);
  for (size_t i = 0; i < N; i++) {
    char target[32], hex[65];
    snprintf(target, sizeof(target), "/file%zu.bin", i);
    ah_handle req = t_open_request(connect, "GET", target);
    assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
    assert_int_equal(t_status_code(req), 200);
    assert_int_equal(t_reused(req), i == 0 ? 0 : 1);
    uint64_t total = 0;
    assert_ah(t_read_all(req, 65536, 0, hex, &total, NULL, NULL), AH_OK);
    assert_int_equal(total, sizes[i]);
    assert_string_equal(hex, sha[i]);
    t_close(req);
  }
  close_session_and_check(session);

  ts_nginx_entry log[N + 2];
  size_t n = ts_nginx_log(&ngx, log, N + 2, N, 5000);
  ts_nginx_stop(&ngx);
  assert_int_equal(n, N);
  for (size_t i = 0; i < N; i++) {
    char want[64];
    snprintf(want, sizeof(want), "GET /file%zu.bin HTTP/1.1", i);
    assert_string_equal(log[i].request, want);
    assert_int_equal(log[i].status, 200);
    assert_int_equal(log[i].connection, log[0].connection);
    assert_int_equal(log[i].connection_requests, i + 1);
  }
}

/* nginx: a request whose body was not read does not spoil the next one. */
static void test_keepalive_nginx_unread_body_then_get_is_correct(void **state) {
  (void)state;
  ts_nginx ngx;
  if (ts_nginx_start(&ngx) != 0)
    fail_msg("could not start nginx");
  char big_sha[65], small_sha[65];
  assert_int_equal(ts_nginx_add_file(&ngx, "big.bin", 3 << 20, 1, big_sha), 0);
  assert_int_equal(ts_nginx_add_file(&ngx, "small.bin", 5000, 2, small_sha), 0);
  rec_reset();
  ah_handle session, connect;
  open_connect(ngx.port, &session, &connect);
  ah_handle req = t_open_request(connect, "GET", "/big.bin");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  char buf[100];
  size_t n = 0;
  assert_done(req, ah_read(req, buf, sizeof(buf), &n));
  assert_int_equal(n, sizeof(buf));
  t_close(req);
  req = t_open_request(connect, "GET", "/small.bin");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  char hex[65];
  uint64_t total = 0;
  assert_ah(t_read_all(req, 65536, 0, hex, &total, NULL, NULL), AH_OK);
  assert_int_equal(total, 5000);
  assert_string_equal(hex, small_sha);
  t_close(req);
  close_session_and_check(session);
  ts_nginx_stop(&ngx);
}

/* One GET on `connect`, read to the end; returns X-Conn-Id. */
static unsigned long get_conn_id(ah_handle connect, const char *target,
                                 uint32_t *reused, unsigned long *req_on_conn) {
  ah_handle req = t_open_request(connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  unsigned long id = t_header_ulong(req, "X-Conn-Id");
  if (req_on_conn != NULL)
    *req_on_conn = t_header_ulong(req, "X-Req-On-Conn");
  if (reused != NULL)
    *reused = t_reused(req);
  char hex[65], want[80];
  assert_ah(t_read_all(req, 65536, 0, hex, NULL, NULL, NULL), AH_OK);
  if (t_header(req, "X-Body-Sha256", want, sizeof(want)) == AH_OK)
    assert_string_equal(hex, want);
  t_close(req);
  return id;
}

/* Scripted server: three GETs (length, chunked, length) on one connection. */
static void
test_keepalive_server_sequential_gets_share_one_connection(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  static const char *const targets[] = {
      "/bytes/1000", "/bytes/5000?framing=chunked", "/bytes/0"};
  for (unsigned long i = 0; i < 3; i++) {
    uint32_t reused = 99;
    unsigned long nth = 0;
    unsigned long id = get_conn_id(f.connect, targets[i], &reused, &nth);
    assert_int_equal(id, 1);
    assert_int_equal(nth, i + 1);
    assert_int_equal(reused, i == 0 ? 0 : 1);
  }
  t_teardown(&f);
}

static void
test_keepalive_sync_sequential_gets_share_one_connection(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, 0, 0);
  for (unsigned long i = 0; i < 3; i++) {
    uint32_t reused = 99;
    unsigned long nth = 0;
    assert_int_equal(get_conn_id(f.connect, "/bytes/3000", &reused, &nth), 1);
    assert_int_equal(nth, i + 1);
    assert_int_equal(reused, i == 0 ? 0 : 1);
  }
  t_teardown(&f);
}

/* A close-delimited response ends its connection: the next GET opens one. */
static void
test_keepalive_close_delimited_response_is_not_reused(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  uint32_t reused = 99;
  assert_int_equal(
      get_conn_id(f.connect, "/bytes/100?framing=close", NULL, NULL), 1);
  assert_int_equal(get_conn_id(f.connect, "/bytes/100", &reused, NULL), 2);
  assert_int_equal(reused, 0);
  t_teardown(&f);
}

/* AH_FLAG_NO_KEEP_ALIVE sends Connection: close and does not reuse. */
static void
test_keepalive_no_keep_alive_flag_sends_connection_close(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle req = NULL;
  assert_ah(ah_open_request(f.connect, "GET", "/echo", AH_FLAG_NO_KEEP_ALIVE,
                            NULL, &req),
            AH_OK);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_header_ulong(req, "X-Conn-Id"), 1);
  char *head = t_read_text(req);
  assert_non_null(strcasestr(head, "\r\nConnection: close\r\n"));
  free(head);
  t_close(req);
  uint32_t reused = 99;
  assert_int_equal(get_conn_id(f.connect, "/bytes/10", &reused, NULL), 2);
  assert_int_equal(reused, 0);
  t_teardown(&f);
}

/* The server closed the idle pooled connection: the next GET still works. */
static void test_keepalive_idle_closed_connection_is_replaced(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  assert_int_equal(
      get_conn_id(f.connect, "/bytes/10?idle_close_ms=50", NULL, NULL), 1);
  tu_sleep_ms(300);
  assert_int_equal(get_conn_id(f.connect, "/bytes/2000", NULL, NULL), 2);
  t_teardown(&f);
}

/*
 * close_next: the server reads the next request on the pooled connection
 * and closes it unanswered. A GET is idempotent, so the library sends it
 * again on a new connection and the caller sees only success.
 */
static void
test_keepalive_get_is_retried_when_pooled_connection_dies(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  assert_int_equal(get_conn_id(f.connect, "/bytes/10?close_next=1", NULL, NULL),
                   1);
  uint64_t total = 0;
  ah_handle req = t_get(f.connect, "/bytes/4000?retry=1", &total);
  assert_int_equal(total, 4000);
  assert_int_equal(t_header_ulong(req, "X-Conn-Id"), 2);
  t_close(req);
  char *log = ts_server_log(&f.server, 3, 5000);
  assert_non_null(log);
  size_t on_1 = log_count(log, 1, "GET /bytes/4000?retry=1");
  size_t on_2 = log_count(log, 2, "GET /bytes/4000?retry=1");
  if (on_1 > 1 || on_2 != 1) {
    fprintf(stderr, "server log:\n%s", log);
    free(log);
    fail_msg("the GET reached connection 1 %zu times and 2 %zu times", on_1,
             on_2);
  }
  free(log);
  t_teardown(&f);
}

/*
 * close_next before a POST: the POST reached the server once and was
 * dropped. It must not be replayed: it fails with CONNECTION_ABORTED or
 * CONNECTION_RESET, or succeeds only if the library had sent it on a new
 * connection in the first place. Either way the server saw it once.
 */
static void
test_keepalive_post_is_not_replayed_when_pooled_connection_dies(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  assert_int_equal(get_conn_id(f.connect, "/bytes/10?close_next=1", NULL, NULL),
                   1);
  ah_handle req = t_open_request(f.connect, "POST", "/upload?once=1");
  int err = t_done(req, ah_send_request(req, NULL, 0, "payload", 7), NULL);
  unsigned long conn = 0;
  if (err == AH_OK) {
    conn = t_header_ulong(req, "X-Conn-Id");
    char hex[65];
    assert_ah(t_read_all(req, 1000, 0, hex, NULL, NULL, NULL), AH_OK);
  } else if (err != AH_ERR_CONNECTION_ABORTED &&
             err != AH_ERR_CONNECTION_RESET) {
    fail_msg("POST on a dying pooled connection ended with %s",
             rec_code_name(err));
  }
  t_close(req);
  /* The connect handle still works afterwards. */
  uint64_t total = 0;
  req = t_get(f.connect, "/bytes/10", &total);
  t_close(req);
  /* Read the log before the teardown removes it. */
  char *log = ts_server_log(&f.server, 3, 5000);
  assert_non_null(log);
  size_t posts = log_count(log, 0, "POST /upload?once=1");
  size_t posts_on_1 = log_count(log, 1, "POST /upload?once=1");
  if (posts != 1) {
    fprintf(stderr, "server log:\n%s", log);
    free(log);
    fail_msg("the POST reached the server %zu times", posts);
  }
  if (err == AH_OK && posts_on_1 == 1) {
    fprintf(stderr, "server log:\n%s", log);
    free(log);
    fail_msg("the POST succeeded on connection %lu but had been sent on the "
             "dead connection 1",
             conn);
  }
  free(log);
  t_teardown(&f);
}

/*
 * Four GETs in flight at once on one connect handle: each gets a connection
 * of its own, reads interleave, and every body is intact. Then the four
 * pooled connections serve four more without new connects.
 */
static void
test_keepalive_parallel_requests_use_separate_connections(void **state) {
  (void)state;
  enum { N = 4 };
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  for (int round = 0; round < 2; round++) {
    ah_handle req[N];
    tu_sha256 *sha[N];
    static char buf[N][65536];
    size_t got[N];
    uint64_t total[N];
    int done[N];
    for (int i = 0; i < N; i++) {
      char target[64];
      snprintf(target, sizeof(target), "/bytes/%d?seed=%d", (1 << 20) + i,
               i + 1);
      req[i] = t_open_request(f.connect, "GET", target);
      assert_ah(ah_send_request(req[i], NULL, 0, NULL, 0), AH_IO_PENDING);
      sha[i] = tu_sha256_new();
      total[i] = 0;
      done[i] = 0;
    }
    for (int i = 0; i < N; i++)
      assert_done(req[i], AH_IO_PENDING);
    unsigned long ids[N];
    for (int i = 0; i < N; i++) {
      ids[i] = t_header_ulong(req[i], "X-Conn-Id");
      assert_int_equal(t_reused(req[i]), round == 0 ? 0 : 1);
      for (int j = 0; j < i; j++)
        assert_int_not_equal(ids[i], ids[j]);
      assert_true(ids[i] >= 1 && ids[i] <= N);
    }
    /* Start a read on each, then take completions as they come. */
    int left = N;
    for (int i = 0; i < N; i++)
      if (ah_read(req[i], buf[i], sizeof(buf[i]), &got[i]) != AH_IO_PENDING)
        fail_msg("a 64 KiB read of a 1 MiB body did not go pending");
    while (left > 0) {
      for (int i = 0; i < N; i++) {
        if (done[i])
          continue;
        ah_async_result r;
        if (!rec_wait_complete(req[i], 10, &r))
          continue;
        assert_ah(r.error, AH_OK);
        size_t n = (size_t)r.result;
        if (n == 0) {
          done[i] = 1;
          left--;
          continue;
        }
        tu_sha256_update(sha[i], buf[i], n);
        total[i] += n;
        int rc = ah_read(req[i], buf[i], sizeof(buf[i]), &got[i]);
        while (rc == AH_OK) {
          if (got[i] == 0) {
            done[i] = 1;
            left--;
            break;
          }
          tu_sha256_update(sha[i], buf[i], got[i]);
          total[i] += got[i];
          rc = ah_read(req[i], buf[i], sizeof(buf[i]), &got[i]);
        }
        if (rc != AH_OK && rc != AH_IO_PENDING)
          fail_msg("read: %s", rec_code_name(rc));
      }
    }
    for (int i = 0; i < N; i++) {
      char hex[65], want[80];
      tu_sha256_final_hex(sha[i], hex);
      assert_int_equal(total[i], (uint64_t)((1 << 20) + i));
      assert_ah(t_header(req[i], "X-Body-Sha256", want, sizeof(want)), AH_OK);
      assert_string_equal(hex, want);
      t_close(req[i]);
    }
  }
  t_teardown(&f);
}

/* Two sessions run on two I/O threads, side by side. */
static void test_keepalive_two_sessions_each_have_an_io_thread(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  ah_handle session2, connect2;
  open_connect(f.server.port, &session2, &connect2);
  ah_handle a = t_open_request(f.connect, "GET", "/bytes/200000");
  ah_handle b = t_open_request(connect2, "GET", "/bytes/200000");
  assert_ah(ah_send_request(a, NULL, 0, NULL, 0), AH_IO_PENDING);
  assert_ah(ah_send_request(b, NULL, 0, NULL, 0), AH_IO_PENDING);
  assert_done(a, AH_IO_PENDING);
  assert_done(b, AH_IO_PENDING);
  assert_int_not_equal(t_header_ulong(a, "X-Conn-Id"),
                       t_header_ulong(b, "X-Conn-Id"));
  char hex[65];
  assert_ah(t_read_all(a, 65536, 0, hex, NULL, NULL, NULL), AH_OK);
  assert_ah(t_read_all(b, 65536, 0, hex, NULL, NULL, NULL), AH_OK);
  t_close(a);
  t_close(b);
  assert_int_equal(rec_thread_count(), 2);
  /* Each handle's callbacks all came on one thread. */
  ah_handle hs[] = {a, b};
  for (int k = 0; k < 2; k++) {
    size_t n;
    rec_event *ev = rec_events(hs[k], &n);
    for (size_t i = 1; i < n; i++)
      assert_int_equal(ev[i].thread_no, ev[0].thread_no);
    free(ev);
  }
  /* The teardown checks both sessions' handles. */
  assert_ah(ah_close_handle(session2), AH_OK);
  assert_true(rec_wait_closing(session2, 10000));
  t_teardown(&f);
}

/* One entry a line: CMake reads the names from these lines. */
/* clang-format off */
static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_keepalive_nginx_sequential_gets_share_one_connection),
    cmocka_unit_test(test_keepalive_nginx_unread_body_then_get_is_correct),
    cmocka_unit_test(test_keepalive_server_sequential_gets_share_one_connection),
    cmocka_unit_test(test_keepalive_sync_sequential_gets_share_one_connection),
    cmocka_unit_test(test_keepalive_close_delimited_response_is_not_reused),
    cmocka_unit_test(test_keepalive_no_keep_alive_flag_sends_connection_close),
    cmocka_unit_test(test_keepalive_idle_closed_connection_is_replaced),
    cmocka_unit_test(test_keepalive_get_is_retried_when_pooled_connection_dies),
    cmocka_unit_test(test_keepalive_post_is_not_replayed_when_pooled_connection_dies),
    cmocka_unit_test(test_keepalive_parallel_requests_use_separate_connections),
    cmocka_unit_test(test_keepalive_two_sessions_each_have_an_io_thread),
};
/* clang-format on */

AH_TEST_MAIN(tests)
