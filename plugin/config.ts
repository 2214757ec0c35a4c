// Where the plugin keeps things on the host. Every path can be moved by an environment variable
// so tests (and a containerised plugin) can run without touching the production locations.
import { availableParallelism } from 'node:os';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';

export interface PluginPaths {
  /** Docker finds remote drivers by socket name: /run/docker/plugins/<driver>.sock. */
  socket: string;
  /** state.json (keys inside: the directory is 0700, the file 0600). */
  stateDir: string;
  /** One log file per datapath (their stdout/stderr: a plugin restart must not cut them off). */
  logDir: string;
  /** Where datapaths put their UAPI sockets (fixed by `wg`, which looks only there). */
  uapiDir: string;
  /**
   * The datapath workers' control sockets (root only): runtime files, in /run rather than
   * beside the state, one directory per state directory so that two plugin instances (tests,
   * benchmarks) never share a worker. Optional for callers that start no worker.
   */
  workerDir?: string;
  /** The `wgmpls` CLI that runs `datapath`: this very build, so both always match. */
  cli: string;
}

export const DRIVER_NAME = 'wgmpls';

export function pluginPaths(env: NodeJS.ProcessEnv = process.env): PluginPaths {
  const stateDir = env.WGMPLS_STATE_DIR ?? '/var/lib/wgmpls';
  return {
    socket: env.WGMPLS_PLUGIN_SOCKET ?? `/run/docker/plugins/${DRIVER_NAME}.sock`,
    stateDir,
    logDir: env.WGMPLS_LOG_DIR ?? '/var/log/wgmpls',
    uapiDir: '/var/run/wireguard',
    workerDir: workerDirFor(stateDir),
    cli: resolve(__dirname, '..', 'cli', 'main.js'),
  };
}

/** The control sockets' directory of the plugin whose state is in `stateDir`. */
export function workerDirFor(stateDir: string): string {
  return join(WORKER_ROOT, createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 12));
}

export const WORKER_ROOT = '/run/wgmpls/workers';

/**
 * Whether a network's Driver field names this plugin: `wgmpls` as a remote driver found by its
 * socket, `wgmpls:latest` (any tag) as a managed plugin.
 */
export function isOurDriver(field: string | undefined, name: string): boolean {
  return field === name || (field !== undefined && field.startsWith(`${name}:`));
}

/** Most worker processes a plugin runs. */
export const MAX_WORKERS = 64;

function intFromEnv(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

/**
 * How the datapath workers are used (docs/design.md section 2; plugin/datapaths/placement.ts):
 * WGMPLS_WORKERS of them at least (default one per core, from two - a crash then takes down at
 * most about half - to four), one more for every WGMPLS_WORKER_ENDPOINTS endpoints (default 32:
 * a killed worker's TUNs take the kernel some 20 ms each to tear down, and its endpoints are back
 * only after that), at most 64. A bad value is an error naming the variable.
 */
export function workerShape(env: NodeJS.ProcessEnv = process.env): { base: number; perWorker: number; max: number } {
  const base = intFromEnv(env, 'WGMPLS_WORKERS', 1, MAX_WORKERS) ?? Math.min(4, Math.max(2, availableParallelism()));
  const perWorker = intFromEnv(env, 'WGMPLS_WORKER_ENDPOINTS', 1, 100_000) ?? 32;
  return { base, perWorker, max: MAX_WORKERS };
}

/**
 * WGMPLS_SCOPE: `local` (default: networks of one host) or `global` (networks across a Docker
 * Swarm; the plugin must then be a managed plugin on every node, plugin/README.md). A bad value is
 * an error naming the variable.
 */
export function driverScope(env: NodeJS.ProcessEnv = process.env): 'local' | 'global' {
  const v = env.WGMPLS_SCOPE ?? 'local';
  if (v !== 'local' && v !== 'global') throw new Error(`WGMPLS_SCOPE must be local or global, got "${v}"`);
  return v;
}

/** The TCP port of the swarm endpoint exchange (WGMPLS_EXCHANGE_PORT, default 7950). */
export function exchangePort(env: NodeJS.ProcessEnv = process.env): number {
  return intFromEnv(env, 'WGMPLS_EXCHANGE_PORT', 1, 65535) ?? 7950;
}
