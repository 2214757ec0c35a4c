/*
 * Packet I/O for a Linux TUN device, as a Node-API addon (plain C, N-API 8).
 *
 * Why native at all: Node cannot ioctl(TUNSETIFF), and reading the fd with fs.read pins one
 * libuv threadpool thread per TUN and makes process.exit() hang. Here reads are driven by a
 * uv_poll_t on the main loop: no thread is parked in read(2), and once reading is stopped and
 * the fd closed nothing keeps the loop alive.
 *
 * The 4-byte packet-information header (flags, protocol) is deliberately kept (no IFF_NO_PI):
 * the datapath needs the protocol to tell IPv4 / IPv6 / MPLS unicast / MPLS multicast apart,
 * and MPLS frames have no version nibble to sniff.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include <node_api.h>
#include <uv.h>

#define PI_LEN 4
/* The largest packet a TUN can hand us (64 KiB with GSO off) plus the PI header. */
#define READ_BUF_LEN (65536 + PI_LEN)
/* Bounded so one busy TUN cannot starve timers and other fds on the loop. */
#define MAX_PACKETS_PER_EVENT 64
/* Room for a namespace path, an interface name and a hint. */
#define STEP_LEN (PATH_MAX + 256)

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                      */

static const char *errno_name(int err) {
  /* glibc >= 2.32; Debian 12 has 2.36. */
  const char *name = strerrorname_np(err);
  return name != NULL ? name : "EUNKNOWN";
}

/* Throws an Error shaped like Node's system errors: message names the step, code is the
 * errno name so callers can branch on it (EBUSY, EPERM, ENOENT...). */
static void throw_errno(napi_env env, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void throw_errno(napi_env env, int err, const char *fmt, ...) {
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

static void throw_type(napi_env env, const char *msg) { napi_throw_type_error(env, "EINVAL", msg); }

/* ------------------------------------------------------------------------------------------ */
/* Argument helpers                                                                            */

static int arg_int32(napi_env env, napi_value v, const char *what, int32_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a number", what);
    throw_type(env, msg);
    return -1;
  }
  return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1;
}

/* Copies a JS string into buf; fails (with a JS exception) if it does not fit. */
static int arg_string(napi_env env, napi_value v, const char *what, char *buf, size_t cap) {
  napi_valuetype t;
  size_t len = 0;
  char msg[160];
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    snprintf(msg, sizeof msg, "%s must be a string", what);
    throw_type(env, msg);
    return -1;
  }
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return -1;
  if (len + 1 > cap) {
    snprintf(msg, sizeof msg, "%s is too long (%zu bytes, at most %zu)", what, len, cap - 1);
    napi_throw_range_error(env, "ENAMETOOLONG", msg);
    return -1;
  }
  return napi_get_value_string_utf8(env, v, buf, cap, &len) == napi_ok ? 0 : -1;
}

static int is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && (t == napi_undefined || t == napi_null);
}

/* ------------------------------------------------------------------------------------------ */
/* open(name, netnsPath?, mtu) -> { fd, name }                                                 */

static const char *tunsetiff_hint(int err) {
  switch (err) {
    case EBUSY: return " (another open file already holds this TUN, in this or another process)";
    case EINVAL: return " (an interface of that name exists and is not a single-queue TUN)";
    case EPERM: return " (needs CAP_NET_ADMIN in the namespace's user namespace)";
    default: return "";
  }
}

/* SIOCSIFMTU needs any socket of the namespace; AF_INET may be compiled out or (in odd
 * sandboxes) forbidden, so fall back to the other families. */
static int set_mtu(const char *ifname, int mtu, int *err_out) {
  static const int families[] = {AF_INET, AF_INET6, AF_NETLINK};
  int sock = -1;
  for (size_t i = 0; i < sizeof families / sizeof families[0] && sock < 0; i++) {
    sock = socket(families[i], SOCK_DGRAM | SOCK_CLOEXEC, 0);
  }
  if (sock < 0) {
    *err_out = errno;
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, ifname, strnlen(ifname, IFNAMSIZ - 1));
  ifr.ifr_mtu = mtu;
  int rc = ioctl(sock, SIOCSIFMTU, &ifr);
  *err_out = errno;
  close(sock);
  return rc;
}

/* Moves this thread into the network namespace at `path`, remembering where it was in *orig.
 * Returns 0, or an errno with `step` naming what failed. Always pair with ns_leave(). */
