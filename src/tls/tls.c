/*
 * tls.c - OpenSSL over buffers. The connection layer lends each read of
 * ciphertext (ah__tls_feed) and takes ciphertext out of a memory BIO; this
 * file never blocks and never touches a socket.
 *
 * Input is read by OpenSSL straight from the lent bytes through a BIO of
 * our own (no copy into a BIO buffer that would keep its size for the
 * life of the connection); whatever OpenSSL has not consumed when the
 * lender wants its buffer back is copied, exactly that much, by
 * ah__tls_keep_input. A transfer that pauses mid-stream thus holds only
 * the ciphertext it really has not read.
 *
 * Verification: the peer chain is checked against the context's trust
 * store, the host name (or IP literal) against the certificate, TLS 1.2
 * at least. The verify callback records the first failure so the caller
 * gets a specific AH_ERR_TLS_* code and the certificate's subject, and it
 * lets through exactly the failures the caller's security flags name.
 *
 * Session cache: one SSL_SESSION per host:port, stored when the server
 * hands out a session (TLS 1.3 tickets arrive after the handshake) and
 * offered on the next connection to the same place.
 */
#include "tls/tls.h"

#include "ahttp.h"
#include "util/alloc.h"

#include "tls/openssl_table.h" /* OpenSSL, called through the table */

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_CACHED_SESSIONS 64

typedef struct cached_session {
  char *key; /* "host:port" */
  SSL_SESSION *session;
  struct cached_session *next;
} cached_session;

struct ah__tls_ctx {
  SSL_CTX *ssl_ctx;
  char *ca_file, *ca_dir, *client_cert, *client_key;
  cached_session *sessions;
  size_t session_count;
};

struct ah__tls {
  ah__tls_ctx *ctx;
  SSL *ssl;
  BIO *out; /* OpenSSL -> network */
  /* network -> OpenSSL: the ciphertext not consumed yet, lent by the
   * caller or (in_copy != NULL) our own copy of it */
  const char *in_data;
  size_t in_len;
  char *in_copy;
  char key[300];
  uint32_t security_flags;
  int verify_error; /* first X509_V_ERR_* that was not ignored */
  char subject[200];
};

/* Made once per process (after OpenSSL is loaded) and kept: the index of
 * our ex_data slot and the input BIO's method. */
static int tls_index = -1;
static BIO_METHOD *input_method;
static pthread_once_t process_setup_once = PTHREAD_ONCE_INIT;

/* ---- the input BIO: reads from the ciphertext the caller lends ---- */

static int input_read(BIO *b, char *out, int len) {
  ah__tls *t = BIO_get_data(b);
  size_t n;
  BIO_clear_retry_flags(b);
  if (len <= 0)
    return 0;
  if (t->in_len == 0) {
    BIO_set_retry_read(b); /* no data yet, not end of file */
    return -1;
  }
  n = t->in_len < (size_t)len ? t->in_len : (size_t)len;
  memcpy(out, t->in_data, n);
  t->in_data += n;
  t->in_len -= n;
  return (int)n;
}

static int input_write(BIO *b, const char *in, int len) {
  (void)b;
  (void)in;
  (void)len;
  return -1; /* OpenSSL writes to the other BIO */
}

static long input_ctrl(BIO *b, int cmd, long num, void *ptr) {
  ah__tls *t = BIO_get_data(b);
  (void)num;
  (void)ptr;
  switch (cmd) {
  case BIO_CTRL_PENDING:
    return t != NULL ? (long)t->in_len : 0;
  case BIO_CTRL_FLUSH:
    return 1;
  default:
    return 0;
  }
}

