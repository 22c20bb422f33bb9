/*
 * test_cookies.c - the session's cookie jar through the public API against
 * the scripted server (issue 5): Set-Cookie fields stored and sent back
 * (/cookies/set, /cookies/echo), the COOKIE_SENT / COOKIE_RECEIVED /
 * COOKIE_HISTORY statuses with their infos and their place among the
 * others, rejected cookies, AH_FLAG_NO_COOKIES, the caller's own Cookie
 * line, RFC 6265's path, replacement, deletion and ordering rules, cookies
 * set on a redirect, and the Netscape cookie file (ah_cookies_load /
 * ah_cookies_save).
 *
 * The recorder keeps no cookie infos, so a hook copies them.
 */
#define _GNU_SOURCE

#include "test_main.h"

#include "ahtest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- what the cookie statuses carried ---- */

typedef struct cookie_event {
  ah_handle handle;
  int status;
  uint32_t count;            /* COOKIE_SENT, COOKIE_RECEIVED */
  ah_cookie_history history; /* COOKIE_HISTORY */
  size_t info_len;
  int has_info;
} cookie_event;

#define MAX_COOKIE_EVENTS 256

static pthread_mutex_t ck_lock = PTHREAD_MUTEX_INITIALIZER;
static cookie_event ck_events[MAX_COOKIE_EVENTS];
static size_t ck_count;

static void cookie_hook(ah_handle handle, int status, const void *info,
                        size_t info_len, void *context, void *arg) {
  (void)context;
  (void)arg;
  if (status != AH_STATUS_COOKIE_SENT && status != AH_STATUS_COOKIE_RECEIVED &&
      status != AH_STATUS_COOKIE_HISTORY)
    return;
  pthread_mutex_lock(&ck_lock);
  if (ck_count < MAX_COOKIE_EVENTS) {
    cookie_event *e = &ck_events[ck_count++];
    memset(e, 0, sizeof(*e));
    e->handle = handle;
    e->status = status;
    e->info_len = info_len;
    e->has_info = info != NULL;
    if (status == AH_STATUS_COOKIE_HISTORY && info != NULL &&
        info_len >= sizeof(ah_cookie_history))
      memcpy(&e->history, info, sizeof(e->history));
    else if (status != AH_STATUS_COOKIE_HISTORY && info != NULL &&
             info_len >= sizeof(uint32_t))
      memcpy(&e->count, info, sizeof(uint32_t));
  }
  pthread_mutex_unlock(&ck_lock);
}

/* t_setup with the cookie hook installed (t_setup resets the hook). */
static void setup(t_fixture *f, unsigned flags) {
  t_setup(f, flags, 1);
  pthread_mutex_lock(&ck_lock);
  ck_count = 0;
  pthread_mutex_unlock(&ck_lock);
  rec_set_hook(cookie_hook, NULL);
}

/* The cookie events of `handle`, copied; returns how many. */
static size_t cookie_events(ah_handle handle, cookie_event *out, size_t cap) {
  size_t n = 0;
  pthread_mutex_lock(&ck_lock);
  for (size_t i = 0; i < ck_count; i++)
    if (ck_events[i].handle == handle && n < cap)
      out[n++] = ck_events[i];
  pthread_mutex_unlock(&ck_lock);
  return n;
}

/*
 * The cookie statuses of `handle` as letters: S sent(count), R
 * received(1), A history accepted, X history rejected, ? anything odd.
 * "S2" is COOKIE_SENT with a count of 2.
 */
