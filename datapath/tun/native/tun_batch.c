/*
 * The TUN's batched path (a TUN opened with IFF_VNET_HDR and offloads, see tun.c's set_offloads).
 *
 * Why: with TSO on, one read hands over up to 64 KiB of a TCP stream. It is split here into
 * MTU-sized packets (offload.c) straight into an arena the JS side owns, and JS hears of the whole
 * read event once, with a descriptor per packet; so the protocol code runs per batch, not per
 * packet, and nothing is allocated per packet. The other way, decrypted packets are joined into
 * superpackets (GRO, offload.c) and written with one writev each.
 *
 * The arena and descriptor arrays belong to the caller, who must not keep views into them past a
 * callback: they are overwritten by the next read event. The reader holds a reference to both
 * until it is stopped, so they cannot be collected while it may still write into them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include "../../native/napi_util.h"
#include "../../native/poll_reader.h"
#include "offload.h"
#include "../../native/module.h"

#define PI_LEN 4
#define ETH_P_MPLS_UC 0x8847
#define ETH_P_MPLS_MC 0x8848
/* Bounded so one busy TUN cannot starve timers and other fds on the loop. */
#define MAX_READS_PER_EVENT 64
/* Descriptor words per packet read: offset, length, ethertype, group size (on a group's first
 * packet: how many packets came from that one read; 0 on the others). */
#define READ_DESC_WORDS 4
/* Descriptor words per packet to write: offset, length, ethertype. */
#define WRITE_DESC_WORDS 3
#define MAX_WRITE_PACKETS 4096

typedef struct {
  int vnet;
  uint8_t *arena;
  size_t arena_len;
  uint32_t *desc;
  size_t desc_cap; /* packets */
  uint32_t dropped;
  uint32_t segs[2 * 1024];
  uint8_t scratch[PI_LEN + sizeof(struct virtio_net_hdr) + 65536];
} tun_batch_state;

/* callback(count, dropped); 0 if the reader is still open afterwards. */
static int deliver(poll_reader *r, tun_batch_state *st, uint32_t count) {
  napi_value argv[2];
  if (napi_create_uint32(r->env, count, &argv[0]) != napi_ok || napi_create_uint32(r->env, st->dropped, &argv[1]) != napi_ok) {
    return -1;
  }
  st->dropped = 0;
  return poll_reader_deliver(r, 2, argv);
}

static void tun_batch_drain(poll_reader *r, int status) {
  tun_batch_state *st = (tun_batch_state *)r->state;
  if (status < 0) {
    ssize_t n = read(r->fd, st->scratch, sizeof st->scratch);
    int err = n < 0 && errno != EAGAIN && errno != EINTR ? errno : -status;
    uv_poll_stop(&r->poll);
    poll_reader_deliver_error(r, err);
    return;
  }
  size_t head = PI_LEN + (st->vnet ? VNET_HDR_LEN : 0), cursor = 0;
  uint32_t count = 0;
  int err = 0;
  for (int reads = 0; reads < MAX_READS_PER_EVENT; reads++) {
    ssize_t n = read(r->fd, st->scratch, sizeof st->scratch);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      break;
    }
    if (n == 0) break;
    if ((size_t)n < head) {
      st->dropped++;
      continue;
    }
    uint32_t proto = ((uint32_t)st->scratch[2] << 8) | st->scratch[3];
    struct virtio_net_hdr h;
    memset(&h, 0, sizeof h);
    if (st->vnet) memcpy(&h, st->scratch + PI_LEN, VNET_HDR_LEN);
    /* Label stacks are not segmented here: the kernel segments MPLS itself (a TUN offers no
     * MPLS offloads), so a GSO MPLS frame is malformed. */
    if ((proto == ETH_P_MPLS_UC || proto == ETH_P_MPLS_MC) && h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
      st->dropped++;
      continue;
    }
    const uint8_t *pkt = st->scratch + head;
    size_t len = (size_t)n - head;
    int segs = SPLIT_NO_ROOM;
    for (int attempt = 0; attempt < 2 && segs == SPLIT_NO_ROOM; attempt++) {
      if (attempt == 1) {
        /* Full: what is there goes up first, then this read gets the whole arena. */
        if (count == 0 || deliver(r, st, count) != 0) break;
        cursor = 0;
        count = 0;
      }
      size_t room = st->desc_cap - count;
      segs = offload_split(pkt, len, &h, st->arena + cursor, st->arena_len - cursor, st->segs, room > 1024 ? 1024 : (int)room);
    }
    if (r->closing) return;
    if (segs < 0) {
      st->dropped++;
      continue;
    }
    uint32_t *d = st->desc + (size_t)count * READ_DESC_WORDS;
    size_t end = cursor;
    for (int k = 0; k < segs; k++, d += READ_DESC_WORDS) {
      d[0] = (uint32_t)(cursor + st->segs[2 * k]);
      d[1] = st->segs[2 * k + 1];
      d[2] = proto;
      d[3] = k == 0 ? (uint32_t)segs : 0;
      end = d[0] + d[1];
    }
    cursor = end;
    count += (uint32_t)segs;
  }
  int still_open = count > 0 || st->dropped > 0 ? deliver(r, st, count) == 0 : !r->closing;
  if (still_open && err != 0) {
    if (poll_reader_is_fatal(err)) uv_poll_stop(&r->poll);
    poll_reader_deliver_error(r, err);
  }
}

