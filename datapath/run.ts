import { chmodSync, closeSync, fstatSync, mkdirSync, openSync } from 'node:fs';
import { TUN_F, loadTunAddon } from './tun/native';
import { Device } from './device/device';
import { DEFAULT_MTU, Timing, defaultTiming } from './device/constants';
import type { UdpConn } from './conn/udp';
import { TunDevice } from './tun/tunDevice';
import { UapiServer } from './ipc/server';
import type { LsrEndpoint } from './lsr/endpoint';
import { gcStaleTables } from './lsr/store';
import { warmUp } from './device/warmup';
import { warmUpLive } from './warmupLive';
import { feedFromTun, openUdp, wireEndpoint } from './wiring';
import { Log } from './log';
import { aeadBackend } from './crypto/native';

export interface DatapathOptions {
  /** The interface's name, and its UAPI socket's. */
  ifname: string;
  /** The TUN's name when it differs from `ifname` (a worker recreating a container's wgm0). */
  tunName?: string;
  /** The UDP port to listen on from the start (default: any, until the configuration says). */
  listenPort?: number;
  mtu?: number;
  /** Create/attach the TUN inside this network namespace (path to an nsfs file). */
  netnsPath?: string;
  uapiDir?: string;
  /** Bind the underlay UDP socket to this address only (default: all addresses). */
  listenAddress?: string;
  /** Who may send us MPLS: the seed's rule (default) or every peer (multipoint networks). */
  mplsPeers?: 'seed' | 'any';
  /** TUN offloads (default true); false or a kernel refusing them: one packet per read and write. */
  offload?: boolean;
  /** Test-only shortened protocol timers (`--test-timing`); production uses the defaults. */
  testTiming?: Timing;
  /**
   * Warm the JIT up before going live (default). A process hosting many endpoints warms up once
   * (warmUpDatapath) and starts the others without, as does one restoring endpoints after a crash.
   */
  warmUp?: boolean;
  log: Log;
}

export interface RunningDatapath {
  device: Device;
  tun: TunDevice;
  udp: UdpConn;
  uapi: UapiServer;
  lsr: LsrEndpoint;
  stop(): Promise<void>;
}

/** When this process last collected the tables of dead namespaces (gcStaleTables). */
let lastTableGc = 0;

/**
 * Runs the per-packet code through throwaway devices (device/warmup.ts, warmupLive.ts) so that
 * the first live packets run compiled code. Once per process: V8's compiled code is shared by
 * every device of the process. Returns the milliseconds it took.
 */
export async function warmUpDatapath(opts: { mtu: number; listenAddress?: string; mplsPeers?: 'seed' | 'any'; log: Log }): Promise<number> {
  const started = performance.now();
  warmUp();
  // Best effort: a namespace without a loopback address still starts, just colder.
  await warmUpLive({ mtu: opts.mtu, listenAddress: opts.listenAddress, mplsPeers: opts.mplsPeers, log: opts.log }).catch(() => 0);
  return performance.now() - started;
}

/**
 * Wires one device to its three kinds of I/O: the TUN (packets from and to the container),
 * the UDP underlay, and the UAPI socket that `wg` talks to.
 */
/** 'csum tso4 tso6 uso4 uso6', 'none', or 'off' (asked for none). */
export function describeOffloads(tun: TunDevice): string {
  if (!tun.vnet) return 'off';
  const names = Object.entries(TUN_F).filter(([, bit]) => (tun.offloads & bit) !== 0).map(([name]) => name.toLowerCase());
  return names.length > 0 ? names.join(' ') : 'none';
}

