// The device's restartable timer (datapath/device/clock.ts): wireguard-go's Mod/Del/IsPending
// semantics, kept while mod and del stay off the clock on the per-packet path.
import { Clock, Timer } from '../../datapath/device/clock';
import { FakeClock } from '../fakeClock';

/** A FakeClock that counts what the timer asked of it. */
class CountingClock implements Clock {
  scheduled = 0;
  cancelled = 0;
  constructor(readonly inner = new FakeClock()) {}
  now(): number {
    return this.inner.now();
  }
  schedule(fn: () => void, delayMs: number): unknown {
    this.scheduled++;
    return this.inner.schedule(fn, delayMs);
  }
  cancel(handle: unknown): void {
    this.cancelled++;
    this.inner.cancel(handle);
  }
}

function setUp(): { clock: CountingClock; timer: Timer; fired: number[] } {
  const clock = new CountingClock();
  const start = clock.now();
  const fired: number[] = [];
  const timer = new Timer(clock, () => fired.push(clock.now() - start));
  return { clock, timer, fired };
}

describe('Timer', () => {
  test('fires once, at the deadline of its last mod', () => {
    const { clock, timer, fired } = setUp();
    timer.mod(100);
    clock.inner.advance(40);
    timer.mod(100); // pushed back to 140
    clock.inner.advance(80);
    timer.mod(100); // pushed back to 220
    expect(timer.pending).toBe(true);
    clock.inner.advance(99);
    expect(fired).toEqual([]);
    clock.inner.advance(1);
    expect(fired).toEqual([220]);
    expect(timer.pending).toBe(false);
    clock.inner.advance(1000);
    expect(fired).toEqual([220]);
  });

  test('a deadline moved earlier fires at the earlier time', () => {
    const { clock, timer, fired } = setUp();
    timer.mod(1000);
    timer.mod(10);
    clock.inner.advance(10);
    expect(fired).toEqual([10]);
    clock.inner.advance(2000);
    expect(fired).toEqual([10]);
  });

  test('del: nothing fires; a mod after it arms again', () => {
    const { clock, timer, fired } = setUp();
    timer.mod(50);
    timer.del();
    expect(timer.pending).toBe(false);
    clock.inner.advance(100);
    expect(fired).toEqual([]);
    timer.mod(50);
    timer.del();
    timer.mod(30); // due at 130, before the clock timer armed for 150: armed again for 130
    clock.inner.advance(30);
    expect(fired).toEqual([130]);
  });

  test('a mod from its own callback arms it again', () => {
    const clock = new FakeClock();
    const start = clock.now();
    const fired: number[] = [];
    const timer: Timer = new Timer(clock, () => {
      fired.push(clock.now() - start);
      if (fired.length < 3) timer.mod(10);
    });
    timer.mod(10);
    clock.advance(100);
    expect(fired).toEqual([10, 20, 30]);
  });

  test('mod and del for every packet leave the clock alone once it is armed', () => {
    const { clock, timer, fired } = setUp();
    timer.mod(10_000);
    const armed = clock.scheduled;
    // What a busy peer does: each packet sent deletes the keepalive timer, each one received
    // pushes it back.
    for (let i = 0; i < 1000; i++) {
      timer.del();
      timer.mod(10_000);
      clock.inner.advance(1);
    }
    expect(clock.scheduled).toBe(armed);
    expect(clock.cancelled).toBe(0);
    // The first arming went off at 10 s, found the deadline moved, and armed once for the rest.
    clock.inner.advance(10_000);
    expect(fired).toEqual([10_999]); // the last mod was at 999 ms
    expect(clock.scheduled).toBe(armed + 1);
  });

  test('stop cancels the clock timer too, so nothing keeps the peer', () => {
    const { clock, timer, fired } = setUp();
    timer.mod(500);
    timer.stop();
    expect(timer.pending).toBe(false);
    expect(clock.inner.pendingCount).toBe(0);
    clock.inner.advance(1000);
    expect(fired).toEqual([]);
  });
});
