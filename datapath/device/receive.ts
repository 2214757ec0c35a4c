// The receive path (wireguard-go's receive.go): every datagram from the underlay is checked,
// authenticated and only then acted on; handshakes install sessions, data is decrypted, checked
// against the replay window and the sender's allowed-ips, and handed up (IP) or to the label
// switch (MPLS). Nothing malformed is thrown: it is dropped and counted by reason.
import { REJECT_AFTER_MESSAGES, TUN_WRITE_DESC_WORDS, UDP_DESC_WORDS } from './constants';
import { Endpoint, learnedEndpoint, sameEndpoint } from './config';
import { HandshakeAdmission } from './admission';
import { Peer } from './peer';
import type { Keypair } from './keypair';
import { Sender } from './send';
import { beginSession, receivedWithKeypair } from './session';
import { DeviceState } from './state';
import { OPEN_OTHER_AD, openTransportBatch, openTransportLength } from './transport';
import { compareTai64n } from '../crypto/tai64n';
import { ipPacketLength, mplsPayloadLength, rebuildOuterLabel, writeOuterLse } from '../mpls/wire';
import { ETH_P_IP, ETH_P_IPV6, ETH_P_MPLS_MC, ETH_P_MPLS_UC } from '../net/ethertypes';
import { consumeInitiation, consumeResponse, createResponse } from '../noise/handshake';
import {
  DATA_COUNTER,
  DATA_RECEIVER,
  MessageCookieReplySize,
  MessageCookieReplyType,
  MessageInitiationSize,
  MessageInitiationType,
  MessageMplsMulticastType,
  MessageMplsUnicastType,
  MessageResponseSize,
  MessageResponseType,
  MessageTransportHeaderSize,
  MessageTransportSize,
  MessageTransportType,
  readLse24,
} from '../noise/messages';

export interface ReceiveOptions {
  /** Who may send MPLS: 'seed', only the peer the seed's rule picks; 'any', every authenticated peer. */
  mplsPeers: 'seed' | 'any';
  /** Where received MPLS frames (outer entry rebuilt) go. */
  onMpls: (frame: Buffer, multicast: boolean, from: Peer) => void;
  /** Frames of one run sharing their outer entry, in place (desc: offset, length, ethertype); null: each to onMpls. */
  onMplsRun: ((buf: Buffer, desc: Uint32Array, count: number, multicast: boolean, from: Peer) => void) | null;
  forceUnderLoad: boolean;
}

/** The most datagrams one UDP batch holds (16 slots of up to 64 GRO segments). */
const BATCH_MAX = 1024;

export class Receiver {
  private readonly admission: HandshakeAdmission;
  private readonly openResults = new Int32Array(BATCH_MAX);
  private readonly upDesc = new Uint32Array(BATCH_MAX * TUN_WRITE_DESC_WORDS);

  constructor(
    private readonly d: DeviceState,
    private readonly sender: Sender,
    private readonly opts: ReceiveOptions,
  ) {
    this.admission = new HandshakeAdmission(d, opts.forceUnderLoad);
  }

  /** One UDP datagram from `src`; takes msg over (a data message is decrypted in place). */
  handleUdp(msg: Buffer, src: Endpoint): void {
    const d = this.d;
    if (d.closed) return;
    if (msg.length < 4) return d.counters.drop('short');
    const type = msg[0];
    switch (type) {
      case MessageInitiationType:
      case MessageResponseType:
      case MessageCookieReplyType:
        if (msg[1] !== 0 || msg[2] !== 0 || msg[3] !== 0) return d.counters.drop('reserved-nonzero');
        if (type === MessageInitiationType) return this.handleInitiation(msg, src);
        if (type === MessageResponseType) return this.handleResponse(msg, src);
        return this.handleCookieReply(msg);
      case MessageTransportType:
        if (msg[1] !== 0 || msg[2] !== 0 || msg[3] !== 0) return d.counters.drop('reserved-nonzero');
        return this.handleData(msg, src);
      case MessageMplsUnicastType:
      case MessageMplsMulticastType:
        return this.handleData(msg, src);
      default:
        return d.counters.drop('unknown-type');
    }
  }

