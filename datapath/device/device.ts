// A WireGuard-MPLS device without I/O of its own, single-threaded on Node's event loop: one
// interface's peers, sessions, timers and handshakes. The work is split as wireguard-go splits
// its device/: send.ts, receive.ts (with admission.ts), session.ts, configure.ts (uapi.go), all
// over one DeviceState; this class is the face the datapath, the LSR and the UAPI see.
import { Clock, systemClock } from './clock';
import { DEFAULT_MTU, TUN_DESC_WORDS, Timing, defaultTiming } from './constants';
import { DeviceChange, DeviceSnapshot, Endpoint, UapiTarget } from './config';
import { AllowedIps } from './allowedIps';
import { Configurator } from './configure';
import { Counters, DropReason } from './counters';
import { Peer } from './peer';
import { Receiver } from './receive';
import { Sender } from './send';
import { DeviceIO, DeviceState } from './state';
import { Log, silentLog } from '../log';
import { ETH_P_IP, ETH_P_IPV6, ETH_P_MPLS_MC, ETH_P_MPLS_UC } from '../net/ethertypes';

export type { DeviceIO };

export interface DeviceOptions {
  clock?: Clock;
  timing?: Timing;
  mtu?: number;
  log?: Log;
  /**
   * Who may send us MPLS (types 5/6). 'seed': only the peer the seed's rule picks (allowed-ips
   * contain 0.0.0.0, else ::). 'any': every authenticated peer (multipoint networks, where
   * routes name an explicit next hop).
   */
  mplsPeers?: 'seed' | 'any';
  /** Where received MPLS frames go; by default up the TUN with protocol 0x8847/0x8848. */
  onMpls?: (frame: Buffer, multicast: boolean, from: Peer) => void;
  /** Test hook: behave as if under load (cookies required) regardless of the handshake rate. */
  forceUnderLoad?: boolean;
  /**
   * Sees every IP packet from the TUN first (the LSR's FTN: push labels); returns true when it
   * took the packet, false to let cryptokey routing send it as type 4.
   */
  ipHook?: (packet: Buffer) => boolean;
  /**
   * Like ipHook for a group of IP packets to one destination (the segments of one superpacket,
   * desc: `stride` words each, offset and length first); true when the router took them all.
   */
  ipGroupHook?: (src: Buffer, desc: Uint32Array, stride: number, first: number, count: number) => boolean;
  /**
   * Received labelled frames sharing their outer entry, in place in `buf` (desc: offset, length,
   * ethertype per frame; views valid only during the call). Without it each goes to onMpls.
   */
  onMplsRun?: (buf: Buffer, desc: Uint32Array, count: number, multicast: boolean, from: Peer) => void;
}

export class Device implements UapiTarget {
  readonly counters: Counters;
  readonly allowedIps: AllowedIps<Peer>;
  readonly mtu: number;
  private readonly state: DeviceState;
  private readonly sender: Sender;
  private readonly receiver: Receiver;
  private readonly config: Configurator;
  private readonly ipHook: ((packet: Buffer) => boolean) | null;
  private readonly ipGroupHook: DeviceOptions['ipGroupHook'] | null;

  constructor(io: DeviceIO, opts: DeviceOptions = {}) {
    this.mtu = opts.mtu ?? DEFAULT_MTU;
    const d = new DeviceState(io, opts.clock ?? systemClock, opts.timing ?? defaultTiming, this.mtu, opts.log ?? silentLog);
    this.state = d;
    this.counters = d.counters;
    this.allowedIps = d.allowedIps;
    this.ipHook = opts.ipHook ?? null;
    this.ipGroupHook = opts.ipGroupHook ?? null;
    this.sender = new Sender(d);
    this.receiver = new Receiver(d, this.sender, {
      mplsPeers: opts.mplsPeers ?? 'seed',
      onMpls: opts.onMpls ?? ((frame, mc) => io.writeTun(mc ? ETH_P_MPLS_MC : ETH_P_MPLS_UC, frame)),
      onMplsRun: opts.onMplsRun ?? (opts.onMpls ? null : (buf, desc, n) => this.writeUpRun(buf, desc, n)),
      forceUnderLoad: opts.forceUnderLoad ?? false,
    });
    this.config = new Configurator(d, this.sender);
  }

  // ------------------------------------------------------------------ configuration

  get publicKey(): Uint8Array | null {
    return this.state.identity ? this.state.identity.publicKey : null;
  }

  get port(): number {
    return this.state.listenPort;
  }

  peerList(): Peer[] {
    return this.state.peerList();
  }

  peer(publicKey: Uint8Array): Peer | undefined {
    return this.state.peer(publicKey);
  }

  snapshot(): DeviceSnapshot {
    return this.config.snapshot();
  }

  /** Drop and event counters for `wgmpls-stats=1` (wg has no field for them). */
  stats(): Record<string, number> {
    const c = this.counters;
    const out: Record<string, number> = { drops_total: c.totalDrops(), drops_udp_total: c.udpDrops() };
    for (const [k, v] of c.drops) out[`drop.${k}`] = v;
    for (const [k, v] of c.events) out[`event.${k}`] = v;
    return out;
  }

  apply(change: DeviceChange): Promise<void> {
    return this.config.apply(change);
  }

