// "Do it once things have settled, one run at a time": events that arrive in bursts (a lab's
// containers start or go one after another) ask for a run; the run starts after `settleMs` of
// quiet, and a request during a run makes exactly one more run follow it.
export class SettledTrigger {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private again = false;

  constructor(
    private readonly run: () => Promise<void>,
    private readonly settleMs: number,
  ) {}

  kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.running) {
        this.again = true;
        return;
      }
      this.running = true;
      void this.run().finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
    }, this.settleMs);
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
