// Typed access to the UDP part of the native addon (datapath/conn/native/udp.c).

import { loadNativeAddon } from '../native/addon';
import type { TunReadHandle } from '../tun/native';

/**
 * One readable event's datagrams, flat: [msg, address, port, msg, address, port, ...] (each msg
 * a private copy), or (null, errnoName) when the socket reported an error.
 */
export type UdpReadCallback = (...args: [batch: (Buffer | string | number)[]] | [batch: null, errorCode: string]) => void;

export interface UdpAddon {
  /** Binds a non-blocking UDP socket (IPv6: v6-only). Throws with code EADDRINUSE and the like. */
  udpOpen(family: 4 | 6, address: string | null, port: number, bufferBytes: number): { fd: number; port: number };
  udpStartReading(fd: number, callback: UdpReadCallback): TunReadHandle;
  /** Shared with the TUN: stops any reader the addon started. Idempotent. */
  stopReading(handle: TunReadHandle): void;
  /**
   * Sends from fd4 or fd6 by the address's family (-1: no socket of that family). Bytes sent,
   * or a negative errno (never throws for the kernel's refusals).
   */
  udpSend(fd4: number, fd6: number, address: string, port: number, msg: Uint8Array): number;
  udpClose(fd: number): void;
}

const EXPORTS: readonly (keyof UdpAddon & string)[] = ['udpOpen', 'udpStartReading', 'stopReading', 'udpSend', 'udpClose'];

export function loadUdpAddon(): UdpAddon {
  return loadNativeAddon<UdpAddon>(EXPORTS);
}
