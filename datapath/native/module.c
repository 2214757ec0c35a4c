/*
 * The datapath's native addon (plain C against node_api.h, N-API 8): the TUN device, the UDP
 * underlay sockets and the transport AEAD, the three things on the per-packet path; and, off
 * that path, rtnetlink requests and /proc/sys/net inside a namespace (kernel-mode routes).
 */
#include "module.h"

NAPI_MODULE_INIT() {
  if (tun_register(env, exports) != 0 || tun_batch_register(env, exports) != 0 || udp_register(env, exports) != 0 || aead_register(env, exports) != 0 ||
      netlink_register(env, exports) != 0) {
    return NULL;
  }
  return exports;
}
