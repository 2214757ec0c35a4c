// Datapath workers (docs/design.md section 2): a few processes host every endpoint's datapath,
// a container's endpoints in one of them. Killed under traffic, a worker takes down only what it
// served: its endpoints pause and come back with the same keys, ports and routes, while a link
// whose two ends live in the other worker never notices - no ping lost, no new handshake, the
// same process. Four containers on three links, pinging all the time:
//   c1 (nA, nB), c2 (nA, nC), c3 (nB), c4 (nC); with two workers and placement by load,
//   c1 and c3 share one worker and c2 and c4 the other: nB lies inside the first, nC inside the
//   second, nA spans both.
// Needs root and a dockerd that answers (an error under CI otherwise). Everything created is
// named wgmt-wk-*; 10.72.x / 10.99.72.x exist only inside the test containers.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, run, sleep, waitFor } from '../net/harness';
import { EndpointRecord, Plugin, docker, dockerOk, mustPing, whyNotRunnable } from './helpers';
import { describeWhere } from '../canRun';
import { workerDirFor } from '../../plugin/config';

// ------------------------------------------------------------------ against the shared dockerd

jest.setTimeout(180_000);
const maybe = describeWhere(whyNotRunnable());

const NETS = { nA: 'wgmt-wk-na', nB: 'wgmt-wk-nb', nC: 'wgmt-wk-nc' } as const;
const SUBNET = { nA: '10.72.1', nB: '10.72.2', nC: '10.72.3' } as const;
const [C1, C2, C3, C4] = ['wgmt-wk-c1', 'wgmt-wk-c2', 'wgmt-wk-c3', 'wgmt-wk-c4'];
type Link = keyof typeof NETS;
/** Each link's pinger and target: the pinging container's main process, so its log has every reply. */
const PINGS: Record<Link, { from: string; to: string; toAddr: string }> = {
  nA: { from: C2, to: C1, toAddr: `${SUBNET.nA}.2` },
  nB: { from: C3, to: C1, toAddr: `${SUBNET.nB}.2` },
  nC: { from: C4, to: C2, toAddr: `${SUBNET.nC}.2` },
};
const FTN = '10.99.72.0/24';

async function removeAll(): Promise<void> {
  await docker('rm', '-f', C1, C2, C3, C4);
  for (const n of Object.values(NETS)) await docker('network', 'rm', n);
}

interface Reply {
  at: number;
  seq: number;
}

/** The replies a container's main ping got: when (ms since the epoch) and their sequence numbers. */
async function replies(container: string): Promise<Reply[]> {
  const out = await dockerOk('logs', container);
  return [...out.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+)/gm)].map((m) => ({ at: Math.round(Number(m[1]) * 1000), seq: Number(m[2]) }));
}

/** Sequence numbers missing between the first reply at or after `from` and the last one. */
function lost(rs: readonly Reply[], from: number): number[] {
  const seqs = rs.filter((r) => r.at >= from).map((r) => r.seq);
  const have = new Set(seqs);
  const out: number[] = [];
  for (let s = Math.min(...seqs); s <= Math.max(...seqs); s++) if (!have.has(s)) out.push(s);
  return out;
}

interface ShowEndpoint {
  id: string;
  /** The network's name (added here from the network it is listed under). */
  network: string;
  container: string | null;
  ifname: string;
  publicKey: string;
  port: number;
  routes: string[];
  datapath: { pid: number | null };
  peers: { publicKey: string; latestHandshake: number; rxBytes: number }[];
}

