/*
 * test_proxy.c - requests through an HTTP proxy: a real squid started by
 * each test with its own config (tests/support/squid.h), the scripted
 * server as the origin over HTTP and HTTPS, and the fake proxy
 * (tests/server/fake_proxy.py) for the refusals squid will not produce.
 *
 * What is checked, and where it shows:
 *   - plain HTTP goes to the proxy in absolute form (squid accepts and logs
 *     the absolute URL; the fake proxy logs the request line it read);
 *   - HTTPS goes through a CONNECT tunnel (squid logs CONNECT host:port,
 *     when the tunnel closes) and TLS is checked against the origin;
 *   - bodies arrive intact both ways (SHA-256 on both ends);
 *   - proxy credentials reach the proxy (squid logs the user) and never the
 *     origin (the origin's /echo shows the request head it got);
 *   - AH_OPEN_TYPE_PRECONFIG reads http_proxy, https_proxy, HTTPS_PROXY,
 *     no_proxy and NO_PROXY at ah_open with curl's rules, and reports
 *     DETECTING_PROXY first; which requests went where is read from squid's
 *     access log and from the origin's --log;
 *   - refusals, garbage, a dead proxy: the documented errors, with a
 *     detail that names the proxy, and nothing of the proxy's body
 *     delivered;
 *   - connections are pooled per (proxy, origin), never mixed with direct
 *     ones.
 *
 * The environment tests set the variables with setenv before ah_open.
 * CTest runs each test in its own process; when the whole suite runs in one
 * process, every test starts by clearing the proxy variables, so none
 * leaks into the next.
 */
#define _GNU_SOURCE

#include "test_main.h"

#include "ahtest.h"
#include "squid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROXY_USER "alice"
#define PROXY_PASS "s3cret-pw"
#define KIB 1024u

/* ---- environment ---- */

