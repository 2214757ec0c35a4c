// The receive path (datapath/device/receive.ts): what arrives is authenticated before anything
// happens; malformed, replayed, forged or misdirected messages are dropped and counted by reason.
// Devices on the simulated network of test/unit/deviceHarness.ts, one FakeClock, real crypto.

import { Datagram, change, isData, peerChange, A4, B4, A6, B6, pair, handshake, v4, v6, types } from './deviceHarness';

describe('handshake and data: keys and inner packets', () => {
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
});

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
});

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
});
