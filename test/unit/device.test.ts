// Device (datapath/device/device.ts) driven in-process: two or three devices on a simulated
// network (test/unit/deviceHarness.ts), one FakeClock, real crypto. What is asserted is what a
// WireGuard implementer checks against the paper (section 6) and wireguard-go's device/
// (timers.go, send.go, receive.go, uapi.go), plus the MPLS types 5/6 of DESIGN.md section 3.

import {
  Datagram,
  Net,
  Node,
  NodeOptions,
  PeerOpts,
  change,
  ipv4HeaderChecksumValid,
  ipv4Packet,
  ipv6Packet,
  isData,
  isKeepalive,
  isType,
  link,
  mplsFrame,
  peerChange,
  prefix,
  withPi,
} from './deviceHarness';
import { ETH_P_IP, ETH_P_IPV6, ETH_P_MPLS_MC, ETH_P_MPLS_UC } from '../../datapath/device/device';
import { makeLse, readLse } from '../../datapath/mpls/wire';
import { ipToBytes } from '../../datapath/conn/addr';
import { generatePrivateKey, publicKey } from '../../datapath/crypto/x25519';

const A4 = '10.0.0.1';
const B4 = '10.0.0.2';
const A6 = 'fd00::1';
const B6 = 'fd00::2';

function must<T>(x: T | null | undefined, what = 'value'): T {
  if (x === null || x === undefined) throw new Error(`expected a ${what}`);
  return x;
}

interface Pair {
  net: Net;
  a: Node;
  b: Node;
}

/**
 * A (192.0.2.1:51820, 10.0.0.1, fd00::1) knows B's endpoint; B (192.0.2.2:51820, 10.0.0.2,
 * fd00::2) does not know A's (server style) unless bSeesA says so.
 */
async function pair(
  o: { a?: NodeOptions; b?: NodeOptions; aSeesB?: PeerOpts; bSeesA?: PeerOpts } = {},
): Promise<Pair> {
  const net = new Net();
  const a = await net.node('A', '192.0.2.1', o.a);
  const b = await net.node('B', '192.0.2.2', o.b);
  await link(
    a,
    { allowed: [`${B4}/32`, `${B6}/128`], ...o.aSeesB },
    b,
    { allowed: [`${A4}/32`, `${A6}/128`], endpoint: false, ...o.bSeesA },
  );
  return { net, a, b };
}

/** A initiates (with a keepalive to carry), everything is delivered. */
function handshake(net: Net, a: Node, b: Node): void {
  a.device.sendKeepalive(a.peerOf(b));
  net.flush();
  expect(a.peerOf(b).keypairs.current).not.toBeNull();
  expect(b.peerOf(a).keypairs.current).not.toBeNull();
}

const v4 = (src: string, dst: string, payload: string | Uint8Array = 'hello', ttl = 64): Buffer =>
  ipv4Packet({ src, dst, payload, ttl });
const v6 = (src: string, dst: string, payload: string | Uint8Array = 'hello', ttl = 64): Buffer =>
  ipv6Packet({ src, dst, payload, ttl });

const types = (ds: Datagram[]): string[] => ds.map((d) => `${d.from.name}:${d.data[0]}`);
const pad16 = (n: number): number => (n + 15) & ~15;
const isZero = (u: Uint8Array): boolean => u.every((x) => x === 0);

// ====================================================================== handshake and data

