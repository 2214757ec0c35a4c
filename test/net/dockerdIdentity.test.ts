// The plugin reaches SandboxKeys through /proc/<dockerd>/root (plugin/datapaths/plumbing.ts),
// so it must not take just any process for dockerd. An impostor - a non-root process whose
// name (comm) and executable are called "dockerd", in a user and mount namespace of its own
// where a file sits at the SandboxKey's path - is ignored; a root process running a root-owned
// dockerd binary, with the same kind of file in its mount namespace, is found. No Docker needed.
import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './harness';
import { describeWhere, needRoot } from '../canRun';
import { isTrustedDockerd, trustedDockerdPids } from '../../plugin/docker/dockerdProcess';
import { sandboxPath } from '../../plugin/datapaths/plumbing';

jest.setTimeout(30_000);
const d = describeWhere(needRoot('root (to make namespaces and processes owned by other users)'));

const NOBODY = 65534;

/** A process in its own mount namespace (a user namespace too when not root) with a tmpfs at
 * `dir` holding `file`, then exec'ing `exe` (a copy of sleep): comm and exe name are "dockerd". */
function start(exe: string, dir: string, file: string, asNobody: boolean): ChildProcess {
  const script = `mount -t tmpfs wgmt "${dir}" && touch "${dir}/${file}" && exec "${exe}" 600`;
  const args = asNobody
    ? ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', 'unshare', '-Urm', 'sh', '-c', script]
    : ['--reuid', '0', 'unshare', '-m', '--propagation', 'private', 'sh', '-c', script];
  return spawn('setpriv', args, { stdio: 'ignore' });
}

const comm = (pid: number): string => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();

d('dockerd is identified by what only root controls', () => {
  let work: string;
  const procs: ChildProcess[] = [];
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'wgmt-dockerd-'));
    chmodSync(work, 0o755);
  });
  afterAll(() => {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  test('a non-root "dockerd" offering a namespace at the SandboxKey path is ignored', async () => {
    // The impostor's own copy of sleep named dockerd, owned by it, and a directory it may mount over.
    const home = join(work, 'impostor');
    mkdirSync(home, { mode: 0o755 });
    chownSync(home, NOBODY, NOBODY);
    const exe = join(home, 'dockerd');
    copyFileSync('/bin/sleep', exe);
    chownSync(exe, NOBODY, NOBODY);
    const netnsDir = join(home, 'netns');
    mkdirSync(netnsDir);
    chownSync(netnsDir, NOBODY, NOBODY);
    const key = join(netnsDir, 'f00dfeed');
    const imp = start(exe, netnsDir, 'f00dfeed', true);
    procs.push(imp);
    const pid = imp.pid as number;
    await waitFor('the impostor to run its dockerd', () => {
      try {
        return comm(pid) === 'dockerd' && existsSync(`/proc/${pid}/root${key}`);
      } catch {
        return false;
      }
    });
    // What the name-based lookup fell for: the name matches and the path exists under its root.
    expect(comm(pid)).toBe('dockerd');
    expect(existsSync(key)).toBe(false);
    expect(existsSync(`/proc/${pid}/root${key}`)).toBe(true);
    // Even a pid file naming it is not believed: it must be root's, and so must the process.
    const pidFile = join(work, 'impostor.pid');
    writeFileSync(pidFile, `${pid}\n`, { mode: 0o644 });
    expect(isTrustedDockerd(pid)).toBe(false);
    expect(trustedDockerdPids({ pidFile })).not.toContain(pid);
    expect(sandboxPath(key, { pidFile })).toBeNull();
    const othersWritable = join(work, 'writable.pid');
    writeFileSync(othersWritable, `${pid}\n`);
    chmodSync(othersWritable, 0o666);
    expect(sandboxPath(key, { pidFile: othersWritable })).toBeNull();
  });

  test('a root process running a root-owned dockerd binary is found, by its pid file or by /proc', async () => {
    const bin = join(work, 'bin');
    mkdirSync(bin, { mode: 0o755 });
    const exe = join(bin, 'dockerd');
    copyFileSync('/bin/sleep', exe);
    chmodSync(exe, 0o755);
    const netnsDir = join(work, 'rootns');
    mkdirSync(netnsDir, { mode: 0o755 });
    const key = join(netnsDir, 'c0ffee');
    const real = start(exe, netnsDir, 'c0ffee', false);
    procs.push(real);
    const pid = real.pid as number;
    await waitFor('the root dockerd', () => {
      try {
        return comm(pid) === 'dockerd' && existsSync(`/proc/${pid}/root${key}`);
      } catch {
        return false;
      }
    });
    expect(existsSync(key)).toBe(false);
    expect(isTrustedDockerd(pid)).toBe(true);
    const pidFile = join(work, 'docker.pid');
    writeFileSync(pidFile, `${pid}\n`, { mode: 0o644 });
    expect(trustedDockerdPids({ pidFile })).toEqual([pid]);
    expect(sandboxPath(key, { pidFile })).toBe(`/proc/${pid}/root${key}`);
    // Without a usable pid file, the /proc scan finds it too (the containerised plugin's case).
    expect(trustedDockerdPids({ pidFile: join(work, 'missing.pid') })).toContain(pid);
    expect(sandboxPath(key, { pidFile: join(work, 'missing.pid') })).toBe(`/proc/${pid}/root${key}`);
    // A root binary others may write is not trusted (anyone could have replaced it).
    chmodSync(exe, 0o777);
    expect(isTrustedDockerd(pid)).toBe(false);
    chmodSync(exe, 0o755);
  });
});
