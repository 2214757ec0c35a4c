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
