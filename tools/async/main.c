/*
 * main.c - `async`, the WinInet asynchronous sample rebuilt on ahttp.
 *
 * Order of business: parse the command line; check the certificate files
 * and open the local files (so that a local mistake is reported before
 * any network activity and creates nothing); open an asynchronous session
 * (through the -p proxy, or with the environment's proxy settings) and
 * give it the HTTPS settings; start the transfer and
 * wait for it with the -t deadline; close the request and the connection,
 * each waited for; only then replace the output file, or remove the
 * temporary one; close the session last. The exit status says what went
 * wrong (failure.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* 0 if `path` can be opened for reading as a file (want_dir false) or a
 * directory (want_dir true); else an errno value. */
static int check_readable(const char *path, bool want_dir) {
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC | (want_dir ? O_DIRECTORY : 0));
  int err = 0;
  if (fd < 0)
    return errno;
  if (fstat(fd, &st) != 0)
    err = errno;
  else if (!want_dir && S_ISDIR(st.st_mode))
    err = EISDIR;
  close(fd);
  return err;
}

/*
 * -c's folder must take a new file: found out now, not after the transfer
 * (the jar is written through a temporary file beside it).
 */
static int check_cookie_jar(const async_options *opts) {
  const char *path = opts->cookie_jar;
  const char *cut;
  char dir[4096];
  if (path == NULL)
    return ASYNC_EXIT_OK;
  cut = strrchr(path, '/');
  if (cut == NULL)
    snprintf(dir, sizeof dir, ".");
  else if (cut == path)
    snprintf(dir, sizeof dir, "/");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(cut - path), path);
  if (access(dir, W_OK | X_OK) == 0)
    return ASYNC_EXIT_OK;
  fprintf(stderr, "async: cannot write cookie file '%s': %s\n", path,
          strerror(errno));
  return ASYNC_EXIT_LOCAL_FILE;
}

/*
 * The certificate files of -s, checked before anything is created or
 * sent, so that a mistyped name is a local file error rather than a
 * failed handshake. The library reads them itself when it connects.
 */
static int check_tls_files(const async_options *opts) {
  const struct {
    const char *path;
    const char *what;
    bool dir;
  } files[] = {{opts->ca_file, "CA file", false},
               {opts->ca_dir, "CA directory", true},
               {opts->client_cert, "client certificate", false},
               {opts->client_key, "client key", false}};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    int err;
    if (files[i].path == NULL)
      continue;
    err = check_readable(files[i].path, files[i].dir);
    if (err != 0) {
      fprintf(stderr, "async: cannot read %s '%s': %s\n", files[i].what,
              files[i].path, strerror(err));
      return ASYNC_EXIT_LOCAL_FILE;
    }
  }
  return ASYNC_EXIT_OK;
}

/*
 * Opens the asynchronous session with our status callback on it: through
 * the -p proxy, or, as the sample does, with the pre-configured settings
 * (the environment's http_proxy, https_proxy and no_proxy).
 */