describe('handshake and data', () => {
  test('the first packet is staged, one initiation goes out, and the packet arrives intact after the handshake (IPv4 both ways)', async () => {
    const { net, a, b } = await pair();
    const ping = v4(A4, B4, 'ping');
    a.device.sendIp(ping);
    expect(net.queue.map((d) => [d.data[0], d.data.length])).toEqual([[1, 148]]);
    expect(net.queue[0].to).toEqual({ address: '192.0.2.2', port: 51820 });
    expect(a.peerOf(b).staged).toHaveLength(1);
    expect(a.peerOf(b).handshakePending).toBe(true);

    net.flush();
    // initiation, response (92 bytes), then the staged packet (not a separate keepalive)
    expect(types(net.log)).toEqual(['A:1', 'B:2', 'A:4']);
    expect(net.log[1].data.length).toBe(92);
    expect(net.log[1].to).toEqual(a.endpoint); // B learnt A's endpoint from the initiation
    expect(a.peerOf(b).staged).toHaveLength(0);
    expect(a.peerOf(b).handshakePending).toBe(false);
    expect(b.tun).toEqual([{ at: net.clock.now(), proto: ETH_P_IP, packet: ping }]);

    const pong = v4(B4, A4, 'pong');
    b.device.sendIp(pong);
    expect(net.queue.map((d) => d.data[0])).toEqual([4]); // B has a confirmed session: no new handshake
    net.flush();
    expect(a.tun.map((t) => [t.proto, t.packet])).toEqual([[ETH_P_IP, pong]]);
    expect(a.device.counters.totalDrops()).toBe(0);
    expect(b.device.counters.totalDrops()).toBe(0);
  });

  test('IPv6 both ways; data messages are 32 + plaintext padded to 16 (capped at the MTU) and the padding is stripped', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    for (const payloadLen of [1, 8, 9, 1371]) {
      const p = v6(A6, B6, Buffer.alloc(payloadLen, 0xab));
      const before = b.tun.length;
      a.device.sendIp(p);
      const [msg] = net.queue;
      expect(msg.data[0]).toBe(4);
      expect(msg.data.subarray(1, 4)).toEqual(Buffer.from([0, 0, 0]));
      expect(msg.data.length).toBe(32 + Math.min(pad16(p.length), 1420));
      net.flush();
      expect(b.tun.slice(before)).toEqual([{ at: net.clock.now(), proto: ETH_P_IPV6, packet: p }]);
    }
    const back = v6(B6, A6, 'reply');
    b.device.sendIp(back);
    net.flush();
    expect(a.tun.map((t) => [t.proto, t.packet])).toEqual([[ETH_P_IPV6, back]]);
  });

  test("the responder keeps the new session in 'next' and sends nothing with it until the initiator has used it", async () => {
    const { net, a, b } = await pair();
    a.device.sendKeepalive(a.peerOf(b));
    const [init] = net.take();
    net.deliver(init);
    const pb = b.peerOf(a);
    const fresh = must(pb.keypairs.next, 'next keypair');
    expect(pb.keypairs.current).toBeNull();

    const reply = v4(B4, A4, 'early reply');
    b.device.sendIp(reply);
    // no data with the unconfirmed session (wireguard-go: Current() is nil, so B stages and
    // starts a handshake of its own)
    expect(types(net.queue.filter(isData))).toEqual([]);
    expect(types(net.queue.filter(isType(4)))).toEqual([]);
    expect(pb.staged).toHaveLength(1);

    const [resp] = net.take(isType(2));
    net.deliver(resp);
    const confirm = net.take((d) => d.from === a && isKeepalive(d));
    expect(types(confirm)).toEqual(['A:4']);
    expect(types(net.queue.filter((d) => d.from === b && d.data[0] === 4))).toEqual([]);

    net.deliver(confirm[0]);
    expect(pb.keypairs.current).toBe(fresh);
    expect(pb.keypairs.next).toBeNull();
    const bData = net.queue.filter((d) => d.from === b && isData(d));
    expect(types(bData)).toEqual(['B:4']);
    expect(bData[0].data.readUInt32LE(4)).toBe(must(a.peerOf(b).keypairs.current).localIndex);

    net.flush();
    expect(a.tun.map((t) => t.packet)).toEqual([reply]);
    // both handshakes (A's and the one B started) settled into working sessions
    a.device.sendIp(v4(A4, B4, 'after'));
    b.device.sendIp(v4(B4, A4, 'after'));
    net.flush();
    expect(a.tun.map((t) => t.packet.subarray(28).toString())).toEqual(['early reply', 'after']);
    expect(b.tun.map((t) => t.packet.subarray(28).toString())).toEqual(['after']);
    expect(a.device.counters.totalDrops() + b.device.counters.totalDrops()).toBe(0);
  });

  test('snapshot(): tx/rx bytes match what crossed the wire, lastHandshake is set on both sides, endpoints are learnt and follow roaming', async () => {
    const { net, a, b } = await pair();
    const snapBefore = a.device.snapshot().peers[0];
    expect(snapBefore.lastHandshakeTimeSec).toBe(0);
    expect(snapBefore.lastHandshakeTimeNsec).toBe(0);
    expect(b.device.snapshot().peers[0].endpoint).toBeNull();

    const wallBefore = Date.now();
    a.device.sendIp(v4(A4, B4, 'x'.repeat(100)));
    net.flush();
    b.device.sendIp(v4(B4, A4, 'y'.repeat(7)));
    a.device.sendIp(v6(A6, B6, 'z'));
    net.flush();
    const wallAfter = Date.now();

    const sa = a.device.snapshot().peers[0];
    const sb = b.device.snapshot().peers[0];
    const bytes = (n: Node): bigint => net.sent(n).reduce((s, d) => s + BigInt(d.data.length), 0n);
    expect(sa.txBytes).toBe(bytes(a));
    expect(sb.rxBytes).toBe(bytes(a));
    expect(sb.txBytes).toBe(bytes(b));
    expect(sa.rxBytes).toBe(bytes(b));
    expect(sa.txBytes).toBe(148n + BigInt(32 + pad16(128)) + BigInt(32 + pad16(49)));

    // lastHandshake is wall-clock time (what `wg show` needs), on the initiator at the
    // response and on the responder at the first data message
    for (const s of [sa, sb]) {
      const ms = s.lastHandshakeTimeSec * 1000 + s.lastHandshakeTimeNsec / 1e6;
      expect(ms).toBeGreaterThanOrEqual(Math.floor(wallBefore / 1000) * 1000);
      expect(ms).toBeLessThanOrEqual(wallAfter + 1);
      expect(s.lastHandshakeTimeNsec).toBeLessThan(1e9);
    }
    expect(sb.endpoint).toEqual(a.endpoint);
    expect(sa.endpoint).toEqual(b.endpoint);
    expect(sa.allowedIps).toEqual([prefix(`${B4}/32`), prefix(`${B6}/128`)]);

    // A roams to another address: B answers there from the next authenticated packet on
    a.device.sendIp(v4(A4, B4, 'from elsewhere'));
    const [moved] = net.take();
    const newSrc = { address: '198.51.100.9', port: 40001 };
    net.deliver(moved, moved.data, newSrc);
    expect(b.device.snapshot().peers[0].endpoint).toEqual(newSrc);
    b.device.sendIp(v4(B4, A4, 'to new place'));
    expect(net.queue.map((d) => d.to)).toEqual([newSrc]);
  });
});

describe('handshake and data: keys and inner packets', () => {
  test('preshared key: equal on both sides works; different -> the initiator rejects the response (handshake-decrypt)', async () => {
    const psk = new Uint8Array(32).fill(7);
    {
      const { net, a, b } = await pair({ aSeesB: { allowed: [`${B4}/32`], presharedKey: psk }, bSeesA: { allowed: [`${A4}/32`], endpoint: false, presharedKey: psk } });
      a.device.sendIp(v4(A4, B4));
      net.flush();
      expect(b.tun).toHaveLength(1);
    }
    {
      const { net, a, b } = await pair({ aSeesB: { allowed: [`${B4}/32`], presharedKey: psk } });
      a.device.sendIp(v4(A4, B4));
      net.flush();
      expect(types(net.log)).toEqual(['A:1', 'B:2']);
      expect(a.dropsJson()).toEqual({ 'handshake-decrypt': 1 });
      expect(a.peerOf(b).keypairs.current).toBeNull();
      expect(a.peerOf(b).handshakePending).toBe(true); // it keeps retrying
      expect(b.tun).toEqual([]);
    }
  });

  test('inner IPv4/IPv6 lengths: a packet claiming more than arrived is dropped (bad-inner-packet); one claiming less is cut to its length', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const long4 = v4(A4, B4, 'abcdefgh');
    long4.writeUInt16BE(200, 2);
    const long6 = v6(A6, B6, 'abcdefgh');
    long6.writeUInt16BE(100, 4);
    const short4 = v4(A4, B4, 'abcdefgh');
    short4.writeUInt16BE(28, 2); // the UDP header only
    for (const p of [long4, long6, short4]) a.device.sendIp(p);
    net.flush();
    expect(b.drops('bad-inner-packet')).toBe(2);
    expect(b.tun.map((t) => t.packet)).toEqual([short4.subarray(0, 28)]);
  });

  test('at most 128 packets wait for a handshake; the oldest are dropped first', async () => {
    const { net, a, b } = await pair();
    for (let i = 0; i < 130; i++) a.device.sendIp(v4(A4, B4, `n${i}`));
    expect(a.peerOf(b).staged).toHaveLength(128);
    expect(types(net.queue)).toEqual(['A:1']); // one initiation, not one per packet
    net.flush();
    const got = b.tun.map((t) => t.packet.subarray(28).toString());
    expect(got).toHaveLength(128);
    expect(got[0]).toBe('n2');
    expect(got[127]).toBe('n129');
  });
});

