// BLAKE2s primitives as WireGuard uses them (whitepaper section 5.4).
//
// HASH and HMAC go through node:crypto ('blake2s256' is OpenSSL's BLAKE2s-256; about 2-3x
// faster than @noble/hashes for the short inputs of a handshake). Keyed BLAKE2s with a
// 16-byte digest (MAC) is not reachable through node:crypto on Node 20, so it uses
// @noble/hashes. Both libraries are checked against each other and known answers in tests.
import { createHash, createHmac } from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2';

export const MAC_LEN = 16;

/** HASH(parts...) = BLAKE2s-256 of the concatenation. */
export function hash(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('blake2s256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** MAC(key, parts...) = keyed BLAKE2s with a 16-byte digest. Key is 1..32 bytes. */
export function mac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = blake2s.create({ key, dkLen: MAC_LEN });
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HMAC(key, parts...) = HMAC with BLAKE2s-256 (block size 64). */
export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('blake2s256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

const ONE = Uint8Array.of(1);
const TWO = Uint8Array.of(2);
const THREE = Uint8Array.of(3);

/**
 * WireGuard's KDF_n(key, input): T0 = HMAC(key, input), T1 = HMAC(T0, 0x1),
 * Ti = HMAC(T0, T(i-1) || i). Returns [T1..Tn] (n = 1, 2 or 3), 32 bytes each.
 */
export function kdf(n: 1, key: Uint8Array, input: Uint8Array): [Uint8Array];
export function kdf(n: 2, key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array];
export function kdf(n: 3, key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array];
export function kdf(n: 1 | 2 | 3, key: Uint8Array, input: Uint8Array): Uint8Array[] {
  const t0 = hmac(key, input);
  const t1 = hmac(t0, ONE);
  const out = [t1];
  if (n >= 2) {
    const t2 = hmac(t0, t1, TWO);
    out.push(t2);
    if (n === 3) out.push(hmac(t0, t2, THREE));
  }
  t0.fill(0);
  return out;
}
