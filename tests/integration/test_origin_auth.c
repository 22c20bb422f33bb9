/*
 * test_origin_auth.c - Basic authentication to the origin (issue 5): the
 * user and password given to ah_connect become "Authorization: Basic
 * base64(user:password)" (RFC 7617) on that origin's requests, checked
 * byte for byte in the scripted server's header log and by its
 * /auth/basic route; a 401 is a response, not an error; AH_FLAG_NO_AUTH
 * and the caller's own Authorization line; credentials taken from a URL
 * with ah_crack_url; nothing sent to another host after a redirect.
 *
 * The server's --log FILE has a companion FILE.headers whose lines are the
 * request line followed by "\t<name>: <value>" for every header field.
 */
#define _GNU_SOURCE

#include "test_main.h"

#include "ahtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

/* The nth `request` carried exactly one Authorization, `want` (or none
 * when want is NULL). */
static void assert_authorization(const ts_server *s, const char *request,
                                 size_t nth, const char *want) {
  t_assert_logged_field(s, request, nth, "authorization", want);
}

static ah_handle connect_as(t_fixture *f, const char *host, const char *user,
                            const char *password) {
  return t_connect(f->session, host, f->server.port, user, password);
}

/* GET `target` with request `flags` and `headers`; returns the status. */
static uint32_t get_status(ah_handle connect, const char *target,
                           unsigned flags, const char *headers,
                           char **body_out) {
  ah_handle req = t_send_get(connect, target, flags, headers);
  uint32_t status = t_status_code(req);
  char *body = t_read_text(req);
  if (body_out != NULL)
    *body_out = body;
  else
    free(body);
  t_close(req);
  return status;
}

/* ---- the header ---- */

/* RFC 7617 section 2's example: Aladdin / open sesame. */
static void test_origin_auth_basic_header_exact(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle connect = connect_as(&f, "127.0.0.1", "Aladdin", "open sesame");
  char *body = NULL;
  assert_int_equal(get_status(connect,
                              "/auth/basic?user=Aladdin&pass=open%20sesame", 0,
                              NULL, &body),
                   200);
  assert_string_equal(body, "authenticated Aladdin\n");
  free(body);
  assert_authorization(&f.server,
                       "GET /auth/basic?user=Aladdin&pass=open%20sesame", 0,
                       "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  t_close(connect);
  t_teardown(&f);
}

/* Every request to the origin carries it, with and without a pooled
 * connection, whatever the method. */
static void test_origin_auth_every_request_carries_it(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle connect = connect_as(&f, "127.0.0.1", "alice", "wonder");
  for (int i = 0; i < 3; i++)
    assert_int_equal(get_status(connect, "/inspect", 0, NULL, NULL), 200);
  ah_handle req = t_open_request(connect, "POST", "/upload");
  assert_done(req, ah_send_request(req, NULL, 0, "data", 4));
  assert_int_equal(t_status_code(req), 200);
  free(t_read_text(req));
  t_close(req);
  for (size_t i = 0; i < 3; i++)
    assert_authorization(&f.server, "GET /inspect", i,
                         "Basic YWxpY2U6d29uZGVy");
  assert_authorization(&f.server, "POST /upload", 0, "Basic YWxpY2U6d29uZGVy");
  t_close(connect);
  t_teardown(&f);
}

/* An empty or missing password is "user:" (RFC 7617 section 2). */
static void bob_password_case(const char *password) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle connect = connect_as(&f, "127.0.0.1", "bob", password);
  assert_int_equal(
      get_status(connect, "/auth/basic?user=bob&pass=", 0, NULL, NULL), 200);
  assert_authorization(&f.server, "GET /auth/basic?user=bob&pass=", 0,
                       "Basic Ym9iOg==");
  t_close(connect);
  t_teardown(&f);
}

static void test_origin_auth_null_password(void **state) {
  (void)state;
  bob_password_case(NULL);
}

static void test_origin_auth_empty_password(void **state) {
  (void)state;
  bob_password_case("");
}

