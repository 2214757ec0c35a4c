// Printing routes exactly as `ip` prints them on a kernel with MPLS routing
// (iproute.c print_route, iproute_lwtunnel.c lwt_print_encap / print_encap_mpls), plus -s and -j.
import type { Prefix } from '../device/config';
import { Family, IpRoute, MplsRoute } from './model';
import { MplsLabel } from '../mpls/wire';
import {
  FormatOptions,
  IPV6_DEFAULT_METRIC,
  IpCommand,
  RouteCounters,
  isMplsRoute,
  routeMatches,
} from './command';
import { familyName, familyOfAddr, formatAddr, maskAddr } from './addrSyntax';

// ---------------------------------------------------------------------------------------
// Printing (iproute.c print_route, iproute_lwtunnel.c lwt_print_encap / print_encap_mpls).

function labelsText(labels: readonly number[]): string {
  return labels.length === 0 ? String(MplsLabel.IMPLICIT_NULL) : labels.join('/');
}

function ipDstText(p: Prefix): string {
  const max = p.addr.length * 8;
  if (p.bits === 0) return 'default';
  const addr = formatAddr(maskAddr(p.addr, p.bits));
  return p.bits === max ? addr : `${addr}/${p.bits}`;
}

/**
 * One `ip -f mpls route` line, without the newline, e.g. "101 as to 102 via inet 10.0.34.2
 * dev wgm1 " (every field is followed by one space, so the line ends with one).
 */
export function formatMplsRoute(r: MplsRoute, opts: FormatOptions = {}): string {
  let s = opts.details ? 'unicast ' : '';
  s += `${r.label} `;
  if (r.outLabels.length > 0) s += `as to ${r.outLabels.join('/')} `;
  if (r.via) s += `via ${familyName(r.via.family)} ${formatAddr(r.via.addr)} `;
  if (r.dev !== '' && !opts.hideDev) s += `dev ${r.dev} `;
  if (opts.details) s += 'proto boot scope global ';
  return s;
}

/**
 * One `ip route` / `ip -6 route` line, without the newline, e.g.
 * "10.0.6.0/24  encap mpls  101/201 via 10.0.23.2 dev wgm0 " (two spaces before "encap" and
 * before the labels), "default  encap mpls  100/200 dev wgm0 scope link " (IPv4 without a
 * gateway: ip sets scope link), "fd00:6::/64  encap mpls  101 via fd00:23::2 dev wgm0 metric
 * 1024 pref medium" (IPv6: kernel metric 1024 and "pref medium", no trailing space).
 */
export function formatIpRoute(r: IpRoute, opts: FormatOptions = {}): string {
  const fam = familyOfAddr(r.prefix.addr);
  let s = opts.details ? 'unicast ' : '';
  s += `${ipDstText(r.prefix)} `;
  s += ` encap mpls `;
  s += ` ${labelsText(r.labels)} `;
  if (r.via) {
    s += r.via.family === fam ? `via ${formatAddr(r.via.addr)} ` : `via ${familyName(r.via.family)} ${formatAddr(r.via.addr)} `;
  }
  if (r.dev !== '' && !opts.hideDev) s += `dev ${r.dev} `;
  if (opts.details) s += 'proto boot ';
  const linkScope = fam === 4 && !r.via;
  if (linkScope) s += 'scope link ';
  else if (opts.details) s += 'scope global ';
  if (fam === 6) s += `metric ${IPV6_DEFAULT_METRIC} pref medium`;
  return s;
}

export function formatRoute(r: MplsRoute | IpRoute, opts: FormatOptions = {}): string {
  return isMplsRoute(r) ? formatMplsRoute(r, opts) : formatIpRoute(r, opts);
}

function bigSum(values: ReadonlyArray<number | bigint>): bigint {
  return values.reduce<bigint>((a, v) => a + BigInt(v), 0n);
}

/**
 * The `-s` line printed under a route (wgmpls's own form: the kernel keeps no per-route MPLS
 * counters): 4 spaces, then "packets N bytes N drops N", then the non-zero reasons, e.g.
 * "    packets 10 bytes 1200 drops 3 (ttl-expired 2, no-route 1)". No newline.
 */