// ====================================================================== cryptokey routing

describe('cryptokey routing', () => {
  test("a decrypted packet whose inner source is not in the sending peer's allowed-ips is dropped (source-not-allowed)", async () => {
    const { net, a, b } = await pair();
    // B also has a peer C owning 10.0.0.3 and fd00::3: A may not use those sources either
    const c = await net.node('C', '192.0.2.3');
    await b.device.apply(change([peerChange(c, { allowed: ['10.0.0.3/32', 'fd00::3/128'] })]));
    handshake(net, a, b);

    const bad = [v4('10.0.0.3', B4), v4('10.9.9.9', B4), v6('fd00::3', B6), v6('2001:db8::99', B6)];
    for (const p of bad) a.device.sendIp(p); // A routes by destination only: all go out
    expect(types(net.queue.filter(isData))).toEqual(['A:4', 'A:4', 'A:4', 'A:4']);
    net.flush();
    expect(b.tun).toEqual([]);
    expect(b.drops('source-not-allowed')).toBe(4);

    const good = [v4(A4, B4), v6(A6, B6)];
    for (const p of good) a.device.sendIp(p);
    net.flush();
    expect(b.tun.map((t) => t.packet)).toEqual(good);
    expect(b.drops('source-not-allowed')).toBe(4);
  });

  test('a destination no peer covers is counted (no-peer-for-destination) and nothing is sent', async () => {
    const { net, a } = await pair();
    a.device.sendIp(v4(A4, '198.51.100.7'));
    a.device.sendIp(v6(A6, '2001:db8::7'));
    expect(types(net.queue)).toEqual([]);
    expect(a.drops('no-peer-for-destination')).toBe(2);
  });

  test('TUN input: the packet-information protocol selects IPv4/IPv6/MPLS; junk is counted', async () => {
    const { net, a, b } = await pair({ aSeesB: { allowed: [`${B4}/32`, `${B6}/128`, '0.0.0.0/0'] }, b: { mplsPeers: 'any' } });
    handshake(net, a, b);
    const p4 = v4(A4, B4);
    const p6 = v6(A6, B6);
    const frame = mplsFrame([{ label: 300, bos: 1, ttl: 9 }], v4(A4, B4));
    a.device.handleTunPacket(withPi(ETH_P_IP, p4));
    a.device.handleTunPacket(withPi(ETH_P_IPV6, p6));
    a.device.handleTunPacket(withPi(ETH_P_MPLS_UC, frame));
    a.device.handleTunPacket(withPi(ETH_P_MPLS_MC, frame));
    expect(net.queue.map((d) => d.data[0])).toEqual([4, 4, 5, 6]);
    net.flush();
    expect(b.tun.map((t) => t.packet)).toEqual([p4, p6]);
    expect(b.mpls.map((m) => [readLse(m.frame) >>> 12, m.multicast])).toEqual([
      [300, false],
      [300, true],
    ]);

    a.device.handleTunPacket(Buffer.from([0, 0, 8]));
    a.device.handleTunPacket(withPi(0x0806, Buffer.alloc(28)));
    a.device.handleTunPacket(withPi(ETH_P_IP, Buffer.from([0x45, 0, 0])));
    a.device.handleTunPacket(withPi(ETH_P_IP, Buffer.from([0x55, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])));
    expect(types(net.queue)).toEqual([]);
    expect(a.dropsJson()).toEqual({ 'tun-short': 1, 'tun-unknown-protocol': 1, 'tun-not-ip': 2 });
  });
});

// ====================================================================== timers

