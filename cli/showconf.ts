// `wgmpls showconf IF`: asks the datapath's UAPI socket for `wgmpls-get=1` and prints it as
// `wg showconf` would, with the wgmpls extension keys (datapath/ipc/showconf.ts).
import { connect } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_UAPI_DIR, validIfname } from '../datapath/ipc/server';
import { showconfFromGet } from '../datapath/ipc/showconf';

function ask(sockPath: string, request: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(sockPath);
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer on ${sockPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      data += d;
      if (/(^|\n)errno=-?\d+\n\n$/.test(data)) {
        clearTimeout(timer);
        s.end();
        resolve(data);
      }
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${sockPath}: ${err.message}`));
    });
    s.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`${sockPath} hung up without an answer (not a wgmpls datapath?)`));
    });
    s.write(request);
  });
}

export async function showconf(ifname: string): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!validIfname(ifname)) return { code: 1, stdout: '', stderr: `wgmpls showconf: invalid interface name ${JSON.stringify(ifname)}\n` };
  try {
    const answer = await ask(join(DEFAULT_UAPI_DIR, `${ifname}.sock`), 'wgmpls-get=1\n\n');
    return { code: 0, stdout: showconfFromGet(answer), stderr: '' };
  } catch (err) {
    return { code: 1, stdout: '', stderr: `wgmpls showconf ${ifname}: ${(err as Error).message}\n` };
  }
}
