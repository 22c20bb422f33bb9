/*
 * test_tls.c - HTTPS through the public API against a real nginx serving
 * TLS with certificates made at run time (tests/support/make_certs.sh):
 * GET and POST of every size with SHA-256 checks on both ends, keep-alive
 * reuse, the TLS statuses in the callback order, each certificate failure
 * rejected with its own error and nothing delivered, the security flags
 * each accepting exactly their own failure, old protocol versions, client
 * certificates, cancelling during the handshake and mid-body, and session
 * resumption. The scripted server's HTTPS mode adds what nginx will not
 * do: bodies cut off without close_notify (truncation), resets, a client
 * certificate refused inside the handshake, TLS 1.0 only.
 *
 * Every test opens its own session (with the recorder) and server, and
 * ends with every handle closed; leaks are LeakSanitizer's to find.
 */
#define _GNU_SOURCE

#include "test_main.h"

#include "ahtest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (UINT64_C(1) << 20)

/* ---- certificates and servers ---- */

/*
 * "<certs dir>/<name>.pem" (or the exact file if `name` has a dot), in one
 * of a few rotating buffers so that several can be used in one call.
 */
static const char *cert(const char *name) {
  static char bufs[8][512];
  static unsigned next;
  if (ts_certs_dir() == NULL)
    fail_msg("could not make the test certificates");
  char *out = bufs[next++ % 8];
  char file[128];
  snprintf(file, sizeof(file), "%s%s", name,
           strchr(name, '.') != NULL ? "" : ".pem");
  return ts_cert_path(file, out, 512);
}

/* The key file that goes with cert(name). */
static const char *key(const char *name) {
  char file[128];
  snprintf(file, sizeof(file), "%s.key", name);
  return cert(file);
}

/* Starts a TLS nginx with the certificate `name` (and its key). */
static void start_nginx(ts_nginx *ngx, const char *name, int verify_client) {
  ts_nginx_tls tls = {cert(name), key(name), NULL, NULL, NULL};
  if (verify_client)
    tls.client_ca = cert("ca");
  if (ts_nginx_start_tls(ngx, &tls) != 0)
    fail_msg("could not start nginx with TLS (%s)", name);
}

static void set_string(ah_handle h, int option, const char *value) {
  assert_ah(ah_set_option(h, option, value, strlen(value)), AH_OK);
}

static void set_flags(ah_handle h, uint32_t flags) {
  assert_ah(ah_set_option(h, AH_OPTION_SECURITY_FLAGS, &flags, sizeof(flags)),
            AH_OK);
}

/* A session with the recorder that trusts the test CA (if `trust`). */
static ah_handle open_session(unsigned flags, int trust) {
  ah_handle session = NULL;
  t_open_session(flags, &session);
  if (trust)
    set_string(session, AH_OPTION_TLS_CA_FILE, cert("ca"));
  return session;
}

static ah_handle open_connect(ah_handle session, const char *host,
                              uint16_t port) {
  ah_handle connect = NULL;
  assert_ah(ah_connect(session, host, port, NULL, NULL, 0, NULL, &connect),
            AH_OK);
  assert_non_null(connect);
  return connect;
}

/* An HTTPS request: AH_FLAG_SECURE and `flags`. */
static ah_handle open_secure(ah_handle connect, const char *method,
                             const char *target, unsigned flags) {
  ah_handle req = NULL;
  assert_ah(ah_open_request(connect, method, target, AH_FLAG_SECURE | flags,
                            NULL, &req),
            AH_OK);
  assert_non_null(req);
  return req;
}

typedef struct tls_fixture {
  ts_nginx ngx;
  ah_handle session;
  ah_handle connect;
} tls_fixture;

/*
 * nginx with the certificate `name`, then an asynchronous (or `flags`)
 * session trusting the test CA and a connect handle to 127.0.0.1.
 */
static void tls_setup_flags(tls_fixture *f, const char *name, unsigned flags,
                            int verify_client) {
  memset(f, 0, sizeof(*f));
  start_nginx(&f->ngx, name, verify_client);
  rec_reset();
  f->session = open_session(flags, 1);
  f->connect = open_connect(f->session, "127.0.0.1", f->ngx.port);
}

static void tls_setup(tls_fixture *f, const char *name) {
  tls_setup_flags(f, name, AH_FLAG_ASYNC, 0);
}

/* nginx set up by `tls`; an asynchronous session, trusting the CA if
   `trust`; a connect handle. 0, or -1 if nginx did not start. */
static int tls_setup_with(tls_fixture *f, const ts_nginx_tls *tls, int trust) {
  memset(f, 0, sizeof(*f));
  if (ts_nginx_start_tls(&f->ngx, tls) != 0)
    return -1;
  rec_reset();
  f->session = open_session(AH_FLAG_ASYNC, trust);
  f->connect = open_connect(f->session, "127.0.0.1", f->ngx.port);
  return 0;
}

/*
 * Whether the local OpenSSL can speak the old version `flag` ("-tls1",
 * "-tls1_1") to the server on `port` at security level 0.
 */
static int old_tls_is_served(uint16_t port, const char *flag) {
  char addr[64];
  snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)port);
  char *probe[] = {(char *)"openssl",
                   (char *)"s_client",
                   (char *)"-connect",
                   addr,
                   (char *)flag,
                   (char *)"-CAfile",
                   (char *)cert("ca"),
                   (char *)"-cipher",
                   (char *)"DEFAULT@SECLEVEL=0",
                   NULL};
  return ts_run(probe, 30000) == 0;
}

/*
 * Closes the session (and so everything under it) and checks that every
 * handle in the log got exactly one HANDLE_CLOSING, last, and that the
 * recorder saw no violation. AHTTP_TEST_DUMP=1 prints the whole log.
 */
static void close_session(ah_handle session) {
  assert_ah(ah_close_handle(session), AH_OK);
  int closed = rec_wait_closing(session, 10000);
  const char *dump = getenv("AHTTP_TEST_DUMP");
  if (!closed || (dump != NULL && dump[0] == '1'))
    rec_dump(NULL);
  if (!closed)
    fail_msg("no HANDLE_CLOSING for the session within 10 s of closing it");
  assert_rec(rec_check_all_closed(REC_WHY));
  assert_rec(rec_check_violations(REC_WHY));
}

/* close_session, then stops nginx (the atexit handler does if this fails). */
static void tls_teardown(tls_fixture *f) {
  close_session(f->session);
  ts_nginx_stop(&f->ngx);
  f->session = NULL;
  f->connect = NULL;
}

/* ---- queries ---- */

/*
 * The lines of nginx's TLS log (see ts_nginx) that contain `needle`,
 * waiting up to 5 s until there are `want` of them.
 */
static size_t tls_log_count(const ts_nginx *ngx, const char *needle,
                            size_t want) {
  uint64_t deadline = tu_now_ms() + 5000;
  for (;;) {
    char *text = tu_read_file(ngx->tls_log, NULL);
    size_t n = text != NULL ? tu_count_lines_with(text, needle) : 0;
    if ((n >= want || tu_now_ms() >= deadline) && text != NULL && n != want)
      fprintf(stderr, "nginx TLS log:\n%s", text);
    free(text);
    if (n >= want || tu_now_ms() >= deadline)
      return n;
    tu_sleep_ms(10);
  }
}

static uint32_t tls_session_reused(ah_handle req) {
  uint32_t v = 99;
  size_t len = sizeof(v);
  assert_ah(ah_get_option(req, AH_OPTION_TLS_SESSION_REUSED, &v, &len), AH_OK);
  assert_int_equal(len, sizeof(v));
  assert_true(v == 0 || v == 1);
  return v;
}

static void tls_version(ah_handle req, char *out, size_t cap) {
  size_t len = cap;
  assert_ah(ah_get_option(req, AH_OPTION_TLS_VERSION, out, &len), AH_OK);
  assert_int_equal(len, strlen(out));
}

/* The sum of the REQUEST_SENT byte counts of `req`. */
static uint64_t bytes_sent(ah_handle req) {
  size_t n;
  rec_event *ev = rec_events(req, &n);
  uint64_t sent = 0;
  for (size_t i = 0; i < n; i++)
    if (ev[i].status == AH_STATUS_REQUEST_SENT)
      sent += ev[i].value;
  free(ev);
  return sent;
}

