// Docker's event stream, reduced to what the driver reacts to. Join cannot ask Docker about the
// container being started (it would deadlock, docs/design.md section 5), so whatever needs the
// container (its labels, its id behind an endpoint) waits for these events instead. The stream
// is re-opened after dockerd restarts; listeners must tolerate repeats and gaps.
import { EventEmitter } from 'node:events';
import Docker from 'dockerode';
import { dockerClient } from './client';
import { z } from 'zod';
import type { Log } from '../../datapath/log';

export interface ContainerEvent {
  containerId: string;
  /** Container labels as Docker reports them in the event (all of them, for container events). */
  labels: Record<string, string>;
  name: string;
}

export interface NetworkEvent {
  networkId: string;
  containerId: string;
  /** The network's driver, when the event says (it does for connect/disconnect). */
  driver: string | undefined;
}

export interface DockerEventMap {
  /** A container started (its namespace exists and its networks are joined). */
  start: [ContainerEvent];
  /** A container stopped or died. */
  die: [ContainerEvent];
  /** A container was removed: whatever was kept for it may go. */
  destroy: [ContainerEvent];
  connect: [NetworkEvent];
  disconnect: [NetworkEvent];
  /** The stream (re)opened: state may have changed unseen, re-check what matters. */
  resync: [];
}

const EventSchema = z.object({
  Type: z.string(),
  Action: z.string(),
  Actor: z.object({ ID: z.string(), Attributes: z.record(z.string()).optional() }),
});

export class DockerEvents extends EventEmitter<DockerEventMap> {
  private stream: NodeJS.ReadableStream | null = null;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly log: Log,
    private readonly docker: Docker = dockerClient(null),
  ) {
    super();
  }

  start(): void {
    this.stopped = false;
    void this.open();
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    try {
      const stream = (await this.docker.getEvents({ filters: { type: ['container', 'network'] } })) as NodeJS.ReadableStream;
      if (this.stopped) {
        (stream as unknown as { destroy?: () => void }).destroy?.();
        return;
      }
      this.stream = stream;
      let buf = '';
      stream.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) this.dispatch(line);
        }
      });
      const again = (): void => {
        this.stream = null;
        this.schedule();
      };
      stream.on('end', again);
      stream.on('error', again);
      this.emit('resync');
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'docker events not available yet');
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.open();
    }, 1000);
  }

  private dispatch(line: string): void {
    let parsed: z.infer<typeof EventSchema>;
    try {
      parsed = EventSchema.parse(JSON.parse(line));
    } catch {
      return;
    }
    const attrs = parsed.Actor.Attributes ?? {};
    if (parsed.Type === 'container') {
      const { name = '', ...labels } = attrs;
      const ev: ContainerEvent = { containerId: parsed.Actor.ID, name, labels };
      if (parsed.Action === 'start') this.emit('start', ev);
      else if (parsed.Action === 'die') this.emit('die', ev);
      else if (parsed.Action === 'destroy') this.emit('destroy', ev);
    } else if (parsed.Type === 'network' && (parsed.Action === 'connect' || parsed.Action === 'disconnect')) {
      const ev: NetworkEvent = { networkId: parsed.Actor.ID, containerId: attrs.container ?? '', driver: attrs.type };
      if (ev.containerId) this.emit(parsed.Action, ev);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    (this.stream as unknown as { destroy?: () => void } | null)?.destroy?.();
    this.stream = null;
  }
}
