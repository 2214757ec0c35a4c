// The UAPI unix socket, <dir>/<ifname>.sock, that `wg` talks to (wireguard-go's ipc/uapi_*.go
// and device.IpcHandle). One connection may carry several requests:
//   "get=1\n\n"             -> get response ... "errno=0\n\n"
//   "set=1\n" key=value... "\n" -> "errno=N\n\n" (N = 0 or minus the errno, as wireguard-go)
//   "get=1\n" + other byte  -> "errno=-22\n\n" (the byte is consumed), and the connection goes on
//   "wgmpls-stats=1\n\n"    -> wgmpls extension: counters as key=value lines, "errno=0\n\n"
//   "wgmpls-get=1\n\n"      -> wgmpls extension: the get response plus the peers' extension keys
//                            (wgmpls-label-auth); a plain get stays what `wg` can parse
//   any other operation     -> the connection is closed without an answer (as wireguard-go)
// Operations are serialised across connections (wireguard-go's ipcMutex).

import { promises as fsp } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { UapiError, UapiTarget } from '../device/config';
import { ENOANO, formatErrno, formatGet, parseSet } from './uapi';

export interface UapiServerOptions {
  /** Directory of the sockets; created 0755 when missing. Default /var/run/wireguard. */
  dir?: string;
  /** Gets the operation and the errno only; never key material or request text. */
  log?: (msg: string, fields?: object) => void;
}

export const DEFAULT_UAPI_DIR = '/var/run/wireguard';

/** Longest line accepted in a set body: Go's bufio.Scanner limit, which wireguard-go inherits. */
const MAX_LINE = 64 * 1024;
/** Longest operation line ("get=1" / "set=1") worth waiting for. */
const MAX_OP_LINE = 64;
/** sockaddr_un.sun_path is 108 bytes including the terminating NUL. */
const MAX_SUN_PATH = 107;

function errnoOf(err: unknown): number {
  return err instanceof UapiError ? Math.abs(err.errno) : ENOANO;
}

function codeOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** Linux's dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or whitespace. */
export function validIfname(name: string): boolean {
  return (
    name.length > 0 &&
    Buffer.byteLength(name) <= 15 &&
    name !== '.' &&
    name !== '..' &&
    !/[/:\s\0]/.test(name)
  );
}

function bindServer(server: net.Server, sockPath: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      server.removeListener('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.removeListener('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // bind(2) happens synchronously inside listen(): a umask of 077 makes the socket root-only
    // from its first instant (wireguard-go does the same). process.umask() cannot be set from a
    // worker thread; the chmod after listening covers that case.
    let oldUmask: number | null = null;
    try {
      oldUmask = process.umask(0o077);
    } catch {
      oldUmask = null;
    }
    try {
      server.listen(sockPath);
    } finally {
      if (oldUmask !== null) process.umask(oldUmask);
    }
  });
}

/** True when something accepts connections on the socket (a live wireguard-go or wgmpls). */
function socketAnswers(sockPath: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const c = net.createConnection(sockPath);
    const timer = setTimeout(() => {
      c.destroy();
      resolve(true); // it did not refuse: assume someone is there
    }, 1000);
    c.once('connect', () => {
      clearTimeout(timer);
      c.destroy();
      resolve(true);
    });
    c.once('error', () => {
      clearTimeout(timer);
      c.destroy();
      resolve(false);
    });
  });
}

type Request = { op: 'get'; extensions: boolean } | { op: 'get-trailing' } | { op: 'stats' } | { op: 'set'; lines: string[] } | { op: 'invalid' } | { op: 'too-long' };

/** One client connection: splits the byte stream into requests and answers them in order. */
class UapiConnection {
  private buf = '';
  private state: 'op' | 'get' | 'xget' | 'stats' | 'set' = 'op';
  private setLines: string[] = [];
  private ended = false;
  private busy = false;
  private done = false;

  constructor(
    private readonly sock: net.Socket,
    private readonly owner: UapiServer,
  ) {
    // latin1 maps every byte to one char: no multi-byte sequence can be split across chunks.
    sock.setEncoding('latin1');
    sock.on('data', (chunk: string) => {
      if (this.done) return;
      this.buf += chunk;
      void this.pump();
    });
    sock.on('end', () => {
      this.ended = true;
      void this.pump();
    });
    sock.on('error', (err) => {
      this.owner.logEvent('uapi connection error', { code: codeOf(err) });
      this.finish(true);
    });
    sock.on('close', () => {
      this.done = true;
      this.owner.forget(this);
    });
  }

