/*
 * ChaCha20-Poly1305 (RFC 8439) on OpenSSL's own ChaCha20 and Poly1305 assembly, which the node
 * binary exports (aead_prim.c): the transport AEAD without EVP's per-message set-up.
 */
#ifndef WGMPLS_AEAD_PRIM_H
#define WGMPLS_AEAD_PRIM_H

#include <stddef.h>
#include <stdint.h>

#define KEY_LEN 32
#define TAG_LEN 16

/* A key as the primitives use it. */
typedef struct {
  /* The key as ChaCha20 state words (little-endian); cleansed by prim_key_free. */
  unsigned int words[8];
  /* Poly1305 state; NULL when the primitives are not available. */
  void *poly;
} prim_key;

/* Looks the primitives up and checks them against EVP; 1 when they can be used. Once, at load. */
int prim_probe(void);
int prim_available(void);
/* 0, or -1 (out of memory, nothing kept). Without the primitives the key gets no Poly1305 state. */
int prim_key_init(prim_key *k, const uint8_t raw[KEY_LEN]);
void prim_key_free(prim_key *k);
/* Seals len bytes at p in place, the tag to `tag`. */
void prim_seal(prim_key *k, const uint8_t nonce[12], const uint8_t *ad, size_t adlen, uint8_t *p, size_t len, uint8_t tag[TAG_LEN]);
/* 0, the body decrypted in place; -1 for a forged tag, the body untouched. */
int prim_open(prim_key *k, const uint8_t nonce[12], const uint8_t *ad, size_t adlen, uint8_t *p, size_t len, const uint8_t tag[TAG_LEN]);

#endif
