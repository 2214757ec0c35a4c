/*
 * The transport AEAD's primitives path (aead.c has the EVP one, and chooses). OpenSSL 3's EVP
 * layer costs about 1.1 us per message here just to re-arm a context with a nonce and read the
 * tag back (provider dispatch, parameter arrays): more than sealing 1420 bytes itself (0.75 us). The node binary also exports the two primitives its EVP
 * ChaCha20-Poly1305 is made of, with their assembly: ChaCha20_ctr32 and Poly1305_{Init,Update,
 * Final}. With them, the AEAD is RFC 8439 section 2.8 written out (one keystream block for the
 * Poly1305 key, the body from block 1, the tag over AD | pad | ciphertext | pad | lengths).
 * They are internal symbols, so they are looked up at load time and used only if all are there
 * and a self-test gives, for several lengths with and without AD, exactly what EVP gives;
 * otherwise (a node linked to a shared libcrypto, say) everything stays on EVP.
 */
#include "aead_prim.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

typedef void (*chacha20_ctr32_fn)(unsigned char *out, const unsigned char *inp, size_t len, const unsigned int key[8], const unsigned int counter[4]);
typedef size_t (*poly1305_ctx_size_fn)(void);
typedef void (*poly1305_init_fn)(void *ctx, const unsigned char key[32]);
typedef void (*poly1305_update_fn)(void *ctx, const unsigned char *inp, size_t len);
typedef void (*poly1305_final_fn)(void *ctx, unsigned char mac[16]);

static struct {
  chacha20_ctr32_fn chacha;
  poly1305_ctx_size_fn poly_size;
  poly1305_init_fn poly_init;
  poly1305_update_fn poly_update;
  poly1305_final_fn poly_final;
  size_t ctx_size;
  /* Found and self-tested: usable. */
  int available;
} prim;

/* ChaCha20's state words are little-endian. */
static unsigned int le32(const uint8_t *b) {
  return (unsigned int)b[0] | (unsigned int)b[1] << 8 | (unsigned int)b[2] << 16 | (unsigned int)b[3] << 24;
}

static void key_words(unsigned int words[8], const uint8_t raw[KEY_LEN]) {
  for (int i = 0; i < 8; i++) words[i] = le32(raw + 4 * i);
}

static void prim_nonce_counter(unsigned int ctr[4], const uint8_t nonce[12], unsigned int block) {
  ctr[0] = block;
  for (int i = 0; i < 3; i++) ctr[1 + i] = le32(nonce + 4 * i);
}

/* Poly1305 over ad | pad16 | ct | pad16 | le64(adlen) | le64(ctlen), keyed by block 0. */
static void prim_tag(prim_key *k, const uint8_t nonce[12], const uint8_t *ad, size_t adlen, const uint8_t *ct, size_t ctlen,
                     uint8_t tag[TAG_LEN]) {
  static const uint8_t zeros[64] = {0};
  uint8_t block0[64];
  unsigned int ctr[4];
  prim_nonce_counter(ctr, nonce, 0);
  prim.chacha(block0, zeros, sizeof block0, k->words, ctr);
  prim.poly_init(k->poly, block0);
  OPENSSL_cleanse(block0, sizeof block0);
  if (adlen > 0) {
    prim.poly_update(k->poly, ad, adlen);
    if (adlen % 16) prim.poly_update(k->poly, zeros, 16 - adlen % 16);
  }
  if (ctlen > 0) {
    prim.poly_update(k->poly, ct, ctlen);
    if (ctlen % 16) prim.poly_update(k->poly, zeros, 16 - ctlen % 16);
  }
  uint8_t lens[16];
  for (int i = 0; i < 8; i++) {
    lens[i] = (uint8_t)((uint64_t)adlen >> (8 * i));
    lens[8 + i] = (uint8_t)((uint64_t)ctlen >> (8 * i));
  }
  prim.poly_update(k->poly, lens, sizeof lens);
  prim.poly_final(k->poly, tag);
}

/* Seals len bytes at p in place (the body from keystream block 1), tag to `tag`. */
void prim_seal(prim_key *k, const uint8_t nonce[12], const uint8_t *ad, size_t adlen, uint8_t *p, size_t len, uint8_t tag[TAG_LEN]) {
  unsigned int ctr[4];
  prim_nonce_counter(ctr, nonce, 1);
  if (len > 0) prim.chacha(p, p, len, k->words, ctr);
  prim_tag(k, nonce, ad, adlen, p, len, tag);
}

