// Which endpoint each container has on each network, from dockerd's container list. The list
// is served from dockerd's in-memory view without taking container locks, so it answers even
// while a container is being started - and it is never asked from inside a driver request.
import { dockerClient } from '../docker/client';
import { z } from 'zod';
import type { ContainerNetworks } from './reconcile';

const ContainerList = z.array(
  z.object({
    Id: z.string(),
    NetworkSettings: z
      .object({ Networks: z.record(z.object({ NetworkID: z.string().optional(), EndpointID: z.string().optional() }).nullish()).nullish() })
      .nullish(),
  }),
);

/** Every container (running or not) with its networks; null when dockerd does not answer. */
export async function dockerContainers(timeoutMs = 5000): Promise<ContainerNetworks | null> {
  const docker = dockerClient(timeoutMs);
  let list: z.infer<typeof ContainerList>;
  try {
    list = ContainerList.parse(await docker.listContainers({ all: true }));
  } catch {
    return null;
  }
  const out = new Map<string, Map<string, string>>();
  for (const c of list) {
    const networks = new Map<string, string>();
    // Keyed by network name; a stopped container keeps NetworkID and loses EndpointID.
    for (const n of Object.values(c.NetworkSettings?.Networks ?? {})) if (n?.NetworkID) networks.set(n.NetworkID, n.EndpointID ?? '');
    out.set(c.Id, networks);
  }
  return out;
}

const NetworkInspect = z.object({ Containers: z.record(z.object({ EndpointID: z.string().optional() })).nullish() });

/**
 * Of these network ids, those dockerd still has, with the endpoints attached to each. Asked by id
 * because the driver name is not always ours alone: a managed plugin's networks have the driver
 * "wgmpls:latest". Null when dockerd does not answer.
 */
export async function networksById(ids: readonly string[], timeoutMs = 5000): Promise<Map<string, Set<string>> | null> {
  const docker = dockerClient(timeoutMs);
  const found = new Map<string, Set<string>>();
  for (const id of ids) {
    try {
      const info = NetworkInspect.parse(await docker.getNetwork(id).inspect());
      found.set(id, new Set(Object.values(info.Containers ?? {}).flatMap((c) => (c.EndpointID ? [c.EndpointID] : []))));
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) return null; // not an answer
    }
  }
  return found;
}
