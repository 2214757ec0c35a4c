// Session install and rotation (datapath/device/session.ts), observed through two devices on the
// simulated network of test/unit/deviceHarness.ts.

import { isData, isKeepalive, isType, A4, B4, must, pair, v4, types } from './deviceHarness';

describe('handshake and data', () => {
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
});
