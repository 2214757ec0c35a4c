// The label-switching router's test fixtures: packet and stack builders written independently
// of the code under test, a FakeHost that records the LSR's decisions, and table set-up.
import { Egress, Lsr, LsrDrop, LsrHost } from '../../datapath/lsr/forwarder';
import { IpRoute, LsrSettings, MplsRoute, NextHop, defaultSettings } from '../../datapath/lsr/model';
import type { Prefix } from '../../datapath/device/config';
import { ipv4Checksum, ipv6NoNext, lse, parseLse } from '../packets';

// ---------------------------------------------------------------------------------------
// Helpers, independent of the code under test.
// ---------------------------------------------------------------------------------------

export type MplsEgress = Extract<Egress, { kind: 'mpls' }>;
export type IpEgress = Extract<Egress, { kind: 'ip' }>;
export type LocalEgress = Extract<Egress, { kind: 'local' }>;

export function v4(s: string): Buffer {
  const parts = s.split('.').map(Number);
  if (parts.length !== 4) throw new Error(`bad IPv4 ${s}`);
  return Buffer.from(parts);
}

export function v6(s: string): Buffer {
  const dbl = s.indexOf('::');
  const head = dbl >= 0 ? s.slice(0, dbl) : s;
  const tail = dbl >= 0 ? s.slice(dbl + 2) : '';
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = dbl >= 0 ? [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  if (groups.length !== 8) throw new Error(`bad IPv6 ${s}`);
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

export function pfx(s: string): Prefix {
  const [a, bits] = s.split('/');
  return { addr: a.includes(':') ? v6(a) : v4(a), bits: Number(bits) };
}

export const VIA1: NextHop = { family: 4, addr: v4('192.0.2.2') };
export const VIA2: NextHop = { family: 6, addr: v6('2001:db8::2') };
export const LOCAL4 = v4('192.0.2.1');
export const LOCAL6 = v6('2001:db8::1');

export const ilm = (label: number, outLabels: number[], dev = 'wg1', via: NextHop | null = VIA1): MplsRoute => ({ label, outLabels, via, dev });
export const ftn = (prefix: string, labels: number[], dev = 'wg1', via: NextHop | null = VIA1): IpRoute => ({ prefix: pfx(prefix), labels, via, dev });

export interface Entry {
  label: number;
  ttl: number;
  tc?: number;
  /** Defaults to 1 on the last entry given, 0 above it. */
  bos?: number;
}

/** A label stack (outermost first) over a payload. */
export function frame(entries: Entry[], payload: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([
    ...entries.map((e, i) => lse(e.label, e.tc ?? 0, e.bos ?? (i === entries.length - 1 ? 1 : 0), e.ttl)),
    payload,
  ]);
}

export interface Parsed {
  label: number;
  tc: number;
  bos: number;
  ttl: number;
}

/** The entries down to the first BoS, and what follows. */
export function parseStack(f: Buffer): { stack: Parsed[]; payload: Buffer } {
  const stack: Parsed[] = [];
  let off = 0;
  for (;;) {
    if (off + 4 > f.length) throw new Error('stack runs out before a BoS entry');
    const e = parseLse(f, off);
    stack.push(e);
    off += 4;
    if (e.bos) break;
  }
  return { stack, payload: f.subarray(off) };
}

/** An IPv6 packet with explicit addresses, traffic class and next header. */
export function ipv6(opts: { src?: string; dst?: string; hop: number; tclass?: number; next?: number; payload?: Buffer }): Buffer {
  const payload = opts.payload ?? Buffer.from('hello, six');
  const p = ipv6NoNext(opts.hop, payload);
  const tc = opts.tclass ?? 0;
  p[0] = 0x60 | (tc >> 4);
  p[1] = (tc & 0x0f) << 4;
  p[6] = opts.next ?? 59;
  v6(opts.src ?? 'fd00::1').copy(p, 8);
  v6(opts.dst ?? 'fd00::2').copy(p, 24);
  return p;
}

/** RFC 1071 ones'-complement sum, folded, not complemented. */
export function onesSum(b: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i < b.length; i += 2) sum += b[i] * 256 + (i + 1 < b.length ? b[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return sum;
}

/** An IPv4 ICMP packet (valid header and ICMP checksums). */
export function ipv4Icmp(src: string, dst: string, ttl: number, type: number, body: Buffer): Buffer {
  const p = Buffer.alloc(28 + body.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = ttl;
  p[9] = 1;
  v4(src).copy(p, 12);
  v4(dst).copy(p, 16);
  p.writeUInt16BE(ipv4Checksum(p.subarray(0, 20)), 10);
  p[20] = type;
  body.copy(p, 28);
  p.writeUInt16BE(~onesSum(p.subarray(20)) & 0xffff, 22);
  return p;
}

export function expectIpv4HeaderValid(p: Buffer): void {
  expect(ipv4Checksum(p.subarray(0, (p[0] & 0x0f) * 4))).toBe(p.readUInt16BE(10));
}

export const payloadOf = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff));

export class FakeHost implements LsrHost {
  readonly egresses: Egress[] = [];
  readonly drops: LsrDrop[] = [];
  readonly addressQueries: Array<{ family: 4 | 6; dev: string }> = [];
  addr4: Uint8Array | null = LOCAL4;
  addr6: Uint8Array | null = LOCAL6;

  egress(e: Egress): void {
    // Record the bytes as they were when handed over (the LSR may reuse memory afterwards).
    if (e.kind === 'mpls') this.egresses.push({ ...e, frame: Buffer.from(e.frame) });
    else if (e.kind === 'ip') this.egresses.push({ ...e, packet: Buffer.from(e.packet) });
    else this.egresses.push({ kind: 'local', packet: Buffer.from(e.packet) });
  }

  drop(reason: LsrDrop): void {
    this.drops.push(reason);
  }

  localAddress(family: 4 | 6, dev: string): Uint8Array | null {
    this.addressQueries.push({ family, dev });
    return family === 4 ? this.addr4 : this.addr6;
  }

  only(): Egress {
    expect(this.egresses).toHaveLength(1);
    return this.egresses[0];
  }

  mpls(): MplsEgress {
    const e = this.only();
    if (e.kind !== 'mpls') throw new Error(`expected an mpls egress, got ${e.kind}`);
    return e;
  }

  ip(): IpEgress {
    const e = this.only();
    if (e.kind !== 'ip') throw new Error(`expected an ip egress, got ${e.kind}`);
    return e;
  }

  local(): LocalEgress {
    const e = this.only();
    if (e.kind !== 'local') throw new Error(`expected a local egress, got ${e.kind}`);
    return e;
  }
}

export interface TableSpec {
  mpls?: MplsRoute[];
  ip?: IpRoute[];
  settings?: Partial<LsrSettings>;
}

export function setup(spec: TableSpec = {}, ifname = 'wg0', now?: () => number): { lsr: Lsr; host: FakeHost } {
  const host = new FakeHost();
  const lsr = new Lsr(ifname, host, now);
  lsr.load({ mpls: spec.mpls ?? [], ip: spec.ip ?? [], settings: { ...defaultSettings, ...spec.settings } });
  return { lsr, host };
}

export const PIPE: Partial<LsrSettings> = { ttlPropagate: false };
