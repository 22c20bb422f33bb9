/*
 * input_file.h - the file a POST sends: opened and measured before any
 * network activity, then read piece by piece during the upload.
 */
#ifndef ASYNC_INPUT_FILE_H
#define ASYNC_INPUT_FILE_H

#include <stddef.h>
#include <stdint.h>

typedef struct input_file {
  const char *path; /* as the user gave it (borrowed) */
  int fd;           /* -1 when closed */
  uint64_t size;    /* the size announced to the server */
  uint64_t sent;    /* bytes read so far */
} input_file;

/* Opens a regular file for reading and records its size. Returns 0 or an
 * errno value (EINVAL names "not a regular file"). */
int input_file_open(input_file *in, const char *path);

typedef enum input_read_result {
  INPUT_READ_DATA,   /* *got > 0 bytes were read */
  INPUT_READ_END,    /* exactly `size` bytes were read, and no more exist */
  INPUT_READ_SHRANK, /* the file ended before `size` bytes */
  INPUT_READ_GREW,   /* the file holds more than `size` bytes */
  INPUT_READ_ERROR   /* read failed; *err is the errno value */
} input_read_result;

/* Reads the next piece, at most `cap` bytes and never beyond the announced
 * size, so that the upload sends exactly what was announced. */
input_read_result input_file_read(input_file *in, void *buf, size_t cap,
                                  size_t *got, int *err);

/* Starts reading from the beginning again (to send the file once more,
 * after a 307 or 308). Returns 0 or an errno value. */
int input_file_rewind(input_file *in);

void input_file_close(input_file *in);

#endif