  /** A round of datagrams (see Device.handleUdpBatch). */
  handleUdpBatch(arena: Buffer, desc: Uint32Array, count: number, endpoints: readonly Endpoint[]): void {
    if (this.d.closed) return;
    for (let i = 0; i < count; ) {
      const off = desc[i * UDP_DESC_WORDS];
      const len = desc[i * UDP_DESC_WORDS + 1];
      const ep = desc[i * UDP_DESC_WORDS + 2];
      const src = endpoints[ep];
      if (src === undefined) {
        i++;
        continue;
      }
      const type = len >= MessageTransportSize ? arena[off] : 0;
      if (type === MessageMplsUnicastType || type === MessageMplsMulticastType) {
        // A run: consecutive labelled messages from one endpoint with the same header (type,
        // outer entry, receiver index).
        const head = arena.readUInt32LE(off);
        const receiver = arena.readUInt32LE(off + DATA_RECEIVER);
        let j = i + 1;
        while (j < count) {
          const o = desc[j * UDP_DESC_WORDS];
          if (desc[j * UDP_DESC_WORDS + 2] !== ep || desc[j * UDP_DESC_WORDS + 1] < MessageTransportSize) break;
          if (arena.readUInt32LE(o) !== head || arena.readUInt32LE(o + DATA_RECEIVER) !== receiver) break;
          j++;
        }
        this.handleMplsRun(arena, desc, i, j - i, src);
        i = j;
        continue;
      }
      if (type !== MessageTransportType) {
        const msg = arena.subarray(off, off + len);
        // Handshakes may be kept (cookies, admission): they get a copy. Data of types 5/6 is
        // opened in place and copied into its frame.
        this.handleUdp(len >= 4 && arena[off] <= MessageCookieReplyType ? Buffer.from(msg) : msg, src);
        i++;
        continue;
      }
      // A run: consecutive type-4 messages from one endpoint to one receiver index.
      const receiver = arena.readUInt32LE(off + DATA_RECEIVER);
      let j = i + 1;
      while (j < count && j - i < BATCH_MAX) {
        const o = desc[j * UDP_DESC_WORDS];
        if (desc[j * UDP_DESC_WORDS + 2] !== ep || desc[j * UDP_DESC_WORDS + 1] < MessageTransportSize || arena[o] !== MessageTransportType) break;
        if (arena.readUInt32LE(o + DATA_RECEIVER) !== receiver) break;
        j++;
      }
      this.handleDataRun(arena, desc, i, j - i, src);
      i = j;
    }
  }

  /** Type-4 messages first..first+n-1 of a batch, all to one receiver index from one endpoint. */
  private handleDataRun(arena: Buffer, desc: Uint32Array, first: number, n: number, src: Endpoint): void {
    const d = this.d;
    const entry = this.liveSession(arena.readUInt32LE(desc[first * UDP_DESC_WORDS] + DATA_RECEIVER), n);
    if (!entry) return;
    const { peer, keypair: kp } = entry;
    const results = this.openResults;
    openTransportBatch(kp.receiveKeyHandle, false, false, arena, desc, UDP_DESC_WORDS, first, n, results);
    const up = this.upDesc;
    let ups = 0;
    let accepted = 0;
    let bytes = 0;
    let data = false;
    // The inner source's owner, kept while the source stays the same (a TCP stream's segments).
    let lastSrcOff = -1;
    let lastVersion = 0;
    let lastOwner: Peer | undefined;
    for (let k = 0; k < n; k++) {
      const off = desc[(first + k) * UDP_DESC_WORDS];
      const len = desc[(first + k) * UDP_DESC_WORDS + 1];
      if ((arena[off + 1] | arena[off + 2] | arena[off + 3]) !== 0) {
        d.counters.drop('reserved-nonzero');
        continue;
      }
      const plainLen = results[k];
      if (plainLen < 0) {
        d.counters.drop('decrypt');
        continue;
      }
      if (!this.acceptCounter(kp, arena, off)) continue;
      accepted++;
      bytes += len;
      if (plainLen === 0) continue; // keepalive
      data = true;
      const p = off + MessageTransportHeaderSize;
      const ipLen = ipPacketLength(arena, p, plainLen);
      if (ipLen <= 0) {
        d.counters.drop('bad-inner-packet');
        continue;
      }
      const version = arena[p] >> 4;
      const srcOff = version === 4 ? p + 12 : p + 8;
      const srcLen = version === 4 ? 4 : 16;
      let owner: Peer | undefined;
      if (lastSrcOff >= 0 && lastVersion === version && arena.compare(arena, lastSrcOff, lastSrcOff + srcLen, srcOff, srcOff + srcLen) === 0) {
        owner = lastOwner;
      } else {
        owner = d.allowedIps.lookup(arena, srcOff, version === 4 ? 4 : 6);
        lastOwner = owner;
        lastVersion = version;
      }
      lastSrcOff = srcOff;
      if (owner !== peer) {
        d.counters.drop('source-not-allowed');
        continue;
      }
      up[ups * TUN_WRITE_DESC_WORDS] = p;
      up[ups * TUN_WRITE_DESC_WORDS + 1] = ipLen;
      up[ups * TUN_WRITE_DESC_WORDS + 2] = version === 4 ? ETH_P_IP : ETH_P_IPV6;
      ups++;
    }
    if (accepted === 0) return;
    this.authenticated(peer, kp, src, bytes, data);
    if (ups === 0) return;
    if (d.io.writeTunBatch) {
      d.io.writeTunBatch(arena, up, ups);
      return;
    }
    for (let k = 0; k < ups; k++) {
      const o = up[k * TUN_WRITE_DESC_WORDS];
      d.io.writeTun(up[k * TUN_WRITE_DESC_WORDS + 2], arena.subarray(o, o + up[k * TUN_WRITE_DESC_WORDS + 1]));
    }
  }

