// The plugin's datapath worker processes, by slot: spawned on demand, recorded in the state
// (pid + start time) so that a restarted plugin re-adopts them (they outlive it on purpose, as
// the per-endpoint datapaths did), each watched through its control connection so that its
// death is known at once. What to do about a death is the supervisor's business.
import { chmodSync, mkdirSync, readdirSync, rmdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Log } from '../../datapath/log';
import { WORKER_PROTOCOL } from '../../datapath/worker/protocol';
import { PluginPaths, workerDirFor } from '../config';
import type { StateStore } from '../state/store';
import type { DatapathRef, WorkerRef } from '../state/types';
import type { PoolShape } from './placement';
import { isAlive, logTail, removeIfExists, runsWorker, spawnWorker, stopDatapath, workersIn } from './process';
import { WorkerClient } from './workerClient';

/** How long a new worker may take to listen (Node's start; under heavy load, much more than usual). */
const SPAWN_TIMEOUT_MS = 15_000;

export interface WorkerHandle {
  slot: number;
  ref: DatapathRef;
  client: WorkerClient;
  /** The host-side interface names it runs an endpoint for. */
  hosted: Set<string>;
}

export interface WarmUpSpec {
  mtu: number;
  listenAddress: string;
  mplsPeers: 'seed' | 'any';
}

export class WorkerPool {
  private readonly handles = new Map<number, WorkerHandle>();
  /** Told when a worker's control connection drops without our asking (it died). */
  onDeath: (slot: number) => void = () => undefined;

  constructor(
    private readonly store: StateStore,
    private readonly paths: PluginPaths,
    private readonly log: Log,
    readonly shape: PoolShape,
  ) {}

  /** Where this plugin's workers' control sockets are. */
  get dir(): string {
    return this.paths.workerDir ?? workerDirFor(this.store.dir);
  }

  /**
   * A new control socket for the slot, never one a process had before: a killed worker may
   * still be exiting (closing its TUNs takes the kernel a while) while its successor starts.
   */
  private newControlPath(slot: number): string {
    return join(this.dir, `${slot}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}.sock`);
  }

  /** The control socket of a recorded worker (state from before they had their own: `<slot>.sock`). */
  controlOf(slot: number, ref: WorkerRef): string {
    return ref.control ?? join(this.dir, `${slot}.sock`);
  }

  logFile(slot: number): string {
    return join(this.paths.logDir, `worker-${slot}.log`);
  }

  /** The slot's worker when it runs and answers, else null. */
  get(slot: number): WorkerHandle | null {
    const h = this.handles.get(slot);
    if (!h) return null;
    if (h.client.closed || !isAlive(h.ref)) {
      this.died(slot, h);
      return null;
    }
    return h;
  }

  running(): WorkerHandle[] {
    return [...this.handles.keys()].map((s) => this.get(s)).filter((h): h is WorkerHandle => h !== null);
  }