/* A colon in the password is fine (only the user may not have one). */
static void test_origin_auth_colon_in_password(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle connect = connect_as(&f, "127.0.0.1", "u", "p:ss:word");
  assert_int_equal(get_status(connect, "/auth/basic?user=u&pass=p%3Ass%3Aword",
                              0, NULL, NULL),
                   200);
  assert_authorization(&f.server, "GET /auth/basic?user=u&pass=p%3Ass%3Aword",
                       0, "Basic dTpwOnNzOndvcmQ=");
  t_close(connect);
  t_teardown(&f);
}

/* Padding lengths: user:password of 3k, 3k+1 and 3k+2 bytes. */
static void test_origin_auth_base64_padding(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  static const struct {
    const char *user, *pass, *want;
  } cases[] = {{"ab", "c", "Basic YWI6Yw=="},
               {"ab", "cd", "Basic YWI6Y2Q="},
               {"ab", "cde", "Basic YWI6Y2Rl"}};
  for (size_t i = 0; i < 3; i++) {
    ah_handle connect =
        connect_as(&f, "127.0.0.1", cases[i].user, cases[i].pass);
    assert_int_equal(get_status(connect, "/inspect", 0, NULL, NULL), 200);
    assert_authorization(&f.server, "GET /inspect", i, cases[i].want);
    t_close(connect);
  }
  t_teardown(&f);
}

/* UTF-8 is sent as its bytes (RFC 7617 charset="UTF-8"). */
static void test_origin_auth_utf8_credentials(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  /* "test" and "123£" in UTF-8: RFC 7617 section 2.1's example. */
  ah_handle connect = connect_as(&f, "127.0.0.1", "test", "123\xc2\xa3");
  assert_int_equal(get_status(connect, "/inspect", 0, NULL, NULL), 200);
  assert_authorization(&f.server, "GET /inspect", 0, "Basic dGVzdDoxMjPCow==");
  t_close(connect);
  t_teardown(&f);
}

/* ---- 401 ---- */

/* A wrong password: the 401 is the response, with its challenge. */
static void test_origin_auth_401_is_a_response(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle connect = connect_as(&f, "127.0.0.1", "alice", "wrong");
  ah_handle req =
      t_open_request(connect, "GET", "/auth/basic?user=alice&pass=right");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 401);
  char challenge[128];
  assert_ah(t_header(req, "WWW-Authenticate", challenge, sizeof(challenge)),
            AH_OK);
  assert_string_equal(challenge, "Basic realm=\"ahttp-test\"");
  char *body = t_read_text(req);
  assert_string_equal(body, "unauthorized\n");
  free(body);
  /* Sent once: ahttp does not retry with other credentials. */
  char *log = ts_server_log(&f.server, 1, 5000);
  assert_int_equal(tu_count_lines_with(log, "/auth/basic"), 1);
  free(log);
  t_close(req);
  t_close(connect);
  t_teardown(&f);
}

/* Without credentials nothing is sent, and the answer is 401. */
static void test_origin_auth_none_without_user(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  assert_int_equal(get_status(f.connect, "/auth/basic", 0, NULL, NULL), 401);
  assert_authorization(&f.server, "GET /auth/basic", 0, NULL);
  t_teardown(&f);
}

static void test_origin_auth_sync_session(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, 0, 1);
  ah_handle connect = connect_as(&f, "127.0.0.1", "user", "pass");
  assert_int_equal(get_status(connect, "/auth/basic", 0, NULL, NULL), 200);
  t_close(connect);
  t_teardown(&f);
}

/* ---- turning it off, overriding it ---- */

static void test_origin_auth_no_auth_flag(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle connect = connect_as(&f, "127.0.0.1", "user", "pass");
  assert_int_equal(
      get_status(connect, "/auth/basic", AH_FLAG_NO_AUTH, NULL, NULL), 401);
  assert_authorization(&f.server, "GET /auth/basic", 0, NULL);
  /* Only that request: the next one without the flag authenticates. */
  assert_int_equal(get_status(connect, "/auth/basic", 0, NULL, NULL), 200);
  assert_authorization(&f.server, "GET /auth/basic", 1, "Basic dXNlcjpwYXNz");
  t_close(connect);
  t_teardown(&f);
}