  destroy(): void {
    this.finish(true);
  }

  private finish(hard: boolean): void {
    if (this.done) return;
    this.done = true;
    this.buf = '';
    this.setLines = [];
    if (hard) this.sock.destroy();
    else this.sock.end();
  }

  private nextRequest(): Request | null {
    for (;;) {
      if (this.state === 'op') {
        const nl = this.buf.indexOf('\n');
        if (nl < 0) return this.buf.length > MAX_OP_LINE ? { op: 'invalid' } : null;
        const op = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (op === 'get=1') this.state = 'get';
        else if (op === 'wgmpls-get=1') this.state = 'xget';
        else if (op === 'wgmpls-stats=1') this.state = 'stats';
        else if (op === 'set=1') {
          this.state = 'set';
          this.setLines = [];
        } else return { op: 'invalid' };
      } else if (this.state === 'get' || this.state === 'xget' || this.state === 'stats') {
        if (this.buf.length === 0) return null;
        const c = this.buf[0];
        const op = this.state;
        this.buf = this.buf.slice(1);
        this.state = 'op';
        if (c !== '\n') return { op: 'get-trailing' };
        return op === 'stats' ? { op: 'stats' } : { op: 'get', extensions: op === 'xget' };
      } else {
        const nl = this.buf.indexOf('\n');
        if (nl < 0) return this.buf.length > MAX_LINE ? { op: 'too-long' } : null;
        if (nl > MAX_LINE) return { op: 'too-long' };
        let line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1); // bufio.ScanLines drops it too
        if (line === '') {
          const lines = this.setLines;
          this.setLines = [];
          this.state = 'op';
          return { op: 'set', lines };
        }
        this.setLines.push(line);
      }
    }
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (!this.done) {
        const req = this.nextRequest();
        if (!req) break;
        switch (req.op) {
          case 'get':
            this.write(await this.owner.get(req.extensions));
            break;
          case 'stats':
            this.write(await this.owner.stats());
            break;
          case 'get-trailing':
            this.owner.logEvent('uapi request', { op: 'get', errno: 22 });
            this.write(formatErrno(22));
            break;
          case 'set':
            this.write(await this.owner.set(req.lines));
            break;
          case 'too-long':
            // Like wireguard-go's scanner error: EIO; the stream cannot be resynchronised.
            this.owner.logEvent('uapi request', { op: 'set', errno: 5, reason: 'line too long' });
            this.write(formatErrno(5));
            this.finish(false);
            break;
          case 'invalid':
            // wireguard-go logs "invalid UAPI operation" and hangs up without an errno line.
            this.owner.logEvent('uapi invalid operation', { op: 'invalid' });
            this.finish(false);
            break;
        }
      }
      if (this.ended && !this.done) {
        // EOF in the middle of a set: wireguard-go's scanner ends and it applies what it got
        // (an unterminated last line included), answers, then hangs up. Same here.
        if (this.state === 'set') {
          if (this.buf.length > 0 && this.buf.length <= MAX_LINE) this.setLines.push(this.buf.replace(/\r$/, ''));
          const lines = this.setLines;
          this.setLines = [];
          this.buf = '';
          this.state = 'op';
          this.write(await this.owner.set(lines));
        }
        this.finish(false);
      }
    } catch (err) {
      // Nothing here should throw; never let a connection take the process down.
      this.owner.logEvent('uapi connection failure', { code: codeOf(err) });
      this.finish(true);
    } finally {
      this.busy = false;
    }
  }

  private write(text: string): void {
    if (this.done || this.sock.destroyed || !this.sock.writable) return;
    this.sock.write(text, 'latin1');
  }
}

export class UapiServer {
  private readonly conns = new Set<UapiConnection>();
  private queue: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | null = null;

  private constructor(
    readonly path: string,
    readonly ifname: string,
    private readonly server: net.Server,
    private readonly target: UapiTarget,
    private readonly ino: number,
    private readonly log: (msg: string, fields?: object) => void,
  ) {
    server.on('connection', (sock: net.Socket) => {
      if (this.closing) {
        sock.destroy();
        return;
      }
      this.conns.add(new UapiConnection(sock, this));
    });
    server.on('error', (err) => this.logEvent('uapi listener error', { code: codeOf(err) }));
  }

