#include "napi_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *errno_name(int err) {
  /* glibc >= 2.32; Debian 12 has 2.36. */
  const char *name = strerrorname_np(err);
  return name != NULL ? name : "EUNKNOWN";
}

void throw_errno(napi_env env, int err, const char *fmt, ...) {
  char what[STEP_LEN];
  char msg[STEP_LEN + 128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));

  napi_value code_v, msg_v, error, errno_v;
  if (napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code_v) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &msg_v) != napi_ok ||
      napi_create_error(env, code_v, msg_v, &error) != napi_ok) {
    napi_throw_error(env, errno_name(err), msg);
    return;
  }
  /* Negative, as in Node's own system errors (err.errno === -os.constants.errno.X). */
  if (napi_create_int32(env, -err, &errno_v) == napi_ok) {
    napi_set_named_property(env, error, "errno", errno_v);
  }
  napi_throw(env, error);
}

void throw_type(napi_env env, const char *msg) { napi_throw_type_error(env, "EINVAL", msg); }

static int expect_type(napi_env env, napi_value v, napi_valuetype want, const char *what, const char *noun) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) == napi_ok && t == want) return 0;
  char msg[160];
  snprintf(msg, sizeof msg, "%s must be %s", what, noun);
  throw_type(env, msg);
  return -1;
}

int arg_int32(napi_env env, napi_value v, const char *what, int32_t *out) {
  if (expect_type(env, v, napi_number, what, "a number") != 0) return -1;
  return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1;
}

int arg_uint32(napi_env env, napi_value v, const char *what, uint32_t *out) {
  if (expect_type(env, v, napi_number, what, "a number") != 0) return -1;
  return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

int arg_string(napi_env env, napi_value v, const char *what, char *buf, size_t cap) {
  size_t len = 0;
  if (expect_type(env, v, napi_string, what, "a string") != 0) return -1;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return -1;
  if (len + 1 > cap) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s is too long (%zu bytes, at most %zu)", what, len, cap - 1);
    napi_throw_range_error(env, "ENAMETOOLONG", msg);
    return -1;
  }
  return napi_get_value_string_utf8(env, v, buf, cap, &len) == napi_ok ? 0 : -1;
}

int arg_bytes(napi_env env, napi_value v, const char *what, void **data, size_t *len) {
  bool is;
  char msg[160];
  if (napi_is_buffer(env, v, &is) == napi_ok && is) {
    return napi_get_buffer_info(env, v, data, len) == napi_ok ? 0 : -1;
  }
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t elements;
    if (napi_get_typedarray_info(env, v, &type, &elements, data, NULL, NULL) != napi_ok) return -1;
    if (type == napi_uint8_array || type == napi_int8_array || type == napi_uint8_clamped_array) {
      *len = elements;
      return 0;
    }
  }
  snprintf(msg, sizeof msg, "%s must be a Buffer or Uint8Array", what);
  throw_type(env, msg);
  return -1;
}

int arg_typed_u32(napi_env env, napi_value v, const char *what, void **data, size_t *count) {
  bool is;
  char msg[160];
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    if (napi_get_typedarray_info(env, v, &type, count, data, NULL, NULL) != napi_ok) return -1;
    if (type == napi_uint32_array || type == napi_int32_array) return 0;
  }
  snprintf(msg, sizeof msg, "%s must be a Uint32Array", what);
  throw_type(env, msg);
  return -1;
}

int arg_external(napi_env env, napi_value v, const char *what, uint32_t magic, void **out) {
  void *p = NULL;
  if (expect_type(env, v, napi_external, what, "a handle made by this addon") != 0) return -1;
  if (napi_get_value_external(env, v, &p) != napi_ok) return -1;
  if (p == NULL || *(const uint32_t *)p != magic) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s is a handle of another kind", what);
    throw_type(env, msg);
    return -1;
  }
  *out = p;
  return 0;
}

int is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && (t == napi_undefined || t == napi_null);
}

int export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) != napi_ok) return -1;
  return napi_set_named_property(env, exports, name, fn) == napi_ok ? 0 : -1;
}

int only_fd_arg(napi_env env, napi_callback_info info, const char *usage, int32_t *fd) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  if (argc < 1) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s needs an fd", usage);
    throw_type(env, msg);
    return -1;
  }
  return arg_int32(env, argv[0], "fd", fd);
}

napi_value js_close_fd(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (only_fd_arg(env, info, "close(fd)", &fd) != 0) return NULL;
  /* Linux releases the fd even when close reports EINTR, so never retry. */
  if (close(fd) < 0 && errno != EINTR) throw_errno(env, errno, "close(fd %d)", (int)fd);
  return NULL;
}
