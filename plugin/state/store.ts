// state.json on disk and its in-memory copy. Every change is written before the change is
// acknowledged to Docker, atomically (tmp + fsync + rename + fsync of the directory), so a crash
// or power cut leaves either the old or the new state, never a torn file: the private keys in
// it are the only copy there is. A change that cannot be written (a read-only or full state
// directory) is not made in memory either: the call fails with a StateError saying so, and the
// in-memory state stays the one on disk, the last good one.
import {
  chmodSync,
  closeSync,
  existsSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  EndpointState,
  NetworkState,
  RemoteEndpoint,
  RetainedIdentity,
  State,
  StateSchema,
  SwarmState,
  WorkerRef,
  emptyState,
  retainedKey,
} from './types';

export const STATE_FILE = 'state.json';

/** The state file cannot be read or written; the message says which and why, for the user. */
export class StateError extends Error {}

export class StateStore {
  private state: State;
  /** Called after every change is written (the swarm exchange watches for endpoint changes). */
  onCommit: (() => void) | null = null;

  private constructor(
    readonly dir: string,
    state: State,
  ) {
    this.state = state;
  }

  /** Loads (or starts empty when there is no file yet). A corrupt file is an error, not a reset. */
  static open(dir: string): StateStore {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    return StateStore.read(dir);
  }

