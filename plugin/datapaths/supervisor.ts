// Keeps one datapath process per endpoint running with the endpoint's saved keys, port and peers:
// starts them for CreateEndpoint, re-adopts the ones still running when the plugin starts (they
// outlive it on purpose), restarts the ones that died - putting their TUN back into the
// container - and stops them for DeleteEndpoint leaving nothing behind.
import { run } from '../../datapath/sys/exec';
import { join } from 'node:path';
import type { Log } from '../../datapath/log';
import { DriverError } from '../api/errors';
import type { PluginPaths } from '../config';
import type { Mutex } from '../lock';
import { desiredPeers } from '../driver/mesh';
import type { StateStore } from '../state/store';
import type { DatapathRef, EndpointState } from '../state/types';
import { plumbIntoSandbox, sandboxPath } from './plumbing';
import { TableKeeper } from './tableKeeper';
import { namespaceCookie } from './tables';
import {
  currentTunName,
  isAlive,
  linkExists,
  logTail,
  removeIfExists,
  runsDatapath,
  sleep,
  spawnDatapath,
  stopDatapath,
} from './process';
import { UapiClient, UapiError, uapiSocketPath } from './uapiClient';

const EADDRINUSE = 98;
const READY_TIMEOUT_MS = 15_000;
/** After a failed restart, the endpoint is left alone this long (the lock is not held meanwhile). */
const RETRY_AFTER_MS = 2000;

export interface SupervisorOptions {
  /** How often dead datapaths are looked for. */
  intervalMs?: number;
}

