/*
 * An fd read on readiness from the main libuv loop (uv_poll_t), delivering to a JS callback.
 * Shared by the TUN and the UDP sockets: no thread is parked in read(2), and once reading is
 * stopped and the fd closed nothing keeps the loop alive.
 */
#ifndef WGMPLS_POLL_READER_H
#define WGMPLS_POLL_READER_H

#include <stddef.h>
#include <stdint.h>

#include <node_api.h>
#include <uv.h>

typedef struct poll_reader poll_reader;

/* Called inside a handle scope when the fd is readable (status 0) or libuv reported an error
 * (status < 0, the watcher already stopped): reads what there is and delivers it. */
typedef void (*poll_reader_drain)(poll_reader *r, int status);

typedef struct reader_box reader_box;

/* The most JS values a reader holds on to besides its callback: a batch reader's arena and
 * descriptor array, and one its drain may replace (poll_reader_keep_set), a cache. */
#define POLL_READER_MAX_KEEP 3

struct poll_reader {
  uv_poll_t poll; /* first: the handle pointer is the reader pointer */
  napi_env env;
  napi_ref callback;
  /* What the drain writes into (JS-owned memory): referenced here, so that it lives exactly as
   * long as the reader may write, whatever the callback happens to close over. */
  napi_ref keep[POLL_READER_MAX_KEEP];
  napi_async_context async_ctx;
  napi_async_cleanup_hook_handle cleanup_hook;
  reader_box *box; /* the JS-visible handle; NULL once it was stopped or garbage-collected */
  int fd;
  int closing;
  poll_reader_drain drain;
  void *state; /* the drain's buffers; freed with the reader */
};

/* Returns the JS handle (an external), or NULL with an exception pending. Takes ownership of
 * `state` (freed with free()) whether it succeeds or not. keep[0..nkeep): the JS buffers that
 * `state` points into, held until the reader is stopped (at most POLL_READER_MAX_KEEP). */
napi_value poll_reader_start(napi_env env, int fd, napi_value callback, const char *resource_name,
                             poll_reader_drain drain, void *state, const napi_value *keep, size_t nkeep);
/* stopReading(handle): idempotent. */
napi_value poll_reader_js_stop(napi_env env, napi_callback_info info);
/* Calls the callback; returns 0 if the reader is still open afterwards (the handler may have
 * stopped it). */
int poll_reader_deliver(poll_reader *r, size_t argc, napi_value *argv);
/* Holds `value` in keep[slot] instead of what was there (NULL: nothing); 0 or -1. For a drain
 * caching a JS value across rounds: released with the reader like the others. */
int poll_reader_keep_set(poll_reader *r, size_t slot, napi_value value);
/* What keep[slot] holds, or NULL. */
napi_value poll_reader_keep_get(poll_reader *r, size_t slot);
/* Calls the callback with (null, errnoName). */
void poll_reader_deliver_error(poll_reader *r, int err);
/* EBADFD / EBADF: the device is gone, no more reads can succeed. */
int poll_reader_is_fatal(int err);
/* The end of a drain: delivers what it read (count > 0), then its read error (err != 0), stopping
 * the watcher first when that error is fatal. */
void poll_reader_finish(poll_reader *r, napi_value batch, uint32_t count, int err);
/* The JS entry point `what(fd, callback) -> handle` for a drain needing `state_size` bytes of
 * state (allocated here, freed with the reader). */
napi_value poll_reader_js_start(napi_env env, napi_callback_info info, const char *what, const char *resource_name,
                                poll_reader_drain drain, size_t state_size);

#endif
