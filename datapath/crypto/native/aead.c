/*
 * WireGuard transport data messages (types 4, 5, 6): ChaCha20-Poly1305 with node's own OpenSSL
 * (the binary exports it; the headers ship in /usr/include/node/openssl).
 *
 * Why not node:crypto: createCipheriv builds a new cipher object and key schedule for every
 * packet, about 35 us per message here; an EVP context kept per key and re-armed with only the
 * nonce does the same in about 1 us. The @noble/ciphers reference checks it in the unit tests.
 *
 * Two ways, the first preferred: OpenSSL's ChaCha20 and Poly1305 assembly composed as RFC 8439
 * says (aead_prim.c: looked up and self-tested at load, about 0.25 us less per message), else
 * EVP. aeadBackend switches between them for the tests.
 *
 * A key is an external that owns two contexts (seal, open). destroy() frees them at once (OpenSSL
 * cleanses the key schedule), so expired session keys do not wait for the garbage collector.
 *
 * Authenticated labels (docs/design.md section 3): with `authHeader` set, the four header bytes
 * (type, label entry) are the AEAD's associated data. They are fed straight from the message
 * buffer (EVP AAD update with a NULL output), so binding them costs no allocation and no copy.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "../../native/module.h"
#include "../../native/napi_util.h"
#include "aead_prim.h"

#define AEAD_KEY_MAGIC 0x7767616bu /* "wgak" */
#define HEADER_LEN 16
/* Header bytes bound as associated data in authenticated-label mode: type and lse24. */
#define AD_LEN 4

/* openTransport's results beyond a plaintext length. */
#define OPEN_FORGED -1
#define OPEN_OTHER_AD -2

typedef struct {
  uint32_t magic;
  EVP_CIPHER_CTX *seal;
  EVP_CIPHER_CTX *open;
  /* The same key for the primitives path (its state is NULL when they are not there). */
  prim_key prim;
} aead_key;

/* The primitives seal and open (prim_available(), and not switched off by aeadBackend('evp')). */
static int use_prim = 0;

static void key_free_contexts(aead_key *k) {
  EVP_CIPHER_CTX_free(k->seal);
  EVP_CIPHER_CTX_free(k->open);
  k->seal = k->open = NULL;
  prim_key_free(&k->prim);
}

static void key_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  aead_key *k = (aead_key *)data;
  key_free_contexts(k);
  free(k);
}

static void counter_nonce(uint8_t nonce[12], uint32_t lo, uint32_t hi) {
  memset(nonce, 0, 4);
  for (int i = 0; i < 4; i++) {
    nonce[4 + i] = (uint8_t)(lo >> (8 * i));
    nonce[8 + i] = (uint8_t)(hi >> (8 * i));
  }
}

static int live_key(napi_env env, napi_value v, aead_key **out) {
  if (arg_external(env, v, "key", AEAD_KEY_MAGIC, (void **)out) != 0) return -1;
  if ((*out)->seal == NULL) {
    napi_throw_error(env, "EKEYDESTROYED", "the transport key was destroyed");
    return -1;
  }
  return 0;
}

/* aeadKey(raw32) -> key */
static napi_value js_aead_key(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *raw;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) {
    throw_type(env, "aeadKey(key) needs a 32-byte key");
    return NULL;
  }
  if (arg_bytes(env, argv[0], "key", &raw, &len) != 0) return NULL;
  if (len != KEY_LEN) {
    throw_type(env, "key must be 32 bytes");
    return NULL;
  }
  aead_key *k = calloc(1, sizeof *k);
  if (k == NULL) {
    throw_errno(env, ENOMEM, "aeadKey");
    return NULL;
  }
  k->magic = AEAD_KEY_MAGIC;
  if (prim_key_init(&k->prim, raw) != 0) {
    free(k);
    throw_errno(env, ENOMEM, "aeadKey");
    return NULL;
  }
  k->seal = EVP_CIPHER_CTX_new();
  k->open = EVP_CIPHER_CTX_new();
  if (k->seal == NULL || k->open == NULL ||
      EVP_EncryptInit_ex(k->seal, EVP_chacha20_poly1305(), NULL, raw, NULL) != 1 ||
      EVP_DecryptInit_ex(k->open, EVP_chacha20_poly1305(), NULL, raw, NULL) != 1) {
    key_free_contexts(k);
    free(k);
    napi_throw_error(env, "ECRYPTO", "OpenSSL has no usable ChaCha20-Poly1305");
    return NULL;
  }
  napi_value result;
  if (napi_create_external(env, k, key_finalize, NULL, &result) != napi_ok) {
    key_free_contexts(k);
    free(k);
    return NULL;
  }
  return result;
}

