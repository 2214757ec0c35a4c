// Networks and endpoints the plugin remembers but dockerd has forgotten: dockerd tells a driver
// about teardown only once, and if the plugin was down then (or dockerd crashed), the datapath
// and its state would stay forever. Compared with dockerd's view at start-up.
//
// Young entries are never orphans: dockerd calls CreateNetwork / CreateEndpoint before it
// records them, and a container being started has an endpoint before it shows up on the network.
import { sandboxPath } from '../datapaths/plumbing';
import type { Mutex } from '../lock';
import type { EndpointState, NetworkState } from '../state/types';
import type { DriverContext } from './context';

export const MIN_ORPHAN_AGE_MS = 60_000;

export interface Orphans {
  networks: string[];
  endpoints: string[];
}

export function findOrphans(
  networks: readonly NetworkState[],
  endpoints: readonly EndpointState[],
  docker: ReadonlyMap<string, ReadonlySet<string>>,
  now: number,
  sandboxExists: (path: string) => boolean,
): Orphans {
  const old = (createdAt: string): boolean => now - Date.parse(createdAt) >= MIN_ORPHAN_AGE_MS;
  const goneNetworks = new Set(networks.filter((n) => !docker.has(n.id) && old(n.createdAt)).map((n) => n.id));
  const orphanEndpoints = endpoints.filter((e) => {
    if (goneNetworks.has(e.networkId)) return true;
    const attached = docker.get(e.networkId);
    if (!attached || attached.has(e.id) || !old(e.createdAt)) return false;
    // Not attached to any container per dockerd, and no live container namespace of its own.
    return e.sandboxKey === undefined || !sandboxExists(e.sandboxKey);
  });
  return { networks: [...goneNetworks], endpoints: orphanEndpoints.map((e) => e.id) };
}

/** Removes the orphans dockerd's view reveals; false when dockerd did not answer (try later). */
export async function pruneOrphans(
  ctx: DriverContext,
  mutex: Mutex,
  view: () => Promise<ReadonlyMap<string, ReadonlySet<string>> | null>,
): Promise<boolean> {
  // Asked before taking the lock: dockerd may be waiting on a request that waits on the lock.
  const docker = await view();
  if (docker === null) return false;
  await mutex.run(async () => {
    const { store, supervisor, log } = ctx;
    const found = findOrphans(store.networks(), store.endpoints(), docker, Date.now(), (key) => sandboxPath(key) !== null);
    const touched = new Set<string>();
    for (const id of found.endpoints) {
      const ep = store.endpoint(id);
      if (!ep) continue;
      log.warn({ network: ep.networkId.slice(0, 12), endpoint: ep.id.slice(0, 12), ifname: ep.ifname }, 'endpoint unknown to dockerd; removing it');
      await supervisor.stop(ep);
      store.deleteEndpoint(id);
      touched.add(ep.networkId);
    }
    for (const id of found.networks) {
      log.warn({ network: id.slice(0, 12) }, 'network unknown to dockerd; removing it');
      store.deleteNetwork(id);
      touched.delete(id);
    }
    for (const id of touched) await supervisor.syncNetwork(id);
  });
  return true;
}
