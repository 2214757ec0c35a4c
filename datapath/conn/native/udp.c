/*
 * The UDP underlay, as raw sockets driven by the addon's poll reader instead of node:dgram.
 *
 * Why: per packet, dgram costs an address lookup on a later tick, a send request object and a
 * libuv write queue on the way out, and an rinfo object per message on the way in; measured on
 * a ping through two datapaths that overhead alone cost more than WireGuard's whole crypto.
 * Here a send is one sendmsg(2) on the calling stack, and a readable event drains the socket
 * with recvmmsg(2) into one callback.
 *
 * Sticky source (as WireGuard keeps one per peer): every datagram is delivered with the local
 * address it was sent to and the interface it arrived on (IP_PKTINFO / IPV6_RECVPKTINFO), and a
 * send may name that source back (IP_PKTINFO / IPV6_PKTINFO). Without it the kernel picks the
 * source by route, and on a host with several addresses the peer sees replies from an address
 * it never configured and roams there. Which source a peer keeps is decided in JS: only
 * datagrams that authenticated may set it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include "../../native/module.h"
#include "../../native/napi_util.h"
#include "../../native/poll_reader.h"

#include "udp_common.h"

/* udpOpen(family 4|6, address|null, port, bufferBytes) -> { fd, port } */
static napi_value js_udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t family, port, bufsize;
  char address[INET6_ADDRSTRLEN];
  int have_address = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 4) {
    throw_type(env, "udpOpen(family, address, port, bufferBytes) needs four arguments");
    return NULL;
  }
  if (arg_int32(env, argv[0], "family", &family) != 0) return NULL;
  if (!is_nullish(env, argv[1])) {
    if (arg_string(env, argv[1], "address", address, sizeof address) != 0) return NULL;
    have_address = 1;
  }
  if (arg_int32(env, argv[2], "port", &port) != 0 || arg_int32(env, argv[3], "bufferBytes", &bufsize) != 0) {
    return NULL;
  }
  if ((family != 4 && family != 6) || port < 0 || port > 65535 || bufsize < 0) {
    throw_type(env, "udpOpen: family must be 4 or 6, port 0..65535, bufferBytes >= 0");
    return NULL;
  }

  struct sockaddr_storage ss;
  socklen_t sslen;
  const char *any = family == 6 ? "::" : "0.0.0.0";
  if (udp_parse_addr(have_address ? address : any, port, &ss, &sslen) != 0 ||
      ss.ss_family != (family == 6 ? AF_INET6 : AF_INET)) {
    throw_type(env, "udpOpen: address is not an address of that family");
    return NULL;
  }

  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket(udp%d)", (int)family);
    return NULL;
  }
  int one = 1;
  /* IPv6 only: the IPv4 socket owns IPv4, as in wireguard-go's StdNetBind (no mapped
   * addresses). Buffers: best effort, the kernel caps them at rmem_max / wmem_max. */
  if ((family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)) {
    int err = errno;
    close(fd);
    throw_errno(env, err, "setsockopt(IPV6_V6ONLY)");
    return NULL;
  }
  /* Where each datagram was sent to and arrived on, for the sticky source (see the top). */
  if ((family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) < 0) ||
      (family == 4 && setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0)) {
    int err = errno;
    close(fd);
    throw_errno(env, err, "setsockopt(%s)", family == 6 ? "IPV6_RECVPKTINFO" : "IP_PKTINFO");
    return NULL;
  }
  if (bufsize > 0) {
    /* The FORCE variants pass net.core.rmem_max / wmem_max (208 KiB by default), which would
     * otherwise cap the queue far below one burst of a fast TCP stream: a full receive queue is
     * lost datagrams, i.e. retransmissions. They need CAP_NET_ADMIN; without it, what the limits
     * allow. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof bufsize) < 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
    }
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsize, sizeof bufsize) < 0) {
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
    }
  }
  if (bind(fd, (struct sockaddr *)&ss, sslen) < 0) {
    int err = errno;
    close(fd);
    throw_errno(env, err, "bind udp%d %s port %d", (int)family, have_address ? address : any, (int)port);
    return NULL;
  }
  struct sockaddr_storage bound;
  socklen_t blen = sizeof bound;
  if (getsockname(fd, (struct sockaddr *)&bound, &blen) < 0) {
    int err = errno;
    close(fd);
    throw_errno(env, err, "getsockname");
    return NULL;
  }
  int bound_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                      : ((struct sockaddr_in *)&bound)->sin_port);
  napi_value result, fd_v, port_v;
  if (napi_create_object(env, &result) != napi_ok || napi_create_int32(env, fd, &fd_v) != napi_ok ||
      napi_create_int32(env, bound_port, &port_v) != napi_ok ||
      napi_set_named_property(env, result, "fd", fd_v) != napi_ok ||
      napi_set_named_property(env, result, "port", port_v) != napi_ok) {
    close(fd);
    return NULL;
  }
  return result;
}

/* udpSend(fd4, fd6, address, port, msg, localAddress, localIfindex) -> bytes sent | -errno.
 * The socket is picked here by the address's family (-1: none of that family, EAFNOSUPPORT), so
 * the caller's per-packet code does no string work. localAddress '' lets the kernel choose the
 * source; otherwise the datagram leaves from it (set_source), and a source that is gone comes
 * back as -EINVAL (address removed) or -ENODEV (interface removed) for the caller to forget.
 * Not thrown: a full buffer or an unreachable network is a per-packet drop the caller counts,
 * as WireGuard does. */
static napi_value js_udp_send(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  int32_t fd4, fd6, port;
  uint32_t ifindex;
  char address[INET6_ADDRSTRLEN], local[INET6_ADDRSTRLEN];
  void *data;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 7) {
    throw_type(env, "udpSend(fd4, fd6, address, port, msg, localAddress, localIfindex) needs seven arguments");
    return NULL;
  }
  if (arg_int32(env, argv[0], "fd4", &fd4) != 0 || arg_int32(env, argv[1], "fd6", &fd6) != 0 ||
      arg_string(env, argv[2], "address", address, sizeof address) != 0 || arg_int32(env, argv[3], "port", &port) != 0 ||
      arg_bytes(env, argv[4], "msg", &data, &len) != 0 ||
      arg_string(env, argv[5], "localAddress", local, sizeof local) != 0 ||
      arg_uint32(env, argv[6], "localIfindex", &ifindex) != 0) {
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sslen;
  ssize_t n;
  if (port < 0 || port > 65535 || udp_parse_addr(address, port, &ss, &sslen) != 0) {
    n = -EINVAL;
  } else {
    int fd = ss.ss_family == AF_INET6 ? fd6 : fd4;
    struct iovec iov = {.iov_base = data, .iov_len = len};
    struct msghdr h = {.msg_name = &ss, .msg_namelen = sslen, .msg_iov = &iov, .msg_iovlen = 1};
    ctrl_buf ctrl;
    if (fd < 0) {
      n = -EAFNOSUPPORT;
    } else if (local[0] != '\0' && udp_set_source(&h, &ctrl, ss.ss_family, local, ifindex) != 0) {
      n = -EINVAL;
    } else {
      do {
        n = sendmsg(fd, &h, MSG_DONTWAIT);
      } while (n < 0 && errno == EINTR);
      if (n < 0) n = -errno;
    }
  }
  napi_value result;
  if (napi_create_int64(env, (int64_t)n, &result) != napi_ok) return NULL;
  return result;
}


/* udpSetMark(fd, mark): SO_MARK, what `wg set IF fwmark N` asks for, so that policy routing
 * (wg-quick's `not fwmark` rule) can keep the tunnel's own datagrams out of the tunnel. 0
 * clears it. Throws (EPERM without CAP_NET_ADMIN). */
static napi_value js_udp_set_mark(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  uint32_t mark;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2) {
    throw_type(env, "udpSetMark(fd, mark) needs two arguments");
    return NULL;
  }
  if (arg_int32(env, argv[0], "fd", &fd) != 0 || arg_uint32(env, argv[1], "mark", &mark) != 0) return NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0) {
    throw_errno(env, errno, "setsockopt(SO_MARK %u)", mark);
    return NULL;
  }
  return NULL;
}

int udp_register(napi_env env, napi_value exports) {
  if (export_fn(env, exports, "udpOpen", js_udp_open) != 0 ||
      export_fn(env, exports, "udpSend", js_udp_send) != 0 || export_fn(env, exports, "udpSetMark", js_udp_set_mark) != 0 ||
      export_fn(env, exports, "udpClose", js_close_fd) != 0 ||
      udp_batch_register(env, exports) != 0) {
    return -1;
  }
  return 0;
}
