/*
 * trace.c - printing each status callback as one line on stderr.
 *
 * The names are the WinInet sample's human ones, not the library's
 * symbolic ones (ah_status_name), so that a trace reads like the sample's.
 * Each line is formatted in full and then written with one call, so that
 * lines from the I/O thread and the main thread never interleave. Only
 * status lines contain "\tStatus: "; tests rely on that.
 */
#define _POSIX_C_SOURCE 200809L

#include "trace.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/*
 * Writes one line formatted by snprintf into `line` (`n` as snprintf
 * returned it) with a single call. A line cut short by the buffer still
 * ends with its newline.
 */
static void emit(char *line, size_t cap, int n) {
  size_t len;
  if (n <= 0)
    return;
  len = (size_t)n < cap ? (size_t)n : cap - 1;
  line[len - 1] = '\n';
  flockfile(stderr);
  fwrite(line, 1, len, stderr);
  funlockfile(stderr);
}

/* The status's name as the sample prints it; NULL if it is not one of the
 * statuses this tool knows. */
static const char *status_label(int status) {
  switch (status) {
  case AH_STATUS_RESOLVING_NAME:
    return "Resolving Name";
  case AH_STATUS_NAME_RESOLVED:
    return "Name Resolved";
  case AH_STATUS_CONNECTING_TO_SERVER:
    return "Connecting to Server";
  case AH_STATUS_CONNECTED_TO_SERVER:
    return "Connected to Server";
  case AH_STATUS_SENDING_REQUEST:
    return "Sending request";
  case AH_STATUS_REQUEST_SENT:
    return "Request sent";
  case AH_STATUS_RECEIVING_RESPONSE:
    return "Receiving Response";
  case AH_STATUS_RESPONSE_RECEIVED:
    return "Response Received";
  case AH_STATUS_CLOSING_CONNECTION:
    return "Closing Connection";
  case AH_STATUS_CONNECTION_CLOSED:
    return "Connection Closed";
  case AH_STATUS_HANDLE_CREATED:
    return "Handle";
  case AH_STATUS_HANDLE_CLOSING:
    return "Handle Closing";
  case AH_STATUS_DETECTING_PROXY:
    return "Detecting Proxy";
  case AH_STATUS_REQUEST_COMPLETE:
    return "Request complete";
  case AH_STATUS_REDIRECT:
    return "Redirect";
  case AH_STATUS_INTERMEDIATE_RESPONSE:
    return "Intermediate response";
  case AH_STATUS_STATE_CHANGE:
    return "State Change";
  case AH_STATUS_COOKIE_SENT:
    return "Cookie found and will be sent with request";
  case AH_STATUS_COOKIE_RECEIVED:
    return "Cookie Received";
  case AH_STATUS_COOKIE_HISTORY:
    return "Cookie History";
  case AH_STATUS_TLS_HANDSHAKE_START:
    return "TLS handshake started";
  case AH_STATUS_TLS_HANDSHAKE_DONE:
    return "TLS handshake done";
  default:
    return NULL;
  }
}

/* The text a status carries (host name, address, URL): `info_len` bytes,
 * with or without a terminating NUL. Returns its length, 0 if none. */
static int info_text(const void *info, size_t info_len, const char **text) {
  size_t len;
  if (info == NULL || info_len == 0)
    return 0;
  *text = info;
  len = strnlen(*text, info_len);
  return len > 400 ? 400 : (int)len;
}

static int info_u32(const void *info, size_t info_len, uint32_t *value) {
  if (info == NULL || info_len < sizeof *value)
    return 0;
  memcpy(value, info, sizeof *value);
  return 1;
}

/* Writes what follows the status name ("(12 Bytes)", "0x.. created") into
 * `out`; returns its length. */
static int format_detail(int status, const void *info, size_t info_len,
                         char *out, size_t cap) {
  const char *text = NULL;
  int text_len;
  uint32_t number;
  ah_async_result result;

  switch (status) {
  case AH_STATUS_RESOLVING_NAME:
  case AH_STATUS_NAME_RESOLVED:
  case AH_STATUS_CONNECTING_TO_SERVER:
  case AH_STATUS_CONNECTED_TO_SERVER:
  case AH_STATUS_REDIRECT:
  case AH_STATUS_TLS_HANDSHAKE_DONE: /* "TLSv1.3 <cipher>[ (resumed)]" */
    text_len = info_text(info, info_len, &text);
    if (text_len == 0)
      return 0;
    return snprintf(out, cap, " (%.*s)", text_len, text);
  case AH_STATUS_REQUEST_SENT:
  case AH_STATUS_RESPONSE_RECEIVED:
    if (!info_u32(info, info_len, &number))
      return 0;
    return snprintf(out, cap, " (%" PRIu32 " Bytes)", number);
  case AH_STATUS_INTERMEDIATE_RESPONSE:
  case AH_STATUS_COOKIE_SENT:
  case AH_STATUS_COOKIE_RECEIVED:
    if (!info_u32(info, info_len, &number))
      return 0;
    return snprintf(out, cap, " (%" PRIu32 ")", number);
  case AH_STATUS_COOKIE_HISTORY: {
    ah_cookie_history h;
    if (info == NULL || info_len < sizeof h)
      return 0;
    memcpy(&h, info, sizeof h);
    /* The sample prints one line per flag that is set. */
    return snprintf(out, cap, "%s%s%s%s", h.accepted ? "\nCookie Accepted" : "",
                    h.leashed ? "\nCookie Leashed" : "",
                    h.downgraded ? "\nCookie Downgraded" : "",
                    h.rejected ? "\nCookie Rejected" : "");
  }
  case AH_STATUS_HANDLE_CREATED:
    if (info == NULL || info_len < sizeof result)
      return snprintf(out, cap, " created");
    memcpy(&result, info, sizeof result);
    return snprintf(out, cap, " 0x%" PRIxPTR " created", result.result);
  default:
    return 0;
  }
}

void trace_status(ah_handle handle, int status, const void *info,
                  size_t info_len) {
  char line[600];
  char detail[480];
  const char *label = status_label(status);
  int n;

  detail[0] = '\0';
  if (label != NULL) {
    (void)format_detail(status, info, info_len, detail, sizeof detail);
    n = snprintf(line, sizeof line,
                 "Callback received for handle 0x%" PRIxPTR "\tStatus: %s%s\n",
                 (uintptr_t)handle, label, detail);
  } else {
    n = snprintf(line, sizeof line,
                 "Callback received for handle 0x%" PRIxPTR
                 "\tStatus: Unknown (%d)\n",
                 (uintptr_t)handle, status);
  }
  emit(line, sizeof line, n);
}

void trace_status_line(const char *version, uint32_t code, const char *reason) {
  char line[600];
  int n = snprintf(line, sizeof line, "%.40s %" PRIu32 "%s%.400s\n", version,
                   code, reason[0] != '\0' ? " " : "", reason);
  emit(line, sizeof line, n);
}

void trace_note(const char *text) {
  char line[600];
  int n = snprintf(line, sizeof line, "%.500s\n", text);
  emit(line, sizeof line, n);
}
