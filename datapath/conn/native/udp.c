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

/* IPv4 and IPv6 datagrams (no jumbograms) fit whole: a slot can never truncate. */
#define SLOT_LEN 65536
#define SLOTS 16
/* Bounded so one busy socket cannot starve timers and the TUN on the loop. */
#define MAX_BATCHES_PER_EVENT 4

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* Room for one IP_PKTINFO or IPV6_PKTINFO control message and one UDP_GRO / UDP_SEGMENT size, the
 * only ones the sockets use; the union aligns it for struct cmsghdr. */
typedef union {
  struct cmsghdr align;
  unsigned char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
} ctrl_buf;

typedef struct {
  struct mmsghdr msgs[SLOTS];
  struct iovec iov[SLOTS];
  struct sockaddr_storage from[SLOTS];
  ctrl_buf ctrl[SLOTS];
  unsigned char slots[SLOTS][SLOT_LEN];
} udp_read_state;

/* A local source: the address a datagram was sent to and the interface it arrived on. */
typedef struct {
  int family; /* AF_INET, AF_INET6, or 0 when the kernel gave none */
  unsigned char addr[16];
  uint32_t ifindex;
} local_src;

/* The last address turned into a JS string during one drain: a burst comes from one peer to
 * one local address, so it is built once instead of once a datagram. */
typedef struct {
  int family;
  unsigned char addr[16];
  napi_value text;
} addr_text_cache;

/* "10.0.0.1" / "2001:db8::1" (no zone, no brackets) -> sockaddr; 0 or -1. */
static int parse_addr(const char *text, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (strchr(text, ':') != NULL) {
    struct sockaddr_in6 *sa = (struct sockaddr_in6 *)ss;
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, text, &sa->sin6_addr) != 1) return -1;
    *len = sizeof *sa;
    return 0;
  }
  struct sockaddr_in *sa = (struct sockaddr_in *)ss;
  sa->sin_family = AF_INET;
  sa->sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, text, &sa->sin_addr) != 1) return -1;
  *len = sizeof *sa;
  return 0;
}

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
  if (parse_addr(have_address ? address : any, port, &ss, &sslen) != 0 ||
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

/* Address bytes (4 or 16 by family) -> JS string, reusing the cache's string when it is the same
 * address. 0 or -1. */
static int addr_text(napi_env env, addr_text_cache *c, int family, const void *addr, napi_value *out) {
  size_t n = family == AF_INET6 ? 16 : 4;
  if (c->text != NULL && c->family == family && memcmp(c->addr, addr, n) == 0) {
    *out = c->text;
    return 0;
  }
  char text[INET6_ADDRSTRLEN];
  if (inet_ntop(family, addr, text, sizeof text) == NULL) return -1;
  if (napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, out) != napi_ok) return -1;
  c->family = family;
  memcpy(c->addr, addr, n);
  c->text = *out;
  return 0;
}

static int peer_to_js(napi_env env, addr_text_cache *c, const struct sockaddr_storage *ss, napi_value *addr,
                      napi_value *port) {
  int p;
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)ss;
    if (addr_text(env, c, AF_INET6, &sa->sin6_addr, addr) != 0) return -1;
    p = ntohs(sa->sin6_port);
  } else if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *sa = (const struct sockaddr_in *)ss;
    if (addr_text(env, c, AF_INET, &sa->sin_addr, addr) != 0) return -1;
    p = ntohs(sa->sin_port);
  } else {
    return -1;
  }
  return napi_create_int32(env, p, port) == napi_ok ? 0 : -1;
}

/* The packet-information control message of a received datagram. IPv4 gives the address as
 * ipi_spec_dst: the destination when it was one of ours, else (a broadcast) the arrival
 * interface's address, which is the one a reply can come from. A truncated or missing control
 * leaves family 0: the reply then goes out with the kernel's choice, as before. */
