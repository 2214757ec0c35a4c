// IP addresses and prefixes as bytes, parsed and printed the way wireguard-go (Go's netip)
// does, so `wg show` output matches it. Shared by the UAPI, the LSR tables and the CLI.
import type { Prefix } from '../device/config';

const DIGITS = /^[0-9]+$/;

/** Strict dotted quad (no leading zeros, like Go's netip.ParseAddr); null when malformed. */
export function parseIPv4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^[0-9]{1,3}$/.test(p) || (p.length > 1 && p[0] === '0')) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** IPv6 without zone (RFC 4291 text forms, embedded IPv4 allowed last); null when malformed. */
export function parseIPv6(s: string): Uint8Array | null {
  if (s.length === 0 || s.includes('%')) return null;
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return null;
  const split = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const left = dbl === -1 ? split(s) : split(s.slice(0, dbl));
  const right = dbl === -1 ? [] : split(s.slice(dbl + 2));
  if (dbl === -1 && left.length === 0) return null;

  const words: number[][] = [[], []]; // [left words, right words]
  const groups = [left, right];
  const lastSide = dbl === -1 || right.length === 0 ? 0 : 1;
  for (let side = 0; side < 2; side++) {
    const g = groups[side];
    for (let i = 0; i < g.length; i++) {
      const part = g[i];
      const isLast = side === lastSide && i === g.length - 1;
      if (isLast && part.includes('.')) {
        if (dbl !== -1 && side === 0) return null; // "1.2.3.4::" is not an address
        const v4 = parseIPv4(part);
        if (!v4) return null;
        words[side].push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return null;
      words[side].push(parseInt(part, 16));
    }
  }
  const n = words[0].length + words[1].length;
  if (dbl === -1 ? n !== 8 : n > 7) return null; // "::" must stand for at least one zero group
  const all = [...words[0], ...new Array<number>(8 - n).fill(0), ...words[1]];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** IPv4 (4 bytes) or IPv6 (16 bytes; IPv4-mapped stays 16 bytes, like netip); null when malformed. */
export function parseIp(s: string): Uint8Array | null {
  return s.includes(':') ? parseIPv6(s) : parseIPv4(s);
}

/** Go netip's String(): dotted quad; RFC 5952 IPv6 with "::ffff:a.b.c.d" for IPv4-mapped. */
export function ipToString(addr: Uint8Array): string {
  if (addr.length === 4) return addr.join('.');
  if (addr.length !== 16) throw new RangeError(`address must be 4 or 16 bytes, got ${addr.length}`);
  if (addr.subarray(0, 10).every((b) => b === 0) && addr[10] === 0xff && addr[11] === 0xff) {
    return `::ffff:${addr.subarray(12).join('.')}`;
  }
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((addr[2 * i] << 8) | addr[2 * i + 1]);
  // Longest run (>= 2) of zero groups becomes "::"; the first one wins a tie.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i >= 2 && j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
  }
  if (bestStart < 0) return w.map((x) => x.toString(16)).join(':');
  const head = w.slice(0, bestStart).map((x) => x.toString(16)).join(':');
  const tail = w.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':');
  return `${head}::${tail}`;
}

/** Clears the host bits (wireguard-go's allowed-IPs trie stores prefixes masked). */
export function maskPrefix(p: Prefix): Prefix {
  const addr = new Uint8Array(p.addr.length);
  for (let i = 0; i < addr.length; i++) {
    const keep = Math.max(0, Math.min(8, p.bits - 8 * i));
    addr[i] = p.addr[i] & ((0xff00 >> keep) & 0xff);
  }
  return { addr, bits: p.bits };
}

/** "10.1.2.3/24" -> {10.1.2.0, 24} (masked); null when malformed (no zone, bits in range). */
export function parsePrefix(s: string): Prefix | null {
  const slash = s.lastIndexOf('/');
  if (slash < 0) return null;
  const addr = parseIp(s.slice(0, slash));
  const bitsStr = s.slice(slash + 1);
  if (!addr || !DIGITS.test(bitsStr)) return null;
  const bits = Number(bitsStr);
  if (bits > addr.length * 8) return null;
  return maskPrefix({ addr, bits });
}

/** Canonical text of a prefix, host bits masked off: "10.1.2.0/24", "fd00::/64". */
export function prefixToString(p: Prefix): string {
  if ((p.addr.length !== 4 && p.addr.length !== 16) || !Number.isInteger(p.bits) || p.bits < 0 || p.bits > p.addr.length * 8) {
    throw new RangeError(`invalid prefix (${p.addr.length} bytes, /${p.bits})`);
  }
  return `${ipToString(maskPrefix(p).addr)}/${p.bits}`;
}
