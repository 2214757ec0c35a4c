// The bench's network namespaces: created through Ns, remembered here until deleted, so that
// cleanup removes exactly the ones this run made.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { RunResult } from '../datapath/sys/exec';
import { describeFailure, must, run, track } from './processes';

/** Namespaces this run created and has not deleted yet. */
const namespaces = new Set<string>();

export class Ns {
  constructor(readonly name: string) {}

  static async create(name: string): Promise<Ns> {
    await must('ip', ['netns', 'add', name]);
    namespaces.add(name);
    const ns = new Ns(name);
    await ns.ip('link', 'set', 'lo', 'up');
    return ns;
  }

  ip(...args: string[]): Promise<string> {
    return must('ip', ['-n', this.name, ...args]);
  }

  exec(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  async must(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.exec(cmd, args, opts);
    if (r.code !== 0 || r.timedOut) throw new Error(`[${this.name}] ${describeFailure(cmd, args, r)}`);
    return r.stdout;
  }

  /** A long-running process in the namespace. `ip netns exec` execs in place, so the pid is the command's. */
  spawn(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    return track(spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env }));
  }
}

/** A veth pair between two namespaces, up, with an IPv4 address (with prefix length) on each end. */
export async function joinByVeth(a: Ns, b: Ns, names: [string, string], addrs: [string, string]): Promise<void> {
  await must('ip', ['link', 'add', names[0], 'netns', a.name, 'type', 'veth', 'peer', 'name', names[1], 'netns', b.name]);
  for (const [ns, ifname, addr] of [
    [a, names[0], addrs[0]],
    [b, names[1], addrs[1]],
  ] as const) {
    await ns.ip('addr', 'add', addr, 'dev', ifname);
    await ns.ip('link', 'set', ifname, 'up');
  }
}

/** Deletes every namespace this run created; one that will not go is reported, not fatal. */
export async function deleteNamespaces(): Promise<void> {
  for (const name of [...namespaces]) {
    const r = await run('ip', ['netns', 'del', name], { timeoutMs: 10_000 });
    if (r.code !== 0) process.stderr.write(`bench: could not delete namespace ${name}: ${r.stderr.trim()}\n`);
    namespaces.delete(name);
  }
}

/** The same for the exit handler, where nothing asynchronous runs any more. */
export function deleteNamespacesSync(): void {
  for (const name of namespaces) spawnSync('ip', ['netns', 'del', name], { timeout: 10_000 });
}
