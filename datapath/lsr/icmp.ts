// ICMP / ICMPv6 "time exceeded" for TTL expiry inside the userspace LSR (docs/design.md section 4).
//
// What is built (one allocation per reply, checksums computed in place):
//   - RFC 792 / RFC 4443 time exceeded, code 0 (in transit);
//   - RFC 4884 multi-part layout: the original datagram zero-padded (or truncated) to exactly
//     128 bytes, its length in the "length" attribute (ICMPv4: byte 5, in 32-bit words;
//     ICMPv6: byte 4, in 64-bit words), then the extension structure (version 2, checksum);
//   - RFC 4950 object: class 1 (MPLS label stack), c-type 1 (incoming stack), the entries as
//     they arrived, outermost first, TTLs as received.
// Exactly 128 bytes of original datagram is what receivers that predate or ignore the length
// attribute expect: tcpdump looks for the extension 128 bytes after the ICMP header and
// traceroute -e (Debian traceroute 2.x) 128 bytes after the start of the original datagram.
//
// The caller sends the result onwards along the LSP (RFC 3032 section 2.3.2): it pushes the
// received label stack again (with a fresh TTL) and switches it like a received frame, so the
// reply reaches the egress LSR, which routes it back to the source.
//
// No reply (null) when RFC 1812 4.3.2.7 / RFC 4443 2.4(e) forbid one or the original is not
// a usable IP packet; see v4SuppressReason / v6SuppressReason for the exact rules (exported
// so that the caller can count why).

export const ICMP_PROTO = 1;
export const ICMPV6_PROTO = 58;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMPV6_TIME_EXCEEDED = 3;
/** Code 0 of both: hop limit / TTL exceeded in transit. */
export const TIME_EXCEEDED_IN_TRANSIT = 0;

/** RFC 4884: original datagram length when an extension structure follows. */
export const ICMP_EXT_ORIGINAL_LEN = 128;
export const ICMP_EXT_VERSION = 2;
/** RFC 4950: MPLS label stack class, incoming label stack c-type. */
export const ICMP_EXT_MPLS_CLASS = 1;
export const ICMP_EXT_MPLS_CTYPE_INCOMING = 1;

/** RFC 1812 4.3.2.3: an ICMPv4 error SHOULD NOT be longer than 576 bytes (IP header included). */
export const ICMPV4_ERROR_MAX_LEN = 576;
/** RFC 4443 2.4(c): an ICMPv6 error MUST NOT exceed the minimum IPv6 MTU. */
export const ICMPV6_ERROR_MAX_LEN = 1280;

/** IP TTL / hop limit of the replies unless told otherwise. */
export const DEFAULT_ICMP_TTL = 255;
/** DSCP CS6 (IP precedence 6, "internetwork control"), as routers mark their ICMP errors. */
export const ICMP_ERROR_TOS = 0xc0;

const IPV4_HEADER_LEN = 20;
const IPV6_HEADER_LEN = 40;
const ICMP_HEADER_LEN = 8;
const EXT_HEADER_LEN = 4;
const EXT_OBJECT_HEADER_LEN = 4;
const LSE_LEN = 4;

export interface TimeExceededOptions {
  /** The packet that expired, as received: its IP header first. */
  original: Uint8Array;
  /** Our address, the reply's source: 4 bytes (IPv4) or 16 bytes (IPv6). */
  source: Uint8Array;
  /**
   * The received label stack entries, 4 bytes each, outermost first, TTLs as received. Empty:
   * a plain RFC 792/4443 time exceeded without extension (length attribute 0).
   */
  labelStack: Uint8Array;
  /** IP TTL / hop limit of the reply, 1..255; default 255. */
  ttl?: number;
}

export interface TimeExceededV4Options extends TimeExceededOptions {
  /** IPv4 identification of the reply, 0..65535; default 0 (pass a counter if you have one). */
  id?: number;
}

/** Why an original gets no ICMP error. */
export type SuppressReason =
  | 'malformed'
  | 'icmp-error'
  | 'fragment'
  | 'bad-source'
  | 'multicast-destination';

// ---- Checksums ----

/**
 * The 16-bit ones'-complement sum (RFC 1071) of buf[off..off+len), plus `initial`, folded to
 * 16 bits but not complemented. An odd trailing byte is padded with a zero byte.
 */
export function onesComplementSum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  if (off < 0 || len < 0 || off + len > buf.length) throw new RangeError('checksum range outside the buffer');
  let sum = initial;
  const end = off + (len & ~1);
  for (let i = off; i < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (len & 1) sum += buf[off + len - 1] << 8;
  // Each fold at least halves what is above 16 bits; a sum of up to 2^53 needs a few rounds.
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * The Internet checksum (RFC 1071) over buf[off..off+len): the ones' complement of the
 * ones'-complement sum, ready to store big-endian. `initial` is a partial sum (not
 * complemented) added in, e.g. a pseudo-header's. Over a region that holds a correct
 * checksum the result is 0.
 */