/* GET `target` (HTTPS), read it whole and check it against `sha`. */
static void get_and_check(ah_handle connect, const char *target, uint64_t size,
                          const char *sha, unsigned flags) {
  ah_handle req = open_secure(connect, "GET", target, flags);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  char hex[65];
  uint64_t total = 0;
  assert_ah(t_read_all(req, 65536, 0, hex, &total, NULL, NULL), AH_OK);
  assert_int_equal(total, size);
  assert_string_equal(hex, sha);
  t_close(req);
}

/* ---- GET and POST ---- */

static void get_case(uint64_t size) {
  tls_fixture f;
  tls_setup(&f, "server");
  char sha[65];
  assert_int_equal(ts_nginx_add_file(&f.ngx, "file.bin", (size_t)size, 17, sha),
                   0);
  ah_handle req = open_secure(f.connect, "GET", "/file.bin", 0);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  uint64_t length = 0;
  size_t len = sizeof(length);
  assert_ah(ah_query_info(req, AH_INFO_CONTENT_LENGTH, NULL, 0, &length, &len),
            AH_OK);
  assert_int_equal(length, size);
  char version[32];
  tls_version(req, version, sizeof(version));
  if (strcmp(version, "TLSv1.3") != 0 && strcmp(version, "TLSv1.2") != 0)
    fail_msg("AH_OPTION_TLS_VERSION is \"%s\"", version);
  char hex[65];
  uint64_t total = 0;
  size_t chunk = size >= 10 * MIB ? (size_t)MIB : 65536;
  assert_ah(t_read_all(req, chunk, 0, hex, &total, NULL, NULL), AH_OK);
  assert_int_equal(total, size);
  assert_string_equal(hex, sha);
  /* A read after the end reports the end again. */
  char b[16];
  size_t n = 99;
  assert_done(req, ah_read(req, b, sizeof(b), &n));
  assert_int_equal(n, 0);
  t_close(req);
  /* ALPN offered http/1.1; an IP literal is never sent as SNI (RFC 6066
     section 3). */
  assert_int_equal(tls_log_count(&f.ngx, " sni=- alpn=http/1.1 ", 1), 1);
  tls_teardown(&f);
}

static void test_tls_get_0(void **state) {
  (void)state;
  get_case(0);
}

static void test_tls_get_4096(void **state) {
  (void)state;
  get_case(4096);
}

static void test_tls_get_10m(void **state) {
  (void)state;
  get_case(10 * MIB);
}

static void test_tls_get_200m(void **state) {
  (void)state;
  get_case(200 * MIB);
}

/*
 * POSTs `size` bytes to nginx's /upload, whole with ah_send_request or
 * streamed in `piece`-byte writes (piece 0: whole), and checks what nginx
 * stored against what was sent.
 */
static void post_case(unsigned flags, uint64_t size, size_t piece) {
  tls_fixture f;
  tls_setup_flags(&f, "server", flags, 0);
  ah_handle req = open_secure(f.connect, "POST", "/upload", 0);
  static const char hdr[] = "Content-Type: application/octet-stream";
  char hex[65];
  if (piece == 0) {
    unsigned char *body = malloc(size > 0 ? (size_t)size : 1);
    assert_non_null(body);
    tu_fill(body, (size_t)size, 23);
    tu_sha256_hex(body, (size_t)size, hex);
    assert_done(req, ah_send_request(req, hdr, strlen(hdr),
                                     size > 0 ? body : NULL, (size_t)size));
    free(body);
  } else {
    assert_done(req, ah_send_request_ex(req, hdr, strlen(hdr), size));
    t_stream_body(req, size, piece, 29, hex);
  }
  assert_int_equal(t_status_code(req), 200);
  char *text = t_read_text(req);
  assert_string_equal(text, "ok\n");
  free(text);
  /* Every body byte was reported sent, and the head too. */
  assert_true(bytes_sent(req) > size);
  t_close(req);
  char got[65];
  uint64_t got_len = 0;
  assert_int_equal(ts_nginx_upload(&f.ngx, 0, 10000, got, &got_len), 0);
  assert_int_equal(got_len, size);
  assert_string_equal(got, hex);
  tls_teardown(&f);
}

static void test_tls_post_0(void **state) {
  (void)state;
  post_case(AH_FLAG_ASYNC, 0, 0);
}

static void test_tls_post_4096(void **state) {
  (void)state;
  post_case(AH_FLAG_ASYNC, 4096, 0);
}

static void test_tls_post_streamed_4096(void **state) {
  (void)state;
  post_case(AH_FLAG_ASYNC, 4096, 1000);
}

static void test_tls_post_10m(void **state) {
  (void)state;
  post_case(AH_FLAG_ASYNC, 10 * MIB, 65536);
}

static void test_tls_post_200m(void **state) {
  (void)state;
  post_case(AH_FLAG_ASYNC, 200 * MIB, (size_t)MIB);
}

static void test_tls_sync_post_10m(void **state) {
  (void)state;
  post_case(0, 10 * MIB, 100000);
}

/* Synchronous session: HTTPS GET with the TLS statuses, no completions. */
static void test_tls_sync_get_4096(void **state) {
  (void)state;
  tls_fixture f;
  tls_setup_flags(&f, "server", 0, 0);
  char sha[65];
  assert_int_equal(ts_nginx_add_file(&f.ngx, "f.bin", 4096, 3, sha), 0);
  ah_handle req = open_secure(f.connect, "GET", "/f.bin", 0);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  char hex[65];
  uint64_t total = 0;
  assert_ah(t_read_all(req, 1000, 0, hex, &total, NULL, NULL), AH_OK);
  assert_int_equal(total, 4096);
  assert_string_equal(hex, sha);
  t_close(req);
  assert_rec(rec_check_trace(req, "^CP?rnckHhSs+V[Vv]*v[VvLl]*X$", REC_WHY));
  tls_teardown(&f);
}

/*
 * Keep-alive over TLS: GET, GET, POST, GET in sequence share one
 * connection (AH_OPTION_CONNECTION_REUSED, nginx's $connection), and only
 * the first request shakes hands.
 */
static void test_tls_keepalive_requests_share_one_connection(void **state) {
  (void)state;
  tls_fixture f;
  tls_setup(&f, "server");
  char sha[3][65];
  static const size_t sizes[] = {1000, 300000, 0};
  for (size_t i = 0; i < 3; i++) {
    char name[32];
    snprintf(name, sizeof(name), "file%zu.bin", i);
    assert_int_equal(ts_nginx_add_file(&f.ngx, name, sizes[i], 50 + i, sha[i]),
                     0);
  }
  ah_handle reqs[4];
  for (size_t i = 0; i < 4; i++) {
    ah_handle req;
    if (i == 2) {
      req = open_secure(f.connect, "POST", "/upload", 0);
      assert_done(req, ah_send_request(req, NULL, 0, "posted", 6));
      assert_int_equal(t_status_code(req), 200);
      char *text = t_read_text(req);
      assert_string_equal(text, "ok\n");
      free(text);
    } else {
      size_t k = i < 2 ? i : 2;
      char target[32], hex[65];
      snprintf(target, sizeof(target), "/file%zu.bin", k);
      req = open_secure(f.connect, "GET", target, 0);
      assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
      assert_int_equal(t_status_code(req), 200);
      uint64_t total = 0;
      assert_ah(t_read_all(req, 65536, 0, hex, &total, NULL, NULL), AH_OK);
      assert_int_equal(total, sizes[k]);
      assert_string_equal(hex, sha[k]);
    }
    assert_int_equal(t_reused(req), i == 0 ? 0 : 1);
    t_close(req);
    reqs[i] = req;
    size_t handshakes = rec_count(req, AH_STATUS_TLS_HANDSHAKE_START);
    if (handshakes != (i == 0 ? 1u : 0u)) {
      rec_dump(req);
      fail_msg("request %zu had %zu TLS_HANDSHAKE_START", i, handshakes);
    }
  }
  for (size_t i = 1; i < 4; i++)
    assert_rec(rec_check_trace(reqs[i], "^CSs+V[Vv]*v[VvLlD]*X$", REC_WHY));

  ts_nginx_entry log[6];
  size_t n = ts_nginx_log(&f.ngx, log, 6, 4, 5000);
  assert_int_equal(n, 4);
  static const char *const want[] = {
      "GET /file0.bin HTTP/1.1", "GET /file1.bin HTTP/1.1",
      "POST /upload HTTP/1.1", "GET /file2.bin HTTP/1.1"};
  for (size_t i = 0; i < 4; i++) {
    assert_string_equal(log[i].request, want[i]);
    assert_int_equal(log[i].status, 200);
    assert_int_equal(log[i].connection, log[0].connection);
    assert_int_equal(log[i].connection_requests, i + 1);
  }
  char got[65];
  uint64_t got_len = 0;
  assert_int_equal(ts_nginx_upload(&f.ngx, 0, 5000, got, &got_len), 0);
  assert_int_equal(got_len, 6);
  tls_teardown(&f);
}

