/*
 * options.c - parsing the command line of `async`.
 *
 * The switches and defaults are the WinInet sample's, but where the sample
 * guessed (an unknown method became GET, a missing value was skipped) this
 * parser refuses with one "async: ..." line naming the problem. The first
 * problem found stops the parse. Defaults are announced on stdout only
 * once the whole command line has been accepted.
 *
 * The HTTPS switches are curl's long ones (--cacert, --capath, --cert,
 * --key, -k/--insecure), so that they read as users expect; the sample had
 * none, as WinInet took trust from the system.
 *
 * A proxy given with -p may hold a password: it is kept as given for
 * ah_open, and only its masked form (proxy_shown) is ever printed.
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

static bool parse_dir_name(const char *text, const char *switch_name,
                           const char **out) {
  if (text[0] == '\0') {
    usage_error("%s needs a directory name, not an empty string", switch_name);
    return false;
  }
  *out = text;
  return true;
}

/* Where the authority of a proxy URL starts: after "scheme://" when the
 * text starts with a scheme, else at the start. *scheme_len gets the
 * scheme's length (0 if none). */
static const char *proxy_authority(const char *text, size_t *scheme_len) {
  const char *p = text;
  *scheme_len = 0;
  if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
           (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.')
      p++;
    if (strncmp(p, "://", 3) == 0) {
      *scheme_len = (size_t)(p - text);
      return p + 3;
    }
  }
  return text;
}

/*
 * What may be shown of a proxy: the text with its password (what follows
 * the first ':' of the userinfo, up to the last '@') replaced by "***".
 * The last '@' is the one that ends the userinfo, whatever the password
 * holds.
 */
void options_mask_proxy(const char *text, char *out, size_t cap) {
  size_t scheme_len;
  const char *authority = proxy_authority(text, &scheme_len);
  const char *at = strrchr(authority, '@');
  const char *colon =
      at != NULL ? memchr(authority, ':', (size_t)(at - authority)) : NULL;
  if (colon == NULL)
    snprintf(out, cap, "%s", text);
  else
    snprintf(out, cap, "%.*s:***%s", (int)(colon - text), text, at);
}

/* HOST[:PORT] of a proxy, `len` bytes: a name or IPv4 address, or an
 * IPv6 address in brackets, and a port from 1 to 65535. */
