/*
 * openssl_load.c - opens libcrypto and libssl on the first TLS use and
 * fills the table that src/tls calls through (see openssl_table.h). The
 * libraries are the ones the headers were built against (same major
 * version), and they are never closed: OpenSSL keeps per-process state.
 */
#include "tls/openssl_table.h"

#include "ahttp.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#if OPENSSL_VERSION_MAJOR >= 3
#define AH_SSL_LIBRARY "libssl.so.3"
#define AH_CRYPTO_LIBRARY "libcrypto.so.3"
#else
#define AH_SSL_LIBRARY "libssl.so.1.1"
#define AH_CRYPTO_LIBRARY "libcrypto.so.1.1"
#endif

ah__openssl_table ah__openssl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_result = AH_ERR_SYSTEM;
static char load_error[256];

static void load(void) {
  void *libs[2];
  void *sym;
  libs[0] = dlopen(AH_CRYPTO_LIBRARY, RTLD_NOW | RTLD_LOCAL);
  libs[1] =
      libs[0] != NULL ? dlopen(AH_SSL_LIBRARY, RTLD_NOW | RTLD_LOCAL) : NULL;
  if (libs[1] == NULL) {
    const char *why = dlerror();
    snprintf(load_error, sizeof load_error, "cannot load OpenSSL: %s",
             why != NULL ? why : "unknown reason");
    return;
  }
  /* POSIX: a function pointer is stored through a void * of equal size. */
#define AH_OPENSSL_RESOLVE(lib, name)                                          \
  sym = dlsym(strcmp(#lib, "ssl") == 0 ? libs[1] : libs[0], #name);            \
  if (sym == NULL) {                                                           \
    snprintf(                                                                  \
        load_error, sizeof load_error, "cannot load OpenSSL: %s has no %s",    \
        strcmp(#lib, "ssl") == 0 ? AH_SSL_LIBRARY : AH_CRYPTO_LIBRARY, #name); \
    return;                                                                    \
  }                                                                            \
  memcpy(&ah__openssl.p_##name, &sym, sizeof sym);
  AH_OPENSSL_FUNCTIONS(AH_OPENSSL_RESOLVE)
#undef AH_OPENSSL_RESOLVE
  load_result = AH_OK;
}

int ah__openssl_load(char *detail, size_t detail_len) {
  pthread_once(&load_once, load);
  if (load_result != AH_OK && detail != NULL && detail_len > 0)
    snprintf(detail, detail_len, "%s", load_error);
  return load_result;
}
