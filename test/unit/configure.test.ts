// Device.apply(): the UAPI set semantics of wireguard-go's uapi.go, on the devices of
// test/unit/deviceHarness.ts.

import { Net, Node, change, link, peerChange, prefix, A4, B4, B6, must, pair, handshake, v4, types } from './deviceHarness';
import { generatePrivateKey, publicKey } from '../../datapath/crypto/x25519';

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
    expect(a.device['state'].indices.size).toBe(0);
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
