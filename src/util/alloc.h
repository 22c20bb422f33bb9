/*
 * alloc.h - the one allocation hook of the library. Every allocation goes
 * through these so that tests can make the Nth one fail.
 */
#ifndef AH_UTIL_ALLOC_H
#define AH_UTIL_ALLOC_H

#include <stddef.h>

void *ah__malloc(size_t size);
void *ah__calloc(size_t count, size_t size);
void *ah__realloc(void *ptr, size_t size);
void ah__free(void *ptr);
/* A copy of `s` (NULL gives NULL), or NULL when out of memory. */
char *ah__strdup(const char *s);
char *ah__strndup(const char *s, size_t len);

/*
 * Test hook: after `n` more successful allocations, every allocation fails
 * (0 = never fail). Returns how many allocations succeeded since the last
 * call, so a torture test can count the allocations a scenario needs.
 */
unsigned long ah__alloc_fail_after(unsigned long n);

#endif
