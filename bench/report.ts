// The bench's final report: one table row per setup, the targets of issue 11 with PASS/FAIL
// (targets.ts), figures for information, and any failures or notes.
import { log } from './log';
import { PING_COUNT, PING_INTERVAL, PingResult, SetupResult } from './measure';
import { Figure, judge } from './targets';

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

const fmt = (v: number | null | undefined, digits: number): string => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits));
const rtt = (p: PingResult | undefined): string => (p ? `${fmt(p.avgMs, 3)}±${fmt(p.mdevMs, 2)}` : 'n/a');
const mib = (kib: number): string => fmt(kib / 1024, 0);

function table(results: SetupResult[]): void {
  const header = ['setup', 'Gbit/s', 'retr', 'RTT cold ms', 'RTT load ms', 'CPU %', 'us CPU/pkt', 'CPU % each', 'RSS MiB each'];
  const widths = [20, 7, 6, 12, 12, 6, 10, 12, 12];
  log(header.map((h, i) => pad(h, widths[i], i > 0 && i < 7)).join(' '));
  log(widths.map((w) => '-'.repeat(w)).join(' '));
  for (const r of results) {
    const cells = [
      r.name,
      r.iperf ? fmt(r.iperf.bitsPerSecond / 1e9, 3) : 'n/a',
      r.iperf?.retransmits !== undefined && r.iperf.retransmits !== null ? String(r.iperf.retransmits) : 'n/a',
      rtt(r.ping),
      rtt(r.pingAfter),
      r.cpu ? fmt(r.cpu.pct, 0) : '-',
      r.cpu ? fmt(r.cpu.usPerPacket, 2) : '-',
      r.memory ? r.memory.map((m) => fmt(m.cpuPct, 0)).join('/') : '-',
      r.memory ? r.memory.map((m) => mib(m.rssKiB)).join('/') : '-',
    ];
    log(cells.map((c, i) => pad(c, widths[i], i > 0 && i < 7)).join(' '));
  }
}

function figures(list: Figure[]): void {
  for (const f of list) {
    const verdict = f.pass === undefined ? '' : f.pass === null ? 'FAIL (not measured)' : f.pass ? 'PASS' : 'FAIL';
    log(`${pad(f.what, 58)} ${pad(fmt(f.value, f.digits), 7, true)}${f.target ? `   target ${pad(f.target, 7)} ${verdict}` : ''}`);
  }
}

export function printReport(results: SetupResult[], seconds: number): void {
  log(`\n=== Results (a -> b, iperf3 TCP single stream ${seconds} s, ping -c ${PING_COUNT} -i ${PING_INTERVAL}) ===\n`);
  table(results);
  log('\nretr: TCP retransmissions. RTT cold: right after the tunnel came up; RTT load: the same ping after');
  log('the iperf3 run (avg ± mdev). CPU %: utime+stime of all tunnel processes during the iperf3 run, % of one');
  log('core; us CPU/pkt: that CPU time over the TCP segments the sender sent (Tcp OutSegs, which counts a TSO');
  log('superpacket as its segments, so offloads do not change the count). CPU % each, RSS after the run: a/b,');
  log('for the LSP ingress/transit (one process, both interfaces)/egress.');

  const { targets, information } = judge(results);
  log('\n=== Targets (issue 11; ratios within this run) ===\n');
  figures(targets);
  const passed = targets.filter((t) => t.pass === true).length;
  log(`\n${passed} of ${targets.length} targets PASS`);
  log('\n=== For information ===\n');
  figures(information);

  const notes = results.flatMap((r) => [
    ...(r.error ? [`${r.name}: FAILED: ${r.error}`] : []),
    ...r.notes.map((n) => `${r.name}: ${n}`),
    ...([['cold', r.ping], ['after load', r.pingAfter]] as const)
      .filter(([, p]) => p !== undefined && p.lossPct > 0)
      .map(([when, p]) => `${r.name}: ping ${when} lost ${p?.lossPct}%`),
  ]);
  if (notes.length > 0) {
    log('\n=== Notes ===\n');
    for (const n of notes) log(n);
  }
}
