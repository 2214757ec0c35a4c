// Anti-replay sliding window (RFC 6479), behaving exactly like wireguard-go's replay.Filter:
// a ring of 128 blocks of 64 bits, so 127 full blocks (8128 counters) behind the highest
// counter seen are remembered; the block being filled is the 128th.
//
// Counters are 64-bit. JavaScript numbers are exact only below 2^53 and bigint arithmetic
// allocates, so the filter keeps every 64-bit quantity as two unsigned 32-bit halves
// (hi, lo) and never touches a bigint on the per-packet path (`checkAt`).

const BLOCK_BIT_LOG = 6;
const RING_BLOCKS = 128;
const BLOCK_MASK = RING_BLOCKS - 1;
const BIT_MASK = (1 << BLOCK_BIT_LOG) - 1;
const TWO_32 = 0x1_0000_0000;

/** How far behind the highest accepted counter a counter may still be accepted. */
export const REPLAY_WINDOW_SIZE = (RING_BLOCKS - 1) * (1 << BLOCK_BIT_LOG); // 8128

/** WireGuard's RejectAfterMessages: 2^64 - 2^13 - 1. */
export const REJECT_AFTER_MESSAGES: bigint = (1n << 64n) - (1n << 13n) - 1n;

const U64_MAX = (1n << 64n) - 1n;

export class ReplayFilter {
  private lastHi = 0;
  private lastLo = 0;
  // A 64-bit block is two u32 words: block b is words 2b (bits 0-31) and 2b+1 (bits 32-63).
  private readonly ring = new Uint32Array(RING_BLOCKS * 2);

  // The limit is almost always the same value for every call; splitting it once avoids a
  // bigint shift per packet.
  private limitKey: bigint | number = REJECT_AFTER_MESSAGES;
  private limitHi = 0;
  private limitLo = 0;

  constructor() {
    this.setLimit(REJECT_AFTER_MESSAGES);
  }

  /** Back to the empty state (a new keypair). */
  reset(): void {
    this.lastHi = 0;
    this.lastLo = 0;
    // wireguard-go clears only block 0 (the others are cleared before they are reused);
    // clearing all 1 KiB is equally correct and keeps the invariant obvious.
    this.ring.fill(0);
  }

  /**
   * wireguard-go's ValidateCounter: false for counters >= limit, too old, or already seen;
   * otherwise records the counter and returns true. Counters outside [0, 2^64) (or
   * non-integers) are rejected, as no uint64 could carry them.
   */
  validateCounter(counter: bigint | number, limit: bigint | number = REJECT_AFTER_MESSAGES): boolean {
    let hi: number;
    let lo: number;
    if (typeof counter === 'number') {
      if (!Number.isSafeInteger(counter) || counter < 0) return false;
      hi = Math.floor(counter / TWO_32);
      lo = counter >>> 0;
    } else {
      if (counter < 0n || counter > U64_MAX) return false;
      hi = Number(counter >> 32n);
      lo = Number(counter & 0xffff_ffffn);
    }
    return this.validateParts(hi, lo, limit);
  }

  /** Validates the 64-bit little-endian counter at buf[offset..offset+8) (a data message's). */
  checkAt(buf: Uint8Array, offset: number, limit: bigint | number = REJECT_AFTER_MESSAGES): boolean {
    const lo = (buf[offset] | (buf[offset + 1] << 8) | (buf[offset + 2] << 16) | (buf[offset + 3] << 24)) >>> 0;
    const hi =
      (buf[offset + 4] | (buf[offset + 5] << 8) | (buf[offset + 6] << 16) | (buf[offset + 7] << 24)) >>> 0;
    return this.validateParts(hi, lo, limit);
  }

  /** Same as validateCounter, for a counter already split into unsigned 32-bit halves. */
  validateParts(hi: number, lo: number, limit: bigint | number = REJECT_AFTER_MESSAGES): boolean {
    if (limit !== this.limitKey) this.setLimit(limit);
    if (hi > this.limitHi || (hi === this.limitHi && lo >= this.limitLo)) return false;

    const lastHi = this.lastHi;
    const lastLo = this.lastLo;
    const blockLo = lo >>> BLOCK_BIT_LOG; // low 26 bits of the block number
    if (hi > lastHi || (hi === lastHi && lo > lastLo)) {
      // Move the window forward, zeroing every block entered (at most the whole ring).
      const lastBlockLo = lastLo >>> BLOCK_BIT_LOG;
      let diff: number;
      if (hi === lastHi) diff = blockLo - lastBlockLo;
      else if (hi === lastHi + 1) diff = blockLo + (TWO_32 >>> BLOCK_BIT_LOG) - lastBlockLo;
      else diff = RING_BLOCKS;
      if (diff > RING_BLOCKS) diff = RING_BLOCKS;
      const ring = this.ring;
      for (let i = 1; i <= diff; i++) {
        const b = ((lastBlockLo + i) & BLOCK_MASK) << 1;
        ring[b] = 0;
        ring[b + 1] = 0;
      }
      this.lastHi = hi;
      this.lastLo = lo;
    } else {
      // Behind the window? (last - counter > window), in 64-bit arithmetic.
      const dHi = lastHi - hi;
      if (dHi > 1) return false;
      const dLo = lastLo - lo + (dHi === 1 ? TWO_32 : 0);
      if (dLo > REPLAY_WINDOW_SIZE) return false;
    }

    const bit = lo & BIT_MASK;
    const word = ((blockLo & BLOCK_MASK) << 1) | (bit >>> 5);
    const mask = 1 << (bit & 31);
    const old = this.ring[word];
    if ((old & mask) !== 0) return false;
    this.ring[word] = old | mask;
    return true;
  }

  private setLimit(limit: bigint | number): void {
    // Limits are split like counters; a limit beyond 2^64 - 1 lets every counter through
    // (hi = 2^32 exceeds any counter's hi), a negative one none.
    let hi: number;
    let lo: number;
    if (typeof limit === 'number') {
      if (Number.isNaN(limit) || limit < 0) {
        hi = -1;
        lo = 0;
      } else if (limit >= 2 ** 64) {
        hi = TWO_32;
        lo = 0;
      } else {
        // Above 2^53 a number is a multiple of 2048, so floor/mod are exact.
        const n = Math.ceil(limit);
        hi = Math.floor(n / TWO_32);
        lo = n - hi * TWO_32;
      }
    } else if (limit < 0n) {
      hi = -1;
      lo = 0;
    } else if (limit > U64_MAX) {
      hi = TWO_32;
      lo = 0;
    } else {
      hi = Number(limit >> 32n);
      lo = Number(limit & 0xffff_ffffn);
    }
    this.limitKey = limit;
    this.limitHi = hi;
    this.limitLo = lo;
  }
}
