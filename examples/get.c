/*
 * get.c - the smallest asynchronous GET with ahttp. The exchange is driven
 * from REQUEST_COMPLETE, as in the WinInet sample; main waits for the
 * request's HANDLE_CLOSING, then closing the session waits for the rest.
 *   usage: get HOST PORT PATH > body
 */
#include <ahttp.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct job {
  ah_handle req;
  char buf[65536];
  size_t got;
  int reading, failed, closed;
  pthread_mutex_t mu;
  pthread_cond_t cond;
} job;

/* Runs the steps that finish at once; returns when one is pending. */
static void pump(job *j, int rc) {
  for (;;) {
    if (rc == AH_IO_PENDING)
      return; /* resumes in on_status */
    if (rc != AH_OK) {
      fprintf(stderr, "get: %s\n", ah_strerror(rc));
      j->failed = 1;
      break;
    }
    if (j->reading && j->got == 0)
      break; /* 0 bytes: the body is complete */
    if (j->reading)
      fwrite(j->buf, 1, j->got, stdout);
    j->reading = 1;
    rc = ah_read(j->req, j->buf, sizeof j->buf, &j->got);
  }
  ah_close_handle(j->req);
}

static void on_status(ah_handle h, int status, const void *info, size_t len,
                      void *context) {
  job *j = context;
  (void)len;
  if (j == NULL || h != j->req)
    return; /* the connect handle's statuses */
  if (status == AH_STATUS_REQUEST_COMPLETE) {
    pump(j, ((const ah_async_result *)info)->error);
  } else if (status == AH_STATUS_HANDLE_CLOSING) {
    pthread_mutex_lock(&j->mu);
    j->closed = 1;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->mu);
  }
}

int main(int argc, char **argv) {
  static job j = {.mu = PTHREAD_MUTEX_INITIALIZER,
                  .cond = PTHREAD_COND_INITIALIZER};
  ah_handle session, connect;
  if (argc != 4) {
    fprintf(stderr, "usage: get HOST PORT PATH\n");
    return 2;
  }
  if (ah_open(NULL, AH_OPEN_TYPE_DIRECT, NULL, NULL, AH_FLAG_ASYNC, &session) !=
      AH_OK)
    return 1;
  ah_set_status_callback(session, on_status);
  if (ah_connect(session, argv[1], (uint16_t)atoi(argv[2]), NULL, NULL, 0, NULL,
                 &connect) != AH_OK ||
      ah_open_request(connect, "GET", argv[3], 0, &j, &j.req) != AH_OK) {
    fprintf(stderr, "get: bad host or path\n");
    ah_close_handle(session);
    return 1;
  }
  pump(&j, ah_send_request(j.req, NULL, 0, NULL, 0));
  pthread_mutex_lock(&j.mu);
  while (!j.closed)
    pthread_cond_wait(&j.cond, &j.mu);
  pthread_mutex_unlock(&j.mu);
  ah_close_handle(session); /* closes the connect handle, joins the thread */
  return j.failed;
}
