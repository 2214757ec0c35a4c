// Keeps every endpoint's datapath running with the endpoint's saved keys, port and peers. The
// datapaths live in a few worker processes (workers.ts; docs/design.md section 2): an endpoint
// is placed in one when its container joins (placement.ts keeps a namespace's endpoints
// together) and removed again at DeleteEndpoint. Workers outlive the plugin and are re-adopted
// when it starts; when one dies, a new one takes its slot and every endpoint it hosted is put
// back from the state - TUN into its container, key, port, peers - and handshakes restart.
import type { Log } from '../../datapath/log';
import { deleteLink } from '../../datapath/netlink/links';
import type { EndpointSpec } from '../../datapath/worker/protocol';
import { DriverError } from '../api/errors';
import { PluginPaths, workerShape } from '../config';
import type { Mutex } from '../lock';
import { desiredPeers } from '../driver/mesh';
import type { StateStore } from '../state/store';
import type { DatapathRef, EndpointState, NetworkState } from '../state/types';
import { PoolShape, chooseSlot } from './placement';
import { sandboxPath, setUpInSandbox } from './plumbing';
import { isAlive, linkExists, removeIfExists, runsDatapath, stopDatapath } from './process';
import { TableKeeper } from './tableKeeper';
import { namespaceCookie } from './tables';
import { UapiClient, UapiError, uapiSocketPath } from './uapiClient';
import { WarmUpSpec, WorkerHandle, WorkerPool } from './workers';
import { WorkerError } from './workerClient';

const EADDRINUSE = 98;
/** After a failed restart, the endpoint is left alone this long (the lock is not held meanwhile). */
const RETRY_AFTER_MS = 2000;
/** How long a restart waits for the TUN its dead predecessor held to go (see bringUp). */
const OLD_TUN_GRACE_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Until the process has exited (a zombie counts: its files are closed), or `ms` have passed. */
async function waitExited(ref: DatapathRef, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (isAlive(ref) && Date.now() < end) await sleep(10);
}

export interface SupervisorOptions {
  /** How often dead workers and missing endpoints are looked for (a death is also noticed at once). */
  intervalMs?: number;
  /** How many workers (default: config.ts workerShape(), from the environment). */
  workers?: PoolShape;
}

const warmUpOf = (n: NetworkState): WarmUpSpec => ({ mtu: n.mtu, listenAddress: n.underlay, mplsPeers: n.mplsPeers });

export class Supervisor {
  readonly pool: WorkerPool;
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private readonly intervalMs: number;
  private readonly retryAt = new Map<string, number>();
  private readonly tables: TableKeeper;

  constructor(
    private readonly store: StateStore,
    private readonly mutex: Mutex,
    private readonly paths: PluginPaths,
    private readonly log: Log,
    opts: SupervisorOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 500;
    this.tables = new TableKeeper(store, log);
    this.pool = new WorkerPool(store, paths, log, opts.workers ?? workerShape());
    this.pool.onDeath = () => this.checkSoon();
  }

  client(ep: EndpointState): UapiClient {
    return new UapiClient(uapiSocketPath(this.paths.uapiDir, ep.ifname));
  }

  /** Whether the endpoint's datapath runs now (in the worker of its slot). */
  hosts(ep: EndpointState): boolean {
    if (ep.worker === undefined) return false;
    return this.pool.get(ep.worker)?.hosted.has(ep.ifname) ?? false;
  }