describe('timers (FakeClock)', () => {
  test('the initiator rekeys on the first send after its session is 120 s old; the responder never rekeys on age', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const first = must(a.peerOf(b).keypairs.current);
    const mark = net.mark;
    for (let s = 1; s <= 125; s++) {
      net.advance(1000);
      a.device.sendIp(v4(A4, B4, `#${s}`));
      net.flush();
    }
    const inits = net.sent(a, { type: 1, since: mark });
    expect(inits.length).toBeGreaterThanOrEqual(1);
    expect(inits[0].at - first.created).toBe(121_000); // the first send with age > 120 s
    expect(types(net.sent(b, { type: 1, since: mark }))).toEqual([]);
    const pa = a.peerOf(b);
    expect(pa.keypairs.current).not.toBe(first);
    expect(pa.keypairs.previous).toBe(first);
    expect(b.tun).toHaveLength(125);
    expect(a.device.counters.totalDrops() + b.device.counters.totalDrops()).toBe(0);
  });

  test('ten minutes of traffic in both directions: rekeys every ~2 min, nothing lost, no index or keypair leaks', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    let sent = 0;
    for (let s = 1; s <= 600; s++) {
      net.advance(1000, 1000);
      a.device.sendIp(v4(A4, B4, `a${s}`));
      if (s % 3 === 0) b.device.sendIp(v4(B4, A4, `b${s}`));
      sent++;
      net.flush();
      for (const n of [a, b]) expect(n.device['indices'].size).toBeLessThanOrEqual(4);
    }
    expect(b.tun).toHaveLength(sent);
    expect(a.tun).toHaveLength(200);
    const inits = net.sent(a, { type: 1 });
    expect(inits.length).toBeGreaterThanOrEqual(5);
    expect(types(net.sent(b, { type: 1 }))).toEqual([]);
    expect(a.device.counters.totalDrops() + b.device.counters.totalDrops()).toBe(0);
  });

  test('a session 180 s old is not used: data is staged, a new handshake runs, old messages are rejected (expired-session)', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const old = must(a.peerOf(b).keypairs.current);
    a.device.sendIp(v4(A4, B4, 'held'));
    const [held] = net.take();
    a.device.sendIp(v4(A4, B4, 'delivered')); // B answers with a passive keepalive, so A stays quiet
    net.advance(179_900);
    expect(types(net.sent(a, { type: 1 }))).toEqual(['A:1']); // nothing but the first handshake so far

    net.advance(100); // now exactly 180 s
    const mark = net.mark;
    const late = v4(A4, B4, 'late');
    a.device.sendIp(late);
    expect(types(net.queue)).toEqual(['A:1']);
    expect(a.peerOf(b).staged).toHaveLength(1);

    net.deliver(held);
    expect(b.drops('expired-session')).toBe(1);
    expect(b.tun.map((t) => t.packet.subarray(28).toString())).toEqual(['delivered']);

    net.flush();
    expect(types(net.sent(a, { since: mark }).concat(net.sent(b, { since: mark })).sort((x, y) => x.seq - y.seq))).toEqual([
      'A:1',
      'B:2',
      'A:4',
    ]);
    expect(b.tun.map((t) => t.packet)).toContainEqual(late);
    expect(a.peerOf(b).keypairs.current).not.toBe(old);
  });

  test("last-minute handshake: an initiator receiving data on a session older than 165 s initiates once", async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const created = must(a.peerOf(b).keypairs.current).created;
    net.advance(160_000);
    const mark = net.mark;
    b.device.sendIp(v4(B4, A4, 'at 160 s'));
    net.flush();
    expect(types(net.sent(a, { type: 1, since: mark }))).toEqual([]);

    net.advance(6_000);
    b.device.sendIp(v4(B4, A4, 'at 166 s'));
    net.flush();
    b.device.sendIp(v4(B4, A4, 'again'));
    net.flush();
    const inits = net.sent(a, { type: 1, since: mark });
    expect(inits.map((d) => d.at - created)).toEqual([166_000]);
    expect(a.tun).toHaveLength(3);
  });

  test('passive keepalive: 10 s after receiving data with nothing sent back, exactly one (two if more data came meanwhile)', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const t0 = net.clock.now();
    const mark = net.mark;
    a.device.sendIp(v4(A4, B4));
    net.advance(9_900);
    expect(types(net.sent(b, { since: mark }))).toEqual([]);
    net.advance(60_000);
    const kas = net.sent(b, { since: mark });
    expect(kas.every(isKeepalive)).toBe(true);
    expect(kas.map((d) => d.at - t0)).toEqual([10_000]);
    expect(types(net.sent(a, { since: mark, type: 1 }))).toEqual([]); // the keepalive stopped A's 15 s timer

    // more data while the keepalive timer runs: another keepalive 10 s after the first
    const t1 = net.clock.now();
    const mark1 = net.mark;
    a.device.sendIp(v4(A4, B4));
    net.advance(5_000);
    a.device.sendIp(v4(A4, B4));
    net.advance(60_000);
    expect(net.sent(b, { since: mark1 }).map((d) => [isKeepalive(d), d.at - t1])).toEqual([
      [true, 10_000],
      [true, 20_000],
    ]);

  });

  test('passive keepalive: data sent back in time replaces it; then the other side owes one', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    // data sent back in time replaces the keepalive; then the other side owes one
    const t2 = net.clock.now();
    const mark2 = net.mark;
    a.device.sendIp(v4(A4, B4));
    net.advance(2_000);
    b.device.sendIp(v4(B4, A4));
    net.advance(60_000);
    expect(net.sent(b, { since: mark2 }).map((d) => [isKeepalive(d), d.at - t2])).toEqual([[false, 2_000]]);
    expect(net.sent(a, { since: mark2 }).map((d) => [isKeepalive(d), d.at - t2])).toEqual([
      [false, 0],
      [true, 12_000],
    ]);
  });

  test('persistent keepalive configured up front: the handshake starts at once, then a keepalive every N s of silence', async () => {
    const { net, a, b } = await pair({ aSeesB: { allowed: [`${B4}/32`], keepalive: 25 } });
    // wireguard-go: turning it on sends a keepalive now (here: a handshake carrying it)
    expect(types(net.queue)).toEqual(['A:1']);
    net.flush();
    expect(types(net.log)).toEqual(['A:1', 'B:2', 'A:4']);
    const t0 = net.clock.now();
    const mark = net.mark;
    net.advance(50_000); // (a keepalive sent after 120 s would rekey: stay below)
    const kas = net.sent(a, { since: mark });
    expect(kas.every(isKeepalive)).toBe(true);
    expect(kas.map((d) => d.at - t0)).toEqual([25_000, 50_000]);
    expect(types(net.sent(b, { since: mark }))).toEqual([]); // keepalives do not provoke keepalives
    expect(b.peerOf(a).persistentKeepaliveInterval).toBe(0);

    // any authenticated traffic restarts the interval
    const t1 = net.clock.now();
    const mark1 = net.mark;
    net.advance(10_000);
    b.device.sendIp(v4(B4, A4));
    net.advance(40_000);
    // A received data at +10 s: passive keepalive at +20 s, then persistent ones 25 s later
    expect(net.sent(a, { since: mark1 }).map((d) => d.at - t1)).toEqual([20_000, 45_000]);
  });

  test('persistent keepalive turned on for a running session: one keepalive now, the next after N s; turned off: none', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const t0 = net.clock.now();
    const mark = net.mark;
    await a.device.apply(change([peerChange(b, { keepalive: 25, endpoint: false })]));
    expect(net.queue.map(isKeepalive)).toEqual([true]);
    net.advance(60_000);
    expect(net.sent(a, { since: mark }).map((d) => d.at - t0)).toEqual([0, 25_000, 50_000]);

    const mark1 = net.mark;
    await a.device.apply(change([peerChange(b, { keepalive: 0, endpoint: false })]));
    net.advance(100_000);
    expect(types(net.sent(a, { since: mark1 }))).toEqual([]);
  });

  test('changing a running persistent keepalive interval sends nothing at once; the new interval applies from then on', async () => {
    const { net, a, b } = await pair({ aSeesB: { allowed: [`${B4}/32`], keepalive: 25 } });
    net.flush();
    net.advance(30_000);
    const mark = net.mark;
    const t0 = net.clock.now();
    await a.device.apply(change([peerChange(b, { keepalive: 10, endpoint: false })]));
    net.advance(1_000);
    expect(types(net.sent(a, { since: mark }))).toEqual([]);
    net.advance(40_000);
    const at = net.sent(a, { since: mark }).map((d) => d.at - t0);
    expect(at.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < at.length; i++) expect(at[i] - at[i - 1]).toBe(10_000);
  });

  test('handshake retransmission every 5 s + jitter (< 334 ms) while the peer is silent; gives up after 20 attempts (MaxTimerHandshakes + 2) and flushes staged packets', async () => {
    const { net, a, b } = await pair();
    net.lose = (d) => d.from === b || d.to.address === b.endpoint.address;
    a.device.sendIp(v4(A4, B4, 'never arrives'));
    const t0 = net.clock.now();
    net.advance(200_000, 1_000);
    const inits = net.sent(a, { type: 1 });
    expect(inits.length).toBe(20);
    expect(inits[0].at).toBe(t0);
    for (let i = 1; i < inits.length; i++) {
      const gap = inits[i].at - inits[i - 1].at;
      expect(gap).toBeGreaterThanOrEqual(5_000);
      expect(gap).toBeLessThan(5_334);
    }
    // every retry is a fresh initiation: new ephemeral, new sender index
    expect(new Set(inits.map((d) => d.data.readUInt32LE(4))).size).toBe(20);
    expect(new Set(inits.map((d) => d.data.subarray(8, 40).toString('hex'))).size).toBe(20);
    const pa = a.peerOf(b);
    expect(pa.staged).toEqual([]);
    expect(pa.handshakePending).toBe(false);
    expect(b.tun).toEqual([]);

    // a new packet starts over (the attempt counter was reset)
    net.lose = null;
    const retry = v4(A4, B4, 'try again');
    a.device.sendIp(retry);
    net.flush();
    expect(b.tun.map((t) => t.packet)).toEqual([retry]);
  });

  test('after sending data and hearing nothing back for 15 s (+ jitter), the sender starts a new handshake', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    net.lose = (d) => d.from === b;
    const t0 = net.clock.now();
    const mark = net.mark;
    a.device.sendIp(v4(A4, B4));
    net.advance(20_000);
    const inits = net.sent(a, { type: 1, since: mark });
    expect(inits.length).toBeGreaterThanOrEqual(1);
    expect(inits[0].at - t0).toBeGreaterThanOrEqual(15_000);
    expect(inits[0].at - t0).toBeLessThan(15_334);
  });

  test('all key material is zeroed 3 x 180 s after the last session was derived: keys wiped, indices gone', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const kpA = must(a.peerOf(b).keypairs.current);
    const kpB = must(b.peerOf(a).keypairs.current);
    const t0 = kpA.created;
    a.device.sendIp(v4(A4, B4, 'held'));
    const [held] = net.take();
    a.device.sendIp(v4(A4, B4, 'delivered'));
    net.advance(t0 + 539_999 - net.clock.now(), 1_000);
    net.deliver(held);
    expect(b.drops('expired-session')).toBe(1);
    expect(a.peerOf(b).keypairs.current).toBe(kpA);

    net.advance(1);
    for (const [n, other, kp] of [
      [a, b, kpA],
      [b, a, kpB],
    ] as const) {
      const p = n.peerOf(other);
      expect([p.keypairs.previous, p.keypairs.current, p.keypairs.next]).toEqual([null, null, null]);
      expect(isZero(kp.sendKey) && isZero(kp.receiveKey)).toBe(true);
      expect(n.device['indices'].size).toBe(0);
    }
    net.deliver(held);
    expect(b.drops('unknown-index')).toBe(1);

    // the peers are still configured: traffic simply starts a new handshake
    const again = v4(A4, B4, 'again');
    a.device.sendIp(again);
    expect(types(net.queue)).toEqual(['A:1']);
    net.flush();
    expect(b.tun.map((t) => t.packet)).toContainEqual(again);
  });
});