static int input_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static void setup_process(void) {
  BIO_METHOD *m =
      BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ahttp input");
  if (m != NULL && (!BIO_meth_set_read(m, input_read) ||
                    !BIO_meth_set_write(m, input_write) ||
                    !BIO_meth_set_ctrl(m, input_ctrl) ||
                    !BIO_meth_set_create(m, input_create))) {
    BIO_meth_free(m);
    m = NULL;
  }
  input_method = m;
  tls_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static BIO *new_input_bio(ah__tls *t) {
  BIO *b;
  if (input_method == NULL)
    return NULL;
  b = BIO_new(input_method);
  if (b != NULL)
    BIO_set_data(b, t);
  return b;
}

static void error_text(char *buf, size_t len, const char *what) {
  unsigned long e = ERR_peek_last_error();
  char reason[200];
  if (buf == NULL || len == 0)
    return;
  if (e != 0) {
    ERR_error_string_n(e, reason, sizeof reason);
    snprintf(buf, len, "%s: %s", what, reason);
  } else {
    snprintf(buf, len, "%s", what);
  }
  ERR_clear_error();
}

static int same(const char *a, const char *b) {
  if (a == NULL || b == NULL)
    return a == b;
  return strcmp(a, b) == 0;
}

int ah__tls_ctx_matches(const ah__tls_ctx *ctx, const ah__tls_config *cfg) {
  return same(ctx->ca_file, cfg->ca_file) && same(ctx->ca_dir, cfg->ca_dir) &&
         same(ctx->client_cert, cfg->client_cert) &&
         same(ctx->client_key, cfg->client_key);
}

/* ---- the session cache ---- */

static cached_session **find_session(ah__tls_ctx *ctx, const char *key) {
  cached_session **p;
  for (p = &ctx->sessions; *p != NULL; p = &(*p)->next)
    if (strcmp((*p)->key, key) == 0)
      return p;
  return NULL;
}

static void drop_session(cached_session **p) {
  cached_session *gone = *p;
  *p = gone->next;
  SSL_SESSION_free(gone->session);
  ah__free(gone->key);
  ah__free(gone);
}

static int on_new_session(SSL *ssl, SSL_SESSION *session) {
  ah__tls *t = SSL_get_ex_data(ssl, tls_index);
  ah__tls_ctx *ctx;
  cached_session **p, *entry;
  if (t == NULL)
    return 0;
  ctx = t->ctx;
  p = find_session(ctx, t->key);
  if (p != NULL) {
    SSL_SESSION_free((*p)->session);
    (*p)->session = session;
    return 1; /* we keep the reference */
  }
  if (ctx->session_count >= MAX_CACHED_SESSIONS) {
    drop_session(&ctx->sessions); /* the oldest */
    ctx->session_count--;
  }
  entry = ah__calloc(1, sizeof *entry);
  if (entry == NULL)
    return 0;
  entry->key = ah__strdup(t->key);
  if (entry->key == NULL) {
    ah__free(entry);
    return 0;
  }
  entry->session = session;
  entry->next = ctx->sessions;
  ctx->sessions = entry;
  ctx->session_count++;
  return 1;
}

/* ---- contexts ---- */

static int copy_config(ah__tls_ctx *ctx, const ah__tls_config *cfg) {
  ctx->ca_file = ah__strdup(cfg->ca_file);
  ctx->ca_dir = ah__strdup(cfg->ca_dir);
  ctx->client_cert = ah__strdup(cfg->client_cert);
  ctx->client_key = ah__strdup(cfg->client_key);
  return (cfg->ca_file == NULL || ctx->ca_file != NULL) &&
         (cfg->ca_dir == NULL || ctx->ca_dir != NULL) &&
         (cfg->client_cert == NULL || ctx->client_cert != NULL) &&
         (cfg->client_key == NULL || ctx->client_key != NULL);
}

static int load_trust(ah__tls_ctx *ctx, char *detail, size_t len) {
  if (ctx->ca_file != NULL || ctx->ca_dir != NULL) {
    if (SSL_CTX_load_verify_locations(ctx->ssl_ctx, ctx->ca_file,
                                      ctx->ca_dir) != 1) {
      error_text(detail, len, "cannot load the CA file or directory");
      return AH_ERR_INVALID_PARAMETER;
    }
    return AH_OK;
  }
  /* The system store; honours SSL_CERT_FILE and SSL_CERT_DIR. */
  if (SSL_CTX_set_default_verify_paths(ctx->ssl_ctx) != 1) {
    error_text(detail, len, "cannot load the system trust store");
    return AH_ERR_INVALID_PARAMETER;
  }
  return AH_OK;
}

static int load_identity(ah__tls_ctx *ctx, char *detail, size_t len) {
  if (ctx->client_cert == NULL && ctx->client_key == NULL)
    return AH_OK;
  if (ctx->client_cert == NULL || ctx->client_key == NULL) {
    snprintf(detail, len,
             "a client certificate needs both a certificate "
             "and a key file");
    return AH_ERR_TLS_CLIENT_CERT;
  }
  if (SSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, ctx->client_cert) != 1) {
    error_text(detail, len, "cannot load the client certificate");
    return AH_ERR_TLS_CLIENT_CERT;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx->ssl_ctx, ctx->client_key,
                                  SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx->ssl_ctx) != 1) {
    error_text(detail, len, "cannot use the client key");
    return AH_ERR_TLS_CLIENT_CERT;
  }
  return AH_OK;
}

