// Applies each container's `wgmpls.routes` label when its namespace is ready: on `start` (the
// container's networks are joined) and again on every `connect` to a wgmpls network (a later
// `docker network connect` brings the interface a route may be waiting for). Runs outside driver
// requests, from Docker's event stream, so asking dockerd about the container cannot deadlock.
// One application per container at a time; events arriving meanwhile make it run once more
// (applying is idempotent, so a repeat costs nothing but a table write).
import { isOurDriver } from '../config';
import { existsSync } from 'node:fs';
import type { Log } from '../../datapath/log';
import type { DockerEvents, NetworkEvent } from '../docker/events';
import { applyRoutes } from './apply';
import { ContainerInfo, inspectContainer, namespacePath } from './container';
import { dockerClient } from '../docker/client';
import { ROUTES_LABEL, RoutesLabelError, parseRoutesLabel } from './label';
import type { LsrBackend, LsrMode } from '../../datapath/lsr/model';
import { lsrDir, nsidOf, readTable } from '../../datapath/lsr/store';
import { pruneRouteStatus, recordRouteStatus } from './status';

const short = (id: string): string => id.slice(0, 12);

export interface ContainerRoutesOptions {
  /** Where the outcome is kept for `wgmpls show` (the plugin's state directory). */
  stateDir: string;
  /** This plugin's driver name: `connect` events of other networks bring no interface of ours. */
  driver: string;
  /** An endpoint's `--driver-opt wgmpls.routes`, if it has one (applied with the label's lines). */
  endpointRoutes?: (endpointId: string) => string | undefined;
  /** The wgmpls.lsr option of an endpoint's network (auto when unknown). */
  endpointLsr?: (endpointId: string) => LsrMode | undefined;
  /** Whether any of these endpoints is ours: only containers on our networks have our interfaces. */
  ours: (endpointIds: readonly string[]) => boolean;
  log: Log;
  /** How long a route may wait for the interface it names (Docker plumbs it after Join). */
  waitMs?: number;
}

/** One mode for a container's namespace from its networks' wgmpls.lsr: explicit ones must agree. */
export function lsrModeOf(modes: readonly (LsrMode | undefined)[]): LsrMode {
  const explicit = [...new Set(modes.filter((m): m is LsrMode => m !== undefined && m !== 'auto'))];
  if (explicit.length > 1) throw new RoutesLabelError(`the container's wgmpls networks ask for different label switching (wgmpls.lsr ${explicit.join(' and ')}); a namespace has one`);
  return explicit[0] ?? 'auto';
}

/** Who switches the namespace's labels now, as its table says. */
function backendOf(netnsPath: string): LsrBackend | undefined {
  try {
    return readTable(lsrDir(nsidOf(netnsPath))).backend;
  } catch {
    return undefined;
  }
}

export class ContainerRoutes {
  /** Containers with an application under way; `again`: an event came in meanwhile. */
  private readonly busy = new Map<string, { again: boolean }>();
  /** Stopped containers: an application waiting for their interfaces gives up. */
  private readonly dead = new Set<string>();
  private stopped = false;
  private readonly docker = dockerClient();
  private readonly log: Log;
  private readonly onStart = (ev: { containerId: string; labels: Record<string, string> }): void => {
    this.dead.delete(ev.containerId);
    // Routes may also come as an endpoint driver option, which the event does not show.
    if (ev.labels[ROUTES_LABEL] !== undefined || this.opts.endpointRoutes) this.kick(ev.containerId);
  };
  private readonly onConnect = (ev: NetworkEvent): void => {
    if (ev.driver === undefined || isOurDriver(ev.driver, this.opts.driver)) this.kick(ev.containerId);
  };
  private readonly onDie = (ev: { containerId: string }): void => {
    this.dead.add(ev.containerId);
  };
  private readonly onDestroy = (ev: { containerId: string }): void => {
    this.dead.delete(ev.containerId);
    this.forget(ev.containerId);
  };
  private readonly onResync = (): void => void this.resync();

  constructor(
    private readonly events: DockerEvents,
    private readonly opts: ContainerRoutesOptions,
  ) {
    this.log = opts.log;
  }

