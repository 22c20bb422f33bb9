/*
 * test_redirect.c - redirects through the public API against the scripted
 * server (issue 5): chains of every code for GET and POST with the method
 * and body the server saw, relative Locations, bodies streamed by the
 * caller (AH_ERR_REDIRECT_NEEDS_BODY), AH_FLAG_NO_AUTO_REDIRECT,
 * AH_OPTION_MAX_REDIRECTS at its exact boundary, loops, refused targets,
 * credentials and cookies kept to their origin (asserted from a second
 * server's header log), the REDIRECT status and its place among the
 * others, AH_INFO_URL, connection reuse across a hop, and https -> http.
 *
 * Two servers on different ports are two origins. The server's --log FILE
 * has a companion FILE.headers whose lines are the request line followed
 * by "\t<name>: <value>" for every header field the request carried.
 */
#define _GNU_SOURCE

#include "test_main.h"

#include "ahtest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1u << 20)

/* ---- helpers ---- */

/* "http://127.0.0.1:<port><path>" in a rotating static buffer. */
static const char *url_of(const ts_server *s, const char *path) {
  static char bufs[4][2048];
  static unsigned next;
  char *out = bufs[next++ % 4];
  snprintf(out, sizeof(bufs[0]), "http://127.0.0.1:%u%s", (unsigned)s->port,
           path);
  return out;
}

/*
 * The server's request log as "METHOD target" lines (connection ids
 * dropped), once it has `min_lines`. Malloc'd.
 */
static char *requests_seen(const ts_server *s, size_t min_lines) {
  char *log = ts_server_log(s, min_lines, 5000);
  assert_non_null(log);
  char *out = malloc(strlen(log) + 1);
  assert_non_null(out);
  size_t k = 0;
  for (char *line = log; *line != '\0';) {
    char *end = strchr(line, '\n');
    if (end == NULL)
      break;
    char *sp = memchr(line, ' ', (size_t)(end - line));
    if (sp != NULL) {
      memcpy(out + k, sp + 1, (size_t)(end - sp));
      k += (size_t)(end - sp);
    }
    line = end + 1;
  }
  out[k] = '\0';
  free(log);
  return out;
}

static void assert_requests_seen(const ts_server *s, size_t lines,
                                 const char *want) {
  char *got = requests_seen(s, lines);
  int same = strcmp(got, want) == 0;
  if (!same)
    fprintf(stderr, "server saw:\n%s---\nexpected:\n%s---\n", got, want);
  free(got);
  if (!same)
    fail_msg("the server saw other requests than expected");
}

/* A string query (AH_INFO_URL, AH_INFO_REDIRECT_URL ...) into buf. */
static int info_text(ah_handle req, int info, char *buf, size_t cap) {
  size_t len = cap;
  buf[0] = '\0';
  int rc = ah_query_info(req, info, NULL, 0, buf, &len);
  if (rc == AH_OK && strlen(buf) != len)
    fail_msg("query %d: length %zu does not match \"%s\"", info, len, buf);
  return rc;
}

static void assert_info_text(ah_handle req, int info, const char *want) {
  char buf[4096];
  assert_ah(info_text(req, info, buf, sizeof(buf)), AH_OK);
  assert_string_equal(buf, want);
}

/* The error detail of a handle, which must name `code`. */
static void assert_detail_has(ah_handle h, int code, const char *needle) {
  char detail[512] = "";
  assert_ah(ah_last_error_detail(h, detail, sizeof(detail)), code);
  if (strstr(detail, needle) == NULL)
    fail_msg("detail \"%s\" does not mention \"%s\"", detail, needle);
}

/* The /inspect body's line "<key> <value>" value, or "" if absent. */
static const char *inspect_value(const char *body, const char *key) {
  static char out[1024];
  size_t klen = strlen(key);
  out[0] = '\0';
  for (const char *line = body; *line != '\0';) {
    const char *end = strchr(line, '\n');
    if (end == NULL)
      end = line + strlen(line);
    if ((size_t)(end - line) > klen && strncmp(line, key, klen) == 0 &&
        line[klen] == ' ') {
      size_t n = (size_t)(end - line) - klen - 1;
      if (n >= sizeof(out))
        n = sizeof(out) - 1;
      memcpy(out, line + klen + 1, n);
      out[n] = '\0';
      return out;
    }
    line = *end != '\0' ? end + 1 : end;
  }
  return out;
}

/* The REDIRECT texts of `req`, in order, joined by '\n'. */
static void redirect_texts(ah_handle req, char *out, size_t cap) {
  size_t n;
  rec_event *ev = rec_events(req, &n);
  out[0] = '\0';
  for (size_t i = 0; i < n; i++)
    if (ev[i].status == AH_STATUS_REDIRECT) {
      size_t used = strlen(out);
      snprintf(out + used, cap - used, "%s\n", ev[i].text);
    }
  free(ev);
}

/* ---- chains of every code ---- */

/*
 * GET /chain/3?code=C: three hops, then /chain/0 answers; the server saw
 * four GETs without a body, REDIRECT named each new URL, AH_INFO_URL is
 * the last.
 */
static void get_chain_case(int code) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  char target[64], want[1024], path[64];
  snprintf(target, sizeof(target), "/chain/3?code=%d", code);
  ah_handle req = t_open_request(f.connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  char *body = t_read_text(req);
  assert_string_equal(inspect_value(body, "method"), "GET");
  assert_string_equal(inspect_value(body, "length"), "0");
  free(body);
  assert_int_equal(rec_count(req, AH_STATUS_REDIRECT), 3);
  char got[1024];
  redirect_texts(req, got, sizeof(got));
  want[0] = '\0';
  for (int n = 2; n >= 0; n--) {
    snprintf(path, sizeof(path), "/chain/%d?code=%d", n, code);
    size_t used = strlen(want);
    snprintf(want + used, sizeof(want) - used, "%s\n", url_of(&f.server, path));
  }
  assert_string_equal(got, want);
  snprintf(path, sizeof(path), "/chain/0?code=%d", code);
  assert_info_text(req, AH_INFO_URL, url_of(&f.server, path));
  snprintf(want, sizeof(want),
           "GET /chain/3?code=%d\nGET /chain/2?code=%d\n"
           "GET /chain/1?code=%d\nGET /chain/0?code=%d\n",
           code, code, code, code);
  assert_requests_seen(&f.server, 4, want);
  t_close(req);
  t_teardown(&f);
}

static void test_redirect_get_chain_301(void **state) {
  (void)state;
  get_chain_case(301);
}

static void test_redirect_get_chain_302(void **state) {
  (void)state;
  get_chain_case(302);
}

static void test_redirect_get_chain_303(void **state) {
  (void)state;
  get_chain_case(303);
}

static void test_redirect_get_chain_307(void **state) {
  (void)state;
  get_chain_case(307);
}

static void test_redirect_get_chain_308(void **state) {
  (void)state;
  get_chain_case(308);
}

/*
 * `method` with a body of `size` bytes through /chain/2?code=C. `keeps`:
 * 307/308 (and 301/302 for methods other than POST) keep the method and
 * send the body on every hop; otherwise the first hop turns it into a GET
 * without a body.
 */
