// bench/targets.ts: the targets of issue 11 judged on one run's rows, against current wireguard-go.
import { SetupResult } from '../../bench/measure';
import { ROW, judge } from '../../bench/targets';

function row(name: string, gbps: number, retransmits: number | null, coldMs: number, loadMs: number, extra: Partial<SetupResult> = {}): SetupResult {
  const ping = (avgMs: number): SetupResult['ping'] => ({ avgMs, mdevMs: 0.01, minMs: avgMs, maxMs: avgMs, lossPct: 0 });
  return { name, iperf: { bitsPerSecond: gbps * 1e9, bytes: gbps * 1.25e8, retransmits }, ping: ping(coldMs), pingAfter: ping(loadMs), notes: [], ...extra };
}

const byWhat = (list: ReturnType<typeof judge>['targets'], prefix: string): ReturnType<typeof judge>['targets'][number] => {
  const f = list.find((x) => x.what.startsWith(prefix));
  if (!f) throw new Error(`no figure ${prefix}`);
  return f;
};

describe('judge', () => {
  test('ratios against current wireguard-go, not Debian\'s; each target PASS or FAIL on its own', () => {
    const { targets } = judge([
      row(ROW.veth, 14, 10, 0.05, 0.05),
      row(ROW.current, 2.0, 0, 0.5, 0.6),
      row(ROW.debian, 0.5, 900, 0.5, 0.5),
      row(ROW.wgmpls, 2.2, 0, 0.55, 0.6),
      row(ROW.lsp, 1.7, 3, 0.9, 0.9),
    ]);
    expect(byWhat(targets, 'TCP throughput, wgmpls /')).toMatchObject({ value: 1.1, pass: true });
    expect(byWhat(targets, 'TCP retransmits')).toMatchObject({ value: 0, target: '<= 0', pass: true });
    expect(byWhat(targets, 'RTT cold').value).toBeCloseTo(1.1);
    expect(byWhat(targets, 'RTT cold').pass).toBe(false);
    expect(byWhat(targets, 'RTT after load')).toMatchObject({ value: 1, pass: true });
    expect(byWhat(targets, 'TCP throughput, wgmpls LSP').value).toBeCloseTo(1.7 / 2.2);
    expect(byWhat(targets, 'TCP throughput, wgmpls LSP').pass).toBe(false);
  });

  test('more retransmits than wireguard-go fails even when faster', () => {
    const { targets } = judge([row(ROW.current, 2.0, 4, 0.5, 0.5), row(ROW.wgmpls, 3.0, 5, 0.4, 0.4)]);
    expect(byWhat(targets, 'TCP throughput, wgmpls /').pass).toBe(true);
    expect(byWhat(targets, 'TCP retransmits')).toMatchObject({ value: 5, target: '<= 4', pass: false });
  });

  test('a row that failed or is missing leaves its targets not measured (null), never PASS', () => {
    const { targets } = judge([
      row(ROW.current, 2.0, 0, 0.5, 0.5, { error: 'could not build' }),
      row(ROW.wgmpls, 3.0, 0, 0.4, 0.4),
    ]);
    for (const t of targets) expect(t.pass).toBeNull();
    expect(targets.every((t) => t.value === null || t.what.startsWith('TCP retransmits'))).toBe(true);
  });
});