static void local_of(const struct msghdr *h, local_src *out) {
  out->family = 0;
  out->ifindex = 0;
  if (h->msg_flags & MSG_CTRUNC) return;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR((struct msghdr *)h, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
      struct in_pktinfo info;
      memcpy(&info, CMSG_DATA(c), sizeof info);
      out->family = AF_INET;
      memcpy(out->addr, &info.ipi_spec_dst, 4);
      out->ifindex = (uint32_t)info.ipi_ifindex;
      return;
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
        c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
      struct in6_pktinfo info;
      memcpy(&info, CMSG_DATA(c), sizeof info);
      out->family = AF_INET6;
      memcpy(out->addr, &info.ipi6_addr, 16);
      out->ifindex = info.ipi6_ifindex;
      return;
    }
  }
}

static void udp_drain(poll_reader *r, int status) {
  udp_read_state *st = (udp_read_state *)r->state;
  napi_env env = r->env;
  if (status < 0) {
    int err = -status, soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr != 0) err = soerr;
    poll_reader_deliver_error(r, err);
    return;
  }

  /* Flat: [msg, address, port, localAddress, localIfindex, msg, ...], one array per event;
   * localAddress and localIfindex undefined when the kernel said nothing. */
  napi_value batch, none;
  uint32_t count = 0;
  int err = 0;
  addr_text_cache remote_cache = {0}, local_cache = {0};
  if (napi_create_array(env, &batch) != napi_ok || napi_get_undefined(env, &none) != napi_ok) return;
  for (int round = 0; round < MAX_BATCHES_PER_EVENT; round++) {
    for (int i = 0; i < SLOTS; i++) {
      st->iov[i].iov_base = st->slots[i];
      st->iov[i].iov_len = SLOT_LEN;
      memset(&st->msgs[i].msg_hdr, 0, sizeof st->msgs[i].msg_hdr);
      st->msgs[i].msg_hdr.msg_iov = &st->iov[i];
      st->msgs[i].msg_hdr.msg_iovlen = 1;
      st->msgs[i].msg_hdr.msg_name = &st->from[i];
      st->msgs[i].msg_hdr.msg_namelen = sizeof st->from[i];
      st->msgs[i].msg_hdr.msg_control = st->ctrl[i].buf;
      st->msgs[i].msg_hdr.msg_controllen = sizeof st->ctrl[i].buf;
    }
    int n = recvmmsg(r->fd, st->msgs, SLOTS, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      /* ECONNREFUSED and friends are ICMP errors of earlier sends: not this socket's fault. */
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED && errno != EHOSTUNREACH &&
          errno != ENETUNREACH) {
        err = errno;
      }
      break;
    }
    for (int i = 0; i < n; i++) {
      napi_value msg, addr, port, local = none, ifindex = none;
      local_src src;
      local_of(&st->msgs[i].msg_hdr, &src);
      if (src.family != 0 && src.family == st->from[i].ss_family &&
          (addr_text(env, &local_cache, src.family, src.addr, &local) != 0 ||
           napi_create_uint32(env, src.ifindex, &ifindex) != napi_ok)) {
        continue;
      }
      if (napi_create_buffer_copy(env, st->msgs[i].msg_len, st->slots[i], NULL, &msg) != napi_ok ||
          peer_to_js(env, &remote_cache, &st->from[i], &addr, &port) != 0 ||
          napi_set_element(env, batch, count, msg) != napi_ok || napi_set_element(env, batch, count + 1, addr) != napi_ok ||
          napi_set_element(env, batch, count + 2, port) != napi_ok ||
          napi_set_element(env, batch, count + 3, local) != napi_ok ||
          napi_set_element(env, batch, count + 4, ifindex) != napi_ok) {
        continue;
      }
      count += 5;
    }
    if (n < SLOTS) break;
  }
  poll_reader_finish(r, batch, count, err);
}

/* udpStartReading(fd, callback) -> handle (stop it with stopReading) */
static napi_value js_udp_start_reading(napi_env env, napi_callback_info info) {
  return poll_reader_js_start(env, info, "udpStartReading", "wgmpls:UdpRead", udp_drain, sizeof(udp_read_state));
}