static void body_chain_case(const char *method, int code, size_t size,
                            int keeps) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  char hex[65], target[64], len_text[32];
  unsigned char *data = tu_fill_new(size, (uint64_t)code, hex);
  snprintf(target, sizeof(target), "/chain/2?code=%d", code);
  snprintf(len_text, sizeof(len_text), "%zu", size);
  ah_handle req = t_open_request(f.connect, method, target);
  assert_done(req, ah_send_request(req, NULL, 0, data, size));
  assert_int_equal(t_status_code(req), 200);
  char *body = t_read_text(req);
  const char *last = keeps ? method : "GET";
  assert_string_equal(inspect_value(body, "method"), last);
  assert_string_equal(inspect_value(body, "length"), keeps ? len_text : "0");
  if (keeps)
    assert_string_equal(inspect_value(body, "sha256"), hex);
  free(body);
  char want[512];
  snprintf(want, sizeof(want),
           "%s /chain/2?code=%d\n%s /chain/1?code=%d\n%s /chain/0?code=%d\n",
           method, code, last, code, last, code);
  assert_requests_seen(&f.server, 3, want);
  /* The body went with the first request, and again only if kept. */
  char request[64];
  snprintf(request, sizeof(request), "%s /chain/2?code=%d", method, code);
  t_assert_logged_field(&f.server, request, 0, "content-length", len_text);
  for (int n = 1; n >= 0; n--) {
    snprintf(request, sizeof(request), "%s /chain/%d?code=%d", last, n, code);
    t_assert_logged_field(&f.server, request, 0, "content-length",
                          keeps ? len_text : NULL);
  }
  free(data);
  t_close(req);
  t_teardown(&f);
}

static void test_redirect_post_chain_301_becomes_get(void **state) {
  (void)state;
  body_chain_case("POST", 301, 1000, 0);
}

static void test_redirect_post_chain_302_becomes_get(void **state) {
  (void)state;
  body_chain_case("POST", 302, 1000, 0);
}

static void test_redirect_post_chain_303_becomes_get(void **state) {
  (void)state;
  body_chain_case("POST", 303, 1000, 0);
}

static void test_redirect_post_chain_307_resends_body(void **state) {
  (void)state;
  body_chain_case("POST", 307, 1000, 1);
}

static void test_redirect_post_chain_308_resends_body(void **state) {
  (void)state;
  body_chain_case("POST", 308, 1000, 1);
}

/* A bigger body (several socket writes) is re-sent whole too. */
static void test_redirect_post_307_resends_300k_body(void **state) {
  (void)state;
  body_chain_case("POST", 307, 300000, 1);
}

static void test_redirect_post_308_resends_300k_body(void **state) {
  (void)state;
  body_chain_case("POST", 308, 300000, 1);
}

/* 301 turns only POST into GET: PUT keeps its method and body. */
static void test_redirect_put_301_keeps_method_and_body(void **state) {
  (void)state;
  body_chain_case("PUT", 301, 2000, 1);
}

/* 303 turns PUT into GET as well. */
static void test_redirect_put_303_becomes_get(void **state) {
  (void)state;
  body_chain_case("PUT", 303, 2000, 0);
}

/* 303 leaves HEAD a HEAD. */
static void test_redirect_head_303_stays_head(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = t_open_request(f.connect, "HEAD", "/chain/1?code=303");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  assert_int_equal(t_header_ulong(req, "X-Received-Length"), 0);
  char method[16];
  assert_ah(t_header(req, "X-Method", method, sizeof(method)), AH_OK);
  assert_string_equal(method, "HEAD");
  assert_requests_seen(&f.server, 2,
                       "HEAD /chain/1?code=303\nHEAD /chain/0?code=303\n");
  t_close(req);
  t_teardown(&f);
}

/* A synchronous session follows inside the blocking ah_send_request. */
static void test_redirect_sync_session_follows(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, 0, 1);
  ah_handle req = t_open_request(f.connect, "GET", "/chain/2?code=302");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  assert_int_equal(rec_count(req, AH_STATUS_REDIRECT), 2);
  assert_int_equal(rec_count(req, AH_STATUS_REQUEST_COMPLETE), 0);
  assert_info_text(req, AH_INFO_URL, url_of(&f.server, "/chain/0?code=302"));
  char *body = t_read_text(req);
  assert_string_equal(inspect_value(body, "target"), "/chain/0?code=302");
  free(body);
  t_close(req);
  t_teardown(&f);
}

/* ---- relative Locations (RFC 3986 section 5) ---- */

/*
 * GET /redirect/302?to=<location>: the final request is `target`, which is
 * also the path of AH_INFO_URL.
 */
static void relative_case(const char *location, const char *final_target) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  char target[1024];
  snprintf(target, sizeof(target), "/redirect/302?to=%s", tu_pct(location));
  ah_handle req = t_open_request(f.connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  char *body = t_read_text(req);
  assert_string_equal(inspect_value(body, "target"), final_target);
  free(body);
  assert_info_text(req, AH_INFO_URL, url_of(&f.server, final_target));
  t_close(req);
  t_teardown(&f);
}

static void test_redirect_location_absolute_path(void **state) {
  (void)state;
  relative_case("/inspect?abs=1", "/inspect?abs=1");
}

static void test_redirect_location_dot_dot(void **state) {
  (void)state;
  relative_case("../inspect?up=1", "/inspect?up=1");
}

static void test_redirect_location_dot_segments(void **state) {
  (void)state;
  relative_case("./x/../../a/./b/../../inspect", "/inspect");
}

static void
test_redirect_location_too_many_dot_dots_stay_at_root(void **state) {
  (void)state;
  relative_case("../../../../inspect?deep=1", "/inspect?deep=1");
}

/*
 * "302?to=%2Finspect%3Fpath%3D1" from /redirect/302?...: the same
 * directory, a second hop, then /inspect.
 */
static void test_redirect_location_path_relative(void **state) {
  (void)state;
  relative_case("302?to=%2Finspect%3Fpath%3D1", "/inspect?path=1");
}

/* "?q" keeps the path and replaces the query. */
static void test_redirect_location_query_only(void **state) {
  (void)state;
  relative_case("?to=%2Finspect%3Fquery%3D1", "/inspect?query=1");
}

/* A fragment is never sent in a request target. */
static void test_redirect_location_fragment_not_sent(void **state) {
  (void)state;
  relative_case("/inspect?frag=1#section", "/inspect?frag=1");
}

