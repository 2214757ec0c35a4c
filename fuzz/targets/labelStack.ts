// The label-stack codec (datapath/mpls/wire.ts) on arbitrary frames at arbitrary offsets: the
// send side's stripOuterLse, the receive side's rebuildOuterLabel and mplsPayloadLength, and
// the LSE field accessors.
//
// Properties: nothing outside frame[off, off+len) is read (the results do not depend on the
// bytes around it) or written; strip returns the first three bytes or an error code, and
// changes nothing but the next header's TTL (and, for IPv4, its checksum, which stays valid
// when it was); a rebuilt TTL is never above the TTL the sender had (the loop guard), except
// the documented 64 for a payload with no TTL of its own; payload lengths stay within the
// frame; makeLse/lse* round-trip.
import fc from 'fast-check';
import {
  DEFAULT_MPLS_TTL,
  StripError,
  ipVersionAt,
  lse24At,
  lseBos,
  lseLabel,
  lseTc,
  lseTtl,
  makeLse,
  mplsPayloadLength,
  rebuildOuterLabel,
  stripOuterLse,
  writeLse,
} from '../../datapath/mpls/wire';
import { mutatedBytes } from '../mutate';
import { FuzzTarget, expectThat } from '../target';

interface Input {
  frame: Buffer;
  pre: number;
  post: number;
  guard: number;
  lse: [number, number, number, number];
}

const ipv4 = (ttl: number, total = 28): Buffer => {
  const p = Buffer.alloc(total);
  p[0] = 0x45;
  p.writeUInt16BE(total, 2);
  p[8] = ttl;
  p[9] = 17;
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += p.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  p.writeUInt16BE(~s & 0xffff, 10);
  return p;
};
const ipv6 = (hops: number, payload = 8): Buffer => {
  const p = Buffer.alloc(40 + payload);
  p[0] = 0x60;
  p.writeUInt16BE(payload, 4);
  p[6] = 17;
  p[7] = hops;
  return p;
};
const lses = (entries: [number, number, number, number][]): Buffer => {
  const b = Buffer.alloc(4 * entries.length);
  entries.forEach(([l, tc, bos, ttl], i) => writeLse(b, 4 * i, makeLse(l, tc, bos, ttl)));
  return b;
};

const TEMPLATES = [
  Buffer.concat([lses([[100, 0, 1, 64]]), ipv4(64)]),
  Buffer.concat([lses([[100, 5, 1, 3]]), ipv4(200)]),
  Buffer.concat([lses([[16, 0, 0, 9], [17, 0, 1, 200]]), ipv6(20)]),
  Buffer.concat([lses([[1048575, 7, 0, 255], [3, 0, 0, 1], [0, 0, 1, 2]]), ipv4(1, 40)]),
  Buffer.concat([lses([[300, 0, 1, 50]]), Buffer.from('not an ip packet')]),
  lses([[200, 0, 0, 5]]),
];

