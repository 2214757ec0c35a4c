/* Each part of the addon adds its functions to the module's exports; 0 or -1. */
#ifndef WGMPLS_MODULE_H
#define WGMPLS_MODULE_H

#include <node_api.h>

int tun_register(napi_env env, napi_value exports);
int tun_batch_register(napi_env env, napi_value exports);
int udp_register(napi_env env, napi_value exports);
int aead_register(napi_env env, napi_value exports);
int netlink_register(napi_env env, napi_value exports);

#endif
