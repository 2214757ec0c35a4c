// The bench's final report: one table row per setup, the wgmpls / wireguard-go / veth ratios
// judged PASS/MISS against the targets, and any failures or notes.
import { log } from './log';
import { PING_COUNT, PING_INTERVAL, SetupResult } from './measure';

const TARGET_THROUGHPUT = 0.5; // wgmpls / wireguard-go, at least
const TARGET_RTT = 2.0; // wgmpls / wireguard-go, at most

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

export function printReport(results: SetupResult[], seconds: number): void {
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
