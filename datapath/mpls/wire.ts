// MPLS parts of the WireGuard-MPLS wire format (docs/design.md section 3), bit-exact with the
// kernel project wireguard-mpls: label stack entries, and what happens to the outermost one
// when it rides in the header of a type 5/6 message (noise/messages.ts has the header itself):
// its top 24 bits (label, TC, BoS) travel as `lse24`, unencrypted; its TTL does not travel and
// the receiver rebuilds it from the next header.
// Everything here works on byte offsets into caller buffers so the per-packet paths need
// no copies; only the convenience wrappers allocate (a result object or a subarray).

/** Outer TTL when the next header has none (the seed's choice, kept for compatibility). */
export const DEFAULT_MPLS_TTL = 64;

export const LSE_SIZE = 4;

/** Reserved label values (RFC 3032, 5586, 6790, 7274). */
export const MplsLabel = {
  IPV4_EXPLICIT_NULL: 0,
  ROUTER_ALERT: 1,
  IPV6_EXPLICIT_NULL: 2,
  IMPLICIT_NULL: 3,
  ENTROPY_LABEL_INDICATOR: 7,
  GAL: 13,
  OAM_ALERT: 14,
  EXTENSION: 15,
  /** Labels from here up are the user's. */
  FIRST_UNRESERVED: 16,
  MAX: 0xfffff,
} as const;

// ---- Label stack entries (32-bit big-endian: label 20 | TC 3 | BoS 1 | TTL 8) ----

export function lseLabel(buf: Uint8Array, off = 0): number {
  return (buf[off] << 12) | (buf[off + 1] << 4) | (buf[off + 2] >>> 4);
}

export function lseTc(buf: Uint8Array, off = 0): number {
  return (buf[off + 2] >>> 1) & 7;
}

export function lseBos(buf: Uint8Array, off = 0): number {
  return buf[off + 2] & 1;
}

export function lseTtl(buf: Uint8Array, off = 0): number {
  return buf[off + 3];
}

/** The 32-bit LSE (unsigned) from its fields; fields are truncated to their widths. */
export function makeLse(label: number, tc: number, bos: number, ttl: number): number {
  return (((label & 0xfffff) << 12) | ((tc & 7) << 9) | ((bos & 1) << 8) | (ttl & 0xff)) >>> 0;
}

/** Writes a 32-bit LSE big-endian at buf[off..off+4). */
export function writeLse(buf: Uint8Array, off: number, lse: number): void {
  buf[off] = lse >>> 24;
  buf[off + 1] = (lse >>> 16) & 0xff;
  buf[off + 2] = (lse >>> 8) & 0xff;
  buf[off + 3] = lse & 0xff;
}

/** The lse24 of the LSE at buf[off]: its first three bytes. */
export function lse24At(buf: Uint8Array, off = 0): number {
  return (buf[off] << 16) | (buf[off + 1] << 8) | buf[off + 2];
}


// ---- IP header recognition ----

/**
 * 4 or 6 when buf[off..off+len) starts with a header that parses as IPv4 (version 4,
 * IHL >= 5, the whole header present) or IPv6 (version 6, 40 bytes present); else 0.
 * This is how the payload under the bottom of stack is told apart: MPLS itself does not
 * say what it carries.
 */
export function ipVersionAt(buf: Uint8Array, off: number, len: number): 0 | 4 | 6 {
  if (len < 1) return 0;
  const b0 = buf[off];
  const version = b0 >>> 4;
  if (version === 4) {
    const ihl = (b0 & 0x0f) * 4;
    return len >= 20 && ihl >= 20 && ihl <= len ? 4 : 0;
  }
  if (version === 6) return len >= 40 ? 6 : 0;
  return 0;
}

/**
 * Length of a type-4 plaintext without WireGuard's zero padding, with wireguard-go's checks:
 * IPv4 total length (>= 20, within the buffer), IPv6 40 + payload length (within the
 * buffer), 0 for a keepalive; -1 for anything else (drop).
 */
export function ipPacketLength(buf: Uint8Array, off = 0, len = buf.length - off): number {
  if (len <= 0) return 0;
  const version = buf[off] >>> 4;
  if (version === 4) {
    if (len < 20) return -1;
    const total = (buf[off + 2] << 8) | buf[off + 3];
    return total > len || total < 20 ? -1 : total;
  }
  if (version === 6) {
    if (len < 40) return -1;
    const total = 40 + ((buf[off + 4] << 8) | buf[off + 5]);
    return total > len ? -1 : total;
  }
  return -1;
}

// ---- Send: strip the outermost LSE ----

export const StripError = {
  /** Fewer than 4 bytes: no label stack entry at all. */
  FRAME_TOO_SHORT: -1,
  /** BoS = 0 but no complete second entry follows. */
  STACK_TRUNCATED: -2,
} as const;
export type StripErrorReason = 'frame-too-short' | 'stack-truncated';

