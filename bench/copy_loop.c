/*
 * copy_loop.c - the copy ceiling: the least a client can do for one GET.
 * Connects, sends one request with "Connection: close", then reads into a
 * 1 MiB buffer and writes what it read to OUT (or drops it when OUT is
 * "-"), until the server closes. No parsing beyond finding the end of the
 * response head and checking the status and Content-Length.
 *
 *   copy_loop HOST PORT PATH OUT
 *
 * Also the libc-only client of the fresh-process row.
 */
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_LEN ((size_t)1 << 20)

static int dial(const char *host, const char *port) {
  struct addrinfo hints, *res, *ai;
  int fd = -1, rc;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "copy_loop: %s: %s\n", host, gai_strerror(rc));
    return -1;
  }
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0)
      continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
      break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    fprintf(stderr, "copy_loop: connect %s:%s: %s\n", host, port,
            strerror(errno));
  return fd;
}

static int write_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int send_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Finds the end of the head in buf[0..len); returns its length or 0. */
static size_t head_end(const char *buf, size_t len) {
  size_t i;
  for (i = 3; i < len; i++)
    if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' &&
        buf[i - 3] == '\r')
      return i + 1;
  return 0;
}

/* Content-Length of the head, or -1 when there is none. */
static long long content_length(const char *head, size_t len) {
  static const char name[] = "\r\ncontent-length:";
  size_t i, k;
  for (i = 0; i + sizeof name - 1 <= len; i++) {
    for (k = 0; k < sizeof name - 1; k++) {
      char ch = head[i + k];
      if (ch >= 'A' && ch <= 'Z')
        ch = (char)(ch - 'A' + 'a');
      if (ch != name[k])
        break;
    }
    if (k == sizeof name - 1)
      return strtoll(head + i + k, NULL, 10);
  }
  return -1;
}

int main(int argc, char **argv) {
  char *buf, request[1024];
  size_t fill = 0, off;
  uint64_t body = 0;
  long long expect = -1;
  int fd, out = -1, n, seen_head = 0;
  double t0 = bu_now(), secs;
  if (argc != 5) {
    fprintf(stderr, "usage: copy_loop HOST PORT PATH OUT|-\n");
    return 2;
  }
  buf = malloc(BUF_LEN);
  if (buf == NULL)
    return 1;
  if (strcmp(argv[4], "-") != 0) {
    out = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
      fprintf(stderr, "copy_loop: %s: %s\n", argv[4], strerror(errno));
      return 2;
    }
  }
  fd = dial(argv[1], argv[2]);
  if (fd < 0)
    return 3;
  n = snprintf(request, sizeof request,
               "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n",
               argv[3], argv[1], argv[2]);
  if (n < 0 || (size_t)n >= sizeof request ||
      send_all(fd, request, (size_t)n) != 0) {
    fprintf(stderr, "copy_loop: cannot send the request\n");
    return 3;
  }
  for (;;) {
    ssize_t got = read(fd, buf + fill, BUF_LEN - fill);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      fprintf(stderr, "copy_loop: read: %s\n", strerror(errno));
      return 3;
    }
    if (got == 0)
      break;
    fill += (size_t)got;
    off = 0;
    if (!seen_head) {
      off = head_end(buf, fill);
      if (off == 0) {
        if (fill == BUF_LEN) {
          fprintf(stderr, "copy_loop: response head too large\n");
          return 4;
        }
        continue; /* keep the partial head; read after it */
      }
      if (fill < 12 || memcmp(buf + 9, "200", 3) != 0) {
        fprintf(stderr, "copy_loop: not a 200 response\n");
        return 4;
      }
      expect = content_length(buf, off);
      seen_head = 1;
    }
    if (out >= 0 && write_all(out, buf + off, fill - off) != 0) {
      fprintf(stderr, "copy_loop: write: %s\n", strerror(errno));
      return 2;
    }
    body += fill - off;
    fill = 0;
  }
  close(fd);
  if (out >= 0 && close(out) != 0) {
    fprintf(stderr, "copy_loop: close: %s\n", strerror(errno));
    return 2;
  }
  secs = bu_now() - t0;
  if (!seen_head || (expect >= 0 && (uint64_t)expect != body)) {
    fprintf(stderr, "copy_loop: the response ended early\n");
    return 4;
  }
  printf("%-10s %14s %8s %8s\n", "copy_loop", "bytes", "seconds", "GB/s");
  printf("%-10s %14" PRIu64 " %8.3f %8.3f\n", "", body, secs,
         (double)body / secs / 1e9);
  printf("RESULT mode=copy bytes=%" PRIu64 " seconds=%.6f\n", body, secs);
  return 0;
}
