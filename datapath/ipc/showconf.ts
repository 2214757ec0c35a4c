// `wgmpls showconf IF`: the configuration as `wg showconf` prints it, plus the wgmpls extension
// keys `wg` has no field for (wgmpls-label-auth, as `WgmplsLabelAuth = true` in the peer's
// section). Built from a `wgmpls-get=1` answer; for peers without extensions the text is
// byte for byte `wg showconf`'s. Like wg-quick's own keys (Address, DNS), the extension line
// must be stripped before the text is given to `wg setconf`, which does not know it.
// Pure: text in, text out. The private key passes through, as with `wg showconf`; never log it.

const b64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');
const isZeroHex = (hex: string): boolean => /^0+$/.test(hex);

/** The config-file key for wgmpls-label-auth. */
export const LABEL_AUTH_CONF_KEY = 'WgmplsLabelAuth';

interface ConfPeer {
  publicKey: string;
  presharedKey: string | null;
  endpoint: string | null;
  keepalive: number;
  allowedIps: string[];
  labelAuth: boolean;
}

/** Throws when the answer carries a non-zero errno (the request failed). */
export function showconfFromGet(answer: string): string {
  let privateKey: string | null = null;
  let listenPort = 0;
  let fwmark = 0;
  const peers: ConfPeer[] = [];
  let peer: ConfPeer | null = null;
  for (const line of answer.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'errno') {
      if (value !== '0') throw new Error(`the datapath answered errno ${value}`);
      continue;
    }
    if (key === 'public_key') {
      peer = { publicKey: b64(value), presharedKey: null, endpoint: null, keepalive: 0, allowedIps: [], labelAuth: false };
      peers.push(peer);
      continue;
    }
    if (!peer) {
      if (key === 'private_key') privateKey = b64(value);
      else if (key === 'listen_port') listenPort = Number(value);
      else if (key === 'fwmark') fwmark = Number(value);
      continue;
    }
    if (key === 'preshared_key' && !isZeroHex(value)) peer.presharedKey = b64(value);
    else if (key === 'endpoint') peer.endpoint = value;
    else if (key === 'persistent_keepalive_interval') peer.keepalive = Number(value);
    else if (key === 'allowed_ip') peer.allowedIps.push(value);
    else if (key === 'wgmpls-label-auth') peer.labelAuth = value === 'true';
  }
  // The layout of wireguard-tools' showconf.c.
  const out: string[] = ['[Interface]'];
  if (listenPort) out.push(`ListenPort = ${listenPort}`);
  if (fwmark) out.push(`FwMark = 0x${fwmark.toString(16)}`);
  if (privateKey) out.push(`PrivateKey = ${privateKey}`);
  for (const p of peers) {
    out.push('', '[Peer]', `PublicKey = ${p.publicKey}`);
    if (p.presharedKey) out.push(`PresharedKey = ${p.presharedKey}`);
    if (p.allowedIps.length > 0) out.push(`AllowedIPs = ${p.allowedIps.join(', ')}`);
    if (p.endpoint) out.push(`Endpoint = ${p.endpoint}`);
    if (p.keepalive) out.push(`PersistentKeepalive = ${p.keepalive}`);
    if (p.labelAuth) out.push(`${LABEL_AUTH_CONF_KEY} = true`);
  }
  return out.join('\n') + '\n';
}
