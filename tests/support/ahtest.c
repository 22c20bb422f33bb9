/*
 * ahtest.c - ahttp-level helpers for the integration tests (see ahtest.h).
 */
#define _GNU_SOURCE

#include "ahtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set by t_open_session: the session is synchronous. */
static int sync_session;

int t_done(ah_handle handle, int rc, uintptr_t *result) {
  if (sync_session && rc == AH_IO_PENDING)
    fail_msg("a call on a synchronous session returned AH_IO_PENDING");
  return rec_done(handle, rc, result);
}

/* Fails the test with `err` and the handle's error detail. */
static void fail_with_detail(ah_handle handle, int err, const char *call,
                             const char *file, int line) {
  char detail[256] = "";
  ah_last_error_detail(handle, detail, sizeof(detail));
  fail_msg("%s:%d: %s ended with %s (%d), detail \"%s\"", file, line, call,
           rec_code_name(err), err, detail);
}

void t_assert_done(ah_handle handle, int rc, const char *call, const char *file,
                   int line) {
  int err = t_done(handle, rc, NULL);
  if (err != AH_OK)
    fail_with_detail(handle, err, call, file, line);
}

void t_open_session(unsigned flags, ah_handle *session) {
  *session = NULL;
  sync_session = (flags & AH_FLAG_ASYNC) == 0;
  assert_ah(ah_open(NULL, AH_OPEN_TYPE_DIRECT, NULL, NULL, flags, session),
            AH_OK);
  assert_non_null(*session);
  assert_ah(ah_set_status_callback(*session, rec_callback), AH_OK);
}

void t_setup(t_fixture *f, unsigned flags, int with_log) {
  memset(f, 0, sizeof(*f));
  f->flags = flags;
  f->server.out_fd = -1;
  if (ts_server_start(&f->server, with_log) != 0)
    fail_msg("could not start the scripted server");
  rec_reset();
  t_open_session(flags, &f->session);
  f->connect = t_connect(f->session, "127.0.0.1", f->server.port, NULL, NULL);
}

void t_teardown(t_fixture *f) {
  int closed = 1;
  if (f->session != NULL) {
    assert_ah(ah_close_handle(f->session), AH_OK);
    closed = rec_wait_closing(f->session, 10000);
  }
  ts_server_stop(&f->server);
  /* AHTTP_TEST_DUMP=1 shows every callback of a passing test too. */
  const char *dump = getenv("AHTTP_TEST_DUMP");
  if (dump != NULL && dump[0] == '1')
    rec_dump(NULL);
  if (!closed) {
    rec_dump(NULL);
    fail_msg("no HANDLE_CLOSING for the session within 10 s of closing it");
  }
  assert_rec(rec_check_all_closed(REC_WHY));
  assert_rec(rec_check_violations(REC_WHY));
  f->session = NULL;
  f->connect = NULL;
}

ah_handle t_connect(ah_handle session, const char *host, uint16_t port,
                    const char *user, const char *password) {
  ah_handle connect = NULL;
  assert_ah(ah_connect(session, host, port, user, password, 0, NULL, &connect),
            AH_OK);
  assert_non_null(connect);
  return connect;
}

ah_handle t_open_request(ah_handle connect, const char *method,
                         const char *target) {
  return t_open_request_ex(connect, method, target, 0);
}

ah_handle t_open_request_ex(ah_handle connect, const char *method,
                            const char *target, unsigned flags) {
  ah_handle req = NULL;
  assert_ah(ah_open_request(connect, method, target, flags, NULL, &req), AH_OK);
  assert_non_null(req);
  return req;
}

void t_send(ah_handle req, const char *headers) {
  assert_done(req,
              ah_send_request(req, headers,
                              headers != NULL ? strlen(headers) : 0, NULL, 0));
}

ah_handle t_send_get(ah_handle connect, const char *target, unsigned flags,
                     const char *headers) {
  ah_handle req = t_open_request_ex(connect, "GET", target, flags);
  t_send(req, headers);
  return req;
}

void t_set_u32(ah_handle h, int option, uint32_t value) {
  assert_ah(ah_set_option(h, option, &value, sizeof(value)), AH_OK);
}

void t_set_u64(ah_handle h, int option, uint64_t value) {
  assert_ah(ah_set_option(h, option, &value, sizeof(value)), AH_OK);
}

