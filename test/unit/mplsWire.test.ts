import { DEFAULT_MPLS_TTL, MplsLabel, StripError, ipPacketLength, ipVersionAt, lowerIpv4Ttl, lse24At, lseBos, lseLabel, lseTc, lseTtl, makeLse, mplsPayloadLength, rebuildOuterLabel, stripOuterLabel, stripOuterLse, writeLse, writeOuterLse } from '../../datapath/mpls/wire';
import { sealTransport, transportKey } from '../../datapath/device/transport';
import { MessageMplsMulticastType, MessageMplsUnicastType, readLse24 } from '../../datapath/noise/messages';

function ipv4Checksum(h: Uint8Array, len = (h[0] & 0x0f) * 4): number {
  let sum = 0;
  for (let i = 0; i < len; i += 2) {
    if (i === 10) continue;
    sum += (h[i] << 8) | h[i + 1];
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ipv4(ttl: number, payloadLen = 8, proto = 17, id = 0x1c46): Buffer {
  const b = Buffer.alloc(20 + payloadLen);
  b[0] = 0x45;
  b[1] = 0xb8;
  b.writeUInt16BE(20 + payloadLen, 2);
  b.writeUInt16BE(id, 4);
  b.writeUInt16BE(0x4000, 6);
  b[8] = ttl;
  b[9] = proto;
  Buffer.from([10, 0, 12, 1, 10, 0, 34, 2]).copy(b, 12);
  for (let i = 20; i < b.length; i++) b[i] = i & 0xff;
  b.writeUInt16BE(ipv4Checksum(b), 10);
  return b;
}

function ipv6(hopLimit: number, payloadLen = 8): Buffer {
  const b = Buffer.alloc(40 + payloadLen);
  b[0] = 0x60;
  b.writeUInt16BE(payloadLen, 4);
  b[6] = 58;
  b[7] = hopLimit;
  b[8] = 0x20;
  b[9] = 0x01;
  for (let i = 40; i < b.length; i++) b[i] = 0xa0 | (i & 0x0f);
  return b;
}

function lse(label: number, tc: number, bos: number, ttl: number): Buffer {
  const b = Buffer.alloc(4);
  writeLse(b, 0, makeLse(label, tc, bos, ttl));
  return b;
}

function frame(...parts: Buffer[]): Buffer {
  return Buffer.concat(parts);
}

function pad16(b: Buffer): Buffer {
  return Buffer.concat([b, Buffer.alloc((16 - (b.length % 16)) % 16)]);
}

/** The receive side: rebuild `LSE + payload` from header lse24 and the (unpadded) payload. */
function rebuild(lse24: number, payload: Buffer): Buffer {
  const ttl = rebuildOuterLabel(lse24, payload);
  const out = Buffer.alloc(4 + payload.length);
  writeOuterLse(out, 0, lse24, ttl);
  payload.copy(out, 4);
  return out;
}

/** lse24 (label << 4 | tc << 1 | bos) from its fields, as a header carries it. */
const makeLse24 = (label: number, tc: number, bos: number): number => (label << 4) | (tc << 1) | bos;

describe('label stack entries', () => {
  test('fields round-trip', () => {
    const b = lse(0xabcde, 6, 1, 200);
    expect([lseLabel(b), lseTc(b), lseBos(b), lseTtl(b)]).toEqual([0xabcde, 6, 1, 200]);
    expect(makeLse(0xfffff, 7, 1, 255)).toBe(0xffffffff);
    expect(makeLse(16, 0, 0, 64)).toBe(0x00010040);
    const at = Buffer.concat([Buffer.from([9, 9]), lse(101, 5, 0, 7)]);
    expect([lseLabel(at, 2), lseTc(at, 2), lseBos(at, 2), lseTtl(at, 2)]).toEqual([101, 5, 0, 7]);
  });

  test('lse24: the first three bytes of an entry (label, TC, BoS)', () => {
    expect(lse24At(lse(101, 5, 1, 64))).toBe(0x65b);
    expect(lse24At(Buffer.concat([Buffer.from([9]), lse(0xfffff, 7, 0, 1)]), 1)).toBe(0xfffffe);
  });

  test('reserved label values (RFC 3032, 5586, 6790, 7274)', () => {
    expect(JSON.stringify(MplsLabel)).toBe(
      '{"IPV4_EXPLICIT_NULL":0,"ROUTER_ALERT":1,"IPV6_EXPLICIT_NULL":2,"IMPLICIT_NULL":3,"ENTROPY_LABEL_INDICATOR":7,"GAL":13,"OAM_ALERT":14,"EXTENSION":15,"FIRST_UNRESERVED":16,"MAX":1048575}',
    );
  });
});

describe('message header', () => {
  // What runs: the addon writes the header when it seals, the receive path reads it back.
  const key = transportKey(new Uint8Array(32).fill(7));

  test('label 101, tc 5, bos 1 -> 05 5b 06 00', () => {
    // By hand: 101 << 4 = 0x650, tc 5 << 1 = 0xa, bos 1 -> lse24 0x00065b; byte 1 is its
    // low byte 0x5b, byte 2 the middle 0x06, byte 3 the high 0x00 (the seed's
    // cpu_to_le32(type | lse24 << 8)).
    const lse24 = (101 << 4) | (5 << 1) | 1;
    expect(lse24).toBe(0x65b);
    const msg = sealTransport(key, MessageMplsUnicastType, lse24, 1, 0, new Uint8Array(20), 0);
    expect([...msg.subarray(0, 4)]).toEqual([5, 0x5b, 0x06, 0x00]);
    expect(readLse24(msg)).toBe(0x65b);
  });

  test('largest label, multicast type', () => {
    const lse24 = makeLse24(0xfffff, 7, 0);
    const msg = sealTransport(key, MessageMplsMulticastType, lse24, 1, 0, new Uint8Array(8), 0);
    expect([...msg.subarray(0, 4)]).toEqual([6, 0xfe, 0xff, 0xff]);
    expect(readLse24(msg)).toBe(lse24);
  });
});

describe('strip and rebuild', () => {
  test('label over IPv4: TTL copied back from the IP header', () => {
    const ip = ipv4(63);
    const f = frame(lse(101, 5, 1, 63), ip);
    const r = stripOuterLabel(f);
    if ('error' in r) throw new Error(r.error);
    expect(r.lse24).toBe(0x65b);
    expect(r.payload.equals(ip)).toBe(true);
    expect(r.payload.buffer).toBe(f.buffer); // a view, not a copy
    expect(rebuild(r.lse24, r.payload).equals(frame(lse(101, 5, 1, 63), ip))).toBe(true);
  });

  test('label over IPv6', () => {
    const ip = ipv6(40);
    const f = frame(lse(200, 0, 1, 40), ip);
    const r = stripOuterLabel(f);
    if ('error' in r) throw new Error(r.error);
    expect(rebuild(r.lse24, r.payload).equals(frame(lse(200, 0, 1, 40), ipv6(40)))).toBe(true);
  });

  test('two-label stack: outer TTL from the inner label', () => {
    const ip = ipv4(64);
    const f = frame(lse(30, 1, 0, 61), lse(20, 2, 1, 61), ip);
    const r = stripOuterLabel(f);
    if ('error' in r) throw new Error(r.error);
    expect(r.lse24).toBe(makeLse24(30, 1, 0));
    expect(r.payload.equals(frame(lse(20, 2, 1, 61), ipv4(64)))).toBe(true);
    expect(rebuild(r.lse24, r.payload).equals(frame(lse(30, 1, 0, 61), lse(20, 2, 1, 61), ipv4(64)))).toBe(true);
  });

  test('TTL lowering: inner label', () => {
    const f = frame(lse(30, 0, 0, 5), lse(20, 0, 1, 64), ipv4(64));
    const r = stripOuterLabel(f);
    if ('error' in r) throw new Error(r.error);
    expect(lseTtl(r.payload)).toBe(5);
    expect(lseLabel(r.payload)).toBe(20);
    expect(ipv4(64).equals(r.payload.subarray(4))).toBe(true); // only the next header changes
    expect(rebuildOuterLabel(r.lse24, r.payload)).toBe(5);
  });

  test('TTL is never raised', () => {
    const f = frame(lse(30, 0, 0, 200), lse(20, 0, 1, 9), ipv4(64));
    const r = stripOuterLabel(f);
    if ('error' in r) throw new Error(r.error);
    expect(lseTtl(r.payload)).toBe(9);
    const f4 = frame(lse(30, 0, 1, 200), ipv4(7));
    stripOuterLse(f4);
    expect(f4.subarray(4).equals(ipv4(7))).toBe(true);
  });

  test.each([
    [64, 1],
    [255, 0],
    [128, 127],
    [2, 1],
    [1, 0],
  ])('TTL lowering: IPv4 %i -> %i keeps a valid checksum', (from, to) => {
    for (const [proto, id] of [
      [17, 0x1c46],
      [6, 0],
      [1, 0xffff],
      [0xff, 0xfffe],
    ]) {
      const f = frame(lse(101, 0, 1, to), ipv4(from, 12, proto, id));
      const r = stripOuterLabel(f);
      if ('error' in r) throw new Error(r.error);
      expect(r.payload[8]).toBe(to);
      expect(r.payload.readUInt16BE(10)).toBe(ipv4Checksum(r.payload));
      expect(rebuildOuterLabel(r.lse24, r.payload)).toBe(to);
    }
  });

  test('TTL lowering on IPv4 with options', () => {
    const ip = Buffer.alloc(24 + 4);
    ip[0] = 0x46;
    ip.writeUInt16BE(ip.length, 2);
    ip[8] = 100;
    ip[9] = 6;
    ip.writeUInt32BE(0x94040000, 20); // router alert option
    ip.writeUInt16BE(ipv4Checksum(ip), 10);
    const f = frame(lse(50, 0, 1, 33), ip);
    stripOuterLse(f);
    expect(f[4 + 8]).toBe(33);
    expect(f.readUInt16BE(4 + 10)).toBe(ipv4Checksum(f.subarray(4)));
  });

  test('lowerIpv4Ttl against random headers', () => {
    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) & 0xff;
    for (let n = 0; n < 2000; n++) {
      const h = Buffer.alloc(20);
      for (let i = 0; i < 20; i++) h[i] = rnd();
      h[0] = 0x45;
      h.writeUInt16BE(ipv4Checksum(h), 10);
      const to = rnd();
      const before = h[8];
      lowerIpv4Ttl(h, 0, to);
      expect(h[8]).toBe(Math.min(before, to));
      expect(h.readUInt16BE(10)).toBe(ipv4Checksum(h));
    }
  });

  test('TTL lowering: IPv6 hop limit', () => {
    const f = frame(lse(101, 0, 1, 3), ipv6(64));
    const r = stripOuterLabel(f);
    if ('error' in r) throw new Error(r.error);
    expect(r.payload[7]).toBe(3);
    expect(rebuildOuterLabel(r.lse24, r.payload)).toBe(3);
  });

  test('non-IP payload: untouched on send, TTL 64 on receive', () => {
    const eth = Buffer.from('ffffffffffff0200000000010800deadbeef', 'hex');
    const f = frame(lse(300, 0, 1, 5), eth);
    const r = stripOuterLabel(f);
    if ('error' in r) throw new Error(r.error);
    expect(r.payload.equals(eth)).toBe(true);
    expect(rebuildOuterLabel(r.lse24, r.payload)).toBe(DEFAULT_MPLS_TTL);
    // Version nibble 4 but not a whole IPv4 header, or IHL < 5: not IP either.
    const short4 = Buffer.from([0x45, 0, 0, 10, 0, 0, 0, 0, 9, 9]);
    expect(stripOuterLabel(frame(lse(300, 0, 1, 1), short4))).toMatchObject({ payload: short4 });
    expect(short4[8]).toBe(9);
    expect(rebuildOuterLabel(makeLse24(300, 0, 1), short4)).toBe(64);
    const badIhl = ipv4(50);
    badIhl[0] = 0x44;
    expect(rebuildOuterLabel(makeLse24(300, 0, 1), badIhl)).toBe(64);
    expect(rebuildOuterLabel(makeLse24(300, 0, 1), ipv6(9).subarray(0, 39))).toBe(64);
    expect(rebuildOuterLabel(makeLse24(300, 0, 1), Buffer.alloc(0))).toBe(64);
  });

  test('malformed frames are rejected', () => {
    expect(stripOuterLabel(Buffer.alloc(0))).toEqual({ error: 'frame-too-short' });
    expect(stripOuterLabel(Buffer.from([0, 0x65, 0xb1]))).toEqual({ error: 'frame-too-short' });
    expect(stripOuterLabel(frame(lse(30, 0, 0, 9), Buffer.from([0, 1, 0x41])))).toEqual({ error: 'stack-truncated' });
    expect(stripOuterLse(Buffer.alloc(3))).toBe(StripError.FRAME_TOO_SHORT);
    expect(stripOuterLse(lse(30, 0, 0, 9))).toBe(StripError.STACK_TRUNCATED);
    expect(rebuildOuterLabel(makeLse24(30, 0, 0), Buffer.alloc(3))).toBe(-1);
    // A label with bos = 1 and nothing after it is fine (an empty payload).
    expect(stripOuterLabel(lse(30, 0, 1, 9))).toMatchObject({ lse24: makeLse24(30, 0, 1) });
  });

  test('works on a region of a larger buffer', () => {
    const pi = Buffer.from([0, 0, 0x88, 0x47]);
    const buf = frame(pi, lse(101, 5, 1, 10), ipv4(64), Buffer.alloc(7, 0xee));
    const lse24 = stripOuterLse(buf, 4, 4 + 28);
    expect(lse24).toBe(0x65b);
    expect(buf[8 + 8]).toBe(10);
    expect(buf.readUInt16BE(8 + 10)).toBe(ipv4Checksum(buf.subarray(8, 28)));
    expect(rebuildOuterLabel(lse24, buf, 8, 28)).toBe(10);
  });
});

describe('payload lengths (padding removal)', () => {
  test('label over IPv4 / IPv6, padded', () => {
    const ip = ipv4(64, 13);
    expect(mplsPayloadLength(pad16(ip), 1)).toBe(ip.length);
    const ip6 = ipv6(64, 3);
    expect(mplsPayloadLength(pad16(ip6), 1)).toBe(ip6.length);
  });

  test('remaining stack walked to the bottom', () => {
    const plain = frame(lse(20, 0, 0, 64), lse(21, 0, 0, 64), lse(22, 0, 1, 64), ipv4(64, 5));
    expect(mplsPayloadLength(pad16(plain), 0)).toBe(plain.length);
    const plain6 = frame(lse(20, 0, 1, 64), ipv6(64, 1));
    expect(mplsPayloadLength(pad16(plain6), 0)).toBe(plain6.length);
  });

  test('non-IP payload keeps its whole length', () => {
    const eth = pad16(Buffer.from('0200000000010200000000020800aa', 'hex'));
    expect(mplsPayloadLength(eth, 1)).toBe(eth.length);
    const stacked = pad16(frame(lse(20, 0, 1, 64), Buffer.from([0x00, 0x01, 0x02])));
    expect(mplsPayloadLength(stacked, 0)).toBe(stacked.length);
    expect(mplsPayloadLength(Buffer.alloc(0), 1)).toBe(0);
  });

  test('malformed: stack without bottom, IP longer than the buffer', () => {
    expect(mplsPayloadLength(pad16(lse(20, 0, 0, 64)), 0)).toBe(-1); // padding zeros have bos = 0
    expect(mplsPayloadLength(Buffer.from([0, 1, 0x40]), 0)).toBe(-1);
    expect(mplsPayloadLength(Buffer.alloc(0), 0)).toBe(-1);
    const ip = ipv4(64, 10);
    ip.writeUInt16BE(500, 2);
    expect(mplsPayloadLength(ip, 1)).toBe(-1);
    const ip4short = ipv4(64, 10);
    ip4short.writeUInt16BE(12, 2);
    expect(mplsPayloadLength(ip4short, 1)).toBe(-1);
    const ip6 = ipv6(64, 10);
    ip6.writeUInt16BE(11, 4);
    expect(mplsPayloadLength(frame(lse(1, 0, 1, 1), ip6), 0)).toBe(-1);
  });

  test('at an offset', () => {
    const plain = frame(lse(20, 0, 1, 64), ipv4(64, 1));
    const buf = frame(Buffer.alloc(16, 0xff), pad16(plain));
    expect(mplsPayloadLength(buf, 0, 16)).toBe(plain.length);
    // The region ends one byte before the IPv4 packet does.
    expect(mplsPayloadLength(buf, 0, 16, plain.length - 1)).toBe(-1);
    // Too short to be a whole IPv4 header: cannot tell, so the whole region.
    expect(mplsPayloadLength(buf, 0, 16, 10)).toBe(10);
  });

  test('full receive path: strip, pad, length, rebuild', () => {
    for (const original of [
      frame(lse(101, 5, 1, 63), ipv4(63, 37)),
      frame(lse(101, 5, 1, 9), ipv6(9, 100)),
      frame(lse(30, 0, 0, 12), lse(31, 0, 0, 12), lse(32, 3, 1, 12), ipv4(12, 1)),
    ]) {
      const expected = Buffer.from(original);
      const r = stripOuterLabel(Buffer.from(original));
      if ('error' in r) throw new Error(r.error);
      const plaintext = pad16(r.payload);
      const len = mplsPayloadLength(plaintext, r.lse24 & 1);
      expect(len).toBe(r.payload.length);
      expect(rebuild(r.lse24, plaintext.subarray(0, len)).equals(expected)).toBe(true);
    }
  });
});

describe('type-4 plaintext length', () => {
  test('IPv4, IPv6, keepalive', () => {
    const ip = ipv4(64, 9);
    expect(ipPacketLength(pad16(ip), 0)).toBe(29);
    expect(ipPacketLength(pad16(ipv6(64, 9)), 0)).toBe(49);
    expect(ipPacketLength(Buffer.alloc(0), 0)).toBe(0);
    expect(ipPacketLength(frame(Buffer.alloc(4), pad16(ip)), 4)).toBe(29);
  });

  test('malformed', () => {
    expect(ipPacketLength(Buffer.alloc(16), 0)).toBe(-1); // version 0
    expect(ipPacketLength(ipv4(64).subarray(0, 19), 0)).toBe(-1);
    const big = ipv4(64, 4);
    big.writeUInt16BE(25, 2);
    expect(ipPacketLength(big, 0)).toBe(-1);
    big.writeUInt16BE(19, 2);
    expect(ipPacketLength(big, 0)).toBe(-1);
    expect(ipPacketLength(ipv6(64, 0).subarray(0, 39), 0)).toBe(-1);
    const six = ipv6(64, 4);
    six.writeUInt16BE(5, 4);
    expect(ipPacketLength(six, 0)).toBe(-1);
  });

  test('ipVersionAt', () => {
    expect(ipVersionAt(ipv4(1), 0, 20)).toBe(4);
    expect(ipVersionAt(ipv6(1), 0, 40)).toBe(6);
    expect(ipVersionAt(ipv6(1), 0, 39)).toBe(0);
    expect(ipVersionAt(Buffer.from([0x60]), 0, 0)).toBe(0);
  });
});
