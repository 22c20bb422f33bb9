/*
 * options.c - parsing the command line of `async`.
 *
 * The switches and defaults are the WinInet sample's, but where the sample
 * guessed (an unknown method became GET, a missing value was skipped) this
 * parser refuses with one "async: ..." line naming the problem. The first
 * problem found stops the parse. Defaults are announced on stdout only
 * once the whole command line has been accepted.
 */
#define _POSIX_C_SOURCE 200809L

#include "options.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>

static void usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Prints one "async: <message>" line with a single write. */
static void usage_error(const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "async: %s\n", line);
}

/* Digits only, no sign, no blanks, within [1, max]. */
static bool parse_positive(const char *text, uint32_t max, uint32_t *out) {
  uint64_t value = 0;
  if (*text == '\0')
    return false;
  for (const char *p = text; *p != '\0'; p++) {
    if (*p < '0' || *p > '9')
      return false;
    value = value * 10u + (uint64_t)(*p - '0');
    if (value > max)
      return false;
  }
  if (value == 0)
    return false;
  *out = (uint32_t)value;
  return true;
}

/* A host name or address must be non-empty and hold nothing that would
 * change the meaning of a request line or URL. */
static bool host_text_valid(const char *host, size_t len) {
  if (len == 0)
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)host[i];
    if (c <= 0x20 || c == 0x7f || c == '/' || c == '[' || c == ']' ||
        c == '@' || c == '?' || c == '#' || c == '\\')
      return false;
  }
  return true;
}

static bool store_host(async_options *opts, const char *host, size_t len) {
  if (!host_text_valid(host, len) || len >= sizeof opts->host_storage)
    return false;
  memcpy(opts->host_storage, host, len);
  opts->host_storage[len] = '\0';
  opts->host = opts->host_storage;
  return true;
}

/*
 * HOST[:PORT]: "name", "name:port", "1.2.3.4:port", "[v6]", "[v6]:port",
 * or a bare IPv6 literal (two or more colons, no port).
 */
static bool parse_host(const char *text, async_options *opts) {
  const char *port_text = NULL;
  uint32_t port = 0;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (close == NULL)
      goto bad_host;
    if (!store_host(opts, text + 1, (size_t)(close - text - 1)))
      goto bad_host;
    if (close[1] == ':')
      port_text = close + 2;
    else if (close[1] != '\0')
      goto bad_host;
  } else {
    const char *colon = strchr(text, ':');
    if (colon != NULL && strchr(colon + 1, ':') == NULL) {
      if (!store_host(opts, text, (size_t)(colon - text)))
        goto bad_host;
      port_text = colon + 1;
    } else if (!store_host(opts, text, strlen(text))) {
      goto bad_host;
    }
  }
  if (port_text != NULL) {
    if (!parse_positive(port_text, 65535u, &port)) {
      usage_error("invalid port in '%s' (expected a number from 1 to 65535)",
                  text);
      return false;
    }
    opts->port = (uint16_t)port;
  }
  return true;

bad_host:
  usage_error("invalid host '%s' for -h", text);
  return false;
}

static bool parse_method(const char *text, async_options *opts) {
  if (strcasecmp(text, "get") == 0) {
    opts->method = ASYNC_METHOD_GET;
  } else if (strcasecmp(text, "post") == 0) {
    opts->method = ASYNC_METHOD_POST;
  } else {
    usage_error("unknown method '%s' for -m (expected GET or POST)", text);
    return false;
  }
  return true;
}

/* The path goes straight into the request line: it must be origin-form
 * and free of blanks and control characters. */
static bool parse_resource(const char *text, async_options *opts) {
  bool valid = text[0] == '/';
  for (const char *p = text; valid && *p != '\0'; p++) {
    unsigned char c = (unsigned char)*p;
    if (c <= 0x20 || c == 0x7f)
      valid = false;
  }
  if (!valid) {
    usage_error("invalid resource '%s' for -o (it must start with '/' and "
                "hold no blanks or control characters)",
                text);
    return false;
  }
  opts->resource = text;
  return true;
}

static bool parse_file_name(const char *text, const char *switch_name,
                            const char **out) {
  if (text[0] == '\0') {
    usage_error("%s needs a file name, not an empty string", switch_name);
    return false;
  }
  *out = text;
  return true;
}

/* Which switches were given, so that the right defaults are announced. */
typedef struct given {
  bool host, method, resource, timeout, output;
} given;

/* Handles one switch that takes a value; false on a usage error. */
static bool apply_valued(char which, const char *name, const char *value,
                         async_options *opts, given *seen) {
  uint32_t timeout = 0;
  switch (which) {
  case 'm':
    seen->method = true;
    return parse_method(value, opts);
  case 'h':
    seen->host = true;
    return parse_host(value, opts);
  case 'o':
    seen->resource = true;
    return parse_resource(value, opts);
  case 'w':
    seen->output = true;
    return parse_file_name(value, name, &opts->output_path);
  case 'r':
    return parse_file_name(value, name, &opts->input_path);
  case 't':
    if (!parse_positive(value, UINT32_MAX, &timeout)) {
      usage_error("invalid time-out '%s' for -t (expected a positive number "
                  "of milliseconds)",
                  value);
      return false;
    }
    seen->timeout = true;
    opts->timeout_ms = timeout;
    return true;
  default:
    return false;
  }
}

