// The bench's rows and the targets of issue 11, judged on one run's results (pure): wgmpls
// against current upstream wireguard-go, the LSP against a plain wgmpls link of the same run.
import { SetupResult } from './measure';

/** The rows, in the order they run. */
export const ROW = {
  veth: 'veth',
  current: 'wireguard-go current',
  debian: 'wireguard-go Debian',
  wgmpls: 'wgmpls',
  lsp: 'wgmpls LSP',
} as const;

/** One figure of the report: a target (with a verdict) or, without `target`, information only. */
export interface Figure {
  what: string;
  /** The measured ratio or count; null when a row it needs was not measured. */
  value: number | null;
  digits: number;
  /** e.g. ">= 1.0"; absent for information-only figures. */
  target?: string;
  /** true PASS, false FAIL, null FAIL because not measured; absent for information. */
  pass?: boolean | null;
}

const TCP_MIN = 1.0; // wgmpls / current wireguard-go, at least
const RTT_MAX = 1.0; // wgmpls / current wireguard-go, at most, cold and after load
const LSP_MIN = 0.8; // wgmpls LSP / wgmpls, at least

const ratio = (x: number | null | undefined, y: number | null | undefined): number | null =>
  x === null || x === undefined || y === null || y === undefined || y === 0 || !Number.isFinite(x) || !Number.isFinite(y) ? null : x / y;

function atLeast(what: string, value: number | null, min: number): Figure {
  return { what, value, digits: 2, target: `>= ${min.toFixed(1)}`, pass: value === null ? null : value >= min };
}

function atMost(what: string, value: number | null, max: number): Figure {
  return { what, value, digits: 2, target: `<= ${max.toFixed(1)}`, pass: value === null ? null : value <= max };
}

export function judge(results: SetupResult[]): { targets: Figure[]; information: Figure[] } {
  const by = (n: string): SetupResult | undefined => results.find((r) => r.name === n && r.error === undefined);
  const veth = by(ROW.veth);
  const cur = by(ROW.current);
  const deb = by(ROW.debian);
  const wgm = by(ROW.wgmpls);
  const lsp = by(ROW.lsp);
  const bps = (r: SetupResult | undefined): number | undefined => r?.iperf?.bitsPerSecond;
  const retrWgm = wgm?.iperf?.retransmits ?? null;
  const retrCur = cur?.iperf?.retransmits ?? null;
  const targets: Figure[] = [
    atLeast('TCP throughput, wgmpls / wireguard-go current', ratio(bps(wgm), bps(cur)), TCP_MIN),
    {
      what: 'TCP retransmits, wgmpls (at most wireguard-go current\'s)',
      value: retrWgm,
      digits: 0,
      target: retrCur === null ? '<= n/a' : `<= ${retrCur}`,
      pass: retrWgm === null || retrCur === null ? null : retrWgm <= retrCur,
    },
    atMost('RTT cold, wgmpls / wireguard-go current', ratio(wgm?.ping?.avgMs, cur?.ping?.avgMs), RTT_MAX),
    atMost('RTT after load, wgmpls / wireguard-go current', ratio(wgm?.pingAfter?.avgMs, cur?.pingAfter?.avgMs), RTT_MAX),
    atLeast('TCP throughput, wgmpls LSP / wgmpls', ratio(bps(lsp), bps(wgm)), LSP_MIN),
  ];
  const information: Figure[] = [
    { what: 'CPU per packet, wgmpls / wireguard-go current', value: ratio(wgm?.cpu?.usPerPacket, cur?.cpu?.usPerPacket), digits: 2 },
    { what: 'TCP throughput, wgmpls / wireguard-go Debian', value: ratio(bps(wgm), bps(deb)), digits: 2 },
    { what: 'RTT cold, wgmpls / wireguard-go Debian', value: ratio(wgm?.ping?.avgMs, deb?.ping?.avgMs), digits: 2 },
    { what: 'TCP throughput, wireguard-go current / Debian', value: ratio(bps(cur), bps(deb)), digits: 2 },
    { what: 'TCP throughput, wireguard-go current / veth', value: ratio(bps(cur), bps(veth)), digits: 3 },
    { what: 'TCP throughput, wgmpls / veth', value: ratio(bps(wgm), bps(veth)), digits: 3 },
  ];
  return { targets, information };
}
