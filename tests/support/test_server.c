/*
 * test_server.c - child-process servers for the integration tests (see
 * test_server.h). The children are child.c's, which stops and cleans up
 * at exit what a failed test (cmocka leaves a test by longjmp) did not.
 */
#define _GNU_SOURCE

#include "test_server.h"

#include "child.h"
#include "test_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NGINX_BIN "/usr/sbin/nginx"
#define STOP_GRACE_MS 2000u

const char *ts_server_script(void) {
  const char *script = getenv("AHTTP_TEST_SERVER");
#ifdef AHTTP_TEST_SERVER_PATH
  if (script == NULL || script[0] == '\0')
    script = AHTTP_TEST_SERVER_PATH;
#endif
  return script != NULL && script[0] != '\0' ? script : NULL;
}

int ts_py_start(ts_server *s, const char *script, const char *const *args,
                int with_log) {
  memset(s, 0, sizeof(*s));
  s->out_fd = -1;
  const char *python = getenv("PYTHON3");
  if (python == NULL || python[0] == '\0')
    python = "python3";
  char *argv[24];
  int argc = 0;
  argv[argc++] = (char *)python;
  argv[argc++] = (char *)script;
  argv[argc++] = (char *)"--port";
  argv[argc++] = (char *)"0";
  if (with_log) {
    if (tu_make_temp_dir("ahttp-srv", s->dir, sizeof(s->dir)) != 0) {
      perror("ts_py_start: mkdtemp");
      return -1;
    }
    snprintf(s->log_path, sizeof(s->log_path), "%s/requests.log", s->dir);
    argv[argc++] = (char *)"--log";
    argv[argc++] = s->log_path;
  }
  for (size_t i = 0; args != NULL && args[i] != NULL; i++) {
    if (argc == 23) {
      fprintf(stderr, "ts_py_start: too many arguments for %s\n", script);
      goto fail;
    }
    argv[argc++] = (char *)args[i];
  }
  argv[argc] = NULL;

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    perror("ts_py_start: pipe");
    goto fail;
  }
  s->pid = tc_spawn(argv, fds[1], NULL, s->dir);
  close(fds[1]);
  s->out_fd = fds[0];
  if (s->pid < 0)
    goto fail;
  char line[128];
  unsigned port = 0;
  if (tu_read_line(s->out_fd, line, sizeof(line), tu_now_ms() + 15000) != 0 ||
      sscanf(line, "PORT %u", &port) != 1 || port == 0 || port > 65535) {
    fprintf(stderr, "ts_py_start: no PORT line from %s\n", script);
    goto fail;
  }
  s->port = (uint16_t)port;
  return 0;
fail:
  ts_server_stop(s);
  return -1;
}

/* `tls` NULL: plain HTTP. */
static int server_start(ts_server *s, int with_log, const ts_server_tls *tls) {
  const char *script = ts_server_script();
  if (script == NULL) {
    memset(s, 0, sizeof(*s));
    s->out_fd = -1;
    fprintf(stderr, "ts_server_start: AHTTP_TEST_SERVER is not set\n");
    return -1;
  }
  const char *args[9];
  int n = 0;
  if (tls != NULL) {
    args[n++] = "--tls-cert";
    args[n++] = tls->cert;
    args[n++] = "--tls-key";
    args[n++] = tls->key;
    if (tls->client_ca != NULL) {
      args[n++] = "--tls-client-ca";
      args[n++] = tls->client_ca;
    }
    if (tls->max_version != NULL) {
      args[n++] = "--tls-max-version";
      args[n++] = tls->max_version;
    }
  }
  args[n] = NULL;
  return ts_py_start(s, script, args, with_log);
}

int ts_server_start(ts_server *s, int with_log) {
  return server_start(s, with_log, NULL);
}

int ts_server_start_tls(ts_server *s, int with_log, const ts_server_tls *tls) {
  if (tls == NULL || tls->cert == NULL || tls->key == NULL) {
    memset(s, 0, sizeof(*s));
    s->out_fd = -1;
    fprintf(stderr, "ts_server_start_tls: a certificate and key are needed\n");
    return -1;
  }
  return server_start(s, with_log, tls);
}