static void clear_proxy_env(void) {
  static const char *const names[] = {
      "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy",
      "NO_PROXY",   "all_proxy",  "ALL_PROXY",   "ftp_proxy",   "FTP_PROXY"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    unsetenv(names[i]);
}

static void set_env(const char *name, const char *value) {
  assert_int_equal(setenv(name, value, 1), 0);
}

/* ---- the servers and the session of one test ---- */

enum {
  W_SQUID = 1,      /* squid without authentication */
  W_SQUID_AUTH = 2, /* squid requiring PROXY_USER / PROXY_PASS */
  W_ORIGIN = 4,     /* the scripted server, HTTP, with --log */
  W_TLS = 8         /* the scripted server, HTTPS (server.pem), --log */
};

typedef struct world {
  unsigned what;
  ts_squid squid;
  ts_server origin;
  ts_server tls;
  ah_handle session;
  char proxy[160];      /* "http://127.0.0.1:<squid port>" */
  char proxy_hp[64];    /* "127.0.0.1:<squid port>" */
  char auth_proxy[192]; /* with PROXY_USER:PROXY_PASS@ */
} world;

static void world_start(world *w, unsigned what) {
  memset(w, 0, sizeof(*w));
  w->origin.out_fd = -1;
  w->tls.out_fd = -1;
  clear_proxy_env();
  if (what & (W_SQUID | W_SQUID_AUTH)) {
    ts_squid_opts o = {NULL, NULL, NULL};
    if (what & W_SQUID_AUTH) {
      o.user = PROXY_USER;
      o.password = PROXY_PASS;
    }
    if (ts_squid_start(&w->squid, &o) != 0)
      fail_msg("could not start squid");
    snprintf(w->proxy_hp, sizeof(w->proxy_hp), "127.0.0.1:%u",
             (unsigned)w->squid.port);
    snprintf(w->proxy, sizeof(w->proxy), "http://%s", w->proxy_hp);
    snprintf(w->auth_proxy, sizeof(w->auth_proxy), "http://%s:%s@%s",
             PROXY_USER, PROXY_PASS, w->proxy_hp);
  }
  w->what = what;
  if ((what & W_ORIGIN) && ts_server_start(&w->origin, 1) != 0)
    fail_msg("could not start the scripted server");
  if ((what & W_TLS) && ts_tls_server_start(&w->tls, "server", 1) != 0)
    fail_msg("could not start the scripted server with TLS");
  rec_reset();
}

/* The test CA's path. */
static const char *ca_file(void) {
  static char path[512];
  if (ts_certs_dir() == NULL)
    fail_msg("could not make the test certificates");
  return ts_cert_path("ca.pem", path, sizeof(path));
}

/*
 * Opens the world's session with `access_type`, the recorder and trust in
 * the test CA.
 */
static ah_handle open_session(world *w, int access_type, const char *proxy,
                              const char *bypass, unsigned flags) {
  ah_handle s = NULL;
  int rc = ah_open(NULL, access_type, proxy, bypass, flags, &s);
  if (rc != AH_OK)
    fail_msg("ah_open(type %d, proxy \"%s\", bypass \"%s\") returned %s",
             access_type, proxy != NULL ? proxy : "(null)",
             bypass != NULL ? bypass : "(null)", rec_code_name(rc));
  assert_non_null(s);
  assert_ah(ah_set_status_callback(s, rec_callback), AH_OK);
  const char *ca = ca_file();
  assert_ah(ah_set_option(s, AH_OPTION_TLS_CA_FILE, ca, strlen(ca)), AH_OK);
  w->session = s;
  return s;
}

/* Closes the session and checks every handle ended cleanly. */
static void close_session(world *w) {
  if (w->session == NULL)
    return;
  ah_handle s = w->session;
  w->session = NULL;
  assert_ah(ah_close_handle(s), AH_OK);
  if (!rec_wait_closing(s, 10000)) {
    rec_dump(NULL);
    fail_msg("no HANDLE_CLOSING for the session within 10 s of closing it");
  }
  const char *dump = getenv("AHTTP_TEST_DUMP");
  if (dump != NULL && dump[0] == '1')
    rec_dump(NULL);
  assert_rec(rec_check_all_closed(REC_WHY));
  assert_rec(rec_check_violations(REC_WHY));
}

static void world_stop(world *w) {
  close_session(w);
  if (w->what & (W_SQUID | W_SQUID_AUTH))
    ts_squid_stop(&w->squid);
  if (w->what & W_ORIGIN)
    ts_server_stop(&w->origin);
  if (w->what & W_TLS)
    ts_py_stop(&w->tls);
  clear_proxy_env();
}

static ah_handle connect_to(ah_handle session, const char *host,
                            uint16_t port) {
  ah_handle c = NULL;
  assert_ah(ah_connect(session, host, port, NULL, NULL, 0, NULL, &c), AH_OK);
  assert_non_null(c);
  return c;
}

static ah_handle open_req(ah_handle connect, const char *method,
                          const char *target, int secure) {
  ah_handle req = NULL;
  assert_ah(ah_open_request(connect, method, target,
                            secure ? AH_FLAG_SECURE : 0u, NULL, &req),
            AH_OK);
  assert_non_null(req);
  return req;
}

static void set_proxy_option(ah_handle h, const char *proxy) {
  assert_ah(ah_set_option(h, AH_OPTION_PROXY, proxy, strlen(proxy)), AH_OK);
}

static void detail_of(ah_handle h, char *buf, size_t cap) {
  buf[0] = '\0';
  ah_last_error_detail(h, buf, cap);
}

/* "127.0.0.1:<port>" */
static const char *host_port(uint16_t port) {
  static char bufs[4][32];
  static unsigned next;
  char *out = bufs[next++ % 4];
  snprintf(out, 32, "127.0.0.1:%u", (unsigned)port);
  return out;
}

/* "http://<host>:<port><target>", the absolute form squid logs. */
static const char *abs_url(const char *host, uint16_t port,
                           const char *target) {
  static char bufs[4][256];
  static unsigned next;
  char *out = bufs[next++ % 4];
  snprintf(out, 256, "http://%s:%u%s", host, (unsigned)port, target);
  return out;
}

/* ---- requests ---- */

/*
 * GET `target` (a /bytes/ route) and read it whole; asserts 200 and the
 * body's SHA-256 against X-Body-Sha256. Returns CONNECTION_REUSED; the
 * request is closed.
 */
static uint32_t get_checked(ah_handle connect, const char *target, int secure,
                            uint64_t want_len) {
  ah_handle req = open_req(connect, "GET", target, secure);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  uint32_t reused = t_reused(req);
  char hex[65], want[80];
  uint64_t total = 0;
  assert_ah(t_read_all(req, 65536, 0, hex, &total, NULL, NULL), AH_OK);
  assert_int_equal(total, want_len);
  assert_ah(t_header(req, "X-Body-Sha256", want, sizeof(want)), AH_OK);
  assert_string_equal(hex, want);
  t_close(req);
  return reused;
}

/*
 * POST `size` bytes to /upload (whole with ah_send_request, or streamed
 * with ah_send_request_ex / ah_write / ah_end_request) and check that the
 * origin got them: X-Received-Sha256 and X-Received-Length.
 */
static void post_checked(ah_handle connect, const char *target, int secure,
                         size_t size, int streamed) {
  unsigned char *body = malloc(size > 0 ? size : 1);
  assert_non_null(body);
  tu_fill(body, size, 4242);
  char sha[65];
  tu_sha256_hex(body, size, sha);
  ah_handle req = open_req(connect, "POST", target, secure);
  if (!streamed) {
    assert_done(req, ah_send_request(req, NULL, 0, body, size));
  } else {
    assert_done(req, ah_send_request_ex(req, NULL, 0, size));
    size_t off = 0;
    while (off < size) {
      size_t n = size - off < 100000 ? size - off : 100000;
      size_t written = 0;
      assert_done(req, ah_write(req, body + off, n, &written));
      assert_int_equal(written, n);
      off += n;
    }
    assert_done(req, ah_end_request(req));
  }
  assert_int_equal(t_status_code(req), 200);
  char got[80];
  assert_ah(t_header(req, "X-Received-Sha256", got, sizeof(got)), AH_OK);
  assert_string_equal(got, sha);
  assert_int_equal(t_header_ulong(req, "X-Received-Length"), size);
  free(t_read_text(req));
  t_close(req);
  free(body);
}

/* GET `target` (the /echo route): the request head the origin got. */
static char *echo_head(ah_handle connect, const char *target, int secure) {
  ah_handle req = open_req(connect, "GET", target, secure);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  char *head = t_read_text(req);
  t_close(req);
  return head;
}

static void assert_no_proxy_authorization(const char *head) {
  if (strcasestr(head, "proxy-authorization") != NULL)
    fail_msg("the origin got Proxy-Authorization:\n%s", head);
}

/* ---- logs ---- */

/*
 * Lines "<conn_id> <rest>" of a scripted server's log whose rest is
 * exactly `rest`, after waiting up to `wait_ms` for at least `min`.
 */
static size_t origin_count(const ts_server *s, const char *rest, size_t min,
                           unsigned wait_ms) {
  uint64_t deadline = tu_now_ms() + wait_ms;
  for (;;) {
    char *log = ts_server_log(s, 0, 0);
    assert_non_null(log);
    size_t count = 0;
    const char *line = log;
    while (*line != '\0') {
      const char *end = strchr(line, '\n');
      if (end == NULL)
        break;
      const char *sp = memchr(line, ' ', (size_t)(end - line));
      if (sp != NULL && (size_t)(end - sp - 1) == strlen(rest) &&
          strncmp(sp + 1, rest, strlen(rest)) == 0)
        count++;
      line = end + 1;
    }
    free(log);
    if (count >= min || tu_now_ms() >= deadline)
      return count;
    tu_sleep_ms(10);
  }
}

/*
 * Asserts that squid logged `method url` exactly `want` times (waiting for
 * them to appear; for want == 0, giving squid a moment to log a stray
 * one).
 */
static void assert_squid_saw(const world *w, const char *method,
                             const char *url, size_t want) {
  size_t got = ts_squid_count(&w->squid, method, url, want > 0 ? want : 1,
                              want > 0 ? 10000 : 300);
  if (got != want) {
    ts_squid_dump(&w->squid);
    fail_msg("squid logged %s %s %zu times, expected %zu", method, url, got,
             want);
  }
}

static void assert_origin_saw(const ts_server *s, const char *rest,
                              size_t want) {
  size_t got =
      origin_count(s, rest, want > 0 ? want : 1, want > 0 ? 10000 : 300);
  if (got != want) {
    char *log = ts_server_log(s, 0, 0);
    fprintf(stderr, "origin log:\n%s\n", log != NULL ? log : "(none)");
    free(log);
    fail_msg("the origin got \"%s\" %zu times, expected %zu", rest, got, want);
  }
}

/* ---- plain HTTP through squid ---- */

static void test_proxy_http_get_through_squid(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  open_session(&w, AH_OPEN_TYPE_PROXY, w.proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.origin.port);
  static const char *const targets[] = {"/bytes/0", "/bytes/1",
                                        "/bytes/100000?framing=chunked",
                                        "/bytes/3000000"};
  static const uint64_t lens[] = {0, 1, 100000, 3000000};
  for (size_t i = 0; i < 4; i++)
    get_checked(c, targets[i], 0, lens[i]);
  for (size_t i = 0; i < 4; i++) {
    char rest[128];
    snprintf(rest, sizeof(rest), "GET %s", targets[i]);
    assert_squid_saw(&w, "GET", abs_url("127.0.0.1", w.origin.port, targets[i]),
                     1);
    assert_origin_saw(&w.origin, rest, 1);
  }
  world_stop(&w);
}

static void test_proxy_http_post_through_squid(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  open_session(&w, AH_OPEN_TYPE_PROXY, w.proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.origin.port);
  post_checked(c, "/upload?n=1", 0, 0, 0);
  post_checked(c, "/upload?n=2", 0, 200000, 0);
  post_checked(c, "/upload?n=3", 0, 2 * 1024 * 1024 + 17, 1);
  assert_squid_saw(&w, "POST",
                   abs_url("127.0.0.1", w.origin.port, "/upload?n=3"), 1);
  assert_origin_saw(&w.origin, "POST /upload?n=2", 1);
  world_stop(&w);
}

/* A synchronous session goes through the proxy the same way. */
static void test_proxy_sync_session_through_squid(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN | W_TLS);
  open_session(&w, AH_OPEN_TYPE_PROXY, w.proxy, NULL, 0);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.origin.port);
  get_checked(c, "/bytes/70000", 0, 70000);
  post_checked(c, "/upload", 0, 70000, 0);
  ah_handle cs = connect_to(w.session, "127.0.0.1", w.tls.port);
  get_checked(cs, "/bytes/80000", 1, 80000);
  post_checked(cs, "/upload", 1, 80000, 1);
  close_session(&w);
  assert_squid_saw(&w, "GET",
                   abs_url("127.0.0.1", w.origin.port, "/bytes/70000"), 1);
  assert_squid_saw(&w, "CONNECT", host_port(w.tls.port), 1);
  world_stop(&w);
}

/* The proxy's own request line is in absolute form; its answer to a plain
 * request is the response, whatever its status. */
