// Typed access to the UDP part of the native addon (datapath/conn/native/udp.c).

import { loadNativeAddon } from '../native/addon';
import type { TunReadHandle } from '../tun/native';

/**
 * One recvmmsg round of the batched reader: `count` datagrams described in the caller's desc
 * (offset in the arena, length, endpoint index: 3 words each; a GRO burst is already cut into
 * its datagrams) and the round's distinct endpoints, flat [address, port, localAddress,
 * localIfindex, ...]; or (null, errnoName).
 */
export type UdpBatchCallback = (
  ...args: [count: number, endpoints: (string | number | undefined)[]] | [count: null, errorCode: string]
) => void;

export interface UdpAddon {
  /** Binds a non-blocking UDP socket (IPv6: v6-only). Throws with code EADDRINUSE and the like. */
  udpOpen(family: 4 | 6, address: string | null, port: number, bufferBytes: number): { fd: number; port: number };
  /** Shared with the TUN: stops any reader the addon started. Idempotent. */
  stopReading(handle: TunReadHandle): void;
  /**
   * Sends from fd4 or fd6 by the address's family (-1: no socket of that family), from
   * localAddress (IP_PKTINFO / IPV6_PKTINFO; '' = the kernel chooses). Bytes sent, or a negative
   * errno (never throws for the kernel's refusals): -EINVAL / -ENODEV when that source is gone.
   */
  udpSend(fd4: number, fd6: number, address: string, port: number, msg: Uint8Array, localAddress: string, localIfindex: number): number;
  /** Reads into the caller's arena (16 x 64 KiB) with UDP GRO on; see UdpBatchCallback. */
  udpStartReadingBatch(fd: number, arena: Buffer, desc: Uint32Array, callback: UdpBatchCallback): TunReadHandle;
  /**
   * Sends `count` datagrams lying back to back in buf (lengths in lens), runs of equal size with
   * UDP GSO. Datagrams sent, or a negative errno when none was (as udpSend).
   */
  udpSendBatch(fd4: number, fd6: number, address: string, port: number, localAddress: string, localIfindex: number, buf: Uint8Array, lens: Uint32Array, count: number): number;
  /** SO_MARK (0 clears it); throws, with code EPERM without CAP_NET_ADMIN. */
  udpSetMark(fd: number, mark: number): void;
  udpClose(fd: number): void;
}

const EXPORTS: readonly (keyof UdpAddon & string)[] = ['udpOpen', 'stopReading', 'udpSend', 'udpSetMark', 'udpClose', 'udpStartReadingBatch', 'udpSendBatch'];

export function loadUdpAddon(): UdpAddon {
  return loadNativeAddon<UdpAddon>(EXPORTS);
}