/* ---- callback order ---- */

/* What the TLS statuses of one handle carried (the recorder keeps no text
   for them). */
typedef struct tls_infos {
  ah_handle target;
  int starts, dones;
  size_t start_len;
  int start_has_info;
  size_t done_len;
  char done_text[128];
} tls_infos;

static void tls_info_hook(ah_handle handle, int status, const void *info,
                          size_t info_len, void *context, void *arg) {
  (void)context;
  tls_infos *t = arg;
  if (handle != t->target)
    return;
  if (status == AH_STATUS_TLS_HANDSHAKE_START) {
    t->starts++;
    t->start_len = info_len;
    t->start_has_info = info != NULL;
  } else if (status == AH_STATUS_TLS_HANDSHAKE_DONE) {
    t->dones++;
    t->done_len = info_len;
    if (info != NULL && info_len > 0)
      snprintf(t->done_text, sizeof(t->done_text), "%.*s", (int)info_len,
               (const char *)info);
  }
}

/*
 * An HTTPS GET on a new connection: ... CONNECTED_TO_SERVER,
 * TLS_HANDSHAKE_START, TLS_HANDSHAKE_DONE, SENDING_REQUEST ...; the start
 * carries no info, the end a text (with its NUL counted).
 */
static void test_tls_callback_order_get(void **state) {
  (void)state;
  tls_fixture f;
  tls_setup(&f, "server");
  char sha[65];
  assert_int_equal(ts_nginx_add_file(&f.ngx, "f.bin", 20000, 4, sha), 0);
  ah_handle req = open_secure(f.connect, "GET", "/f.bin", 0);
  tls_infos infos;
  memset(&infos, 0, sizeof(infos));
  infos.target = req;
  rec_set_hook(tls_info_hook, &infos);
  int rc = ah_send_request(req, NULL, 0, NULL, 0);
  assert_ah(rc, AH_IO_PENDING); /* a new TLS connection cannot be instant */
  assert_done(req, rc);
  char hex[65];
  assert_ah(t_read_all(req, 4096, 0, hex, NULL, NULL, NULL), AH_OK);
  assert_string_equal(hex, sha);
  t_close(req);
  rec_set_hook(NULL, NULL);
  assert_rec(rec_check_trace(req, "^CP?rnckHhSs+V[Vv]*vD[VvLlD]*X$", REC_WHY));
  assert_int_equal(infos.starts, 1);
  assert_int_equal(infos.dones, 1);
  if (infos.start_has_info || infos.start_len != 0)
    fail_msg("TLS_HANDSHAKE_START carried info (%zu bytes)", infos.start_len);
  if (infos.done_text[0] == '\0' ||
      infos.done_len != strlen(infos.done_text) + 1)
    fail_msg("TLS_HANDSHAKE_DONE info \"%s\" of %zu bytes is not a text",
             infos.done_text, infos.done_len);
  /* It names the version negotiated. */
  if (strstr(infos.done_text, "TLSv1.") == NULL)
    fail_msg("TLS_HANDSHAKE_DONE info \"%s\" does not name the version",
             infos.done_text);
  /* The connect handle saw none of the request's statuses. */
  assert_int_equal(rec_count(f.connect, AH_STATUS_TLS_HANDSHAKE_START), 0);
  tls_teardown(&f);
}

/*
 * AH_OPTION_TLS_VERSION needs a connection; before one it fails.
 * AH_OPTION_TLS_SESSION_REUSED, if it answers, says 0.
 */
static void test_tls_queries_before_connection(void **state) {
  (void)state;
  tls_fixture f;
  tls_setup(&f, "server");
  ah_handle req = open_secure(f.connect, "GET", "/", 0);
  uint32_t v = 99;
  size_t len = sizeof(v);
  if (ah_get_option(req, AH_OPTION_TLS_SESSION_REUSED, &v, &len) == AH_OK)
    assert_int_equal(v, 0);
  char text[32];
  len = sizeof(text);
  assert_int_not_equal(ah_get_option(req, AH_OPTION_TLS_VERSION, text, &len),
                       AH_OK);
  t_close(req);
  tls_teardown(&f);
}

/*
 * A host name works too: it is sent as SNI and matched against the DNS
 * name in the certificate.
 */
static void test_tls_get_by_host_name_localhost(void **state) {
  (void)state;
  tls_fixture f;
  tls_setup(&f, "server");
  char sha[65];
  assert_int_equal(ts_nginx_add_file(&f.ngx, "f.bin", 5000, 6, sha), 0);
  ah_handle connect = open_connect(f.session, "localhost", f.ngx.port);
  get_and_check(connect, "/f.bin", 5000, sha, 0);
  t_close(connect);
  assert_int_equal(tls_log_count(&f.ngx, " sni=localhost alpn=http/1.1 ", 1),
                   1);
  tls_teardown(&f);
}

/* Closes `to_close` inside the callback `at_status` for `target`. */
typedef struct closer {
  ah_handle target;
  int at_status;
  ah_handle to_close;
  int fired;
  int close_rc;
  char text[128]; /* the info text of that callback */
} closer;

static void close_hook(ah_handle handle, int status, const void *info,
                       size_t info_len, void *context, void *arg) {
  (void)context;
  closer *c = arg;
  if (c->fired || handle != c->target || status != c->at_status)
    return;
  c->fired = 1;
  if (info != NULL && info_len > 0)
    snprintf(c->text, sizeof(c->text), "%s", (const char *)info);
  c->close_rc = ah_close_handle(c->to_close);
}

/*
 * A connect handle with port 0 connects to 443 for HTTPS and to 80 for
 * HTTP (closed before the connection could go anywhere).
 */
static void port_zero_case(unsigned req_flags, const char *want) {
  rec_reset();
  ah_handle session = open_session(AH_FLAG_ASYNC, 1);
  ah_handle connect = open_connect(session, "127.0.0.1", 0);
  ah_handle req = NULL;
  assert_ah(ah_open_request(connect, "GET", "/", req_flags, NULL, &req), AH_OK);
  closer c = {req, AH_STATUS_CONNECTING_TO_SERVER, req, 0, 0, ""};
  rec_set_hook(close_hook, &c);
  int err = t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL);
  assert_true(rec_wait_closing(req, 10000));
  rec_set_hook(NULL, NULL);
  assert_true(c.fired);
  assert_ah(err, AH_ERR_OPERATION_CANCELLED);
  if (strstr(c.text, want) == NULL)
    fail_msg("CONNECTING_TO_SERVER \"%s\", expected \"%s\"", c.text, want);
  close_session(session);
}

static void test_tls_port_zero_means_443_when_secure(void **state) {
  (void)state;
  port_zero_case(AH_FLAG_SECURE, "127.0.0.1:443");
}

static void test_tls_port_zero_means_80_when_plain(void **state) {
  (void)state;
  port_zero_case(0, "127.0.0.1:80");
}

/* ---- rejections ---- */

/*
 * `detail` names the subject `cn` as OpenSSL prints names ("CN=x",
 * "CN = x", "/CN=x").
 */
