// The tunnels under test, wireguard-go (current or Debian's) and the wgmpls datapath: one daemon
// per end, keyed and addressed with `wg` and `ip`. The UAPI sockets and private keys they leave
// behind are remembered here for cleanup.
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

/** What runs one end of a tunnel: this checkout's datapath, or a wireguard-go binary (bench/wireguardGo.ts). */
export type Implementation = { kind: 'wgmpls' } | { kind: 'wireguard-go'; binary: string };

export interface Daemon {
  kind: Kind;
  ns: Ns;
  /** Its interfaces joined by '+', for reports. */
  ifname: string;
  ifnames: string[];
  proc: ChildProcess;
  /** The last lines of its output, for error messages. */
  tail: string[];
}

/** UAPI sockets of daemons this run started (removed if a daemon had to be killed). */
const sockets = new Set<string>();

/**
 * One tunnel process in `ns`. wgmpls may host several interfaces in one process (a router's,
 * `wgmpls datapath A B`); wireguard-go one.
 */
export async function startDaemon(ns: Ns, impl: Implementation, ifnames: string[]): Promise<Daemon> {
  checkNotAborted();
  const kind = impl.kind;
  if (impl.kind !== 'wgmpls' && ifnames.length !== 1) throw new Error(`${kind} hosts one interface per process`);
  const socks = ifnames.map((n) => join(UAPI_DIR, `${n}.sock`));
  for (const sock of socks) if (existsSync(sock)) throw new Error(`${sock} already exists (a leftover daemon?)`);
  const env = { ...process.env, WG_PROCESS_FOREGROUND: '1' };
  const proc = impl.kind === 'wgmpls' ? ns.spawn(process.execPath, [CLI, 'datapath', ...ifnames], env) : ns.spawn(impl.binary, ['-f', ifnames[0]], env);
  for (const sock of socks) sockets.add(sock);
  const tail: string[] = [];
  const keep = (d: Buffer): void => {
    tail.push(...d.toString().split('\n').filter((l) => l.trim() !== ''));
    if (tail.length > 20) tail.splice(0, tail.length - 20);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const daemon: Daemon = { kind, ns, ifname: ifnames.join('+'), ifnames, proc, tail };
  try {
    await waitFor(`${kind} UAPI socket(s) ${socks.join(' ')}`, () => socks.every((s) => existsSync(s)) || proc.exitCode !== null || proc.signalCode !== null, 15_000);
  } catch (err) {
    await stopProcess(proc);
    throw new Error(`${(err as Error).message}; output: ${tail.join(' | ')}`);
  }
  if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${kind} ${daemon.ifname} exited at start: ${tail.join(' | ')}`);
  return daemon;
}

export async function stopDaemon(d: Daemon): Promise<string | null> {
  const code = await stopProcess(d.proc);
  for (const n of d.ifnames) {
    const sock = join(UAPI_DIR, `${n}.sock`);
    if (existsSync(sock)) rmSync(sock, { force: true });
    sockets.delete(sock);
  }
  if (code !== 0 && d.kind === 'wgmpls') return `${d.kind} ${d.ifname} exit code ${code} on SIGTERM (expected 0): ${d.tail.slice(-3).join(' | ')}`;
  return null;
}

export interface Endpoints {
  /** Where measurements go from (namespace a) and to (namespace b). */
  src: string;
  dst: string;
  daemons: Daemon[];
  /** Throws if the iperf3 run's `bytes` did not take the path the setup is about (the LSP's labels). */
  verify?: (bytes: number) => Promise<void>;
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

/** One tunnel between two namespaces already joined by an underlay. */
export interface Link {
  a: Ns;
  b: Ns;
  /** The underlay addresses of a and b (on a veth between them). */
  underlay: [string, string];
  /** The UDP port of both ends. */
  port: number;
  /** Tunnel addresses: prefix.1/24 in a, prefix.2/24 in b. */
  prefix: string;
  /** The TUN names in a and b. */
  names: [string, string];
  /**
   * Each end's allowed-ips for its peer: the peer's tunnel address, or with 'everything'
   * 0.0.0.0/0, which also makes the peer the MPLS peer (the seed's rule), as an LSP needs.
   */
  allowed?: 'peer' | 'everything';
}

/** Both ends of one tunnel: addresses prefix.1 (a) and prefix.2 (b), over the link's underlay. */
export async function startTunnel(impl: Implementation, link: Link): Promise<Endpoints> {
  const daemons: Daemon[] = [];
  try {
    daemons.push(await startDaemon(link.a, impl, [link.names[0]]));
    daemons.push(await startDaemon(link.b, impl, [link.names[1]]));
    await configureLink(link);
  } catch (err) {
    for (const d of daemons) await stopDaemon(d);
    throw err;
  }
  return { src: `${link.prefix}.1`, dst: `${link.prefix}.2`, daemons };
}

/** Keys, peers, addresses and link state of a link whose two interfaces already run (with `wg` and `ip`). */
export async function configureLink(link: Link): Promise<void> {
  const ends = [link.a, link.b];
  const keys = [await genKeys(), await genKeys()];
  for (let i = 0; i < 2; i++) {
    const ns = ends[i];
    const ifname = link.names[i];
    const other = 1 - i;
    const allowed = link.allowed === 'everything' ? '0.0.0.0/0' : `${link.prefix}.${other + 1}/32`;
    await ns.must(
      'wg',
      [
        'set', ifname, 'private-key', keys[i].privFile, 'listen-port', String(link.port),
        'peer', keys[other].pub, 'allowed-ips', allowed, 'endpoint', `${link.underlay[other]}:${link.port}`,
      ],
      { timeoutMs: 10_000 },
    );
    await ns.ip('addr', 'add', `${link.prefix}.${i + 1}/24`, 'dev', ifname);
    await ns.ip('link', 'set', ifname, 'up');
  }
}
