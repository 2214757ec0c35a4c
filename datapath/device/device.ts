import { Clock, systemClock } from './clock';
import {
  DEFAULT_MTU,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_MESSAGES_NUM,
  REKEY_AFTER_MESSAGES_NUM,
  Timing,
  UNDER_LOAD_AFTER_TIME,
  UNDER_LOAD_HANDSHAKES_PER_SECOND,
  defaultTiming,
} from './constants';
import {
  DeviceChange,
  DeviceSnapshot,
  Endpoint,
  Errno,
  PeerChange,
  UapiError,
  endpoint,
  UapiTarget,
} from './config';
import { AllowedIps } from './allowedIps';
import { Counters, DropReason } from './counters';
import { IndexTable } from './indexTable';
import { Keypair } from './keypair';
import { Peer, PeerHost } from './peer';
import { openTransport, paddingFor, sealTransport } from './transport';
import { addrPortBytes } from '../conn/addr';
import { Log, silentLog } from '../log';
import { CookieChecker, CookieGenerator } from '../noise/cookie';
import {
  StaticIdentity,
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  SessionKeys,
} from '../noise/handshake';
import { RateLimiter } from '../noise/rateLimiter';
import { compareTai64n } from '../crypto/tai64n';
import { clampInPlace } from '../crypto/x25519';
import { ipPacketLength, mplsPayloadLength, rebuildOuterLabel, stripOuterLabel } from '../mpls/wire';

export const MSG_INITIATION = 1;
export const MSG_RESPONSE = 2;
export const MSG_COOKIE_REPLY = 3;
export const MSG_DATA = 4;
export const MSG_DATA_MPLS = 5;
export const MSG_DATA_MPLS_MC = 6;

const INITIATION_LEN = 148;
const RESPONSE_LEN = 92;
const COOKIE_REPLY_LEN = 64;
const MIN_DATA_LEN = 32;

export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_MPLS_UC = 0x8847;
export const ETH_P_MPLS_MC = 0x8848;

const ZERO_V4 = new Uint8Array(4);
const ZERO_V6 = new Uint8Array(16);

/** The device's only ways out: UDP to a peer, packets up the TUN, and (re)binding the port. */
export interface DeviceIO {
  /** One whole datagram; the device never touches it again. */
  sendUdp(msg: Buffer, to: Endpoint): void;
  writeTun(proto: number, packet: Uint8Array): void;
  /** Binds (or moves to) `port`, 0 = any; resolves with the bound port, rejects with EADDRINUSE. */
  bind(port: number): Promise<number>;
}

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
}

/**
 * A WireGuard-MPLS device without I/O of its own: wireguard-go's device/ (peer, send, receive,
 * timers, handshake plumbing) for one interface, single-threaded on Node's event loop.
 */
export class Device implements UapiTarget, PeerHost {
  readonly counters = new Counters();
  readonly allowedIps = new AllowedIps<Peer>();
  private readonly peers = new Map<string, Peer>();
  private readonly indices = new IndexTable<Peer>();
  private identity: StaticIdentity | null = null;
  private cookieChecker: CookieChecker | null = null;
  private readonly rateLimiter = new RateLimiter();
  private listenPort = 0;
  private fwmark = 0;
  private closed = false;
  private readonly clock: Clock;
  private readonly timing: Timing;
  readonly mtu: number;
  private readonly log: Log;
  private readonly mplsPeers: 'seed' | 'any';
  private readonly onMpls: (frame: Buffer, multicast: boolean, from: Peer) => void;
  private readonly forceUnderLoad: boolean;
  private readonly ipHook: ((packet: Buffer) => boolean) | null;
  private loadWindowStart = 0;
  private loadWindowCount = 0;
  private underLoadUntil = -Infinity;

  constructor(
    private readonly io: DeviceIO,
    opts: DeviceOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.timing = opts.timing ?? defaultTiming;
    this.mtu = opts.mtu ?? DEFAULT_MTU;
    this.log = opts.log ?? silentLog;
    this.mplsPeers = opts.mplsPeers ?? 'seed';
    this.forceUnderLoad = opts.forceUnderLoad ?? false;
    this.ipHook = opts.ipHook ?? null;
    this.onMpls = opts.onMpls ?? ((frame, mc) => this.io.writeTun(mc ? ETH_P_MPLS_MC : ETH_P_MPLS_UC, frame));
  }

