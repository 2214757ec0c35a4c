// How a device is joined to its TUN and UDP socket: shared by the live datapath (run.ts) and
// its warm-up (warmupLive.ts), so that the closures on the per-packet path are the same
// function literals in both. V8 keeps optimized code per function literal: what the warm-up
// compiles here is what the first live packet runs, instead of the interpreter.
import { Device } from './device/device';
import type { Timing } from './device/constants';
import { UdpConn } from './conn/udp';
import { LsrEndpoint } from './lsr/endpoint';
import type { Log } from './log';
import { ETH_P_IP, ETH_P_IPV6, ETH_P_MPLS_MC, ETH_P_MPLS_UC } from './net/ethertypes';
import type { TunDevice } from './tun/tunDevice';

/**
 * Every caller passes all of these, in this order (the live datapath and its warm-up): the
 * per-packet closures read them, and an object of another shape at go-live would throw the
 * warm-up's compiled code away.
 */
export interface WiringOptions {
  mtu: number;
  timing: Timing;
  log: Log;
  mplsPeers: 'seed' | 'any' | undefined;
  /** The namespace's label-switching router, once there is one. */
  lsr: () => LsrEndpoint | null;
}

/**
 * A device that sends on `udp`, writes up `tun`, and receives from `udp`; with the TUN writer
 * it uses (refusals counted as the device's tun-write drops), for others writing up the TUN.
 */
function wireDevice(
  tun: TunDevice,
  udp: UdpConn,
  opts: WiringOptions,
): { device: Device; writeTun: (proto: number, packet: Uint8Array) => void; writeTunBatch: (buf: Buffer, desc: Uint32Array, count: number) => void } {
  let device: Device | null = null;
  const writeTun = (proto: number, packet: Uint8Array): void => {
    if (!tun.write(proto, packet)) device?.counters.drop('tun-write');
  };
  const writeTunBatch = (buf: Buffer, desc: Uint32Array, count: number): void => {
    const refused = tun.writeBatch(buf, desc, count);
    if (refused > 0) device?.counters.drop('tun-write', refused);
  };
  device = new Device(
    {
      sendUdp: (msg, to) => {
        if (!udp.send(msg, to)) device?.counters.drop('udp-send');
      },
      sendUdpBatch: (buf, lens, count, to) => udp.sendBatch(buf, lens, count, to),
      writeTun,
      writeTunBatch,
      bind: (port) => udp.bind(port),
      setMark: (mark) => udp.setMark(mark),
    },
    {
      mtu: opts.mtu,
      timing: opts.timing,
      log: opts.log,
      mplsPeers: opts.mplsPeers,
      ipHook: (packet) => opts.lsr()?.lsr.handleIpFromStack(packet) ?? false,
      ipGroupHook: (src, desc, stride, first, count) => opts.lsr()?.handleIpGroup(src, desc, stride, first, count) ?? false,
      onMplsRun: (buf, desc, count, multicast) => {
        // As onMpls below, a run at a time: up the TUN as they arrived, then switched.
        const lsr = opts.lsr();
        if (!lsr || lsr.mirrorsMpls) writeTunBatch(buf, desc, count);
        if (lsr && !lsr.kernelSwitches) lsr.handleFrameRun(buf, desc, count, multicast);
      },
      onMpls: (frame, multicast) => {
        // Up the TUN as it arrived when the namespace's kernel switches labels (it has the frame
        // from the TUN) or a capture watches the interface (`tcpdump -i <ifname>` shows the
        // labels; lsr/captureWatch.ts); then switched by the namespace's userspace LSR.
        const lsr = opts.lsr();
        if (!lsr || lsr.mirrorsMpls) writeTun(multicast ? ETH_P_MPLS_MC : ETH_P_MPLS_UC, frame);
        // The incoming device by the name it has now (Docker renames the TUN, e.g. to wgm0),
        // not the name it was created with: the LSR looks up ICMP source addresses by it.
        if (lsr && !lsr.kernelSwitches) lsr.lsr.handleFrame(Buffer.from(frame), multicast, lsr.ifname);
      },
    },
  );
  udp.attach(device, () => device?.counters.count('udp-source-gone'));
  return { device, writeTun, writeTunBatch };
}

/** From now on every packet read from `tun` goes to `dev`, a readable event's worth at a time. */
export function feedFromTun(tun: TunDevice, dev: Device, onError: (code: string) => void): void {
  tun.onBatch((batch) => dev.handleTunBatch(batch), onError);
}

/** The underlay socket of a device, bound to `listenAddress` (all addresses when undefined). */
export function openUdp(listenAddress: string | undefined, log: Log): UdpConn {
  return new UdpConn(listenAddress, (code) => log.warn({ code }, 'UDP read error'));
}

/**
 * A device with its share of the namespace's label-switching router, wired to `tun` and `udp`.
 * The live datapath (run.ts) and its warm-up (warmupLive.ts) both build theirs here: every
 * closure the per-packet path calls (the router getter, its TUN writers) is then the same
 * function literal in both, and the compiled code the warm-up leaves is the code live packets
 * run, not thrown away at the first of them for a call target it has not seen.
 */
export function wireEndpoint(tun: TunDevice, udp: UdpConn, opts: Omit<WiringOptions, 'lsr'>): { device: Device; endpoint: LsrEndpoint } {
  let endpoint: LsrEndpoint | null = null;
  const { device, writeTun, writeTunBatch } = wireDevice(tun, udp, { mtu: opts.mtu, timing: opts.timing, log: opts.log, mplsPeers: opts.mplsPeers, lsr: () => endpoint });
  const made = new LsrEndpoint(tun.name, device, (packet) => writeTun(packet[0] >> 4 === 6 ? ETH_P_IPV6 : ETH_P_IP, packet), opts.log, writeTunBatch);
  endpoint = made;
  return { device, endpoint: made };
}