export function internetChecksum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  return ~onesComplementSum(buf, off, len, initial) & 0xffff;
}

/**
 * The header checksum the IPv4 header at buf[off] must carry (its checksum field counted as
 * zero, its length from IHL). A header is valid when this equals the stored checksum.
 */
export function ipv4HeaderChecksum(buf: Uint8Array, off = 0): number {
  const hl = (buf[off] & 0x0f) * 4;
  if (hl < IPV4_HEADER_LEN || off + hl > buf.length) throw new RangeError('no complete IPv4 header at this offset');
  // Everything but the checksum field (bytes 10..11).
  return internetChecksum(buf, off + 12, hl - 12, onesComplementSum(buf, off, 10));
}

// ---- No-reply rules ----

/**
 * null when an IPv4 packet may get an ICMP error, else why not (RFC 1812 4.3.2.7, RFC 1122
 * 3.2.2): not a complete IPv4 header (or a bad header checksum: RFC 1812 5.2.2 discards it
 * silently), an ICMP error (types 3, 4, 5, 11, 12, or an ICMP header too short to tell), a
 * non-first fragment, a source that is not one host (0/8, 127/8, 224/4 multicast, 240/4
 * including 255.255.255.255), a multicast or limited-broadcast destination. A total length
 * beyond the buffer is accepted (the caller may hand over a prefix); bytes past it are not quoted.
 */
export function v4SuppressReason(p: Uint8Array): SuppressReason | null {
  if (p.length < IPV4_HEADER_LEN || p[0] >>> 4 !== 4) return 'malformed';
  const hl = (p[0] & 0x0f) * 4;
  const total = (p[2] << 8) | p[3];
  if (hl < IPV4_HEADER_LEN || hl > p.length || total < hl) return 'malformed';
  if (ipv4HeaderChecksum(p, 0) !== ((p[10] << 8) | p[11])) return 'malformed';
  const s0 = p[12];
  if (s0 === 0 || s0 === 127 || s0 >= 224) return 'bad-source';
  const d0 = p[16];
  if ((d0 & 0xf0) === 0xe0 || (d0 === 255 && p[17] === 255 && p[18] === 255 && p[19] === 255)) {
    return 'multicast-destination';
  }
  if ((((p[6] & 0x1f) << 8) | p[7]) !== 0) return 'fragment';
  if (p[9] === ICMP_PROTO) {
    // The inner ICMP type must be readable (within the packet as received and as its header says).
    if (hl >= Math.min(p.length, total)) return 'icmp-error';
    const t = p[hl];
    if (t === 3 || t === 4 || t === 5 || t === 11 || t === 12) return 'icmp-error';
  }
  return null;
}

function v6IsZero(p: Uint8Array, off: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (p[off + i] !== 0) return false;
  return true;
}

/**
 * null when an IPv6 packet may get an ICMPv6 error, else why not (RFC 4443 2.4(e)): not a
 * complete IPv6 header or an unparsable extension header chain, an ICMPv6 error (type < 128,
 * or a header too short to tell), a non-first fragment (unlike Linux, which answers those:
 * we cannot tell whether they carry an ICMPv6 error), a source that is not one node (::, ::1,
 * ff00::/8, ::ffff:0:0/96), a multicast destination.
 */
export function v6SuppressReason(p: Uint8Array): SuppressReason | null {
  if (p.length < IPV6_HEADER_LEN || p[0] >>> 4 !== 6) return 'malformed';
  // Source: ::, ::1, v4-mapped, multicast.
  if (p[8] === 0xff) return 'bad-source';
  if (v6IsZero(p, 8, 10)) {
    if ((p[18] === 0 && p[19] === 0 && v6IsZero(p, 20, 3) && (p[23] === 0 || p[23] === 1)) || (p[18] === 0xff && p[19] === 0xff)) {
      return 'bad-source';
    }
  }
  if (p[24] === 0xff) return 'multicast-destination';
  // The packet's end: its payload length (0 = jumbogram: trust the buffer).
  const payloadLen = (p[4] << 8) | p[5];
  const end = payloadLen === 0 ? p.length : Math.min(p.length, IPV6_HEADER_LEN + payloadLen);
  let next = p[6];
  let off = IPV6_HEADER_LEN;
  for (;;) {
    if (next === 0 || next === 43 || next === 60) {
      // Hop-by-hop, routing, destination options: (hdr ext len + 1) * 8 bytes.
      if (off + 2 > end) return 'malformed';
      const n = p[off];
      off += (p[off + 1] + 1) * 8;
      next = n;
    } else if (next === 44) {
      // Fragment header: 8 bytes, offset in the top 13 bits of bytes 2..3.
      if (off + 8 > end) return 'malformed';
      if ((((p[off + 2] << 8) | p[off + 3]) & 0xfff8) !== 0) return 'fragment';
      next = p[off];
      off += 8;
    } else if (next === 51) {
      // Authentication header: (payload len + 2) * 4 bytes.
      if (off + 2 > end) return 'malformed';
      const n = p[off];
      off += (p[off + 1] + 2) * 4;
      next = n;
    } else {
      break;
    }
  }
  if (off > end) return 'malformed';
  if (next === ICMPV6_PROTO) {
    if (off >= end) return 'icmp-error';
    if (p[off] < 128) return 'icmp-error';
  }
  return null;
}