  /**
   * Labelled messages first..first+n-1 of a batch sharing type, outer entry and receiver index:
   * opened together (their header bound as associated data when the peer authenticates labels),
   * each frame rebuilt in place (the outer entry over the consumed counter, just before the
   * payload), and handed on as one run.
   */
  private handleMplsRun(arena: Buffer, desc: Uint32Array, first: number, n: number, src: Endpoint): void {
    const d = this.d;
    const off0 = desc[first * UDP_DESC_WORDS];
    const entry = this.liveSession(arena.readUInt32LE(off0 + DATA_RECEIVER), n);
    if (!entry) return;
    const { peer, keypair: kp } = entry;
    const multicast = arena[off0] === MessageMplsMulticastType;
    const lse24 = readLse24(arena.subarray(off0, off0 + 4));
    const results = this.openResults;
    openTransportBatch(kp.receiveKeyHandle, peer.labelAuth, true, arena, desc, UDP_DESC_WORDS, first, n, results);
    const frames = this.upDesc;
    let nf = 0;
    let accepted = 0;
    let bytes = 0;
    let data = false;
    const proto = multicast ? ETH_P_MPLS_MC : ETH_P_MPLS_UC;
    for (let k = 0; k < n; k++) {
      const off = desc[(first + k) * UDP_DESC_WORDS];
      const len = desc[(first + k) * UDP_DESC_WORDS + 1];
      const plainLen = results[k];
      if (plainLen < 0) {
        d.counters.drop(plainLen === OPEN_OTHER_AD ? 'label-auth-mismatch' : 'decrypt');
        continue;
      }
      if (!this.acceptCounter(kp, arena, off)) continue;
      accepted++;
      bytes += len;
      if (plainLen === 0) continue; // keepalive
      data = true;
      const p = off + MessageTransportHeaderSize;
      const mlen = mplsPayloadLength(arena, lse24 & 1, p, plainLen);
      if (mlen < 0) {
        d.counters.drop('mpls-malformed');
        continue;
      }
      // The counter is consumed: its last four bytes become the frame's outer entry.
      writeOuterLse(arena, p - 4, lse24, rebuildOuterLabel(lse24, arena, p, mlen));
      frames[nf * TUN_WRITE_DESC_WORDS] = p - 4;
      frames[nf * TUN_WRITE_DESC_WORDS + 1] = mlen + 4;
      frames[nf * TUN_WRITE_DESC_WORDS + 2] = proto;
      nf++;
    }
    if (accepted === 0) return;
    this.authenticated(peer, kp, src, bytes, data);
    if (nf === 0) return;
    if (this.opts.mplsPeers === 'seed' && this.sender.mplsPeer() !== peer) return d.counters.drop('mpls-peer-not-allowed', nf);
    d.counters.count(multicast ? 'rx-mpls-mc' : 'rx-mpls', nf);
    if (this.opts.onMplsRun) return this.opts.onMplsRun(arena, frames, nf, multicast, peer);
    for (let k = 0; k < nf; k++) {
      const o = frames[k * TUN_WRITE_DESC_WORDS];
      this.opts.onMpls(Buffer.from(arena.subarray(o, o + frames[k * TUN_WRITE_DESC_WORDS + 1])), multicast, peer);
    }
  }

