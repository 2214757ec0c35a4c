// `npm run bench`: throughput, latency, CPU and memory of wgmpls tunnels against current
// upstream wireguard-go (the reference the targets of issue 11 are judged against), Debian's
// older wireguard-go and the bare veth underneath them all, in one run, on one pair of network
// namespaces (a third one for the LSP's transit):
//
//   namespace wgmb-<pid>-a  (10.252.0.1) ==== veth ==== (10.252.0.2)  namespace wgmb-<pid>-b
//   1. veth                  iperf3/ping straight over 10.252.0.1 -> 10.252.0.2
//   2. wireguard-go current  scripts/wireguard-go.sh's build, -f on both ends, 10.253.0.1 -> .2
//   3. wireguard-go Debian   /usr/bin/wireguard-go -f on both ends,              10.253.0.1 -> .2
//   4. wgmpls                wgmpls datapath on both ends,                        10.254.0.1 -> .2
//   5. wgmpls LSP            push in a, swap in wgmb-<pid>-t, pop in b, over two wgmpls links,
//                            each with its own veth (lsp.ts): 10.255.1.1 -> 10.255.2.1
//
// Each setup: a short warm-up ping (it also completes the handshake), `ping -c 50 -i 0.05`
// (avg/mdev: RTT cold, the tunnel just started), then iperf3 TCP for BENCH_SECONDS (default 10)
// from a to b, then the same ping again (RTT after load). Around the iperf3 run: the tunnel
// processes' CPU time (/proc/<pid>/stat) and the TCP segments a sent, then their RSS. The
// targets are printed with PASS/FAIL (targets.ts); the exit code is 0 whenever every setup
// could be measured (missed targets included) and 1 when a setup failed to run.
//
// Current wireguard-go is built first if it is not cached (scripts/wireguard-go.sh: Go and the
// module proxy; seconds once, nothing afterwards). Everything started here (namespaces,
// daemons, iperf3) is removed at the end, on an error, on Ctrl-C/SIGTERM, and by a watchdog if
// a step ever overruns (cleanup.ts). The addresses are private and exist only inside the
// namespaces. Self-contained: bench/ does not import the test harness (the tests import
// wireguardGo.ts from here).
//
// The modules: processes.ts (children, commands, waiting), procfs.ts (CPU time, RSS, segments
// sent), netns.ts (namespaces, veths), wireguardGo.ts (which wireguard-go binaries), tunnels.ts
// (wireguard-go and wgmpls daemons, one tunnel), lsp.ts (the LSP setup), measure.ts (ping,
// iperf3, one setup), targets.ts (rows and targets), report.ts (the table and verdicts),
// cleanup.ts (removing it all), log.ts (output).
import { existsSync, readFileSync } from 'node:fs';
import { cleanUpAndExit, cleanup, cleanupSync, onSignal } from './cleanup';
import { log } from './log';
import { startLsp } from './lsp';
import { SetupResult, measureSetup } from './measure';
import { Ns, joinByVeth } from './netns';
import { readClockTicks } from './procfs';
import { run } from './processes';
import { printReport } from './report';
import { ROW } from './targets';
import { CLI, Link, startTunnel } from './tunnels';
import { WireguardGo, buildCurrentWireguardGo, findWireguardGo, wireguardGoVersion } from './wireguardGo';

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

async function environment(wgGo: (WireguardGo | null)[]): Promise<string> {
  const first = async (cmd: string, args: string[]): Promise<string> => (await run(cmd, args, { timeoutMs: 5000 })).stdout.trim().split('\n')[0] ?? '';
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?';
  const cores = (await first('nproc', [])) || '?';
  return [
    `kernel ${await first('uname', ['-r'])}, ${cpu}, ${cores} CPUs, node ${process.version}, ${await first('iperf3', ['--version'])}`,
    ...wgGo.filter((w): w is WireguardGo => w !== null).map((w) => `wireguard-go ${w.name}: ${wireguardGoVersion(w.binary)} (${w.binary})`),
  ].join('\n');
}

/** A setup that cannot run: measureSetup records the reason as the row's failure. */
const unavailable = (why: string) => (): Promise<never> => Promise.reject(new Error(why));

async function main(): Promise<number> {
  const seconds = benchSeconds();
  const startLoad = loadAverage();
  log('wgmpls bench: veth, wireguard-go current and Debian, wgmpls, wgmpls LSP');
  await preflight();
  let current: WireguardGo | string;
  log('current wireguard-go: scripts/wireguard-go.sh (built once, then cached)');
  try {
    current = await buildCurrentWireguardGo();
  } catch (err) {
    current = (err as Error).message;
  }
  const debianFound = findWireguardGo('Debian');
  const debian = 'missing' in debianFound ? debianFound.missing : debianFound;
  log(await environment([current, debian].map((w) => (typeof w === 'string' ? null : w))));

  const tag = String(process.pid);
  const a = await Ns.create(`wgmb-${tag}-a`);
  const b = await Ns.create(`wgmb-${tag}-b`);
  await joinByVeth(a, b, [`wgmbv${tag}a`, `wgmbv${tag}b`], ['10.252.0.1/24', '10.252.0.2/24']);
  log(`namespaces ${a.name} / ${b.name}, veth 10.252.0.1 <-> 10.252.0.2`);
  const link = (prefix: string, names: [string, string]): Link => ({ a, b, underlay: ['10.252.0.1', '10.252.0.2'], port: 51820, prefix, names });
  const wireguardGoRow = (w: WireguardGo | string, names: [string, string]) =>
    typeof w === 'string' ? unavailable(w) : () => startTunnel({ kind: 'wireguard-go', binary: w.binary }, link('10.253.0', names));

  const results: SetupResult[] = [];
  results.push(await measureSetup(ROW.veth, a, b, seconds, async () => ({ src: '10.252.0.1', dst: '10.252.0.2', daemons: [] })));
  results.push(await measureSetup(ROW.current, a, b, seconds, wireguardGoRow(current, [`wgmbg${tag}a`, `wgmbg${tag}b`])));
  results.push(await measureSetup(ROW.debian, a, b, seconds, wireguardGoRow(debian, [`wgmbd${tag}a`, `wgmbd${tag}b`])));
  results.push(await measureSetup(ROW.wgmpls, a, b, seconds, () => startTunnel({ kind: 'wgmpls' }, link('10.254.0', [`wgmbm${tag}a`, `wgmbm${tag}b`]))));
  results.push(await measureSetup(ROW.lsp, a, b, seconds, () => startLsp(a, b, tag)));

  printReport(results, seconds);
  // Other work on the machine moves every figure: say how busy it was, so a run can be judged.
  log(`\nload average (1 min): ${startLoad?.toFixed(2) ?? '?'} at the start, ${loadAverage()?.toFixed(2) ?? '?'} at the end (the bench's own work included)`);
  return results.some((r) => r.error !== undefined) ? 1 : 0;
}

onSignal('SIGINT', 130);
onSignal('SIGTERM', 143);
process.on('exit', cleanupSync);

// Watchdog: five setups, each bounded by its steps' own timeouts, and at most 10 minutes of
// building wireguard-go; this only guards against a bug.
const watchdogSeconds = (() => {
  const n = Number(process.env.BENCH_SECONDS ?? '10');
  return Number.isFinite(n) && n > 0 ? Math.min(n, 600) : 10;
})();
const watchdog = setTimeout(
  () => {
    process.stderr.write('bench: watchdog expired, cleaning up\n');
    cleanUpAndExit(1);
  },
  (5 * (watchdogSeconds + 150) + 660) * 1000,
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
