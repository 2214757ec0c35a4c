// The configuration model shared by the UAPI (wg set / wg show) and the device.
// Keys are raw 32-byte Uint8Arrays here; hex/base64 only exist at the edges.

export interface Prefix {
  /** 4 bytes for IPv4, 16 for IPv6. */
  addr: Uint8Array;
  bits: number;
}

export interface Endpoint {
  /** Printable address: '192.0.2.1' or '2001:db8::1' (no brackets, no zone). */
  address: string;
  port: number;
  /**
   * Our side of it, the sticky source that replies leave from: the local address a datagram
   * from this endpoint was sent to and the interface it arrived on (undefined: the kernel
   * chooses). Filled in by the UDP underlay on receipt, kept in a peer's endpoint only from
   * datagrams that authenticated, and forgotten by the underlay when the address is gone.
   * Never part of the configuration.
   */
  localAddress?: string;
  localIfindex?: number;
}

/**
 * Every endpoint the datapath keeps or hands around is made here: one object literal, so one
 * hidden class. Endpoints built in different ways (a spread copy, another literal) would give
 * the per-packet send code a shape it was not compiled for, and V8 would drop that code.
 */
export function endpoint(address: string, port: number, localAddress?: string, localIfindex?: number): Endpoint {
  return { address, port, localAddress, localIfindex };
}

/** A received datagram's endpoint, kept for a peer: with the local source it arrived at. */
export function learnedEndpoint(src: Endpoint): Endpoint {
  return endpoint(src.address, src.port, src.localAddress, src.localIfindex);
}

/** Same remote address and port and same local source: a datagram from `b` changes nothing. */
export function sameEndpoint(a: Endpoint | null, b: Endpoint): boolean {
  return (
    a !== null &&
    a.address === b.address &&
    a.port === b.port &&
    a.localAddress === b.localAddress &&
    a.localIfindex === b.localIfindex
  );
}

export interface PeerSnapshot {
  publicKey: Uint8Array;
  presharedKey: Uint8Array; // all zero when unset
  endpoint: Endpoint | null;
  persistentKeepaliveInterval: number; // seconds, 0 = off
  /** wgmpls extension: authenticated labels with this peer (`wgmpls-label-auth`). */
  labelAuth: boolean;
  lastHandshakeTimeSec: number; // unix time; 0 = never
  lastHandshakeTimeNsec: number;
  txBytes: bigint;
  rxBytes: bigint;
  allowedIps: Prefix[];
}

export interface DeviceSnapshot {
  privateKey: Uint8Array | null;
  listenPort: number; // the bound port, 0 when not listening
  fwmark: number; // 0 = off
  peers: PeerSnapshot[];
}

/** One `public_key=` block of a set transaction, already validated. */
export interface PeerChange {
  publicKey: Uint8Array;
  remove: boolean;
  updateOnly: boolean;
  presharedKey?: Uint8Array;
  endpoint?: Endpoint;
  persistentKeepaliveInterval?: number;
  /** wgmpls extension `wgmpls-label-auth=true|false`; unchanged when absent. */
  labelAuth?: boolean;
  replaceAllowedIps: boolean;
  allowedIps: Prefix[]; // to add (after clearing, when replaceAllowedIps)
}

/** A whole validated `set=1` transaction; the device applies it all or nothing. */
export interface DeviceChange {
  privateKey?: Uint8Array | null; // null = remove (all-zero key given)
  listenPort?: number;
  fwmark?: number;
  replacePeers: boolean;
  peers: PeerChange[];
}

/** What the UAPI server drives; implemented by the device. */
export interface UapiTarget {
  snapshot(): DeviceSnapshot;
  /**
   * Applies all of `change` or nothing; throws (or rejects with) UapiError with an errno when
   * it cannot. May be async because binding a new listen port is; the server must await it.
   */
  apply(change: DeviceChange): void | Promise<void>;
  /**
   * wgmpls extension (`wgmpls-stats=1`): counters `wg` has no field for, such as packets
   * dropped by reason. Keys are [a-z0-9_.-]+, values integers.
   */
  stats?(): Record<string, number | bigint>;
}

export class UapiError extends Error {
  constructor(readonly errno: number, message: string) {
    super(message);
  }
}

/** errno values, positive; ipc/uapi.ts puts them on the wire the way wireguard-go does. */
export const Errno = {
  EIO: 5,
  EINVAL: 22,
  EADDRINUSE: 98,
  EPROTO: 71,
  ENOENT: 2,
} as const;