static void test_proxy_http_request_line_is_absolute_form(void **state) {
  (void)state;
  world w;
  world_start(&w, 0);
  ts_server fake;
  if (ts_fake_proxy_start(&fake, "refuse") != 0)
    fail_msg("could not start the fake proxy");
  char proxy[64];
  snprintf(proxy, sizeof(proxy), "%s", host_port(fake.port)); /* no scheme */
  open_session(&w, AH_OPEN_TYPE_PROXY, proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", 8080);
  ah_handle req = open_req(c, "GET", "/some/path?q=1", 0);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 502);
  char *body = t_read_text(req);
  assert_non_null(strstr(body, "FAKE-PROXY-ERROR-BODY"));
  free(body);
  t_close(req);
  char *log = ts_server_log(&fake, 1, 5000);
  assert_non_null(log);
  if (strstr(log, " GET http://127.0.0.1:8080/some/path?q=1 HTTP/1.1\n") ==
      NULL) {
    fprintf(stderr, "fake proxy log:\n%s\n", log);
    free(log);
    fail_msg("the request line was not in absolute form");
  }
  free(log);
  world_stop(&w);
  ts_py_stop(&fake);
}

/* ---- HTTPS through a CONNECT tunnel in squid ---- */

static void test_proxy_https_get_through_squid_tunnel(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_TLS);
  open_session(&w, AH_OPEN_TYPE_PROXY, w.proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.tls.port);
  get_checked(c, "/bytes/1", 1, 1);
  get_checked(c, "/bytes/300000?framing=chunked", 1, 300000);
  get_checked(c, "/bytes/4000000", 1, 4000000);
  /* Inside the tunnel the origin got origin-form requests. */
  assert_origin_saw(&w.tls, "GET /bytes/4000000", 1);
  close_session(&w);
  assert_squid_saw(&w, "CONNECT", host_port(w.tls.port), 1);
  world_stop(&w);
}

static void test_proxy_https_post_through_squid_tunnel(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_TLS);
  open_session(&w, AH_OPEN_TYPE_PROXY, w.proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.tls.port);
  post_checked(c, "/upload?n=1", 1, 0, 0);
  post_checked(c, "/upload?n=2", 1, 500000, 0);
  post_checked(c, "/upload?n=3", 1, 3 * 1024 * 1024 + 5, 1);
  assert_origin_saw(&w.tls, "POST /upload?n=3", 1);
  close_session(&w);
  assert_squid_saw(&w, "CONNECT", host_port(w.tls.port), 1);
  world_stop(&w);
}

/* The tunnel's TLS is with the origin: its name is what is checked. */
static void test_proxy_https_by_name_checks_origin_name(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_TLS);
  open_session(&w, AH_OPEN_TYPE_PROXY, w.proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "localhost", w.tls.port);
  get_checked(c, "/bytes/5000", 1, 5000);
  close_session(&w);
  char target[64];
  snprintf(target, sizeof(target), "localhost:%u", (unsigned)w.tls.port);
  assert_squid_saw(&w, "CONNECT", target, 1);
  world_stop(&w);
}

static void test_proxy_https_wrong_origin_name_is_refused(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID);
  ts_server wrong;
  if (ts_tls_server_start(&wrong, "wronghost", 1) != 0)
    fail_msg("could not start the TLS server");
  open_session(&w, AH_OPEN_TYPE_PROXY, w.proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", wrong.port);
  ah_handle req = open_req(c, "GET", "/bytes/10", 1);
  assert_ah(t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL),
            AH_ERR_TLS_CERT_NAME_INVALID);
  t_close(req);
  assert_origin_saw(&wrong, "GET /bytes/10", 0);
  world_stop(&w);
  ts_py_stop(&wrong);
}

/* squid refuses CONNECT to a port outside its SSL_ports: 403. */
static void test_proxy_https_squid_forbids_connect_is_refused(void **state) {
  (void)state;
  world w;
  memset(&w, 0, sizeof(w));
  clear_proxy_env();
  ts_squid_opts o = {NULL, NULL, "443"};
  if (ts_squid_start(&w.squid, &o) != 0)
    fail_msg("could not start squid");
  w.what = W_SQUID;
  snprintf(w.proxy, sizeof(w.proxy), "http://127.0.0.1:%u",
           (unsigned)w.squid.port);
  rec_reset();
  open_session(&w, AH_OPEN_TYPE_PROXY, w.proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", 8443);
  ah_handle req = open_req(c, "GET", "/", 1);
  assert_ah(t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL),
            AH_ERR_PROXY_REFUSED);
  char detail[512];
  detail_of(req, detail, sizeof(detail));
  if (strstr(detail, "403") == NULL ||
      strstr(detail, host_port(w.squid.port)) == NULL)
    fail_msg("detail \"%s\" names neither the proxy %s nor its 403", detail,
             host_port(w.squid.port));
  t_close(req);
  world_stop(&w);
}

/* ---- proxy authentication ---- */

/* Without credentials a plain request gets squid's 407 as its response. */
static void test_proxy_auth_missing_plain_get_gets_407(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID_AUTH | W_ORIGIN);
  open_session(&w, AH_OPEN_TYPE_PROXY, w.proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.origin.port);
  ah_handle req = open_req(c, "GET", "/bytes/10", 0);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 407);
  char value[256];
  assert_ah(t_header(req, "Proxy-Authenticate", value, sizeof(value)), AH_OK);
  assert_non_null(strcasestr(value, "basic"));
  free(t_read_text(req));
  t_close(req);
  assert_squid_saw(&w, "GET", abs_url("127.0.0.1", w.origin.port, "/bytes/10"),
                   1);
  assert_origin_saw(&w.origin, "GET /bytes/10", 0);
  world_stop(&w);
}

/* Without credentials a CONNECT is refused: AH_ERR_PROXY_AUTH_REQUIRED. */
static void test_proxy_auth_missing_https_fails(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID_AUTH | W_TLS);
  open_session(&w, AH_OPEN_TYPE_PROXY, w.proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.tls.port);
  ah_handle req = open_req(c, "GET", "/bytes/10", 1);
  assert_ah(t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL),
            AH_ERR_PROXY_AUTH_REQUIRED);
  char detail[512];
  assert_ah(ah_last_error_detail(req, detail, sizeof(detail)),
            AH_ERR_PROXY_AUTH_REQUIRED);
  if (strstr(detail, "407") == NULL || strstr(detail, w.proxy_hp) == NULL)
    fail_msg("detail \"%s\" does not name the proxy %s and its 407", detail,
             w.proxy_hp);
  uint32_t code = 0;
  size_t len = sizeof(code);
  assert_ah(ah_query_info(req, AH_INFO_STATUS_CODE, NULL, 0, &code, &len),
            AH_ERR_INCORRECT_HANDLE_STATE);
  t_close(req);
  assert_origin_saw(&w.tls, "GET /bytes/10", 0);
  world_stop(&w);
}

static void test_proxy_auth_wrong_password_is_refused(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID_AUTH | W_ORIGIN | W_TLS);
  char proxy[192];
  snprintf(proxy, sizeof(proxy), "http://%s:wrong@%s", PROXY_USER, w.proxy_hp);
  open_session(&w, AH_OPEN_TYPE_PROXY, proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.origin.port);
  ah_handle req = open_req(c, "GET", "/bytes/10", 0);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 407);
  free(t_read_text(req));
  t_close(req);
  ah_handle cs = connect_to(w.session, "127.0.0.1", w.tls.port);
  req = open_req(cs, "GET", "/bytes/10", 1);
  assert_ah(t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL),
            AH_ERR_PROXY_AUTH_REQUIRED);
  t_close(req);
  assert_origin_saw(&w.origin, "GET /bytes/10", 0);
  assert_origin_saw(&w.tls, "GET /bytes/10", 0);
  world_stop(&w);
}

