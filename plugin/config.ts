// Where the plugin keeps things on the host. Every path can be moved by an environment variable
// so tests (and a containerised plugin) can run without touching the production locations.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';

export interface PluginPaths {
  /** Docker finds remote drivers by socket name: /run/docker/plugins/<driver>.sock. */
  socket: string;
  /** state.json (keys inside: the directory is 0700, the file 0600). */
  stateDir: string;
  /** One log file per datapath (their stdout/stderr: a plugin restart must not cut them off). */
  logDir: string;
  /** Where datapaths put their UAPI sockets (fixed by `wg`, which looks only there). */
  uapiDir: string;
  /** The `wgmpls` CLI that runs `datapath`: this very build, so both always match. */
  cli: string;
}

export const DRIVER_NAME = 'wgmpls';

export function pluginPaths(env: NodeJS.ProcessEnv = process.env): PluginPaths {
  return {
    socket: env.WGMPLS_PLUGIN_SOCKET ?? `/run/docker/plugins/${DRIVER_NAME}.sock`,
    stateDir: env.WGMPLS_STATE_DIR ?? '/var/lib/wgmpls',
    logDir: env.WGMPLS_LOG_DIR ?? '/var/log/wgmpls',
    uapiDir: '/var/run/wireguard',
    cli: resolve(__dirname, '..', 'cli', 'main.js'),
  };
}

/**
 * Whether a network's Driver field names this plugin: `wgmpls` as a remote driver found by its
 * socket, `wgmpls:latest` (any tag) as a managed plugin.
 */
export function isOurDriver(field: string | undefined, name: string): boolean {
  return field === name || (field !== undefined && field.startsWith(`${name}:`));
}

/** Most worker processes a plugin runs (WGMPLS_WORKERS): a crash takes down one worker's share. */
export const MAX_WORKERS = 64;

/**
 * How many worker processes host the datapaths (docs/design.md section 2): WGMPLS_WORKERS, else
 * one per core, at least two (a crash then takes down at most about half) and at most four
 * (each costs about 60 MB of its own). A bad value is an error naming the variable.
 */
export function workerCount(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.WGMPLS_WORKERS;
  if (raw === undefined || raw === '') return Math.min(4, Math.max(2, availableParallelism()));
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) throw new Error(`WGMPLS_WORKERS must be an integer from 1 to ${MAX_WORKERS}, got "${raw}"`);
  return n;
}
