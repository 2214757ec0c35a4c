// What the containerlab tests share: whether they can run here, the real `containerlab` binary
// with this checkout's `wgmpls` first on its PATH (its stages run `wgmpls lab sync` on the
// host), a wgmpls plugin of their own on the default socket (the topologies name the driver
// "wgmpls"), captures of the underlay (127.0.0.1), and the check that a destroyed lab left
// nothing: container, network, TUN, datapath, UDP port, label table, plugin state.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT, RunResult, run, sleep, udpPayloads, waitFor } from '../net/harness';
import { Plugin, docker, dockerOk, ensureImage, whyNotRunnable } from '../docker/helpers';

export const LAB_DIR = join(ROOT, 'lab');
export const topology = (name: string): string => join(LAB_DIR, `${name}.clab.yml`);

/** Why the lab tests cannot run here, or null. */
export function whyNoLab(): string | null {
  const base = whyNotRunnable();
  if (base) return base;
  const v = spawnSync('containerlab', ['version'], { encoding: 'utf8', timeout: 20_000 });
  if (v.status !== 0) return `no containerlab on PATH (lab/containerlab/install.sh): ${(v.error?.message ?? v.stderr ?? '').trim()}`;
  return null;
}

/** A bin directory holding `wgmpls` for this checkout, put first on containerlab's PATH. */
function binDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wgmt-lab-bin-'));
  const wrapper = join(dir, 'wgmpls');
  writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(wrapper, 0o755);
  return dir;
}

export class Lab {
  readonly plugin = new Plugin();
  private bin = '';

  get env(): NodeJS.ProcessEnv {
    // No version check (it reaches out to the network and prints a warning here).
    return { ...process.env, PATH: `${this.bin}:${process.env.PATH ?? ''}`, CLAB_VERSION_CHECK: 'disable' };
  }

  async start(): Promise<void> {
    await ensureImage();
    this.bin = binDir();
    await this.plugin.start();
  }

  async stop(): Promise<void> {
    await this.plugin.stop();
    this.plugin.killLeftoverDatapaths();
    if (process.env.WGMT_KEEP_LOGS === undefined) rmSync(this.plugin.dir, { recursive: true, force: true });
    if (this.bin) rmSync(this.bin, { recursive: true, force: true });
  }

  clab(args: string[], timeoutMs = 180_000): Promise<RunResult> {
    return run('containerlab', args, { env: this.env, timeoutMs });
  }

