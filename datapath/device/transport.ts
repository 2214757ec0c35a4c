import { loadAeadAddon, type AeadAddon, type AeadKeyHandle } from '../crypto/native';
import { MessageTransportHeaderSize } from '../noise/messages';
import { PADDING_MULTIPLE } from './constants';

// Transport data messages (types 4, 5, 6): ChaCha20-Poly1305 with the 64-bit counter as nonce,
// in the native addon with one OpenSSL context per key (crypto/native/aead.c says why); the
// @noble reference checks it in the unit tests. A message is built in one buffer (header, sealed
// payload, padding, tag) and opened in place, so the per-packet path allocates once on the way
// out and not at all on the way in.

let addon: AeadAddon | null = null;
function aead(): AeadAddon {
  addon ??= loadAeadAddon();
  return addon;
}

export type TransportKey = AeadKeyHandle;

export function transportKey(raw: Uint8Array): TransportKey {
  return aead().aeadKey(raw);
}

/** Frees the key's contexts now (OpenSSL cleanses them) instead of when the GC gets to it. */
export function destroyTransportKey(key: TransportKey): void {
  aead().aeadDestroy(key);
}

/** Zero padding wireguard-go adds so lengths leak less (calculatePaddingSize). */
export function paddingFor(size: number, mtu: number): number {
  if (size === 0) return 0;
  let last = size;
  if (mtu > 0 && last > mtu) last %= mtu;
  let padded = Math.ceil(last / PADDING_MULTIPLE) * PADDING_MULTIPLE;
  if (mtu > 0 && padded > mtu) padded = mtu;
  return padded - last;
}

/** A whole data message: header (type, 24 bits of `lse24`, receiver, counter), sealed payload + padding, tag. */
export function sealTransport(
  key: TransportKey,
  type: number,
  lse24: number,
  receiverIndex: number,
  counter: number,
  payload: Uint8Array,
  padding: number,
): Buffer {
  const lo = counter % 0x1_0000_0000;
  const hi = Math.floor(counter / 0x1_0000_0000);
  return aead().sealTransport(key, type, lse24 >>> 0, receiverIndex >>> 0, lo, hi, payload, padding);
}

/**
 * Opens a data message in place: the plaintext, a view of msg after the header, or null when
 * forged. msg's body is overwritten either way (the header is kept).
 */
export function openTransport(key: TransportKey, counterLo: number, counterHi: number, msg: Buffer): Buffer | null {
  const n = aead().openTransport(key, counterLo, counterHi, msg);
  return n < 0 ? null : msg.subarray(MessageTransportHeaderSize, MessageTransportHeaderSize + n);
}
