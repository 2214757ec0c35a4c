/*
 * TUN offloads without I/O (see offload.h). Checksums are ones' complement sums taken over the
 * bytes as they lie in memory (RFC 1071's byte-order independence): no swaps per word, the result
 * is stored with memcpy.
 */
#include "offload.h"

#include <string.h>

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80
#define PROTO_TCP 6
#define PROTO_UDP 17
#define ETH_IP 0x0800
#define ETH_IPV6 0x86DD
/* How many segments one written superpacket may join: the kernel takes more, but a frame this
 * size (64 x 1420 bytes) already fills the 64 KiB an IP length can express. */
#define GRO_MAX_SEGS 64

static inline uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t get32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void put16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint64_t sum_bytes(const uint8_t *p, size_t n, uint64_t sum) {
  while (n >= 8) {
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + 4, 4);
    sum += a;
    sum += b;
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    uint32_t a;
    memcpy(&a, p, 4);
    sum += a;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t a;
    memcpy(&a, p, 2);
    sum += a;
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    uint8_t t[2] = {p[0], 0};
    uint16_t a;
    memcpy(&a, t, 2);
    sum += a;
  }
  return sum;
}

static uint16_t fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

uint16_t offload_csum(const uint8_t *p, size_t n, uint32_t initial) { return fold(sum_bytes(p, n, initial)); }

/* The sum of the pseudo-header of the IP packet at `ip` for an L4 part of `l4len` bytes. */
static uint64_t pseudo_sum(const uint8_t *ip, int version, uint8_t proto, uint32_t l4len) {
  uint8_t tail[8] = {0};
  uint64_t sum;
  if (version == 4) {
    sum = sum_bytes(ip + 12, 8, 0);
    tail[1] = proto;
    put16(tail + 2, l4len);
    return sum_bytes(tail, 4, sum);
  }
  sum = sum_bytes(ip + 8, 32, 0);
  put32(tail, l4len);
  tail[7] = proto;
  return sum_bytes(tail, 8, sum);
}

static void store_csum(uint8_t *field, uint16_t folded) { memcpy(field, &folded, 2); }

static void ipv4_header_csum(uint8_t *ip, size_t ihl) {
  ip[10] = ip[11] = 0;
  store_csum(ip + 10, (uint16_t)~offload_csum(ip, ihl, 0));
}

/* The whole L4 checksum of the packet at ip (L4 header at ip + l4off, `l4len` bytes). */
static void l4_full_csum(uint8_t *ip, int version, size_t l4off, uint8_t proto, size_t l4len, size_t field) {
  uint8_t *l4 = ip + l4off;
  l4[field] = l4[field + 1] = 0;
  uint16_t c = (uint16_t)~fold(sum_bytes(l4, l4len, pseudo_sum(ip, version, proto, (uint32_t)l4len)));
  if (proto == PROTO_UDP && c == 0) c = 0xffff; /* 0 means "no checksum" for UDP */
  store_csum(l4 + field, c);
}

static int split_one(const uint8_t *pkt, size_t len, const struct virtio_net_hdr *h, uint8_t *out, size_t cap,
                     uint32_t *segs, int max_segs) {
  if (len > cap || max_segs < 1) return SPLIT_NO_ROOM;
  memcpy(out, pkt, len);
  if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    /* The field already holds the pseudo-header sum: the sum from csum_start on, complemented,
     * is the checksum (what the kernel's skb_checksum_help does). */
    size_t start = h->csum_start, field = (size_t)h->csum_start + h->csum_offset;
    if (start > len || field + 2 > len) return SPLIT_MALFORMED;
    uint16_t c = (uint16_t)~offload_csum(out + start, len - start, 0);
    if (h->csum_offset == 6 && c == 0) c = 0xffff; /* a UDP checksum */
    store_csum(out + field, c);
  }
  segs[0] = 0;
  segs[1] = (uint32_t)len;
  return 1;
}