/* Makes `data` the one control message of h, at c (the start of h's control buffer). */
static void put_cmsg(struct msghdr *h, struct cmsghdr *c, int level, int type, const void *data, size_t len) {
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(len);
  memcpy(CMSG_DATA(c), data, len);
  h->msg_controllen = CMSG_SPACE(len);
}

/* Names the source of one datagram in h's control buffer: 0, or -1 when `local` is not an
 * address of `family`. IPv4 fixes only the address (ipi_spec_dst) and leaves the interface to
 * the route, so a peer whose packets come in on one interface and whose route leaves by another
 * is still answered (forcing the arrival interface would send on a link the peer may not be on).
 * IPv6 also names the interface: a link-local source needs it as its scope, and for a global
 * destination the kernel takes it only as a preference. */
static int set_source(struct msghdr *h, ctrl_buf *ctrl, int family, const char *local, uint32_t ifindex) {
  memset(ctrl, 0, sizeof *ctrl);
  h->msg_control = ctrl->buf;
  struct cmsghdr *c = (struct cmsghdr *)ctrl->buf;
  if (family == AF_INET6) {
    struct in6_pktinfo info = {.ipi6_ifindex = ifindex};
    if (inet_pton(AF_INET6, local, &info.ipi6_addr) != 1) return -1;
    put_cmsg(h, c, IPPROTO_IPV6, IPV6_PKTINFO, &info, sizeof info);
    return 0;
  }
  struct in_pktinfo info = {.ipi_ifindex = 0};
  if (inet_pton(AF_INET, local, &info.ipi_spec_dst) != 1) return -1;
  put_cmsg(h, c, IPPROTO_IP, IP_PKTINFO, &info, sizeof info);
  return 0;
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
  if (port < 0 || port > 65535 || parse_addr(address, port, &ss, &sslen) != 0) {
    n = -EINVAL;
  } else {
    int fd = ss.ss_family == AF_INET6 ? fd6 : fd4;
    struct iovec iov = {.iov_base = data, .iov_len = len};
    struct msghdr h = {.msg_name = &ss, .msg_namelen = sslen, .msg_iov = &iov, .msg_iovlen = 1};
    ctrl_buf ctrl;
    if (fd < 0) {
      n = -EAFNOSUPPORT;
    } else if (local[0] != '\0' && set_source(&h, &ctrl, ss.ss_family, local, ifindex) != 0) {
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


/* ---------------------------------------------------------------------------------------------- */
/* The batched path: UDP GRO in, UDP GSO out.
 *
 * Reading: UDP_GRO lets the kernel hand over a run of datagrams of one flow as one buffer with
 * their size in a control message (a sender's GSO burst arrives whole). The slots are an arena
 * the caller owns; JS hears of a recvmmsg round once, with (offset, length, endpoint) per
 * datagram and the distinct endpoints of the round, and must not keep views into the arena past
 * the callback. Sending: a run of equal-sized datagrams (the last may be shorter) leaves in one
 * sendmsg with UDP_SEGMENT; the kernel, or the NIC, cuts it. */

#define BATCH_DESC_WORDS 3
/* What one UDP_SEGMENT send may carry: the kernel's UDP_MAX_SEGMENTS before 6.x, and an IP
 * length. */
#define GSO_MAX_SEGS 64
#define GSO_MAX_BYTES 65000

typedef struct {
  struct mmsghdr msgs[SLOTS];
  struct iovec iov[SLOTS];
  struct sockaddr_storage from[SLOTS];
  ctrl_buf ctrl[SLOTS];
  uint8_t *arena;
  uint32_t *desc;
  size_t desc_cap; /* datagrams */
} udp_batch_state;

static int gro_size_of(const struct msghdr *h) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR((struct msghdr *)h, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int size;
      memcpy(&size, CMSG_DATA(c), sizeof size);
      return size;
    }
  }
  return 0;
}

/* The index of (from, local) among the round's endpoints, adding it when new; -1 on failure. */
static int endpoint_index(napi_env env, napi_value list, uint32_t *count, struct sockaddr_storage *seen_from,
                          local_src *seen_local, addr_text_cache *rc, addr_text_cache *lc, const struct sockaddr_storage *from,
                          const local_src *local, napi_value none) {
  socklen_t n = from->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  for (uint32_t e = 0; e < *count; e++) {
    if (memcmp(&seen_from[e], from, n) == 0 && seen_local[e].family == local->family &&
        seen_local[e].ifindex == local->ifindex && memcmp(seen_local[e].addr, local->addr, 16) == 0) {
      return (int)e;
    }
  }
  if (*count >= SLOTS) return -1;
  napi_value addr, port, laddr = none, lif = none;
  if (peer_to_js(env, rc, from, &addr, &port) != 0) return -1;
  if (local->family != 0 && local->family == from->ss_family &&
      (addr_text(env, lc, local->family, local->addr, &laddr) != 0 || napi_create_uint32(env, local->ifindex, &lif) != napi_ok)) {
    return -1;
  }
  uint32_t base = *count * 4;
  if (napi_set_element(env, list, base, addr) != napi_ok || napi_set_element(env, list, base + 1, port) != napi_ok ||
      napi_set_element(env, list, base + 2, laddr) != napi_ok || napi_set_element(env, list, base + 3, lif) != napi_ok) {
    return -1;
  }
  memcpy(&seen_from[*count], from, sizeof *from);
  seen_local[*count] = *local;
  return (int)(*count)++;
}

static void udp_batch_drain(poll_reader *r, int status) {
  udp_batch_state *st = (udp_batch_state *)r->state;
  napi_env env = r->env;
  if (status < 0) {
    int err = -status, soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr != 0) err = soerr;
    poll_reader_deliver_error(r, err);
    return;
  }
  int err = 0;
  for (int round = 0; round < MAX_BATCHES_PER_EVENT; round++) {
    for (int i = 0; i < SLOTS; i++) {
      st->iov[i].iov_base = st->arena + (size_t)i * SLOT_LEN;
      st->iov[i].iov_len = SLOT_LEN;
      memset(&st->msgs[i].msg_hdr, 0, sizeof st->msgs[i].msg_hdr);
      st->msgs[i].msg_hdr.msg_iov = &st->iov[i];
      st->msgs[i].msg_hdr.msg_iovlen = 1;
      st->msgs[i].msg_hdr.msg_name = &st->from[i];
      st->msgs[i].msg_hdr.msg_namelen = sizeof st->from[i];
      st->msgs[i].msg_hdr.msg_control = st->ctrl[i].buf;
      st->msgs[i].msg_hdr.msg_controllen = sizeof st->ctrl[i].buf;
    }
    int n = recvmmsg(r->fd, st->msgs, SLOTS, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED && errno != EHOSTUNREACH &&
          errno != ENETUNREACH) {
        err = errno;
      }
      break;
    }
    napi_value endpoints, none, argv[2];
    if (napi_create_array(env, &endpoints) != napi_ok || napi_get_undefined(env, &none) != napi_ok) return;
    struct sockaddr_storage seen_from[SLOTS];
    local_src seen_local[SLOTS];
    addr_text_cache rc = {0}, lc = {0};
    uint32_t nep = 0, count = 0;
    for (int i = 0; i < n; i++) {
      local_src src;
      memset(&src, 0, sizeof src);
      local_of(&st->msgs[i].msg_hdr, &src);
      int ep = endpoint_index(env, endpoints, &nep, seen_from, seen_local, &rc, &lc, &st->from[i], &src, none);
      if (ep < 0) continue;
      size_t total = st->msgs[i].msg_len, seg = (size_t)gro_size_of(&st->msgs[i].msg_hdr);
      if (seg == 0 || seg > total) seg = total;
      for (size_t off = 0; off < total && count < st->desc_cap; off += seg) {
        uint32_t *d = st->desc + (size_t)count * BATCH_DESC_WORDS;
        d[0] = (uint32_t)((size_t)i * SLOT_LEN + off);
        d[1] = (uint32_t)(total - off < seg ? total - off : seg);
        d[2] = (uint32_t)ep;
        count++;
        if (total == 0) break;
      }
    }
    if (count > 0) {
      if (napi_create_uint32(env, count, &argv[0]) != napi_ok) return;
      argv[1] = endpoints;
      if (poll_reader_deliver(r, 2, argv) != 0) return;
    }
    if (n < SLOTS) break;
  }
  if (err != 0) {
    if (poll_reader_is_fatal(err)) uv_poll_stop(&r->poll);
    poll_reader_deliver_error(r, err);
  }
}

