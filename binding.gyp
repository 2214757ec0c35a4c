{
  # Plain C against node_api.h (no node-addon-api): the ABI-stable N-API means one build works
  # across Node versions, and C keeps the addon small enough to audit. One addon holds the three
  # things on the per-packet path: the TUN, the UDP sockets and the transport AEAD (node's own
  # OpenSSL, whose symbols the node binary exports).
  "targets": [
    {
      "target_name": "wgmpls_native",
      "sources": [
        "datapath/native/module.c",
        "datapath/native/napi_util.c",
        "datapath/native/poll_reader.c",
        "datapath/native/netns.c",
        "datapath/tun/native/tun.c",
        "datapath/tun/native/tun_batch.c",
        "datapath/tun/native/offload.c",
        "datapath/conn/native/udp.c",
        "datapath/conn/native/udp_common.c",
        "datapath/conn/native/udp_batch.c",
        "datapath/crypto/native/aead.c",
        "datapath/crypto/native/aead_prim.c",
        "datapath/netlink/native/netlink.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags_c": ["-std=gnu11"]
    }
  ]
}
