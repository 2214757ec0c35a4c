// In-process network for Device tests: every device's UDP goes into one queue that the test
// flushes explicitly (so it decides ordering and can drop, duplicate, replay or tamper with
// datagrams), all devices share one FakeClock, and TUN writes / MPLS deliveries are recorded.
// Nothing touches a socket or a TUN; addresses are documentation ones (RFC 5737 / 3849).

import { Device, DeviceOptions } from '../../datapath/device/device';
import { FakeClock } from '../fakeClock';
import type { Peer } from '../../datapath/device/peer';
import type { DeviceChange, Endpoint, PeerChange, Prefix } from '../../datapath/device/config';
import { generatePrivateKey, publicKey } from '../../datapath/crypto/x25519';
import { ipToBytes } from '../../datapath/conn/addr';
import { makeLse, writeLse } from '../../datapath/mpls/wire';

// ------------------------------------------------------------------ the network

export interface Datagram {
  /** Order of sending, over the whole net. */
  seq: number;
  /** Clock time when it was sent. */
  at: number;
  from: Node;
  src: Endpoint;
  to: Endpoint;
  data: Buffer;
}

export interface TunWrite {
  at: number;
  proto: number;
  packet: Buffer;
}

export interface MplsDelivery {
  at: number;
  frame: Buffer;
  multicast: boolean;
  fromPublicKey: Uint8Array;
}

export type NodeOptions = Omit<DeviceOptions, 'clock' | 'onMpls'> & {
  port?: number;
  /** Use this private key instead of a fresh one (two devices with one identity). */
  privateKey?: Uint8Array;
  /** Record MPLS deliveries (default) or leave the device's default (TUN write 0x8847/8). */
  captureMpls?: boolean;
};

const epKey = (e: Endpoint): string => `${e.address}|${e.port}`;

export class Node {
  readonly device: Device;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  endpoint: Endpoint;
  readonly tun: TunWrite[] = [];
  readonly mpls: MplsDelivery[] = [];
  readonly binds: number[] = [];

  constructor(
    net: Net,
    readonly name: string,
    address: string,
    opts: NodeOptions = {},
  ) {
    this.privateKey = opts.privateKey ? Uint8Array.from(opts.privateKey) : generatePrivateKey();
    this.publicKey = publicKey(this.privateKey);
    this.endpoint = { address, port: opts.port ?? 51820 };
    const { captureMpls = true, port: _port, privateKey: _key, ...devOpts } = opts;
    void _port;
    void _key;
    const deviceOpts: DeviceOptions = { ...devOpts, clock: net.clock };
    if (captureMpls) {
      deviceOpts.onMpls = (frame, multicast, from): void => {
        this.mpls.push({ at: net.clock.now(), frame: Buffer.from(frame), multicast, fromPublicKey: from.publicKey });
      };
    }
    this.device = new Device(
      {
        sendUdp: (msg, to) => net.enqueue(this, msg, to),
        writeTun: (proto, packet) => {
          this.tun.push({ at: net.clock.now(), proto, packet: Buffer.from(packet) });
        },
        bind: (port) => {
          this.binds.push(port);
          const bound = port === 0 ? 40000 + this.binds.length : port;
          this.endpoint = { address: this.endpoint.address, port: bound };
          return Promise.resolve(bound);
        },
      },
      deviceOpts,
    );
  }

  /** The device's peer object for `other` (throws when not configured). */
  peerOf(other: Node): Peer {
    const p = this.device.peer(other.publicKey);
    if (!p) throw new Error(`${this.name} has no peer ${other.name}`);
    return p;
  }

  drops(reason: string): number {
    for (const [k, v] of this.device.counters.drops) if (k === reason) return v;
    return 0;
  }

  dropsJson(): Record<string, number> {
    return Object.fromEntries(this.device.counters.drops);
  }
}

