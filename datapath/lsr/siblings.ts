// Hand-over between the endpoints of one namespace (docs/design.md section 2: line cards of one
// chassis). Each datapath listens on <lsrDir>/<ifname>.sock; a frame whose route names a
// sibling's device is written there, length-prefixed, and the sibling sends it on its tunnel.
// Stream sockets because Node has no unix datagram sockets; a lost sibling drops, never blocks.
import net from 'node:net';
import { existsSync, unlinkSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { Egress } from './forwarder';

const KIND_MPLS = 1;
const KIND_IP = 2;
const HEADER = 4 + 1 + 1 + 1 + 16;
const MAX_MESSAGE = 1 << 17;
/** Frames queued for a sibling that is not connected yet; beyond this they are dropped. */
const MAX_PENDING = 256;

export function encodeEgress(e: Exclude<Egress, { kind: 'local' }>): Buffer {
  const payload = e.kind === 'mpls' ? e.frame : e.packet;
  const b = Buffer.allocUnsafe(HEADER + payload.length);
  b.writeUInt32BE(HEADER - 4 + payload.length, 0);
  b[4] = e.kind === 'mpls' ? KIND_MPLS : KIND_IP;
  b[5] = e.kind === 'mpls' && e.multicast ? 1 : 0;
  b[6] = e.via ? e.via.family : 0;
  b.fill(0, 7, 23);
  if (e.via) b.set(e.via.addr, 7);
  payload.copy(b, HEADER);
  return b;
}

export function decodeEgress(msg: Buffer, dev: string): Exclude<Egress, { kind: 'local' }> | null {
  if (msg.length < HEADER - 4) return null;
  const kind = msg[0];
  const fam = msg[2];
  const via = fam === 4 ? { family: 4 as const, addr: Uint8Array.from(msg.subarray(3, 7)) } : fam === 6 ? { family: 6 as const, addr: Uint8Array.from(msg.subarray(3, 19)) } : null;
  const payload = Buffer.from(msg.subarray(HEADER - 4));
  if (kind === KIND_MPLS) return { kind: 'mpls', dev, via, frame: payload, multicast: msg[1] === 1 };
  if (kind === KIND_IP) return { kind: 'ip', dev, via, packet: payload };
  return null;
}

/** Splits a byte stream into length-prefixed messages. */
class Deframer {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly onMessage: (m: Buffer) => void) {}
  push(chunk: Buffer): boolean {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len > MAX_MESSAGE) return false;
      if (this.buf.length < 4 + len) break;
      this.onMessage(this.buf.subarray(4, 4 + len));
      this.buf = this.buf.subarray(4 + len);
    }
    return true;
  }
}

export class Siblings {
  private server: net.Server | null = null;
  private readonly out = new Map<string, { sock: net.Socket; ready: boolean; pending: Buffer[] }>();
  dropped = 0;

  constructor(
    private readonly dir: string,
    readonly ifname: string,
    private readonly onEgress: (e: Exclude<Egress, { kind: 'local' }>) => void,
  ) {}

  get path(): string {
    return join(this.dir, `${this.ifname}.sock`);
  }

  listen(): Promise<void> {
    if (existsSync(this.path)) unlinkSync(this.path); // ours by name: the old holder is gone (the TUN attach would have failed otherwise)
    return new Promise((resolve, reject) => {
      const server = net.createServer((sock) => {
        const d = new Deframer((m) => {
          const e = decodeEgress(m, this.ifname);
          if (e) this.onEgress(e);
          else this.dropped++;
        });
        sock.on('data', (c: Buffer) => {
          if (!d.push(c)) sock.destroy();
        });
        sock.on('error', () => undefined);
      });
      server.once('error', reject);
      server.listen(this.path, () => {
        chmodSync(this.path, 0o600);
        this.server = server;
        resolve();
      });
    });
  }

  send(e: Exclude<Egress, { kind: 'local' }>): void {
    let c = this.out.get(e.dev);
    if (!c) {
      const sock = net.connect(join(this.dir, `${e.dev}.sock`));
      const conn = { sock, ready: false, pending: [] as Buffer[] };
      c = conn;
      this.out.set(e.dev, conn);
      sock.setNoDelay?.(true);
      sock.on('connect', () => {
        conn.ready = true;
        for (const m of conn.pending) sock.write(m);
        conn.pending = [];
      });
      const forget = (): void => {
        this.dropped += conn.pending.length;
        if (this.out.get(e.dev) === conn) this.out.delete(e.dev);
        sock.destroy();
      };
      sock.on('error', forget);
      sock.on('close', forget);
    }
    const msg = encodeEgress(e);
    if (c.ready) {
      // Backpressure: a sibling that stops reading loses frames rather than stalling us.
      if (c.sock.writableLength > 4 << 20) this.dropped++;
      else c.sock.write(msg);
    } else if (c.pending.length < MAX_PENDING) c.pending.push(msg);
    else this.dropped++;
  }

  close(): void {
    for (const c of this.out.values()) c.sock.destroy();
    this.out.clear();
    this.server?.close();
    this.server = null;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
