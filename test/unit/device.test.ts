// Device (datapath/device/device.ts) driven in-process: two or three devices on a simulated
// network (test/unit/deviceHarness.ts), one FakeClock, real crypto. What is asserted is what a
// WireGuard implementer checks against the paper (section 6) and wireguard-go's device/
// (send.go, receive.go): handshakes and data, cryptokey routing, replay, handshake messages.

import {
  Datagram,
  Node,
  change,
  isData,
  isKeepalive,
  isType,
  mplsFrame,
  peerChange,
  prefix,
  withPi,
  A4,
  B4,
  A6,
  B6,
  must,
  pair,
  handshake,
  v4,
  v6,
  types,
  pad16,
  isZero,
} from './deviceHarness';
import { ETH_P_IP, ETH_P_IPV6, ETH_P_MPLS_MC, ETH_P_MPLS_UC } from '../../datapath/device/device';
import { readLse } from '../../datapath/mpls/wire';

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
