/*
 * Address and control-message helpers of the UDP underlay (udp_common.h).
 */
#include <arpa/inet.h>
#include <string.h>

#include "udp_common.h"

/* "10.0.0.1" / "2001:db8::1" (no zone, no brackets) -> sockaddr; 0 or -1. */
int udp_parse_addr(const char *text, int port, struct sockaddr_storage *ss, socklen_t *len) {
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

/* Address bytes (4 or 16 by family) -> JS string, reusing the cache's string when it is the same
 * address. 0 or -1. */
int udp_addr_text(napi_env env, addr_text_cache *c, int family, const void *addr, napi_value *out) {
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

int udp_peer_to_js(napi_env env, addr_text_cache *c, const struct sockaddr_storage *ss, napi_value *addr,
                      napi_value *port) {
  int p;
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *sa = (const struct sockaddr_in6 *)ss;
    if (udp_addr_text(env, c, AF_INET6, &sa->sin6_addr, addr) != 0) return -1;
    p = ntohs(sa->sin6_port);
  } else if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *sa = (const struct sockaddr_in *)ss;
    if (udp_addr_text(env, c, AF_INET, &sa->sin_addr, addr) != 0) return -1;
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
void udp_local_of(const struct msghdr *h, local_src *out) {
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
int udp_set_source(struct msghdr *h, ctrl_buf *ctrl, int family, const char *local, uint32_t ifindex) {
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
