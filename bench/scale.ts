// `npm run bench:scale [-- N]`: a lab of N containers (default 50) on a ring of wgmpls links, each
// node linked to the next and the one after (plugin/lab/ring.ts: 2N links, 4N endpoints), started
// the way a lab starts them (created on one network, connected to the rest, started; BENCH_PARALLEL
// at a time, default 4). Measures, against goals for the 50-node ring:
//   - memory per endpoint: resident memory of the plugin and its datapath workers over 4N, with
//     the ring idle and again once 2 MiB of TCP have crossed every link (buffers in use);
//   - deploy to the last handshake: from the first network made to every endpoint's handshake;
//   - start cost per endpoint: the same N containers started on --network none, the difference;
//   - the wgmpls share of one `docker run` (its time minus the same run on --network none),
//     with the docker CLI, onto a network whose other end is up;
//   - a worker killed: until every endpoint it hosted has handshaken again;
//   - teardown: every container and network removed, until the plugin holds nothing.
// A benchmark, not a test: the exit code is 1 only when something could not be measured.
//
// It runs a plugin of its own (driver "wgmplsbench", state in a temporary directory; WGMPLS_WORKERS
// passes through) and removes everything it made at the end, on an error and on Ctrl-C/SIGTERM.
// Needs root, dockerd (scripts/docker-up.sh) and the lab image (lab/images/build.sh).
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { workerDirFor } from '../plugin/config';
import { ringLinks, ringNodeLinks } from '../plugin/lab/ring';
import { BenchDocker, inParallel } from './scaleDocker';
import { BenchEndpoint, handshakes, pssKiB, readState, rssKiB } from './scaleProbe';

