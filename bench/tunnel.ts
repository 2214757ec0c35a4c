// `npm run bench`: throughput and latency of a wgmpls tunnel against a wireguard-go tunnel and
// against the bare veth underneath both, in one run, on one pair of network namespaces.
//
//   namespace wgmb-<pid>-a  (10.252.0.1) ==== veth ==== (10.252.0.2)  namespace wgmb-<pid>-b
//   1. veth          iperf3/ping straight over 10.252.0.1 -> 10.252.0.2
//   2. wireguard-go  wireguard-go -f on both ends, tunnel 10.253.0.1 -> 10.253.0.2
//   3. wgmpls        wgmpls datapath on both ends,  tunnel 10.254.0.1 -> 10.254.0.2
//
// Each setup: a short warm-up ping (it also completes the handshake), `ping -c 50 -i 0.05`
// (avg/mdev), then iperf3 TCP for BENCH_SECONDS (default 10) from a to b, then the same ping
// again (a freshly started wgmpls runs unoptimized JS at first: the second ping shows the
// warmed-up latency; the RTT target is judged on the first). The tunnel daemons' CPU time is
// read from /proc/<pid>/stat around the iperf3 run. The ratios are printed with
// PASS/MISS against the targets; the exit code is 0 whenever every setup could be measured
// (missed targets included) and 1 when a setup failed to run.
//
// Everything started here (namespaces, daemons, iperf3) is removed at the end, on an error,
// on Ctrl-C/SIGTERM, and by a watchdog if a step ever overruns. The addresses are private and
// exist only inside the two namespaces. Self-contained: it does not import the test harness.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunResult, run as runCommand } from '../datapath/sys/exec';

const ROOT = resolve(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const UAPI_DIR = '/var/run/wireguard';

const TARGET_THROUGHPUT = 0.5; // wgmpls / wireguard-go, at least
const TARGET_RTT = 2.0; // wgmpls / wireguard-go, at most
const PING_COUNT = 50;
const PING_INTERVAL = '0.05';
const IPERF_PORT = '5201';

// ---------------------------------------------------------------------------------------------
// Processes and commands


/** Set once cleanup has begun: no new step may start after that. */
let aborting = false;

function checkNotAborted(): void {
  if (aborting) throw new Error('aborted');
}

/** Processes this run started and has not seen exit: stopped by cleanup(). */
const live = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Runs a command to completion (datapath/sys/exec.ts), its child killed on Ctrl-C like the others. */
function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return runCommand(cmd, args, { timeoutMs: 30_000, ...opts, onSpawn: (child) => void track(child) });
}

function describeFailure(cmd: string, args: string[], r: RunResult): string {
  const why = r.timedOut ? 'timed out' : `exit ${r.code}`;
  const text = (r.stderr || r.stdout).trim().split('\n').slice(-5).join(' | ');
  return `${cmd} ${args.join(' ')}: ${why}${text ? `: ${text}` : ''}`;
}

async function must(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0 || r.timedOut) throw new Error(describeFailure(cmd, args, r));
  return r.stdout;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Sends SIGTERM, then SIGKILL after graceMs; resolves with the exit code (null if signalled). */
function stopProcess(child: ChildProcess, graceMs = 5000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((done) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      done(code);
    });
    child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------------------------------------
// Namespaces

/** Namespaces this run created and has not deleted yet. */
const namespaces = new Set<string>();
/** UAPI sockets of daemons this run started (removed if a daemon had to be killed). */
const sockets = new Set<string>();

class Ns {
  constructor(readonly name: string) {}

  static async create(name: string): Promise<Ns> {
    await must('ip', ['netns', 'add', name]);
    namespaces.add(name);
    const ns = new Ns(name);
    await ns.ip('link', 'set', 'lo', 'up');
    return ns;
  }

  ip(...args: string[]): Promise<string> {
    return must('ip', ['-n', this.name, ...args]);
  }

  exec(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  async must(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.exec(cmd, args, opts);
    if (r.code !== 0 || r.timedOut) throw new Error(`[${this.name}] ${describeFailure(cmd, args, r)}`);
    return r.stdout;
  }

  /** A long-running process in the namespace. `ip netns exec` execs in place, so the pid is the command's. */
  spawn(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    return track(spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env }));
  }
}

// ---------------------------------------------------------------------------------------------
// CPU time from /proc/<pid>/stat

let clockTicks = 100;

