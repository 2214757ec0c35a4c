// What dockerd knows about wgmpls networks: their ids and the endpoint ids of the containers
// attached to them. Asked outside any driver request (see names.ts for why).
import { dockerClient } from './client';
import { z } from 'zod';
import { isOurDriver } from '../config';

const NetworkList = z.array(z.object({ Id: z.string(), Driver: z.string().optional() }));
const NetworkInspect = z.object({
  Containers: z.record(z.object({ EndpointID: z.string().optional() })).nullish(),
});

/** Network id -> endpoint ids Docker has attached; null when dockerd does not answer. */
export async function dockerView(driver: string, timeoutMs = 5000): Promise<Map<string, Set<string>> | null> {
  const docker = dockerClient(timeoutMs);
  try {
    // Not filtered by driver in the query: a managed plugin's networks say `wgmpls:latest`.
    const list = NetworkList.parse(await docker.listNetworks());
    const view = new Map<string, Set<string>>();
    for (const n of list) {
      if (!isOurDriver(n.Driver, driver)) continue;
      const info = NetworkInspect.parse(await docker.getNetwork(n.Id).inspect());
      view.set(n.Id, new Set(Object.values(info.Containers ?? {}).flatMap((c) => (c.EndpointID ? [c.EndpointID] : []))));
    }
    return view;
  } catch {
    return null;
  }
}
