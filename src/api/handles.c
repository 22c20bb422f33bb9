/*
 * handles.c - the process-wide handle table. A handle is a slot index
 * plus the slot's generation, never a pointer, so a closed, stale or
 * made-up value is recognised and rejected instead of dereferenced. The
 * generation changes whenever a slot is freed.
 */
#include "api/internal.h"
#include "util/alloc.h"

#include <pthread.h>

typedef struct slot {
  ah__object *obj; /* NULL: free */
  uint32_t generation;
  uint32_t next_free;
} slot;

#define INDEX_BITS (sizeof(uintptr_t) >= 8 ? 32u : 20u)
#define INDEX_MASK ((((uintptr_t)1) << INDEX_BITS) - 1u)
#define GEN_MASK (sizeof(uintptr_t) >= 8 ? 0xffffffffu : 0xfffu)
#define NO_SLOT UINT32_MAX

static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static slot *slots;
static uint32_t slot_count, slot_cap;
static uint32_t free_head = NO_SLOT;

static ah_handle encode(uint32_t index, uint32_t generation) {
  /* index + 1 keeps every handle value non-zero (NULL is never valid). */
  uintptr_t v = ((uintptr_t)generation << INDEX_BITS) | ((uintptr_t)index + 1);
  return (ah_handle)v;
}

/* The slot of a live handle, or NULL. Table lock held. */
static slot *lookup(ah_handle h) {
  uintptr_t v = (uintptr_t)h;
  uintptr_t index_plus_one = v & INDEX_MASK;
  uint32_t generation = (uint32_t)(v >> INDEX_BITS);
  slot *s;
  if (index_plus_one == 0 || index_plus_one > slot_count)
    return NULL;
  s = &slots[index_plus_one - 1];
  if (s->obj == NULL || s->generation != generation)
    return NULL;
  return s;
}

int ah__handles_add(ah__object *obj, ah_handle *out) {
  uint32_t index;
  pthread_mutex_lock(&table_mu);
  if (free_head != NO_SLOT) {
    index = free_head;
    free_head = slots[index].next_free;
  } else {
    if (slot_count == slot_cap) {
      uint32_t cap = slot_cap == 0 ? 64 : slot_cap * 2;
      slot *grown;
      if (cap - 1 > INDEX_MASK - 1) {
        pthread_mutex_unlock(&table_mu);
        return AH_ERR_NO_MEMORY;
      }
      grown = ah__realloc(slots, cap * sizeof *slots);
      if (grown == NULL) {
        pthread_mutex_unlock(&table_mu);
        return AH_ERR_NO_MEMORY;
      }
      slots = grown;
      slot_cap = cap;
    }
    index = slot_count++;
    slots[index].generation = 1;
  }
  slots[index].obj = obj;
  slots[index].next_free = NO_SLOT;
  *out = encode(index, slots[index].generation);
  obj->handle = *out;
  pthread_mutex_unlock(&table_mu);
  return AH_OK;
}

ah__object *ah__handles_get(ah_handle h) {
  slot *s;
  ah__object *obj;
  pthread_mutex_lock(&table_mu);
  s = lookup(h);
  obj = s != NULL ? s->obj : NULL;
  pthread_mutex_unlock(&table_mu);
  return obj;
}

ah__object *ah__handles_get_ref(ah_handle h, ah__session **session) {
  slot *s;
  ah__object *obj = NULL;
  *session = NULL;
  pthread_mutex_lock(&table_mu);
  s = lookup(h);
  if (s != NULL) {
    obj = s->obj;
    *session = obj->session;
    atomic_fetch_add(&(*session)->refs, 1);
  }
  pthread_mutex_unlock(&table_mu);
  return obj;
}

ah__session *ah__handles_session(ah_handle h) {
  slot *s;
  ah__session *session = NULL;
  pthread_mutex_lock(&table_mu);
  s = lookup(h);
  if (s != NULL) {
    /* A live handle implies a live session thread holding a reference,
     * so taking another one here cannot race with the final release. */
    session = s->obj->session;
    atomic_fetch_add(&session->refs, 1);
  }
  pthread_mutex_unlock(&table_mu);
  return session;
}

void ah__handles_remove(ah_handle h) {
  slot *s;
  pthread_mutex_lock(&table_mu);
  s = lookup(h);
  if (s != NULL) {
    uint32_t index = (uint32_t)(s - slots);
    s->obj = NULL;
    s->generation = (s->generation + 1) & GEN_MASK;
    if (s->generation == 0)
      s->generation = 1;
    s->next_free = free_head;
    free_head = index;
  }
  pthread_mutex_unlock(&table_mu);
}
