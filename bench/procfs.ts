// What the bench reads from /proc: a process's CPU time and resident memory, and a namespace's
// count of TCP segments sent (the packets a run carried). Parsing is pure; reading is here too.
import { readFileSync } from 'node:fs';
import { Ns } from './netns';
import { run } from './processes';

let clockTicks = 100;

/** Replaces the usual 100 Hz guess with the system's own figure, when getconf gives one. */
export async function readClockTicks(): Promise<void> {
  const ticks = Number((await run('getconf', ['CLK_TCK'], { timeoutMs: 5000 })).stdout.trim());
  if (Number.isInteger(ticks) && ticks > 0) clockTicks = ticks;
}

/** utime + stime in clock ticks from the text of /proc/<pid>/stat (all threads of the process). */
export function parseStatTicks(stat: string): number | null {
  // Fields after "pid (comm) ": state is field 3, utime field 14, stime field 15. comm may hold
  // spaces and parentheses, so count from the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]);
  return Number.isFinite(ticks) ? ticks : null;
}

/** utime + stime of the whole process (all threads), in seconds; null when it is gone. */
export function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const ticks = parseStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return ticks === null ? null : ticks / clockTicks;
  } catch {
    return null;
  }
}

/** A "Key:   123 kB" line of /proc/<pid>/status, in KiB. */
export function parseStatusKiB(status: string, key: 'VmRSS' | 'VmHWM'): number | null {
  const m = new RegExp(`^${key}:\\s*(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) : null;
}

/** Resident set size now (VmRSS) and at its peak (VmHWM), KiB; null when the process is gone. */
export function memoryKiB(pid: number | undefined): { rss: number; peak: number } | null {
  if (pid === undefined) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = parseStatusKiB(status, 'VmRSS');
    const peak = parseStatusKiB(status, 'VmHWM');
    return rss === null || peak === null ? null : { rss, peak };
  } catch {
    return null;
  }
}

/**
 * Tcp OutSegs from the text of /proc/net/snmp: TCP segments sent, a TSO superpacket counted as
 * the segments it becomes, so the figure does not depend on the offloads of the path.
 */
export function parseTcpOutSegs(snmp: string): number | null {
  const lines = snmp.split('\n').filter((l) => l.startsWith('Tcp: '));
  if (lines.length < 2) return null;
  const names = lines[0].trim().split(/\s+/);
  const values = lines[1].trim().split(/\s+/);
  const i = names.indexOf('OutSegs');
  const v = i > 0 ? Number(values[i]) : NaN;
  return Number.isFinite(v) ? v : null;
}

/** TCP segments sent so far in a namespace (its own /proc/net/snmp). */
export async function tcpOutSegs(ns: Ns): Promise<number> {
  const text = await ns.must('cat', ['/proc/net/snmp'], { timeoutMs: 5000 });
  const v = parseTcpOutSegs(text);
  if (v === null) throw new Error(`[${ns.name}] no Tcp OutSegs in /proc/net/snmp`);
  return v;
}