static void cookie_trace(ah_handle handle, char *out, size_t cap) {
  cookie_event ev[MAX_COOKIE_EVENTS];
  size_t n = cookie_events(handle, ev, MAX_COOKIE_EVENTS);
  size_t k = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n && k + 16 < cap; i++) {
    if (ev[i].status == AH_STATUS_COOKIE_SENT)
      k += (size_t)snprintf(out + k, cap - k, "S%u",
                            ev[i].info_len == sizeof(uint32_t) ? ev[i].count
                                                               : 999u);
    else if (ev[i].status == AH_STATUS_COOKIE_RECEIVED)
      k += (size_t)snprintf(
          out + k, cap - k, "%s",
          ev[i].info_len == sizeof(uint32_t) && ev[i].count == 1 ? "R" : "?");
    else {
      const ah_cookie_history *h = &ev[i].history;
      int ok = ev[i].info_len == sizeof(ah_cookie_history) && h->leashed == 0 &&
               h->downgraded == 0 && h->accepted + h->rejected == 1;
      k += (size_t)snprintf(out + k, cap - k, "%s",
                            !ok ? "?" : (h->accepted ? "A" : "X"));
    }
  }
}

static void assert_cookie_trace(ah_handle handle, const char *want) {
  char got[512];
  cookie_trace(handle, got, sizeof(got));
  if (strcmp(got, want) != 0)
    fail_msg("cookie statuses \"%s\", expected \"%s\"", got, want);
}

/*
 * GET /cookies/set with a Set-Cookie for each of the NULL-terminated
 * `cookies`, with request `flags`; returns the request, body read.
 */
static ah_handle set_cookies(ah_handle connect, unsigned flags,
                             const char *const *cookies) {
  char target[4096] = "/cookies/set";
  for (size_t i = 0; cookies[i] != NULL; i++) {
    size_t used = strlen(target);
    snprintf(target + used, sizeof(target) - used, "%sc=%s", i ? "&" : "?",
             tu_pct(cookies[i]));
  }
  ah_handle req = t_send_get(connect, target, flags, NULL);
  assert_int_equal(t_status_code(req), 200);
  char *body = t_read_text(req);
  assert_string_equal(body, "cookies set\n");
  free(body);
  return req;
}

static void set_one(ah_handle connect, const char *cookie) {
  const char *list[] = {cookie, NULL};
  t_close(set_cookies(connect, 0, list));
}

/*
 * GET `target` (an echo route) with `flags` and `headers`; returns the
 * body (the Cookie field values, one a line) and keeps the request in
 * *out (closed by the caller) when out is not NULL.
 */
static char *echo(ah_handle connect, const char *target, unsigned flags,
                  const char *headers, ah_handle *out) {
  ah_handle req = t_send_get(connect, target, flags, headers);
  assert_int_equal(t_status_code(req), 200);
  char *body = t_read_text(req);
  if (out != NULL)
    *out = req;
  else
    t_close(req);
  return body;
}

static void assert_echo(ah_handle connect, const char *target,
                        const char *want) {
  char *body = echo(connect, target, 0, NULL, NULL);
  char got[1024];
  snprintf(got, sizeof(got), "%s", body);
  int same = strcmp(body, want) == 0;
  free(body);
  if (!same)
    fail_msg("%s got Cookie lines \"%s\", expected \"%s\"", target, got, want);
}

