/*
 * recorder.c - the recording status callback (see recorder.h).
 * One mutex guards the log; one condition variable (on the monotonic clock)
 * wakes the waits whenever an event is appended. The hook runs outside the
 * lock so that it may call into ahttp, which may take its own locks.
 */
#define _GNU_SOURCE

#include "recorder.h"

#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 16
#define MAX_VIOLATIONS 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static pthread_once_t cond_once = PTHREAD_ONCE_INIT;

static rec_event *log_events;
static size_t log_count, log_cap;
static rec_hook hook_fn;
static void *hook_arg;
static pthread_t main_thread;
static pthread_t threads[MAX_THREADS];
static int thread_count;
static char violations[MAX_VIOLATIONS][160];
static int violation_count;
static _Thread_local int callback_depth;
static ah_handle *closed_handles; /* handles that got HANDLE_CLOSING */
static size_t closed_count, closed_cap;

static void init_cond(void) {
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&cond, &attr);
  pthread_condattr_destroy(&attr);
}

void rec_reset(void) {
  pthread_once(&cond_once, init_cond);
  pthread_mutex_lock(&lock);
  free(log_events);
  log_events = NULL;
  log_count = log_cap = 0;
  free(closed_handles);
  closed_handles = NULL;
  closed_count = closed_cap = 0;
  hook_fn = NULL;
  hook_arg = NULL;
  main_thread = pthread_self();
  thread_count = 0;
  violation_count = 0;
  pthread_mutex_unlock(&lock);
}

void rec_set_hook(rec_hook hook, void *arg) {
  pthread_mutex_lock(&lock);
  hook_fn = hook;
  hook_arg = arg;
  pthread_mutex_unlock(&lock);
}

static void violation(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Called with the lock held. */
static void violation(const char *fmt, ...) {
  if (violation_count < MAX_VIOLATIONS) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(violations[violation_count], sizeof(violations[0]), fmt, ap);
    va_end(ap);
  }
  violation_count++;
}

/* Called with the lock held. */
static int thread_number(void) {
  pthread_t self = pthread_self();
  if (pthread_equal(self, main_thread))
    return 0;
  for (int i = 0; i < thread_count; i++)
    if (pthread_equal(threads[i], self))
      return i + 1;
  if (thread_count < MAX_THREADS)
    threads[thread_count++] = self;
  return thread_count;
}

static int is_string_status(int status) {
  return status == AH_STATUS_RESOLVING_NAME ||
         status == AH_STATUS_NAME_RESOLVED ||
         status == AH_STATUS_CONNECTING_TO_SERVER ||
         status == AH_STATUS_CONNECTED_TO_SERVER ||
         status == AH_STATUS_REDIRECT;
}

static int is_u32_status(int status) {
  return status == AH_STATUS_REQUEST_SENT ||
         status == AH_STATUS_RESPONSE_RECEIVED ||
         status == AH_STATUS_INTERMEDIATE_RESPONSE;
}

/* Fills the status-specific part of `e`; called with the lock held. */
static void decode_info(rec_event *e, const void *info, size_t info_len) {
  int st = e->status;
  if (st == AH_STATUS_REQUEST_COMPLETE || st == AH_STATUS_HANDLE_CREATED) {
    if (info != NULL && info_len >= sizeof(ah_async_result))
      memcpy(&e->result, info, sizeof(ah_async_result));
    else
      violation("%s for handle %p without an ah_async_result (len %zu)",
                ah_status_name(st), (void *)e->handle, info_len);
  } else if (st == AH_STATUS_HANDLE_CLOSING) {
    if (info != NULL && info_len >= sizeof(ah_handle))
      memcpy(&e->closing_info, info, sizeof(ah_handle));
  } else if (is_u32_status(st)) {
    if (info != NULL && info_len >= sizeof(uint32_t))
      memcpy(&e->value, info, sizeof(uint32_t));
  } else if (is_string_status(st) && info != NULL) {
    size_t n = info_len;
    const char *s = info;
    /* info_len may or may not count the NUL; stop at the first NUL. */
    size_t max = n < sizeof(e->text) - 1 ? n : sizeof(e->text) - 1;
    size_t k = 0;
    while (k < max && s[k] != '\0')
      k++;
    memcpy(e->text, s, k);
    e->text[k] = '\0';
  }
}

/* Called with the lock held: was `handle` already closed? */
static int closed_before(ah_handle handle) {
  for (size_t i = 0; i < closed_count; i++)
    if (closed_handles[i] == handle)
      return 1;
  return 0;
}

