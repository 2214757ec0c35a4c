// `ip` route commands and sysctls applied to a namespace's label-switching router: its
// userspace label tables and the kernel routes that steer FTN prefixes into its TUNs; or, with
// the kernel backend (docs/design.md section 4a), the routes themselves as kernel routes,
// installed by netlink. The table file records the routes and the backend either way.
// Validates everything first; changes the kernel before writing the table, and takes the
// change back if the table cannot be written. Works on any namespace (IpNamespace): the caller's
// own (`wgmpls ip` run inside it) or one reached by path (`wgmpls ip --container`, the plugin's
// `wgmpls.routes` label), whose kernel routes then go in by netlink from inside it. One code path for
// all three, so they cannot drift.
import { uapiExchange } from '../ipc/client';
import { IpRoute, LsrBackend, LsrMode, LsrTable, MplsRoute, RouteError } from './model';
import {
  KernelChange,
  KernelRouteError,
  applyKernelChanges,
  applyKernelSettings,
  kernelHasMpls,
  prepareNamespace,
  revertKernelChanges,
  steerPrefix,
} from '../netlink/kernelRoutes';
import { endpointsIn, lsrDir, nsidOf, readTable, writeTable } from './store';
import {
  IpCommand,
  RouteCounters,
  isMplsRoute,
  routeKey,
  routeMatches,
  validateCommandDevices,
  validateDevices,
} from './command';
import { formatShow } from './format';
import { parseIpArgs } from './syntax';
import { sysctl } from './sysctl';
import { prefixToString } from '../net/addr';

export interface IpResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The namespace whose label-switching router a command works on. */
export interface IpNamespace {
  /** Its cookie: the name of its tables' directory under /run/wgmpls/lsr. */
  nsid: string;
  /** Where its kernel routes go (netlink from inside it); undefined: the caller's own namespace. */
  netnsPath?: string;
  /**
   * UAPI sockets of its datapaths, for `-s`. Undefined: /var/run/wireguard/<ifname>.sock of each
   * endpoint, which holds when the datapaths run in the namespace itself (not Docker's: there the
   * TUN was renamed after its datapath had named its socket).
   */
  uapiSockets?: string[];
  /** Which backend to use (wgmpls.lsr, `wgmpls ip --lsr`); default auto. */
  lsr?: LsrMode;
}

/** The namespace this process runs in. */
export function ownNamespace(): IpNamespace {
  return { nsid: nsidOf() };
}

/** The kernel route that makes the local stack hand PREFIX to the TUN (the FTN sees it there). */
async function kernelRoute(ns: IpNamespace, verb: 'replace' | 'del', r: IpRoute): Promise<{ code: number; stderr: string }> {
  try {
    steerPrefix(verb, r, ns.netnsPath);
    return { code: 0, stderr: '' };
  } catch (err) {
    if (err instanceof KernelRouteError) return { code: 2, stderr: `${err.refusal.message}\n` };
    throw err;
  }
}

/** Per-route counters summed over the namespace's endpoints (each counts what it switched). */
async function routeStats(sockets: string[]): Promise<Map<string, number>> {
  const sum = new Map<string, number>();
  // A datapath that does not answer (stopping, restarting) adds nothing: the others still count.
  const answers = await Promise.all(sockets.map((path) => uapiExchange(path, 'wgmpls-stats=1\n\n', 2000).catch(() => '')));
  for (const data of answers) {
    for (const line of data.split('\n')) {
      const eq = line.indexOf('=');
      if (eq < 0 || !line.startsWith('lsr.')) continue;
      const k = line.slice(0, eq);
      sum.set(k, (sum.get(k) ?? 0) + Number(line.slice(eq + 1)));
    }
  }
  return sum;
}

/** Counters the datapaths keep per incoming label, summed, for `-s`. */
function countersFor(stats: Map<string, number>): (r: MplsRoute | IpRoute) => RouteCounters | undefined {
  return (r) => {
    if (!isMplsRoute(r)) return undefined;
    const p = `lsr.route.${r.label}.`;
    const drops: Record<string, number> = {};
    for (const [k, v] of stats) if (k.startsWith(`${p}drop.`) && v > 0) drops[k.slice(p.length + 5)] = v;
    return { packets: stats.get(`${p}packets`) ?? 0, bytes: stats.get(`${p}bytes`) ?? 0, drops };
  };
}

/** The arguments after `ip`, parsed; or what `ip` would print for them (exit 255). */
export function parseIp(argv: readonly string[]): IpCommand | IpResult {
  try {
    return parseIpArgs(argv);
  } catch (err) {
    if (err instanceof RouteError) return { code: 255, stdout: '', stderr: `Error: ${err.message}\n` };
    throw err;
  }
}

