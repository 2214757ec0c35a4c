// What `npm run bench:scale` reads while the ring runs: the plugin's state (its endpoints and
// worker processes), each endpoint's handshakes over its UAPI socket (as `wg show` would), and
// the resident memory of processes.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { uapiExchange } from '../datapath/ipc/client';

export interface BenchEndpoint {
  id: string;
  networkId: string;
  ifname: string;
  worker?: number;
  datapath?: { pid: number };
}

export interface BenchState {
  networks: Record<string, unknown>;
  endpoints: Record<string, BenchEndpoint>;
  workers?: Record<string, { pid: number }>;
}

export function readState(stateDir: string): BenchState {
  const f = join(stateDir, 'state.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as BenchState) : { networks: {}, endpoints: {} };
}

/** When each peer of the endpoint last completed a handshake (ms since the epoch; 0 = never). */
export async function handshakes(uapiDir: string, ifname: string): Promise<number[]> {
  let text: string;
  try {
    text = await uapiExchange(join(uapiDir, `${ifname}.sock`), 'get=1\n\n', 3000);
  } catch {
    return [0]; // not up (yet, or again)
  }
  const out: number[] = [];
  let sec = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('public_key=')) out.push(0);
    else if (line.startsWith('last_handshake_time_sec=')) sec = Number(line.slice(24));
    else if (line.startsWith('last_handshake_time_nsec=') && out.length > 0) out[out.length - 1] = sec * 1000 + Math.floor(Number(line.slice(25)) / 1e6);
  }
  return out.length ? out : [0];
}

/** Resident set of a process in KiB (0 when it is gone). */
export function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Proportional set size in KiB (shared pages split between their users), 0 when unreadable. */
export function pssKiB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