static int ns_enter(const char *path, int *orig, char *step, size_t steplen) {
  /* thread-self, not self: setns(CLONE_NEWNET) only moves the calling thread, and it is
   * this thread's namespace we must come back to. */
  *orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (*orig < 0) {
    int err = errno;
    snprintf(step, steplen, "open current netns /proc/thread-self/ns/net");
    return err;
  }
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    snprintf(step, steplen, "open netns path %s", path);
    return err;
  }
  int rc = setns(target, CLONE_NEWNET);
  int err = errno;
  close(target);
  if (rc < 0) {
    snprintf(step, steplen, "setns(%s)%s", path, err == EINVAL ? " (not a network namespace?)" : "");
    return err;
  }
  return 0;
}

/* Back to the namespace ns_enter() saved (if it got that far). Carrying on anywhere else would
 * run the rest of the process in the container's namespace: that is fatal. */
static void ns_leave(int orig, int entered, const char *who) {
  if (entered && setns(orig, CLONE_NEWNET) < 0) {
    napi_fatal_error(who, NAPI_AUTO_LENGTH, "cannot return to the original network namespace", NAPI_AUTO_LENGTH);
  }
  if (orig >= 0) close(orig);
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) {
    throw_type(env, "open(name, netnsPath?, mtu?) needs a name");
    return NULL;
  }

  char name[IFNAMSIZ];
  char nspath[PATH_MAX];
  int have_ns = 0;
  int32_t mtu = 0;
  if (arg_string(env, argv[0], "interface name", name, sizeof name) != 0) return NULL;
  if (argc >= 2 && !is_nullish(env, argv[1])) {
    if (arg_string(env, argv[1], "netnsPath", nspath, sizeof nspath) != 0) return NULL;
    have_ns = 1;
  }
  if (argc >= 3 && !is_nullish(env, argv[2]) && arg_int32(env, argv[2], "mtu", &mtu) != 0) {
    return NULL;
  }

  /* The error is recorded and thrown only after the thread is back in its own namespace:
   * everything Node does later on this thread (sockets, child processes) must not silently
   * land in the container's namespace. */
  int err = 0;
  char step[STEP_LEN] = "";
  int orig_ns = -1, entered = 0, fd = -1;
  struct ifreq ifr;

  if (have_ns) {
    err = ns_enter(nspath, &orig_ns, step, sizeof step);
    if (err != 0) goto out;
    entered = 1;
  }

  /* The TUN is created in the namespace of whoever opens /dev/net/tun, hence after setns. */
  fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    err = errno;
    snprintf(step, sizeof step, "open /dev/net/tun");
    goto out;
  }

  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN; /* PI header kept on purpose, see top of file. */
  memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    err = errno;
    snprintf(step, sizeof step, "TUNSETIFF %s%s%s%s", name, have_ns ? " in " : "",
             have_ns ? nspath : "", tunsetiff_hint(err));
    goto out;
  }
  /* The kernel may have filled in a pattern such as "tun%d". */
  memcpy(name, ifr.ifr_name, IFNAMSIZ);
  name[IFNAMSIZ - 1] = '\0';

  if (mtu > 0 && set_mtu(name, mtu, &err) < 0) {
    snprintf(step, sizeof step, "SIOCSIFMTU %s to %d", name, (int)mtu);
    goto out;
  }
  err = 0;

out:
  ns_leave(orig_ns, entered, "wgmpls_tun.open");
  if (err != 0) {
    /* Closing also deletes a TUN we just created, so a failed MTU leaves nothing behind. */
    if (fd >= 0) close(fd);
    throw_errno(env, err, "%s", step);
    return NULL;
  }

  napi_value result, fd_v, name_v;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_int32(env, fd, &fd_v) != napi_ok ||
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &name_v) != napi_ok ||
      napi_set_named_property(env, result, "fd", fd_v) != napi_ok ||
      napi_set_named_property(env, result, "name", name_v) != napi_ok) {
    close(fd);
    return NULL;
  }
  return result;
}

/* ------------------------------------------------------------------------------------------ */
/* startReading / stopReading                                                                  */

typedef struct reader_box reader_box;