int offload_split(const uint8_t *pkt, size_t len, const struct virtio_net_hdr *h, uint8_t *out, size_t cap, uint32_t *segs,
                  int max_segs) {
  uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
  if (gso == VIRTIO_NET_HDR_GSO_NONE) return split_one(pkt, len, h, out, cap, segs, max_segs);
  if (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6 && gso != VIRTIO_NET_HDR_GSO_UDP_L4) {
    return SPLIT_MALFORMED;
  }
  if (len < 20) return SPLIT_MALFORMED;
  int version = pkt[0] >> 4;
  if ((gso == VIRTIO_NET_HDR_GSO_TCPV4 && version != 4) || (gso == VIRTIO_NET_HDR_GSO_TCPV6 && version != 6) ||
      (version != 4 && version != 6)) {
    return SPLIT_MALFORMED;
  }
  /* The transport header is where the kernel says the checksum starts (past any IPv6 extension
   * headers); for IPv4 that must be the header length. */
  size_t iph = h->csum_start;
  if (version == 4 && (iph != (size_t)(pkt[0] & 15) * 4 || iph < 20)) return SPLIT_MALFORMED;
  if (version == 6 && iph < 40) return SPLIT_MALFORMED;
  int udp = gso == VIRTIO_NET_HDR_GSO_UDP_L4;
  uint8_t proto = udp ? PROTO_UDP : PROTO_TCP;
  if (iph + (udp ? 8 : 20) > len) return SPLIT_MALFORMED;
  size_t l4h = udp ? 8 : (size_t)(pkt[iph + 12] >> 4) * 4;
  if (l4h < (udp ? 8u : 20u) || iph + l4h > len) return SPLIT_MALFORMED;
  size_t hdr = iph + l4h, payload = len - hdr, mss = h->gso_size;
  if (payload == 0 || mss == 0) {
    struct virtio_net_hdr plain = *h;
    plain.gso_type = VIRTIO_NET_HDR_GSO_NONE;
    return split_one(pkt, len, &plain, out, cap, segs, max_segs);
  }
  size_t nseg = (payload + mss - 1) / mss;
  if (nseg > (size_t)max_segs || nseg * hdr + payload > cap) return SPLIT_NO_ROOM;

  uint32_t seq0 = udp ? 0 : get32(pkt + iph + 4);
  uint16_t id0 = version == 4 ? get16(pkt + 4) : 0;
  size_t pos = 0;
  for (size_t i = 0; i < nseg; i++) {
    size_t seglen = payload - i * mss < mss ? payload - i * mss : mss, total = hdr + seglen;
    uint8_t *o = out + pos;
    memcpy(o, pkt, hdr);
    memcpy(o + hdr, pkt + hdr + i * mss, seglen);
    if (version == 4) {
      put16(o + 2, (uint32_t)total);
      put16(o + 4, (uint16_t)(id0 + i));
      ipv4_header_csum(o, iph);
    } else {
      put16(o + 4, (uint32_t)(total - 40));
    }
    uint8_t *l4 = o + iph;
    if (udp) {
      put16(l4 + 4, (uint32_t)(8 + seglen));
      l4_full_csum(o, version, iph, proto, 8 + seglen, 6);
    } else {
      put32(l4 + 4, seq0 + (uint32_t)(i * mss));
      uint8_t flags = l4[13];
      if (i != nseg - 1) flags &= (uint8_t)~(TCP_FIN | TCP_PSH);
      if (i != 0) flags &= (uint8_t)~TCP_CWR;
      l4[13] = flags;
      l4_full_csum(o, version, iph, proto, l4h + seglen, 16);
    }
    segs[2 * i] = (uint32_t)pos;
    segs[2 * i + 1] = (uint32_t)total;
    pos += total;
  }
  return (int)nseg;
}

/* ---------------------------------------------------------------------------------------------- */
/* Coalescing                                                                                      */

typedef struct {
  int version;
  size_t iph, tcph, hdr, payload;
  uint32_t seq;
  uint8_t flags;
} tcp_seg;

/* A plain TCP segment with data that GRO may join: no IPv4 options or fragments, no IPv6
 * extension headers, only ACK (and PSH) set, lengths that match the buffer, a valid checksum (a
 * joined frame's checksum is recomputed by the kernel, so a bad one must not be hidden in it). */
static int tcp_candidate(const uint8_t *b, size_t len, uint32_t proto, tcp_seg *s) {
  if (proto == ETH_IP) {
    if (len < 40 || b[0] != 0x45 || get16(b + 2) != len || (get16(b + 6) & 0x3fff) != 0 || b[9] != PROTO_TCP) return 0;
    s->version = 4;
    s->iph = 20;
  } else if (proto == ETH_IPV6) {
    if (len < 60 || (b[0] >> 4) != 6 || b[6] != PROTO_TCP || (size_t)get16(b + 4) + 40 != len) return 0;
    s->version = 6;
    s->iph = 40;
  } else {
    return 0;
  }
  s->tcph = (size_t)(b[s->iph + 12] >> 4) * 4;
  s->hdr = s->iph + s->tcph;
  if (s->tcph < 20 || s->hdr >= len) return 0;
  s->payload = len - s->hdr;
  s->flags = b[s->iph + 13];
  if (!(s->flags & TCP_ACK) || (s->flags & (uint8_t)~(TCP_ACK | TCP_PSH))) return 0;
  s->seq = get32(b + s->iph + 4);
  uint64_t sum = sum_bytes(b + s->iph, len - s->iph, pseudo_sum(b, s->version, PROTO_TCP, (uint32_t)(len - s->iph)));
  return fold(sum) == 0xffff;
}

