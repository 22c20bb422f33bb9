/*
 * ahttp-level helpers for the integration tests: a fixture (scripted
 * server + session with the recorder + connect handle), opening, sending
 * and setting options with the result asserted, reading a whole body with
 * its SHA-256, header queries, the headers the scripted server saw,
 * closing with a wait for HANDLE_CLOSING, and assertions that print result
 * codes by name.
 *
 * Everything here runs on the test's main thread and may fail the test
 * with cmocka's assertions (which leave the test by longjmp).
 */
#ifndef AH_TEST_AHTEST_H
#define AH_TEST_AHTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include "ahttp.h"
#include "recorder.h"
#include "test_server.h"
#include "test_util.h"

/* Fails the test unless `actual` (an ah result code) equals `expected`. */
#define assert_ah(actual, expected)                                            \
  do {                                                                         \
    int ah_a_ = (actual);                                                      \
    int ah_e_ = (expected);                                                    \
    if (ah_a_ != ah_e_)                                                        \
      fail_msg("%s returned %s (%d), expected %s (%d)", #actual,               \
               rec_code_name(ah_a_), ah_a_, rec_code_name(ah_e_), ah_e_);      \
  } while (0)

/*
 * rec_done (see recorder.h) that also fails the test if a call of a
 * synchronous session (the last one t_open_session opened) returned
 * AH_IO_PENDING: without AH_FLAG_ASYNC every call must block until done.
 */
int t_done(ah_handle handle, int rc, uintptr_t *result);

/*
 * The call succeeds, now or through its REQUEST_COMPLETE; on failure the
 * message has the handle's ah_last_error_detail too.
 */
