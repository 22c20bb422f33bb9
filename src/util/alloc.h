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
 * Test hook: counting from this call, allocation number `nth` and every
 * later one fail (1: the very next one); 0 turns injection off. Returns how
 * many allocations succeeded since the previous call. `refused`, when not
 * NULL, gets how many were made to fail since then: that tells a run which
 * needed exactly nth - 1 allocations from one that was cut short.
 */
unsigned long ah__alloc_fail_from(unsigned long nth, unsigned long *refused);

#endif
