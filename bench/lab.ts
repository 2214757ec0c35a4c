// `npm run bench:lab`: the six-node router lab (lab/router.clab.yml) under the real containerlab.
// Per run: seconds from `containerlab deploy` to the first end-to-end ping r1 -> r6 (and how much
// of it containerlab itself took), the total RSS of the plugin and all datapaths while the lab
// runs, and seconds to destroy (containerlab's own, and until the plugin has removed the lab's
// networks and endpoints). Printed as a table; goal: deploy-to-ping <= 15 s. A benchmark, not
// a test: the exit code is 1 only when a run could not be measured.
//
// It runs a plugin of its own on the default socket (refusing if another driver answers there),
// with its state in a temporary directory, and `wgmpls` for containerlab's stages from this
// checkout. Everything it starts (plugin, lab, datapaths) is stopped at the end, on an error and
// on Ctrl-C/SIGTERM. Needs root, dockerd, containerlab (lab/containerlab/install.sh) and the lab
// image (lab/images/build.sh). BENCH_RUNS (default 3) runs.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { workerDirFor } from '../plugin/config';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const TOPO = join(ROOT, 'lab', 'router.clab.yml');
const SOCKET = '/run/docker/plugins/wgmpls.sock';
const GOAL_S = 15;
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3) || 3);

const tmp = mkdtempSync(join(tmpdir(), 'wgmb-lab-'));
const bin = join(tmp, 'bin');
const env: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: `${bin}:${process.env.PATH ?? ''}`,
  CLAB_VERSION_CHECK: 'disable',
  WGMPLS_STATE_DIR: join(tmp, 'state'),
  WGMPLS_LOG_DIR: join(tmp, 'logs'),
};
let plugin: ChildProcess | null = null;

