// containerlab nodes that start without their stage running `wgmpls lab sync`: a node that
// `containerlab deploy` recreates on a changed topology (reconcile) gets its `exec` but not its
// stages, and a restarted container comes back without the networks a stage gave it if Docker
// dropped them. So the plugin runs the same sync itself when a container with `wgmpls.links`
// starts. Same lock as the stage's; connecting twice is a no-op. A bad lab is only logged here:
// failing the deploy is the stage's job (it runs first on a normal deploy).
import type { Log } from '../../datapath/log';
import type { ContainerEvent, DockerEvents } from '../docker/events';
import { CLAB_LAB_LABEL, LINKS_LABEL } from './links';
import { labDriver, syncLabs, withLock } from './sync';
import { SettledTrigger } from './trigger';

const SETTLE_MS = 200;

export class LabAttacher {
  private readonly trigger = new SettledTrigger(() => this.sync(), SETTLE_MS);
  private readonly onStart = (ev: ContainerEvent): void => {
    if (ev.labels[LINKS_LABEL] !== undefined && ev.labels[CLAB_LAB_LABEL] !== undefined) this.trigger.kick();
  };

  constructor(
    private readonly events: DockerEvents,
    private readonly driver: string,
    private readonly log: Log,
  ) {}

  start(): void {
    // Only the instance whose networks the labs use (`wgmpls lab sync`'s driver): a second
    // driver instance on the same dockerd (tests, or another name) leaves labs alone.
    if (this.driver !== labDriver()) return;
    this.events.on('start', this.onStart);
  }

  stop(): void {
    this.events.off('start', this.onStart);
    this.trigger.cancel();
  }

  private async sync(): Promise<void> {
    try {
      const r = await withLock(() => syncLabs({ driver: this.driver }));
      if (r.connected.length) this.log.info({ connected: r.connected, created: r.created }, 'containerlab nodes put on their wgmpls networks');
      for (const f of r.failures) this.log.warn({ lab: f.lab, err: f.message }, 'containerlab lab not brought up');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot put containerlab nodes on their wgmpls networks');
    }
  }
}
