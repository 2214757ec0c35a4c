// Which worker hosts a new endpoint's datapath. Endpoints of one container namespace go to the
// same worker, so that its label-switching router is one process and the hand-over between its
// interfaces a function call (datapath/lsr/siblings.ts); a new namespace goes to the worker with
// the fewest endpoints. Pure.
import type { EndpointState } from '../state/types';

/**
 * The slot (0 .. size-1) for `ep`, given every endpoint already placed. `running` says which
 * slots have a live worker: among equally loaded slots those win (no process to start).
 */
export function chooseSlot(ep: Pick<EndpointState, 'id' | 'sandboxKey' | 'nsid' | 'containerId'>, placed: readonly EndpointState[], size: number, running: (slot: number) => boolean): number {
  const sameNamespace = placed.find(
    (e) =>
      e.id !== ep.id &&
      e.worker !== undefined &&
      e.worker < size &&
      ((ep.sandboxKey !== undefined && e.sandboxKey === ep.sandboxKey) || (ep.nsid !== undefined && e.nsid === ep.nsid) || (ep.containerId !== undefined && e.containerId === ep.containerId)),
  );
  if (sameNamespace?.worker !== undefined) return sameNamespace.worker;
  const load = new Array<number>(size).fill(0);
  for (const e of placed) if (e.id !== ep.id && e.worker !== undefined && e.worker < size) load[e.worker]++;
  let best = 0;
  for (let s = 1; s < size; s++) {
    if (load[s] < load[best] || (load[s] === load[best] && running(s) && !running(best))) best = s;
  }
  return best;
}
