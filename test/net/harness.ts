// Test hosts as network namespaces joined by veth pairs, with real wgmpls datapaths and
import { createHash, randomBytes } from 'node:crypto';
// wireguard-go processes in them. Names start with wgmt- so CI's cleanup can find leftovers;
// the 10.x/fd00: addresses used here exist only inside these namespaces.
import { ChildProcess, spawn } from 'node:child_process';
import { RunResult, must, run } from '../../datapath/sys/exec';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect } from 'node:net';

export const ROOT = resolve(__dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');

export const isRoot = (): boolean => process.getuid?.() === 0;

// One way to run a program, shared with the code under test.
export { must, run } from '../../datapath/sys/exec';
export type { RunResult } from '../../datapath/sys/exec';

/** stdout and stderr of a command as one text, and its exit code. */
export async function runOutput(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  const r = await run(cmd, args);
  return { code: r.code, output: r.stdout + r.stderr };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

let counter = 0;
/** A unique short suffix: interface names are limited to 15 characters. */
export function uniq(): string {
  return `${process.pid % 10000}${(counter++).toString(36)}`;
}

export class Netns {
  static readonly all = new Set<Netns>();
  private constructor(readonly name: string) {}

  static async create(tag: string): Promise<Netns> {
    const name = `wgmt-${tag}-${uniq()}`;
    await must('ip', ['netns', 'add', name]);
    const ns = new Netns(name);
    Netns.all.add(ns);
    await ns.ip('link', 'set', 'lo', 'up');
    return ns;
  }

  get path(): string {
    return `/var/run/netns/${this.name}`;
  }

  exec(cmd: string, args: string[], opts: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  async must(cmd: string, args: string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.exec(cmd, args, opts);
    if (r.code !== 0) throw new Error(`[${this.name}] ${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  ip(...args: string[]): Promise<string> {
    return must('ip', ['-n', this.name, ...args]);
  }

  spawn(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  }

  async destroy(): Promise<void> {
    Netns.all.delete(this);
    await run('ip', ['netns', 'del', this.name]);
  }
}

/** Joins two namespaces with a veth pair carrying the underlay addresses given. */
export async function link(a: Netns, aAddrs: string[], b: Netns, bAddrs: string[]): Promise<{ aIf: string; bIf: string }> {
  const aIf = `va${uniq()}`;
  const bIf = `vb${uniq()}`;
  await must('ip', ['link', 'add', aIf, 'netns', a.name, 'type', 'veth', 'peer', 'name', bIf, 'netns', b.name]);
  for (const [ns, ifn, addrs] of [
    [a, aIf, aAddrs],
    [b, bIf, bAddrs],
  ] as const) {
    for (const addr of addrs) await ns.ip('addr', 'add', addr, 'dev', ifn, ...(addr.includes(':') ? ['nodad'] : []));
    await ns.ip('link', 'set', ifn, 'up');
  }
  return { aIf, bIf };
}

export interface Tunnel {
  ns: Netns;
  ifname: string;
  kind: 'wgmpls' | 'wireguard-go';
  proc: ChildProcess;
  logs: string[];
  stop(): Promise<number | null>;
}

/**
 * Starts `wgmpls datapath` or `wireguard-go -f` in a namespace and waits for its UAPI socket.
 * `wireguardGo` is the wireguard-go binary (default: the one on PATH, Debian's; the current
 * upstream one: bench/wireguardGo.ts). `nodeArgs` go to node before the CLI (wgmpls only; V8
 * flags such as --trace-deopt, which NODE_OPTIONS refuses).
 */
export async function startTunnel(
  ns: Netns,
  kind: Tunnel['kind'],
  ifname: string,
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 15_000,
  args: string[] = [],
  wireguardGo = 'wireguard-go',
  nodeArgs: string[] = [],
): Promise<Tunnel> {
  const fullEnv = { ...process.env, ...env, WG_PROCESS_FOREGROUND: '1' };
  // Several names (space-separated, wgmpls only): one process hosting them all, as a router's
  // `wgmpls datapath X Y` does.
  const names = ifname.split(' ');
  const proc = kind === 'wgmpls' ? ns.spawn('node', [...nodeArgs, CLI, 'datapath', ...names, ...args], fullEnv) : ns.spawn(wireguardGo, ['-f', ifname, ...args], fullEnv);
  const logs: string[] = [];
  proc.stdout?.on('data', (d: Buffer) => logs.push(d.toString()));
  proc.stderr?.on('data', (d: Buffer) => logs.push(d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const socks = names.map((n) => `/var/run/wireguard/${n}.sock`);
  await waitFor(`${kind} UAPI socket(s) ${socks.join(' ')} (logs: ${logs.join('')})`, () => socks.every((s) => existsSync(s)) || proc.exitCode !== null, timeoutMs);
  if (proc.exitCode !== null) throw new Error(`${kind} exited: ${logs.join('')}`);
  return {
    ns,
    ifname,
    kind,
    proc,
    logs,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

export async function genKeys(): Promise<{ priv: string; pub: string }> {
  const priv = (await must('wg', ['genkey'])).trim();
  const pub = (await must('wg', ['pubkey'], { input: priv + '\n' })).trim();
  return { priv, pub };
}

let keyDir: string | null = null;
export function keyFile(key: string): string {
  keyDir ??= mkdtempSync(join(tmpdir(), 'wgmt-keys-'));
  const f = join(keyDir, `k${uniq()}`);
  writeFileSync(f, key + '\n', { mode: 0o600 });
  return f;
}

/** Asks a UAPI socket directly (bypassing `wg`), returning the raw response. */
export function uapiRequest(ifname: string, request: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const s = connect(`/var/run/wireguard/${ifname}.sock`);
    let data = '';
    s.on('data', (d) => {
      data += d.toString();
      if (data.endsWith('\n\n')) {
        s.end();
        resolvePromise(data);
      }
    });
    s.on('error', reject);
    s.write(request);
  });
}

export async function wgDump(ns: Netns, ifname: string): Promise<{ peers: { pub: string; endpoint: string; latestHandshake: number; rx: number; tx: number }[] }> {
  const lines = (await ns.must('wg', ['show', ifname, 'dump'])).trim().split('\n');
  return {
    peers: lines.slice(1).map((l) => {
      const f = l.split('\t');
      return { pub: f[0], endpoint: f[2], latestHandshake: Number(f[4]), rx: Number(f[5]), tx: Number(f[6]) };
    }),
  };
}

export async function cleanupAll(): Promise<void> {
  for (const ns of [...Netns.all]) await ns.destroy();
}

/** UDP payloads from a pcap file (Ethernet or Linux cooked), with their UDP ports. */
export function udpPayloads(pcap: Buffer): { srcPort: number; dstPort: number; payload: Buffer }[] {
  const out: { srcPort: number; dstPort: number; payload: Buffer }[] = [];
  if (pcap.length < 24) return out;
  const le = pcap.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (o: number): number => (le ? pcap.readUInt32LE(o) : pcap.readUInt32BE(o));
  const linktype = u32(20);
  let off = 24;
  while (off + 16 <= pcap.length) {
    const incl = u32(off + 8);
    const frame = pcap.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    let l3 = linktype === 1 ? 14 : linktype === 113 ? 16 : 0;
    let ethertype = linktype === 1 ? frame.readUInt16BE(12) : linktype === 113 ? frame.readUInt16BE(14) : 0;
    if (ethertype === 0x8100) {
      ethertype = frame.readUInt16BE(l3 + 2);
      l3 += 4;
    }
    let l4: number;
    if (ethertype === 0x0800 && frame[l3 + 9] === 17) l4 = l3 + (frame[l3] & 0xf) * 4;
    else if (ethertype === 0x86dd && frame[l3 + 6] === 17) l4 = l3 + 40;
    else continue;
    out.push({ srcPort: frame.readUInt16BE(l4), dstPort: frame.readUInt16BE(l4 + 2), payload: frame.subarray(l4 + 8) });
  }
  return out;
}

/** tcpdump writing a pcap in a namespace; stop() ends it and returns the UDP payloads seen. */
export async function capture(ns: Netns, ifname: string, filter: string): Promise<{ stop(): Promise<ReturnType<typeof udpPayloads>> }> {
  const dir = mkdtempSync(join(tmpdir(), 'wgmt-pcap-'));
  const file = join(dir, 'cap.pcap');
  const proc = ns.spawn('tcpdump', ['-i', ifname, '-n', '-U', '--immediate-mode', '-s', '0', '-w', file, filter]);
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor(`tcpdump on ${ifname}`, () => err.includes('listening on') || proc.exitCode !== null);
  if (proc.exitCode !== null) throw new Error(`tcpdump failed: ${err}`);
  await sleep(500); // "listening" is printed a moment before the first packets are really seen
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  return {
    async stop() {
      await sleep(200);
      proc.kill('SIGINT');
      await exited;
      const { readFileSync } = await import('node:fs');
      return udpPayloads(readFileSync(file));
    },
  };
}

/** Two hosts, one tunnel between them: A is 10.99.0.1 / fd00:99::1, B is .2 / ::2. With `mpls`, each
 * side's peer also holds 0.0.0.0/32, which makes it the MPLS peer by the seed's rule. */
export interface Side {
  ns: Netns;
  tun: Tunnel;
  pub: string;
  v4: string;
  v6: string;
  underlay: string;
}

/** `wireguardGo`: the binary of the wireguard-go side(s), `nodeArgs` node's flags for wgmpls sides, as for startTunnel. */
export async function pair(
  kindA: Tunnel['kind'],
  kindB: Tunnel['kind'],
  opts: { envA?: NodeJS.ProcessEnv; envB?: NodeJS.ProcessEnv; argsA?: string[]; argsB?: string[]; mpls?: boolean; wireguardGo?: string; nodeArgs?: string[] } = {},
): Promise<[Side, Side]> {
  const nsA = await Netns.create('a');
  const nsB = await Netns.create('b');
  await link(nsA, ['10.250.0.1/24'], nsB, ['10.250.0.2/24']);
  const ifA = `wga${uniq()}`;
  const ifB = `wgb${uniq()}`;
  const tA = await startTunnel(nsA, kindA, ifA, opts.envA, undefined, opts.argsA, opts.wireguardGo, opts.nodeArgs);
  const tB = await startTunnel(nsB, kindB, ifB, opts.envB, undefined, opts.argsB, opts.wireguardGo, opts.nodeArgs);
  const kA = await genKeys();
  const kB = await genKeys();
  const sides: [Side, Side] = [
    { ns: nsA, tun: tA, pub: kA.pub, v4: '10.99.0.1', v6: 'fd00:99::1', underlay: '10.250.0.1' },
    { ns: nsB, tun: tB, pub: kB.pub, v4: '10.99.0.2', v6: 'fd00:99::2', underlay: '10.250.0.2' },
  ];
  const keys = [kA, kB];
  for (const [i, s] of sides.entries()) {
    const o = sides[1 - i];
    await s.ns.must('wg', [
      'set', s.tun.ifname, 'private-key', keyFile(keys[i].priv), 'listen-port', '51820',
      'peer', o.pub, 'allowed-ips', `${o.v4}/32,${o.v6}/128${opts.mpls ? ',0.0.0.0/32' : ''}`, 'endpoint', `${o.underlay}:51820`,
    ]);
    await s.ns.ip('addr', 'add', `${s.v4}/24`, 'dev', s.tun.ifname);
    await s.ns.ip('addr', 'add', `${s.v6}/64`, 'dev', s.tun.ifname, 'nodad');
    await s.ns.ip('link', 'set', s.tun.ifname, 'up');
  }
  return sides;
}

export async function ping(from: Side, to: string, count = 3): Promise<void> {
  const args = to.includes(':') ? ['-6', '-c', String(count), '-i', '0.2', '-W', '3', to] : ['-c', String(count), '-i', '0.2', '-W', '3', to];
  await from.ns.must('ping', args, { timeoutMs: 30_000 });
}

export async function stopPair(sides: Side[]): Promise<void> {
  for (const s of sides) {
    const code = await s.tun.stop();
    // SIGTERM is a clean shutdown for both daemons.
    if (s.tun.kind === 'wgmpls' && code !== 0) throw new Error(`datapath exited with ${code}: ${s.tun.logs.join('')}`);
  }
  await cleanupAll();
}


/** The datapath's wgmpls-stats=1 counters (drops by reason, LSR counters), as numbers. */
export async function uapiStats(ifname: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await uapiRequest(ifname, 'wgmpls-stats=1\n\n')).trim().split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = Number(line.slice(eq + 1));
  }
  if (out.errno !== 0) throw new Error(`wgmpls-stats on ${ifname}: errno ${out.errno}`);
  return out;
}

/** Sends `bytes` of random data over TCP through the tunnel; both ends' SHA-256 must match. */
export async function tcpTransfer(client: Side, server: Side, bytes: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wgmt-tcp-'));
  const file = join(dir, 'payload');
  const data = randomBytes(bytes);
  writeFileSync(file, data);
  const want = createHash('sha256').update(data).digest('hex');
  const serverJs = `const net=require('net'),c=require('crypto');const h=c.createHash('sha256');let n=0;
    const srv=net.createServer(s=>{s.on('data',d=>{h.update(d);n+=d.length});s.on('end',()=>{console.log(h.digest('hex')+' '+n);srv.close();s.end()})});
    srv.listen(5001,'${server.v4}',()=>console.error('listening'));`;
  const srv = server.ns.spawn('node', ['-e', serverJs]);
  let out = '';
  srv.stdout?.on('data', (x: Buffer) => (out += x.toString()));
  let ready = false;
  srv.stderr?.on('data', (x: Buffer) => (ready ||= x.toString().includes('listening')));
  try {
    await waitFor('tcp server', () => ready);
    const clientJs = `const net=require('net'),fs=require('fs');const s=net.connect(5001,'${server.v4}',()=>fs.createReadStream('${file}').pipe(s));s.on('error',e=>{console.error(e);process.exit(1)});s.on('close',()=>process.exit(0))`;
    await client.ns.must('node', ['-e', clientJs], { timeoutMs: 60_000 });
    await waitFor('server digest', () => out.includes(' '), 20_000);
    const [got, n] = out.trim().split(' ');
    expect(Number(n)).toBe(bytes);
    expect(got).toBe(want);
  } finally {
    // A failed transfer must not leave the server running in a namespace that is about to go.
    if (srv.exitCode === null) srv.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
