// The client side of the UAPI socket (server.ts): one request, one answer. Every answer ends
// with "errno=N" and an empty line, and no answer holds an empty line before that.
import { connect } from 'node:net';

/** Sends `request` and resolves with the whole answer; rejects naming the socket when there is none. */
export function uapiExchange(socketPath: string, request: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer on ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      data += chunk;
      if (/(^|\n)errno=-?\d+\n\n$/.test(data)) {
        clearTimeout(timer);
        sock.end();
        resolve(data);
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${socketPath}: ${err.message}`));
    });
    sock.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`${socketPath} hung up without an answer (not a wgmpls datapath?)`));
    });
    sock.write(request);
  });
}