  /**
   * Starts the slot's worker and connects to it. The slot's previous process, if it still runs
   * (a connection that broke, or a killed process still exiting), is killed without waiting: its
   * endpoints are about to be put back here.
   */
  async spawn(slot: number, warm: WarmUpSpec, deferWarmUp: boolean): Promise<WorkerHandle> {
    const t0 = Date.now();
    const old = this.store.workers().get(slot);
    if (old && isAlive(old) && runsWorker(old, this.controlOf(slot, old))) {
      try {
        process.kill(old.pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    if (old) removeIfExists(this.controlOf(slot, old)); // a killed one's socket stays behind
    const control = this.newControlPath(slot);
    mkdirSync(dirname(control), { recursive: true, mode: 0o700 });
    chmodSync(dirname(control), 0o700);
    const logFile = this.logFile(slot);
    const ref: WorkerRef = { ...spawnWorker({ cli: this.paths.cli, control, ...warm, deferWarmUp, logFile }), control };
    try {
      this.store.putWorker(slot, ref);
    } catch (err) {
      // A state that cannot be saved must not leave a process running that it does not name.
      await stopDatapath(ref);
      removeIfExists(control);
      throw err;
    }
    let client: WorkerClient;
    try {
      client = await WorkerClient.connect(control, SPAWN_TIMEOUT_MS, () => isAlive(ref));
      const hello = await client.hello();
      if (hello.pid !== ref.pid) throw new Error(`pid ${hello.pid} answers on ${control}, not the worker started (${ref.pid})`);
    } catch (err) {
      await stopDatapath(ref);
      this.store.deleteWorker(slot);
      removeIfExists(control);
      throw new Error(`datapath worker ${slot} did not start: ${(err as Error).message}${logTail(logFile) ? `: ${logTail(logFile)}` : ''}`);
    }
    this.log.info({ worker: slot, pid: ref.pid, deferWarmUp, ms: Date.now() - t0 }, 'datapath worker started');
    return this.track(slot, ref, client, []);
  }

  /**
   * Connects to the slot's worker recorded in the state, if it still runs and speaks this
   * build's protocol; otherwise stops whatever of it is left and forgets it (null).
   */
  async adopt(slot: number, ref: WorkerRef): Promise<WorkerHandle | null> {
    const control = this.controlOf(slot, ref);
    if (!isAlive(ref) || !runsWorker(ref, control)) {
      this.store.deleteWorker(slot);
      return null;
    }
    let why: string;
    try {
      const client = await WorkerClient.connect(control, 3000, () => isAlive(ref));
      try {
        const hello = await client.hello();
        if (hello.pid === ref.pid && hello.protocol === WORKER_PROTOCOL) return this.track(slot, ref, client, hello.endpoints.map((e) => e.ifname));
        why = hello.pid !== ref.pid ? `pid ${hello.pid} answers on its socket` : `it speaks protocol ${hello.protocol}, this build ${WORKER_PROTOCOL}`;
      } catch (err) {
        why = (err as Error).message;
      }
      client.close();
    } catch (err) {
      why = (err as Error).message;
    }
    this.log.warn({ worker: slot, pid: ref.pid, why }, 'datapath worker runs but cannot be kept; stopping it');
    await stopDatapath(ref);
    this.store.deleteWorker(slot);
    removeIfExists(control);
    return null;
  }

  /**
   * Workers of this plugin that no state names (the plugin was killed between starting one and
   * recording it): they host nothing yet, since endpoints are added only once the worker is
   * recorded. Stopped at start-up.
   */
  async stopUnrecorded(): Promise<void> {
    const recorded = new Set([...this.store.workers().values()].map((r) => `${r.pid}/${r.startTime}`));
    for (const w of workersIn(this.dir)) {
      if (recorded.has(`${w.ref.pid}/${w.ref.startTime}`)) continue;
      this.log.warn({ pid: w.ref.pid, control: w.control }, 'a datapath worker no state names (the plugin died while starting it); stopping it');
      await stopDatapath(w.ref);
    }
  }

  /** Stops the slot's worker (its endpoints go with it) and forgets it; its log goes too. */
  async stop(slot: number): Promise<void> {
    const h = this.handles.get(slot);
    this.handles.delete(slot); // before the connection drops: not a death
    h?.client.close();
    const ref = h?.ref ?? this.store.workers().get(slot);
    if (ref) {
      const control = this.controlOf(slot, ref);
      if (isAlive(ref) && runsWorker(ref, control)) {
        const how = await stopDatapath(ref);
        if (how === 'killed') this.log.warn({ worker: slot, pid: ref.pid }, 'datapath worker ignored SIGTERM; killed');
      }
      removeIfExists(control);
    }
    removeIfExists(this.logFile(slot));
    this.removeDirIfEmpty();
    this.log.info({ worker: slot }, 'datapath worker stopped');
    // Last: should the state not be writable, the process is gone all the same (a stale entry
    // names a dead pid, which the next start recognises as such).
    this.store.deleteWorker(slot);
  }

  /** The sockets' directory goes with the last worker (sockets of killed ones are swept first). */
  private removeDirIfEmpty(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    const live = new Set(workersIn(this.dir).map((w) => w.control));
    for (const n of names) if (!live.has(join(this.dir, n))) removeIfExists(join(this.dir, n));
    try {
      rmdirSync(this.dir);
    } catch {
      // a worker's socket still there
    }
  }

  /** Drops the connections (the plugin is leaving; the workers stay). */
  detach(): void {
    const hs = [...this.handles.values()];
    this.handles.clear();
    for (const h of hs) h.client.close();
  }

  private track(slot: number, ref: DatapathRef, client: WorkerClient, hosted: string[]): WorkerHandle {
    const h: WorkerHandle = { slot, ref, client, hosted: new Set(hosted) };
    this.handles.set(slot, h);
    client.onClose(() => this.died(slot, h));
    return h;
  }

  /** The worker is gone without our asking (seen by its connection, or by its pid): once per worker. */
  private died(slot: number, h: WorkerHandle): void {
    if (this.handles.get(slot) !== h) return; // stopped or replaced on purpose, or already known
    this.handles.delete(slot);
    h.client.close();
    this.log.warn({ worker: slot, pid: h.ref.pid, lastLog: logTail(this.logFile(slot), 1).slice(0, 400) }, 'datapath worker went away');
    this.onDeath(slot);
  }
}