/* GET `target` (an /inspect route): no Cookie field, no COOKIE_SENT. */
static void assert_no_cookie_at(ah_handle connect, const char *target) {
  ah_handle req = t_open_request(connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  char *body = t_read_text(req);
  int carried = strstr(body, "\ncookie ") != NULL;
  if (carried)
    fprintf(stderr, "%s", body);
  free(body);
  if (carried)
    fail_msg("%s carried a Cookie field", target);
  assert_int_equal(rec_count(req, AH_STATUS_COOKIE_SENT), 0);
  t_close(req);
}

/* ---- stored and sent ---- */

static void test_cookies_set_then_sent(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  const char *list[] = {"a=1; Path=/", "b=2; Path=/", NULL};
  ah_handle req = set_cookies(f.connect, 0, list);
  assert_cookie_trace(req, "RARA");
  t_close(req);
  ah_handle echo_req = NULL;
  char *body = echo(f.connect, "/cookies/echo", 0, NULL, &echo_req);
  assert_string_equal(body, "a=1; b=2\n");
  free(body);
  assert_cookie_trace(echo_req, "S2");
  assert_int_equal(t_header_ulong(echo_req, "X-Cookie-Fields"), 1);
  t_close(echo_req);
  t_teardown(&f);
}

/* Nothing in the jar: no Cookie field and no COOKIE_SENT. */
static void test_cookies_none_sent_from_empty_jar(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  ah_handle req = NULL;
  char *body = echo(f.connect, "/cookies/echo", 0, NULL, &req);
  assert_string_equal(body, "");
  free(body);
  assert_cookie_trace(req, "");
  assert_int_equal(t_header_ulong(req, "X-Cookie-Fields"), 0);
  t_close(req);
  t_teardown(&f);
}

/*
 * COOKIE_RECEIVED / COOKIE_HISTORY come after RESPONSE_RECEIVED and
 * before the send's REQUEST_COMPLETE; COOKIE_SENT before SENDING_REQUEST.
 */
static void test_cookies_status_order(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  const char *list[] = {"o=1; Path=/", NULL};
  ah_handle req = set_cookies(f.connect, 0, list);
  assert_rec(rec_check_trace(req, "^CrnckSs+V[Vv]*vKKD", REC_WHY));
  long received = rec_index(req, AH_STATUS_COOKIE_RECEIVED, 0);
  long history = rec_index(req, AH_STATUS_COOKIE_HISTORY, 0);
  assert_true(received >= 0 && history > received);
  t_close(req);
  req = t_open_request(f.connect, "GET", "/cookies/echo");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  free(t_read_text(req));
  assert_rec(rec_check_trace(req, "^CKSs+V[Vv]*vD", REC_WHY));
  long sent = rec_index(req, AH_STATUS_COOKIE_SENT, 0);
  long sending = rec_index(req, AH_STATUS_SENDING_REQUEST, 0);
  assert_true(sent >= 0 && sending > sent);
  t_close(req);
  t_teardown(&f);
}

/* A synchronous session reports the same statuses. */
static void test_cookies_sync_session(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, 0);
  set_one(f.connect, "s=1; Path=/");
  ah_handle req = NULL;
  char *body = echo(f.connect, "/cookies/echo", 0, NULL, &req);
  assert_string_equal(body, "s=1\n");
  free(body);
  assert_cookie_trace(req, "S1");
  t_close(req);
  t_teardown(&f);
}

/* ---- rejected ---- */

/* `cookie` is rejected: HISTORY says so, no RECEIVED, never sent. */
static void rejected_case(const char *cookie) {
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  const char *list[] = {cookie, NULL};
  ah_handle req = set_cookies(f.connect, 0, list);
  assert_cookie_trace(req, "X");
  t_close(req);
  ah_handle echo_req = NULL;
  char *body = echo(f.connect, "/cookies/echo", 0, NULL, &echo_req);
  assert_string_equal(body, "");
  free(body);
  assert_cookie_trace(echo_req, "");
  t_close(echo_req);
  t_teardown(&f);
}

static void test_cookies_domain_of_another_site_rejected(void **state) {
  (void)state;
  rejected_case("d=1; Domain=example.com; Path=/");
}

static void test_cookies_public_suffix_domain_rejected(void **state) {
  (void)state;
  rejected_case("d=1; Domain=com; Path=/");
}

/* An IP host takes no Domain other than itself. */
static void test_cookies_domain_of_other_ip_rejected(void **state) {
  (void)state;
  rejected_case("d=1; Domain=127.0.0.2; Path=/");
}

static void test_cookies_secure_over_http_rejected(void **state) {
  (void)state;
  rejected_case("s=1; Secure; Path=/");
}

static void test_cookies_secure_prefix_over_http_rejected(void **state) {
  (void)state;
  rejected_case("__Secure-s=1; Secure; Path=/");
}

static void test_cookies_without_equals_rejected(void **state) {
  (void)state;
  rejected_case("novalue");
}

