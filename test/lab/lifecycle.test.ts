// A lab's life beyond deploy and destroy: deploying again (containerlab's reconcile, unchanged
// and with a changed node), destroying a lab whose deploy was interrupted, and topologies with a
// malformed wgmpls link or route, which must fail the deploy naming the node and the problem and
// leave nothing behind. The topologies are copies of lab/*.clab.yml under other lab names
// (wgmt*), written to a temporary directory (containerlab puts its lab directory beside them).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../net/harness';
import { dockerOk } from '../docker/helpers';
import { Footprint, Lab, node, topology, whyNoLab } from './labHarness';
import { describeWhere } from '../canRun';

const skipReason = whyNoLab();
const maybe = describeWhere(skipReason);
jest.setTimeout(180_000);

const dir = skipReason ? '' : mkdtempSync(join(tmpdir(), 'wgmt-lab-'));

/** lab/<from>.clab.yml renamed to lab `name`, with text replacements; returns its path. */
function variant(from: string, name: string, edits: [string, string][] = []): string {
  let text = readFileSync(topology(from), 'utf8').replace(/^name: .*$/m, `name: ${name}`);
  for (const [a, b] of edits) {
    if (!text.includes(a)) throw new Error(`${from}.clab.yml has no "${a}"`);
    text = text.replace(a, b);
  }
  const file = join(dir, `${name}.clab.yml`);
  writeFileSync(file, text);
  return file;
}

const merge = (a: Footprint, b: Footprint): Footprint => ({
  lab: a.lab,
  containers: [...a.containers, ...b.containers],
  ports: [...a.ports, ...b.ports],
  ifnames: [...a.ifnames, ...b.ifnames],
  pids: [...a.pids, ...b.pids],
  nsids: [...a.nsids, ...b.nsids],
});

