// `wgmpls ip ...`: iproute2's route syntax over the namespace's userspace label tables.
// Validates everything first; installs the kernel route that steers an FTN prefix into its
// TUN before writing the table, and takes it back if the table cannot be written.
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { IpRoute, MplsRoute, RouteError } from '../datapath/lsr/model';
import { endpointsIn, lsrDir, nsidOf, readTable, writeTable } from '../datapath/lsr/store';
import { IpCommand, RouteCounters, formatShow, isMplsRoute, parseIpArgs, routeKey, routeMatches, validateDevices } from '../datapath/lsr/syntax';
import { prefixToString } from '../datapath/net/addr';
import { sysctl } from '../datapath/lsr/sysctl';

export interface IpResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, _stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stderr: String(stderr) });
    });
  });
}

const isMpls = isMplsRoute;

/** The kernel route that makes the local stack hand PREFIX to the TUN (the FTN sees it there). */
function kernelRouteArgs(verb: 'replace' | 'del', r: IpRoute): string[] {
  return [r.prefix.addr.length === 4 ? '-4' : '-6', 'route', verb, prefixToString(r.prefix), 'dev', r.dev];
}

/** Per-route counters summed over the namespace's endpoints (each counts what it switched). */
async function routeStats(endpoints: string[]): Promise<Map<string, number>> {
  const sum = new Map<string, number>();
  await Promise.all(
    endpoints.map(
      (ifname) =>
        new Promise<void>((resolve) => {
          const s = connect(`/var/run/wireguard/${ifname}.sock`);
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

export async function runIp(argv: string[]): Promise<IpResult> {
  let cmd: IpCommand;
  try {
    cmd = parseIpArgs(argv);
  } catch (err) {
    if (err instanceof RouteError) return { code: 255, stdout: '', stderr: `Error: ${err.message}\n` };
    throw err;
  }
  const dir = lsrDir(nsidOf());
  const table = readTable(dir);
  const endpoints = endpointsIn(dir);

  if (cmd.verb === 'show') {
    const stats = cmd.stats > 0 ? await routeStats(endpoints) : new Map<string, number>();
    return { code: 0, stdout: formatShow(cmd, [...table.mpls, ...table.ip], countersFor(stats)), stderr: '' };
  }

  if (cmd.verb === 'flush') {
    const gone = [...table.mpls, ...table.ip].filter((r) => routeMatches(cmd, r));
    table.mpls = table.mpls.filter((r) => !gone.includes(r));
    table.ip = table.ip.filter((r) => !gone.includes(r));
    writeTable(dir, table);
    for (const r of gone) if (!isMplsRoute(r)) await run('ip', kernelRouteArgs('del', r));
    return { code: 0, stdout: '', stderr: '' };
  }

  const route = cmd.route;
  if (!route) return { code: 255, stdout: '', stderr: 'Error: missing route\n' };
  const key = routeKey(route);
  const list: (MplsRoute | IpRoute)[] = isMpls(route) ? table.mpls : table.ip;
  const at = list.findIndex((r) => routeKey(r) === key);

  if (cmd.verb === 'del') {
    if (at < 0) return { code: 2, stdout: '', stderr: 'RTNETLINK answers: No such process\n' };
    const old = list[at];
    list.splice(at, 1);
    writeTable(dir, table);
    if (!isMpls(old)) await run('ip', kernelRouteArgs('del', old));
    return { code: 0, stdout: '', stderr: '' };
  }

  try {
    validateDevices(route, new Set(endpoints));
  } catch (err) {
    if (err instanceof RouteError) return { code: 1, stdout: '', stderr: `${err.message}\n` };
    throw err;
  }
  if (cmd.verb === 'add' && at >= 0) return { code: 2, stdout: '', stderr: 'RTNETLINK answers: File exists\n' };
  if (cmd.verb === 'change' && at < 0) return { code: 2, stdout: '', stderr: 'RTNETLINK answers: No such file or directory\n' };

  if (!isMpls(route)) {
    const r = await run('ip', kernelRouteArgs('replace', route));
    if (r.code !== 0) return { code: 2, stdout: '', stderr: `cannot steer ${prefixToString(route.prefix)} into ${route.dev}: ${r.stderr}` };
  }
  if (at >= 0) list[at] = route;
  else list.push(route);
  try {
    writeTable(dir, table);
  } catch (err) {
    if (!isMpls(route) && at < 0) await run('ip', kernelRouteArgs('del', route));
    return { code: 2, stdout: '', stderr: `cannot write ${dir}/table.json: ${(err as Error).message}\n` };
  }
  return { code: 0, stdout: '', stderr: '' };
}

/** `wgmpls sysctl ...`: read or set this namespace's LSR settings (every endpoint follows). */
export function runSysctl(argv: string[]): IpResult {
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
