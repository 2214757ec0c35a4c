// The Docker side of `npm run bench:scale`: networks and containers made through dockerd's API
// (no CLI process per call, so the figures are dockerd's and the plugin's, not the docker CLI's),
// each labelled with this run so that an interrupted run can remove them, and each step timed.
import type Docker from 'dockerode';
import { dockerClient } from '../plugin/docker/client';

export const RUN_LABEL = 'wgmpls.bench';

export class BenchDocker {
  readonly docker: Docker = dockerClient(120_000);
  constructor(
    /** This run's label value. */
    readonly run: string,
    readonly image: string,
  ) {}

  private get labels(): Record<string, string> {
    return { [RUN_LABEL]: this.run };
  }

  async createNetwork(name: string, driver: string, subnet: string): Promise<void> {
    await this.docker.createNetwork({ Name: name, Driver: driver, CheckDuplicate: true, IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] }, Labels: this.labels });
  }

  /**
   * One node the way a lab starts it: created on its first network (or none), connected to the
   * rest, started. Returns the seconds it took.
   */
  async startNode(name: string, networks: readonly string[]): Promise<number> {
    const t0 = performance.now();
    const first = networks[0] ?? 'none';
    const c = await this.docker.createContainer({ name, Image: this.image, Labels: this.labels, HostConfig: { NetworkMode: first }, NetworkingConfig: networks.length ? { EndpointsConfig: { [first]: {} } } : undefined });
    for (const n of networks.slice(1)) await this.docker.getNetwork(n).connect({ Container: c.id });
    await c.start();
    return (performance.now() - t0) / 1000;
  }

  /** The container's address on a network (IPAM's choice). */
  async address(container: string, network: string): Promise<string> {
    const info = await this.docker.getContainer(container).inspect();
    const a = info.NetworkSettings.Networks[network]?.IPAddress;
    if (!a) throw new Error(`${container} has no address on ${network}`);
    return a;
  }

  /** Runs `cmd` in the container to its end (or, with `detach`, starts it); its exit code. */
  async exec(container: string, cmd: string[], detach = false): Promise<number> {
    const e = await this.docker.getContainer(container).exec({ Cmd: cmd, AttachStdout: !detach, AttachStderr: !detach });
    const stream = await e.start({ Detach: detach });
    if (!detach) {
      await new Promise<void>((resolve) => {
        stream.on('end', () => resolve());
        stream.on('error', () => resolve());
        stream.resume();
      });
    }
    return detach ? 0 : ((await e.inspect()).ExitCode ?? -1);
  }

  async removeContainer(name: string): Promise<void> {
    await this.docker.getContainer(name).remove({ force: true });
  }

  async removeNetwork(name: string): Promise<void> {
    await this.docker.getNetwork(name).remove();
  }

  /** Whatever this run (or, with `all`, any bench run) left: containers first, then networks. */
  async sweep(all = false): Promise<void> {
    const filters = { label: [all ? RUN_LABEL : `${RUN_LABEL}=${this.run}`] };
    const cs = await this.docker.listContainers({ all: true, filters });
    await inParallel(cs, 4, (c) => this.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined));
    const ns = await this.docker.listNetworks({ filters });
    await inParallel(ns, 4, (n) => this.docker.getNetwork(n.Id).remove().catch(() => undefined));
  }
}

/** Runs `fn` over `items`, at most `width` at a time; the results in order. */
export async function inParallel<T, R>(items: readonly T[], width: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
  return out;
}