export class Net {
  readonly clock = new FakeClock();
  readonly nodes: Node[] = [];
  /** Sent, not yet delivered. */
  queue: Datagram[] = [];
  /** Everything ever sent, in order. */
  readonly log: Datagram[] = [];
  /** Datagrams flushed but lost (no such address, or `lose` said so). */
  readonly lost: Datagram[] = [];
  /** When set, flushed datagrams for which it returns true are lost instead of delivered. */
  lose: ((d: Datagram) => boolean) | null = null;
  private seq = 0;

  async node(name: string, address: string, opts: NodeOptions = {}): Promise<Node> {
    const n = new Node(this, name, address, opts);
    this.nodes.push(n);
    await n.device.apply({ privateKey: n.privateKey, listenPort: n.endpoint.port, replacePeers: false, peers: [] });
    return n;
  }

  enqueue(from: Node, data: Buffer, to: Endpoint): void {
    const d: Datagram = { seq: this.seq++, at: this.clock.now(), from, src: { ...from.endpoint }, to: { ...to }, data };
    this.queue.push(d);
    this.log.push(d);
  }

  /** Hands `d` (or a tampered copy of it: pass `data`) to whoever listens at d.to, now. */
  deliver(d: Datagram, data: Buffer = d.data, src: Endpoint = d.src): boolean {
    const target = this.nodes.find((n) => epKey(n.endpoint) === epKey(d.to));
    if (!target) {
      this.lost.push(d);
      return false;
    }
    target.device.handleUdp(Buffer.from(data), { ...src });
    return true;
  }

  /** Delivers everything queued, and what that provokes, until the queue is empty. */
  flush(maxDatagrams = 10_000): number {
    let n = 0;
    while (this.queue.length > 0) {
      if (++n > maxDatagrams) throw new Error('flush: the devices never stop talking');
      const d = this.queue.shift() as Datagram;
      if (this.lose && this.lose(d)) this.lost.push(d);
      else this.deliver(d);
    }
    return n;
  }

  /** Removes (without delivering) the queued datagrams matching `pred`, in order. */
  take(pred: (d: Datagram) => boolean = () => true): Datagram[] {
    const out = this.queue.filter(pred);
    this.queue = this.queue.filter((d) => !pred(d));
    return out;
  }

  /** Moves time forward in steps, flushing the network after each (a live, fast network). */
  advance(ms: number, stepMs = 100): void {
    this.flush();
    let left = ms;
    while (left > 0) {
      const step = Math.min(stepMs, left);
      this.clock.advance(step);
      left -= step;
      this.flush();
    }
  }

  /** Datagrams sent by `from` (optionally to `to`, of message type `type`) since seq `since`. */
  sent(from: Node, opts: { to?: Node; type?: number; since?: number } = {}): Datagram[] {
    return this.log.filter(
      (d) =>
        d.from === from &&
        (opts.to === undefined || epKey(d.to) === epKey(opts.to.endpoint)) &&
        (opts.type === undefined || d.data[0] === opts.type) &&
        (opts.since === undefined || d.seq >= opts.since),
    );
  }

  /** The seq the next datagram will get: a mark for `sent(..., { since })`. */
  get mark(): number {
    return this.seq;
  }
}

// ------------------------------------------------------------------ configuration helpers

export function prefix(s: string): Prefix {
  const [addr, bits] = s.split('/');
  const bytes = ipToBytes(addr);
  return { addr: bytes, bits: bits === undefined ? bytes.length * 8 : Number(bits) };
}

export interface PeerOpts {
  allowed?: string[];
  /** Configure the other node's endpoint (default true). */
  endpoint?: boolean;
  keepalive?: number;
  presharedKey?: Uint8Array;
  replaceAllowedIps?: boolean;
  updateOnly?: boolean;
  remove?: boolean;
  /** wgmpls-label-auth for this peer. */
  labelAuth?: boolean;
}