/* ah_get_option into `value`, which must come back exactly `size` bytes. */
static void get_exact(ah_handle h, int option, void *value, size_t size) {
  size_t len = size;
  assert_ah(ah_get_option(h, option, value, &len), AH_OK);
  assert_int_equal(len, size);
}

uint32_t t_get_u32(ah_handle h, int option) {
  uint32_t value = 0;
  get_exact(h, option, &value, sizeof(value));
  return value;
}

uint64_t t_get_u64(ah_handle h, int option) {
  uint64_t value = 0;
  get_exact(h, option, &value, sizeof(value));
  return value;
}

int t_read_all(ah_handle req, size_t chunk, unsigned flags, char hex[65],
               uint64_t *total, size_t *reads, size_t *short_reads) {
  unsigned char *buf = malloc(chunk);
  assert_non_null(buf);
  tu_sha256 *sha = tu_sha256_new();
  uint64_t sum = 0;
  size_t nreads = 0, nshort = 0;
  int err = AH_OK;
  for (;;) {
    size_t n = (size_t)-1;
    int rc = flags != 0 ? ah_read_ex(req, buf, chunk, &n, flags)
                        : ah_read(req, buf, chunk, &n);
    uintptr_t result = 0;
    err = t_done(req, rc, &result);
    if (err != AH_OK)
      break;
    if (rc == AH_IO_PENDING && n != (size_t)result)
      fail_msg("pending read: *bytes_read is %zu but REQUEST_COMPLETE "
               "reported %lu bytes",
               n, (unsigned long)result);
    if (n > chunk)
      fail_msg("read returned %zu bytes into a %zu-byte buffer", n, chunk);
    if (n == 0)
      break;
    tu_sha256_update(sha, buf, n);
    sum += n;
    nreads++;
    if (n < chunk)
      nshort++;
  }
  tu_sha256_final_hex(sha, hex);
  free(buf);
  if (total != NULL)
    *total = sum;
  if (reads != NULL)
    *reads = nreads;
  if (short_reads != NULL)
    *short_reads = nshort;
  return err;
}

char *t_read_text(ah_handle req) {
  size_t cap = 4096, used = 0;
  char *text = malloc(cap + 1);
  assert_non_null(text);
  for (;;) {
    if (used == cap) {
      cap *= 2;
      text = realloc(text, cap + 1);
      assert_non_null(text);
    }
    size_t n = 0;
    uintptr_t result = 0;
    int err = t_done(req, ah_read(req, text + used, cap - used, &n), &result);
    if (err != AH_OK) {
      free(text);
      fail_msg("reading the body: %s", rec_code_name(err));
    }
    if (n == 0)
      break;
    used += n;
  }
  text[used] = '\0';
  return text;
}

uint32_t t_status_code(ah_handle req) {
  uint32_t code = 0;
  size_t len = sizeof(code);
  assert_ah(ah_query_info(req, AH_INFO_STATUS_CODE, NULL, 0, &code, &len),
            AH_OK);
  assert_int_equal(len, sizeof(code));
  return code;
}

int t_header(ah_handle req, const char *name, char *buf, size_t cap) {
  size_t len = cap;
  buf[0] = '\0';
  int rc = ah_query_info(req, AH_INFO_HEADER, name, 0, buf, &len);
  if (rc == AH_OK && (len >= cap || strlen(buf) != len))
    fail_msg("AH_INFO_HEADER %s: length %zu does not match the text \"%s\"",
             name, len, buf);
  return rc;
}

unsigned long t_header_ulong(ah_handle req, const char *name) {
  char buf[64];
  assert_ah(t_header(req, name, buf, sizeof(buf)), AH_OK);
  char *end = NULL;
  unsigned long v = strtoul(buf, &end, 10);
  if (end == buf || *end != '\0')
    fail_msg("header %s is \"%s\", not a number", name, buf);
  return v;
}

uint32_t t_reused(ah_handle req) {
  uint32_t v = 99;
  size_t len = sizeof(v);
  assert_ah(ah_get_option(req, AH_OPTION_CONNECTION_REUSED, &v, &len), AH_OK);
  assert_int_equal(len, sizeof(v));
  return v;
}

