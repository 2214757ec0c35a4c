import { chmodSync, mkdirSync } from 'node:fs';
import { Device } from './device/device';
import { timingFromEnv, DEFAULT_MTU } from './device/constants';
import { UdpConn } from './conn/udp';
import { TunDevice } from './tun/tunDevice';
import { UapiServer } from './ipc/server';
import { Log } from './log';

export interface DatapathOptions {
  ifname: string;
  mtu?: number;
  /** Create/attach the TUN inside this network namespace (path to an nsfs file). */
  netnsPath?: string;
  uapiDir?: string;
  log: Log;
}

export interface RunningDatapath {
  device: Device;
  tun: TunDevice;
  udp: UdpConn;
  uapi: UapiServer;
  stop(): Promise<void>;
}

/**
 * Wires one device to its three kinds of I/O: the TUN (packets from and to the container),
 * the UDP underlay, and the UAPI socket that `wg` talks to.
 */
export async function startDatapath(opts: DatapathOptions): Promise<RunningDatapath> {
  const { log } = opts;
  const mtu = opts.mtu ?? DEFAULT_MTU;
  const tun = TunDevice.open(opts.ifname, { netnsPath: opts.netnsPath, mtu });
  let device: Device | null = null;
  const udp = new UdpConn((msg, from) => device?.handleUdp(msg, from));
  device = new Device(
    {
      sendUdp: (chunks, to) => udp.send(chunks, to),
      writeTun: (proto, packet) => {
        if (!tun.write(proto, packet)) device?.counters.drop('tun-write');
      },
      bind: (port) => udp.bind(port),
    },
    { mtu, timing: timingFromEnv(), log },
  );
  const dev = device;
  let uapi: UapiServer;
  try {
    await dev.start(0);
    const dir = opts.uapiDir ?? '/var/run/wireguard';
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    uapi = await UapiServer.listen(opts.ifname, dev, { dir, log: (msg, fields) => log.info(fields ?? {}, msg) });
  } catch (err) {
    udp.close();
    tun.close();
    throw err;
  }
  tun.onPackets(
    (packets) => {
      for (const p of packets) dev.handleTunPacket(p);
    },
    (code) => log.warn({ code }, 'TUN read error'),
  );
  log.info({ ifname: tun.name, mtu, port: dev.port, uapi: uapi.path }, 'datapath up');

  let stopped = false;
  return {
    device: dev,
    tun,
    udp,
    uapi,
    async stop() {
      if (stopped) return;
      stopped = true;
      dev.close();
      tun.close();
      udp.close();
      await uapi.close();
      log.info({ ifname: opts.ifname }, 'datapath down');
    },
  };
}
