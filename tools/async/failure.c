/*
 * failure.c - turning what went wrong into one readable line and an exit
 * status. Only the first failure of a run is kept: later ones are usually
 * consequences of it (a cancelled read after a failed write, ...).
 */
#define _POSIX_C_SOURCE 200809L

#include "failure.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void failure_set(failure *f, int exit_code, const char *fmt, ...) {
  va_list ap;
  if (f->set)
    return;
  va_start(ap, fmt);
  vsnprintf(f->text, sizeof f->text, fmt, ap);
  va_end(ap);
  f->exit_code = exit_code;
  f->set = true;
}

void failure_set_library(failure *f, int code, ah_handle handle,
                         const char *fmt, ...) {
  char what[512];
  char detail[512] = "";
  va_list ap;
  if (f->set)
    return;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  /* The detail is the server's or the system's own words, when the
   * library kept any for this handle. */
  if (handle != NULL) {
    int recorded = ah_last_error_detail(handle, detail, sizeof detail);
    if (recorded >= 0 || recorded == AH_ERR_INVALID_HANDLE)
      detail[0] = '\0';
  }
  if (detail[0] != '\0')
    failure_set(f, failure_exit_code_for(code), "%s: %s (%s)", what,
                ah_strerror(code), detail);
  else
    failure_set(f, failure_exit_code_for(code), "%s: %s", what,
                ah_strerror(code));
}

int failure_exit_code_for(int code) {
  switch (code) {
  case AH_OK:
    return ASYNC_EXIT_OK;
  case AH_ERR_NAME_NOT_RESOLVED:
  case AH_ERR_CANNOT_CONNECT:
  case AH_ERR_CONNECTION_RESET:
  case AH_ERR_CONNECTION_ABORTED:
  case AH_ERR_TIMEOUT:
    return ASYNC_EXIT_NETWORK;
  case AH_ERR_PROTOCOL:
  case AH_ERR_TOO_MANY_REDIRECTS:
  case AH_ERR_REDIRECT_REFUSED:
  case AH_ERR_REDIRECT_NEEDS_BODY:
  case AH_ERR_DECODING:
    return ASYNC_EXIT_PROTOCOL;
  case AH_ERR_TLS_UNKNOWN_CA:
  case AH_ERR_TLS_CERT_DATE_INVALID:
  case AH_ERR_TLS_CERT_NAME_INVALID:
  case AH_ERR_TLS_CERT_INVALID:
  case AH_ERR_TLS_HANDSHAKE:
  case AH_ERR_TLS_PROTOCOL_VERSION:
  case AH_ERR_TLS_CLIENT_CERT:
  case AH_ERR_TLS_TRUNCATED:
    return ASYNC_EXIT_TLS;
  case AH_ERR_PROXY_REFUSED:
  case AH_ERR_PROXY_AUTH_REQUIRED:
    return ASYNC_EXIT_PROXY;
  default:
    return ASYNC_EXIT_LIBRARY;
  }
}

void failure_print(const failure *f) {
  if (f->set)
    fprintf(stderr, "async: %s\n", f->text);
}
