// The TUN offloads without a TUN (offload.c through the addon's test entry points): cutting a
// GSO superpacket into packets, filling in a checksum the kernel left to us, and joining
// decrypted TCP segments into a superpacket, checked against frames built here by hand with
// checksums computed independently.
import { loadTunAddon } from '../../datapath/tun/native';

const addon = loadTunAddon();

const NEEDS_CSUM = 1;
const GSO = { NONE: 0, TCPV4: 1, TCPV6: 4, UDP_L4: 5 } as const;
const TCP = { FIN: 0x01, SYN: 0x02, PSH: 0x08, ACK: 0x10, CWR: 0x80 } as const;

function vnet(h: { flags?: number; gsoType?: number; hdrLen?: number; gsoSize?: number; csumStart?: number; csumOffset?: number }): Buffer {
  const b = Buffer.alloc(10);
  b[0] = h.flags ?? 0;
  b[1] = h.gsoType ?? 0;
  b.writeUInt16LE(h.hdrLen ?? 0, 2);
  b.writeUInt16LE(h.gsoSize ?? 0, 4);
  b.writeUInt16LE(h.csumStart ?? 0, 6);
  b.writeUInt16LE(h.csumOffset ?? 0, 8);
  return b;
}

function parseVnet(b: Buffer): { flags: number; gsoType: number; hdrLen: number; gsoSize: number; csumStart: number; csumOffset: number } {
  return { flags: b[0], gsoType: b[1], hdrLen: b.readUInt16LE(2), gsoSize: b.readUInt16LE(4), csumStart: b.readUInt16LE(6), csumOffset: b.readUInt16LE(8) };
}

/** RFC 1071 over big-endian words, written independently of the C code. */
function onesSum(parts: Buffer[]): number {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i + 1 < p.length; i += 2) sum += p.readUInt16BE(i);
    if (p.length % 2 === 1) sum += p[p.length - 1] << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function pseudo(ip: Buffer, proto: number, l4len: number): Buffer {
  if (ip[0] >> 4 === 4) {
    const p = Buffer.alloc(12);
    ip.copy(p, 0, 12, 20);
    p[9] = proto;
    p.writeUInt16BE(l4len, 10);
    return p;
  }
  const p = Buffer.alloc(40);
  ip.copy(p, 0, 8, 40);
  p.writeUInt32BE(l4len, 32);
  p[39] = proto;
  return p;
}

function ipHeaderLen(ip: Buffer): number {
  return ip[0] >> 4 === 4 ? (ip[0] & 15) * 4 : 40;
}

/** True when the packet's L4 checksum (TCP or UDP) verifies. */
function l4ChecksumOk(ip: Buffer, proto: number): boolean {
  const ihl = ipHeaderLen(ip);
  return onesSum([pseudo(ip, proto, ip.length - ihl), ip.subarray(ihl)]) === 0xffff;
}

function ipv4HeaderOk(ip: Buffer): boolean {
  return onesSum([ip.subarray(0, (ip[0] & 15) * 4)]) === 0xffff;
}

interface TcpOpts {
  v6?: boolean;
  src?: number;
  seq: number;
  flags?: number;
  payload: Buffer;
  options?: Buffer;
  id?: number;
  window?: number;
  ack?: number;
  /** Leave the TCP checksum as the pseudo-header sum (what a TSO superpacket carries). */
  partial?: boolean;
}

