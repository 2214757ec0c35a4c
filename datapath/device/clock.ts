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
  // Unreferenced: a device's timers never keep a process alive on their own (its sockets and
  // TUN do), and a deleted Timer's clock timer may still be pending (see Timer).
  schedule: (fn, delayMs) => setTimeout(fn, Math.max(0, delayMs)).unref(),
  cancel: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * A restartable one-shot timer, like wireguard-go's Timer with Mod/Del/IsPending.
 *
 * Lazy, because mod and del run for every packet (each one pushes the keepalive and
 * new-handshake deadlines back or cancels them): they only move `due`. The clock's timer stays
 * armed for the deadline it was set for; if that deadline has since moved later it is armed
 * again for the rest when it goes off, and if the timer was deleted it does nothing. Only a
 * deadline moved earlier than the armed one re-arms at once. A setTimeout/clearTimeout pair
 * per packet was a visible share of a ping's CPU (perf: 4-5% of a datapath's samples), and
 * node's bookkeeping for it (one timer list per distinct delay, and the jittered delays are all
 * distinct) kept throwing away the compiled send path each time a list came or went.
 */
export class Timer {
  private isPending = false;
  private due = 0;
  private handle: unknown = null;
  private armedFor = 0;
  private readonly onClock = (): void => this.clockFired();

  constructor(
    private readonly clock: Clock,
    private readonly fn: () => void,
  ) {}

  get pending(): boolean {
    return this.isPending;
  }

  mod(delayMs: number): void {
    const now = this.clock.now();
    const due = now + Math.max(0, delayMs);
    this.due = due;
    this.isPending = true;
    if (this.handle !== null) {
      if (this.armedFor <= due) return;
      this.clock.cancel(this.handle);
    }
    this.arm(now, due);
  }

  del(): void {
    this.isPending = false;
  }

  /** Deleted, and the clock's timer cancelled too: for a peer going away, which nothing must keep. */
  stop(): void {
    this.isPending = false;
    if (this.handle !== null) this.clock.cancel(this.handle);
    this.handle = null;
  }

  private arm(now: number, due: number): void {
    this.armedFor = due;
    this.handle = this.clock.schedule(this.onClock, due - now);
  }

  private clockFired(): void {
    this.handle = null;
    if (!this.isPending) return;
    const now = this.clock.now();
    if (now < this.due) {
      this.arm(now, this.due);
      return;
    }
    this.isPending = false;
    this.fn();
  }
}
