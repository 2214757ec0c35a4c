// The device's batched entry points, the ones the live datapath uses (handleTunBatch from the
// TUN reader, handleUdpBatch from the UDP reader): a group is routed once and sealed with
// consecutive counters; a run is opened together, and what is wrong in it (forged, replayed,
// misdirected, malformed) is dropped and counted packet by packet while the rest goes up in order.
// Simulated network of test/unit/deviceHarness.ts, real crypto.
import { Datagram, Node, A4, B4, A6, B6, handshake, isData, pair, v4, v6 } from './deviceHarness';
import { ETH_P_IP, ETH_P_IPV6 } from '../../datapath/net/ethertypes';

/** IP packets as the TUN reader hands them over: back to back, one group of `packets.length`. */
function tunGroup(packets: Buffer[]): { arena: Buffer; desc: Uint32Array; count: number; dropped: number } {
  const desc = new Uint32Array(4 * packets.length);
  let off = 0;
  packets.forEach((p, i) => {
    desc.set([off, p.length, p[0] >> 4 === 6 ? ETH_P_IPV6 : ETH_P_IP, i === 0 ? packets.length : 0], 4 * i);
    off += p.length;
  });
  return { arena: Buffer.concat(packets), desc, count: packets.length, dropped: 0 };
}

/** Datagrams as the UDP reader hands them over: back to back, all from `from`'s endpoint. */
function udpRound(node: Node, datagrams: Buffer[], from: Datagram['src']): void {
  const desc = new Uint32Array(3 * datagrams.length);
  let off = 0;
  datagrams.forEach((d, i) => {
    desc.set([off, d.length, 0], 3 * i);
    off += d.length;
  });
  node.device.handleUdpBatch(Buffer.concat(datagrams), desc, datagrams.length, [from]);
}

function counterOf(d: Datagram): number {
  return d.data.readUInt32LE(8);
}

describe('batched send and receive', () => {
  test('a group of segments goes out as consecutive counters to one peer, and comes up in order, byte for byte', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const segs = [0, 1, 2, 3].map((i) => v4(A4, B4, `segment ${i} `.repeat(50 + i)));
    a.device.handleTunBatch(tunGroup(segs));
    const sent = net.take(isData);
    expect(sent).toHaveLength(4);
    const first = counterOf(sent[0]);
    expect(sent.map(counterOf)).toEqual([first, first + 1, first + 2, first + 3]);
    // Padded to 16 as wireguard-go pads: header 16 + padded payload + tag 16.
    for (const [i, d] of sent.entries()) expect(d.data.length).toBe(32 + Math.ceil(segs[i].length / 16) * 16);
    udpRound(b, sent.map((d) => d.data), a.endpoint);
    expect(b.tun.map((t) => t.packet)).toEqual(segs);
    expect(b.dropsJson()).toEqual({});
  });

  test('in a run, a forged, a replayed and a misdirected packet are dropped and counted one by one; the others go up in order', async () => {
    const { net, a, b } = await pair();
    handshake(net, a, b);
    const good = [v4(A4, B4, 'one'), v6(A6, B6, 'two'), v4(A4, B4, 'three'), v4(A4, B4, 'four')];
    a.device.handleTunBatch(tunGroup([good[0]]));
    a.device.handleTunBatch(tunGroup([good[1]]));
    a.device.sendIp(v4('10.0.0.77', B4, 'spoofed source'));
    a.device.handleTunBatch(tunGroup(good.slice(2)));
    const sent = net.take(isData).map((d) => d.data);
    expect(sent).toHaveLength(5);
    const forged = Buffer.from(sent[3]);
    forged[forged.length - 1] ^= 1;
    // one, two, spoofed, forged three, four, two again (replay), three (genuine).
    udpRound(b, [sent[0], sent[1], sent[2], forged, sent[4], sent[1], sent[3]], a.endpoint);
    expect(b.tun.map((t) => t.packet)).toEqual([good[0], good[1], good[3], good[2]]);
    expect(b.dropsJson()).toEqual({ decrypt: 1, replay: 1, 'source-not-allowed': 1 });
  });

  test('the handshake itself can arrive in a batch, and what is short or unknown in it is counted', async () => {
    const { net, a, b } = await pair();
    a.device.handleTunBatch(tunGroup([v4(A4, B4, 'staged until the session is up')]));
    const init = net.take();
    expect(init.map((d) => d.data[0])).toEqual([1]);
    udpRound(b, [init[0].data, Buffer.from([4, 0, 0]), Buffer.from([9, 0, 0, 0, 1, 2, 3, 4])], a.endpoint);
    expect(b.dropsJson()).toEqual({ short: 1, 'unknown-type': 1 });
    const resp = net.take();
    expect(resp.map((d) => d.data[0])).toEqual([2]);
    udpRound(a, [resp[0].data], b.endpoint);
    net.flush();
    expect(b.tun.map((t) => t.packet.toString('latin1'))).toEqual([expect.stringContaining('staged until the session is up')]);
  });

  test('labelled packets: one label pushed for a whole group rides in the header; the run arrives as frames with the entry rebuilt', async () => {
    // The seed's rule: the peer whose allowed-ips hold 0.0.0.0 carries (and may send) MPLS.
    const { net, a, b } = await pair({ aSeesB: { allowed: [`${B4}/32`, '0.0.0.0/32'] }, bSeesA: { allowed: [`${A4}/32`, '0.0.0.0/32'], endpoint: false } });
    handshake(net, a, b);
    const inner = [v4(A4, B4, 'x'.repeat(300)), v4(A4, B4, 'y'.repeat(300))];
    const { arena, desc } = tunGroup(inner);
    const lse24 = (1234 << 4) | 1; // label 1234, TC 0, bottom of stack
    expect(a.device.sendMplsGroup(arena, desc, 4, 0, 2, lse24)).toBe(true);
    const sent = net.take(isData);
    expect(sent.map((d) => d.data[0])).toEqual([5, 5]);
    udpRound(b, sent.map((d) => d.data), a.endpoint);
    // The entry is rebuilt with the inner IPv4 TTL (64).
    const entry = Buffer.from([0x00, 0x4d, 0x21, 64]);
    expect(b.mpls.map((m) => m.frame)).toEqual(inner.map((p) => Buffer.concat([entry, p])));
    expect(b.dropsJson()).toEqual({});
  });
});
