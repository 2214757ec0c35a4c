/*
 * TUN offloads without I/O: what the kernel's GSO does to a superpacket before it can be sealed
 * (split it into MTU-sized packets with their own headers and checksums), and what its GRO does
 * to a run of decrypted TCP segments before they go up (join them into one superpacket with a
 * virtio-net header). Pure functions over byte buffers, so they are tested against hand-built
 * frames without a TUN (test/unit/offload.test.ts, through the addon's test entry points).
 */
#ifndef WGMPLS_OFFLOAD_H
#define WGMPLS_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_net.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5 /* USO; older kernel headers lack the name */
#endif

#define VNET_HDR_LEN ((size_t)sizeof(struct virtio_net_hdr))

/* Results of offload_split besides a packet count. */
#define SPLIT_NO_ROOM -1   /* the segments do not fit in what is left of the output */
#define SPLIT_MALFORMED -2 /* headers that do not describe the packet, or a GSO type we did not ask for */

/* The ones' complement sum (RFC 1071) of n bytes, folded to 16 bits, in memory byte order (so it
 * is stored with memcpy, no byte swap). */
uint16_t offload_csum(const uint8_t *p, size_t n, uint32_t initial);

/*
 * One packet read from a TUN with IFF_VNET_HDR (after the 4-byte packet information and the
 * virtio-net header `h`): a GSO superpacket (TCPv4/v6, UDP L4) becomes its segments, each a
 * complete IP packet with lengths, IPv4 id, TCP sequence/flags and checksums of its own; a packet
 * whose checksum the kernel left to us (NEEDS_CSUM) gets it filled in; anything else is copied.
 * Packets go to out[0..cap) back to back, their (offset, length) pairs to segs[0..2*max_segs).
 * Returns the number of packets, SPLIT_NO_ROOM or SPLIT_MALFORMED. `pkt` is not modified.
 */
int offload_split(const uint8_t *pkt, size_t len, const struct virtio_net_hdr *h, uint8_t *out, size_t cap, uint32_t *segs,
                  int max_segs);

/* One frame to write to the TUN: `count` packets starting at index `first` of the input, joined
 * (count > 1) into a superpacket described by `hdr`. */
typedef struct {
  uint32_t first;
  uint32_t count;
  struct virtio_net_hdr hdr;
} gro_frame;

/*
 * Groups decrypted packets for the TUN: consecutive TCP segments of one flow (same addresses,
 * ports, IP fields, TCP options, ack and window, contiguous sequence numbers, all but the last of
 * the same size, a valid checksum each) become one frame whose first packet's headers now
 * describe the whole (lengths, IPv4 header checksum, PSH of the last, the TCP checksum field
 * holding the pseudo-header sum the kernel completes). Every other packet is a frame of its own
 * with an empty header. desc holds (offset, length, ethertype) per packet in buf. Returns the
 * number of frames written to frames[0..n).
 */
uint32_t offload_coalesce(uint8_t *buf, const uint32_t *desc, uint32_t n, gro_frame *frames);

/* Where packet i's bytes to write start within buf, and how many, when it is packet `k` (0 =
 * first, whole; later ones contribute only their TCP payload) of a frame. */
void offload_frame_piece(const uint8_t *buf, const uint32_t *desc, uint32_t i, uint32_t k, size_t *off, size_t *len);

#endif
