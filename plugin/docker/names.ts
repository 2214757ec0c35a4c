// Names for ids, from dockerd: only for display (wgmpls show), never from inside a driver
// request (dockerd may be waiting on that very request and would not answer).
import { dockerClient } from './client';
import { z } from 'zod';

const NetworkInspect = z.object({
  Id: z.string(),
  Name: z.string(),
  Containers: z.record(z.object({ Name: z.string().optional(), EndpointID: z.string().optional() })).nullish(),
});

export interface DockerNames {
  networks: Map<string, string>;
  /** Endpoint id -> container name. */
  containers: Map<string, string>;
}

export async function dockerNames(networkIds: readonly string[], timeoutMs = 3000): Promise<DockerNames> {
  const names: DockerNames = { networks: new Map(), containers: new Map() };
  const docker = dockerClient(timeoutMs);
  for (const id of networkIds) {
    let info: z.infer<typeof NetworkInspect>;
    try {
      info = NetworkInspect.parse(await docker.getNetwork(id).inspect());
    } catch {
      continue; // gone from dockerd, or dockerd does not answer: ids will do
    }
    names.networks.set(id, info.Name);
    for (const c of Object.values(info.Containers ?? {})) {
      if (c.EndpointID && c.Name) names.containers.set(c.EndpointID, c.Name);
    }
  }
  return names;
}