static int names_subject(const char *detail, const char *cn) {
  const char *p = detail;
  while ((p = strstr(p, "CN")) != NULL) {
    p += 2;
    const char *q = p;
    while (*q == ' ')
      q++;
    if (*q != '=')
      continue;
    q++;
    while (*q == ' ')
      q++;
    if (strncmp(q, cn, strlen(cn)) == 0)
      return 1;
  }
  return 0;
}

/*
 * The GET on `req` fails with `err`, with a detail naming the reason and
 * the certificate's subject (`cn`, NULL if there is no certificate to
 * name); the handshake started and never finished, no request was sent and
 * no response can be read.
 */
static void assert_rejected(ah_handle req, int err, const char *reason,
                            const char *cn) {
  int got = t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL);
  char detail[512] = "";
  int code = ah_last_error_detail(req, detail, sizeof(detail));
  if (got != err) {
    rec_dump(req);
    fail_msg("the request ended with %s, expected %s; detail \"%s\"",
             rec_code_name(got), rec_code_name(err), detail);
  }
  if (code != err)
    fail_msg("ah_last_error_detail returned %s, expected %s",
             rec_code_name(code), rec_code_name(err));
  if (detail[0] == '\0')
    fail_msg("no error detail for %s", rec_code_name(err));
  if (reason != NULL && strcasestr(detail, reason) == NULL)
    fail_msg("error detail \"%s\" does not give the reason \"%s\"", detail,
             reason);
  if (cn != NULL && !names_subject(detail, cn))
    fail_msg("error detail \"%s\" does not name the subject CN=%s", detail, cn);
  assert_int_equal(rec_count(req, AH_STATUS_TLS_HANDSHAKE_START), 1);
  assert_int_equal(rec_count(req, AH_STATUS_TLS_HANDSHAKE_DONE), 0);
  assert_int_equal(rec_count(req, AH_STATUS_SENDING_REQUEST), 0);
  assert_int_equal(rec_count(req, AH_STATUS_REQUEST_SENT), 0);
  assert_int_equal(rec_count(req, AH_STATUS_RESPONSE_RECEIVED), 0);
  uint32_t code32 = 0;
  size_t len = sizeof(code32);
  assert_ah(ah_query_info(req, AH_INFO_STATUS_CODE, NULL, 0, &code32, &len),
            AH_ERR_INCORRECT_HANDLE_STATE);
  char buf[64];
  size_t n = 0;
  assert_int_not_equal(t_done(req, ah_read(req, buf, sizeof(buf), &n), NULL),
                       AH_OK);
  assert_int_equal(n, 0);
}

/* nginx never saw a request. */
static void assert_no_request(const ts_nginx *ngx) {
  ts_nginx_entry log[4];
  tu_sleep_ms(100);
  size_t n = ts_nginx_log(ngx, log, 4, 0, 0);
  if (n != 0)
    fail_msg("nginx logged %zu requests (\"%s\") on a rejected connection", n,
             log[0].request);
}

/* GET from a server with the certificate `name`: rejected with `err`. */
static void reject_case(const char *name, int trust, int err,
                        const char *reason, const char *cn) {
  tls_fixture f;
  ts_nginx_tls tls = {cert(name), key(name), NULL, NULL, NULL};
  if (tls_setup_with(&f, &tls, trust) != 0)
    fail_msg("could not start nginx with %s", name);
  ah_handle req = open_secure(f.connect, "GET", "/", 0);
  assert_rejected(req, err, reason, cn);
  t_close(req);
  assert_no_request(&f.ngx);
  tls_teardown(&f);
}

static void test_tls_rejects_self_signed(void **state) {
  (void)state;
  reject_case("selfsigned", 1, AH_ERR_TLS_UNKNOWN_CA, "self", "127.0.0.1");
}

static void test_tls_rejects_untrusted_ca(void **state) {
  (void)state;
  reject_case("untrusted", 1, AH_ERR_TLS_UNKNOWN_CA, "issuer", "127.0.0.1");
}

static void test_tls_rejects_expired(void **state) {
  (void)state;
  reject_case("expired", 1, AH_ERR_TLS_CERT_DATE_INVALID, "expired",
              "127.0.0.1");
}

static void test_tls_rejects_wrong_host(void **state) {
  (void)state;
  reject_case("wronghost", 1, AH_ERR_TLS_CERT_NAME_INVALID, "mismatch",
              "wrong.example");
}

/*
 * Without AH_OPTION_TLS_CA_FILE the system store decides, and it does not
 * know the test CA (SSL_CERT_FILE / SSL_CERT_DIR cleared for the test).
 */
static void test_tls_rejects_without_ca_option(void **state) {
  (void)state;
  unsetenv("SSL_CERT_FILE");
  unsetenv("SSL_CERT_DIR");
  reject_case("server", 0, AH_ERR_TLS_UNKNOWN_CA, "issuer", "127.0.0.1");
}

/* SSL_CERT_FILE replaces the system store when no CA option is set. */
static void test_tls_ssl_cert_file_is_honoured(void **state) {
  (void)state;
  assert_int_equal(setenv("SSL_CERT_FILE", cert("ca"), 1), 0);
  unsetenv("SSL_CERT_DIR");
  tls_fixture f;
  ts_nginx_tls tls = {cert("server"), key("server"), NULL, NULL, NULL};
  if (tls_setup_with(&f, &tls, 0) != 0)
    fail_msg("could not start nginx");
  char sha[65];
  assert_int_equal(ts_nginx_add_file(&f.ngx, "f.bin", 777, 8, sha), 0);
  get_and_check(f.connect, "/f.bin", 777, sha, 0);
  tls_teardown(&f);
}

/* AH_OPTION_TLS_CA_DIR: a hashed directory holding the test CA. */
static void test_tls_ca_dir_option_is_used(void **state) {
  (void)state;
  unsetenv("SSL_CERT_FILE");
  unsetenv("SSL_CERT_DIR");
  char dir[512];
  snprintf(dir, sizeof(dir), "%s/hashed", ts_certs_dir());
  assert_int_equal(mkdir(dir, 0755), 0);
  char *pem = tu_read_file(cert("ca"), NULL);
  assert_non_null(pem);
  char path[600];
  snprintf(path, sizeof(path), "%s/ca.pem", dir);
  assert_int_equal(tu_write_file(path, pem, strlen(pem)), 0);
  free(pem);
  char *argv[] = {(char *)"openssl", (char *)"rehash", dir, NULL};
  assert_int_equal(ts_run(argv, 30000), 0);
  tls_fixture f;
  ts_nginx_tls tls = {cert("server"), key("server"), NULL, NULL, NULL};
  if (tls_setup_with(&f, &tls, 0) != 0)
    fail_msg("could not start nginx");
  char sha[65];
  assert_int_equal(ts_nginx_add_file(&f.ngx, "f.bin", 999, 9, sha), 0);
  /* Set on the connect handle: connections opened later use it. */
  set_string(f.connect, AH_OPTION_TLS_CA_DIR, dir);
  get_and_check(f.connect, "/f.bin", 999, sha, 0);
  tls_teardown(&f);
}

/* ---- security flags ---- */

typedef struct bad_cert {
  const char *name;
  int err;
  uint32_t flag; /* the flag that accepts it */
  const char *reason;
  const char *cn;
} bad_cert;

static const bad_cert bad_certs[] = {
    {"selfsigned", AH_ERR_TLS_UNKNOWN_CA, AH_SECURITY_FLAG_IGNORE_UNKNOWN_CA,
     "self", "127.0.0.1"},
    {"untrusted", AH_ERR_TLS_UNKNOWN_CA, AH_SECURITY_FLAG_IGNORE_UNKNOWN_CA,
     "issuer", "127.0.0.1"},
    {"expired", AH_ERR_TLS_CERT_DATE_INVALID,
     AH_SECURITY_FLAG_IGNORE_CERT_DATE_INVALID, "expired", "127.0.0.1"},
    {"wronghost", AH_ERR_TLS_CERT_NAME_INVALID,
     AH_SECURITY_FLAG_IGNORE_CERT_CN_INVALID, "mismatch", "wrong.example"},
};
#define N_BAD (sizeof(bad_certs) / sizeof(bad_certs[0]))

