/*
 * squid.c - squid, the HTTPS scripted server and the fake proxy as child
 * processes of a proxy test (see squid.h). The children are child.c's:
 * recorded until stopped, stopped at exit if a failed test left them
 * running, and dying with the test. squid may run as another user; the
 * Python servers are test_server.c's.
 */
#define _GNU_SOURCE

#include "squid.h"

#include "child.h"
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SQUID_BIN "/usr/sbin/squid"
#define NCSA_AUTH "/usr/lib/squid/basic_ncsa_auth"
#define STOP_GRACE_MS 5000u

/* Who squid runs as: uid (uid_t)-1 means "as we are". */
static const tc_run_as AS_SELF = {(uid_t)-1, (gid_t)-1};

static const tc_run_as *drop_to(const tc_run_as *as) {
  return as->uid != (uid_t)-1 ? as : NULL;
}

/*
 * Runs `argv` to its end and puts the first line of its stdout in `out`.
 * 0, or -1 if it could not run, failed or printed nothing.
 */
static int run_for_line(char *const argv[], char *out, size_t cap) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return -1;
  pid_t pid = tc_spawn(argv, fds[1], NULL, NULL);
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return -1;
  }
  int rc = tu_read_line(fds[0], out, cap, tu_now_ms() + 30000);
  close(fds[0]);
  int status = tc_wait(pid, 30000);
  return rc == 0 && status == 0 ? 0 : -1;
}

/* ---- squid ---- */

/*
 * The user squid runs as when we are root: `proxy` (Debian's squid user),
 * else `nobody`. Not root: ourselves.
 */
static int squid_user(tc_run_as *as) {
  *as = AS_SELF;
  if (geteuid() != 0)
    return 0;
  static const char *const names[] = {"proxy", "nobody"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    struct passwd *pw = getpwnam(names[i]);
    if (pw != NULL && pw->pw_uid != 0) {
      as->uid = pw->pw_uid;
      as->gid = pw->pw_gid;
      return 0;
    }
  }
  fprintf(stderr, "ts_squid_start: running as root and neither `proxy` nor "
                  "`nobody` exists for squid to run as\n");
  return -1;
}