// ====================================================================== replay and tampering

describe('replay protection and tampering', () => {
  test('a data message delivered twice is accepted once, then dropped as replay (and not counted as received)', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    a.device.sendIp(v4(A4, B4));
    const [m] = net.take();
    net.deliver(m);
    const rx = b.peerOf(a).rxBytes;
    net.deliver(m);
    expect(b.tun).toHaveLength(1);
    expect(b.drops('replay')).toBe(1);
    expect(b.peerOf(a).rxBytes).toBe(rx);
    expect(b.device.stats()).toMatchObject({ 'drop.replay': 1, drops_total: 1, drops_udp_total: 1 });
  });

  test('out of order within the window is accepted; more than 8128 behind is a replay', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const pkts = [0, 1, 2].map((i) => v4(A4, B4, `p${i}`));
    for (const p of pkts) a.device.sendIp(p);
    const [m0, m1, m2] = net.take();
    net.deliver(m2);
    net.deliver(m0);
    net.deliver(m1);
    expect(b.tun.map((t) => t.packet)).toEqual([pkts[2], pkts[0], pkts[1]]);

    // counters: first = c, then 8200 keepalives c+1..c+8200, last = c+8201
    a.device.sendIp(v4(A4, B4, 'first'));
    const [first] = net.take();
    for (let i = 0; i < 8200; i++) a.device.sendKeepalive(a.peerOf(b));
    const kas = net.take();
    a.device.sendIp(v4(A4, B4, 'last'));
    const [last] = net.take();
    const counter = (d: Datagram): bigint => d.data.readBigUInt64LE(8);
    expect(counter(last) - counter(first)).toBe(8201n);
    net.deliver(last);
    net.deliver(first); // 8201 behind
    net.deliver(kas[72]); // 8128 behind: the oldest still in the window
    net.deliver(kas[71]); // 8129 behind
    expect(b.tun.map((t) => t.packet.subarray(28).toString())).toEqual(['p2', 'p0', 'p1', 'last']);
    expect(b.drops('replay')).toBe(2);
  });

  test('tampered ciphertext, tag or counter -> decrypt; unknown receiver -> unknown-index; a forgery does not burn the counter', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const p = v4(A4, B4, 'authentic');
    a.device.sendIp(p);
    const [m] = net.take();
    const flip = (off: number): Buffer => {
      const t = Buffer.from(m.data);
      t[off] ^= 0x01;
      return t;
    };
    net.deliver(m, flip(20)); // ciphertext
    net.deliver(m, flip(m.data.length - 1)); // tag
    net.deliver(m, flip(8)); // counter (it is the nonce)
    net.deliver(m, flip(4)); // receiver index
    net.deliver(m, m.data.subarray(0, 31)); // shorter than a keepalive
    expect(b.dropsJson()).toEqual({ decrypt: 3, 'unknown-index': 1, 'bad-length': 1 });
    expect(b.tun).toEqual([]);
    net.deliver(m);
    expect(b.tun.map((t) => t.packet)).toEqual([p]);
  });

  test('type 4 with any of header bytes 1-3 non-zero -> reserved-nonzero', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    a.device.sendIp(v4(A4, B4));
    const [m] = net.take();
    for (const off of [1, 2, 3]) {
      const t = Buffer.from(m.data);
      t[off] = 0x01;
      net.deliver(m, t);
    }
    expect(b.dropsJson()).toEqual({ 'reserved-nonzero': 3 });
    net.deliver(m);
    expect(b.tun).toHaveLength(1);
  });

  test('garbage datagrams are counted, never thrown', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const m: Datagram = net.log[0];
    for (const junk of [Buffer.alloc(0), Buffer.from([4, 0, 0]), Buffer.from([7, 0, 0, 0, 1, 2, 3, 4]), Buffer.concat([Buffer.from([1, 0, 0, 0]), Buffer.alloc(143)]), Buffer.concat([Buffer.from([2, 0, 0, 0]), Buffer.alloc(88)])]) {
      expect(() => net.deliver(m, junk)).not.toThrow();
    }
    const init = Buffer.from(m.data);
    init[1] = 1;
    net.deliver(m, init);
    expect(b.dropsJson()).toEqual({ short: 2, 'unknown-type': 1, 'reserved-nonzero': 1, 'bad-length': 1, 'bad-mac1': 1 });
  });
});