/*
 * With `flag` set on each request, a server with each bad certificate is
 * accepted if `flag` is the one for its failure and rejected with its own
 * error otherwise.
 */
static void flag_case(uint32_t flag) {
  ts_nginx ngx[N_BAD];
  char sha[N_BAD][65];
  for (size_t i = 0; i < N_BAD; i++) {
    start_nginx(&ngx[i], bad_certs[i].name, 0);
    assert_int_equal(ts_nginx_add_file(&ngx[i], "f.bin", 3000, 60 + i, sha[i]),
                     0);
  }
  rec_reset();
  ah_handle session = open_session(AH_FLAG_ASYNC, 1);
  for (size_t i = 0; i < N_BAD; i++) {
    const bad_cert *b = &bad_certs[i];
    ah_handle connect = open_connect(session, "127.0.0.1", ngx[i].port);
    ah_handle req = open_secure(connect, "GET", "/f.bin", 0);
    set_flags(req, flag);
    if (b->flag == flag) {
      assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
      assert_int_equal(t_status_code(req), 200);
      char hex[65];
      uint64_t total = 0;
      assert_ah(t_read_all(req, 65536, 0, hex, &total, NULL, NULL), AH_OK);
      assert_int_equal(total, 3000);
      assert_string_equal(hex, sha[i]);
    } else {
      assert_rejected(req, b->err, b->reason, b->cn);
    }
    t_close(req);
    t_close(connect);
    if (b->flag != flag)
      assert_no_request(&ngx[i]);
  }
  close_session(session);
  for (size_t i = 0; i < N_BAD; i++)
    ts_nginx_stop(&ngx[i]);
}

static void
test_tls_flag_ignore_unknown_ca_accepts_only_unknown_ca(void **state) {
  (void)state;
  flag_case(AH_SECURITY_FLAG_IGNORE_UNKNOWN_CA);
}

static void test_tls_flag_ignore_date_accepts_only_expired(void **state) {
  (void)state;
  flag_case(AH_SECURITY_FLAG_IGNORE_CERT_DATE_INVALID);
}

static void test_tls_flag_ignore_cn_accepts_only_wrong_host(void **state) {
  (void)state;
  flag_case(AH_SECURITY_FLAG_IGNORE_CERT_CN_INVALID);
}

/* Flags set on a connect handle apply to the requests made from it. */
static void test_tls_flags_on_connect_handle_are_inherited(void **state) {
  (void)state;
  tls_fixture f;
  tls_setup(&f, "selfsigned");
  char sha[65];
  assert_int_equal(ts_nginx_add_file(&f.ngx, "f.bin", 100, 1, sha), 0);
  set_flags(f.connect, AH_SECURITY_FLAG_IGNORE_UNKNOWN_CA);
  get_and_check(f.connect, "/f.bin", 100, sha, 0);
  tls_teardown(&f);
}

/* ---- protocol versions ---- */

/*
 * A server that offers only TLS 1.0/1.1. OpenSSL 3 serves those only at
 * security level 0; if the local OpenSSL cannot (an s_client probe with
 * the same settings fails), the test is skipped.
 */
static void test_tls_rejects_server_offering_only_tls11(void **state) {
  (void)state;
  tls_fixture f;
  ts_nginx_tls tls = {cert("server"), key("server"), NULL, "TLSv1 TLSv1.1",
                      "DEFAULT@SECLEVEL=0"};
  if (tls_setup_with(&f, &tls, 1) != 0) {
    printf("SKIP: nginx cannot be configured for TLS 1.0/1.1 only\n");
    skip();
  }
  if (!old_tls_is_served(f.ngx.port, "-tls1_1")) {
    tls_teardown(&f);
    printf("SKIP: the local OpenSSL cannot serve TLS 1.1 (openssl s_client "
           "-tls1_1 against nginx failed)\n");
    skip();
  }
  ah_handle req = open_secure(f.connect, "GET", "/", 0);
  assert_rejected(req, AH_ERR_TLS_PROTOCOL_VERSION, "version", NULL);
  t_close(req);
  assert_no_request(&f.ngx);
  tls_teardown(&f);
}

/* A TLS 1.2-only server is fine, and the version is reported. */
static void test_tls_tls12_only_server_is_accepted(void **state) {
  (void)state;
  tls_fixture f;
  ts_nginx_tls tls = {cert("server"), key("server"), NULL, "TLSv1.2", NULL};
  if (tls_setup_with(&f, &tls, 1) != 0)
    fail_msg("could not start nginx with TLS 1.2 only");
  char sha[65];
  assert_int_equal(ts_nginx_add_file(&f.ngx, "f.bin", 4096, 2, sha), 0);
  ah_handle req = open_secure(f.connect, "GET", "/f.bin", 0);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  char version[32];
  tls_version(req, version, sizeof(version));
  assert_string_equal(version, "TLSv1.2");
  char hex[65];
  assert_ah(t_read_all(req, 65536, 0, hex, NULL, NULL, NULL), AH_OK);
  assert_string_equal(hex, sha);
  t_close(req);
  tls_teardown(&f);
}

/* ---- client certificates ---- */

/*
 * nginx with ssl_verify_client on and no client certificate: nginx lets
 * the handshake finish and answers 400 "No required SSL certificate was
 * sent"; a server that refuses in the handshake shows as a TLS or
 * connection error. Either way no page is served.
 */
static void test_tls_client_cert_required_refused_without(void **state) {
  (void)state;
  tls_fixture f;
  tls_setup_flags(&f, "server", AH_FLAG_ASYNC, 1);
  char sha[65];
  assert_int_equal(ts_nginx_add_file(&f.ngx, "f.bin", 100, 1, sha), 0);
  ah_handle req = open_secure(f.connect, "GET", "/f.bin", 0);
  int err = t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL);
  if (err == AH_OK) {
    assert_int_equal(t_status_code(req), 400);
    char *text = t_read_text(req);
    if (strstr(text, "No required SSL certificate") == NULL) {
      fprintf(stderr, "body:\n%s\n", text);
      free(text);
      fail_msg("nginx's 400 does not say a certificate was missing");
    }
    free(text);
  } else if (err != AH_ERR_TLS_HANDSHAKE && err != AH_ERR_CONNECTION_RESET &&
             err != AH_ERR_CONNECTION_ABORTED) {
    fail_msg("without a client certificate the request ended with %s",
             rec_code_name(err));
  }
  t_close(req);
  tls_teardown(&f);
}

static void test_tls_client_cert_required_accepted_with(void **state) {
  (void)state;
  tls_fixture f;
  tls_setup_flags(&f, "server", AH_FLAG_ASYNC, 1);
  set_string(f.session, AH_OPTION_TLS_CLIENT_CERT, cert("client"));
  set_string(f.session, AH_OPTION_TLS_CLIENT_KEY, key("client"));
  ah_handle connect = open_connect(f.session, "127.0.0.1", f.ngx.port);
  char sha[65];
  assert_int_equal(ts_nginx_add_file(&f.ngx, "f.bin", 12345, 1, sha), 0);
  get_and_check(connect, "/f.bin", 12345, sha, 0);
  t_close(connect);
  tls_teardown(&f);
}

/*
 * A client certificate or key that cannot be used is AH_ERR_TLS_CLIENT_CERT,
 * from ah_set_option or from the send, and nothing reaches the server.
 */
static void client_cert_error_case(const char *cert_file,
                                   const char *key_file) {
  tls_fixture f;
  tls_setup_flags(&f, "server", AH_FLAG_ASYNC, 1);
  ah_handle req = open_secure(f.connect, "GET", "/", 0);
  int rc = ah_set_option(req, AH_OPTION_TLS_CLIENT_CERT, cert_file,
                         strlen(cert_file));
  if (rc == AH_OK)
    rc = ah_set_option(req, AH_OPTION_TLS_CLIENT_KEY, key_file,
                       strlen(key_file));
  if (rc == AH_OK) {
    rc = t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL);
    assert_int_equal(rec_count(req, AH_STATUS_REQUEST_SENT), 0);
  }
  char detail[512] = "";
  ah_last_error_detail(req, detail, sizeof(detail));
  if (rc != AH_ERR_TLS_CLIENT_CERT)
    fail_msg("an unusable client certificate/key gave %s, detail \"%s\"",
             rec_code_name(rc), detail);
  t_close(req);
  assert_no_request(&f.ngx);
  tls_teardown(&f);
}