/* "//host:port/p": a network-path reference keeps the scheme only. */
static void test_redirect_location_network_path(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ts_server other;
  assert_int_equal(ts_server_start(&other, 1), 0);
  char location[128], target[512];
  snprintf(location, sizeof(location), "//127.0.0.1:%u/inspect?net=1",
           (unsigned)other.port);
  snprintf(target, sizeof(target), "/redirect/302?to=%s", tu_pct(location));
  ah_handle req = t_open_request(f.connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  assert_info_text(req, AH_INFO_URL, url_of(&other, "/inspect?net=1"));
  char *body = t_read_text(req);
  assert_string_equal(inspect_value(body, "target"), "/inspect?net=1");
  free(body);
  assert_requests_seen(&other, 1, "GET /inspect?net=1\n");
  t_close(req);
  t_teardown(&f);
  ts_server_stop(&other);
}

/* A relative Location after a hop to another server resolves there. */
static void test_redirect_relative_after_cross_server_hop(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ts_server other;
  assert_int_equal(ts_server_start(&other, 1), 0);
  /* A: /redirect/302 -> B /chain/2?code=302&style=relative -> 1 -> 0. */
  char target[512];
  snprintf(target, sizeof(target), "/redirect/302?to=%s",
           tu_pct(url_of(&other, "/chain/2?code=302&style=relative")));
  ah_handle req = t_open_request(f.connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  assert_info_text(req, AH_INFO_URL,
                   url_of(&other, "/chain/0?code=302&style=relative"));
  assert_requests_seen(&other, 3,
                       "GET /chain/2?code=302&style=relative\n"
                       "GET /chain/1?code=302&style=relative\n"
                       "GET /chain/0?code=302&style=relative\n");
  t_close(req);
  t_teardown(&f);
  ts_server_stop(&other);
}

/* Location given as an absolute URL of the same server. */
static void test_redirect_location_absolute_url(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = t_open_request(f.connect, "GET", "/chain/2?style=url");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  assert_int_equal(rec_count(req, AH_STATUS_REDIRECT), 2);
  assert_info_text(req, AH_INFO_URL, url_of(&f.server, "/chain/0?style=url"));
  t_close(req);
  t_teardown(&f);
}

/* ---- bodies the caller streamed ---- */

/* Streams `size` bytes (seed 11) to `target` and ends the request. */
static int streamed_post(ah_handle req, size_t size, char hex[65]) {
  unsigned char *data = tu_fill_new(size, 11, hex);
  assert_done(req, ah_send_request_ex(req, NULL, 0, size));
  if (size > 0)
    assert_done(req, ah_write(req, data, size, NULL));
  free(data);
  return t_done(req, ah_end_request(req), NULL);
}

/*
 * A 307/308 to a streamed body: ah_end_request fails with
 * AH_ERR_REDIRECT_NEEDS_BODY, AH_INFO_REDIRECT_URL has the target, and
 * the target never saw a request.
 */
static void needs_body_case(int code) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  char target[256], hex[65], code_text[8];
  snprintf(target, sizeof(target), "/redirect/%d?to=%s", code,
           tu_pct("/inspect?again=1"));
  ah_handle req = t_open_request(f.connect, "POST", target);
  assert_ah(streamed_post(req, 5000, hex), AH_ERR_REDIRECT_NEEDS_BODY);
  assert_info_text(req, AH_INFO_REDIRECT_URL,
                   url_of(&f.server, "/inspect?again=1"));
  snprintf(code_text, sizeof(code_text), "%d", code);
  assert_detail_has(req, AH_ERR_REDIRECT_NEEDS_BODY, code_text);
  assert_int_equal(rec_count(req, AH_STATUS_REDIRECT), 0);
  /* No body is handed out as if the request had completed. */
  char buf[16];
  size_t n = 0;
  int rc = t_done(req, ah_read(req, buf, sizeof(buf), &n), NULL);
  if (rc == AH_OK)
    fail_msg("ah_read after AH_ERR_REDIRECT_NEEDS_BODY returned %zu bytes", n);
  char *seen = requests_seen(&f.server, 1);
  assert_null(strstr(seen, "/inspect"));
  free(seen);
  t_close(req);
  t_teardown(&f);
}

static void test_redirect_streamed_post_307_needs_body(void **state) {
  (void)state;
  needs_body_case(307);
}

static void test_redirect_streamed_post_308_needs_body(void **state) {
  (void)state;
  needs_body_case(308);
}

/*
 * What a caller does with AH_ERR_REDIRECT_NEEDS_BODY: crack the URL, send
 * the body again there; the server gets the same bytes.
 */
static void test_redirect_streamed_307_caller_resends(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ts_server other;
  assert_int_equal(ts_server_start(&other, 1), 0);
  char target[256], hex[65], again[65], url[512];
  snprintf(target, sizeof(target), "/redirect/307?to=%s",
           tu_pct(url_of(&other, "/inspect?second=1")));
  ah_handle req = t_open_request(f.connect, "POST", target);
  assert_ah(streamed_post(req, 70000, hex), AH_ERR_REDIRECT_NEEDS_BODY);
  assert_ah(info_text(req, AH_INFO_REDIRECT_URL, url, sizeof(url)), AH_OK);
  t_close(req);
  ah_url_parts parts;
  assert_ah(ah_crack_url(url, &parts), AH_OK);
  assert_string_equal(parts.scheme, "http");
  assert_string_equal(parts.host, "127.0.0.1");
  assert_int_equal(parts.port, other.port);
  assert_string_equal(parts.target, "/inspect?second=1");
  ah_handle connect = t_connect(f.session, parts.host, parts.port, NULL, NULL);
  req = t_open_request(connect, "POST", parts.target);
  ah_url_parts_free(&parts);
  assert_ah(streamed_post(req, 70000, again), AH_OK);
  assert_string_equal(again, hex);
  char *body = t_read_text(req);
  assert_string_equal(inspect_value(body, "sha256"), hex);
  assert_string_equal(inspect_value(body, "length"), "70000");
  free(body);
  t_close(req);
  t_close(connect);
  t_teardown(&f);
  ts_server_stop(&other);
}

/* 303 (and 302) to a streamed POST: no body needed, followed as GET. */
static void streamed_becomes_get_case(int code) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  char target[256], hex[65];
  snprintf(target, sizeof(target), "/redirect/%d?to=%s", code,
           tu_pct("/inspect?after=1"));
  ah_handle req = t_open_request(f.connect, "POST", target);
  assert_ah(streamed_post(req, 5000, hex), AH_OK);
  assert_int_equal(t_status_code(req), 200);
  char *body = t_read_text(req);
  assert_string_equal(inspect_value(body, "method"), "GET");
  assert_string_equal(inspect_value(body, "length"), "0");
  free(body);
  assert_int_equal(rec_count(req, AH_STATUS_REDIRECT), 1);
  t_close(req);
  t_teardown(&f);
}

static void test_redirect_streamed_post_303_followed_as_get(void **state) {
  (void)state;
  streamed_becomes_get_case(303);
}

static void test_redirect_streamed_post_302_followed_as_get(void **state) {
  (void)state;
  streamed_becomes_get_case(302);
}

/* A streamed body of 0 bytes has nothing to send again: 307 is followed. */
static void test_redirect_streamed_empty_post_307_followed(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  char target[256], hex[65];
  snprintf(target, sizeof(target), "/redirect/307?to=%s", tu_pct("/inspect"));
  ah_handle req = t_open_request(f.connect, "POST", target);
  assert_ah(streamed_post(req, 0, hex), AH_OK);
  assert_int_equal(t_status_code(req), 200);
  char *body = t_read_text(req);
  assert_string_equal(inspect_value(body, "method"), "POST");
  assert_string_equal(inspect_value(body, "length"), "0");
  free(body);
  t_close(req);
  t_teardown(&f);
}

/*
 * The server answers 307 before it read the body (and closes): the body is
 * sent again whole, on a new connection. `expect_size` 0: no Expect, the
 * body is in flight when the 307 comes; else Expect: 100-continue, and the
 * 307 comes instead of the 100.
 */
