// Device (datapath/device/device.ts) driven in-process end to end: two devices on a simulated
// network (test/unit/deviceHarness.ts), one FakeClock, real crypto. A handshake and data both
// ways, as a WireGuard implementer checks them against the paper (section 6) and wireguard-go.

import { Node, mplsFrame, prefix, withPi, A4, B4, A6, B6, pair, handshake, v4, v6, types, pad16 } from './deviceHarness';
import { ETH_P_IP, ETH_P_IPV6, ETH_P_MPLS_MC, ETH_P_MPLS_UC } from '../../datapath/net/ethertypes';
import { lseAt } from '../packets';

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
});

describe('cryptokey routing', () => {
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
    expect(b.mpls.map((m) => [lseAt(m.frame) >>> 12, m.multicast])).toEqual([
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
