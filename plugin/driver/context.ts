// What the request handlers share. Handlers run one at a time under `mutex` (see lock.ts).
import type { Log } from '../../datapath/log';
import type { Supervisor } from '../datapaths/supervisor';
import type { StateStore } from '../state/store';
import type { DockerEvents } from '../docker/events';
import type { SwarmExchange } from '../swarm/exchange';

export interface DriverContext {
  store: StateStore;
  supervisor: Supervisor;
  log: Log;
  /** Docker's event stream (container start/die/destroy, network connect/disconnect). */
  events?: DockerEvents;
  /** Swarm scope only: the endpoint exchange with the other nodes (and this node's address). */
  swarm?: SwarmExchange;
}
