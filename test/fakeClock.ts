// A clock the tests move by hand, for the device's timers (datapath/device/clock.ts).
import type { Clock } from '../datapath/device/clock';

interface FakeEntry {
  at: number;
  seq: number;
  fn: () => void;
}

/** A manual clock for tests: nothing fires until advance() is called. */
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private entries = new Set<FakeEntry>();

  constructor(startMs = 1_700_000_000_000) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  schedule(fn: () => void, delayMs: number): unknown {
    const e: FakeEntry = { at: this.t + Math.max(0, delayMs), seq: this.seq++, fn };
    this.entries.add(e);
    return e;
  }

  cancel(handle: unknown): void {
    this.entries.delete(handle as FakeEntry);
  }

  /** Moves time forward, firing due timers in order (timers they schedule fire too). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: FakeEntry | null = null;
      for (const e of this.entries) {
        if (e.at <= end && (next === null || e.at < next.at || (e.at === next.at && e.seq < next.seq))) next = e;
      }
      if (next === null) break;
      this.entries.delete(next);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
  }

  get pendingCount(): number {
    return this.entries.size;
  }
}