const ROOT = resolve(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const DRIVER = 'wgmplsbench';
const SOCKET = `/run/docker/plugins/${DRIVER}.sock`;
const IMAGE = 'wgmpls/node:latest';
const UAPI_DIR = '/var/run/wireguard';
const GOALS = { rssMiB: 15, deployS: 60, runShareS: 0.2, restartS: 2 };
const SOLO_RUNS = 8;
/** KiB sent over each link before memory is measured again. */
const TRAFFIC_KB = 2048;

const arg = process.argv[2] ?? process.env.BENCH_NODES ?? '50';
const N = Number(arg);
const PARALLEL = Number(process.env.BENCH_PARALLEL ?? 4);
/** BENCH_KEEP_LOGS=1: the plugin's and the workers' logs stay (their directory is printed). */
const KEEP = process.env.BENCH_KEEP_LOGS !== undefined;

const tmp = mkdtempSync(join(tmpdir(), 'wgmb-scale-'));
const stateDir = join(tmp, 'state');
const env: NodeJS.ProcessEnv = { ...process.env, WGMPLS_STATE_DIR: stateDir, WGMPLS_LOG_DIR: join(tmp, 'logs'), WGMPLS_PLUGIN_SOCKET: SOCKET };
const bench = new BenchDocker(`scale-${process.pid}`, IMAGE);
let plugin: ChildProcess | null = null;

const now = (): number => performance.now() / 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const out = (line: string): void => void process.stdout.write(`${line}\n`);
const progress = (line: string): void => void process.stderr.write(`${line}\n`);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

function sh(cmd: string, args: string[], timeoutMs = 60_000): { code: number; out: string } {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}` };
}

function preflight(): string | null {
  if (!Number.isInteger(N) || N < 2 || N > 880) return `the node count must be an integer from 2 to 880, got "${arg}"`;
  if (!Number.isInteger(PARALLEL) || PARALLEL < 1 || PARALLEL > 64) return `BENCH_PARALLEL must be an integer from 1 to 64, got "${process.env.BENCH_PARALLEL}"`;
  if (process.getuid?.() !== 0) return 'run as root (sudo npm run bench:scale)';
  if (!existsSync(CLI)) return 'dist/ is not built (npm run build)';
  if (sh('docker', ['info', '--format', '{{.ServerVersion}}'], 20_000).code !== 0) return 'docker does not answer (scripts/docker-up.sh)';
  if (sh('docker', ['image', 'inspect', IMAGE], 20_000).code !== 0) return `no ${IMAGE} image (lab/images/build.sh)`;
  if (existsSync(SOCKET) && sh('curl', ['-s', '--max-time', '2', '--unix-socket', SOCKET, '-X', 'POST', 'http://x/Plugin.Activate'], 10_000).code === 0) {
    return `a driver already answers on ${SOCKET} (another bench:scale?)`;
  }
  return null;
}

async function startPlugin(): Promise<void> {
  let logs = '';
  plugin = spawn(process.execPath, [CLI, 'plugin'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  plugin.stderr?.on('data', (b: Buffer) => {
    logs = (logs + b.toString()).slice(-20_000);
    if (KEEP) appendFileSync(join(tmp, 'plugin.log'), b);
  });
  const deadline = Date.now() + 30_000;
  while (!logs.includes('driver listening')) {
    if (plugin.exitCode !== null || Date.now() > deadline) throw new Error(`plugin did not start: ${logs}`);
    await sleep(50);
  }
}

/** Our endpoints (of the ring's networks, once each has joined its container) from the state. */
function ringEndpoints(): BenchEndpoint[] {
  return Object.values(readState(stateDir).endpoints);
}

/**
 * Waits until `count` endpoints exist and each has a handshake with every peer at or after
 * `since` (ms). Endpoints that have are not asked again: the poll must not load the workers it
 * measures.
 */
async function allHandshaken(eps: () => BenchEndpoint[], count: number, since: number, timeoutS: number): Promise<number> {
  const deadline = now() + timeoutS;
  const done = new Set<string>();
  for (;;) {
    const list = eps();
    const pending = list.filter((e) => !done.has(e.id));
    const hs = await inParallel(pending, 8, (e) => handshakes(UAPI_DIR, e.ifname));
    pending.forEach((e, i) => {
      if (hs[i].every((t) => t >= since)) done.add(e.id);
    });
    if (list.length >= count && list.every((e) => done.has(e.id))) return now();
    if (now() > deadline) throw new Error(`not every endpoint had handshaken ${timeoutS} s later`);
    await sleep(200);
  }
}

interface Memory {
  processes: number;
  rssMiB: number;
  pssMiB: number;
  pluginMiB: number;
}

function memory(): Memory {
  const workers = [...new Set(Object.values(readState(stateDir).workers ?? {}).map((w) => w.pid))];
  const pids = [plugin?.pid ?? 0, ...workers];
  return {
    processes: pids.length,
    rssMiB: pids.reduce((s, p) => s + rssKiB(p), 0) / 1024,
    pssMiB: pids.reduce((s, p) => s + pssKiB(p), 0) / 1024,
    pluginMiB: rssKiB(plugin?.pid ?? 0) / 1024,
  };
}

interface Result {
  nodes: number;
  links: number;
  endpoints: number;
  workers: number;
  netsS: number;
  noneStartS: number[];
  ringStartS: number[];
  deployS: number;
  startedS: number;
  mem: Memory;
  memTraffic: Memory;
  transfers: number;
  runNoneS: number[];
  runWgmplsS: number[];
  restart: { endpoints: number; seconds: number; othersUntouched: boolean } | null;
  teardownS: number;
  cleanS: number;
}

async function timedRun(args: string[]): Promise<number> {
  const t0 = now();
  const r = sh('docker', ['run', '-d', '--label', `wgmpls.bench=${bench.run}`, ...args, IMAGE]);
  if (r.code !== 0) throw new Error(`docker run ${args.join(' ')} failed: ${r.out.trim()}`);
  return now() - t0;
}

async function measure(): Promise<Result> {
  const links = ringLinks(N);
  const nodeLinks = ringNodeLinks(N);
  const netName = (l: string): string => `wgmb-scale-${l}`;
  const nodeName = (i: number): string => `wgmb-scale-r${i}`;
  const nodes = [...nodeLinks.keys()];

  progress(`baseline: ${N} containers on --network none, ${PARALLEL} at a time`);
  const noneStartS = await inParallel(nodes, PARALLEL, (i) => bench.startNode(`${nodeName(i)}-none`, []));
  await inParallel(nodes, PARALLEL, (i) => bench.removeContainer(`${nodeName(i)}-none`));

  progress(`ring: ${links.length} wgmpls networks, ${N} containers, ${PARALLEL} at a time`);
  const t0 = now();
  const since = Date.now();
  await inParallel(links, PARALLEL, (l) => bench.createNetwork(netName(l.name), DRIVER, l.subnet));
  const t1 = now();
  const ringStartS = await inParallel(nodes, PARALLEL, (i) => bench.startNode(nodeName(i), (nodeLinks.get(i) ?? []).map((x) => netName(x.link.name))));
  const t2 = now();
  progress('waiting for every link to handshake');
  const t3 = await allHandshaken(ringEndpoints, 2 * links.length, since, 120);
  const eps = ringEndpoints();
  const mem = memory();
  progress(`ring up: ${eps.length} endpoints; memory ${mem.rssMiB.toFixed(0)} MiB in ${mem.processes} processes`);

  // Memory once every link has carried TCP (the datapaths' batch buffers in use): 2 MB over each.
  progress(`${TRAFFIC_KB} KiB of TCP over each of the ${links.length} links`);
  const t0Traffic = now();
  const sent = await inParallel(links, PARALLEL, async (l) => {
    const [a, b] = [nodeName(l.a), nodeName(l.b)];
    const addr = await bench.address(b, netName(l.name));
    await bench.exec(b, ['sh', '-c', 'timeout 30 nc -l -p 5001 > /dev/null'], true);
    await sleep(100);
    return (await bench.exec(a, ['sh', '-c', `dd if=/dev/zero bs=1024 count=${TRAFFIC_KB} 2>/dev/null | timeout 30 nc -w 2 ${addr} 5001`])) === 0;
  });
  const trafficS = now() - t0Traffic;
  const memTraffic = memory();
  progress(`traffic: ${sent.filter(Boolean).length}/${links.length} transfers in ${trafficS.toFixed(1)} s; memory ${memTraffic.rssMiB.toFixed(0)} MiB`);

  // One `docker run` as a user types it, onto a network whose other end is up, against the same
  // run on --network none; interleaved so that drift hits both alike.
  progress(`${SOLO_RUNS} docker runs each on --network none and onto a wgmpls network`);
  const solo = Array.from({ length: SOLO_RUNS }, (_, k) => ({ net: `wgmb-scale-solo${k}`, subnet: `10.199.${k * 8}.0/29` }));
  for (const s of solo) {
    await bench.createNetwork(s.net, DRIVER, s.subnet);
    await bench.startNode(`${s.net}-peer`, [s.net]);
  }
  const runNoneS: number[] = [];
  const runWgmplsS: number[] = [];
  for (const s of solo) {
    runNoneS.push(await timedRun(['--name', `${s.net}-none`, '--network', 'none']));
    runWgmplsS.push(await timedRun(['--name', `${s.net}-run`, '--network', s.net]));
  }
  await inParallel(solo, PARALLEL, async (s) => {
    for (const c of [`${s.net}-none`, `${s.net}-run`, `${s.net}-peer`]) await bench.removeContainer(c);
    await bench.removeNetwork(s.net);
  });

  // A worker killed: how long until every endpoint it hosted has handshaken again.
  let restart: Result['restart'] = null;
  const bySlot = new Map<number, BenchEndpoint[]>();
  for (const e of ringEndpoints()) if (e.worker !== undefined) bySlot.set(e.worker, [...(bySlot.get(e.worker) ?? []), e]);
  const [slot, victims] = [...bySlot.entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? [undefined, []];
  const pid = victims[0]?.datapath?.pid;
  if (slot !== undefined && pid !== undefined && bySlot.size > 1) {
    progress(`killing worker ${slot} (pid ${pid}, ${victims.length} endpoints)`);
    const others = ringEndpoints().filter((e) => e.worker !== slot && !victims.some((v) => v.networkId === e.networkId));
    const before = await inParallel(others, 16, (e) => handshakes(UAPI_DIR, e.ifname));
    await sleep(1000);
    const killedAt = Date.now();
    const k0 = now();
    process.kill(pid, 'SIGKILL');
    const ids = new Set(victims.map((v) => v.id));
    const k1 = await allHandshaken(() => ringEndpoints().filter((e) => ids.has(e.id) && e.datapath?.pid !== pid), victims.length, killedAt, 60);
    const after = await inParallel(others, 16, (e) => handshakes(UAPI_DIR, e.ifname));
    restart = { endpoints: victims.length, seconds: k1 - k0, othersUntouched: JSON.stringify(before) === JSON.stringify(after) };
  }

  progress('teardown');
  const t4 = now();
  await inParallel(nodes, PARALLEL, (i) => bench.removeContainer(nodeName(i)));
  await inParallel(links, PARALLEL, (l) => bench.removeNetwork(netName(l.name)));
  const t5 = now();
  for (;;) {
    const st = readState(stateDir);
    if (Object.keys(st.endpoints).length + Object.keys(st.networks).length + Object.keys(st.workers ?? {}).length === 0) break;
    if (now() - t5 > 60) throw new Error('the plugin still held endpoints, networks or workers 60 s after the teardown');
    await sleep(50);
  }
  const t6 = now();
  return {
    nodes: N,
    links: links.length,
    endpoints: eps.length,
    workers: new Set(eps.map((e) => e.worker)).size,
    netsS: t1 - t0,
    noneStartS,
    ringStartS,
    deployS: t3 - t0,
    startedS: t2 - t0,
    mem,
    memTraffic,
    transfers: sent.filter(Boolean).length,
    runNoneS,
    runWgmplsS,
    restart,
    teardownS: t5 - t4,
    cleanS: t6 - t4,
  };
}

function report(r: Result): void {
  const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
  const perEp = r.mem.rssMiB / r.endpoints;
  const startCost = (r.ringStartS.reduce((a, b) => a + b, 0) - r.noneStartS.reduce((a, b) => a + b, 0)) / r.endpoints;
  const share = median(r.runWgmplsS) - median(r.runNoneS);
  out('');
  out(`ring of ${r.nodes} containers: ${r.links} wgmpls links, ${r.endpoints} endpoints in ${r.workers} datapath workers; ${PARALLEL} container starts at a time`);
  out('');
  const rows: [string, string, string][] = [
    ['memory per endpoint (RSS of plugin + workers / endpoints)', `${perEp.toFixed(2)} MiB`, `<= ${GOALS.rssMiB} MiB ${verdict(perEp <= GOALS.rssMiB)}`],
    [`  after ${TRAFFIC_KB} KiB of TCP over every link (${r.transfers}/${r.links} went through)`, `${(r.memTraffic.rssMiB / r.endpoints).toFixed(2)} MiB`, `<= ${GOALS.rssMiB} MiB ${verdict(r.memTraffic.rssMiB / r.endpoints <= GOALS.rssMiB)}`],
    ['deploy to the last handshake', `${r.deployS.toFixed(1)} s`, `<= ${GOALS.deployS} s ${verdict(r.deployS <= GOALS.deployS)}`],
    ['wgmpls share of one docker run (median, vs --network none)', `${share.toFixed(3)} s`, `<= ${GOALS.runShareS} s ${verdict(share <= GOALS.runShareS)}`],
    ['start cost per endpoint (ring starts minus --network none)', `${startCost.toFixed(3)} s`, ''],
    [
      'worker killed: its endpoints handshaken again',
      r.restart ? `${r.restart.seconds.toFixed(2)} s (${r.restart.endpoints} endpoints)` : 'not measured (one worker)',
      r.restart ? `<= ${GOALS.restartS} s ${verdict(r.restart.seconds <= GOALS.restartS)}` : '',
    ],
    ['  links of other workers untouched (same handshakes)', r.restart ? (r.restart.othersUntouched ? 'yes' : 'NO') : '-', ''],
    ['teardown: containers and networks removed', `${r.teardownS.toFixed(1)} s`, ''],
    ['teardown: until the plugin holds nothing', `${r.cleanS.toFixed(1)} s`, ''],
  ];
  const w = [Math.max(...rows.map((x) => x[0].length)), Math.max(...rows.map((x) => x[1].length))];
  for (const [a, b, c] of rows) out(`${a.padEnd(w[0])}  ${b.padStart(w[1])}  ${c}`);
  out('');
  out(`details: networks made in ${r.netsS.toFixed(1)} s; all containers started ${r.startedS.toFixed(1)} s after the first network;`);
  out(`  container start (create, connect, start) median/p90: --network none ${median(r.noneStartS).toFixed(2)}/${pct(r.noneStartS, 0.9).toFixed(2)} s, ring ${median(r.ringStartS).toFixed(2)}/${pct(r.ringStartS, 0.9).toFixed(2)} s`);
  out(`  docker run median: --network none ${median(r.runNoneS).toFixed(3)} s, wgmpls ${median(r.runWgmplsS).toFixed(3)} s`);
  out(`  memory: ${r.mem.rssMiB.toFixed(0)} MiB RSS (${r.mem.pssMiB.toFixed(0)} MiB PSS) in ${r.mem.processes} processes, the plugin ${r.mem.pluginMiB.toFixed(0)} MiB of it; after the traffic ${r.memTraffic.rssMiB.toFixed(0)} MiB RSS (${r.memTraffic.pssMiB.toFixed(0)} MiB PSS)`);
}

let stopping: Promise<void> | null = null;
async function stopAll(): Promise<void> {
  // While the plugin still runs, so that Docker tears the endpoints down through it.
  await bench.sweep().catch(() => undefined);
  const p = plugin;
  if (p && p.exitCode === null) {
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    await exited;
  }
  // Workers the state still names (a teardown that went wrong): ours, by their control socket.
  for (const w of Object.values(readState(stateDir).workers ?? {})) {
    if (sh('cat', [`/proc/${w.pid}/cmdline`]).out.includes(workerDirFor(stateDir))) spawnSync('kill', ['-9', String(w.pid)]);
  }
  if (KEEP) progress(`logs kept in ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}

const finish = (code: number): void => {
  stopping ??= stopAll();
  void stopping.then(() => process.exit(code));
};
process.on('SIGINT', () => finish(130));
process.on('SIGTERM', () => finish(143));

async function main(): Promise<number> {
  const why = preflight();
  if (why) {
    process.stderr.write(`bench:scale: ${why}\n`);
    return 1;
  }
  await startPlugin();
  await bench.sweep(true); // an interrupted earlier run's leftovers
  report(await measure());
  return 0;
}

main().then(
  (code) => finish(code),
  (err: Error) => {
    process.stderr.write(`bench:scale: ${err.message}\n`);
    finish(1);
  },
);