static void fill_defaults(async_options *opts, const given *seen,
                          FILE *announce) {
  if (!seen->host) {
    fprintf(announce, "Defaulting hostname to: %s\n", ASYNC_DEFAULT_HOST);
    opts->host = ASYNC_DEFAULT_HOST;
  }
  if (!seen->method)
    fprintf(announce, "Defaulting method to: GET\n");
  if (!seen->resource)
    fprintf(announce, "Defaulting resource to: %s\n", ASYNC_DEFAULT_RESOURCE);
  if (!seen->timeout)
    fprintf(announce, "Defaulting timeout to: %u\n", ASYNC_DEFAULT_TIMEOUT_MS);
  if (!seen->output)
    fprintf(announce, "Defaulting output file to: %s\n", ASYNC_DEFAULT_OUTPUT);
  fflush(announce);
}

options_outcome options_parse(int argc, char **argv, async_options *opts,
                              FILE *announce) {
  given seen = {false, false, false, false, false};
  memset(opts, 0, sizeof *opts);
  opts->method = ASYNC_METHOD_GET;
  opts->host = ASYNC_DEFAULT_HOST;
  opts->resource = ASYNC_DEFAULT_RESOURCE;
  opts->output_path = ASYNC_DEFAULT_OUTPUT;
  opts->timeout_ms = ASYNC_DEFAULT_TIMEOUT_MS;

  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0)
      return OPTIONS_HELP;
    if (strcmp(arg, "--version") == 0)
      return OPTIONS_VERSION;
    if (arg[0] != '-') {
      usage_error("unexpected argument '%s'", arg);
      return OPTIONS_USAGE_ERROR;
    }
    if (arg[1] == '\0' || arg[2] != '\0') {
      usage_error("unknown switch %s", arg);
      return OPTIONS_USAGE_ERROR;
    }
    switch (arg[1]) {
    case 'f':
      opts->fail_on_http_error = true;
      break;
    case 's':
      usage_error("-s (HTTPS) is not supported yet");
      return OPTIONS_USAGE_ERROR;
    case 'p':
      usage_error("-p (proxy) is not supported yet");
      return OPTIONS_USAGE_ERROR;
    case 'm':
    case 'h':
    case 'o':
    case 'w':
    case 'r':
    case 't':
      if (i + 1 >= argc) {
        usage_error("%s needs a value", arg);
        return OPTIONS_USAGE_ERROR;
      }
      if (!apply_valued(arg[1], arg, argv[i + 1], opts, &seen))
        return OPTIONS_USAGE_ERROR;
      i++;
      break;
    default:
      usage_error("unknown switch %s", arg);
      return OPTIONS_USAGE_ERROR;
    }
  }

  if (opts->method == ASYNC_METHOD_POST && opts->input_path == NULL) {
    usage_error("POST needs a file to send (-r FILE)");
    return OPTIONS_USAGE_ERROR;
  }
  if (opts->method == ASYNC_METHOD_GET && opts->input_path != NULL) {
    fprintf(stderr, "async: warning: -r is only for POST; ignoring '%s'\n",
            opts->input_path);
    opts->input_path = NULL;
  }
  fill_defaults(opts, &seen, announce);
  return OPTIONS_RUN;
}

void options_print_usage(FILE *out) {
  fprintf(out,
          "Usage: async [-m GET|POST] [-h HOST[:PORT]] [-o RESOURCE] [-s]\n"
          "             [-p PROXY[:PORT]] [-w FILE] [-r FILE] [-t MS] [-f]\n"
          "       async --help | --version\n"
          "\n"
          "Fetches RESOURCE from HOST (or posts FILE to it) with the ahttp\n"
          "library, printing every status callback on stderr.\n"
          "\n"
          "  -m METHOD  GET or POST, any case (default: GET)\n"
          "  -h HOST    server name or address, optionally with :PORT;\n"
          "             IPv6 as [addr]:port (default: %s)\n"
          "  -o PATH    resource on the server (default: %s)\n"
          "  -s         use HTTPS (not supported yet)\n"
          "  -p PROXY   use this HTTP proxy (not supported yet)\n"
          "  -w FILE    write the response body here (default: %s);\n"
          "             replaced only when the transfer succeeds\n"
          "  -r FILE    file to send as the body of a POST (required)\n"
          "  -t MS      overall time limit in milliseconds (default: %u)\n"
          "  -f         fail (exit 6, no output file) on HTTP status >= 400\n"
          "  --help     show this text\n"
          "  --version  show the versions of async and of the library\n"
          "\n"
          "Exit status:\n"
          "  0  the whole response body was received and written\n"
          "  1  usage error\n"
          "  2  local file error (input or output file)\n"
          "  3  network error (name resolution, connection, reset, time-out)\n"
          "  4  protocol error (the server's answer is not valid HTTP/1.1)\n"
          "  5  the -t time limit passed; the request was cancelled\n"
          "  6  HTTP status >= 400 with -f\n"
          "  7  any other error of the library\n",
          ASYNC_DEFAULT_HOST, ASYNC_DEFAULT_RESOURCE, ASYNC_DEFAULT_OUTPUT,
          ASYNC_DEFAULT_TIMEOUT_MS);
}
