// UDP ports for endpoints: distinct per endpoint across all networks (two networks may share an
// underlay address), and free right now on the underlay. "Free now" is checked by binding it
// the way the datapath will (same address, no SO_REUSEADDR); a program could still take it
// before the datapath binds, which the datapath then reports as EADDRINUSE.
import { createSocket } from 'node:dgram';
import { DriverError } from '../api/errors';

export const DEFAULT_PORT_BASE = 51820;

/** True when free, false when in use; throws for anything else (the address itself is gone). */
function canBind(address: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4' });
    s.once('error', (err: NodeJS.ErrnoException) => {
      try {
        s.close();
      } catch {
        // never bound: nothing to close
      }
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else reject(new DriverError(`cannot use the underlay address ${address}: ${err.code ?? err.message}`));
    });
    s.bind({ address, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

export async function allocatePort(underlay: string, base: number, taken: ReadonlySet<number>): Promise<number> {
  for (let port = base; port <= 65535; port++) {
    if (taken.has(port)) continue;
    if (await canBind(underlay, port)) return port;
  }
  throw new DriverError(`no free UDP port from ${base} to 65535 on ${underlay}`);
}