function sh(cmd: string, args: string[], timeoutMs = 180_000): { code: number; out: string } {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}` };
}

const now = (): number => Number(process.hrtime.bigint()) / 1e9;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface State {
  networks: Record<string, unknown>;
  endpoints: Record<string, { datapath?: { pid: number } }>;
  workers?: Record<string, { pid: number }>;
}
function state(): State {
  const f = join(tmp, 'state', 'state.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as State) : { networks: {}, endpoints: {} };
}

function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function preflight(): string | null {
  if (process.getuid?.() !== 0) return 'run as root (sudo npm run bench:lab)';
  if (!existsSync(CLI)) return 'dist/ is not built (npm run build)';
  if (sh('docker', ['info', '--format', '{{.ServerVersion}}'], 20_000).code !== 0) return 'docker does not answer (scripts/docker-up.sh)';
  if (sh('containerlab', ['version'], 20_000).code !== 0) return 'no containerlab on PATH (lab/containerlab/install.sh)';
  if (sh('docker', ['image', 'inspect', 'wgmpls/node:latest'], 20_000).code !== 0) return 'no lab image (lab/images/build.sh)';
  if (existsSync(SOCKET) && sh('curl', ['-s', '--max-time', '2', '--unix-socket', SOCKET, '-X', 'POST', 'http://x/Plugin.Activate'], 10_000).code === 0) {
    return `a wgmpls driver already answers on ${SOCKET}; stop it (the benchmark measures a plugin of its own)`;
  }
  return null;
}

async function startPlugin(): Promise<void> {
  let logs = '';
  plugin = spawn(process.execPath, [CLI, 'plugin'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  plugin.stderr?.on('data', (b: Buffer) => (logs += b.toString()));
  const deadline = Date.now() + 30_000;
  while (!logs.includes('driver listening')) {
    if (plugin.exitCode !== null || Date.now() > deadline) throw new Error(`plugin did not start: ${logs}`);
    await sleep(50);
  }
}

async function stopAll(): Promise<void> {
  sh('containerlab', ['destroy', '--cleanup', '-t', TOPO]);
  // Let the plugin see the containers go and remove their endpoints and the lab's networks.
  const deadline = Date.now() + 20_000;
  while (Object.keys(state().endpoints).length + Object.keys(state().networks).length > 0 && Date.now() < deadline) await sleep(100);
  const p = plugin;
  if (p && p.exitCode === null) {
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    await exited;
  }
  // Datapath workers the state still names (a teardown that went wrong): ours by their control
  // socket in our state directory, never a process that merely reuses the pid.
  for (const w of Object.values(state().workers ?? {})) {
    if (sh('cat', [`/proc/${w.pid}/cmdline`]).out.includes(workerDirFor(join(tmp, 'state')))) spawnSync('kill', ['-9', String(w.pid)]);
  }
  rmSync(tmp, { recursive: true, force: true });
}

interface Run {
  deployS: number;
  toPingS: number;
  destroyS: number;
  cleanS: number;
  datapaths: number;
  /** The plugin and its datapath workers. */
  processes: number;
  rssMiB: number;
}

async function once(): Promise<Run> {
  sh('containerlab', ['destroy', '--cleanup', '-t', TOPO]);
  const t0 = now();
  const dep = sh('containerlab', ['deploy', '-t', TOPO], 300_000);
  if (dep.code !== 0) throw new Error(`containerlab deploy failed: ${dep.out.slice(-2000)}`);
  const t1 = now();
  const deadline = t1 + 60;
  while (sh('docker', ['exec', 'clab-router-r1', 'ping', '-c', '1', '-W', '1', '10.0.56.2'], 10_000).code !== 0) {
    if (now() > deadline) throw new Error('r1 never reached r6 within 60 s of the deploy');
    await sleep(100);
  }
  const t2 = now();
  const eps = Object.values(state().endpoints);
  // Each datapath worker once, however many endpoints it hosts.
  const pids = [plugin?.pid ?? 0, ...new Set([...eps.flatMap((e) => (e.datapath ? [e.datapath.pid] : [])), ...Object.values(state().workers ?? {}).map((w) => w.pid)])];
  const rss = pids.reduce((s, p) => s + rssKiB(p), 0);
  const t3 = now();
  const des = sh('containerlab', ['destroy', '--cleanup', '-t', TOPO]);
  if (des.code !== 0) throw new Error(`containerlab destroy failed: ${des.out.slice(-2000)}`);
  const t4 = now();
  const cleanDeadline = t4 + 30;
  const labNets = (): string => sh('docker', ['network', 'ls', '-q', '--filter', 'label=wgmpls.lab=router']).out.trim();
  while (Object.keys(state().endpoints).length > 0 || labNets() !== '') {
    if (now() > cleanDeadline) throw new Error('the lab\'s endpoints or networks were still there 30 s after destroy');
    await sleep(50);
  }
  const t5 = now();
  return { deployS: t1 - t0, toPingS: t2 - t0, destroyS: t4 - t3, cleanS: t5 - t3, datapaths: eps.length, processes: pids.length, rssMiB: rss / 1024 };
}

function table(runs: Run[]): string {
  const head = ['run', 'deploy (s)', 'deploy->ping (s)', 'destroy (s)', 'destroy->clean (s)', 'datapaths', 'processes', 'RSS plugin+workers (MiB)'];
  const rows = runs.map((r, i) => [String(i + 1), r.deployS.toFixed(1), r.toPingS.toFixed(1), r.destroyS.toFixed(1), r.cleanS.toFixed(1), String(r.datapaths), String(r.processes), r.rssMiB.toFixed(0)]);
  const w = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]): string => cells.map((x, c) => x.padStart(w[c])).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

async function main(): Promise<number> {
  const why = preflight();
  if (why) {
    process.stderr.write(`bench:lab: ${why}\n`);
    return 1;
  }
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'wgmpls'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(join(bin, 'wgmpls'), 0o755);
  await startPlugin();
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    runs.push(await once());
    process.stderr.write(`run ${i + 1}/${RUNS} done\n`);
  }
  const best = Math.min(...runs.map((r) => r.toPingS));
  const worst = Math.max(...runs.map((r) => r.toPingS));
  process.stdout.write(`\nlab/router.clab.yml (6 nodes, 5 wgmpls links), containerlab ${sh('containerlab', ['version']).out.match(/version: (\S+)/)?.[1] ?? '?'}\n\n`);
  process.stdout.write(`${table(runs)}\n\n`);
  process.stdout.write(`deploy->first ping: ${best.toFixed(1)}-${worst.toFixed(1)} s, goal <= ${GOAL_S} s: ${worst <= GOAL_S ? 'PASS' : best <= GOAL_S ? 'PASS in some runs' : 'MISS'}\n`);
  return 0;
}

let stopping: Promise<void> | null = null;
const finish = (code: number): void => {
  stopping ??= stopAll();
  void stopping.then(() => process.exit(code));
};
process.on('SIGINT', () => finish(130));
process.on('SIGTERM', () => finish(143));
main().then(
  (code) => finish(code),
  (err: Error) => {
    process.stderr.write(`bench:lab: ${err.message}\n`);
    finish(1);
  },
);
