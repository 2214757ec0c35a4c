// The two tunnels under test, wireguard-go and the wgmpls datapath: one daemon per namespace,
// keyed and addressed with `wg` and `ip`. The UAPI sockets and private keys they leave behind
// are remembered here for cleanup.
import { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ns } from './netns';
import { checkNotAborted, must, stopProcess, waitFor } from './processes';

const ROOT = resolve(__dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const UAPI_DIR = '/var/run/wireguard';

export type Kind = 'wireguard-go' | 'wgmpls';

export interface Daemon {
  kind: Kind;
  ns: Ns;
  ifname: string;
  proc: ChildProcess;
  /** The last lines of its output, for error messages. */
  tail: string[];
}

/** UAPI sockets of daemons this run started (removed if a daemon had to be killed). */
const sockets = new Set<string>();

async function startDaemon(ns: Ns, kind: Kind, ifname: string): Promise<Daemon> {
  checkNotAborted();
  const sock = join(UAPI_DIR, `${ifname}.sock`);
  if (existsSync(sock)) throw new Error(`${sock} already exists (a leftover daemon?)`);
  const env = { ...process.env, WG_PROCESS_FOREGROUND: '1' };
  const proc = kind === 'wgmpls' ? ns.spawn(process.execPath, [CLI, 'datapath', ifname], env) : ns.spawn('wireguard-go', ['-f', ifname], env);
  sockets.add(sock);
  const tail: string[] = [];
  const keep = (d: Buffer): void => {
    tail.push(...d.toString().split('\n').filter((l) => l.trim() !== ''));
    if (tail.length > 20) tail.splice(0, tail.length - 20);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const daemon: Daemon = { kind, ns, ifname, proc, tail };
  try {
    await waitFor(`${kind} UAPI socket ${sock}`, () => existsSync(sock) || proc.exitCode !== null || proc.signalCode !== null, 15_000);
  } catch (err) {
    await stopProcess(proc);
    throw new Error(`${(err as Error).message}; output: ${tail.join(' | ')}`);
  }
  if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${kind} ${ifname} exited at start: ${tail.join(' | ')}`);
  return daemon;
}

export async function stopDaemon(d: Daemon): Promise<string | null> {
  const code = await stopProcess(d.proc);
  const sock = join(UAPI_DIR, `${d.ifname}.sock`);
  if (existsSync(sock)) rmSync(sock, { force: true });
  sockets.delete(sock);
  if (code !== 0 && d.kind === 'wgmpls') return `${d.kind} ${d.ifname} exit code ${code} on SIGTERM (expected 0): ${d.tail.slice(-3).join(' | ')}`;
  return null;
}

export interface Endpoints {
  /** Where measurements go from (namespace a) and to (namespace b). */
  src: string;
  dst: string;
  daemons: Daemon[];
}

/** Private keys live in one 0700 temporary directory, removed by cleanup(). */
let keyDir: string | null = null;
let keyCount = 0;

async function genKeys(): Promise<{ privFile: string; pub: string }> {
  const priv = (await must('wg', ['genkey'])).trim();
  const pub = (await must('wg', ['pubkey'], { input: `${priv}\n` })).trim();
  keyDir ??= mkdtempSync(join(tmpdir(), 'wgmb-keys-'));
  const privFile = join(keyDir, `k${keyCount++}`);
  writeFileSync(privFile, `${priv}\n`, { mode: 0o600 });
  return { privFile, pub };
}

/** Synchronous so that the exit handler can use it too: a killed daemon leaves its socket behind. */
export function removeSocketsAndKeys(): void {
  for (const s of sockets) rmSync(s, { force: true });
  sockets.clear();
  if (keyDir !== null) rmSync(keyDir, { recursive: true, force: true });
  keyDir = null;
}

/** Both ends of one tunnel of `kind`, addresses prefix.1 (a) and prefix.2 (b), over the underlay. */
export async function startTunnel(a: Ns, b: Ns, kind: Kind, prefix: string, names: [string, string]): Promise<Endpoints> {
  const daemons: Daemon[] = [];
  try {
    daemons.push(await startDaemon(a, kind, names[0]));
    daemons.push(await startDaemon(b, kind, names[1]));
    const keys = [await genKeys(), await genKeys()];
    for (let i = 0; i < 2; i++) {
      const self = daemons[i];
      const other = 1 - i;
      await self.ns.must(
        'wg',
        [
          'set', self.ifname, 'private-key', keys[i].privFile, 'listen-port', '51820',
          'peer', keys[other].pub, 'allowed-ips', `${prefix}.${other + 1}/32`, 'endpoint', `10.252.0.${other + 1}:51820`,
        ],
        { timeoutMs: 10_000 },
      );
      await self.ns.ip('addr', 'add', `${prefix}.${i + 1}/24`, 'dev', self.ifname);
      await self.ns.ip('link', 'set', self.ifname, 'up');
    }
  } catch (err) {
    for (const d of daemons) await stopDaemon(d);
    throw err;
  }
  return { src: `${prefix}.1`, dst: `${prefix}.2`, daemons };
}
