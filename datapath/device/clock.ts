// Time enters the device only through a Clock, so the protocol state machine (rekeys after
// 120 s, rejects after 180 s, retransmits every 5 s) can be driven in tests without waiting.

export interface Clock {
  /** Milliseconds, monotonic within one process, comparable to Date.now(). */
  now(): number;
  schedule(fn: () => void, delayMs: number): unknown;
  cancel(handle: unknown): void;
}

const origin = Date.now() - performance.now();

export const systemClock: Clock = {
  now: () => origin + performance.now(),
  schedule: (fn, delayMs) => setTimeout(fn, Math.max(0, delayMs)),
  cancel: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** A restartable one-shot timer, like wireguard-go's Timer with Mod/Del/IsPending. */
export class Timer {
  private handle: unknown = null;

  constructor(
    private readonly clock: Clock,
    private readonly fn: () => void,
  ) {}

  get pending(): boolean {
    return this.handle !== null;
  }

  mod(delayMs: number): void {
    if (this.handle !== null) this.clock.cancel(this.handle);
    this.handle = this.clock.schedule(() => {
      this.handle = null;
      this.fn();
    }, delayMs);
  }

  del(): void {
    if (this.handle !== null) this.clock.cancel(this.handle);
    this.handle = null;
  }
}

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