static bool proxy_host_port_valid(const char *text, size_t len) {
  const char *host = text;
  size_t host_len = len;
  const char *port = NULL;
  char digits[8];
  uint32_t value;
  if (len > 0 && text[0] == '[') {
    const char *close = memchr(text, ']', len);
    if (close == NULL || close == text + 1)
      return false;
    for (const char *p = text + 1; p < close; p++)
      if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
            (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.'))
        return false;
    host_len = 0; /* checked */
    if (close + 1 < text + len) {
      if (close[1] != ':')
        return false;
      port = close + 2;
    }
  } else {
    const char *colon = memchr(text, ':', len);
    if (colon != NULL) {
      host_len = (size_t)(colon - text);
      port = colon + 1;
    }
    if (!host_text_valid(host, host_len))
      return false;
  }
  if (port == NULL)
    return true;
  if ((size_t)(text + len - port) >= sizeof digits)
    return false;
  memcpy(digits, port, (size_t)(text + len - port));
  digits[text + len - port] = '\0';
  return parse_positive(digits, 65535u, &value);
}

/*
 * -p: "[http://][USER[:PASSWORD]@]HOST[:PORT]", as ah_open takes it. The
 * syntax is checked here so that a mistyped proxy is a usage error; no
 * message ever shows the password.
 */
static bool parse_proxy(const char *text, async_options *opts) {
  size_t scheme_len;
  const char *authority = proxy_authority(text, &scheme_len);
  const char *end = authority + strlen(authority);
  const char *at;
  const char *host;
  options_mask_proxy(text, opts->proxy_shown, sizeof opts->proxy_shown);
  if (text[0] == '\0') {
    usage_error("-p needs a proxy, not an empty string");
    return false;
  }
  if (scheme_len != 0 &&
      (scheme_len != 4 || strncasecmp(text, "http", 4) != 0)) {
    usage_error("unsupported proxy '%s' for -p (only HTTP proxies, "
                "http://, are supported)",
                opts->proxy_shown);
    return false;
  }
  if (end > authority && end[-1] == '/')
    end--;
  at = strrchr(authority, '@');
  host = at != NULL ? at + 1 : authority;
  /* The userinfo, if any, is not empty and has no blank or control. */
  bool valid = at != authority;
  for (const char *p = authority; at != NULL && p < at; p++) {
    unsigned char c = (unsigned char)*p;
    if (c <= 0x20 || c == 0x7f)
      valid = false;
  }
  if (!valid || host > end ||
      !proxy_host_port_valid(host, (size_t)(end - host))) {
    usage_error("invalid proxy '%s' for -p (expected "
                "[http://][USER:PASSWORD@]HOST[:PORT])",
                opts->proxy_shown);
    return false;
  }
  opts->proxy = text;
  return true;
}

/* -u USER[:PASSWORD]; the text is never echoed, as it holds a secret. */
static bool parse_credentials(const char *text, async_options *opts) {
  size_t len = strlen(text);
  char *colon;
  if (len == 0 || len >= sizeof opts->credentials || text[0] == ':' ||
      strpbrk(text, "\r\n") != NULL) {
    usage_error("invalid credentials for -u (expected USER[:PASSWORD])");
    return false;
  }
  memcpy(opts->credentials, text, len + 1);
  opts->user = opts->credentials;
  colon = strchr(opts->credentials, ':');
  if (colon != NULL) {
    *colon = '\0';
    opts->password = colon + 1;
  }
  return true;
}

static bool parse_max_redirects(const char *text, async_options *opts) {
  uint32_t n = 0;
  if (strcmp(text, "0") != 0 && !parse_positive(text, 1000u, &n)) {
    usage_error("invalid count '%s' for --max-redirs (expected 0 to 1000)",
                text);
    return false;
  }
  opts->max_redirects = n;
  return true;
}

/* The long switches that take a value. */
static bool is_long_valued(const char *arg) {
  return strcmp(arg, "--cacert") == 0 || strcmp(arg, "--capath") == 0 ||
         strcmp(arg, "--cert") == 0 || strcmp(arg, "--key") == 0 ||
         strcmp(arg, "--max-redirs") == 0 || strcmp(arg, "--cookie") == 0 ||
         strcmp(arg, "--cookie-jar") == 0 || strcmp(arg, "--user") == 0;
}

static bool apply_long(const char *name, const char *value,
                       async_options *opts) {
  if (strcmp(name, "--cacert") == 0)
    return parse_file_name(value, name, &opts->ca_file);
  if (strcmp(name, "--capath") == 0)
    return parse_dir_name(value, name, &opts->ca_dir);
  if (strcmp(name, "--cert") == 0)
    return parse_file_name(value, name, &opts->client_cert);
  if (strcmp(name, "--max-redirs") == 0)
    return parse_max_redirects(value, opts);
  if (strcmp(name, "--cookie") == 0)
    return parse_file_name(value, name, &opts->cookie_file);
  if (strcmp(name, "--cookie-jar") == 0)
    return parse_file_name(value, name, &opts->cookie_jar);
  if (strcmp(name, "--user") == 0)
    return parse_credentials(value, opts);
  return parse_file_name(value, name, &opts->client_key);
}

/* Without -s the HTTPS switches mean nothing: say so, as for -r with GET,
 * and forget them. */
static void drop_tls_switches(async_options *opts) {
  static const char warning[] =
      "async: warning: %s is only for HTTPS (-s); ignoring it\n";
  if (opts->ca_file != NULL)
    fprintf(stderr, warning, "--cacert");
  if (opts->ca_dir != NULL)
    fprintf(stderr, warning, "--capath");
  if (opts->client_cert != NULL)
    fprintf(stderr, warning, "--cert");
  if (opts->client_key != NULL)
    fprintf(stderr, warning, "--key");
  if (opts->insecure)
    fprintf(stderr, warning, "-k");
  opts->ca_file = NULL;
  opts->ca_dir = NULL;
  opts->client_cert = NULL;
  opts->client_key = NULL;
  opts->insecure = false;
}

/* Checks and completes the HTTPS switches once all have been read. */
static bool settle_tls_switches(async_options *opts) {
  if (opts->client_key != NULL && opts->client_cert == NULL) {
    usage_error("--key needs --cert (the certificate that goes with it)");
    return false;
  }
  if (!opts->secure) {
    drop_tls_switches(opts);
    return true;
  }
  /* As with curl, a --cert file may hold the key as well. */
  if (opts->client_cert != NULL && opts->client_key == NULL)
    opts->client_key = opts->client_cert;
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
  case 'p':
    return parse_proxy(value, opts);
  case 'u':
    return parse_credentials(value, opts);
  case 'b':
    return parse_file_name(value, name, &opts->cookie_file);
  case 'c':
    return parse_file_name(value, name, &opts->cookie_jar);
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
  opts->max_redirects = ASYNC_DEFAULT_MAX_REDIRECTS;

  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0)
      return OPTIONS_HELP;
    if (strcmp(arg, "--version") == 0)
      return OPTIONS_VERSION;
    if (strcmp(arg, "--insecure") == 0) {
      opts->insecure = true;
      continue;
    }
    if (strcmp(arg, "--compressed") == 0) {
      opts->compressed = true;
      continue;
    }
    if (strcmp(arg, "--no-follow") == 0) {
      opts->no_follow = true;
      continue;
    }
    if (is_long_valued(arg)) {
      if (i + 1 >= argc) {
        usage_error("%s needs a value", arg);
        return OPTIONS_USAGE_ERROR;
      }
      if (!apply_long(arg, argv[i + 1], opts))
        return OPTIONS_USAGE_ERROR;
      i++;
      continue;
    }
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
      opts->secure = true;
      break;
    case 'k':
      opts->insecure = true;
      break;
    case 'p':
    case 'u':
    case 'b':
    case 'c':
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
  if (!settle_tls_switches(opts))
    return OPTIONS_USAGE_ERROR;
  if (opts->proxy != NULL)
    fprintf(announce, "Using proxy: %s\n", opts->proxy_shown);
  fill_defaults(opts, &seen, announce);
  return OPTIONS_RUN;
}

