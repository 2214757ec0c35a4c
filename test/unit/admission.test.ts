// Handshake admission (datapath/device/admission.ts): mac1, and under load mac2 with cookie
// replies, through devices on the simulated network of test/unit/deviceHarness.ts.

import { change, peerChange, A4, B4, pair, v4, types, isZero } from './deviceHarness';

describe('handshake messages', () => {
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