static void
test_tls_client_key_missing_file_is_client_cert_error(void **state) {
  (void)state;
  char missing[600];
  snprintf(missing, sizeof(missing), "%s/no-such-key.pem", ts_certs_dir());
  client_cert_error_case(cert("client"), missing);
}

static void
test_tls_client_key_not_matching_is_client_cert_error(void **state) {
  (void)state;
  client_cert_error_case(cert("client"), key("server"));
}

/* ---- cancellation ---- */

/*
 * After `req` was closed with a send pending: REQUEST_COMPLETE with
 * AH_ERR_OPERATION_CANCELLED comes, then HANDLE_CLOSING once and last
 * (still so 100 ms later).
 */
static void assert_cancelled(ah_handle req, size_t completes_before) {
  if (!rec_wait_closing(req, 10000)) {
    rec_dump(req);
    fail_msg("no HANDLE_CLOSING after closing the request");
  }
  tu_sleep_ms(100);
  assert_rec(rec_check_closed(req, REC_WHY));
  size_t n = rec_count(req, AH_STATUS_REQUEST_COMPLETE);
  if (n != completes_before + 1) {
    rec_dump(req);
    fail_msg("%zu REQUEST_COMPLETE for the request, expected %zu", n,
             completes_before + 1);
  }
  long done = rec_index(req, AH_STATUS_REQUEST_COMPLETE, completes_before);
  long closing = rec_index(req, AH_STATUS_HANDLE_CLOSING, 0);
  assert_true(done >= 0 && done < closing);
  /* Nothing but the closing (and connection closes) after the completion. */
  size_t count;
  rec_event *ev = rec_events(req, &count);
  for (size_t i = 0; i < count; i++) {
    int s = ev[i].status;
    if ((long)ev[i].seq > done && s != AH_STATUS_HANDLE_CLOSING &&
        s != AH_STATUS_CLOSING_CONNECTION && s != AH_STATUS_CONNECTION_CLOSED) {
      free(ev);
      rec_dump(req);
      fail_msg("%s after the cancelled REQUEST_COMPLETE", ah_status_name(s));
    }
  }
  free(ev);
  /* The earlier completions were taken by the calls that waited for them. */
  ah_async_result r;
  assert_true(rec_wait_complete(req, 0, &r));
  assert_ah(r.error, AH_ERR_OPERATION_CANCELLED);
}

/* Closing the request inside its TLS_HANDSHAKE_START callback. */
static void test_tls_cancel_in_handshake_start_callback(void **state) {
  (void)state;
  tls_fixture f;
  tls_setup(&f, "server");
  ah_handle req = open_secure(f.connect, "GET", "/", 0);
  closer c = {req, AH_STATUS_TLS_HANDSHAKE_START, req, 0, 0, ""};
  rec_set_hook(close_hook, &c);
  assert_ah(ah_send_request(req, NULL, 0, NULL, 0), AH_IO_PENDING);
  assert_cancelled(req, 0);
  rec_set_hook(NULL, NULL);
  assert_true(c.fired);
  assert_ah(c.close_rc, AH_OK);
  assert_int_equal(rec_count(req, AH_STATUS_TLS_HANDSHAKE_DONE), 0);
  assert_int_equal(rec_count(req, AH_STATUS_SENDING_REQUEST), 0);
  assert_no_request(&f.ngx);
  tls_teardown(&f);
}

/*
 * A listener that never accepts: the kernel completes the TCP handshake, so
 * the client connects and then waits for a ServerHello that never comes.
 */
static int silent_listener(uint16_t *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof(sa);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(fd, 8), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
  *port = ntohs(sa.sin_port);
  return fd;
}

/* Closing the request from the main thread while the handshake waits. */
static void test_tls_cancel_during_stalled_handshake(void **state) {
  (void)state;
  uint16_t port = 0;
  int fd = silent_listener(&port);
  rec_reset();
  ah_handle session = open_session(AH_FLAG_ASYNC, 1);
  ah_handle connect = open_connect(session, "127.0.0.1", port);
  ah_handle req = open_secure(connect, "GET", "/", 0);
  assert_ah(ah_send_request(req, NULL, 0, NULL, 0), AH_IO_PENDING);
  if (!rec_wait_status(req, AH_STATUS_TLS_HANDSHAKE_START, 1, 10000)) {
    rec_dump(req);
    close(fd);
    fail_msg("no TLS_HANDSHAKE_START");
  }
  tu_sleep_ms(100);
  assert_int_equal(rec_count(req, AH_STATUS_REQUEST_COMPLETE), 0);
  assert_ah(ah_close_handle(req), AH_OK);
  assert_cancelled(req, 0);
  assert_int_equal(rec_count(req, AH_STATUS_TLS_HANDSHAKE_DONE), 0);
  close(fd);
  close_session(session);
}

/* A read pending mid-body (nginx sends at 64 KiB/s) is cancelled. */
static void test_tls_cancel_mid_body_read(void **state) {
  (void)state;
  tls_fixture f;
  tls_setup(&f, "server");
  assert_int_equal(ts_nginx_add_file(&f.ngx, "big.bin", 8 << 20, 1, NULL), 0);
  ah_handle req = open_secure(f.connect, "GET", "/slow/big.bin", 0);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  static char first[1000];
  size_t n = 0;
  assert_done(req, ah_read(req, first, sizeof(first), &n));
  assert_int_equal(n, sizeof(first));
  static char buf[4 << 20];
  size_t before = rec_count(req, AH_STATUS_REQUEST_COMPLETE);
  assert_ah(ah_read(req, buf, sizeof(buf), &n), AH_IO_PENDING);
  tu_sleep_ms(50);
  assert_int_equal(rec_count(req, AH_STATUS_REQUEST_COMPLETE), before);
  assert_ah(ah_close_handle(req), AH_OK);
  assert_cancelled(req, before);
  tls_teardown(&f);
}

/* ---- session resumption ---- */

/*
 * Two GETs on one session; the first says Connection: close, so the second
 * needs a new connection, and that one resumes the TLS session.
 */
static void resume_case(const char *protocols, const char *want_version,
                        int second_connect) {
  tls_fixture f;
  ts_nginx_tls tls = {cert("server"), key("server"), NULL, protocols, NULL};
  if (tls_setup_with(&f, &tls, 1) != 0)
    fail_msg("could not start nginx (%s)", protocols);
  char sha[65];
  assert_int_equal(ts_nginx_add_file(&f.ngx, "f.bin", 70000, 3, sha), 0);
  uint32_t resumed[2];
  ah_handle reqs[2];
  for (int i = 0; i < 2; i++) {
    ah_handle c = f.connect;
    if (i == 1 && second_connect)
      c = open_connect(f.session, "127.0.0.1", f.ngx.port);
    ah_handle req =
        open_secure(c, "GET", "/f.bin", i == 0 ? AH_FLAG_NO_KEEP_ALIVE : 0);
    assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
    assert_int_equal(t_status_code(req), 200);
    assert_int_equal(t_reused(req), 0);
    char version[32];
    tls_version(req, version, sizeof(version));
    assert_string_equal(version, want_version);
    char hex[65];
    assert_ah(t_read_all(req, 65536, 0, hex, NULL, NULL, NULL), AH_OK);
    assert_string_equal(hex, sha);
    resumed[i] = tls_session_reused(req);
    reqs[i] = req;
    t_close(req);
    if (c != f.connect)
      t_close(c);
  }
  assert_int_equal(resumed[0], 0);
  assert_int_equal(resumed[1], 1);
  /* Both shook hands: the second did so briefly, but did. */
  assert_int_equal(rec_count(reqs[1], AH_STATUS_TLS_HANDSHAKE_DONE), 1);
  ts_nginx_entry log[4];
  assert_int_equal(ts_nginx_log(&f.ngx, log, 4, 2, 5000), 2);
  assert_int_not_equal(log[0].connection, log[1].connection);
  /* nginx agrees: a full handshake, then a resumed one. */
  assert_int_equal(tls_log_count(&f.ngx, " reused=.", 1), 1);
  assert_int_equal(tls_log_count(&f.ngx, " reused=r", 1), 1);
  tls_teardown(&f);
}

