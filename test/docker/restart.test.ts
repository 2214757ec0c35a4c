// "Nothing lost": two `--restart always` containers on a wgmpls network keep their WireGuard keys,
// ports and hand-made MPLS routes, and their ping comes back within 5 s, across (1) a restart of
// the shared dockerd with the plugin running and (2) a reboot-like cold start (plugin and dockerd
// stopped, datapaths killed, label tables in /run gone; then plugin and dockerd started). Then
// everything is removed and nothing may be left. Restarting dockerd disturbs whoever else uses it:
// it is always brought back with scripts/docker-up.sh, in afterAll too.
// Everything created is named wgmt-rs-*; 10.68/fd00:68 exist only inside the test containers.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, run, sleep, waitFor } from '../net/harness';
import { workerDirFor } from '../../plugin/config';
import { Plugin, docker, dockerAnswers, dockerDown, dockerOk, dockerUp, ensureImage, mustPing, whyNotRunnable } from './helpers';
import { LSR_ROOT, parseTable } from '../../datapath/lsr/store';
import { combineTexts, mergeTables, renameDevices } from '../../plugin/datapaths/tables';
import { learnContainers, obsoleteIdentities, staleEndpoints, takeovers } from '../../plugin/driver/reconcile';
import { StateStore } from '../../plugin/state/store';
import type { EndpointState, RetainedIdentity } from '../../plugin/state/types';
import { describeWhere } from '../canRun';

// ------------------------------------------------------------------ no Docker, no root needed

const ep = (id: string, over: Partial<EndpointState> = {}): EndpointState => ({
  id,
  networkId: 'n1',
  ifname: `wgm${id}`,
  privateKey: 'a'.repeat(64),
  publicKey: id.padEnd(64, '0'),
  port: 51820,
  createdAt: '2020-01-01T00:00:00.000Z',
  ...over,
});
const kept = (containerId: string, over: Partial<RetainedIdentity> = {}): RetainedIdentity => ({
  networkId: 'n1',
  containerId,
  privateKey: 'b'.repeat(64),
  publicKey: 'c'.repeat(64),
  port: 51900,
  retainedAt: '2020-01-01T00:00:00.000Z',
  ...over,
});
const table = (mpls: [number, string][], ip: [string, string][] = [], settings: Record<string, unknown> = {}): string =>
  JSON.stringify({
    version: 1,
    mpls: mpls.map(([label, dev]) => ({ label, outLabels: [label + 100], via: { family: 4, addr: '10.0.0.2' }, dev })),
    ip: ip.map(([prefix, dev]) => ({ prefix, labels: [300], via: null, dev })),
    settings,
  });