int ts_tls_server_start(ts_server *s, const char *cert, int with_log) {
  const char *dir = ts_certs_dir();
  if (dir == NULL) {
    memset(s, 0, sizeof(*s));
    s->out_fd = -1;
    return -1;
  }
  char cert_path[512], key_path[512];
  snprintf(cert_path, sizeof(cert_path), "%s/%s.pem", dir, cert);
  snprintf(key_path, sizeof(key_path), "%s/%s.key", dir, cert);
  const ts_server_tls tls = {cert_path, key_path, NULL, NULL};
  return ts_server_start_tls(s, with_log, &tls);
}

void ts_server_stop(ts_server *s) {
  tc_stop(s->pid, STOP_GRACE_MS);
  s->pid = 0;
  if (s->out_fd >= 0)
    close(s->out_fd);
  s->out_fd = -1;
  if (s->dir[0] != '\0')
    tu_remove_tree(s->dir);
  s->dir[0] = '\0';
  s->log_path[0] = '\0';
}

static size_t count_lines(const char *text) {
  size_t n = 0;
  for (const char *p = text; *p != '\0'; p++)
    if (*p == '\n')
      n++;
  return n;
}

/* The file at `path` once it has `min_lines` lines or `wait_ms` passed. */
static char *read_lines(const char *path, size_t min_lines, unsigned wait_ms) {
  uint64_t deadline = tu_now_ms() + wait_ms;
  for (;;) {
    char *text = tu_read_file(path, NULL);
    if (text == NULL) {
      text = malloc(1);
      if (text == NULL)
        return NULL;
      text[0] = '\0';
    }
    if (count_lines(text) >= min_lines || tu_now_ms() >= deadline)
      return text;
    free(text);
    tu_sleep_ms(10);
  }
}

char *ts_server_log(const ts_server *s, size_t min_lines, unsigned wait_ms) {
  if (s->log_path[0] == '\0')
    return NULL;
  return read_lines(s->log_path, min_lines, wait_ms);
}

char *ts_server_header_log(const ts_server *s, size_t min_lines,
                           unsigned wait_ms) {
  if (s->log_path[0] == '\0')
    return NULL;
  char path[sizeof(s->log_path) + 16];
  snprintf(path, sizeof(path), "%s.headers", s->log_path);
  return read_lines(path, min_lines, wait_ms);
}

const char *ts_header_log_find(const char *log, const char *request,
                               size_t nth) {
  size_t want = request != NULL ? strlen(request) : 0;
  for (const char *line = log; *line != '\0';) {
    const char *end = strchr(line, '\n');
    if (end == NULL)
      end = line + strlen(line);
    const char *sp = memchr(line, ' ', (size_t)(end - line));
    if (sp != NULL) {
      const char *req = sp + 1;
      const char *tab = memchr(req, '\t', (size_t)(end - req));
      size_t len = (size_t)((tab != NULL ? tab : end) - req);
      int match =
          request == NULL || (len == want && strncmp(req, request, want) == 0);
      if (match && nth-- == 0)
        return line;
    }
    line = *end != '\0' ? end + 1 : end;
  }
  return NULL;
}

int ts_header_log_field(const char *line, const char *name, char *value,
                        size_t cap) {
  int count = 0;
  size_t nlen = strlen(name);
  const char *end = strchr(line, '\n');
  if (end == NULL)
    end = line + strlen(line);
  for (const char *p = memchr(line, '\t', (size_t)(end - line)); p != NULL;
       p = memchr(p + 1, '\t', (size_t)(end - p - 1))) {
    if ((size_t)(end - p - 1) > nlen + 1 && strncmp(p + 1, name, nlen) == 0 &&
        p[1 + nlen] == ':' && p[2 + nlen] == ' ') {
      if (count == 0 && value != NULL && cap > 0) {
        const char *v = p + 3 + nlen;
        size_t n = strcspn(v, "\t\n");
        if (n >= cap)
          n = cap - 1;
        memcpy(value, v, n);
        value[n] = '\0';
      }
      count++;
    }
  }
  return count;
}