static void early_307_case(uint64_t expect_size) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  t_set_u64(f.connect, AH_OPTION_EXPECT_CONTINUE_SIZE, expect_size);
  size_t size = 4 * MIB;
  char hex[65], len_text[32];
  unsigned char *data = tu_fill_new(size, 21, hex);
  snprintf(len_text, sizeof(len_text), "%zu", size);
  ah_handle req =
      t_open_request(f.connect, "POST", "/redirect/307?to=%2Finspect&early=1");
  assert_done(req, ah_send_request(req, NULL, 0, data, size));
  free(data);
  assert_int_equal(t_status_code(req), 200);
  char *body = t_read_text(req);
  assert_string_equal(inspect_value(body, "method"), "POST");
  assert_string_equal(inspect_value(body, "length"), len_text);
  assert_string_equal(inspect_value(body, "sha256"), hex);
  free(body);
  assert_int_equal(t_header_ulong(req, "X-Conn-Id"), 2);
  t_close(req);
  t_teardown(&f);
}

static void test_redirect_307_before_body_read_resends(void **state) {
  (void)state;
  early_307_case(0);
}

static void test_redirect_307_instead_of_100_resends(void **state) {
  (void)state;
  early_307_case(1);
}

/* Closing the request from inside its REDIRECT callback cancels it. */
static void close_on_redirect_hook(ah_handle handle, int status,
                                   const void *info, size_t info_len,
                                   void *context, void *arg) {
  (void)info;
  (void)info_len;
  (void)context;
  (void)arg;
  if (status == AH_STATUS_REDIRECT)
    ah_close_handle(handle);
}

static void test_redirect_close_in_redirect_callback(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  rec_set_hook(close_on_redirect_hook, NULL);
  ah_handle req = t_open_request(f.connect, "GET", "/chain/3");
  int rc = ah_send_request(req, NULL, 0, NULL, 0);
  assert_ah(rc, AH_IO_PENDING);
  ah_async_result r;
  assert_true(rec_wait_complete(req, REC_TIMEOUT_MS, &r));
  assert_ah(r.error, AH_ERR_OPERATION_CANCELLED);
  assert_true(rec_wait_closing(req, REC_TIMEOUT_MS));
  assert_rec(rec_check_closed(req, REC_WHY));
  assert_int_equal(rec_count(req, AH_STATUS_REDIRECT), 1);
  /* The connection is still good for the next request. */
  rec_set_hook(NULL, NULL);
  ah_handle next = t_open_request(f.connect, "GET", "/inspect");
  assert_done(next, ah_send_request(next, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(next), 200);
  free(t_read_text(next));
  t_close(next);
  t_teardown(&f);
}

/* ---- AH_FLAG_NO_AUTO_REDIRECT ---- */

/* A streamed POST meets a 307 that is not to be followed: the 307 is
 * delivered, no AH_ERR_REDIRECT_NEEDS_BODY. */
static void test_redirect_no_auto_redirect_streamed_307(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  char hex[65];
  ah_handle req = t_open_request_ex(f.connect, "POST",
                                    "/redirect/307?to=%2Finspect%3Fnext%3D1",
                                    AH_FLAG_NO_AUTO_REDIRECT);
  assert_ah(streamed_post(req, 3000, hex), AH_OK);
  assert_int_equal(t_status_code(req), 307);
  assert_info_text(req, AH_INFO_REDIRECT_URL,
                   url_of(&f.server, "/inspect?next=1"));
  char *body = t_read_text(req);
  assert_string_equal(body, "redirect 307\n");
  free(body);
  t_close(req);
  t_teardown(&f);
}

static void test_redirect_no_auto_redirect_delivers_3xx(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  char target[256];
  snprintf(target, sizeof(target), "/redirect/301?to=%s",
           tu_pct("../inspect?a=1"));
  ah_handle req =
      t_open_request_ex(f.connect, "GET", target, AH_FLAG_NO_AUTO_REDIRECT);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 301);
  char location[256];
  assert_ah(t_header(req, "Location", location, sizeof(location)), AH_OK);
  assert_string_equal(location, "../inspect?a=1");
  assert_info_text(req, AH_INFO_REDIRECT_URL,
                   url_of(&f.server, "/inspect?a=1"));
  assert_info_text(req, AH_INFO_URL, url_of(&f.server, target));
  char *body = t_read_text(req);
  assert_string_equal(body, "redirect 301\n");
  free(body);
  assert_int_equal(rec_count(req, AH_STATUS_REDIRECT), 0);
  char want[300];
  snprintf(want, sizeof(want), "GET %s\n", target);
  tu_sleep_ms(100); /* a stray follow-up would be logged by now */
  assert_requests_seen(&f.server, 1, want);
  t_close(req);
  t_teardown(&f);
}

/* The 3xx's connection goes back to the pool once its body was read. */
static void test_redirect_no_auto_redirect_connection_reused(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = t_open_request_ex(f.connect, "GET", "/redirect/302?to=%2Fx",
                                    AH_FLAG_NO_AUTO_REDIRECT);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 302);
  free(t_read_text(req));
  t_close(req);
  req = t_open_request(f.connect, "GET", "/inspect");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_reused(req), 1);
  assert_int_equal(t_header_ulong(req, "X-Req-On-Conn"), 2);
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

/* After a followed redirect there is no unfollowed one to report. */
static void test_redirect_url_not_found_when_followed(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = t_open_request(f.connect, "GET", "/chain/1");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  char buf[256];
  assert_ah(info_text(req, AH_INFO_REDIRECT_URL, buf, sizeof(buf)),
            AH_ERR_HEADER_NOT_FOUND);
  t_close(req);
  t_teardown(&f);
}

/* A 3xx without Location, and a 300, are answers, not redirects. */
static void test_redirect_3xx_without_location_is_the_answer(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = t_open_request(f.connect, "GET", "/redirect/302");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 302);
  char *body = t_read_text(req);
  assert_string_equal(body, "redirect 302\n");
  free(body);
  assert_int_equal(rec_count(req, AH_STATUS_REDIRECT), 0);
  t_close(req);
  t_teardown(&f);
}

static void test_redirect_300_is_not_followed(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = t_open_request(f.connect, "GET", "/redirect/300?to=%2Fx");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 300);
  assert_int_equal(rec_count(req, AH_STATUS_REDIRECT), 0);
  char *body = t_read_text(req);
  assert_string_equal(body, "redirect 300\n");
  free(body);
  t_close(req);
  t_teardown(&f);
}

/* ---- how many ---- */

/*
 * /chain/<hops> with AH_OPTION_MAX_REDIRECTS `max` (set on `where`: 0 the
 * session, 1 the connect handle, 2 the request; max < 0 leaves the
 * default): success when hops <= max, else AH_ERR_TOO_MANY_REDIRECTS after
 * max + 1 requests.
 */
