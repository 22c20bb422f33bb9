/*
 * recorder.h - a status callback that records every callback it gets into
 * one thread-safe log, and the waits and checks the integration tests make
 * on that log.
 *
 * Install `rec_callback` with ah_set_status_callback on a session; its
 * connect and request handles inherit it. The log is process-wide (a test
 * is one process); rec_reset clears it and makes the calling thread the
 * "main" thread. A hook can act inside callbacks (close a handle from the
 * RESOLVING_NAME callback, say); it runs after the event was recorded,
 * outside the recorder's lock.
 *
 * Besides recording, the callback notes contract violations it can see by
 * itself: a callback for a handle after its HANDLE_CLOSING, a second
 * HANDLE_CLOSING, nested callbacks on one thread, a callback on the main
 * thread, REQUEST_COMPLETE or HANDLE_CREATED without an ah_async_result.
 */
#ifndef AH_TEST_RECORDER_H
#define AH_TEST_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#include "ahttp.h"

typedef struct rec_event {
  size_t seq;             /* position in the log */
  ah_handle handle;       /* the handle the callback was for */
  int status;             /* AH_STATUS_* */
  void *context;          /* the context the callback got */
  ah_async_result result; /* REQUEST_COMPLETE, HANDLE_CREATED */
  uint32_t value;         /* REQUEST_SENT, RESPONSE_RECEIVED bytes;
                             INTERMEDIATE_RESPONSE code */
  size_t info_len;        /* as the callback got it */
  int has_info;           /* info was not NULL */
  char text[128];         /* string infos, truncated */
  ah_handle closing_info; /* HANDLE_CLOSING: *(ah_handle *)info */
  int thread_no;          /* 0 = the main thread, 1.. others in
                             order of first appearance */
  int consumed;           /* REQUEST_COMPLETE taken by a wait */
} rec_event;

/* Runs inside the callback after recording; `arg` was given to rec_set_hook. */
typedef void (*rec_hook)(ah_handle handle, int status, const void *info,
                         size_t info_len, void *context, void *arg);

/* Default time limit of the waits, generous for sanitizer builds. */
#define REC_TIMEOUT_MS 60000u
/* Returned by rec_done when the REQUEST_COMPLETE never came. */
#define REC_ERR_NO_COMPLETION 1000

/* Clears the log, the hook and the violations; the caller is "main". */
void rec_reset(void);
void rec_set_hook(rec_hook hook, void *arg);

/* The ah_status_cb to install. */
void rec_callback(ah_handle handle, int status, const void *info,
                  size_t info_len, void *context);

/*
 * Waits until a REQUEST_COMPLETE for `handle` that no wait has taken yet
 * is in the log, takes it and copies its result to *out (may be NULL).
 * 1 if one came, 0 on time-out.
 */
int rec_wait_complete(ah_handle handle, unsigned timeout_ms,
                      ah_async_result *out);

/*
 * The call helper: `rc` is what an ahttp call returned. If it is
 * AH_IO_PENDING, waits for that handle's REQUEST_COMPLETE and returns its
 * error (and its result in *result); otherwise returns `rc` (and 0).
 * REC_ERR_NO_COMPLETION if the completion did not come in REC_TIMEOUT_MS.
 */
int rec_done(ah_handle handle, int rc, uintptr_t *result);

/* Waits until `handle` has at least `count` events of `status`. 1 or 0. */
int rec_wait_status(ah_handle handle, int status, size_t count,
                    unsigned timeout_ms);
/* Waits for the HANDLE_CLOSING of `handle`. 1 or 0. */
int rec_wait_closing(ah_handle handle, unsigned timeout_ms);

/* Number of events of `status` for `handle` (NULL handle: any handle). */
size_t rec_count(ah_handle handle, int status);
/* Number of events for `handle`. */
size_t rec_count_all(ah_handle handle);
/*
 * Log position of the nth (0-based) event of `status` for `handle`, or -1.
 */
long rec_index(ah_handle handle, int status, size_t nth);
/* Log position of the last event for `handle`, or -1. */
long rec_last_index(ah_handle handle);

/*
 * A copy of the events for `handle` (NULL: all events), malloc'd, in log
 * order; *count is set. The caller frees it.
 */
rec_event *rec_events(ah_handle handle, size_t *count);

/*
 * Checks that `handle` got exactly one HANDLE_CLOSING and that it was its
 * last event, with the handle itself as info. 1 if so; otherwise 0 and a
 * reason in `why`.
 */
int rec_check_closed(ah_handle handle, char *why, size_t cap);
/* rec_check_closed for every handle that appears in the log. */
int rec_check_all_closed(char *why, size_t cap);
/*
 * The violations the callback noticed (see above). 1 if there were none;
 * otherwise 0 and the first few in `why`.
 */
int rec_check_violations(char *why, size_t cap);
/* Number of distinct non-main threads callbacks arrived on. */
int rec_thread_count(void);

/*
 * The statuses of `handle` as one letter each, in order, NUL-terminated
 * (truncated to cap - 1), for matching against a regular expression:
 *   C HANDLE_CREATED      P DETECTING_PROXY     r RESOLVING_NAME
 *   n NAME_RESOLVED       c CONNECTING_TO_SERVER k CONNECTED_TO_SERVER
 *   S SENDING_REQUEST     s REQUEST_SENT        V RECEIVING_RESPONSE
 *   v RESPONSE_RECEIVED   I INTERMEDIATE_RESPONSE R REDIRECT
 *   D REQUEST_COMPLETE    L CLOSING_CONNECTION  l CONNECTION_CLOSED
 *   X HANDLE_CLOSING      T STATE_CHANGE        K COOKIE_*
 *   H TLS_HANDSHAKE_START h TLS_HANDSHAKE_DONE  ? anything else
 */
void rec_trace(ah_handle handle, char *out, size_t cap);

/*
 * Checks `handle`'s trace against the POSIX extended regular expression
 * `pattern`. 1 if it matches; otherwise 0 and the trace and pattern in
 * `why`.
 */
int rec_check_trace(ah_handle handle, const char *pattern, char *why,
                    size_t cap);

/*
 * Writes the log (or only `handle`'s events) to stderr, one line each, to
 * explain a failure.
 */
void rec_dump(ah_handle handle);

/* ah_err_name that also knows REC_ERR_NO_COMPLETION. */
const char *rec_code_name(int code);

#endif