/* startReadingBatch(fd, vnet, arena, desc, callback) -> handle (stop it with stopReading). */
static napi_value js_start_reading_batch(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t fd;
  uint32_t vnet;
  void *arena, *desc;
  size_t arena_len, desc_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 5) {
    throw_type(env, "startReadingBatch(fd, vnet, arena, desc, callback) needs five arguments");
    return NULL;
  }
  if (arg_int32(env, argv[0], "fd", &fd) != 0 || arg_uint32(env, argv[1], "vnet", &vnet) != 0 ||
      arg_bytes(env, argv[2], "arena", &arena, &arena_len) != 0 || arg_typed_u32(env, argv[3], "desc", &desc, &desc_len) != 0) {
    return NULL;
  }
  if (arena_len < 65536 + 1024 || desc_len < 1024 * READ_DESC_WORDS) {
    throw_type(env, "arena must hold at least 65 KiB and desc 1024 packets");
    return NULL;
  }
  tun_batch_state *st = malloc(sizeof *st);
  if (st == NULL) {
    throw_errno(env, ENOMEM, "startReadingBatch");
    return NULL;
  }
  st->vnet = vnet != 0;
  st->arena = arena;
  st->arena_len = arena_len;
  st->desc = desc;
  st->desc_cap = desc_len / READ_DESC_WORDS;
  st->dropped = 0;
  return poll_reader_start(env, fd, argv[4], "wgmpls:TunReadBatch", tun_batch_drain, st, &argv[2], 2);
}

static ssize_t writev_retry(int fd, struct iovec *iov, int n) {
  ssize_t w;
  do {
    w = writev(fd, iov, n);
  } while (w < 0 && errno == EINTR);
  return w;
}

/* writeBatch(fd, vnet, coalesce, buf, desc, count) -> refused * 256 + errno of the last refusal.
 * desc: (offset, length, ethertype) per packet in buf. With coalesce (needs vnet), consecutive
 * TCP segments of a flow go up as one superpacket; buf's headers of joined packets are rewritten. */
static napi_value js_write_batch(napi_env env, napi_callback_info info) {
  static gro_frame frames[MAX_WRITE_PACKETS];
  static struct iovec iov[1 + 64];
  size_t argc = 6;
  napi_value argv[6];
  int32_t fd;
  uint32_t vnet, coalesce, count;
  void *bufv, *descv;
  size_t buf_len, desc_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 6) {
    throw_type(env, "writeBatch(fd, vnet, coalesce, buf, desc, count) needs six arguments");
    return NULL;
  }
  if (arg_int32(env, argv[0], "fd", &fd) != 0 || arg_uint32(env, argv[1], "vnet", &vnet) != 0 ||
      arg_uint32(env, argv[2], "coalesce", &coalesce) != 0 || arg_bytes(env, argv[3], "buf", &bufv, &buf_len) != 0 ||
      arg_typed_u32(env, argv[4], "desc", &descv, &desc_len) != 0 || arg_uint32(env, argv[5], "count", &count) != 0) {
    return NULL;
  }
  const uint32_t *desc = descv;
  uint8_t *buf = bufv;
  if (count > MAX_WRITE_PACKETS || (size_t)count * WRITE_DESC_WORDS > desc_len) {
    throw_type(env, "count exceeds desc (or 4096 packets)");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    if ((size_t)desc[3 * i] + desc[3 * i + 1] > buf_len) {
      throw_type(env, "a descriptor points outside buf");
      return NULL;
    }
  }
  uint32_t nf;
  if (vnet && coalesce) {
    nf = offload_coalesce(buf, desc, count, frames);
  } else {
    for (uint32_t i = 0; i < count; i++) {
      frames[i].first = i;
      frames[i].count = 1;
      memset(&frames[i].hdr, 0, sizeof frames[i].hdr);
    }
    nf = count;
  }
  uint32_t refused = 0;
  int last_err = 0;
  for (uint32_t f = 0; f < nf; f++) {
    uint8_t head[PI_LEN + sizeof(struct virtio_net_hdr)];
    uint32_t proto = desc[3 * frames[f].first + 2];
    head[0] = head[1] = 0;
    head[2] = (uint8_t)(proto >> 8);
    head[3] = (uint8_t)proto;
    memcpy(head + PI_LEN, &frames[f].hdr, VNET_HDR_LEN);
    iov[0].iov_base = head;
    iov[0].iov_len = PI_LEN + (vnet ? VNET_HDR_LEN : 0);
    for (uint32_t k = 0; k < frames[f].count; k++) {
      size_t off, len;
      offload_frame_piece(buf, desc, frames[f].first + k, k, &off, &len);
      iov[1 + k].iov_base = buf + off;
      iov[1 + k].iov_len = len;
    }
    if (writev_retry(fd, iov, 1 + (int)frames[f].count) < 0) {
      refused += frames[f].count;
      last_err = errno;
    }
  }
  napi_value result;
  if (napi_create_uint32(env, refused * 256 + (uint32_t)(last_err & 0xff), &result) != napi_ok) return NULL;
  return result;
}

