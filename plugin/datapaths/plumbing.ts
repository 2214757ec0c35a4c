// Puts a restarted datapath's TUN back where Docker had put the original: the TUN dies with the
// process that held it, taking the container's interface (name, addresses, up state) along, and
// dockerd never redoes a Join. We redo what Docker did: move it into the sandbox, give it the
// name Docker chose, the IPAM addresses, and bring it up. By rtnetlink from this process (the
// addon's socket, opened inside the sandbox for the steps there), so putting a worker's worth of
// endpoints back spawns no `ip` or `nsenter` at all.
import { closeSync, existsSync, openSync } from 'node:fs';
import { netlinkAddon } from '../../datapath/netlink/native';
import { addAddress, setLink } from '../../datapath/netlink/links';
import { DockerdLookup, trustedDockerdPids } from '../docker/dockerdProcess';

export interface Replumb {
  hostIfname: string;
  sandboxKey: string;
  containerIfname: string;
  /** With prefix length, as IPAM gave them. */
  addresses: string[];
}

export async function plumbIntoSandbox(r: Replumb): Promise<void> {
  const nsFd = openSync(r.sandboxKey, 'r');
  try {
    setLink(r.hostIfname, { netnsFd: nsFd }, undefined);
  } finally {
    closeSync(nsFd);
  }
  setLink(r.hostIfname, { name: r.containerIfname }, r.sandboxKey);
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
