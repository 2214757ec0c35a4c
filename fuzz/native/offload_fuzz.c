/*
 * Coverage-guided fuzzing (libFuzzer, with AddressSanitizer and UBSan) of the TUN offload code,
 * datapath/tun/native/offload.c: the C that reads frames the kernel hands over (offload_split)
 * and decrypted packets an authenticated peer chose (offload_coalesce). The JS targets in
 * fuzz/targets run on fast-check; this one is built by fuzz/native/build.sh with clang.
 *
 * Input: byte 0 picks the mode and options, the rest is the material.
 *   split:    a 10-byte virtio-net header, then the packet.
 *   coalesce: packets as (2-byte length, bytes)...; with option bit 1 every packet that looks
 *             like IPv4/IPv6 TCP gets a valid checksum first, so that the fuzzer reaches the
 *             joining logic instead of stopping at the checksum check.
 * Properties (abort on failure): every packet written lies inside the output; a split packet is
 * never longer than its headers plus gso_size; coalescing covers every input packet exactly
 * once, in order, and every piece it would write lies inside the buffer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../datapath/tun/native/offload.h"

#define MAX_PACKETS 256

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "offload property broken: %s\n", what);
    abort();
  }
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

/* Writes a valid TCP checksum into a packet that looks like IPv4/IPv6 TCP (lengths as claimed
 * by the buffer, not the header), so coalescing can be reached. */
static void fix_tcp_checksum(uint8_t *b, size_t len) {
  size_t iph;
  uint8_t pseudo[40];
  size_t plen;
  if (len >= 40 && (b[0] >> 4) == 4 && b[9] == 6) {
    iph = (size_t)(b[0] & 15) * 4;
    if (iph < 20 || iph + 20 > len) return;
    memcpy(pseudo, b + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = 6;
    pseudo[10] = (uint8_t)((len - iph) >> 8);
    pseudo[11] = (uint8_t)(len - iph);
    plen = 12;
  } else if (len >= 60 && (b[0] >> 4) == 6 && b[6] == 6) {
    iph = 40;
    memcpy(pseudo, b + 8, 32);
    memset(pseudo + 32, 0, 8);
    pseudo[34] = (uint8_t)((len - iph) >> 8);
    pseudo[35] = (uint8_t)(len - iph);
    pseudo[39] = 6;
    plen = 40;
  } else {
    return;
  }
  b[iph + 16] = b[iph + 17] = 0;
  uint16_t ps = offload_csum(pseudo, plen, 0);
  uint16_t c = (uint16_t)~offload_csum(b + iph, len - iph, ps);
  memcpy(b + iph + 16, &c, 2);
}

static int fuzz_split(const uint8_t *data, size_t size) {
  static uint8_t out[4 * 65536];
  static uint32_t segs[2 * 1024];
  if (size < VNET_HDR_LEN) return 0;
  struct virtio_net_hdr h;
  memcpy(&h, data, VNET_HDR_LEN);
  size_t len = size - VNET_HDR_LEN;
  if (len > 65535) len = 65535;
  int n = offload_split(data + VNET_HDR_LEN, len, &h, out, sizeof out, segs, 1024);
  check(n == SPLIT_NO_ROOM || n == SPLIT_MALFORMED || (n >= 1 && n <= 1024), "split result out of range");
  size_t prev_end = 0;
  for (int i = 0; i < n; i++) {
    check(segs[2 * i] >= prev_end, "split packets overlap");
    check((size_t)segs[2 * i] + segs[2 * i + 1] <= sizeof out, "split packet outside the output");
    prev_end = (size_t)segs[2 * i] + segs[2 * i + 1];
    if (n > 1) check(segs[2 * i + 1] <= len, "a segment longer than the superpacket");
  }
  return 0;
}

static int fuzz_coalesce(const uint8_t *data, size_t size, int fix) {
  static uint8_t buf[MAX_PACKETS * 1600 + 65536];
  static uint32_t desc[3 * MAX_PACKETS];
  static gro_frame frames[MAX_PACKETS];
  uint32_t n = 0;
  size_t used = 0;
  while (size >= 3 && n < MAX_PACKETS) {
    size_t len = be16(data) % 1600;
    uint32_t proto = (data[2] & 1) ? 0x86DD : 0x0800;
    data += 3;
    size -= 3;
    if (len > size) len = size;
    memcpy(buf + used, data, len);
    if (fix) fix_tcp_checksum(buf + used, len);
    desc[3 * n] = (uint32_t)used;
    desc[3 * n + 1] = (uint32_t)len;
    desc[3 * n + 2] = proto;
    used += len;
    data += len;
    size -= len;
    n++;
  }
  uint32_t nf = offload_coalesce(buf, desc, n, frames);
  check(nf <= n, "more frames than packets");
  uint32_t next = 0;
  for (uint32_t f = 0; f < nf; f++) {
    check(frames[f].first == next && frames[f].count >= 1 && frames[f].count <= 64, "frames do not cover the packets in order");
    next += frames[f].count;
    check(frames[f].count == 1 || frames[f].hdr.gso_type != 0, "a joined frame without GSO");
    for (uint32_t k = 0; k < frames[f].count; k++) {
      size_t off, len;
      offload_frame_piece(buf, desc, frames[f].first + k, k, &off, &len);
      check(off + len <= used && len <= desc[3 * (frames[f].first + k) + 1], "a piece outside its packet");
    }
  }
  check(next == n, "packets left out of every frame");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  if (mode & 1) return fuzz_split(data + 1, size - 1);
  return fuzz_coalesce(data + 1, size - 1, (mode & 2) != 0);
}
