// What the request handlers share. Handlers run one at a time under `mutex` (see lock.ts).
import type { Log } from '../../datapath/log';
import type { Supervisor } from '../datapaths/supervisor';
import type { StateStore } from '../state/store';

export interface DriverContext {
  store: StateStore;
  supervisor: Supervisor;
  log: Log;
}