typedef struct tun_reader {
  uv_poll_t poll; /* first: the handle pointer is the reader pointer */
  napi_env env;
  napi_ref callback;
  napi_async_context async_ctx;
  napi_async_cleanup_hook_handle cleanup_hook;
  reader_box *box; /* the JS-visible handle, NULL once it was garbage-collected */
  int fd;
  int closing;
  unsigned char buf[READ_BUF_LEN];
} tun_reader;

/* What the JS external points at. Separate from the reader so that stopReading on a reader
 * already freed (second call, or after env teardown) finds NULL instead of freed memory. */
struct reader_box {
  tun_reader *reader;
};

static void reader_on_closed(uv_handle_t *handle) {
  tun_reader *r = (tun_reader *)handle->data;
  if (r->box != NULL) r->box->reader = NULL;
  if (r->cleanup_hook != NULL) napi_remove_async_cleanup_hook(r->cleanup_hook);
  free(r);
}

/* from_js: the JS world is alive, so the callback reference and async context can be
 * released now; during env teardown the env frees them itself. */
static void reader_close(tun_reader *r, int from_js) {
  if (r->closing) return;
  r->closing = 1;
  uv_poll_stop(&r->poll);
  if (from_js) {
    if (r->callback != NULL) napi_delete_reference(r->env, r->callback);
    if (r->async_ctx != NULL) napi_async_destroy(r->env, r->async_ctx);
  }
  r->callback = NULL;
  r->async_ctx = NULL;
  uv_close((uv_handle_t *)&r->poll, reader_on_closed);
}

/* Worker threads and embedders tear an env down without exiting the process; an open
 * uv_poll_t would then make uv_loop_close fail. */
static void reader_on_env_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  tun_reader *r = (tun_reader *)arg;
  (void)handle;
  reader_close(r, 0);
}

static void box_finalize(napi_env env, void *data, void *hint) {
  reader_box *box = (reader_box *)data;
  (void)env;
  (void)hint;
  if (box->reader != NULL) box->reader->box = NULL;
  free(box);
}

/* Calls the JS callback through napi_make_callback so that async hooks see a proper context
 * and nextTicks / promise jobs queued by the handler run before we return to libuv.
 * Returns 0 if the reader is still open afterwards (the handler may have stopped it). */
static int reader_deliver(tun_reader *r, size_t argc, napi_value *argv) {
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

static void reader_deliver_error(tun_reader *r, int err) {
  napi_value argv[2];
  if (napi_get_null(r->env, &argv[0]) != napi_ok ||
      napi_create_string_utf8(r->env, errno_name(err), NAPI_AUTO_LENGTH, &argv[1]) != napi_ok) {
    return;
  }
  reader_deliver(r, 2, argv);
}

static int is_fatal_read_error(int err) { return err == EBADFD || err == EBADF; }

static void reader_on_poll(uv_poll_t *handle, int status, int events) {
  tun_reader *r = (tun_reader *)handle->data;
  napi_env env = r->env;
  napi_handle_scope scope;
  (void)events;
  if (r->closing) return;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;

  if (status < 0) {
    /* libuv has already stopped the watcher (it does so on POLLERR, which a TUN reports once
     * its netdevice is unregistered). A read tells us the kernel's real reason. */
    ssize_t n = read(r->fd, r->buf, sizeof r->buf);
    int err = n < 0 && errno != EAGAIN && errno != EINTR ? errno : -status;
    uv_poll_stop(&r->poll);
    reader_deliver_error(r, err);
    napi_close_handle_scope(env, scope);
    return;
  }

  napi_value packets;
  uint32_t count = 0;
  int err = 0;
  if (napi_create_array(env, &packets) != napi_ok) {
    napi_close_handle_scope(env, scope);
    return;
  }
  for (int i = 0; i < MAX_PACKETS_PER_EVENT; i++) {
    ssize_t n = read(r->fd, r->buf, sizeof r->buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      break;
    }
    if (n == 0) break;
    /* A copy per packet: the handler may keep (queue, encrypt later) any of them. */
    napi_value buf;
    if (napi_create_buffer_copy(env, (size_t)n, r->buf, NULL, &buf) != napi_ok ||
        napi_set_element(env, packets, count, buf) != napi_ok) {
      break;
    }
    count++;
  }

  int still_open = count > 0 ? reader_deliver(r, 1, &packets) == 0 : !r->closing;
  if (still_open && err != 0) {
    if (is_fatal_read_error(err)) uv_poll_stop(&r->poll);
    reader_deliver_error(r, err);
  }
  napi_close_handle_scope(env, scope);
}

static napi_value js_start_reading(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2) {
    throw_type(env, "startReading(fd, callback) needs two arguments");
    return NULL;
  }
  if (arg_int32(env, argv[0], "fd", &fd) != 0) return NULL;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    throw_type(env, "callback must be a function");
    return NULL;
  }

  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;

  tun_reader *r = calloc(1, sizeof *r);
  reader_box *box = calloc(1, sizeof *box);
  if (r == NULL || box == NULL) {
    free(r);
    free(box);
    throw_errno(env, ENOMEM, "startReading");
    return NULL;
  }
  r->env = env;
  r->fd = fd;

  int uverr = uv_poll_init(loop, &r->poll, fd);
  if (uverr < 0) {
    free(r);
    free(box);
    /* libuv errors are negated errnos on Unix. */
    throw_errno(env, -uverr, "uv_poll_init(fd %d)", (int)fd);
    return NULL;
  }
  r->poll.data = r;

  napi_value resource, resource_name, external;
  if (napi_create_object(env, &resource) != napi_ok ||
      napi_create_string_utf8(env, "wgmpls:TunRead", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, resource, resource_name, &r->async_ctx) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &r->callback) != napi_ok ||
      napi_add_async_cleanup_hook(env, reader_on_env_teardown, r, &r->cleanup_hook) != napi_ok ||
      napi_create_external(env, box, box_finalize, NULL, &external) != napi_ok) {
    free(box);
    reader_close(r, 1); /* frees r once the handle is closed */
    return NULL;
  }
  box->reader = r;
  r->box = box;

  uverr = uv_poll_start(&r->poll, UV_READABLE, reader_on_poll);
  if (uverr < 0) {
    reader_close(r, 1);
    throw_errno(env, -uverr, "uv_poll_start(fd %d)", (int)fd);
    return NULL;
  }
  return external;
}