static void max_case(int max, int where, int hops) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  char target[64];
  snprintf(target, sizeof(target), "/chain/%d", hops);
  if (max >= 0 && where == 0)
    t_set_u32(f.session, AH_OPTION_MAX_REDIRECTS, (uint32_t)max);
  ah_handle connect =
      t_connect(f.session, "127.0.0.1", f.server.port, NULL, NULL);
  if (max >= 0 && where == 1)
    t_set_u32(connect, AH_OPTION_MAX_REDIRECTS, (uint32_t)max);
  ah_handle req = t_open_request(connect, "GET", target);
  if (max >= 0 && where == 2)
    t_set_u32(req, AH_OPTION_MAX_REDIRECTS, (uint32_t)max);
  int limit = max >= 0 ? max : 10;
  int rc = t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL);
  if (hops <= limit) {
    assert_ah(rc, AH_OK);
    assert_int_equal(t_status_code(req), 200);
    assert_int_equal(rec_count(req, AH_STATUS_REDIRECT), (size_t)hops);
  } else {
    assert_ah(rc, AH_ERR_TOO_MANY_REDIRECTS);
    assert_int_equal(rec_count(req, AH_STATUS_REDIRECT), (size_t)limit);
    assert_detail_has(req, AH_ERR_TOO_MANY_REDIRECTS, "redirect");
  }
  /* The server saw exactly the hops that were made. */
  size_t requests = (size_t)(hops <= limit ? hops + 1 : limit + 1);
  tu_sleep_ms(100);
  char *log = ts_server_log(&f.server, requests, 5000);
  size_t lines = tu_count_lines_with(log, "GET /chain/");
  free(log);
  assert_int_equal(lines, requests);
  t_close(req);
  t_close(connect);
  t_teardown(&f);
}

static void test_redirect_default_max_allows_10(void **state) {
  (void)state;
  max_case(-1, 0, 10);
}

static void test_redirect_default_max_refuses_11(void **state) {
  (void)state;
  max_case(-1, 0, 11);
}

static void test_redirect_max_3_on_session_allows_3(void **state) {
  (void)state;
  max_case(3, 0, 3);
}

static void test_redirect_max_3_on_session_refuses_4(void **state) {
  (void)state;
  max_case(3, 0, 4);
}

static void test_redirect_max_2_on_connect_refuses_3(void **state) {
  (void)state;
  max_case(2, 1, 3);
}

static void test_redirect_max_5_on_request_allows_5(void **state) {
  (void)state;
  max_case(5, 2, 5);
}

static void test_redirect_max_5_on_request_refuses_6(void **state) {
  (void)state;
  max_case(5, 2, 6);
}

static void test_redirect_max_0_refuses_the_first(void **state) {
  (void)state;
  max_case(0, 2, 1);
}

static void test_redirect_max_0_allows_no_redirect(void **state) {
  (void)state;
  max_case(0, 2, 0);
}

static void test_redirect_max_option_default_is_10(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 0);
  assert_int_equal(t_get_u32(f.session, AH_OPTION_MAX_REDIRECTS), 10);
  uint16_t small = 1;
  assert_ah(
      ah_set_option(f.session, AH_OPTION_MAX_REDIRECTS, &small, sizeof(small)),
      AH_ERR_INVALID_PARAMETER);
  t_teardown(&f);
}

/* /loop/a <-> /loop/b: AH_ERR_TOO_MANY_REDIRECTS after max + 1 requests. */
static void loop_case(int max, int code) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  char target[64];
  snprintf(target, sizeof(target), "/loop/a?code=%d", code);
  ah_handle req = t_open_request(f.connect, "GET", target);
  if (max >= 0)
    t_set_u32(req, AH_OPTION_MAX_REDIRECTS, (uint32_t)max);
  int limit = max >= 0 ? max : 10;
  assert_ah(t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL),
            AH_ERR_TOO_MANY_REDIRECTS);
  assert_int_equal(rec_count(req, AH_STATUS_REDIRECT), (size_t)limit);
  tu_sleep_ms(100);
  char *log = ts_server_log(&f.server, (size_t)limit + 1, 5000);
  assert_int_equal(tu_count_lines_with(log, "GET /loop/"), (size_t)limit + 1);
  free(log);
  t_close(req);
  t_teardown(&f);
}

static void test_redirect_loop_is_too_many_redirects(void **state) {
  (void)state;
  loop_case(-1, 302);
}

static void test_redirect_loop_308_with_max_4(void **state) {
  (void)state;
  loop_case(4, 308);
}

/* ---- refused targets ---- */

/* The Location `location` is refused; detail mentions `why`. */
static void refused_case(const char *location, const char *why) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  char target[512];
  snprintf(target, sizeof(target), "/redirect/302?to=%s", tu_pct(location));
  ah_handle req = t_open_request(f.connect, "GET", target);
  assert_ah(t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL),
            AH_ERR_REDIRECT_REFUSED);
  assert_detail_has(req, AH_ERR_REDIRECT_REFUSED, why);
  assert_int_equal(rec_count(req, AH_STATUS_REDIRECT), 0);
  char want[600];
  snprintf(want, sizeof(want), "GET %s\n", target);
  tu_sleep_ms(100);
  assert_requests_seen(&f.server, 1, want);
  t_close(req);
  t_teardown(&f);
}

static void test_redirect_to_ftp_refused(void **state) {
  (void)state;
  refused_case("ftp://127.0.0.1/file", "scheme");
}

static void test_redirect_to_file_refused(void **state) {
  (void)state;
  refused_case("file:///etc/passwd", "scheme");
}

/* Not a hierarchical URL at all: refused, whichever reason is given. */
static void test_redirect_to_javascript_refused(void **state) {
  (void)state;
  refused_case("javascript:alert(1)", "redirect");
}

static void test_redirect_to_invalid_url_refused(void **state) {
  (void)state;
  refused_case("http://[::1/x", "URL");
}

static void test_redirect_to_bad_port_refused(void **state) {
  (void)state;
  refused_case("http://127.0.0.1:99999/x", "URL");
}

/* ---- credentials and cookies across origins ---- */

/*
 * A connect handle with user/password and the caller's own Cookie,
 * Authorization-free extra lines: the same-origin hop keeps everything.
 */
