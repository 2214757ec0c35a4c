// The worker's control socket: the plugin connects (again after each of its own restarts; the
// worker outlives them) and sends protocol.ts requests. Root only: the socket is created under
// umask 077 and chmod 0600, in the plugin's 0700 state directory.
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { constants as osConstants } from 'node:os';
import type { Log } from '../log';
import type { WorkerHost } from './host';
import { LineSplitter, ProtocolError, WORKER_PROTOCOL, WorkerAnswer, WorkerRequest, parseRequest, requestId } from './protocol';

const errnoNames = new Map(Object.entries(osConstants.errno).map(([name, n]): [number, string] => [n, name]));

/** The error's code (EADDRINUSE...): its own, or its errno's name (a UDP bind refused). */
function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  if ('code' in err) return String((err as { code: unknown }).code);
  if ('errno' in err && typeof (err as { errno: unknown }).errno === 'number') return errnoNames.get(Math.abs((err as { errno: number }).errno));
  return undefined;
}

export class ControlServer {
  private readonly conns = new Set<net.Socket>();

  private constructor(
    readonly path: string,
    private readonly server: net.Server,
  ) {}

  /** Listens on `path`; a stale socket file there (its worker is gone) is replaced. */
  static async listen(path: string, host: WorkerHost, log: Log): Promise<ControlServer> {
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`);
      if (await answers(path)) throw Object.assign(new Error(`${path}: another worker answers there`), { code: 'EADDRINUSE' });
      unlinkSync(path);
    }
    const server = net.createServer();
    const cs = new ControlServer(path, server);
    server.on('connection', (sock) => cs.serve(sock, host, log));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const old = process.umask(0o077);
      try {
        server.listen(path, () => resolve());
      } finally {
        process.umask(old);
      }
    });
    chmodSync(path, 0o600);
    return cs;
  }

  private serve(sock: net.Socket, host: WorkerHost, log: Log): void {
    this.conns.add(sock);
    sock.setEncoding('utf8');
    const send = (a: WorkerAnswer): void => {
      if (!sock.destroyed && sock.writable) sock.write(JSON.stringify(a) + '\n');
    };
    const lines = new LineSplitter((line) => {
      let req: WorkerRequest;
      try {
        req = parseRequest(line);
      } catch (err) {
        send({ id: requestId(line), ok: false, error: (err as Error).message, code: 'EINVAL' });
        return;
      }
      answer(req, host, log).then(send, (err: unknown) => {
        const error = err instanceof Error ? err.message : String(err);
        log.warn({ op: req.op, err: error }, 'control request failed');
        send({ id: req.id, ok: false, error, code: codeOf(err) });
      });
    });
    sock.on('data', (chunk: string) => {
      if (!lines.push(chunk)) sock.destroy();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => this.conns.delete(sock));
  }

  close(): Promise<void> {
    for (const s of this.conns) s.destroy();
    this.conns.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function answer(req: WorkerRequest, host: WorkerHost, log: Log): Promise<WorkerAnswer> {
  switch (req.op) {
    case 'hello':
      return { id: req.id, ok: true, pid: process.pid, protocol: WORKER_PROTOCOL, warm: host.warm, endpoints: host.list() };
    case 'list':
      return { id: req.id, ok: true, endpoints: host.list() };
    case 'add': {
      const { id: _id, op: _op, warmUp, ...spec } = req;
      const port = await host.add(spec, warmUp);
      log.info({ ifname: req.ifname, port, endpoints: host.size }, 'endpoint added');
      return { id: req.id, ok: true, port };
    }
    case 'remove':
      await host.remove(req.ifname);
      log.info({ ifname: req.ifname, endpoints: host.size }, 'endpoint removed');
      return { id: req.id, ok: true };
    case 'warm-up':
      await host.warmUp();
      return { id: req.id, ok: true };
    default:
      throw new ProtocolError('unknown op');
  }
}

/** Whether something accepts connections on `path` (a live worker). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(path);
    const done = (v: boolean): void => {
      c.destroy();
      resolve(v);
    };
    c.once('connect', () => done(true));
    c.once('error', () => done(false));
    setTimeout(() => done(true), 1000).unref();
  });
}