function ipv4ChecksumOk(b: Uint8Array, off: number): boolean {
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (b[off + i] << 8) | b[off + i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s === 0xffff;
}

/** frame placed at [pre, pre+len) of a buffer whose other bytes are `guard`. */
function placed(i: Input, guard: number): { buf: Buffer; off: number; len: number } {
  const buf = Buffer.alloc(i.pre + i.frame.length + i.post, guard);
  i.frame.copy(buf, i.pre);
  return { buf, off: i.pre, len: i.frame.length };
}

function check(i: Input): void {
  // Reading: the same results whatever surrounds the frame.
  const x = placed(i, i.guard);
  const y = placed(i, i.guard ^ 0xff);
  const bos = i.frame.length > 2 ? i.frame[2] & 1 : 1;
  const results = (p: { buf: Buffer; off: number; len: number }): number[] => [
    rebuildOuterLabel(0x000641, p.buf, p.off, p.len),
    rebuildOuterLabel(0x000640, p.buf, p.off, p.len),
    mplsPayloadLength(p.buf, bos, p.off, p.len),
    mplsPayloadLength(p.buf, bos ^ 1, p.off, p.len),
    ipVersionAt(p.buf, p.off, p.len),
    stripOuterLse(p.buf, p.off, p.len),
  ];
  const rx = results(x);
  const ry = results(y);
  expectThat(rx.every((v, k) => v === ry[k]), `results depend on bytes outside the frame: ${rx} vs ${ry}`);

  // rebuildOuterLabel: -1 or a TTL; mplsPayloadLength: -1 or within the frame.
  for (const t of rx.slice(0, 2)) expectThat(t === -1 || (Number.isInteger(t) && t >= 0 && t <= 255), `rebuilt TTL ${t}`);
  for (const n of rx.slice(2, 4)) expectThat(n === -1 || (Number.isInteger(n) && n >= 0 && n <= i.frame.length), `payload length ${n} of ${i.frame.length}`);

  // Writing (strip, done once more on a fresh copy): only inside, only the next header's TTL.
  const z = placed(i, i.guard);
  const before = Buffer.from(z.buf);
  const r = stripOuterLse(z.buf, z.off, z.len);
  const len = i.frame.length;
  if (len < 4) expectThat(r === StripError.FRAME_TOO_SHORT, `strip of ${len} bytes gave ${r}`);
  else if ((i.frame[2] & 1) === 0 && len < 8) expectThat(r === StripError.STACK_TRUNCATED, `strip of a truncated stack gave ${r}`);
  else expectThat(r === lse24At(i.frame, 0), `strip returned ${r}, not the first three bytes`);
  const changed: number[] = [];
  for (let k = 0; k < z.buf.length; k++) if (z.buf[k] !== before[k]) changed.push(k - z.off);
  if (r < 0) {
    expectThat(changed.length === 0, 'a failed strip changed the frame');
    return;
  }
  const outer = i.frame[3];
  const p = 4;
  const v = (i.frame[2] & 1) === 1 ? ipVersionAt(i.frame, p, len - p) : 0;
  const allowed = (i.frame[2] & 1) === 0 ? [p + 3] : v === 4 ? [p + 8, p + 10, p + 11] : v === 6 ? [p + 7] : [];
  expectThat(changed.every((k) => allowed.includes(k)), `strip changed offsets ${changed} (may: ${allowed})`);
  if (v === 4 && ipv4ChecksumOk(before, z.off + p)) expectThat(ipv4ChecksumOk(z.buf, z.off + p), 'strip broke a valid IPv4 header checksum');

  // What the receiver rebuilds from the stripped payload never exceeds the sender's TTL.
  const payload = z.buf.subarray(z.off + p, z.off + len);
  const rebuilt = rebuildOuterLabel(r, payload);
  if ((r & 1) === 0 || v === 4 || v === 6) expectThat(rebuilt === -1 || rebuilt <= outer, `rebuilt TTL ${rebuilt} above the sender's ${outer}`);
  else expectThat(rebuilt === DEFAULT_MPLS_TTL, `rebuilt TTL ${rebuilt} for a payload without TTL`);

  // Field accessors round-trip.
  const [label, tc, b, ttl] = i.lse;
  const e = Buffer.alloc(4);
  writeLse(e, 0, makeLse(label, tc, b, ttl));
  expectThat(lseLabel(e) === (label & 0xfffff) && lseTc(e) === (tc & 7) && lseBos(e) === (b & 1) && lseTtl(e) === (ttl & 0xff), `LSE ${i.lse} did not round-trip`);
}

export async function labelStackTarget(): Promise<FuzzTarget<Input>> {
  const arbitrary = fc.record({
    frame: mutatedBytes(TEMPLATES, 96),
    pre: fc.nat({ max: 8 }),
    post: fc.nat({ max: 8 }),
    guard: fc.integer({ min: 0, max: 255 }),
    lse: fc.tuple(fc.integer({ min: -2, max: 0x1fffff }), fc.integer({ min: -1, max: 15 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: -1, max: 300 })),
  });
  return { arbitrary, check, async: false };
}