// ---- Builders ----

/** Copies n bytes without making a view (subarray) first. */
function copyBytes(src: Uint8Array, srcOff: number, n: number, dst: Uint8Array, dstOff: number): void {
  for (let i = 0; i < n; i++) dst[dstOff + i] = src[srcOff + i];
}

function checkCommon(opts: TimeExceededOptions, addrLen: number): number {
  if (opts.source.length !== addrLen) throw new RangeError(`source must be ${addrLen} bytes`);
  if (opts.labelStack.length % LSE_LEN !== 0) throw new RangeError('labelStack must be whole 4-byte entries');
  const ttl = opts.ttl ?? DEFAULT_ICMP_TTL;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw new RangeError('ttl must be 1..255');
  return ttl;
}

/**
 * Writes the ICMP(v6) body after the 8-byte ICMP header at out[icmpOff]: the quoted original
 * (quoteLen bytes copied, zero padding up to origLen already there), then, when `lses` > 0,
 * the extension structure with its checksum. Returns nothing; the caller fills the header.
 */
function writeBody(out: Uint8Array, icmpOff: number, original: Uint8Array, quoteLen: number, origLen: number, labelStack: Uint8Array, lses: number): void {
  const dataOff = icmpOff + ICMP_HEADER_LEN;
  copyBytes(original, 0, quoteLen, out, dataOff);
  if (lses === 0) return;
  const ext = dataOff + origLen;
  out[ext] = ICMP_EXT_VERSION << 4;
  const objLen = EXT_OBJECT_HEADER_LEN + lses * LSE_LEN;
  const obj = ext + EXT_HEADER_LEN;
  out[obj] = objLen >>> 8;
  out[obj + 1] = objLen & 0xff;
  out[obj + 2] = ICMP_EXT_MPLS_CLASS;
  out[obj + 3] = ICMP_EXT_MPLS_CTYPE_INCOMING;
  const stackLen = lses * LSE_LEN;
  copyBytes(labelStack, 0, stackLen, out, obj + EXT_OBJECT_HEADER_LEN);
  const c = internetChecksum(out, ext, EXT_HEADER_LEN + objLen);
  out[ext + 2] = c >>> 8;
  out[ext + 3] = c & 0xff;
}

/**
 * Layout shared by both families: how much of the original to quote, the padded length and
 * how many label stack entries fit under `budget` bytes of ICMP message.
 */
function layout(quotable: number, stackEntries: number, budget: number): { quoteLen: number; origLen: number; lses: number } {
  if (stackEntries === 0) {
    const quoteLen = Math.min(quotable, budget - ICMP_HEADER_LEN);
    return { quoteLen, origLen: quoteLen, lses: 0 };
  }
  const room = budget - ICMP_HEADER_LEN - ICMP_EXT_ORIGINAL_LEN - EXT_HEADER_LEN - EXT_OBJECT_HEADER_LEN;
  const lses = Math.min(stackEntries, Math.floor(room / LSE_LEN));
  return { quoteLen: Math.min(quotable, ICMP_EXT_ORIGINAL_LEN), origLen: ICMP_EXT_ORIGINAL_LEN, lses };
}

/**
 * ICMP time exceeded (type 11, code 0) for an expired IPv4 packet, with the RFC 4950 label
 * stack extension, as a complete IPv4 packet (source `source`, destination the original's
 * source, protocol 1, DF off, TOS 0xc0), or null when no error may be sent (v4SuppressReason).
 * Label stack entries beyond what fits in 576 bytes (103) are left out, innermost first.
 */