static napi_value js_stop_reading(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype t;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external) {
    throw_type(env, "stopReading(handle) needs the handle returned by startReading");
    return NULL;
  }
  if (napi_get_value_external(env, argv[0], &data) != napi_ok) return NULL;
  reader_box *box = (reader_box *)data;
  if (box != NULL && box->reader != NULL) {
    tun_reader *r = box->reader;
    box->reader = NULL; /* makes a second call a no-op even before the close completes */
    reader_close(r, 1);
  }
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* write(fd, proto, packet) -> bytes written | -errno                                          */

static int arg_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) == napi_ok && is) {
    return napi_get_buffer_info(env, v, data, len) == napi_ok ? 0 : -1;
  }
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t elements;
    if (napi_get_typedarray_info(env, v, &type, &elements, data, NULL, NULL) != napi_ok) return -1;
    if (type != napi_uint8_array && type != napi_int8_array && type != napi_uint8_clamped_array) {
      throw_type(env, "packet must be a Buffer or Uint8Array");
      return -1;
    }
    *len = elements;
    return 0;
  }
  throw_type(env, "packet must be a Buffer or Uint8Array");
  return -1;
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd, proto;
  void *data = NULL;
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3) {
    throw_type(env, "write(fd, proto, packet) needs three arguments");
    return NULL;
  }
  if (arg_int32(env, argv[0], "fd", &fd) != 0 || arg_int32(env, argv[1], "proto", &proto) != 0 ||
      arg_bytes(env, argv[2], &data, &len) != 0) {
    return NULL;
  }

  /* writev keeps the packet where it is: no concatenation copy on the hot path. */
  uint8_t pi[PI_LEN] = {0, 0, (uint8_t)((proto >> 8) & 0xff), (uint8_t)(proto & 0xff)};
  struct iovec iov[2] = {{.iov_base = pi, .iov_len = PI_LEN}, {.iov_base = data, .iov_len = len}};
  ssize_t n;
  do {
    n = writev(fd, iov, 2);
  } while (n < 0 && errno == EINTR);

  /* Not thrown: EIO (link down), EAGAIN (queue full), EINVAL (bad packet) are per-packet
   * drops the datapath counts, and exceptions would cost far more than the drop. */
  napi_value result;
  if (napi_create_int64(env, n < 0 ? -(int64_t)errno : (int64_t)n, &result) != napi_ok) return NULL;
  return result;
}

