// Which processes are dockerd, judged by what only root controls. The plugin reaches a
// container's SandboxKey through /proc/<dockerd>/root/... (plumbing.ts says why), so whoever it
// takes for dockerd decides which network namespace a TUN is moved into and whose routes are
// edited. A process name (/proc/<pid>/comm) proves nothing: any user can name a process
// "dockerd" and, in a user and mount namespace of its own, put a namespace it controls at the
// SandboxKey's path under its root. So a process counts as dockerd only when
//   - it runs as root: real, effective, saved and filesystem uid all 0 (/proc/<pid>/status);
//   - its executable (/proc/<pid>/exe, set by execve, not by the process) is named dockerd and
//     is a root-owned file nobody else may write;
// and when dockerd's pid file (root-owned, not writable by others) names such a process, that
// process alone is taken. Without a usable pid file (the containerised plugin does not see the
// host's /var/run), every process passing the checks above is.
import { lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { basename } from 'node:path';

/** dockerd's --pidfile default. */
export const DOCKERD_PIDFILE = '/var/run/docker.pid';

function rootOwnedNotWritableByOthers(st: { uid: number; mode: number }): boolean {
  return st.uid === 0 && (st.mode & 0o022) === 0;
}

/** All four uids of the process are 0 (a setuid-root helper that dropped them is not root). */
function runsAsRoot(pid: number, proc: string): boolean {
  const m = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/m.exec(readFileSync(`${proc}/${pid}/status`, 'utf8'));
  return m !== null && m.slice(1).every((u) => u === '0');
}

/** Whether `pid` is a dockerd by the rules above; false for anything unreadable or gone. */
export function isTrustedDockerd(pid: number, proc = '/proc'): boolean {
  try {
    if (!runsAsRoot(pid, proc)) return false;
    // " (deleted)": dockerd's binary was replaced by an upgrade while it runs; still dockerd.
    const exe = readlinkSync(`${proc}/${pid}/exe`).replace(/ \(deleted\)$/, '');
    if (basename(exe) !== 'dockerd') return false;
    // stat through the magic link: the very file the process runs, as seen from its own root.
    return rootOwnedNotWritableByOthers(statSync(`${proc}/${pid}/exe`));
  } catch {
    return false;
  }
}

/** The pid in dockerd's pid file when the file is one only root could have written; else null. */
function pidFromPidFile(pidFile: string): number | null {
  try {
    const st = lstatSync(pidFile);
    if (!st.isFile() || !rootOwnedNotWritableByOthers(st)) return null;
    const text = readFileSync(pidFile, 'utf8').trim();
    return /^[1-9][0-9]{0,9}$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

export interface DockerdLookup {
  /** dockerd's pid file; default DOCKERD_PIDFILE, or WGMPLS_DOCKERD_PIDFILE (dockerd --pidfile). */
  pidFile?: string;
  proc?: string;
}

/** The pids of dockerd, checked as described at the top; [] when there is none we can trust. */
export function trustedDockerdPids(o: DockerdLookup = {}): number[] {
  const proc = o.proc ?? '/proc';
  const fromFile = pidFromPidFile(o.pidFile ?? process.env.WGMPLS_DOCKERD_PIDFILE ?? DOCKERD_PIDFILE);
  if (fromFile !== null && isTrustedDockerd(fromFile, proc)) return [fromFile];
  let entries: string[];
  try {
    entries = readdirSync(proc);
  } catch {
    return [];
  }
  return entries.filter((d) => /^[0-9]+$/.test(d)).map(Number).filter((pid) => isTrustedDockerd(pid, proc));
}
