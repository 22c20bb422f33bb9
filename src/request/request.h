/*
 * request.h - the request state machine: connection, request head and
 * body out, response head and body in, keep-alive hand-back.
 *
 * Runs on the session's I/O thread only. It reports progress through the
 * hooks its owner (the API layer) gives: statuses, and the completion of
 * the one operation that may be pending. It knows nothing of handles,
 * threads or callbacks to the user.
 */
#ifndef AH_REQUEST_REQUEST_H
#define AH_REQUEST_REQUEST_H

#include "conn/conn.h"
#include "http1/h1.h"
#include "util/proxy.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ah__request ah__request;
typedef struct ah__cookie_jar ah__cookie_jar;
typedef struct ah__decoder ah__decoder;

typedef struct ah__request_hooks {
  /* Whether the owner wants this status at all (cheap filter). */
  int (*wants)(ah__request *r, int status);
  void (*status)(ah__request *r, int status, const void *info, size_t len);
  /* The pending operation finished with `err`; `result` is a byte count
   * for reads and writes. */
  void (*complete)(ah__request *r, int err, uintptr_t result);
  /* A redirect moved the request to r->host/r->port/r->flags: decide its
   * proxy and TLS context again (AH_OK or an AH_ERR_* with r->detail). */
  int (*prepare_hop)(ah__request *r);
} ah__request_hooks;

/* What a request is made of; strings are copied by ah__request_init. */
typedef struct ah__request_params {
  ah__io *io;
  const ah__request_hooks *hooks;
  const char *method;
  const char *target;
  const char *host;
  uint16_t port;
  unsigned flags;
  const char *user_agent;
  const char *user; /* origin credentials (Basic), or NULL */
  const char *password;
  ah__cookie_jar *jar; /* the session's, borrowed; NULL: no cookies */
  uint32_t read_buffer_size;
  uint32_t max_header_bytes;
  ah__conn_timeouts timeouts;
} ah__request_params;

enum ah__request_state {
  AH_REQ_IDLE,       /* not sent yet */
  AH_REQ_SENDING,    /* connecting, sending the head (and small body) */
  AH_REQ_EXPECTING,  /* head sent with Expect: 100-continue; waiting */
  AH_REQ_UPLOADING,  /* head sent; the caller streams the body */
  AH_REQ_AWAIT_HEAD, /* waiting for the final response head */
  AH_REQ_BODY,       /* head received; body being read */
  AH_REQ_DONE,       /* body read to its end */
  AH_REQ_FAILED,     /* an error ended the exchange */
  AH_REQ_CANCELLED
};

enum ah__request_op {
  AH_OP_NONE,
  AH_OP_SEND,
  AH_OP_WRITE,
  AH_OP_END,
  AH_OP_READ
};

struct ah__request {
  const ah__request_hooks *hooks;
  ah__io *io;
  char *method;
  char *target;
  char *host;
  uint16_t port;
  unsigned flags;
  char *user_agent;
  uint32_t read_buffer_size;
  uint32_t max_header_bytes;
  ah__conn_timeouts timeouts;
  ah__conn_tls tls;    /* ctx set by the owner before sending, when secure */
  ah__proxy proxy;     /* set by the owner before sending; host NULL: direct */
  int detecting_proxy; /* report DETECTING_PROXY when sending */
  int tls_resumed;
  const char *tls_version;

  /* Set by the owner before sending (options). */
  uint32_t max_redirects;
  int decoding;            /* ask for gzip/deflate and decode */
  uint64_t expect_size;    /* uploads this big wait for 100; 0: never */
  uint32_t expect_timeout; /* ms to wait for it */

  /* What outlives one hop of a redirect chain. */
  char *extra; /* the caller's header lines, validated */
  size_t extra_len;
  char *authorization; /* "Basic ...", sent to the first origin only */
  char *first_origin;  /* "scheme://host:port" the credentials are for */
  ah__cookie_jar *jar;
  unsigned redirects;
  char *redirect_url; /* a redirect that was not followed */
  unsigned interims;  /* 1xx heads before the final one */

  enum ah__request_state state;
  enum ah__request_op op;
  ah__conn *conn;
  int reused;    /* the current connection came from the pool */
  int retried;   /* the one transparent retry was used */
  int streaming; /* body comes through write/end */
  int got_response_bytes;
  int early_answer;        /* the server answered before the upload ended */
  size_t unreported;       /* bytes read during the upload, reported when
                              ah_end_request starts the response phase */
  int receiving_announced; /* RECEIVING_RESPONSE sent for the next read */
  int expect;              /* this request waits for 100 before its body */
  int body_withheld;       /* the answer came before the body went out */
  int sending_body;        /* the body is going out after 100 Continue */

  /* Outgoing. */
  char *head;
  size_t head_len;
  const void *send_body; /* borrowed until the send completes */
  size_t send_body_len;
  uint64_t upload_total;
  uint64_t upload_sent;
  const void *write_buf; /* borrowed until the write completes */
  size_t write_len;
  size_t *write_out;

  /* Incoming: a staging buffer [rstart, rend) of rcap bytes. */
  char *rbuf;
  size_t rcap, rstart, rend;
  int eof;
  char *resp_head; /* owned copy of the final response head */
  size_t resp_head_len;
  ah__h1_header *headers; /* header_cap entries, grown up to a cap */
  size_t header_cap;
  ah__h1_response resp;
  ah__h1_body body;
  int keep_alive;
  int framing_done; /* the body's last byte was read */

  /* Content decoding: body bytes de-framed but still compressed wait in
   * zbuf[zstart, zend) for room in the caller's buffer. */
  ah__decoder *decoder;
  char *zbuf;
  size_t zstart, zend;

  /* The pending read: into ubuf[0..ulen), ufill bytes so far. */
  char *ubuf;
  size_t ulen, ufill;
  size_t *uout;
  int no_wait;

  int error;
  char *detail; /* the last failure's text, or NULL: only failures pay */
};

int ah__request_init(ah__request *r, const ah__request_params *p);
/* Records err and a copy of its text (NULL or "" clears it; out of
 * memory leaves no text), for ah_last_error_detail. */
void ah__request_set_error(ah__request *r, int err, const char *text);
/* Frees what the request holds; it must be idle or cancelled. */
void ah__request_dispose(ah__request *r);

/* The operations; each returns AH_OK, AH_IO_PENDING (completion through
 * hooks->complete) or an AH_ERR_* (nothing pending). */
int ah__request_send(ah__request *r, const char *headers, size_t headers_len,
                     const void *body, size_t body_len);
int ah__request_send_ex(ah__request *r, const char *headers, size_t headers_len,
                        uint64_t total);
int ah__request_write(ah__request *r, const void *buf, size_t len,
                      size_t *written);
int ah__request_end(ah__request *r);
int ah__request_read(ah__request *r, void *buf, size_t len, size_t *out,
                     unsigned flags);
int ah__request_query(ah__request *r, int info, const char *name,
                      unsigned index, void *buf, size_t *len);

/* Aborts everything: a pending operation completes with
 * AH_ERR_OPERATION_CANCELLED, the connection is closed (unless it went
 * back to the pool already). No hook is called after this returns. */
void ah__request_cancel(ah__request *r);

#endif
