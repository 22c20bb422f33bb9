/*
 * output_file.h - the response body's destination: a temporary file beside
 * the target that becomes the target only when the transfer succeeded.
 */
#ifndef ASYNC_OUTPUT_FILE_H
#define ASYNC_OUTPUT_FILE_H

#include <stddef.h>

typedef struct output_file {
  const char *path; /* the target, as the user gave it (borrowed) */
  char *final_path; /* where the rename goes: `path`, or the file a
                       symbolic link at `path` points to; owned */
  char *temp_path;  /* "<final_path>.async-XXXXXX", owned; NULL when none
                       (also when writing straight to a device) */
  int fd;           /* -1 when closed */
} output_file;

/*
 * Creates the temporary file in the target's directory (mkstemp), with the
 * permissions a newly created file would get. The target itself is not
 * touched. A target that exists and is neither a regular file nor a
 * directory (/dev/null, a FIFO, a terminal) cannot be replaced by a
 * rename; it is opened and written directly instead. Returns 0 or an
 * errno value (EISDIR for a directory).
 */
int output_file_open(output_file *out, const char *path);

/* Appends `len` bytes. Returns 0 or an errno value (ENOSPC, EIO, ...). */
int output_file_write(output_file *out, const void *buf, size_t len);

/* Closes the temporary file and renames it onto the target (or just
 * closes a device target). Returns 0 or an errno value; on failure the
 * temporary file is removed. */
int output_file_commit(output_file *out);

/* Closes and removes the temporary file; the target stays as it was.
 * Safe to call more than once and after output_file_commit. */
void output_file_discard(output_file *out);

#endif