static int open_session(const async_options *opts, ah_handle *session) {
  int rc = opts->proxy != NULL
               ? ah_open(ASYNC_USER_AGENT, AH_OPEN_TYPE_PROXY, opts->proxy,
                         NULL, AH_FLAG_ASYNC, session)
               : ah_open(ASYNC_USER_AGENT, AH_OPEN_TYPE_PRECONFIG, NULL, NULL,
                         AH_FLAG_ASYNC, session);
  if (rc != AH_OK) {
    *session = NULL;
    if (rc == AH_ERR_INVALID_PARAMETER && opts->proxy != NULL) {
      fprintf(stderr, "async: cannot use proxy '%s': %s\n", opts->proxy_shown,
              ah_strerror(rc));
      return ASYNC_EXIT_USAGE;
    }
    fprintf(stderr, "async: cannot open a session: %s\n", ah_strerror(rc));
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

/* Sets one file path option on the session; prints why it was refused. */
static int set_path(ah_handle session, int option, const char *path,
                    const char *what) {
  failure f = {false, 0, ""};
  int rc;
  if (path == NULL)
    return ASYNC_EXIT_OK;
  rc = ah_set_option(session, option, path, strlen(path));
  if (rc == AH_OK)
    return ASYNC_EXIT_OK;
  failure_set_library(&f, rc, session, "cannot use %s '%s'", what, path);
  failure_print(&f);
  return f.exit_code;
}

/*
 * The HTTPS settings of the command line, on the session so that every
 * connection of it has them. -k turns off each check the library lets
 * us turn off, and says so.
 */
static int configure_tls(ah_handle session, const async_options *opts) {
  const uint32_t ignore_all = AH_SECURITY_FLAG_IGNORE_UNKNOWN_CA |
                              AH_SECURITY_FLAG_IGNORE_CERT_DATE_INVALID |
                              AH_SECURITY_FLAG_IGNORE_CERT_CN_INVALID;
  int status =
      set_path(session, AH_OPTION_TLS_CA_FILE, opts->ca_file, "CA file");
  if (status == ASYNC_EXIT_OK)
    status =
        set_path(session, AH_OPTION_TLS_CA_DIR, opts->ca_dir, "CA directory");
  if (status == ASYNC_EXIT_OK)
    status = set_path(session, AH_OPTION_TLS_CLIENT_CERT, opts->client_cert,
                      "client certificate");
  if (status == ASYNC_EXIT_OK)
    status = set_path(session, AH_OPTION_TLS_CLIENT_KEY, opts->client_key,
                      "client key");
  if (status == ASYNC_EXIT_OK && opts->insecure) {
    int rc = ah_set_option(session, AH_OPTION_SECURITY_FLAGS, &ignore_all,
                           sizeof ignore_all);
    if (rc != AH_OK) {
      fprintf(stderr, "async: cannot turn off certificate verification: %s\n",
              ah_strerror(rc));
      return failure_exit_code_for(rc);
    }
    fprintf(stderr,
            "async: warning: certificate verification is disabled (-k)\n");
  }
  return status;
}

/* Sets one uint32_t option on the session; prints why it was refused. */
static int set_u32(ah_handle session, int option, uint32_t value,
                   const char *what) {
  int rc = ah_set_option(session, option, &value, sizeof value);
  if (rc == AH_OK)
    return ASYNC_EXIT_OK;
  fprintf(stderr, "async: cannot set %s: %s\n", what, ah_strerror(rc));
  return failure_exit_code_for(rc);
}

/*
 * What the library does for us beyond one exchange: decoding, redirects,
 * and the cookies of -b. A -b file that does not exist yet is no error
 * (curl's rule, so that "-b jar -c jar" works on the first run).
 */
static int configure_http(ah_handle session, const async_options *opts) {
  failure f = {false, 0, ""};
  int status = set_u32(session, AH_OPTION_MAX_REDIRECTS, opts->max_redirects,
                       "the redirect limit");
  int rc;
  if (status == ASYNC_EXIT_OK && opts->compressed)
    status = set_u32(session, AH_OPTION_DECODING, 1, "decoding");
  if (status != ASYNC_EXIT_OK || opts->cookie_file == NULL)
    return status;
  if (access(opts->cookie_file, F_OK) != 0 && errno == ENOENT) {
    fprintf(stderr,
            "async: note: cookie file '%s' does not exist; starting with "
            "no cookies\n",
            opts->cookie_file);
    return ASYNC_EXIT_OK;
  }
  rc = ah_cookies_load(session, opts->cookie_file);
  if (rc == AH_OK)
    return ASYNC_EXIT_OK;
  failure_set_library(&f, rc, session, "cannot read cookie file '%s'",
                      opts->cookie_file);
  failure_print(&f);
  return ASYNC_EXIT_LOCAL_FILE;
}

/* -c: every cookie the session holds, saved once the transfer is over. */
static int save_cookies(ah_handle session, const async_options *opts) {
  failure f = {false, 0, ""};
  int rc;
  if (opts->cookie_jar == NULL)
    return ASYNC_EXIT_OK;
  rc = ah_cookies_save(session, opts->cookie_jar);
  if (rc == AH_OK)
    return ASYNC_EXIT_OK;
  failure_set_library(&f, rc, session, "cannot write cookie file '%s'",
                      opts->cookie_jar);
  failure_print(&f);
  return ASYNC_EXIT_LOCAL_FILE;
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

/* The end of a run: keep the body or throw it away, and say why. "Done!"
 * is the caller's to print, once nothing else can fail. */
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
  return ASYNC_EXIT_OK;
}

static int run(const async_options *opts) {
  local_files files;
  transfer *t = NULL;
  ah_handle session = NULL;
  bool timed_out;
  int status = check_tls_files(opts);
  int saved, err;

  if (status == ASYNC_EXIT_OK)
    status = check_cookie_jar(opts);
  if (status != ASYNC_EXIT_OK)
    return status;
  status = open_local_files(opts, &files);
  if (status != ASYNC_EXIT_OK)
    return status;
  err = transfer_create(opts, opts->input_path != NULL ? &files.input : NULL,
                        &files.output, &t);
  if (err != 0) {
    fprintf(stderr, "async: cannot set up the transfer: %s\n", strerror(err));
    status = ASYNC_EXIT_LIBRARY;
    goto done;
  }
  status = open_session(opts, &session);
  if (status != ASYNC_EXIT_OK)
    goto done;
  status = configure_tls(session, opts);
  if (status == ASYNC_EXIT_OK)
    status = configure_http(session, opts);
  if (status != ASYNC_EXIT_OK) {
    ah_close_handle(session);
    goto done;
  }
  timed_out = run_transfer(t, session, opts->timeout_ms);
  /* The request's HANDLE_CLOSING has been delivered, so no callback
   * touches the files any more: settle the output now, before anything
   * else can go wrong. */
  status = conclude(t, timed_out, &files.output);
  saved = save_cookies(session, opts);
  if (status == ASYNC_EXIT_OK)
    status = saved;
  if (status == ASYNC_EXIT_OK)
    printf("Done!\n");
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