  private handleInitiation(msg: Buffer, src: Endpoint): void {
    const d = this.d;
    if (msg.length !== MessageInitiationSize) return d.counters.drop('bad-length');
    if (!d.identity) return d.counters.drop('no-private-key');
    if (!this.admission.admit(msg, src, msg.readUInt32LE(4))) return;
    let known = true;
    const r = consumeInitiation(d.identity, msg, {
      precomputedSs: (pub) => {
        const p = d.peer(pub);
        known = p !== undefined;
        return p ? d.precomputedSs(p) : null;
      },
    });
    if (!r) return d.counters.drop(known ? 'handshake-decrypt' : 'unknown-peer');
    const peer = d.peer(r.peerPublic);
    if (!peer) return d.counters.drop('unknown-peer');
    const now = d.clock.now();
    if (peer.lastReceivedTimestamp && compareTai64n(r.timestamp, peer.lastReceivedTimestamp) <= 0) {
      return d.counters.drop('replayed-initiation');
    }
    if (now - peer.lastInitiationConsumption <= d.timing.handshakeInitiationRate) {
      return d.counters.drop('initiation-flood');
    }
    peer.lastReceivedTimestamp = r.timestamp;
    peer.lastInitiationConsumption = now;
    peer.endpoint = learnedEndpoint(src);
    peer.rxBytes += msg.length;
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketReceived();

    const localIndex = d.indices.newIndex(peer);
    const { message, keys } = createResponse(r.state, peer.presharedKey, localIndex);
    peer.cookies.addMacs(message, now);
    beginSession(d.indices, peer, keys, now);
    peer.timersSessionDerived();
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketSent();
    this.sender.sendRaw(peer, message);
  }

  private handleResponse(msg: Buffer, src: Endpoint): void {
    const d = this.d;
    if (msg.length !== MessageResponseSize) return d.counters.drop('bad-length');
    if (!d.identity) return d.counters.drop('no-private-key');
    if (!this.admission.admit(msg, src, msg.readUInt32LE(4))) return;
    const receiver = msg.readUInt32LE(8);
    const peer = d.indices.get(receiver)?.peer;
    if (!peer || !peer.initiation || peer.initiation.localIndex !== receiver) return d.counters.drop('unknown-index');
    const keys = consumeResponse(peer.initiation.state, d.identity, peer.presharedKey, msg);
    if (!keys) return d.counters.drop('handshake-decrypt');
    peer.initiation = null; // the index now belongs to the session
    peer.endpoint = learnedEndpoint(src);
    peer.rxBytes += msg.length;
    peer.timersSessionDerived();
    peer.timersHandshakeComplete(Date.now());
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketReceived();
    beginSession(d.indices, peer, keys, d.clock.now());
    d.log.debug({ peer: peer.publicKeyHex().slice(0, 8) }, 'handshake complete (initiator)');
    this.sender.sendKeepalive(peer); // confirms the session to the responder, carrying staged data if any
  }

  private handleCookieReply(msg: Buffer): void {
    const d = this.d;
    if (msg.length !== MessageCookieReplySize) return d.counters.drop('bad-length');
    const entry = d.indices.get(msg.readUInt32LE(4));
    if (!entry) return d.counters.drop('unknown-index');
    if (!entry.peer.cookies.consumeReply(msg, d.clock.now())) d.counters.drop('bad-cookie-reply');
  }

  private handleData(msg: Buffer, src: Endpoint): void {
    const d = this.d;
    if (msg.length < MessageTransportSize) return d.counters.drop('bad-length');
    const entry = this.liveSession(msg.readUInt32LE(DATA_RECEIVER), 1);
    if (!entry) return;
    const { peer, keypair: kp } = entry;
    const lo = msg.readUInt32LE(DATA_COUNTER);
    const hi = msg.readUInt32LE(DATA_COUNTER + 4);
    if (hi >= 0x20_0000) return d.counters.drop('counter-too-large'); // beyond 2^53: we never send it
    const counter = hi * 0x1_0000_0000 + lo;
    // Which associated data: decided by our setting for this peer and the type byte, never by
    // anything else in the packet. Type 4 has none (plain WireGuard); in authenticated-label
    // mode 5/6 have header bytes 0-3, type byte included. So any flip changes the AD and fails:
    // 4->5/6 is opened with the header as AD though sealed with none, 5/6->4 (bytes 1-3 zeroed,
    // else reserved-nonzero) with none though sealed with the header, 5<->6 and label rewrites
    // with other header bytes than were sealed. A 5/6 that opens only the other way is a peer
    // whose setting differs from ours (or a relabelled type 4): counted apart, never delivered.
    const type = msg[0];
    const mpls = type !== MessageTransportType;
    const n = openTransportLength(kp.receiveKeyHandle, lo, hi, msg, mpls && peer.labelAuth, mpls);
    if (n < 0) return d.counters.drop(n === OPEN_OTHER_AD ? 'label-auth-mismatch' : 'decrypt');
    const plain = msg.subarray(MessageTransportHeaderSize, MessageTransportHeaderSize + n);
    if (!kp.replay.validateCounter(counter, REJECT_AFTER_MESSAGES)) return d.counters.drop('replay');

    this.authenticated(peer, kp, src, msg.length, plain.length > 0);
    if (plain.length === 0) return; // keepalive

    if (!mpls) return this.deliverIp(peer, plain);
    this.deliverMpls(peer, msg, plain, type === MessageMplsMulticastType);
  }

