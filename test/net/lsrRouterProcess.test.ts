// A label-switching router whose two interfaces run in one datapath process (`wgmpls datapath X
// Y`), and the capture rule: the labelled frames a datapath switches go up its TUN only while a
// packet capture watches that interface (datapath/lsr/captureWatch.ts). Real namespaces, real
// tcpdump, `ip -s link`, no Docker.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, Netns, cleanupAll, sleep, uapiStats as stats, uniq, waitFor } from './harness';
import { existsSync } from 'node:fs';
import { describeWhere, needProgram, firstReason, needRoot } from '../canRun';
import { Topology, line } from './lsrTopology';

const d = describeWhere(firstReason(needRoot('root (network namespaces, TUN)'), needProgram('tcpdump', ['--version'])));
jest.setTimeout(120_000);

/** The records of a pcap file (microsecond, little-endian: what tcpdump -w writes here). */
function pcapRecords(file: Buffer): Buffer[] {
  if (file.length < 24 || file.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('not a little-endian pcap file');
  const out: Buffer[] = [];
  for (let at = 24; at + 16 <= file.length; ) {
    const len = file.readUInt32LE(at + 8);
    out.push(file.subarray(at + 16, at + 16 + len));
    at += 16 + len;
  }
  return out;
}

/** RX packets of a link, as `ip -s link` counts them. */
async function rxPackets(t: Topology, node: number, ifname: string): Promise<number> {
  const j = JSON.parse(await t.nodes[node - 1].ip('-s', '-j', 'link', 'show', 'dev', ifname)) as { stats64: { rx: { packets: number } } }[];
  return j[0].stats64.rx.packets;
}

d('a router in one process; labelled frames up its TUN only for a capture', () => {
  let t: Topology;
  const A = '10.9.1.1';
  const C = '10.9.3.1';
  beforeAll(async () => {
    // 1 pushes 100 towards C, 2 swaps 100 -> 101, 3 pops to its stack; back 200 -> 201.
    t = await line(3, { oneProcess: [2] });
    const e = (i: number, j: number): ReturnType<Topology['end']> => t.end(i, j);
    await t.nodes[0].ip('addr', 'add', `${A}/32`, 'dev', 'lo');
    await t.nodes[2].ip('addr', 'add', `${C}/32`, 'dev', 'lo');
    await t.wgmplsIp(1, `route add ${C}/32 encap mpls 100 via ${e(2, 1).v4} dev ${e(1, 2).ifname}`);
    await t.wgmplsIp(2, `-f mpls route add 100 as 101 via inet ${e(3, 2).v4} dev ${e(2, 3).ifname}`);
    await t.wgmplsIp(3, '-f mpls route add 101 dev lo');
    await t.wgmplsIp(3, `route add ${A}/32 encap mpls 200 via ${e(2, 3).v4} dev ${e(3, 2).ifname}`);
    await t.wgmplsIp(2, `-f mpls route add 200 as 201 via inet ${e(1, 2).v4} dev ${e(2, 1).ifname}`);
    await t.wgmplsIp(1, '-f mpls route add 201 dev lo');
  });
  afterAll(async () => {
    if (t) await t.stop();
    await cleanupAll();
  });

  const ping = async (count: number): Promise<void> => {
    await t.nodes[0].must('ping', ['-c', String(count), '-i', '0.05', '-W', '3', '-I', A, C], { timeoutMs: 30_000 });
  };

  test('both interfaces of the transit are one process, and it switches between them by a call', async () => {
    const x = t.end(2, 1);
    const y = t.end(2, 3);
    expect(x.tun.proc.pid).toBe(y.tun.proc.pid);
    await ping(5);
    const sx = await stats(x.ifname);
    const sy = await stats(y.ifname);
    expect(sx['lsr.route.100.packets']).toBeGreaterThanOrEqual(5);
    expect(sy['lsr.route.200.packets']).toBeGreaterThanOrEqual(5);
    // A hand-over through a socket would show as lost frames, or as a sibling socket connection.
    expect(sx['lsr.drop.sibling']).toBe(0);
    expect(sy['lsr.drop.sibling']).toBe(0);
  });

  test('without a capture the switched frames do not go up the TUN; tcpdump -i on it sees them with their labels', async () => {
    const x = t.end(2, 1);
    expect((await stats(x.ifname))['lsr.mirror-mpls']).toBe(0);
    const before = await rxPackets(t, 2, x.ifname);
    await ping(20);
    expect(await rxPackets(t, 2, x.ifname)).toBe(before);

    const dir = mkdtempSync(join(tmpdir(), 'wgmt-pcap-'));
    const file = join(dir, 'mirror.pcap');
    const dump = t.nodes[1].spawn('tcpdump', ['-i', x.ifname, '-n', '-U', '--immediate-mode', '-s', '0', '-w', file]);
    let err = '';
    dump.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<void>((r) => dump.on('exit', () => r()));
    try {
      await waitFor('tcpdump listening', () => err.includes('listening on') || dump.exitCode !== null);
      expect(dump.exitCode).toBeNull();
      // The watch looks twice a second.
      await waitFor('the datapath noticing the capture', async () => (await stats(x.ifname))['lsr.mirror-mpls'] === 1, 5000);
      await ping(5);
      await sleep(300);
    } finally {
      dump.kill('SIGINT');
      await exited;
    }
    // A TUN is link-type RAW: each record is the frame as the datapath wrote it, label stack first.
    const labels = pcapRecords(readFileSync(file)).map((r) => (r.length >= 4 ? r.readUInt32BE(0) >>> 12 : -1));
    expect(labels.filter((l) => l === 100).length).toBeGreaterThanOrEqual(5);
    await waitFor('the datapath noticing the capture has gone', async () => (await stats(x.ifname))['lsr.mirror-mpls'] === 0, 5000);
    const after = await rxPackets(t, 2, x.ifname);
    await ping(10);
    expect(await rxPackets(t, 2, x.ifname)).toBe(after);
  });
});

d('wgmpls datapath with several names: bad names refused, all start or none', () => {
  let ns: Netns;
  beforeAll(async () => {
    ns = await Netns.create('dpn');
  });
  afterAll(async () => {
    if (ns) await ns.destroy();
    await cleanupAll();
  });

  const links = async (): Promise<string[]> => (JSON.parse(await ns.ip('-j', 'link', 'show')) as { ifname: string }[]).map((l) => l.ifname);

  test('a name given twice or an invalid one: a clear error, exit 1, nothing created', async () => {
    const name = `wdp${uniq()}`;
    const twice = await ns.exec('node', [CLI, 'datapath', name, name], { timeoutMs: 20_000 });
    expect({ code: twice.code, err: twice.stderr.trim() }).toEqual({ code: 1, err: `error: interface name "${name}" is given twice` });
    const bad = await ns.exec('node', [CLI, 'datapath', name, 'a/b'], { timeoutMs: 20_000 });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('interface name "a/b" is invalid');
    expect(await links()).toEqual(['lo']);
    expect(existsSync(`/var/run/wireguard/${name}.sock`)).toBe(false);
  });

  test('when a later interface cannot be created, the earlier ones are removed again', async () => {
    const name = `wdp${uniq()}`;
    // "lo" exists and is no TUN: the second device fails after the first was made.
    const r = await ns.exec('node', [CLI, 'datapath', name, 'lo'], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^wgmpls datapath .*: lo: /m);
    expect(await links()).toEqual(['lo']);
    expect(existsSync(`/var/run/wireguard/${name}.sock`)).toBe(false);
  });
});