export class Supervisor {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
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
  }

  client(ep: EndpointState): UapiClient {
    return new UapiClient(uapiSocketPath(this.paths.uapiDir, ep.ifname));
  }

  logFile(ep: EndpointState): string {
    return join(this.paths.logDir, `${ep.ifname}.log`);
  }

  /** Starts a fresh datapath for a new endpoint and gives it its key, port and peers. */
  async start(ep: EndpointState): Promise<EndpointState> {
    return this.launch(ep, false);
  }

  /** Stops the endpoint's datapath and removes whatever a crash may have left behind. */
  async stop(ep: EndpointState): Promise<void> {
    this.retryAt.delete(ep.id);
    this.tables.forget(ep.id);
    if (ep.datapath) {
      const how = await stopDatapath(ep.datapath);
      if (how === 'killed') this.log.warn({ endpoint: short(ep.id), ifname: ep.ifname, pid: ep.datapath.pid }, 'datapath ignored SIGTERM; killed');
    }
    removeIfExists(uapiSocketPath(this.paths.uapiDir, ep.ifname));
    // Normally gone with its fd holder; a TUN left in the host namespace is ours by its name.
    if (linkExists(ep.ifname)) await deleteLink(ep.ifname);
    removeIfExists(this.logFile(ep));
  }

  /** Gives every running datapath of the network the peers the mesh says it should have. */
  async syncNetwork(networkId: string, except?: string): Promise<void> {
    const network = this.store.network(networkId);
    if (!network) return;
    const members = this.store.endpointsOf(networkId);
    for (const ep of members) {
      if (ep.id === except || !ep.datapath || !isAlive(ep.datapath)) continue;
      try {
        await this.applyPeers(ep, members);
      } catch (err) {
        // The supervisor restarts a datapath that is really gone, with the full config.
        this.log.error({ endpoint: short(ep.id), ifname: ep.ifname, err: (err as Error).message }, 'cannot update peers');
      }
    }
  }

  /** At plugin start: keep the datapaths that still run, restart the others. */
  async adoptAll(): Promise<void> {
    await this.mutex.run(async () => {
      for (const ep of this.store.endpoints()) {
        if (ep.datapath && isAlive(ep.datapath) && runsDatapath(ep.datapath, ep.ifname)) {
          const why = await this.whyNotAdoptable(ep);
          if (why === null) {
            this.log.info({ endpoint: short(ep.id), ifname: ep.ifname, pid: ep.datapath.pid }, 'datapath re-adopted');
            continue;
          }
          this.log.warn({ endpoint: short(ep.id), ifname: ep.ifname, why }, 'datapath runs but cannot be kept; restarting it');
          await stopDatapath(ep.datapath);
        }
        await this.restart(ep, 'not running at plugin start');
      }
      for (const n of this.store.networks()) await this.syncNetwork(n.id);
    });
  }

  /** Null when a running datapath can be kept as it is, else why not. */
  private async whyNotAdoptable(ep: EndpointState): Promise<string | null> {
    try {
      await this.client(ep).get();
    } catch (err) {
      return `does not answer: ${(err as Error).message}`;
    }
    try {
      // An older build hangs up on wgmpls-get and would refuse the peers' wgmpls-label-auth:
      // restarted from this build, both ends of every link agree on authenticated labels.
      await this.client(ep).getExtended();
      return null;
    } catch {
      return 'an older build, without authenticated labels';
    }
  }

  startMonitoring(): void {
    this.stopped = false;
    const tick = (): void => {
      this.timer = null;
      this.mutex
        .run(() => this.check())
        .catch((err: Error) => this.log.error({ err: err.message }, 'supervisor check failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    this.timer = setTimeout(tick, this.intervalMs);
  }

  stopMonitoring(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async check(): Promise<void> {
    for (const ep of this.store.endpoints()) {
      if (this.stopped) return;
      if (!ep.datapath || !isAlive(ep.datapath)) {
        if ((this.retryAt.get(ep.id) ?? 0) > Date.now()) continue;
        await this.restart(ep, ep.datapath ? `pid ${ep.datapath.pid} exited` : 'never started');
        continue;
      }
      const cur = ep.sandboxKey && (!ep.containerIfname || !ep.nsid) ? this.learnWhereItIs(ep, ep.datapath) : ep;
      this.tables.copy(cur);
    }
    this.tables.restorePending();
  }

  /**
   * Remembers the name Docker gave the TUN in the container (needed to put it back after a
   * crash) and the namespace's cookie (where the container's label table is).
   */
  private learnWhereItIs(ep: EndpointState, ref: DatapathRef): EndpointState {
    const patch: Partial<EndpointState> = {};
    const name = ep.containerIfname ?? currentTunName(ref.pid);
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
   * dead process or an old key: without this they would keep sending into the void until their
   * rekey timers fire (15 s and more). Turning persistent keepalive on sends a keepalive at once.
   */
  async kickHandshakes(ep: EndpointState): Promise<void> {
    const network = this.store.network(ep.networkId);
    if (!network) return;
    const peers = desiredPeers(ep, network, this.store.endpointsOf(ep.networkId));
    if (peers.length === 0) return;
    const client = this.client(ep);
    await client.set({ peers: peers.map((p) => ({ ...p, persistentKeepalive: 1 })) });
    await client.set({ peers: peers.map((p) => ({ ...p, persistentKeepalive: 0 })) });
  }

  private async restart(ep: EndpointState, why: string): Promise<void> {
    this.log.warn({ endpoint: short(ep.id), ifname: ep.ifname, why, lastLog: logTail(this.logFile(ep), 1).slice(0, 400) }, 'restarting datapath');
    try {
      await this.launch(ep, true);
      this.retryAt.delete(ep.id);
    } catch (err) {
      this.log.error({ endpoint: short(ep.id), ifname: ep.ifname, err: (err as Error).message }, 'datapath restart failed; will retry');
      this.retryAt.set(ep.id, Date.now() + RETRY_AFTER_MS);
    }
  }

  private async launch(ep: EndpointState, restart: boolean): Promise<EndpointState> {
    const network = this.store.network(ep.networkId);
    if (!network) throw new DriverError(`network ${short(ep.networkId)} of endpoint ${short(ep.id)} is unknown`);
    if (ep.datapath && isAlive(ep.datapath)) await stopDatapath(ep.datapath);
    // A socket left by a killed datapath would make the new one fail or, worse, look ready.
    const socket = uapiSocketPath(this.paths.uapiDir, ep.ifname);
    removeIfExists(socket);
    const logFile = this.logFile(ep);
    const ref = spawnDatapath({ cli: this.paths.cli, ifname: ep.ifname, mtu: network.mtu, listenAddress: network.underlay, mplsPeers: network.mplsPeers, logFile });
    try {
      // Inside the try: a state that cannot be saved must not leave this process running unrecorded.
      const current = this.store.patchEndpoint(ep.id, { datapath: ref }) ?? { ...ep, datapath: ref };
      return await this.configure(current, ref, logFile, restart);
    } catch (err) {
      // Half set up is worse than not running: the next attempt starts from scratch.
      await stopDatapath(ref);
      removeIfExists(socket);
      throw err;
    }
  }

  private async configure(ep: EndpointState, ref: DatapathRef, logFile: string, restart: boolean): Promise<EndpointState> {
    const network = this.store.network(ep.networkId);
    if (!network) throw new DriverError(`network ${short(ep.networkId)} of endpoint ${short(ep.id)} is unknown`);
    const client = this.client(ep);
    await this.waitReady(client, ref, logFile);
    const peers = desiredPeers(ep, network, this.store.endpointsOf(ep.networkId));
    try {
      await client.set({ privateKey: ep.privateKey, listenPort: ep.port, peers });
    } catch (err) {
      if (err instanceof UapiError && err.errno === EADDRINUSE) {
        throw new DriverError(`UDP port ${ep.port} on ${network.underlay} is in use by another program`);
      }
      throw err;
    }
    this.log.info({ endpoint: short(ep.id), ifname: ep.ifname, pid: ref.pid, port: ep.port, peers: peers.length, restart }, 'datapath up');
    if (!restart) return ep;

    let current = ep;
    const sandbox = current.sandboxKey ? sandboxPath(current.sandboxKey) : null;
    if (current.sandboxKey) {
      if (current.containerIfname && sandbox) {
        await plumbIntoSandbox({
          hostIfname: current.ifname,
          sandboxKey: sandbox,
          containerIfname: current.containerIfname,
          addresses: [current.address, current.addressIPv6].filter((a): a is string => a !== undefined),
        });
        this.log.info({ endpoint: short(ep.id), ifname: ep.ifname, containerIfname: current.containerIfname }, 'TUN put back into its container');
      } else {
        this.log.error({ endpoint: short(ep.id), ifname: ep.ifname, sandboxKey: current.sandboxKey }, 'the container namespace or interface name is unknown: the TUN stays in the host');
        current = this.store.patchEndpoint(ep.id, { sandboxKey: undefined, containerIfname: undefined }) ?? current;
      }
    }
    // The peers still hold sessions with the dead process.
    await this.kickHandshakes(current);
    return current;
  }

  private async waitReady(client: UapiClient, ref: DatapathRef, logFile: string): Promise<void> {
    const end = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < end) {
      if (!isAlive(ref)) throw new DriverError(`datapath exited while starting: ${logTail(logFile) || 'no output'}`);
      try {
        await client.get();
        return;
      } catch {
        await sleep(50);
      }
    }
    await stopDatapath(ref);
    throw new DriverError(`datapath did not open ${client.socketPath} within ${READY_TIMEOUT_MS / 1000} s: ${logTail(logFile)}`);
  }

  private async applyPeers(ep: EndpointState, members: readonly EndpointState[]): Promise<void> {
    const network = this.store.network(ep.networkId);
    if (!network) return;
    const client = this.client(ep);
    const want = desiredPeers(ep, network, members);
    const have = await client.get();
    const keep = new Set(want.map((p) => p.publicKey));
    const remove = have.peers.map((p) => p.publicKey).filter((k) => !keep.has(k));
    await client.set({ peers: want, remove });
  }
}

async function deleteLink(ifname: string): Promise<void> {
  await run('ip', ['link', 'del', 'dev', ifname]);
}

export function short(id: string): string {
  return id.slice(0, 12);
}