/*
 * With credentials both work; squid logs the user; the origin's /echo
 * shows no Proxy-Authorization, in the tunnel or through the proxy.
 */
static void test_proxy_auth_with_credentials_works(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID_AUTH | W_ORIGIN | W_TLS);
  open_session(&w, AH_OPEN_TYPE_PROXY, w.auth_proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.origin.port);
  get_checked(c, "/bytes/123456", 0, 123456);
  post_checked(c, "/upload", 0, 54321, 0);
  char *head = echo_head(c, "/echo", 0);
  assert_no_proxy_authorization(head);
  /* It did go through squid. */
  assert_non_null(strcasestr(head, "\r\nVia: "));
  free(head);
  ah_handle cs = connect_to(w.session, "127.0.0.1", w.tls.port);
  get_checked(cs, "/bytes/654321", 1, 654321);
  post_checked(cs, "/upload", 1, 12345, 1);
  head = echo_head(cs, "/echo", 1);
  assert_no_proxy_authorization(head);
  free(head);
  close_session(&w);
  ts_squid_entry log[32];
  size_t n = ts_squid_log(&w.squid, log, 32, 4, 10000);
  size_t connects = 0;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(log[i].user, PROXY_USER) != 0 || log[i].status != 200) {
      ts_squid_dump(&w.squid);
      fail_msg("squid logged %s %s %d as user %s", log[i].method, log[i].url,
               log[i].status, log[i].user);
    }
    if (strcmp(log[i].method, "CONNECT") == 0)
      connects++;
  }
  assert_int_equal(connects, 1);
  world_stop(&w);
}

/*
 * The proxy is a URL: its userinfo is percent-encoded (RFC 3986 3.2.1), as
 * curl reads it, so a password with '@', ':' or any other byte can be
 * given. "%2D" is '-'.
 */
static void
test_proxy_auth_percent_encoded_credentials_are_decoded(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID_AUTH | W_ORIGIN);
  char proxy[192];
  snprintf(proxy, sizeof(proxy), "http://%%61lice:s3cret%%2Dpw@%s", w.proxy_hp);
  open_session(&w, AH_OPEN_TYPE_PROXY, proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.origin.port);
  ah_handle req = open_req(c, "GET", "/bytes/10", 0);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  uint32_t status = t_status_code(req);
  free(t_read_text(req));
  t_close(req);
  if (status != 200) {
    ts_squid_dump(&w.squid);
    fail_msg("%s got status %u: the credentials were not decoded", proxy,
             status);
  }
  world_stop(&w);
}

/* A host in the bypass list goes direct: the credentials stay home. */
static void
test_proxy_auth_credentials_never_reach_bypassed_origin(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID_AUTH | W_ORIGIN | W_TLS);
  open_session(&w, AH_OPEN_TYPE_PROXY, w.auth_proxy, "127.0.0.1",
               AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.origin.port);
  char *head = echo_head(c, "/echo", 0);
  assert_no_proxy_authorization(head);
  assert_null(strcasestr(head, "\r\nVia: "));
  free(head);
  ah_handle cs = connect_to(w.session, "127.0.0.1", w.tls.port);
  head = echo_head(cs, "/echo", 1);
  assert_no_proxy_authorization(head);
  free(head);
  close_session(&w);
  ts_squid_entry log[4];
  if (ts_squid_log(&w.squid, log, 4, 1, 300) != 0) {
    ts_squid_dump(&w.squid);
    fail_msg("a bypassed request reached squid");
  }
  world_stop(&w);
}

/* ---- per-handle proxy options and bypass lists ---- */

/* AH_OPTION_PROXY on a request of a direct session sends it via squid. */
static void test_proxy_option_on_request_of_direct_session(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  open_session(&w, AH_OPEN_TYPE_DIRECT, NULL, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.origin.port);
  ah_handle req = open_req(c, "GET", "/echo?via=request", 0);
  set_proxy_option(req, w.proxy);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  char *head = t_read_text(req);
  assert_non_null(strcasestr(head, "\r\nVia: "));
  free(head);
  t_close(req);
  assert_squid_saw(&w, "GET",
                   abs_url("127.0.0.1", w.origin.port, "/echo?via=request"), 1);
  world_stop(&w);
}

/* AH_OPTION_PROXY on a connect handle applies to its requests. */
static void test_proxy_option_on_connect_handle(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN | W_TLS);
  open_session(&w, AH_OPEN_TYPE_DIRECT, NULL, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.origin.port);
  set_proxy_option(c, w.proxy);
  get_checked(c, "/bytes/1000?via=connect", 0, 1000);
  ah_handle cs = connect_to(w.session, "127.0.0.1", w.tls.port);
  set_proxy_option(cs, w.proxy);
  get_checked(cs, "/bytes/1000", 1, 1000);
  close_session(&w);
  assert_squid_saw(
      &w, "GET", abs_url("127.0.0.1", w.origin.port, "/bytes/1000?via=connect"),
      1);
  assert_squid_saw(&w, "CONNECT", host_port(w.tls.port), 1);
  world_stop(&w);
}

/* AH_OPTION_PROXY "" on a request of a proxy session goes direct. */
static void test_proxy_option_empty_means_direct(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  open_session(&w, AH_OPEN_TYPE_PROXY, w.proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.origin.port);
  ah_handle req = open_req(c, "GET", "/echo?direct", 0);
  set_proxy_option(req, "");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  char *head = t_read_text(req);
  assert_null(strcasestr(head, "\r\nVia: "));
  free(head);
  t_close(req);
  assert_origin_saw(&w.origin, "GET /echo?direct", 1);
  assert_squid_saw(&w, "GET",
                   abs_url("127.0.0.1", w.origin.port, "/echo?direct"), 0);
  world_stop(&w);
}

/* The bypass list of ah_open, with curl's rules. */
static void bypass_case(const char *bypass, const char *host, int proxied) {
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  open_session(&w, AH_OPEN_TYPE_PROXY, w.proxy, bypass, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, host, w.origin.port);
  get_checked(c, "/bytes/10?bypass", 0, 10);
  assert_origin_saw(&w.origin, "GET /bytes/10?bypass", 1);
  assert_squid_saw(&w, "GET", abs_url(host, w.origin.port, "/bytes/10?bypass"),
                   proxied ? 1 : 0);
  world_stop(&w);
}

static void test_proxy_bypass_list_ip_goes_direct(void **state) {
  (void)state;
  bypass_case("example.com,127.0.0.1", "127.0.0.1", 0);
}

static void test_proxy_bypass_list_other_host_is_proxied(void **state) {
  (void)state;
  bypass_case("localhost", "127.0.0.1", 1);
}

/* ah_open refuses what it cannot use. */
static void test_proxy_open_rejects_bad_arguments(void **state) {
  (void)state;
  clear_proxy_env();
  static const char *const bad[] = {
      "http://",           "http://:3128",     "127.0.0.1:0",
      "127.0.0.1:65536",   "127.0.0.1:port",   "socks5://127.0.0.1:1080",
      "https://127.0.0.1", "127.0.0.1:3128 x", "127.0.0.1\r\n:3128"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ah_handle s = (ah_handle)(uintptr_t)1;
    int rc = ah_open(NULL, AH_OPEN_TYPE_PROXY, bad[i], NULL, AH_FLAG_ASYNC, &s);
    if (rc != AH_ERR_INVALID_PARAMETER) {
      if (rc == AH_OK)
        ah_close_handle(s);
      fail_msg("ah_open with proxy \"%s\" returned %s", bad[i],
               rec_code_name(rc));
    }
  }
  ah_handle s = NULL;
  assert_ah(ah_open(NULL, 7, NULL, NULL, AH_FLAG_ASYNC, &s),
            AH_ERR_INVALID_PARAMETER);
  assert_ah(ah_open(NULL, AH_OPEN_TYPE_PROXY, NULL, NULL, AH_FLAG_ASYNC, &s),
            AH_ERR_INVALID_PARAMETER);
  /* A bare host takes port 80; user:pass is fine. Nothing connects yet. */
  assert_ah(ah_open(NULL, AH_OPEN_TYPE_PROXY, "u:p@127.0.0.1", NULL, 0, &s),
            AH_OK);
  assert_ah(ah_close_handle(s), AH_OK);
}