/* ---- nginx ---- */

/*
 * The TLS server block: HTTPS only, resumable sessions, /upload reading
 * bodies into kept files (proxied to a sink on a unix socket, because
 * nginx itself reads a body only for a handler that wants it), /slow/
 * rate-limited. nginx does not remove a body file that
 * client_body_in_file_only keeps, so ts_nginx_upload can hash it.
 */
static void write_tls_servers(FILE *f, const ts_nginx *n,
                              const ts_nginx_tls *tls) {
  fprintf(f,
          "  server {\n"
          "    listen 127.0.0.1:%u ssl;\n"
          "    server_name localhost;\n"
          "    root %s;\n"
          "    ssl_certificate %s;\n"
          "    ssl_certificate_key %s;\n"
          "    ssl_protocols %s;\n"
          "    ssl_session_cache shared:SSL:1m;\n"
          "    ssl_session_tickets on;\n"
          "    access_log %s ahttp;\n"
          "    access_log %s tlsinfo;\n",
          (unsigned)n->port, n->root, tls->cert, tls->key,
          tls->protocols != NULL ? tls->protocols : "TLSv1.2 TLSv1.3",
          n->access_log, n->tls_log);
  if (tls->ciphers != NULL)
    fprintf(f, "    ssl_ciphers %s;\n", tls->ciphers);
  if (tls->client_ca != NULL)
    fprintf(f,
            "    ssl_verify_client on;\n"
            "    ssl_client_certificate %s;\n",
            tls->client_ca);
  fprintf(f,
          "    location /upload {\n"
          "      client_max_body_size 0;\n"
          "      client_body_in_file_only on;\n"
          "      access_log %s ahttp;\n"
          "      access_log %s tlsinfo;\n"
          "      access_log %s upload;\n"
          "      proxy_pass http://unix:%s/sink.sock:/;\n"
          "    }\n"
          "    location /slow/ {\n"
          "      alias %s/;\n"
          "      limit_rate 64k;\n"
          "    }\n"
          "  }\n"
          "  server {\n"
          "    listen unix:%s/sink.sock;\n"
          "    access_log off;\n"
          "    client_max_body_size 0;\n"
          "    location / { return 200 \"ok\\n\"; }\n"
          "  }\n",
          n->access_log, n->tls_log, n->upload_log, n->dir, n->root, n->dir);
}

/* `tls` NULL: the plain HTTP server. */
static int write_nginx_conf(const ts_nginx *n, const ts_nginx_tls *tls,
                            const char *path) {
  FILE *f = fopen(path, "w");
  if (f == NULL)
    return -1;
  fprintf(f,
          "daemon off;\n"
          "master_process off;\n"
          "worker_processes 1;\n"
          "pid %s/nginx.pid;\n"
          "error_log %s/error.log info;\n"
          "events { worker_connections 256; }\n"
          "http {\n"
          "  log_format ahttp '$connection $connection_requests "
          "\"$request\" $status $body_bytes_sent';\n"
          "  access_log %s ahttp;\n"
          "  client_body_temp_path %s/tmp/body;\n"
          "  proxy_temp_path %s/tmp/proxy;\n"
          "  fastcgi_temp_path %s/tmp/fastcgi;\n"
          "  uwsgi_temp_path %s/tmp/uwsgi;\n"
          "  scgi_temp_path %s/tmp/scgi;\n"
          "  keepalive_requests 1000000;\n"
          "  keepalive_timeout 120s;\n"
          "  default_type application/octet-stream;\n"
          "  sendfile on;\n",
          n->dir, n->dir, n->access_log, n->dir, n->dir, n->dir, n->dir,
          n->dir);
  if (tls != NULL) {
    fprintf(f, "  log_format upload '$connection \"$request\" $status "
               "$request_body_file';\n"
               "  log_format tlsinfo '$connection $ssl_protocol "
               "sni=$ssl_server_name alpn=$ssl_alpn_protocol "
               "reused=$ssl_session_reused';\n");
    write_tls_servers(f, n, tls);
  } else {
    fprintf(f,
            "  server {\n"
            "    listen 127.0.0.1:%u;\n"
            "    server_name localhost;\n"
            "    root %s;\n"
            "    location /gzip/ {\n"
            "      alias %s/;\n"
            "      gzip on;\n"
            "      gzip_types *;\n"
            "      gzip_min_length 1;\n"
            "    }\n"
            "  }\n",
            (unsigned)n->port, n->root, n->root);
  }
  fprintf(f, "}\n");
  return fclose(f) == 0 ? 0 : -1;
}