  /** Starts listening (port 0 = any) before any configuration arrives, like wireguard-go. */
  async start(port = 0): Promise<void> {
    this.state.listenPort = await this.state.io.bind(port);
  }

  close(): void {
    if (this.state.closed) return;
    this.state.closed = true;
    for (const p of this.state.peerList()) this.config.removePeer(p);
  }

  // ------------------------------------------------------------------ from the TUN

  /** One packet read from the TUN, 4-byte packet-information header included. */
  handleTunPacket(pkt: Buffer): void {
    if (pkt.length < 4) return this.counters.drop('tun-short');
    const proto = (pkt[2] << 8) | pkt[3];
    const body = pkt.subarray(4);
    switch (proto) {
      case ETH_P_IP:
      case ETH_P_IPV6:
        if (this.ipHook && this.ipHook(body)) return;
        return this.sender.sendIp(body);
      case ETH_P_MPLS_UC:
      case ETH_P_MPLS_MC:
        this.sender.sendMpls(body, { multicast: proto === ETH_P_MPLS_MC });
        return;
      default:
        return this.counters.drop('tun-unknown-protocol');
    }
  }

  /**
   * One readable event's packets (arena + desc, 4 words each: offset, length, ethertype, group
   * size): IP groups (the segments of one superpacket) are routed once and sealed together;
   * labelled frames and what the label-switching router takes go one by one.
   */
  handleTunBatch(batch: { arena: Buffer; desc: Uint32Array; count: number; dropped: number }): void {
    const { arena, desc, count } = batch;
    if (batch.dropped > 0) this.counters.drop('tun-malformed', batch.dropped);
    for (let i = 0; i < count; ) {
      const w = i * TUN_DESC_WORDS;
      const group = desc[w + 3] > 0 ? desc[w + 3] : 1;
      const proto = desc[w + 2];
      if (proto === ETH_P_IP || proto === ETH_P_IPV6) {
        // All segments of a group share their destination: if the router does not take the
        // first, it takes none of them.
        const off = desc[w];
        if (this.ipGroupHook && this.ipGroupHook(arena, desc, TUN_DESC_WORDS, i, group)) {
          // taken whole: pushed as one group, or one by one by the router
        } else if (this.ipHook && this.ipHook(arena.subarray(off, off + desc[w + 1]))) {
          for (let k = i + 1; k < i + group; k++) {
            const o = desc[k * TUN_DESC_WORDS];
            const packet = arena.subarray(o, o + desc[k * TUN_DESC_WORDS + 1]);
            if (!this.ipHook(packet)) this.sender.sendIp(packet);
          }
        } else {
          this.sender.sendIpGroup(arena, desc, TUN_DESC_WORDS, i, group);
        }
      } else if (proto === ETH_P_MPLS_UC || proto === ETH_P_MPLS_MC) {
        for (let k = i; k < i + group; k++) {
          const o = desc[k * TUN_DESC_WORDS];
          this.sender.sendMpls(arena.subarray(o, o + desc[k * TUN_DESC_WORDS + 1]), { multicast: proto === ETH_P_MPLS_MC });
        }
      } else {
        this.counters.drop('tun-unknown-protocol', group);
      }
      i += group;
    }
  }

  sendIp(packet: Uint8Array): void {
    this.sender.sendIp(packet);
  }

  sendIpVia(packet: Uint8Array, nextHop?: Uint8Array): boolean {
    return this.sender.sendIpVia(packet, nextHop);
  }

  mplsPeer(nextHop?: Uint8Array): Peer | undefined {
    return this.sender.mplsPeer(nextHop);
  }

  sendMpls(frame: Uint8Array, opts: { multicast?: boolean; nextHop?: Uint8Array } = {}): boolean {
    return this.sender.sendMpls(frame, opts);
  }

  /** Payloads in src (desc: `stride` words each, offset and length first) below one outer entry `lse24`, sealed together. */
  sendMplsGroup(src: Buffer, desc: Uint32Array, stride: number, first: number, count: number, lse24: number, opts: { multicast?: boolean; nextHop?: Uint8Array } = {}): boolean {
    return this.sender.sendMplsGroup(src, desc, stride, first, count, lse24, opts);
  }

  private writeUpRun(buf: Buffer, desc: Uint32Array, n: number): void {
    const io = this.state.io;
    if (io.writeTunBatch) return io.writeTunBatch(buf, desc, n);
    for (let k = 0; k < n; k++) io.writeTun(desc[3 * k + 2], buf.subarray(desc[3 * k], desc[3 * k] + desc[3 * k + 1]));
  }

  sendKeepalive(peer: Peer): void {
    this.sender.sendKeepalive(peer);
  }

  // ------------------------------------------------------------------ from UDP

  /** One UDP datagram from `src`; takes msg over. Malformed input is dropped and counted, never thrown. */
  handleUdp(msg: Buffer, src: Endpoint): void {
    this.receiver.handleUdp(msg, src);
  }

  /**
   * One round of datagrams in arena (desc: offset, length, endpoint index; 3 words each) from
   * the endpoints listed: runs of data messages under one session are opened together.
   * Malformed input is dropped and counted, never thrown; views into arena are not kept.
   */
  handleUdpBatch(arena: Buffer, desc: Uint32Array, count: number, endpoints: readonly Endpoint[]): void {
    this.receiver.handleUdpBatch(arena, desc, count, endpoints);
  }
}

export type { DropReason };
