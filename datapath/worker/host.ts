// The endpoints one worker process hosts: each a whole datapath (run.ts: its own Device, TUN,
// UDP socket, UAPI socket and share of its namespace's label-switching router), all on one
// event loop. The process warms the JIT up once (run.ts warmUpDatapath) instead of once per
// endpoint, and pays Node's own memory once. Requests for one interface run in order; requests
// for different interfaces may interleave.
import type { Timing } from '../device/constants';
import type { Log } from '../log';
import { RunningDatapath, startDatapath, warmUpDatapath } from '../run';
import type { EndpointSpec, HostedEndpoint } from './protocol';

export interface WorkerHostOptions {
  /** Where the endpoints' UAPI sockets go (default /var/run/wireguard). */
  uapiDir?: string;
  /** What the warm-up's throwaway devices look like (the live ones' MTU, underlay, MPLS rule). */
  warmUp: { mtu: number; listenAddress: string; mplsPeers: 'seed' | 'any' };
  testTiming?: Timing;
  log: Log;
}

export class WorkerHost {
  private readonly running = new Map<string, RunningDatapath>();
  /** The last request per interface, so that an add and a remove of one name never overlap. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private warming: Promise<void> | null = null;
  private warmed = false;
  private closed = false;

  constructor(private readonly opts: WorkerHostOptions) {}

  get warm(): boolean {
    return this.warmed;
  }

  /** Starts the process's one warm-up (idempotent); resolves when it is over. */
  warmUp(): Promise<void> {
    this.warming ??= (async () => {
      const ms = await warmUpDatapath({ ...this.opts.warmUp, log: this.opts.log });
      this.warmed = true;
      this.opts.log.info({ warmUpMs: Math.round(ms), endpoints: this.running.size }, 'worker warmed up');
    })();
    return this.warming;
  }

  /**
   * Starts an endpoint (idempotent: one already hosted stays as it is) and returns its UDP port.
   * With `warmUp` it goes live only after the warm-up; without (an endpoint being put back after
   * a crash, where every second of outage counts) at once.
   */
  add(spec: EndpointSpec, warmUp: boolean): Promise<number> {
    return this.inOrder(spec.ifname, async () => {
      if (this.closed) throw new Error('the worker is stopping');
      const have = this.running.get(spec.ifname);
      if (have) return have.device.port;
      if (warmUp) await this.warmUp();
      const dp = await startDatapath({
        ifname: spec.ifname,
        tunName: spec.tunName,
        netnsPath: spec.netns,
        listenPort: spec.port,
        mtu: spec.mtu,
        listenAddress: spec.listenAddress,
        mplsPeers: spec.mplsPeers,
        uapiDir: this.opts.uapiDir,
        testTiming: this.opts.testTiming,
        warmUp: false,
        log: this.opts.log,
      });
      if (this.closed) {
        await dp.stop();
        throw new Error('the worker is stopping');
      }
      this.running.set(spec.ifname, dp);
      return dp.device.port;
    });
  }

  /** Stops an endpoint: its TUN, UDP and UAPI sockets go with it. Unknown names are no error. */
  remove(ifname: string): Promise<void> {
    return this.inOrder(ifname, async () => {
      const dp = this.running.get(ifname);
      if (!dp) return;
      this.running.delete(ifname);
      await dp.stop();
    });
  }

  list(): HostedEndpoint[] {
    return [...this.running.entries()].map(([ifname, dp]) => ({ ifname, tunName: dp.lsr.ifname, nsid: dp.lsr.nsid, port: dp.device.port }));
  }

  get size(): number {
    return this.running.size;
  }

  async stopAll(): Promise<void> {
    this.closed = true;
    const all = [...this.running.keys()];
    await Promise.all(all.map((ifname) => this.remove(ifname)));
  }

  private inOrder<T>(ifname: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(ifname) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.queues.set(ifname, settled);
    void settled.then(() => {
      if (this.queues.get(ifname) === settled) this.queues.delete(ifname);
    });
    return next;
  }
}