/* One accepted and one rejected in one response, in field order. */
static void test_cookies_mixed_verdicts_in_order(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  const char *list[] = {"good=1; Path=/", "bad=1; Domain=example.org",
                        "also=2; Path=/", NULL};
  ah_handle req = set_cookies(f.connect, 0, list);
  assert_cookie_trace(req, "RAXRA");
  t_close(req);
  assert_echo(f.connect, "/cookies/echo", "good=1; also=2\n");
  t_teardown(&f);
}

/* Domain equal to the IP host itself: accepted (host-only). */
static void test_cookies_domain_equal_to_ip_host_accepted(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  const char *list[] = {"ip=1; Domain=127.0.0.1; Path=/", NULL};
  ah_handle req = set_cookies(f.connect, 0, list);
  assert_cookie_trace(req, "RA");
  t_close(req);
  assert_echo(f.connect, "/cookies/echo", "ip=1\n");
  t_teardown(&f);
}

/* ---- AH_FLAG_NO_COOKIES and the caller's own Cookie ---- */

static void test_cookies_no_cookies_flag_stores_nothing(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  const char *list[] = {"n=1; Path=/", NULL};
  ah_handle req = set_cookies(f.connect, AH_FLAG_NO_COOKIES, list);
  assert_cookie_trace(req, "");
  assert_int_equal(rec_count(req, AH_STATUS_COOKIE_RECEIVED), 0);
  t_close(req);
  assert_echo(f.connect, "/cookies/echo", "");
  t_teardown(&f);
}

static void test_cookies_no_cookies_flag_sends_nothing(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  set_one(f.connect, "n=1; Path=/");
  ah_handle req = NULL;
  char *body = echo(f.connect, "/cookies/echo", AH_FLAG_NO_COOKIES, NULL, &req);
  assert_string_equal(body, "");
  free(body);
  assert_cookie_trace(req, "");
  t_close(req);
  /* The jar still has it for requests without the flag. */
  assert_echo(f.connect, "/cookies/echo", "n=1\n");
  t_teardown(&f);
}

static void test_cookies_caller_cookie_line_replaces_jar(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  set_one(f.connect, "jar=1; Path=/");
  ah_handle req = NULL;
  char *body = echo(f.connect, "/cookies/echo", 0, "Cookie: mine=2\r\n", &req);
  assert_string_equal(body, "mine=2\n");
  free(body);
  assert_int_equal(t_header_ulong(req, "X-Cookie-Fields"), 1);
  assert_cookie_trace(req, "");
  t_close(req);
  t_teardown(&f);
}

/* ---- RFC 6265 rules seen end to end ---- */

/* The default path is the request path's directory (5.1.4). */
static void test_cookies_default_path_is_request_directory(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  set_one(f.connect, "dir=1"); /* from /cookies/set: path /cookies */
  assert_echo(f.connect, "/cookies/echo", "dir=1\n");
  assert_no_cookie_at(f.connect, "/inspect"); /* outside /cookies */
  t_teardown(&f);
}

/* Path=/cookies/echo: not sent to /cookies/echoes (no path match). */
static void test_cookies_path_match(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  set_one(f.connect, "p=1; Path=/cookies/echo");
  assert_echo(f.connect, "/cookies/echo", "p=1\n");
  assert_echo(f.connect, "/cookies/echo?x=1", "p=1\n");
  ah_handle req = t_open_request(f.connect, "GET", "/cookies/echoes");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 404);
  assert_int_equal(rec_count(req, AH_STATUS_COOKIE_SENT), 0);
  free(t_read_text(req));
  t_close(req);
  t_teardown(&f);
}

/* Longer paths first, then earlier creation (5.4 step 2). */
static void test_cookies_sent_in_rfc_order(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  const char *list[] = {"first=1; Path=/", "deep=2; Path=/cookies",
                        "second=3; Path=/", NULL};
  t_close(set_cookies(f.connect, 0, list));
  assert_echo(f.connect, "/cookies/echo", "deep=2; first=1; second=3\n");
  t_teardown(&f);
}

