/*
 * What the UDP underlay's two halves share (udp.c: sockets and single sends; udp_batch.c: GRO
 * reads and GSO sends): addresses as text and as sockaddrs, the packet-information control
 * messages of the sticky source (see udp.c), and the slot sizes of a read.
 */
#ifndef WGMPLS_UDP_COMMON_H
#define WGMPLS_UDP_COMMON_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include <node_api.h>

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
int udp_parse_addr(const char *text, int port, struct sockaddr_storage *ss, socklen_t *len);
/* Address bytes (4 or 16 by family) -> JS string, reusing the cache's string when it is the same
 * address. 0 or -1. */
int udp_addr_text(napi_env env, addr_text_cache *c, int family, const void *addr, napi_value *out);
int udp_peer_to_js(napi_env env, addr_text_cache *c, const struct sockaddr_storage *ss, napi_value *addr, napi_value *port);
/* The packet-information control message of a received datagram (family 0 when none). */
void udp_local_of(const struct msghdr *h, local_src *out);
/* Names the source of one datagram in h's control buffer: 0, or -1 when `local` is not an
 * address of `family`. */
int udp_set_source(struct msghdr *h, ctrl_buf *ctrl, int family, const char *local, uint32_t ifindex);

int udp_batch_register(napi_env env, napi_value exports);

#endif
