// Removing everything the bench started (processes, daemon sockets, keys, namespaces): at the
// end, on an error, on Ctrl-C/SIGTERM and from the watchdog. Each module owns its own list of
// what it made; this one only decides the order and the ways out.
import { deleteNamespaces, deleteNamespacesSync } from './netns';
import { killAllProcessesSync, markAborting, stopAllProcesses } from './processes';
import { removeSocketsAndKeys } from './tunnels';

let cleaning: Promise<void> | null = null;

/** Safe to call more than once: every caller waits for the same single cleanup. */
export function cleanup(): Promise<void> {
  markAborting();
  cleaning ??= (async () => {
    await stopAllProcesses(3000);
    removeSocketsAndKeys();
    await deleteNamespaces();
  })();
  return cleaning;
}

/** Last resort if the process exits without cleanup() having finished (synchronous). */
export function cleanupSync(): void {
  killAllProcessesSync();
  removeSocketsAndKeys();
  deleteNamespacesSync();
}

/** Cleans up, then exits with `code`; if cleanup hangs, the synchronous one runs after 15 s. */
export function cleanUpAndExit(code: number): void {
  const hard = setTimeout(() => {
    cleanupSync();
    process.exit(code);
  }, 15_000);
  void cleanup().finally(() => {
    clearTimeout(hard);
    process.exit(code);
  });
}

export function onSignal(signal: NodeJS.Signals, code: number): void {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}, cleaning up\n`);
    cleanUpAndExit(code);
  });
}