static void print_error_log(const ts_nginx *n) {
  char path[256];
  snprintf(path, sizeof(path), "%s/error.log", n->dir);
  tu_print_file("nginx error log", path);
}

/*
 * One attempt on a fresh free port: 1 = up, 0 = lost the port to someone
 * else (try again), -1 = failed for good. nginx writes its pid file only
 * after it has bound its sockets, so "pid file exists and a connect
 * succeeds" means this nginx is the one listening.
 */
static int nginx_attempt(ts_nginx *n, const ts_nginx_tls *tls) {
  char conf[256], pidfile[256];
  snprintf(conf, sizeof(conf), "%s/nginx.conf", n->dir);
  snprintf(pidfile, sizeof(pidfile), "%s/nginx.pid", n->dir);
  n->port = tu_free_port();
  if (n->port == 0 || write_nginx_conf(n, tls, conf) != 0)
    return -1;
  char prefix[160], errlog[256];
  snprintf(prefix, sizeof(prefix), "%s/", n->dir);
  snprintf(errlog, sizeof(errlog), "%s/error.log", n->dir);
  char *argv[] = {(char *)NGINX_BIN, (char *)"-p", prefix, (char *)"-c", conf,
                  (char *)"-e",      errlog,       NULL};
  n->pid = tc_spawn(argv, -1, NULL, n->dir);
  if (n->pid < 0)
    return -1;
  uint64_t deadline = tu_now_ms() + 10000;
  while (tu_now_ms() < deadline) {
    if (tc_exited(n->pid)) {
      n->pid = 0;
      print_error_log(n);
      return 0;
    }
    struct stat st;
    if (stat(pidfile, &st) == 0 && tu_can_connect(n->port))
      return 1;
    tu_sleep_ms(10);
  }
  /* Still binding (nginx retries a taken port for a while): give it up. */
  tc_stop(n->pid, STOP_GRACE_MS);
  n->pid = 0;
  print_error_log(n);
  return 0;
}

static int nginx_start(ts_nginx *n, const ts_nginx_tls *tls) {
  memset(n, 0, sizeof(*n));
  if (access(NGINX_BIN, X_OK) != 0) {
    fprintf(stderr, "ts_nginx_start: %s is not installed\n", NGINX_BIN);
    return -1;
  }
  if (tu_make_temp_dir("ahttp-nginx", n->dir, sizeof(n->dir)) != 0) {
    perror("ts_nginx_start: mkdtemp");
    return -1;
  }
  /* The tests run as root or as a user; either way nginx runs as the same
     user without a master process, so the files need no special modes. */
  char tmp[256];
  snprintf(n->root, sizeof(n->root), "%s/root", n->dir);
  snprintf(n->access_log, sizeof(n->access_log), "%s/access.log", n->dir);
  if (tls != NULL) {
    snprintf(n->upload_log, sizeof(n->upload_log), "%s/upload.log", n->dir);
    snprintf(n->tls_log, sizeof(n->tls_log), "%s/tls.log", n->dir);
  }
  snprintf(tmp, sizeof(tmp), "%s/tmp", n->dir);
  if (mkdir(n->root, 0755) != 0 || mkdir(tmp, 0755) != 0) {
    perror("ts_nginx_start: mkdir");
    goto fail;
  }
  for (int attempt = 0; attempt < 5; attempt++) {
    int r = nginx_attempt(n, tls);
    if (r == 1)
      return 0;
    if (r < 0)
      break;
  }
  fprintf(stderr, "ts_nginx_start: nginx did not come up\n");
fail:
  ts_nginx_stop(n);
  return -1;
}

