/*
 * options.c - ah_set_option / ah_get_option values and their inheritance:
 * a handle copies its parent's options when it is created; setting an
 * option later affects that handle (and handles created from it after).
 */
#include "api/internal.h"
#include "util/alloc.h"

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
  o->user_agent = ah__strdup(DEFAULT_USER_AGENT);
}

int ah__options_copy(ah__options *dst, const ah__options *src) {
  *dst = *src;
  dst->user_agent = NULL;
  if (src->user_agent != NULL) {
    dst->user_agent = ah__strdup(src->user_agent);
    if (dst->user_agent == NULL)
      return AH_ERR_NO_MEMORY;
  }
  return AH_OK;
}

void ah__options_free(ah__options *o) {
  ah__free(o->user_agent);
  o->user_agent = NULL;
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
  case AH_OPTION_NOTIFICATION_MASK:
    if (value == NULL || size != sizeof(uint64_t))
      return AH_ERR_INVALID_PARAMETER;
    memcpy(&obj->opts.notify_mask, value, sizeof(uint64_t));
    return AH_OK;
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
  size_t len;
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
    len = obj->opts.user_agent != NULL ? strlen(obj->opts.user_agent) : 0;
    if (value == NULL || *size < len + 1) {
      *size = len + 1;
      return AH_ERR_INSUFFICIENT_BUFFER;
    }
    if (len > 0)
      memcpy(value, obj->opts.user_agent, len);
    ((char *)value)[len] = '\0';
    *size = len;
    return AH_OK;
  default:
    return AH_ERR_INVALID_OPTION;
  }
}
