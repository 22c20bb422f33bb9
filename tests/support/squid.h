/*
 * squid.h - the servers the proxy tests start and stop themselves: a real
 * squid (/usr/sbin/squid, Debian package `squid`) with its own config in a
 * temp dir, the scripted server in HTTPS mode, and the fake proxy
 * (tests/server/fake_proxy.py). Each listens on an ephemeral 127.0.0.1 port,
 * is a child process of the test, and is stopped by pid (SIGTERM, then
 * SIGKILL).
 *
 * squid listens on 127.0.0.1 only, serves 127.0.0.1 clients only, forwards
 * only to loopback destinations, caches nothing, and logs one line per
 * transaction to its access log: method, URL (absolute for plain HTTP,
 * "host:port" for CONNECT), the status it answered with, its result tag and
 * the authenticated user. It writes a CONNECT line only when the tunnel
 * closes, so read the log after closing the session (the readers wait).
 *
 * When the tests run as root, squid is started as the user `proxy` (or
 * `nobody`): squid refuses to keep root, and a child that changes its
 * credentials after exec would lose the parent-death signal that stops it
 * when a test crashes. The temp dir is handed to that user.
 *
 * Children left running by a failed test (cmocka leaves a test by longjmp)
 * are stopped at exit. Call these from the test's main thread only.
 */
#ifndef AH_TEST_SQUID_H
#define AH_TEST_SQUID_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "test_server.h"

/* How ts_squid_start configures squid; NULL or zeroed fields are defaults. */
typedef struct ts_squid_opts {
  const char *user;          /* non-NULL: Basic proxy authentication required,
                                with this user ... */
  const char *password;      /* ... and password (hashed with openssl passwd
                                -apr1 into a password file in the temp dir) */
  const char *connect_ports; /* the ports CONNECT may open, squid's `port`
                                ACL syntax ("443 8443 1000-2000"); default
                                "1-65535" */
} ts_squid_opts;

typedef struct ts_squid {
  pid_t pid;
  uint16_t port;
  char dir[128];        /* temp dir: config, logs, password file */
  char conf[192];       /* squid.conf */
  char access_log[192]; /* "<method> <url> <status> <tag> <user>" lines */
  char cache_log[192];  /* squid's own messages */
} ts_squid;

/*
 * Starts squid and waits until its port accepts connections. 0, or -1
 * with a message (and squid's cache.log) on stderr.
 */
int ts_squid_start(ts_squid *s, const ts_squid_opts *opts);
/* Stops squid (SIGTERM, SIGKILL after 5 s) and removes its temp dir. */
void ts_squid_stop(ts_squid *s);

typedef struct ts_squid_entry {
  char method[16];
  char url[256];
  int status;    /* the status squid answered the client with */
  char tag[64];  /* "TCP_MISS/HIER_DIRECT", "TCP_TUNNEL/HIER_DIRECT",
                    "TCP_DENIED/HIER_NONE" ... */
  char user[64]; /* "-" if none */
} ts_squid_entry;

/*
 * Parses the access log into `out` (up to `cap` entries), waiting up to
 * `wait_ms` until it has at least `min_entries`. Lines of connections that
 * ended before sending a request (method "-" or "NONE") are skipped.
 * Returns the number of entries parsed.
 */
size_t ts_squid_log(const ts_squid *s, ts_squid_entry *out, size_t cap,
                    size_t min_entries, unsigned wait_ms);

/*
 * The number of access log entries with `method` whose URL equals `url`
 * (NULL: any URL), after waiting up to `wait_ms` for at least `min` of
 * them (0: read once).
 */
size_t ts_squid_count(const ts_squid *s, const char *method, const char *url,
                      size_t min, unsigned wait_ms);

/* Writes the access log and cache.log to stderr, to explain a failure. */
void ts_squid_dump(const ts_squid *s);

/*
 * tests/server/fake_proxy.py in `mode` (see its header: "refuse",
 * "refuse-close", "refuse-407", "garbage", "drop", "stall", "tunnel10"),
 * logging the request lines it reads to a temp dir (ts_server_log reads
 * them). Stop it with ts_py_stop. 0 or -1 (message printed).
 */
int ts_fake_proxy_start(ts_server *s, const char *mode);

/* Stops a server started by ts_tls_server_start (test_server.h) or
 * ts_fake_proxy_start (they are test_server.h's Python servers: this is
 * ts_server_stop). */
void ts_py_stop(ts_server *s);

#endif