/* Called with the lock held. */
static void note_closed(ah_handle handle) {
  if (closed_count == closed_cap) {
    size_t cap = closed_cap != 0 ? closed_cap * 2 : 64;
    ah_handle *bigger = realloc(closed_handles, cap * sizeof(*bigger));
    if (bigger == NULL)
      abort();
    closed_handles = bigger;
    closed_cap = cap;
  }
  closed_handles[closed_count++] = handle;
}

void rec_callback(ah_handle handle, int status, const void *info,
                  size_t info_len, void *context) {
  pthread_mutex_lock(&lock);
  if (callback_depth > 0)
    violation("nested callback: %s for %p inside another callback",
              ah_status_name(status), (void *)handle);
  if (handle == NULL)
    violation("callback %s with a NULL handle", ah_status_name(status));
  if (closed_before(handle))
    violation("%s for %p after its HANDLE_CLOSING", ah_status_name(status),
              (void *)handle);
  if (log_count == log_cap) {
    size_t cap = log_cap != 0 ? log_cap * 2 : 1024;
    rec_event *bigger = realloc(log_events, cap * sizeof(*bigger));
    if (bigger == NULL)
      abort();
    log_events = bigger;
    log_cap = cap;
  }
  rec_event *e = &log_events[log_count];
  memset(e, 0, sizeof(*e));
  e->seq = log_count;
  e->handle = handle;
  e->status = status;
  e->context = context;
  e->info_len = info_len;
  e->has_info = info != NULL;
  e->thread_no = thread_number();
  if (e->thread_no == 0)
    violation("%s for %p delivered on the main thread", ah_status_name(status),
              (void *)handle);
  decode_info(e, info, info_len);
  if (status == AH_STATUS_HANDLE_CLOSING && !closed_before(handle))
    note_closed(handle);
  log_count++;
  rec_hook fn = hook_fn;
  void *arg = hook_arg;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);

  callback_depth++;
  if (fn != NULL)
    fn(handle, status, info, info_len, context, arg);
  callback_depth--;
}

static struct timespec deadline_after(unsigned ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += (time_t)(ms / 1000u);
  ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  return ts;
}

/* Called with the lock held. */
static size_t count_locked(ah_handle handle, int status) {
  size_t n = 0;
  for (size_t i = 0; i < log_count; i++)
    if ((handle == NULL || log_events[i].handle == handle) &&
        log_events[i].status == status)
      n++;
  return n;
}

int rec_wait_complete(ah_handle handle, unsigned timeout_ms,
                      ah_async_result *out) {
  pthread_once(&cond_once, init_cond);
  struct timespec deadline = deadline_after(timeout_ms);
  size_t scanned = 0;
  pthread_mutex_lock(&lock);
  for (;;) {
    for (; scanned < log_count; scanned++) {
      rec_event *e = &log_events[scanned];
      if (e->handle == handle && e->status == AH_STATUS_REQUEST_COMPLETE &&
          !e->consumed) {
        e->consumed = 1;
        if (out != NULL)
          *out = e->result;
        pthread_mutex_unlock(&lock);
        return 1;
      }
    }
    if (pthread_cond_timedwait(&cond, &lock, &deadline) == ETIMEDOUT) {
      /* One more look: an event may have come with the time-out. */
      if (scanned == log_count) {
        pthread_mutex_unlock(&lock);
        return 0;
      }
    }
  }
}

int rec_done(ah_handle handle, int rc, uintptr_t *result) {
  if (result != NULL)
    *result = 0;
  if (rc != AH_IO_PENDING)
    return rc;
  ah_async_result r;
  if (!rec_wait_complete(handle, REC_TIMEOUT_MS, &r))
    return REC_ERR_NO_COMPLETION;
  if (result != NULL)
    *result = r.result;
  return r.error;
}

int rec_wait_status(ah_handle handle, int status, size_t count,
                    unsigned timeout_ms) {
  pthread_once(&cond_once, init_cond);
  struct timespec deadline = deadline_after(timeout_ms);
  pthread_mutex_lock(&lock);
  int ok;
  for (;;) {
    ok = count_locked(handle, status) >= count;
    if (ok || pthread_cond_timedwait(&cond, &lock, &deadline) == ETIMEDOUT)
      break;
  }
  ok = count_locked(handle, status) >= count;
  pthread_mutex_unlock(&lock);
  return ok;
}

