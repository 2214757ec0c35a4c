// One TUN interface, as the datapath sees it: batches of packets in, single packets out.
//
// Packets keep their 4-byte packet-information header (flags u16, protocol u16 big-endian)
// because MPLS frames cannot be told from IP by their first nibble; the protocol field is
// the only reliable discriminator between IPv4, IPv6 and MPLS unicast / multicast.

import { constants as osConstants } from 'node:os';
import { DEFAULT_MTU } from '../device/constants';
import { loadTunAddon, type TunAddon, type TunReadHandle } from './native';

export const PI_LEN = 4;


/** Protocol from a packet's PI header; 0 (no such protocol) if the buffer is too short. */
export function piProto(pkt: Buffer): number {
  return pkt.length < PI_LEN ? 0 : (pkt[2] << 8) | pkt[3];
}

export interface TunOpenOptions {
  /** Network namespace to create/attach the TUN in: /var/run/netns/NAME, /proc/PID/ns/net, a Docker SandboxKey. */
  netnsPath?: string;
  /** Set on open; 0 leaves the kernel's (or an existing device's) MTU alone. */
  mtu?: number;
}

const errnoNames: ReadonlyMap<number, string> = new Map(
  Object.entries(osConstants.errno).map(([name, num]): [number, string] => [num, name]),
);

function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

export class TunDevice {
  /** Writes the kernel refused (link down, queue full, malformed packet); the packet is dropped. */
  writeErrors = 0;
  /** errno name of the most recent refused write, for logs. */
  lastWriteError: string | null = null;

  private reader: TunReadHandle | null = null;
  private closedFlag = false;

  private constructor(
    private readonly addon: TunAddon,
    readonly fd: number,
    readonly name: string,
  ) {}

  /**
   * Creates the TUN, or attaches to an existing one of that name (e.g. left by a restarted
   * datapath). Throws an Error with `code` (EBUSY when another process holds it, EPERM, ENOENT
   * for a missing namespace path...). Synchronous: it runs setns on the calling thread, which
   * must not be interleaved with anything else on that thread.
   */
  static open(name: string, opts: TunOpenOptions = {}): TunDevice {
    const addon = loadTunAddon();
    const { fd, name: actual } = addon.open(name, opts.netnsPath, opts.mtu ?? DEFAULT_MTU);
    return new TunDevice(addon, fd, actual);
  }

  /**
   * A stand-in: one end of a socket pair that carries packets (PI header included) exactly as
   * a TUN would, so the live TUN code can run before any TUN exists (the warm-up). The other
   * end is `farFd`, the caller's to read, write and close (with the addon, as any TUN fd).
   */
  static standIn(name: string): { tun: TunDevice; farFd: number } {
    const addon = loadTunAddon();
    const [near, far] = addon.socketPair();
    return { tun: new TunDevice(addon, near, name), farFd: far };
  }

  /** Where the TUN is now (Docker may have moved and renamed it); the caller closes netnsFd. */
  location(): { name: string; netnsFd: number } {
    return this.addon.tunInfo(this.fd);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /**
   * Starts (or, if called again, redirects) reading. The handler gets every packet read in one
   * readable event, so it can batch the work behind them. onError gets errno names: EIO and
   * the like are transient; EBADFD means the interface was deleted and no more packets come.
   */
  onPackets(handler: (packets: Buffer[]) => void, onError?: (code: string) => void): void {
    if (this.closedFlag) throw new Error(`TUN ${this.name} is closed`);
    this.stopReading();
    this.reader = this.addon.startReading(this.fd, (...[packets, errorCode]) => {
      if (packets !== null) handler(packets);
      else if (onError !== undefined) onError(errorCode);
    });
  }

  /** Returns false when the kernel refused the packet; refusals are counted, never thrown. */
  write(proto: number, packet: Buffer | Uint8Array): boolean {
    // After close the fd number may already belong to some other file.
    if (this.closedFlag) {
      this.writeErrors++;
      this.lastWriteError = 'EBADF';
      return false;
    }
    const n = this.addon.write(this.fd, proto, packet);
    if (n < 0) {
      this.writeErrors++;
      this.lastWriteError = errnoName(-n);
      return false;
    }
    return true;
  }

  /** Idempotent. A TUN this process created disappears with its last fd; an attached one stays. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    // Stop polling before closing: epoll must not be left watching a recycled fd number.
    this.stopReading();
    this.addon.close(this.fd);
  }

  private stopReading(): void {
    if (this.reader === null) return;
    this.addon.stopReading(this.reader);
    this.reader = null;
  }
}
