import { loadAeadAddon, type AeadAddon, type AeadKeyHandle } from '../crypto/native';
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

// The 64-bit counter crosses to the addon as two 32-bit halves (N-API has no cheap uint64).
// Two functions rather than one returning a pair: the send path calls them per packet and a
// pair would be an allocation each time.
const TWO_32 = 0x1_0000_0000;
const counterLo = (counter: number): number => counter % TWO_32;
const counterHi = (counter: number): number => Math.floor(counter / TWO_32);

/**
 * A whole data message: header (type, 24 bits of `lse24`, receiver, counter), sealed payload +
 * padding, tag. With `authHeader` the header bytes 0-3 (type and label entry) are the AEAD's
 * associated data (authenticated labels, docs/design.md section 3); without it the AD is empty,
 * as in WireGuard and the kernel module.
 */
export function sealTransport(
  key: TransportKey,
  type: number,
  lse24: number,
  receiverIndex: number,
  counter: number,
  payload: Uint8Array,
  padding: number,
  authHeader = false,
): Buffer {
  return aead().sealTransport(key, type, lse24 >>> 0, receiverIndex >>> 0, counterLo(counter), counterHi(counter), payload, padding, authHeader ? 1 : 0);
}

/** openTransportLength's result for a forged (or short) message. */
export const OPEN_FORGED = -1;
/** openTransportLength's result for a message that opens only with the other associated data. */
export const OPEN_OTHER_AD = -2;

/**
 * Opens a data message in place: the plaintext's length (it starts at msg[16]), OPEN_FORGED, or,
 * with `tryOther`, OPEN_OTHER_AD when it opens only with the other associated data (header
 * bytes or none). A number, not a view: the receive path makes the one view it needs. msg's
 * body is overwritten whatever the result (the header is kept).
 */
export function openTransportLength(key: TransportKey, counterLo: number, counterHi: number, msg: Buffer, authHeader: boolean, tryOther: boolean): number {
  return aead().openTransport(key, counterLo, counterHi, msg, authHeader ? 1 : 0, tryOther ? 1 : 0);
}

/**
 * Seals packets first..first+count-1 of src (desc: `stride` words each, offset and length first)
 * with consecutive counters from `counter`, back to back into out (lengths in outLens). Returns how
 * many fitted; the caller sends those and calls again for the rest.
 */
export function sealTransportBatch(
  key: TransportKey,
  type: number,
  lse24: number,
  receiverIndex: number,
  counter: number,
  authHeader: boolean,
  mtu: number,
  src: Uint8Array,
  desc: Uint32Array,
  stride: number,
  first: number,
  count: number,
  out: Uint8Array,
  outLens: Uint32Array,
): number {
  return aead().sealBatch(key, type, lse24 >>> 0, receiverIndex >>> 0, counterLo(counter), counterHi(counter), authHeader ? 1 : 0, mtu, src, desc, stride, first, count, out, outLens);
}

/**
 * Opens messages first..first+count-1 of buf in place, each with the counter in its header:
 * results[i] as openTransportLength's (a length, OPEN_FORGED or OPEN_OTHER_AD).
 */
export function openTransportBatch(
  key: TransportKey,
  authHeader: boolean,
  tryOther: boolean,
  buf: Uint8Array,
  desc: Uint32Array,
  stride: number,
  first: number,
  count: number,
  results: Int32Array,
): void {
  aead().openBatch(key, authHeader ? 1 : 0, tryOther ? 1 : 0, buf, desc, stride, first, count, results);
}