  start(): void {
    this.stopped = false;
    this.events.on('start', this.onStart);
    this.events.on('connect', this.onConnect);
    this.events.on('die', this.onDie);
    this.events.on('destroy', this.onDestroy);
    this.events.on('resync', this.onResync);
  }

  stop(): void {
    this.stopped = true;
    this.events.off('start', this.onStart);
    this.events.off('connect', this.onConnect);
    this.events.off('die', this.onDie);
    this.events.off('destroy', this.onDestroy);
    this.events.off('resync', this.onResync);
  }

  /** Applies the container's label now, or once more after the application under way. */
  kick(containerId: string): void {
    if (this.stopped) return;
    const running = this.busy.get(containerId);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: true };
    this.busy.set(containerId, state);
    void (async () => {
      try {
        while (state.again && !this.stopped) {
          state.again = false;
          await this.applyFor(containerId);
        }
      } catch (err) {
        this.log.error({ container: short(containerId), err: (err as Error).message }, `cannot apply ${ROUTES_LABEL}`);
      } finally {
        this.busy.delete(containerId);
      }
    })();
  }

  /**
   * After the event stream (re)opens, containers may have started unseen (the plugin was down,
   * dockerd restarted): apply every running labelled container's routes, forget removed ones.
   */
  private async resync(): Promise<void> {
    let list: { Id: string; State?: string }[];
    try {
      list = await this.docker.listContainers({ all: true, filters: { label: [ROUTES_LABEL] } });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, `cannot list containers with ${ROUTES_LABEL}`);
      return;
    }
    const ids = new Set(list.map((c) => c.Id));
    this.safely(() => pruneRouteStatus(this.opts.stateDir, (id) => ids.has(id)));
    for (const c of list) if (c.State === 'running') this.kick(c.Id);
  }

  private forget(containerId: string): void {
    this.safely(() => pruneRouteStatus(this.opts.stateDir, (id) => id !== containerId));
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, `cannot update ${ROUTES_LABEL} status file`);
    }
  }

  private async applyFor(containerId: string): Promise<void> {
    let c: ContainerInfo | null;
    try {
      c = await inspectContainer(containerId, this.docker);
    } catch (err) {
      this.log.error({ container: short(containerId), err: (err as Error).message }, `cannot apply ${ROUTES_LABEL}`);
      return;
    }
    // The label's lines, then each endpoint's `--driver-opt wgmpls.routes` lines.
    const given = c ? [c.labels[ROUTES_LABEL], ...c.endpointIds.map((id) => this.opts.endpointRoutes?.(id))] : [];
    const parts = given.filter((x): x is string => x !== undefined && x.trim() !== '');
    const label = parts.length > 0 ? parts.join(';') : undefined;
    // Gone, not started yet (a `connect` before `start`: start comes next), or nothing to do.
    if (!c || !c.running || label === undefined) return;
    if (!this.opts.ours(c.endpointIds)) {
      this.log.debug({ container: c.name }, `${ROUTES_LABEL} ignored: the container is on no network of this driver`);
      return;
    }
    const container = c.name;
    let path = '';
    try {
      const lines = parseRoutesLabel(label);
      const lsr = lsrModeOf(c.endpointIds.map((id) => this.opts.endpointLsr?.(id)));
      path = namespacePath(c);
      await applyRoutes(lines, path, { waitMs: this.opts.waitMs ?? 10_000, wanted: () => !this.stopped && !this.dead.has(containerId), lsr });
      const backend = backendOf(path);
      this.log.info({ container, id: short(c.id), routes: lines.length, lsr: backend }, `${ROUTES_LABEL} applied`);
      this.safely(() => recordRouteStatus(this.opts.stateDir, { containerId: c.id, name: container, routes: lines.length, lsr: backend, at: new Date().toISOString() }));
    } catch (err) {
      const message = (err as Error).message;
      if (this.stopped || this.dead.has(containerId) || (path !== '' && !existsSync(path))) {
        this.log.debug({ container, err: message }, `${ROUTES_LABEL} not applied: the container stopped`);
        return;
      }
      this.log.error({ container, id: short(c.id), err: message }, `${ROUTES_LABEL} of container ${container} refused, nothing installed`);
      this.safely(() => recordRouteStatus(this.opts.stateDir, { containerId: c.id, name: container, routes: 0, error: message, at: new Date().toISOString() }));
    }
  }
}