function tcpPacket(o: TcpOpts): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const tcph = 20 + opts.length;
  const tcp = Buffer.alloc(tcph);
  tcp.writeUInt16BE(40000, 0);
  tcp.writeUInt16BE(5201, 2);
  tcp.writeUInt32BE(o.seq >>> 0, 4);
  tcp.writeUInt32BE(o.ack ?? 777, 8);
  tcp[12] = (tcph / 4) << 4;
  tcp[13] = o.flags ?? TCP.ACK;
  tcp.writeUInt16BE(o.window ?? 512, 14);
  opts.copy(tcp, 20);
  let ip: Buffer;
  if (o.v6) {
    ip = Buffer.alloc(40);
    ip[0] = 0x60;
    ip.writeUInt16BE(tcph + o.payload.length, 4);
    ip[6] = 6;
    ip[7] = 64;
    ip[8] = 0xfd;
    ip[23] = o.src ?? 1;
    ip[24] = 0xfd;
    ip[39] = 2;
  } else {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + tcph + o.payload.length, 2);
    ip.writeUInt16BE(o.id ?? 100, 4);
    ip.writeUInt16BE(0x4000, 6); // DF
    ip[8] = 64;
    ip[9] = 6;
    ip.set([10, 9, 0, o.src ?? 1], 12);
    ip.set([10, 9, 0, 2], 16);
    ip.writeUInt16BE(~onesSum([ip]) & 0xffff, 10);
  }
  const pkt = Buffer.concat([ip, tcp, o.payload]);
  const l4 = pkt.length - ip.length;
  const sum = o.partial ? onesSum([pseudo(pkt, 6, l4)]) : ~onesSum([pseudo(pkt, 6, l4), pkt.subarray(ip.length)]) & 0xffff;
  pkt.writeUInt16BE(sum, ip.length + 16);
  return pkt;
}

function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

function split(pkt: Buffer, h: Buffer): Buffer[] {
  const r = addon.offloadSplit(pkt, h);
  if (typeof r === 'number') throw new Error(`split refused: ${r}`);
  return r;
}

describe('offload split (TUN reads: GSO superpackets, partial checksums)', () => {
  // A timestamp option, so headers are not the bare 20 bytes.
  const TS_OPTION = Buffer.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);

  for (const v6 of [false, true]) {
    test(`a TCP${v6 ? 'v6' : 'v4'} superpacket becomes MSS-sized packets with their own lengths, sequence numbers, flags and valid checksums; the odd last segment is shorter`, () => {
      const payload = pattern(2 * 1000 + 437);
      const superpacket = tcpPacket({ v6, seq: 0xfffffc00, flags: TCP.ACK | TCP.PSH | TCP.FIN | TCP.CWR, payload, options: TS_OPTION, id: 0xfffe, partial: true });
      const iph = v6 ? 40 : 20;
      const hdr = iph + 32;
      const segs = split(superpacket, vnet({ flags: NEEDS_CSUM, gsoType: v6 ? GSO.TCPV6 : GSO.TCPV4, hdrLen: hdr, gsoSize: 1000, csumStart: iph, csumOffset: 16 }));
      expect(segs.map((s) => s.length)).toEqual([hdr + 1000, hdr + 1000, hdr + 437]);
      segs.forEach((s, i) => {
        expect(l4ChecksumOk(s, 6)).toBe(true);
        if (v6) {
          expect(s.readUInt16BE(4)).toBe(s.length - 40);
        } else {
          expect(s.readUInt16BE(2)).toBe(s.length);
          expect(ipv4HeaderOk(s)).toBe(true);
          expect(s.readUInt16BE(4)).toBe((0xfffe + i) & 0xffff); // the id goes on, wrapping
        }
        expect(s.readUInt32BE(iph + 4)).toBe((0xfffffc00 + i * 1000) >>> 0); // sequence wraps too
        const flags = s[iph + 13];
        expect((flags & TCP.CWR) !== 0).toBe(i === 0);
        expect((flags & (TCP.PSH | TCP.FIN)) !== 0).toBe(i === 2);
        expect(s.subarray(iph + 20, iph + 32)).toEqual(TS_OPTION);
        expect(s.subarray(hdr)).toEqual(payload.subarray(i * 1000, i * 1000 + s.length - hdr));
      });
    });
  }

  test('a packet whose checksum was left to us (NEEDS_CSUM, no GSO) gets it; a plain one is copied unchanged', () => {
    const pkt = tcpPacket({ seq: 5, payload: pattern(301), partial: true });
    expect(l4ChecksumOk(pkt, 6)).toBe(false);
    const [done] = split(pkt, vnet({ flags: NEEDS_CSUM, csumStart: 20, csumOffset: 16 }));
    expect(l4ChecksumOk(done, 6)).toBe(true);
    const whole = tcpPacket({ seq: 5, payload: pattern(301) });
    expect(split(whole, vnet({}))).toEqual([whole]);
  });

  test('a UDP (USO) superpacket becomes datagrams with their own UDP lengths and checksums', () => {
    const payload = pattern(3000, 3);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + 8 + payload.length, 2);
    ip[8] = 64;
    ip[9] = 17;
    ip.set([10, 9, 0, 1, 10, 9, 0, 2], 12);
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(1000, 0);
    udp.writeUInt16BE(2000, 2);
    udp.writeUInt16BE(8 + payload.length, 4);
    const pkt = Buffer.concat([ip, udp, payload]);
    pkt.writeUInt16BE(onesSum([pseudo(pkt, 17, 8 + payload.length)]), 26);
    const segs = split(pkt, vnet({ flags: NEEDS_CSUM, gsoType: GSO.UDP_L4, hdrLen: 28, gsoSize: 1400, csumStart: 20, csumOffset: 6 }));
    expect(segs.map((s) => s.length)).toEqual([1428, 1428, 228]);
    segs.forEach((s, i) => {
      expect(s.readUInt16BE(24)).toBe(s.length - 20);
      expect(l4ChecksumOk(s, 17)).toBe(true);
      expect(ipv4HeaderOk(s)).toBe(true);
      expect(s.subarray(28)).toEqual(payload.subarray(i * 1400, i * 1400 + s.length - 28));
    });
  });

  test('headers that do not describe the packet are refused, not guessed at', () => {
    const v6 = tcpPacket({ v6: true, seq: 1, payload: pattern(3000), partial: true });
    const v4 = tcpPacket({ seq: 1, payload: pattern(3000), partial: true });
    const MALFORMED = -2;
    // TCPv4 GSO on an IPv6 packet; a checksum start that is not the IPv4 header length; a TCP
    // header running past the end; an unknown GSO type.
    expect(addon.offloadSplit(v6, vnet({ flags: NEEDS_CSUM, gsoType: GSO.TCPV4, gsoSize: 1000, csumStart: 40, csumOffset: 16 }))).toBe(MALFORMED);
    expect(addon.offloadSplit(v4, vnet({ flags: NEEDS_CSUM, gsoType: GSO.TCPV4, gsoSize: 1000, csumStart: 24, csumOffset: 16 }))).toBe(MALFORMED);
    expect(addon.offloadSplit(v4.subarray(0, 30), vnet({ flags: NEEDS_CSUM, gsoType: GSO.TCPV4, gsoSize: 1000, csumStart: 20, csumOffset: 16 }))).toBe(MALFORMED);
    expect(addon.offloadSplit(v4, vnet({ gsoType: 3, gsoSize: 1000, csumStart: 20 }))).toBe(MALFORMED);
    // A checksum field beyond the packet.
    expect(addon.offloadSplit(v4.subarray(0, 40), vnet({ flags: NEEDS_CSUM, csumStart: 20, csumOffset: 30 }))).toBe(MALFORMED);
  });
});