static void test_redirect_same_origin_keeps_credentials(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle connect =
      t_connect(f.session, "127.0.0.1", f.server.port, "alice", "wonder");
  char target[256];
  snprintf(target, sizeof(target), "/redirect/302?to=%s",
           tu_pct(url_of(&f.server, "/inspect?same=1")));
  ah_handle req = t_open_request(connect, "GET", target);
  static const char hdr[] = "Cookie: mine=1\r\nX-Keep: yes\r\n";
  assert_done(req, ah_send_request(req, hdr, strlen(hdr), NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  free(t_read_text(req));
  t_assert_logged_field(&f.server, "GET /inspect?same=1", 0, "authorization",
                        "Basic YWxpY2U6d29uZGVy");
  t_assert_logged_field(&f.server, "GET /inspect?same=1", 0, "cookie",
                        "mine=1");
  t_assert_logged_field(&f.server, "GET /inspect?same=1", 0, "x-keep", "yes");
  t_close(req);
  t_close(connect);
  t_teardown(&f);
}

/*
 * To another port (another origin): the Authorization built from the
 * connect handle's user and password stays behind.
 */
static void test_redirect_cross_origin_strips_basic_auth(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ts_server other;
  assert_int_equal(ts_server_start(&other, 1), 0);
  ah_handle connect =
      t_connect(f.session, "127.0.0.1", f.server.port, "alice", "wonder");
  char target[256];
  snprintf(target, sizeof(target), "/redirect/302?to=%s",
           tu_pct(url_of(&other, "/inspect?cross=1")));
  ah_handle req = t_open_request(connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  free(t_read_text(req));
  char first[300];
  snprintf(first, sizeof(first), "GET %s", target);
  t_assert_logged_field(&f.server, first, 0, "authorization",
                        "Basic YWxpY2U6d29uZGVy");
  t_assert_logged_field(&other, "GET /inspect?cross=1", 0, "authorization",
                        NULL);
  t_close(req);
  t_close(connect);
  t_teardown(&f);
  ts_server_stop(&other);
}

/*
 * The caller's own Authorization and Cookie lines stay behind too; its
 * other lines go along.
 */
static void test_redirect_cross_origin_strips_caller_lines(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ts_server other;
  assert_int_equal(ts_server_start(&other, 1), 0);
  char target[256];
  snprintf(target, sizeof(target), "/redirect/307?to=%s",
           tu_pct(url_of(&other, "/inspect?cross=2")));
  ah_handle req = t_open_request(f.connect, "POST", target);
  static const char hdr[] = "Authorization: Bearer secret-token\r\n"
                            "cookie: session=s3cr3t\r\n"
                            "X-Keep: yes";
  assert_done(req, ah_send_request(req, hdr, strlen(hdr), "body", 4));
  assert_int_equal(t_status_code(req), 200);
  char *body = t_read_text(req);
  assert_string_equal(inspect_value(body, "length"), "4");
  assert_string_equal(inspect_value(body, "authorization"), "");
  assert_string_equal(inspect_value(body, "cookie"), "");
  free(body);
  char first[300];
  snprintf(first, sizeof(first), "POST %s", target);
  t_assert_logged_field(&f.server, first, 0, "authorization",
                        "Bearer secret-token");
  t_assert_logged_field(&f.server, first, 0, "cookie", "session=s3cr3t");
  t_assert_logged_field(&other, "POST /inspect?cross=2", 0, "authorization",
                        NULL);
  t_assert_logged_field(&other, "POST /inspect?cross=2", 0, "cookie", NULL);
  t_assert_logged_field(&other, "POST /inspect?cross=2", 0, "x-keep", "yes");
  t_close(req);
  t_teardown(&f);
  ts_server_stop(&other);
}

/*
 * Jar cookies follow the jar's rules, not the origin: a host-only cookie
 * of 127.0.0.1 is not sent to "localhost" (another host) after a
 * redirect, but the one localhost set is.
 */
static void test_redirect_cross_host_jar_cookie_not_sent(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ts_server other;
  assert_int_equal(ts_server_start(&other, 1), 0);
  /* A cookie for 127.0.0.1, every path. */
  ah_handle req = t_open_request(f.connect, "GET",
                                 "/cookies/set?c=here%3D1%3B%20Path%3D%2F");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  free(t_read_text(req));
  t_close(req);
  /* 127.0.0.1 -> localhost:<other>/cookies/echo. */
  char location[256], target[512];
  snprintf(location, sizeof(location), "http://localhost:%u/cookies/echo",
           (unsigned)other.port);
  snprintf(target, sizeof(target), "/redirect/302?to=%s", tu_pct(location));
  req = t_open_request(f.connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  char *body = t_read_text(req);
  assert_string_equal(body, "");
  free(body);
  char first[600];
  snprintf(first, sizeof(first), "GET %s", target);
  t_assert_logged_field(&f.server, first, 0, "cookie", "here=1");
  t_assert_logged_field(&other, "GET /cookies/echo", 0, "cookie", NULL);
  /* The second hop resolved the other host's name. */
  size_t n;
  rec_event *ev = rec_events(req, &n);
  int resolved = 0;
  for (size_t i = 0; i < n; i++)
    if (ev[i].status == AH_STATUS_RESOLVING_NAME &&
        strcmp(ev[i].text, "localhost") == 0)
      resolved = 1;
  free(ev);
  assert_true(resolved);
  t_close(req);
  t_teardown(&f);
  ts_server_stop(&other);
}

/*
 * Cookies do not depend on the port (RFC 6265 section 8.5): a cookie of
 * 127.0.0.1 goes to 127.0.0.1 on another port too, even though the
 * caller's own Cookie line would not.
 */
static void test_redirect_other_port_gets_jar_cookie(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ts_server other;
  assert_int_equal(ts_server_start(&other, 1), 0);
  ah_handle req = t_open_request(f.connect, "GET", "/cookies/set?c=jar%3D1");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  free(t_read_text(req));
  t_close(req);
  char target[512];
  snprintf(target, sizeof(target), "/redirect/302?to=%s",
           tu_pct(url_of(&other, "/cookies/echo")));
  req = t_open_request(f.connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  char *body = t_read_text(req);
  assert_string_equal(body, "jar=1\n");
  free(body);
  t_close(req);
  t_teardown(&f);
  ts_server_stop(&other);
}

/* ---- the REDIRECT status ---- */

/*
 * REDIRECT comes after the 3xx was received and before the next hop's
 * SENDING_REQUEST; a hop over the pooled connection sends at once.
 */
static void test_redirect_status_order_same_connection(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = t_open_request(f.connect, "GET", "/chain/2");
  int rc = ah_send_request(req, NULL, 0, NULL, 0);
  assert_done(req, rc);
  free(t_read_text(req));
  assert_rec(rec_check_trace(req,
                             "^CrnckSs+V[Vv]*vRSs+V[Vv]*vRSs+V[Vv]*vD"
                             "[VvD]*$",
                             REC_WHY));
  char got[1024], want[1024];
  redirect_texts(req, got, sizeof(got));
  snprintf(want, sizeof(want), "%s\n%s\n", url_of(&f.server, "/chain/1"),
           url_of(&f.server, "/chain/0"));
  assert_string_equal(got, want);
  /* Every hop went over the first connection. */
  assert_int_equal(t_header_ulong(req, "X-Req-On-Conn"), 3);
  t_close(req);
  t_teardown(&f);
}

/* To another server: REDIRECT, then a new connection, then the send. */
static void test_redirect_status_order_new_connection(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ts_server other;
  assert_int_equal(ts_server_start(&other, 1), 0);
  char target[256];
  snprintf(target, sizeof(target), "/redirect/308?to=%s",
           tu_pct(url_of(&other, "/inspect")));
  ah_handle req = t_open_request(f.connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  free(t_read_text(req));
  assert_rec(rec_check_trace(
      req, "^CrnckSs+V[Vv]*vR[Ll]*rnckSs+V[Vv]*vD[VvDLl]*$", REC_WHY));
  long redirect = rec_index(req, AH_STATUS_REDIRECT, 0);
  long second_send = rec_index(req, AH_STATUS_SENDING_REQUEST, 1);
  assert_true(redirect >= 0 && second_send > redirect);
  rec_event *ev;
  size_t n;
  ev = rec_events(req, &n);
  for (size_t i = 0; i < n; i++)
    if (ev[i].status == AH_STATUS_REDIRECT)
      assert_string_equal(ev[i].text, url_of(&other, "/inspect"));
  free(ev);
  t_close(req);
  t_teardown(&f);
  ts_server_stop(&other);
}

/* REDIRECT's info: the URL, NUL-terminated, cut at 255 bytes. */
typedef struct redirect_info {
  pthread_mutex_t lock;
  char text[1024];
  size_t info_len;
  size_t count;
} redirect_info;

static void redirect_hook(ah_handle handle, int status, const void *info,
                          size_t info_len, void *context, void *arg) {
  (void)handle;
  (void)context;
  redirect_info *ri = arg;
  if (status != AH_STATUS_REDIRECT)
    return;
  pthread_mutex_lock(&ri->lock);
  ri->count++;
  ri->info_len = info_len;
  size_t n = info_len < sizeof(ri->text) ? info_len : sizeof(ri->text) - 1;
  if (info != NULL)
    memcpy(ri->text, info, n);
  ri->text[n] = '\0';
  pthread_mutex_unlock(&ri->lock);
}

static void test_redirect_status_info_long_url_cut_at_255(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  static redirect_info ri = {PTHREAD_MUTEX_INITIALIZER, "", 0, 0};
  rec_set_hook(redirect_hook, &ri);
  char location[600] = "/inspect?pad=";
  size_t used = strlen(location);
  memset(location + used, 'x', 400);
  location[used + 400] = '\0';
  char target[1400];
  snprintf(target, sizeof(target), "/redirect/302?to=%s", tu_pct(location));
  ah_handle req = t_open_request(f.connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  free(t_read_text(req));
  const char *full = url_of(&f.server, location);
  pthread_mutex_lock(&ri.lock);
  size_t count = ri.count, info_len = ri.info_len;
  char text[1024];
  memcpy(text, ri.text, sizeof(text));
  pthread_mutex_unlock(&ri.lock);
  assert_int_equal(count, 1);
  assert_int_equal(strlen(text), 255);
  assert_int_equal(info_len, 256);
  assert_true(strncmp(text, full, 255) == 0);
  /* AH_INFO_URL has it whole. */
  assert_info_text(req, AH_INFO_URL, full);
  t_close(req);
  t_teardown(&f);
}

/* AH_INFO_URL before any redirect: the request's own URL. */
static void test_redirect_info_url_without_redirect(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req = t_open_request(f.connect, "GET", "/inspect?plain=1");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_info_text(req, AH_INFO_URL, url_of(&f.server, "/inspect?plain=1"));
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

/* The status and headers are the final response's. */
static void test_redirect_final_headers_are_the_final_response(void **state) {
  (void)state;
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  ah_handle req =
      t_open_request(f.connect, "GET", "/redirect/301?to=%2Fbytes%2F1000");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  char buf[256];
  assert_ah(t_header(req, "Location", buf, sizeof(buf)),
            AH_ERR_HEADER_NOT_FOUND);
  uint64_t length = 0;
  size_t len = sizeof(length);
  assert_ah(ah_query_info(req, AH_INFO_CONTENT_LENGTH, NULL, 0, &length, &len),
            AH_OK);
  assert_int_equal(length, 1000);
  char hex[65], want[80];
  uint64_t total = 0;
  assert_ah(t_read_all(req, 4096, 0, hex, &total, NULL, NULL), AH_OK);
  assert_int_equal(total, 1000);
  assert_ah(t_header(req, "X-Body-Sha256", want, sizeof(want)), AH_OK);
  assert_string_equal(hex, want);
  t_close(req);
  t_teardown(&f);
}

/* ---- the redirect's own body and connection ---- */

/*
 * The 3xx's body (`framing`, `size` bytes) is dropped; the next hop goes
 * over the same connection only when the whole body was there.
 */
static void redirect_body_case(const char *framing, long size, int same_conn) {
  t_fixture f;
  t_setup(&f, AH_FLAG_ASYNC, 1);
  char target[256];
  if (size >= 0)
    snprintf(target, sizeof(target),
             "/redirect/302?to=%%2Fbytes%%2F5000&framing=%s&size=%ld", framing,
             size);
  else
    snprintf(target, sizeof(target),
             "/redirect/302?to=%%2Fbytes%%2F5000&framing=%s", framing);
  ah_handle req = t_open_request(f.connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  char hex[65], want[80];
  uint64_t total = 0;
  assert_ah(t_read_all(req, 65536, 0, hex, &total, NULL, NULL), AH_OK);
  assert_int_equal(total, 5000);
  assert_ah(t_header(req, "X-Body-Sha256", want, sizeof(want)), AH_OK);
  assert_string_equal(hex, want);
  unsigned long conn = t_header_ulong(req, "X-Conn-Id");
  assert_int_equal(conn, same_conn ? 1 : 2);
  t_close(req);
  t_teardown(&f);
}

static void test_redirect_small_body_connection_reused(void **state) {
  (void)state;
  redirect_body_case("length", -1, 1);
}

static void test_redirect_small_chunked_body_connection_reused(void **state) {
  (void)state;
  redirect_body_case("chunked", 100, 1);
}

static void test_redirect_large_body_connection_closed(void **state) {
  (void)state;
  redirect_body_case("length", 4 * (long)MIB, 0);
}

static void test_redirect_close_delimited_body_new_connection(void **state) {
  (void)state;
  redirect_body_case("close", 100, 0);
}

/* ---- https and http ---- */

typedef struct tls_world {
  ts_server tls; /* the scripted server over HTTPS, --log */
  ts_server plain;
  ah_handle session;
} tls_world;

static void tls_world_start(tls_world *w) {
  memset(w, 0, sizeof(*w));
  if (ts_tls_server_start(&w->tls, "server", 1) != 0)
    fail_msg("could not start the HTTPS server");
  if (ts_server_start(&w->plain, 1) != 0)
    fail_msg("could not start the HTTP server");
  char ca[512];
  ts_cert_path("ca.pem", ca, sizeof(ca));
  rec_reset();
  t_open_session(AH_FLAG_ASYNC, &w->session);
  assert_ah(ah_set_option(w->session, AH_OPTION_TLS_CA_FILE, ca, strlen(ca)),
            AH_OK);
}

static void tls_world_stop(tls_world *w) {
  assert_ah(ah_close_handle(w->session), AH_OK);
  assert_true(rec_wait_closing(w->session, 10000));
  ts_server_stop(&w->tls);
  ts_server_stop(&w->plain);
  assert_rec(rec_check_all_closed(REC_WHY));
  assert_rec(rec_check_violations(REC_WHY));
}

/* An HTTPS request to the TLS server redirected to the plain one. */
static ah_handle https_to_http(tls_world *w, unsigned flags, int *rc,
                               ah_handle *connect) {
  char location[256], target[512];
  snprintf(location, sizeof(location), "http://127.0.0.1:%u/inspect?down=1",
           (unsigned)w->plain.port);
  snprintf(target, sizeof(target), "/redirect/302?to=%s", tu_pct(location));
  *connect = t_connect(w->session, "127.0.0.1", w->tls.port, "alice", "wonder");
  ah_handle req =
      t_open_request_ex(*connect, "GET", target, AH_FLAG_SECURE | flags);
  *rc = t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL);
  return req;
}

static void test_redirect_https_to_http_refused(void **state) {
  (void)state;
  tls_world w;
  tls_world_start(&w);
  ah_handle connect = NULL;
  int rc = 0;
  ah_handle req = https_to_http(&w, 0, &rc, &connect);
  assert_ah(rc, AH_ERR_REDIRECT_REFUSED);
  assert_detail_has(req, AH_ERR_REDIRECT_REFUSED, "http");
  assert_int_equal(rec_count(req, AH_STATUS_REDIRECT), 0);
  tu_sleep_ms(100);
  char *log = ts_server_log(&w.plain, 0, 0);
  assert_string_equal(log, "");
  free(log);
  t_close(req);
  t_close(connect);
  tls_world_stop(&w);
}

/* AH_FLAG_IGNORE_REDIRECT_TO_HTTP follows; the credentials stay behind. */
static void test_redirect_https_to_http_allowed_with_flag(void **state) {
  (void)state;
  tls_world w;
  tls_world_start(&w);
  ah_handle connect = NULL;
  int rc = 0;
  ah_handle req =
      https_to_http(&w, AH_FLAG_IGNORE_REDIRECT_TO_HTTP, &rc, &connect);
  assert_ah(rc, AH_OK);
  assert_int_equal(t_status_code(req), 200);
  char want[128];
  snprintf(want, sizeof(want), "http://127.0.0.1:%u/inspect?down=1",
           (unsigned)w.plain.port);
  assert_info_text(req, AH_INFO_URL, want);
  free(t_read_text(req));
  t_assert_logged_field(&w.plain, "GET /inspect?down=1", 0, "authorization",
                        NULL);
  t_close(req);
  t_close(connect);
  tls_world_stop(&w);
}

/* http -> https is an upgrade: followed, and TLS is verified. */
static void test_redirect_http_to_https_followed(void **state) {
  (void)state;
  tls_world w;
  tls_world_start(&w);
  char location[256], target[512];
  snprintf(location, sizeof(location), "https://127.0.0.1:%u/inspect?up=1",
           (unsigned)w.tls.port);
  snprintf(target, sizeof(target), "/redirect/301?to=%s", tu_pct(location));
  ah_handle connect =
      t_connect(w.session, "127.0.0.1", w.plain.port, NULL, NULL);
  ah_handle req = t_open_request(connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  assert_info_text(req, AH_INFO_URL, location);
  assert_true(rec_count(req, AH_STATUS_TLS_HANDSHAKE_DONE) >= 1);
  char *body = t_read_text(req);
  assert_string_equal(inspect_value(body, "target"), "/inspect?up=1");
  free(body);
  t_close(req);
  t_close(connect);
  tls_world_stop(&w);
}

/* One entry a line: CMake reads the names from these lines. */
/* clang-format off */
static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_redirect_get_chain_301),
    cmocka_unit_test(test_redirect_get_chain_302),
    cmocka_unit_test(test_redirect_get_chain_303),
    cmocka_unit_test(test_redirect_get_chain_307),
    cmocka_unit_test(test_redirect_get_chain_308),
    cmocka_unit_test(test_redirect_post_chain_301_becomes_get),
    cmocka_unit_test(test_redirect_post_chain_302_becomes_get),
    cmocka_unit_test(test_redirect_post_chain_303_becomes_get),
    cmocka_unit_test(test_redirect_post_chain_307_resends_body),
    cmocka_unit_test(test_redirect_post_chain_308_resends_body),
    cmocka_unit_test(test_redirect_post_307_resends_300k_body),
    cmocka_unit_test(test_redirect_post_308_resends_300k_body),
    cmocka_unit_test(test_redirect_put_301_keeps_method_and_body),
    cmocka_unit_test(test_redirect_put_303_becomes_get),
    cmocka_unit_test(test_redirect_head_303_stays_head),
    cmocka_unit_test(test_redirect_sync_session_follows),
    cmocka_unit_test(test_redirect_location_absolute_path),
    cmocka_unit_test(test_redirect_location_dot_dot),
    cmocka_unit_test(test_redirect_location_dot_segments),
    cmocka_unit_test(test_redirect_location_too_many_dot_dots_stay_at_root),
    cmocka_unit_test(test_redirect_location_path_relative),
    cmocka_unit_test(test_redirect_location_query_only),
    cmocka_unit_test(test_redirect_location_fragment_not_sent),
    cmocka_unit_test(test_redirect_location_network_path),
    cmocka_unit_test(test_redirect_relative_after_cross_server_hop),
    cmocka_unit_test(test_redirect_location_absolute_url),
    cmocka_unit_test(test_redirect_streamed_post_307_needs_body),
    cmocka_unit_test(test_redirect_streamed_post_308_needs_body),
    cmocka_unit_test(test_redirect_streamed_307_caller_resends),
    cmocka_unit_test(test_redirect_streamed_post_303_followed_as_get),
    cmocka_unit_test(test_redirect_streamed_post_302_followed_as_get),
    cmocka_unit_test(test_redirect_streamed_empty_post_307_followed),
    cmocka_unit_test(test_redirect_307_before_body_read_resends),
    cmocka_unit_test(test_redirect_307_instead_of_100_resends),
    cmocka_unit_test(test_redirect_close_in_redirect_callback),
    cmocka_unit_test(test_redirect_no_auto_redirect_streamed_307),
    cmocka_unit_test(test_redirect_no_auto_redirect_delivers_3xx),
    cmocka_unit_test(test_redirect_no_auto_redirect_connection_reused),
    cmocka_unit_test(test_redirect_url_not_found_when_followed),
    cmocka_unit_test(test_redirect_3xx_without_location_is_the_answer),
    cmocka_unit_test(test_redirect_300_is_not_followed),
    cmocka_unit_test(test_redirect_default_max_allows_10),
    cmocka_unit_test(test_redirect_default_max_refuses_11),
    cmocka_unit_test(test_redirect_max_3_on_session_allows_3),
    cmocka_unit_test(test_redirect_max_3_on_session_refuses_4),
    cmocka_unit_test(test_redirect_max_2_on_connect_refuses_3),
    cmocka_unit_test(test_redirect_max_5_on_request_allows_5),
    cmocka_unit_test(test_redirect_max_5_on_request_refuses_6),
    cmocka_unit_test(test_redirect_max_0_refuses_the_first),
    cmocka_unit_test(test_redirect_max_0_allows_no_redirect),
    cmocka_unit_test(test_redirect_max_option_default_is_10),
    cmocka_unit_test(test_redirect_loop_is_too_many_redirects),
    cmocka_unit_test(test_redirect_loop_308_with_max_4),
    cmocka_unit_test(test_redirect_to_ftp_refused),
    cmocka_unit_test(test_redirect_to_file_refused),
    cmocka_unit_test(test_redirect_to_javascript_refused),
    cmocka_unit_test(test_redirect_to_invalid_url_refused),
    cmocka_unit_test(test_redirect_to_bad_port_refused),
    cmocka_unit_test(test_redirect_same_origin_keeps_credentials),
    cmocka_unit_test(test_redirect_cross_origin_strips_basic_auth),
    cmocka_unit_test(test_redirect_cross_origin_strips_caller_lines),
    cmocka_unit_test(test_redirect_cross_host_jar_cookie_not_sent),
    cmocka_unit_test(test_redirect_other_port_gets_jar_cookie),
    cmocka_unit_test(test_redirect_status_order_same_connection),
    cmocka_unit_test(test_redirect_status_order_new_connection),
    cmocka_unit_test(test_redirect_status_info_long_url_cut_at_255),
    cmocka_unit_test(test_redirect_info_url_without_redirect),
    cmocka_unit_test(test_redirect_final_headers_are_the_final_response),
    cmocka_unit_test(test_redirect_small_body_connection_reused),
    cmocka_unit_test(test_redirect_small_chunked_body_connection_reused),
    cmocka_unit_test(test_redirect_large_body_connection_closed),
    cmocka_unit_test(test_redirect_close_delimited_body_new_connection),
    cmocka_unit_test(test_redirect_https_to_http_refused),
    cmocka_unit_test(test_redirect_https_to_http_allowed_with_flag),
    cmocka_unit_test(test_redirect_http_to_https_followed),
};
/* clang-format on */

AH_TEST_MAIN(tests)