#define assert_done(handle, call)                                              \
  t_assert_done((handle), (call), #call, __FILE__, __LINE__)
void t_assert_done(ah_handle handle, int rc, const char *call, const char *file,
                   int line);

/* Fails with the recorder's reason unless `check` (a rec_check_*) holds. */
#define assert_rec(check_call)                                                 \
  do {                                                                         \
    char ah_why_[1024] = "";                                                   \
    if (!(check_call)) {                                                       \
      rec_dump(NULL);                                                          \
      fail_msg("%s: %s", #check_call, ah_why_);                                \
    }                                                                          \
  } while (0)
/* Use inside assert_rec: the reason buffer. */
#define REC_WHY ah_why_, sizeof(ah_why_)

typedef struct t_fixture {
  ts_server server;
  ah_handle session;
  ah_handle connect;
  unsigned flags; /* AH_FLAG_ASYNC or 0 */
} t_fixture;

/*
 * Starts the scripted server (with `--log` if `with_log`), resets the
 * recorder, opens a session with `flags` and the recorder as callback, and
 * a connect handle to the server.
 */
void t_setup(t_fixture *f, unsigned flags, int with_log);
/*
 * Closes the session (and so everything under it), checks that every
 * handle in the log got exactly one HANDLE_CLOSING as its last callback and
 * that the recorder saw no violation, and stops the server. With
 * AHTTP_TEST_DUMP=1 in the environment it prints the whole log first.
 */
void t_teardown(t_fixture *f);

/* ah_open with the recorder installed. */
void t_open_session(unsigned flags, ah_handle *session);

/*
 * ah_connect on `session` (no flags, no context), asserting AH_OK and a
 * non-NULL handle. `user` and `password` may be NULL.
 */
ah_handle t_connect(ah_handle session, const char *host, uint16_t port,
                    const char *user, const char *password);

/* ah_open_request on `connect`, asserting AH_OK and a non-NULL handle. */
ah_handle t_open_request(ah_handle connect, const char *method,
                         const char *target);
/* t_open_request with request `flags` (AH_FLAG_*). */
ah_handle t_open_request_ex(ah_handle connect, const char *method,
                            const char *target, unsigned flags);

/*
 * ah_send_request with the NUL-terminated header lines `headers` (NULL:
 * none) and no body; the call succeeds (assert_done).
 */
void t_send(ah_handle req, const char *headers);
/*
 * A GET of `target` with request `flags` and `headers`, sent (t_send);
 * returns the request, its body not read yet.
 */
ah_handle t_send_get(ah_handle connect, const char *target, unsigned flags,
                     const char *headers);

/* ah_set_option of a 32-bit (64-bit) value, asserting AH_OK. */
void t_set_u32(ah_handle h, int option, uint32_t value);
void t_set_u64(ah_handle h, int option, uint64_t value);
/* ah_get_option of a 32-bit (64-bit) value, asserting AH_OK and its size. */
uint32_t t_get_u32(ah_handle h, int option);
uint64_t t_get_u64(ah_handle h, int option);

/*
 * Reads the body to its end in calls of `chunk` bytes (ah_read, or
 * ah_read_ex with `flags` if flags != 0). Returns the result code of the
 * first failed read, or AH_OK; `hex` gets the SHA-256 of what was read,
 * *total its length, *reads (may be NULL) the number of read calls that
 * returned data, *short_reads (may be NULL) how many returned less than
 * `chunk`. Checks that each pending read's *bytes_read equals the
 * completion's result and that a read never returns more than asked.
 */
int t_read_all(ah_handle req, size_t chunk, unsigned flags, char hex[65],
               uint64_t *total, size_t *reads, size_t *short_reads);

/* Reads the whole body into a malloc'd NUL-terminated string. */
char *t_read_text(ah_handle req);

/* AH_INFO_STATUS_CODE, asserting the query succeeds. */
uint32_t t_status_code(ah_handle req);
/* AH_INFO_HEADER `name` into buf; returns the query's result code. */
int t_header(ah_handle req, const char *name, char *buf, size_t cap);
/* A numeric header, asserting it exists. */
unsigned long t_header_ulong(ah_handle req, const char *name);
/* AH_OPTION_CONNECTION_REUSED, asserting the query succeeds. */
uint32_t t_reused(ah_handle req);

/*
 * ah_close_handle on a connect or request handle, asserting AH_OK, then
 * waits for its HANDLE_CLOSING and checks that it is its last callback.
 */
void t_close(ah_handle h);

/*
 * Streams `size` bytes of a request body (after ah_send_request_ex) in
 * ah_write calls of at most `piece` bytes, then ah_end_request. The bytes
 * are a pattern of max(`piece`, 1 MiB) pseudo-random bytes (tu_fill with
 * `seed`), repeated. Asserts that every call succeeds, now or through its
 * REQUEST_COMPLETE, and that each write takes all it was given (its
 * *bytes_written, and a pending one's completion result). `hex` gets the
 * SHA-256 of the body.
 */
void t_stream_body(ah_handle req, uint64_t size, size_t piece, uint64_t seed,
                   char hex[65]);

/*
 * The scripted server's answer to a POST to /upload: 200,
 * X-Received-Length `size`, X-Received-Sha256 `hex`, body "<hex> <size>\n".
 */
void t_check_upload_answer(ah_handle req, const char *hex, uint64_t size);

/*
 * The fields `name` (lowercase) that the `nth` (0-based) request to `s`
 * whose request is exactly `request` ("GET /inspect"; NULL: any request)
 * carried, from the scripted server's header log (ts_server_header_log;
 * the server needs its --log). Waits up to 5 s for that request to be
 * logged and fails the test, printing the log, if it never is. Returns
 * how many there were; the first one's value goes to `value` (may be
 * NULL).
 */
int t_logged_field(const ts_server *s, const char *request, size_t nth,
                   const char *name, char *value, size_t cap);
/*
 * t_logged_field, failing unless the request carried exactly one field
 * `name` with the value `want`, or none at all when `want` is NULL.
 */
void t_assert_logged_field(const ts_server *s, const char *request, size_t nth,
                           const char *name, const char *want);

/*
 * GET `target` on `connect` and read the body to the end; returns the
 * request still open (the caller closes it). Asserts success and, if the
 * response has X-Body-Sha256, that the body matches it.
 */
ah_handle t_get(ah_handle connect, const char *target, uint64_t *total);

#endif
