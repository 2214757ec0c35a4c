// Authenticated labels (wgmpls-label-auth, docs/design.md section 3) through Device, on the
// simulated network of test/unit/deviceHarness.ts: an on-path attacker rewrites header bytes
// 1-3 and flips types; with label-auth nothing it rewrote is delivered and the genuine copies
// still are; without it (compatibility mode) the same rewrites go through, which is the limit
// the README states.

import { Datagram, Pair, PeerOpts, handshake, isData, mplsFrame, pair, v4, A4, B4 } from './deviceHarness';
import { lseAt } from '../packets';

const authPair = (aAuth: boolean, bAuth: boolean): Promise<Pair> => {
  const aSeesB: PeerOpts = { allowed: [`${B4}/32`, '0.0.0.0/0'], labelAuth: aAuth };
  const bSeesA: PeerOpts = { allowed: [`${A4}/32`, '0.0.0.0/0'], endpoint: false, labelAuth: bAuth };
  return pair({ aSeesB, bSeesA });
};

/** A's MPLS frame with label `label` (BoS 1 over an IPv4 packet to B), as sent: one datagram. */
function sendLabelled({ net, a }: Pair, label: number): Datagram {
  expect(a.device.sendMpls(mplsFrame([{ label, bos: 1, ttl: 40 }], v4(A4, B4, `label ${label}`)))).toBe(true);
  const [d] = net.take(isData);
  return d;
}

const rewrites: [string, (m: Buffer) => void][] = [
  ['label 101 -> 202', (m) => m.writeUIntLE((202 << 4) | 1, 1, 3)],
  ['TC bits', (m) => (m[1] ^= 0x0e)],
  ['BoS cleared', (m) => (m[1] &= 0xfe)],
  ['type 5 -> 6', (m) => (m[0] = 6)],
  ['type 5 -> 4, bytes 1-3 zeroed', (m) => m.writeUIntLE(4, 0, 4)],
];

describe('authenticated labels (wgmpls-label-auth) through the device', () => {
  test.each(rewrites)('on: %s is dropped, nothing delivered or switched; the genuine copy still arrives (no replay drop)', async (_, rewrite) => {
    const p = await authPair(true, true);
    handshake(p.net, p.a, p.b);
    const d = sendLabelled(p, 101);
    const forged = Buffer.from(d.data);
    rewrite(forged);
    p.net.deliver(d, forged); // the attacker's copy first
    expect(p.b.mpls).toEqual([]);
    expect(p.b.tun).toEqual([]);
    expect(p.b.drops('decrypt') + p.b.drops('reserved-nonzero')).toBe(1);
    p.net.deliver(d); // then the genuine one
    expect(p.b.mpls).toHaveLength(1);
    expect(lseAt(p.b.mpls[0].frame, 0) >>> 12).toBe(101);
    expect(p.b.drops('replay')).toBe(0);
  });

  test('on: a type-4 packet relabelled as 5 or 6 is never delivered as MPLS; the genuine IP packet still is', async () => {
    const p = await authPair(true, true);
    handshake(p.net, p.a, p.b);
    p.a.device.sendIp(v4(A4, B4, 'plain ip'));
    const [d] = p.net.take(isData);
    expect(d.data[0]).toBe(4);
    for (const [type, lse] of [[5, 0], [6, (101 << 4) | 1], [5, (200 << 4) | 1]]) {
      const forged = Buffer.from(d.data);
      forged[0] = type;
      forged.writeUIntLE(lse, 1, 3);
      p.net.deliver(d, forged);
    }
    expect(p.b.mpls).toEqual([]);
    expect(p.b.tun).toEqual([]);
    // It opens only with no associated data: counted as a label-auth mismatch, not delivered.
    expect(p.b.drops('label-auth-mismatch')).toBe(3);
    p.net.deliver(d);
    expect(p.b.tun).toHaveLength(1);
  });

  test('on: traffic both ways, IP and MPLS, with the header bound (A and B agree)', async () => {
    const p = await authPair(true, true);
    handshake(p.net, p.a, p.b);
    sendLabelled(p, 101);
    p.net.queue = [];
    expect(p.a.device.sendMpls(mplsFrame([{ label: 300, bos: 1, ttl: 9 }], v4(A4, B4)))).toBe(true);
    p.b.device.sendMpls(mplsFrame([{ label: 301, bos: 1, ttl: 9 }], v4(B4, A4)));
    p.a.device.sendIp(v4(A4, B4));
    p.net.flush();
    expect(p.b.mpls.map((m) => lseAt(m.frame, 0) >>> 12)).toEqual([300]);
    expect(p.a.mpls.map((m) => lseAt(m.frame, 0) >>> 12)).toEqual([301]);
    expect(p.b.tun).toHaveLength(1);
    expect({ ...p.a.dropsJson(), ...p.b.dropsJson() }).toEqual({});
  });

  test('a setting mismatch drops types 5/6 as label-auth-mismatch both ways; type 4 still flows', async () => {
    const p = await authPair(true, false);
    handshake(p.net, p.a, p.b);
    p.a.device.sendMpls(mplsFrame([{ label: 300, bos: 1, ttl: 9 }], v4(A4, B4)));
    p.b.device.sendMpls(mplsFrame([{ label: 301, bos: 1, ttl: 9 }], v4(B4, A4)));
    p.a.device.sendIp(v4(A4, B4));
    p.b.device.sendIp(v4(B4, A4));
    p.net.flush();
    expect(p.a.mpls).toEqual([]);
    expect(p.b.mpls).toEqual([]);
    expect(p.a.drops('label-auth-mismatch')).toBe(1);
    expect(p.b.drops('label-auth-mismatch')).toBe(1);
    expect(p.a.tun).toHaveLength(1);
    expect(p.b.tun).toHaveLength(1);
    expect(p.a.device.stats()['drop.label-auth-mismatch']).toBe(1);
  });

  test('off (compatibility, the default): the same rewrites are delivered with the attacker\'s label - the stated limit', async () => {
    const p = await authPair(false, false);
    expect(p.a.peerOf(p.b).labelAuth).toBe(false);
    handshake(p.net, p.a, p.b);
    const d = sendLabelled(p, 101);
    const forged = Buffer.from(d.data);
    forged.writeUIntLE((202 << 4) | 1, 1, 3);
    p.net.deliver(d, forged);
    expect(p.b.mpls.map((m) => lseAt(m.frame, 0) >>> 12)).toEqual([202]);
    p.net.deliver(d);
    expect(p.b.drops('replay')).toBe(1); // and the genuine one is lost as a replay
  });

  test('the setting is per peer, applied by UAPI, and shown in the snapshot', async () => {
    const p = await authPair(false, false);
    await p.a.device.apply({ replacePeers: false, peers: [{ publicKey: p.b.publicKey, remove: false, updateOnly: true, replaceAllowedIps: false, allowedIps: [], labelAuth: true }] });
    expect(p.a.device.snapshot().peers[0].labelAuth).toBe(true);
    // An update without the key leaves it alone.
    await p.a.device.apply({ replacePeers: false, peers: [{ publicKey: p.b.publicKey, remove: false, updateOnly: true, replaceAllowedIps: false, allowedIps: [] }] });
    expect(p.a.peerOf(p.b).labelAuth).toBe(true);
  });
});
