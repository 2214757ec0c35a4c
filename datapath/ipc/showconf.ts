// `wgmpls showconf IF`: the configuration as `wg showconf` prints it, plus the wgmpls extension
// keys `wg` has no field for (wgmpls-label-auth, as `WgmplsLabelAuth = true` in the peer's
// section). Built from a `wgmpls-get=1` answer; for peers without extensions the text is
// byte for byte `wg showconf`'s. Like wg-quick's own keys (Address, DNS), the extension line
// must be stripped before the text is given to `wg setconf`, which does not know it.
// Pure: text in, text out. The private key passes through, as with `wg showconf`; never log it.

import { b64, keySet, readGetAnswer } from './getAnswer';

/** The config-file key for wgmpls-label-auth. */
export const LABEL_AUTH_CONF_KEY = 'WgmplsLabelAuth';

/** Throws when the answer carries a non-zero errno (the request failed). */
export function showconfFromGet(answer: string): string {
  const dev = readGetAnswer(answer, (errno) => new Error(`the datapath answered errno ${errno}`));
  // wg showconf prints whatever private key get gave, a zero one included.
  const privateKey = dev.privateKeyHex === null ? '' : b64(dev.privateKeyHex);
  // The layout of wireguard-tools' showconf.c.
  const out: string[] = ['[Interface]'];
  if (dev.listenPort) out.push(`ListenPort = ${dev.listenPort}`);
  if (dev.fwmark) out.push(`FwMark = 0x${dev.fwmark.toString(16)}`);
  if (privateKey) out.push(`PrivateKey = ${privateKey}`);
  for (const p of dev.peers) {
    const presharedKey = keySet(p.presharedKeyHex) ? b64(p.presharedKeyHex) : '';
    out.push('', '[Peer]', `PublicKey = ${b64(p.publicKeyHex)}`);
    if (presharedKey) out.push(`PresharedKey = ${presharedKey}`);
    if (p.allowedIps.length > 0) out.push(`AllowedIPs = ${p.allowedIps.join(', ')}`);
    if (p.endpoint) out.push(`Endpoint = ${p.endpoint}`);
    if (p.keepalive) out.push(`PersistentKeepalive = ${p.keepalive}`);
    if (p.labelAuth === true) out.push(`${LABEL_AUTH_CONF_KEY} = true`);
  }
  return out.join('\n') + '\n';
}
