// What dockerd knows about wgmpls networks: their ids and the endpoint ids of the containers
// attached to them. Asked outside any driver request (see names.ts for why).
import Docker from 'dockerode';
import { z } from 'zod';
import { DRIVER_NAME } from '../config';

const NetworkList = z.array(z.object({ Id: z.string(), Driver: z.string().optional() }));
const NetworkInspect = z.object({
  Containers: z.record(z.object({ EndpointID: z.string().optional() })).nullish(),
});

/** Network id -> endpoint ids Docker has attached; null when dockerd does not answer. */
export async function dockerView(timeoutMs = 5000): Promise<Map<string, Set<string>> | null> {
  const docker = new Docker({ socketPath: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock', timeout: timeoutMs });
  try {
    const list = NetworkList.parse(await docker.listNetworks({ filters: { driver: [DRIVER_NAME] } }));
    const view = new Map<string, Set<string>>();
    for (const n of list) {
      if (n.Driver !== undefined && n.Driver !== DRIVER_NAME) continue;
      const info = NetworkInspect.parse(await docker.getNetwork(n.Id).inspect());
      view.set(n.Id, new Set(Object.values(info.Containers ?? {}).flatMap((c) => (c.EndpointID ? [c.EndpointID] : []))));
    }
    return view;
  } catch {
    return null;
  }
}
