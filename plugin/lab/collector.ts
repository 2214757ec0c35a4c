// The networks of destroyed containerlab labs. containerlab has no destroy hook: `containerlab
// destroy` removes the lab's containers (Docker then tears their endpoints down through us) but
// knows nothing of the wgmpls networks `wgmpls lab sync` made for the lab. So the plugin removes
// a network labelled `wgmpls.lab=<lab>` once no container of that lab is left (Docker's
// `destroy` events; on every event stream (re)open, for what happened while we were away).
// The label tables of the lab's containers' namespaces go too (`wgmpls lab sync` noted which).
// From the event stream, never inside a driver request: `docker network rm` calls us back.
import type Docker from 'dockerode';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LSR_ROOT } from '../../datapath/lsr/store';
import type { Log } from '../../datapath/log';
import type { ContainerEvent, DockerEvents } from '../docker/events';
import { dockerClient } from '../docker/client';
import { CLAB_LAB_LABEL, NET_LAB_LABEL } from './links';
import { LAB_RECORDS } from './sync';
import { SettledTrigger } from './trigger';

/** Quiet time after the last destroy before looking: a lab's containers go one by one. */
const SETTLE_MS = 300;

export class LabNetworkCollector {
  private readonly trigger = new SettledTrigger(
    () => this.collect().then(
      () => undefined,
      (err: Error) => this.log.warn({ err: err.message }, 'cannot look for networks of destroyed labs'),
    ),
    SETTLE_MS,
  );
  private readonly onDestroy = (ev: ContainerEvent): void => {
    if (ev.labels[CLAB_LAB_LABEL] !== undefined) this.trigger.kick();
  };
  private readonly onResync = (): void => this.trigger.kick();

  constructor(
    private readonly events: DockerEvents,
    private readonly driver: (name: string | undefined) => boolean,
    private readonly log: Log,
    private readonly docker: Docker = dockerClient(30_000),
  ) {}

  start(): void {
    this.events.on('destroy', this.onDestroy);
    this.events.on('resync', this.onResync);
  }

  stop(): void {
    this.events.off('destroy', this.onDestroy);
    this.events.off('resync', this.onResync);
    this.trigger.cancel();
  }

  private async labGone(lab: string): Promise<boolean> {
    return (await this.docker.listContainers({ all: true, filters: { label: [`${CLAB_LAB_LABEL}=${lab}`] } })).length === 0;
  }

  /** Removes every lab network of ours whose lab has no container left, and the lab's tables. */
  async collect(): Promise<string[]> {
    const removed: string[] = [];
    const nets = await this.docker.listNetworks({ filters: { label: [NET_LAB_LABEL] } });
    for (const n of nets) {
      if (!this.driver(n.Driver)) continue;
      const lab = n.Labels?.[NET_LAB_LABEL];
      if (!lab || !(await this.labGone(lab))) continue;
      try {
        await this.docker.getNetwork(n.Id).remove();
        removed.push(n.Name);
        this.log.info({ network: n.Name, lab }, 'removed the network of a destroyed lab');
      } catch (err) {
        this.log.warn({ network: n.Name, lab, err: (err as Error).message }, 'cannot remove the network of a destroyed lab');
      }
    }
    let labs: string[] = [];
    try {
      labs = readdirSync(LAB_RECORDS);
    } catch {
      // no lab was ever synced here
    }
    for (const lab of labs) {
      if (!(await this.labGone(lab))) continue;
      const dir = join(LAB_RECORDS, lab);
      for (const f of readdirSync(dir)) {
        const nsid = readFileSync(join(dir, f), 'utf8').trim();
        // Cookies are never reused: the table of a namespace that is gone can never be read again.
        if (/^\d+$/.test(nsid)) rmSync(join(LSR_ROOT, nsid), { recursive: true, force: true });
      }
      rmSync(dir, { recursive: true, force: true });
      this.log.info({ lab }, 'removed the label tables of a destroyed lab');
    }
    return removed;
  }
}
