/*
 * openssl_table.h - OpenSSL, loaded on first use. A plain-HTTP program
 * should not pay for mapping and relocating libssl and libcrypto at
 * start-up (most of a fresh process's time: bench/RESULTS.md), so the
 * library does not link them: ah__openssl_load opens them when the first
 * TLS context is made and fills a table with the functions src/tls calls.
 *
 * Include this after the OpenSSL headers and only in src/tls: it turns
 * every listed name into a call through the table (OpenSSL's own macros,
 * such as SSL_CTX_set_mode, expand to listed functions and so go through
 * it too). A function used but not listed fails the link, as the library
 * has no OpenSSL to link against.
 */
#ifndef AH_TLS_OPENSSL_TABLE_H
#define AH_TLS_OPENSSL_TABLE_H

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stddef.h>

/* X(library, function): every OpenSSL function src/tls calls. */
#define AH_OPENSSL_FUNCTIONS(X)                                                \
  X(crypto, BIO_clear_flags)                                                   \
  X(crypto, BIO_ctrl_pending)                                                  \
  X(crypto, BIO_free)                                                          \
  X(crypto, BIO_get_data)                                                      \
  X(crypto, BIO_get_new_index)                                                 \
  X(crypto, BIO_meth_free)                                                     \
  X(crypto, BIO_meth_new)                                                      \
  X(crypto, BIO_meth_set_create)                                               \
  X(crypto, BIO_meth_set_ctrl)                                                 \
  X(crypto, BIO_meth_set_read)                                                 \
  X(crypto, BIO_meth_set_write)                                                \
  X(crypto, BIO_new)                                                           \
  X(crypto, BIO_read)                                                          \
  X(crypto, BIO_s_mem)                                                         \
  X(crypto, BIO_set_data)                                                      \
  X(crypto, BIO_set_flags)                                                     \
  X(crypto, BIO_set_init)                                                      \
  X(crypto, CRYPTO_get_ex_new_index)                                           \
  X(crypto, ERR_clear_error)                                                   \
  X(crypto, ERR_error_string_n)                                                \
  X(crypto, ERR_peek_last_error)                                               \
  X(crypto, X509_NAME_oneline)                                                 \
  X(crypto, X509_STORE_CTX_get_current_cert)                                   \
  X(crypto, X509_STORE_CTX_get_error)                                          \
  X(crypto, X509_STORE_CTX_get_ex_data)                                        \
  X(crypto, X509_VERIFY_PARAM_set1_host)                                       \
  X(crypto, X509_VERIFY_PARAM_set1_ip_asc)                                     \
  X(crypto, X509_VERIFY_PARAM_set_hostflags)                                   \
  X(crypto, X509_get_subject_name)                                             \
  X(crypto, X509_verify_cert_error_string)                                     \
  X(ssl, SSL_CIPHER_get_name)                                                  \
  X(ssl, SSL_CTX_check_private_key)                                            \
  X(ssl, SSL_CTX_ctrl)                                                         \
  X(ssl, SSL_CTX_free)                                                         \
  X(ssl, SSL_CTX_load_verify_locations)                                        \
  X(ssl, SSL_CTX_new)                                                          \
  X(ssl, SSL_CTX_sess_set_new_cb)                                              \
  X(ssl, SSL_CTX_set_alpn_protos)                                              \
  X(ssl, SSL_CTX_set_default_verify_paths)                                     \
  X(ssl, SSL_CTX_use_PrivateKey_file)                                          \
  X(ssl, SSL_CTX_use_certificate_chain_file)                                   \
  X(ssl, SSL_SESSION_free)                                                     \
  X(ssl, SSL_ctrl)                                                             \
  X(ssl, SSL_do_handshake)                                                     \
  X(ssl, SSL_free)                                                             \
  X(ssl, SSL_free_buffers)                                                     \
  X(ssl, SSL_get0_param)                                                       \
  X(ssl, SSL_get_current_cipher)                                               \
  X(ssl, SSL_get_error)                                                        \
  X(ssl, SSL_get_ex_data)                                                      \
  X(ssl, SSL_get_ex_data_X509_STORE_CTX_idx)                                   \
  X(ssl, SSL_get_shutdown)                                                     \
  X(ssl, SSL_get_version)                                                      \
  X(ssl, SSL_in_init)                                                          \
  X(ssl, SSL_new)                                                              \
  X(ssl, SSL_pending)                                                          \
  X(ssl, SSL_read)                                                             \
  X(ssl, SSL_session_reused)                                                   \
  X(ssl, SSL_set_bio)                                                          \
  X(ssl, SSL_set_connect_state)                                                \
  X(ssl, SSL_set_ex_data)                                                      \
  X(ssl, SSL_set_session)                                                      \
  X(ssl, SSL_set_verify)                                                       \
  X(ssl, SSL_shutdown)                                                         \
  X(ssl, SSL_write)                                                            \
  X(ssl, TLS_client_method)

typedef struct ah__openssl_table {
#define AH_OPENSSL_FIELD(lib, name) __typeof__(&name) p_##name;
  AH_OPENSSL_FUNCTIONS(AH_OPENSSL_FIELD)
#undef AH_OPENSSL_FIELD
} ah__openssl_table;

extern ah__openssl_table ah__openssl;

/*
 * Opens libcrypto and libssl (once per process; they stay loaded) and
 * fills ah__openssl. AH_OK, or AH_ERR_SYSTEM with the loader's reason in
 * detail when a library or a function is missing. Thread-safe.
 */
int ah__openssl_load(char *detail, size_t detail_len);