  // ------------------------------------------------------------------ configuration (UAPI)

  get publicKey(): Uint8Array | null {
    return this.identity ? this.identity.publicKey : null;
  }

  get port(): number {
    return this.listenPort;
  }

  peerList(): Peer[] {
    return [...this.peers.values()];
  }

  peer(publicKey: Uint8Array): Peer | undefined {
    return this.peers.get(Buffer.from(publicKey).toString('hex'));
  }

  snapshot(): DeviceSnapshot {
    return {
      privateKey: this.identity ? this.identity.privateKey : null,
      listenPort: this.listenPort,
      fwmark: this.fwmark,
      peers: this.peerList().map((p) => ({
        publicKey: p.publicKey,
        presharedKey: p.presharedKey,
        endpoint: p.endpoint,
        persistentKeepaliveInterval: p.persistentKeepaliveInterval,
        lastHandshakeTimeSec: Math.floor(p.lastHandshakeMs / 1000),
        lastHandshakeTimeNsec: Math.floor((p.lastHandshakeMs % 1000) * 1e6),
        txBytes: BigInt(p.txBytes),
        rxBytes: BigInt(p.rxBytes),
        allowedIps: this.allowedIps.entriesForPeer(p),
      })),
    };
  }

  /** Drop and event counters for `wgmpls-stats=1` (wg has no field for them). */
  stats(): Record<string, number> {
    const out: Record<string, number> = { drops_total: this.counters.totalDrops(), drops_udp_total: this.counters.udpDrops() };
    for (const [k, v] of this.counters.drops) out[`drop.${k}`] = v;
    for (const [k, v] of this.counters.events) out[`event.${k}`] = v;
    return out;
  }

  /** Applies a validated transaction all or nothing (the port is bound first: it can fail). */
  async apply(change: DeviceChange): Promise<void> {
    if (this.closed) throw new UapiError(Errno.EIO, 'device is closed');
    if (change.listenPort !== undefined && change.listenPort !== this.listenPort) {
      this.listenPort = await this.io.bind(change.listenPort);
    }
    if (change.fwmark !== undefined) this.fwmark = change.fwmark;
    if (change.privateKey !== undefined) this.setPrivateKey(change.privateKey);
    if (change.replacePeers) for (const p of this.peerList()) this.removePeer(p);
    for (const pc of change.peers) this.applyPeer(pc);
  }

  /** Starts listening (port 0 = any) before any configuration arrives, like wireguard-go. */
  async start(port = 0): Promise<void> {
    this.listenPort = await this.io.bind(port);
  }

  private setPrivateKey(key: Uint8Array | null): void {
    const same = this.identity && key && Buffer.from(this.identity.privateKey).equals(Buffer.from(clampInPlace(Uint8Array.from(key))));
    if (same) return;
    // Clamped on the way in, as wireguard-go does: `wg show` then prints the key in use.
    this.identity = key ? new StaticIdentity(clampInPlace(Uint8Array.from(key))) : null;
    this.cookieChecker = this.identity ? new CookieChecker(this.identity.publicKey) : null;
    for (const p of this.peerList()) {
      // A peer with our own public key would be ourselves; wireguard-go drops it too.
      if (this.identity && Buffer.from(p.publicKey).equals(Buffer.from(this.identity.publicKey))) {
        this.removePeer(p);
        continue;
      }
      p.precomputedSs = null;
      this.expireKeypairs(p);
    }
  }

