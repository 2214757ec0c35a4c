// Typed access to the TUN part of the native addon (datapath/tun/native/tun.c).

import { loadNativeAddon } from '../native/addon';

export interface TunOpenResult {
  fd: number;
  /** The name the kernel actually gave the interface (differs only for patterns like tun%d). */
  name: string;
  /** Every frame carries a virtio-net header after the PI header (IFF_VNET_HDR). */
  vnet: boolean;
  /** TUN_F_* flags TUNSETOFFLOAD accepted (0: none, packets come one by one). */
  offloads: number;
}

/** TUN_F_* (linux/if_tun.h). */
export const TUN_F = { CSUM: 0x01, TSO4: 0x02, TSO6: 0x04, USO4: 0x20, USO6: 0x40 } as const;

/**
 * One readable event of the batched reader: `count` packets described in the caller's desc
 * (offset in the arena, length, ethertype, group size: 4 words each; a group is the packets cut
 * from one read, so they share their headers but for lengths), and how many reads were dropped
 * as malformed; or (null, errnoName).
 */
export type TunBatchCallback = (...args: [count: number, dropped: number] | [count: null, errorCode: string]) => void;

/** Opaque token from startReading; only meaningful to stopReading. */
export interface TunReadHandle {
  readonly __brand: 'wgmpls.TunReadHandle';
}

/**
 * Called once per readable event with every packet read in that event (each a private copy,
 * PI header included), or with (null, errnoName) when a read failed. EBADFD / EBADF mean the
 * device is gone and reading has stopped; anything else (EIO...) is reported and polling goes on.
 */
export type TunReadCallback = (...args: [packets: Buffer[]] | [packets: null, errorCode: string]) => void;

/** Errors thrown by open/close carry the errno name, like Node's own system errors. */
export interface TunSystemError extends Error {
  code: string;
  errno: number;
}

export interface TunAddon {
  /** mtu <= 0 leaves the MTU alone. netnsPath: a bind-mounted or /proc/PID/ns/net netns file. */
  open(name: string, netnsPath: string | undefined, mtu: number, offload: number): TunOpenResult;
  startReading(fd: number, callback: TunReadCallback): TunReadHandle;
  /** Idempotent. */
  stopReading(handle: TunReadHandle): void;
  /** Bytes written (PI header included), or a negative errno; never throws for kernel refusals. */
  write(fd: number, proto: number, packet: Buffer | Uint8Array, vnet: number): number;
  /** Reads into the caller's arena; see TunBatchCallback. */
  startReadingBatch(fd: number, vnet: number, arena: Buffer, desc: Uint32Array, callback: TunBatchCallback): TunReadHandle;
  /**
   * Writes `count` packets (desc: offset, length, ethertype), TCP runs joined into superpackets
   * when coalesce (and vnet) is set. Returns refused * 256 + the errno of the last refusal.
   */
  writeBatch(fd: number, vnet: number, coalesce: number, buf: Uint8Array, desc: Uint32Array, count: number): number;
  /** Test entry: offload.c's split of one packet read with the given virtio-net header; a negative number when refused. */
  offloadSplit(packet: Uint8Array, vnetHeader: Uint8Array): Buffer[] | number;
  /** Test entry: offload.c's coalescing; each frame as its virtio-net header + the bytes written. */
  offloadCoalesce(buf: Uint8Array, desc: Uint32Array, count: number): Buffer[];
  close(fd: number): void;
  /** The network namespace's SO_NETNS_COOKIE (never reused, unlike its inode), as a decimal string. */
  netnsCookie(netnsPath: string | undefined): string;
  /** The TUN's current name and a new fd on its current network namespace (caller closes it). */
  tunInfo(fd: number): { name: string; netnsFd: number };
  /** A connected AF_UNIX SOCK_SEQPACKET pair (non-blocking): packet boundaries, like a TUN. */
  socketPair(): [number, number];
}

const EXPORTS: readonly (keyof TunAddon & string)[] = ['open', 'startReading', 'stopReading', 'write', 'close', 'netnsCookie', 'tunInfo', 'socketPair', 'startReadingBatch', 'writeBatch', 'offloadSplit', 'offloadCoalesce'];

export function loadTunAddon(): TunAddon {
  return loadNativeAddon<TunAddon>(EXPORTS);
}
