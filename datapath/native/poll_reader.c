#include "poll_reader.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "napi_util.h"

#define READER_BOX_MAGIC 0x77677262u /* "wgrb" */

/* What the JS external points at. Separate from the reader so that stopReading on a reader
 * already freed (second call, or after env teardown) finds NULL instead of freed memory.
 *
 * The box and the reader each have a lifetime of their own (the box ends with the garbage
 * collector's finalizer, the reader with uv_close's callback, in either order), so each points
 * at the other only while both live: whichever goes first, or stopReading, cuts both links at
 * once (unlink). A link cut on one side only leaves the other holding a freed pointer. */
struct reader_box {
  uint32_t magic;
  poll_reader *reader;
};

static void unlink_box(reader_box *box, poll_reader *r) {
  if (box != NULL) box->reader = NULL;
  if (r != NULL) r->box = NULL;
}

static void reader_on_closed(uv_handle_t *handle) {
  poll_reader *r = (poll_reader *)handle->data;
  unlink_box(r->box, r);
  if (r->cleanup_hook != NULL) napi_remove_async_cleanup_hook(r->cleanup_hook);
  free(r->state);
  free(r);
}

/* from_js: the JS world is alive, so the callback reference and async context can be
 * released now; during env teardown the env frees them itself. */
static void reader_close(poll_reader *r, int from_js) {
  if (r->closing) return;
  r->closing = 1;
  uv_poll_stop(&r->poll);
  /* The watcher is stopped: nothing writes into the kept buffers any more. */
  if (from_js) {
    if (r->callback != NULL) napi_delete_reference(r->env, r->callback);
    for (size_t i = 0; i < POLL_READER_MAX_KEEP; i++) {
      if (r->keep[i] != NULL) napi_delete_reference(r->env, r->keep[i]);
    }
    if (r->async_ctx != NULL) napi_async_destroy(r->env, r->async_ctx);
  }
  r->callback = NULL;
  for (size_t i = 0; i < POLL_READER_MAX_KEEP; i++) r->keep[i] = NULL;
  r->async_ctx = NULL;
  uv_close((uv_handle_t *)&r->poll, reader_on_closed);
}

/* Worker threads and embedders tear an env down without exiting the process; an open
 * uv_poll_t would then make uv_loop_close fail. */
static void reader_on_env_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  reader_close((poll_reader *)arg, 0);
}

static void box_finalize(napi_env env, void *data, void *hint) {
  reader_box *box = (reader_box *)data;
  (void)env;
  (void)hint;
  unlink_box(box, box->reader);
  free(box);
}

/* Through napi_make_callback so that async hooks see a proper context and nextTicks / promise
 * jobs queued by the handler run before we return to libuv. */
int poll_reader_deliver(poll_reader *r, size_t argc, napi_value *argv) {
  napi_env env = r->env;
  napi_value fn, recv, exc;
  if (r->closing || r->callback == NULL) return -1;
  if (napi_get_reference_value(env, r->callback, &fn) != napi_ok || fn == NULL) return -1;
  /* MakeCallback converts the receiver to an object, so undefined would throw a TypeError. */
  if (napi_get_global(env, &recv) != napi_ok) return -1;
  bool pending = false;
  if (napi_make_callback(env, r->async_ctx, recv, fn, argc, argv, NULL) != napi_ok &&
      napi_is_exception_pending(env, &pending) == napi_ok && pending &&
      napi_get_and_clear_last_exception(env, &exc) == napi_ok) {
    /* Nobody above us on the stack would rethrow it: hand it to process 'uncaughtException'
     * like any other event-loop callback would, instead of leaving it pending for an
     * unrelated later N-API call to trip over. */
    napi_fatal_exception(env, exc);
  }
  return r->closing ? -1 : 0;
}

int poll_reader_keep_set(poll_reader *r, size_t slot, napi_value value) {
  if (slot >= POLL_READER_MAX_KEEP || r->closing) return -1;
  if (r->keep[slot] != NULL) napi_delete_reference(r->env, r->keep[slot]);
  r->keep[slot] = NULL;
  if (value == NULL) return 0;
  return napi_create_reference(r->env, value, 1, &r->keep[slot]) == napi_ok ? 0 : -1;
}

napi_value poll_reader_keep_get(poll_reader *r, size_t slot) {
  napi_value v = NULL;
  if (slot >= POLL_READER_MAX_KEEP || r->keep[slot] == NULL) return NULL;
  if (napi_get_reference_value(r->env, r->keep[slot], &v) != napi_ok) return NULL;
  return v;
}

void poll_reader_deliver_error(poll_reader *r, int err) {
  napi_value argv[2];
  if (napi_get_null(r->env, &argv[0]) != napi_ok ||
      napi_create_string_utf8(r->env, errno_name(err), NAPI_AUTO_LENGTH, &argv[1]) != napi_ok) {
    return;
  }
  poll_reader_deliver(r, 2, argv);
}