/* ------------------------------------------------------------------------------------------ */
/* close(fd)                                                                                   */

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) {
    throw_type(env, "close(fd) needs an fd");
    return NULL;
  }
  if (arg_int32(env, argv[0], "fd", &fd) != 0) return NULL;
  /* Linux releases the fd even when close reports EINTR, so never retry. */
  if (close(fd) < 0 && errno != EINTR) {
    throw_errno(env, errno, "close(fd %d)", (int)fd);
  }
  return NULL;
}

/* tunInfo(fd) -> { name, netnsFd }. Where the TUN is now: Docker moves an endpoint's TUN into
 * the container and renames it (wgm0, wgm1, ...) while we hold the fd; the datapath follows
 * with TUNGETIFF (current name) and TUNGETDEVNETNS (a new fd on its namespace, caller closes). */
static napi_value js_tun_info(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) {
    throw_type(env, "tunInfo(fd) needs an fd");
    return NULL;
  }
  if (arg_int32(env, argv[0], "fd", &fd) != 0) return NULL;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
    throw_errno(env, errno, "TUNGETIFF");
    return NULL;
  }
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
#ifndef TUNGETDEVNETNS
#define TUNGETDEVNETNS _IO('T', 227)
#endif
  int nsfd = ioctl(fd, TUNGETDEVNETNS);
  if (nsfd < 0) {
    throw_errno(env, errno, "TUNGETDEVNETNS %s", ifr.ifr_name);
    return NULL;
  }
  napi_value result, name_v, ns_v;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &name_v) != napi_ok ||
      napi_create_int32(env, nsfd, &ns_v) != napi_ok ||
      napi_set_named_property(env, result, "name", name_v) != napi_ok ||
      napi_set_named_property(env, result, "netnsFd", ns_v) != napi_ok) {
    close(nsfd);
    return NULL;
  }
  return result;
}

/* ------------------------------------------------------------------------------------------ */

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* netnsCookie(netnsPath?) -> decimal string. The kernel's 64-bit cookie of a network namespace
 * (SO_NETNS_COOKIE, Linux 5.14+): unlike the nsfs inode it is never reused, so state keyed on
 * it can never be picked up by a later namespace that happens to get the same inode. */
static napi_value js_netns_cookie(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  char nspath[PATH_MAX];
  int have_ns = 0;
  if (argc >= 1 && !is_nullish(env, argv[0])) {
    if (arg_string(env, argv[0], "netnsPath", nspath, sizeof nspath) != 0) return NULL;
    have_ns = 1;
  }
  int err = 0, orig_ns = -1, entered = 0, sock = -1;
  char step[STEP_LEN] = "";
  uint64_t cookie = 0;
  socklen_t len = sizeof cookie;
  if (have_ns) {
    err = ns_enter(nspath, &orig_ns, step, sizeof step);
    if (err != 0) goto out;
    entered = 1;
  }
  sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    err = errno;
    snprintf(step, sizeof step, "socket");
    goto out;
  }
  if (getsockopt(sock, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) < 0) {
    err = errno;
    snprintf(step, sizeof step, "getsockopt(SO_NETNS_COOKIE)");
    goto out;
  }
out:
  ns_leave(orig_ns, entered, "wgmpls_tun.netnsCookie");
  if (sock >= 0) close(sock);
  if (err != 0) {
    throw_errno(env, err, "%s", step);
    return NULL;
  }
  char buf[32];
  snprintf(buf, sizeof buf, "%llu", (unsigned long long)cookie);
  napi_value result;
  if (napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &result) != napi_ok) return NULL;
  return result;
}

/* ------------------------------------------------------------------------------------------ */

static int export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) != napi_ok) return -1;
  return napi_set_named_property(env, exports, name, fn) == napi_ok ? 0 : -1;
}

NAPI_MODULE_INIT() {
  if (export_fn(env, exports, "open", js_open) != 0 ||
      export_fn(env, exports, "startReading", js_start_reading) != 0 ||
      export_fn(env, exports, "stopReading", js_stop_reading) != 0 ||
      export_fn(env, exports, "write", js_write) != 0 ||
      export_fn(env, exports, "close", js_close) != 0 ||
      export_fn(env, exports, "netnsCookie", js_netns_cookie) != 0 ||
      export_fn(env, exports, "tunInfo", js_tun_info) != 0) {
    return NULL;
  }
  return exports;
}
