/*
 * options.c - ah_set_option / ah_get_option values and their inheritance:
 * a handle copies its parent's options when it is created; setting an
 * option later affects that handle (and handles created from it after).
 */
#include "api/internal.h"
#include "util/alloc.h"
#include "util/proxy.h"

#include <stddef.h>
#include <string.h>

#define DEFAULT_USER_AGENT "ahttp/" AH_VERSION_STRING

void ah__options_defaults(ah__options *o) {
  memset(o, 0, sizeof *o);
  o->connect_timeout = 60000;
  o->send_timeout = 30000;
  o->receive_timeout = 30000;
  o->read_buffer_size = 65536;
  o->max_header_bytes = 65536;
  o->notify_mask = AH_NOTIFY_ALL;
  o->max_redirects = 10;
  o->expect_continue_size = 1u << 20;
  o->expect_continue_timeout = 1000;
  o->user_agent = ah__strdup(DEFAULT_USER_AGENT);
}

/* The string options, so copying and freeing treat them alike. */
static const size_t string_offsets[] = {
    offsetof(ah__options, user_agent),  offsetof(ah__options, ca_file),
    offsetof(ah__options, ca_dir),      offsetof(ah__options, client_cert),
    offsetof(ah__options, client_key),  offsetof(ah__options, proxy),
    offsetof(ah__options, proxy_bypass)};
#define STRING_COUNT (sizeof string_offsets / sizeof string_offsets[0])

static char **string_at(ah__options *o, size_t i) {
  return (char **)(void *)((char *)o + string_offsets[i]);
}

int ah__options_copy(ah__options *dst, const ah__options *src) {
  size_t i;
  *dst = *src;
  for (i = 0; i < STRING_COUNT; i++)
    *string_at(dst, i) = NULL;
  for (i = 0; i < STRING_COUNT; i++) {
    const char *from = *string_at((ah__options *)(uintptr_t)src, i);
    if (from == NULL)
      continue;
    *string_at(dst, i) = ah__strdup(from);
    if (*string_at(dst, i) == NULL) {
      ah__options_free(dst);
      return AH_ERR_NO_MEMORY;
    }
  }
  return AH_OK;
}

void ah__options_free(ah__options *o) {
  size_t i;
  for (i = 0; i < STRING_COUNT; i++) {
    ah__free(*string_at(o, i));
    *string_at(o, i) = NULL;
  }
}

static int get_u32(const void *value, size_t size, uint32_t *out) {
  if (value == NULL || size != sizeof(uint32_t))
    return AH_ERR_INVALID_PARAMETER;
  memcpy(out, value, sizeof *out);
  return AH_OK;
}

/* Pushes changed limits into a request that already exists. */
static void apply_to_request(ah__object *obj) {
  ah__request *r;
  if (obj->type != AH_HANDLE_TYPE_REQUEST)
    return;
  r = &((ah__request_object *)obj)->req;
  r->timeouts.connect_ms = obj->opts.connect_timeout;
  r->timeouts.send_ms = obj->opts.send_timeout;
  r->timeouts.receive_ms = obj->opts.receive_timeout;
  r->max_header_bytes = obj->opts.max_header_bytes;
  if (r->rbuf == NULL)
    r->read_buffer_size = obj->opts.read_buffer_size;
  if (r->conn != NULL)
    ah__conn_set_timeouts(r->conn, &r->timeouts);
}

static int set_user_agent(ah__object *obj, const void *value, size_t size) {
  char *copy;
  if (value == NULL || memchr(value, '\0', size) != NULL ||
      memchr(value, '\r', size) != NULL || memchr(value, '\n', size) != NULL)
    return AH_ERR_INVALID_PARAMETER;
  copy = ah__strndup(value, size);
  if (copy == NULL)
    return AH_ERR_NO_MEMORY;
  ah__free(obj->opts.user_agent);
  obj->opts.user_agent = copy;
  if (obj->type == AH_HANDLE_TYPE_REQUEST) {
    ah__request *r = &((ah__request_object *)obj)->req;
    char *mine = ah__strdup(copy);
    if (mine == NULL)
      return AH_ERR_NO_MEMORY;
    ah__free(r->user_agent);
    r->user_agent = mine;
  }
  return AH_OK;
}

/* A file path option: copied; an empty value clears it. */
static int set_path(char **slot, const void *value, size_t size) {
  char *copy = NULL;
  if (size > 0) {
    if (value == NULL || memchr(value, '\0', size) != NULL)
      return AH_ERR_INVALID_PARAMETER;
    copy = ah__strndup(value, size);
    if (copy == NULL)
      return AH_ERR_NO_MEMORY;
  }
  ah__free(*slot);
  *slot = copy;
  return AH_OK;
}

static int get_text(const char *text, void *value, size_t *size) {
  size_t len = text != NULL ? strlen(text) : 0;
  if (value == NULL || *size < len + 1) {
    *size = len + 1;
    return AH_ERR_INSUFFICIENT_BUFFER;
  }
  if (len > 0)
    memcpy(value, text, len);
  ((char *)value)[len] = '\0';
  *size = len;
  return AH_OK;
}

