/*
 * test_server.h - servers the integration tests start and stop themselves:
 * the scripted fault-injection server (tests/server/ahttp_test_server.py)
 * and a real nginx, each on an ephemeral 127.0.0.1 port, each a child
 * process stopped by pid (SIGTERM, then SIGKILL after 2 s).
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
 * Starts the scripted server (python3 $AHTTP_TEST_SERVER, or the path CMake
 * compiled in) and waits up to 10 s for its "PORT <n>" line. With
 * `with_log` it gets `--log FILE` in a fresh temp dir. 0 or -1 (a message
 * was printed).
 */
int ts_server_start(ts_server *s, int with_log);
void ts_server_stop(ts_server *s);

/*
 * The server's request log (lines "<conn_id> <method> <target>"), waiting
 * up to `wait_ms` until it has at least `min_lines` lines. Malloc'd; NULL
 * if there is no log.
 */
char *ts_server_log(const ts_server *s, size_t min_lines, unsigned wait_ms);

typedef struct ts_nginx {
  pid_t pid;
  uint16_t port;
  char dir[128];        /* temp dir: config, logs, temp paths */
  char root[192];       /* document root inside dir */
  char access_log[192]; /* "$connection $connection_requests "$request"
                           $status $body_bytes_sent" per line */
} ts_nginx;

/* Starts nginx with an empty document root. 0 or -1 (message printed). */
int ts_nginx_start(ts_nginx *n);
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

#endif