  private applyPeer(pc: PeerChange): void {
    const hex = Buffer.from(pc.publicKey).toString('hex');
    let peer = this.peers.get(hex);
    if (pc.remove) {
      if (peer) this.removePeer(peer);
      return;
    }
    if (!peer) {
      if (pc.updateOnly) return;
      if (this.identity && Buffer.from(pc.publicKey).equals(Buffer.from(this.identity.publicKey))) return;
      peer = new Peer(pc.publicKey, new CookieGenerator(pc.publicKey), this.clock, this.timing, this);
      this.peers.set(hex, peer);
    }
    if (pc.presharedKey) peer.presharedKey = Uint8Array.from(pc.presharedKey);
    if (pc.endpoint) peer.endpoint = endpoint(pc.endpoint.address, pc.endpoint.port);
    if (pc.replaceAllowedIps) this.allowedIps.removeByPeer(peer);
    for (const prefix of pc.allowedIps) this.allowedIps.insert(prefix, peer);
    if (pc.persistentKeepaliveInterval !== undefined && pc.persistentKeepaliveInterval !== peer.persistentKeepaliveInterval) {
      const wasOff = peer.persistentKeepaliveInterval === 0;
      peer.persistentKeepaliveInterval = pc.persistentKeepaliveInterval;
      peer.persistentKeepaliveChanged();
      // As wireguard-go: turning it on sends a keepalive now, so the NAT mapping opens at once.
      if (wasOff && peer.persistentKeepaliveInterval > 0 && this.identity) this.sendKeepalive(peer);
    }
    // As wireguard-go's handlePostConfig: what waited (say, for an endpoint) may go now.
    if (this.identity && peer.staged.length > 0) this.sendStaged(peer);
  }

  private removePeer(peer: Peer): void {
    peer.stopTimers();
    this.zeroKeyMaterial(peer);
    this.allowedIps.removeByPeer(peer);
    this.peers.delete(peer.publicKeyHex());
  }

