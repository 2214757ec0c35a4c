import { REJECT_AFTER_MESSAGES, REPLAY_WINDOW_SIZE, ReplayFilter } from '../../datapath/device/replay';

// A direct bigint transcription of wireguard-go's algorithm, used as the oracle for the
// hi/lo implementation on counters near 2^32, 2^53 and 2^64.
class ModelFilter {
  last = 0n;
  ring: bigint[] = new Array<bigint>(128).fill(0n);
  validate(counter: bigint, limit: bigint): boolean {
    if (counter >= limit) return false;
    let indexBlock = counter >> 6n;
    if (counter > this.last) {
      const current = this.last >> 6n;
      let diff = indexBlock - current;
      if (diff > 128n) diff = 128n;
      for (let i = current + 1n; i <= current + diff; i++) this.ring[Number(i & 127n)] = 0n;
      this.last = counter;
    } else if (this.last - counter > 8128n) {
      return false;
    }
    indexBlock &= 127n;
    const bit = 1n << (counter & 63n);
    const old = this.ring[Number(indexBlock)];
    this.ring[Number(indexBlock)] = old | bit;
    return (old | bit) !== old;
  }
}

function le64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
}

describe('ReplayFilter', () => {
  test('constants match wireguard-go', () => {
    expect(REPLAY_WINDOW_SIZE).toBe(8128);
    expect(REJECT_AFTER_MESSAGES).toBe(18446744073709543423n);
  });

  // replay_test.go's TestReplay, case by case; it uses its own limit 2^64 - 2^4 - 1.
  describe("wireguard-go's replay_test.go", () => {
    const LIMIT = (1n << 64n) - (1n << 4n) - 1n;
    const T_LIM = BigInt(REPLAY_WINDOW_SIZE + 1);
    const W = BigInt(REPLAY_WINDOW_SIZE);

    function runner(filter: ReplayFilter, viaBuffer: boolean) {
      let n = 0;
      return (counter: bigint, expected: boolean) => {
        n++;
        const got = viaBuffer ? filter.checkAt(le64(counter), 0, LIMIT) : filter.validateCounter(counter, LIMIT);
        if (got !== expected) throw new Error(`case ${n}: counter ${counter} expected ${expected}`);
      };
    }

    for (const viaBuffer of [false, true]) {
      test(`table (${viaBuffer ? 'checkAt' : 'validateCounter'})`, () => {
        const filter = new ReplayFilter();
        const T = runner(filter, viaBuffer);
        T(0n, true); /*  1 */
        T(1n, true); /*  2 */
        T(1n, false); /*  3 */
        T(9n, true); /*  4 */
        T(8n, true); /*  5 */
        T(7n, true); /*  6 */
        T(7n, false); /*  7 */
        T(T_LIM, true); /*  8 */
        T(T_LIM - 1n, true); /*  9 */
        T(T_LIM - 1n, false); /* 10 */
        T(T_LIM - 2n, true); /* 11 */
        T(2n, true); /* 12 */
        T(2n, false); /* 13 */
        T(T_LIM + 16n, true); /* 14 */
        T(3n, false); /* 15 */
        T(T_LIM + 16n, false); /* 16 */
        T(T_LIM * 4n, true); /* 17 */
        T(T_LIM * 4n - (T_LIM - 1n), true); /* 18 */
        T(10n, false); /* 19 */
        T(T_LIM * 4n - T_LIM, false); /* 20 */
        T(T_LIM * 4n - (T_LIM + 1n), false); /* 21 */
        T(T_LIM * 4n - (T_LIM - 2n), true); /* 22 */
        T(T_LIM * 4n + 1n - T_LIM, false); /* 23 */
        T(0n, false); /* 24 */
        T(LIMIT, false); /* 25 */
        T(LIMIT - 1n, true); /* 26 */
        T(LIMIT, false); /* 27 */
        T(LIMIT - 1n, false); /* 28 */
        T(LIMIT - 2n, true); /* 29 */
        T(LIMIT + 1n, false); /* 30 */
        T(LIMIT + 2n, false); /* 31 */
        T(LIMIT - 2n, false); /* 32 */
        T(LIMIT - 3n, true); /* 33 */
        T(0n, false); /* 34 */
      });
    }

    test('bulk 1: 1..window, then 0', () => {
      const f = new ReplayFilter();
      const T = runner(f, false);
      for (let i = 1n; i <= W; i++) T(i, true);
      T(0n, true);
      T(0n, false);
    });

    test('bulk 2: 2..window+1, then 1, 0', () => {
      const f = new ReplayFilter();
      const T = runner(f, false);
      for (let i = 2n; i <= W + 1n; i++) T(i, true);
      T(1n, true);
      T(0n, false);
    });

    test('bulk 3: window+1 down to 1', () => {
      const f = new ReplayFilter();
      const T = runner(f, false);
      for (let i = W + 1n; i > 0n; i--) T(i, true);
    });

    test('bulk 4: window+2 down to 2, then 0', () => {
      const f = new ReplayFilter();
      const T = runner(f, false);
      for (let i = W + 2n; i > 1n; i--) T(i, true);
      T(0n, false);
    });

    test('bulk 5: window down to 1, window+1, then 0', () => {
      const f = new ReplayFilter();
      const T = runner(f, false);
      for (let i = W; i > 0n; i--) T(i, true);
      T(W + 1n, true);
      T(0n, false);
    });

    test('bulk 6: window down to 1, 0, window+1', () => {
      const f = new ReplayFilter();
      const T = runner(f, false);
      for (let i = W; i > 0n; i--) T(i, true);
      T(0n, true);
      T(W + 1n, true);
    });
  });

  test('reset forgets everything', () => {
    const f = new ReplayFilter();
    for (let i = 0; i < 20000; i += 7) expect(f.validateCounter(i)).toBe(true);
    f.reset();
    expect(f.validateCounter(0)).toBe(true);
    expect(f.validateCounter(7)).toBe(true);
    expect(f.validateCounter(7)).toBe(false);
  });

  test('window edge: exactly window behind is accepted, one more is not', () => {
    const f = new ReplayFilter();
    expect(f.validateCounter(10000)).toBe(true);
    expect(f.validateCounter(10000 - 8128)).toBe(true);
    expect(f.validateCounter(10000 - 8129)).toBe(false);
    expect(f.validateCounter(10000 - 8128)).toBe(false);
  });

  test('a jump past the whole ring clears stale bits', () => {
    const f = new ReplayFilter();
    for (let i = 0; i < 64 * 128; i++) f.validateCounter(i);
    const far = 64 * 128 * 3 + 5;
    expect(f.validateCounter(far)).toBe(true);
    // Every slot of the ring was reused; nothing seen before may leak into the new window.
    for (let c = far - 8128; c < far; c++) expect(f.validateCounter(c)).toBe(true);
  });

  test('counters at and beyond the default limit', () => {
    const f = new ReplayFilter();
    expect(f.validateCounter(REJECT_AFTER_MESSAGES)).toBe(false);
    expect(f.validateCounter(REJECT_AFTER_MESSAGES - 1n)).toBe(true);
    expect(f.checkAt(le64((1n << 64n) - 1n), 0)).toBe(false);
    expect(f.validateCounter(-1)).toBe(false);
    expect(f.validateCounter(1.5)).toBe(false);
    expect(f.validateCounter(1n << 64n, 1n << 70n)).toBe(false);
  });

  test('number limits, including fractional and small ones', () => {
    const f = new ReplayFilter();
    expect(f.validateCounter(5, 5)).toBe(false);
    expect(f.validateCounter(5, 5.5)).toBe(true);
    expect(f.validateCounter(6, 5.5)).toBe(false);
    expect(f.validateCounter(0, 0)).toBe(false);
    expect(f.validateCounter(4, Infinity)).toBe(true);
  });

  test('checkAt reads the little-endian counter at an offset', () => {
    const f = new ReplayFilter();
    const pkt = Buffer.alloc(16);
    pkt.writeBigUInt64LE(0x0102030405060708n, 8);
    expect(f.checkAt(pkt, 8)).toBe(true);
    expect(f.validateCounter(0x0102030405060708n)).toBe(false);
    expect(f.validateCounter(0x0102030405060708n - 1n)).toBe(true);
  });

  test('agrees with a bigint model across 2^32, 2^53 and near 2^64', () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    const limit = REJECT_AFTER_MESSAGES;
    for (const base of [0n, (1n << 32n) - 5000n, (1n << 53n) - 3000n, (1n << 59n) - 100n, limit - 20000n]) {
      const f = new ReplayFilter();
      const m = new ModelFilter();
      let cur = base;
      for (let i = 0; i < 20000; i++) {
        const r = rand();
        let c: bigint;
        switch (r % 5) {
          case 0:
            c = cur + BigInt(r % 200);
            break;
          case 1:
            c = cur - BigInt(r % 9000);
            break;
          case 2:
            c = cur + BigInt(r % 70000);
            break;
          case 3:
            c = cur - BigInt(r % 8200);
            break;
          default:
            c = cur + 1n;
        }
        if (c < 0n) c = 0n;
        if (c >= 1n << 64n) c = (1n << 64n) - 1n;
        if (c > cur) cur = c;
        const expected = m.validate(c, limit);
        const viaBuffer = (r & 1) === 0;
        const got = viaBuffer ? f.checkAt(le64(c), 0) : f.validateCounter(c <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(c) : c);
        if (got !== expected) throw new Error(`base ${base} step ${i}: counter ${c} expected ${expected}`);
      }
    }
  });
});