/* A text option where "" is a value of its own (not "unset"). */
static int set_text(char **slot, const void *value, size_t size) {
  char *copy;
  if ((value == NULL && size > 0) ||
      (size > 0 && memchr(value, '\0', size) != NULL))
    return AH_ERR_INVALID_PARAMETER;
  copy = ah__strndup(size > 0 ? value : "", size);
  if (copy == NULL)
    return AH_ERR_NO_MEMORY;
  ah__free(*slot);
  *slot = copy;
  return AH_OK;
}

/* A proxy override; "" means direct. Checked now so mistakes show here. */
static int set_proxy(ah__object *obj, const void *value, size_t size) {
  ah__proxy parsed;
  char *copy = NULL;
  int rc = set_text(&copy, value, size);
  if (rc != AH_OK)
    return rc;
  if (copy[0] != '\0') {
    rc = ah__proxy_parse(copy, &parsed);
    if (rc != AH_OK) {
      ah__free(copy);
      return rc;
    }
    ah__proxy_free(&parsed);
  }
  ah__free(obj->opts.proxy);
  obj->opts.proxy = copy;
  return AH_OK;
}

int ah__set_option(ah__object *obj, int option, const void *value,
                   size_t size) {
  uint32_t v32 = 0;
  int rc;
  switch (option) {
  case AH_OPTION_CONNECT_TIMEOUT:
  case AH_OPTION_SEND_TIMEOUT:
  case AH_OPTION_RECEIVE_TIMEOUT:
  case AH_OPTION_READ_BUFFER_SIZE:
  case AH_OPTION_MAX_HEADER_BYTES:
    rc = get_u32(value, size, &v32);
    if (rc != AH_OK)
      return rc;
    if (option == AH_OPTION_CONNECT_TIMEOUT)
      obj->opts.connect_timeout = v32;
    else if (option == AH_OPTION_SEND_TIMEOUT)
      obj->opts.send_timeout = v32;
    else if (option == AH_OPTION_RECEIVE_TIMEOUT)
      obj->opts.receive_timeout = v32;
    else if (option == AH_OPTION_READ_BUFFER_SIZE) {
      if (v32 < 1024 || v32 > (64u << 20))
        return AH_ERR_INVALID_PARAMETER;
      obj->opts.read_buffer_size = v32;
    } else {
      if (v32 < 256 || v32 > (64u << 20))
        return AH_ERR_INVALID_PARAMETER;
      obj->opts.max_header_bytes = v32;
    }
    apply_to_request(obj);
    return AH_OK;
  case AH_OPTION_USER_AGENT:
    return set_user_agent(obj, value, size);
  case AH_OPTION_TLS_CA_FILE:
    return set_path(&obj->opts.ca_file, value, size);
  case AH_OPTION_TLS_CA_DIR:
    return set_path(&obj->opts.ca_dir, value, size);
  case AH_OPTION_TLS_CLIENT_CERT:
    return set_path(&obj->opts.client_cert, value, size);
  case AH_OPTION_TLS_CLIENT_KEY:
    return set_path(&obj->opts.client_key, value, size);
  case AH_OPTION_SECURITY_FLAGS: {
    const uint32_t known = AH_SECURITY_FLAG_IGNORE_UNKNOWN_CA |
                           AH_SECURITY_FLAG_IGNORE_CERT_DATE_INVALID |
                           AH_SECURITY_FLAG_IGNORE_CERT_CN_INVALID;
    rc = get_u32(value, size, &v32);
    if (rc != AH_OK)
      return rc;
    if ((v32 & ~known) != 0)
      return AH_ERR_INVALID_PARAMETER;
    obj->opts.security_flags = v32;
    if (obj->type == AH_HANDLE_TYPE_REQUEST)
      ((ah__request_object *)obj)->req.tls.security_flags = v32;
    return AH_OK;
  }
  case AH_OPTION_TLS_SESSION_REUSED:
  case AH_OPTION_TLS_VERSION:
    return AH_ERR_INVALID_PARAMETER; /* read-only */
  case AH_OPTION_PROXY:
    return set_proxy(obj, value, size);
  case AH_OPTION_PROXY_BYPASS:
    return set_text(&obj->opts.proxy_bypass, value, size);
  case AH_OPTION_NOTIFICATION_MASK:
    if (value == NULL || size != sizeof(uint64_t))
      return AH_ERR_INVALID_PARAMETER;
    memcpy(&obj->opts.notify_mask, value, sizeof(uint64_t));
    return AH_OK;
  case AH_OPTION_MAX_REDIRECTS:
    return get_u32(value, size, &obj->opts.max_redirects);
  case AH_OPTION_DECODING:
    rc = get_u32(value, size, &v32);
    if (rc != AH_OK)
      return rc;
    if (v32 > 1)
      return AH_ERR_INVALID_PARAMETER;
    obj->opts.decoding = v32;
    return AH_OK;
  case AH_OPTION_EXPECT_CONTINUE_SIZE:
    if (value == NULL || size != sizeof(uint64_t))
      return AH_ERR_INVALID_PARAMETER;
    memcpy(&obj->opts.expect_continue_size, value, sizeof(uint64_t));
    return AH_OK;
  case AH_OPTION_EXPECT_CONTINUE_TIMEOUT:
    return get_u32(value, size, &obj->opts.expect_continue_timeout);
  case AH_OPTION_CONTEXT:
    if (size != sizeof(void *))
      return AH_ERR_INVALID_PARAMETER;
    memcpy(&obj->context, value, sizeof(void *));
    return AH_OK;
  case AH_OPTION_HANDLE_TYPE:
  case AH_OPTION_CONNECTION_REUSED:
    return AH_ERR_INVALID_PARAMETER; /* read-only */
  default:
    return AH_ERR_INVALID_OPTION;
  }
}

