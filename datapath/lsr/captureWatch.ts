// Whether anyone captures labelled frames on an endpoint's TUN (tcpdump -i wgm0, any packet
// socket), so that the frames this datapath switches itself go up the TUN only then.
//
// Why: writing each received MPLS frame up the TUN, only for the kernel to discard it (no MPLS
// routing there) or for nobody to look, was one write(2) per frame: on a transit router, 96% of
// its system calls. Packet sockets are listed in /proc/net/packet of the
// namespace with their protocol and interface; the file is opened once inside the TUN's
// namespace and re-read from offset 0 twice a second, so a capture started on the interface sees
// labelled frames from at most half a second later.
import { closeSync, readSync } from 'node:fs';
import { netlinkAddon } from '../netlink/native';
import { ifIndex } from '../netlink/links';
import { ETH_P_MPLS_MC, ETH_P_MPLS_UC } from '../net/ethertypes';

const ETH_P_ALL = 0x0003;

/** One line of /proc/net/packet: what the socket receives, where. */
export interface PacketSocket {
  /** Host-order protocol it was opened or bound with (ETH_P_ALL: every frame). */
  proto: number;
  /** The interface it is bound to; 0: every interface (tcpdump -i any). */
  ifindex: number;
  /** Bound and receiving ("R" column). */
  running: boolean;
}

/**
 * Parses /proc/net/packet: a header line, then "sk RefCnt Type Proto Iface R Rmem User Inode"
 * with Proto in hex. Lines that do not parse are skipped (the kernel's own format).
 */
export function parsePacketSockets(text: string): PacketSocket[] {
  const out: PacketSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^[0-9a-fA-F]{1,4}$/.test(f[3]) || !/^\d+$/.test(f[4]) || !/^[01]$/.test(f[5])) continue;
    out.push({ proto: parseInt(f[3], 16), ifindex: Number(f[4]), running: f[5] === '1' });
  }
  return out;
}

/** A receiving socket that takes MPLS frames, on some interface or on all. */
export function takesMpls(s: PacketSocket): boolean {
  return s.running && (s.proto === ETH_P_ALL || s.proto === ETH_P_MPLS_UC || s.proto === ETH_P_MPLS_MC);
}

/** A socket that would receive an MPLS frame written up interface `ifindex`. */
export function seesMpls(s: PacketSocket, ifindex: number | null): boolean {
  return takesMpls(s) && (s.ifindex === 0 || (ifindex !== null && s.ifindex === ifindex));
}

export class CaptureWatch {
  /** A capture would see labelled frames on the interface now. */
  capturing = false;
  private fd: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly buf = Buffer.allocUnsafe(64 * 1024);

  constructor(
    private readonly ifname: () => string,
    private readonly netnsPath: string | undefined,
  ) {}

  /** Opens the namespace's packet socket list and checks it now and then every `ms`. */
  start(ms = 500): void {
    try {
      this.fd = netlinkAddon().openProcNet('packet', this.netnsPath);
    } catch {
      // No /proc/net/packet (a kernel without packet sockets): nobody can capture.
      this.fd = null;
      return;
    }
    this.check();
    this.timer = setInterval(() => this.check(), ms);
    this.timer.unref();
  }

  check(): void {
    if (this.fd === null) return;
    let text: string;
    try {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
      text = this.buf.toString('latin1', 0, n);
    } catch {
      return; // keep the last answer (the namespace may be going away)
    }
    const sockets = parsePacketSockets(text).filter(takesMpls);
    if (sockets.length === 0 || sockets.some((s) => s.ifindex === 0)) {
      this.capturing = sockets.length > 0;
      return;
    }
    // Sockets bound to some interface: is it ours? (Only looked up when there are such sockets.)
    let index: number | null = null;
    try {
      index = ifIndex(this.ifname(), this.netnsPath);
    } catch {
      index = null;
    }
    this.capturing = sockets.some((s) => seesMpls(s, index));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.capturing = false;
  }
}