/* Checks the tag first and decrypts only a genuine body (left as it was otherwise). */
int prim_open(prim_key *k, const uint8_t nonce[12], const uint8_t *ad, size_t adlen, uint8_t *p, size_t len, const uint8_t tag[TAG_LEN]) {
  uint8_t want[TAG_LEN];
  prim_tag(k, nonce, ad, adlen, p, len, want);
  if (CRYPTO_memcmp(want, tag, TAG_LEN) != 0) return -1;
  unsigned int ctr[4];
  prim_nonce_counter(ctr, nonce, 1);
  if (len > 0) prim.chacha(p, p, len, k->words, ctr);
  return 0;
}

/* Seals and opens a few messages both ways (EVP and primitives) and compares every byte. */
static int prim_self_test(void) {
  uint8_t raw[KEY_LEN], nonce[12], ad[4] = {5, 0x65, 0x41, 0x01}; /* a type-5 header */
  for (int i = 0; i < KEY_LEN; i++) raw[i] = (uint8_t)(0x80 + i);
  for (int i = 0; i < 12; i++) nonce[i] = (uint8_t)(i * 7 + 3);
  prim_key k = {0};
  int ok = 0;
  k.poly = calloc(1, prim.ctx_size);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  uint8_t *a = malloc(2048), *b = malloc(2048);
  if (k.poly == NULL || ctx == NULL || a == NULL || b == NULL || EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, raw, NULL) != 1) goto out;
  key_words(k.words, raw);
  static const size_t lens[] = {0, 1, 15, 16, 63, 64, 65, 127, 1420, 1440};
  for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
    for (int with_ad = 0; with_ad < 2; with_ad++) {
      size_t len = lens[li];
      int n = 0, m = 0;
      for (size_t i = 0; i < len; i++) a[i] = b[i] = (uint8_t)(i * 31 + li);
      if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 || (with_ad && EVP_EncryptUpdate(ctx, NULL, &n, ad, sizeof ad) != 1) ||
          (len > 0 && EVP_EncryptUpdate(ctx, a, &n, a, (int)len) != 1) || EVP_EncryptFinal_ex(ctx, a + n, &m) != 1 ||
          EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, a + len) != 1) {
        goto out;
      }
      prim_seal(&k, nonce, ad, with_ad ? sizeof ad : 0, b, len, b + len);
      if (memcmp(a, b, len + TAG_LEN) != 0) goto out;
      if (prim_open(&k, nonce, ad, with_ad ? sizeof ad : 0, b, len, b + len) != 0) goto out;
      for (size_t i = 0; i < len; i++) if (b[i] != (uint8_t)(i * 31 + li)) goto out;
      b[len] ^= 1; /* a forged tag is refused and the body left alone */
      if (len > 0) memcpy(a, b, len);
      if (prim_open(&k, nonce, ad, with_ad ? sizeof ad : 0, b, len, b + len) == 0 || memcmp(a, b, len) != 0) goto out;
    }
  }
  ok = 1;
out:
  EVP_CIPHER_CTX_free(ctx);
  free(a);
  free(b);
  if (k.poly != NULL) {
    OPENSSL_cleanse(k.poly, prim.ctx_size);
    free(k.poly);
  }
  return ok;
}

int prim_probe(void) {
  prim.chacha = (chacha20_ctr32_fn)dlsym(RTLD_DEFAULT, "ChaCha20_ctr32");
  prim.poly_size = (poly1305_ctx_size_fn)dlsym(RTLD_DEFAULT, "Poly1305_ctx_size");
  prim.poly_init = (poly1305_init_fn)dlsym(RTLD_DEFAULT, "Poly1305_Init");
  prim.poly_update = (poly1305_update_fn)dlsym(RTLD_DEFAULT, "Poly1305_Update");
  prim.poly_final = (poly1305_final_fn)dlsym(RTLD_DEFAULT, "Poly1305_Final");
  if (prim.chacha == NULL || prim.poly_size == NULL || prim.poly_init == NULL || prim.poly_update == NULL || prim.poly_final == NULL) return 0;
  prim.ctx_size = prim.poly_size();
  if (prim.ctx_size == 0 || prim.ctx_size > 4096) return 0;
  prim.available = prim_self_test();
  return prim.available;
}

int prim_available(void) { return prim.available; }

int prim_key_init(prim_key *k, const uint8_t raw[KEY_LEN]) {
  key_words(k->words, raw);
  k->poly = NULL;
  if (!prim.available) return 0;
  k->poly = calloc(1, prim.ctx_size);
  if (k->poly != NULL) return 0;
  OPENSSL_cleanse(k->words, sizeof k->words);
  return -1;
}

void prim_key_free(prim_key *k) {
  OPENSSL_cleanse(k->words, sizeof k->words);
  if (k->poly != NULL) {
    OPENSSL_cleanse(k->poly, prim.ctx_size);
    free(k->poly);
    k->poly = NULL;
  }
}

