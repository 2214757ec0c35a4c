// The control protocol between the plugin and a datapath worker (a process hosting many
// endpoints, docs/design.md section 2): JSON objects, one per line, over a unix stream socket.
// Requests carry an id, answers repeat it. Keys never travel here: an endpoint's key, port and
// peers go over its own UAPI socket, as `wg` would send them. Pure (no I/O).
import { isIP } from 'node:net';

/** Bumped when a request or answer changes meaning: a worker speaking another is restarted. */
export const WORKER_PROTOCOL = 1;

export type MplsPeers = 'seed' | 'any';

export interface EndpointSpec {
  /** Its UAPI socket's name, and the TUN's unless `tunName` says otherwise. */
  ifname: string;
  mtu: number;
  /** The underlay address its UDP socket binds. */
  listenAddress: string;
  mplsPeers: MplsPeers;
  /** The UDP port to bind from the start (absent: any, until its configuration names one). */
  port?: number;
  /**
   * Create the TUN inside this network namespace (an nsfs path) instead of the worker's, named
   * `tunName`: an endpoint put back into its container after a crash.
   */
  netns?: string;
  tunName?: string;
}

export type WorkerRequest =
  | { id: number; op: 'hello' }
  | { id: number; op: 'list' }
  | ({ id: number; op: 'add'; warmUp: boolean } & EndpointSpec)
  | { id: number; op: 'remove'; ifname: string }
  | { id: number; op: 'warm-up' };

/** One hosted endpoint as the worker sees it now. */
export interface HostedEndpoint {
  ifname: string;
  /** The TUN's name where it is now (Docker renames it wgm0, wgm1... in the container). */
  tunName: string;
  /** Cookie of the namespace the TUN is in now (its label table's directory name). */
  nsid: string;
  port: number;
}

export type WorkerAnswer =
  | { id: number; ok: true; pid: number; protocol: number; warm: boolean; endpoints: HostedEndpoint[] }
  | { id: number; ok: true; endpoints: HostedEndpoint[] }
  | { id: number; ok: true; port: number }
  | { id: number; ok: true }
  | { id: number; ok: false; error: string; code?: string };

/** Longest line either side accepts: an answer listing a few thousand endpoints fits. */
export const MAX_LINE = 1 << 20;

const IFNAME = /^[A-Za-z0-9_.=-]{1,15}$/;

export class ProtocolError extends Error {}

function field<T>(o: Record<string, unknown>, name: string, check: (v: unknown) => v is T, what: string): T {
  const v = o[name];
  if (!check(v)) throw new ProtocolError(`${name} must be ${what}`);
  return v;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isInt = (v: unknown): v is number => Number.isInteger(v);
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';

/** A request line as the worker receives it; ProtocolError naming the field when it is bad. */
export function parseRequest(line: string): WorkerRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new ProtocolError('request is not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ProtocolError('request must be an object');
  const o = raw as Record<string, unknown>;
  const id = field(o, 'id', isInt, 'an integer');
  const op = field(o, 'op', isString, 'a string');
  switch (op) {
    case 'hello':
    case 'list':
    case 'warm-up':
      return { id, op };
    case 'remove':
      return { id, op, ifname: ifnameField(o) };
    case 'add': {
      const mtu = field(o, 'mtu', isInt, 'an integer');
      if (mtu < 576 || mtu > 65535) throw new ProtocolError('mtu must be an integer from 576 to 65535');
      const listenAddress = field(o, 'listenAddress', isString, 'a string');
      if (isIP(listenAddress) === 0) throw new ProtocolError('listenAddress must be an IP address');
      const mplsPeers = field(o, 'mplsPeers', (v): v is MplsPeers => v === 'seed' || v === 'any', "'seed' or 'any'");
      const warmUp = field(o, 'warmUp', isBool, 'true or false');
      const req: WorkerRequest = { id, op, ifname: ifnameField(o), mtu, listenAddress, mplsPeers, warmUp };
      if (o.port !== undefined) {
        const port = field(o, 'port', isInt, 'an integer');
        if (port < 0 || port > 65535) throw new ProtocolError('port must be an integer from 0 to 65535');
        req.port = port;
      }
      if (o.netns !== undefined || o.tunName !== undefined) {
        const netns = field(o, 'netns', isString, 'a string');
        if (!netns.startsWith('/') || netns.includes('\0') || netns.length > 4096) throw new ProtocolError('netns must be an absolute path');
        req.netns = netns;
        req.tunName = ifnameField(o, 'tunName');
      }
      return req;
    }
    default:
      throw new ProtocolError(`unknown op ${JSON.stringify(op).slice(0, 40)}`);
  }
}

function ifnameField(o: Record<string, unknown>, name = 'ifname'): string {
  const ifname = field(o, name, isString, 'a string');
  if (!IFNAME.test(ifname)) throw new ProtocolError(`${name} must be 1-15 characters of letters, digits, _ . = -`);
  return ifname;
}

/** The id of a request line that could not be parsed, when it has one (so the answer can say). */
export function requestId(line: string): number {
  try {
    const o = JSON.parse(line) as { id?: unknown };
    return Number.isInteger(o.id) ? (o.id as number) : 0;
  } catch {
    return 0;
  }
}

/** Splits a byte stream into lines; false once a line grows past MAX_LINE (the peer is broken). */
export class LineSplitter {
  private buf = '';
  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): boolean {
    this.buf += chunk;
    let nl = this.buf.indexOf('\n');
    while (nl >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.length > 0) this.onLine(line);
      nl = this.buf.indexOf('\n');
    }
    return this.buf.length <= MAX_LINE;
  }
}