/* aeadDestroy(key): idempotent; later use throws EKEYDESTROYED. */
static napi_value js_aead_destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  aead_key *k;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) {
    throw_type(env, "aeadDestroy(key) needs a key");
    return NULL;
  }
  if (arg_external(env, argv[0], "key", AEAD_KEY_MAGIC, (void **)&k) != 0) return NULL;
  key_free_contexts(k);
  return NULL;
}

/* Writes one whole message (header, sealed payload + zero padding, tag) to out, which has room for
 * HEADER_LEN + plen + padding + TAG_LEN bytes. 0, or -1 when OpenSSL failed. */
static int seal_into(aead_key *k, uint8_t *out, uint32_t type, uint32_t lse24, uint32_t receiver, uint64_t counter,
                     const uint8_t *payload, size_t plen, size_t padding, int auth_header) {
  static const uint8_t zeros[64] = {0};
  uint32_t lo = (uint32_t)counter, hi = (uint32_t)(counter >> 32);
  out[0] = (uint8_t)type;
  out[1] = (uint8_t)lse24;
  out[2] = (uint8_t)(lse24 >> 8);
  out[3] = (uint8_t)(lse24 >> 16);
  for (int i = 0; i < 4; i++) {
    out[4 + i] = (uint8_t)(receiver >> (8 * i));
    out[8 + i] = (uint8_t)(lo >> (8 * i));
    out[12 + i] = (uint8_t)(hi >> (8 * i));
  }
  uint8_t nonce[12];
  counter_nonce(nonce, lo, hi);
  uint8_t *p = out + HEADER_LEN;
  if (use_prim && k->prim.poly != NULL) {
    if (plen > 0 && p != payload) memmove(p, payload, plen);
    memset(p + plen, 0, padding);
    prim_seal(&k->prim, nonce, out, auth_header ? AD_LEN : 0, p, plen + padding, p + plen + padding);
    return 0;
  }
  int n = 0;
  int ok = EVP_EncryptInit_ex(k->seal, NULL, NULL, NULL, nonce) == 1;
  if (ok && auth_header) ok = EVP_EncryptUpdate(k->seal, NULL, &n, out, AD_LEN) == 1;
  if (ok && plen > 0) {
    ok = EVP_EncryptUpdate(k->seal, p, &n, payload, (int)plen) == 1;
    p += n;
  }
  for (size_t left = padding; ok && left > 0;) {
    int chunk = left > sizeof zeros ? (int)sizeof zeros : (int)left;
    ok = EVP_EncryptUpdate(k->seal, p, &n, zeros, chunk) == 1;
    p += n;
    left -= (size_t)chunk;
  }
  ok = ok && EVP_EncryptFinal_ex(k->seal, p, &n) == 1;
  p += ok ? n : 0;
  ok = ok && EVP_CIPHER_CTX_ctrl(k->seal, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, p) == 1;
  return ok && p + TAG_LEN == out + HEADER_LEN + plen + padding + TAG_LEN ? 0 : -1;
}

/* sealTransport(key, type, lse24, receiverIndex, counterLo, counterHi, payload, padding, authHeader)
 *   -> the whole message: header, sealed payload + zero padding, tag. authHeader (0/1): bind the
 *   header bytes 0-3 as associated data. */
static napi_value js_seal_transport(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  aead_key *k;
  uint32_t type, lse24, receiver, lo, hi, padding, auth_header;
  void *payload;
  size_t plen;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 9) {
    throw_type(env, "sealTransport(key, type, lse24, receiverIndex, counterLo, counterHi, payload, padding, authHeader)");
    return NULL;
  }
  if (live_key(env, argv[0], &k) != 0 || arg_uint32(env, argv[1], "type", &type) != 0 ||
      arg_uint32(env, argv[2], "lse24", &lse24) != 0 || arg_uint32(env, argv[3], "receiverIndex", &receiver) != 0 ||
      arg_uint32(env, argv[4], "counterLo", &lo) != 0 || arg_uint32(env, argv[5], "counterHi", &hi) != 0 ||
      arg_bytes(env, argv[6], "payload", &payload, &plen) != 0 || arg_uint32(env, argv[7], "padding", &padding) != 0 ||
      arg_uint32(env, argv[8], "authHeader", &auth_header) != 0) {
    return NULL;
  }
  if (padding > 65536 || plen > 65536) {
    napi_throw_range_error(env, "EMSGSIZE", "payload and padding must each be at most 65536 bytes");
    return NULL;
  }
  size_t total = HEADER_LEN + plen + padding + TAG_LEN;
  void *outv;
  napi_value result;
  if (napi_create_buffer(env, total, &outv, &result) != napi_ok) return NULL;
  if (seal_into(k, outv, type, lse24, receiver, ((uint64_t)hi << 32) | lo, payload, plen, padding, auth_header != 0) != 0) {
    napi_throw_error(env, "ECRYPTO", "ChaCha20-Poly1305 seal failed");
    return NULL;
  }
  return result;
}