/* Makes `path` belong to the user squid runs as (if we are root). */
static int give(const char *path, tc_run_as as) {
  if (as.uid == (uid_t)-1)
    return 0;
  if (chown(path, as.uid, as.gid) != 0) {
    fprintf(stderr, "ts_squid_start: chown %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* The password file for basic_ncsa_auth: "user:<apr1 hash>". */
static int write_passwd(const ts_squid_opts *o, const char *path) {
  char hash[256];
  char *argv[] = {(char *)"openssl", (char *)"passwd", (char *)"-apr1",
                  (char *)o->password, NULL};
  if (run_for_line(argv, hash, sizeof(hash)) != 0 || hash[0] != '$') {
    fprintf(stderr, "ts_squid_start: openssl passwd -apr1 failed\n");
    return -1;
  }
  char line[512];
  int n = snprintf(line, sizeof(line), "%s:%s\n", o->user, hash);
  if (n < 0 || (size_t)n >= sizeof(line))
    return -1;
  return tu_write_file(path, line, (size_t)n);
}

static int write_squid_conf(const ts_squid *s, const ts_squid_opts *o,
                            const char *passwd) {
  FILE *f = fopen(s->conf, "w");
  if (f == NULL)
    return -1;
  const char *ports = o->connect_ports != NULL ? o->connect_ports : "1-65535";
  fprintf(f,
          "http_port 127.0.0.1:%u\n"
          "visible_hostname ahttp-test-squid\n"
          "pid_filename %s/squid.pid\n"
          "cache_log %s\n"
          "coredump_dir %s\n"
          "netdb_filename none\n"
          "cache_store_log none\n"
          "logformat ahttp %%rm %%ru %%>Hs %%Ss/%%Sh %%un\n"
          "access_log stdio:%s ahttp\n"
          "buffered_logs off\n"
          "strip_query_terms off\n"
          "cache deny all\n"
          "cache_mem 8 MB\n"
          "shutdown_lifetime 0 seconds\n"
          "pinger_enable off\n"
          "dns_nameservers 127.0.0.1\n"
          "connect_timeout 10 seconds\n"
          "acl from_loopback src 127.0.0.1/32\n"
          "acl to_loopback dst 127.0.0.1/32\n"
          "acl SSL_ports port %s\n"
          "acl CONNECT method CONNECT\n"
          "http_access deny !from_loopback\n"
          "http_access deny !to_loopback\n"
          "http_access deny CONNECT !SSL_ports\n",
          (unsigned)s->port, s->dir, s->cache_log, s->dir, s->access_log,
          ports);
  if (passwd != NULL)
    fprintf(f,
            "auth_param basic program %s %s\n"
            "auth_param basic children 2\n"
            "auth_param basic realm ahttp test proxy\n"
            "acl authenticated proxy_auth REQUIRED\n"
            "http_access deny !authenticated\n",
            NCSA_AUTH, passwd);
  fprintf(f, "http_access allow from_loopback\n"
             "http_access deny all\n");
  return fclose(f) == 0 ? 0 : -1;
}

/*
 * One attempt on a fresh free port: 1 = up, 0 = lost the port to someone
 * else (try again), -1 = failed for good. squid is up when its cache.log
 * says it accepts connections on our port and a connect succeeds.
 */
static int squid_attempt(ts_squid *s, const ts_squid_opts *o,
                         const char *passwd, tc_run_as as) {
  s->port = tu_free_port();
  if (s->port == 0 || write_squid_conf(s, o, passwd) != 0 ||
      give(s->conf, as) != 0)
    return -1;
  remove(s->cache_log);
  char *argv[] = {(char *)SQUID_BIN, (char *)"-N", (char *)"-f", s->conf, NULL};
  s->pid = tc_spawn(argv, -1, drop_to(&as), s->dir);
  if (s->pid < 0)
    return -1;
  char accepting[64];
  snprintf(accepting, sizeof(accepting), "local=127.0.0.1:%u ",
           (unsigned)s->port);
  uint64_t deadline = tu_now_ms() + 20000;
  while (tu_now_ms() < deadline) {
    if (tc_exited(s->pid)) {
      s->pid = 0;
      char *log = tu_read_file(s->cache_log, NULL);
      int busy = log != NULL && strstr(log, "Address already in use") != NULL;
      free(log);
      if (busy)
        return 0;
      tu_print_file("squid cache.log", s->cache_log);
      return -1;
    }
    char *log = tu_read_file(s->cache_log, NULL);
    int listening = log != NULL && strstr(log, "Accepting HTTP") != NULL &&
                    strstr(log, accepting) != NULL;
    free(log);
    if (listening && tu_can_connect(s->port))
      return 1;
    tu_sleep_ms(10);
  }
  tc_stop(s->pid, STOP_GRACE_MS);
  s->pid = 0;
  tu_print_file("squid cache.log", s->cache_log);
  return -1;
}

int ts_squid_start(ts_squid *s, const ts_squid_opts *opts) {
  static const ts_squid_opts defaults = {NULL, NULL, NULL};
  const ts_squid_opts *o = opts != NULL ? opts : &defaults;
  memset(s, 0, sizeof(*s));
  if (access(SQUID_BIN, X_OK) != 0) {
    fprintf(stderr, "ts_squid_start: %s is not installed\n", SQUID_BIN);
    return -1;
  }
  if ((o->user == NULL) != (o->password == NULL)) {
    fprintf(stderr, "ts_squid_start: user and password go together\n");
    return -1;
  }
  if (o->user != NULL && access(NCSA_AUTH, X_OK) != 0) {
    fprintf(stderr, "ts_squid_start: %s is not installed\n", NCSA_AUTH);
    return -1;
  }
  tc_run_as as;
  if (squid_user(&as) != 0)
    return -1;
  if (tu_make_temp_dir("ahttp-squid", s->dir, sizeof(s->dir)) != 0) {
    perror("ts_squid_start: mkdtemp");
    return -1;
  }
  snprintf(s->conf, sizeof(s->conf), "%s/squid.conf", s->dir);
  snprintf(s->access_log, sizeof(s->access_log), "%s/access.log", s->dir);
  snprintf(s->cache_log, sizeof(s->cache_log), "%s/cache.log", s->dir);
  char passwd[192];
  snprintf(passwd, sizeof(passwd), "%s/passwd", s->dir);
  if (give(s->dir, as) != 0)
    goto fail;
  if (o->user != NULL &&
      (write_passwd(o, passwd) != 0 || give(passwd, as) != 0))
    goto fail;
  for (int attempt = 0; attempt < 5; attempt++) {
    int r = squid_attempt(s, o, o->user != NULL ? passwd : NULL, as);
    if (r == 1)
      return 0;
    if (r < 0)
      break;
  }
  fprintf(stderr, "ts_squid_start: squid did not come up\n");
fail:
  ts_squid_stop(s);
  return -1;
}

void ts_squid_stop(ts_squid *s) {
  tc_stop(s->pid, STOP_GRACE_MS);
  s->pid = 0;
  if (s->dir[0] != '\0')
    tu_remove_tree(s->dir);
  s->dir[0] = '\0';
}

/* Copies the next space-separated word of *p into out; 0 or -1. */
static int next_word(const char **p, const char *end, char *out, size_t cap) {
  const char *s = *p;
  while (s < end && *s == ' ')
    s++;
  const char *w = s;
  while (s < end && *s != ' ')
    s++;
  size_t len = (size_t)(s - w);
  if (len == 0)
    return -1;
  if (len >= cap)
    len = cap - 1;
  memcpy(out, w, len);
  out[len] = '\0';
  *p = s;
  return 0;
}

/* "<method> <url> <status> <tag> <user>"; lines of connections that
   sent no request (method "-" or "NONE") are skipped. */
static int parse_squid_line(const char *line, const char *end, void *entry) {
  ts_squid_entry *e = entry;
  memset(e, 0, sizeof(*e));
  char status[16];
  const char *p = line;
  if (next_word(&p, end, e->method, sizeof(e->method)) != 0 ||
      next_word(&p, end, e->url, sizeof(e->url)) != 0 ||
      next_word(&p, end, status, sizeof(status)) != 0 ||
      next_word(&p, end, e->tag, sizeof(e->tag)) != 0 ||
      next_word(&p, end, e->user, sizeof(e->user)) != 0 ||
      strcmp(e->method, "-") == 0 || strcmp(e->method, "NONE") == 0)
    return 0;
  e->status = atoi(status);
  return 1;
}

size_t ts_squid_log(const ts_squid *s, ts_squid_entry *out, size_t cap,
                    size_t min_entries, unsigned wait_ms) {
  return tu_read_log(s->access_log, parse_squid_line, out, sizeof(*out), cap,
                     min_entries, wait_ms);
}

size_t ts_squid_count(const ts_squid *s, const char *method, const char *url,
                      size_t min, unsigned wait_ms) {
  enum { CAP = 256 };
  ts_squid_entry *log = calloc(CAP, sizeof(*log));
  if (log == NULL)
    return 0;
  uint64_t deadline = tu_now_ms() + wait_ms;
  size_t hits;
  for (;;) {
    size_t n = ts_squid_log(s, log, CAP, 0, 0);
    hits = 0;
    for (size_t i = 0; i < n; i++)
      if (strcmp(log[i].method, method) == 0 &&
          (url == NULL || strcmp(log[i].url, url) == 0))
        hits++;
    if (hits >= min || tu_now_ms() >= deadline)
      break;
    tu_sleep_ms(10);
  }
  free(log);
  return hits;
}

void ts_squid_dump(const ts_squid *s) {
  tu_print_file("squid access.log", s->access_log);
  tu_print_file("squid cache.log", s->cache_log);
}

/* ---- python servers ---- */

int ts_fake_proxy_start(ts_server *s, const char *mode) {
  /* tests/server/fake_proxy.py, beside the scripted server. */
  const char *server = ts_server_script();
  const char *slash = server != NULL ? strrchr(server, '/') : NULL;
  char script[512];
  if (server == NULL) {
    memset(s, 0, sizeof(*s));
    s->out_fd = -1;
    fprintf(stderr, "ts_fake_proxy_start: AHTTP_TEST_SERVER is not set\n");
    return -1;
  }
  snprintf(script, sizeof(script), "%.*s%sfake_proxy.py",
           slash != NULL ? (int)(slash - server) : 0, server,
           slash != NULL ? "/" : "");
  const char *args[] = {"--mode", mode, NULL};
  return ts_py_start(s, script, args, 1);
}

void ts_py_stop(ts_server *s) { ts_server_stop(s); }
