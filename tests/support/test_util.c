/*
 * test_util.c - helpers for the integration tests (see test_util.h).
 * SHA-256 goes through OpenSSL's EVP interface, the only one that is not
 * deprecated in OpenSSL 3.
 */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include "test_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct tu_sha256 {
  EVP_MD_CTX *ctx;
};

tu_sha256 *tu_sha256_new(void) {
  tu_sha256 *s = malloc(sizeof(*s));
  if (s == NULL)
    abort();
  s->ctx = EVP_MD_CTX_new();
  if (s->ctx == NULL || EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1)
    abort();
  return s;
}

void tu_sha256_update(tu_sha256 *s, const void *data, size_t len) {
  if (len > 0 && EVP_DigestUpdate(s->ctx, data, len) != 1)
    abort();
}

void tu_sha256_final_hex(tu_sha256 *s, char hex[65]) {
  static const char digits[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(s->ctx, md, &n) != 1 || n != 32)
    abort();
  for (unsigned int i = 0; i < n; i++) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 0xf];
  }
  hex[64] = '\0';
  EVP_MD_CTX_free(s->ctx);
  free(s);
}

void tu_sha256_hex(const void *data, size_t len, char hex[65]) {
  tu_sha256 *s = tu_sha256_new();
  tu_sha256_update(s, data, len);
  tu_sha256_final_hex(s, hex);
}

void tu_fill(void *buf, size_t len, uint64_t seed) {
  /* splitmix64: fast, and good enough that no two fills look alike. */
  unsigned char *p = buf;
  uint64_t x = seed;
  while (len > 0) {
    uint64_t z = (x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    z ^= z >> 31;
    size_t n = len < 8 ? len : 8;
    memcpy(p, &z, n);
    p += n;
    len -= n;
  }
}

unsigned char *tu_fill_new(size_t size, uint64_t seed, char hex[65]) {
  unsigned char *buf = malloc(size > 0 ? size : 1);
  if (buf == NULL)
    abort();
  tu_fill(buf, size, seed);
  if (hex != NULL)
    tu_sha256_hex(buf, size, hex);
  return buf;
}

const char *tu_pct(const char *in) {
  static char bufs[4][2048];
  static unsigned next;
  static const char digits[] = "0123456789ABCDEF";
  char *out = bufs[next++ % 4];
  size_t k = 0;
  for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
    if (k + 4 >= sizeof(bufs[0])) {
      fprintf(stderr, "tu_pct: \"%.40s...\" is too long\n", in);
      abort();
    }
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
        (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL) {
      out[k++] = (char)*p;
    } else {
      out[k++] = '%';
      out[k++] = digits[*p >> 4];
      out[k++] = digits[*p & 15];
    }
  }
  out[k] = '\0';
  return out;
}

uint64_t tu_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void tu_sleep_ms(unsigned ms) {
  struct timespec ts;
  ts.tv_sec = (time_t)(ms / 1000u);
  ts.tv_nsec = (long)(ms % 1000u) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

char *tu_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  size_t cap = 4096, used = 0;
  char *data = malloc(cap + 1);
  if (data == NULL)
    goto fail;
  for (;;) {
    if (used == cap) {
      char *bigger = realloc(data, cap * 2 + 1);
      if (bigger == NULL)
        goto fail;
      data = bigger;
      cap *= 2;
    }
    size_t n = fread(data + used, 1, cap - used, f);
    used += n;
    if (n == 0)
      break;
  }
  if (ferror(f))
    goto fail;
  fclose(f);
  data[used] = '\0';
  if (len != NULL)
    *len = used;
  return data;
fail:
  free(data);
  fclose(f);
  return NULL;
}

int tu_write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (f == NULL)
    return -1;
  size_t n = fwrite(data, 1, len, f);
  int rc = fclose(f);
  return n == len && rc == 0 ? 0 : -1;
}

void tu_print_file(const char *what, const char *path) {
  char *text = tu_read_file(path, NULL);
  fprintf(stderr, "%s (%s):\n%s\n", what, path, text != NULL ? text : "(none)");
  free(text);
}

int tu_make_temp_dir(const char *prefix, char *out, size_t cap) {
  int n = snprintf(out, cap, "/tmp/%s-XXXXXX", prefix);
  if (n < 0 || (size_t)n >= cap)
    return -1;
  return mkdtemp(out) == NULL ? -1 : 0;
}

static int remove_entry(const char *path, const struct stat *st, int type,
                        struct FTW *ftw) {
  (void)st;
  (void)type;
  (void)ftw;
  remove(path);
  return 0;
}

void tu_remove_tree(const char *dir) {
  if (dir != NULL && dir[0] != '\0')
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A TCP socket and 127.0.0.1:`port` in *sa; -1 if no socket. */
static int loopback_socket(uint16_t port, struct sockaddr_in *sa) {
  memset(sa, 0, sizeof(*sa));
  sa->sin_family = AF_INET;
  sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa->sin_port = htons(port);
  return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

uint16_t tu_free_port(void) {
  struct sockaddr_in sa;
  int fd = loopback_socket(0, &sa);
  if (fd < 0)
    return 0;
  socklen_t sl = sizeof(sa);
  uint16_t port = 0;
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
      getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
    port = ntohs(sa.sin_port);
  close(fd);
  return port;
}

int tu_can_connect(uint16_t port) {
  struct sockaddr_in sa;
  int fd = loopback_socket(port, &sa);
  if (fd < 0)
    return 0;
  int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
  close(fd);
  return ok;
}

/* One pass of tu_read_log over the text of the file. */
static size_t parse_log(const char *text, tu_line_parser parse, char *out,
                        size_t size, size_t cap) {
  size_t count = 0;
  const char *line = text;
  while (*line != '\0' && count < cap) {
    const char *end = strchr(line, '\n');
    if (end == NULL)
      break; /* a line still being written */
    if (parse(line, end, out + count * size))
      count++;
    line = end + 1;
  }
  return count;
}

size_t tu_read_log(const char *path, tu_line_parser parse, void *out,
                   size_t size, size_t cap, size_t min, unsigned wait_ms) {
  uint64_t deadline = tu_now_ms() + wait_ms;
  for (;;) {
    char *text = tu_read_file(path, NULL);
    size_t count = text != NULL ? parse_log(text, parse, out, size, cap) : 0;
    free(text);
    if (count >= min || tu_now_ms() >= deadline)
      return count;
    tu_sleep_ms(10);
  }
}

size_t tu_count_lines_with(const char *text, const char *needle) {
  size_t count = 0;
  const char *line = text;
  while (line != NULL && *line != '\0') {
    const char *end = strchr(line, '\n');
    size_t n = end != NULL ? (size_t)(end - line) : strlen(line);
    const char *hit = strstr(line, needle);
    if (hit != NULL && hit + strlen(needle) <= line + n)
      count++;
    line = end != NULL ? end + 1 : NULL;
  }
  return count;
}

/* Reads from `fd` until a full line is in `buf` or the deadline passes. */
int tu_read_line(int fd, char *buf, size_t cap, uint64_t deadline) {
  size_t used = 0;
  while (used + 1 < cap) {
    uint64_t now = tu_now_ms();
    if (now >= deadline)
      return -1;
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    int r = poll(&p, 1, (int)(deadline - now));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    ssize_t n = read(fd, buf + used, 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    if (buf[used] == '\n') {
      buf[used] = '\0';
      return 0;
    }
    used++;
  }
  return -1;
}