/* From here on, each name is a call through the table. */
#define BIO_clear_flags (ah__openssl.p_BIO_clear_flags)
#define BIO_ctrl_pending (ah__openssl.p_BIO_ctrl_pending)
#define BIO_free (ah__openssl.p_BIO_free)
#define BIO_get_data (ah__openssl.p_BIO_get_data)
#define BIO_get_new_index (ah__openssl.p_BIO_get_new_index)
#define BIO_meth_free (ah__openssl.p_BIO_meth_free)
#define BIO_meth_new (ah__openssl.p_BIO_meth_new)
#define BIO_meth_set_create (ah__openssl.p_BIO_meth_set_create)
#define BIO_meth_set_ctrl (ah__openssl.p_BIO_meth_set_ctrl)
#define BIO_meth_set_read (ah__openssl.p_BIO_meth_set_read)
#define BIO_meth_set_write (ah__openssl.p_BIO_meth_set_write)
#define BIO_new (ah__openssl.p_BIO_new)
#define BIO_read (ah__openssl.p_BIO_read)
#define BIO_s_mem (ah__openssl.p_BIO_s_mem)
#define BIO_set_data (ah__openssl.p_BIO_set_data)
#define BIO_set_flags (ah__openssl.p_BIO_set_flags)
#define BIO_set_init (ah__openssl.p_BIO_set_init)
#define CRYPTO_get_ex_new_index (ah__openssl.p_CRYPTO_get_ex_new_index)
#define ERR_clear_error (ah__openssl.p_ERR_clear_error)
#define ERR_error_string_n (ah__openssl.p_ERR_error_string_n)
#define ERR_peek_last_error (ah__openssl.p_ERR_peek_last_error)
#define X509_NAME_oneline (ah__openssl.p_X509_NAME_oneline)
#define X509_STORE_CTX_get_current_cert                                        \
  (ah__openssl.p_X509_STORE_CTX_get_current_cert)
#define X509_STORE_CTX_get_error (ah__openssl.p_X509_STORE_CTX_get_error)
#define X509_STORE_CTX_get_ex_data (ah__openssl.p_X509_STORE_CTX_get_ex_data)
#define X509_VERIFY_PARAM_set1_host (ah__openssl.p_X509_VERIFY_PARAM_set1_host)
#define X509_VERIFY_PARAM_set1_ip_asc                                          \
  (ah__openssl.p_X509_VERIFY_PARAM_set1_ip_asc)
#define X509_VERIFY_PARAM_set_hostflags                                        \
  (ah__openssl.p_X509_VERIFY_PARAM_set_hostflags)
#define X509_get_subject_name (ah__openssl.p_X509_get_subject_name)
#define X509_verify_cert_error_string                                          \
  (ah__openssl.p_X509_verify_cert_error_string)
#define SSL_CIPHER_get_name (ah__openssl.p_SSL_CIPHER_get_name)
#define SSL_CTX_check_private_key (ah__openssl.p_SSL_CTX_check_private_key)
#define SSL_CTX_ctrl (ah__openssl.p_SSL_CTX_ctrl)
#define SSL_CTX_free (ah__openssl.p_SSL_CTX_free)
#define SSL_CTX_load_verify_locations                                          \
  (ah__openssl.p_SSL_CTX_load_verify_locations)
#define SSL_CTX_new (ah__openssl.p_SSL_CTX_new)
#define SSL_CTX_sess_set_new_cb (ah__openssl.p_SSL_CTX_sess_set_new_cb)
#define SSL_CTX_set_alpn_protos (ah__openssl.p_SSL_CTX_set_alpn_protos)
#define SSL_CTX_set_default_verify_paths                                       \
  (ah__openssl.p_SSL_CTX_set_default_verify_paths)
#define SSL_CTX_use_PrivateKey_file (ah__openssl.p_SSL_CTX_use_PrivateKey_file)
#define SSL_CTX_use_certificate_chain_file                                     \
  (ah__openssl.p_SSL_CTX_use_certificate_chain_file)
#define SSL_SESSION_free (ah__openssl.p_SSL_SESSION_free)
#define SSL_ctrl (ah__openssl.p_SSL_ctrl)
#define SSL_do_handshake (ah__openssl.p_SSL_do_handshake)
#define SSL_free (ah__openssl.p_SSL_free)
#define SSL_free_buffers (ah__openssl.p_SSL_free_buffers)
#define SSL_get0_param (ah__openssl.p_SSL_get0_param)
#define SSL_get_current_cipher (ah__openssl.p_SSL_get_current_cipher)
#define SSL_get_error (ah__openssl.p_SSL_get_error)
#define SSL_get_ex_data (ah__openssl.p_SSL_get_ex_data)
#define SSL_get_ex_data_X509_STORE_CTX_idx                                     \
  (ah__openssl.p_SSL_get_ex_data_X509_STORE_CTX_idx)
#define SSL_get_shutdown (ah__openssl.p_SSL_get_shutdown)
#define SSL_get_version (ah__openssl.p_SSL_get_version)
#define SSL_in_init (ah__openssl.p_SSL_in_init)
#define SSL_new (ah__openssl.p_SSL_new)
#define SSL_pending (ah__openssl.p_SSL_pending)
#define SSL_read (ah__openssl.p_SSL_read)
#define SSL_session_reused (ah__openssl.p_SSL_session_reused)
#define SSL_set_bio (ah__openssl.p_SSL_set_bio)
#define SSL_set_connect_state (ah__openssl.p_SSL_set_connect_state)
#define SSL_set_ex_data (ah__openssl.p_SSL_set_ex_data)
#define SSL_set_session (ah__openssl.p_SSL_set_session)
#define SSL_set_verify (ah__openssl.p_SSL_set_verify)
#define SSL_shutdown (ah__openssl.p_SSL_shutdown)
#define SSL_write (ah__openssl.p_SSL_write)
#define TLS_client_method (ah__openssl.p_TLS_client_method)

#endif
