// Keeps the state in step with dockerd's containers, driven by Docker's events: learns the
// container behind each new endpoint (Join cannot ask, docs/design.md section 5), hands a restarted
// container's new endpoint the identity it had (key, port, routes), retires endpoints dockerd
// replaced without telling us (the plugin was down), and forgets identities of removed
// containers. dockerd is asked before the lock is taken (it may be waiting on a request that
// waits on the lock); a resync after the stream reopens catches up on events missed meanwhile.
import type { ContainerEvent, DockerEvents, NetworkEvent } from '../docker/events';
import type { Mutex } from '../lock';
import { short } from '../datapaths/supervisor';
import { dockerContainers } from './containers';
import type { DriverContext } from './context';
import { adoptIdentity, retireEndpoint } from './identity';
import {
  ContainerNetworks,
  learnContainers,
  obsoleteIdentities,
  staleEndpoints,
  takeovers,
} from './reconcile';

const SETTLE_MS = 50;
const RETRY_MS = 2000;

/** One pass, under the lock. Returns the endpoints that took an identity over. */
export async function reconcile(ctx: DriverContext, containers: ContainerNetworks): Promise<string[]> {
  const { store, supervisor, log } = ctx;
  for (const [endpointId, containerId] of learnContainers(store.endpoints(), containers)) {
    store.patchEndpoint(endpointId, { containerId });
    log.info({ endpoint: short(endpointId), container: short(containerId) }, 'endpoint belongs to container');
  }
  const touched = new Set<string>();
  for (const s of staleEndpoints(store.endpoints(), containers)) {
    const ep = store.endpoint(s.endpointId);
    if (!ep) continue;
    log.warn({ endpoint: short(ep.id), container: short(ep.containerId ?? ''), keep: s.keep }, 'endpoint no longer used by dockerd; retiring it');
    await retireEndpoint(ctx, ep, s.keep);
    touched.add(ep.networkId);
  }
  for (const r of obsoleteIdentities(store.retained(), containers)) {
    store.deleteRetained(r.networkId, r.containerId);
    log.info({ network: short(r.networkId), container: short(r.containerId) }, 'container gone from the network; its identity is forgotten');
  }
  const adopted: string[] = [];
  for (const t of takeovers(store.endpoints(), store.retained(), containers)) {
    if (t.endpoint.publicKey === t.identity.publicKey) {
      store.deleteRetained(t.identity.networkId, t.identity.containerId);
      continue;
    }
    await adoptIdentity(ctx, t.endpoint, t.identity);
    adopted.push(t.endpoint.id);
    touched.add(t.endpoint.networkId);
  }
  // Peers learn the new keys and ports first, then the re-keyed ends start handshakes.
  for (const n of touched) await supervisor.syncNetwork(n);
  for (const id of adopted) {
    const ep = store.endpoint(id);
    if (!ep) continue;
    await supervisor.kickHandshakes(ep).catch((err: Error) => log.warn({ endpoint: short(id), err: err.message }, 'cannot start handshakes'));
  }
  return adopted;
}

export class ContainerWatch {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private again = false;

  constructor(
    private readonly ctx: DriverContext,
    private readonly mutex: Mutex,
    private readonly view: () => Promise<ContainerNetworks | null> = () => dockerContainers(),
  ) {}

  attach(events: DockerEvents): void {
    const { store } = this.ctx;
    const ours = (containerId: string): boolean =>
      store.retained().some((r) => r.containerId === containerId) || store.endpoints().some((e) => e.containerId === containerId || e.containerId === undefined);
    events.on('resync', () => this.soon());
    const ifOurNetwork = (ev: NetworkEvent): void => {
      if (store.network(ev.networkId)) this.soon();
    };
    const ifOurContainer = (ev: ContainerEvent): void => {
      if (ours(ev.containerId)) this.soon();
    };
    events.on('connect', ifOurNetwork);
    events.on('disconnect', ifOurNetwork);
    // `connect` can come before dockerd lists the endpoint: `start` comes once it does.
    events.on('start', ifOurContainer);
    events.on('destroy', ifOurContainer);
  }

  /** A pass shortly (events come in bursts: one pass for a container's start and connects). */
  soon(delayMs = SETTLE_MS): void {
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), delayMs);
    // Never what keeps the plugin alive.
    this.timer.unref();
  }

  private async run(): Promise<void> {
    this.timer = null;
    this.running = true;
    this.again = false;
    let retry = false;
    try {
      const containers = await this.view();
      if (containers === null) retry = true;
      else await this.mutex.run(() => reconcile(this.ctx, containers));
    } catch (err) {
      this.ctx.log.error({ err: (err as Error).message }, 'cannot reconcile the state with dockerd');
      retry = true;
    } finally {
      this.running = false;
    }
    if (this.again) this.soon();
    else if (retry) this.soon(RETRY_MS);
  }
}

const watching = new WeakSet<DockerEvents>();

/** Starts the watch on the context's event stream, once per stream. */
export function watchContainers(ctx: DriverContext, mutex: Mutex): void {
  if (!ctx.events || watching.has(ctx.events)) return;
  watching.add(ctx.events);
  new ContainerWatch(ctx, mutex).attach(ctx.events);
}