  /** Loads without creating anything (for readers such as `wgmpls show`); never saves. */
  static read(dir: string): StateStore {
    const file = join(dir, STATE_FILE);
    if (!existsSync(file)) return new StateStore(dir, emptyState());
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new StateError(`${file} is not valid JSON (${(err as Error).message}); move it away to start from an empty state`);
    }
    const parsed = StateSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new StateError(`${file} does not match the state schema at ${issue.path.join('.') || '(top)'}: ${issue.message}`);
    }
    return new StateStore(dir, parsed.data);
  }

  get file(): string {
    return join(this.dir, STATE_FILE);
  }

  network(id: string): NetworkState | undefined {
    return this.state.networks[id];
  }

  networks(): NetworkState[] {
    return Object.values(this.state.networks);
  }

  endpoint(id: string): EndpointState | undefined {
    return this.state.endpoints[id];
  }

  endpoints(): EndpointState[] {
    return Object.values(this.state.endpoints);
  }

  /** A network's endpoints in a stable order (creation, then id), so peer lists are deterministic. */
  endpointsOf(networkId: string): EndpointState[] {
    return this.endpoints()
      .filter((e) => e.networkId === networkId)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  putNetwork(n: NetworkState): void {
    this.commit((s) => {
      s.networks[n.id] = n;
    });
  }

  /**
   * Also forgets the identities kept for the network's containers: they die with it. Unless
   * `keep` (a swarm network leaving this node only: dockerd removes it from a node when its last
   * container there stops, e.g. with dockerd itself, and creates it again when one comes back),
   * when they stay - with the other nodes' endpoints - for the network's return.
   */
  deleteNetwork(id: string, keep = false): void {
    this.commit((s) => {
      delete s.networks[id];
      if (keep) return;
      if (s.swarm) for (const [key, r] of Object.entries(s.swarm.remotes)) if (r.networkId === id) delete s.swarm.remotes[key];
      const retained = s.retained ?? {};
      for (const [key, r] of Object.entries(retained)) if (r.networkId === id) delete retained[key];
    });
  }

  putEndpoint(e: EndpointState): void {
    this.commit((s) => {
      s.endpoints[e.id] = e;
    });
  }

  /** Changes some fields of an existing endpoint; returns the new record (undefined if gone). */
  patchEndpoint(id: string, patch: Partial<EndpointState>): EndpointState | undefined {
    const cur = this.state.endpoints[id];
    if (!cur) return undefined;
    const next: EndpointState = { ...cur, ...patch };
    // `undefined` in a patch means "forget this field", not "keep a key with no value".
    for (const k of Object.keys(patch) as (keyof EndpointState)[]) if (patch[k] === undefined) delete next[k];
    this.commit((s) => {
      s.endpoints[id] = next;
    });
    return next;
  }

  /** Several patchEndpoint()s written at once (a worker's endpoints after its restart). */
  patchEndpoints(patches: ReadonlyMap<string, Partial<EndpointState>>): void {
    this.commit((s) => {
      for (const [id, patch] of patches) {
        const cur = s.endpoints[id];
        if (!cur) continue;
        const next: EndpointState = { ...cur, ...patch };
        for (const k of Object.keys(patch) as (keyof EndpointState)[]) if (patch[k] === undefined) delete next[k];
        s.endpoints[id] = next;
      }
    });
  }

  deleteEndpoint(id: string): void {
    this.commit((s) => {
      delete s.endpoints[id];
    });
  }

  retained(): RetainedIdentity[] {
    return Object.values(this.state.retained ?? {});
  }

  retainedFor(networkId: string, containerId: string): RetainedIdentity | undefined {
    return this.state.retained?.[retainedKey(networkId, containerId)];
  }

  putRetained(r: RetainedIdentity): void {
    this.commit((s) => {
      s.retained ??= {};
      s.retained[retainedKey(r.networkId, r.containerId)] = r;
    });
  }

  deleteRetained(networkId: string, containerId: string): void {
    if (!this.state.retained?.[retainedKey(networkId, containerId)]) return;
    this.commit((s) => {
      delete s.retained?.[retainedKey(networkId, containerId)];
    });
  }

  /** The worker processes by slot. */
  workers(): Map<number, WorkerRef> {
    return new Map(Object.entries(this.state.workers ?? {}).map(([slot, ref]): [number, WorkerRef] => [Number(slot), ref]));
  }

  putWorker(slot: number, ref: WorkerRef): void {
    this.commit((s) => {
      s.workers = { ...(s.workers ?? {}), [String(slot)]: ref };
    });
  }

  deleteWorker(slot: number): void {
    if (!this.state.workers?.[String(slot)]) return;
    this.commit((s) => {
      delete s.workers?.[String(slot)];
    });
  }

  /** The swarm part of the state (an empty one when there is none yet). */
  swarm(): SwarmState {
    return this.state.swarm ?? { nodes: [], left: [], seq: 0, remotes: {}, seen: {} };
  }

  /** Other nodes' endpoints on a network, in a stable order (node, then endpoint id). */
  remotesOf(networkId: string): { node: string; endpoint: RemoteEndpoint }[] {
    return Object.values(this.swarm().remotes)
      .filter((r) => r.networkId === networkId)
      .sort((a, b) => a.node.localeCompare(b.node))
      .flatMap((r) => [...r.endpoints].sort((a, b) => a.id.localeCompare(b.id)).map((endpoint) => ({ node: r.node, endpoint })));
  }

  /** Changes the swarm part (on a copy, written atomically like everything else). */
  patchSwarm(change: (s: SwarmState) => void): void {
    this.commit((s) => {
      s.swarm ??= { nodes: [], left: [], seq: 0, remotes: {}, seen: {} };
      change(s.swarm);
    });
  }

  /** Makes the change on a copy, writes the copy, and only then takes it as the state. */
  private commit(change: (s: State) => void): void {
    const next = structuredClone(this.state);
    change(next);
    // An empty `retained` is left out: the file of a plugin that kept nothing reads as before.
    if (next.retained && Object.keys(next.retained).length === 0) delete next.retained;
    if (next.workers && Object.keys(next.workers).length === 0) delete next.workers;
    try {
      this.write(next);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'EROFS' ? 'the file system is read-only' : code === 'ENOSPC' ? 'no space left on the device' : code === 'EDQUOT' ? 'disk quota exceeded' : (err as Error).message;
      throw new StateError(`wgmpls cannot save its state in ${this.dir} (${why}); nothing was changed, the state on disk is the last good one`);
    }
    this.state = next;
    this.onCommit?.();
  }

  private write(state: State): void {
    const file = this.file;
    const tmp = `${file}.tmp-${process.pid}`;
    const data = Buffer.from(JSON.stringify(state, null, 2) + '\n');
    const fd = openSync(tmp, 'w', 0o600);
    try {
      fchmodSync(fd, 0o600); // the mode given to open is ignored when a stale tmp file exists
      // write(2) may write less than asked (a disk filling up): a short file must never be renamed.
      for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, file);
    } catch (err) {
      try {
        closeSync(fd);
      } catch {
        // closed already
      }
      try {
        unlinkSync(tmp);
      } catch {
        // never made, or gone
      }
      throw err;
    }
    // The rename itself is only durable once the directory entry is.
    const dfd = openSync(this.dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }
}
