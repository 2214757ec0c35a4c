// Per-source token bucket for handshake messages under load, as wireguard-go's
// ratelimiter: 20 packets/s per source IP with a burst of 5; entries idle for more than 1 s
// are dropped (collected here lazily, at most once per second, from allow()). Pure: time
// comes in as nowMs. Keyed by the full source address (4 or 16 bytes) as wireguard-go does
// (the Linux kernel keys IPv6 by its /64; pass only the first 8 bytes to get that).

export interface RateLimiterOptions {
  packetsPerSecond?: number;
  burst?: number;
  /** Entries idle for longer than this are forgotten. */
  idleMs?: number;
}

interface Entry {
  tokens: number; // in ms of "credit"; one packet costs 1000 / packetsPerSecond
  lastMs: number;
}

export class RateLimiter {
  private readonly packetCost: number;
  private readonly maxTokens: number;
  private readonly idleMs: number;
  private readonly table = new Map<string, Entry>();
  private lastGcMs = Number.NEGATIVE_INFINITY;

  constructor(opts: RateLimiterOptions = {}) {
    const pps = opts.packetsPerSecond ?? 20;
    const burst = opts.burst ?? 5;
    if (!(pps > 0) || !(burst >= 1)) throw new RangeError('rate limiter needs packetsPerSecond > 0 and burst >= 1');
    this.packetCost = 1000 / pps;
    this.maxTokens = this.packetCost * burst;
    this.idleMs = opts.idleMs ?? 1000;
  }

  /** Whether one more packet from ip may be processed now (and charges it if so). */
  allow(ip: Uint8Array, nowMs: number): boolean {
    if (nowMs - this.lastGcMs >= this.idleMs) this.gc(nowMs);
    const key = Buffer.from(ip.buffer, ip.byteOffset, ip.byteLength).toString('latin1');
    const e = this.table.get(key);
    if (e === undefined) {
      this.table.set(key, { tokens: this.maxTokens - this.packetCost, lastMs: nowMs });
      return true;
    }
    // An injected clock may step backwards: never mint tokens from that.
    e.tokens += Math.max(0, nowMs - e.lastMs);
    e.lastMs = Math.max(e.lastMs, nowMs);
    if (e.tokens > this.maxTokens) e.tokens = this.maxTokens;
    // >= (wireguard-go has >): with a discrete clock, a full bucket then really passes
    // `burst` packets at the same instant.
    if (e.tokens >= this.packetCost) {
      e.tokens -= this.packetCost;
      return true;
    }
    return false;
  }

  /** Forgets sources idle for longer than idleMs. */
  gc(nowMs: number): void {
    this.lastGcMs = nowMs;
    for (const [k, e] of this.table) {
      if (nowMs - e.lastMs > this.idleMs) this.table.delete(k);
    }
  }

  /** Number of tracked sources. */
  get size(): number {
    return this.table.size;
  }

  clear(): void {
    this.table.clear();
  }
}
