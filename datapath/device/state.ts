// What the parts of a device share: its tables, its identity and its ways out. The send path,
// the receive path, the session bookkeeping and the UAPI apply each get this one object, as
// wireguard-go's send.go, receive.go, noise-protocol.go and uapi.go share their Device struct.
import { Clock } from './clock';
import { Timing } from './constants';
import { Endpoint } from './config';
import { AllowedIps } from './allowedIps';
import { Counters } from './counters';
import { IndexTable } from './indexTable';
import { Peer } from './peer';
import { Log } from '../log';
import { CookieChecker } from '../noise/cookie';
import { StaticIdentity } from '../noise/handshake';

/** The device's only ways out: UDP to a peer, packets up the TUN, and (re)binding the port. */
export interface DeviceIO {
  /** One whole datagram; the device never touches it again. */
  sendUdp(msg: Buffer, to: Endpoint): void;
  writeTun(proto: number, packet: Uint8Array): void;
  /**
   * Datagrams lying back to back in buf (lengths in lens) to one endpoint; how many were sent.
   * Optional: without it each goes through sendUdp.
   */
  sendUdpBatch?(buf: Buffer, lens: Uint32Array, count: number, to: Endpoint): number;
  /**
   * Packets of buf up the TUN (desc: offset, length, ethertype per packet), TCP segments of a
   * flow joined where the TUN can take superpackets. Optional: without it each goes through writeTun.
   */
  writeTunBatch?(buf: Buffer, desc: Uint32Array, count: number): void;
  /** Binds (or moves to) `port`, 0 = any; resolves with the bound port, rejects with EADDRINUSE. */
  bind(port: number): Promise<number>;
  /** `wg set fwmark`: marks the sockets, now and after any rebind (0 = none); throws on refusal. */
  setMark?(mark: number): void;
}

export class DeviceState {
  readonly counters = new Counters();
  readonly allowedIps = new AllowedIps<Peer>();
  readonly peers = new Map<string, Peer>();
  readonly indices = new IndexTable<Peer>();
  identity: StaticIdentity | null = null;
  cookieChecker: CookieChecker | null = null;
  listenPort = 0;
  fwmark = 0;
  closed = false;

  constructor(
    readonly io: DeviceIO,
    readonly clock: Clock,
    readonly timing: Timing,
    readonly mtu: number,
    readonly log: Log,
  ) {}

  peer(publicKey: Uint8Array): Peer | undefined {
    return this.peers.get(Buffer.from(publicKey).toString('hex'));
  }

  peerList(): Peer[] {
    return [...this.peers.values()];
  }

  /** DH(our static, peer static), cached: null for a low-order peer key nobody can talk to. */
  precomputedSs(peer: Peer): Uint8Array | null {
    if (!peer.precomputedSs && this.identity) peer.precomputedSs = this.identity.sharedWith(peer.publicKey);
    return peer.precomputedSs;
  }
}
