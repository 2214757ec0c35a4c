// Authenticated labels against a real man in the middle: two wgmpls datapaths whose underlay
// runs through a UDP relay in a third namespace (test/net/tools/labelrelay.py) that sends B a
// rewritten copy of every data message from A before the genuine one: other label, other type,
// other TC/BoS, type 4 turned into 5. With wgmpls-label-auth on both sides nothing rewritten is
// delivered or switched and all genuine traffic flows; off (compatibility), the rewritten label
// is switched and the genuine packet is dropped as a replay: the limit the README states.
import { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { CLI, Netns, ROOT, Tunnel, cleanupAll, genKeys, keyFile, link, startTunnel, uapiRequest, uapiStats, uniq, waitFor } from './harness';
import { describeWhere, needRoot } from '../canRun';

jest.setTimeout(120_000);
const d = describeWhere(needRoot('root (network namespaces, TUN)'));

const hex = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');

interface Lab {
  a: Netns;
  b: Netns;
  tA: Tunnel;
  tB: Tunnel;
  relay: ChildProcess;
  forged: () => number;
  pubA: string;
  pubB: string;
}

async function build(): Promise<Lab> {
  const a = await Netns.create('la');
  const r = await Netns.create('lr');
  const b = await Netns.create('lb');
  await link(a, ['10.251.0.1/24'], r, ['10.251.0.254/24']);
  await link(r, ['10.252.0.254/24'], b, ['10.252.0.2/24']);
  let out = '';
  const relay = r.spawn('python3', ['-u', join(ROOT, 'test', 'net', 'tools', 'labelrelay.py'), '51820', '10.251.0.1', '51820', '10.252.0.2', '51820']);
  relay.stdout?.on('data', (x: Buffer) => (out += x.toString()));
  await waitFor('relay', () => out.includes('ready'));
  const tA = await startTunnel(a, 'wgmpls', `wla${uniq()}`);
  const tB = await startTunnel(b, 'wgmpls', `wlb${uniq()}`);
  const kA = await genKeys();
  const kB = await genKeys();
  // Both ends reach each other only through the relay's addresses.
  await a.must('wg', ['set', tA.ifname, 'private-key', keyFile(kA.priv), 'listen-port', '51820', 'peer', kB.pub, 'allowed-ips', '10.99.0.2/32,10.77.0.2/32,0.0.0.0/32', 'endpoint', '10.251.0.254:51820']);
  await b.must('wg', ['set', tB.ifname, 'private-key', keyFile(kB.priv), 'listen-port', '51820', 'peer', kA.pub, 'allowed-ips', '10.99.0.1/32,0.0.0.0/32', 'endpoint', '10.252.0.254:51820']);
  for (const [ns, t, addr] of [[a, tA, '10.99.0.1/24'], [b, tB, '10.99.0.2/24']] as const) {
    await ns.ip('addr', 'add', addr, 'dev', t.ifname);
    await ns.ip('link', 'set', t.ifname, 'up');
  }
  // A pushes label 100 towards 10.77.0.2; B pops 100 and delivers locally. Label 200 (what the
  // attacker writes) would be switched too, and counted, if a rewritten packet got through.
  await b.ip('addr', 'add', '10.77.0.2/32', 'dev', 'lo');
  await a.must('node', [CLI, 'ip', 'route', 'add', '10.77.0.2/32', 'encap', 'mpls', '100', 'via', '10.99.0.2', 'dev', tA.ifname]);
  await b.must('node', [CLI, 'ip', '-f', 'mpls', 'route', 'add', '100', 'dev', 'lo']);
  await b.must('node', [CLI, 'ip', '-f', 'mpls', 'route', 'add', '200', 'dev', 'lo']);
  const forged = (): number => (out.match(/forged \d+/g) ?? []).length;
  return { a, b, tA, tB, relay, forged, pubA: kA.pub, pubB: kB.pub };
}

async function labelAuth(ifname: string, peer: string, on: boolean): Promise<void> {
  const answer = await uapiRequest(ifname, `set=1\npublic_key=${hex(peer)}\nwgmpls-label-auth=${on}\n\n`);
  expect(answer).toBe('errno=0\n\n');
  expect(await uapiRequest(ifname, 'wgmpls-get=1\n\n')).toContain(`wgmpls-label-auth=${on}\n`);
}

async function teardown(lab: Lab | null): Promise<void> {
  if (lab) {
    lab.relay.kill();
    for (const t of [lab.tA, lab.tB]) expect(await t.stop()).toBe(0);
  }
  await cleanupAll();
}

const ping = (lab: Lab, to: string, count: number): Promise<{ code: number; stdout: string }> =>
  lab.a.exec('ping', ['-c', String(count), '-i', '0.2', '-W', '2', to], { timeoutMs: 60_000 });

d('authenticated labels through a rewriting relay', () => {
  let lab: Lab | null = null;
  afterEach(async () => {
    await teardown(lab);
    lab = null;
  });

  test('label-auth on: nothing rewritten is delivered or switched, genuine IP and MPLS all arrive', async () => {
    lab = await build();
    await labelAuth(lab.tA.ifname, lab.pubB, true);
    await labelAuth(lab.tB.ifname, lab.pubA, true);
    // wgmpls showconf: wg showconf's text, byte for byte, plus the extension line in the peer's section.
    const wgConf = await lab.a.must('wg', ['showconf', lab.tA.ifname]);
    const ours = await lab.a.must('node', [CLI, 'showconf', lab.tA.ifname]);
    expect(ours).toBe(`${wgConf}WgmplsLabelAuth = true\n`);

    const ip = await ping(lab, '10.99.0.2', 8); // type 4; the relay sends a type-5 copy first
    expect(ip.stdout).toContain(' 0% packet loss');
    const forgedIp = lab.forged();
    expect(forgedIp).toBeGreaterThanOrEqual(8);

    const mpls = await ping(lab, '10.77.0.2', 8); // label 100, type 5; rewritten copies first
    expect(mpls.stdout).toContain(' 0% packet loss');
    expect(lab.forged() - forgedIp).toBeGreaterThanOrEqual(8);

    const s = await uapiStats(lab.tB.ifname);
    expect(s['lsr.route.100.packets']).toBeGreaterThanOrEqual(8);
    expect(s['lsr.route.200.packets'] ?? 0).toBe(0); // the attacker's label never switched
    expect(s['event.rx-mpls-mc'] ?? 0).toBe(0); // 5 -> 6 never delivered
    expect(s['drop.replay'] ?? 0).toBe(0); // the genuine copies were not shadowed
    // Every forged datagram was refused by one of the checks before any table.
    const refused = (s['drop.decrypt'] ?? 0) + (s['drop.label-auth-mismatch'] ?? 0) + (s['drop.reserved-nonzero'] ?? 0);
    expect(refused).toBe(lab.forged());
    expect(s['drop.label-auth-mismatch']).toBeGreaterThanOrEqual(8); // the type-4 copies relabelled as 5
  });

  test('label-auth off (compatibility, the standalone default): the rewritten label is switched and the genuine packet lost as a replay', async () => {
    lab = await build();
    expect(await uapiRequest(lab.tB.ifname, 'wgmpls-get=1\n\n')).toContain('wgmpls-label-auth=false\n');
    await ping(lab, '10.77.0.2', 8);
    await waitFor('forged copies', () => lab !== null && lab.forged() >= 8);
    const s = await uapiStats(lab.tB.ifname);
    expect(s['lsr.route.200.packets']).toBeGreaterThan(0);
    expect(s['drop.replay']).toBeGreaterThan(0);
  });
});
