// Puts a restarted datapath's TUN back as Docker had set it up: the TUN dies with the process
// that held it, taking the container's interface (name, addresses, up state) along, and dockerd
// never redoes a Join. The worker creates the new TUN inside the sandbox under the name Docker
// chose; here it gets the IPAM addresses and is brought up, as Docker did. By rtnetlink from this
// process (the addon's socket, opened inside the sandbox), so putting a worker's worth of
// endpoints back spawns no `ip` or `nsenter` at all.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { netlinkAddon } from '../../datapath/netlink/native';
import { addAddress, setLink } from '../../datapath/netlink/links';
import { DockerdLookup, trustedDockerdPids } from '../docker/dockerdProcess';

export interface Replumb {
  /** A usable path of the container's namespace (sandboxPath). */
  sandboxKey: string;
  /** The TUN's name there (wgm0...). */
  containerIfname: string;
  /** With prefix length, as IPAM gave them. */
  addresses: string[];
}

export function setUpInSandbox(r: Replumb): void {
  if (r.addresses.some((a) => a.includes(':'))) {
    // Docker turns IPv6 off for the whole sandbox (all/default) and on again per interface of an
    // IPv6 network; a new interface inherits "off". /proc/sys/net is that of the opener's netns.
    enableIpv6(r.containerIfname, r.sandboxKey);
  }
  // Docker adds IPv6 addresses without duplicate address detection; so must we, or the address
  // stays tentative (unusable) for a second or two.
  for (const a of r.addresses) addAddress(r.containerIfname, a, r.sandboxKey, a.includes(':'));
  setLink(r.containerIfname, { up: true }, r.sandboxKey);
}

/**
 * disable_ipv6=0 on the interface, written from inside the sandbox. In a managed plugin /proc/sys
 * is mounted read-only (no way around it without --privileged, which these kernels refuse); then
 * the same file is written through dockerd's root, whose /proc is writable: what a /proc/sys/net
 * file shows depends on the netns of the process that opens it, not on the mount, so `nsenter
 * --net` into the sandbox first reaches the container's setting all the same.
 */
function enableIpv6(ifname: string, sandbox: string): void {
  const rel = `ipv6/conf/${ifname}/disable_ipv6`;
  try {
    netlinkAddon().procSys(rel, '0', sandbox);
    return;
  } catch (err) {
    if (!/Read-only file system|EROFS/.test((err as Error).message)) throw err;
  }
  for (const pid of trustedDockerdPids()) {
    const file = `/proc/${pid}/root/proc/sys/net/${rel}`;
    const r = spawnSync('nsenter', [`--net=${sandbox}`, 'sh', '-c', 'echo 0 > "$1"', 'sh', file], { encoding: 'utf8', timeout: 5000 });
    if (r.status === 0) return;
    if (pid === trustedDockerdPids().at(-1)) throw new Error(`cannot enable IPv6 on ${ifname}: /proc/sys is read-only and ${file} refused (${(r.stderr || r.error?.message || '').trim()})`);
  }
  throw new Error(`cannot enable IPv6 on ${ifname}: /proc/sys is read-only and no dockerd was found to write through`);
}

/**
 * A usable path for a SandboxKey, or null when the namespace is gone. Run in a container (with
 * --pid host), the plugin does not see the bind mounts dockerd makes under /var/run/docker/netns
 * after it started (unless mount propagation is shared, which it is not on every host);
 * /proc/<dockerd>/root/... reaches them through dockerd's own mount namespace. Absolute symlinks
 * there resolve against our root, so /var/run (a link to /run) is tried as /run too.
 */
export function sandboxPath(sandboxKey: string, dockerd: DockerdLookup = {}): string | null {
  if (existsSync(sandboxKey)) return sandboxKey;
  const variants = [sandboxKey, sandboxKey.replace(/^\/var\/run\//, '/run/')];
  // Only a dockerd identified by what root controls (docker/dockerdProcess.ts), never by name:
  // another user's process named "dockerd" could offer a namespace of its own at that path.
  for (const pid of trustedDockerdPids(dockerd)) {
    for (const v of variants) if (existsSync(`/proc/${pid}/root${v}`)) return `/proc/${pid}/root${v}`;
  }
  return null;
}
