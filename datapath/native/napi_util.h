/*
 * Helpers shared by the addon's modules (TUN, UDP, transport AEAD): errors shaped like Node's
 * system errors, argument checks that throw a TypeError naming the argument, and export.
 */
#ifndef WGMPLS_NAPI_UTIL_H
#define WGMPLS_NAPI_UTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <node_api.h>

/* Room for a namespace path, an interface name and a hint. */
#define STEP_LEN (PATH_MAX + 256)

const char *errno_name(int err);

/* Throws an Error whose message names the step and whose code is the errno name (EBUSY,
 * EADDRINUSE...), errno negative as in Node's own system errors. */
void throw_errno(napi_env env, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void throw_type(napi_env env, const char *msg);

/* Each returns 0, or -1 with a JS exception pending. */
int arg_int32(napi_env env, napi_value v, const char *what, int32_t *out);
int arg_uint32(napi_env env, napi_value v, const char *what, uint32_t *out);
/* Copies a JS string into buf; fails if it does not fit. */
int arg_string(napi_env env, napi_value v, const char *what, char *buf, size_t cap);
/* The single fd argument of a call like close(fd); `usage` names the call in the error. */
int only_fd_arg(napi_env env, napi_callback_info info, const char *usage, int32_t *fd);
/* A Buffer or (U)Int8Array, in place. */
int arg_bytes(napi_env env, napi_value v, const char *what, void **data, size_t *len);
/* A Uint32Array, in place; *count is its number of elements. */
int arg_typed_u32(napi_env env, napi_value v, const char *what, void **data, size_t *count);
/* The pointer inside an external made by this addon, whose struct starts with `magic` (so a
 * handle of one kind passed where another is expected is refused, not reinterpreted). */
int arg_external(napi_env env, napi_value v, const char *what, uint32_t magic, void **out);
int is_nullish(napi_env env, napi_value v);

/* close(fd): the JS entry point that closes any fd the addon handed out (TUN, UDP socket). */
napi_value js_close_fd(napi_env env, napi_callback_info info);

int export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb);

#endif