static int put_bytes(const void *src, size_t n, void *value, size_t *size) {
  if (value == NULL || *size < n) {
    *size = n;
    return AH_ERR_INSUFFICIENT_BUFFER;
  }
  memcpy(value, src, n);
  *size = n;
  return AH_OK;
}

int ah__get_option(ah__object *obj, int option, void *value, size_t *size) {
  uint32_t v32;
  if (size == NULL)
    return AH_ERR_INVALID_PARAMETER;
  switch (option) {
  case AH_OPTION_CONNECT_TIMEOUT:
    return put_bytes(&obj->opts.connect_timeout, 4, value, size);
  case AH_OPTION_SEND_TIMEOUT:
    return put_bytes(&obj->opts.send_timeout, 4, value, size);
  case AH_OPTION_RECEIVE_TIMEOUT:
    return put_bytes(&obj->opts.receive_timeout, 4, value, size);
  case AH_OPTION_READ_BUFFER_SIZE:
    return put_bytes(&obj->opts.read_buffer_size, 4, value, size);
  case AH_OPTION_MAX_HEADER_BYTES:
    return put_bytes(&obj->opts.max_header_bytes, 4, value, size);
  case AH_OPTION_NOTIFICATION_MASK:
    return put_bytes(&obj->opts.notify_mask, 8, value, size);
  case AH_OPTION_MAX_REDIRECTS:
    return put_bytes(&obj->opts.max_redirects, 4, value, size);
  case AH_OPTION_DECODING:
    return put_bytes(&obj->opts.decoding, 4, value, size);
  case AH_OPTION_EXPECT_CONTINUE_SIZE:
    return put_bytes(&obj->opts.expect_continue_size, 8, value, size);
  case AH_OPTION_EXPECT_CONTINUE_TIMEOUT:
    return put_bytes(&obj->opts.expect_continue_timeout, 4, value, size);
  case AH_OPTION_CONTEXT:
    return put_bytes(&obj->context, sizeof(void *), value, size);
  case AH_OPTION_HANDLE_TYPE:
    v32 = (uint32_t)obj->type;
    return put_bytes(&v32, 4, value, size);
  case AH_OPTION_CONNECTION_REUSED:
    if (obj->type != AH_HANDLE_TYPE_REQUEST)
      return AH_ERR_INVALID_OPTION; /* a request-only option */
    v32 = (uint32_t)((ah__request_object *)obj)->req.reused;
    return put_bytes(&v32, 4, value, size);
  case AH_OPTION_USER_AGENT:
    return get_text(obj->opts.user_agent, value, size);
  case AH_OPTION_TLS_CA_FILE:
    return get_text(obj->opts.ca_file, value, size);
  case AH_OPTION_TLS_CA_DIR:
    return get_text(obj->opts.ca_dir, value, size);
  case AH_OPTION_TLS_CLIENT_CERT:
    return get_text(obj->opts.client_cert, value, size);
  case AH_OPTION_TLS_CLIENT_KEY:
    return get_text(obj->opts.client_key, value, size);
  case AH_OPTION_SECURITY_FLAGS:
    return put_bytes(&obj->opts.security_flags, 4, value, size);
  case AH_OPTION_PROXY:
    return get_text(obj->opts.proxy, value, size);
  case AH_OPTION_PROXY_BYPASS:
    return get_text(obj->opts.proxy_bypass, value, size);
  case AH_OPTION_TLS_SESSION_REUSED:
    if (obj->type != AH_HANDLE_TYPE_REQUEST)
      return AH_ERR_INVALID_OPTION;
    if (((ah__request_object *)obj)->req.tls_version == NULL)
      return AH_ERR_INCORRECT_HANDLE_STATE; /* no TLS connection yet */
    v32 = (uint32_t)((ah__request_object *)obj)->req.tls_resumed;
    return put_bytes(&v32, 4, value, size);
  case AH_OPTION_TLS_VERSION:
    if (obj->type != AH_HANDLE_TYPE_REQUEST)
      return AH_ERR_INVALID_OPTION;
    if (((ah__request_object *)obj)->req.tls_version == NULL)
      return AH_ERR_INCORRECT_HANDLE_STATE;
    return get_text(((ah__request_object *)obj)->req.tls_version, value, size);
  default:
    return AH_ERR_INVALID_OPTION;
  }
}