export async function startDatapath(opts: DatapathOptions): Promise<RunningDatapath> {
  const { log } = opts;
  const mtu = opts.mtu ?? DEFAULT_MTU;
  const warmMs = opts.warmUp === false ? 0 : await warmUpDatapath({ mtu, listenAddress: opts.listenAddress, mplsPeers: opts.mplsPeers, log });
  const tun = TunDevice.open(opts.tunName ?? opts.ifname, { netnsPath: opts.netnsPath, mtu, offload: opts.offload });
  const udp = openUdp(opts.listenAddress, log);
  const { device: dev, endpoint } = wireEndpoint(tun, udp, { mtu, timing: opts.testTiming ?? defaultTiming, log, mplsPeers: opts.mplsPeers });
  let uapi: UapiServer;
  try {
    await dev.start(opts.listenPort ?? 0);
    const dir = opts.uapiDir ?? '/var/run/wireguard';
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    await endpoint.attach(tun.name, opts.netnsPath);
    const target = {
      snapshot: () => dev.snapshot(),
      apply: (c: Parameters<Device['apply']>[0]) => dev.apply(c),
      stats: () => ({ ...dev.stats(), ...endpoint.stats() }),
    };
    uapi = await UapiServer.listen(opts.ifname, target, { dir, log: (msg, fields) => log.debug(fields ?? {}, msg) });
  } catch (err) {
    endpoint.stop();
    udp.close();
    tun.close();
    throw err;
  }
  if (opts.testTiming) log.warn({ timing: opts.testTiming }, 'TEST TIMING in effect: protocol timers are not WireGuard\'s');
  feedFromTun(tun, dev, (code) => log.warn({ code }, 'TUN read error'));
  log.info({ ifname: tun.name, mtu, port: dev.port, uapi: uapi.path, warmUpMs: Math.round(warmMs), offloads: describeOffloads(tun), aead: aeadBackend() }, 'datapath up');
  if (opts.offload !== false && tun.offloads === 0) {
    log.warn({ ifname: tun.name }, 'the kernel refused TUN offloads (TUNSETOFFLOAD): packets go one by one, slower');
  }
  // At most once a minute per process (a worker starts many endpoints): a pass looks at every
  // process's namespace, and only tables untouched for a minute go anyway.
  if (Date.now() - lastTableGc >= 60_000) {
    lastTableGc = Date.now();
    setImmediate(() => {
      try {
        const gone = gcStaleTables();
        if (gone.length) log.info({ tables: gone.length }, 'removed the label tables of namespaces that no longer exist');
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'label table clean-up failed');
      }
    });
  }

  // Docker moves an endpoint's TUN into the container and renames it: the LSR follows the TUN.
  // We hold an fd on the namespace we are attached to, so its inode cannot be reused while we
  // compare: the once-a-second check is an ioctl and an fstat, and the cookie (a setns) is only
  // asked when the namespace really changed.
  let heldNs: number = openSync(opts.netnsPath ?? '/proc/self/ns/net', 'r');
  const follow = setInterval(() => {
    let loc: { name: string; netnsFd: number };
    try {
      loc = tun.location();
    } catch {
      return; // the TUN is gone or going; nothing to follow
    }
    if (loc.name === endpoint.ifname && fstatSync(loc.netnsFd).ino === fstatSync(heldNs).ino) {
      closeSync(loc.netnsFd);
      return;
    }
    let cookie: string;
    try {
      cookie = loadTunAddon().netnsCookie(`/proc/self/fd/${loc.netnsFd}`);
    } catch {
      closeSync(loc.netnsFd);
      return; // the namespace went away meanwhile; the next tick sees where the TUN is
    }
    const previous = heldNs;
    heldNs = loc.netnsFd;
    endpoint.attach(loc.name, `/proc/${process.pid}/fd/${loc.netnsFd}`, cookie).then(
      () => closeSync(previous),
      (err: Error) => {
        closeSync(previous);
        log.error({ err: err.message }, 'cannot follow the TUN into its new namespace');
      },
    );
  }, 1000);
  follow.unref();

  let stopped = false;
  return {
    device: dev,
    tun,
    udp,
    uapi,
    lsr: endpoint,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(follow);
      endpoint.stop();
      closeSync(heldNs);
      dev.close();
      tun.close();
      udp.close();
      await uapi.close();
      log.info({ ifname: opts.ifname }, 'datapath down');
    },
  };
}

/**
 * Several devices in one process (`wgmpls datapath A B ...`): a router's interfaces, which then
 * hand labelled frames to each other by a function call (lsr/siblings.ts) instead of through a
 * socket between processes. All start or none: a device that cannot start stops those before it.
 */
export async function startDatapaths(ifnames: string[], options: (ifname: string, first: boolean) => DatapathOptions): Promise<{ stop(): Promise<void> }> {
  const running: RunningDatapath[] = [];
  const stopAll = async (): Promise<void> => {
    // Reverse order; a failing stop does not keep the others up.
    const errors: unknown[] = [];
    for (const r of [...running].reverse()) await r.stop().catch((err: unknown) => errors.push(err));
    if (errors.length) throw errors[0];
  };
  for (const [i, ifname] of ifnames.entries()) {
    try {
      running.push(await startDatapath(options(ifname, i === 0)));
    } catch (err) {
      await stopAll().catch(() => undefined);
      throw new Error(ifnames.length > 1 ? `${ifname}: ${(err as Error).message}` : (err as Error).message);
    }
  }
  return { stop: stopAll };
}