/** utime + stime of the whole process (all threads), in seconds; null when it is gone. */
function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm) ": state is field 3, utime field 14, stime field 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / clockTicks;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Tunnels

type Kind = 'wireguard-go' | 'wgmpls';

interface Daemon {
  kind: Kind;
  ns: Ns;
  ifname: string;
  proc: ChildProcess;
  /** The last lines of its output, for error messages. */
  tail: string[];
}

async function startDaemon(ns: Ns, kind: Kind, ifname: string): Promise<Daemon> {
  checkNotAborted();
  const sock = join(UAPI_DIR, `${ifname}.sock`);
  if (existsSync(sock)) throw new Error(`${sock} already exists (a leftover daemon?)`);
  const env = { ...process.env, WG_PROCESS_FOREGROUND: '1' };
  const proc = kind === 'wgmpls' ? ns.spawn(process.execPath, [CLI, 'datapath', ifname], env) : ns.spawn('wireguard-go', ['-f', ifname], env);
  sockets.add(sock);
  const tail: string[] = [];
  const keep = (d: Buffer): void => {
    tail.push(...d.toString().split('\n').filter((l) => l.trim() !== ''));
    if (tail.length > 20) tail.splice(0, tail.length - 20);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const daemon: Daemon = { kind, ns, ifname, proc, tail };
  try {
    await waitFor(`${kind} UAPI socket ${sock}`, () => existsSync(sock) || proc.exitCode !== null || proc.signalCode !== null, 15_000);
  } catch (err) {
    await stopProcess(proc);
    throw new Error(`${(err as Error).message}; output: ${tail.join(' | ')}`);
  }
  if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${kind} ${ifname} exited at start: ${tail.join(' | ')}`);
  return daemon;
}

async function stopDaemon(d: Daemon): Promise<string | null> {
  const code = await stopProcess(d.proc);
  const sock = join(UAPI_DIR, `${d.ifname}.sock`);
  if (existsSync(sock)) rmSync(sock, { force: true });
  sockets.delete(sock);
  if (code !== 0 && d.kind === 'wgmpls') return `${d.kind} ${d.ifname} exit code ${code} on SIGTERM (expected 0): ${d.tail.slice(-3).join(' | ')}`;
  return null;
}

interface Endpoints {
  /** Where measurements go from (namespace a) and to (namespace b). */
  src: string;
  dst: string;
  daemons: Daemon[];
}

/** Private keys live in one 0700 temporary directory, removed by cleanup(). */
let keyDir: string | null = null;
let keyCount = 0;

async function genKeys(): Promise<{ privFile: string; pub: string }> {
  const priv = (await must('wg', ['genkey'])).trim();
  const pub = (await must('wg', ['pubkey'], { input: `${priv}\n` })).trim();
  keyDir ??= mkdtempSync(join(tmpdir(), 'wgmb-keys-'));
  const privFile = join(keyDir, `k${keyCount++}`);
  writeFileSync(privFile, `${priv}\n`, { mode: 0o600 });
  return { privFile, pub };
}

/** Both ends of one tunnel of `kind`, addresses prefix.1 (a) and prefix.2 (b), over the underlay. */
async function startTunnel(a: Ns, b: Ns, kind: Kind, prefix: string, names: [string, string]): Promise<Endpoints> {
  const daemons: Daemon[] = [];
  try {
    daemons.push(await startDaemon(a, kind, names[0]));
    daemons.push(await startDaemon(b, kind, names[1]));
    const keys = [await genKeys(), await genKeys()];
    for (let i = 0; i < 2; i++) {
      const self = daemons[i];
      const other = 1 - i;
      await self.ns.must(
        'wg',
        [
          'set', self.ifname, 'private-key', keys[i].privFile, 'listen-port', '51820',
          'peer', keys[other].pub, 'allowed-ips', `${prefix}.${other + 1}/32`, 'endpoint', `10.252.0.${other + 1}:51820`,
        ],
        { timeoutMs: 10_000 },
      );
      await self.ns.ip('addr', 'add', `${prefix}.${i + 1}/24`, 'dev', self.ifname);
      await self.ns.ip('link', 'set', self.ifname, 'up');
    }
  } catch (err) {
    for (const d of daemons) await stopDaemon(d);
    throw err;
  }
  return { src: `${prefix}.1`, dst: `${prefix}.2`, daemons };
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface PingResult {
  avgMs: number;
  mdevMs: number;
  minMs: number;
  maxMs: number;
  lossPct: number;
}

async function warmUp(a: Ns, dst: string): Promise<void> {
  // A few tries: the first packet through a tunnel waits for the handshake.
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await a.exec('ping', ['-c', '5', '-i', '0.2', '-W', '2', dst], { timeoutMs: 20_000 });
    if (r.code === 0) return;
    last = describeFailure('ping', [dst], r);
    await sleep(1000);
  }
  throw new Error(`warm-up ping to ${dst} failed: ${last}`);
}

async function measurePing(a: Ns, dst: string): Promise<PingResult> {
  const args = ['-q', '-c', String(PING_COUNT), '-i', PING_INTERVAL, '-W', '2', dst];
  const r = await a.exec('ping', args, { timeoutMs: 30_000 });
  const rtt = /=\s*([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+)\s*ms/.exec(r.stdout);
  const loss = /([\d.]+)% packet loss/.exec(r.stdout);
  if (!rtt || !loss) throw new Error(`ping ${dst}: no RTT summary (${describeFailure('ping', args, r)})`);
  return { minMs: Number(rtt[1]), avgMs: Number(rtt[2]), maxMs: Number(rtt[3]), mdevMs: Number(rtt[4]), lossPct: Number(loss[1]) };
}

interface IperfResult {
  bitsPerSecond: number;
  retransmits: number | null;
  /** iperf3's own CPU use, % of one core: client (a) and server (b). */
  clientCpuPct: number | null;
  serverCpuPct: number | null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function pick(v: unknown, ...path: string[]): unknown {
  let cur = v;
  for (const k of path) {
    if (!isRecord(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

async function measureIperf(a: Ns, b: Ns, dst: string, seconds: number): Promise<IperfResult> {
  checkNotAborted();
  const server = b.spawn('iperf3', ['-s', '-1', '-B', dst, '-p', IPERF_PORT]);
  let serverOut = '';
  server.stdout?.on('data', (d: Buffer) => (serverOut += d.toString()));
  server.stderr?.on('data', (d: Buffer) => (serverOut += d.toString()));
  try {
    await waitFor(
      `iperf3 server on ${dst}:${IPERF_PORT}`,
      async () => {
        if (server.exitCode !== null) throw new Error(`iperf3 server exited: ${serverOut.trim()}`);
        const r = await b.exec('ss', ['-Hltn', `sport = :${IPERF_PORT}`], { timeoutMs: 5000 });
        return r.stdout.includes(`:${IPERF_PORT}`);
      },
      10_000,
    );
    const args = ['-c', dst, '-p', IPERF_PORT, '-t', String(seconds), '-J', '--connect-timeout', '5000'];
    const r = await a.exec('iperf3', args, { timeoutMs: (seconds + 30) * 1000 });
    let json: unknown;
    try {
      json = JSON.parse(r.stdout);
    } catch {
      throw new Error(`iperf3 gave no JSON (${describeFailure('iperf3', args, r)})`);
    }
    const error = pick(json, 'error');
    if (typeof error === 'string') throw new Error(`iperf3 -c ${dst}: ${error}`);
    const bps = num(pick(json, 'end', 'sum_received', 'bits_per_second'));
    if (bps === null) throw new Error(`iperf3 -c ${dst}: no end.sum_received.bits_per_second in its JSON`);
    return {
      bitsPerSecond: bps,
      retransmits: num(pick(json, 'end', 'sum_sent', 'retransmits')),
      clientCpuPct: num(pick(json, 'end', 'cpu_utilization_percent', 'host_total')),
      serverCpuPct: num(pick(json, 'end', 'cpu_utilization_percent', 'remote_total')),
    };
  } finally {
    await stopProcess(server, 2000);
  }
}

interface CpuUse {
  /** % of one core during the iperf3 run, per namespace: a (sender) and b (receiver). */
  aPct: number;
  bPct: number;
}

interface SetupResult {
  name: string;
  /** Right after the tunnel came up (fresh process: for wgmpls, JS not yet optimized by the JIT). */
  ping?: PingResult;
  /** The same ping after the iperf3 run: the datapath warmed up. */
  pingAfter?: PingResult;
  iperf?: IperfResult;
  cpu?: CpuUse;
  error?: string;
  notes: string[];
}

async function measureSetup(name: string, a: Ns, b: Ns, seconds: number, setUp: () => Promise<Endpoints>): Promise<SetupResult> {
  const result: SetupResult = { name, notes: [] };
  if (aborting) return { ...result, error: 'aborted' };
  log(`\n== ${name} ==`);
  let ends: Endpoints | null = null;
  try {
    ends = await setUp();
    const { src, dst, daemons } = ends;
    log(`  ${src} -> ${dst}: warm-up ping`);
    await warmUp(a, dst);
    log(`  ping -c ${PING_COUNT} -i ${PING_INTERVAL}`);
    result.ping = await measurePing(a, dst);
    log(`    avg ${result.ping.avgMs.toFixed(3)} ms, mdev ${result.ping.mdevMs.toFixed(3)} ms, loss ${result.ping.lossPct}%`);
    log(`  iperf3 TCP ${seconds} s`);
    const pids = daemons.map((d) => ({ ns: d.ns, pid: d.proc.pid }));
    const before = pids.map((p) => cpuSeconds(p.pid));
    const t0 = process.hrtime.bigint();
    result.iperf = await measureIperf(a, b, dst, seconds);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const after = pids.map((p) => cpuSeconds(p.pid));
    if (daemons.length > 0) {
      const pct = (ns: Ns): number => {
        let sum = 0;
        pids.forEach((p, i) => {
          const x = before[i];
          const y = after[i];
          if (p.ns === ns && x !== null && y !== null) sum += y - x;
        });
        return (sum / wall) * 100;
      };
      result.cpu = { aPct: pct(a), bPct: pct(b) };
    }
    log(`    ${(result.iperf.bitsPerSecond / 1e9).toFixed(3)} Gbit/s`);
    log(`  ping -c ${PING_COUNT} -i ${PING_INTERVAL} again, after the load`);
    result.pingAfter = await measurePing(a, dst);
    log(`    avg ${result.pingAfter.avgMs.toFixed(3)} ms, mdev ${result.pingAfter.mdevMs.toFixed(3)} ms, loss ${result.pingAfter.lossPct}%`);
    for (const d of daemons) {
      if (d.proc.exitCode !== null || d.proc.signalCode !== null) result.notes.push(`${d.kind} ${d.ifname} died during the run: ${d.tail.slice(-3).join(' | ')}`);
    }
  } catch (err) {
    result.error = (err as Error).message;
    log(`  FAILED: ${result.error}`);
  } finally {
    for (const d of ends?.daemons ?? []) {
      const note = await stopDaemon(d);
      if (note) result.notes.push(note);
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Report

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function printReport(results: SetupResult[], seconds: number): void {
  const by = (n: string): SetupResult | undefined => results.find((r) => r.name === n);
  const fmt = (v: number | null | undefined, digits: number): string => (v === null || v === undefined ? 'n/a' : v.toFixed(digits));

  log('\n=== Results (a -> b, iperf3 TCP ' + seconds + ' s, ping -c ' + PING_COUNT + ' -i ' + PING_INTERVAL + ') ===\n');
  const header = ['setup', 'Gbit/s', 'RTT avg ms', 'RTT mdev ms', 'loss %', 'RTT after ms', 'retr', 'iperf3 cpu c/s %', 'daemon cpu a/b %'];
  const widths = [14, 8, 11, 12, 7, 13, 7, 17, 17];
  log(header.map((h, i) => pad(h, widths[i], i > 0)).join(' '));
  log(widths.map((w) => '-'.repeat(w)).join(' '));
  for (const r of results) {
    const cells = [
      r.name,
      r.iperf ? fmt(r.iperf.bitsPerSecond / 1e9, 3) : 'n/a',
      fmt(r.ping?.avgMs, 3),
      fmt(r.ping?.mdevMs, 3),
      fmt(r.ping?.lossPct, 0),
      r.pingAfter ? `${fmt(r.pingAfter.avgMs, 3)}±${fmt(r.pingAfter.mdevMs, 2)}` : 'n/a',
      r.iperf?.retransmits !== undefined && r.iperf.retransmits !== null ? String(r.iperf.retransmits) : 'n/a',
      r.iperf ? `${fmt(r.iperf.clientCpuPct, 0)}/${fmt(r.iperf.serverCpuPct, 0)}` : 'n/a',
      r.cpu ? `${fmt(r.cpu.aPct, 0)}/${fmt(r.cpu.bPct, 0)}` : '-',
    ];
    log(cells.map((c, i) => pad(c, widths[i], i > 0)).join(' '));
  }
  log('\nRTT: right after the tunnel came up; RTT after: the same ping after the iperf3 run (avg ± mdev), when');
  log('the datapath has warmed up (JIT). retr: TCP retransmissions. daemon cpu: CPU time of the tunnel process in');
  log('namespace a (sender) / b (receiver) during the iperf3 run, % of one core. iperf3 cpu: iperf3\'s own');
  log('client/server figures, which include kernel time.');

  const ratio = (x: number | undefined, y: number | undefined): number | null => (x === undefined || y === undefined || y === 0 ? null : x / y);
  const veth = by('veth');
  const wg = by('wireguard-go');
  const wgm = by('wgmpls');
  const tput = ratio(wgm?.iperf?.bitsPerSecond, wg?.iperf?.bitsPerSecond);
  const rtt = ratio(wgm?.ping?.avgMs, wg?.ping?.avgMs);
  log('\n=== Ratios ===\n');
  const verdict = (ok: boolean | null): string => (ok === null ? 'MISS (not measured)' : ok ? 'PASS' : 'MISS');
  const line = (label: string, value: number | null, digits: number, target = ''): void =>
    log(`${pad(label, 40)} ${pad(fmt(value, digits), 6, true)}${target ? `   ${target}` : ''}`);
  line('wgmpls / wireguard-go throughput', tput, 2, `target >= ${TARGET_THROUGHPUT.toFixed(1)}  ${verdict(tput === null ? null : tput >= TARGET_THROUGHPUT)}`);
  line('wgmpls / wireguard-go RTT', rtt, 2, `target <= ${TARGET_RTT.toFixed(1)}  ${verdict(rtt === null ? null : rtt <= TARGET_RTT)}`);
  line('wgmpls / wireguard-go RTT after load', ratio(wgm?.pingAfter?.avgMs, wg?.pingAfter?.avgMs), 2, '(information only)');
  line('wgmpls / veth throughput', ratio(wgm?.iperf?.bitsPerSecond, veth?.iperf?.bitsPerSecond), 3);
  line('wgmpls / veth RTT', ratio(wgm?.ping?.avgMs, veth?.ping?.avgMs), 2);
  line('wireguard-go / veth throughput', ratio(wg?.iperf?.bitsPerSecond, veth?.iperf?.bitsPerSecond), 3);
  line('wireguard-go / veth RTT', ratio(wg?.ping?.avgMs, veth?.ping?.avgMs), 2);

  const notes = results.flatMap((r) => [...(r.error ? [`${r.name}: FAILED: ${r.error}`] : []), ...r.notes.map((n) => `${r.name}: ${n}`)]);
  if (notes.length > 0) {
    log('\n=== Notes ===\n');
    for (const n of notes) log(n);
  }
}

// ---------------------------------------------------------------------------------------------
// Cleanup, signals, watchdog

let cleaning: Promise<void> | null = null;

function cleanup(): Promise<void> {
  aborting = true;
  cleaning ??= (async () => {
    await Promise.all([...live].map((c) => stopProcess(c, 3000)));
    for (const s of sockets) rmSync(s, { force: true });
    sockets.clear();
    removeKeys();
    for (const name of [...namespaces]) {
      const r = await run('ip', ['netns', 'del', name], { timeoutMs: 10_000 });
      if (r.code !== 0) process.stderr.write(`bench: could not delete namespace ${name}: ${r.stderr.trim()}\n`);
      namespaces.delete(name);
    }
  })();
  return cleaning;
}

function removeKeys(): void {
  if (keyDir !== null) rmSync(keyDir, { recursive: true, force: true });
  keyDir = null;
}

/** Last resort if the process exits without cleanup() having finished (synchronous). */
function cleanupSync(): void {
  for (const c of live) c.kill('SIGKILL');
  for (const s of sockets) rmSync(s, { force: true });
  removeKeys();
  for (const name of namespaces) spawnSync('ip', ['netns', 'del', name], { timeout: 10_000 });
}

function onSignal(signal: NodeJS.Signals, code: number): void {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}, cleaning up\n`);
    const hard = setTimeout(() => {
      cleanupSync();
      process.exit(code);
    }, 15_000);
    void cleanup().finally(() => {
      clearTimeout(hard);
      process.exit(code);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Main

function benchSeconds(): number {
  const raw = process.env.BENCH_SECONDS ?? '10';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 600) throw new Error(`BENCH_SECONDS must be an integer from 1 to 600 (got "${raw}")`);
  return n;
}

async function preflight(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces, TUN devices): run `sudo npm run bench`');
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  for (const [cmd, args] of [
    ['iperf3', ['--version']],
    ['wireguard-go', ['--version']],
    ['wg', ['--version']],
    ['ping', ['-V']],
    ['ss', ['-V']],
  ] as const) {
    const r = await run(cmd, [...args], { timeoutMs: 10_000 });
    if (r.code === 127) throw new Error(`${cmd} is not installed (see scripts/install-deps.sh)`);
  }
  const ticks = Number((await run('getconf', ['CLK_TCK'], { timeoutMs: 5000 })).stdout.trim());
  if (Number.isInteger(ticks) && ticks > 0) clockTicks = ticks;
  const stale = (await run('ip', ['netns', 'list'], { timeoutMs: 10_000 })).stdout
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith('wgmb-'));
  const load = loadAverage();
  if (load !== null && load > 0.5) log(`note: load average ${load.toFixed(2)} before the start: other work on this machine will skew the results`);
  if (stale.length > 0) log(`note: namespaces from an earlier run exist (${stale.join(', ')}); delete them with \`ip netns del\` if no bench is running`);
}

