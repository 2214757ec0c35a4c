// Every dropped packet is counted under the reason it was dropped for, so a user (and the fuzz
// test) can see that garbage was refused rather than silently lost.

export type DropReason =
  | 'short'
  | 'bad-length'
  | 'unknown-type'
  | 'reserved-nonzero'
  | 'bad-mac1'
  | 'cookie-required'
  | 'rate-limited'
  | 'no-private-key'
  | 'handshake-decrypt'
  | 'bad-peer-key'
  | 'unknown-peer'
  | 'replayed-initiation'
  | 'initiation-flood'
  | 'unknown-index'
  | 'bad-cookie-reply'
  | 'expired-session'
  | 'counter-too-large'
  | 'decrypt'
  /** A type 5/6 that authenticates only under the other label-auth setting (docs/design.md section 3). */
  | 'label-auth-mismatch'
  | 'replay'
  | 'bad-inner-packet'
  | 'source-not-allowed'
  | 'mpls-peer-not-allowed'
  | 'mpls-malformed'
  | 'no-peer-for-destination'
  | 'no-peer-for-mpls'
  | 'no-endpoint'
  | 'tun-short'
  | 'tun-not-ip'
  | 'tun-unknown-protocol'
  /** A TUN read the offload code refused (bad virtio-net header, GSO of a kind not asked for). */
  | 'tun-malformed'
  | 'tun-write'
  | 'udp-send';

/** Drops on the way out (from the TUN); every other reason is a received datagram refused. */
const TX_REASONS: ReadonlySet<DropReason> = new Set<DropReason>([
  'no-peer-for-destination',
  'no-peer-for-mpls',
  'no-endpoint',
  'bad-peer-key',
  'tun-short',
  'tun-not-ip',
  'tun-unknown-protocol',
  'tun-malformed',
  'tun-write',
  'udp-send',
]);

/** udp-source-gone: a peer's sticky source address went away; its datagrams left from the kernel's choice. */
export type EventName = 'rx-mpls' | 'rx-mpls-mc' | 'udp-source-gone';

export class Counters {
  readonly drops = new Map<DropReason, number>();
  readonly events = new Map<EventName, number>();

  drop(reason: DropReason, n = 1): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + n);
  }

  count(event: EventName, n = 1): void {
    this.events.set(event, (this.events.get(event) ?? 0) + n);
  }

  totalDrops(): number {
    let n = 0;
    for (const v of this.drops.values()) n += v;
    return n;
  }

  /** Datagrams from the underlay that were refused, whatever the reason. */
  udpDrops(): number {
    let n = 0;
    for (const [k, v] of this.drops) if (!TX_REASONS.has(k)) n += v;
    return n;
  }

  toJSON(): { drops: Record<string, number>; events: Record<string, number> } {
    return { drops: Object.fromEntries(this.drops), events: Object.fromEntries(this.events) };
  }
}
