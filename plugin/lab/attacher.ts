// containerlab nodes that start without their stage running `wgmpls lab sync`: a node that
// `containerlab deploy` recreates on a changed topology (reconcile) gets its `exec` but not its
// stages, and a restarted container comes back without the networks a stage gave it if Docker
// dropped them. So the plugin runs the same sync itself when a container with `wgmpls.links`
// starts. Same lock as the stage's; connecting twice is a no-op. A bad lab is only logged here:
// failing the deploy is the stage's job (it runs first on a normal deploy).
import type { Log } from '../../datapath/log';
import type { ContainerEvent, DockerEvents } from '../docker/events';
import { CLAB_LAB_LABEL, LINKS_LABEL } from './links';
import { LabFailure, syncLabs, withLock } from './sync';

const SETTLE_MS = 200;

export class LabAttacher {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private again = false;
  private readonly onStart = (ev: ContainerEvent): void => {
    if (ev.labels[LINKS_LABEL] !== undefined && ev.labels[CLAB_LAB_LABEL] !== undefined) this.kick();
  };

  constructor(
    private readonly events: DockerEvents,
    private readonly driver: string,
    private readonly log: Log,
  ) {}

  start(): void {
    this.events.on('start', this.onStart);
  }

  stop(): void {
    this.events.off('start', this.onStart);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.running) {
        this.again = true;
        return;
      }
      this.running = true;
      withLock(() => syncLabs({ driver: this.driver }))
        .then((r) => {
          if (r.connected.length) this.log.info({ connected: r.connected, created: r.created }, 'containerlab nodes put on their wgmpls networks');
        })
        .catch((err: Error) => {
          if (err instanceof LabFailure) this.log.warn({ lab: err.lab, err: err.message }, 'containerlab lab not brought up');
          else this.log.warn({ err: err.message }, 'cannot put containerlab nodes on their wgmpls networks');
        })
        .finally(() => {
          this.running = false;
          if (this.again) {
            this.again = false;
            this.kick();
          }
        });
    }, SETTLE_MS);
  }
}
