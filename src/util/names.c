/*
 * names.c - the texts behind result and status codes, and the version.
 * The result texts come from the one X-macro list in ahttp.h.
 */
#include "ahttp.h"

#include <stddef.h>

const char *ah_strerror(int code) {
  switch (code) {
#define AH__ERR_TEXT(name, value, text)                                        \
  case value:                                                                  \
    return text;
    AH_ERRORS(AH__ERR_TEXT)
#undef AH__ERR_TEXT
  default:
    return "unknown error";
  }
}

const char *ah_err_name(int code) {
  switch (code) {
#define AH__ERR_NAME(name, value, text)                                        \
  case value:                                                                  \
    return #name;
    AH_ERRORS(AH__ERR_NAME)
#undef AH__ERR_NAME
  default:
    return "AH_ERR_UNKNOWN";
  }
}

const char *ah_status_name(int status) {
  static const char *const names[] = {
      [AH_STATUS_RESOLVING_NAME] = "RESOLVING_NAME",
      [AH_STATUS_NAME_RESOLVED] = "NAME_RESOLVED",
      [AH_STATUS_CONNECTING_TO_SERVER] = "CONNECTING_TO_SERVER",
      [AH_STATUS_CONNECTED_TO_SERVER] = "CONNECTED_TO_SERVER",
      [AH_STATUS_SENDING_REQUEST] = "SENDING_REQUEST",
      [AH_STATUS_REQUEST_SENT] = "REQUEST_SENT",
      [AH_STATUS_RECEIVING_RESPONSE] = "RECEIVING_RESPONSE",
      [AH_STATUS_RESPONSE_RECEIVED] = "RESPONSE_RECEIVED",
      [AH_STATUS_CLOSING_CONNECTION] = "CLOSING_CONNECTION",
      [AH_STATUS_CONNECTION_CLOSED] = "CONNECTION_CLOSED",
      [AH_STATUS_HANDLE_CREATED] = "HANDLE_CREATED",
      [AH_STATUS_HANDLE_CLOSING] = "HANDLE_CLOSING",
      [AH_STATUS_DETECTING_PROXY] = "DETECTING_PROXY",
      [AH_STATUS_REQUEST_COMPLETE] = "REQUEST_COMPLETE",
      [AH_STATUS_REDIRECT] = "REDIRECT",
      [AH_STATUS_INTERMEDIATE_RESPONSE] = "INTERMEDIATE_RESPONSE",
      [AH_STATUS_STATE_CHANGE] = "STATE_CHANGE",
      [AH_STATUS_COOKIE_SENT] = "COOKIE_SENT",
      [AH_STATUS_COOKIE_RECEIVED] = "COOKIE_RECEIVED",
      [AH_STATUS_COOKIE_HISTORY] = "COOKIE_HISTORY",
      [AH_STATUS_TLS_HANDSHAKE_START] = "TLS_HANDSHAKE_START",
      [AH_STATUS_TLS_HANDSHAKE_DONE] = "TLS_HANDSHAKE_DONE",
  };
  if (status <= 0 || (size_t)status >= sizeof names / sizeof names[0] ||
      names[status] == NULL)
    return "UNKNOWN";
  return names[status];
}

const char *ah_version(void) { return AH_VERSION_STRING; }
