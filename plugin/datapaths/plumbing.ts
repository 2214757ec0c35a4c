// Puts a restarted datapath's TUN back as Docker had set it up: the TUN dies with the process
// that held it, taking the container's interface (name, addresses, up state) along, and dockerd
// never redoes a Join. The worker creates the new TUN inside the sandbox under the name Docker
// chose; here it gets the IPAM addresses and is brought up, as Docker did. By rtnetlink from this
// process (the addon's socket, opened inside the sandbox), so putting a worker's worth of
// endpoints back spawns no `ip` or `nsenter` at all.
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
    netlinkAddon().procSys(`ipv6/conf/${r.containerIfname}/disable_ipv6`, '0', r.sandboxKey);
  }
  // Docker adds IPv6 addresses without duplicate address detection; so must we, or the address
  // stays tentative (unusable) for a second or two.
  for (const a of r.addresses) addAddress(r.containerIfname, a, r.sandboxKey, a.includes(':'));
  setLink(r.containerIfname, { up: true }, r.sandboxKey);
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
