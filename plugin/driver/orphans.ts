// Networks and endpoints the plugin remembers but dockerd has forgotten: dockerd tells a driver
// about teardown only once, and if the plugin was down then (or dockerd crashed), the datapath
// and its state would stay forever. Compared with dockerd's view at start-up.
//
// Young entries are never orphans: dockerd calls CreateNetwork / CreateEndpoint before it
// records them, and a container being started has an endpoint before it shows up on the network.
// They are looked at again once old enough: an endpoint half made when the plugin was killed
// in the middle of CreateEndpoint (dockerd saw the call fail) is young at the restart.
import { sandboxPath } from '../datapaths/plumbing';
import type { Mutex } from '../lock';
import type { EndpointState, NetworkState } from '../state/types';
import type { DriverContext } from './context';
import { networksById } from './containers';
import { retireEndpoint } from './identity';
import { watchContainers } from './watch';

export const MIN_ORPHAN_AGE_MS = 60_000;

export interface Orphans {
  networks: string[];
  endpoints: string[];
  /** When the youngest entry that is an orphan but for its age is old enough; null: none. */
  recheckInMs: number | null;
}

export function findOrphans(
  networks: readonly NetworkState[],
  endpoints: readonly EndpointState[],
  docker: ReadonlyMap<string, ReadonlySet<string>>,
  now: number,
  sandboxExists: (path: string) => boolean,
): Orphans {
  let recheckInMs: number | null = null;
  const old = (createdAt: string): boolean => {
    const left = MIN_ORPHAN_AGE_MS - (now - Date.parse(createdAt));
    if (left > 0) recheckInMs = Math.min(recheckInMs ?? left, left);
    return left <= 0;
  };
  const goneNetworks = new Set(networks.filter((n) => !docker.has(n.id) && old(n.createdAt)).map((n) => n.id));
  const orphanEndpoints = endpoints.filter((e) => {
    if (goneNetworks.has(e.networkId)) return true;
    const attached = docker.get(e.networkId);
    if (!attached || attached.has(e.id)) return false;
    // Not attached to any container per dockerd, and no live container namespace of its own.
    if (e.sandboxKey !== undefined && sandboxExists(e.sandboxKey)) return false;
    return old(e.createdAt);
  });
  return { networks: [...goneNetworks], endpoints: orphanEndpoints.map((e) => e.id), recheckInMs };
}

export interface PruneOutcome {
  /** False when dockerd did not answer (try later). */
  answered: boolean;
  /** Look again this much later: some entries were too young to judge. */
  recheckInMs: number | null;
}

/** Removes the orphans dockerd's view reveals. */
export async function pruneOrphans(
  ctx: DriverContext,
  mutex: Mutex,
  view: () => Promise<ReadonlyMap<string, ReadonlySet<string>> | null>,
): Promise<PruneOutcome> {
  // Called at start-up by plugin/main.ts (then again until dockerd answers, and when young
  // entries have aged): the container watch starts here, on the same event stream and lock, once.
  watchContainers(ctx, mutex);
  // Asked before taking the lock: dockerd may be waiting on a request that waits on the lock.
  const listed = await view();
  if (listed === null) return { answered: false, recheckInMs: null };
  // The view lists networks by driver name; ours may be listed under another (a managed plugin's
  // is "wgmpls:latest"). A network is gone only when dockerd says so for its id.
  const unlisted = ctx.store.networks().filter((n) => !listed.has(n.id)).map((n) => n.id);
  const stillThere = await networksById(unlisted);
  if (stillThere === null) return { answered: false, recheckInMs: null };
  const docker = new Map([...listed, ...stillThere]);
  return mutex.run(async () => {
    const { store, supervisor, log } = ctx;
    const found = findOrphans(store.networks(), store.endpoints(), docker, Date.now(), (key) => sandboxPath(key) !== null);
    const touched = new Set<string>();
    for (const id of found.endpoints) {
      const ep = store.endpoint(id);
      if (!ep) continue;
      log.warn({ network: ep.networkId.slice(0, 12), endpoint: ep.id.slice(0, 12), ifname: ep.ifname }, 'endpoint unknown to dockerd; removing it');
      // Its container may still exist (stopped while we were down): it keeps its identity.
      await retireEndpoint(ctx, ep, true);
      touched.add(ep.networkId);
    }
    for (const id of found.networks) {
      log.warn({ network: id.slice(0, 12) }, 'network unknown to dockerd; removing it');
      store.deleteNetwork(id);
      touched.delete(id);
    }
    for (const id of touched) await supervisor.syncNetwork(id);
    return { answered: true, recheckInMs: found.recheckInMs };
  });
}