void options_print_usage(FILE *out) {
  fprintf(out,
          "Usage: async [-m GET|POST] [-h HOST[:PORT]] [-o RESOURCE] [-s]\n"
          "             [-p PROXY[:PORT]] [-w FILE] [-r FILE] [-t MS] [-f]\n"
          "             [--cacert FILE] [--capath DIR] [--cert FILE]\n"
          "             [--key FILE] [-k|--insecure] [-u USER[:PASSWORD]]\n"
          "             [--compressed] [--no-follow] [--max-redirs N]\n"
          "             [-b FILE] [-c FILE]\n"
          "       async --help | --version\n"
          "\n"
          "Fetches RESOURCE from HOST (or posts FILE to it) with the ahttp\n"
          "library, printing every status callback on stderr.\n"
          "\n"
          "  -m METHOD  GET or POST, any case (default: GET)\n"
          "  -h HOST    server name or address, optionally with :PORT;\n"
          "             IPv6 as [addr]:port (default: %s)\n"
          "  -o PATH    resource on the server (default: %s)\n"
          "  -s         use HTTPS (default port 443); the server's\n"
          "             certificate and name are verified, by default\n"
          "             against the system's trusted CAs\n"
          "  -p PROXY   use this HTTP proxy: [http://][USER:PASSWORD@]HOST\n"
          "             [:PORT] (port 80 by default); HTTPS goes through a\n"
          "             CONNECT tunnel. Without -p: http_proxy, https_proxy\n"
          "             and no_proxy from the environment\n"
          "  -w FILE    write the response body here (default: %s);\n"
          "             replaced only when the transfer succeeds\n"
          "  -r FILE    file to send as the body of a POST (required)\n"
          "  -t MS      overall time limit in milliseconds (default: %u)\n"
          "  -f         fail (exit 6, no output file) on HTTP status >= 400\n"
          "  --cacert FILE\n"
          "             with -s: trust the CA certificates in FILE (PEM)\n"
          "             instead of the system's\n"
          "  --capath DIR\n"
          "             with -s: trust the CA certificates in DIR (hashed\n"
          "             names, as openssl rehash makes them) instead\n"
          "  --cert FILE\n"
          "             with -s: present this client certificate (PEM)\n"
          "  --key FILE\n"
          "             with -s: the private key of --cert (PEM; default:\n"
          "             the --cert file itself)\n"
          "  -k, --insecure\n"
          "             with -s: accept the server's certificate even if it\n"
          "             is untrusted, expired or for another name (for\n"
          "             testing only; a warning is printed)\n"
          "  -u, --user USER[:PASSWORD]\n"
          "             Basic credentials for the server; they are sent\n"
          "             to that server only, never to one a redirect\n"
          "             leads to\n"
          "  --compressed\n"
          "             ask for a gzip or deflate body and write it\n"
          "             decoded\n"
          "  --no-follow\n"
          "             do not follow redirects: write the 3xx response\n"
          "             itself (redirects are followed by default)\n"
          "  --max-redirs N\n"
          "             follow at most N redirects (default: %u); one\n"
          "             more is an error (exit 4)\n"
          "  -b, --cookie FILE\n"
          "             send the cookies of FILE (Netscape format, as\n"
          "             curl -c writes it) where they match\n"
          "  -c, --cookie-jar FILE\n"
          "             save every cookie at the end into FILE (Netscape\n"
          "             format), replacing it whole\n"
          "  --help     show this text\n"
          "  --version  show the versions of async and of the library\n"
          "\n"
          "Exit status:\n"
          "  0  the whole response body was received and written\n"
          "  1  usage error\n"
          "  2  local file error (input, output or certificate file)\n"
          "  3  network error (name resolution, connection, reset, time-out)\n"
          "  4  protocol error (the server's answer is not valid HTTP/1.1,\n"
          "     a redirect that cannot be followed or too many of them, a\n"
          "     body that cannot be decoded)\n"
          "  5  the -t time limit passed; the request was cancelled\n"
          "  6  HTTP status >= 400 with -f\n"
          "  7  any other error of the library\n"
          "  8  TLS/certificate error (certificate refused, handshake failed,\n"
          "     connection cut without TLS close_notify)\n"
          "  9  the proxy refused: it would not open a tunnel, or asked for\n"
          "     credentials (407)\n",
          ASYNC_DEFAULT_HOST, ASYNC_DEFAULT_RESOURCE, ASYNC_DEFAULT_OUTPUT,
          ASYNC_DEFAULT_TIMEOUT_MS, ASYNC_DEFAULT_MAX_REDIRECTS);
}