void ah__tls_ctx_free(ah__tls_ctx *ctx) {
  if (ctx == NULL)
    return;
  while (ctx->sessions != NULL)
    drop_session(&ctx->sessions);
  SSL_CTX_free(ctx->ssl_ctx);
  ah__free(ctx->ca_file);
  ah__free(ctx->ca_dir);
  ah__free(ctx->client_cert);
  ah__free(ctx->client_key);
  ah__free(ctx);
}

int ah__tls_ctx_new(const ah__tls_config *cfg, ah__tls_ctx **out, char *detail,
                    size_t detail_len) {
  static const unsigned char alpn[] = "\x08http/1.1";
  ah__tls_ctx *ctx;
  int rc = ah__openssl_load(detail, detail_len);
  if (rc != AH_OK)
    return rc;
  pthread_once(&process_setup_once, setup_process);
  if (input_method == NULL || tls_index < 0) {
    error_text(detail, detail_len, "cannot set up OpenSSL for ahttp");
    return AH_ERR_NO_MEMORY;
  }
  rc = AH_ERR_NO_MEMORY;
  ctx = ah__calloc(1, sizeof *ctx);
  if (ctx == NULL)
    return AH_ERR_NO_MEMORY;
  if (!copy_config(ctx, cfg))
    goto fail;
  ctx->ssl_ctx = SSL_CTX_new(TLS_client_method());
  if (ctx->ssl_ctx == NULL) {
    error_text(detail, detail_len, "cannot create a TLS context");
    goto fail;
  }
  SSL_CTX_set_min_proto_version(ctx->ssl_ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx->ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_alpn_protos(ctx->ssl_ctx, alpn, sizeof alpn - 1);
  SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_CLIENT |
                                                   SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb(ctx->ssl_ctx, on_new_session);
  rc = load_trust(ctx, detail, detail_len);
  if (rc == AH_OK)
    rc = load_identity(ctx, detail, detail_len);
  if (rc != AH_OK)
    goto fail;
  *out = ctx;
  return AH_OK;
fail:
  ah__tls_ctx_free(ctx);
  return rc;
}

/* ---- verification ---- */

static int ignorable(int err, uint32_t flags) {
  switch (err) {
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
  case X509_V_ERR_CERT_UNTRUSTED:
    return (flags & AH_SECURITY_FLAG_IGNORE_UNKNOWN_CA) != 0;
  case X509_V_ERR_CERT_HAS_EXPIRED:
  case X509_V_ERR_CERT_NOT_YET_VALID:
    return (flags & AH_SECURITY_FLAG_IGNORE_CERT_DATE_INVALID) != 0;
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
    return (flags & AH_SECURITY_FLAG_IGNORE_CERT_CN_INVALID) != 0;
  default:
    return 0;
  }
}

static int map_verify_error(int err) {
  switch (err) {
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
  case X509_V_ERR_CERT_UNTRUSTED:
    return AH_ERR_TLS_UNKNOWN_CA;
  case X509_V_ERR_CERT_HAS_EXPIRED:
  case X509_V_ERR_CERT_NOT_YET_VALID:
    return AH_ERR_TLS_CERT_DATE_INVALID;
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
    return AH_ERR_TLS_CERT_NAME_INVALID;
  default:
    return AH_ERR_TLS_CERT_INVALID;
  }
}

static int on_verify(int ok, X509_STORE_CTX *store) {
  SSL *ssl =
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
  ah__tls *t = ssl != NULL ? SSL_get_ex_data(ssl, tls_index) : NULL;
  int err = X509_STORE_CTX_get_error(store);
  X509 *cert;
  if (ok || t == NULL)
    return ok;
  if (ignorable(err, t->security_flags))
    return 1;
  if (t->verify_error == 0) {
    t->verify_error = err;
    cert = X509_STORE_CTX_get_current_cert(store);
    if (cert != NULL)
      X509_NAME_oneline(X509_get_subject_name(cert), t->subject,
                        (int)sizeof t->subject);
  }
  return 0;
}

/* ---- connections ---- */

static int is_ip_literal(const char *host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host, buf) == 1 ||
         inet_pton(AF_INET6, host, buf) == 1;
}