/* A cookie of the same name, domain and path replaces the old one. */
static void test_cookies_replaced(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  set_one(f.connect, "r=old; Path=/");
  set_one(f.connect, "r=new; Path=/");
  assert_echo(f.connect, "/cookies/echo", "r=new\n");
  t_teardown(&f);
}

/* RFC 6265 section 3.1: Max-Age=0 / a past Expires removes the cookie. */
static void test_cookies_deleted_by_max_age_0(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  set_one(f.connect, "SID=31d4d96e407aad42; Path=/; HttpOnly");
  set_one(f.connect, "lang=en-US; Path=/");
  assert_echo(f.connect, "/cookies/echo", "SID=31d4d96e407aad42; lang=en-US\n");
  const char *list[] = {"lang=; Path=/; Max-Age=0", NULL};
  ah_handle req = set_cookies(f.connect, 0, list);
  assert_cookie_trace(req, "S2RA"); /* sent both; deletion "accepted" */
  t_close(req);
  assert_echo(f.connect, "/cookies/echo", "SID=31d4d96e407aad42\n");
  t_teardown(&f);
}

static void test_cookies_deleted_by_past_expires(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  set_one(f.connect, "lang=en-US; Path=/");
  set_one(f.connect, "lang=; Path=/; Expires=Sun, 06 Nov 1994 08:49:37 GMT");
  assert_echo(f.connect, "/cookies/echo", "");
  t_teardown(&f);
}

/* RFC 6265 section 3.1's persistent example: Expires in the future. */
static void test_cookies_future_expires_sent(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  set_one(f.connect,
          "lang=en-US; Path=/; Expires=Wed, 09 Jun 2121 10:18:14 GMT");
  assert_echo(f.connect, "/cookies/echo", "lang=en-US\n");
  t_teardown(&f);
}

/* Each session has its own jar. */
static void test_cookies_jar_is_per_session(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  set_one(f.connect, "mine=1; Path=/");
  ah_handle session = NULL;
  t_open_session(AH_FLAG_ASYNC, &session);
  ah_handle connect =
      t_connect(session, "127.0.0.1", f.server.port, NULL, NULL);
  assert_echo(connect, "/cookies/echo", "");
  assert_ah(ah_close_handle(session), AH_OK);
  assert_true(rec_wait_closing(session, 10000));
  assert_echo(f.connect, "/cookies/echo", "mine=1\n");
  t_teardown(&f);
}

/* A host-only cookie of "localhost" stays with localhost. */
static void test_cookies_host_only_per_host(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  ah_handle local =
      t_connect(f.session, "localhost", f.server.port, NULL, NULL);
  /* Domain=localhost from localhost itself: a host-only cookie (5.3 step
     5, localhost being a public suffix by the "*" rule). */
  const char *list[] = {"l=1; Path=/; Domain=localhost", NULL};
  ah_handle req = set_cookies(local, 0, list);
  assert_cookie_trace(req, "RA");
  t_close(req);
  set_one(f.connect, "ip=1; Path=/");
  assert_echo(local, "/cookies/echo", "l=1\n");
  assert_echo(f.connect, "/cookies/echo", "ip=1\n");
  t_close(local);
  t_teardown(&f);
}

/* ---- on redirects ---- */

