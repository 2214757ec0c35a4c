// `wgmpls stats IF`: the datapath's `wg show` with its drop counters, asked over its UAPI socket
// (wgmpls-get=1 and wgmpls-stats=1) and printed by datapath/ipc/statsText.ts. Needs no socat.
import { join } from 'node:path';
import { uapiExchange } from '../datapath/ipc/client';
import { DEFAULT_UAPI_DIR, validIfname } from '../datapath/ipc/server';
import { formatStats, parseGetAnswer, parseStatsAnswer } from '../datapath/ipc/statsText';
import { publicKey } from '../datapath/crypto/x25519';

export async function stats(ifname: string, uapiDir = DEFAULT_UAPI_DIR): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!validIfname(ifname)) return { code: 1, stdout: '', stderr: `wgmpls stats: invalid interface name ${JSON.stringify(ifname)}\n` };
  const sock = join(uapiDir, `${ifname}.sock`);
  try {
    const { device, privateKeyHex } = parseGetAnswer(await uapiExchange(sock, 'wgmpls-get=1\n\n'));
    const counters = parseStatsAnswer(await uapiExchange(sock, 'wgmpls-stats=1\n\n'));
    const pub = privateKeyHex ? Buffer.from(publicKey(new Uint8Array(Buffer.from(privateKeyHex, 'hex')))).toString('base64') : null;
    return { code: 0, stdout: formatStats({ ifname, publicKey: pub, device, counters, now: Date.now() / 1000 }), stderr: '' };
  } catch (err) {
    return { code: 1, stdout: '', stderr: `wgmpls stats ${ifname}: ${(err as Error).message}\n` };
  }
}