static void test_origin_auth_caller_authorization_wins(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle connect = connect_as(&f, "127.0.0.1", "user", "pass");
  assert_int_equal(get_status(connect, "/auth/basic", 0,
                              "authorization: Bearer abc.def\r\n", NULL),
                   401);
  assert_authorization(&f.server, "GET /auth/basic", 0, "Bearer abc.def");
  t_close(connect);
  t_teardown(&f);
}

/* ---- credentials from a URL ---- */

static void test_origin_auth_from_cracked_url(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  char url[256];
  snprintf(url, sizeof(url),
           "http://al%%69ce:p%%40ss%%3Aw@127.0.0.1:%u/auth/basic?user=alice&"
           "pass=p%%40ss%%3Aw#frag",
           (unsigned)f.server.port);
  ah_url_parts parts;
  assert_ah(ah_crack_url(url, &parts), AH_OK);
  assert_string_equal(parts.user, "alice");
  assert_string_equal(parts.password, "p@ss:w");
  assert_string_equal(parts.target, "/auth/basic?user=alice&pass=p%40ss%3Aw");
  ah_handle connect =
      t_connect(f.session, parts.host, parts.port, parts.user, parts.password);
  char *body = NULL;
  assert_int_equal(get_status(connect, parts.target, 0, NULL, &body), 200);
  assert_string_equal(body, "authenticated alice\n");
  free(body);
  ah_url_parts_free(&parts);
  t_close(connect);
  t_teardown(&f);
}

/* ---- another host after a redirect ---- */

/*
 * 127.0.0.1 -> localhost (same port, another host): no Authorization
 * there, over plain HTTP or otherwise; the first hop had it.
 */
static void
test_origin_auth_not_sent_to_other_host_after_redirect(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle connect = connect_as(&f, "127.0.0.1", "user", "pass");
  char target[256];
  snprintf(target, sizeof(target),
           "/redirect/307?to=http%%3A%%2F%%2Flocalhost%%3A%u%%2Fauth%%2Fbasic",
           (unsigned)f.server.port);
  char *body = NULL;
  assert_int_equal(get_status(connect, target, 0, NULL, &body), 401);
  free(body);
  char first[300];
  snprintf(first, sizeof(first), "GET %s", target);
  assert_authorization(&f.server, first, 0, "Basic dXNlcjpwYXNz");
  assert_authorization(&f.server, "GET /auth/basic", 0, NULL);
  t_close(connect);
  t_teardown(&f);
}

/* A redirect within the origin keeps it. */
static void test_origin_auth_kept_on_same_origin_redirect(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle connect = connect_as(&f, "127.0.0.1", "user", "pass");
  assert_int_equal(
      get_status(connect, "/redirect/302?to=%2Fauth%2Fbasic", 0, NULL, NULL),
      200);
  assert_authorization(&f.server, "GET /auth/basic", 0, "Basic dXNlcjpwYXNz");
  t_close(connect);
  t_teardown(&f);
}

/* One entry a line: CMake reads the names from these lines. */
/* clang-format off */
static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_origin_auth_basic_header_exact),
    cmocka_unit_test(test_origin_auth_every_request_carries_it),
    cmocka_unit_test(test_origin_auth_null_password),
    cmocka_unit_test(test_origin_auth_empty_password),
    cmocka_unit_test(test_origin_auth_colon_in_password),
    cmocka_unit_test(test_origin_auth_base64_padding),
    cmocka_unit_test(test_origin_auth_utf8_credentials),
    cmocka_unit_test(test_origin_auth_401_is_a_response),
    cmocka_unit_test(test_origin_auth_none_without_user),
    cmocka_unit_test(test_origin_auth_sync_session),
    cmocka_unit_test(test_origin_auth_no_auth_flag),
    cmocka_unit_test(test_origin_auth_caller_authorization_wins),
    cmocka_unit_test(test_origin_auth_from_cracked_url),
    cmocka_unit_test(test_origin_auth_not_sent_to_other_host_after_redirect),
    cmocka_unit_test(test_origin_auth_kept_on_same_origin_redirect),
};
/* clang-format on */

AH_TEST_MAIN(tests)
