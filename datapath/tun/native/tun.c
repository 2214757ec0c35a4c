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

#include "../../native/napi_util.h"
#include "../../native/poll_reader.h"
#include "../../native/module.h"
#include "../../native/netns.h"
#include "offload.h"

#define PI_LEN 4
/* The largest packet a TUN can hand us (64 KiB with GSO off) plus the PI header. */
#define READ_BUF_LEN (65536 + PI_LEN)
/* Bounded so one busy TUN cannot starve timers and other fds on the loop. */
#define MAX_PACKETS_PER_EVENT 64

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

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

/* The offloads asked for, best first: a kernel without USO (before 6.2) refuses the whole set
 * with EINVAL, so the next one drops it; none at all still leaves the virtio-net header on, and
 * the kernel then hands over finished packets one by one (what the datapath did before). */
static unsigned int set_offloads(int fd) {
  static const unsigned int sets[] = {TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6,
                                      TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, TUN_F_CSUM};
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
    if (ioctl(fd, TUNSETOFFLOAD, sets[i]) == 0) return sets[i];
  }
  return 0;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) {
    throw_type(env, "open(name, netnsPath?, mtu?) needs a name");
    return NULL;
  }

  char name[IFNAMSIZ];
  char nspath[PATH_MAX];
  int have_ns = 0;
  int32_t mtu = 0;
  uint32_t want_vnet = 0;
  unsigned int offloads = 0;
  if (arg_string(env, argv[0], "interface name", name, sizeof name) != 0) return NULL;
  if (argc >= 4 && !is_nullish(env, argv[3]) && arg_uint32(env, argv[3], "offload", &want_vnet) != 0) return NULL;
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
  /* PI header kept on purpose, see top of file; the virtio-net header follows it. */
  ifr.ifr_flags = IFF_TUN | (want_vnet ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    err = errno;
    snprintf(step, sizeof step, "TUNSETIFF %s%s%s%s", name, have_ns ? " in " : "",
             have_ns ? nspath : "", tunsetiff_hint(err));
    goto out;
  }
  if (want_vnet) offloads = set_offloads(fd);
  /* The kernel may have filled in a pattern such as "tun%d". */
  memcpy(name, ifr.ifr_name, IFNAMSIZ);
  name[IFNAMSIZ - 1] = '\0';

  if (mtu > 0 && set_mtu(name, mtu, &err) < 0) {
    snprintf(step, sizeof step, "SIOCSIFMTU %s to %d", name, (int)mtu);
    goto out;
  }
  err = 0;

out:
  ns_leave(orig_ns, entered, "wgmpls.tun.open");
  if (err != 0) {
    /* Closing also deletes a TUN we just created, so a failed MTU leaves nothing behind. */
    if (fd >= 0) close(fd);
    throw_errno(env, err, "%s", step);
    return NULL;
  }

  napi_value result, fd_v, name_v, vnet_v, offloads_v;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_int32(env, fd, &fd_v) != napi_ok ||
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &name_v) != napi_ok ||
      napi_get_boolean(env, want_vnet != 0, &vnet_v) != napi_ok ||
      napi_create_uint32(env, offloads, &offloads_v) != napi_ok ||
      napi_set_named_property(env, result, "fd", fd_v) != napi_ok ||
      napi_set_named_property(env, result, "name", name_v) != napi_ok ||
      napi_set_named_property(env, result, "vnet", vnet_v) != napi_ok ||
      napi_set_named_property(env, result, "offloads", offloads_v) != napi_ok) {
    close(fd);
    return NULL;
  }
  return result;
}

/* ------------------------------------------------------------------------------------------ */
/* startReading(fd, callback) -> handle; stopReading is the shared poll_reader_js_stop         */

typedef struct {
  unsigned char buf[READ_BUF_LEN];
} tun_read_state;

