// Puts a container's `wgmpls.routes` into its label-switching router, all or nothing, once the
// interfaces they name are there. Docker moves and renames a TUN (wgm0, wgm1...) after Join and
// brings it up later still; a `network connect` event can precede all of that. An interface is
// ready once its datapath has joined the namespace's router under that name (its sibling socket
// <lsrDir>/<ifname>.sock exists) and the link is up (a kernel route through a down link is refused).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { applyIpCommands } from '../../datapath/lsr/namespaceRoutes';
import { listLinks } from '../../datapath/netlink/links';
import type { LsrMode } from '../../datapath/lsr/model';
import { LSR_ROOT, nsidOf } from '../../datapath/lsr/store';
import { RouteLine, RoutesLabelError, describeLine, devicesNamed } from './label';

export interface ApplyOptions {
  /** How long to wait for the interfaces the routes name. */
  waitMs: number;
  pollMs?: number;
  /** False once waiting is pointless (the plugin stops, the container died). */
  wanted?: () => boolean;
  /** Who switches the labels (the networks' wgmpls.lsr); default auto. */
  lsr?: LsrMode;
}

/** Interface name -> up, in the namespace at `netnsPath` (a netlink dump, as `ip link` makes). */
function linksIn(netnsPath: string): Map<string, boolean> {
  try {
    return new Map(listLinks(netnsPath).map((l) => [l.name, l.up]));
  } catch {
    // The namespace went away while waiting: no links; the caller sees it gone.
    return new Map();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The devices not ready yet, after waiting up to opts.waitMs for them ([] = all ready). */
async function waitForDevices(devices: readonly string[], nsid: string, netnsPath: string, opts: ApplyOptions): Promise<string[]> {
  const dir = join(LSR_ROOT, nsid);
  const end = Date.now() + opts.waitMs;
  for (;;) {
    const joined = devices.filter((d) => existsSync(join(dir, `${d}.sock`)));
    const links = joined.length > 0 ? linksIn(netnsPath) : new Map<string, boolean>();
    const missing = devices.filter((d) => !joined.includes(d) || links.get(d) !== true);
    if (missing.length === 0 || Date.now() >= end || !existsSync(netnsPath) || opts.wanted?.() === false) return missing;
    await sleep(opts.pollMs ?? 100);
  }
}

/** Applies the parsed lines in the namespace at `netnsPath`; throws RoutesLabelError naming the problem. */
export async function applyRoutes(lines: readonly RouteLine[], netnsPath: string, opts: ApplyOptions): Promise<void> {
  if (lines.length === 0) return;
  const nsid = nsidOf(netnsPath);
  const missing = await waitForDevices(devicesNamed(lines), nsid, netnsPath, opts);
  if (missing.length > 0) {
    const first = lines.find((l) => missing.includes(l.cmd.route?.dev ?? ''));
    const where = first ? `${describeLine(first.n, first.text)}: ` : '';
    throw new RoutesLabelError(
      `${where}Cannot find device "${missing[0]}" (${missing.join(', ')} not up in the container after ${Math.round(opts.waitMs / 1000)} s: is it on that many wgmpls networks?)`,
    );
  }
  const { result, failed } = await applyIpCommands({ nsid, netnsPath, lsr: opts.lsr }, lines.map((l) => l.cmd));
  if (result.code !== 0) {
    const line = failed !== undefined ? lines[failed] : undefined;
    const where = line ? `${describeLine(line.n, line.text)}: ` : '';
    throw new RoutesLabelError(`${where}${result.stderr.trim()}`);
  }
}