static void test_tls_session_resumed_on_new_connection(void **state) {
  (void)state;
  resume_case("TLSv1.2 TLSv1.3", "TLSv1.3", 0);
}

static void test_tls_session_resumed_on_new_connection_tls12(void **state) {
  (void)state;
  resume_case("TLSv1.2", "TLSv1.2", 0);
}

/* The cache belongs to the session: another connect handle resumes too. */
static void test_tls_session_resumed_across_connect_handles(void **state) {
  (void)state;
  resume_case("TLSv1.2 TLSv1.3", "TLSv1.3", 1);
}

/* A second session has a cache of its own: nothing to resume. */
static void test_tls_session_not_shared_between_sessions(void **state) {
  (void)state;
  tls_fixture f;
  tls_setup(&f, "server");
  char sha[65];
  assert_int_equal(ts_nginx_add_file(&f.ngx, "f.bin", 10, 3, sha), 0);
  get_and_check(f.connect, "/f.bin", 10, sha, AH_FLAG_NO_KEEP_ALIVE);
  ah_handle session2 = open_session(AH_FLAG_ASYNC, 1);
  ah_handle connect2 = open_connect(session2, "127.0.0.1", f.ngx.port);
  ah_handle req = open_secure(connect2, "GET", "/f.bin", 0);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(tls_session_reused(req), 0);
  char hex[65];
  assert_ah(t_read_all(req, 65536, 0, hex, NULL, NULL, NULL), AH_OK);
  t_close(req);
  assert_ah(ah_close_handle(session2), AH_OK);
  assert_true(rec_wait_closing(session2, 10000));
  tls_teardown(&f);
}

/* ---- the scripted server over TLS: truncation, resets, client certs ---- */

typedef struct srv_fixture {
  ts_server server;
  ah_handle session;
  ah_handle connect;
} srv_fixture;

/* The scripted server in HTTPS mode with server.pem, a session, a connect. */
static void srv_setup(srv_fixture *f, const char *client_ca,
                      const char *max_version) {
  memset(f, 0, sizeof(*f));
  ts_server_tls tls = {cert("server"), key("server"), client_ca, max_version};
  if (ts_server_start_tls(&f->server, 0, &tls) != 0)
    fail_msg("could not start the scripted server with TLS");
  rec_reset();
  f->session = open_session(AH_FLAG_ASYNC, 1);
  f->connect = open_connect(f->session, "127.0.0.1", f->server.port);
}

static void srv_teardown(srv_fixture *f) {
  close_session(f->session);
  ts_server_stop(&f->server);
}

/*
 * GET `target`, whose head comes whole, and read the body to its end:
 * returns how the reading ended; *total gets the bytes read and `hex`
 * their SHA-256, `want` (may be NULL) the server's X-Body-Sha256.
 */
static int srv_get(ah_handle connect, const char *target, uint64_t *total,
                   char hex[65], char want[80]) {
  ah_handle req = open_secure(connect, "GET", target, 0);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  if (want != NULL)
    assert_ah(t_header(req, "X-Body-Sha256", want, 80), AH_OK);
  int err = t_read_all(req, 65536, 0, hex, total, NULL, NULL);
  t_close(req);
  return err;
}

/*
 * Half of a Content-Length body, then a TCP close without close_notify:
 * the read fails (AH_ERR_TLS_TRUNCATED, or AH_ERR_CONNECTION_ABORTED for
 * the short body), never a clean end.
 */
static void truncated_case(const char *target, uint64_t max_bytes) {
  srv_fixture f;
  srv_setup(&f, NULL, NULL);
  uint64_t total = 0;
  char hex[65], want[80];
  int err = srv_get(f.connect, target, &total, hex, want);
  if (err != AH_ERR_TLS_TRUNCATED && err != AH_ERR_CONNECTION_ABORTED)
    fail_msg("a truncated body (%llu bytes read) ended with %s",
             (unsigned long long)total, rec_code_name(err));
  assert_true(total <= max_bytes);
  srv_teardown(&f);
}

static void test_tls_truncated_length_body_is_an_error(void **state) {
  (void)state;
  truncated_case("/truncate/100000?after=50000", 50000);
}

/* Over HTTPS a close-delimited body ends only with close_notify. */
static void test_tls_truncated_close_delimited_body_is_an_error(void **state) {
  (void)state;
  truncated_case("/truncate-close/100000?after=50000", 50000);
}

/*
 * The whole Content-Length body and then an unclean close: the body is
 * complete, so the client may deliver it; it must never deliver other bytes.
 */
static void
test_tls_unclean_close_after_whole_body_is_not_corrupt(void **state) {
  (void)state;
  srv_fixture f;
  srv_setup(&f, NULL, NULL);
  uint64_t total = 0;
  char hex[65], want[80];
  int err =
      srv_get(f.connect, "/truncate/30000?after=30000", &total, hex, want);
  if (err == AH_OK) {
    assert_int_equal(total, 30000);
    assert_string_equal(hex, want);
  } else if (err != AH_ERR_TLS_TRUNCATED) {
    fail_msg("a complete body before an unclean close ended with %s",
             rec_code_name(err));
  }
  srv_teardown(&f);
}

/*
 * The inverse: a close with close_notify ends a close-delimited body
 * cleanly, and cuts a Content-Length body short (AH_ERR_CONNECTION_ABORTED,
 * as over plain HTTP).
 */
static void test_tls_close_notify_ends_close_delimited_body(void **state) {
  (void)state;
  srv_fixture f;
  srv_setup(&f, NULL, NULL);
  uint64_t total = 0;
  char hex[65], want[80];
  assert_ah(srv_get(f.connect, "/bytes/70000?framing=close", &total, hex, want),
            AH_OK);
  assert_int_equal(total, 70000);
  assert_string_equal(hex, want);
  srv_teardown(&f);
}

static void test_tls_close_notify_mid_length_body_is_aborted(void **state) {
  (void)state;
  srv_fixture f;
  srv_setup(&f, NULL, NULL);
  uint64_t total = 0;
  char hex[65];
  assert_ah(srv_get(f.connect, "/raw/truncated-body", &total, hex, NULL),
            AH_ERR_CONNECTION_ABORTED);
  assert_true(total <= 10);
  srv_teardown(&f);
}

/* A reset mid-body over TLS is an error, chunked or not. */
static void reset_case(const char *target) {
  srv_fixture f;
  srv_setup(&f, NULL, NULL);
  uint64_t total = 0;
  char hex[65], want[80];
  int err = srv_get(f.connect, target, &total, hex, want);
  if (err != AH_ERR_CONNECTION_RESET && err != AH_ERR_CONNECTION_ABORTED &&
      err != AH_ERR_TLS_TRUNCATED)
    fail_msg("a reset mid-body (%llu bytes read) ended with %s",
             (unsigned long long)total, rec_code_name(err));
  assert_true(total < 300000);
  srv_teardown(&f);
}

static void test_tls_reset_mid_length_body_is_an_error(void **state) {
  (void)state;
  reset_case("/bytes/300000?reset_after=20000");
}

static void test_tls_reset_mid_chunked_body_is_an_error(void **state) {
  (void)state;
  reset_case("/bytes/300000?framing=chunked&reset_after=20000");
}

/* The scripted server digests what it got: POSTs over TLS arrive intact. */
static void srv_post_case(uint64_t size) {
  srv_fixture f;
  srv_setup(&f, NULL, NULL);
  ah_handle req = open_secure(f.connect, "POST", "/upload", 0);
  assert_done(req, ah_send_request_ex(req, NULL, 0, size));
  char hex[65];
  t_stream_body(req, size, 65536, 31, hex);
  t_check_upload_answer(req, hex, size);
  t_close(req);
  srv_teardown(&f);
}

