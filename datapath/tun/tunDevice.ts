// One TUN interface, as the datapath sees it: batches of packets in, single packets out.
//
// Packets keep their 4-byte packet-information header (flags u16, protocol u16 big-endian)
// because MPLS frames cannot be told from IP by their first nibble; the protocol field is
// the only reliable discriminator between IPv4, IPv6 and MPLS unicast / multicast.

import { constants as osConstants } from 'node:os';
import { DEFAULT_MTU, TUN_DESC_WORDS } from '../device/constants';
import { loadTunAddon, type TunAddon, type TunReadHandle } from './native';

export const PI_LEN = 4;


/** Protocol from a packet's PI header; 0 (no such protocol) if the buffer is too short. */
export function piProto(pkt: Buffer): number {
  return pkt.length < PI_LEN ? 0 : (pkt[2] << 8) | pkt[3];
}

const READ_ARENA_BYTES = 1 << 20;
const READ_DESC_PACKETS = 2048;

/**
 * What one readable event brought: `count` IP or MPLS packets in `arena`, described by `desc`
 * (TUN_DESC_WORDS each: offset, length, ethertype, and on the first packet of a group the group's
 * size: the segments of one superpacket, or 1). Valid only during the handler: the next event
 * overwrites arena and desc, so whatever is kept must be copied.
 */
export interface TunBatch {
  readonly arena: Buffer;
  readonly desc: Uint32Array;
  readonly count: number;
  /** Reads dropped as malformed (bad virtio-net header, GSO of a kind not asked for). */
  readonly dropped: number;
}

export interface TunOpenOptions {
  /** Network namespace to create/attach the TUN in: /var/run/netns/NAME, /proc/PID/ns/net, a Docker SandboxKey. */
  netnsPath?: string;
  /** Set on open; 0 leaves the kernel's (or an existing device's) MTU alone. */
  mtu?: number;
  /**
   * Virtio-net header and offloads (checksum, TSO, USO): one read may then be a 64 KiB TCP
   * superpacket, and writes may join segments (default true). Off: one packet per read/write.
   */
  offload?: boolean;
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

  private readArena: Buffer | null = null;
  private readDesc: Uint32Array | null = null;

  private constructor(
    private readonly addon: TunAddon,
    readonly fd: number,
    readonly name: string,
    /** Frames carry a virtio-net header (and writeBatch may join TCP segments). */
    readonly vnet: boolean,
    /** TUN_F_* flags the kernel accepted; 0 = packets come one by one. */
    readonly offloads: number,
  ) {}

  /**
   * Creates the TUN, or attaches to an existing one of that name (e.g. left by a restarted
   * datapath). Throws an Error with `code` (EBUSY when another process holds it, EPERM, ENOENT
   * for a missing namespace path...). Synchronous: it runs setns on the calling thread, which
   * must not be interleaved with anything else on that thread.
   */
  static open(name: string, opts: TunOpenOptions = {}): TunDevice {
    const addon = loadTunAddon();
    const { fd, name: actual, vnet, offloads } = addon.open(name, opts.netnsPath, opts.mtu ?? DEFAULT_MTU, opts.offload === false ? 0 : 1);
    return new TunDevice(addon, fd, actual, vnet, offloads);
  }

  /**
   * A stand-in: one end of a socket pair that carries packets (PI header included) exactly as
   * a TUN would, so the live TUN code can run before any TUN exists (the warm-up). The other
   * end is `farFd`, the caller's to read, write and close (with the addon, as any TUN fd).
   */
  static standIn(name: string): { tun: TunDevice; farFd: number } {
    const addon = loadTunAddon();
    const [near, far] = addon.socketPair();
    return { tun: new TunDevice(addon, near, name, false, 0), farFd: far };
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
    if (this.vnet) throw new Error(`TUN ${this.name} has offloads (virtio-net headers): read it with onBatch`);
    this.stopReading();
    this.reader = this.addon.startReading(this.fd, (...[packets, errorCode]) => {
      if (packets !== null) handler(packets);
      else if (onError !== undefined) onError(errorCode);
    });
  }

  /**
   * Like onPackets, batched (see TunBatch): the handler hears of each readable event once, with
   * superpackets already cut into packets and no allocation per packet.
   */
  onBatch(handler: (batch: TunBatch) => void, onError?: (code: string) => void): void {
    if (this.closedFlag) throw new Error(`TUN ${this.name} is closed`);
    this.stopReading();
    const arena = (this.readArena ??= Buffer.alloc(READ_ARENA_BYTES));
    const desc = (this.readDesc ??= new Uint32Array(READ_DESC_PACKETS * TUN_DESC_WORDS));
    // The native reader writes into arena and desc, and holds them until it is stopped.
    this.reader = this.addon.startReadingBatch(this.fd, this.vnet ? 1 : 0, arena, desc, (...[count, info]) => {
      if (count !== null) handler({ arena, desc, count, dropped: info });
      else if (onError !== undefined) onError(info);
    });
  }

  /**
   * Writes `count` packets of buf (desc: offset, length, ethertype per packet), consecutive TCP segments of
   * one flow joined into superpackets when the TUN has offloads. Returns how many were refused.
   */
  writeBatch(buf: Buffer, desc: Uint32Array, count: number): number {
    if (this.closedFlag) {
      this.writeErrors += count;
      this.lastWriteError = 'EBADF';
      return count;
    }
    const r = this.addon.writeBatch(this.fd, this.vnet ? 1 : 0, this.offloads !== 0 ? 1 : 0, buf, desc, count);
    if (r === 0) return 0;
    const refused = Math.floor(r / 256);
    this.writeErrors += refused;
    this.lastWriteError = errnoName(r % 256);
    return refused;
  }

  /** Returns false when the kernel refused the packet; refusals are counted, never thrown. */
  write(proto: number, packet: Buffer | Uint8Array): boolean {
    // After close the fd number may already belong to some other file.
    if (this.closedFlag) {
      this.writeErrors++;
      this.lastWriteError = 'EBADF';
      return false;
    }
    const n = this.addon.write(this.fd, proto, packet, this.vnet ? 1 : 0);
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
