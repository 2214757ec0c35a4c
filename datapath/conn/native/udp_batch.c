/*
 * The UDP underlay's batched path (see udp.c for the sockets and the sticky source).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <node_api.h>
#include <uv.h>

#include "../../native/napi_util.h"
#include "../../native/poll_reader.h"
#include "udp_common.h"

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
  /* The source of the last round that had only one, whose endpoint list the reader keeps in
   * KEEP_LAST_LIST: a round from that source again (at ping rates, every round) hands JS the
   * same list instead of building its address strings anew. */
  int have_last;
  struct sockaddr_storage last_from;
  local_src last_local;
} udp_batch_state;

/* The reader's keep slots: the arena, the descriptors, the last round's endpoint list. */
#define KEEP_LAST_LIST 2

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

static int same_source(const struct sockaddr_storage *a, const local_src *al, const struct sockaddr_storage *b, const local_src *bl) {
  socklen_t n = b->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  return a->ss_family == b->ss_family && memcmp(a, b, n) == 0 && al->family == bl->family && al->ifindex == bl->ifindex &&
         memcmp(al->addr, bl->addr, 16) == 0;
}

/* The index of (from, local) among the round's endpoints, adding it when new; -1 on failure. */
static int endpoint_index(napi_env env, napi_value list, uint32_t *count, struct sockaddr_storage *seen_from,
                          local_src *seen_local, addr_text_cache *rc, addr_text_cache *lc, const struct sockaddr_storage *from,
                          const local_src *local, napi_value none) {
  for (uint32_t e = 0; e < *count; e++) {
    if (same_source(&seen_from[e], &seen_local[e], from, local)) return (int)e;
  }
  if (*count >= SLOTS) return -1;
  napi_value addr, port, laddr = none, lif = none;
  if (udp_peer_to_js(env, rc, from, &addr, &port) != 0) return -1;
  if (local->family != 0 && local->family == from->ss_family &&
      (udp_addr_text(env, lc, local->family, local->addr, &laddr) != 0 || napi_create_uint32(env, local->ifindex, &lif) != napi_ok)) {
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
    local_src locals[SLOTS];
    int repeat = st->have_last;
    for (int i = 0; i < n; i++) {
      memset(&locals[i], 0, sizeof locals[i]);
      udp_local_of(&st->msgs[i].msg_hdr, &locals[i]);
      if (repeat && !same_source(&st->last_from, &st->last_local, &st->from[i], &locals[i])) repeat = 0;
    }
    napi_value endpoints = repeat ? poll_reader_keep_get(r, KEEP_LAST_LIST) : NULL;
    napi_value none, argv[2];
    if (endpoints == NULL) repeat = 0;
    if (napi_get_undefined(env, &none) != napi_ok) return;
    if (!repeat && napi_create_array(env, &endpoints) != napi_ok) return;
    struct sockaddr_storage seen_from[SLOTS];
    local_src seen_local[SLOTS];
    addr_text_cache rc = {0}, lc = {0};
    uint32_t nep = 0, count = 0;
    if (repeat) {
      /* Every datagram is from the kept list's only endpoint. */
      memcpy(&seen_from[0], &st->last_from, sizeof st->last_from);
      seen_local[0] = st->last_local;
      nep = 1;
    }
    for (int i = 0; i < n; i++) {
      int ep = endpoint_index(env, endpoints, &nep, seen_from, seen_local, &rc, &lc, &st->from[i], &locals[i], none);
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
    if (!repeat) {
      /* Kept for the next round when this one had a single source; forgotten otherwise. */
      st->have_last = nep == 1 && poll_reader_keep_set(r, KEEP_LAST_LIST, endpoints) == 0;
      if (st->have_last) {
        memcpy(&st->last_from, &seen_from[0], sizeof st->last_from);
        st->last_local = seen_local[0];
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
  st->have_last = 0;
  return poll_reader_start(env, fd, argv[3], "wgmpls:UdpReadBatch", udp_batch_drain, st, &argv[1], 2);
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
  if (port < 0 || port > 65535 || udp_parse_addr(address, port, &ss, &sslen) != 0) {
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
      if (have_source && udp_set_source(&h, &ctrl, ss.ss_family, local, ifindex) != 0) {
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
          if (have_source) udp_set_source(&h, &ctrl, ss.ss_family, local, ifindex);
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

int udp_batch_register(napi_env env, napi_value exports) {
  if (export_fn(env, exports, "udpStartReadingBatch", js_udp_start_reading_batch) != 0 ||
      export_fn(env, exports, "udpSendBatch", js_udp_send_batch) != 0) {
    return -1;
  }
  return 0;
}
