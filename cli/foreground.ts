// The shape every long-running wgmpls command shares: start, or print why not and exit 1; then
// run until SIGINT/SIGTERM, stop cleanly, exit 0 (1 if stopping failed).
import type { Log } from '../datapath/log';

export async function runInForeground(what: string, log: Log, start: () => Promise<{ stop(): Promise<void> }>): Promise<void> {
  let running: { stop(): Promise<void> };
  try {
    running = await start();
  } catch (err) {
    process.stderr.write(`${what}: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const shutdown = (signal: string): void => {
    log.info({ signal }, 'shutting down');
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}