int rec_wait_closing(ah_handle handle, unsigned timeout_ms) {
  return rec_wait_status(handle, AH_STATUS_HANDLE_CLOSING, 1, timeout_ms);
}

size_t rec_count(ah_handle handle, int status) {
  pthread_mutex_lock(&lock);
  size_t n = count_locked(handle, status);
  pthread_mutex_unlock(&lock);
  return n;
}

size_t rec_count_all(ah_handle handle) {
  pthread_mutex_lock(&lock);
  size_t n = 0;
  for (size_t i = 0; i < log_count; i++)
    if (log_events[i].handle == handle)
      n++;
  pthread_mutex_unlock(&lock);
  return n;
}

long rec_index(ah_handle handle, int status, size_t nth) {
  long found = -1;
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < log_count; i++) {
    if (log_events[i].handle == handle && log_events[i].status == status) {
      if (nth == 0) {
        found = (long)i;
        break;
      }
      nth--;
    }
  }
  pthread_mutex_unlock(&lock);
  return found;
}

long rec_last_index(ah_handle handle) {
  long found = -1;
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < log_count; i++)
    if (log_events[i].handle == handle)
      found = (long)i;
  pthread_mutex_unlock(&lock);
  return found;
}

rec_event *rec_events(ah_handle handle, size_t *count) {
  pthread_mutex_lock(&lock);
  rec_event *out = malloc((log_count + 1) * sizeof(*out));
  if (out == NULL)
    abort();
  size_t n = 0;
  for (size_t i = 0; i < log_count; i++)
    if (handle == NULL || log_events[i].handle == handle)
      out[n++] = log_events[i];
  pthread_mutex_unlock(&lock);
  *count = n;
  return out;
}

/* Called with the lock held. */
static int check_closed_locked(ah_handle handle, char *why, size_t cap) {
  size_t closings = 0;
  long last = -1, closing_at = -1;
  ah_handle info = NULL;
  for (size_t i = 0; i < log_count; i++) {
    if (log_events[i].handle != handle)
      continue;
    last = (long)i;
    if (log_events[i].status == AH_STATUS_HANDLE_CLOSING) {
      closings++;
      closing_at = (long)i;
      info = log_events[i].closing_info;
    }
  }
  if (closings != 1) {
    snprintf(why, cap, "handle %p got %zu HANDLE_CLOSING (expected 1)",
             (void *)handle, closings);
    return 0;
  }
  if (closing_at != last) {
    snprintf(why, cap, "handle %p got %s (log #%ld) after HANDLE_CLOSING",
             (void *)handle, ah_status_name(log_events[last].status), last);
    return 0;
  }
  if (info != handle) {
    snprintf(why, cap, "HANDLE_CLOSING of %p carries handle %p as info",
             (void *)handle, (void *)info);
    return 0;
  }
  return 1;
}

int rec_check_closed(ah_handle handle, char *why, size_t cap) {
  pthread_mutex_lock(&lock);
  int ok = check_closed_locked(handle, why, cap);
  pthread_mutex_unlock(&lock);
  return ok;
}

int rec_check_all_closed(char *why, size_t cap) {
  int ok = 1;
  size_t nseen = 0, seen_cap = 64;
  ah_handle *seen = malloc(seen_cap * sizeof(*seen));
  if (seen == NULL)
    abort();
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < log_count && ok; i++) {
    ah_handle h = log_events[i].handle;
    size_t j = 0;
    while (j < nseen && seen[j] != h)
      j++;
    if (j < nseen)
      continue;
    if (nseen == seen_cap) {
      seen_cap *= 2;
      ah_handle *bigger = realloc(seen, seen_cap * sizeof(*seen));
      if (bigger == NULL)
        abort();
      seen = bigger;
    }
    seen[nseen++] = h;
    ok = check_closed_locked(h, why, cap);
  }
  pthread_mutex_unlock(&lock);
  free(seen);
  return ok;
}

int rec_check_violations(char *why, size_t cap) {
  pthread_mutex_lock(&lock);
  int n = violation_count;
  if (n > 0) {
    size_t used = 0;
    why[0] = '\0';
    for (int i = 0; i < n && i < MAX_VIOLATIONS && used + 1 < cap; i++) {
      int k = snprintf(why + used, cap - used, "%s%s", i > 0 ? "; " : "",
                       violations[i]);
      if (k < 0)
        break;
      used += (size_t)k;
    }
    if (n > MAX_VIOLATIONS && used + 1 < cap)
      snprintf(why + used, cap - used, "; and %d more", n - MAX_VIOLATIONS);
  }
  pthread_mutex_unlock(&lock);
  return n == 0;
}