/* ---- failures ---- */

/*
 * An HTTPS GET to a made-up origin through the fake proxy in `mode`: its
 * error, and the detail in `detail`. The fake proxy logged the CONNECT.
 */
static int fake_proxy_https_case(const char *mode, char *detail, size_t cap,
                                 uint16_t *proxy_port) {
  world w;
  world_start(&w, 0);
  ts_server fake;
  if (ts_fake_proxy_start(&fake, mode) != 0)
    fail_msg("could not start the fake proxy");
  *proxy_port = fake.port;
  char proxy[64];
  snprintf(proxy, sizeof(proxy), "http://%s", host_port(fake.port));
  open_session(&w, AH_OPEN_TYPE_PROXY, proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", 9443);
  ah_handle req = open_req(c, "GET", "/bytes/10", 1);
  uint64_t start = tu_now_ms();
  int err = t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL);
  if (tu_now_ms() - start > 20000)
    fail_msg("the failure took %lu ms", (unsigned long)(tu_now_ms() - start));
  detail_of(req, detail, cap);
  print_message("%s: %s, detail \"%s\"\n", mode, rec_code_name(err), detail);
  if (err != AH_OK) {
    /* Nothing to read, nothing to query. */
    uint32_t code = 0;
    size_t len = sizeof(code);
    assert_ah(ah_query_info(req, AH_INFO_STATUS_CODE, NULL, 0, &code, &len),
              AH_ERR_INCORRECT_HANDLE_STATE);
    char buf[256];
    size_t n = 0;
    int rc = ah_read(req, buf, sizeof(buf), &n);
    if (rc == AH_OK || rc == AH_IO_PENDING)
      fail_msg("ah_read after a failed send returned %s", rec_code_name(rc));
  }
  t_close(req);
  char *log = ts_server_log(&fake, 1, 5000);
  assert_non_null(log);
  assert_non_null(strstr(log, " CONNECT 127.0.0.1:9443 HTTP/1.1\n"));
  free(log);
  world_stop(&w);
  ts_py_stop(&fake);
  return err;
}

/* The detail says that the proxy, at its address, is the one at fault. */
static void assert_names_proxy(const char *detail, uint16_t proxy_port) {
  if (strstr(detail, host_port(proxy_port)) == NULL ||
      strstr(detail, "proxy") == NULL)
    fail_msg("detail \"%s\" does not name the proxy %s as such", detail,
             host_port(proxy_port));
}

static void test_proxy_connect_502_is_proxy_refused(void **state) {
  (void)state;
  char detail[512];
  uint16_t port;
  assert_ah(fake_proxy_https_case("refuse", detail, sizeof(detail), &port),
            AH_ERR_PROXY_REFUSED);
  assert_names_proxy(detail, port);
  assert_non_null(strstr(detail, "502"));
  assert_null(strstr(detail, "FAKE-PROXY-ERROR-BODY"));
}

/* The same with a close-delimited refusal: it ends, it does not hang. */
static void
test_proxy_connect_502_close_delimited_is_proxy_refused(void **state) {
  (void)state;
  char detail[512];
  uint16_t port;
  assert_ah(
      fake_proxy_https_case("refuse-close", detail, sizeof(detail), &port),
      AH_ERR_PROXY_REFUSED);
  assert_names_proxy(detail, port);
  assert_non_null(strstr(detail, "502"));
}

static void test_proxy_connect_407_is_auth_required(void **state) {
  (void)state;
  char detail[512];
  uint16_t port;
  assert_ah(fake_proxy_https_case("refuse-407", detail, sizeof(detail), &port),
            AH_ERR_PROXY_AUTH_REQUIRED);
  assert_names_proxy(detail, port);
  assert_non_null(strstr(detail, "407"));
}

/* CONNECT answered 200, then bytes that are not TLS: a TLS failure. */
static void test_proxy_connect_200_then_garbage_is_tls_error(void **state) {
  (void)state;
  char detail[512];
  uint16_t port;
  int err = fake_proxy_https_case("garbage", detail, sizeof(detail), &port);
  if (err > AH_ERR_TLS_UNKNOWN_CA || err < AH_ERR_TLS_TRUNCATED)
    fail_msg("garbage in the tunnel ended with %s, not a TLS error",
             rec_code_name(err));
}

/* The tunnel dies before the handshake: an error naming the proxy. */
static void test_proxy_connect_200_then_close_names_proxy(void **state) {
  (void)state;
  char detail[512];
  uint16_t port;
  int err = fake_proxy_https_case("drop", detail, sizeof(detail), &port);
  if (err == AH_OK)
    fail_msg("a tunnel closed before the handshake ended in success");
  assert_names_proxy(detail, port);
}

/* Many proxies answer CONNECT in HTTP/1.0, with headers: a tunnel all the
 * same. */
static void test_proxy_connect_http10_answer_opens_tunnel(void **state) {
  (void)state;
  world w;
  world_start(&w, W_TLS);
  ts_server fake;
  if (ts_fake_proxy_start(&fake, "tunnel10") != 0)
    fail_msg("could not start the fake proxy");
  char proxy[64];
  snprintf(proxy, sizeof(proxy), "http://%s", host_port(fake.port));
  open_session(&w, AH_OPEN_TYPE_PROXY, proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.tls.port);
  get_checked(c, "/bytes/250000", 1, 250000);
  post_checked(c, "/upload", 1, 250000, 0);
  char want[64];
  snprintf(want, sizeof(want), "CONNECT %s HTTP/1.1", host_port(w.tls.port));
  char *log = ts_server_log(&fake, 1, 5000);
  assert_non_null(log);
  assert_int_equal(tu_count_lines_with(log, want), 1);
  free(log);
  world_stop(&w);
  ts_py_stop(&fake);
}

/*
 * A proxy that never answers CONNECT. Opening the tunnel is part of
 * connecting, so the connect time-out applies, as curl's does (its
 * CURLOPT_CONNECTTIMEOUT covers the proxy's CONNECT too).
 */
static void test_proxy_connect_unanswered_times_out(void **state) {
  (void)state;
  world w;
  world_start(&w, 0);
  ts_server fake;
  if (ts_fake_proxy_start(&fake, "stall") != 0)
    fail_msg("could not start the fake proxy");
  char proxy[64];
  snprintf(proxy, sizeof(proxy), "http://%s", host_port(fake.port));
  open_session(&w, AH_OPEN_TYPE_PROXY, proxy, NULL, AH_FLAG_ASYNC);
  uint32_t ms = 500;
  assert_ah(
      ah_set_option(w.session, AH_OPTION_CONNECT_TIMEOUT, &ms, sizeof(ms)),
      AH_OK);
  ah_handle c = connect_to(w.session, "127.0.0.1", 9443);
  ah_handle req = open_req(c, "GET", "/", 1);
  uint64_t start = tu_now_ms();
  assert_ah(t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL),
            AH_ERR_TIMEOUT);
  uint64_t took = tu_now_ms() - start;
  if (took < 400 || took > 10000)
    fail_msg("the time-out came after %lu ms", (unsigned long)took);
  char detail[512];
  detail_of(req, detail, sizeof(detail));
  print_message("detail: %s\n", detail);
  if (strstr(detail, host_port(fake.port)) == NULL)
    fail_msg("detail \"%s\" does not name the proxy %s", detail,
             host_port(fake.port));
  t_close(req);
  world_stop(&w);
  ts_py_stop(&fake);
}