static void test_tls_server_post_0(void **state) {
  (void)state;
  srv_post_case(0);
}

static void test_tls_server_post_10m(void **state) {
  (void)state;
  srv_post_case(10 * MIB);
}

/* A read pending while the server stalls mid-body is cancelled. */
static void test_tls_cancel_mid_body_stalled_server(void **state) {
  (void)state;
  srv_fixture f;
  srv_setup(&f, NULL, NULL);
  ah_handle req = open_secure(f.connect, "GET",
                              "/stall?after=body&bytes=1000&length=1000000", 0);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  assert_int_equal(t_status_code(req), 200);
  static char buf[65536];
  size_t n = 0;
  size_t before = rec_count(req, AH_STATUS_REQUEST_COMPLETE);
  assert_ah(ah_read(req, buf, sizeof(buf), &n), AH_IO_PENDING);
  tu_sleep_ms(50);
  assert_int_equal(rec_count(req, AH_STATUS_REQUEST_COMPLETE), before);
  assert_ah(ah_close_handle(req), AH_OK);
  assert_cancelled(req, before);
  srv_teardown(&f);
}

/*
 * A server that requires a client certificate and fails the handshake
 * without one (TLS 1.2: inside the handshake; TLS 1.3: an alert the client
 * reads after it thinks the handshake is done): a TLS or connection error,
 * and no response.
 */
static void srv_client_cert_refused_case(const char *max_version) {
  srv_fixture f;
  srv_setup(&f, cert("ca"), max_version);
  ah_handle req = open_secure(f.connect, "GET", "/bytes/10", 0);
  int err = t_done(req, ah_send_request(req, NULL, 0, NULL, 0), NULL);
  char detail[512] = "";
  ah_last_error_detail(req, detail, sizeof(detail));
  if (err != AH_ERR_TLS_HANDSHAKE && err != AH_ERR_CONNECTION_RESET &&
      err != AH_ERR_CONNECTION_ABORTED)
    fail_msg("TLS %s without the required client certificate: %s, detail "
             "\"%s\"",
             max_version, rec_code_name(err), detail);
  assert_int_equal(rec_count(req, AH_STATUS_RESPONSE_RECEIVED), 0);
  t_close(req);
  srv_teardown(&f);
}

static void
test_tls_server_client_cert_refused_in_tls12_handshake(void **state) {
  (void)state;
  srv_client_cert_refused_case("1.2");
}

static void
test_tls_server_client_cert_refused_in_tls13_handshake(void **state) {
  (void)state;
  srv_client_cert_refused_case("1.3");
}

static void test_tls_server_client_cert_accepted(void **state) {
  (void)state;
  srv_fixture f;
  srv_setup(&f, cert("ca"), NULL);
  set_string(f.connect, AH_OPTION_TLS_CLIENT_CERT, cert("client"));
  set_string(f.connect, AH_OPTION_TLS_CLIENT_KEY, key("client"));
  uint64_t total = 0;
  char hex[65], want[80];
  assert_ah(srv_get(f.connect, "/bytes/5000", &total, hex, want), AH_OK);
  assert_int_equal(total, 5000);
  assert_string_equal(hex, want);
  srv_teardown(&f);
}

/* A scripted server offering only TLS 1.0: refused like nginx's 1.1. */
static void test_tls_server_offering_only_tls10_is_refused(void **state) {
  (void)state;
  srv_fixture f;
  srv_setup(&f, NULL, "1.0");
  if (!old_tls_is_served(f.server.port, "-tls1")) {
    srv_teardown(&f);
    printf("SKIP: the local OpenSSL cannot serve TLS 1.0 (openssl s_client "
           "-tls1 against the scripted server failed)\n");
    skip();
  }
  ah_handle req = open_secure(f.connect, "GET", "/bytes/10", 0);
  assert_rejected(req, AH_ERR_TLS_PROTOCOL_VERSION, "version", NULL);
  t_close(req);
  srv_teardown(&f);
}

/* One entry a line: CMake reads the names from these lines. */
/* clang-format off */
static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tls_get_0),
    cmocka_unit_test(test_tls_get_4096),
    cmocka_unit_test(test_tls_get_10m),
    cmocka_unit_test(test_tls_get_200m),
    cmocka_unit_test(test_tls_post_0),
    cmocka_unit_test(test_tls_post_4096),
    cmocka_unit_test(test_tls_post_streamed_4096),
    cmocka_unit_test(test_tls_post_10m),
    cmocka_unit_test(test_tls_post_200m),
    cmocka_unit_test(test_tls_sync_post_10m),
    cmocka_unit_test(test_tls_sync_get_4096),
    cmocka_unit_test(test_tls_keepalive_requests_share_one_connection),
    cmocka_unit_test(test_tls_callback_order_get),
    cmocka_unit_test(test_tls_queries_before_connection),
    cmocka_unit_test(test_tls_get_by_host_name_localhost),
    cmocka_unit_test(test_tls_port_zero_means_443_when_secure),
    cmocka_unit_test(test_tls_port_zero_means_80_when_plain),
    cmocka_unit_test(test_tls_rejects_self_signed),
    cmocka_unit_test(test_tls_rejects_untrusted_ca),
    cmocka_unit_test(test_tls_rejects_expired),
    cmocka_unit_test(test_tls_rejects_wrong_host),
    cmocka_unit_test(test_tls_rejects_without_ca_option),
    cmocka_unit_test(test_tls_ssl_cert_file_is_honoured),
    cmocka_unit_test(test_tls_ca_dir_option_is_used),
    cmocka_unit_test(test_tls_flag_ignore_unknown_ca_accepts_only_unknown_ca),
    cmocka_unit_test(test_tls_flag_ignore_date_accepts_only_expired),
    cmocka_unit_test(test_tls_flag_ignore_cn_accepts_only_wrong_host),
    cmocka_unit_test(test_tls_flags_on_connect_handle_are_inherited),
    cmocka_unit_test(test_tls_rejects_server_offering_only_tls11),
    cmocka_unit_test(test_tls_tls12_only_server_is_accepted),
    cmocka_unit_test(test_tls_client_cert_required_refused_without),
    cmocka_unit_test(test_tls_client_cert_required_accepted_with),
    cmocka_unit_test(test_tls_client_key_missing_file_is_client_cert_error),
    cmocka_unit_test(test_tls_client_key_not_matching_is_client_cert_error),
    cmocka_unit_test(test_tls_cancel_in_handshake_start_callback),
    cmocka_unit_test(test_tls_cancel_during_stalled_handshake),
    cmocka_unit_test(test_tls_cancel_mid_body_read),
    cmocka_unit_test(test_tls_session_resumed_on_new_connection),
    cmocka_unit_test(test_tls_session_resumed_on_new_connection_tls12),
    cmocka_unit_test(test_tls_session_resumed_across_connect_handles),
    cmocka_unit_test(test_tls_session_not_shared_between_sessions),
    cmocka_unit_test(test_tls_truncated_length_body_is_an_error),
    cmocka_unit_test(test_tls_truncated_close_delimited_body_is_an_error),
    cmocka_unit_test(test_tls_unclean_close_after_whole_body_is_not_corrupt),
    cmocka_unit_test(test_tls_close_notify_ends_close_delimited_body),
    cmocka_unit_test(test_tls_close_notify_mid_length_body_is_aborted),
    cmocka_unit_test(test_tls_reset_mid_length_body_is_an_error),
    cmocka_unit_test(test_tls_reset_mid_chunked_body_is_an_error),
    cmocka_unit_test(test_tls_server_post_0),
    cmocka_unit_test(test_tls_server_post_10m),
    cmocka_unit_test(test_tls_cancel_mid_body_stalled_server),
    cmocka_unit_test(test_tls_server_client_cert_refused_in_tls12_handshake),
    cmocka_unit_test(test_tls_server_client_cert_refused_in_tls13_handshake),
    cmocka_unit_test(test_tls_server_client_cert_accepted),
    cmocka_unit_test(test_tls_server_offering_only_tls10_is_refused),
};
/* clang-format on */

AH_TEST_MAIN(tests)