  /**
   * Listens on <dir>/<ifname>.sock (mode 0600, dir created 0755). A socket file already there is
   * replaced when stale; when something answers on it the call fails with code EADDRINUSE.
   */
  static async listen(ifname: string, target: UapiTarget, opts: UapiServerOptions = {}): Promise<UapiServer> {
    if (!validIfname(ifname)) throw new Error(`invalid interface name ${JSON.stringify(ifname)}`);
    const dir = opts.dir ?? DEFAULT_UAPI_DIR;
    const sockPath = path.join(dir, `${ifname}.sock`);
    if (Buffer.byteLength(sockPath) > MAX_SUN_PATH) throw new Error(`UAPI socket path too long: ${sockPath}`);
    await fsp.mkdir(dir, { recursive: true, mode: 0o755 });

    let server = net.createServer({ allowHalfOpen: true });
    try {
      await bindServer(server, sockPath);
    } catch (err) {
      if (codeOf(err) !== 'EADDRINUSE') throw err;
      if (await socketAnswers(sockPath)) {
        throw Object.assign(new Error(`UAPI socket ${sockPath} is in use: interface ${ifname} is already run by another process`), {
          code: 'EADDRINUSE',
        });
      }
      const st = await fsp.lstat(sockPath);
      if (!st.isSocket()) {
        throw Object.assign(new Error(`${sockPath} exists and is not a socket; not replacing it`), { code: 'EEXIST' });
      }
      await fsp.unlink(sockPath); // stale: its process is gone
      server = net.createServer({ allowHalfOpen: true });
      await bindServer(server, sockPath);
    }
    let ino: number;
    try {
      await fsp.chmod(sockPath, 0o600);
      ino = (await fsp.lstat(sockPath)).ino;
    } catch (err) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw err;
    }
    const log = opts.log ?? (() => undefined);
    const s = new UapiServer(sockPath, ifname, server, target, ino, log);
    s.logEvent('uapi listening', { path: sockPath });
    return s;
  }

  /** Stops listening, hangs up on clients, removes the socket file. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        for (const c of [...this.conns]) c.destroy();
        this.conns.clear();
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
        try {
          // libuv normally unlinks it already; only remove it if it is still ours.
          if ((await fsp.lstat(this.path)).ino === this.ino) await fsp.unlink(this.path);
        } catch (err) {
          if (codeOf(err) !== 'ENOENT') throw err;
        }
        this.logEvent('uapi closed', { path: this.path });
      })();
    }
    return this.closing;
  }

  // ------------------------------------------------------------- used by UapiConnection

  /** @internal */
  logEvent(msg: string, fields: object): void {
    try {
      this.log(msg, { ifname: this.ifname, ...fields });
    } catch {
      // a failing logger must not break the protocol
    }
  }

  /** @internal */
  forget(c: UapiConnection): void {
    this.conns.delete(c);
  }

  /** @internal The whole get response (or an errno trailer). */
  get(extensions = false): Promise<string> {
    return this.serialised(async () => {
      try {
        const text = formatGet(this.target.snapshot(), extensions);
        this.logEvent('uapi request', { op: 'get', errno: 0 });
        return text;
      } catch (err) {
        const errno = errnoOf(err);
        this.logEvent('uapi request', { op: 'get', errno });
        return formatErrno(errno);
      }
    });
  }

  /** @internal The wgmpls counters, or EINVAL where the target keeps none. */
  stats(): Promise<string> {
    return this.serialised(async () => {
      const stats = this.target.stats?.();
      if (!stats) return formatErrno(22);
      let text = '';
      for (const [k, v] of Object.entries(stats)) text += `${k}=${v}\n`;
      return text + formatErrno(0);
    });
  }

  /** @internal Validates, applies all or nothing, and returns the errno trailer. */
  set(lines: string[]): Promise<string> {
    return this.serialised(async () => {
      let errno = 0;
      try {
        await this.target.apply(parseSet(lines));
      } catch (err) {
        errno = errnoOf(err);
      }
      this.logEvent('uapi request', { op: 'set', errno });
      return formatErrno(errno);
    });
  }

  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
