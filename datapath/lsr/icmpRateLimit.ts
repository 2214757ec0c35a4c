// Rate limit of the ICMP time-exceeded replies the LSR originates, as Linux limits its own:
// per destination of the error (the source of the expired packet) a token bucket refilled at
// one token per millisecond, a reply costing `net.mpls.icmp_ratelimit` ms of tokens and the
// bucket holding six replies' worth (net/ipv4/inetpeer.c inet_peer_xrlim_allow,
// XRLIM_BURST_FACTOR); and over all destinations Linux's icmp_msgs_per_sec / icmp_msgs_burst
// (1000/s, bursts of 50), so that a flood of spoofed sources cannot turn the LSR into an ICMP
// cannon. Without it, anyone able to send us labelled packets with a low TTL gets one reply of
// up to 576/1280 bytes per packet, towards any address they put as the source.
//
// Pure: time comes from the `now` the caller passes in (a fake clock in the tests).

/** Linux's XRLIM_BURST_FACTOR: a source may get this many replies back to back. */
export const ICMP_BURST_FACTOR = 6;
/** Linux's net.ipv4.icmp_msgs_per_sec and icmp_msgs_burst defaults: the limit over all sources. */
export const ICMP_MSGS_PER_SEC = 1000;
export const ICMP_MSGS_BURST = 50;
/** Sources remembered at once (least recently limited forgotten first), so memory stays bounded. */
export const ICMP_TRACKED_SOURCES = 4096;

interface Bucket {
  tokens: number;
  last: number;
}

export class IcmpRateLimiter {
  private readonly sources = new Map<string, Bucket>();
  private globalTokens = ICMP_MSGS_BURST;
  private globalLast: number;

  constructor(private readonly now: () => number) {
    this.globalLast = now();
  }

  /**
   * May a reply to `destination` (4 or 16 bytes) go now, with `intervalMs` between replies to
   * one destination (0: no per-destination limit, as Linux's icmp_ratelimit=0)? Takes the
   * tokens when it says yes.
   */
  allow(destination: Uint8Array, intervalMs: number): boolean {
    const now = this.now();
    // The global bucket first refills, but is only charged once the per-source one agrees.
    this.globalTokens = Math.min(ICMP_MSGS_BURST, this.globalTokens + ((now - this.globalLast) * ICMP_MSGS_PER_SEC) / 1000);
    this.globalLast = now;
    if (this.globalTokens < 1) return false;
    if (intervalMs > 0 && !this.allowSource(destination, intervalMs, now)) return false;
    this.globalTokens -= 1;
    return true;
  }

  /** Sources currently remembered (for the tests: memory stays bounded). */
  get tracked(): number {
    return this.sources.size;
  }

  private allowSource(destination: Uint8Array, intervalMs: number, now: number): boolean {
    const key = Buffer.from(destination.buffer, destination.byteOffset, destination.byteLength).toString('hex');
    const cap = ICMP_BURST_FACTOR * intervalMs;
    let b = this.sources.get(key);
    if (b) {
      this.sources.delete(key); // re-inserted below: the map's order is least recently used first
      b.tokens = Math.min(cap, b.tokens + (now - b.last));
      b.last = now;
    } else {
      if (this.sources.size >= ICMP_TRACKED_SOURCES) {
        const oldest = this.sources.keys().next().value;
        if (oldest !== undefined) this.sources.delete(oldest);
      }
      b = { tokens: cap, last: now };
    }
    this.sources.set(key, b);
    if (b.tokens < intervalMs) return false;
    b.tokens -= intervalMs;
    return true;
  }
}