int ah__tls_new(ah__tls_ctx *ctx, const char *host, uint16_t port,
                uint32_t security_flags, ah__tls **out) {
  ah__tls *t;
  cached_session **cached;
  char name[256];
  size_t len = strlen(host);
  X509_VERIFY_PARAM *param;
  BIO *in;
  /* An IPv6 literal may come in brackets; the checks want it bare. */
  if (len >= 2 && host[0] == '[' && host[len - 1] == ']' &&
      len - 2 < sizeof name) {
    memcpy(name, host + 1, len - 2);
    name[len - 2] = '\0';
  } else {
    snprintf(name, sizeof name, "%s", host);
  }
  t = ah__calloc(1, sizeof *t);
  if (t == NULL)
    return AH_ERR_NO_MEMORY;
  t->ctx = ctx;
  t->security_flags = security_flags;
  snprintf(t->key, sizeof t->key, "%s:%u", name, (unsigned)port);
  t->ssl = SSL_new(ctx->ssl_ctx);
  in = new_input_bio(t);
  t->out = BIO_new(BIO_s_mem());
  if (t->ssl == NULL || in == NULL || t->out == NULL) {
    BIO_free(in);
    BIO_free(t->out);
    SSL_free(t->ssl);
    ah__free(t);
    return AH_ERR_NO_MEMORY;
  }
  SSL_set_bio(t->ssl, in, t->out);
  SSL_set_ex_data(t->ssl, tls_index, t);
  SSL_set_connect_state(t->ssl);
  SSL_set_verify(t->ssl, SSL_VERIFY_PEER, on_verify);
  param = SSL_get0_param(t->ssl);
  if (is_ip_literal(name)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, name);
  } else {
    SSL_set_tlsext_host_name(t->ssl, name);
    X509_VERIFY_PARAM_set_hostflags(param,
                                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, name, 0);
  }
  cached = find_session(ctx, t->key);
  if (cached != NULL)
    SSL_set_session(t->ssl, (*cached)->session);
  *out = t;
  return AH_OK;
}

void ah__tls_free(ah__tls *t) {
  if (t == NULL)
    return;
  SSL_free(t->ssl); /* frees both BIOs */
  ah__free(t->in_copy);
  ah__free(t);
}

int ah__tls_feed(ah__tls *t, const char *data, size_t len) {
  char *joined;
  if (t->in_len == 0) {
    ah__free(t->in_copy);
    t->in_copy = NULL;
    t->in_data = data;
    t->in_len = len;
    return AH_OK;
  }
  /* Bytes kept from an earlier read come first. */
  if (len > SIZE_MAX - t->in_len)
    return AH_ERR_NO_MEMORY;
  joined = ah__malloc(t->in_len + len);
  if (joined == NULL)
    return AH_ERR_NO_MEMORY;
  memcpy(joined, t->in_data, t->in_len);
  memcpy(joined + t->in_len, data, len);
  ah__free(t->in_copy);
  t->in_copy = joined;
  t->in_data = joined;
  t->in_len += len;
  return AH_OK;
}

int ah__tls_keep_input(ah__tls *t) {
  if (t->in_len == 0) {
    ah__free(t->in_copy);
    t->in_copy = NULL;
    t->in_data = NULL;
    /* Between records nothing is buffered: give the record buffers back
     * (SSL_MODE_RELEASE_BUFFERS misses the write buffer that reading a
     * post-handshake message sets up). Plaintext still waiting to be read
     * keeps them. */
    if (SSL_pending(t->ssl) == 0 && !SSL_in_init(t->ssl))
      SSL_free_buffers(t->ssl);
    return AH_OK;
  }
  if (t->in_copy == NULL) {
    char *copy = ah__malloc(t->in_len);
    if (copy == NULL)
      return AH_ERR_NO_MEMORY;
    memcpy(copy, t->in_data, t->in_len);
    t->in_copy = copy;
    t->in_data = copy;
  }
  return AH_OK;
}