  /**
   * Starts the endpoint's datapath in a worker - the one of its namespace's other endpoints, or
   * the least loaded - and gives it its key, port and peers.
   */
  async start(ep: EndpointState, also: Partial<EndpointState> = {}): Promise<EndpointState> {
    const network = this.network(ep);
    const slot = ep.worker ?? chooseSlot(ep, this.store.endpoints(), this.pool.shape, (s) => this.pool.get(s) !== null);
    const h = this.pool.get(slot) ?? (await this.pool.spawn(slot, warmUpOf(network), false));
    // Recorded (with `also`, the Join's fields) before the worker makes anything: a state that
    // cannot be saved starts nothing.
    const placed = this.store.patchEndpoint(ep.id, { ...also, worker: slot, datapath: h.ref }) ?? { ...ep, worker: slot, datapath: h.ref };
    try {
      return await this.bringUp(placed, h, false);
    } catch (err) {
      // Half set up is worse than not running: the next attempt starts from scratch.
      await this.removeFrom(h, placed);
      const undo: Partial<EndpointState> = { worker: undefined, datapath: undefined };
      for (const k of Object.keys(also) as (keyof EndpointState)[]) undo[k] = undefined;
      this.store.patchEndpoint(ep.id, undo);
      await this.stopIdleWorkers();
      throw err;
    }
  }

  /** Stops the endpoint's datapath and removes whatever a crash may have left behind. */
  async stop(ep: EndpointState): Promise<void> {
    this.retryAt.delete(ep.id);
    this.tables.forget(ep.id);
    if (ep.worker !== undefined) {
      const h = this.pool.get(ep.worker);
      if (h) await this.removeFrom(h, ep);
    } else if (ep.datapath && isAlive(ep.datapath) && runsDatapath(ep.datapath, ep.ifname)) {
      // A process of its own, started by an older build.
      await stopDatapath(ep.datapath);
    }
    removeIfExists(uapiSocketPath(this.paths.uapiDir, ep.ifname));
    // Normally gone with its worker's fd; a TUN left in the host namespace is ours by its name.
    if (linkExists(ep.ifname)) {
      try {
        deleteLink(ep.ifname, undefined);
      } catch (err) {
        this.log.warn({ ifname: ep.ifname, err: (err as Error).message }, 'cannot delete a leftover TUN');
      }
    }
    await this.stopIdleWorkers(ep.id);
  }

  /** Gives every running datapath of the network the peers the mesh says it should have. */
  async syncNetwork(networkId: string, except?: string): Promise<void> {
    const network = this.store.network(networkId);
    if (!network) return;
    const members = this.store.endpointsOf(networkId);
    for (const ep of members) {
      if (ep.id === except || !this.hosts(ep)) continue;
      try {
        await this.applyPeers(ep, members);
      } catch (err) {
        // The supervisor restarts a datapath that is really gone, with the full config.
        this.log.error({ endpoint: short(ep.id), ifname: ep.ifname, err: (err as Error).message }, 'cannot update peers');
      }
    }
  }

  /** At plugin start: keep the workers that still run, put back every endpoint they lack. */
  async adoptAll(): Promise<void> {
    await this.mutex.run(async () => {
      await this.pool.stopUnrecorded();
      for (const [slot, ref] of this.store.workers()) {
        const h = await this.pool.adopt(slot, ref);
        if (h) this.log.info({ worker: slot, pid: ref.pid, endpoints: h.hosted.size }, 'datapath re-adopted');
      }
      for (const ep of this.store.endpoints()) {
        if (ep.worker !== undefined || !ep.datapath) continue;
        // State from before the workers: the endpoint ran in a process of its own.
        if (isAlive(ep.datapath) && runsDatapath(ep.datapath, ep.ifname)) {
          this.log.warn({ endpoint: short(ep.id), ifname: ep.ifname, pid: ep.datapath.pid }, 'a datapath process of its own (older build); moving the endpoint into a worker');
          await stopDatapath(ep.datapath);
        }
        const slot = chooseSlot(ep, this.store.endpoints(), this.pool.shape, (s) => this.pool.get(s) !== null);
        this.store.patchEndpoint(ep.id, { worker: slot });
      }
      // What a worker hosts that the state no longer has (the plugin died in between) goes.
      for (const h of this.pool.running()) {
        for (const ifname of [...h.hosted]) {
          if (this.store.endpoints().some((e) => e.worker === h.slot && e.ifname === ifname)) continue;
          this.log.warn({ worker: h.slot, ifname }, 'the worker hosts an endpoint the state does not have; removing it');
          await h.client.remove(ifname).catch(() => undefined);
          h.hosted.delete(ifname);
        }
      }
      await this.restoreMissing('not running at plugin start');
      for (const n of this.store.networks()) await this.syncNetwork(n.id);
      await this.stopIdleWorkers();
    });
  }