int rec_thread_count(void) {
  pthread_mutex_lock(&lock);
  int n = thread_count;
  pthread_mutex_unlock(&lock);
  return n;
}

void rec_dump(ah_handle handle) {
  size_t n;
  rec_event *ev = rec_events(handle, &n);
  fprintf(stderr, "---- recorded callbacks (%zu) ----\n", n);
  for (size_t i = 0; i < n; i++) {
    rec_event *e = &ev[i];
    fprintf(stderr, "#%zu %p %-22s thread %d", e->seq, (void *)e->handle,
            ah_status_name(e->status), e->thread_no);
    if (e->status == AH_STATUS_REQUEST_COMPLETE ||
        e->status == AH_STATUS_HANDLE_CREATED)
      fprintf(stderr, " result %lu error %s", (unsigned long)e->result.result,
              ah_err_name(e->result.error));
    else if (is_u32_status(e->status))
      fprintf(stderr, " %u", (unsigned)e->value);
    else if (e->text[0] != '\0')
      fprintf(stderr, " \"%s\"", e->text);
    fputc('\n', stderr);
  }
  fprintf(stderr, "----\n");
  free(ev);
}

const char *rec_code_name(int code) {
  if (code == REC_ERR_NO_COMPLETION)
    return "REC_ERR_NO_COMPLETION (no REQUEST_COMPLETE in time)";
  return ah_err_name(code);
}

static char status_letter(int status) {
  switch (status) {
  case AH_STATUS_HANDLE_CREATED:
    return 'C';
  case AH_STATUS_DETECTING_PROXY:
    return 'P';
  case AH_STATUS_RESOLVING_NAME:
    return 'r';
  case AH_STATUS_NAME_RESOLVED:
    return 'n';
  case AH_STATUS_CONNECTING_TO_SERVER:
    return 'c';
  case AH_STATUS_CONNECTED_TO_SERVER:
    return 'k';
  case AH_STATUS_SENDING_REQUEST:
    return 'S';
  case AH_STATUS_REQUEST_SENT:
    return 's';
  case AH_STATUS_RECEIVING_RESPONSE:
    return 'V';
  case AH_STATUS_RESPONSE_RECEIVED:
    return 'v';
  case AH_STATUS_INTERMEDIATE_RESPONSE:
    return 'I';
  case AH_STATUS_REDIRECT:
    return 'R';
  case AH_STATUS_REQUEST_COMPLETE:
    return 'D';
  case AH_STATUS_CLOSING_CONNECTION:
    return 'L';
  case AH_STATUS_CONNECTION_CLOSED:
    return 'l';
  case AH_STATUS_HANDLE_CLOSING:
    return 'X';
  case AH_STATUS_STATE_CHANGE:
    return 'T';
  case AH_STATUS_COOKIE_SENT:
  case AH_STATUS_COOKIE_RECEIVED:
  case AH_STATUS_COOKIE_HISTORY:
    return 'K';
  case AH_STATUS_TLS_HANDSHAKE_START:
    return 'H';
  case AH_STATUS_TLS_HANDSHAKE_DONE:
    return 'h';
  default:
    return '?';
  }
}

void rec_trace(ah_handle handle, char *out, size_t cap) {
  size_t n = 0;
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < log_count && n + 1 < cap; i++)
    if (log_events[i].handle == handle)
      out[n++] = status_letter(log_events[i].status);
  pthread_mutex_unlock(&lock);
  if (cap > 0)
    out[n] = '\0';
}

int rec_check_trace(ah_handle handle, const char *pattern, char *why,
                    size_t cap) {
  size_t trace_cap = 65536;
  char *trace = malloc(trace_cap);
  if (trace == NULL)
    abort();
  rec_trace(handle, trace, trace_cap);
  regex_t re;
  int ok = 0;
  if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
    snprintf(why, cap, "bad pattern %s", pattern);
  } else {
    ok = regexec(&re, trace, 0, NULL, 0) == 0;
    regfree(&re);
    if (!ok)
      snprintf(why, cap, "handle %p: trace \"%.400s\" does not match %s",
               (void *)handle, trace, pattern);
  }
  free(trace);
  return ok;
}