  /**
   * The session a data message's receiver index names, while it may still be used; otherwise the
   * `n` messages sent with it are counted as dropped (unknown index, or expired).
   */
  private liveSession(receiver: number, n: number): { peer: Peer; keypair: Keypair } | null {
    const d = this.d;
    const entry = d.indices.get(receiver);
    const kp = entry?.keypair;
    if (!entry || !kp) {
      d.counters.drop('unknown-index', n);
      return null;
    }
    if (d.clock.now() - kp.created >= d.timing.rejectAfterTime) {
      d.counters.drop('expired-session', n);
      return null;
    }
    return entry as { peer: Peer; keypair: Keypair };
  }

  /** The counter of the opened message at `off`: below 2^53 and new to the replay window, else counted. */
  private acceptCounter(kp: Keypair, arena: Buffer, off: number): boolean {
    const hi = arena.readUInt32LE(off + DATA_COUNTER + 4);
    if (hi >= 0x20_0000) {
      this.d.counters.drop('counter-too-large'); // beyond 2^53: we never send it
      return false;
    }
    if (!kp.replay.validateCounter(hi * 0x1_0000_0000 + arena.readUInt32LE(off + DATA_COUNTER), REJECT_AFTER_MESSAGES)) {
      this.d.counters.drop('replay');
      return false;
    }
    return true;
  }

  /**
   * What one or more authenticated messages from `peer` with keypair `kp` mean for the session:
   * the keypair confirmed (the staged packets go), the next handshake if this one is ageing,
   * the timers, the endpoint learned (roaming, or sent to another of our addresses), the bytes.
   */
  private authenticated(peer: Peer, kp: Keypair, src: Endpoint, bytes: number, data: boolean): void {
    if (receivedWithKeypair(this.d.indices, peer, kp)) {
      peer.timersHandshakeComplete(Date.now());
      this.sender.sendStaged(peer);
    }
    this.keepKeyFreshReceiving(peer);
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketReceived();
    if (!sameEndpoint(peer.endpoint, src)) peer.endpoint = learnedEndpoint(src);
    peer.rxBytes += bytes;
    if (data) peer.timersDataReceived();
  }

  /** An initiator whose session is about to be rejected starts the next handshake itself. */
  private keepKeyFreshReceiving(peer: Peer): void {
    if (peer.sentLastMinuteHandshake) return;
    const kp = peer.keypairs.current;
    const t = this.d.timing;
    if (kp && kp.isInitiator && this.d.clock.now() - kp.created > t.rejectAfterTime - t.keepaliveTimeout - t.rekeyTimeout) {
      peer.sentLastMinuteHandshake = true;
      this.sender.sendHandshakeInitiation(peer, false);
    }
  }

  private deliverIp(peer: Peer, plain: Buffer): void {
    const d = this.d;
    const len = ipPacketLength(plain, 0);
    if (len <= 0 || len > plain.length) return d.counters.drop('bad-inner-packet');
    const version = plain[0] >> 4;
    const owner = version === 4 ? d.allowedIps.lookup(plain, 12, 4) : d.allowedIps.lookup(plain, 8, 6);
    if (owner !== peer) return d.counters.drop('source-not-allowed');
    d.io.writeTun(version === 4 ? ETH_P_IP : ETH_P_IPV6, plain.subarray(0, len));
  }

  private deliverMpls(peer: Peer, msg: Buffer, plain: Buffer, multicast: boolean): void {
    const d = this.d;
    if (this.opts.mplsPeers === 'seed' && this.sender.mplsPeer() !== peer) return d.counters.drop('mpls-peer-not-allowed');
    const lse24 = readLse24(msg);
    const len = mplsPayloadLength(plain, lse24 & 1);
    if (len < 0) return d.counters.drop('mpls-malformed');
    const payload = plain.subarray(0, len);
    const ttl = rebuildOuterLabel(lse24, payload);
    const frame = Buffer.allocUnsafe(4 + len);
    writeOuterLse(frame, 0, lse24, ttl);
    payload.copy(frame, 4);
    d.counters.count(multicast ? 'rx-mpls-mc' : 'rx-mpls');
    this.opts.onMpls(frame, multicast, peer);
  }
}