/* A cookie set by a 302 goes with the redirected request. */
static void test_cookies_set_on_302_sent_on_next_hop(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  char target[512];
  snprintf(target, sizeof(target), "/redirect/302?to=%s&c=%s",
           tu_pct("/cookies/echo"), tu_pct("hop=1; Path=/"));
  ah_handle req = t_open_request(f.connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  char *body = t_read_text(req);
  assert_string_equal(body, "hop=1\n");
  free(body);
  assert_cookie_trace(req, "RAS1");
  /* RECEIVED, HISTORY, REDIRECT, COOKIE_SENT, SENDING_REQUEST. */
  long received = rec_index(req, AH_STATUS_COOKIE_RECEIVED, 0);
  long redirect = rec_index(req, AH_STATUS_REDIRECT, 0);
  long sent = rec_index(req, AH_STATUS_COOKIE_SENT, 0);
  long sending = rec_index(req, AH_STATUS_SENDING_REQUEST, 1);
  if (!(received >= 0 && redirect > received && sent > redirect &&
        sending > sent)) {
    rec_dump(req);
    fail_msg("RECEIVED %ld REDIRECT %ld SENT %ld SENDING %ld out of order",
             received, redirect, sent, sending);
  }
  t_close(req);
  t_teardown(&f);
}

/* A cookie replaced on the way: the last hop sees the newest value. */
static void test_cookies_replaced_along_a_chain(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  set_one(f.connect, "v=0; Path=/");
  char inner[512], target[1024];
  snprintf(inner, sizeof(inner), "/redirect/307?to=%s&c=%s",
           tu_pct("/cookies/echo"), tu_pct("v=2; Path=/"));
  snprintf(target, sizeof(target), "/redirect/302?to=%s&c=%s", tu_pct(inner),
           tu_pct("v=1; Path=/"));
  ah_handle req = t_open_request(f.connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  char *body = t_read_text(req);
  assert_string_equal(body, "v=2\n");
  free(body);
  assert_cookie_trace(req, "S1RAS1RAS1");
  t_close(req);
  t_teardown(&f);
}

/* ---- the cookie file ---- */

typedef struct jar_files {
  char dir[128];
  char path[256];
} jar_files;

static void jar_files_make(jar_files *j) {
  assert_int_equal(tu_make_temp_dir("ahttp-jar", j->dir, sizeof(j->dir)), 0);
  snprintf(j->path, sizeof(j->path), "%s/cookies.txt", j->dir);
}

/* The data lines of a cookie file that contain `needle`. */
static size_t file_lines_with(const char *path, const char *needle) {
  char *text = tu_read_file(path, NULL);
  assert_non_null(text);
  size_t n = tu_count_lines_with(text, needle);
  free(text);
  return n;
}

/* Saved by one session, loaded by another, sent by it. */
static void test_cookies_save_load_round_trip(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  jar_files j;
  jar_files_make(&j);
  const char *list[] = {"sess=1; Path=/", "keep=2; Path=/cookies; Max-Age=3600",
                        "ho=3; Path=/; HttpOnly", NULL};
  t_close(set_cookies(f.connect, 0, list));
  assert_ah(ah_cookies_save(f.session, j.path), AH_OK);
  struct stat st;
  assert_int_equal(stat(j.path, &st), 0);
  /* Cookies are credentials: only the owner may read the file. */
  assert_int_equal(st.st_mode & 077, 0);
  assert_int_equal(file_lines_with(j.path, "127.0.0.1\tFALSE\t/\tFALSE\t0\t"
                                           "sess\t1"),
                   1);
  assert_int_equal(file_lines_with(j.path, "#HttpOnly_127.0.0.1\tFALSE\t/\t"
                                           "FALSE\t0\tho\t3"),
                   1);
  /* The persistent one carries its expiry, about an hour from now. */
  char *text = tu_read_file(j.path, NULL);
  assert_non_null(text);
  const char *line = strstr(text, "127.0.0.1\tFALSE\t/cookies\tFALSE\t");
  assert_non_null(line);
  long long expiry =
      atoll(line + strlen("127.0.0.1\tFALSE\t/cookies\tFALSE\t"));
  long long now = (long long)time(NULL);
  assert_true(expiry >= now + 3500 && expiry <= now + 3700);
  assert_non_null(strstr(line, "\tkeep\t2"));
  free(text);

  ah_handle session = NULL;
  t_open_session(AH_FLAG_ASYNC, &session);
  assert_ah(ah_cookies_load(session, j.path), AH_OK);
  ah_handle connect =
      t_connect(session, "127.0.0.1", f.server.port, NULL, NULL);
  assert_echo(connect, "/cookies/echo", "keep=2; sess=1; ho=3\n");
  ah_handle req = t_open_request(connect, "GET", "/inspect");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  char *body = t_read_text(req);
  assert_non_null(strstr(body, "\ncookie sess=1; ho=3\n"));
  free(body);
  t_close(req);
  assert_ah(ah_close_handle(session), AH_OK);
  assert_true(rec_wait_closing(session, 10000));
  tu_remove_tree(j.dir);
  t_teardown(&f);
}

/* A file written by hand (curl's format): sent; expired lines skipped. */
static void test_cookies_load_handwritten_file(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  jar_files j;
  jar_files_make(&j);
  char text[1024];
  snprintf(text, sizeof(text),
           "# Netscape HTTP Cookie File\n"
           "\n"
           "127.0.0.1\tFALSE\t/\tFALSE\t0\tloaded\tyes\r\n"
           "127.0.0.1\tFALSE\t/\tFALSE\t%lld\tfuture\tok\n"
           "127.0.0.1\tFALSE\t/\tFALSE\t1000\told\tgone\n"
           "127.0.0.1\tFALSE\t/\tTRUE\t0\tsecure\tno\n"
           "#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\thttponly\tyes\n"
           "other.example\tFALSE\t/\tFALSE\t0\tforeign\tno\n",
           (long long)time(NULL) + 86400);
  assert_int_equal(tu_write_file(j.path, text, strlen(text)), 0);
  assert_ah(ah_cookies_load(f.session, j.path), AH_OK);
  assert_echo(f.connect, "/cookies/echo",
              "loaded=yes; future=ok; httponly=yes\n");
  tu_remove_tree(j.dir);
  t_teardown(&f);
}

/* A malformed line: AH_ERR_INVALID_PARAMETER naming it, nothing added. */
static void test_cookies_load_malformed_line_adds_nothing(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  jar_files j;
  jar_files_make(&j);
  static const char text[] = "127.0.0.1\tFALSE\t/\tFALSE\t0\tgood\t1\n"
                             "127.0.0.1\tFALSE\t/\tnot enough fields\n";
  assert_int_equal(tu_write_file(j.path, text, strlen(text)), 0);
  assert_ah(ah_cookies_load(f.session, j.path), AH_ERR_INVALID_PARAMETER);
  char detail[256] = "";
  assert_ah(ah_last_error_detail(f.session, detail, sizeof(detail)),
            AH_ERR_INVALID_PARAMETER);
  if (strstr(detail, "line 2") == NULL)
    fail_msg("detail \"%s\" does not name line 2", detail);
  assert_echo(f.connect, "/cookies/echo", "");
  tu_remove_tree(j.dir);
  t_teardown(&f);
}

static void test_cookies_load_missing_file_is_system_error(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  jar_files j;
  jar_files_make(&j);
  assert_ah(ah_cookies_load(f.session, j.path), AH_ERR_SYSTEM);
  char detail[256] = "";
  assert_ah(ah_last_error_detail(f.session, detail, sizeof(detail)),
            AH_ERR_SYSTEM);
  assert_true(strlen(detail) > 0);
  tu_remove_tree(j.dir);
  t_teardown(&f);
}

/* Saving into a directory that does not exist fails; nothing appears. */
static void test_cookies_save_to_missing_dir_is_system_error(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  jar_files j;
  jar_files_make(&j);
  char path[320];
  snprintf(path, sizeof(path), "%s/no/such/dir/cookies.txt", j.dir);
  set_one(f.connect, "x=1; Path=/");
  assert_ah(ah_cookies_save(f.session, path), AH_ERR_SYSTEM);
  struct stat st;
  assert_int_not_equal(stat(path, &st), 0);
  tu_remove_tree(j.dir);
  t_teardown(&f);
}

/* Saving replaces the old file whole: cookies deleted since are gone. */
static void test_cookies_save_replaces_old_file(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  jar_files j;
  jar_files_make(&j);
  static const char old[] = "127.0.0.1\tFALSE\t/\tFALSE\t0\tstale\t1\n";
  assert_int_equal(tu_write_file(j.path, old, strlen(old)), 0);
  set_one(f.connect, "fresh=1; Path=/");
  assert_ah(ah_cookies_save(f.session, j.path), AH_OK);
  assert_int_equal(file_lines_with(j.path, "\tstale\t"), 0);
  assert_int_equal(file_lines_with(j.path, "\tfresh\t1"), 1);
  tu_remove_tree(j.dir);
  t_teardown(&f);
}

/* The jar calls take a session handle only. */
static void test_cookies_load_save_need_a_session(void **state) {
  (void)state;
  t_fixture f;
  setup(&f, AH_FLAG_ASYNC);
  assert_ah(ah_cookies_load(f.connect, "/nonexistent"),
            AH_ERR_INCORRECT_HANDLE_TYPE);
  assert_ah(ah_cookies_save(f.connect, "/nonexistent"),
            AH_ERR_INCORRECT_HANDLE_TYPE);
  assert_ah(ah_cookies_load(NULL, "/nonexistent"), AH_ERR_INVALID_HANDLE);
  t_teardown(&f);
}

/* One entry a line: CMake reads the names from these lines. */
/* clang-format off */
static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cookies_set_then_sent),
    cmocka_unit_test(test_cookies_none_sent_from_empty_jar),
    cmocka_unit_test(test_cookies_status_order),
    cmocka_unit_test(test_cookies_sync_session),
    cmocka_unit_test(test_cookies_domain_of_another_site_rejected),
    cmocka_unit_test(test_cookies_public_suffix_domain_rejected),
    cmocka_unit_test(test_cookies_domain_of_other_ip_rejected),
    cmocka_unit_test(test_cookies_secure_over_http_rejected),
    cmocka_unit_test(test_cookies_secure_prefix_over_http_rejected),
    cmocka_unit_test(test_cookies_without_equals_rejected),
    cmocka_unit_test(test_cookies_mixed_verdicts_in_order),
    cmocka_unit_test(test_cookies_domain_equal_to_ip_host_accepted),
    cmocka_unit_test(test_cookies_no_cookies_flag_stores_nothing),
    cmocka_unit_test(test_cookies_no_cookies_flag_sends_nothing),
    cmocka_unit_test(test_cookies_caller_cookie_line_replaces_jar),
    cmocka_unit_test(test_cookies_default_path_is_request_directory),
    cmocka_unit_test(test_cookies_path_match),
    cmocka_unit_test(test_cookies_sent_in_rfc_order),
    cmocka_unit_test(test_cookies_replaced),
    cmocka_unit_test(test_cookies_deleted_by_max_age_0),
    cmocka_unit_test(test_cookies_deleted_by_past_expires),
    cmocka_unit_test(test_cookies_future_expires_sent),
    cmocka_unit_test(test_cookies_jar_is_per_session),
    cmocka_unit_test(test_cookies_host_only_per_host),
    cmocka_unit_test(test_cookies_set_on_302_sent_on_next_hop),
    cmocka_unit_test(test_cookies_replaced_along_a_chain),
    cmocka_unit_test(test_cookies_save_load_round_trip),
    cmocka_unit_test(test_cookies_load_handwritten_file),
    cmocka_unit_test(test_cookies_load_malformed_line_adds_nothing),
    cmocka_unit_test(test_cookies_load_missing_file_is_system_error),
    cmocka_unit_test(test_cookies_save_to_missing_dir_is_system_error),
    cmocka_unit_test(test_cookies_save_replaces_old_file),
    cmocka_unit_test(test_cookies_load_save_need_a_session),
};
/* clang-format on */

AH_TEST_MAIN(tests)
