// Which worker hosts a new endpoint's datapath. Endpoints of one container namespace go to the
// same worker, so that its label-switching router is one process and the hand-over between its
// interfaces a function call (datapath/lsr/siblings.ts). A new namespace goes to the least loaded
// of the workers in use, which are at least `base` and more as the endpoints grow past
// `perWorker` each: what one crash takes down, and the time to put it back, stay bounded (the
// kernel takes some 20 ms to tear down each TUN of a killed worker). Pure.
import type { EndpointState } from '../state/types';

export interface PoolShape {
  /** Workers in use however few endpoints there are (a crash then takes down about 1/base). */
  base: number;
  /** Endpoints per worker beyond which another worker is opened. */
  perWorker: number;
  /** Never more workers than this. */
  max: number;
}

/** How many workers `endpoints` placed endpoints call for. */
export function workersFor(endpoints: number, shape: PoolShape): number {
  return Math.min(shape.max, Math.max(shape.base, Math.ceil(endpoints / shape.perWorker)));
}

/**
 * The slot for `ep`, given every endpoint already placed. `running` says which slots have a live
 * worker: among equally loaded slots those win (no process to start), then the lowest.
 */
export function chooseSlot(ep: Pick<EndpointState, 'id' | 'sandboxKey' | 'nsid' | 'containerId'>, placed: readonly EndpointState[], shape: PoolShape, running: (slot: number) => boolean): number {
  const others = placed.filter((e) => e.id !== ep.id && e.worker !== undefined);
  const sameNamespace = others.find(
    (e) => (ep.sandboxKey !== undefined && e.sandboxKey === ep.sandboxKey) || (ep.nsid !== undefined && e.nsid === ep.nsid) || (ep.containerId !== undefined && e.containerId === ep.containerId),
  );
  if (sameNamespace?.worker !== undefined && sameNamespace.worker < shape.max) return sameNamespace.worker;
  const size = workersFor(others.length + 1, shape);
  const load = new Array<number>(size).fill(0);
  for (const e of others) if ((e.worker ?? size) < size) load[e.worker ?? 0]++;
  let best = 0;
  for (let s = 1; s < size; s++) {
    if (load[s] < load[best] || (load[s] === load[best] && running(s) && !running(best))) best = s;
  }
  return best;
}
