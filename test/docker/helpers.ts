// What the Docker tests share: whether they can run here, the docker CLI, the lab image, and a
// plugin instance of their own (from dist/, with a private state directory and, if asked, a
// private socket: the socket's name is the driver's name, so a test can run beside another
// driver instance on the same dockerd).
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { CLI, ROOT, RunResult, isRoot, run, waitFor } from '../net/harness';
import { WorkerClient } from '../../plugin/datapaths/workerClient';
import { workersIn } from '../../plugin/datapaths/process';
import { workerDirFor } from '../../plugin/config';

export const DEFAULT_SOCKET = '/run/docker/plugins/wgmpls.sock';

/** Why the Docker tests cannot run here, or null. */
export function whyNotRunnable(socket = DEFAULT_SOCKET): string | null {
  if (!isRoot()) return 'not root';
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 20_000, encoding: 'utf8' });
  if (info.status !== 0) return `docker does not answer (${(info.stderr || info.error?.message || '').trim()})`;
  if (!existsSync(join(ROOT, 'dist', 'plugin', 'main.js'))) return 'dist/ is not built (npm run build)';
  if (existsSync(socket)) {
    const probe = spawnSync('curl', ['-s', '--max-time', '2', '--unix-socket', socket, '-X', 'POST', 'http://x/Plugin.Activate'], { encoding: 'utf8' });
    if (probe.status === 0) return `a wgmpls driver is already running on ${socket}; stop it to run these tests`;
  }
  return null;
}

export async function docker(...args: string[]): Promise<RunResult> {
  return run('docker', args, { timeoutMs: 60_000 });
}

