/*
 * tls.h - TLS over memory buffers: the connection layer feeds ciphertext
 * in, takes ciphertext out, and moves plaintext through. No sockets and
 * no blocking here; this header exposes no OpenSSL type, so only src/tls
 * includes OpenSSL.
 */
#ifndef AH_TLS_TLS_H
#define AH_TLS_TLS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ah__tls_ctx ah__tls_ctx; /* trust, client identity, cache */
typedef struct ah__tls ah__tls;         /* one connection */

/* What a context is made of; NULL fields mean "not set". */
typedef struct ah__tls_config {
  const char *ca_file;
  const char *ca_dir;
  const char *client_cert;
  const char *client_key;
} ah__tls_config;

/* ah__tls_read's "the peer sent close_notify". */
#define AH_TLS_CLOSED 2

/*
 * A context with the system trust store (or cfg's CA file/dir instead),
 * TLS 1.2 minimum, ALPN http/1.1 and a client session cache. Errors:
 * AH_ERR_INVALID_PARAMETER (CA file/dir unusable), AH_ERR_TLS_CLIENT_CERT,
 * AH_ERR_NO_MEMORY; the reason goes to detail.
 */
int ah__tls_ctx_new(const ah__tls_config *cfg, ah__tls_ctx **out, char *detail,
                    size_t detail_len);
void ah__tls_ctx_free(ah__tls_ctx *ctx);
/* Whether ctx was made from a config equal to cfg. */
int ah__tls_ctx_matches(const ah__tls_ctx *ctx, const ah__tls_config *cfg);

/* A client connection to host:port (SNI and name checks for host;
 * security_flags are AH_SECURITY_FLAG_* failures to accept). */
int ah__tls_new(ah__tls_ctx *ctx, const char *host, uint16_t port,
                uint32_t security_flags, ah__tls **out);
void ah__tls_free(ah__tls *t);

/*
 * Ciphertext from the network, lent: OpenSSL reads it in place until
 * ah__tls_keep_input, which the caller must call before it reuses or
 * frees `data` (and after every feed). AH_ERR_NO_MEMORY when earlier
 * bytes were kept and cannot be joined with these.
 */
int ah__tls_feed(ah__tls *t, const char *data, size_t len);
/* Copies what OpenSSL has not consumed of the lent ciphertext (exactly
 * that much), and gives idle record buffers back. AH_ERR_NO_MEMORY: the
 * rest could not be kept, and the connection cannot go on. */
int ah__tls_keep_input(ah__tls *t);
/* Ciphertext to send: bytes waiting, and taking them out. */
size_t ah__tls_out_pending(ah__tls *t);
size_t ah__tls_out_take(ah__tls *t, char *buf, size_t len);

/* Drives the handshake: AH_OK when done, AH_IO_PENDING when it needs
 * more input (send the pending output first), else an AH_ERR_TLS_*. */
int ah__tls_handshake(ah__tls *t, char *detail, size_t detail_len);

/* Decrypts into buf: AH_OK with *got > 0, AH_IO_PENDING (needs input),
 * AH_TLS_CLOSED (close_notify), or an error. */
int ah__tls_read(ah__tls *t, char *buf, size_t len, size_t *got, char *detail,
                 size_t detail_len);
/* Encrypts all of buf into the pending output. */
int ah__tls_write(ah__tls *t, const void *buf, size_t len, char *detail,
                  size_t detail_len);
/* Whether input is buffered that ah__tls_read may turn into plaintext. */
int ah__tls_has_input(ah__tls *t);
/* Queues our close_notify. A session is resumable later only if its
 * connection was shut down this way (OpenSSL drops it otherwise). */
void ah__tls_close_notify(ah__tls *t);
/* Whether the peer's close_notify has arrived. */
int ah__tls_peer_closed(ah__tls *t);

int ah__tls_resumed(ah__tls *t);
const char *ah__tls_version(ah__tls *t);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384[ (resumed)]" */
void ah__tls_describe(ah__tls *t, char *buf, size_t len);

#endif
