// MPLS over WireGuard (docs/design.md section 3, message types 5 and 6) through Device, on the
// simulated network of test/unit/deviceHarness.ts.

import { Net, NodeOptions, PeerOpts, change, ipv4HeaderChecksumValid, link, mplsFrame, peerChange, A4, B4, must, Pair, pair, handshake, v4, v6, types, pad16 } from './deviceHarness';
import { ETH_P_MPLS_MC, ETH_P_MPLS_UC } from '../../datapath/net/ethertypes';
import { makeLse } from '../../datapath/mpls/wire';
import { lseAt } from '../packets';
import { ipToBytes } from '../../datapath/conn/addr';

describe('MPLS over WireGuard (types 5/6)', () => {
  const mplsPair = (bSeesA: PeerOpts = { allowed: [`${A4}/32`, '0.0.0.0/0'], endpoint: false }, b: NodeOptions = {}): Promise<Pair> =>
    pair({ aSeesB: { allowed: [`${B4}/32`, '0.0.0.0/0'] }, bSeesA, b });

  test('label 101 tc 5 bos 1 ttl 33 over IPv4 TTL 64: header 05 5b 06 00; received frame rebuilt with ttl 33 and the inner TTL lowered to 33 (valid checksum)', async () => {
    const { net, a, b } = await mplsPair();
    handshake(net, a, b);
    const ip = v4('10.1.1.1', '10.2.2.2', 'mpls payload', 64);
    const frame = mplsFrame([{ label: 101, tc: 5, bos: 1, ttl: 33 }], ip);
    expect(a.device.sendMpls(frame)).toBe(true);
    const [m] = net.queue;
    expect([...m.data.subarray(0, 4)]).toEqual([5, 0x5b, 0x06, 0x00]);
    expect(m.data.readUInt32LE(0)).toBe(5 | (((101 << 4) | (5 << 1) | 1) << 8));
    expect(m.data.readUInt32LE(4)).toBe(must(a.peerOf(b).keypairs.current).remoteIndex);
    expect(m.data.length).toBe(32 + pad16(ip.length)); // the outer entry is not encrypted
    net.flush();

    expect(b.mpls).toHaveLength(1);
    const got = b.mpls[0];
    expect(got.multicast).toBe(false);
    expect(Buffer.from(got.fromPublicKey)).toEqual(Buffer.from(a.publicKey));
    expect(got.frame.length).toBe(4 + ip.length); // padding stripped
    expect(lseAt(got.frame, 0)).toBe(makeLse(101, 5, 1, 33));
    const inner = got.frame.subarray(4);
    expect(inner[8]).toBe(33);
    expect(ipv4HeaderChecksumValid(inner)).toBe(true);
    const expected = Buffer.from(ip);
    expected[8] = 33;
    expected.writeUInt16BE(inner.readUInt16BE(10), 10);
    expect(inner).toEqual(expected);
    expect(b.device.counters.events.get('rx-mpls')).toBe(1);
    expect(b.tun).toEqual([]);
  });

  test('two-label stack (100 bos 0 ttl 20 / 200 bos 1 ttl 64 / IPv6 hop limit 64): outer ttl 20 rebuilt from the lowered inner label', async () => {
    const { net, a, b } = await mplsPair();
    handshake(net, a, b);
    const ip = v6('2001:db8::1', '2001:db8::2', 'six', 64);
    const frame = mplsFrame(
      [
        { label: 100, bos: 0, ttl: 20 },
        { label: 200, bos: 1, ttl: 64 },
      ],
      ip,
    );
    a.device.sendMpls(frame);
    const [m] = net.queue;
    expect([...m.data.subarray(0, 4)]).toEqual([5, 0x40, 0x06, 0x00]);
    net.flush();
    const got = must(b.mpls[0]).frame;
    expect(lseAt(got, 0)).toBe(makeLse(100, 0, 0, 20));
    expect(lseAt(got, 4)).toBe(makeLse(200, 0, 1, 20));
    expect(got.subarray(8)).toEqual(ip); // hop limit untouched (64)
  });

  test('multicast goes as type 6 and is delivered as multicast; by default to the TUN as 0x8848 (unicast 0x8847)', async () => {
    const { net, a, b } = await mplsPair(undefined, { captureMpls: false });
    handshake(net, a, b);
    const ip = v4('10.1.1.1', '239.1.1.1', 'mc', 12);
    a.device.sendMpls(mplsFrame([{ label: 5000, tc: 1, bos: 1, ttl: 200 }], ip), { multicast: true });
    a.device.sendMpls(mplsFrame([{ label: 5001, bos: 1, ttl: 200 }], ip));
    expect(net.queue.map((d) => d.data[0])).toEqual([6, 5]);
    net.flush();
    expect(b.tun.map((t) => [t.proto, lseAt(t.packet) >>> 12, t.packet[3]])).toEqual([
      [ETH_P_MPLS_MC, 5000, 12], // the label's 200 was higher than the IP TTL: rebuilt from the IP TTL
      [ETH_P_MPLS_UC, 5001, 12],
    ]);
    expect(b.device.counters.toJSON().events).toEqual({ 'rx-mpls-mc': 1, 'rx-mpls': 1 });
  });

  test("seed rule on receive: MPLS from a peer without 0.0.0.0 (nor ::) in its allowed-ips is dropped; '::' is the fallback; mplsPeers 'any' accepts", async () => {
    const frame = (): Buffer => mplsFrame([{ label: 77, bos: 1, ttl: 9 }], v4('10.1.1.1', '10.2.2.2'));
    {
      const { net, a, b } = await mplsPair({ allowed: [`${A4}/32`], endpoint: false });
      handshake(net, a, b);
      expect(a.device.sendMpls(frame())).toBe(true);
      net.flush();
      expect(b.drops('mpls-peer-not-allowed')).toBe(1);
      expect(b.mpls).toEqual([]);
    }
    {
      const { net, a, b } = await mplsPair({ allowed: [`${A4}/32`, '::/0'], endpoint: false });
      handshake(net, a, b);
      a.device.sendMpls(frame());
      net.flush();
      expect(b.mpls).toHaveLength(1);
    }
    {
      // another peer holds 0.0.0.0/0 on B: it wins over A's ::/0
      const { net, a, b } = await mplsPair({ allowed: [`${A4}/32`, '::/0'], endpoint: false });
      const c = await net.node('C', '192.0.2.3');
      await b.device.apply(change([peerChange(c, { allowed: ['0.0.0.0/0'] })]));
      handshake(net, a, b);
      a.device.sendMpls(frame());
      net.flush();
      expect(b.drops('mpls-peer-not-allowed')).toBe(1);
    }
    {
      const { net, a, b } = await mplsPair({ allowed: [`${A4}/32`], endpoint: false }, { mplsPeers: 'any' });
      handshake(net, a, b);
      a.device.sendMpls(frame());
      net.flush();
      expect(b.mpls).toHaveLength(1);
      expect(b.device.counters.totalDrops()).toBe(0);
    }
  });

  test('sending with no peer for MPLS (no 0.0.0.0 nor ::) -> no-peer-for-mpls; :: is the fallback', async () => {
    const { net, a, b } = await pair({ b: { mplsPeers: 'any' } });
    handshake(net, a, b);
    const f = mplsFrame([{ label: 16, bos: 1, ttl: 1 }], v4('10.1.1.1', '10.2.2.2'));
    expect(a.device.sendMpls(f)).toBe(false);
    expect(a.drops('no-peer-for-mpls')).toBe(1);
    expect(types(net.queue)).toEqual([]);
    await a.device.apply(change([peerChange(b, { allowed: ['::/0'], endpoint: false })]));
    expect(a.device.sendMpls(f)).toBe(true);
    net.flush();
    expect(b.mpls).toHaveLength(1);
  });

  test('an explicit next hop picks the peer whose allowed-ips contain it (multipoint)', async () => {
    const net = new Net();
    const a = await net.node('A', '192.0.2.1');
    const b = await net.node('B', '192.0.2.2', { mplsPeers: 'any' });
    const c = await net.node('C', '192.0.2.3', { mplsPeers: 'any' });
    await link(a, { allowed: ['10.0.12.2/32', 'fd00:12::2/128'] }, b, { allowed: ['10.0.12.1/32'], endpoint: false });
    await link(a, { allowed: ['10.0.13.3/32'] }, c, { allowed: ['10.0.13.1/32'], endpoint: false });
    const f = (label: number): Buffer => mplsFrame([{ label, bos: 1, ttl: 50 }], v4('10.1.1.1', '10.2.2.2'));
    expect(a.device.sendMpls(f(1003), { nextHop: ipToBytes('10.0.13.3') })).toBe(true);
    expect(a.device.sendMpls(f(1002), { nextHop: ipToBytes('10.0.12.2') })).toBe(true);
    expect(a.device.sendMpls(f(1062), { nextHop: ipToBytes('fd00:12::2') })).toBe(true);
    expect(a.device.sendMpls(f(1099), { nextHop: ipToBytes('10.0.99.9') })).toBe(false);
    expect(a.device.sendMpls(f(1000))).toBe(false); // nobody holds 0.0.0.0 or ::
    expect(a.drops('no-peer-for-mpls')).toBe(2);
    net.flush();
    expect(b.mpls.map((m) => lseAt(m.frame) >>> 12)).toEqual([1002, 1062]);
    expect(c.mpls.map((m) => lseAt(m.frame) >>> 12)).toEqual([1003]);
  });

  test('a malformed frame (bos 0 with nothing after it, or shorter than an entry) -> mpls-malformed, nothing sent', async () => {
    const { net, a, b } = await mplsPair();
    handshake(net, a, b);
    expect(a.device.sendMpls(mplsFrame([{ label: 100, bos: 0, ttl: 5 }]))).toBe(false);
    expect(a.device.sendMpls(Buffer.concat([mplsFrame([{ label: 100, bos: 0, ttl: 5 }]), Buffer.from([0, 1, 2])]))).toBe(false);
    expect(a.device.sendMpls(Buffer.from([0, 0x64, 0x01]))).toBe(false);
    expect(a.dropsJson()).toEqual({ 'mpls-malformed': 3 });
    expect(types(net.queue)).toEqual([]);
  });

  test('received MPLS whose inner IPv4 claims more bytes than arrived -> mpls-malformed', async () => {
    const { net, a, b } = await mplsPair();
    handshake(net, a, b);
    const ip = v4('10.1.1.1', '10.2.2.2', 'x', 64);
    ip.writeUInt16BE(500, 2);
    expect(a.device.sendMpls(mplsFrame([{ label: 20, bos: 1, ttl: 64 }], ip))).toBe(true);
    net.flush();
    expect(b.dropsJson()).toEqual({ 'mpls-malformed': 1 });
    expect(b.mpls).toEqual([]);
  });

  test('MPLS before any session is staged and sent with the first session, header intact', async () => {
    const { net, a, b } = await mplsPair();
    a.device.sendMpls(mplsFrame([{ label: 101, tc: 5, bos: 1, ttl: 33 }], v4('10.1.1.1', '10.2.2.2')));
    expect(types(net.queue)).toEqual(['A:1']);
    net.flush();
    const data = net.sent(a, { type: 5 });
    expect(data.length).toBe(1);
    expect([...data[0].data.subarray(1, 4)]).toEqual([0x5b, 0x06, 0x00]);
    expect(b.mpls.map((m) => lseAt(m.frame))).toEqual([makeLse(101, 5, 1, 33)]);
  });
});
