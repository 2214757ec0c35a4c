// Typed access to the transport-AEAD part of the native addon (datapath/crypto/native/aead.c).

import { loadNativeAddon } from '../native/addon';

/** A ChaCha20-Poly1305 key held by the addon (an OpenSSL context per direction of use). */
export interface AeadKeyHandle {
  readonly __brand: 'wgmpls.AeadKey';
}

export interface AeadAddon {
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
}

const EXPORTS: readonly (keyof AeadAddon & string)[] = ['aeadKey', 'aeadDestroy', 'sealTransport', 'openTransport'];

export function loadAeadAddon(): AeadAddon {
  return loadNativeAddon<AeadAddon>(EXPORTS);
}