/* Closing the request while the CONNECT is unanswered cancels it. */
static void test_proxy_connect_pending_close_cancels(void **state) {
  (void)state;
  world w;
  world_start(&w, 0);
  ts_server fake;
  if (ts_fake_proxy_start(&fake, "stall") != 0)
    fail_msg("could not start the fake proxy");
  char proxy[64];
  snprintf(proxy, sizeof(proxy), "http://%s", host_port(fake.port));
  open_session(&w, AH_OPEN_TYPE_PROXY, proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", 9443);
  ah_handle req = open_req(c, "GET", "/", 1);
  assert_ah(ah_send_request(req, NULL, 0, NULL, 0), AH_IO_PENDING);
  /* The CONNECT has reached the proxy. */
  char *log = ts_server_log(&fake, 1, 10000);
  assert_non_null(log);
  assert_int_equal(tu_count_lines_with(log, "CONNECT 127.0.0.1:9443"), 1);
  free(log);
  assert_ah(ah_close_handle(req), AH_OK);
  ah_async_result r;
  assert_true(rec_wait_complete(req, 10000, &r));
  assert_ah(r.error, AH_ERR_OPERATION_CANCELLED);
  assert_true(rec_wait_closing(req, 10000));
  assert_rec(rec_check_closed(req, REC_WHY));
  world_stop(&w);
  ts_py_stop(&fake);
}

/* Nothing listens on the proxy's port: CANNOT_CONNECT naming the proxy. */
static void refused_proxy_case(int secure) {
  world w;
  world_start(&w, W_ORIGIN);
  uint16_t dead = tu_free_port();
  assert_int_not_equal(dead, 0);
  char proxy[64];
  snprintf(proxy, sizeof(proxy), "http://%s", host_port(dead));
  open_session(&w, AH_OPEN_TYPE_PROXY, proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.origin.port);
  ah_handle req = open_req(c, "GET", "/bytes/10", secure);
  assert_ah(t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL),
            AH_ERR_CANNOT_CONNECT);
  char detail[512];
  assert_ah(ah_last_error_detail(req, detail, sizeof(detail)),
            AH_ERR_CANNOT_CONNECT);
  print_message("detail: %s\n", detail);
  assert_names_proxy(detail, dead);
  if (strstr(detail, host_port(w.origin.port)) != NULL)
    fail_msg("detail \"%s\" names the origin, not only the proxy", detail);
  t_close(req);
  assert_origin_saw(&w.origin, "GET /bytes/10", 0);
  world_stop(&w);
}

static void test_proxy_unreachable_http_is_cannot_connect(void **state) {
  (void)state;
  refused_proxy_case(0);
}

static void test_proxy_unreachable_https_is_cannot_connect(void **state) {
  (void)state;
  refused_proxy_case(1);
}

/* ---- keep-alive: pooled per (proxy, origin) ---- */

/*
 * Two GETs through squid share one connection; a direct GET to the same
 * origin (AH_OPTION_PROXY "") does not take it; the next proxied GET
 * still finds it.
 */
static void test_proxy_keepalive_http_not_mixed_with_direct(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  open_session(&w, AH_OPEN_TYPE_PROXY, w.proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.origin.port);
  assert_int_equal(get_checked(c, "/bytes/1000?n=1", 0, 1000), 0);
  assert_int_equal(get_checked(c, "/bytes/1000?n=2", 0, 1000), 1);
  ah_handle req = open_req(c, "GET", "/echo?n=3", 0);
  set_proxy_option(req, "");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_reused(req), 0);
  char *head = t_read_text(req);
  assert_null(strcasestr(head, "\r\nVia: "));
  free(head);
  t_close(req);
  assert_int_equal(get_checked(c, "/bytes/1000?n=4", 0, 1000), 1);
  assert_squid_saw(&w, "GET",
                   abs_url("127.0.0.1", w.origin.port, "/bytes/1000?n=4"), 1);
  assert_squid_saw(&w, "GET", abs_url("127.0.0.1", w.origin.port, "/echo?n=3"),
                   0);
  world_stop(&w);
}

/* A direct connection is not reused for a request that must go via squid. */
static void test_proxy_keepalive_direct_not_reused_for_proxied(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  open_session(&w, AH_OPEN_TYPE_DIRECT, NULL, NULL, AH_FLAG_ASYNC);
  ah_handle c = connect_to(w.session, "127.0.0.1", w.origin.port);
  assert_int_equal(get_checked(c, "/bytes/1000?n=1", 0, 1000), 0);
  ah_handle req = open_req(c, "GET", "/echo?n=2", 0);
  set_proxy_option(req, w.proxy);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_reused(req), 0);
  char *head = t_read_text(req);
  assert_non_null(strcasestr(head, "\r\nVia: "));
  free(head);
  t_close(req);
  assert_int_equal(get_checked(c, "/bytes/1000?n=3", 0, 1000), 1);
  assert_squid_saw(&w, "GET", abs_url("127.0.0.1", w.origin.port, "/echo?n=2"),
                   1);
  assert_squid_saw(&w, "GET",
                   abs_url("127.0.0.1", w.origin.port, "/bytes/1000?n=3"), 0);
  world_stop(&w);
}

/*
 * HTTPS: two GETs share one tunnel (one CONNECT); a second origin through
 * the same proxy gets a tunnel of its own; a direct HTTPS GET to the first
 * origin does not take its tunnel.
 */
static void test_proxy_keepalive_https_tunnel_per_origin(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_TLS);
  ts_server second;
  if (ts_tls_server_start(&second, "server", 1) != 0)
    fail_msg("could not start the second TLS server");
  open_session(&w, AH_OPEN_TYPE_PROXY, w.proxy, NULL, AH_FLAG_ASYNC);
  ah_handle c1 = connect_to(w.session, "127.0.0.1", w.tls.port);
  ah_handle c2 = connect_to(w.session, "127.0.0.1", second.port);
  assert_int_equal(get_checked(c1, "/bytes/2000?n=1", 1, 2000), 0);
  assert_int_equal(get_checked(c1, "/bytes/2000?n=2", 1, 2000), 1);
  assert_int_equal(get_checked(c2, "/bytes/2000?n=3", 1, 2000), 0);
  assert_origin_saw(&second, "GET /bytes/2000?n=3", 1);
  assert_origin_saw(&w.tls, "GET /bytes/2000?n=3", 0);
  ah_handle req = open_req(c1, "GET", "/bytes/2000?n=4", 1);
  set_proxy_option(req, "");
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_reused(req), 0);
  free(t_read_text(req));
  t_close(req);
  assert_int_equal(get_checked(c1, "/bytes/2000?n=5", 1, 2000), 1);
  close_session(&w);
  assert_squid_saw(&w, "CONNECT", host_port(w.tls.port), 1);
  assert_squid_saw(&w, "CONNECT", host_port(second.port), 1);
  world_stop(&w);
  ts_py_stop(&second);
}

/* ---- the environment (AH_OPEN_TYPE_PRECONFIG) ---- */

/*
 * The environment was set; opens a PRECONFIG session, GETs /echo?env=<tag>
 * from `host` (HTTP) and reports whether it went through squid, checked
 * both in squid's log and in the origin's (Via).
 */