int ts_nginx_start(ts_nginx *n) { return nginx_start(n, NULL); }

int ts_nginx_start_tls(ts_nginx *n, const ts_nginx_tls *tls) {
  if (tls == NULL || tls->cert == NULL || tls->key == NULL) {
    memset(n, 0, sizeof(*n));
    fprintf(stderr, "ts_nginx_start_tls: a certificate and key are needed\n");
    return -1;
  }
  return nginx_start(n, tls);
}

int ts_nginx_add_file(ts_nginx *n, const char *name, size_t size, uint64_t seed,
                      char sha_hex[65]) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", n->root, name);
  unsigned char *data = malloc(size > 0 ? size : 1);
  if (data == NULL)
    return -1;
  tu_fill(data, size, seed);
  if (sha_hex != NULL)
    tu_sha256_hex(data, size, sha_hex);
  int rc = tu_write_file(path, data, size);
  free(data);
  return rc;
}

void ts_nginx_stop(ts_nginx *n) {
  tc_stop(n->pid, STOP_GRACE_MS);
  n->pid = 0;
  if (n->dir[0] != '\0')
    tu_remove_tree(n->dir);
  n->dir[0] = '\0';
}

/* $connection $connection_requests "$request" $status ... */
static int parse_nginx_line(const char *line, const char *end, void *entry) {
  ts_nginx_entry *e = entry;
  memset(e, 0, sizeof(*e));
  const char *q1 = memchr(line, '"', (size_t)(end - line));
  const char *q2 =
      q1 != NULL ? memchr(q1 + 1, '"', (size_t)(end - q1 - 1)) : NULL;
  if (q2 == NULL ||
      sscanf(line, "%lu %lu", &e->connection, &e->connection_requests) != 2 ||
      sscanf(q2 + 1, "%d", &e->status) != 1)
    return 0;
  size_t len = (size_t)(q2 - q1 - 1);
  if (len >= sizeof(e->request))
    len = sizeof(e->request) - 1;
  memcpy(e->request, q1 + 1, len);
  e->request[len] = '\0';
  return 1;
}

size_t ts_nginx_log(const ts_nginx *n, ts_nginx_entry *out, size_t cap,
                    size_t min_entries, unsigned wait_ms) {
  return tu_read_log(n->access_log, parse_nginx_line, out, sizeof(*out), cap,
                     min_entries, wait_ms);
}

/* The last space-separated word of the `nth` line of `text`, in `out`. */
static int nth_line_last_word(const char *text, size_t nth, char *out,
                              size_t cap) {
  const char *line = text;
  for (size_t i = 0; i < nth && line != NULL; i++) {
    line = strchr(line, '\n');
    if (line != NULL)
      line++;
  }
  if (line == NULL)
    return -1;
  const char *end = strchr(line, '\n');
  if (end == NULL)
    return -1; /* not there yet, or still being written */
  const char *word = end;
  while (word > line && word[-1] != ' ')
    word--;
  size_t len = (size_t)(end - word);
  if (len == 0 || len >= cap)
    return -1;
  memcpy(out, word, len);
  out[len] = '\0';
  return 0;
}

/* SHA-256 and length of a file, read in pieces. 0 or -1. */
static int hash_file(const char *path, char sha_hex[65], uint64_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return -1;
  size_t cap = (size_t)1 << 20;
  unsigned char *buf = malloc(cap);
  if (buf == NULL) {
    fclose(f);
    return -1;
  }
  tu_sha256 *sha = tu_sha256_new();
  uint64_t total = 0;
  size_t n;
  while ((n = fread(buf, 1, cap, f)) > 0) {
    tu_sha256_update(sha, buf, n);
    total += n;
  }
  int rc = ferror(f) ? -1 : 0;
  fclose(f);
  free(buf);
  tu_sha256_final_hex(sha, sha_hex);
  *len = total;
  return rc;
}

