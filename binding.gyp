{
  # Plain C against node_api.h (no node-addon-api): the ABI-stable N-API means one build works
  # across Node versions, and C keeps the addon small enough to audit.
  "targets": [
    {
      "target_name": "wgmpls_tun",
      "sources": ["datapath/tun/native/tun.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags_c": ["-std=gnu11"]
    }
  ]
}