/* wireguard-go's calculatePaddingSize: to a multiple of 16, never past the MTU. */
static size_t padding_for(size_t size, uint32_t mtu) {
  if (size == 0) return 0;
  size_t last = size;
  if (mtu > 0 && last > mtu) last %= mtu;
  size_t padded = (last + 15) / 16 * 16;
  if (mtu > 0 && padded > mtu) padded = mtu;
  return padded - last;
}

/* sealBatch(key, type, lse24, receiverIndex, counterLo, counterHi, authHeader, mtu, src, desc,
 *           stride, first, count, out, outLens) -> how many were sealed.
 * Packets first .. first+count-1 of src (desc: `stride` words per packet, offset and length
 * first) become messages with counters counter, counter+1, ..., back to back in out, their
 * lengths in outLens. Stops early when out or outLens is full: the caller sends those and calls
 * again for the rest. */
static napi_value js_seal_batch(napi_env env, napi_callback_info info) {
  size_t argc = 15;
  napi_value argv[15];
  aead_key *k;
  uint32_t type, lse24, receiver, lo, hi, auth_header, mtu, stride, first, count;
  void *src, *descv, *out, *lensv;
  size_t src_len, desc_len, out_len, lens_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 15) {
    throw_type(env, "sealBatch(key, type, lse24, receiverIndex, counterLo, counterHi, authHeader, mtu, src, desc, stride, first, count, out, outLens)");
    return NULL;
  }
  if (live_key(env, argv[0], &k) != 0 || arg_uint32(env, argv[1], "type", &type) != 0 ||
      arg_uint32(env, argv[2], "lse24", &lse24) != 0 || arg_uint32(env, argv[3], "receiverIndex", &receiver) != 0 ||
      arg_uint32(env, argv[4], "counterLo", &lo) != 0 || arg_uint32(env, argv[5], "counterHi", &hi) != 0 ||
      arg_uint32(env, argv[6], "authHeader", &auth_header) != 0 || arg_uint32(env, argv[7], "mtu", &mtu) != 0 ||
      arg_bytes(env, argv[8], "src", &src, &src_len) != 0 || arg_typed_u32(env, argv[9], "desc", &descv, &desc_len) != 0 ||
      arg_uint32(env, argv[10], "stride", &stride) != 0 || arg_uint32(env, argv[11], "first", &first) != 0 ||
      arg_uint32(env, argv[12], "count", &count) != 0 || arg_bytes(env, argv[13], "out", &out, &out_len) != 0 ||
      arg_typed_u32(env, argv[14], "outLens", &lensv, &lens_len) != 0) {
    return NULL;
  }
  const uint32_t *desc = descv;
  uint32_t *lens = lensv;
  if (stride < 2 || ((size_t)first + count) * stride > desc_len) {
    throw_type(env, "first + count exceeds desc");
    return NULL;
  }
  uint64_t counter = ((uint64_t)hi << 32) | lo;
  size_t pos = 0;
  uint32_t done = 0;
  for (; done < count && done < lens_len; done++) {
    const uint32_t *d = desc + (size_t)(first + done) * stride;
    size_t plen = d[1], padding = padding_for(plen, mtu), total = HEADER_LEN + plen + padding + TAG_LEN;
    if ((size_t)d[0] + plen > src_len || plen > 65536) {
      throw_type(env, "a descriptor points outside src");
      return NULL;
    }
    if (pos + total > out_len) break;
    if (seal_into(k, (uint8_t *)out + pos, type, lse24, receiver, counter + done, (const uint8_t *)src + d[0], plen, padding,
                  auth_header != 0) != 0) {
      napi_throw_error(env, "ECRYPTO", "ChaCha20-Poly1305 seal failed");
      return NULL;
    }
    lens[done] = (uint32_t)total;
    pos += total;
  }
  napi_value result;
  if (napi_create_uint32(env, done, &result) != napi_ok) return NULL;
  return result;
}

