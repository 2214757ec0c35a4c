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
  /** The whole data message: 16-byte header, payload + zero padding sealed, 16-byte tag. */
  sealTransport(
    key: AeadKeyHandle,
    type: number,
    lse24: number,
    receiverIndex: number,
    counterLo: number,
    counterHi: number,
    payload: Uint8Array,
    padding: number,
  ): Buffer;
  /** Decrypts msg's body in place: plaintext length (at msg[16]), or -1 when forged/short. */
  openTransport(key: AeadKeyHandle, counterLo: number, counterHi: number, msg: Uint8Array): number;
}

const EXPORTS: readonly (keyof AeadAddon & string)[] = ['aeadKey', 'aeadDestroy', 'sealTransport', 'openTransport'];

export function loadAeadAddon(): AeadAddon {
  return loadNativeAddon<AeadAddon>(EXPORTS);
}
