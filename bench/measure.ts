// What the bench measures on each setup: a warm-up ping, ping RTT (cold: the tunnel just
// started), an iperf3 TCP run with the tunnel processes' CPU time and the packets it carried
// around it, their memory after it, and the same ping again after the load.
import { log } from './log';
import { Ns } from './netns';
import { cpuSeconds, memoryKiB, tcpOutSegs } from './procfs';
import { checkNotAborted, describeFailure, isAborting, sleep, stopProcess, waitFor } from './processes';
import { Endpoints, stopDaemon } from './tunnels';

export const PING_COUNT = 50;
export const PING_INTERVAL = '0.05';
const IPERF_PORT = '5201';

export interface PingResult {
  avgMs: number;
  mdevMs: number;
  minMs: number;
  maxMs: number;
  lossPct: number;
}

async function warmUp(a: Ns, src: string, dst: string): Promise<void> {
  // A few tries: the first packet through a tunnel waits for the handshake.
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await a.exec('ping', ['-c', '5', '-i', '0.2', '-W', '2', '-I', src, dst], { timeoutMs: 20_000 });
    if (r.code === 0) return;
    last = describeFailure('ping', [dst], r);
    await sleep(1000);
  }
  throw new Error(`warm-up ping to ${dst} failed: ${last}`);
}

async function measurePing(a: Ns, src: string, dst: string): Promise<PingResult> {
  const args = ['-q', '-c', String(PING_COUNT), '-i', PING_INTERVAL, '-W', '2', '-I', src, dst];
  const r = await a.exec('ping', args, { timeoutMs: 30_000 });
  const rtt = /=\s*([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+)\s*ms/.exec(r.stdout);
  const loss = /([\d.]+)% packet loss/.exec(r.stdout);
  if (!rtt || !loss) throw new Error(`ping ${dst}: no RTT summary (${describeFailure('ping', args, r)})`);
  return { minMs: Number(rtt[1]), avgMs: Number(rtt[2]), maxMs: Number(rtt[3]), mdevMs: Number(rtt[4]), lossPct: Number(loss[1]) };
}

export interface IperfResult {
  bitsPerSecond: number;
  /** TCP payload the server received. */
  bytes: number;
  retransmits: number | null;
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

async function measureIperf(a: Ns, b: Ns, src: string, dst: string, seconds: number): Promise<IperfResult> {
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
    const args = ['-c', dst, '-B', src, '-p', IPERF_PORT, '-t', String(seconds), '-J', '--connect-timeout', '5000'];
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
    const bytes = num(pick(json, 'end', 'sum_received', 'bytes'));
    if (bytes === null) throw new Error(`iperf3 -c ${dst}: no end.sum_received.bytes in its JSON`);
    return { bitsPerSecond: bps, bytes, retransmits: num(pick(json, 'end', 'sum_sent', 'retransmits')) };
  } finally {
    await stopProcess(server, 2000);
  }
}

/** The tunnel processes' CPU over the iperf3 run; absent for the bare veth. */
export interface TunnelCpu {
  /** utime + stime of all tunnel processes together, seconds. */
  seconds: number;
  /** That as % of one core over the run's wall time. */
  pct: number;
  /** TCP segments the iperf3 client's namespace sent meanwhile (Tcp OutSegs): the packets carried. */
  packets: number;
  /** seconds / packets, in microseconds. */
  usPerPacket: number;
}

export interface TunnelMemory {
  /** Where the process runs: its interface. */
  ifname: string;
  rssKiB: number;
  peakKiB: number;
  /** Its utime + stime over the iperf3 run, % of one core (which process of a setup is the bottleneck). */
  cpuPct: number;
}

export interface SetupResult {
  name: string;
  /** Right after the tunnel came up (fresh process: for wgmpls, JS not yet optimized by the JIT). */
  ping?: PingResult;
  /** The same ping after the iperf3 run: the datapath warmed up. */
  pingAfter?: PingResult;
  iperf?: IperfResult;
  cpu?: TunnelCpu;
  /** Each tunnel process right after the iperf3 run. */
  memory?: TunnelMemory[];
  error?: string;
  notes: string[];
}

/** Runs a setup's measurements; `setUp` starts its tunnel(s) and says where traffic goes from a to b. */
export async function measureSetup(name: string, a: Ns, b: Ns, seconds: number, setUp: () => Promise<Endpoints>): Promise<SetupResult> {
  const result: SetupResult = { name, notes: [] };
  if (isAborting()) return { ...result, error: 'aborted' };
  log(`\n== ${name} ==`);
  let ends: Endpoints | null = null;
  try {
    ends = await setUp();
    const { src, dst, daemons } = ends;
    log(`  ${src} -> ${dst}: warm-up ping`);
    await warmUp(a, src, dst);
    log(`  ping -c ${PING_COUNT} -i ${PING_INTERVAL}`);
    result.ping = await measurePing(a, src, dst);
    log(`    avg ${result.ping.avgMs.toFixed(3)} ms, mdev ${result.ping.mdevMs.toFixed(3)} ms, loss ${result.ping.lossPct}%`);
    log(`  iperf3 TCP ${seconds} s`);
    const pids = daemons.map((d) => d.proc.pid);
    const cpuBefore = pids.map(cpuSeconds);
    const segsBefore = await tcpOutSegs(a);
    const t0 = process.hrtime.bigint();
    result.iperf = await measureIperf(a, b, src, dst, seconds);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpuAfter = pids.map(cpuSeconds);
    const packets = (await tcpOutSegs(a)) - segsBefore;
    if (daemons.length > 0) {
      let cpu = 0;
      cpuBefore.forEach((x, i) => {
        const y = cpuAfter[i];
        if (x === null || y === null) result.notes.push(`${daemons[i].ifname}: no CPU time (process gone)`);
        else cpu += y - x;
      });
      result.cpu = { seconds: cpu, pct: (cpu / wall) * 100, packets, usPerPacket: packets > 0 ? (cpu / packets) * 1e6 : NaN };
      result.memory = daemons.map((d, i) => {
        const m = memoryKiB(d.proc.pid);
        const x = cpuBefore[i];
        const y = cpuAfter[i];
        return { ifname: d.ifname, rssKiB: m?.rss ?? NaN, peakKiB: m?.peak ?? NaN, cpuPct: x === null || y === null ? NaN : ((y - x) / wall) * 100 };
      });
    }
    log(`    ${(result.iperf.bitsPerSecond / 1e9).toFixed(3)} Gbit/s, ${result.iperf.retransmits ?? 'n/a'} retransmits, ${packets} segments sent`);
    await ends.verify?.(result.iperf.bytes);
    log(`  ping -c ${PING_COUNT} -i ${PING_INTERVAL} again, after the load`);
    result.pingAfter = await measurePing(a, src, dst);
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