function loadAverage(): number | null {
  try {
    const v = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

async function environment(): Promise<string> {
  const first = async (cmd: string, args: string[]): Promise<string> => (await run(cmd, args, { timeoutMs: 5000 })).stdout.trim().split('\n')[0] ?? '';
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?';
  const cores = (await first('nproc', [])) || '?';
  return [
    `kernel ${await first('uname', ['-r'])}, ${cpu}, ${cores} CPUs, node ${process.version}`,
    `${await first('wireguard-go', ['--version'])}, ${await first('iperf3', ['--version'])}`,
  ].join('\n');
}

async function main(): Promise<number> {
  const seconds = benchSeconds();
  log('wgmpls bench: veth vs wireguard-go vs wgmpls datapath');
  await preflight();
  log(await environment());

  const tag = String(process.pid);
  const a = await Ns.create(`wgmb-${tag}-a`);
  const b = await Ns.create(`wgmb-${tag}-b`);
  const vethA = `wgmbv${tag}a`;
  const vethB = `wgmbv${tag}b`;
  await must('ip', ['link', 'add', vethA, 'netns', a.name, 'type', 'veth', 'peer', 'name', vethB, 'netns', b.name]);
  await a.ip('addr', 'add', '10.252.0.1/24', 'dev', vethA);
  await b.ip('addr', 'add', '10.252.0.2/24', 'dev', vethB);
  await a.ip('link', 'set', vethA, 'up');
  await b.ip('link', 'set', vethB, 'up');
  log(`namespaces ${a.name} / ${b.name}, veth ${vethA} 10.252.0.1 <-> ${vethB} 10.252.0.2`);

  const results: SetupResult[] = [];
  results.push(await measureSetup('veth', a, b, seconds, async () => ({ src: '10.252.0.1', dst: '10.252.0.2', daemons: [] })));
  results.push(await measureSetup('wireguard-go', a, b, seconds, () => startTunnel(a, b, 'wireguard-go', '10.253.0', [`wgmbg${tag}a`, `wgmbg${tag}b`])));
  results.push(await measureSetup('wgmpls', a, b, seconds, () => startTunnel(a, b, 'wgmpls', '10.254.0', [`wgmbm${tag}a`, `wgmbm${tag}b`])));

  printReport(results, seconds);
  return results.some((r) => r.error !== undefined) ? 1 : 0;
}

onSignal('SIGINT', 130);
onSignal('SIGTERM', 143);
process.on('exit', cleanupSync);

// Watchdog: three setups, each bounded by its steps' own timeouts; this only guards against a bug.
const watchdogSeconds = (() => {
  const n = Number(process.env.BENCH_SECONDS ?? '10');
  return Number.isFinite(n) && n > 0 ? Math.min(n, 600) : 10;
})();
const watchdog = setTimeout(
  () => {
    process.stderr.write('bench: watchdog expired, cleaning up\n');
    const hard = setTimeout(() => {
      cleanupSync();
      process.exit(1);
    }, 15_000);
    void cleanup().finally(() => {
      clearTimeout(hard);
      process.exit(1);
    });
  },
  (3 * (watchdogSeconds + 150) + 60) * 1000,
);
watchdog.unref();

main()
  .then(
    (code) => code,
    (err: unknown) => {
      process.stderr.write(`bench: ${(err as Error).message}\n`);
      return 1;
    },
  )
  .then(async (code) => {
    await cleanup();
    clearTimeout(watchdog);
    process.exit(code);
  });