  private expireKeypairs(peer: Peer): void {
    // Old sessions are unusable under a new static key: force a fresh handshake on next send.
    if (peer.initiation) this.indices.delete(peer.initiation.localIndex);
    peer.initiation = null;
    peer.lastSentHandshake = -Infinity;
    for (const kp of peer.allKeypairs()) this.deleteKeypair(kp);
    peer.keypairs.previous = peer.keypairs.current = peer.keypairs.next = null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.peerList()) this.removePeer(p);
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
        return this.sendIp(body);
      case ETH_P_MPLS_UC:
      case ETH_P_MPLS_MC:
        this.sendMpls(body, { multicast: proto === ETH_P_MPLS_MC });
        return;
      default:
        return this.counters.drop('tun-unknown-protocol');
    }
  }

  /** An IPv4/IPv6 packet to encrypt: cryptokey routing by destination (type 4). */
  sendIp(packet: Uint8Array): void {
    if (packet.length < 1) return this.counters.drop('tun-short');
    const version = packet[0] >> 4;
    let peer: Peer | undefined;
    if (version === 4 && packet.length >= 20) peer = this.allowedIps.lookup(packet, 16, 4);
    else if (version === 6 && packet.length >= 40) peer = this.allowedIps.lookup(packet, 24, 6);
    else return this.counters.drop('tun-not-ip');
    if (!peer) return this.counters.drop('no-peer-for-destination');
    this.sendData(peer, MSG_DATA, 0, packet);
  }

  /**
   * An IP packet to a neighbour: to the peer whose allowed-ips contain `nextHop` when given
   * (a route's `via`), else by destination. Returns false when it was dropped.
   */
  sendIpVia(packet: Uint8Array, nextHop?: Uint8Array): boolean {
    if (!nextHop) {
      const before = this.counters.totalDrops();
      this.sendIp(packet);
      return this.counters.totalDrops() === before;
    }
    const peer = this.allowedIps.lookup(nextHop, 0, nextHop.length === 4 ? 4 : 6);
    if (!peer) {
      this.counters.drop('no-peer-for-destination');
      return false;
    }
    this.sendData(peer, MSG_DATA, 0, packet);
    return true;
  }

  /** The MPLS peer by the seed's rule (0.0.0.0, else ::) or by an explicit next hop. */
  mplsPeer(nextHop?: Uint8Array): Peer | undefined {
    if (nextHop) return this.allowedIps.lookup(nextHop, 0, nextHop.length === 4 ? 4 : 6);
    return this.allowedIps.lookup(ZERO_V4, 0, 4) ?? this.allowedIps.lookup(ZERO_V6, 0, 6);
  }

  /**
   * An MPLS frame (outermost label first) to send: the outer entry rides in the header
   * (type 5, or 6 for multicast), the rest is encrypted. Returns false when it was dropped.
   */
  sendMpls(frame: Uint8Array, opts: { multicast?: boolean; nextHop?: Uint8Array } = {}): boolean {
    const peer = this.mplsPeer(opts.nextHop);
    if (!peer) {
      this.counters.drop('no-peer-for-mpls');
      return false;
    }
    const stripped = stripOuterLabel(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
    if ('error' in stripped) {
      this.counters.drop('mpls-malformed');
      return false;
    }
    this.sendData(peer, opts.multicast ? MSG_DATA_MPLS_MC : MSG_DATA_MPLS, stripped.lse24, stripped.payload);
    return true;
  }

  // ------------------------------------------------------------------ sending

  private validSendKeypair(peer: Peer): Keypair | null {
    const kp = peer.keypairs.current;
    if (!kp) return null;
    if (this.clock.now() - kp.created >= this.timing.rejectAfterTime) return null;
    if (kp.sendCounter >= REJECT_AFTER_MESSAGES_NUM) return null;
    return kp;
  }

  private sendData(peer: Peer, type: number, lse24: number, payload: Uint8Array): void {
    if (this.closed) return;
    const kp = this.validSendKeypair(peer);
    if (!kp) {
      peer.stage({ type, lse24, payload });
      this.sendHandshakeInitiation(peer, false);
      return;
    }
    this.encryptAndSend(peer, kp, type, lse24, payload);
    this.keepKeyFreshSending(peer);
  }

  private encryptAndSend(peer: Peer, kp: Keypair, type: number, lse24: number, payload: Uint8Array): void {
    if (!peer.endpoint) return this.counters.drop('no-endpoint');
    const counter = kp.sendCounter++;
    const msg = sealTransport(
      kp.sendKeyHandle,
      type,
      lse24,
      kp.remoteIndex,
      counter,
      payload,
      paddingFor(payload.length, this.mtu),
    );
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketSent();
    this.io.sendUdp(msg, peer.endpoint);
    peer.txBytes += msg.length;
    if (payload.length > 0) peer.timersDataSent();
  }

  private sendStaged(peer: Peer): void {
    const kp = this.validSendKeypair(peer);
    if (!kp) {
      if (peer.staged.length > 0) this.sendHandshakeInitiation(peer, false);
      return;
    }
    const queue = peer.staged;
    peer.staged = [];
    for (const p of queue) this.encryptAndSend(peer, kp, p.type, p.lse24, p.payload);
    if (queue.length > 0) this.keepKeyFreshSending(peer);
  }

  private keepKeyFreshSending(peer: Peer): void {
    const kp = peer.keypairs.current;
    if (!kp) return;
    if (kp.sendCounter > REKEY_AFTER_MESSAGES_NUM || (kp.isInitiator && this.clock.now() - kp.created > this.timing.rekeyAfterTime)) {
      this.sendHandshakeInitiation(peer, false);
    }
  }

  private keepKeyFreshReceiving(peer: Peer): void {
    if (peer.sentLastMinuteHandshake) return;
    const kp = peer.keypairs.current;
    const t = this.timing;
    if (kp && kp.isInitiator && this.clock.now() - kp.created > t.rejectAfterTime - t.keepaliveTimeout - t.rekeyTimeout) {
      peer.sentLastMinuteHandshake = true;
      this.sendHandshakeInitiation(peer, false);
    }
  }

  sendKeepalive(peer: Peer): void {
    if (peer.staged.length === 0) peer.stage({ type: MSG_DATA, lse24: 0, payload: new Uint8Array(0) });
    this.sendStaged(peer);
  }

  sendHandshakeInitiation(peer: Peer, isRetry: boolean): void {
    if (this.closed || !this.identity) return;
    if (!isRetry) peer.handshakeAttempts = 0;
    const now = this.clock.now();
    if (now - peer.lastSentHandshake < this.timing.rekeyTimeout) return;
    if (!peer.endpoint) return this.counters.drop('no-endpoint');
    peer.lastSentHandshake = now;
    if (peer.initiation) this.indices.delete(peer.initiation.localIndex);
    const localIndex = this.indices.newIndex(peer);
    const ss = this.precomputedSs(peer);
    const created = ss ? createInitiation(this.identity, peer.publicKey, localIndex, now, { precomputedSs: ss }) : null;
    if (!created) {
      this.indices.delete(localIndex);
      return this.counters.drop('bad-peer-key');
    }
    const { message, state } = created;
    peer.initiation = { state, localIndex };
    peer.cookies.addMacs(message, now);
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketSent();
    this.sendRaw(peer, message);
    peer.timersHandshakeInitiated();
  }

  /** DH(our static, peer static), cached: null for a low-order peer key nobody can talk to. */
  private precomputedSs(peer: Peer): Uint8Array | null {
    if (!peer.precomputedSs && this.identity) peer.precomputedSs = this.identity.sharedWith(peer.publicKey);
    return peer.precomputedSs;
  }

  private sendRaw(peer: Peer, message: Uint8Array): void {
    if (!peer.endpoint) return;
    const buf = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    this.io.sendUdp(buf, peer.endpoint);
    peer.txBytes += buf.length;
  }

  zeroKeyMaterial(peer: Peer): void {
    for (const kp of peer.allKeypairs()) this.deleteKeypair(kp);
    peer.keypairs.previous = peer.keypairs.current = peer.keypairs.next = null;
    if (peer.initiation) this.indices.delete(peer.initiation.localIndex);
    peer.initiation = null;
  }

  private deleteKeypair(kp: Keypair | null): void {
    if (!kp) return;
    this.indices.delete(kp.localIndex);
    kp.zero();
  }

  // ------------------------------------------------------------------ sessions

  private beginSession(peer: Peer, keys: SessionKeys): Keypair {
    const kp = new Keypair(keys.sendKey, keys.receiveKey, keys.localIndex, keys.remoteIndex, keys.isInitiator, this.clock.now());
    this.indices.setKeypair(keys.localIndex, kp);
    const s = peer.keypairs;
    if (kp.isInitiator) {
      if (s.next) {
        this.deleteKeypair(s.previous);
        this.deleteKeypair(s.current);
        s.previous = s.next;
        s.next = null;
      } else {
        this.deleteKeypair(s.previous);
        s.previous = s.current;
      }
      s.current = kp;
    } else {
      this.deleteKeypair(s.next);
      this.deleteKeypair(s.previous);
      s.next = kp;
      s.previous = null;
    }
    return kp;
  }

  /** The initiator proved it has `kp` by using it: the responder may now send with it. */
  private receivedWithKeypair(peer: Peer, kp: Keypair): boolean {
    const s = peer.keypairs;
    if (s.next !== kp) return false;
    this.deleteKeypair(s.previous);
    s.previous = s.current;
    s.current = kp;
    s.next = null;
    return true;
  }

  // ------------------------------------------------------------------ from UDP

  /** One UDP datagram from `src`. Everything malformed is dropped and counted, never thrown. */
  /** Takes msg over: a data message is decrypted in place. */
  handleUdp(msg: Buffer, src: Endpoint): void {
    if (this.closed) return;
    if (msg.length < 4) return this.counters.drop('short');
    const type = msg[0];
    switch (type) {
      case MSG_INITIATION:
      case MSG_RESPONSE:
      case MSG_COOKIE_REPLY:
        if (msg[1] !== 0 || msg[2] !== 0 || msg[3] !== 0) return this.counters.drop('reserved-nonzero');
        if (type === MSG_INITIATION) return this.handleInitiation(msg, src);
        if (type === MSG_RESPONSE) return this.handleResponse(msg, src);
        return this.handleCookieReply(msg);
      case MSG_DATA:
        if (msg[1] !== 0 || msg[2] !== 0 || msg[3] !== 0) return this.counters.drop('reserved-nonzero');
        return this.handleData(msg, src);
      case MSG_DATA_MPLS:
      case MSG_DATA_MPLS_MC:
        return this.handleData(msg, src);
      default:
        return this.counters.drop('unknown-type');
    }
  }

  private underLoad(): boolean {
    if (this.forceUnderLoad) return true;
    const now = this.clock.now();
    if (now - this.loadWindowStart >= 1000) {
      this.loadWindowStart = now;
      this.loadWindowCount = 0;
    }
    if (++this.loadWindowCount > UNDER_LOAD_HANDSHAKES_PER_SECOND) this.underLoadUntil = now + UNDER_LOAD_AFTER_TIME;
    return now < this.underLoadUntil;
  }

  /** mac1, then (under load) mac2 or a cookie reply, then the per-source rate limit. */
  private admitHandshake(msg: Buffer, src: Endpoint, senderIndex: number): boolean {
    if (!this.cookieChecker || !this.cookieChecker.checkMac1(msg)) {
      this.counters.drop('bad-mac1');
      return false;
    }
    if (!this.underLoad()) return true;
    const now = this.clock.now();
    const srcBytes = addrPortBytes(src.address, src.port);
    if (!this.cookieChecker.checkMac2(msg, srcBytes, now)) {
      const reply = this.cookieChecker.createReply(msg, senderIndex, srcBytes, now);
      this.io.sendUdp(Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength), src);
      this.counters.drop('cookie-required');
      return false;
    }
    if (!this.rateLimiter.allow(srcBytes.subarray(0, srcBytes.length - 2), now)) {
      this.counters.drop('rate-limited');
      return false;
    }
    return true;
  }

  private handleInitiation(msg: Buffer, src: Endpoint): void {
    if (msg.length !== INITIATION_LEN) return this.counters.drop('bad-length');
    if (!this.identity) return this.counters.drop('no-private-key');
    if (!this.admitHandshake(msg, src, msg.readUInt32LE(4))) return;
    let known = true;
    const r = consumeInitiation(this.identity, msg, {
      precomputedSs: (pub) => {
        const p = this.peer(pub);
        known = p !== undefined;
        return p ? this.precomputedSs(p) : null;
      },
    });
    if (!r) return this.counters.drop(known ? 'handshake-decrypt' : 'unknown-peer');
    const peer = this.peer(r.peerPublic);
    if (!peer) return this.counters.drop('unknown-peer');
    const now = this.clock.now();
    if (peer.lastReceivedTimestamp && compareTai64n(r.timestamp, peer.lastReceivedTimestamp) <= 0) {
      return this.counters.drop('replayed-initiation');
    }
    if (now - peer.lastInitiationConsumption <= this.timing.handshakeInitiationRate) {
      return this.counters.drop('initiation-flood');
    }
    peer.lastReceivedTimestamp = r.timestamp;
    peer.lastInitiationConsumption = now;
    peer.endpoint = endpoint(src.address, src.port);
    peer.rxBytes += msg.length;
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketReceived();

    const localIndex = this.indices.newIndex(peer);
    const { message, keys } = createResponse(r.state, peer.presharedKey, localIndex);
    peer.cookies.addMacs(message, now);
    this.beginSession(peer, keys);
    peer.timersSessionDerived();
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketSent();
    this.sendRaw(peer, message);
  }

  private handleResponse(msg: Buffer, src: Endpoint): void {
    if (msg.length !== RESPONSE_LEN) return this.counters.drop('bad-length');
    if (!this.identity) return this.counters.drop('no-private-key');
    if (!this.admitHandshake(msg, src, msg.readUInt32LE(4))) return;
    const receiver = msg.readUInt32LE(8);
    const entry = this.indices.get(receiver);
    const peer = entry?.peer;
    if (!peer || !peer.initiation || peer.initiation.localIndex !== receiver) return this.counters.drop('unknown-index');
    const keys = consumeResponse(peer.initiation.state, this.identity, peer.presharedKey, msg);
    if (!keys) return this.counters.drop('handshake-decrypt');
    peer.initiation = null; // the index now belongs to the session
    peer.endpoint = endpoint(src.address, src.port);
    peer.rxBytes += msg.length;
    peer.timersSessionDerived();
    peer.timersHandshakeComplete(Date.now());
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketReceived();
    this.beginSession(peer, keys);
    this.log.debug({ peer: peer.publicKeyHex().slice(0, 8) }, 'handshake complete (initiator)');
    this.sendKeepalive(peer); // confirms the session to the responder, carrying staged data if any
  }

  private handleCookieReply(msg: Buffer): void {
    if (msg.length !== COOKIE_REPLY_LEN) return this.counters.drop('bad-length');
    const entry = this.indices.get(msg.readUInt32LE(4));
    if (!entry) return this.counters.drop('unknown-index');
    if (!entry.peer.cookies.consumeReply(msg, this.clock.now())) this.counters.drop('bad-cookie-reply');
  }

  private handleData(msg: Buffer, src: Endpoint): void {
    if (msg.length < MIN_DATA_LEN) return this.counters.drop('bad-length');
    const entry = this.indices.get(msg.readUInt32LE(4));
    const kp = entry?.keypair;
    if (!entry || !kp) return this.counters.drop('unknown-index');
    const peer = entry.peer;
    if (this.clock.now() - kp.created >= this.timing.rejectAfterTime) return this.counters.drop('expired-session');
    const lo = msg.readUInt32LE(8);
    const hi = msg.readUInt32LE(12);
    if (hi >= 0x20_0000) return this.counters.drop('counter-too-large'); // beyond 2^53: we never send it
    const counter = hi * 0x1_0000_0000 + lo;
    const plain = openTransport(kp.receiveKeyHandle, lo, hi, msg);
    if (!plain) return this.counters.drop('decrypt');
    if (!kp.replay.validateCounter(counter, REJECT_AFTER_MESSAGES)) return this.counters.drop('replay');

    if (this.receivedWithKeypair(peer, kp)) {
      peer.timersHandshakeComplete(Date.now());
      this.sendStaged(peer);
    }
    this.keepKeyFreshReceiving(peer);
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketReceived();
    if (peer.endpoint?.address !== src.address || peer.endpoint.port !== src.port) {
      peer.endpoint = endpoint(src.address, src.port); // roaming
    }
    peer.rxBytes += msg.length;
    if (plain.length === 0) return; // keepalive
    peer.timersDataReceived();

    const type = msg[0];
    if (type === MSG_DATA) return this.deliverIp(peer, plain);
    this.deliverMpls(peer, msg, plain, type === MSG_DATA_MPLS_MC);
  }

  private deliverIp(peer: Peer, plain: Buffer): void {
    const len = ipPacketLength(plain, 0);
    if (len <= 0 || len > plain.length) return this.counters.drop('bad-inner-packet');
    const version = plain[0] >> 4;
    const owner = version === 4 ? this.allowedIps.lookup(plain, 12, 4) : this.allowedIps.lookup(plain, 8, 6);
    if (owner !== peer) return this.counters.drop('source-not-allowed');
    this.io.writeTun(version === 4 ? ETH_P_IP : ETH_P_IPV6, plain.subarray(0, len));
  }

  private deliverMpls(peer: Peer, msg: Buffer, plain: Buffer, multicast: boolean): void {
    if (this.mplsPeers === 'seed' && this.mplsPeer() !== peer) return this.counters.drop('mpls-peer-not-allowed');
    const lse24 = msg[1] | (msg[2] << 8) | (msg[3] << 16);
    const len = mplsPayloadLength(plain, lse24 & 1);
    if (len < 0) return this.counters.drop('mpls-malformed');
    const payload = plain.subarray(0, len);
    const ttl = rebuildOuterLabel(lse24, payload);
    const frame = Buffer.allocUnsafe(4 + len);
    frame.writeUInt32BE(((lse24 << 8) | ttl) >>> 0, 0);
    payload.copy(frame, 4);
    this.counters.count(multicast ? 'rx-mpls-mc' : 'rx-mpls');
    this.onMpls(frame, multicast, peer);
  }
}

export type { DropReason };
