import { createCipheriv, createDecipheriv, createSecretKey, KeyObject } from 'node:crypto';

// Transport data messages (types 4, 5, 6): ChaCha20-Poly1305 with the 64-bit counter as nonce.
// node:crypto is the fastest path here (DESIGN.md section 6); the @noble reference checks it in
// the unit tests. Output is returned as chunks so dgram can send them with one sendmsg (iovec),
// never concatenating.

export const TRANSPORT_HEADER_LEN = 16;
export const TAG_LEN = 16;
const ZEROS = Buffer.alloc(16);

export function transportKey(raw: Uint8Array): KeyObject {
  return createSecretKey(Buffer.from(raw));
}

// One nonce buffer for all: createCipheriv copies it before returning, and this is single-threaded.
const NONCE = Buffer.alloc(12);
function nonce(counterLo: number, counterHi: number): Buffer {
  NONCE.writeUInt32LE(counterLo >>> 0, 4);
  NONCE.writeUInt32LE(counterHi >>> 0, 8);
  return NONCE;
}
const ZEROS_MTU = Buffer.alloc(65536);

/** Zero padding wireguard-go adds so lengths leak less (calculatePaddingSize). */
export function paddingFor(size: number, mtu: number): number {
  if (size === 0) return 0;
  let last = size;
  if (mtu > 0 && last > mtu) last %= mtu;
  let padded = (last + 15) & ~15;
  if (mtu > 0 && padded > mtu) padded = mtu;
  return padded - last;
}

/**
 * Builds a whole data message: header (type, 24 bits of `lse24`, receiver, counter) and the
 * sealed payload + padding. Returns the chunks and their total length.
 */
export function sealTransport(
  key: KeyObject,
  type: number,
  lse24: number,
  receiverIndex: number,
  counter: number,
  payload: Uint8Array,
  padding: number,
): { chunks: Buffer[]; length: number } {
  const lo = counter % 0x1_0000_0000;
  const hi = Math.floor(counter / 0x1_0000_0000);
  const header = Buffer.allocUnsafe(TRANSPORT_HEADER_LEN);
  header[0] = type;
  header[1] = lse24 & 0xff;
  header[2] = (lse24 >>> 8) & 0xff;
  header[3] = (lse24 >>> 16) & 0xff;
  header.writeUInt32LE(receiverIndex >>> 0, 4);
  header.writeUInt32LE(lo, 8);
  header.writeUInt32LE(hi, 12);
  const c = createCipheriv('chacha20-poly1305', key, nonce(lo, hi), { authTagLength: TAG_LEN });
  const chunks: Buffer[] = [header];
  let length = TRANSPORT_HEADER_LEN;
  if (payload.length > 0) {
    const ct = c.update(payload);
    chunks.push(ct);
    length += ct.length;
  }
  if (padding > 0) {
    const ct = c.update(padding <= 16 ? ZEROS.subarray(0, padding) : ZEROS_MTU.subarray(0, padding));
    chunks.push(ct);
    length += ct.length;
  }
  c.final();
  const tag = c.getAuthTag();
  chunks.push(tag);
  length += tag.length;
  return { chunks, length };
}

/** Opens the sealed part of a data message (after the 16-byte header); null when forged. */
export function openTransport(key: KeyObject, counterLo: number, counterHi: number, sealed: Buffer): Buffer | null {
  if (sealed.length < TAG_LEN) return null;
  const d = createDecipheriv('chacha20-poly1305', key, nonce(counterLo, counterHi), { authTagLength: TAG_LEN });
  d.setAuthTag(sealed.subarray(sealed.length - TAG_LEN));
  const pt = d.update(sealed.subarray(0, sealed.length - TAG_LEN));
  try {
    d.final();
  } catch {
    return null;
  }
  return pt;
}
