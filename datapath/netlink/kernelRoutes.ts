// The kernel backend of a namespace's label-switching router: its routes installed as real
// kernel routes by rtnetlink, all or nothing, plus the net.mpls sysctls they need.
// docs/design.md section 4a.
import { IpRoute, LsrSettings, MplsRoute, RouteError } from '../lsr/model';
import { formatRoute } from '../lsr/format';
import { isMplsRoute } from '../lsr/command';
import { netlinkAddon } from './native';
import { NetlinkError } from './reply';
import { ifIndex, transact } from './links';
import { Verb, ipRouteRequest, mplsRouteRequest } from './routeMessages';

type Route = MplsRoute | IpRoute;

/** One route's change in the kernel: from `before` (absent: none) to `after` (absent: removed). */
export interface KernelChange {
  before: Route | null;
  after: Route | null;
}

/** A route the kernel refused (or whose device is missing): which route, and the kernel's reason. */
export class KernelRouteError extends Error {
  constructor(
    readonly route: Route,
    readonly refusal: NetlinkError,
    verb: Verb,
  ) {
    super(`kernel refused ${verb === 'del' ? 'to delete' : 'the route'} "${formatRoute(route).trim()}": ${refusal.message}`);
    this.name = 'KernelRouteError';
  }
}

/** Whether the namespace's kernel can switch labels (mpls_router loaded: net.mpls.platform_labels exists). */
export function kernelHasMpls(netnsPath: string | undefined): boolean {
  try {
    netlinkAddon().procSys('mpls/platform_labels', undefined, netnsPath);
    return true;
  } catch {
    return false;
  }
}

/** The device's index for a delete: 0 (match any) when the device is gone, and its routes with it. */
function delIndex(name: string, netnsPath: string | undefined): number {
  try {
    return ifIndex(name, netnsPath);
  } catch (err) {
    if (err instanceof NetlinkError && err.code === 'ENODEV') return 0;
    throw err;
  }
}

function send(verb: Verb, route: Route, netnsPath: string | undefined): void {
  try {
    const oif = verb === 'del' ? delIndex(route.dev, netnsPath) : ifIndex(route.dev, netnsPath);
    transact(isMplsRoute(route) ? mplsRouteRequest(verb, route, oif) : ipRouteRequest(verb, route, oif), netnsPath);
  } catch (err) {
    if (err instanceof NetlinkError) throw new KernelRouteError(route, err, verb);
    throw err;
  }
}

/**
 * What the routes need from the namespace before they can work: a label table large enough
 * for every incoming label (platform_labels is only ever raised), and MPLS input on every
 * interface labelled frames arrive on (the namespace's wgmpls TUNs).
 */
export function prepareNamespace(routes: readonly Route[], inputDevs: readonly string[], netnsPath: string | undefined, settings?: LsrSettings): void {
  const addon = netlinkAddon();
  if (settings) writeKernelSettings(settings, netnsPath);
  const need = Math.max(0, ...routes.filter(isMplsRoute).map((r) => r.label + 1));
  const have = Number(addon.procSys('mpls/platform_labels', undefined, netnsPath).trim());
  if (need > have) addon.procSys('mpls/platform_labels', String(need), netnsPath);
  for (const dev of inputDevs) addon.procSys(`mpls/conf/${dev}/input`, '1', netnsPath);
}

/**
 * The userspace backend's steering route `PREFIX dev DEV` (scope link, no encapsulation), which
 * hands an FTN prefix to the TUN where the datapath pushes the labels. Throws KernelRouteError.
 */
export function steerPrefix(verb: 'replace' | 'del', route: IpRoute, netnsPath: string | undefined): void {
  const plain: IpRoute = { prefix: route.prefix, labels: [], via: null, dev: route.dev };
  try {
    send(verb, plain, netnsPath);
  } catch (err) {
    if (verb === 'del' && err instanceof KernelRouteError && err.refusal.code === 'ESRCH') return;
    throw err;
  }
}

/** The LSR settings the kernel has too (Linux's own net.mpls names), written to it. */
function writeKernelSettings(settings: LsrSettings, netnsPath: string | undefined): void {
  const addon = netlinkAddon();
  addon.procSys('mpls/ip_ttl_propagate', settings.ttlPropagate ? '1' : '0', netnsPath);
  addon.procSys('mpls/default_ttl', String(settings.defaultTtl), netnsPath);
}

/** Settings of the userspace LSR that Linux's af_mpls has no equivalent for. */
const USERSPACE_ONLY: readonly [keyof LsrSettings, string, string][] = [
  ['icmpRespond', 'net.mpls.icmp_respond', 'Linux sends no ICMP for expired labels'],
  ['mapPrecedence', 'net.mpls.inet_map_prec', 'Linux does not map IP precedence to TC'],
  ['rfc4182', 'net.mpls.rfc4182', 'Linux always pops explicit null'],
];

/**
 * `wgmpls sysctl -w` where the kernel switches: the settings it shares go to the kernel; a
 * change to one it lacks is refused (RouteError naming it), and then nothing is written.
 */
export function applyKernelSettings(before: LsrSettings, after: LsrSettings, netnsPath: string | undefined): void {
  for (const [field, name, why] of USERSPACE_ONLY) {
    if (before[field] !== after[field]) throw new RouteError(`${name}: not with the kernel LSR switching this namespace (${why}); it takes net.mpls.ip_ttl_propagate and net.mpls.default_ttl`);
  }
  writeKernelSettings(after, netnsPath);
}

/** Makes the change; a removal of a route the kernel no longer has counts as done. */
function apply(c: KernelChange, netnsPath: string | undefined): void {
  if (c.after) {
    send('replace', c.after, netnsPath);
  } else if (c.before) {
    try {
      send('del', c.before, netnsPath);
    } catch (err) {
      if (!(err instanceof KernelRouteError && err.refusal.code === 'ESRCH')) throw err;
    }
  }
}

/**
 * Applies the changes in order, all or nothing: when the kernel refuses one, those already
 * made are reverted (last first) and the refusal is thrown, naming the route and the reason.
 */
export function applyKernelChanges(changes: readonly KernelChange[], netnsPath: string | undefined): void {
  const done: KernelChange[] = [];
  try {
    for (const c of changes) {
      apply(c, netnsPath);
      done.push(c);
    }
  } catch (err) {
    revertKernelChanges(done, netnsPath);
    throw err;
  }
}

/** Puts back what applyKernelChanges did (best effort: the first refusal is what the user sees). */
export function revertKernelChanges(done: readonly KernelChange[], netnsPath: string | undefined): void {
  for (const c of [...done].reverse()) {
    try {
      apply({ before: c.after, after: c.before }, netnsPath);
    } catch {
      // Nothing better to do: the original error is reported.
    }
  }
}