// ====================================================================== handshake messages

describe('handshake messages', () => {
  test('the same initiation twice: the second is replayed-initiation and gets no response', async () => {
    const { net, a, b } = await pair();
    a.device.sendIp(v4(A4, B4));
    const [init] = net.take();
    net.deliver(init);
    expect(types(net.queue)).toEqual(['B:2']);
    const next = b.peerOf(a).keypairs.next;
    net.deliver(init);
    expect(b.drops('replayed-initiation')).toBe(1);
    expect(types(net.queue)).toEqual(['B:2']);
    expect(b.peerOf(a).keypairs.next).toBe(next);
    net.flush();
    expect(b.tun).toHaveLength(1);
  });

  test('a newer initiation less than 50 ms after the last accepted one is a flood', async () => {
    const { net, a, b } = await pair();
    const twin = await net.node('A2', '192.0.2.11', { privateKey: a.privateKey });
    await twin.device.apply(change([peerChange(b, { allowed: [`${B4}/32`] })]));
    a.device.sendKeepalive(a.peerOf(b));
    net.clock.advance(20); // past the 2^24 ns timestamp granularity, within 50 ms
    twin.device.sendKeepalive(twin.peerOf(b));
    const [i1, i2] = net.take();
    expect(i2.from).toBe(twin);
    net.deliver(i1);
    net.deliver(i2);
    expect(b.drops('initiation-flood')).toBe(1);
    expect(b.drops('replayed-initiation')).toBe(0);
  });

  test('an initiation from a key the responder does not know is dropped (unknown-peer) without an answer', async () => {
    const { net, b } = await pair();
    const stranger = await net.node('S', '192.0.2.66');
    await stranger.device.apply(change([peerChange(b, { allowed: [`${B4}/32`] })]));
    stranger.device.sendIp(v4('10.0.0.66', B4));
    net.flush();
    expect(b.drops('unknown-peer')).toBe(1);
    expect(types(net.sent(b))).toEqual([]);
  });

  test('bad mac1 (tampered mac or body, or sent to the wrong responder) -> bad-mac1, nothing answered; the genuine one still works', async () => {
    const { net, a, b } = await pair();
    const c = await net.node('C', '192.0.2.3');
    await c.device.apply(change([peerChange(a, { allowed: [`${A4}/32`] })]));
    a.device.sendIp(v4(A4, B4));
    const [init] = net.take();
    for (const off of [116, 131, 50, 100]) {
      const t = Buffer.from(init.data);
      t[off] ^= 0x80;
      net.deliver(init, t);
    }
    expect(b.dropsJson()).toEqual({ 'bad-mac1': 4 });
    net.deliver({ ...init, to: c.endpoint });
    expect(c.dropsJson()).toEqual({ 'bad-mac1': 1 });
    expect(types(net.queue)).toEqual([]);
    net.deliver(init);
    net.flush();
    expect(b.tun).toHaveLength(1);
  });

  test('a response delivered twice: the second finds no pending handshake (unknown-index)', async () => {
    const { net, a, b } = await pair();
    a.device.sendIp(v4(A4, B4));
    net.deliver(net.take()[0]);
    const [resp] = net.take();
    net.deliver(resp);
    net.deliver(resp);
    expect(a.dropsJson()).toEqual({ 'unknown-index': 1 });
    net.flush();
    expect(b.tun).toHaveLength(1);
  });

  test('under load: a 64-byte cookie reply first, the initiator keeps the cookie, its retransmission carries mac2 and completes', async () => {
    const { net, a, b } = await pair({ b: { forceUnderLoad: true } });
    const p = v4(A4, B4, 'through the cookie');
    a.device.sendIp(p);
    const [init1] = net.queue;
    expect(isZero(init1.data.subarray(132, 148))).toBe(true); // no cookie yet: mac2 = 0
    net.flush();
    expect(b.drops('cookie-required')).toBe(1);
    const replies = net.sent(b);
    expect(replies.map((d) => [d.data[0], d.data.length])).toEqual([[3, 64]]);
    expect(replies[0].data.subarray(1, 4)).toEqual(Buffer.from([0, 0, 0]));
    expect(replies[0].data.readUInt32LE(4)).toBe(init1.data.readUInt32LE(4));
    expect(replies[0].to).toEqual(a.endpoint);
    expect(a.peerOf(b).cookies.hasFreshCookie(net.clock.now())).toBe(true);
    expect(a.device.counters.totalDrops()).toBe(0);
    expect(b.tun).toEqual([]);

    net.advance(5_400);
    const inits = net.sent(a, { type: 1 });
    expect(inits.length).toBe(2);
    expect(isZero(inits[1].data.subarray(132, 148))).toBe(false);
    expect(b.drops('cookie-required')).toBe(1);
    expect(b.tun.map((t) => t.packet)).toEqual([p]);
    expect(types(net.log)).toEqual(['A:1', 'B:3', 'A:1', 'B:2', 'A:4']);

    // with a valid mac2, a source is still held to 20 handshakes/s, burst 5 (wireguard-go's
    // rate limiter): a second later its bucket is full again, five pass (as replays)
    net.clock.advance(1_000);
    for (let i = 0; i < 10; i++) net.deliver(inits[1]);
    expect(b.drops('replayed-initiation')).toBe(5);
    expect(b.drops('rate-limited')).toBe(5);
  });
});

