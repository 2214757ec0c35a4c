// X25519 (RFC 7748) on node:crypto, with raw 32-byte keys at the API.
//
// Raw keys enter node:crypto as JWK: importing a PKCS8 DER private key costs about 330 us
// here (OpenSSL 3 decoder setup), a JWK about 10 us; a public key from SPKI DER about 70 us,
// from JWK about 7 us. A DH with two ready KeyObjects takes about 29 us, so callers on a
// busy path (a device's static key, a peer's static key) should import once and pass the
// KeyObject: every function here accepts either form.
//
// Deliberately not generateKeyPairSync('x25519'): on Node 20.20, exporting such a key as JWK
// can deadlock the process (the export holds the key's mutex while allocating; a GC there
// finalizes the KeyGenJob, whose destructor takes the same mutex). Seen here in about 1 run
// in 4 of 2000 generate+export rounds. Random bytes + JWK import do not involve KeyGenJob.
import { KeyObject, createPrivateKey, createPublicKey, diffieHellman, randomBytes } from 'node:crypto';

export const KEY_LEN = 32;

export type PrivateKeyInput = Uint8Array | KeyObject;
export type PublicKeyInput = Uint8Array | KeyObject;

/** Curve25519 clamping, in place; returns its argument. */
export function clampInPlace(k: Uint8Array): Uint8Array {
  k[0] &= 248;
  k[31] = (k[31] & 127) | 64;
  return k;
}

/** A fresh random private key, clamped as WireGuard's (and `wg genkey`'s) are. */
export function generatePrivateKey(): Uint8Array {
  return clampInPlace(new Uint8Array(randomBytes(KEY_LEN)));
}

function b64url(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');
}

// PKCS8 prefix for an X25519 private key (RFC 8410): SEQUENCE { INTEGER 0,
// SEQUENCE { OID 1.3.101.110 }, OCTET STRING { OCTET STRING (32) } }.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/**
 * Imports a raw private key (any 32 bytes; X25519 clamps it itself). Node's JWK import of
 * an OKP private key reads only `d` (it insists `x` be a string but derives the public
 * key itself), so `x` gets a placeholder; the DER path is a fallback.
 */
export function importPrivateKey(priv: Uint8Array): KeyObject {
  if (priv.length !== KEY_LEN) throw new RangeError(`X25519 private key must be ${KEY_LEN} bytes`);
  const d = b64url(priv);
  try {
    return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d, x: d }, format: 'jwk' });
  } catch {
    return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, priv]), format: 'der', type: 'pkcs8' });
  }
}

/** Imports a raw public key (any 32 bytes are accepted, as by X25519 itself). */
export function importPublicKey(pub: Uint8Array): KeyObject {
  if (pub.length !== KEY_LEN) throw new RangeError(`X25519 public key must be ${KEY_LEN} bytes`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(pub) }, format: 'jwk' });
}

function exportRaw(k: KeyObject): Uint8Array {
  const jwk = k.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('X25519 key export without x');
  return new Uint8Array(Buffer.from(jwk.x, 'base64url'));
}

/** The public key (X25519(priv, 9)) of a raw or imported private key. */
export function publicKey(priv: PrivateKeyInput): Uint8Array {
  const k = priv instanceof KeyObject ? priv : importPrivateKey(priv);
  return exportRaw(createPublicKey(k));
}


/**
 * X25519(priv, pub). Returns null (never throws) when the result is all zeros (pub is a
 * low-order point: OpenSSL refuses to derive), when a key has the wrong length, or when
 * node:crypto fails for any other reason.
 */
export function dh(priv: PrivateKeyInput, pub: PublicKeyInput): Uint8Array | null {
  try {
    const privateKey = priv instanceof KeyObject ? priv : importPrivateKey(priv);
    const publicKey = pub instanceof KeyObject ? pub : importPublicKey(pub);
    const out = diffieHellman({ privateKey, publicKey });
    let acc = 0;
    for (let i = 0; i < out.length; i++) acc |= out[i];
    if (acc === 0 || out.length !== KEY_LEN) return null;
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch {
    return null;
  }
}
