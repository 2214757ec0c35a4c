// TAI64N timestamps as WireGuard puts them in handshake initiations: 8 bytes big-endian
// seconds (Unix seconds + 2^62 + 10, the TAI64 label convention that wireguard-go uses) and
// 4 bytes big-endian nanoseconds. As wireguard-go does, the nanoseconds are rounded down to a
// multiple of 2^24 ns (about 16.8 ms) so the timestamp does not leak a fine-grained clock;
// this still lets the responder reject replays, and it caps the initiation rate a peer can
// get accepted at about 60/s.

export const TAI64N_LEN = 12;
const BASE = 0x400000000000000an; // 2^62 + 10
const WHITENER_MASK = 0x1000000 - 1; // 2^24 - 1

/** The TAI64N timestamp of a wall-clock time in Unix milliseconds (fractions allowed). */
export function tai64n(nowMs: number): Uint8Array {
  if (!Number.isFinite(nowMs)) throw new RangeError('tai64n: time must be finite');
  const secs = Math.floor(nowMs / 1000);
  let nanos = Math.floor((nowMs - secs * 1000) * 1e6);
  if (nanos > 999_999_999) nanos = 999_999_999;
  if (nanos < 0) nanos = 0;
  nanos -= nanos & WHITENER_MASK;
  const out = new Uint8Array(TAI64N_LEN);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BASE + BigInt(secs));
  dv.setUint32(8, nanos);
  return out;
}

/** Sign of a - b (byte-wise big-endian comparison, which is time order): -1, 0 or 1. */
export function compareTai64n(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}
