/*
 * main.c - `async`, the WinInet asynchronous sample rebuilt on ahttp.
 *
 * Order of business: parse the command line; open the local files (so
 * that a local mistake is reported before any network activity and
 * creates nothing); open an asynchronous session; start the transfer and
 * wait for it with the -t deadline; close the request and the connection,
 * each waited for; only then replace the output file, or remove the
 * temporary one; close the session last. The exit status says what went
 * wrong (failure.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ahttp.h"
#include "failure.h"
#include "input_file.h"
#include "options.h"
#include "output_file.h"
#include "transfer.h"

#define ASYNC_VERSION AH_VERSION_STRING
#define ASYNC_USER_AGENT "ahttp-async-sample/" ASYNC_VERSION

/* The local files of a run, opened before the network is touched. */
typedef struct local_files {
  input_file input;
  output_file output;
} local_files;

static int open_local_files(const async_options *opts, local_files *files) {
  int err;
  files->input.fd = -1;
  files->output.fd = -1;
  files->output.temp_path = NULL;
  files->output.final_path = NULL;
  if (opts->input_path != NULL) {
    err = input_file_open(&files->input, opts->input_path);
    if (err != 0) {
      fprintf(stderr, "async: cannot open input file '%s': %s\n",
              opts->input_path,
              err == EINVAL ? "not a regular file" : strerror(err));
      return ASYNC_EXIT_LOCAL_FILE;
    }
  }
  err = output_file_open(&files->output, opts->output_path);
  if (err != 0) {
    fprintf(stderr, "async: cannot create output file '%s': %s\n",
            opts->output_path, strerror(err));
    input_file_close(&files->input);
    return ASYNC_EXIT_LOCAL_FILE;
  }
  return ASYNC_EXIT_OK;
}

/* Opens the asynchronous session with our status callback on it. */
static int open_session(ah_handle *session) {
  int rc = ah_open(ASYNC_USER_AGENT, AH_OPEN_TYPE_PRECONFIG, NULL, NULL,
                   AH_FLAG_ASYNC, session);
  if (rc != AH_OK) {
    fprintf(stderr, "async: cannot open a session: %s\n", ah_strerror(rc));
    *session = NULL;
    return ASYNC_EXIT_LIBRARY;
  }
  rc = ah_set_status_callback(*session, transfer_status_cb);
  if (rc != AH_OK) {
    fprintf(stderr, "async: cannot set the status callback: %s\n",
            ah_strerror(rc));
    ah_close_handle(*session);
    *session = NULL;
    return ASYNC_EXIT_LIBRARY;
  }
  return ASYNC_EXIT_OK;
}

/*
 * Runs the transfer inside the session and closes its handles. Returns
 * true if it timed out (and was cancelled).
 */
static bool run_transfer(transfer *t, ah_handle session, uint32_t timeout_ms) {
  bool timed_out = false;
  if (transfer_open_handles(t, session)) {
    transfer_start(t);
    if (!transfer_wait(t, timeout_ms)) {
      timed_out = true;
      fprintf(stderr, "async: timed out after %u ms; cancelling the request\n",
              timeout_ms);
    }
  }
  /* Cancels whatever is still pending and waits for HANDLE_CLOSING of the
   * request, then of the connection. */
  transfer_close(t);
  return timed_out;
}

/* Why the transfer failed, as an exit status (the message is printed). */
static int report_failure(transfer *t, bool timed_out) {
  const failure *f;
  if (timed_out)
    return ASYNC_EXIT_TIMED_OUT; /* announced when it happened */
  f = transfer_failure(t);
  if (!f->set) {
    fprintf(stderr, "async: the transfer ended without its response\n");
    return ASYNC_EXIT_LIBRARY;
  }
  failure_print(f);
  return f->exit_code;
}

/* The end of a run: keep the body or throw it away, and say why. */
static int conclude(transfer *t, bool timed_out, output_file *output) {
  int err;
  if (timed_out || !transfer_succeeded(t)) {
    output_file_discard(output);
    return report_failure(t, timed_out);
  }
  err = output_file_commit(output);
  if (err != 0) {
    fprintf(stderr, "async: cannot write output file '%s': %s\n", output->path,
            strerror(err));
    return ASYNC_EXIT_LOCAL_FILE;
  }
  printf("Done!\n");
  return ASYNC_EXIT_OK;
}

static int run(const async_options *opts) {
  local_files files;
  transfer *t = NULL;
  ah_handle session = NULL;
  bool timed_out;
  int status = open_local_files(opts, &files);
  int err;

  if (status != ASYNC_EXIT_OK)
    return status;
  err = transfer_create(opts, opts->input_path != NULL ? &files.input : NULL,
                        &files.output, &t);
  if (err != 0) {
    fprintf(stderr, "async: cannot set up the transfer: %s\n", strerror(err));
    status = ASYNC_EXIT_LIBRARY;
    goto done;
  }
  status = open_session(&session);
  if (status != ASYNC_EXIT_OK)
    goto done;
  timed_out = run_transfer(t, session, opts->timeout_ms);
  /* The request's HANDLE_CLOSING has been delivered, so no callback
   * touches the files any more: settle the output now, before anything
   * else can go wrong. */
  status = conclude(t, timed_out, &files.output);
  /* From a thread other than its own, closing the session waits until
   * every callback has been delivered: after this, nothing uses `t`. */
  ah_close_handle(session);

done:
  output_file_discard(&files.output); /* no-op after a commit */
  input_file_close(&files.input);
  transfer_destroy(t);
  return status;
}

int main(int argc, char **argv) {
  async_options opts;
  struct sigaction ignore;

  switch (options_parse(argc, argv, &opts, stdout)) {
  case OPTIONS_HELP:
    options_print_usage(stdout);
    return ASYNC_EXIT_OK;
  case OPTIONS_VERSION:
    printf("async %s (ahttp %s)\n", ASYNC_VERSION, ah_version());
    return ASYNC_EXIT_OK;
  case OPTIONS_USAGE_ERROR:
    options_print_usage(stderr);
    return ASYNC_EXIT_USAGE;
  case OPTIONS_RUN:
    break;
  }
  /* A peer that closes early must surface as an error code from a write,
   * not kill the process. */
  memset(&ignore, 0, sizeof ignore);
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, NULL);
  return run(&opts);
}
