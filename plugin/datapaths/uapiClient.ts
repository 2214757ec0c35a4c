// Talks to a datapath over its UAPI socket (/var/run/wireguard/<ifname>.sock), the same protocol
// `wg` speaks, so the plugin needs no wg binary and the datapath no plugin-specific interface.
// Requests carry private keys: neither requests nor responses are ever logged.
import { uapiExchange } from '../../datapath/ipc/client';
import { readGetAnswer } from '../../datapath/ipc/getAnswer';
import { join } from 'node:path';

export interface PeerSpec {
  /** 64 hex digits. */
  publicKey: string;
  /** "127.0.0.1:51820" / "[::1]:51820". */
  endpoint: string;
  /** Replace the peer's allowed-ips with exactly these prefixes. */
  allowedIps: string[];
  persistentKeepalive?: number;
  /** wgmpls-label-auth: bind the MPLS header into the AEAD (both ends must agree). */
  labelAuth?: boolean;
}

export interface DeviceSet {
  privateKey?: string;
  listenPort?: number;
  peers?: PeerSpec[];
  /** Public keys of peers to remove. */
  remove?: string[];
}

export interface PeerStatus {
  publicKey: string;
  endpoint: string | null;
  lastHandshakeSec: number;
  rxBytes: number;
  txBytes: number;
  persistentKeepalive: number;
  allowedIps: string[];
  /** Only in a wgmpls-get=1 answer; undefined from a plain get. */
  labelAuth?: boolean;
}

export interface DeviceStatus {
  /** Derived from the private key on our side; the private key itself is dropped while parsing. */
  hasPrivateKey: boolean;
  listenPort: number;
  peers: PeerStatus[];
}

export class UapiError extends Error {
  constructor(
    message: string,
    readonly errno?: number,
  ) {
    super(message);
  }
}

export function formatSet(s: DeviceSet): string {
  const lines = ['set=1'];
  if (s.privateKey !== undefined) lines.push(`private_key=${s.privateKey}`);
  if (s.listenPort !== undefined) lines.push(`listen_port=${s.listenPort}`);
  for (const p of s.peers ?? []) {
    lines.push(`public_key=${p.publicKey}`, `endpoint=${p.endpoint}`, 'replace_allowed_ips=true');
    for (const a of p.allowedIps) lines.push(`allowed_ip=${a}`);
    if (p.persistentKeepalive !== undefined) lines.push(`persistent_keepalive_interval=${p.persistentKeepalive}`);
    if (p.labelAuth !== undefined) lines.push(`wgmpls-label-auth=${p.labelAuth}`);
  }
  for (const k of s.remove ?? []) lines.push(`public_key=${k}`, 'remove=true');
  return lines.join('\n') + '\n\n';
}

export function parseGet(text: string): DeviceStatus {
  const got = readGetAnswer(text, (errno) => new UapiError(`get failed with errno ${errno}`, Math.abs(Number(errno))));
  const peers = got.peers.map((p): PeerStatus => {
    const peer: PeerStatus = {
      publicKey: p.publicKeyHex,
      endpoint: p.endpoint,
      lastHandshakeSec: p.lastHandshakeSec,
      rxBytes: p.rxBytes,
      txBytes: p.txBytes,
      persistentKeepalive: p.keepalive,
      allowedIps: p.allowedIps,
    };
    if (p.labelAuth !== null) peer.labelAuth = p.labelAuth;
    return peer;
  });
  return { hasPrivateKey: got.privateKeyHex !== null, listenPort: got.listenPort, peers };
}

export function uapiSocketPath(uapiDir: string, ifname: string): string {
  return join(uapiDir, `${ifname}.sock`);
}

/** One request, one response; a failure is a UapiError, as the plugin expects of this client. */
async function exchange(socketPath: string, request: string, timeoutMs: number): Promise<string> {
  try {
    return await uapiExchange(socketPath, request, timeoutMs);
  } catch (err) {
    throw new UapiError((err as Error).message);
  }
}

export class UapiClient {
  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 3000,
  ) {}

  async get(): Promise<DeviceStatus> {
    return parseGet(await exchange(this.socketPath, 'get=1\n\n', this.timeoutMs));
  }

  /** get=1 plus the wgmpls extension keys (wgmpls-get=1), for `wgmpls show`. */
  async getExtended(): Promise<DeviceStatus> {
    return parseGet(await exchange(this.socketPath, 'wgmpls-get=1\n\n', this.timeoutMs));
  }

  /** The datapath's counters (wgmpls-stats=1): drops by reason and LSR counters. */
  async stats(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const line of (await exchange(this.socketPath, 'wgmpls-stats=1\n\n', this.timeoutMs)).split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) out[line.slice(0, eq)] = Number(line.slice(eq + 1));
    }
    if (out.errno !== 0) throw new UapiError(`wgmpls-stats failed with errno ${out.errno}`, Math.abs(out.errno));
    delete out.errno;
    return out;
  }

  async set(s: DeviceSet): Promise<void> {
    const answer = await exchange(this.socketPath, formatSet(s), this.timeoutMs);
    const m = /errno=(-?\d+)/.exec(answer);
    const errno = m ? Math.abs(Number(m[1])) : NaN;
    if (errno !== 0) throw new UapiError(`set refused with errno ${Number.isNaN(errno) ? '?' : errno}`, errno);
  }
}
