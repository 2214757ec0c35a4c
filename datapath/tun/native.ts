// Typed access to the TUN part of the native addon (datapath/tun/native/tun.c).

import { loadNativeAddon } from '../native/addon';

export interface TunOpenResult {
  fd: number;
  /** The name the kernel actually gave the interface (differs only for patterns like tun%d). */
  name: string;
}

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
  open(name: string, netnsPath: string | undefined, mtu: number): TunOpenResult;
  startReading(fd: number, callback: TunReadCallback): TunReadHandle;
  /** Idempotent. */
  stopReading(handle: TunReadHandle): void;
  /** Bytes written (PI header included), or a negative errno; never throws for kernel refusals. */
  write(fd: number, proto: number, packet: Buffer | Uint8Array): number;
  close(fd: number): void;
  /** The network namespace's SO_NETNS_COOKIE (never reused, unlike its inode), as a decimal string. */
  netnsCookie(netnsPath: string | undefined): string;
  /** The TUN's current name and a new fd on its current network namespace (caller closes it). */
  tunInfo(fd: number): { name: string; netnsFd: number };
  /** A connected AF_UNIX SOCK_SEQPACKET pair (non-blocking): packet boundaries, like a TUN. */
  socketPair(): [number, number];
}

const EXPORTS: readonly (keyof TunAddon & string)[] = ['open', 'startReading', 'stopReading', 'write', 'close', 'netnsCookie', 'tunInfo', 'socketPair'];

export function loadTunAddon(): TunAddon {
  return loadNativeAddon<TunAddon>(EXPORTS);
}
