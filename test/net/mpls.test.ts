// Two wgmpls datapaths (real processes in their own namespaces): MPLS frames handed to one
// TUN arrive at the other rebuilt, and the underlay shows type-5 messages with the label bits.
import { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Side, capture, cleanupAll, pair, ping, stopPair, uapiStats as stats, waitFor, ROOT } from './harness';
import { describeWhere, needRoot } from '../canRun';
import { ipv4Checksum, ipv4Udp, ipv6NoNext, lse, parseLse } from '../packets';

const d = describeWhere(needRoot('root (network namespaces, TUN)'));
jest.setTimeout(60_000);
const TOOLS = join(ROOT, 'test', 'net', 'tools');

function listen(side: Side): { proc: ChildProcess; frames: string[] } {
  const proc = side.ns.spawn('python3', ['-u', join(TOOLS, 'mplslisten.py'), side.tun.ifname]);
  const frames: string[] = [];
  let buf = '';
  proc.stdout?.on('data', (x: Buffer) => {
    buf += x.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    frames.push(...lines);
  });
  return { proc, frames };
}

async function inject(side: Side, frame: Buffer, proto = 0x8847): Promise<void> {
  await side.ns.must('python3', [join(TOOLS, 'mplsinject.py'), side.tun.ifname, String(proto), frame.toString('hex')]);
}

d('wgmpls <-> wgmpls with MPLS', () => {
  let sides: [Side, Side];
  afterAll(async () => {
    if (sides) await stopPair(sides);
    await cleanupAll();
  });

  test('IP works as with wireguard-go, and MPLS frames arrive rebuilt (label, TC, BoS, TTL); the underlay carries type 5', async () => {
    sides = await pair('wgmpls', 'wgmpls', { mpls: true });
    const [a, b] = sides;
    await ping(a, b.v4, 2);
    await ping(b, a.v6, 2);

    const l = listen(b);
    await waitFor('listener', () => l.frames.includes('ready'));
    // Labelled frames go up a TUN only while a capture watches it (datapath/lsr/captureWatch.ts).
    await waitFor('the datapath noticing the listener', async () => (await stats(b.tun.ifname))['lsr.mirror-mpls'] === 1, 5000);
    const cap = await capture(a.ns, (await a.ns.ip('-o', 'link', 'show', 'type', 'veth')).split(':')[1].trim().split('@')[0], 'udp port 51820');

    // 1. label 101, TC 5, BoS, TTL 33 over IPv4 with TTL 64: the IPv4 TTL is lowered to 33.
    const ip4 = ipv4Udp('10.98.0.1', '10.98.0.2', 64, Buffer.from('hello over mpls'));
    await inject(a, Buffer.concat([lse(101, 5, 1, 33), ip4]));
    // 2. two labels 100 (TTL 20) / 200 (BoS, TTL 64) over IPv6 with hop limit 64.
    const ip6 = ipv6NoNext(64, Buffer.from('six'));
    await inject(a, Buffer.concat([lse(100, 0, 0, 20), lse(200, 3, 1, 64), ip6]));
    // 3. multicast MPLS (0x8848): label 300 over IPv4, TTL 9.
    await inject(a, Buffer.concat([lse(300, 1, 1, 9), ip4]), 0x8848);

    await waitFor('three MPLS frames at B', () => l.frames.length >= 4, 10_000);
    l.proc.kill();
    const got = l.frames.slice(1).map((line) => {
      const [proto, hex] = line.split(' ');
      return { proto: Number(proto), frame: Buffer.from(hex, 'hex') };
    });

    expect(got[0].proto).toBe(0x8847);
    expect(parseLse(got[0].frame)).toEqual({ label: 101, tc: 5, bos: 1, ttl: 33 });
    const inner4 = got[0].frame.subarray(4);
    expect(inner4.length).toBe(ip4.length); // WireGuard's padding removed
    expect(inner4[8]).toBe(33); // IPv4 TTL lowered to the label's
    expect(inner4.readUInt16BE(10)).toBe(ipv4Checksum(inner4.subarray(0, 20)));
    expect(inner4.subarray(20)).toEqual(ip4.subarray(20));

    expect(got[1].proto).toBe(0x8847);
    expect(parseLse(got[1].frame)).toEqual({ label: 100, tc: 0, bos: 0, ttl: 20 });
    expect(parseLse(got[1].frame, 4)).toEqual({ label: 200, tc: 3, bos: 1, ttl: 20 });
    expect(got[1].frame.subarray(8).subarray(8)).toEqual(ip6.subarray(8));
    expect(got[1].frame[8 + 7]).toBe(64);

    expect(got[2].proto).toBe(0x8848);
    expect(parseLse(got[2].frame)).toEqual({ label: 300, tc: 1, bos: 1, ttl: 9 });

    await ping(a, b.v4, 1);
    const udp = await cap.stop();
    const mpls = udp.filter((u) => u.payload[0] === 5 || u.payload[0] === 6);
    expect(mpls.map((u) => [...u.payload.subarray(0, 4)])).toEqual([
      [5, 0x5b, 0x06, 0x00], // 101 << 4 | 5 << 1 | 1 = 0x65b, little-endian in bytes 1-3
      [5, 0x40, 0x06, 0x00], // 100 << 4 | 0 << 1 | 0 = 0x640
      [6, 0xc3, 0x12, 0x00], // 300 << 4 | 1 << 1 | 1 = 0x12c3
    ]);
    // IP between the endpoints stays plain WireGuard data (type 4).
    expect(udp.some((u) => u.payload[0] === 4)).toBe(true);
  });

  test('type 5 from a peer that is not the MPLS peer is dropped and counted; IP from it still flows', async () => {
    const [a, b] = sides;
    // B no longer gives A the 0.0.0.0 route, so by the seed's rule A may not send B MPLS.
    await b.ns.must('wg', ['set', b.tun.ifname, 'peer', a.pub, 'allowed-ips', `${a.v4}/32,${a.v6}/128`]);
    const before = await stats(b.tun.ifname);
    const l = listen(b);
    await waitFor('listener', () => l.frames.includes('ready'));
    await waitFor('the datapath noticing the listener', async () => (await stats(b.tun.ifname))['lsr.mirror-mpls'] === 1, 5000);
    await inject(a, Buffer.concat([lse(101, 0, 1, 10), ipv4Udp('10.98.0.1', '10.98.0.2', 64, Buffer.from('x'))]));
    await waitFor('drop counted', async () => ((await stats(b.tun.ifname))['drop.mpls-peer-not-allowed'] ?? 0) > (before['drop.mpls-peer-not-allowed'] ?? 0));
    await ping(a, b.v4, 1);
    l.proc.kill();
    expect(l.frames.slice(1)).toEqual([]);
  });
});

