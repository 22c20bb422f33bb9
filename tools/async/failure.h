/*
 * failure.h - what went wrong with a run of `async`, as one "async: ..."
 * line and the exit status that goes with it.
 */
#ifndef ASYNC_FAILURE_H
#define ASYNC_FAILURE_H

#include <stdbool.h>

#include "ahttp.h"

/* The exit statuses documented in async(1) and --help. */
enum async_exit {
  ASYNC_EXIT_OK = 0,
  ASYNC_EXIT_USAGE = 1,
  ASYNC_EXIT_LOCAL_FILE = 2,
  ASYNC_EXIT_NETWORK = 3,
  ASYNC_EXIT_PROTOCOL = 4,
  ASYNC_EXIT_TIMED_OUT = 5,
  ASYNC_EXIT_HTTP_STATUS = 6,
  ASYNC_EXIT_LIBRARY = 7,
  ASYNC_EXIT_TLS = 8,  /* certificate refused, handshake, truncation */
  ASYNC_EXIT_PROXY = 9 /* the proxy refused the tunnel, or answered 407 */
};

typedef struct failure {
  bool set;
  int exit_code;
  char text[1024]; /* without the "async: " prefix and the newline */
} failure;

/* Records a failure unless one is recorded already: the first cause is the
 * one worth reporting. */
void failure_set(failure *f, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Records a library error: "<what>: <ah_strerror(code)> (<detail>)", the
 * detail being ah_last_error_detail(handle) when it has any. The exit code
 * follows from `code` (failure_exit_code_for).
 */
void failure_set_library(failure *f, int code, ah_handle handle,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The exit status for a library error code. */
int failure_exit_code_for(int code);

/* Prints "async: <text>" on stderr. */
void failure_print(const failure *f);

#endif