/** Packets back to back in one buffer, with (offset, length, ethertype) descriptors. */
function batch(pkts: Buffer[]): { buf: Buffer; desc: Uint32Array } {
  const desc = new Uint32Array(pkts.length * 3);
  let off = 0;
  pkts.forEach((p, i) => {
    desc.set([off, p.length, p[0] >> 4 === 6 ? 0x86dd : 0x0800], i * 3);
    off += p.length;
  });
  return { buf: Buffer.concat(pkts), desc };
}

function coalesce(pkts: Buffer[]): { hdr: ReturnType<typeof parseVnet>; pkt: Buffer }[] {
  const { buf, desc } = batch(pkts);
  return addon.offloadCoalesce(buf, desc, pkts.length).map((f) => ({ hdr: parseVnet(f.subarray(0, 10)), pkt: f.subarray(10) }));
}

/** What the kernel does with a NEEDS_CSUM frame: the sum from csum_start on, complemented, at csum_offset. */
function completeChecksum(pkt: Buffer, start: number, offset: number): Buffer {
  const out = Buffer.from(pkt);
  out.writeUInt16BE(~onesSum([out.subarray(start)]) & 0xffff, start + offset);
  return out;
}

describe('offload coalesce (decrypted TCP segments joined before they go up)', () => {
  for (const v6 of [false, true]) {
    test(`consecutive TCP${v6 ? 'v6' : 'v4'} segments of one flow become one superpacket the kernel can segment again`, () => {
      const p = [0, 1, 2].map((i) => tcpPacket({ v6, seq: 1000 + i * 1200, payload: pattern(i === 2 ? 555 : 1200, i), id: 7 + i, flags: i === 2 ? TCP.ACK | TCP.PSH : TCP.ACK }));
      const frames = coalesce(p);
      expect(frames).toHaveLength(1);
      const { hdr, pkt } = frames[0];
      const iph = v6 ? 40 : 20;
      expect(hdr).toEqual({ flags: NEEDS_CSUM, gsoType: v6 ? GSO.TCPV6 : GSO.TCPV4, hdrLen: iph + 20, gsoSize: 1200, csumStart: iph, csumOffset: 16 });
      expect(pkt.length).toBe(iph + 20 + 1200 + 1200 + 555);
      if (v6) expect(pkt.readUInt16BE(4)).toBe(pkt.length - 40);
      else {
        expect(pkt.readUInt16BE(2)).toBe(pkt.length);
        expect(ipv4HeaderOk(pkt)).toBe(true);
      }
      expect(pkt.readUInt32BE(iph + 4)).toBe(1000);
      expect(pkt[iph + 13]).toBe(TCP.ACK | TCP.PSH); // the last segment's PSH
      expect(pkt.subarray(iph + 20)).toEqual(Buffer.concat([pattern(1200, 0), pattern(1200, 1), pattern(555, 2)]));
      expect(l4ChecksumOk(completeChecksum(pkt, hdr.csumStart, hdr.csumOffset), 6)).toBe(true);
    });
  }

  test('what must not be joined stays apart: a corrupt checksum, a sequence gap, another flow, after PSH, after a short segment, SYN, a lone segment', () => {
    const seg = (seq: number, o: Partial<TcpOpts> = {}): Buffer => tcpPacket({ seq, payload: pattern(1000, seq & 0xff), ...o });
    const bad = seg(2000);
    bad[bad.length - 1] ^= 0xff;
    const cases: [string, Buffer[], number[]][] = [
      ['bad checksum', [seg(1000), bad], [1, 1]],
      ['gap', [seg(1000), seg(2500)], [1, 1]],
      ['other source', [seg(1000), seg(2000, { src: 5 })], [1, 1]],
      ['other window', [seg(1000), seg(2000, { window: 9 })], [1, 1]],
      ['other ack', [seg(1000), seg(2000, { ack: 9 })], [1, 1]],
      ['after PSH', [seg(1000, { flags: TCP.ACK | TCP.PSH }), seg(2000)], [1, 1]],
      ['after a short one', [seg(1000), tcpPacket({ seq: 2000, payload: pattern(10) }), seg(2010)], [2, 1]],
      ['SYN', [seg(1000, { flags: TCP.SYN | TCP.ACK }), seg(2000)], [1, 1]],
      ['lone', [seg(1000)], [1]],
    ];
    for (const [name, pkts, counts] of cases) {
      const frames = coalesce(pkts.map((b) => Buffer.from(b)));
      expect({ name, segments: frames.map((f) => (f.hdr.gsoType === GSO.NONE ? 1 : (f.pkt.length - 40 + f.hdr.gsoSize - 1) / f.hdr.gsoSize | 0)) }).toEqual({ name, segments: counts });
      // A frame of one packet goes up exactly as it came, with an empty header.
      for (const f of frames) if (f.hdr.gsoType === GSO.NONE) expect(f.hdr).toEqual({ flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 });
    }
  });

  test('a split superpacket coalesces back into the same bytes (round trip, with options)', () => {
    const options = Buffer.from([1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]);
    const payload = pattern(5 * 1388 + 1);
    const sp = tcpPacket({ seq: 42, payload, options, partial: true });
    const segs = split(sp, vnet({ flags: NEEDS_CSUM, gsoType: GSO.TCPV4, gsoSize: 1388, csumStart: 20, csumOffset: 16 }));
    expect(segs).toHaveLength(6);
    const frames = coalesce(segs);
    expect(frames).toHaveLength(1);
    expect(frames[0].pkt.subarray(52)).toEqual(payload);
    expect(frames[0].hdr.gsoSize).toBe(1388);
    expect(l4ChecksumOk(completeChecksum(frames[0].pkt, 20, 16), 6)).toBe(true);
  });
});