static int env_http_went_via_proxy(world *w, ah_handle session,
                                   const char *host, uint16_t port,
                                   const char *tag) {
  ah_handle c = connect_to(session, host, port);
  char target[64];
  snprintf(target, sizeof(target), "/echo?env=%s", tag);
  char *head = echo_head(c, target, 0);
  int via = strcasestr(head, "\r\nVia: ") != NULL;
  free(head);
  char rest[96];
  snprintf(rest, sizeof(rest), "GET %s", target);
  size_t squid = ts_squid_count(&w->squid, "GET", abs_url(host, port, target),
                                via ? 1 : 0, via ? 10000 : 300);
  if ((squid != 0) != via) {
    ts_squid_dump(&w->squid);
    fail_msg("%s: squid logged it %zu times, but the origin saw %s", tag, squid,
             via ? "a Via header" : "no Via header");
  }
  return via;
}

static ah_handle open_preconfig(world *w) {
  return open_session(w, AH_OPEN_TYPE_PRECONFIG, NULL, NULL, AH_FLAG_ASYNC);
}

static void test_proxy_env_http_proxy_is_used(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  set_env("http_proxy", w.proxy);
  ah_handle s = open_preconfig(&w);
  assert_true(env_http_went_via_proxy(&w, s, "127.0.0.1", w.origin.port, "a"));
  world_stop(&w);
}

static void test_proxy_env_http_proxy_without_scheme_is_used(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  set_env("http_proxy", w.proxy_hp);
  ah_handle s = open_preconfig(&w);
  assert_true(env_http_went_via_proxy(&w, s, "127.0.0.1", w.origin.port, "a"));
  world_stop(&w);
}

static void test_proxy_env_uppercase_http_proxy_is_ignored(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  set_env("HTTP_PROXY", w.proxy);
  ah_handle s = open_preconfig(&w);
  assert_false(env_http_went_via_proxy(&w, s, "127.0.0.1", w.origin.port, "a"));
  world_stop(&w);
}

static void test_proxy_env_nothing_set_goes_direct(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  ah_handle s = open_preconfig(&w);
  assert_false(env_http_went_via_proxy(&w, s, "127.0.0.1", w.origin.port, "a"));
  world_stop(&w);
}

/* The environment is read once, at ah_open. */
static void test_proxy_env_is_read_at_open(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  ah_handle direct = NULL, proxied = NULL;
  assert_ah(
      ah_open(NULL, AH_OPEN_TYPE_PRECONFIG, NULL, NULL, AH_FLAG_ASYNC, &direct),
      AH_OK);
  assert_ah(ah_set_status_callback(direct, rec_callback), AH_OK);
  set_env("http_proxy", w.proxy);
  proxied = open_preconfig(&w);
  unsetenv("http_proxy");
  assert_true(
      env_http_went_via_proxy(&w, proxied, "127.0.0.1", w.origin.port, "a"));
  assert_false(
      env_http_went_via_proxy(&w, direct, "127.0.0.1", w.origin.port, "b"));
  assert_ah(ah_close_handle(direct), AH_OK);
  assert_true(rec_wait_closing(direct, 10000));
  world_stop(&w);
}

/* http_proxy with no_proxy=`no_proxy` (or NO_PROXY if `upper`). */
static void no_proxy_case(const char *no_proxy, int upper, const char *host,
                          int want_via) {
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  set_env("http_proxy", w.proxy);
  set_env(upper ? "NO_PROXY" : "no_proxy", no_proxy);
  ah_handle s = open_preconfig(&w);
  int via = env_http_went_via_proxy(&w, s, host, w.origin.port, "np");
  if (via != want_via)
    fail_msg("no_proxy=%s: a request to %s went %s", no_proxy, host,
             via ? "through the proxy" : "direct");
  world_stop(&w);
}

static void test_proxy_env_no_proxy_ip_goes_direct(void **state) {
  (void)state;
  no_proxy_case("127.0.0.1", 0, "127.0.0.1", 0);
}

static void test_proxy_env_no_proxy_star_goes_direct(void **state) {
  (void)state;
  no_proxy_case("*", 0, "127.0.0.1", 0);
}

static void test_proxy_env_uppercase_no_proxy_is_honoured(void **state) {
  (void)state;
  no_proxy_case("127.0.0.1", 1, "127.0.0.1", 0);
}

static void test_proxy_env_no_proxy_other_domain_does_not_bypass(void **state) {
  (void)state;
  no_proxy_case("example.com", 0, "127.0.0.1", 1);
}

static void test_proxy_env_no_proxy_list_with_spaces(void **state) {
  (void)state;
  no_proxy_case("example.com, 127.0.0.1", 0, "127.0.0.1", 0);
}

static void test_proxy_env_no_proxy_leading_dot_matches_name(void **state) {
  (void)state;
  no_proxy_case(".localhost", 0, "localhost", 0);
}

/* no_proxy=localhost: the name goes direct, the address it resolves to
 * does not match and goes through the proxy. */
static void test_proxy_env_no_proxy_localhost_is_by_name(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  set_env("http_proxy", w.proxy);
  set_env("no_proxy", "localhost");
  ah_handle s = open_preconfig(&w);
  assert_false(
      env_http_went_via_proxy(&w, s, "localhost", w.origin.port, "name"));
  assert_true(env_http_went_via_proxy(&w, s, "127.0.0.1", w.origin.port, "ip"));
  world_stop(&w);
}

/* no_proxy=127.0.0.1:<port>: only that port goes direct. */
static void test_proxy_env_no_proxy_port_specific(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  ts_server other;
  if (ts_server_start(&other, 1) != 0)
    fail_msg("could not start the second scripted server");
  set_env("http_proxy", w.proxy);
  set_env("no_proxy", host_port(w.origin.port));
  ah_handle s = open_preconfig(&w);
  assert_false(
      env_http_went_via_proxy(&w, s, "127.0.0.1", w.origin.port, "this"));
  assert_true(env_http_went_via_proxy(&w, s, "127.0.0.1", other.port, "other"));
  world_stop(&w);
  ts_server_stop(&other);
}

/*
 * HTTPS in a PRECONFIG session: through a CONNECT tunnel if `var` names
 * squid, direct otherwise. Returns the number of CONNECTs squid logged.
 */
static size_t env_https_case(const char *var, const char *no_proxy) {
  world w;
  world_start(&w, W_SQUID | W_TLS);
  if (var != NULL)
    set_env(var, w.proxy);
  if (no_proxy != NULL)
    set_env("no_proxy", no_proxy);
  ah_handle s = open_preconfig(&w);
  ah_handle c = connect_to(s, "127.0.0.1", w.tls.port);
  get_checked(c, "/bytes/77777", 1, 77777);
  assert_origin_saw(&w.tls, "GET /bytes/77777", 1);
  close_session(&w);
  size_t n =
      ts_squid_count(&w.squid, "CONNECT", host_port(w.tls.port), 1, 3000);
  world_stop(&w);
  return n;
}

static void test_proxy_env_https_proxy_is_used_for_https(void **state) {
  (void)state;
  assert_int_equal(env_https_case("https_proxy", NULL), 1);
}

static void test_proxy_env_uppercase_https_proxy_is_used(void **state) {
  (void)state;
  assert_int_equal(env_https_case("HTTPS_PROXY", NULL), 1);
}

/* Both spellings set: the lower-case one counts, as in curl. */
static void test_proxy_env_lowercase_https_proxy_wins(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_TLS);
  ts_squid other;
  if (ts_squid_start(&other, NULL) != 0)
    fail_msg("could not start the second squid");
  char other_url[64];
  snprintf(other_url, sizeof(other_url), "http://%s", host_port(other.port));
  set_env("https_proxy", w.proxy);
  set_env("HTTPS_PROXY", other_url);
  ah_handle s = open_preconfig(&w);
  ah_handle c = connect_to(s, "127.0.0.1", w.tls.port);
  get_checked(c, "/bytes/100", 1, 100);
  close_session(&w);
  assert_squid_saw(&w, "CONNECT", host_port(w.tls.port), 1);
  size_t stray =
      ts_squid_count(&other, "CONNECT", host_port(w.tls.port), 1, 300);
  ts_squid_stop(&other);
  assert_int_equal(stray, 0);
  world_stop(&w);
}

