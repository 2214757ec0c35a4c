// The sticky source (the local address and interface a peer's datagrams arrive at, which the
// replies then leave from): learnt only from datagrams that authenticated, followed when the
// peer switches to another of our addresses, forgotten when the user sets an endpoint.
import { B4, Datagram, change, fromNode, handshake, isType, must, pair, peerChange, v4, A4 } from './deviceHarness';
import type { Endpoint } from '../../datapath/device/config';

/** `d` as the underlay would hand it over after it arrived at `localAddress` on interface `ifindex`. */
const arrivedAt = (d: Datagram, localAddress: string, ifindex: number): Endpoint => ({ ...d.src, localAddress, localIfindex: ifindex });

describe('sticky source', () => {
  test('an authenticated initiation sets it and the response leaves from it; data that decrypts moves it; garbage never does', async () => {
    const { net, a, b } = await pair();
    a.device.sendKeepalive(a.peerOf(b));
    const [init] = net.take();
    expect(init.data[0]).toBe(1);

    // Forged first: a copy with a broken MAC, then one whose sender key is wrong. Neither may
    // leave a trace in the peer's endpoint (b has none configured for a).
    const forged = Buffer.from(init.data);
    forged[forged.length - 20] ^= 1;
    net.deliver(init, forged, arrivedAt(init, '192.0.2.66', 9));
    expect(b.drops('bad-mac1')).toBe(1);
    expect(b.peerOf(a).endpoint).toBeNull();

    net.deliver(init, init.data, arrivedAt(init, '192.0.2.22', 3));
    expect(b.peerOf(a).endpoint).toEqual({ ...a.endpoint, localAddress: '192.0.2.22', localIfindex: 3 });
    const [response] = net.take(fromNode(b));
    expect(response.data[0]).toBe(2);
    expect(response.to).toMatchObject({ localAddress: '192.0.2.22', localIfindex: 3 });
    net.deliver(response);
    const [confirm] = net.take();
    net.deliver(confirm, confirm.data, arrivedAt(confirm, '192.0.2.22', 3));
    expect(b.peerOf(a).keypairs.current).not.toBeNull();

    // A replayed initiation authenticates its MACs but is refused as a replay: no move.
    net.deliver(init, init.data, arrivedAt(init, '192.0.2.77', 4));
    expect(b.drops('replayed-initiation')).toBe(1);
    expect(b.peerOf(a).endpoint?.localAddress).toBe('192.0.2.22');

    // Data with a tampered tag, and a replayed data message: dropped, no move.
    a.device.sendIp(v4(A4, B4, 'one'));
    const [data] = net.take();
    const bad = Buffer.from(data.data);
    bad[bad.length - 1] ^= 1;
    net.deliver(data, bad, arrivedAt(data, '192.0.2.88', 5));
    expect(b.drops('decrypt')).toBe(1);
    expect(b.peerOf(a).endpoint?.localAddress).toBe('192.0.2.22');

    // The same data, genuine, sent to another of b's addresses: b follows.
    net.deliver(data, data.data, arrivedAt(data, '192.0.2.23', 3));
    expect(b.peerOf(a).endpoint).toMatchObject({ address: a.endpoint.address, localAddress: '192.0.2.23', localIfindex: 3 });
    net.deliver(data, data.data, arrivedAt(data, '192.0.2.99', 7));
    expect(b.drops('replay')).toBe(1);
    expect(b.peerOf(a).endpoint?.localAddress).toBe('192.0.2.23');

    b.device.sendIp(v4(B4, A4, 'back'));
    expect(net.take().map((d) => d.to)).toEqual([{ ...a.endpoint, localAddress: '192.0.2.23', localIfindex: 3 }]);
    // Nothing else in the snapshot: `wg show` prints the peer's address and port only.
    expect(b.device.snapshot().peers[0].endpoint).toMatchObject(a.endpoint);
  });

  test('a cookie reply leaves from the address the initiation was sent to', async () => {
    const { net, a, b } = await pair({ b: { forceUnderLoad: true } });
    a.device.sendKeepalive(a.peerOf(b));
    const [init] = net.take();
    net.deliver(init, init.data, arrivedAt(init, '192.0.2.22', 3));
    expect(b.drops('cookie-required')).toBe(1);
    const [reply] = net.take(isType(3));
    expect(reply.to).toMatchObject({ address: a.endpoint.address, localAddress: '192.0.2.22', localIfindex: 3 });
    // ...and is no authentication: the peer has no endpoint yet.
    expect(b.peerOf(a).endpoint).toBeNull();
  });

  test('setting an endpoint (wg set ... endpoint) forgets the sticky source, even the same address', async () => {
    const { net, a, b } = await pair({ bSeesA: { allowed: ['10.0.0.1/32'], endpoint: true } });
    handshake(net, a, b);
    a.device.sendIp(v4(A4, B4, 'x'));
    const [data] = net.take();
    net.deliver(data, data.data, arrivedAt(data, '192.0.2.22', 3));
    expect(b.peerOf(a).endpoint?.localAddress).toBe('192.0.2.22');
    await b.device.apply(change([peerChange(a, { endpoint: true })]));
    expect(must(b.peerOf(a).endpoint)).toEqual(a.endpoint);
    expect(b.peerOf(a).endpoint?.localAddress).toBeUndefined();
    expect(b.peerOf(a).endpoint?.localIfindex).toBeUndefined();
  });
});