export async function dockerOk(...args: string[]): Promise<string> {
  const r = await docker(...args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.code}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** The test image: the lab's node image (lab/images/build.sh), built if needed. */
export async function ensureImage(): Promise<string> {
  if ((await docker('image', 'inspect', 'wgmpls/node:latest')).code === 0) return 'wgmpls/node:latest';
  const script = join(ROOT, 'lab', 'images', 'build.sh');
  const r = await run('bash', [script], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`${script} failed: ${r.stderr}`);
  return 'wgmpls/node:latest';
}

export interface EndpointRecord {
  id: string;
  privateKey: string;
  networkId: string;
  ifname: string;
  publicKey: string;
  port: number;
  address?: string;
  datapath?: { pid: number };
  /** The worker slot hosting its datapath. */
  worker?: number;
  containerId?: string;
}

export interface StateFile {
  networks: Record<string, unknown>;
  endpoints: Record<string, EndpointRecord>;
  /** The datapath worker processes by slot (absent when there are none). */
  workers?: Record<string, { pid: number }>;
}

/**
 * Which process runs each endpoint's datapath now, by interface name: every datapath worker's
 * endpoints, as it lists them on its control socket, and any per-endpoint `wgmpls datapath
 * wgm<12 hex>` process (the names the plugin gives; other tests' datapaths are named otherwise).
 * With `plugin`, only the workers of that instance (by their control sockets' directory).
 */
export async function hostedDatapaths(plugin?: Plugin): Promise<Map<string, number>> {
  const mine = plugin ? workerDirFor(join(plugin.dir, 'state')) : null;
  const out = new Map<string, number>();
  const procs = (pattern: string): string[] => {
    const r = spawnSync('pgrep', ['-af', pattern], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim().split('\n') : [];
  };
  for (const line of procs('main.js datapath')) {
    const m = /^(\d+) .*main\.js datapath (wgm[0-9a-f]{12})(\s|$)/.exec(line);
    if (m) out.set(m[2], Number(m[1]));
  }
  for (const line of procs('main.js worker')) {
    const m = /^(\d+) .*main\.js worker .*--control (\S+)/.exec(line);
    if (!m || (mine !== null && dirname(m[2]) !== mine)) continue;
    let client: WorkerClient | null = null;
    try {
      client = await WorkerClient.connect(m[2], 2000);
      const hello = await client.hello();
      if (hello.pid !== Number(m[1])) continue;
      for (const e of hello.endpoints) out.set(e.ifname, hello.pid);
    } catch {
      // gone meanwhile, or another plugin's socket no longer reachable
    } finally {
      client?.close();
    }
  }
  return out;
}

/** Whether `pid` runs a wgmpls datapath process: a worker, or a per-endpoint one for `ifname`. */
export function runsDatapathProcess(pid: number, ifname?: string): boolean {
  const argv = spawnSync('cat', [`/proc/${pid}/cmdline`], { encoding: 'utf8' }).stdout.split('\0');
  return argv.includes('worker') || (ifname !== undefined && argv.includes('datapath') && argv.includes(ifname));
}

export class Plugin {
  proc: ChildProcess | null = null;
  logs = '';
  private tmp: string | null = null;

  /**
   * socket: where dockerd finds this instance; its file name (without .sock) is the driver name.
   * extraEnv: more of the plugin's environment (WGMPLS_WORKERS...).
   */
  constructor(
    readonly socket = DEFAULT_SOCKET,
    private readonly extraEnv: NodeJS.ProcessEnv = {},
  ) {}

  get driver(): string {
    return basename(this.socket, '.sock');
  }

  /** Made on first use: jest runs a skipped describe's body too, and must leave nothing behind. */
  get dir(): string {
    this.tmp ??= mkdtempSync(join(tmpdir(), 'wgmt-plugin-'));
    return this.tmp;
  }

  get env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, ...this.extraEnv, WGMPLS_STATE_DIR: join(this.dir, 'state'), WGMPLS_LOG_DIR: join(this.dir, 'logs') };
    if (this.socket !== DEFAULT_SOCKET) env.WGMPLS_PLUGIN_SOCKET = this.socket;
    return env;
  }

  async start(): Promise<void> {
    const proc = spawn(process.execPath, [CLI, 'plugin'], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    const collect = (d: Buffer): void => {
      this.logs += d.toString();
      // WGMT_KEEP_LOGS: the plugin's own log stays too, beside the datapath workers' logs.
      if (process.env.WGMT_KEEP_LOGS !== undefined) appendFileSync(join(this.dir, 'plugin.log'), d);
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    try {
      await waitFor('the plugin to listen', () => this.logs.includes('driver listening') || proc.exitCode !== null, 30_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}; plugin logs: ${this.logs}`);
    }
    if (proc.exitCode !== null) throw new Error(`plugin exited: ${this.logs}`);
  }

  /**
   * A test file's beforeAll: the lab image (its name returned) and this plugin started, with
   * `clean` (the file's own containers and networks, leftovers of an interrupted run) removed
   * first, or, `cleanFirst` false, once the plugin is up, for networks whose removal dockerd
   * hands to the driver.
   */
  async setUp(clean: () => Promise<void>, cleanFirst: boolean): Promise<string> {
    if (cleanFirst) await clean();
    const image = await ensureImage();
    await this.start();
    if (!cleanFirst) await clean();
    return image;
  }

  /**
   * A test file's afterAll: `clean` again, the plugin stopped, whatever datapath its state still
   * names killed (there should be none), and its directory removed unless WGMT_KEEP_LOGS.
   */
  async tearDown(clean: () => Promise<void>): Promise<void> {
    await clean();
    await this.stop();
    this.killLeftoverDatapaths();
    if (process.env.WGMT_KEEP_LOGS === undefined) rmSync(this.dir, { recursive: true, force: true });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(signal);
    await exited;
  }

  state(): StateFile {
    const file = join(this.dir, 'state', 'state.json');
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StateFile) : { networks: {}, endpoints: {} };
  }

  endpointAt(address: string): EndpointRecord {
    const ep = Object.values(this.state().endpoints).find((e) => e.address?.startsWith(`${address}/`));
    if (!ep) throw new Error(`no endpoint with address ${address} in the state`);
    return ep;
  }

  /**
   * Kills whatever datapath process (worker) the state still names (there should be none after a
   * clean teardown); a cold start test uses it to play a reboot.
   */
  killLeftoverDatapaths(): void {
    const st = this.state();
    const pids = new Map<number, string | undefined>();
    for (const w of Object.values(st.workers ?? {})) pids.set(w.pid, undefined);
    // And any worker of this instance no state names (a plugin killed while starting one).
    for (const w of workersIn(workerDirFor(join(this.dir, 'state')))) pids.set(w.ref.pid, undefined);
    for (const ep of Object.values(st.endpoints)) if (ep.datapath) pids.set(ep.datapath.pid, ep.ifname);
    for (const [pid, ifname] of pids) if (runsDatapathProcess(pid, ifname)) process.kill(pid, 'SIGKILL');
  }
}

export async function ping(from: string, to: string, count = 3): Promise<RunResult> {
  return docker('exec', from, 'ping', ...(to.includes(':') ? ['-6'] : []), '-c', String(count), '-i', '0.2', '-W', '2', to);
}

export async function mustPing(from: string, to: string): Promise<void> {
  const r = await ping(from, to);
  if (r.code !== 0) throw new Error(`ping ${from} -> ${to} failed: ${r.stdout}${r.stderr}`);
}

// ---------------------------------------------------------------- restarting the shared dockerd

/** True when a Docker daemon answers on the default socket. */
export async function dockerAnswers(): Promise<boolean> {
  return (await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 15_000 })).code === 0;
}

/**
 * Stops the dockerd that scripts/docker-up.sh started (containers are stopped with it; those
 * with a restart policy come back at the next start). Other people use that dockerd: whoever
 * calls this must call dockerUp() again, also when the test fails (afterAll).
 */
export async function dockerDown(): Promise<void> {
  const r = await run('bash', [join(ROOT, 'scripts', 'docker-down.sh')], { timeoutMs: 90_000 });
  if (r.code !== 0) throw new Error(`scripts/docker-down.sh failed (${r.code}): ${r.stderr}`);
}

/** Starts dockerd exactly as the shared one is started (a no-op when one answers already). */
export async function dockerUp(): Promise<void> {
  const r = await run('bash', [join(ROOT, 'scripts', 'docker-up.sh')], { timeoutMs: 90_000 });
  if (r.code !== 0) throw new Error(`scripts/docker-up.sh failed (${r.code}): ${r.stderr}`);
}
