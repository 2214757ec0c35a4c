// The bench's child processes: every one it starts is tracked here so that cleanup can stop it,
// and the aborting flag here stops new steps once cleanup has begun. Also waiting on a
// condition and stopping one process.
import { ChildProcess } from 'node:child_process';
import { RunResult, run as runCommand } from '../datapath/sys/exec';

/** Set once cleanup has begun: no new step may start after that. */
let aborting = false;

export function markAborting(): void {
  aborting = true;
}

export function isAborting(): boolean {
  return aborting;
}

export function checkNotAborted(): void {
  if (aborting) throw new Error('aborted');
}

/** Processes this run started and has not seen exit: stopped by cleanup(). */
const live = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Stops every tracked process (SIGTERM, then SIGKILL after graceMs). */
export async function stopAllProcesses(graceMs: number): Promise<void> {
  await Promise.all([...live].map((c) => stopProcess(c, graceMs)));
}

/** Last resort when the process is exiting: no time to wait for anything. */
export function killAllProcessesSync(): void {
  for (const c of live) c.kill('SIGKILL');
}

/** Runs a command to completion (datapath/sys/exec.ts), its child killed on Ctrl-C like the others. */
export function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return runCommand(cmd, args, { timeoutMs: 30_000, ...opts, onSpawn: (child) => void track(child) });
}

export function describeFailure(cmd: string, args: string[], r: RunResult): string {
  const why = r.timedOut ? 'timed out' : `exit ${r.code}`;
  const text = (r.stderr || r.stdout).trim().split('\n').slice(-5).join(' | ');
  return `${cmd} ${args.join(' ')}: ${why}${text ? `: ${text}` : ''}`;
}

export async function must(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0 || r.timedOut) throw new Error(describeFailure(cmd, args, r));
  return r.stdout;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Sends SIGTERM, then SIGKILL after graceMs; resolves with the exit code (null if signalled). */
export function stopProcess(child: ChildProcess, graceMs = 5000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((done) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      done(code);
    });
    child.kill('SIGTERM');
  });
}
