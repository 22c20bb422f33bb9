/*
 * transfer.h - one HTTP exchange of `async`: the WinInet sample's request
 * state machine on top of ahttp.
 *
 * The machine runs first on the calling thread (transfer_start) and then
 * on the session's I/O thread, resumed by each AH_STATUS_REQUEST_COMPLETE:
 * it issues calls while they finish at once (AH_OK) and returns as soon as
 * one is pending (AH_IO_PENDING). The main thread only waits, and closes.
 */
#ifndef ASYNC_TRANSFER_H
#define ASYNC_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ahttp.h"
#include "failure.h"
#include "input_file.h"
#include "options.h"
#include "output_file.h"

/* Bytes read from the response, and from the input file, at a time. */
#define TRANSFER_BUFFER_SIZE ((size_t)1 << 20)

typedef struct transfer transfer;

/*
 * Allocates a transfer for `opts`. `input` (POST only, else NULL) and
 * `output` are open already and stay the caller's; the transfer reads and
 * writes them from the I/O thread until transfer_close returns. Returns 0
 * or an errno value.
 */
int transfer_create(const async_options *opts, input_file *input,
                    output_file *output, transfer **out);

/*
 * The status callback to install on the session. It prints every status
 * (trace.h), resumes the machine on REQUEST_COMPLETE and records each
 * HANDLE_CLOSING of the transfer's handles. The transfer is the context
 * of its connect and request handles.
 */
void transfer_status_cb(ah_handle handle, int status, const void *info,
                        size_t info_len, void *context);

/* Creates the connect and request handles (no network I/O yet). On false
 * the failure is recorded (transfer_failure). */
bool transfer_open_handles(transfer *t, ah_handle session);

/* Runs the machine until its first pending call, or to its end. */
void transfer_start(transfer *t);

/*
 * Waits up to `timeout_ms` for the machine to end. Returns true if it
 * ended; false if the time ran out, in which case the transfer is marked
 * as closing, so that no further step is taken.
 */
bool transfer_wait(transfer *t, uint32_t timeout_ms);

/*
 * Closes the request handle (cancelling what is pending on it), waits for
 * its HANDLE_CLOSING, then does the same with the connect handle. After
 * it returns no callback touches the files or the failure any more.
 */
void transfer_close(transfer *t);

/* Whether the machine reached its end with the whole body written. Valid
 * after transfer_close. */
bool transfer_succeeded(transfer *t);

/* What went wrong (f->set false if nothing did). Valid after
 * transfer_close. */
const failure *transfer_failure(transfer *t);

/* Frees the transfer. Only after the session was closed, when no callback
 * can arrive any more. */
void transfer_destroy(transfer *t);

#endif