export function peerChange(other: Node, o: PeerOpts = {}): PeerChange {
  const pc: PeerChange = {
    publicKey: other.publicKey,
    remove: o.remove ?? false,
    updateOnly: o.updateOnly ?? false,
    replaceAllowedIps: o.replaceAllowedIps ?? false,
    allowedIps: (o.allowed ?? []).map(prefix),
  };
  if (o.endpoint ?? true) pc.endpoint = { ...other.endpoint };
  if (o.keepalive !== undefined) pc.persistentKeepaliveInterval = o.keepalive;
  if (o.presharedKey) pc.presharedKey = o.presharedKey;
  if (o.labelAuth !== undefined) pc.labelAuth = o.labelAuth;
  return pc;
}

export function change(peers: PeerChange[], extra: Partial<DeviceChange> = {}): DeviceChange {
  return { replacePeers: false, peers, ...extra };
}

/** Configures a as b's peer and b as a's peer. */
export async function link(a: Node, aSeesB: PeerOpts, b: Node, bSeesA: PeerOpts): Promise<void> {
  await a.device.apply(change([peerChange(b, aSeesB)]));
  await b.device.apply(change([peerChange(a, bSeesA)]));
}

// ------------------------------------------------------------------ packets

function sum16(buf: Uint8Array, start: number, end: number, init = 0): number {
  let s = init;
  for (let i = start; i < end; i += 2) s += (buf[i] << 8) | (i + 1 < end ? buf[i + 1] : 0);
  return s;
}

function fold(s: number): number {
  let x = s;
  while (x > 0xffff) x = (x & 0xffff) + Math.floor(x / 0x10000);
  return x;
}

export function ipv4HeaderChecksumValid(p: Uint8Array): boolean {
  const ihl = (p[0] & 0x0f) * 4;
  return fold(sum16(p, 0, ihl)) === 0xffff;
}

function udp(srcPort: number, dstPort: number, payload: Uint8Array): Buffer {
  const u = Buffer.alloc(8 + payload.length);
  u.writeUInt16BE(srcPort, 0);
  u.writeUInt16BE(dstPort, 2);
  u.writeUInt16BE(u.length, 4);
  Buffer.from(payload).copy(u, 8);
  return u;
}

export interface IpOpts {
  src: string;
  dst: string;
  ttl?: number;
  payload?: Uint8Array | string;
  id?: number;
}

const bytesOf = (p: Uint8Array | string | undefined): Uint8Array =>
  p === undefined ? Buffer.from('hello') : typeof p === 'string' ? Buffer.from(p) : p;

/** A complete IPv4/UDP packet (port 9 to 9) with correct header and UDP checksums. */
export function ipv4Packet(o: IpOpts): Buffer {
  const src = ipToBytes(o.src);
  const dst = ipToBytes(o.dst);
  const u = udp(9, 9, bytesOf(o.payload));
  const pseudo = sum16(src, 0, 4) + sum16(dst, 0, 4) + 17 + u.length;
  const uc = ~fold(sum16(u, 0, u.length, pseudo)) & 0xffff;
  u.writeUInt16BE(uc === 0 ? 0xffff : uc, 6);
  const p = Buffer.alloc(20 + u.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p.writeUInt16BE(o.id ?? 0x1234, 4);
  p.writeUInt16BE(0x4000, 6); // DF
  p[8] = o.ttl ?? 64;
  p[9] = 17;
  Buffer.from(src).copy(p, 12);
  Buffer.from(dst).copy(p, 16);
  p.writeUInt16BE(~fold(sum16(p, 0, 20)) & 0xffff, 10);
  u.copy(p, 20);
  return p;
}

/** A complete IPv6/UDP packet with a correct UDP checksum. */
export function ipv6Packet(o: IpOpts): Buffer {
  const src = ipToBytes(o.src);
  const dst = ipToBytes(o.dst);
  const u = udp(9, 9, bytesOf(o.payload));
  const pseudo = sum16(src, 0, 16) + sum16(dst, 0, 16) + u.length + 17;
  const uc = ~fold(sum16(u, 0, u.length, pseudo)) & 0xffff;
  u.writeUInt16BE(uc === 0 ? 0xffff : uc, 6);
  const p = Buffer.alloc(40 + u.length);
  p[0] = 0x60;
  p.writeUInt16BE(u.length, 4);
  p[6] = 17;
  p[7] = o.ttl ?? 64;
  Buffer.from(src).copy(p, 8);
  Buffer.from(dst).copy(p, 24);
  u.copy(p, 40);
  return p;
}

/** With the 4-byte TUN packet-information header (flags 0, protocol). */
export function withPi(proto: number, packet: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + packet.length);
  b.writeUInt16BE(proto, 2);
  Buffer.from(packet).copy(b, 4);
  return b;
}

