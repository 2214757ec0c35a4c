// Addresses and prefixes as iproute2 reads and prints them (get_addr_ipv4's legacy forms such as
// `10/8`, netmask prefix lengths, glibc inet_ntop output): not the UAPI's netip rules.
import type { Prefix } from '../device/config';
import { Family, NextHop } from './model';
import { fail, q, strtoulWhole } from './syntaxUtil';
import { parseIPv6 } from '../net/addr';

/** iproute2's get_addr_ipv4: 1-4 dot-separated strtoul(…, 0) parts, missing ones zero. */
export function parseIpv4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length > 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < parts.length; i++) {
    const v = strtoulWhole(parts[i]);
    if (v === null || v > 255) return null;
    out[i] = v;
  }
  return out;
}

export function familyOfAddr(addr: Uint8Array): Family {
  return addr.length === 16 ? 6 : 4;
}

export function familyName(f: Family): 'inet' | 'inet6' {
  return f === 6 ? 'inet6' : 'inet';
}

/** An address of either family by its looks (':' means IPv6), as iproute2's get_addr_1. */
export function parseAddr(s: string): NextHop | null {
  // IPv6 text has one reading (glibc's inet_pton and Go's netip agree on it): net/addr.ts's.
  const addr = s.includes(':') ? parseIPv6(s) : parseIpv4(s);
  return addr ? { family: familyOfAddr(addr), addr } : null;
}

/** Text of a 4- or 16-byte address exactly as glibc's inet_ntop (so as ip prints it). */
export function formatAddr(addr: Uint8Array): string {
  if (addr.length === 4) return Array.from(addr).join('.');
  if (addr.length !== 16) throw new RangeError(`address must be 4 or 16 bytes, got ${addr.length}`);
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((addr[2 * i] << 8) | addr[2 * i + 1]);
  let base = -1;
  let len = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > len) {
      base = i;
      len = j - i;
    }
    i = j;
  }
  if (len < 2) base = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (base !== -1 && i >= base && i < base + len) {
      if (i === base) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && base === 0 && (len === 6 || (len === 5 && w[5] === 0xffff))) {
      out += Array.from(addr.subarray(12)).join('.');
      return out;
    }
    out += w[i].toString(16);
  }
  if (base !== -1 && base + len === 8) out += ':';
  return out;
}

export function maskAddr(addr: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(addr.length);
  for (let i = 0; i < addr.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    out[i] = addr[i] & ((0xff00 >> keep) & 0xff);
  }
  return out;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** iproute2's get_netmask: a number (strtoul base 0) or a contiguous dotted-quad mask. */
export function parsePrefixLength(s: string): number | null {
  const n = strtoulWhole(s);
  if (n !== null) return n;
  const m = parseIpv4(s);
  if (!m) return null;
  const v = ((m[0] << 24) | (m[1] << 16) | (m[2] << 8) | m[3]) >>> 0;
  const host = ~v >>> 0;
  if ((host & (host + 1)) >>> 0 !== 0) return null;
  let bits = 0;
  for (let x = v; x & 0x80000000; x = (x << 1) >>> 0) bits++;
  return bits;
}

export interface ParsedPrefix {
  prefix: Prefix;
  family: Family;
  /** "default"/"all"/"any" without a family to tie it to. */
  unspecifiedDefault: boolean;
}

/**
 * An IP prefix (get_prefix): ADDR[/LEN|/MASK], "default"/"all"/"any"; a bare address is a
 * host route. `family` null = by its looks. `hostBits`: 'refuse' (IPv4 adds/dels, like the
 * kernel), 'mask' (IPv6 routes and filters).
 */
export function parseIpPrefix(text: string, family: Family | null, strictV4HostBits: boolean): ParsedPrefix {
  const slash = text.indexOf('/');
  const addrText = slash === -1 ? text : text.slice(0, slash);
  const lenText = slash === -1 ? null : text.slice(slash + 1);
  if (addrText === 'default' || addrText === 'all' || addrText === 'any') {
    if (lenText !== null) fail(`prefix ${text} is invalid`);
    const f = family ?? 4;
    return { prefix: { addr: new Uint8Array(f === 6 ? 16 : 4), bits: 0 }, family: f, unspecifiedDefault: family === null };
  }
  const nh = parseAddr(addrText);
  if (!nh) fail(`prefix ${text} is invalid`);
  if (family !== null && nh.family !== family) fail(`${familyName(family)} prefix is expected rather than ${q(text)}`);
  const max = nh.addr.length * 8;
  let bits = max;
  if (lenText !== null) {
    const n = parsePrefixLength(lenText);
    if (n === null || n > max) fail(`prefix ${text} is invalid`);
    bits = n;
  }
  const masked = maskAddr(nh.addr, bits);
  if (strictV4HostBits && nh.family === 4 && !sameBytes(masked, nh.addr)) {
    fail(
      `Invalid prefix for given prefix length (${text} has host bits set; ` +
        `did you mean ${formatAddr(masked)}/${bits}?)`,
    );
  }
  return { prefix: { addr: masked, bits }, family: nh.family, unspecifiedDefault: false };
}

