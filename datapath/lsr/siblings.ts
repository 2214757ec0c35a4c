// Hand-over between the endpoints of one namespace (docs/design.md section 2: line cards of one
// chassis). A sibling in the same process (the plugin's workers keep a namespace's endpoints
// together) gets the frame by a function call. Otherwise: each datapath listens on
// <lsrDir>/<ifname>.sock; a frame whose route names a sibling's device is written there,
// length-prefixed, and the sibling sends it on its tunnel. Stream sockets because Node has no
// unix datagram sockets; a lost sibling drops, never blocks.
import net from 'node:net';
import { existsSync, unlinkSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { Egress } from './forwarder';
import type { NextHop } from './model';

const KIND_MPLS = 1;
const KIND_IP = 2;
const HEADER = 4 + 1 + 1 + 1 + 16;
const MAX_MESSAGE = 1 << 17;
/** Frames queued for a sibling that is not connected yet; beyond this they are dropped. */
const MAX_PENDING = 256;

function encodeHeader(b: Buffer, at: number, kind: 'mpls' | 'ip', multicast: boolean, via: NextHop | null, len: number): void {
  b.writeUInt32BE(HEADER - 4 + len, at);
  b[at + 4] = kind === 'mpls' ? KIND_MPLS : KIND_IP;
  b[at + 5] = kind === 'mpls' && multicast ? 1 : 0;
  b[at + 6] = via ? via.family : 0;
  b.fill(0, at + 7, at + 23);
  if (via) b.set(via.addr, at + 7);
}

export function encodeEgress(e: Exclude<Egress, { kind: 'local' }>): Buffer {
  const payload = e.kind === 'mpls' ? e.frame : e.packet;
  const b = Buffer.allocUnsafe(HEADER + payload.length);
  encodeHeader(b, 0, e.kind, e.kind === 'mpls' && e.multicast, e.via, payload.length);
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

/**
 * Labelled frames received from a sibling that share next hop, kind and outer entry (but for its
 * TTL), gathered from their encoded messages to go on as one run.
 */
class RunGatherer {
  private buf = Buffer.allocUnsafe(256 * 1024);
  private desc = new Uint32Array(3 * 1024);
  private n = 0;
  private used = 0;
  /** The run's message header bytes 1..18 (multicast flag, next hop) and outer entry bytes 0..2. */
  private readonly key = Buffer.alloc(HEADER - 5 + 3);

  constructor(private readonly flushTo: (via: NextHop | null, buf: Buffer, desc: Uint32Array, n: number, multicast: boolean) => void) {}

  /** An encoded MPLS message (kind byte first) whose frame has at least one entry. */
  add(m: Buffer): void {
    const frameAt = HEADER - 4;
    const len = m.length - frameAt;
    const k = this.key;
    const same = this.n > 0 && m.compare(k, 0, HEADER - 5, 1, HEADER - 4) === 0 && m[frameAt] === k[HEADER - 5] && m[frameAt + 1] === k[HEADER - 4] && m[frameAt + 2] === k[HEADER - 3];
    if (this.n > 0 && (!same || this.n * 3 >= this.desc.length || this.used + len > this.buf.length)) this.flush();
    if (len > this.buf.length) this.buf = Buffer.allocUnsafe(len);
    if (this.n === 0) {
      m.copy(k, 0, 1, HEADER - 4);
      m.copy(k, HEADER - 5, frameAt, frameAt + 3);
    }
    m.copy(this.buf, this.used, frameAt);
    this.desc[3 * this.n] = this.used;
    this.desc[3 * this.n + 1] = len;
    this.desc[3 * this.n + 2] = m[1] === 1 ? 0x8848 : 0x8847;
    this.used += len;
    this.n++;
  }

  flush(): void {
    if (this.n === 0) return;
    const n = this.n;
    this.n = 0;
    this.used = 0;
    const k = this.key;
    const fam = k[1];
    const via: NextHop | null = fam === 4 ? { family: 4, addr: Uint8Array.from(k.subarray(2, 6)) } : fam === 6 ? { family: 6, addr: Uint8Array.from(k.subarray(2, 18)) } : null;
    this.flushTo(via, this.buf, this.desc, n, k[0] === 1);
  }
}

type Handler = (e: Exclude<Egress, { kind: 'local' }>) => void;
type RunHandler = (via: NextHop | null, buf: Buffer, desc: Uint32Array, n: number, multicast: boolean) => void;

/**
 * The siblings listening in this process, by socket path (<lsrDir>/<ifname>.sock: namespace and
 * interface): a hand-over to one of them needs no socket.
 */
const inProcess = new Map<string, { egress: Handler; mplsRun?: RunHandler }>();

export class Siblings {
  private server: net.Server | null = null;
  private readonly out = new Map<string, { sock: net.Socket; ready: boolean; pending: Buffer[] }>();
  dropped = 0;

  constructor(
    private readonly dir: string,
    readonly ifname: string,
    private readonly onEgress: (e: Exclude<Egress, { kind: 'local' }>) => void,
    /** Labelled frames sharing next hop and outer entry (desc: offset, length, ethertype); by default each to onEgress. */
    private readonly onMplsRun?: (via: NextHop | null, buf: Buffer, desc: Uint32Array, n: number, multicast: boolean) => void,
  ) {}

  /** This endpoint as siblings in the same process reach it (set when it listens). */
  private local: { egress: Handler; mplsRun?: RunHandler } | null = null;

  get path(): string {
    return join(this.dir, `${this.ifname}.sock`);
  }

  listen(): Promise<void> {
    if (existsSync(this.path)) unlinkSync(this.path); // ours by name: the old holder is gone (the TUN attach would have failed otherwise)
    return new Promise((resolve, reject) => {
      const server = net.createServer((sock) => {
        // What one read brought goes on in runs: a chunk holds many frames of one stream.
        const onRun = this.onMplsRun;
        const runs = onRun ? new RunGatherer(onRun) : null;
        const d = new Deframer((m) => {
          // Labelled frames go straight into the run (no decoded copy); the rest as before.
          if (runs && m.length >= HEADER - 4 + 4 && m[0] === KIND_MPLS) return runs.add(m);
          runs?.flush();
          const e = decodeEgress(m, this.ifname);
          if (e) this.onEgress(e);
          else this.dropped++;
        });
        sock.on('data', (c: Buffer) => {
          const ok = d.push(c);
          runs?.flush();
          if (!ok) sock.destroy();
        });
        sock.on('error', () => undefined);
      });
      server.once('error', reject);
      server.listen(this.path, () => {
        chmodSync(this.path, 0o600);
        this.server = server;
        this.local = { egress: this.onEgress, mplsRun: this.onMplsRun };
        inProcess.set(this.path, this.local);
        resolve();
      });
    });
  }

  /** A run of frames for sibling `dev` (desc: offset, length, ethertype), written as one chunk. */
  sendMplsRun(dev: string, via: NextHop | null, buf: Buffer, desc: Uint32Array, n: number, multicast: boolean): void {
    const local = inProcess.get(join(this.dir, `${dev}.sock`));
    if (local) {
      // Same process: the sibling sends the run on its tunnel now (it may rewrite the frames in
      // place, as its own forwarder's egress would; nothing here reads them afterwards).
      if (local.mplsRun) local.mplsRun(via, buf, desc, n, multicast);
      else for (let k = 0; k < n; k++) local.egress({ kind: 'mpls', dev, via, frame: Buffer.from(buf.subarray(desc[3 * k], desc[3 * k] + desc[3 * k + 1])), multicast });
      return;
    }
    let total = 0;
    for (let k = 0; k < n; k++) total += HEADER + desc[3 * k + 1];
    const chunk = Buffer.allocUnsafe(total);
    let at = 0;
    for (let k = 0; k < n; k++) {
      const len = desc[3 * k + 1];
      encodeHeader(chunk, at, 'mpls', multicast, via, len);
      buf.copy(chunk, at + HEADER, desc[3 * k], desc[3 * k] + len);
      at += HEADER + len;
    }
    this.write(dev, chunk, n);
  }

  send(e: Exclude<Egress, { kind: 'local' }>): void {
    const local = inProcess.get(join(this.dir, `${e.dev}.sock`));
    if (local) {
      // Same process: the sibling sends it on its tunnel now, as it would a frame from its socket.
      local.egress(e);
      return;
    }
    this.write(e.dev, encodeEgress(e), 1);
  }

  /** `msgs` messages, already encoded, to sibling `dev`. */
  private write(dev: string, msg: Buffer, msgs: number): void {
    let c = this.out.get(dev);
    if (!c) {
      const sock = net.connect(join(this.dir, `${dev}.sock`));
      const conn = { sock, ready: false, pending: [] as Buffer[] };
      c = conn;
      this.out.set(dev, conn);
      sock.setNoDelay?.(true);
      sock.on('connect', () => {
        conn.ready = true;
        for (const m of conn.pending) sock.write(m);
        conn.pending = [];
      });
      const forget = (): void => {
        this.dropped += conn.pending.length;
        if (this.out.get(dev) === conn) this.out.delete(dev);
        sock.destroy();
      };
      sock.on('error', forget);
      sock.on('close', forget);
    }
    if (c.ready) {
      // Backpressure: a sibling that stops reading loses frames rather than stalling us.
      if (c.sock.writableLength > 4 << 20) this.dropped += msgs;
      else c.sock.write(msg);
    } else if (c.pending.length < MAX_PENDING) c.pending.push(msg);
    else this.dropped += msgs;
  }

  close(): void {
    if (inProcess.get(this.path) === this.local) inProcess.delete(this.path);
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
