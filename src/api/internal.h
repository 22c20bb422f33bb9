/*
 * internal.h - the API layer's objects: sessions, connect handles and
 * request handles, the handle table, cross-thread calls and the event
 * queue that delivers every status callback.
 *
 * Threading: an object is touched only on its session's I/O thread. Other
 * threads reach it through ah__invoke, which runs the call on that thread
 * and waits for its immediate result. The handle table and each session's
 * call queue have their own locks; nothing else is shared.
 */
#ifndef AH_API_INTERNAL_H
#define AH_API_INTERNAL_H

#include "ahttp.h"
#include "conn/conn.h"
#include "request/request.h"

#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

typedef struct ah__session ah__session;
typedef struct ah__object ah__object;
typedef struct ah__call ah__call;

typedef struct ah__options {
  uint32_t connect_timeout;
  uint32_t send_timeout;
  uint32_t receive_timeout;
  uint32_t read_buffer_size;
  uint32_t max_header_bytes;
  uint64_t notify_mask;
  uint32_t security_flags;
  uint32_t max_redirects;
  uint32_t decoding;
  uint64_t expect_continue_size;
  uint32_t expect_continue_timeout;
  char *user_agent;
  /* TLS files; NULL means unset. */
  char *ca_file;
  char *ca_dir;
  char *client_cert;
  char *client_key;
  /* Proxy override: NULL = the session's access type decides; "" =
   * direct. */
  char *proxy;
  char *proxy_bypass;
} ah__options;

struct ah__object {
  int type; /* AH_HANDLE_TYPE_* */
  ah_handle handle;
  ah__session *session;
  ah__object *parent;
  ah__object *children; /* doubly linked through prev/next */
  ah__object *prev, *next;
  ah_status_cb cb;
  void *context;
  ah__options opts;
  int closing;      /* the handle is invalid; teardown has begun */
  int closing_sent; /* HANDLE_CLOSING is queued: nothing may follow it */
};

typedef struct ah__connect {
  ah__object base;
  char *host;
  uint16_t port;
  char *user;
  char *password;
} ah__connect;

typedef struct ah__request_object {
  ah__object base;
  ah__request req;
  ah__call *sync_call; /* a blocked caller of a synchronous session */
} ah__request_object;

/*
 * One queued status callback. Its info is a copy: inline when it fits
 * (every fixed-size info does, and short text), else in a block of its
 * own that delivery frees. Slots stay small because the queue keeps
 * EVENTS_PER_OBJECT of them for every live handle: with text inline a
 * burst of a few hundred handles grew it past glibc's mmap threshold,
 * and freeing that block raised the process's trim threshold for good.
 */
#define AH__EVENT_INLINE 24
typedef struct ah__event {
  ah__object *obj;
  int status;
  int has_info;
  size_t len;
  ah__call *sync_call; /* set: wake this caller instead of a callback */
  union {
    ah_async_result result;
    unsigned char bytes[AH__EVENT_INLINE]; /* len <= AH__EVENT_INLINE */
    char *copy;                            /* longer: owned */
  } info;
} ah__event;

struct ah__session {
  ah__object base;
  unsigned flags;
  int access_type;
  /* AH_OPEN_TYPE_PRECONFIG: the environment as it was at ah_open. */
  char *env_http_proxy;
  char *env_https_proxy;
  char *env_no_proxy;
  atomic_int refs;
  uv_loop_t loop;
  uv_async_t wake;
  uv_idle_t idle;
  pthread_t thread;
  ah__io *io;

  pthread_mutex_t mu; /* guards calls, accepting, loop_done */
  pthread_cond_t cond;
  ah__call *calls_head, *calls_tail;
  int accepting;
  int loop_done;
  int detach; /* closed from its own thread: nobody joins it */

  /* I/O thread only. */
  ah__event *events;
  size_t ev_cap, ev_head, ev_count;
  /* Slots held back so that a completion or a HANDLE_CLOSING never needs
   * memory: EVENTS_PER_OBJECT for each live object. */
  size_t ev_reserved;
  int delivering;
  int shutting_down;

  /* TLS contexts, one per distinct trust/identity configuration, made on
   * the first HTTPS request that needs one (OpenSSL is not touched by
   * plain-HTTP sessions). */
  struct tls_ctx_entry *tls_ctxs;

  ah__cookie_jar *jar; /* the session's cookies (RFC 6265) */
  /* The last failure of a session call (ah_last_error_detail); a
   * request keeps its own, connect handles have none. */
  int error;
  char detail[256];
};

typedef struct tls_ctx_entry {
  ah__tls_ctx *ctx;
  struct tls_ctx_entry *next;
} tls_ctx_entry;

/* A call made from any thread, run on the session's I/O thread. */
struct ah__call {
  int (*fn)(ah__call *call, ah__object *obj);
  ah_handle handle;
  int blocking; /* may wait for completion in a synchronous session */
  /* Arguments; each call uses the fields it needs. */
  const void *p1;
  const void *p2;
  const char *s1;
  const char *s2;
  size_t n1;
  size_t *n_out;
  uint64_t u64;
  unsigned flags;
  int i1;
  uint16_t port;
  void *ptr;
  void *out;
  /* Result. */
  int result;
  int done;
  ah__call *next;
};

/* ---- handle table (handles.c) ---- */
int ah__handles_add(ah__object *obj, ah_handle *out);
/* The live object behind `h`, or NULL. */
ah__object *ah__handles_get(ah_handle h);
/* The session behind a live handle, with a reference taken, or NULL. */
ah__session *ah__handles_session(ah_handle h);
/* Both at once, under one lock: the live object (or NULL) and its
 * session with a reference taken. */
ah__object *ah__handles_get_ref(ah_handle h, ah__session **session);
void ah__handles_remove(ah_handle h);
void ah__session_unref(ah__session *s);

/* ---- session machinery (session.c) ---- */
/* Runs call->fn on the handle's session thread; returns its result. */
int ah__invoke(ah__call *call);
int ah__on_io_thread(const ah__session *s);
/* Queues a status for obj (dropped if it is filtered or obj is closed). */
void ah__emit(ah__object *obj, int status, const void *info, size_t len);
int ah__wants(const ah__object *obj, int status);
/* Queues REQUEST_COMPLETE, or wakes a blocked synchronous caller. */
void ah__complete(ah__object *obj, int err, uintptr_t result);
/* Starts closing obj and everything under it. */
void ah__close_object(ah__object *obj);
/* Holds back event slots for one more object (before creating it), so its
 * completions and its HANDLE_CLOSING can always be queued; and gives them
 * back if the object is not created after all. */
int ah__reserve_events(ah__session *s);
void ah__release_events(ah__session *s);
/* Links a new child under its parent and announces HANDLE_CREATED (its
 * events were reserved first). */
void ah__adopt(ah__object *parent, ah__object *child);

/* Waits until a closed session's thread has ended and joins it. */
int ah__close_session_and_wait(ah__session *s);
/* The session was closed on its own thread: nobody will join it. */
void ah__session_mark_detached(ah__session *s);

/* The session's TLS context for obj's options (made if needed). */
int ah__session_tls_ctx(ah__object *obj, ah__tls_ctx **out, char *detail,
                        size_t detail_len);

/* ---- options (options.c) ---- */
void ah__options_defaults(ah__options *o);
int ah__options_copy(ah__options *dst, const ah__options *src);
void ah__options_free(ah__options *o);
int ah__set_option(ah__object *obj, int option, const void *value, size_t size);
int ah__get_option(ah__object *obj, int option, void *value, size_t *size);

#endif