  async deploy(file: string): Promise<RunResult> {
    const r = await this.clab(['deploy', '-t', file]);
    if (r.code !== 0) throw new Error(`containerlab deploy -t ${file} failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r;
  }

  async destroy(file: string, cleanup = false): Promise<void> {
    const r = await this.clab(['destroy', '-t', file, ...(cleanup ? ['--cleanup'] : [])]);
    if (r.code !== 0) throw new Error(`containerlab destroy -t ${file} failed (${r.code}): ${r.stderr}${r.stdout}`);
  }

  /**
   * Leftovers of an interrupted earlier run of the same lab (quietly), and waits until the
   * plugin has removed the lab's networks: a network left when the plugin stops right after
   * would hold its subnets, and the next lab using them could not create its own.
   */
  async clear(file: string): Promise<void> {
    const name = /^name:\s*(\S+)/m.exec(readFileSync(file, 'utf8'))?.[1];
    if (!name) throw new Error(`${file} has no lab name`);
    const there = async (): Promise<boolean> =>
      (await dockerOk('ps', '-aq', '--filter', `label=containerlab=${name}`)).trim() !== '' ||
      (await dockerOk('network', 'ls', '-q', '--filter', `label=wgmpls.lab=${name}`)).trim() !== '';
    if (!(await there())) return;
    await this.clab(['destroy', '--cleanup', '-t', file]);
    const nets = async (): Promise<string> => (await dockerOk('network', 'ls', '-q', '--filter', `label=wgmpls.lab=${name}`)).trim();
    try {
      await waitFor(`the networks of lab ${name} to go`, async () => (await nets()) === '', 10_000);
    } catch {
      // The plugin did not (it may not run): remove them the way `wgmpls lab sweep` would.
      await run(process.execPath, [CLI, 'lab', 'sweep', name], { env: this.env, timeoutMs: 60_000 });
    }
  }

  /** What the lab runs on the host now, to check later that it is all gone. */
  async footprint(lab: string): Promise<Footprint> {
    const ids = (await dockerOk('ps', '-aq', '--no-trunc', '--filter', `label=containerlab=${lab}`)).split('\n').filter(Boolean);
    const eps = Object.values(this.plugin.state().endpoints);
    const nsids: string[] = [];
    for (const id of ids) {
      const f = join('/run/wgmpls/lab', lab, id);
      if (existsSync(f)) nsids.push(readFileSync(f, 'utf8').trim());
    }
    return {
      lab,
      containers: ids,
      ports: eps.map((e) => e.port),
      ifnames: eps.map((e) => e.ifname),
      pids: [...new Set([...eps.flatMap((e) => (e.datapath ? [e.datapath.pid] : [])), ...Object.values(this.plugin.state().workers ?? {}).map((w) => w.pid)])],
      nsids,
    };
  }

  /** Everything the footprint named is gone (waits for the plugin's own clean-up). */
  async assertGone(fp: Footprint): Promise<void> {
    const left = async (): Promise<string[]> => {
      const out: string[] = [];
      const cs = (await dockerOk('ps', '-aq', '--filter', `label=containerlab=${fp.lab}`)).trim();
      if (cs) out.push(`containers ${cs.replace(/\n/g, ' ')}`);
      const nets = (await dockerOk('network', 'ls', '-q', '--filter', `label=wgmpls.lab=${fp.lab}`)).trim();
      if (nets) out.push(`networks ${nets.replace(/\n/g, ' ')}`);
      const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
      for (const i of fp.ifnames) if (links.includes(` ${i}:`) || links.includes(` ${i}@`)) out.push(`TUN ${i}`);
      for (const p of fp.pids) if (existsSync(`/proc/${p}`) && /\0(datapath|worker)\0/.test(readFileSync(`/proc/${p}/cmdline`, 'utf8'))) out.push(`datapath pid ${p}`);
      const udp = (await run('ss', ['-Huan'])).stdout;
      for (const p of fp.ports) if (new RegExp(`127\\.0\\.0\\.1:${p}\\s`).test(udp)) out.push(`UDP port ${p}`);
      for (const n of fp.nsids) if (existsSync(join('/run/wgmpls/lsr', n))) out.push(`label table /run/wgmpls/lsr/${n}`);
      if (existsSync(join('/run/wgmpls/lab', fp.lab))) out.push(`lab record /run/wgmpls/lab/${fp.lab}`);
      const st = this.plugin.state();
      if (Object.keys(st.networks).length) out.push(`plugin networks ${Object.keys(st.networks).join(' ')}`);
      if (Object.keys(st.endpoints).length) out.push(`plugin endpoints ${Object.keys(st.endpoints).join(' ')}`);
      return out;
    };
    try {
      await waitFor(`lab ${fp.lab} to leave nothing`, async () => (await left()).length === 0, 20_000);
    } catch {
      throw new Error(`lab ${fp.lab} left: ${(await left()).join('; ')}`);
    }
  }

  /**
   * Ping until it answers (the routes are applied from Docker's events just after the deploy),
   * then three in a row. On failure the error carries what explains it: `wgmpls show` (routes,
   * handshakes), the container's routes and the plugin's last log lines.
   */
  async pingUntil(container: string, args: string[], timeoutMs = 30_000): Promise<void> {
    let last: RunResult | null = null;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      last = await docker('exec', container, 'ping', '-c', '1', '-W', '1', ...args);
      if (last.code === 0) break;
      await sleep(200);
    }
    if (last?.code === 0) last = await docker('exec', container, 'ping', '-c', '3', '-i', '0.2', '-W', '2', ...args);
    if (last?.code === 0) return;
    const show = await run(process.execPath, [CLI, 'show'], { env: this.plugin.env });
    const routes = await docker('exec', container, 'ip', 'route');
    throw new Error(
      `ping ${args.join(' ')} from ${container} failed: ${last?.stdout}${last?.stderr}\n--- ip route in ${container}:\n${routes.stdout}\n--- wgmpls show:\n${show.stdout}${show.stderr}\n--- plugin log (end):\n${this.plugin.logs.split('\n').slice(-40).join('\n')}`,
    );
  }

  /** The endpoint (plugin state) holding an address, for its UDP port. */
  portOf(address: string): number {
    return this.plugin.endpointAt(address).port;
  }
}

export interface Footprint {
  lab: string;
  containers: string[];
  ports: number[];
  ifnames: string[];
  pids: number[];
  nsids: string[];
}

export const node = (lab: string, n: string): string => `clab-${lab}-${n}`;

/** The label of a type-5 message (header bytes 1-3, little-endian: label in the top 20 bits). */
export const labelOf = (p: Buffer): number => (p[1] | (p[2] << 8) | (p[3] << 16)) >> 4;

export interface Capture {
  stop(): Promise<ReturnType<typeof udpPayloads>>;
}

/** tcpdump on the host's loopback (the plugin's default underlay), UDP to/from these ports. */
export async function captureUnderlay(ports: number[]): Promise<Capture> {
  const dir = mkdtempSync(join(tmpdir(), 'wgmt-lab-pcap-'));
  const pcap = join(dir, 'lo.pcap');
  const filter = `udp and (${ports.map((p) => `port ${p}`).join(' or ')})`;
  const dump = spawn('tcpdump', ['-i', 'lo', '-n', '-U', '--immediate-mode', '-s', '0', '-w', pcap, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  dump.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  await waitFor('tcpdump', () => err.includes('listening on') || dump.exitCode !== null);
  if (dump.exitCode !== null) throw new Error(`tcpdump: ${err}`);
  await sleep(200);
  return {
    async stop() {
      await sleep(300);
      const exited = new Promise<void>((res) => dump.once('exit', () => res()));
      dump.kill('SIGINT');
      await exited;
      const out = udpPayloads(readFileSync(pcap));
      rmSync(dir, { recursive: true, force: true });
      return out;
    },
  };
}

/** The distinct labels of the type-5 messages sent to `port`. */
export function labelsTo(udp: ReturnType<typeof udpPayloads>, port: number): number[] {
  return [...new Set(udp.filter((u) => u.dstPort === port && u.payload[0] === 5).map((u) => labelOf(u.payload)))].sort((a, b) => a - b);
}
