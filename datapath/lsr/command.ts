// A parsed `wgmpls ip` command and what is asked of routes on its behalf: which route a
// del/replace names (routeKey), which routes a show/flush lists (routeMatches), whether the
// devices a route names exist (validateDevices). Shared by the parser, the printer and the
// code that applies commands to a namespace's table.
import type { Prefix } from '../device/config';
import { IpRoute, MplsRoute } from './model';
import { fail, q } from './syntaxUtil';
import { familyName, familyOfAddr, formatAddr, maskAddr, sameBytes } from './addrSyntax';

export type IpFamily = 'mpls' | 'inet' | 'inet6';
export type IpVerb = 'add' | 'del' | 'replace' | 'change' | 'show' | 'flush';
export type PrefixMatch = 'exact' | 'root' | 'match';

export const USAGE = [
  'Usage: wgmpls ip [ -f { mpls | inet | inet6 } | -M | -4 | -6 ] [ -s ] [ -d ] [ -j ] route COMMAND',
  '       ip -f mpls route { add | del | replace | change } LABEL [ as [ to ] L1/L2/... ]',
  '                        [ via [ inet | inet6 ] ADDRESS ] dev IF',
  '       ip route { add | del | replace | change } [ to ] PREFIX encap mpls L1/L2/...',
  '                        [ via ADDRESS ] dev IF',
  '       ip route { show | list | flush } [ dev IF ] [ [ to ] [ exact | root | match ] PREFIX ]',
].join('\n');

export function readFamilyName(name: string): IpFamily | null {
  return name === 'inet' || name === 'inet6' || name === 'mpls' ? name : null;
}

/** iproute2's read_family() names that wgmpls does not route. */
export const OTHER_FAMILIES = new Set(['link', 'bridge', 'ipx', 'dnet']);

/** Selectors of `ip route show|flush` that wgmpls understands. */
export interface RouteFilter {
  /** `dev IF`: routes leaving through IF (ip then omits "dev IF" from each line). */
  dev?: string;
  /** MPLS: `ip -f mpls route show LABEL`. */
  label?: number;
  /** IP: `[to] [exact|root|match] PREFIX` (bare = exact). */
  prefix?: { prefix: Prefix; mode: PrefixMatch };
}

export interface IpCommand {
  /** From -f/-4/-6/-M, or deduced from the route for add/del/replace/change; null = not given. */
  family: IpFamily | null;
  verb: IpVerb;
  /** Number of -s. */
  stats: number;
  json: boolean;
  /** Number of -d (ip then prints "unicast ... proto boot scope global"). */
  details: number;
  /**
   * add/del/replace/change. For del only routeKey() is required: fields not given are empty
   * (dev '', via null, no labels).
   */
  route?: MplsRoute | IpRoute;
  /** show/flush (always present for those verbs, possibly empty). */
  filter?: RouteFilter;
}

/** Per-route counters for `-s` (wgmpls's own; the kernel keeps none per MPLS route). */
export interface RouteCounters {
  packets: bigint | number;
  bytes: bigint | number;
  /** Drops by reason, e.g. { 'ttl-expired': 1, 'no-route': 0 }; printed as given, zeros left out. */
  drops?: Record<string, number | bigint>;
}

export interface FormatOptions {
  /** `ip -d`: "unicast " first, "proto boot scope global " after dev. */
  details?: boolean | number;
  /** ip leaves "dev IF" out when the listing was filtered by `dev IF`. */
  hideDev?: boolean;
}

/** Kernel default metric of IPv6 routes added from userspace (IP6_RT_PRIO_USER). */
export const IPV6_DEFAULT_METRIC = 1024;

// ---------------------------------------------------------------------------------------
// Route helpers.

export function isMplsRoute(route: MplsRoute | IpRoute): route is MplsRoute {
  return (route as MplsRoute).label !== undefined;
}

/** Identifies a route for del/replace: "mpls 101", "inet 10.0.6.0/24", "inet6 fd00:6::/64". */
export function routeKey(route: MplsRoute | IpRoute): string {
  if (isMplsRoute(route)) return `mpls ${route.label}`;
  const p = route.prefix;
  return `${familyName(familyOfAddr(p.addr))} ${formatAddr(maskAddr(p.addr, p.bits))}/${p.bits}`;
}

function routeFamilyName(route: MplsRoute | IpRoute): IpFamily {
  return isMplsRoute(route) ? 'mpls' : familyName(familyOfAddr(route.prefix.addr));
}

function prefixCovers(outer: Prefix, inner: Prefix): boolean {
  return (
    outer.addr.length === inner.addr.length &&
    outer.bits <= inner.bits &&
    sameBytes(maskAddr(outer.addr, outer.bits), maskAddr(inner.addr, outer.bits))
  );
}

/**
 * Whether `ip route show|flush` with these family and selectors lists `route`, as ip does:
 * no family means IPv4 only; `exact P` (or bare P) = that prefix, `root P` = P and more
 * specific, `match P` = P and less specific; `dev IF` = leaving through IF.
 */
export function routeMatches(cmd: Pick<IpCommand, 'family' | 'filter'>, route: MplsRoute | IpRoute): boolean {
  if (routeFamilyName(route) !== (cmd.family ?? 'inet')) return false;
  const f = cmd.filter ?? {};
  if (f.dev !== undefined && route.dev !== f.dev) return false;
  if (isMplsRoute(route)) return f.label === undefined || route.label === f.label;
  if (f.prefix === undefined) return true;
  const { prefix: p, mode } = f.prefix;
  const r = route.prefix;
  if (p.addr.length !== r.addr.length) return false;
  switch (mode) {
    case 'exact':
      return p.bits === r.bits && prefixCovers(p, r);
    case 'root':
      return prefixCovers(p, r);
    case 'match':
      return prefixCovers(r, p);
  }
}

/** Throws `Cannot find device "wgm9"` (iproute2's words) unless dev is known or, for MPLS routes, lo. */
export function validateDevices(route: MplsRoute | IpRoute, known: ReadonlySet<string>): void {
  if (route.dev === '') return; // a del that named no device
  if (!isMplsRoute(route) && route.dev === 'lo') {
    fail('dev lo cannot carry MPLS encap routes: use a wgmpls interface (dev wgmN)');
  }
  if (isMplsRoute(route) && route.dev === 'lo') return;
  if (!known.has(route.dev)) fail(`Cannot find device ${q(route.dev)}`);
}

/** validateDevices for a whole command: the route, or the `dev` selector of show/flush. */
export function validateCommandDevices(cmd: IpCommand, known: ReadonlySet<string>): void {
  if (cmd.route) validateDevices(cmd.route, known);
  const dev = cmd.filter?.dev;
  if (dev !== undefined && dev !== 'lo' && !known.has(dev)) fail(`Cannot find device ${q(dev)}`);
}