// ====================================================================== MPLS (types 5 and 6)

describe('load detection', () => {
  test('more than 64 handshake messages within a second put the responder under load: cookies are then required', async () => {
    const { net, a, b } = await pair();
    a.device.sendIp(v4(A4, B4));
    const [init] = net.take();
    for (let i = 0; i < 65; i++) net.deliver(init);
    expect(b.dropsJson()).toEqual({ 'replayed-initiation': 63, 'cookie-required': 1 });
    expect(net.queue.map((d) => d.data[0])).toEqual([2, 3]);
    net.clock.advance(2_500); // one quiet window and the load is over
    net.take();
    net.deliver(init);
    expect(b.drops('cookie-required')).toBe(1);
    expect(b.drops('replayed-initiation')).toBe(64);
  });
});

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
    expect(readLse(got.frame, 0)).toBe(makeLse(101, 5, 1, 33));
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
    expect(readLse(got, 0)).toBe(makeLse(100, 0, 0, 20));
    expect(readLse(got, 4)).toBe(makeLse(200, 0, 1, 20));
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
    expect(b.tun.map((t) => [t.proto, readLse(t.packet) >>> 12, t.packet[3]])).toEqual([
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
    expect(b.mpls.map((m) => readLse(m.frame) >>> 12)).toEqual([1002, 1062]);
    expect(c.mpls.map((m) => readLse(m.frame) >>> 12)).toEqual([1003]);
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
    expect(b.mpls.map((m) => readLse(m.frame))).toEqual([makeLse(101, 5, 1, 33)]);
  });
});

// ====================================================================== apply()

