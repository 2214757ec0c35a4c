import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeWhere } from '../canRun';
import { ICMPV4_ERROR_MAX_LEN, ICMPV6_ERROR_MAX_LEN, internetChecksum, ipv4HeaderChecksum, onesComplementSum, timeExceededV4, timeExceededV6, v4SuppressReason, v6SuppressReason } from '../../datapath/lsr/icmp';

// ---------------------------------------------------------------------------------------
// Independent helpers: written from the RFCs, sharing no code with the module under test.
// ---------------------------------------------------------------------------------------

/** RFC 1071 the slow way: list the 16-bit words, add, fold, complement. */
function refChecksum(bytes: ArrayLike<number>, pseudo: number[] = []): number {
  const all = [...pseudo, ...Array.from(bytes)];
  if (all.length % 2) all.push(0);
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) sum += all[i] * 256 + all[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return 0xffff - sum;
}

/** The checksum a region must carry, its own checksum field (at csOff, relative) zeroed. */
function expectedChecksum(region: Uint8Array, csOff: number, pseudo: number[] = []): number {
  const copy = Array.from(region);
  copy[csOff] = 0;
  copy[csOff + 1] = 0;
  return refChecksum(copy, pseudo);
}

const u16 = (b: Uint8Array, o: number): number => b[o] * 256 + b[o + 1];

function ip4(s: string): number[] {
  return s.split('.').map((x) => Number(x));
}

function ip6(s: string): number[] {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => {
    const v = parseInt(g, 16);
    return [v >> 8, v & 0xff];
  });
}

interface V4Spec {
  src?: string;
  dst?: string;
  proto?: number;
  ttl?: number;
  payload?: number[];
  fragOffset?: number;
  moreFragments?: boolean;
  options?: number[];
}

/** An IPv4 packet with a correct header checksum (the reference implementation's). */
function makeV4(spec: V4Spec = {}): Uint8Array {
  const opts = spec.options ?? [];
  const hl = 20 + opts.length;
  const payload = spec.payload ?? udpProbe(33434, 32);
  const total = hl + payload.length;
  const h = [
    0x40 | (hl / 4), 0, total >> 8, total & 0xff,
    0x12, 0x34, (spec.moreFragments ? 0x20 : 0) | ((spec.fragOffset ?? 0) >> 8), (spec.fragOffset ?? 0) & 0xff,
    spec.ttl ?? 1, spec.proto ?? 17, 0, 0,
    ...ip4(spec.src ?? '10.0.1.2'), ...ip4(spec.dst ?? '10.0.6.9'),
    ...opts,
  ];
  const c = refChecksum(h);
  h[10] = c >> 8;
  h[11] = c & 0xff;
  return Uint8Array.from([...h, ...payload]);
}

/** A traceroute-like UDP probe: 8-byte header and `n` bytes of data. */
function udpProbe(port: number, n: number): number[] {
  const len = 8 + n;
  return [0x9c, 0x40, port >> 8, port & 0xff, len >> 8, len & 0xff, 0, 0, ...Array.from({ length: n }, (_, i) => 0x40 + (i % 32))];
}

interface V6Spec {
  src?: string;
  dst?: string;
  next?: number;
  hopLimit?: number;
  payload?: number[];
}

function makeV6(spec: V6Spec = {}): Uint8Array {
  const payload = spec.payload ?? udpProbe(33434, 24);
  return Uint8Array.from([
    0x60, 0, 0, 0, payload.length >> 8, payload.length & 0xff, spec.next ?? 17, spec.hopLimit ?? 1,
    ...ip6(spec.src ?? '2001:db8:1::2'), ...ip6(spec.dst ?? '2001:db8:6::9'),
    ...payload,
  ]);
}