int poll_reader_is_fatal(int err) { return err == EBADFD || err == EBADF; }

void poll_reader_finish(poll_reader *r, napi_value batch, uint32_t count, int err) {
  int still_open = count > 0 ? poll_reader_deliver(r, 1, &batch) == 0 : !r->closing;
  if (still_open && err != 0) {
    if (poll_reader_is_fatal(err)) uv_poll_stop(&r->poll);
    poll_reader_deliver_error(r, err);
  }
}

napi_value poll_reader_js_start(napi_env env, napi_callback_info info, const char *what, const char *resource_name,
                                poll_reader_drain drain, size_t state_size) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s(fd, callback) needs two arguments", what);
    throw_type(env, msg);
    return NULL;
  }
  if (arg_int32(env, argv[0], "fd", &fd) != 0) return NULL;
  void *state = malloc(state_size);
  if (state == NULL) {
    throw_errno(env, ENOMEM, "%s", what);
    return NULL;
  }
  return poll_reader_start(env, fd, argv[1], resource_name, drain, state, NULL, 0);
}

static void reader_on_poll(uv_poll_t *handle, int status, int events) {
  poll_reader *r = (poll_reader *)handle->data;
  napi_handle_scope scope;
  (void)events;
  if (r->closing) return;
  if (napi_open_handle_scope(r->env, &scope) != napi_ok) return;
  r->drain(r, status);
  napi_close_handle_scope(r->env, scope);
}

napi_value poll_reader_start(napi_env env, int fd, napi_value callback, const char *resource_name,
                             poll_reader_drain drain, void *state, const napi_value *keep, size_t nkeep) {
  napi_valuetype t;
  if (nkeep > POLL_READER_MAX_KEEP) {
    free(state);
    throw_type(env, "poll_reader_start: too many buffers to keep");
    return NULL;
  }
  if (napi_typeof(env, callback, &t) != napi_ok || t != napi_function) {
    free(state);
    throw_type(env, "callback must be a function");
    return NULL;
  }
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    free(state);
    return NULL;
  }
  poll_reader *r = calloc(1, sizeof *r);
  reader_box *box = calloc(1, sizeof *box);
  if (r == NULL || box == NULL) {
    free(r);
    free(box);
    free(state);
    throw_errno(env, ENOMEM, "startReading");
    return NULL;
  }
  box->magic = READER_BOX_MAGIC;
  r->env = env;
  r->fd = fd;
  r->drain = drain;
  r->state = state;

  int uverr = uv_poll_init(loop, &r->poll, fd);
  if (uverr < 0) {
    free(r);
    free(box);
    free(state);
    /* libuv errors are negated errnos on Unix. */
    throw_errno(env, -uverr, "uv_poll_init(fd %d)", fd);
    return NULL;
  }
  r->poll.data = r;

  napi_value resource, name_v, external;
  if (napi_create_object(env, &resource) != napi_ok ||
      napi_create_string_utf8(env, resource_name, NAPI_AUTO_LENGTH, &name_v) != napi_ok ||
      napi_async_init(env, resource, name_v, &r->async_ctx) != napi_ok ||
      napi_create_reference(env, callback, 1, &r->callback) != napi_ok ||
      (nkeep > 0 && napi_create_reference(env, keep[0], 1, &r->keep[0]) != napi_ok) ||
      (nkeep > 1 && napi_create_reference(env, keep[1], 1, &r->keep[1]) != napi_ok) ||
      (nkeep > 2 && napi_create_reference(env, keep[2], 1, &r->keep[2]) != napi_ok) ||
      napi_add_async_cleanup_hook(env, reader_on_env_teardown, r, &r->cleanup_hook) != napi_ok ||
      napi_create_external(env, box, box_finalize, NULL, &external) != napi_ok) {
    free(box);
    reader_close(r, 1); /* frees r and state once the handle is closed */
    return NULL;
  }
  box->reader = r;
  r->box = box;

  uverr = uv_poll_start(&r->poll, UV_READABLE, reader_on_poll);
  if (uverr < 0) {
    reader_close(r, 1);
    throw_errno(env, -uverr, "uv_poll_start(fd %d)", fd);
    return NULL;
  }
  return external;
}

napi_value poll_reader_js_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) {
    throw_type(env, "stopReading(handle) needs the handle returned by startReading");
    return NULL;
  }
  if (arg_external(env, argv[0], "handle", READER_BOX_MAGIC, &data) != 0) return NULL;
  reader_box *box = (reader_box *)data;
  if (box->reader != NULL) {
    poll_reader *r = box->reader;
    /* Both links: a second call is a no-op even before the close completes, and the close
     * callback (end of this loop turn) must not write into the box, which the collector may
     * free first (its finalizers drain in the check phase, before the closing handles). */
    unlink_box(box, r);
    reader_close(r, 1);
  }
  return NULL;
}