static void tun_drain(poll_reader *r, int status) {
  tun_read_state *st = (tun_read_state *)r->state;
  napi_env env = r->env;
  if (status < 0) {
    /* libuv has already stopped the watcher (it does so on POLLERR, which a TUN reports once
     * its netdevice is unregistered). A read tells us the kernel's real reason. */
    ssize_t n = read(r->fd, st->buf, sizeof st->buf);
    int err = n < 0 && errno != EAGAIN && errno != EINTR ? errno : -status;
    uv_poll_stop(&r->poll);
    poll_reader_deliver_error(r, err);
    return;
  }

  napi_value packets;
  uint32_t count = 0;
  int err = 0;
  if (napi_create_array(env, &packets) != napi_ok) return;
  for (int i = 0; i < MAX_PACKETS_PER_EVENT; i++) {
    ssize_t n = read(r->fd, st->buf, sizeof st->buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      break;
    }
    if (n == 0) break;
    /* A copy per packet: the handler may keep (queue, encrypt later) any of them. */
    napi_value buf;
    if (napi_create_buffer_copy(env, (size_t)n, st->buf, NULL, &buf) != napi_ok ||
        napi_set_element(env, packets, count, buf) != napi_ok) {
      break;
    }
    count++;
  }

  poll_reader_finish(r, packets, count, err);
}

static napi_value js_start_reading(napi_env env, napi_callback_info info) {
  return poll_reader_js_start(env, info, "startReading", "wgmpls:TunRead", tun_drain, sizeof(tun_read_state));
}

/* ------------------------------------------------------------------------------------------ */
/* write(fd, proto, packet) -> bytes written | -errno                                          */

static napi_value js_write(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t fd, proto;
  uint32_t vnet = 0;
  void *data = NULL;
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3) {
    throw_type(env, "write(fd, proto, packet) needs three arguments");
    return NULL;
  }
  if (arg_int32(env, argv[0], "fd", &fd) != 0 || arg_int32(env, argv[1], "proto", &proto) != 0 ||
      arg_bytes(env, argv[2], "packet", &data, &len) != 0 ||
      (argc >= 4 && arg_uint32(env, argv[3], "vnet", &vnet) != 0)) {
    return NULL;
  }

  /* writev keeps the packet where it is: no concatenation copy on the hot path. With the
   * virtio-net header on, an empty one (no GSO, checksum done) follows the PI. */
  uint8_t pi[PI_LEN + VNET_HDR_LEN] = {0, 0, (uint8_t)((proto >> 8) & 0xff), (uint8_t)(proto & 0xff)};
  struct iovec iov[2] = {{.iov_base = pi, .iov_len = PI_LEN + (vnet ? VNET_HDR_LEN : 0)}, {.iov_base = data, .iov_len = len}};
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

/* tunInfo(fd) -> { name, netnsFd }. Where the TUN is now: Docker moves an endpoint's TUN into
 * the container and renames it (wgm0, wgm1, ...) while we hold the fd; the datapath follows
 * with TUNGETIFF (current name) and TUNGETDEVNETNS (a new fd on its namespace, caller closes). */
static napi_value js_tun_info(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (only_fd_arg(env, info, "tunInfo(fd)", &fd) != 0) return NULL;
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
  ns_leave(orig_ns, entered, "wgmpls.tun.netnsCookie");
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

/* socketPair() -> [fd, fd]: a connected AF_UNIX SOCK_SEQPACKET pair, non-blocking. It keeps
 * packet boundaries like a TUN, so one end can stand in for a TUN (the datapath's warm-up runs
 * the live TUN code over it before the real device exists). */
static napi_value js_socket_pair(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) {
    throw_errno(env, errno, "socketpair");
    return NULL;
  }
  napi_value result, a, b;
  if (napi_create_array_with_length(env, 2, &result) != napi_ok || napi_create_int32(env, fds[0], &a) != napi_ok ||
      napi_create_int32(env, fds[1], &b) != napi_ok || napi_set_element(env, result, 0, a) != napi_ok ||
      napi_set_element(env, result, 1, b) != napi_ok) {
    close(fds[0]);
    close(fds[1]);
    return NULL;
  }
  return result;
}

int tun_register(napi_env env, napi_value exports) {
  if (export_fn(env, exports, "open", js_open) != 0 ||
      export_fn(env, exports, "startReading", js_start_reading) != 0 ||
      export_fn(env, exports, "stopReading", poll_reader_js_stop) != 0 ||
      export_fn(env, exports, "write", js_write) != 0 ||
      export_fn(env, exports, "close", js_close_fd) != 0 ||
      export_fn(env, exports, "netnsCookie", js_netns_cookie) != 0 ||
      export_fn(env, exports, "tunInfo", js_tun_info) != 0 ||
      export_fn(env, exports, "socketPair", js_socket_pair) != 0) {
    return -1;
  }
  return 0;
}
