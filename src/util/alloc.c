/*
 * alloc.c - allocation through one hook. The failure injection counter is
 * atomic because allocations happen on the I/O thread and on callers'
 * threads alike.
 */
#include "util/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* 0: injection off; 1: this and every later allocation fails; k > 1: the
 * k-th allocation from now fails. */
static atomic_ulong fail_countdown;
static atomic_ulong succeeded;
static atomic_ulong refused_count;

static int should_fail(void) {
  unsigned long left = atomic_load(&fail_countdown);
  while (left > 1 &&
         !atomic_compare_exchange_weak(&fail_countdown, &left, left - 1)) {
  }
  if (left == 1) {
    atomic_fetch_add(&refused_count, 1);
    return 1; /* stays at 1: every later allocation fails too */
  }
  atomic_fetch_add(&succeeded, 1);
  return 0;
}

unsigned long ah__alloc_fail_from(unsigned long nth, unsigned long *refused) {
  /* Off first, so that the counts read below are final for this run. */
  atomic_store(&fail_countdown, 0);
  unsigned long made = atomic_exchange(&succeeded, 0);
  unsigned long failed = atomic_exchange(&refused_count, 0);
  if (refused != NULL)
    *refused = failed;
  atomic_store(&fail_countdown, nth);
  return made;
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
