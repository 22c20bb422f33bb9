/*
 * squid.c - squid, the HTTPS scripted server and the fake proxy as child
 * processes of a proxy test (see squid.h).
 *
 * Every child is recorded, with its temp dir, until it has been stopped, so
 * that an atexit handler can stop what a failed test left running. Each
 * child also gets PR_SET_PDEATHSIG, set after any change of user so that
 * the kernel keeps it, and so dies with the test even if the test crashes.
 * Everything a child needs is prepared before fork, because sessions' I/O
 * threads may be running: between fork and exec the child only makes
 * async-signal-safe calls.
 */
#define _GNU_SOURCE

#include "squid.h"

#include "test_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define SQUID_BIN "/usr/sbin/squid"
#define NCSA_AUTH "/usr/lib/squid/basic_ncsa_auth"
#define MAX_CHILDREN 16
#define STOP_GRACE_MS 5000u

/* ---- children ---- */

typedef struct sq_child {
  pid_t pid;
  char dir[128];
} sq_child;

static sq_child children[MAX_CHILDREN];
static int atexit_registered;

static void forget_child(pid_t pid) {
  for (int i = 0; i < MAX_CHILDREN; i++)
    if (children[i].pid == pid)
      children[i].pid = 0;
}

/* SIGTERM, then SIGKILL after the grace period; reaps the child. */
static void stop_pid(pid_t pid) {
  if (pid <= 0)
    return;
  kill(pid, SIGTERM);
  uint64_t deadline = tu_now_ms() + STOP_GRACE_MS;
  for (;;) {
    pid_t r = waitpid(pid, NULL, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR))
      break;
    if (tu_now_ms() >= deadline) {
      kill(pid, SIGKILL);
      while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    tu_sleep_ms(5);
  }
  forget_child(pid);
}

static void stop_all_children(void) {
  for (int i = 0; i < MAX_CHILDREN; i++) {
    if (children[i].pid > 0) {
      stop_pid(children[i].pid);
      if (children[i].dir[0] != '\0')
        tu_remove_tree(children[i].dir);
    }
  }
}

static void remember_child(pid_t pid, const char *dir) {
  if (!atexit_registered) {
    atexit(stop_all_children);
    atexit_registered = 1;
  }
  for (int i = 0; i < MAX_CHILDREN; i++) {
    if (children[i].pid == 0) {
      children[i].pid = pid;
      snprintf(children[i].dir, sizeof(children[i].dir), "%s",
               dir != NULL ? dir : "");
      return;
    }
  }
}

/* Who a child runs as: uid (uid_t)-1 means "as we are". */
typedef struct run_as {
  uid_t uid;
  gid_t gid;
} run_as;

static const run_as AS_SELF = {(uid_t)-1, (gid_t)-1};

/*
 * Forks and execs argv[0] (a path, or searched in PATH). stdin is
 * /dev/null; stdout goes to `stdout_fd` if it is not -1. The child drops to
 * `as` first if asked. `dir` is removed with it at exit.
 */
static pid_t spawn(char *const argv[], int stdout_fd, run_as as,
                   const char *dir) {
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0)
    return -1;
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    close(null_fd);
    return -1;
  }
  if (pid == 0) {
    if (dup2(null_fd, STDIN_FILENO) < 0)
      _exit(126);
    if (stdout_fd >= 0 && dup2(stdout_fd, STDOUT_FILENO) < 0)
      _exit(126);
    if (as.uid != (uid_t)-1) {
      if (setgroups(0, NULL) != 0 || setgid(as.gid) != 0 || setuid(as.uid) != 0)
        _exit(125);
    }
#ifdef __linux__
    /* After the change of user, which would clear it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    execvp(argv[0], argv);
    _exit(127);
  }
  close(null_fd);
  remember_child(pid, dir);
  return pid;
}

/*
 * Runs `argv` to its end and puts the first line of its stdout in `out`.
 * 0, or -1 if it could not run, failed or printed nothing.
 */
static int run_for_line(char *const argv[], char *out, size_t cap) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return -1;
  pid_t pid = spawn(argv, fds[1], AS_SELF, NULL);
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return -1;
  }
  int rc = tu_read_line(fds[0], out, cap, tu_now_ms() + 30000);
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  forget_child(pid);
  if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return -1;
  return 0;
}

