/*
 * test_server.h - servers the integration tests start and stop themselves:
 * the scripted fault-injection server (tests/server/ahttp_test_server.py)
 * and its request and header logs,
 * other Python servers of tests/server, and a real nginx, each on an
 * ephemeral 127.0.0.1 port, each a child process (child.h) stopped by pid
 * (SIGTERM, then SIGKILL after 2 s).
 *
 * Children are also stopped at exit if a failed test skipped its stop call,
 * and on Linux they die with the test process (PR_SET_PDEATHSIG).
 * Call these from the test's main thread only.
 */
#ifndef AH_TEST_SERVER_H
#define AH_TEST_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ts_server {
  pid_t pid;
  uint16_t port;
  int out_fd;         /* read end of the child's stdout, kept open */
  char dir[128];      /* temp dir holding the log, "" if none */
  char log_path[192]; /* the --log file, "" if none */
} ts_server;

/*
 * The scripted server: $AHTTP_TEST_SERVER, or the path CMake compiled in;
 * NULL if neither is there. The other Python servers sit beside it.
 */
const char *ts_server_script(void);

/*
 * Starts `python3 SCRIPT --port 0 [--log FILE] ARGS...` (python3 is
 * $PYTHON3 if set), a server that prints "PORT <n>" once it listens, and
 * waits up to 15 s for that line. With `with_log`, FILE is in a fresh temp
 * dir. `args` ends with NULL (NULL: none). Stop it with ts_server_stop;
 * ts_server_log reads its log. 0 or -1 (a message was printed).
 */
int ts_py_start(ts_server *s, const char *script, const char *const *args,
                int with_log);

/* ts_py_start of the scripted server (ts_server_script) with no ARGS. */
int ts_server_start(ts_server *s, int with_log);

/* How ts_server_start_tls sets up the scripted server's HTTPS mode. */
typedef struct ts_server_tls {
  const char *cert;        /* --tls-cert (required) */
  const char *key;         /* --tls-key (required) */
  const char *client_ca;   /* --tls-client-ca, or NULL */
  const char *max_version; /* --tls-max-version ("1.1" ...), or NULL */
} ts_server_tls;

/* ts_server_start serving HTTPS instead of HTTP. 0 or -1. */
int ts_server_start_tls(ts_server *s, int with_log, const ts_server_tls *tls);

/*
 * The scripted server in HTTPS mode (--tls-cert/--tls-key with `cert` and
 * its key from ts_certs_dir(), e.g. "server" or "wronghost"), with --log in
 * a temp dir if `with_log`. Stop it with ts_server_stop; ts_server_log reads
 * its log. 0 or -1 (message printed).
 */
int ts_tls_server_start(ts_server *s, const char *cert, int with_log);

void ts_server_stop(ts_server *s);

/*
 * The server's request log (lines "<conn_id> <method> <target>"), waiting
 * up to `wait_ms` until it has at least `min_lines` lines. Malloc'd; NULL
 * if there is no log.
 */
char *ts_server_log(const ts_server *s, size_t min_lines, unsigned wait_ms);

/*
 * The scripted server's header log, the --log FILE's companion
 * FILE.headers: a line a request, the request log's line followed by
 * "\t<name>: <value>" for every header field it carried (names lowercase,
 * in order). Waits like ts_server_log; malloc'd ("" if the file is not
 * there yet), NULL if there is no log.
 */
char *ts_server_header_log(const ts_server *s, size_t min_lines,
                           unsigned wait_ms);

/*
 * The start of the `nth` (0-based) line of a header log whose request is
 * exactly `request` ("GET /inspect", method and target; NULL: any
 * request), or NULL if there is none. The line ends at its '\n'.
 */
const char *ts_header_log_find(const char *log, const char *request,
                               size_t nth);

/*
 * How many fields `name` (lowercase) one header log line has; the first
 * one's value goes to `value` (may be NULL), cut to cap - 1 bytes.
 */
int ts_header_log_field(const char *line, const char *name, char *value,
                        size_t cap);