const isResult = (x: IpCommand | IpResult | Plan): x is IpResult => (x as IpResult).stderr !== undefined;

/** What one add/del/replace/change does beyond the table (already changed in memory). */
interface Plan {
  /** Kernel route to put in before the table is written; fresh: the table had no route for this key. */
  steer?: { route: IpRoute; fresh: boolean };
  /** Kernel route to take out once the table is written. */
  unsteer?: IpRoute;
  /** The route under this key before and after the command (the kernel backend's change). */
  change: KernelChange;
}

/** Applies one modifying command to `table` in memory, or says why not (iproute2's words). */
function plan(cmd: IpCommand, table: LsrTable, known: ReadonlySet<string>): Plan | IpResult {
  const route = cmd.route;
  if (!route) return { code: 255, stdout: '', stderr: 'Error: missing route\n' };
  const key = routeKey(route);
  const list: (MplsRoute | IpRoute)[] = isMplsRoute(route) ? table.mpls : table.ip;
  const at = list.findIndex((r) => routeKey(r) === key);

  if (cmd.verb === 'del') {
    if (at < 0) return { code: 2, stdout: '', stderr: 'RTNETLINK answers: No such process\n' };
    const [old] = list.splice(at, 1);
    const change = { before: old, after: null };
    return isMplsRoute(old) ? { change } : { unsteer: old, change };
  }
  try {
    validateDevices(route, known);
  } catch (err) {
    if (err instanceof RouteError) return { code: 1, stdout: '', stderr: `${err.message}\n` };
    throw err;
  }
  if (cmd.verb === 'add' && at >= 0) return { code: 2, stdout: '', stderr: 'RTNETLINK answers: File exists\n' };
  if (cmd.verb === 'change' && at < 0) return { code: 2, stdout: '', stderr: 'RTNETLINK answers: No such file or directory\n' };
  const change = { before: at >= 0 ? list[at] : null, after: route };
  if (at >= 0) list[at] = route;
  else list.push(route);
  return isMplsRoute(route) ? { change } : { steer: { route, fresh: at < 0 }, change };
}

export interface BatchResult {
  result: IpResult;
  /** Index of the command that failed (the others were not applied either). */
  failed?: number;
}

/**
 * The backend a command uses in a namespace: the one its table already has routes under (a
 * namespace's routes live in one place), else what was asked, `auto` meaning the kernel where
 * the namespace has MPLS routing. A RouteError when the request cannot be met.
 */
export function chooseBackend(ns: IpNamespace, table: LsrTable): LsrBackend {
  const mode = ns.lsr ?? 'auto';
  const current = table.mpls.length + table.ip.length > 0 ? (table.backend ?? 'userspace') : undefined;
  if (current) {
    if (mode !== 'auto' && mode !== current) {
      throw new RouteError(`lsr ${mode}: this namespace's routes are switched by the ${current} LSR; flush them first (wgmpls ip route flush; wgmpls ip -f mpls route flush)`);
    }
    return current;
  }
  const kernel = kernelHasMpls(ns.netnsPath);
  if (mode === 'kernel' && !kernel) throw new RouteError('lsr kernel: this namespace has no net.mpls.platform_labels (the kernel needs the mpls_router and mpls_iptunnel modules)');
  if (mode === 'auto') return kernel ? 'kernel' : 'userspace';
  return mode;
}

/** Kernel backend: the changes in the kernel (all or nothing), then the table written once. */
function applyInKernel(ns: IpNamespace, dir: string, table: LsrTable, plans: readonly Plan[], known: readonly string[]): BatchResult {
  const changes = plans.map((p) => p.change);
  try {
    prepareNamespace([...table.mpls, ...table.ip], known, ns.netnsPath, table.settings);
    applyKernelChanges(changes, ns.netnsPath);
  } catch (err) {
    // The command whose route the kernel refused (the others were taken back too).
    const at = err instanceof KernelRouteError ? changes.findIndex((c) => c.after === err.route || c.before === err.route) : -1;
    return { result: { code: 2, stdout: '', stderr: `${(err as Error).message}\n` }, failed: at >= 0 ? at : undefined };
  }
  try {
    writeTable(dir, { ...table, backend: 'kernel' });
  } catch (err) {
    revertKernelChanges(changes, ns.netnsPath);
    return { result: { code: 2, stdout: '', stderr: `cannot write ${dir}/table.json: ${(err as Error).message}\n` } };
  }
  return { result: { code: 0, stdout: '', stderr: '' } };
}

/**
 * Add/del/replace/change commands applied all or nothing: every one is checked against the
 * table as the earlier ones leave it, the kernel routes go in, then the table is written once.
 * On any failure the kernel routes this call added are taken out again and the table is left
 * as it was.
 */