/* ---- squid ---- */

static int can_connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
  close(fd);
  return ok;
}

/*
 * The user squid runs as when we are root: `proxy` (Debian's squid user),
 * else `nobody`. Not root: ourselves.
 */
static int squid_user(run_as *as) {
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
static int give(const char *path, run_as as) {
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

static void print_file(const char *what, const char *path) {
  char *text = tu_read_file(path, NULL);
  fprintf(stderr, "%s (%s):\n%s\n", what, path, text != NULL ? text : "(none)");
  free(text);
}

/*
 * One attempt on a fresh free port: 1 = up, 0 = lost the port to someone
 * else (try again), -1 = failed for good. squid is up when its cache.log
 * says it accepts connections on our port and a connect succeeds.
 */
static int squid_attempt(ts_squid *s, const ts_squid_opts *o,
                         const char *passwd, run_as as) {
  s->port = tu_free_port();
  if (s->port == 0 || write_squid_conf(s, o, passwd) != 0 ||
      give(s->conf, as) != 0)
    return -1;
  remove(s->cache_log);
  char *argv[] = {(char *)SQUID_BIN, (char *)"-N", (char *)"-f", s->conf, NULL};
  s->pid = spawn(argv, -1, as, s->dir);
  if (s->pid < 0)
    return -1;
  char accepting[64];
  snprintf(accepting, sizeof(accepting), "local=127.0.0.1:%u ",
           (unsigned)s->port);
  uint64_t deadline = tu_now_ms() + 20000;
  while (tu_now_ms() < deadline) {
    int status;
    if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
      forget_child(s->pid);
      s->pid = 0;
      char *log = tu_read_file(s->cache_log, NULL);
      int busy = log != NULL && strstr(log, "Address already in use") != NULL;
      free(log);
      if (busy)
        return 0;
      print_file("squid cache.log", s->cache_log);
      return -1;
    }
    char *log = tu_read_file(s->cache_log, NULL);
    int listening = log != NULL && strstr(log, "Accepting HTTP") != NULL &&
                    strstr(log, accepting) != NULL;
    free(log);
    if (listening && can_connect(s->port))
      return 1;
    tu_sleep_ms(10);
  }
  stop_pid(s->pid);
  s->pid = 0;
  print_file("squid cache.log", s->cache_log);
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
  run_as as;
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
  if (s->pid > 0)
    stop_pid(s->pid);
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

static size_t parse_squid_log(const char *text, ts_squid_entry *out,
                              size_t cap) {
  size_t count = 0;
  const char *line = text;
  while (line != NULL && *line != '\0' && count < cap) {
    const char *end = strchr(line, '\n');
    if (end == NULL)
      break; /* a line still being written */
    ts_squid_entry e;
    memset(&e, 0, sizeof(e));
    char status[16];
    const char *p = line;
    if (next_word(&p, end, e.method, sizeof(e.method)) == 0 &&
        next_word(&p, end, e.url, sizeof(e.url)) == 0 &&
        next_word(&p, end, status, sizeof(status)) == 0 &&
        next_word(&p, end, e.tag, sizeof(e.tag)) == 0 &&
        next_word(&p, end, e.user, sizeof(e.user)) == 0 &&
        strcmp(e.method, "-") != 0 && strcmp(e.method, "NONE") != 0) {
      e.status = atoi(status);
      out[count++] = e;
    }
    line = end + 1;
  }
  return count;
}

size_t ts_squid_log(const ts_squid *s, ts_squid_entry *out, size_t cap,
                    size_t min_entries, unsigned wait_ms) {
  uint64_t deadline = tu_now_ms() + wait_ms;
  for (;;) {
    char *text = tu_read_file(s->access_log, NULL);
    size_t count = text != NULL ? parse_squid_log(text, out, cap) : 0;
    free(text);
    if (count >= min_entries || tu_now_ms() >= deadline)
      return count;
    tu_sleep_ms(10);
  }
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
  print_file("squid access.log", s->access_log);
  print_file("squid cache.log", s->cache_log);
}

/* ---- python servers that print "PORT <n>" ---- */

/* "<dir of the scripted server>/<name>" */
static int server_dir_file(const char *name, char *out, size_t cap) {
  const char *script = getenv("AHTTP_TEST_SERVER");
#ifdef AHTTP_TEST_SERVER_PATH
  if (script == NULL || script[0] == '\0')
    script = AHTTP_TEST_SERVER_PATH;
#endif
  if (script == NULL || script[0] == '\0')
    return -1;
  const char *slash = strrchr(script, '/');
  if (slash == NULL)
    snprintf(out, cap, "%s", name);
  else
    snprintf(out, cap, "%.*s/%s", (int)(slash - script), script, name);
  return 0;
}

/*
 * Starts `python3 SCRIPT --port 0 [--log FILE] ARGS...` and waits for its
 * PORT line. 0 or -1.
 */
static int py_start(ts_server *s, const char *script, const char *const *args,
                    int with_log) {
  memset(s, 0, sizeof(*s));
  s->out_fd = -1;
  const char *python = getenv("PYTHON3");
  if (python == NULL || python[0] == '\0')
    python = "python3";
  char *argv[16];
  int argc = 0;
  argv[argc++] = (char *)python;
  argv[argc++] = (char *)script;
  argv[argc++] = (char *)"--port";
  argv[argc++] = (char *)"0";
  if (with_log) {
    if (tu_make_temp_dir("ahttp-py", s->dir, sizeof(s->dir)) != 0) {
      perror("mkdtemp");
      return -1;
    }
    snprintf(s->log_path, sizeof(s->log_path), "%s/requests.log", s->dir);
    argv[argc++] = (char *)"--log";
    argv[argc++] = s->log_path;
  }
  for (size_t i = 0; args != NULL && args[i] != NULL && argc < 15; i++)
    argv[argc++] = (char *)args[i];
  argv[argc] = NULL;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    perror("pipe");
    goto fail;
  }
  s->pid = spawn(argv, fds[1], AS_SELF, s->dir);
  close(fds[1]);
  s->out_fd = fds[0];
  if (s->pid < 0)
    goto fail;
  char line[128];
  unsigned port = 0;
  if (tu_read_line(s->out_fd, line, sizeof(line), tu_now_ms() + 15000) != 0 ||
      sscanf(line, "PORT %u", &port) != 1 || port == 0 || port > 65535) {
    fprintf(stderr, "no PORT line from %s\n", script);
    goto fail;
  }
  s->port = (uint16_t)port;
  return 0;
fail:
  ts_py_stop(s);
  return -1;
}

int ts_tls_server_start(ts_server *s, const char *cert, int with_log) {
  const char *dir = ts_certs_dir();
  if (dir == NULL)
    return -1;
  char script[512], cert_path[512], key_path[512];
  const char *env = getenv("AHTTP_TEST_SERVER");
#ifdef AHTTP_TEST_SERVER_PATH
  if (env == NULL || env[0] == '\0')
    env = AHTTP_TEST_SERVER_PATH;
#endif
  if (env == NULL || env[0] == '\0') {
    fprintf(stderr, "ts_tls_server_start: AHTTP_TEST_SERVER is not set\n");
    return -1;
  }
  snprintf(script, sizeof(script), "%s", env);
  snprintf(cert_path, sizeof(cert_path), "%s/%s.pem", dir, cert);
  snprintf(key_path, sizeof(key_path), "%s/%s.key", dir, cert);
  const char *args[] = {"--tls-cert", cert_path, "--tls-key", key_path, NULL};
  return py_start(s, script, args, with_log);
}

int ts_fake_proxy_start(ts_server *s, const char *mode) {
  char script[512];
  if (server_dir_file("fake_proxy.py", script, sizeof(script)) != 0) {
    fprintf(stderr, "ts_fake_proxy_start: AHTTP_TEST_SERVER is not set\n");
    return -1;
  }
  const char *args[] = {"--mode", mode, NULL};
  return py_start(s, script, args, 1);
}

void ts_py_stop(ts_server *s) {
  if (s->pid > 0)
    stop_pid(s->pid);
  s->pid = 0;
  if (s->out_fd >= 0)
    close(s->out_fd);
  s->out_fd = -1;
  if (s->dir[0] != '\0')
    tu_remove_tree(s->dir);
  s->dir[0] = '\0';
  s->log_path[0] = '\0';
}