/* One attempt to open msg in place with the given nonce, with or without the header bytes as
 * associated data: the plaintext length, or OPEN_FORGED (msg's body then holds garbage, see
 * restore_body). */
static int open_once(aead_key *k, const uint8_t nonce[12], uint8_t *msg, size_t mlen, int with_ad) {
  int clen = (int)(mlen - HEADER_LEN - TAG_LEN);
  if (use_prim && k->prim.poly != NULL) {
    return prim_open(&k->prim, nonce, msg, with_ad ? AD_LEN : 0, msg + HEADER_LEN, (size_t)clen, msg + mlen - TAG_LEN) == 0 ? clen : OPEN_FORGED;
  }
  int n = 0, m = 0, ad = 0;
  /* The tag is copied out first: in-place decryption must not be fed a tag it overwrote. */
  uint8_t tag[TAG_LEN];
  memcpy(tag, msg + mlen - TAG_LEN, TAG_LEN);
  if (EVP_DecryptInit_ex(k->open, NULL, NULL, NULL, nonce) == 1 &&
      EVP_CIPHER_CTX_ctrl(k->open, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag) == 1 &&
      (!with_ad || EVP_DecryptUpdate(k->open, NULL, &ad, msg, AD_LEN) == 1) &&
      (clen == 0 || EVP_DecryptUpdate(k->open, msg + HEADER_LEN, &n, msg + HEADER_LEN, clen) == 1) &&
      EVP_DecryptFinal_ex(k->open, msg + HEADER_LEN + n, &m) == 1) {
    return n + m;
  }
  return OPEN_FORGED;
}

/* Undoes a failed in-place open: ChaCha20 is a stream cipher, so running the same keystream over
 * the body again gives the ciphertext back (the tag was never touched). No copy, no allocation;
 * only a packet that failed once pays for it. */
static int restore_body(aead_key *k, const uint8_t nonce[12], uint8_t *msg, size_t mlen) {
  int clen = (int)(mlen - HEADER_LEN - TAG_LEN);
  int n = 0;
  if (clen == 0) return 0;
  if (use_prim && k->prim.poly != NULL) return 0; /* prim_open never touches a body it refuses */
  if (EVP_DecryptInit_ex(k->open, NULL, NULL, NULL, nonce) != 1 ||
      EVP_DecryptUpdate(k->open, msg + HEADER_LEN, &n, msg + HEADER_LEN, clen) != 1 || n != clen) {
    return -1;
  }
  return 0;
}

/* openTransport(key, counterLo, counterHi, msg, authHeader, tryOther) -> plaintext length, -1
 * when forged, or -2 when it does not open as asked but does with the other associated data
 * (authHeader: header bytes 0-3 as AD, else none; tryOther: then try the other way, which tells
 * a peer configured differently, or a type-4 message relabelled as 5/6, from plain forgery).
 * Decrypts in place: the plaintext is msg[16 .. 16 + length) and the header is left as it was;
 * a refused message's body is garbage afterwards, and is dropped anyway. */
static napi_value js_open_transport(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  aead_key *k;
  uint32_t lo, hi, auth_header, try_other;
  void *msgv;
  size_t mlen;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 6) {
    throw_type(env, "openTransport(key, counterLo, counterHi, msg, authHeader, tryOther) needs six arguments");
    return NULL;
  }
  if (live_key(env, argv[0], &k) != 0 || arg_uint32(env, argv[1], "counterLo", &lo) != 0 ||
      arg_uint32(env, argv[2], "counterHi", &hi) != 0 || arg_bytes(env, argv[3], "msg", &msgv, &mlen) != 0 ||
      arg_uint32(env, argv[4], "authHeader", &auth_header) != 0 || arg_uint32(env, argv[5], "tryOther", &try_other) != 0) {
    return NULL;
  }
  int32_t plain = OPEN_FORGED;
  if (mlen >= HEADER_LEN + TAG_LEN && mlen - HEADER_LEN - TAG_LEN <= 65536) {
    uint8_t *msg = (uint8_t *)msgv;
    uint8_t nonce[12];
    counter_nonce(nonce, lo, hi);
    plain = open_once(k, nonce, msg, mlen, auth_header != 0);
    if (plain < 0 && try_other && restore_body(k, nonce, msg, mlen) == 0 &&
        open_once(k, nonce, msg, mlen, auth_header == 0) >= 0) {
      plain = OPEN_OTHER_AD;
    }
  }
  napi_value result;
  if (napi_create_int32(env, plain, &result) != napi_ok) return NULL;
  return result;
}

