// One lock for everything that reads-then-writes the state or touches datapaths: Docker sends
// requests concurrently (two containers starting at once), and the supervisor restarts
// datapaths in the background. Handlers never call dockerd while holding it, so the lock cannot
// close a cycle with dockerd's own locks.
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    // The next holder waits for this one to finish, whether it failed or not.
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
