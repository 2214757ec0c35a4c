// Puts a restarted datapath's TUN back where Docker had put the original: the TUN dies with the
// process that held it, taking the container's interface (name, addresses, up state) along, and
// dockerd never redoes a Join. We redo what Docker did: move it into the sandbox, give it the
// name Docker chose, the IPAM addresses, and bring it up.
// `ip -n` only takes names under /var/run/netns, a SandboxKey is a path: nsenter does the rest.
import { must } from '../../datapath/sys/exec';
import { existsSync } from 'node:fs';
import { DockerdLookup, trustedDockerdPids } from '../docker/dockerdProcess';

export interface Replumb {
  hostIfname: string;
  sandboxKey: string;
  containerIfname: string;
  /** With prefix length, as IPAM gave them. */
  addresses: string[];
}

async function run(cmd: string, args: string[], input?: string): Promise<void> {
  await must(cmd, args, { input, timeoutMs: 10_000 });
}

export async function plumbIntoSandbox(r: Replumb): Promise<void> {
  const inSandbox = (cmd: string, args: string[], input?: string): Promise<void> => run('nsenter', [`--net=${r.sandboxKey}`, cmd, ...args], input);
  await run('ip', ['link', 'set', 'dev', r.hostIfname, 'netns', r.sandboxKey]);
  await inSandbox('ip', ['link', 'set', 'dev', r.hostIfname, 'name', r.containerIfname]);
  if (r.addresses.some((a) => a.includes(':'))) {
    // Docker turns IPv6 off for the whole sandbox (all/default) and on again per interface of an
    // IPv6 network; a new interface inherits "off". /proc/sys/net is that of the caller's netns.
    await inSandbox('sh', ['-c', 'echo 0 > "/proc/sys/net/ipv6/conf/$1/disable_ipv6"', 'wgmpls', r.containerIfname]);
  }
  const batch: string[] = [];
  for (const a of r.addresses) {
    // Docker adds IPv6 addresses without duplicate address detection; so must we, or the address
    // stays tentative (unusable) for a second or two.
    batch.push(`addr add ${a} dev ${r.containerIfname}${a.includes(':') ? ' nodad' : ''}`);
  }
  batch.push(`link set dev ${r.containerIfname} up`);
  await inSandbox('ip', ['-batch', '-'], batch.join('\n') + '\n');
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
