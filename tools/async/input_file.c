/*
 * input_file.c - reading the file to POST.
 *
 * The size is taken once, with fstat, because it goes into the request's
 * Content-Length before the first byte is sent. If the file then changes
 * size the upload cannot be right any more, so reads check the running
 * total against that size and report the change instead of sending a body
 * that contradicts its own length.
 */
#define _POSIX_C_SOURCE 200809L

#include "input_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int input_file_open(input_file *in, const char *path) {
  struct stat st;
  int err;
  in->path = path;
  in->size = 0;
  in->sent = 0;
  /* O_NONBLOCK so that a FIFO given by mistake cannot hang the open; it
   * has no effect on the regular file that is accepted below. */
  in->fd = open(path, O_RDONLY | O_NONBLOCK);
  if (in->fd < 0)
    return errno;
  if (fstat(in->fd, &st) != 0) {
    err = errno;
    goto fail;
  }
  if (!S_ISREG(st.st_mode)) {
    err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    goto fail;
  }
  in->size = (uint64_t)st.st_size;
  return 0;

fail:
  input_file_close(in);
  return err;
}

static ssize_t read_some(int fd, void *buf, size_t len) {
  ssize_t n;
  do {
    n = read(fd, buf, len);
  } while (n < 0 && errno == EINTR);
  return n;
}

input_read_result input_file_read(input_file *in, void *buf, size_t cap,
                                  size_t *got, int *err) {
  uint64_t left = in->size - in->sent;
  size_t want = left < cap ? (size_t)left : cap;
  unsigned char probe;
  ssize_t n;

  *got = 0;
  *err = 0;
  if (want == 0) {
    /* Everything announced was read: one more byte means the file grew. */
    n = read_some(in->fd, &probe, 1);
    if (n < 0) {
      *err = errno;
      return INPUT_READ_ERROR;
    }
    return n == 0 ? INPUT_READ_END : INPUT_READ_GREW;
  }
  n = read_some(in->fd, buf, want);
  if (n < 0) {
    *err = errno;
    return INPUT_READ_ERROR;
  }
  if (n == 0)
    return INPUT_READ_SHRANK;
  in->sent += (uint64_t)n;
  *got = (size_t)n;
  return INPUT_READ_DATA;
}

int input_file_rewind(input_file *in) {
  if (lseek(in->fd, 0, SEEK_SET) < 0)
    return errno;
  in->sent = 0;
  return 0;
}

void input_file_close(input_file *in) {
  if (in->fd >= 0) {
    close(in->fd);
    in->fd = -1;
  }
}