void t_close(ah_handle h) {
  assert_ah(ah_close_handle(h), AH_OK);
  if (!rec_wait_closing(h, REC_TIMEOUT_MS)) {
    rec_dump(h);
    fail_msg("no HANDLE_CLOSING for %p", (void *)h);
  }
  assert_rec(rec_check_closed(h, REC_WHY));
}

void t_stream_body(ah_handle req, uint64_t size, size_t piece, uint64_t seed,
                   char hex[65]) {
  size_t pattern_len = piece > ((size_t)1 << 20) ? piece : (size_t)1 << 20;
  unsigned char *pattern = malloc(pattern_len);
  assert_non_null(pattern);
  tu_fill(pattern, pattern_len, seed);
  tu_sha256 *sha = tu_sha256_new();
  uint64_t sent = 0;
  size_t off = 0;
  while (sent < size) {
    size_t n = piece;
    if (n > size - sent)
      n = (size_t)(size - sent);
    if (n > pattern_len - off)
      n = pattern_len - off;
    size_t written = 0;
    uintptr_t result = 0;
    int rc = ah_write(req, pattern + off, n, &written);
    int err = t_done(req, rc, &result);
    if (err != AH_OK)
      fail_with_detail(req, err, "ah_write", __FILE__, __LINE__);
    assert_int_equal(written, n);
    if (rc == AH_IO_PENDING)
      assert_int_equal(result, n);
    tu_sha256_update(sha, pattern + off, n);
    sent += n;
    off = (off + n) % pattern_len;
  }
  assert_done(req, ah_end_request(req));
  tu_sha256_final_hex(sha, hex);
  free(pattern);
}

void t_check_upload_answer(ah_handle req, const char *hex, uint64_t size) {
  assert_int_equal(t_status_code(req), 200);
  assert_int_equal(t_header_ulong(req, "X-Received-Length"), size);
  char got[80];
  assert_ah(t_header(req, "X-Received-Sha256", got, sizeof(got)), AH_OK);
  assert_string_equal(got, hex);
  char *text = t_read_text(req);
  char want[128];
  snprintf(want, sizeof(want), "%s %llu\n", hex, (unsigned long long)size);
  assert_string_equal(text, want);
  free(text);
}

int t_logged_field(const ts_server *s, const char *request, size_t nth,
                   const char *name, char *value, size_t cap) {
  if (value != NULL && cap > 0)
    value[0] = '\0';
  uint64_t deadline = tu_now_ms() + 5000;
  for (;;) {
    char *log = ts_server_header_log(s, nth + 1, 0);
    if (log == NULL)
      fail_msg("the server has no header log (started without --log?)");
    const char *line = ts_header_log_find(log, request, nth);
    if (line != NULL) {
      int count = ts_header_log_field(line, name, value, cap);
      free(log);
      return count;
    }
    if (tu_now_ms() >= deadline) {
      fprintf(stderr, "header log:\n%s", log);
      free(log);
      fail_msg("\"%s\" (#%zu) did not reach the server",
               request != NULL ? request : "any request", nth);
    }
    free(log);
    tu_sleep_ms(10);
  }
}

void t_assert_logged_field(const ts_server *s, const char *request, size_t nth,
                           const char *name, const char *want) {
  char value[4096];
  int count = t_logged_field(s, request, nth, name, value, sizeof(value));
  const char *what = request != NULL ? request : "the request";
  if (want == NULL && count != 0)
    fail_msg("\"%s\" (#%zu) carried %s: %s", what, nth, name, value);
  if (want != NULL && (count != 1 || strcmp(value, want) != 0))
    fail_msg("\"%s\" (#%zu) carried %d %s field(s), the first \"%s\"; "
             "expected one, \"%s\"",
             what, nth, count, name, value, want);
}

ah_handle t_get(ah_handle connect, const char *target, uint64_t *total) {
  ah_handle req = t_open_request(connect, "GET", target);
  assert_done(req, ah_send_request(req, NULL, 0, NULL, 0));
  char hex[65], want[80];
  uint64_t n = 0;
  assert_ah(t_read_all(req, 65536, 0, hex, &n, NULL, NULL), AH_OK);
  if (t_header(req, "X-Body-Sha256", want, sizeof(want)) == AH_OK)
    assert_string_equal(hex, want);
  if (total != NULL)
    *total = n;
  return req;
}