describe('restart logic (no Docker needed)', () => {
  test('reconcile: the container behind an endpoint, replaced endpoints, gone containers, takeovers', () => {
    // c1 restarted: dockerd names e2 on n1 now; c2 was removed; c3 is stopped; c4 left network n1.
    const containers = new Map([
      ['c1', new Map([['n1', 'e2']])],
      ['c3', new Map([['n1', '']])],
      ['c4', new Map([['n2', 'e9']])],
    ]);
    const eps = [ep('e1', { containerId: 'c1' }), ep('e2'), ep('e3', { containerId: 'c2' }), ep('e4', { containerId: 'c3' }), ep('e5', { containerId: 'c4' }), ep('e6')];
    expect(learnContainers(eps, containers)).toEqual(new Map([['e2', 'c1']]));
    expect(staleEndpoints(eps, containers)).toEqual([
      { endpointId: 'e1', keep: true }, // replaced by e2: c1 comes back with its identity
      { endpointId: 'e3', keep: false }, // container removed
      { endpointId: 'e4', keep: true }, // stopped while we were away: it may start again
      { endpointId: 'e5', keep: false }, // taken off the network
    ]);
    const retained = [kept('c1'), kept('c2'), kept('c3'), kept('c4')];
    expect(obsoleteIdentities(retained, containers).map((r) => r.containerId)).toEqual(['c2', 'c4']);
    // Only once e2 is known to be c1's does it take c1's identity over.
    expect(takeovers(eps, retained, containers)).toEqual([]);
    const learnt = [ep('e2', { containerId: 'c1' })];
    expect(takeovers(learnt, retained, containers)).toEqual([{ endpoint: learnt[0], identity: retained[0] }]);
  });

  test('tables: what is there wins, saved routes fill in, interfaces renamed at once, settings kept', () => {
    const now = parseTable(table([[101, 'wgm0']]));
    const saved = parseTable(table([[101, 'wgm1'], [102, 'wgm1'], [103, 'wgm0']], [['10.99.0.0/24', 'wgm0']], { defaultTtl: 64 }));
    const renamed = renameDevices(saved, new Map([['wgm0', 'wgm1'], ['wgm1', 'wgm0']]));
    const merged = mergeTables(now, renamed);
    expect(merged.mpls.map((r) => [r.label, r.dev])).toEqual([[101, 'wgm0'], [102, 'wgm0'], [103, 'wgm1']]);
    expect(merged.ip.map((r) => r.dev)).toEqual(['wgm1']);
    expect(merged.settings.defaultTtl).toBe(64); // the new namespace had no settings of its own
    expect(mergeTables(parseTable(table([], [], { defaultTtl: 32 })), saved).settings.defaultTtl).toBe(32);
    expect(combineTexts(undefined, table([]))).toBeUndefined(); // nothing worth carrying
    expect(parseTable(combineTexts(table([[5 + 16, 'wgm0']]), table([[22, 'wgm0']])) ?? '').mpls).toHaveLength(2);
  });

  test('state: retained identities persist, go with their network, and an empty state stays three keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgmt-rs-state-'));
    try {
      const store = StateStore.open(dir);
      store.putNetwork({ id: 'n1', mtu: 1420, underlay: '127.0.0.1', mplsPeers: 'any', portBase: null, defaultRoute: false, lsr: 'auto', labelAuth: true, ipv4: [], ipv6: [], createdAt: '2020-01-01T00:00:00.000Z' });
      store.putRetained(kept('c1', { table: table([[101, 'wgm0']]), containerIfname: 'wgm0' }));
      expect(StateStore.read(dir).retainedFor('n1', 'c1')).toMatchObject({ port: 51900, containerIfname: 'wgm0' });
      store.deleteNetwork('n1');
      expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))).toEqual({ version: 1, networks: {}, endpoints: {} });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ------------------------------------------------------------------ against the shared dockerd

const skipReason = whyNotRunnable();
jest.setTimeout(180_000);
const maybe = describeWhere(skipReason);

const NET = 'wgmt-rs-net';
const A = 'wgmt-rs-a';
const B = 'wgmt-rs-b';
const IP = { a: '10.68.0.2', b: '10.68.0.3', a6: 'fd00:68::2', b6: 'fd00:68::3' };
const RESUME_MS = 5000;
const FTN = '10.99.0.0/24';

interface StateEndpoint {
  id: string;
  ifname: string;
  port: number;
  containerId?: string;
  nsid?: string;
  table?: string;
  datapath?: { pid: number };
}
interface FullState {
  version: number;
  networks: Record<string, unknown>;
  endpoints: Record<string, StateEndpoint>;
  retained?: Record<string, { containerId: string }>;
}
interface ShowEndpoint {
  container: string | null;
  ifname: string;
  publicKey: string;
  port: number;
  routes: string[];
  peers: { publicKey: string; latestHandshake: number }[];
}
interface ShowJson {
  networks: { name: string | null; endpoints: ShowEndpoint[] }[];
}
/** What must survive: per container, its key, port and routes on the network. */
type Identities = Record<string, { publicKey: string; port: number; routes: string[] }>;

async function removeAll(): Promise<void> {
  await docker('rm', '-f', A, B);
  await docker('network', 'rm', NET);
}

/** `wgmpls ip ...` inside a container's network namespace (what `wgmpls ip` run there does). */
async function wgmplsIpIn(container: string, ...args: string[]): Promise<string> {
  const sandbox = (await dockerOk('inspect', '-f', '{{.NetworkSettings.SandboxKey}}', container)).trim();
  const r = await run('nsenter', [`--net=${sandbox}`, process.execPath, CLI, ...args]);
  if (r.code !== 0) throw new Error(`wgmpls ${args.join(' ')} in ${container} failed: ${r.stderr}`);
  return r.stdout;
}