/* Same flow and same everything GRO must keep: IP fields other than length/id/checksum, ports,
 * ack, window, options. */
static int same_flow(const uint8_t *a, const tcp_seg *sa, const uint8_t *b, const tcp_seg *sb) {
  if (sa->version != sb->version || sa->tcph != sb->tcph) return 0;
  if (sa->version == 4) {
    if (a[1] != b[1] || a[8] != b[8] || get16(a + 6) != get16(b + 6) || memcmp(a + 12, b + 12, 8) != 0) return 0;
  } else {
    if (memcmp(a, b, 4) != 0 || a[7] != b[7] || memcmp(a + 8, b + 8, 32) != 0) return 0;
  }
  const uint8_t *ta = a + sa->iph, *tb = b + sb->iph;
  return memcmp(ta, tb, 4) == 0 && memcmp(ta + 8, tb + 8, 4) == 0 && memcmp(ta + 14, tb + 14, 2) == 0 &&
         memcmp(ta + 20, tb + 20, sa->tcph - 20) == 0;
}

typedef struct {
  tcp_seg first;
  uint8_t *first_bytes;
  size_t total;      /* payload bytes joined so far */
  uint32_t next_seq; /* the sequence number the next segment must have */
  int ended;         /* PSH seen, or a short segment: nothing more may follow */
} gro_state;

/* Rewrites the first packet's headers for a frame of several segments and fills its header. */
static void finish_frame(gro_state *g, gro_frame *f) {
  uint8_t *b = g->first_bytes;
  const tcp_seg *s = &g->first;
  memset(&f->hdr, 0, sizeof f->hdr);
  if (f->count < 2) return;
  size_t l4len = s->tcph + g->total;
  if (s->version == 4) {
    put16(b + 2, (uint32_t)(s->iph + l4len));
    ipv4_header_csum(b, s->iph);
  } else {
    put16(b + 4, (uint32_t)l4len);
  }
  uint8_t *tcp = b + s->iph;
  /* The kernel completes the checksum (NEEDS_CSUM): the field holds the pseudo-header sum. */
  store_csum(tcp + 16, fold(pseudo_sum(b, s->version, PROTO_TCP, (uint32_t)l4len)));
  f->hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  f->hdr.gso_type = s->version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
  f->hdr.hdr_len = (uint16_t)s->hdr;
  f->hdr.gso_size = (uint16_t)s->payload;
  f->hdr.csum_start = (uint16_t)s->iph;
  f->hdr.csum_offset = 16;
}

uint32_t offload_coalesce(uint8_t *buf, const uint32_t *desc, uint32_t n, gro_frame *frames) {
  uint32_t nf = 0;
  gro_state g;
  int open = 0; /* frames[nf - 1] may still take segments */
  for (uint32_t i = 0; i < n; i++) {
    uint8_t *b = buf + desc[3 * i];
    size_t len = desc[3 * i + 1];
    tcp_seg s;
    int cand = tcp_candidate(b, len, desc[3 * i + 2], &s);
    if (open && cand && !g.ended && frames[nf - 1].count < GRO_MAX_SEGS && s.seq == g.next_seq &&
        s.payload <= g.first.payload && (s.version == 4 ? s.hdr : s.tcph) + g.total + s.payload <= 65535 &&
        same_flow(g.first_bytes, &g.first, b, &s)) {
      frames[nf - 1].count++;
      g.total += s.payload;
      g.next_seq = s.seq + (uint32_t)s.payload;
      if (s.flags & TCP_PSH) {
        g.ended = 1;
        g.first_bytes[g.first.iph + 13] |= TCP_PSH;
      }
      if (s.payload < g.first.payload) g.ended = 1;
      continue;
    }
    if (open) finish_frame(&g, &frames[nf - 1]);
    frames[nf].first = i;
    frames[nf].count = 1;
    nf++;
    open = cand;
    if (cand) {
      g.first = s;
      g.first_bytes = b;
      g.total = s.payload;
      g.next_seq = s.seq + (uint32_t)s.payload;
      g.ended = (s.flags & TCP_PSH) != 0;
    } else {
      memset(&frames[nf - 1].hdr, 0, sizeof frames[nf - 1].hdr);
    }
  }
  if (open) finish_frame(&g, &frames[nf - 1]);
  return nf;
}

void offload_frame_piece(const uint8_t *buf, const uint32_t *desc, uint32_t i, uint32_t k, size_t *off, size_t *len) {
  *off = desc[3 * i];
  *len = desc[3 * i + 1];
  if (k == 0) return;
  const uint8_t *b = buf + *off;
  size_t iph = (b[0] >> 4) == 4 ? (size_t)(b[0] & 15) * 4 : 40;
  size_t hdr = iph + (size_t)(b[iph + 12] >> 4) * 4;
  *off += hdr;
  *len -= hdr;
}