/* udpStartReadingBatch(fd, arena, desc, callback) -> handle (stop it with stopReading).
 * Turns UDP GRO on for the socket (where the kernel has it). arena: 16 slots of 64 KiB; desc:
 * 3 words per datagram. callback(count, endpoints) or (null, errnoName). */
static napi_value js_udp_start_reading_batch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t fd;
  void *arena, *desc;
  size_t arena_len, desc_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 4) {
    throw_type(env, "udpStartReadingBatch(fd, arena, desc, callback) needs four arguments");
    return NULL;
  }
  if (arg_int32(env, argv[0], "fd", &fd) != 0 || arg_bytes(env, argv[1], "arena", &arena, &arena_len) != 0 ||
      arg_typed_u32(env, argv[2], "desc", &desc, &desc_len) != 0) {
    return NULL;
  }
  if (arena_len < (size_t)SLOTS * SLOT_LEN || desc_len < (size_t)SLOTS * 64 * BATCH_DESC_WORDS) {
    throw_type(env, "arena must hold 16 x 64 KiB and desc 1024 datagrams");
    return NULL;
  }
  int one = 1;
  /* Best effort: without it (kernels before 5.0) every datagram simply comes on its own. */
  setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one);
  udp_batch_state *st = malloc(sizeof *st);
  if (st == NULL) {
    throw_errno(env, ENOMEM, "udpStartReadingBatch");
    return NULL;
  }
  st->arena = arena;
  st->desc = desc;
  st->desc_cap = desc_len / BATCH_DESC_WORDS;
  return poll_reader_start(env, fd, argv[3], "wgmpls:UdpReadBatch", udp_batch_drain, st);
}