export async function applyIpCommands(ns: IpNamespace, cmds: readonly IpCommand[]): Promise<BatchResult> {
  const dir = lsrDir(ns.nsid);
  const table = readTable(dir);
  let backend: LsrBackend;
  try {
    backend = chooseBackend(ns, table);
  } catch (err) {
    if (err instanceof RouteError) return { result: { code: 1, stdout: '', stderr: `${err.message}\n` } };
    throw err;
  }
  const endpoints = endpointsIn(dir);
  const known = new Set(endpoints);
  const plans: Plan[] = [];
  for (const [i, cmd] of cmds.entries()) {
    const p = plan(cmd, table, known);
    if (isResult(p)) return { result: p, failed: i };
    plans.push(p);
  }
  if (backend === 'kernel') return applyInKernel(ns, dir, table, plans, endpoints);
  table.backend = 'userspace';
  const added: IpRoute[] = [];
  const undo = async (): Promise<void> => {
    for (const r of added.reverse()) await kernelRoute(ns, 'del', r);
  };
  for (const [i, p] of plans.entries()) {
    if (!p.steer) continue;
    const { route, fresh } = p.steer;
    const r = await kernelRoute(ns, 'replace', route);
    if (r.code !== 0) {
      await undo();
      return { result: { code: 2, stdout: '', stderr: `cannot steer ${prefixToString(route.prefix)} into ${route.dev}: ${r.stderr}` }, failed: i };
    }
    if (fresh) added.push(route);
  }
  try {
    writeTable(dir, table);
  } catch (err) {
    await undo();
    return { result: { code: 2, stdout: '', stderr: `cannot write ${dir}/table.json: ${(err as Error).message}\n` } };
  }
  for (const p of plans) if (p.unsteer) await kernelRoute(ns, 'del', p.unsteer);
  return { result: { code: 0, stdout: '', stderr: '' } };
}

/** `wgmpls ip ARGS` in `ns` (default: the caller's namespace). */
export async function runIp(argv: readonly string[], ns?: IpNamespace): Promise<IpResult> {
  const cmd = parseIp(argv);
  if (isResult(cmd)) return cmd;
  const where = ns ?? ownNamespace();
  const dir = lsrDir(where.nsid);
  if (cmd.verb === 'show' || cmd.verb === 'flush') {
    // As ip: `show dev wgm7` for a device the namespace does not have is an error, not an empty list.
    try {
      validateCommandDevices(cmd, new Set(endpointsIn(dir)));
    } catch (err) {
      if (err instanceof RouteError) return { code: 1, stdout: '', stderr: `${err.message}\n` };
      throw err;
    }
  }

  if (cmd.verb === 'show') {
    const table = readTable(dir);
    const sockets = where.uapiSockets ?? endpointsIn(dir).map((ifname) => `/var/run/wireguard/${ifname}.sock`);
    const stats = cmd.stats > 0 ? await routeStats(sockets) : new Map<string, number>();
    return { code: 0, stdout: formatShow(cmd, [...table.mpls, ...table.ip], countersFor(stats)), stderr: '' };
  }

  if (cmd.verb === 'flush') {
    const table = readTable(dir);
    const gone = [...table.mpls, ...table.ip].filter((r) => routeMatches(cmd, r));
    table.mpls = table.mpls.filter((r) => !gone.includes(r));
    table.ip = table.ip.filter((r) => !gone.includes(r));
    if (table.backend === 'kernel') {
      try {
        applyKernelChanges(gone.map((r) => ({ before: r, after: null })), where.netnsPath);
      } catch (err) {
        if (err instanceof KernelRouteError) return { code: 2, stdout: '', stderr: `${err.message}\n` };
        throw err;
      }
      writeTable(dir, table);
      return { code: 0, stdout: '', stderr: '' };
    }
    writeTable(dir, table);
    for (const r of gone) if (!isMplsRoute(r)) await kernelRoute(where, 'del', r);
    return { code: 0, stdout: '', stderr: '' };
  }

  return (await applyIpCommands(where, [cmd])).result;
}

/**
 * `wgmpls sysctl ...`: read or set this namespace's LSR settings (every endpoint follows; with
 * the kernel backend the kernel's net.mpls.* too).
 */
export function runSysctl(argv: readonly string[]): IpResult {
  const dir = lsrDir(nsidOf());
  const table = readTable(dir);
  try {
    const r = sysctl(argv, table.settings);
    if (r.changed && table.backend === 'kernel') applyKernelSettings(table.settings, r.settings, undefined);
    if (r.changed) writeTable(dir, { ...table, settings: r.settings });
    return { code: 0, stdout: r.output, stderr: '' };
  } catch (err) {
    if (err instanceof RouteError) return { code: 255, stdout: '', stderr: `${err.message}\n` };
    throw err;
  }
}