describe('apply() (UAPI set semantics)', () => {
  async function star(): Promise<{ net: Net; a: Node; b: Node; c: Node }> {
    const { net, a, b } = await pair();
    const c = await net.node('C', '192.0.2.3');
    await link(a, { allowed: ['10.0.0.3/32'] }, c, { allowed: [`${A4}/32`], endpoint: false });
    return { net, a, b, c };
  }

  test('replace_peers removes every peer not in the transaction (with its allowed-ips and sessions)', async () => {
    const { net, a, b, c } = await star();
    handshake(net, a, b);
    b.device.sendIp(v4(B4, A4));
    const [fromB] = net.take();
    const d = await net.node('D', '192.0.2.4');
    await a.device.apply(change([peerChange(d, { allowed: ['10.0.0.4/32'] })], { replacePeers: true }));
    expect(a.device.peerList().map((p) => Buffer.from(p.publicKey))).toEqual([Buffer.from(d.publicKey)]);
    expect(a.device.peer(b.publicKey)).toBeUndefined();
    expect(a.device.peer(c.publicKey)).toBeUndefined();
    a.device.sendIp(v4(A4, B4));
    a.device.sendIp(v4(A4, '10.0.0.3'));
    expect(a.drops('no-peer-for-destination')).toBe(2);
    net.deliver(fromB);
    expect(a.drops('unknown-index')).toBe(1);
    expect(a.tun).toEqual([]);
  });

  test('remove deletes only that peer; re-adding it starts from scratch', async () => {
    const { net, a, b, c } = await star();
    handshake(net, a, b);
    await a.device.apply(change([peerChange(b, { remove: true, endpoint: false })]));
    expect(a.device.peer(b.publicKey)).toBeUndefined();
    expect(a.device.peer(c.publicKey)).toBeDefined();
    expect(a.device.snapshot().peers.map((p) => p.allowedIps)).toEqual([[prefix('10.0.0.3/32')]]);
    expect(a.device['indices'].size).toBe(0);
    // removing an unknown peer is not an error
    await a.device.apply(change([peerChange(b, { remove: true })]));

    net.clock.advance(1_000); // a later TAI64N timestamp: B still remembers the last one
    await a.device.apply(change([peerChange(b, { allowed: [`${B4}/32`] })]));
    expect(a.peerOf(b).keypairs.current).toBeNull();
    const p = v4(A4, B4);
    a.device.sendIp(p);
    expect(types(net.queue)).toEqual(['A:1']);
    net.flush();
    expect(b.tun.map((t) => t.packet)).toEqual([p]);
  });

  test('update_only changes an existing peer and never creates one', async () => {
    const { net, a, b } = await pair();
    const c = await net.node('C', '192.0.2.3');
    await a.device.apply(change([peerChange(c, { updateOnly: true, allowed: ['10.0.0.3/32'] })]));
    expect(a.device.peer(c.publicKey)).toBeUndefined();
    expect(a.device.peerList().length).toBe(1);
    await a.device.apply(change([{ ...peerChange(b, { updateOnly: true, allowed: ['10.9.0.0/16'], keepalive: 0 }), endpoint: { address: '203.0.113.5', port: 1234 } }]));
    const s = a.device.snapshot().peers[0];
    expect(s.endpoint).toEqual({ address: '203.0.113.5', port: 1234 });
    expect(s.allowedIps).toEqual([prefix(`${B4}/32`), prefix('10.9.0.0/16'), prefix(`${B6}/128`)]);
  });

  test('replace_allowed_ips replaces, otherwise prefixes are added; a prefix moves from the peer that had it', async () => {
    const { net, a, b } = await pair();
    const c = await net.node('C', '192.0.2.3');
    await a.device.apply(change([peerChange(c, { allowed: ['10.0.0.3/32'] })]));
    const ips = (n: Node): string[] =>
      a.device.snapshot().peers.filter((p) => Buffer.from(p.publicKey).equals(Buffer.from(n.publicKey)))[0].allowedIps.map(
        (x) => `${Buffer.from(x.addr).toString('hex')}/${x.bits}`,
      );
    await a.device.apply(change([peerChange(b, { allowed: ['10.2.0.0/16'], endpoint: false })]));
    expect(ips(b)).toEqual(['0a000002/32', '0a020000/16', 'fd000000000000000000000000000002/128']);
    await a.device.apply(change([peerChange(b, { allowed: ['10.3.0.0/16'], replaceAllowedIps: true, endpoint: false })]));
    expect(ips(b)).toEqual(['0a030000/16']);
    await a.device.apply(change([peerChange(b, { allowed: [], replaceAllowedIps: true, endpoint: false })]));
    expect(ips(b)).toEqual([]);
    await a.device.apply(change([peerChange(b, { allowed: ['10.0.0.3/32'], endpoint: false })]));
    expect(ips(b)).toEqual(['0a000003/32']);
    expect(ips(c)).toEqual([]);
    a.device.sendIp(v4(A4, '10.0.0.3'));
    expect(net.queue.map((d) => d.to)).toEqual([b.endpoint]);
  });

  test("setting the private key to a peer's public key removes that peer; a peer with our own key is ignored", async () => {
    const { net, a, b } = await pair();
    const c = await net.node('C', '192.0.2.3');
    await a.device.apply(change([peerChange(c, { allowed: ['10.0.0.3/32'] })]));
    await a.device.apply(change([], { privateKey: b.privateKey }));
    expect(Buffer.from(must(a.device.publicKey))).toEqual(Buffer.from(b.publicKey));
    expect(a.device.peer(b.publicKey)).toBeUndefined();
    expect(a.device.peer(c.publicKey)).toBeDefined();
    await a.device.apply(change([peerChange(b, { allowed: [`${B4}/32`] })]));
    expect(a.device.peer(b.publicKey)).toBeUndefined();
    expect(a.device.peerList().length).toBe(1);
  });

  test('a new private key ends every session (a new handshake is needed; the old identity is unknown to the peer)', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const newKey = generatePrivateKey();
    await a.device.apply(change([], { privateKey: newKey }));
    expect(Buffer.from(must(a.device.publicKey))).toEqual(Buffer.from(publicKey(newKey)));
    const pa = a.peerOf(b);
    expect([pa.keypairs.previous, pa.keypairs.current, pa.keypairs.next]).toEqual([null, null, null]);
    a.device.sendIp(v4(A4, B4));
    expect(types(net.queue)).toEqual(['A:1']);
    net.flush();
    expect(b.drops('unknown-peer')).toBe(1);
    // setting the same key again is a no-op (no session is dropped)
    await b.device.apply(change([], { privateKey: b.privateKey }));
    expect(b.peerOf(a).keypairs.current).not.toBeNull();
  });

  test('a listen-port change binds the new port (and only a change does)', async () => {
    const { a } = await pair();
    expect(a.binds).toEqual([51820]);
    await a.device.apply(change([], { listenPort: 51999 }));
    await a.device.apply(change([], { listenPort: 51999 }));
    expect(a.binds).toEqual([51820, 51999]);
    expect(a.device.snapshot().listenPort).toBe(51999);
    await a.device.apply(change([], { listenPort: 0 }));
    expect(a.binds).toEqual([51820, 51999, 0]);
    expect(a.device.snapshot().listenPort).toBe(a.endpoint.port);
  });

  test('close(): timers stop, nothing is sent or accepted afterwards, apply() fails with EIO', async () => {
    const { net, a, b } = await pair({ aSeesB: { allowed: [`${B4}/32`], keepalive: 25 } });
    net.flush();
    b.device.sendIp(v4(B4, A4));
    const [fromB] = net.take();
    a.device.close();
    const mark = net.mark;
    net.advance(600_000, 10_000);
    expect(types(net.sent(a, { since: mark }))).toEqual([]);
    net.deliver(fromB);
    expect(a.tun).toEqual([]);
    a.device.sendIp(v4(A4, B4));
    expect(types(net.queue)).toEqual([]);
    await expect(a.device.apply(change([]))).rejects.toMatchObject({ errno: 5 });
  });

  test('packets staged for a peer without an endpoint go out once the endpoint is set (wireguard-go sends staged packets after a UAPI set)', async () => {
    const { net, a, b } = await pair({ aSeesB: { allowed: [`${B4}/32`], endpoint: false } });
    const p = v4(A4, B4, 'waiting');
    a.device.sendIp(p);
    expect(types(net.queue)).toEqual([]);
    expect(a.drops('no-endpoint')).toBe(1);
    expect(a.peerOf(b).staged).toHaveLength(1);
    await a.device.apply(change([peerChange(b)]));
    net.advance(10_000);
    expect(net.sent(a, { type: 1 }).length).toBeGreaterThanOrEqual(1);
    expect(b.tun.map((t) => t.packet)).toEqual([p]);
  });
});