export function timeExceededV4(opts: TimeExceededV4Options): Uint8Array | null {
  const ttl = checkCommon(opts, 4);
  const id = opts.id ?? 0;
  if (!Number.isInteger(id) || id < 0 || id > 0xffff) throw new RangeError('id must be 0..65535');
  const p = opts.original;
  if (v4SuppressReason(p) !== null) return null;
  const quotable = Math.min(p.length, (p[2] << 8) | p[3]);
  const { quoteLen, origLen, lses } = layout(quotable, opts.labelStack.length / LSE_LEN, ICMPV4_ERROR_MAX_LEN - IPV4_HEADER_LEN);
  const icmpLen = ICMP_HEADER_LEN + origLen + (lses > 0 ? EXT_HEADER_LEN + EXT_OBJECT_HEADER_LEN + lses * LSE_LEN : 0);
  const total = IPV4_HEADER_LEN + icmpLen;
  const out = new Uint8Array(total);

  // IPv4 header.
  out[0] = 0x45;
  out[1] = ICMP_ERROR_TOS;
  out[2] = total >>> 8;
  out[3] = total & 0xff;
  out[4] = id >>> 8;
  out[5] = id & 0xff;
  // Flags and fragment offset 0: DF off (RFC 1812 4.3.2.3 sizes the error for any path).
  out[8] = ttl;
  out[9] = ICMP_PROTO;
  out.set(opts.source, 12);
  out[16] = p[12];
  out[17] = p[13];
  out[18] = p[14];
  out[19] = p[15];
  const hc = ipv4HeaderChecksum(out, 0);
  out[10] = hc >>> 8;
  out[11] = hc & 0xff;

  // ICMP.
  const icmp = IPV4_HEADER_LEN;
  out[icmp] = ICMP_TIME_EXCEEDED;
  out[icmp + 1] = TIME_EXCEEDED_IN_TRANSIT;
  // RFC 4884: byte 5 is the original datagram's length in 32-bit words (0 without extension).
  out[icmp + 5] = lses > 0 ? origLen / 4 : 0;
  writeBody(out, icmp, p, quoteLen, origLen, opts.labelStack, lses);
  const c = internetChecksum(out, icmp, icmpLen);
  out[icmp + 2] = c >>> 8;
  out[icmp + 3] = c & 0xff;
  return out;
}

/**
 * ICMPv6 time exceeded (type 3, code 0, "hop limit exceeded in transit") for an expired IPv6
 * packet, with the RFC 4950 label stack extension, as a complete IPv6 packet (source
 * `source`, destination the original's source, traffic class 0xc0, flow label 0, next header
 * 58) of at most 1280 bytes, or null when no error may be sent (v6SuppressReason). Label
 * stack entries beyond what fits (274) are left out, innermost first.
 */
export function timeExceededV6(opts: TimeExceededOptions): Uint8Array | null {
  const ttl = checkCommon(opts, 16);
  const p = opts.original;
  if (v6SuppressReason(p) !== null) return null;
  const payloadLen = (p[4] << 8) | p[5];
  const quotable = payloadLen === 0 ? p.length : Math.min(p.length, IPV6_HEADER_LEN + payloadLen);
  const { quoteLen, origLen, lses } = layout(quotable, opts.labelStack.length / LSE_LEN, ICMPV6_ERROR_MAX_LEN - IPV6_HEADER_LEN);
  const icmpLen = ICMP_HEADER_LEN + origLen + (lses > 0 ? EXT_HEADER_LEN + EXT_OBJECT_HEADER_LEN + lses * LSE_LEN : 0);
  const out = new Uint8Array(IPV6_HEADER_LEN + icmpLen);

  // IPv6 header: version 6, traffic class 0xc0, flow label 0.
  out[0] = 0x60 | (ICMP_ERROR_TOS >>> 4);
  out[1] = (ICMP_ERROR_TOS & 0x0f) << 4;
  out[4] = icmpLen >>> 8;
  out[5] = icmpLen & 0xff;
  out[6] = ICMPV6_PROTO;
  out[7] = ttl;
  out.set(opts.source, 8);
  copyBytes(p, 8, 16, out, 24);

  // ICMPv6.
  const icmp = IPV6_HEADER_LEN;
  out[icmp] = ICMPV6_TIME_EXCEEDED;
  out[icmp + 1] = TIME_EXCEEDED_IN_TRANSIT;
  // RFC 4884: byte 4 is the original datagram's length in 64-bit words (0 without extension).
  out[icmp + 4] = lses > 0 ? origLen / 8 : 0;
  writeBody(out, icmp, p, quoteLen, origLen, opts.labelStack, lses);
  // Pseudo-header (RFC 8200 8.1): source, destination, upper-layer length, next header.
  const pseudo = onesComplementSum(out, 8, 32, icmpLen + ICMPV6_PROTO);
  const c = internetChecksum(out, icmp, icmpLen, pseudo);
  out[icmp + 2] = c >>> 8;
  out[icmp + 3] = c & 0xff;
  return out;
}
