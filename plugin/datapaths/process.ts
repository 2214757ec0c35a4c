// Datapath worker processes as the OS sees them: spawned detached (own session and process group,
// output to a file), so neither a plugin restart nor a signal to the plugin's terminal reaches
// them; found again later by pid + start time; stopped with SIGTERM, then SIGKILL for the group.
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  unlinkSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { DatapathRef } from '../state/types';

export interface WorkerSpawnSpec {
  cli: string;
  /** Its control socket. */
  control: string;
  /** What its warm-up devices look like (those of the network that needed it). */
  mtu: number;
  listenAddress: string;
  mplsPeers: 'seed' | 'any';
  /** Serve first, warm up when asked (a worker putting crashed endpoints back). */
  deferWarmUp: boolean;
  logFile: string;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface ProcStat {
  state: string;
  pgrp: number;
  startTime: string;
}

/** Fields of /proc/<pid>/stat after the command name (which may itself contain spaces or ')'). */
function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state), f[2] field 5 (pgrp), f[19] field 22 (starttime).
  return { state: f[0], pgrp: Number(f[2]), startTime: f[19] };
}

export function startTimeOf(pid: number): string | null {
  return procStat(pid)?.startTime ?? null;
}

/** The process is the datapath we started (not a reused pid) and has not exited. */
export function isAlive(ref: DatapathRef): boolean {
  const st = procStat(ref.pid);
  return st !== null && st.startTime === ref.startTime && st.state !== 'Z' && st.state !== 'X';
}

function argvOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/**
 * A per-endpoint datapath process of an older build (`wgmpls datapath IFNAME`); guards against
 * stopping an unrelated process that happens to have the recorded pid.
 */
export function runsDatapath(ref: DatapathRef, ifname: string): boolean {
  const argv = argvOf(ref.pid);
  return argv.includes('datapath') && argv.includes(ifname);
}

/** The worker listening on `control` (not an unrelated process that reuses the recorded pid). */
export function runsWorker(ref: DatapathRef, control: string): boolean {
  const argv = argvOf(ref.pid);
  return argv.includes('worker') && argv.includes(control);
}

/** The network and mount namespaces of a process ("net:[4026...] mnt:[4026...]"), null if unreadable. */
function namespacesOf(pid: number | 'self'): string | null {
  try {
    return `${readlinkSync(`/proc/${pid}/ns/net`)} ${readlinkSync(`/proc/${pid}/ns/mnt`)}`;
  } catch {
    return null;
  }
}

/**
 * Every worker process whose control socket lies in `dir` (the one of this plugin's state), by
 * its command line: also those no state names (a plugin killed while it was starting one).
 * Only those in this process's network and mount namespaces: several plugins with the same
 * state path inside (managed plugins of several dockerds on one machine, each in a namespace of
 * its own, as test/swarm runs them) see each other's processes with pid host, and must leave
 * each other's workers alone.
 */
export function workersIn(dir: string): { ref: DatapathRef; control: string }[] {
  const out: { ref: DatapathRef; control: string }[] = [];
  const ours = namespacesOf('self');
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const p of pids) {
    const argv = argvOf(Number(p));
    const i = argv.indexOf('--control');
    if (i < 0 || !argv.includes('worker') || dirname(argv[i + 1] ?? '') !== dir) continue;
    if (ours !== null && namespacesOf(Number(p)) !== ours) continue;
    const startTime = startTimeOf(Number(p));
    if (startTime !== null) out.push({ ref: { pid: Number(p), startTime }, control: argv[i + 1] });
  }
  return out;
}

export function spawnWorker(spec: WorkerSpawnSpec): DatapathRef {
  mkdirSync(join(spec.logFile, '..'), { recursive: true, mode: 0o750 });
  const out = openSync(spec.logFile, 'a', 0o640);
  try {
    const args = [spec.cli, 'worker', '--control', spec.control, '--mtu', String(spec.mtu), '--listen-address', spec.listenAddress, '--mpls-peers', spec.mplsPeers];
    if (spec.deferWarmUp) args.push('--defer-warm-up');
    const child = spawn(process.execPath, args, { detached: true, cwd: '/', stdio: ['ignore', out, out], env: process.env });
    if (child.pid === undefined) throw new Error(`cannot start a datapath worker (${spec.control})`);
    // Reaped by libuv if it dies while we run; otherwise it simply outlives us.
    child.unref();
    child.on('error', () => undefined);
    const startTime = startTimeOf(child.pid);
    if (startTime === null) throw new Error(`the datapath worker exited at once (see ${spec.logFile})`);
    return { pid: child.pid, startTime };
  } finally {
    closeSync(out);
  }
}

/** SIGTERM (a clean exit removes the TUN and the socket), then SIGKILL for the whole group. */
export async function stopDatapath(ref: DatapathRef, graceMs = 5000): Promise<'exited' | 'killed' | 'gone'> {
  if (!isAlive(ref)) return 'gone';
  try {
    process.kill(ref.pid, 'SIGTERM');
  } catch {
    return 'gone';
  }
  const end = Date.now() + graceMs;
  while (Date.now() < end) {
    if (!isAlive(ref)) return 'exited';
    await sleep(25);
  }
  const st = procStat(ref.pid);
  try {
    // Only the group it leads (detached: pgid = pid), never anything else.
    if (st !== null && st.pgrp === ref.pid) process.kill(-ref.pid, 'SIGKILL');
    else process.kill(ref.pid, 'SIGKILL');
  } catch {
    // exited meanwhile
  }
  for (let i = 0; i < 100 && isAlive(ref); i++) await sleep(20);
  return 'killed';
}

/** The last non-empty lines of a datapath's log, for error messages. */
export function logTail(file: string, lines = 3): string {
  try {
    const text = readFileSync(file, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join(' | ');
  } catch {
    return '';
  }
}

export function removeIfExists(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // not there
  }
}


export function linkExists(ifname: string): boolean {
  return existsSync(`/sys/class/net/${ifname}`);
}