export interface Lse {
  label: number;
  tc?: number;
  bos: 0 | 1;
  ttl: number;
}

export function mplsFrame(stack: Lse[], payload: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.alloc(4 * stack.length + payload.length);
  stack.forEach((e, i) => writeLse(b, 4 * i, makeLse(e.label, e.tc ?? 0, e.bos, e.ttl)));
  Buffer.from(payload).copy(b, 4 * stack.length);
  return b;
}

// ------------------------------------------------------------------ message predicates

export const isType = (t: number) => (d: Datagram): boolean => d.data[0] === t;
export const isKeepalive = (d: Datagram): boolean => d.data[0] === 4 && d.data.length === 32;
export const isData = (d: Datagram): boolean => d.data[0] >= 4 && d.data[0] <= 6 && d.data.length > 32;
export const fromNode = (n: Node) => (d: Datagram): boolean => d.from === n;

// ------------------------------------------------- shared by the device test files

export const A4 = '10.0.0.1';
export const B4 = '10.0.0.2';
export const A6 = 'fd00::1';
export const B6 = 'fd00::2';

export function must<T>(x: T | null | undefined, what = 'value'): T {
  if (x === null || x === undefined) throw new Error(`expected a ${what}`);
  return x;
}

export interface Pair {
  net: Net;
  a: Node;
  b: Node;
}

/**
 * A (192.0.2.1:51820, 10.0.0.1, fd00::1) knows B's endpoint; B (192.0.2.2:51820, 10.0.0.2,
 * fd00::2) does not know A's (server style) unless bSeesA says so.
 */
export async function pair(
  o: { a?: NodeOptions; b?: NodeOptions; aSeesB?: PeerOpts; bSeesA?: PeerOpts } = {},
): Promise<Pair> {
  const net = new Net();
  const a = await net.node('A', '192.0.2.1', o.a);
  const b = await net.node('B', '192.0.2.2', o.b);
  await link(
    a,
    { allowed: [`${B4}/32`, `${B6}/128`], ...o.aSeesB },
    b,
    { allowed: [`${A4}/32`, `${A6}/128`], endpoint: false, ...o.bSeesA },
  );
  return { net, a, b };
}

/** A initiates (with a keepalive to carry), everything is delivered. */
export function handshake(net: Net, a: Node, b: Node): void {
  a.device.sendKeepalive(a.peerOf(b));
  net.flush();
  expect(a.peerOf(b).keypairs.current).not.toBeNull();
  expect(b.peerOf(a).keypairs.current).not.toBeNull();
}

export const v4 = (src: string, dst: string, payload: string | Uint8Array = 'hello', ttl = 64): Buffer =>
  ipv4Packet({ src, dst, payload, ttl });
export const v6 = (src: string, dst: string, payload: string | Uint8Array = 'hello', ttl = 64): Buffer =>
  ipv6Packet({ src, dst, payload, ttl });

export const types = (ds: Datagram[]): string[] => ds.map((d) => `${d.from.name}:${d.data[0]}`);
export const pad16 = (n: number): number => (n + 15) & ~15;
export const isZero = (u: Uint8Array): boolean => u.every((x) => x === 0);