/**
 * The first reply (at or after `from`) from which ping has never paused for more than a second
 * up to `now`, in ms since the epoch; null when it is not replying now.
 */
function resumedAt(replies: readonly number[], from: number, now: number): number | null {
  const after = replies.filter((t) => t >= from);
  if (after.length === 0 || now - after[after.length - 1] > 1500) return null;
  let start = after[0];
  for (let i = 1; i < after.length; i++) if (after[i] - after[i - 1] > 1000) start = after[i];
  return start;
}

const listening = (logs: string): number => logs.split('driver listening').length - 1;

maybe('nothing lost across dockerd restarts and a cold start (wgmpls plugin)', () => {
  const plugin = new Plugin();
  let image = '';
  let before: Identities = {};
  /** Every endpoint the test has seen (restarts replace them): none may be left at the end. */
  const seen = new Map<string, StateEndpoint>();
  const note = (): void => {
    for (const e of Object.values(state().endpoints)) seen.set(e.id, e);
  };

  const state = (): FullState => {
    const file = join(plugin.dir, 'state', 'state.json');
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as FullState) : { version: 1, networks: {}, endpoints: {} };
  };
  const show = async (): Promise<ShowEndpoint[]> => {
    const r = await run(process.execPath, [CLI, 'show', '--json'], { env: plugin.env });
    if (r.code !== 0) throw new Error(`wgmpls show failed: ${r.stderr}`);
    return (JSON.parse(r.stdout) as ShowJson).networks.find((n) => n.name === NET)?.endpoints ?? [];
  };
  const identities = async (): Promise<Identities> => {
    const out: Identities = {};
    const eps = (await show()).sort((x, y) => (x.container ?? x.ifname).localeCompare(y.container ?? y.ifname));
    for (const e of eps) out[e.container ?? e.ifname] = { publicKey: e.publicKey, port: e.port, routes: e.routes };
    return out;
  };
  const containerIds = async (): Promise<string[]> => (await dockerOk('inspect', '-f', '{{.Id}}', A, B)).trim().split('\n');

  /** Ping replies A got (its main process is a ping to B), as ms since the epoch. */
  const replies = async (): Promise<number[]> => {
    const r = await dockerOk('logs', A);
    return [...r.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) => Math.round(Number(m[1]) * 1000));
  };

  /** Both containers running again since `since`; returns when the later of them started. */
  const containersBack = async (since: number): Promise<number> => {
    let back = 0;
    await waitFor(
      'both containers to be running again',
      async () => {
        const r = await docker('inspect', '-f', '{{.State.Running}} {{.State.StartedAt}}', A, B);
        if (r.code !== 0) return false;
        const rows = r.stdout.trim().split('\n').map((l) => l.split(' '));
        if (rows.length !== 2 || rows.some(([running, at]) => running !== 'true' || Date.parse(at) < since)) return false;
        back = Math.max(...rows.map(([, at]) => Date.parse(at)));
        return true;
      },
      60_000,
    );
    return back;
  };

  /** The checks after each restart: same keys, ports and routes; ping back within 5 s. */
  const expectNothingLost = async (what: string, since: number): Promise<void> => {
    const back = await containersBack(since);
    note();
    const same = (now: Identities): boolean => JSON.stringify(now) === JSON.stringify(before);
    try {
      await waitFor(`${what}: wgmpls show to list the keys and routes of before`, async () => same(await identities()), 15_000);
    } catch (err) {
      const lines = plugin.logs.trim().split('\n').filter((l) => !l.includes('"level":20'));
      throw new Error(`${(err as Error).message}\nbefore: ${JSON.stringify(before)}\nnow: ${JSON.stringify(await identities())}\nplugin: ${lines.slice(-40).join('\n')}`);
    }
    const settled = Date.now() - back;
    await sleep(2000); // ping runs on with the final keys: any pause would show in its replies
    const got = await replies();
    const resumed = resumedAt(got, back - 1000, Date.now());
    const after = got.filter((t) => t >= (resumed ?? Infinity));
    const pause = Math.max(0, ...after.slice(1).map((t, i) => t - after[i]));
    console.log(`${what}: ping resumed ${resumed === null ? 'never' : `${resumed - back} ms`} and identities were back ${settled} ms after the containers restarted; longest pause since: ${pause} ms (one every 200 ms)`);
    expect(resumed).not.toBeNull();
    expect((resumed ?? Infinity) - back).toBeLessThanOrEqual(RESUME_MS);
    expect(await identities()).toEqual(before);
    // The datapaths themselves use those keys, and the peers know them and have handshaken.
    const eps = await show();
    for (const e of eps) {
      expect((await run('wg', ['show', e.ifname, 'public-key'])).stdout.trim()).toBe(e.publicKey);
      const other = eps.find((o) => o !== e);
      expect(e.peers).toEqual([expect.objectContaining({ publicKey: other?.publicKey })]);
      expect(e.peers[0].latestHandshake).toBeGreaterThan(0);
    }
    // The FTN route's kernel half and the hand-set sysctl came back with the table.
    await waitFor(`${what}: the kernel route for ${FTN} in ${A}`, async () => (await dockerOk('exec', A, 'ip', 'route')).includes(`${FTN} dev wgm0`), 5000);
    expect(await wgmplsIpIn(A, 'sysctl', 'net.mpls.default_ttl')).toBe('net.mpls.default_ttl = 64\n');
    await mustPing(B, IP.a6);
    note();
  };

  /** Starts the plugin and waits until it listens (its logs carry every earlier start too). */
  const startPlugin = async (): Promise<void> => {
    const n = listening(plugin.logs);
    await plugin.start();
    await waitFor('the plugin to listen', () => listening(plugin.logs) > n || plugin.proc?.exitCode !== null, 30_000);
    if (plugin.proc?.exitCode !== null) throw new Error(`plugin exited: ${plugin.logs}`);
  };

  /** The state's copy of A's label table has the hand-made routes (a reboot empties /run). */
  const tableCopied = async (): Promise<void> => {
    const [idA] = await containerIds();
    await waitFor(
      `the state's copy of ${A}'s routes`,
      () => {
        const e = Object.values(state().endpoints).find((x) => x.containerId === idA);
        return e?.table !== undefined && parseTable(e.table).mpls.some((r) => r.label === 100);
      },
      5000,
    );
  };

  beforeAll(async () => {
    await removeAll(); // leftovers of an interrupted run
    image = await ensureImage();
    await startPlugin();
  }, 180_000);

  afterAll(async () => {
    // The shared dockerd comes back whatever happened, with a driver to tear our networks down.
    if (!plugin.proc || plugin.proc.exitCode !== null || plugin.proc.signalCode !== null) await startPlugin().catch(() => undefined);
    if (!(await dockerAnswers())) await dockerUp();
    await removeAll();
    await plugin.stop();
    plugin.killLeftoverDatapaths();
    if (process.env.WGMT_KEEP_LOGS === undefined) rmSync(plugin.dir, { recursive: true, force: true });
  }, 180_000);

  test('two --restart always containers ping each other; A gets hand-made routes', async () => {
    // Ports of its own, apart from other tests' networks: checked for leftovers at the end.
    await dockerOk('network', 'create', '-d', 'wgmpls', '-o', 'wgmpls.port-base=52680', '--subnet', '10.68.0.0/24', '--ipv6', '--subnet', 'fd00:68::/64', NET);
    // A's main process is the ping: it runs across every restart, and its replies are timestamped.
    const pingLoop = `trap 'exit 0' TERM; ping -D -i 0.2 -W 1 ${IP.b} & wait`;
    await dockerOk('run', '-d', '--restart', 'always', '--name', A, '--network', NET, '--ip', IP.a, '--ip6', IP.a6, image, 'sh', '-c', pingLoop);
    await dockerOk('run', '-d', '--restart', 'always', '--name', B, '--network', NET, '--ip', IP.b, '--ip6', IP.b6, image);
    await waitFor('ping replies in A', async () => (await replies()).length > 0, 10_000);
    await mustPing(B, IP.a6);
    await wgmplsIpIn(A, 'ip', '-f', 'mpls', 'route', 'add', '100', 'as', '200', 'via', 'inet', IP.b, 'dev', 'wgm0');
    await wgmplsIpIn(A, 'ip', 'route', 'add', FTN, 'encap', 'mpls', '300', 'via', IP.b, 'dev', 'wgm0');
    await wgmplsIpIn(A, 'sysctl', '-w', 'net.mpls.default_ttl=64');
    // The plugin learns each endpoint's container from dockerd (never in Join): needed to keep it.
    const ids = await containerIds();
    await waitFor('the plugin to know both containers', () => ids.every((id) => Object.values(state().endpoints).some((e) => e.containerId === id)), 5000);
    await tableCopied();
    before = await identities();
    note();
    expect(Object.keys(before).sort()).toEqual([A, B]);
    expect(before[A].routes).toEqual([`100 as to 200 via inet ${IP.b} dev wgm0`, `${FTN} encap mpls 300 via ${IP.b} dev wgm0`]);
  });

  test('docker restart of one container: same key and port, through a new endpoint', async () => {
    const oldIds = Object.keys(state().endpoints);
    await dockerOk('restart', '-t', '1', B);
    await waitFor('B to have its key again', async () => JSON.stringify(await identities()) === JSON.stringify(before), 10_000);
    expect(Object.keys(state().endpoints)).not.toEqual(oldIds);
    await mustPing(B, IP.a);
    note();
  });

  test('dockerd restarted with the plugin running: same keys and routes, ping back within 5 s', async () => {
    const since = Date.now();
    try {
      await dockerDown();
    } finally {
      await dockerUp();
    }
    await expectNothingLost('dockerd restart', since);
    expect(state().retained ?? {}).toEqual({});
  });

  test('cold start (plugin and dockerd stopped, datapaths killed, /run emptied): same keys and routes, ping back within 5 s', async () => {
    await tableCopied(); // the restored table, copied again after the last restart
    await plugin.stop();
    const since = Date.now();
    try {
      // dockerd retries the absent driver for each Leave / DeleteEndpoint: about 15 s.
      await dockerDown();
      // What a reboot does besides: no datapath survives, and /run (the label tables) is empty.
      const eps = Object.values(state().endpoints);
      plugin.killLeftoverDatapaths();
      for (const e of eps) if (e.nsid) rmSync(join(LSR_ROOT, e.nsid), { recursive: true, force: true });
      // The plugin first, as a boot should (plugin/README.md): dockerd needs it for the containers.
      await startPlugin();
    } finally {
      await dockerUp();
    }
    await expectNothingLost('cold start', since);
    expect(state().retained ?? {}).toEqual({});
    expect(plugin.logs).toMatch(/endpoint no longer used by dockerd; retiring it/);
  });

  test('after docker rm -f and docker network rm nothing is left', async () => {
    expect(Object.values(state().endpoints)).toHaveLength(2);
    note();
    const eps = [...seen.values()];
    expect(eps.length).toBeGreaterThanOrEqual(7); // A and B, B again (docker restart), both again twice
    const [, idB] = await containerIds();
    // Removing a container forgets its identity too (kept while it only stopped).
    await dockerOk('rm', '-f', B);
    await waitFor("B's identity to be forgotten", () => Object.keys(state().retained ?? {}).length === 0 && !Object.values(state().endpoints).some((e) => e.containerId === idB), 5000);
    await dockerOk('rm', '-f', A);
    await dockerOk('network', 'rm', NET);
    expect(state()).toEqual({ version: 1, networks: {}, endpoints: {} });
    const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
    const procs = (await run('ps', ['-eo', 'pid,args'])).stdout;
    const udp = (await run('ss', ['-uan'])).stdout;
    expect(procs).not.toContain(workerDirFor(join(plugin.dir, 'state'))); // the datapath workers too
    for (const e of eps) {
      expect(links).not.toContain(e.ifname);
      expect(procs).not.toContain(`datapath ${e.ifname}`);
      expect(existsSync(`/var/run/wireguard/${e.ifname}.sock`)).toBe(false);
      expect(udp).not.toMatch(new RegExp(`127\\.0\\.0\\.1:${e.port}\\s`));
      if (e.nsid) expect(existsSync(join(LSR_ROOT, e.nsid))).toBe(false);
    }
  });
});