maybe('containerlab: redeploy, interrupted deploy, bad topologies', () => {
  const lab = new Lab();
  const files: string[] = [];
  beforeAll(async () => {
    await lab.start();
  }, 120_000);
  // One failing test must not leave its lab to the next one's "nothing left" check.
  afterEach(async () => {
    for (const f of files) await lab.clear(f);
  }, 240_000);
  afterAll(async () => {
    for (const f of files) await lab.clear(f);
    await lab.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 240_000);

  test('deploying twice changes nothing; a changed node is recreated and put back on its network; destroy leaves nothing', async () => {
    const file = variant('tunnel', 'wgmtrc');
    files.push(file);
    const r1 = node('wgmtrc', 'r1');
    await lab.deploy(file);
    await lab.pingUntil(r1, ['-I', '10.9.1.1', '10.9.2.1']);
    const first = await lab.footprint('wgmtrc');
    await lab.deploy(file);
    const again = await lab.footprint('wgmtrc');
    expect(again.containers.sort()).toEqual(first.containers.sort());
    expect(again.ifnames.sort()).toEqual(first.ifnames.sort());
    expect((await dockerOk('network', 'ls', '-q', '--filter', 'label=wgmpls.lab=wgmtrc')).trim().split('\n')).toHaveLength(1);
    await lab.pingUntil(r1, ['-I', '10.9.1.1', '10.9.2.1']);

    // r2 changed: containerlab recreates it (without running its stages: the plugin connects it).
    writeFileSync(file, readFileSync(file, 'utf8').replace('- ip -6 addr add fd00:9:2::1/128 dev lo', '- ip -6 addr add fd00:9:2::1/128 dev lo\n        - ip addr add 10.9.2.2/32 dev lo'));
    const oldR2 = (await dockerOk('inspect', '-f', '{{.Id}}', node('wgmtrc', 'r2'))).trim();
    const r = await lab.deploy(file);
    expect(r.stderr + r.stdout).toMatch(/recreate/i);
    expect((await dockerOk('inspect', '-f', '{{.Id}}', node('wgmtrc', 'r2'))).trim()).not.toBe(oldR2);
    expect(await dockerOk('exec', node('wgmtrc', 'r2'), 'ip', '-o', '-4', 'addr', 'show', 'dev', 'lo')).toContain('10.9.2.2/32');
    await lab.pingUntil(r1, ['-I', '10.9.1.1', '10.9.2.1'], 30_000);
    const changed = await lab.footprint('wgmtrc');
    expect(changed.containers).toHaveLength(2);
    expect(changed.ifnames).toHaveLength(2);
    await lab.destroy(file);
    await lab.assertGone(merge(merge(first, again), changed));
  });

  test('a deploy interrupted half way (SIGINT), then destroy: nothing is left', async () => {
    const file = variant('router', 'wgmthalf');
    files.push(file);
    const clab = spawn('containerlab', ['deploy', '-t', file], { env: lab.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    clab.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    clab.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((res) => clab.once('exit', (code) => res(code)));
    // Some nodes up and on their networks, not all.
    await waitFor('part of the lab to be up', () => Object.keys(lab.plugin.state().endpoints).length >= 2, 60_000);
    const part = await lab.footprint('wgmthalf');
    clab.kill('SIGINT');
    expect(await exited).not.toBe(0);
    const half = merge(part, await lab.footprint('wgmthalf'));
    expect(half.containers.length).toBeLessThan(6 + 6); // (listed twice at most)
    await lab.destroy(file);
    await lab.assertGone(half);
    expect(out).not.toContain('panic');
  });

  test('a running lab whose file turned bad is reported, not torn down, when another lab deploys', async () => {
    const a = variant('tunnel', 'wgmtedited');
    const b = variant('lan', 'wgmtother');
    files.push(a, b);
    await lab.deploy(a);
    await lab.pingUntil(node('wgmtedited', 'r1'), ['-I', '10.9.1.1', '10.9.2.1']);
    writeFileSync(a, readFileSync(a, 'utf8').replace('wgmpls.links: r1-r2 10.0.12.2/24', 'wgmpls.links: r1-r2 10.0.13.2/24'));
    const r = await lab.deploy(b);
    expect(r.stdout + r.stderr).toMatch(/lab wgmtedited: node r2: wgmpls\.links entry 1: 10\.0\.13\.2\/24 is not in 10\.0\.12\.0\/24/);
    await lab.pingUntil(node('wgmtother', 'r1'), ['-I', '10.9.1.1', '10.9.3.1']);
    // The edited lab still runs and still forwards.
    await lab.pingUntil(node('wgmtedited', 'r1'), ['-I', '10.9.1.1', '10.9.2.1']);
    const fa = await lab.footprint('wgmtedited');
    const fb = await lab.footprint('wgmtother');
    await lab.destroy(b);
    await lab.destroy(a);
    await lab.assertGone(merge(fa, fb));
  });

  const bad: [string, string, [string, string][], RegExp][] = [
    [
      'a link address outside the subnet of its other end',
      'wgmtbadlink',
      [['wgmpls.links: r1-r2 10.0.12.2/24 fd00:12::2/64', 'wgmpls.links: r1-r2 10.0.13.2/24 fd00:12::2/64']],
      /node r2: wgmpls\.links entry 1: 10\.0\.13\.2\/24 is not in 10\.0\.12\.0\/24, the subnet of network "r1-r2" at node r1/,
    ],
    [
      'a malformed link entry',
      'wgmtbadaddr',
      [['wgmpls.links: r1-r2 10.0.12.1/24 fd00:12::1/64', 'wgmpls.links: r1-r2 10.0.12.1/33 fd00:12::1/64']],
      /node r1: wgmpls\.links entry 1 \("r1-r2 10\.0\.12\.1\/33 fd00:12::1\/64"\): prefix \/33 of "10\.0\.12\.1\/33" is out of range/,
    ],
    [
      'a route with a reserved label',
      'wgmtbadroute',
      [['-f mpls route add 101 as 102 via inet 10.0.34.2 dev wgm1', '-f mpls route add 5 as 102 via inet 10.0.34.2 dev wgm1']],
      /node r3: wgmpls\.routes line 1 \("-f mpls route add 5 as 102 via inet 10\.0\.34\.2 dev wgm1"\): label 5 is reserved/,
    ],
    [
      'a route through an interface the node has no link for',
      'wgmtbaddev',
      [['-f mpls route add 103 via inet 10.0.56.2 dev wgm1', '-f mpls route add 103 via inet 10.0.56.2 dev wgm2']],
      /node r5: wgmpls\.routes names device "wgm2", which is not one of its links \(wgm0, wgm1/,
    ],
  ];
  test.each(bad)('%s fails the deploy, naming the node and the problem, and leaves nothing', async (_what, name, edits, message) => {
    const file = variant(name === 'wgmtbadlink' || name === 'wgmtbadaddr' ? 'tunnel' : 'router', name, edits);
    files.push(file);
    const r = await lab.clab(['deploy', '-t', file]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(message);
    // The sweeper finishes after containerlab has exited: containers, networks, the lab's
    // management network and directory (containerlab destroy --cleanup), tables.
    await lab.assertGone({ lab: name, containers: [], ports: [], ifnames: [], pids: [], nsids: [] });
    await waitFor('containerlab destroy --cleanup to remove the lab directory', () => !existsSync(join(dir, `clab-${name}`)), 20_000);
    expect(Object.keys(lab.plugin.state().endpoints)).toEqual([]);
  });
});