  startMonitoring(): void {
    this.stopped = false;
    this.timer = setTimeout(this.tick, this.intervalMs);
  }

  stopMonitoring(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The plugin is leaving: the workers keep running (and are re-adopted by the next plugin). */
  detach(): void {
    this.stopMonitoring();
    this.pool.detach();
  }

  private readonly tick = (): void => {
    this.timer = null;
    this.mutex
      .run(() => this.check())
      .catch((err: Error) => this.log.error({ err: err.message }, 'supervisor check failed'))
      .finally(() => {
        if (!this.stopped && this.timer === null) this.timer = setTimeout(this.tick, this.intervalMs);
      });
  };

  /** A worker died: look now, not at the next interval. */
  private checkSoon(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(this.tick, 0);
  }

  private async check(): Promise<void> {
    await this.restoreMissing('its datapath worker went away');
    if (this.stopped) return;
    // Where Docker put the TUNs (needed to put one back after a crash) and their namespaces'
    // cookies (where the containers' label tables are): one list per worker, when needed.
    const unplaced = this.store.endpoints().filter((ep) => ep.sandboxKey && (!ep.containerIfname || !ep.nsid) && this.hosts(ep));
    for (const slot of new Set(unplaced.map((ep) => ep.worker))) {
      const h = slot === undefined ? null : this.pool.get(slot);
      if (!h) continue;
      const names = new Map((await h.client.list().catch(() => [])).map((e) => [e.ifname, e.tunName]));
      for (const ep of unplaced) if (ep.worker === slot) this.learnWhereItIs(ep, names.get(ep.ifname));
    }
    for (const ep of this.store.endpoints()) if (this.hosts(ep)) this.tables.copy(ep);
    this.tables.restorePending();
  }

  /**
   * Every placed endpoint whose worker does not run it gets it back: a dead worker's slot gets a
   * new process (serving first, warming up after), and its endpoints are started, configured and
   * put into their containers all at once.
   */
  private async restoreMissing(why: string): Promise<void> {
    const now = Date.now();
    const bySlot = new Map<number, EndpointState[]>();
    for (const ep of this.store.endpoints()) {
      if (ep.worker === undefined || (this.retryAt.get(ep.id) ?? 0) > now) continue;
      bySlot.set(ep.worker, [...(bySlot.get(ep.worker) ?? []), ep]);
    }
    const spawned: WorkerHandle[] = [];
    for (const [slot, eps] of bySlot) {
      let h = this.pool.get(slot);
      if (!h) {
        const network = this.store.network(eps[0].networkId);
        if (!network) continue;
        const previous = this.store.workers().get(slot);
        try {
          h = await this.pool.spawn(slot, warmUpOf(network), true);
        } catch (err) {
          this.log.error({ worker: slot, err: (err as Error).message }, 'cannot start a datapath worker; will retry');
          for (const ep of eps) this.retryAt.set(ep.id, Date.now() + RETRY_AFTER_MS);
          continue;
        }
        spawned.push(h);
        // The new process started while the old one was still exiting: its TUNs go as the kernel
        // closes its files, and their names are free only then. Once it is gone they all are.
        if (previous) await waitExited(previous, OLD_TUN_GRACE_MS);
      }
      const ref = h.ref;
      const stale = eps.filter((e) => e.datapath?.pid !== ref.pid || e.datapath.startTime !== ref.startTime);
      if (stale.length > 0) this.store.patchEndpoints(new Map(stale.map((e): [string, Partial<EndpointState>] => [e.id, { datapath: ref }])));
      const missing = eps.filter((e) => !h.hosted.has(e.ifname));
      if (missing.length === 0) continue;
      const t0 = Date.now();
      const worker = h;
      await Promise.all(missing.map((e) => this.restore(this.store.endpoint(e.id) ?? e, worker, why)));
      this.log.info({ worker: slot, endpoints: missing.length, ms: Date.now() - t0 }, 'endpoints put back');
    }
    // Warmed up once its endpoints run again: their outage is what counts.
    for (const h of spawned) void h.client.warmUp().catch(() => undefined);
  }

  private async restore(ep: EndpointState, h: WorkerHandle, why: string): Promise<void> {
    this.log.warn({ endpoint: short(ep.id), ifname: ep.ifname, worker: h.slot, why }, 'restarting datapath');
    try {
      await this.bringUp(ep, h, true);
      this.retryAt.delete(ep.id);
    } catch (err) {
      this.log.error({ endpoint: short(ep.id), ifname: ep.ifname, err: (err as Error).message }, 'datapath restart failed; will retry');
      this.retryAt.set(ep.id, Date.now() + RETRY_AFTER_MS);
      await this.removeFrom(h, ep);
    }
  }

  /**
   * Remembers the name Docker gave the TUN in the container (needed to put it back after a
   * crash) and the namespace's cookie (where the container's label table is).
   */
  private learnWhereItIs(ep: EndpointState, tunName: string | undefined): EndpointState {
    const patch: Partial<EndpointState> = {};
    const name = ep.containerIfname ?? tunName;
    if (!name || name === ep.ifname) return ep; // not moved into the container yet
    if (!ep.containerIfname) patch.containerIfname = name;
    const nsid = ep.sandboxKey ? namespaceCookie(ep.sandboxKey) : null;
    if (nsid) patch.nsid = nsid;
    if (Object.keys(patch).length === 0) return ep;
    this.log.info({ endpoint: short(ep.id), ifname: ep.ifname, containerIfname: name, nsid }, 'endpoint is in its container');
    return this.store.patchEndpoint(ep.id, patch) ?? ep;
  }

  /**
   * Makes the endpoint start a handshake with every peer now. Peers still hold sessions with a
   * dead process or an old key (or, for a new endpoint, none yet): without this they would wait
   * for traffic, or keep sending into the void until their rekey timers fire (15 s and more).
   * Turning persistent keepalive on sends a keepalive at once.
   */
  async kickHandshakes(ep: EndpointState): Promise<void> {
    const network = this.store.network(ep.networkId);
    if (!network) return;
    const peers = desiredPeers(ep, network, this.store.endpointsOf(ep.networkId), this.store.remotesOf(ep.networkId));
    if (peers.length === 0) return;
    const client = this.client(ep);
    await client.set({ peers: peers.map((p) => ({ ...p, persistentKeepalive: 1 })) });
    await client.set({ peers: peers.map((p) => ({ ...p, persistentKeepalive: 0 })) });
  }

  private network(ep: EndpointState): NetworkState {
    const network = this.store.network(ep.networkId);
    if (!network) throw new DriverError(`network ${short(ep.networkId)} of endpoint ${short(ep.id)} is unknown`);
    return network;
  }

  /**
   * Starts the endpoint in the worker, listening on its port from the start (a random port
   * first could be another endpoint's), and configures it. On a restart, the TUN is created right
   * in the container under the name Docker gave it, then addressed and brought up there.
   */
  private async bringUp(ep: EndpointState, h: WorkerHandle, restart: boolean): Promise<EndpointState> {
    const network = this.network(ep);
    const spec: EndpointSpec = { ifname: ep.ifname, mtu: network.mtu, listenAddress: network.underlay, mplsPeers: network.mplsPeers, port: ep.port };
    let current = ep;
    let sandbox: string | null = null;
    if (restart && current.sandboxKey) {
      sandbox = sandboxPath(current.sandboxKey);
      if (current.containerIfname && sandbox) {
        spec.netns = sandbox;
        spec.tunName = current.containerIfname;
      } else {
        this.log.error({ endpoint: short(ep.id), ifname: ep.ifname, sandboxKey: current.sandboxKey }, 'the container namespace or interface name is unknown: the TUN stays in the host');
        current = this.store.patchEndpoint(ep.id, { sandboxKey: undefined, containerIfname: undefined }) ?? current;
        sandbox = null;
      }
    }
    // A socket left by a killed worker would make the new endpoint fail or, worse, look ready.
    if (!h.hosted.has(ep.ifname)) removeIfExists(uapiSocketPath(this.paths.uapiDir, ep.ifname));
    // A new endpoint waits for the worker's warm-up (its first packets then run compiled code);
    // one being put back does not: every second of outage counts more.
    // The TUNs of a killed worker go one by one as the kernel closes its files (some 20 ms
    // each): until this one's predecessor is gone, its name in the container is taken (EBUSY).
    const busyUntil = Date.now() + OLD_TUN_GRACE_MS;
    for (;;) {
      try {
        await h.client.add(spec, !restart);
        break;
      } catch (err) {
        if (!(err instanceof WorkerError)) throw err;
        if (err.code === 'EBUSY' && spec.netns && Date.now() < busyUntil) {
          await sleep(50);
          continue;
        }
        if (err.code === 'EADDRINUSE' && !/UAPI/.test(err.message)) {
          throw new DriverError(`UDP port ${ep.port} on ${network.underlay} is in use by another program`);
        }
        throw err;
      }
    }
    h.hosted.add(ep.ifname);
    await this.configure(current, h, restart);
    if (restart && spec.netns && spec.tunName) {
      setUpInSandbox({ sandboxKey: spec.netns, containerIfname: spec.tunName, addresses: [current.address, current.addressIPv6].filter((a): a is string => a !== undefined) });
      this.log.info({ endpoint: short(ep.id), ifname: ep.ifname, containerIfname: spec.tunName }, 'TUN put back into its container');
    }
    // The peers still hold sessions with the dead process.
    if (restart) await this.kickHandshakes(current);
    return current;
  }

  private async removeFrom(h: WorkerHandle, ep: EndpointState): Promise<void> {
    try {
      await h.client.remove(ep.ifname);
    } catch (err) {
      this.log.warn({ endpoint: short(ep.id), ifname: ep.ifname, worker: h.slot, err: (err as Error).message }, 'cannot remove the endpoint from its worker');
    }
    h.hosted.delete(ep.ifname);
  }

  /** The pool goes once no endpoint is placed in it any more (`leaving` is on its way out). */
  private async stopIdleWorkers(leaving?: string): Promise<void> {
    if (this.store.endpoints().some((e) => e.id !== leaving && e.worker !== undefined)) return;
    const slots = new Set([...this.pool.running().map((h) => h.slot), ...this.store.workers().keys()]);
    for (const slot of slots) await this.pool.stop(slot);
  }

  private async configure(ep: EndpointState, h: WorkerHandle, restart: boolean): Promise<void> {
    const network = this.network(ep);
    const client = this.client(ep);
    const peers = desiredPeers(ep, network, this.store.endpointsOf(ep.networkId), this.store.remotesOf(ep.networkId));
    try {
      await client.set({ privateKey: ep.privateKey, listenPort: ep.port, peers });
    } catch (err) {
      if (err instanceof UapiError && err.errno === EADDRINUSE) {
        throw new DriverError(`UDP port ${ep.port} on ${network.underlay} is in use by another program`);
      }
      throw err;
    }
    this.log.info({ endpoint: short(ep.id), ifname: ep.ifname, worker: h.slot, pid: h.ref.pid, port: ep.port, peers: peers.length, restart }, 'datapath up');
  }

  private async applyPeers(ep: EndpointState, members: readonly EndpointState[]): Promise<void> {
    const network = this.store.network(ep.networkId);
    if (!network) return;
    const client = this.client(ep);
    const want = desiredPeers(ep, network, members, this.store.remotesOf(ep.networkId));
    const have = await client.get();
    const keep = new Set(want.map((p) => p.publicKey));
    const remove = have.peers.map((p) => p.publicKey).filter((k) => !keep.has(k));
    await client.set({ peers: want, remove });
  }
}

export function short(id: string): string {
  return id.slice(0, 12);
}
