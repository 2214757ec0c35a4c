// Typed access to the transport-AEAD part of the native addon (datapath/crypto/native/aead.c).

import { loadNativeAddon } from '../native/addon';

/** A ChaCha20-Poly1305 key held by the addon (an OpenSSL context per direction of use). */
export interface AeadKeyHandle {
  readonly __brand: 'wgmpls.AeadKey';
}

export type AeadBackend = 'primitives' | 'evp';

export interface AeadAddon {
  /** The implementation in use; with an argument, switches to it (tests). */
  aeadBackend(which?: AeadBackend): AeadBackend;
  aeadKey(key: Uint8Array): AeadKeyHandle;
  /** Frees (and so cleanses) the key now; later use throws EKEYDESTROYED. Idempotent. */
  aeadDestroy(key: AeadKeyHandle): void;
  /**
   * The whole data message: 16-byte header, payload + zero padding sealed, 16-byte tag.
   * authHeader 1: the header bytes 0-3 are the associated data (authenticated labels).
   */
  sealTransport(
    key: AeadKeyHandle,
    type: number,
    lse24: number,
    receiverIndex: number,
    counterLo: number,
    counterHi: number,
    payload: Uint8Array,
    padding: number,
    authHeader: number,
  ): Buffer;
  /**
   * Decrypts msg's body in place: plaintext length (at msg[16]), -1 when forged/short, or -2
   * when it opens only with the other associated data (tryOther 1; authHeader as for seal).
   */
  openTransport(key: AeadKeyHandle, counterLo: number, counterHi: number, msg: Uint8Array, authHeader: number, tryOther: number): number;
  /**
   * Seals packets first..first+count-1 of src (desc: `stride` words each, offset and length
   * first) with counters counter, counter+1, ... into out, back to back, lengths in outLens.
   * Returns how many fitted (the caller sends those and goes on).
   */
  sealBatch(
    key: AeadKeyHandle,
    type: number,
    lse24: number,
    receiverIndex: number,
    counterLo: number,
    counterHi: number,
    authHeader: number,
    mtu: number,
    src: Uint8Array,
    desc: Uint32Array,
    stride: number,
    first: number,
    count: number,
    out: Uint8Array,
    outLens: Uint32Array,
  ): number;
  /** Opens messages first..first+count-1 of buf in place (counter from each header); results as openTransport's. */
  openBatch(key: AeadKeyHandle, authHeader: number, tryOther: number, buf: Uint8Array, desc: Uint32Array, stride: number, first: number, count: number, results: Int32Array): void;
}

const EXPORTS: readonly (keyof AeadAddon & string)[] = ['aeadBackend', 'aeadKey', 'aeadDestroy', 'sealTransport', 'openTransport', 'sealBatch', 'openBatch'];

export function loadAeadAddon(): AeadAddon {
  return loadNativeAddon<AeadAddon>(EXPORTS);
}

/**
 * Which implementation seals and opens: 'primitives' (OpenSSL's ChaCha20 and Poly1305 assembly
 * composed as RFC 8439 says, about 0.25 us less per message than EVP's per-message set-up) when
 * the node binary exports them and they passed the addon's self-test, else 'evp'.
 */
export function aeadBackend(which?: AeadBackend): AeadBackend {
  return loadAeadAddon().aeadBackend(which);
}

/** The primitives path can be used in this process. */
export function primitivesAvailable(): boolean {
  const addon = loadAeadAddon();
  const now = addon.aeadBackend();
  try {
    addon.aeadBackend('primitives');
    return true;
  } catch {
    return false;
  } finally {
    addon.aeadBackend(now);
  }
}