/**
 * Prepares the MPLS frame at frame[off..off+len) for sending: lowers the next header's TTL
 * to the outer label's TTL when that is smaller (in place), and returns the outer entry's
 * lse24 (>= 0); the payload to encrypt is then frame[off+4..off+len). Negative values are
 * StripError codes.
 *
 * Lowering matters because the outer TTL does not travel: the receiver rebuilds it from the
 * next header, so without this every label-switching hop's decrement would be forgotten
 * and a forwarding loop would never end.
 */
export function stripOuterLse(frame: Uint8Array, off = 0, len = frame.length - off): number {
  if (len < LSE_SIZE) return StripError.FRAME_TOO_SHORT;
  const ttl = frame[off + 3];
  const lse24 = lse24At(frame, off);
  const p = off + LSE_SIZE;
  const plen = len - LSE_SIZE;
  if ((lse24 & 1) === 0) {
    if (plen < LSE_SIZE) return StripError.STACK_TRUNCATED;
    if (ttl < frame[p + 3]) frame[p + 3] = ttl;
    return lse24;
  }
  switch (ipVersionAt(frame, p, plen)) {
    case 4:
      lowerIpv4Ttl(frame, p, ttl);
      break;
    case 6:
      if (ttl < frame[p + 7]) frame[p + 7] = ttl;
      break;
    default:
      break;
  }
  return lse24;
}

/**
 * stripOuterLse for a whole frame (no packet-information header), returning the payload as
 * a view into the same memory.
 */
export function stripOuterLabel(
  frame: Buffer,
): { lse24: number; payload: Buffer } | { error: StripErrorReason } {
  const r = stripOuterLse(frame, 0, frame.length);
  if (r === StripError.FRAME_TOO_SHORT) return { error: 'frame-too-short' };
  if (r === StripError.STACK_TRUNCATED) return { error: 'stack-truncated' };
  return { lse24: r, payload: frame.subarray(LSE_SIZE) };
}

/** Lowers the TTL of the IPv4 header at buf[off] to `ttl` if smaller, fixing the checksum. */
export function lowerIpv4Ttl(buf: Uint8Array, off: number, ttl: number): void {
  const old = buf[off + 8];
  if (ttl >= old) return;
  // RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), on the 16-bit word holding TTL and protocol;
  // it never turns a valid checksum into the 0x0000/0xffff ambiguity eqn. 2 has.
  const proto = buf[off + 9];
  const m = (old << 8) | proto;
  const m2 = (ttl << 8) | proto;
  const hc = (buf[off + 10] << 8) | buf[off + 11];
  let sum = (~hc & 0xffff) + (~m & 0xffff) + m2;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  const hc2 = ~sum & 0xffff;
  buf[off + 8] = ttl;
  buf[off + 10] = hc2 >>> 8;
  buf[off + 11] = hc2 & 0xff;
}

// ---- Receive: rebuild the outermost LSE ----

/**
 * The outer TTL to rebuild for a received frame whose plaintext is payload[off..off+len):
 * the next entry's TTL (bos = 0), the IPv4 TTL / IPv6 hop limit (bos = 1 over IP), else
 * 64. -1 when bos = 0 but no complete entry follows (drop).
 */
export function rebuildOuterLabel(lse24: number, payload: Uint8Array, off = 0, len = payload.length - off): number {
  if ((lse24 & 1) === 0) return len >= LSE_SIZE ? payload[off + 3] : -1;
  switch (ipVersionAt(payload, off, len)) {
    case 4:
      return payload[off + 8];
    case 6:
      return payload[off + 7];
    default:
      return DEFAULT_MPLS_TTL;
  }
}

/** Writes the rebuilt outer LSE (lse24 and ttl) big-endian at dst[off..off+4). */
export function writeOuterLse(dst: Uint8Array, off: number, lse24: number, ttl: number): void {
  dst[off] = (lse24 >>> 16) & 0xff;
  dst[off + 1] = (lse24 >>> 8) & 0xff;
  dst[off + 2] = lse24 & 0xff;
  dst[off + 3] = ttl & 0xff;
}

/**
 * True length of a type 5/6 plaintext at payload[off..off+len) without WireGuard's zero
 * padding. With bos = 0 the remaining stack is walked to its bottom entry; then an IP
 * packet's own length counts, while anything else is kept whole (its length cannot be
 * known, so the padding stays). -1 when malformed: the stack runs out before a BoS entry,
 * or an IP header claims more bytes than there are (or fewer than its header).
 */
export function mplsPayloadLength(payload: Uint8Array, bos: number, off = 0, len = payload.length - off): number {
  let p = 0;
  if ((bos & 1) === 0) {
    for (;;) {
      if (p + LSE_SIZE > len) return -1;
      const last = payload[off + p + 2] & 1;
      p += LSE_SIZE;
      if (last === 1) break;
    }
  }
  const rest = len - p;
  const at = off + p;
  switch (ipVersionAt(payload, at, rest)) {
    case 4: {
      const total = (payload[at + 2] << 8) | payload[at + 3];
      const ihl = (payload[at] & 0x0f) * 4;
      return total > rest || total < ihl ? -1 : p + total;
    }
    case 6: {
      const total = 40 + ((payload[at + 4] << 8) | payload[at + 5]);
      return total > rest ? -1 : p + total;
    }
    default:
      return len;
  }
}