int ts_nginx_upload(const ts_nginx *n, size_t nth, unsigned wait_ms,
                    char sha_hex[65], uint64_t *len) {
  if (n->upload_log[0] == '\0')
    return -1;
  char path[512];
  uint64_t deadline = tu_now_ms() + wait_ms;
  for (;;) {
    char *text = tu_read_file(n->upload_log, NULL);
    int found =
        text != NULL && nth_line_last_word(text, nth, path, sizeof(path)) == 0;
    free(text);
    if (found)
      break;
    if (tu_now_ms() >= deadline) {
      fprintf(stderr, "ts_nginx_upload: no upload #%zu in %s\n", nth,
              n->upload_log);
      return -1;
    }
    tu_sleep_ms(10);
  }
  /* A request without a body has no file: "-". */
  if (strcmp(path, "-") == 0) {
    tu_sha256_hex("", 0, sha_hex);
    *len = 0;
    return 0;
  }
  int rc = hash_file(path, sha_hex, len);
  if (rc != 0)
    fprintf(stderr, "ts_nginx_upload: cannot read %s\n", path);
  remove(path);
  return rc;
}

/* ---- certificates and helper programs ---- */

static char certs_dir[128];

static void remove_certs_dir(void) {
  if (certs_dir[0] != '\0')
    tu_remove_tree(certs_dir);
  certs_dir[0] = '\0';
}

/* tests/support/make_certs.sh, from $AHTTP_SOURCE_DIR or the built-in path
   of the scripted server, which lives in the same tree. */
static int make_certs_script(char *out, size_t cap) {
  const char *src = getenv("AHTTP_SOURCE_DIR");
  if (src != NULL && src[0] != '\0') {
    snprintf(out, cap, "%s/tests/support/make_certs.sh", src);
    return 0;
  }
#ifdef AHTTP_TEST_SERVER_PATH
  static const char suffix[] = "tests/server/ahttp_test_server.py";
  const char *server = AHTTP_TEST_SERVER_PATH;
  size_t len = strlen(server);
  if (len >= sizeof(suffix) - 1 &&
      strcmp(server + len - (sizeof(suffix) - 1), suffix) == 0) {
    snprintf(out, cap, "%.*stests/support/make_certs.sh",
             (int)(len - (sizeof(suffix) - 1)), server);
    return 0;
  }
#endif
  return -1;
}

const char *ts_certs_dir(void) {
  if (certs_dir[0] != '\0')
    return certs_dir;
  char script[512];
  if (make_certs_script(script, sizeof(script)) != 0) {
    fprintf(stderr, "ts_certs_dir: AHTTP_SOURCE_DIR is not set\n");
    return NULL;
  }
  if (tu_make_temp_dir("ahttp-certs", certs_dir, sizeof(certs_dir)) != 0) {
    perror("ts_certs_dir: mkdtemp");
    certs_dir[0] = '\0';
    return NULL;
  }
  atexit(remove_certs_dir);
  char *argv[] = {(char *)"bash", script, certs_dir, NULL};
  int rc = ts_run(argv, 60000);
  if (rc != 0) {
    fprintf(stderr, "ts_certs_dir: %s exited with %d\n", script, rc);
    remove_certs_dir();
    return NULL;
  }
  return certs_dir;
}

const char *ts_cert_path(const char *name, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s", certs_dir, name);
  return out;
}

int ts_run(char *const argv[], unsigned timeout_ms) {
  int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null_fd < 0)
    return -1;
  pid_t pid = tc_spawn(argv, null_fd, NULL, NULL);
  close(null_fd);
  return pid < 0 ? -1 : tc_wait(pid, timeout_ms);
}
