/*
 * replay_main.c - the main() that turns a fuzz target into a plain program:
 * it runs LLVMFuzzerTestOneInput once on every file named on the command
 * line, and on every regular file inside each directory named there (not
 * recursively), in name order so that runs are reproducible. Used under
 * CTest to replay the seed corpora in every build, without libFuzzer.
 *
 * A failed invariant aborts inside the target, which fails the test; this
 * program itself fails when a file cannot be read or nothing was run.
 */
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  size_t cap = 0, len = 0;
  if (f == NULL) {
    fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
    return -1;
  }
  for (;;) {
    size_t n;
    if (len == cap) {
      size_t ncap = cap == 0 ? 4096 : cap * 2;
      uint8_t *bigger = realloc(buf, ncap);
      if (bigger == NULL) {
        fclose(f);
        free(buf);
        fprintf(stderr, "replay: out of memory reading %s\n", path);
        return -1;
      }
      buf = bigger;
      cap = ncap;
    }
    n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0)
      break;
  }
  if (ferror(f)) {
    fclose(f);
    free(buf);
    fprintf(stderr, "replay: cannot read %s\n", path);
    return -1;
  }
  fclose(f);
  /* An exact-size copy, so that a read past the input is caught. */
  {
    uint8_t *exact = malloc(len > 0 ? len : 1);
    if (exact == NULL) {
      free(buf);
      return -1;
    }
    if (len > 0)
      memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
  }
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file in `dir`; returns the count or -1. */
static long run_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char **names = NULL;
  size_t count = 0, cap = 0;
  long ran = 0;
  if (d == NULL) {
    fprintf(stderr, "replay: cannot open %s: %s\n", dir, strerror(errno));
    return -1;
  }
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    if (count == cap) {
      size_t ncap = cap == 0 ? 64 : cap * 2;
      char **bigger = realloc(names, ncap * sizeof *names);
      if (bigger == NULL)
        break;
      names = bigger;
      cap = ncap;
    }
    names[count] = malloc(strlen(dir) + strlen(e->d_name) + 2);
    if (names[count] == NULL)
      break;
    sprintf(names[count], "%s/%s", dir, e->d_name);
    count++;
  }
  closedir(d);
  if (count > 0)
    qsort(names, count, sizeof *names, by_name);
  for (size_t i = 0; i < count; i++) {
    struct stat st;
    if (ran >= 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
      if (run_file(names[i]) != 0)
        ran = -1;
      else
        ran++;
    }
    free(names[i]);
  }
  free(names);
  return ran;
}

int main(int argc, char **argv) {
  long total = 0;
  if (argc < 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    struct stat st;
    long n;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
      return 1;
    }
    n = S_ISDIR(st.st_mode)      ? run_dir(argv[i])
        : run_file(argv[i]) == 0 ? 1
                                 : -1;
    if (n < 0)
      return 1;
    total += n;
  }
  printf("replayed %ld inputs\n", total);
  if (total == 0) {
    fprintf(stderr, "replay: no inputs found\n");
    return 1;
  }
  return 0;
}
