/*
 * output_file.c - writing the response body without ever leaving a file
 * that looks complete but is not.
 *
 * The body goes to "<target>.async-XXXXXX" in the target's own directory,
 * so that the final rename(2) stays within one file system and is atomic:
 * a reader sees either the old file at the target or the complete new one.
 * Until that rename nothing at the target path is opened, truncated or
 * removed. No fsync: the guarantee is about failed transfers, not about
 * power loss, and the sample never asked for durability.
 *
 * Two kinds of target are not replaced by a rename. A symbolic link stays
 * a link: the file it points to is the one replaced. A device or FIFO
 * (/dev/null, a pipe) cannot be replaced at all, and renaming a regular
 * file over /dev/null would be a disaster: it is written directly.
 */
#define _XOPEN_SOURCE 700 /* realpath */

#include "output_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char temp_suffix[] = ".async-XXXXXX";

static char *copy_string(const char *s) {
  size_t len = strlen(s) + 1;
  char *copy = malloc(len);
  if (copy != NULL)
    memcpy(copy, s, len);
  return copy;
}

/* mkstemp makes the file 0600; give it what open(O_CREAT, 0666) would
 * have, so that the result looks like any other downloaded file. umask is
 * read by setting it, which is harmless here: no other thread runs yet. */
static int apply_default_mode(int fd) {
  mode_t mask = umask(0);
  umask(mask);
  if (fchmod(fd, (mode_t)(0666 & ~mask)) != 0)
    return errno;
  return 0;
}

/* A device, FIFO or socket at the target: open it as it is. */
static int open_direct(output_file *out) {
  out->fd = open(out->path, O_WRONLY | O_NOCTTY);
  return out->fd < 0 ? errno : 0;
}

static int open_temporary(output_file *out) {
  size_t len = strlen(out->final_path);
  int err;
  out->temp_path = malloc(len + sizeof temp_suffix);
  if (out->temp_path == NULL)
    return ENOMEM;
  memcpy(out->temp_path, out->final_path, len);
  memcpy(out->temp_path + len, temp_suffix, sizeof temp_suffix);
  out->fd = mkstemp(out->temp_path);
  if (out->fd < 0) {
    err = errno;
    free(out->temp_path);
    out->temp_path = NULL;
    return err;
  }
  return apply_default_mode(out->fd);
}

int output_file_open(output_file *out, const char *path) {
  struct stat st;
  int err;
  out->path = path;
  out->final_path = NULL;
  out->temp_path = NULL;
  out->fd = -1;
  if (stat(path, &st) == 0) {
    /* A directory would only be refused at the final rename, after the
     * whole download: refuse it now. */
    if (S_ISDIR(st.st_mode))
      return EISDIR;
    if (!S_ISREG(st.st_mode))
      return open_direct(out);
    out->final_path = realpath(path, NULL);
  }
  if (out->final_path == NULL)
    out->final_path = copy_string(path);
  if (out->final_path == NULL)
    return ENOMEM;
  err = open_temporary(out);
  if (err != 0)
    output_file_discard(out);
  return err;
}

int output_file_write(output_file *out, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(out->fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int output_file_commit(output_file *out) {
  int err = 0;
  /* close can report a delayed write error (NFS, quotas): a file whose
   * close failed is not known to be complete. */
  if (close(out->fd) != 0)
    err = errno;
  out->fd = -1;
  if (err == 0 && out->temp_path != NULL &&
      rename(out->temp_path, out->final_path) != 0)
    err = errno;
  if (err != 0) {
    output_file_discard(out);
    return err;
  }
  free(out->temp_path);
  out->temp_path = NULL;
  free(out->final_path);
  out->final_path = NULL;
  return 0;
}

void output_file_discard(output_file *out) {
  if (out->fd >= 0) {
    close(out->fd);
    out->fd = -1;
  }
  if (out->temp_path != NULL) {
    unlink(out->temp_path);
    free(out->temp_path);
    out->temp_path = NULL;
  }
  free(out->final_path);
  out->final_path = NULL;
}