maybe('a killed datapath worker takes down only what it served (wgmpls plugin, two workers)', () => {
  const plugin = new Plugin(undefined, { WGMPLS_WORKERS: '2' });
  let image = '';

  const show = async (): Promise<ShowEndpoint[]> => {
    const r = await run(process.execPath, [CLI, 'show', '--json'], { env: plugin.env });
    if (r.code !== 0) throw new Error(`wgmpls show failed: ${r.stderr}`);
    const nets = (JSON.parse(r.stdout) as { networks: { name: string | null; endpoints: ShowEndpoint[] }[] }).networks;
    return nets.filter((n) => Object.values(NETS).includes(n.name as (typeof NETS)[Link])).flatMap((n) => n.endpoints.map((e) => ({ ...e, network: n.name ?? '' })));
  };
  const endpointsOf = (container: string, eps: ShowEndpoint[]): ShowEndpoint[] => eps.filter((e) => e.container === container);
  const stateOf = (id: string): EndpointRecord => {
    const e = plugin.state().endpoints[id];
    if (!e) throw new Error(`endpoint ${id} is not in the state`);
    return e;
  };
  const wgmplsIp = async (...args: string[]): Promise<string> => {
    const r = await run(process.execPath, [CLI, 'ip', ...args], { env: plugin.env });
    if (r.code !== 0) throw new Error(`wgmpls ip ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    image = await plugin.setUp(removeAll, false);
  }, 180_000);

  afterAll(() => plugin.tearDown(removeAll), 120_000);

  const pingLoop = (addr: string): string[] => ['sh', '-c', `trap 'exit 0' TERM; ping -D -i 0.2 -W 1 ${addr} & wait`];

  test('four containers on three links ping all the time; each container lives in one worker, and one link lies inside each', async () => {
    for (const [k, name] of Object.entries(NETS) as [Link, string][]) {
      await dockerOk('network', 'create', '-d', 'wgmpls', '-o', 'wgmpls.port-base=52720', '--subnet', `${SUBNET[k]}.0/24`, name);
    }
    // In this order, with two workers: c1 (2 endpoints) -> one worker, c2 -> the other, c3 to the
    // least loaded among equals... see the header.
    await dockerOk('run', '-d', '--name', C1, '--network', NETS.nA, '--ip', `${SUBNET.nA}.2`, image);
    await dockerOk('network', 'connect', '--ip', `${SUBNET.nB}.2`, NETS.nB, C1);
    await dockerOk('run', '-d', '--name', C2, '--network', NETS.nA, '--ip', `${SUBNET.nA}.3`, image, ...pingLoop(PINGS.nA.toAddr));
    await dockerOk('network', 'connect', '--ip', `${SUBNET.nC}.2`, NETS.nC, C2);
    await dockerOk('run', '-d', '--name', C3, '--network', NETS.nB, '--ip', `${SUBNET.nB}.3`, image, ...pingLoop(PINGS.nB.toAddr));
    await dockerOk('run', '-d', '--name', C4, '--network', NETS.nC, '--ip', `${SUBNET.nC}.3`, image, ...pingLoop(PINGS.nC.toAddr));
    for (const p of Object.values(PINGS)) await waitFor(`${p.from} to get ping replies from ${p.to}`, async () => (await replies(p.from)).length > 3, 15_000);

    const eps = await show();
    expect(eps).toHaveLength(6);
    const slot = (c: string): number[] => [...new Set(endpointsOf(c, eps).map((e) => stateOf(e.id).worker ?? -1))];
    for (const c of [C1, C2, C3, C4]) expect(slot(c)).toHaveLength(1);
    expect(slot(C1)).toEqual(slot(C3));
    expect(slot(C2)).toEqual(slot(C4));
    expect(slot(C1)).not.toEqual(slot(C2));
    // One process per worker, whatever the number of endpoints in it.
    expect(new Set(eps.map((e) => e.datapath.pid)).size).toBe(2);
    expect(Object.keys(plugin.state().workers ?? {}).sort()).toEqual(['0', '1']);
  });

  test('SIGKILL to the worker of c1 and c3: their links pause and come back with the same keys, ports and routes; the link inside the other worker loses nothing', async () => {
    // c1 gets routes of its own (a label switched through its two interfaces, an FTN prefix).
    await wgmplsIp('--container', C1, '-f', 'mpls', 'route', 'add', '100', 'as', '200', 'via', 'inet', `${SUBNET.nB}.3`, 'dev', 'wgm1');
    await wgmplsIp('--container', C1, 'route', 'add', FTN, 'encap', 'mpls', '300', 'via', `${SUBNET.nA}.3`, 'dev', 'wgm0');
    await waitFor(`the kernel route for ${FTN} in ${C1}`, async () => (await dockerOk('exec', C1, 'ip', 'route')).includes(`${FTN} dev wgm0`), 5000);
    await waitFor("c1's routes to show in wgmpls show", async () => endpointsOf(C1, await show()).every((e) => e.routes.length === 2), 5000);

    const before = await show();
    const victim = stateOf(endpointsOf(C1, before)[0].id);
    const victimPid = victim.datapath?.pid ?? 0;
    const killedIds = new Set(before.filter((e) => stateOf(e.id).worker === victim.worker).map((e) => e.id));
    const untouched = before.filter((e) => !killedIds.has(e.id));
    expect([...killedIds].map((id) => before.find((e) => e.id === id)?.container).sort()).toEqual([C1, C1, C3]);
    expect(untouched.map((e) => e.container).sort()).toEqual([C2, C2, C4]);
    // nC: c2 <-> c4, both in the other worker. Its session and counters before the kill.
    const nC = untouched.filter((e) => e.network === NETS.nC);
    expect(nC.map((e) => e.container).sort()).toEqual([C2, C4]);
    const handshakes = new Map(nC.map((e) => [e.ifname, e.peers[0].latestHandshake]));
    const rx = new Map(nC.map((e) => [e.ifname, e.peers[0].rxBytes]));
    expect([...handshakes.values()].every((t) => t > 0)).toBe(true);

    await sleep(1000);
    const killedAt = Date.now();
    process.kill(victimPid, 'SIGKILL');

    // The links of the killed worker's endpoints come back: pings through them are answered again.
    for (const k of ['nA', 'nB'] as const) {
      await waitFor(`ping over ${k} to resume after the kill`, async () => (await replies(PINGS[k].from)).some((r) => r.at > killedAt + 300), 15_000);
    }
    await sleep(2000); // everything runs on: any later pause or loss would show
    const now = Date.now();
    for (const k of ['nA', 'nB'] as const) {
      const rs = (await replies(PINGS[k].from)).filter((r) => r.at >= killedAt - 1000);
      const gaps = rs.slice(1).map((r, i) => r.at - rs[i].at);
      console.log(`${k} (an end in the killed worker): longest pause ${Math.max(...gaps)} ms, ${lost(rs, killedAt - 1000).length} pings lost`);
      expect(now - rs[rs.length - 1].at).toBeLessThan(1500); // still answering
    }
    // nC never noticed: not one ping lost, the same session (no new handshake), counters went on.
    const rsC = await replies(PINGS.nC.from);
    expect(lost(rsC, killedAt - 2000)).toEqual([]);
    expect(rsC.some((r) => r.at > now - 1000)).toBe(true);
    const after = await show();
    for (const e of nC) {
      const a = after.find((x) => x.id === e.id);
      expect(a?.datapath.pid).toBe(e.datapath.pid);
      expect(a?.peers[0].latestHandshake).toBe(handshakes.get(e.ifname));
      expect(a?.peers[0].rxBytes).toBeGreaterThan(rx.get(e.ifname) ?? Infinity);
    }
    for (const e of untouched) expect(plugin.logs).not.toMatch(new RegExp(`"ifname":"${e.ifname}"[^\\n]*"restarting datapath"|"restarting datapath"[^\\n]*"ifname":"${e.ifname}"`));

    // The killed worker's endpoints: a new process, the same keys, ports and routes, new sessions.
    const same = (eps: ShowEndpoint[]): unknown => eps.map((e) => ({ id: e.id, network: e.network, container: e.container, ifname: e.ifname, publicKey: e.publicKey, port: e.port, routes: e.routes }));
    expect(same(after)).toEqual(same(before));
    for (const id of killedIds) {
      const a = after.find((x) => x.id === id);
      expect(a?.datapath.pid).not.toBe(victimPid);
      expect(a?.datapath.pid).not.toBeNull();
      expect(a?.peers.every((p) => p.latestHandshake > 0)).toBe(true);
      expect((await run('wg', ['show', a?.ifname ?? '', 'public-key'])).stdout.trim()).toBe(a?.publicKey);
    }
    // Back in its container as it was: the FTN route's kernel half, and IPv4 both ways.
    await waitFor(`the kernel route for ${FTN} in ${C1} again`, async () => (await dockerOk('exec', C1, 'ip', 'route')).includes(`${FTN} dev wgm0`), 5000);
    expect(await wgmplsIp('--container', C1, '-f', 'mpls', 'route', 'show')).toContain(`100 as to 200 via inet ${SUBNET.nB}.3 dev wgm1`);
    await mustPing(C1, `${SUBNET.nB}.3`);
    await mustPing(C1, `${SUBNET.nA}.3`);
    expect(plugin.logs).toMatch(/datapath worker went away/);
    expect(plugin.logs).toMatch(/endpoints put back/);
  });

  test('a worker no state names (the plugin killed while starting it) is stopped when the plugin starts; the others are re-adopted', async () => {
    const before = plugin.state().workers ?? {};
    await plugin.stop();
    const control = join(workerDirFor(join(plugin.dir, 'state')), '7.sock');
    const stray = spawn(process.execPath, [CLI, 'worker', '--control', control], { detached: true, stdio: 'ignore' });
    stray.unref();
    await waitFor('the stray worker to listen', () => existsSync(control), 15_000);
    await plugin.start();
    await waitFor('the stray worker to be stopped', () => stray.exitCode !== null || stray.signalCode !== null, 15_000);
    expect(plugin.logs).toMatch(/a datapath worker no state names/);
    expect(plugin.state().workers).toEqual(before); // the recorded ones kept, with their pids
    await mustPing(C1, `${SUBNET.nB}.3`);
  });

  test('after docker rm -f and docker network rm nothing is left, the workers included', async () => {
    const eps = Object.values(plugin.state().endpoints);
    const pids = [...new Set(Object.values(plugin.state().workers ?? {}).map((w) => w.pid))];
    expect(pids).toHaveLength(2);
    await removeAll();
    expect(plugin.state()).toEqual({ version: 1, networks: {}, endpoints: {} });
    const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
    for (const e of eps) {
      expect(links).not.toContain(e.ifname);
      expect((await run('test', ['-e', `/var/run/wireguard/${e.ifname}.sock`])).code).not.toBe(0);
    }
    // Gone, or a zombie: adopted workers' parent is init once their plugin has gone (re-adopted
    // above), and not every init reaps.
    const exited = (pid: number): boolean => {
      try {
        const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return st.slice(st.lastIndexOf(')') + 2).startsWith('Z');
      } catch {
        return true;
      }
    };
    for (const pid of pids) expect(exited(pid)).toBe(true);
    expect(existsSync(workerDirFor(join(plugin.dir, 'state')))).toBe(false); // their control sockets' directory too
    expect((await run('ls', [join(plugin.dir, 'logs')])).stdout).toBe('');
  });
});