/* Appends a UDP_SEGMENT control message after whatever h's control buffer holds. */
static void add_segment(struct msghdr *h, ctrl_buf *ctrl, int have_source, int seg) {
  if (!have_source) {
    memset(ctrl, 0, sizeof *ctrl);
    h->msg_control = ctrl->buf;
    h->msg_controllen = 0;
  }
  struct cmsghdr *c = (struct cmsghdr *)(ctrl->buf + h->msg_controllen);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  uint16_t size = (uint16_t)seg;
  memcpy(CMSG_DATA(c), &size, sizeof size);
  h->msg_controllen += CMSG_SPACE(sizeof(uint16_t));
}

static ssize_t sendmsg_retry(int fd, struct msghdr *h) {
  ssize_t n;
  do {
    n = sendmsg(fd, h, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return n;
}

/* udpSendBatch(fd4, fd6, address, port, localAddress, localIfindex, buf, lens, count)
 *   -> datagrams sent, or -errno when none was. The datagrams lie back to back in buf with the
 * lengths in lens; source as for udpSend. A kernel refusing UDP_SEGMENT gets them one by one. */
static napi_value js_udp_send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  int32_t fd4, fd6, port;
  uint32_t ifindex, count;
  char address[INET6_ADDRSTRLEN], local[INET6_ADDRSTRLEN];
  void *bufv, *lensv;
  size_t buf_len, lens_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 9) {
    throw_type(env, "udpSendBatch(fd4, fd6, address, port, localAddress, localIfindex, buf, lens, count) needs nine arguments");
    return NULL;
  }
  if (arg_int32(env, argv[0], "fd4", &fd4) != 0 || arg_int32(env, argv[1], "fd6", &fd6) != 0 ||
      arg_string(env, argv[2], "address", address, sizeof address) != 0 || arg_int32(env, argv[3], "port", &port) != 0 ||
      arg_string(env, argv[4], "localAddress", local, sizeof local) != 0 ||
      arg_uint32(env, argv[5], "localIfindex", &ifindex) != 0 || arg_bytes(env, argv[6], "buf", &bufv, &buf_len) != 0 ||
      arg_typed_u32(env, argv[7], "lens", &lensv, &lens_len) != 0 || arg_uint32(env, argv[8], "count", &count) != 0) {
    return NULL;
  }
  const uint32_t *lens = lensv;
  size_t need = 0;
  if (count > lens_len) {
    throw_type(env, "count exceeds lens");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) need += lens[i];
  if (need > buf_len) {
    throw_type(env, "lens exceed buf");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sslen;
  int64_t result;
  if (port < 0 || port > 65535 || parse_addr(address, port, &ss, &sslen) != 0) {
    result = -EINVAL;
  } else {
    int fd = ss.ss_family == AF_INET6 ? fd6 : fd4;
    int have_source = local[0] != '\0';
    uint32_t sent = 0;
    int first_err = 0;
    static int gso_refused = 0; /* once refused, this process stops asking */
    size_t off = 0;
    ctrl_buf ctrl;
    if (fd < 0) {
      result = -EAFNOSUPPORT;
      goto out;
    }
    for (uint32_t i = 0; i < count;) {
      uint32_t j = i + 1, seg = lens[i];
      size_t total = seg;
      while (!gso_refused && j < count && j - i < GSO_MAX_SEGS && lens[j] == seg && total + seg <= GSO_MAX_BYTES) total += lens[j++];
      if (!gso_refused && j < count && j - i < GSO_MAX_SEGS && lens[j] < seg && total + lens[j] <= GSO_MAX_BYTES) total += lens[j++];
      struct iovec iov = {.iov_base = (uint8_t *)bufv + off, .iov_len = total};
      struct msghdr h = {.msg_name = &ss, .msg_namelen = sslen, .msg_iov = &iov, .msg_iovlen = 1};
      if (have_source && set_source(&h, &ctrl, ss.ss_family, local, ifindex) != 0) {
        result = -EINVAL;
        goto out;
      }
      ssize_t n = -1;
      if (j - i > 1) {
        add_segment(&h, &ctrl, have_source, (int)seg);
        n = sendmsg_retry(fd, &h);
        if (n < 0 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP)) {
          gso_refused = errno != EINVAL || !have_source; /* EINVAL with a source may be the source's fault */
          if (!gso_refused) {
            if (first_err == 0) first_err = errno;
            off += total;
            i = j;
            continue;
          }
          j = i + 1; /* one by one from here */
          total = seg;
          iov.iov_len = total;
          h.msg_controllen = 0;
          if (have_source) set_source(&h, &ctrl, ss.ss_family, local, ifindex);
          else h.msg_control = NULL;
          n = sendmsg_retry(fd, &h);
        }
      } else {
        n = sendmsg_retry(fd, &h);
      }
      if (n >= 0) {
        sent += j - i;
      } else if (first_err == 0) {
        first_err = errno;
      }
      off += total;
      i = j;
    }
    result = sent > 0 || count == 0 ? (int64_t)sent : -(int64_t)first_err;
  }
out:;
  napi_value v;
  if (napi_create_int64(env, result, &v) != napi_ok) return NULL;
  return v;
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
      export_fn(env, exports, "udpStartReading", js_udp_start_reading) != 0 ||
      export_fn(env, exports, "udpSend", js_udp_send) != 0 || export_fn(env, exports, "udpSetMark", js_udp_set_mark) != 0 ||
      export_fn(env, exports, "udpClose", js_close_fd) != 0 ||
      export_fn(env, exports, "udpStartReadingBatch", js_udp_start_reading_batch) != 0 ||
      export_fn(env, exports, "udpSendBatch", js_udp_send_batch) != 0) {
    return -1;
  }
  return 0;
}
