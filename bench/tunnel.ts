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
// on Ctrl-C/SIGTERM, and by a watchdog if a step ever overruns (cleanup.ts). The addresses are
// private and exist only inside the two namespaces. Self-contained: bench/ does not import the
// test harness.
//
// The modules: processes.ts (children, commands, waiting, CPU time), netns.ts (namespaces),
// tunnels.ts (wireguard-go and wgmpls daemons), measure.ts (ping, iperf3, one setup),
// report.ts (the table, ratios and targets), cleanup.ts (removing it all), log.ts (output).
import { existsSync, readFileSync } from 'node:fs';
import { cleanUpAndExit, cleanup, cleanupSync, onSignal } from './cleanup';
import { log } from './log';
import { SetupResult, measureSetup } from './measure';
import { Ns } from './netns';
import { must, readClockTicks, run } from './processes';
import { printReport } from './report';
import { CLI, startTunnel } from './tunnels';

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
  await readClockTicks();
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
    cleanUpAndExit(1);
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
