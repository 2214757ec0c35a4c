// Device timers (wireguard-go's timers.go, the paper's section 6) on a FakeClock; the devices
// and network of test/unit/deviceHarness.ts.

import { sealTransport } from '../../datapath/device/transport';
import { change, isKeepalive, peerChange, A4, B4, must, pair, handshake, v4, types, isZero } from './deviceHarness';

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
      for (const n of [a, b]) expect(n.device['state'].indices.size).toBeLessThanOrEqual(4);
    }
    expect(b.tun).toHaveLength(sent);
    expect(a.tun).toHaveLength(200);
    const inits = net.sent(a, { type: 1 });
    expect(inits.length).toBeGreaterThanOrEqual(5);
    expect(types(net.sent(b, { type: 1 }))).toEqual([]);
    expect(a.device.counters.totalDrops() + b.device.counters.totalDrops()).toBe(0);
  });

  test('a session 180 s old is not used: data is staged, a new handshake runs, old messages are rejected (its keys are already wiped)', async () => {
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
    // The session was deleted (keys zeroed) when it expired, so its index no longer resolves.
    expect(b.drops('unknown-index')).toBe(1);
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

  test('session keys are zeroed when they expire (180 s), not 3 x 180 s later: keys wiped, contexts freed, indices gone', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const kpA = must(a.peerOf(b).keypairs.current);
    const kpB = must(b.peerOf(a).keypairs.current);
    const t0 = kpA.created;
    a.device.sendIp(v4(A4, B4, 'held'));
    const [held] = net.take();
    a.device.sendIp(v4(A4, B4, 'delivered'));
    net.advance(t0 + 179_999 - net.clock.now(), 1_000);
    expect(a.peerOf(b).keypairs.current).toBe(kpA);
    expect(isZero(kpA.sendKey)).toBe(false);

    net.advance(1);
    for (const [n, other, kp] of [
      [a, b, kpA],
      [b, a, kpB],
    ] as const) {
      const p = n.peerOf(other);
      expect([p.keypairs.previous, p.keypairs.current, p.keypairs.next]).toEqual([null, null, null]);
      expect(isZero(kp.sendKey) && isZero(kp.receiveKey)).toBe(true);
      expect(n.device['state'].indices.size).toBe(0);
    }
    expect(() => sealTransport(kpA.sendKeyHandle, 4, 0, 0, 0, Buffer.alloc(1), 0)).toThrow(/destroyed/);
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