static void test_proxy_env_http_proxy_is_not_used_for_https(void **state) {
  (void)state;
  assert_int_equal(env_https_case("http_proxy", NULL), 0);
}

static void test_proxy_env_no_proxy_applies_to_https(void **state) {
  (void)state;
  assert_int_equal(env_https_case("https_proxy", "127.0.0.1"), 0);
}

/* https_proxy alone: plain HTTP goes direct. */
static void test_proxy_env_https_proxy_is_not_used_for_http(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  set_env("https_proxy", w.proxy);
  ah_handle s = open_preconfig(&w);
  assert_false(env_http_went_via_proxy(&w, s, "127.0.0.1", w.origin.port, "a"));
  world_stop(&w);
}

/* Credentials in http_proxy / https_proxy are used (Basic). */
static void test_proxy_env_credentials_are_used(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID_AUTH | W_ORIGIN | W_TLS);
  set_env("http_proxy", w.auth_proxy);
  set_env("https_proxy", w.auth_proxy);
  ah_handle s = open_preconfig(&w);
  assert_true(env_http_went_via_proxy(&w, s, "127.0.0.1", w.origin.port, "a"));
  ah_handle cs = connect_to(s, "127.0.0.1", w.tls.port);
  char *head = echo_head(cs, "/echo", 1);
  assert_no_proxy_authorization(head);
  free(head);
  close_session(&w);
  assert_squid_saw(&w, "CONNECT", host_port(w.tls.port), 1);
  world_stop(&w);
}

/*
 * DETECTING_PROXY comes right after HANDLE_CREATED for every request of a
 * PRECONFIG session, whether the proxy is then used or not.
 */
static void test_proxy_env_detecting_proxy_comes_first(void **state) {
  (void)state;
  world w;
  world_start(&w, W_SQUID | W_ORIGIN);
  set_env("http_proxy", w.proxy);
  set_env("no_proxy", "localhost");
  ah_handle s = open_preconfig(&w);
  ah_handle c1 = connect_to(s, "127.0.0.1", w.origin.port);
  ah_handle c2 = connect_to(s, "localhost", w.origin.port);
  ah_handle reqs[3];
  reqs[0] = open_req(c1, "GET", "/bytes/10", 0); /* proxied, new */
  reqs[1] = open_req(c1, "GET", "/bytes/10", 0); /* proxied, pooled */
  reqs[2] = open_req(c2, "GET", "/bytes/10", 0); /* direct */
  for (int i = 0; i < 3; i++) {
    assert_done(reqs[i], ah_send_request(reqs[i], NULL, 0, NULL, 0));
    free(t_read_text(reqs[i]));
    assert_rec(rec_check_trace(reqs[i], "^CP[^P]*$", REC_WHY));
    t_close(reqs[i]);
  }
  world_stop(&w);
}

/* clang-format off */
static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_proxy_http_get_through_squid),
    cmocka_unit_test(test_proxy_http_post_through_squid),
    cmocka_unit_test(test_proxy_sync_session_through_squid),
    cmocka_unit_test(test_proxy_http_request_line_is_absolute_form),
    cmocka_unit_test(test_proxy_https_get_through_squid_tunnel),
    cmocka_unit_test(test_proxy_https_post_through_squid_tunnel),
    cmocka_unit_test(test_proxy_https_by_name_checks_origin_name),
    cmocka_unit_test(test_proxy_https_wrong_origin_name_is_refused),
    cmocka_unit_test(test_proxy_https_squid_forbids_connect_is_refused),
    cmocka_unit_test(test_proxy_auth_missing_plain_get_gets_407),
    cmocka_unit_test(test_proxy_auth_missing_https_fails),
    cmocka_unit_test(test_proxy_auth_wrong_password_is_refused),
    cmocka_unit_test(test_proxy_auth_with_credentials_works),
    cmocka_unit_test(test_proxy_auth_percent_encoded_credentials_are_decoded),
    cmocka_unit_test(test_proxy_auth_credentials_never_reach_bypassed_origin),
    cmocka_unit_test(test_proxy_option_on_request_of_direct_session),
    cmocka_unit_test(test_proxy_option_on_connect_handle),
    cmocka_unit_test(test_proxy_option_empty_means_direct),
    cmocka_unit_test(test_proxy_bypass_list_ip_goes_direct),
    cmocka_unit_test(test_proxy_bypass_list_other_host_is_proxied),
    cmocka_unit_test(test_proxy_open_rejects_bad_arguments),
    cmocka_unit_test(test_proxy_connect_502_is_proxy_refused),
    cmocka_unit_test(test_proxy_connect_502_close_delimited_is_proxy_refused),
    cmocka_unit_test(test_proxy_connect_407_is_auth_required),
    cmocka_unit_test(test_proxy_connect_200_then_garbage_is_tls_error),
    cmocka_unit_test(test_proxy_connect_200_then_close_names_proxy),
    cmocka_unit_test(test_proxy_connect_http10_answer_opens_tunnel),
    cmocka_unit_test(test_proxy_connect_unanswered_times_out),
    cmocka_unit_test(test_proxy_connect_pending_close_cancels),
    cmocka_unit_test(test_proxy_unreachable_http_is_cannot_connect),
    cmocka_unit_test(test_proxy_unreachable_https_is_cannot_connect),
    cmocka_unit_test(test_proxy_keepalive_http_not_mixed_with_direct),
    cmocka_unit_test(test_proxy_keepalive_direct_not_reused_for_proxied),
    cmocka_unit_test(test_proxy_keepalive_https_tunnel_per_origin),
    cmocka_unit_test(test_proxy_env_http_proxy_is_used),
    cmocka_unit_test(test_proxy_env_http_proxy_without_scheme_is_used),
    cmocka_unit_test(test_proxy_env_uppercase_http_proxy_is_ignored),
    cmocka_unit_test(test_proxy_env_nothing_set_goes_direct),
    cmocka_unit_test(test_proxy_env_is_read_at_open),
    cmocka_unit_test(test_proxy_env_no_proxy_ip_goes_direct),
    cmocka_unit_test(test_proxy_env_no_proxy_star_goes_direct),
    cmocka_unit_test(test_proxy_env_uppercase_no_proxy_is_honoured),
    cmocka_unit_test(test_proxy_env_no_proxy_other_domain_does_not_bypass),
    cmocka_unit_test(test_proxy_env_no_proxy_list_with_spaces),
    cmocka_unit_test(test_proxy_env_no_proxy_leading_dot_matches_name),
    cmocka_unit_test(test_proxy_env_no_proxy_localhost_is_by_name),
    cmocka_unit_test(test_proxy_env_no_proxy_port_specific),
    cmocka_unit_test(test_proxy_env_https_proxy_is_used_for_https),
    cmocka_unit_test(test_proxy_env_uppercase_https_proxy_is_used),
    cmocka_unit_test(test_proxy_env_lowercase_https_proxy_wins),
    cmocka_unit_test(test_proxy_env_http_proxy_is_not_used_for_https),
    cmocka_unit_test(test_proxy_env_no_proxy_applies_to_https),
    cmocka_unit_test(test_proxy_env_https_proxy_is_not_used_for_http),
    cmocka_unit_test(test_proxy_env_credentials_are_used),
    cmocka_unit_test(test_proxy_env_detecting_proxy_comes_first),
};
/* clang-format on */

AH_TEST_MAIN(tests)
