// A container as the route code needs it: its labels, whether it runs, and its network
// namespace (reachable by path, for nsenter and the namespace cookie). Asked of dockerd, so
// never from inside a driver request (docs/design.md section 5): only from event handlers and the CLI.
import { existsSync } from 'node:fs';
import { dockerClient } from '../docker/client';
import { z } from 'zod';
import type { IpNamespace } from '../../datapath/lsr/namespaceRoutes';
import { nsidOf } from '../../datapath/lsr/store';
import { sandboxPath } from '../datapaths/plumbing';
import { tunName } from '../driver/endpoints';

const Inspect = z.object({
  Id: z.string(),
  Name: z.string(),
  State: z.object({ Running: z.boolean().optional() }).nullish(),
  Config: z.object({ Labels: z.record(z.string()).nullish() }).nullish(),
  NetworkSettings: z
    .object({
      SandboxKey: z.string().optional(),
      Networks: z.record(z.object({ EndpointID: z.string().optional() })).nullish(),
    })
    .nullish(),
});

export interface ContainerInfo {
  id: string;
  /** Without Docker's leading slash. */
  name: string;
  running: boolean;
  labels: Record<string, string>;
  /** Docker's path of the namespace; null while the container has none (not running). */
  sandboxKey: string | null;
  /** One per network the container is on (wgmpls or not). */
  endpointIds: string[];
}

/** The container by name or id; null when dockerd has no such container. Throws when dockerd does not answer. */
export async function inspectContainer(nameOrId: string, docker = dockerClient()): Promise<ContainerInfo | null> {
  let raw: unknown;
  try {
    raw = await docker.getContainer(nameOrId).inspect();
  } catch (err) {
    if ((err as { statusCode?: unknown }).statusCode === 404) return null;
    throw new Error(`cannot ask dockerd about container ${nameOrId}: ${(err as Error).message.trim()}`);
  }
  const c = Inspect.parse(raw);
  return {
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    running: c.State?.Running === true,
    labels: c.Config?.Labels ?? {},
    sandboxKey: c.NetworkSettings?.SandboxKey || null,
    endpointIds: Object.values(c.NetworkSettings?.Networks ?? {}).flatMap((n) => (n.EndpointID ? [n.EndpointID] : [])),
  };
}

/**
 * Where the container's namespace can be opened from here: Docker's SandboxKey, or the same
 * file through dockerd's mount namespace when mount propagation hides it (plugin/README.md).
 */
export function namespacePath(c: ContainerInfo): string {
  if (!c.running || c.sandboxKey === null) throw new Error(`container ${c.name} is not running`);
  const path = sandboxPath(c.sandboxKey);
  if (path === null) throw new Error(`the network namespace of container ${c.name} (${c.sandboxKey}) cannot be found`);
  return path;
}

/** The label-switching router of a container (by name or id), for `wgmpls ip --container`. */
export async function containerNamespace(nameOrId: string): Promise<IpNamespace> {
  const c = await inspectContainer(nameOrId);
  if (c === null) throw new Error(`no such container: ${nameOrId}`);
  const netnsPath = namespacePath(c);
  // The datapaths' UAPI sockets keep the host name of their TUN (wgm<endpoint id>), not wgm0...
  const uapiSockets = c.endpointIds.map((id) => `/var/run/wireguard/${tunName(id)}.sock`).filter((p) => existsSync(p));
  return { nsid: nsidOf(netnsPath), netnsPath, uapiSockets };
}
