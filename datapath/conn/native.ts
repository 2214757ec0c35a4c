// Typed access to the UDP part of the native addon (datapath/conn/native/udp.c).

import { loadNativeAddon } from '../native/addon';
import type { TunReadHandle } from '../tun/native';

/**
 * One readable event's datagrams, flat: [msg, address, port, localAddress, localIfindex, msg, ...]
 * (each msg a private copy; localAddress the address it was sent to and localIfindex the
 * interface it arrived on, both undefined when the kernel said nothing), or (null, errnoName)
 * when the socket reported an error.
 */
export type UdpReadCallback = (
  ...args: [batch: (Buffer | string | number | undefined)[]] | [batch: null, errorCode: string]
) => void;

export interface UdpAddon {
  /** Binds a non-blocking UDP socket (IPv6: v6-only). Throws with code EADDRINUSE and the like. */
  udpOpen(family: 4 | 6, address: string | null, port: number, bufferBytes: number): { fd: number; port: number };
  udpStartReading(fd: number, callback: UdpReadCallback): TunReadHandle;
  /** Shared with the TUN: stops any reader the addon started. Idempotent. */
  stopReading(handle: TunReadHandle): void;
  /**
   * Sends from fd4 or fd6 by the address's family (-1: no socket of that family), from
   * localAddress (IP_PKTINFO / IPV6_PKTINFO; '' = the kernel chooses). Bytes sent, or a negative
   * errno (never throws for the kernel's refusals): -EINVAL / -ENODEV when that source is gone.
   */
  udpSend(fd4: number, fd6: number, address: string, port: number, msg: Uint8Array, localAddress: string, localIfindex: number): number;
  /** SO_MARK (0 clears it); throws, with code EPERM without CAP_NET_ADMIN. */
  udpSetMark(fd: number, mark: number): void;
  udpClose(fd: number): void;
}

const EXPORTS: readonly (keyof UdpAddon & string)[] = ['udpOpen', 'udpStartReading', 'stopReading', 'udpSend', 'udpSetMark', 'udpClose'];

export function loadUdpAddon(): UdpAddon {
  return loadNativeAddon<UdpAddon>(EXPORTS);
}