/* ---------------------------------------------------------------------------------------------- */
/* Test entry points: the pure offload code on hand-built frames, no TUN needed.                   */

/* offloadSplit(packet, vnetHeader10) -> Buffer[] | number (SPLIT_NO_ROOM / SPLIT_MALFORMED) */
static napi_value js_offload_split(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  void *pkt, *hv;
  size_t len, hlen;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2 || arg_bytes(env, argv[0], "packet", &pkt, &len) != 0 || arg_bytes(env, argv[1], "vnetHeader", &hv, &hlen) != 0) {
    if (argc < 2) throw_type(env, "offloadSplit(packet, vnetHeader) needs two arguments");
    return NULL;
  }
  if (hlen != VNET_HDR_LEN) {
    throw_type(env, "vnetHeader must be 10 bytes");
    return NULL;
  }
  struct virtio_net_hdr h;
  memcpy(&h, hv, VNET_HDR_LEN);
  size_t cap = 4 * 65536;
  uint8_t *out = malloc(cap);
  uint32_t *segs = malloc(2 * 1024 * sizeof *segs);
  napi_value result = NULL;
  if (out == NULL || segs == NULL) {
    throw_errno(env, ENOMEM, "offloadSplit");
    goto done;
  }
  int n = offload_split(pkt, len, &h, out, cap, segs, 1024);
  if (n < 0) {
    napi_create_int32(env, n, &result);
    goto done;
  }
  if (napi_create_array_with_length(env, (size_t)n, &result) != napi_ok) goto done;
  for (int i = 0; i < n; i++) {
    napi_value b;
    if (napi_create_buffer_copy(env, segs[2 * i + 1], out + segs[2 * i], NULL, &b) != napi_ok ||
        napi_set_element(env, result, (uint32_t)i, b) != napi_ok) {
      result = NULL;
      goto done;
    }
  }
done:
  free(out);
  free(segs);
  return result;
}

/* offloadCoalesce(buf, desc, count) -> Buffer[]: each frame as its 10-byte virtio-net header
 * followed by the bytes a write would send. buf is rewritten in place, as writeBatch does. */
static napi_value js_offload_coalesce(napi_env env, napi_callback_info info) {
  static gro_frame frames[MAX_WRITE_PACKETS];
  size_t argc = 3;
  napi_value argv[3];
  void *bufv, *descv;
  size_t buf_len, desc_len;
  uint32_t count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3) {
    throw_type(env, "offloadCoalesce(buf, desc, count) needs three arguments");
    return NULL;
  }
  if (arg_bytes(env, argv[0], "buf", &bufv, &buf_len) != 0 || arg_typed_u32(env, argv[1], "desc", &descv, &desc_len) != 0 ||
      arg_uint32(env, argv[2], "count", &count) != 0) {
    return NULL;
  }
  const uint32_t *desc = descv;
  if (count > MAX_WRITE_PACKETS || (size_t)count * WRITE_DESC_WORDS > desc_len) {
    throw_type(env, "count exceeds desc");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    if ((size_t)desc[3 * i] + desc[3 * i + 1] > buf_len) {
      throw_type(env, "a descriptor points outside buf");
      return NULL;
    }
  }
  uint32_t nf = offload_coalesce(bufv, desc, count, frames);
  napi_value result;
  if (napi_create_array_with_length(env, nf, &result) != napi_ok) return NULL;
  for (uint32_t f = 0; f < nf; f++) {
    size_t total = VNET_HDR_LEN;
    for (uint32_t k = 0; k < frames[f].count; k++) {
      size_t off, len;
      offload_frame_piece(bufv, desc, frames[f].first + k, k, &off, &len);
      total += len;
    }
    void *data;
    napi_value b;
    if (napi_create_buffer(env, total, &data, &b) != napi_ok) return NULL;
    uint8_t *p = data;
    memcpy(p, &frames[f].hdr, VNET_HDR_LEN);
    p += VNET_HDR_LEN;
    for (uint32_t k = 0; k < frames[f].count; k++) {
      size_t off, len;
      offload_frame_piece(bufv, desc, frames[f].first + k, k, &off, &len);
      memcpy(p, (uint8_t *)bufv + off, len);
      p += len;
    }
    if (napi_set_element(env, result, f, b) != napi_ok) return NULL;
  }
  return result;
}

int tun_batch_register(napi_env env, napi_value exports) {
  if (export_fn(env, exports, "startReadingBatch", js_start_reading_batch) != 0 ||
      export_fn(env, exports, "writeBatch", js_write_batch) != 0 ||
      export_fn(env, exports, "offloadSplit", js_offload_split) != 0 ||
      export_fn(env, exports, "offloadCoalesce", js_offload_coalesce) != 0) {
    return -1;
  }
  return 0;
}
