/*
 * options.h - the command line of `async`: what the user asked for, with
 * every default filled in.
 */
#ifndef ASYNC_OPTIONS_H
#define ASYNC_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define ASYNC_DEFAULT_HOST "www.microsoft.com"
#define ASYNC_DEFAULT_RESOURCE "/"
#define ASYNC_DEFAULT_OUTPUT "response.htm"
#define ASYNC_DEFAULT_TIMEOUT_MS 120000u
#define ASYNC_DEFAULT_MAX_REDIRECTS 10u

typedef enum async_method { ASYNC_METHOD_GET, ASYNC_METHOD_POST } async_method;

typedef struct async_options {
  async_method method;
  /* The host as ah_connect takes it: IPv6 literals without brackets. It
   * points into host_storage or to a string literal. */
  const char *host;
  char host_storage[256];
  uint16_t port; /* 0 means the default port (80, or 443 with -s) */
  const char *resource;
  const char *output_path;
  const char *input_path; /* NULL unless POST */
  uint32_t timeout_ms;
  bool fail_on_http_error; /* -f */
  /* HTTPS. The paths are NULL unless given; without -s they are all
   * dropped (with a warning) once the command line has been read. */
  bool secure;             /* -s */
  bool insecure;           /* -k: accept any certificate, warned about */
  const char *ca_file;     /* --cacert */
  const char *ca_dir;      /* --capath */
  const char *client_cert; /* --cert */
  const char *client_key;  /* --key; --cert's file when not given */
  /* -p: the proxy as given ("[http://][USER[:PASSWORD]@]HOST[:PORT]"), or
   * NULL for the environment's settings. Only proxy_shown, where the
   * password is "***", is ever printed. */
  const char *proxy;
  char proxy_shown[512];
  /* -u USER[:PASSWORD]: Basic credentials for the server (never printed). */
  const char *user; /* NULL unless -u; points into credentials */
  const char *password;
  char credentials[512];
  /* What WinInet does for the caller. */
  bool compressed;         /* --compressed: ask for gzip/deflate, decode */
  bool no_follow;          /* --no-follow: hand a 3xx over as it is */
  uint32_t max_redirects;  /* --max-redirs N (default 10) */
  const char *cookie_file; /* -b FILE: cookies to start with */
  const char *cookie_jar;  /* -c FILE: where the cookies are saved */
} async_options;

typedef enum options_outcome {
  OPTIONS_RUN,        /* go ahead with the transfer */
  OPTIONS_HELP,       /* --help was asked for */
  OPTIONS_VERSION,    /* --version was asked for */
  OPTIONS_USAGE_ERROR /* an "async: ..." line has been printed on stderr */
} options_outcome;

/*
 * Parses argv into *opts. On OPTIONS_RUN every default that was filled in
 * has been announced on `announce` ("Defaulting hostname to: ..."). On
 * OPTIONS_USAGE_ERROR the reason has been printed on stderr; the caller
 * prints the usage text.
 */
options_outcome options_parse(int argc, char **argv, async_options *opts,
                              FILE *announce);

/*
 * Writes `proxy` ("[scheme://][USER[:PASSWORD]@]HOST[:PORT]") into `out`
 * with the password replaced by "***": the only form in which a proxy is
 * ever printed.
 */
void options_mask_proxy(const char *proxy, char *out, size_t cap);

/* Writes the usage text, the switches, defaults and exit codes. */
void options_print_usage(FILE *out);

#endif
