// The plugin's end of a worker's control socket (datapath/worker/protocol.ts): one connection
// kept open for as long as the worker lives, so that its death is noticed the moment it happens
// (the connection closes) rather than at the next poll.
import net from 'node:net';
import type { EndpointSpec, HostedEndpoint, WorkerAnswer } from '../../datapath/worker/protocol';
import { LineSplitter } from '../../datapath/worker/protocol';

export class WorkerError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

interface Pending {
  resolve: (a: WorkerAnswer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export interface Hello {
  pid: number;
  protocol: number;
  warm: boolean;
  endpoints: HostedEndpoint[];
}

export class WorkerClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedFlag = false;
  private onCloseHandlers: (() => void)[] = [];

  private constructor(
    readonly path: string,
    private readonly sock: net.Socket,
  ) {
    sock.setEncoding('utf8');
    const lines = new LineSplitter((line) => this.onLine(line));
    sock.on('data', (chunk: string) => {
      if (!lines.push(chunk)) sock.destroy();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.closedFlag = true;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new WorkerError(`worker at ${path} went away`, 'ECONNRESET'));
      }
      this.pending.clear();
      for (const h of this.onCloseHandlers) h();
      this.onCloseHandlers = [];
    });
  }

  /** Connects, retrying until `timeoutMs` (a worker just spawned needs a moment to listen). */
  static async connect(path: string, timeoutMs: number, stillWorth: () => boolean = () => true): Promise<WorkerClient> {
    const end = Date.now() + timeoutMs;
    let last: Error = new Error('not tried');
    while (Date.now() < end && stillWorth()) {
      try {
        const sock = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(path);
          s.once('connect', () => {
            s.removeAllListeners('error');
            resolve(s);
          });
          s.once('error', reject);
        });
        return new WorkerClient(path, sock);
      } catch (err) {
        last = err as Error;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    throw new WorkerError(`cannot reach the worker at ${path}: ${last.message}`, 'ETIMEDOUT');
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Called once when the connection ends (the worker died, or close() was called). */
  onClose(handler: () => void): void {
    if (this.closedFlag) handler();
    else this.onCloseHandlers.push(handler);
  }

  close(): void {
    this.sock.destroy();
  }

  async hello(timeoutMs = 5000): Promise<Hello> {
    const a = await this.request({ op: 'hello' }, timeoutMs);
    if (!('protocol' in a)) throw new WorkerError('the worker answered hello without its protocol');
    return { pid: a.pid, protocol: a.protocol, warm: a.warm, endpoints: a.endpoints };
  }

  async list(timeoutMs = 5000): Promise<HostedEndpoint[]> {
    const a = await this.request({ op: 'list' }, timeoutMs);
    if (!('endpoints' in a)) throw new WorkerError('the worker answered list without endpoints');
    return a.endpoints;
  }

  /** Starts the endpoint (its TUN in the host namespace); returns its UDP port. */
  async add(spec: EndpointSpec, warmUp: boolean, timeoutMs = 15_000): Promise<number> {
    const a = await this.request({ op: 'add', warmUp, ...spec }, timeoutMs);
    if (!('port' in a)) throw new WorkerError('the worker answered add without a port');
    return a.port;
  }

  async remove(ifname: string, timeoutMs = 10_000): Promise<void> {
    await this.request({ op: 'remove', ifname }, timeoutMs);
  }

  async warmUp(timeoutMs = 30_000): Promise<void> {
    await this.request({ op: 'warm-up' }, timeoutMs);
  }

  private request(req: Record<string, unknown>, timeoutMs: number): Promise<Exclude<WorkerAnswer, { ok: false }>> {
    if (this.closedFlag) return Promise.reject(new WorkerError(`worker at ${this.path} went away`, 'ECONNRESET'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new WorkerError(`no answer from the worker at ${this.path} within ${timeoutMs} ms (${String(req.op)})`, 'ETIMEDOUT'));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (a) => (a.ok ? resolve(a) : reject(new WorkerError(a.error, a.code))),
        reject,
        timer,
      });
      this.sock.write(JSON.stringify({ ...req, id }) + '\n');
    });
  }

  private onLine(line: string): void {
    let a: WorkerAnswer;
    try {
      a = JSON.parse(line) as WorkerAnswer;
    } catch {
      this.sock.destroy(); // not a worker of ours
      return;
    }
    const p = this.pending.get(a.id);
    if (!p) return;
    this.pending.delete(a.id);
    clearTimeout(p.timer);
    p.resolve(a);
  }
}
