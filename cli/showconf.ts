// `wgmpls showconf IF`: asks the datapath's UAPI socket for `wgmpls-get=1` and prints it as
// `wg showconf` would, with the wgmpls extension keys (datapath/ipc/showconf.ts).
import { join } from 'node:path';
import { uapiExchange } from '../datapath/ipc/client';
import { DEFAULT_UAPI_DIR, validIfname } from '../datapath/ipc/server';
import { showconfFromGet } from '../datapath/ipc/showconf';

export async function showconf(ifname: string): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!validIfname(ifname)) return { code: 1, stdout: '', stderr: `wgmpls showconf: invalid interface name ${JSON.stringify(ifname)}\n` };
  try {
    const answer = await uapiExchange(join(DEFAULT_UAPI_DIR, `${ifname}.sock`), 'wgmpls-get=1\n\n');
    return { code: 0, stdout: showconfFromGet(answer), stderr: '' };
  } catch (err) {
    return { code: 1, stdout: '', stderr: `wgmpls showconf ${ifname}: ${(err as Error).message}\n` };
  }
}