size_t ah__tls_out_pending(ah__tls *t) { return BIO_ctrl_pending(t->out); }

size_t ah__tls_out_take(ah__tls *t, char *buf, size_t len) {
  int n = BIO_read(t->out, buf, len > INT32_MAX ? INT32_MAX : (int)len);
  return n > 0 ? (size_t)n : 0;
}

static int handshake_error(ah__tls *t, char *detail, size_t len) {
  unsigned long e = ERR_peek_last_error();
  int reason = ERR_GET_REASON(e);
  if (t->verify_error != 0) {
    snprintf(detail, len, "certificate verification failed: %s (%s)",
             X509_verify_cert_error_string(t->verify_error),
             t->subject[0] ? t->subject : "no subject");
    ERR_clear_error();
    return map_verify_error(t->verify_error);
  }
  switch (reason) {
  case SSL_R_UNSUPPORTED_PROTOCOL:
  case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
  case SSL_R_NO_PROTOCOLS_AVAILABLE:
  case SSL_R_WRONG_SSL_VERSION:
  case SSL_R_UNKNOWN_PROTOCOL:
    error_text(detail, len, "TLS version not allowed");
    return AH_ERR_TLS_PROTOCOL_VERSION;
  default:
    error_text(detail, len, "TLS handshake failed");
    return AH_ERR_TLS_HANDSHAKE;
  }
}

int ah__tls_handshake(ah__tls *t, char *detail, size_t len) {
  int rc = SSL_do_handshake(t->ssl);
  if (rc == 1)
    return AH_OK;
  switch (SSL_get_error(t->ssl, rc)) {
  case SSL_ERROR_WANT_READ:
  case SSL_ERROR_WANT_WRITE:
    return AH_IO_PENDING;
  default:
    return handshake_error(t, detail, len);
  }
}

int ah__tls_read(ah__tls *t, char *buf, size_t len, size_t *got, char *detail,
                 size_t detail_len) {
  int n = SSL_read(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
  if (n > 0) {
    *got = (size_t)n;
    return AH_OK;
  }
  *got = 0;
  switch (SSL_get_error(t->ssl, n)) {
  case SSL_ERROR_WANT_READ:
  case SSL_ERROR_WANT_WRITE:
    return AH_IO_PENDING;
  case SSL_ERROR_ZERO_RETURN:
    return AH_TLS_CLOSED;
  default:
    error_text(detail, detail_len, "TLS read failed");
    return AH_ERR_TLS_HANDSHAKE;
  }
}

int ah__tls_write(ah__tls *t, const void *buf, size_t len, char *detail,
                  size_t detail_len) {
  const char *p = buf;
  while (len > 0) {
    int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
    int n = SSL_write(t->ssl, p, chunk);
    if (n <= 0) {
      error_text(detail, detail_len, "TLS write failed");
      return AH_ERR_TLS_HANDSHAKE;
    }
    p += n;
    len -= (size_t)n;
  }
  return AH_OK;
}

int ah__tls_has_input(ah__tls *t) {
  return SSL_pending(t->ssl) > 0 || t->in_len > 0;
}

void ah__tls_close_notify(ah__tls *t) {
  if (!SSL_in_init(t->ssl))
    SSL_shutdown(t->ssl);
  ERR_clear_error();
}

int ah__tls_peer_closed(ah__tls *t) {
  return (SSL_get_shutdown(t->ssl) & SSL_RECEIVED_SHUTDOWN) != 0;
}

int ah__tls_resumed(ah__tls *t) { return SSL_session_reused(t->ssl) == 1; }

const char *ah__tls_version(ah__tls *t) { return SSL_get_version(t->ssl); }

void ah__tls_describe(ah__tls *t, char *buf, size_t len) {
  snprintf(buf, len, "%s %s%s", SSL_get_version(t->ssl),
           SSL_get_cipher_name(t->ssl), ah__tls_resumed(t) ? " (resumed)" : "");
}