/** Label stack entry bytes: label 20 | TC 3 | S 1 | TTL 8, big-endian. */
function lse(label: number, tc: number, s: number, ttl: number): number[] {
  const v = label * 4096 + tc * 512 + s * 256 + ttl;
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

const OUR_V4 = Uint8Array.from(ip4('10.0.23.2'));
const OUR_V6 = Uint8Array.from(ip6('2001:db8:23::2'));
const TWO_LABELS = Uint8Array.from([...lse(101, 0, 0, 1), ...lse(202, 5, 1, 64)]);

// ---- A small decoder of our replies (RFC 792/4443 + 4884 + 4950), written for the test ----

interface DecodedLse {
  label: number;
  tc: number;
  s: number;
  ttl: number;
}

interface DecodedIcmp {
  type: number;
  code: number;
  checksum: number;
  lengthAttr: number;
  original: Uint8Array;
  ext: null | {
    version: number;
    checksum: number;
    checksumOk: boolean;
    objects: Array<{ length: number; cls: number; ctype: number; entries: DecodedLse[] }>;
  };
}

function decodeIcmpBody(icmp: Uint8Array, family: 4 | 6): DecodedIcmp {
  const lengthAttr = family === 4 ? icmp[5] : icmp[4];
  const origLen = lengthAttr * (family === 4 ? 4 : 8);
  const base = {
    type: icmp[0],
    code: icmp[1],
    checksum: u16(icmp, 2),
    lengthAttr,
  };
  if (lengthAttr === 0) return { ...base, original: icmp.subarray(8), ext: null };
  const original = icmp.subarray(8, 8 + origLen);
  const e = icmp.subarray(8 + origLen);
  const objects: NonNullable<DecodedIcmp['ext']>['objects'] = [];
  let o = 4;
  while (o + 4 <= e.length) {
    const length = u16(e, o);
    expect(length).toBeGreaterThanOrEqual(4);
    const entries: DecodedLse[] = [];
    for (let i = o + 4; i + 4 <= o + length; i += 4) {
      const v = ((e[i] << 24) | (e[i + 1] << 16) | (e[i + 2] << 8) | e[i + 3]) >>> 0;
      entries.push({ label: v >>> 12, tc: (v >>> 9) & 7, s: (v >>> 8) & 1, ttl: v & 0xff });
    }
    objects.push({ length, cls: e[o + 2], ctype: e[o + 3], entries });
    o += length;
  }
  expect(o).toBe(e.length);
  return {
    ...base,
    original,
    ext: { version: e[0] >> 4, checksum: u16(e, 2), checksumOk: refChecksum(e) === 0, objects },
  };
}

function decodeV4(pkt: Uint8Array): { ip: Record<string, number | number[]>; icmp: DecodedIcmp } {
  expect(pkt[0] >> 4).toBe(4);
  const hl = (pkt[0] & 15) * 4;
  const ip = {
    hl,
    tos: pkt[1],
    total: u16(pkt, 2),
    id: u16(pkt, 4),
    flagsFrag: u16(pkt, 6),
    ttl: pkt[8],
    proto: pkt[9],
    checksum: u16(pkt, 10),
    src: Array.from(pkt.subarray(12, 16)),
    dst: Array.from(pkt.subarray(16, 20)),
  };
  return { ip, icmp: decodeIcmpBody(pkt.subarray(hl, ip.total), 4) };
}

function decodeV6(pkt: Uint8Array): { ip: Record<string, number | number[]>; icmp: DecodedIcmp } {
  expect(pkt[0] >> 4).toBe(6);
  const ip = {
    tclass: ((pkt[0] & 15) << 4) | (pkt[1] >> 4),
    flow: ((pkt[1] & 15) << 16) | u16(pkt, 2),
    payloadLen: u16(pkt, 4),
    next: pkt[6],
    hopLimit: pkt[7],
    src: Array.from(pkt.subarray(8, 24)),
    dst: Array.from(pkt.subarray(24, 40)),
  };
  return { ip, icmp: decodeIcmpBody(pkt.subarray(40, 40 + ip.payloadLen), 6) };
}

function v6Pseudo(pkt: Uint8Array): number[] {
  const len = pkt.length - 40;
  return [...Array.from(pkt.subarray(8, 40)), (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff, 0, 0, 0, 58];
}

function mustV4(opts: Parameters<typeof timeExceededV4>[0]): Uint8Array {
  const r = timeExceededV4(opts);
  if (r === null) throw new Error('expected a reply');
  return r;
}

function mustV6(opts: Parameters<typeof timeExceededV6>[0]): Uint8Array {
  const r = timeExceededV6(opts);
  if (r === null) throw new Error('expected a reply');
  return r;
}
/** Per family: the packet maker, the two functions under test and our address as the reply's source. */
const FAMILIES = {
  4: { make: (spec: V4Spec): Uint8Array => makeV4(spec), suppressReason: v4SuppressReason, timeExceeded: timeExceededV4, source: OUR_V4 },
  6: { make: (spec: V6Spec): Uint8Array => makeV6(spec), suppressReason: v6SuppressReason, timeExceeded: timeExceededV6, source: OUR_V6 },
} as const;

/** `pkt` gets no reply, for `reason`: the reason is said, and nothing is built. */
function expectNoReply(family: 4 | 6, pkt: Uint8Array, reason: string): void {
  const f = FAMILIES[family];
  expect(f.suppressReason(pkt)).toBe(reason);
  expect(f.timeExceeded({ original: pkt, source: f.source, labelStack: TWO_LABELS })).toBeNull();
}

// ---------------------------------------------------------------------------------------

describe('checksum helpers', () => {
  it('internetChecksum matches the RFC 1071 worked example and the reference', () => {
    // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
    const b = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(onesComplementSum(b, 0, 8)).toBe(0xddf2);
    expect(internetChecksum(b, 0, 8)).toBe(0x220d);
    // Offsets, odd lengths and an initial partial sum.
    const r = Uint8Array.from(Array.from({ length: 301 }, (_, i) => (i * 37 + 11) & 0xff));
    for (const [off, len] of [[0, 301], [1, 300], [3, 77], [10, 0], [299, 2], [300, 1]]) {
      expect(internetChecksum(r, off, len)).toBe(refChecksum(r.subarray(off, off + len)));
    }
    expect(internetChecksum(r, 5, 40, 0x1234)).toBe(refChecksum(r.subarray(5, 45), [0x12, 0x34]));
    expect(internetChecksum(r, 5, 40, 0x12345678)).toBe(refChecksum(r.subarray(5, 45), [0x12, 0x34, 0x56, 0x78]));
    expect(() => internetChecksum(r, 300, 2)).toThrow(RangeError);
  });

  it('a region holding its correct checksum sums to zero', () => {
    const b = Uint8Array.from([0x45, 0x00, 0x00, 0x1c, 0xab, 0xcd, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00]);
    const c = internetChecksum(b, 0, b.length);
    b[10] = c >> 8;
    b[11] = c & 0xff;
    expect(internetChecksum(b, 0, b.length)).toBe(0);
  });

  it('ipv4HeaderChecksum ignores the stored field and honours IHL', () => {
    // A well-known example header: 4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7.
    const h = Uint8Array.from([0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0xb8, 0x61, 192, 168, 0, 1, 192, 168, 0, 0xc7]);
    expect(ipv4HeaderChecksum(h)).toBe(0xb861);
    h[10] = 0xde;
    h[11] = 0xad;
    expect(ipv4HeaderChecksum(h)).toBe(0xb861);
    // At an offset, with options (IHL 6).
    const withOpts = makeV4({ options: [0x94, 0x04, 0, 0] });
    const framed = Uint8Array.from([9, 9, 9, ...withOpts]);
    expect(ipv4HeaderChecksum(framed, 3)).toBe(u16(withOpts, 10));
    expect(() => ipv4HeaderChecksum(Uint8Array.from([0x44, ...Array(19).fill(0)]))).toThrow(RangeError);
    expect(() => ipv4HeaderChecksum(h.subarray(0, 19))).toThrow(RangeError);
  });
});

describe('timeExceededV4', () => {
  const original = makeV4({ payload: udpProbe(33435, 32) }); // 60 bytes, as traceroute sends

  it('builds a valid IPv4 header addressed to the original source', () => {
    const pkt = mustV4({ original, source: OUR_V4, labelStack: TWO_LABELS });
    const { ip } = decodeV4(pkt);
    expect(ip.hl).toBe(20);
    expect(ip.total).toBe(pkt.length);
    expect(pkt.length).toBe(20 + 8 + 128 + 4 + 4 + 8);
    expect(ip.flagsFrag).toBe(0); // DF off, not a fragment
    expect(ip.ttl).toBe(255);
    expect(ip.proto).toBe(1);
    expect(ip.tos).toBe(0xc0);
    expect(ip.src).toEqual(ip4('10.0.23.2'));
    expect(ip.dst).toEqual(ip4('10.0.1.2'));
    expect(ip.checksum).toBe(expectedChecksum(pkt.subarray(0, 20), 10));
    expect(refChecksum(pkt.subarray(0, 20))).toBe(0);
  });

  it('ICMP type 11 code 0, RFC 4884 length 32 words, checksum over the whole message', () => {
    const pkt = mustV4({ original, source: OUR_V4, labelStack: TWO_LABELS });
    const icmpBytes = pkt.subarray(20);
    const { icmp } = decodeV4(pkt);
    expect(icmp.type).toBe(11);
    expect(icmp.code).toBe(0);
    expect(Array.from(icmpBytes.subarray(4, 8))).toEqual([0, 32, 0, 0]);
    expect(icmp.checksum).toBe(expectedChecksum(icmpBytes, 2));
    expect(refChecksum(icmpBytes)).toBe(0);
  });

  it('quotes the original zero-padded to 128 bytes', () => {
    const pkt = mustV4({ original, source: OUR_V4, labelStack: TWO_LABELS });
    const { icmp } = decodeV4(pkt);
    expect(icmp.original.length).toBe(128);
    expect(Array.from(icmp.original.subarray(0, original.length))).toEqual(Array.from(original));
    expect(icmp.original.subarray(original.length).every((b) => b === 0)).toBe(true);
  });

  it('truncates a long original to 128 bytes (and ignores bytes past its total length)', () => {
    const big = makeV4({ payload: udpProbe(33436, 1372) }); // 1400 bytes
    const pkt = mustV4({ original: big, source: OUR_V4, labelStack: TWO_LABELS });
    expect(pkt.length).toBe(20 + 8 + 128 + 16);
    expect(Array.from(decodeV4(pkt).icmp.original)).toEqual(Array.from(big.subarray(0, 128)));
    // Trailing link padding beyond the IPv4 total length is not quoted.
    const padded = Uint8Array.from([...original, 0xee, 0xee, 0xee, 0xee]);
    const q = decodeV4(mustV4({ original: padded, source: OUR_V4, labelStack: TWO_LABELS })).icmp.original;
    expect(q.subarray(original.length).every((b) => b === 0)).toBe(true);
  });

  it('the extension: version 2, checksum, one MPLS object (class 1, c-type 1), the two entries', () => {
    const pkt = mustV4({ original, source: OUR_V4, labelStack: TWO_LABELS });
    const ext = pkt.subarray(20 + 8 + 128);
    // Worked by hand: words 2000 0000 000c 0101 0006 5001 000c ab40 sum to 0x1c61 -> ~ = 0xe39e.
    expect(Array.from(ext)).toEqual([
      0x20, 0x00, 0xe3, 0x9e, // version 2, reserved, checksum
      0x00, 0x0c, 0x01, 0x01, // object length 12, class 1, c-type 1
      0x00, 0x06, 0x50, 0x01, // label 101, TC 0, S 0, TTL 1
      0x00, 0x0c, 0xab, 0x40, // label 202, TC 5, S 1, TTL 64
    ]);
    expect(expectedChecksum(ext, 2)).toBe(0xe39e);
  });

  it('round trip through the test decoder', () => {
    const pkt = mustV4({ original, source: OUR_V4, labelStack: TWO_LABELS, ttl: 64, id: 0xbeef });
    const { ip, icmp } = decodeV4(pkt);
    expect(ip.ttl).toBe(64);
    expect(ip.id).toBe(0xbeef);
    expect(icmp.ext).not.toBeNull();
    expect(icmp.ext?.version).toBe(2);
    expect(icmp.ext?.checksumOk).toBe(true);
    expect(icmp.ext?.objects).toEqual([
      {
        length: 12,
        cls: 1,
        ctype: 1,
        entries: [
          { label: 101, tc: 0, s: 0, ttl: 1 },
          { label: 202, tc: 5, s: 1, ttl: 64 },
        ],
      },
    ]);
    // The quoted header is the original's, so the sender can match its probe.
    const quoted = icmp.original;
    expect(quoted[9]).toBe(17);
    expect(u16(quoted, 20 + 2)).toBe(33435);
  });

  it('a label stack of one entry, and the maximum label value', () => {
    const one = Uint8Array.from(lse(0xfffff, 7, 1, 0));
    const pkt = mustV4({ original, source: OUR_V4, labelStack: one });
    expect(pkt.length).toBe(20 + 8 + 128 + 12);
    expect(decodeV4(pkt).icmp.ext?.objects[0].entries).toEqual([{ label: 0xfffff, tc: 7, s: 1, ttl: 0 }]);
    expect(refChecksum(pkt.subarray(20))).toBe(0);
    expect(refChecksum(pkt.subarray(20 + 8 + 128))).toBe(0);
  });

  it('keeps the reply within 576 bytes: a huge stack loses its innermost entries', () => {
    const stack = Uint8Array.from(Array.from({ length: 200 }, (_, i) => lse(1000 + i, 0, i === 199 ? 1 : 0, 200)).flat());
    const pkt = mustV4({ original, source: OUR_V4, labelStack: stack });
    expect(pkt.length).toBeLessThanOrEqual(ICMPV4_ERROR_MAX_LEN);
    expect(pkt.length).toBe(20 + 8 + 128 + 8 + 103 * 4);
    const entries = decodeV4(pkt).icmp.ext?.objects[0].entries ?? [];
    expect(entries.length).toBe(103);
    expect(entries[0].label).toBe(1000);
    expect(entries[102].label).toBe(1102);
    expect(refChecksum(pkt.subarray(20))).toBe(0);
  });

  it('without a label stack: plain RFC 792 message, length attribute 0, original up to 576', () => {
    const pkt = mustV4({ original, source: OUR_V4, labelStack: new Uint8Array(0) });
    expect(pkt.length).toBe(20 + 8 + original.length);
    const { icmp } = decodeV4(pkt);
    expect(icmp.lengthAttr).toBe(0);
    expect(icmp.ext).toBeNull();
    expect(Array.from(icmp.original)).toEqual(Array.from(original));
    expect(refChecksum(pkt.subarray(20))).toBe(0);
    const big = makeV4({ payload: udpProbe(33436, 1372) });
    const pkt2 = mustV4({ original: big, source: OUR_V4, labelStack: new Uint8Array(0) });
    expect(pkt2.length).toBe(576);
    expect(refChecksum(pkt2.subarray(20))).toBe(0);
  });

  it('answers ICMP informational messages (echo, timestamp) and TCP, and a first fragment', () => {
    for (const type of [8, 0, 13, 14]) {
      const echo = makeV4({ proto: 1, payload: [type, 0, 0x12, 0x34, 0, 1, 0, 7, 1, 2, 3, 4] });
      expect(timeExceededV4({ original: echo, source: OUR_V4, labelStack: TWO_LABELS })).not.toBeNull();
    }
    const tcp = makeV4({ proto: 6, payload: Array(20).fill(1) });
    expect(timeExceededV4({ original: tcp, source: OUR_V4, labelStack: TWO_LABELS })).not.toBeNull();
    const first = makeV4({ moreFragments: true, fragOffset: 0 });
    expect(timeExceededV4({ original: first, source: OUR_V4, labelStack: TWO_LABELS })).not.toBeNull();
    // IPv4 options are quoted as they came.
    const withOpts = makeV4({ options: [0x01, 0x01, 0x01, 0x00] });
    const q = decodeV4(mustV4({ original: withOpts, source: OUR_V4, labelStack: TWO_LABELS })).icmp.original;
    expect(Array.from(q.subarray(0, withOpts.length))).toEqual(Array.from(withOpts));
  });

  it('never answers an ICMP error', () => {
    for (const type of [3, 4, 5, 11, 12]) {
      expectNoReply(4, makeV4({ proto: 1, payload: [type, 0, 0, 0, 0, 0, 0, 0, ...makeV4()] }), 'icmp-error');
    }
    // ICMP whose type byte is missing: cannot tell, so no.
    const bare = makeV4({ proto: 1, payload: [] });
    expect(timeExceededV4({ original: bare, source: OUR_V4, labelStack: TWO_LABELS })).toBeNull();
  });

  it('rejects caller mistakes loudly', () => {
    expect(() => timeExceededV4({ original, source: OUR_V6, labelStack: TWO_LABELS })).toThrow(RangeError);
    expect(() => timeExceededV4({ original, source: OUR_V4, labelStack: TWO_LABELS.subarray(0, 6) })).toThrow(RangeError);
    expect(() => timeExceededV4({ original, source: OUR_V4, labelStack: TWO_LABELS, ttl: 0 })).toThrow(RangeError);
    expect(() => timeExceededV4({ original, source: OUR_V4, labelStack: TWO_LABELS, ttl: 256 })).toThrow(RangeError);
    expect(() => timeExceededV4({ original, source: OUR_V4, labelStack: TWO_LABELS, id: 70000 })).toThrow(RangeError);
  });

  it('does not modify its inputs', () => {
    const o = Uint8Array.from(original);
    const s = Uint8Array.from(TWO_LABELS);
    mustV4({ original: o, source: OUR_V4, labelStack: s });
    expect(o).toEqual(original);
    expect(s).toEqual(TWO_LABELS);
  });
});

describe('timeExceededV6', () => {
  const original = makeV6(); // 40 + 32 bytes

  it('builds a valid IPv6 header and ICMPv6 type 3 code 0 with RFC 4884 length 16', () => {
    const pkt = mustV6({ original, source: OUR_V6, labelStack: TWO_LABELS });
    const { ip, icmp } = decodeV6(pkt);
    expect(pkt.length).toBe(40 + 8 + 128 + 16);
    expect(ip.payloadLen).toBe(pkt.length - 40);
    expect(ip.next).toBe(58);
    expect(ip.hopLimit).toBe(255);
    expect(ip.tclass).toBe(0xc0);
    expect(ip.flow).toBe(0);
    expect(ip.src).toEqual(ip6('2001:db8:23::2'));
    expect(ip.dst).toEqual(ip6('2001:db8:1::2'));
    expect(icmp.type).toBe(3);
    expect(icmp.code).toBe(0);
    expect(Array.from(pkt.subarray(44, 48))).toEqual([16, 0, 0, 0]);
  });

  it('the ICMPv6 checksum covers the pseudo-header and the whole message', () => {
    const pkt = mustV6({ original, source: OUR_V6, labelStack: TWO_LABELS });
    const icmpBytes = pkt.subarray(40);
    expect(u16(icmpBytes, 2)).toBe(expectedChecksum(icmpBytes, 2, v6Pseudo(pkt)));
    expect(refChecksum(icmpBytes, v6Pseudo(pkt))).toBe(0);
    // Without the pseudo-header it would not verify.
    expect(refChecksum(icmpBytes)).not.toBe(0);
  });

  it('quotes the original padded to 128 and carries the same extension bytes as IPv4', () => {
    const pkt = mustV6({ original, source: OUR_V6, labelStack: TWO_LABELS, ttl: 7 });
    const { ip, icmp } = decodeV6(pkt);
    expect(ip.hopLimit).toBe(7);
    expect(Array.from(icmp.original.subarray(0, original.length))).toEqual(Array.from(original));
    expect(icmp.original.subarray(original.length).every((b) => b === 0)).toBe(true);
    expect(Array.from(pkt.subarray(40 + 8 + 128))).toEqual([
      0x20, 0x00, 0xe3, 0x9e,
      0x00, 0x0c, 0x01, 0x01,
      0x00, 0x06, 0x50, 0x01,
      0x00, 0x0c, 0xab, 0x40,
    ]);
    expect(icmp.ext?.checksumOk).toBe(true);
    expect(icmp.ext?.objects[0].entries).toEqual([
      { label: 101, tc: 0, s: 0, ttl: 1 },
      { label: 202, tc: 5, s: 1, ttl: 64 },
    ]);
  });

  it('truncates a long original to 128 and never exceeds 1280 bytes', () => {
    const big = makeV6({ payload: udpProbe(33500, 1400) });
    const pkt = mustV6({ original: big, source: OUR_V6, labelStack: TWO_LABELS });
    expect(Array.from(decodeV6(pkt).icmp.original)).toEqual(Array.from(big.subarray(0, 128)));
    const stack = Uint8Array.from(Array.from({ length: 400 }, (_, i) => lse(5000 + i, 1, i === 399 ? 1 : 0, 9)).flat());
    const huge = mustV6({ original: big, source: OUR_V6, labelStack: stack });
    expect(huge.length).toBeLessThanOrEqual(ICMPV6_ERROR_MAX_LEN);
    expect(huge.length).toBe(1280);
    expect(decodeV6(huge).icmp.ext?.objects[0].entries.length).toBe(274);
    expect(refChecksum(huge.subarray(40), v6Pseudo(huge))).toBe(0);
    const plain = mustV6({ original: big, source: OUR_V6, labelStack: new Uint8Array(0) });
    expect(plain.length).toBe(1280);
    expect(decodeV6(plain).icmp.lengthAttr).toBe(0);
    expect(refChecksum(plain.subarray(40), v6Pseudo(plain))).toBe(0);
  });

  it('answers ICMPv6 informational messages, also behind extension headers, and first fragments', () => {
    const echo = makeV6({ next: 58, payload: [128, 0, 0, 0, 0, 1, 0, 1, 9, 9] });
    expect(timeExceededV6({ original: echo, source: OUR_V6, labelStack: TWO_LABELS })).not.toBeNull();
    // Hop-by-hop (8 bytes) -> destination options (16 bytes) -> ICMPv6 echo reply.
    const hbh = [60, 0, 1, 4, 0, 0, 0, 0];
    const dst = [58, 1, 1, 12, ...Array(12).fill(0)];
    const chained = makeV6({ next: 0, payload: [...hbh, ...dst, 129, 0, 0, 0, 0, 1, 0, 1] });
    expect(v6SuppressReason(chained)).toBeNull();
    const firstFrag = makeV6({ next: 44, payload: [17, 0, 0x00, 0x01, 0, 0, 0, 1, ...udpProbe(1, 8)] });
    expect(v6SuppressReason(firstFrag)).toBeNull();
  });

  it('never answers ICMPv6 errors (type < 128), even behind extension headers', () => {
    for (const type of [1, 2, 3, 4, 127]) {
      expectNoReply(6, makeV6({ next: 58, payload: [type, 0, 0, 0, 0, 0, 0, 0, ...makeV6()] }), 'icmp-error');
      const hbh = [43, 0, 1, 4, 0, 0, 0, 0];
      const rh = [58, 0, 0, 0, 0, 0, 0, 0];
      const chained = makeV6({ next: 0, payload: [...hbh, ...rh, type, 0, 0, 0, 0, 0, 0, 0] });
      expect(v6SuppressReason(chained)).toBe('icmp-error');
    }
    expect(v6SuppressReason(makeV6({ next: 58, payload: [] }))).toBe('icmp-error');
  });

  it('rejects caller mistakes loudly', () => {
    expect(() => timeExceededV6({ original, source: OUR_V4, labelStack: TWO_LABELS })).toThrow(RangeError);
    expect(() => timeExceededV6({ original, source: OUR_V6, labelStack: TWO_LABELS.subarray(0, 3) })).toThrow(RangeError);
    expect(() => timeExceededV6({ original, source: OUR_V6, labelStack: TWO_LABELS, ttl: 1.5 })).toThrow(RangeError);
  });
});

// What both families must never answer, as one table: per family the addresses that are not one
// host (sources) or not one listener (destinations), the fragments that are not the first, and
// the bytes that are not a packet of the family at all.
describe.each([
  {
    family: 4 as const,
    badSources: ['0.0.0.0', '0.1.2.3', '127.0.0.1', '224.0.0.5', '239.1.2.3', '240.0.0.1', '255.255.255.255'],
    multicastDestinations: ['224.0.0.1', '239.255.255.250', '255.255.255.255'],
    // Ordinary unicast, including a subnet's .255 (we cannot know it is a broadcast).
    unicastSources: ['1.2.3.4', '10.255.255.255', '223.255.255.254'],
    laterFragments: (): Uint8Array[] => ([[1, true], [185, false], [0x1fff, true]] as const).map(([fragOffset, moreFragments]) => makeV4({ fragOffset, moreFragments })),
    malformed: (): Uint8Array[] => {
      const ok = makeV4();
      return [
        new Uint8Array(0),
        ok.subarray(0, 19),
        makeV6(),
        Uint8Array.from([0x44, ...ok.subarray(1)]), // IHL 4
        Uint8Array.from([0x4f, ...ok.subarray(1)]), // IHL 15: the checksum over 60 bytes fails
        (() => {
          const b = Uint8Array.from(ok);
          b[2] = 0;
          b[3] = 19; // total length below the header
          const c = refChecksum([...b.subarray(0, 10), 0, 0, ...b.subarray(12, 20)]);
          b[10] = c >> 8;
          b[11] = c & 0xff;
          return b;
        })(),
        (() => {
          const b = Uint8Array.from(ok);
          b[11] ^= 1; // bad header checksum
          return b;
        })(),
        makeV4({ options: Array(40).fill(1), payload: [] }).subarray(0, 40), // a header longer than the buffer
      ];
    },
  },
  {
    family: 6 as const,
    badSources: ['::', '::1', 'ff02::1', 'ff0e::1:2', '::ffff:a00:1'],
    multicastDestinations: ['ff02::1', 'ff05::1:3'],
    unicastSources: ['::2', 'fe80::1', '2001:db8::ffff:a00:1', '64:ff9b::a00:1'],
    laterFragments: (): Uint8Array[] => [makeV6({ next: 44, payload: [58, 0, 0x05, 0x48, 0, 0, 0, 1, 1, 2, 3, 4] })],
    malformed: (): Uint8Array[] => [
      new Uint8Array(0),
      makeV6().subarray(0, 39),
      makeV4(),
      makeV6({ next: 0, payload: [17] }), // hop-by-hop header cut short
      makeV6({ next: 0, payload: [17, 3, 0, 0, 0, 0, 0, 0] }), // claims 32 bytes, has 8
      makeV6({ next: 44, payload: [17, 0, 0, 0] }), // fragment header cut short
    ],
  },
])('IPv$family: what gets no time exceeded', ({ family, badSources, multicastDestinations, unicastSources, laterFragments, malformed }) => {
  const f = FAMILIES[family];

  it('never a source that is not one host, nor a multicast/broadcast destination', () => {
    for (const src of badSources) expectNoReply(family, f.make({ src }), 'bad-source');
    for (const dst of multicastDestinations) expectNoReply(family, f.make({ dst }), 'multicast-destination');
    for (const src of unicastSources) expect(f.suppressReason(f.make({ src }))).toBeNull();
  });

  it('never a non-first fragment', () => {
    for (const frag of laterFragments()) expectNoReply(family, frag, 'fragment');
  });

  it(`never what is not an IPv${family} packet`, () => {
    for (const c of malformed()) expectNoReply(family, c, 'malformed');
  });
});

// ---------------------------------------------------------------------------------------
// The independent check: does a real decoder (tcpdump) read our bytes the same way?
// ---------------------------------------------------------------------------------------

function findTcpdump(): string | null {
  for (const p of ['/usr/bin/tcpdump', '/usr/sbin/tcpdump', '/usr/local/bin/tcpdump', '/usr/local/sbin/tcpdump']) {
    if (fs.existsSync(p)) return p;
  }
  return null;
}

const tcpdump = findTcpdump();
// Reading a file needs no root (as root, tcpdump drops to its own user: the files are made readable).
const canRunTcpdump = tcpdump === null ? 'needs tcpdump (scripts/install-deps.sh)' : null;

/** pcap (LINKTYPE_RAW = 101: the packet starts with its IPv4/IPv6 header). */
function pcap(packets: Uint8Array[]): Buffer {
  const g = Buffer.alloc(24);
  g.writeUInt32LE(0xa1b2c3d4, 0);
  g.writeUInt16LE(2, 4);
  g.writeUInt16LE(4, 6);
  g.writeUInt32LE(65535, 16);
  g.writeUInt32LE(101, 20);
  const parts: Buffer[] = [g];
  packets.forEach((p, i) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(1700000000 + i, 0);
    r.writeUInt32LE(p.length, 8);
    r.writeUInt32LE(p.length, 12);
    parts.push(r, Buffer.from(p));
  });
  return Buffer.concat(parts);
}

describeWhere(canRunTcpdump)('tcpdump decodes our replies', () => {
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wgmpls-icmp-'));
  });
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  function readBack(packets: Uint8Array[]): string {
    const file = path.join(dir, `r${Date.now()}${Math.random().toString(36).slice(2)}.pcap`);
    fs.writeFileSync(file, pcap(packets));
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(file, 0o644);
    return execFileSync(tcpdump as string, ['-nn', '-v', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  it('IPv4: time exceeded, valid checksums, MPLS extension v2 with its label', () => {
    const original = makeV4({ payload: udpProbe(33435, 32) });
    const single = Uint8Array.from(lse(101, 0, 1, 1));
    const out = readBack([
      mustV4({ original, source: OUR_V4, labelStack: single }),
      mustV4({ original, source: OUR_V4, labelStack: TWO_LABELS }),
    ]);
    expect(out).toContain('10.0.23.2 > 10.0.1.2: ICMP time exceeded in-transit');
    expect(out).not.toMatch(/bad cksum|wrong icmp cksum|incorrect/);
    // tcpdump 4.99 says "ICMP Multi-Part extension", older ones "MPLS extension". Checksums
    // worked by hand: 0x8def for the one-entry structure, 0xe39e for the two-entry one.
    expect(out).toMatch(
      /(ICMP Multi-Part|MPLS) extension v2, checksum 0x8def \(correct\), length 12\s+MPLS Stack Entry Object \(1\), Class-Type: 1, length 8\s+label 101, tc 0, \[S\], ttl 1/,
    );
    // tcpdump prints only the first entry of an object: it must be the outermost one.
    expect(out).toMatch(
      /(ICMP Multi-Part|MPLS) extension v2, checksum 0xe39e \(correct\), length 16\s+MPLS Stack Entry Object \(1\), Class-Type: 1, length 12\s+label 101, tc 0, ttl 1/,
    );
    expect(out).toContain('ICMP time exceeded in-transit, length 148');
    expect(out).toContain('ICMP time exceeded in-transit, length 152');
    // The quoted probe is decoded too: the traceroute UDP port.
    expect(out).toContain('10.0.1.2.40000 > 10.0.6.9.33435: UDP');
  });

  it('IPv6: hop limit exceeded, ICMPv6 checksum verified', () => {
    const original = makeV6();
    const out = readBack([mustV6({ original, source: OUR_V6, labelStack: TWO_LABELS })]);
    expect(out).toContain('2001:db8:23::2 > 2001:db8:1::2: [icmp6 sum ok] ICMP6, time exceeded in-transit');
    expect(out).not.toMatch(/bad icmp6 cksum/);
  });
});
