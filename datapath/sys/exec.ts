// Running another program (ip, nsenter, wg, tcpdump...) to completion without blocking the event
// loop: datapaths may live in the same process and must keep forwarding while it runs. One
// helper for the datapath, the plugin, the CLI, the benchmarks and the tests.
import { ChildProcess, spawn } from 'node:child_process';

export interface RunResult {
  /** Exit code; 128 when killed by a signal, 127 when the program could not be started. */
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  /** Written to the program's stdin, which is then closed (closed at once when absent). */
  input?: string | Buffer;
  /** The program is killed (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Sees the child as soon as it exists (a benchmark keeps a list to kill on Ctrl-C). */
  onSpawn?: (child: ChildProcess) => void;
}

/** Runs `cmd args` to completion; never rejects (a failure to start is code 127). */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    opts.onSpawn?.(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let finished = false;
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      done({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), timedOut });
    };
    child.once('error', (e) => {
      err.push(Buffer.from(e.message));
      finish(127);
    });
    child.once('close', (code, signal) => finish(code ?? (signal ? 128 : 1)));
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs `cmd args` and resolves with its stdout; rejects naming the command and what it printed. */
export async function must(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim() || `exit code ${r.code}`}`);
  return r.stdout;
}
