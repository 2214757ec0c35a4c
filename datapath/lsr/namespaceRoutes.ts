// `ip` route commands and sysctls applied to a namespace's label-switching router: its
// userspace label tables and the kernel routes that steer FTN prefixes into its TUNs.
// Validates everything first; installs the kernel route before writing the table, and takes
// it back if the table cannot be written. Works on any namespace (IpNamespace): the caller's
// own (`wgmpls ip` run inside it) or one reached by path (`wgmpls ip --container`, the plugin's
// `wgmpls.routes` label), whose kernel routes then go in through nsenter. One code path for
// all three, so they cannot drift.
import { connect } from 'node:net';
import { IpRoute, LsrTable, MplsRoute, RouteError } from './model';
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
import { ipIn } from '../sys/exec';

export interface IpResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The namespace whose label-switching router a command works on. */
export interface IpNamespace {
  /** Its cookie: the name of its tables' directory under /run/wgmpls/lsr. */
  nsid: string;
  /** Where its kernel routes go (`nsenter --net=PATH ip ...`); undefined: the caller's own namespace. */
  netnsPath?: string;
  /**
   * UAPI sockets of its datapaths, for `-s`. Undefined: /var/run/wireguard/<ifname>.sock of each
   * endpoint, which holds when the datapaths run in the namespace itself (not Docker's: there the
   * TUN was renamed after its datapath had named its socket).
   */
  uapiSockets?: string[];
}

/** The namespace this process runs in. */
export function ownNamespace(): IpNamespace {
  return { nsid: nsidOf() };
}

/** The kernel route that makes the local stack hand PREFIX to the TUN (the FTN sees it there). */
function kernelRoute(ns: IpNamespace, verb: 'replace' | 'del', r: IpRoute): Promise<{ code: number; stderr: string }> {
  const args = [r.prefix.addr.length === 4 ? '-4' : '-6', 'route', verb, prefixToString(r.prefix), 'dev', r.dev];
  return ipIn(ns.netnsPath, args, { timeoutMs: 10_000 });
}

/** Per-route counters summed over the namespace's endpoints (each counts what it switched). */
async function routeStats(sockets: string[]): Promise<Map<string, number>> {
  const sum = new Map<string, number>();
  await Promise.all(
    sockets.map(
      (path) =>
        new Promise<void>((resolve) => {
          const s = connect(path);
          let data = '';
          const done = (): void => {
            for (const line of data.split('\n')) {
              const eq = line.indexOf('=');
              if (eq < 0 || !line.startsWith('lsr.')) continue;
              const k = line.slice(0, eq);
              sum.set(k, (sum.get(k) ?? 0) + Number(line.slice(eq + 1)));
            }
            resolve();
          };
          s.setTimeout(2000, () => s.destroy());
          s.on('data', (d) => {
            data += d.toString();
            if (data.endsWith('\n\n')) s.end();
          });
          s.on('close', done);
          s.on('error', () => undefined);
          s.write('wgmpls-stats=1\n\n');
        }),
    ),
  );
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
    return isMplsRoute(old) ? {} : { unsteer: old };
  }
  try {
    validateDevices(route, known);
  } catch (err) {
    if (err instanceof RouteError) return { code: 1, stdout: '', stderr: `${err.message}\n` };
    throw err;
  }
  if (cmd.verb === 'add' && at >= 0) return { code: 2, stdout: '', stderr: 'RTNETLINK answers: File exists\n' };
  if (cmd.verb === 'change' && at < 0) return { code: 2, stdout: '', stderr: 'RTNETLINK answers: No such file or directory\n' };
  if (at >= 0) list[at] = route;
  else list.push(route);
  return isMplsRoute(route) ? {} : { steer: { route, fresh: at < 0 } };
}

export interface BatchResult {
  result: IpResult;
  /** Index of the command that failed (the others were not applied either). */
  failed?: number;
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
  const known = new Set(endpointsIn(dir));
  const plans: Plan[] = [];
  for (const [i, cmd] of cmds.entries()) {
    const p = plan(cmd, table, known);
    if (isResult(p)) return { result: p, failed: i };
    plans.push(p);
  }
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
    writeTable(dir, table);
    for (const r of gone) if (!isMplsRoute(r)) await kernelRoute(where, 'del', r);
    return { code: 0, stdout: '', stderr: '' };
  }

  return (await applyIpCommands(where, [cmd])).result;
}

/** `wgmpls sysctl ...`: read or set this namespace's LSR settings (every endpoint follows). */
export function runSysctl(argv: readonly string[]): IpResult {
  const dir = lsrDir(nsidOf());
  const table = readTable(dir);
  try {
    const r = sysctl(argv, table.settings);
    if (r.changed) writeTable(dir, { ...table, settings: r.settings });
    return { code: 0, stdout: r.output, stderr: '' };
  } catch (err) {
    if (err instanceof RouteError) return { code: 255, stdout: '', stderr: `${err.message}\n` };
    throw err;
  }
}
