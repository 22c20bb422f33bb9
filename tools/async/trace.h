/*
 * trace.h - the human-readable trace of `async` on stderr: one line per
 * status callback, as the WinInet sample prints them.
 */
#ifndef ASYNC_TRACE_H
#define ASYNC_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "ahttp.h"

/*
 * Prints "Callback received for handle 0x<handle>\tStatus: <name>[ ...]"
 * for one status callback, with the status's information where it has
 * any (byte counts, addresses, the created handle, the redirect URL, the
 * TLS version and cipher).
 */
void trace_status(ah_handle handle, int status, const void *info,
                  size_t info_len);

/* Prints the response's status line ("HTTP/1.1 200 OK"). */
void trace_status_line(const char *version, uint32_t code, const char *reason);

/* Prints a progress note such as "Waiting for ah_read_ex to complete". */
void trace_note(const char *text);

#endif