/* openBatch(key, authHeader, tryOther, buf, desc, stride, first, count, results) -> undefined.
 * Opens messages first .. first+count-1 of buf in place (desc: `stride` words per message,
 * offset and length first), each with the counter its header carries; results[i] is the
 * plaintext length (at offset + 16), OPEN_FORGED or OPEN_OTHER_AD, as openTransport says. */
static napi_value js_open_batch(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  aead_key *k;
  uint32_t auth_header, try_other, stride, first, count;
  void *bufv, *descv, *resv;
  size_t buf_len, desc_len, res_len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 9) {
    throw_type(env, "openBatch(key, authHeader, tryOther, buf, desc, stride, first, count, results) needs nine arguments");
    return NULL;
  }
  if (live_key(env, argv[0], &k) != 0 || arg_uint32(env, argv[1], "authHeader", &auth_header) != 0 ||
      arg_uint32(env, argv[2], "tryOther", &try_other) != 0 || arg_bytes(env, argv[3], "buf", &bufv, &buf_len) != 0 ||
      arg_typed_u32(env, argv[4], "desc", &descv, &desc_len) != 0 || arg_uint32(env, argv[5], "stride", &stride) != 0 ||
      arg_uint32(env, argv[6], "first", &first) != 0 || arg_uint32(env, argv[7], "count", &count) != 0 ||
      arg_typed_u32(env, argv[8], "results", &resv, &res_len) != 0) {
    return NULL;
  }
  const uint32_t *desc = descv;
  int32_t *results = resv;
  if (stride < 2 || ((size_t)first + count) * stride > desc_len || count > res_len) {
    throw_type(env, "first + count exceeds desc or results");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    const uint32_t *d = desc + (size_t)(first + i) * stride;
    size_t mlen = d[1];
    int32_t plain = OPEN_FORGED;
    if ((size_t)d[0] + mlen <= buf_len && mlen >= HEADER_LEN + TAG_LEN && mlen - HEADER_LEN - TAG_LEN <= 65536) {
      uint8_t *msg = (uint8_t *)bufv + d[0];
      uint8_t nonce[12];
      memset(nonce, 0, 4);
      memcpy(nonce + 4, msg + 8, 8); /* the header's counter is already little-endian */
      plain = open_once(k, nonce, msg, mlen, auth_header != 0);
      if (plain < 0 && try_other && restore_body(k, nonce, msg, mlen) == 0 &&
          open_once(k, nonce, msg, mlen, auth_header == 0) >= 0) {
        plain = OPEN_OTHER_AD;
      }
    }
    results[i] = plain;
  }
  return NULL;
}

/* aeadBackend(which?) -> 'primitives' | 'evp': the one in use; 'evp' or 'primitives' switches
 * (for the tests, which check both against an independent implementation). */
static napi_value js_aead_backend(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc >= 1 && !is_nullish(env, argv[0])) {
    char which[16];
    if (arg_string(env, argv[0], "which", which, sizeof which) != 0) return NULL;
    if (strcmp(which, "evp") == 0) {
      use_prim = 0;
    } else if (strcmp(which, "primitives") == 0) {
      if (!prim_available()) {
        napi_throw_error(env, "ENOTSUP", "OpenSSL's ChaCha20/Poly1305 primitives are not available in this node binary");
        return NULL;
      }
      use_prim = 1;
    } else {
      throw_type(env, "which must be 'evp' or 'primitives'");
      return NULL;
    }
  }
  napi_value result;
  const char *name = use_prim ? "primitives" : "evp";
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &result) != napi_ok) return NULL;
  return result;
}

int aead_register(napi_env env, napi_value exports) {
  static int probed = 0;
  if (!probed) {
    probed = 1;
    use_prim = prim_probe();
  }
  if (export_fn(env, exports, "aeadBackend", js_aead_backend) != 0) return -1;
  if (export_fn(env, exports, "aeadKey", js_aead_key) != 0 || export_fn(env, exports, "aeadDestroy", js_aead_destroy) != 0 ||
      export_fn(env, exports, "sealTransport", js_seal_transport) != 0 ||
      export_fn(env, exports, "openTransport", js_open_transport) != 0 ||
      export_fn(env, exports, "sealBatch", js_seal_batch) != 0 || export_fn(env, exports, "openBatch", js_open_batch) != 0) {
    return -1;
  }
  return 0;
}