export function formatStats(counters: RouteCounters): string {
  const reasons = Object.entries(counters.drops ?? {});
  const total = bigSum(reasons.map(([, v]) => v));
  const nonZero = reasons.filter(([, v]) => BigInt(v) !== 0n);
  const detail = nonZero.length > 0 ? ` (${nonZero.map(([k, v]) => `${k} ${String(v)}`).join(', ')})` : '';
  return `    packets ${String(counters.packets)} bytes ${String(counters.bytes)} drops ${total}${detail}`;
}

function jsonPairs(pairs: ReadonlyArray<[string, string]>): string {
  return `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

function statsJson(c: RouteCounters): string {
  const reasons = Object.entries(c.drops ?? {});
  return jsonPairs([
    ['packets', String(c.packets)],
    ['bytes', String(c.bytes)],
    ['drops', String(bigSum(reasons.map(([, v]) => v)))],
    ['drop_reasons', jsonPairs(reasons.map(([k, v]) => [k, String(v)]))],
  ]);
}

/**
 * One route as `ip -j` prints it: keys in ip's order, including its quirk of two "dst" keys on
 * encap routes, e.g. {"dst":"10.0.6.0/24","encap":"mpls","dst":"101/201","gateway":"10.0.23.2",
 * "dev":"wgm0","flags":[]}. With counters, a wgmpls "stats" object is added at the end.
 */
export function formatRouteJson(r: MplsRoute | IpRoute, opts: FormatOptions = {}, counters?: RouteCounters): string {
  const s = JSON.stringify;
  const pairs: Array<[string, string]> = [];
  if (opts.details) pairs.push(['type', s('unicast')]);
  let fam: Family | null = null;
  if (isMplsRoute(r)) {
    pairs.push(['dst', s(String(r.label))]);
    if (r.outLabels.length > 0) pairs.push(['to', s(r.outLabels.join('/'))]);
  } else {
    fam = familyOfAddr(r.prefix.addr);
    pairs.push(['dst', s(ipDstText(r.prefix))], ['encap', s('mpls')], ['dst', s(labelsText(r.labels))]);
  }
  if (r.via) {
    if (fam !== null && r.via.family === fam) pairs.push(['gateway', s(formatAddr(r.via.addr))]);
    else pairs.push(['via', jsonPairs([['family', s(familyName(r.via.family))], ['host', s(formatAddr(r.via.addr))]])]);
  }
  if (r.dev !== '' && !opts.hideDev) pairs.push(['dev', s(r.dev)]);
  if (opts.details) pairs.push(['protocol', s('boot')]);
  if (fam === 4 && !r.via) pairs.push(['scope', s('link')]);
  else if (opts.details) pairs.push(['scope', s('global')]);
  if (fam === 6) pairs.push(['metric', String(IPV6_DEFAULT_METRIC)]);
  pairs.push(['flags', '[]']);
  if (fam === 6) pairs.push(['pref', s('medium')]);
  if (counters) pairs.push(['stats', statsJson(counters)]);
  return jsonPairs(pairs);
}

/**
 * The whole output of a show command: the routes it selects (routeMatches; MPLS routes in
 * label order, as the kernel dumps them, IP routes in the order given), one line each with
 * "\n", plus the -s line when `counters` knows the route; or with -j one JSON array and "\n".
 */
export function formatShow(
  cmd: IpCommand,
  routes: ReadonlyArray<MplsRoute | IpRoute>,
  counters?: (route: MplsRoute | IpRoute) => RouteCounters | undefined,
): string {
  const selected = routes.filter((r) => routeMatches(cmd, r));
  const mpls = selected.filter(isMplsRoute).sort((a, b) => a.label - b.label);
  const ordered: Array<MplsRoute | IpRoute> = mpls.length === selected.length ? mpls : selected;
  const opts: FormatOptions = { details: cmd.details > 0, hideDev: cmd.filter?.dev !== undefined };
  const stat = (r: MplsRoute | IpRoute): RouteCounters | undefined => (cmd.stats > 0 && counters ? counters(r) : undefined);
  if (cmd.json) return `[${ordered.map((r) => formatRouteJson(r, opts, stat(r))).join(',')}]\n`;
  return ordered
    .map((r) => {
      const c = stat(r);
      return `${formatRoute(r, opts)}\n${c ? `${formatStats(c)}\n` : ''}`;
    })
    .join('');
}