typedef struct ts_nginx {
  pid_t pid;
  uint16_t port;
  char dir[128];        /* temp dir: config, logs, temp paths */
  char root[192];       /* document root inside dir */
  char access_log[192]; /* "$connection $connection_requests "$request"
                           $status $body_bytes_sent" per line */
  char upload_log[192]; /* TLS only: "$connection "$request" $status
                           $request_body_file" per /upload request */
  char tls_log[192];    /* TLS only: "$connection $ssl_protocol
                           sni=$ssl_server_name alpn=$ssl_alpn_protocol
                           reused=$ssl_session_reused" per request ("-" for
                           an empty value; reused is "r" or ".") */
} ts_nginx;

/* Starts nginx with an empty document root; /gzip/X serves the root's file
 * X gzip-encoded to clients that accept it (gzip on). 0 or -1 (message
 * printed). */
int ts_nginx_start(ts_nginx *n);

/*
 * How ts_nginx_start_tls sets up TLS. Paths are PEM files; NULL fields take
 * the defaults.
 */
typedef struct ts_nginx_tls {
  const char *cert;      /* ssl_certificate (required) */
  const char *key;       /* ssl_certificate_key (required) */
  const char *client_ca; /* non-NULL: ssl_verify_client on, trusting these */
  const char *protocols; /* ssl_protocols; default "TLSv1.2 TLSv1.3" */
  const char *ciphers;   /* ssl_ciphers; default nginx's */
} ts_nginx_tls;

/*
 * Starts nginx serving HTTPS only (`listen ... ssl`), with a shared session
 * cache and session tickets so that clients can resume. Besides the
 * document root it has:
 *   /upload   any method, any body size: the body is read whole, kept in a
 *             file (see ts_nginx_upload) and answered "200 ok\n";
 *   /slow/X   the file X of the root, sent at about 64 KiB/s.
 * 0 or -1 (message printed).
 */
int ts_nginx_start_tls(ts_nginx *n, const ts_nginx_tls *tls);

/*
 * The body of the `nth` (0-based) request to /upload of a TLS nginx,
 * waiting up to `wait_ms` for its log line: `sha_hex` gets its SHA-256,
 * *len its length. The kept body file is removed afterwards. 0 or -1.
 */
int ts_nginx_upload(const ts_nginx *n, size_t nth, unsigned wait_ms,
                    char sha_hex[65], uint64_t *len);

/*
 * Writes `size` pseudo-random bytes (tu_fill with `seed`) as `name` in the
 * document root; `sha_hex` (may be NULL) gets their SHA-256. 0 or -1.
 */
int ts_nginx_add_file(ts_nginx *n, const char *name, size_t size, uint64_t seed,
                      char sha_hex[65]);
/* Stops nginx and removes its temp dir. */
void ts_nginx_stop(ts_nginx *n);

typedef struct ts_nginx_entry {
  unsigned long connection;
  unsigned long connection_requests;
  char request[256];
  int status;
} ts_nginx_entry;

/*
 * Parses the access log into `out` (up to `cap` entries), waiting up to
 * `wait_ms` until it has at least `min_entries`. Returns the number of
 * entries parsed.
 */
size_t ts_nginx_log(const ts_nginx *n, ts_nginx_entry *out, size_t cap,
                    size_t min_entries, unsigned wait_ms);

/*
 * The test PKI of tests/support/make_certs.sh ($AHTTP_SOURCE_DIR), made
 * once per process in a temp dir that is removed at exit. Returns the dir
 * (files ca.pem, server.pem/.key, expired, wronghost, selfsigned,
 * untrusted, client), or NULL (message printed).
 */
const char *ts_certs_dir(void);
/* "<certs dir>/<name>" in `out`; the certificates must have been made. */
const char *ts_cert_path(const char *name, char *out, size_t cap);

/*
 * Runs `argv` (searched in PATH) to its end, stdin and stdout on
 * /dev/null, stderr kept. Returns its exit status, or -1 if it could not
 * run or was killed after `timeout_ms`.
 */
int ts_run(char *const argv[], unsigned timeout_ms);

#endif
