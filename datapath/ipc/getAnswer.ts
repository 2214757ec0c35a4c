// The answer to a UAPI get (`get=1`, or `wgmpls-get=1` with the wgmpls extension keys), read in
// one place for everyone who shows it: `wgmpls showconf`, `wgmpls stats` and the plugin's client.
// Values stay as the protocol gives them (keys in hex, zero keys included): what to print, hide
// or derive is each reader's own choice. Pure, and holds the private key only as the answer did;
// never log what it returns.

/** The key=value lines of an answer, in order; a non-zero errno throws what `failed` makes of it. */
export function answerLines(answer: string, failed: (errno: string) => Error): [key: string, value: string][] {
  const out: [string, string][] = [];
  for (const line of answer.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'errno') {
      if (value !== '0') throw failed(value);
      continue;
    }
    out.push([key, value]);
  }
  return out;
}

export interface GetPeer {
  publicKeyHex: string;
  presharedKeyHex: string | null;
  endpoint: string | null;
  allowedIps: string[];
  lastHandshakeSec: number;
  rxBytes: number;
  txBytes: number;
  keepalive: number;
  /** Only in a wgmpls-get answer; null from a plain get. */
  labelAuth: boolean | null;
}

export interface GetAnswer {
  privateKeyHex: string | null;
  listenPort: number;
  fwmark: number;
  peers: GetPeer[];
}

/** Device keys come before the first public_key, a peer's after its own; unknown keys are passed over. */
export function readGetAnswer(answer: string, failed: (errno: string) => Error): GetAnswer {
  const dev: GetAnswer = { privateKeyHex: null, listenPort: 0, fwmark: 0, peers: [] };
  let peer: GetPeer | null = null;
  for (const [key, value] of answerLines(answer, failed)) {
    if (key === 'public_key') {
      peer = { publicKeyHex: value, presharedKeyHex: null, endpoint: null, allowedIps: [], lastHandshakeSec: 0, rxBytes: 0, txBytes: 0, keepalive: 0, labelAuth: null };
      dev.peers.push(peer);
    } else if (!peer) {
      if (key === 'private_key') dev.privateKeyHex = value;
      else if (key === 'listen_port') dev.listenPort = Number(value);
      else if (key === 'fwmark') dev.fwmark = Number(value);
    } else if (key === 'preshared_key') peer.presharedKeyHex = value;
    else if (key === 'endpoint') peer.endpoint = value;
    else if (key === 'allowed_ip') peer.allowedIps.push(value);
    else if (key === 'last_handshake_time_sec') peer.lastHandshakeSec = Number(value);
    else if (key === 'rx_bytes') peer.rxBytes = Number(value);
    else if (key === 'tx_bytes') peer.txBytes = Number(value);
    else if (key === 'persistent_keepalive_interval') peer.keepalive = Number(value);
    else if (key === 'wgmpls-label-auth') peer.labelAuth = value === 'true';
  }
  return dev;
}

export const b64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');
/** An all-zero key: what get prints for a preshared key that is not set. */
export const isZeroHex = (hex: string): boolean => /^0+$/.test(hex);
/** A key that is set: present and not all zeros. */
export const keySet = (hex: string | null): hex is string => hex !== null && !isZeroHex(hex);
