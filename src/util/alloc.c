/*
 * alloc.c - allocation through one hook. The failure injection counter is
 * atomic because allocations happen on the I/O thread and on callers'
 * threads alike.
 */
#include "util/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_ulong fail_countdown; /* 0: injection off */
static atomic_ulong succeeded;

static int should_fail(void) {
  unsigned long left = atomic_load(&fail_countdown);
  if (left == 0) {
    atomic_fetch_add(&succeeded, 1);
    return 0;
  }
  if (left == 1)
    return 1; /* stays at 1: every later allocation fails too */
  atomic_fetch_sub(&fail_countdown, 1);
  atomic_fetch_add(&succeeded, 1);
  return 0;
}

unsigned long ah__alloc_fail_after(unsigned long n) {
  atomic_store(&fail_countdown, n == 0 ? 0 : n + 1);
  return atomic_exchange(&succeeded, 0);
}

void *ah__malloc(size_t size) {
  if (should_fail())
    return NULL;
  return malloc(size == 0 ? 1 : size);
}

void *ah__calloc(size_t count, size_t size) {
  if (should_fail())
    return NULL;
  return calloc(count == 0 ? 1 : count, size == 0 ? 1 : size);
}

void *ah__realloc(void *ptr, size_t size) {
  if (should_fail())
    return NULL;
  return realloc(ptr, size == 0 ? 1 : size);
}

void ah__free(void *ptr) { free(ptr); }

char *ah__strndup(const char *s, size_t len) {
  char *copy;
  if (s == NULL)
    return NULL;
  copy = ah__malloc(len + 1);
  if (copy == NULL)
    return NULL;
  memcpy(copy, s, len);
  copy[len] = '\0';
  return copy;
}

char *ah__strdup(const char *s) {
  return s == NULL ? NULL : ah__strndup(s, strlen(s));
}
