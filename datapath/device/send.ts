// The send path (wireguard-go's send.go): cryptokey routing of IP packets, the MPLS peer,
// sealing with the current session, staging while there is none, and handshake initiation.
import { REJECT_AFTER_MESSAGES_NUM, REKEY_AFTER_MESSAGES_NUM } from './constants';
import { Keypair } from './keypair';
import { Peer } from './peer';
import { DeviceState } from './state';
import { paddingFor, sealTransport, sealTransportBatch } from './transport';
import { stripOuterLabel } from '../mpls/wire';
import { createInitiation } from '../noise/handshake';
import { MessageMplsMulticastType, MessageMplsUnicastType, MessageTransportType } from '../noise/messages';

const ZERO_V4 = new Uint8Array(4);
const ZERO_V6 = new Uint8Array(16);
/** Room for one sealed group: a 64 KiB superpacket cut at any MSS, plus headers, padding, tags. */
const SEAL_OUT_BYTES = 256 * 1024;
const SEAL_OUT_MESSAGES = 1024;

export class Sender {
  private readonly sealOut = Buffer.alloc(SEAL_OUT_BYTES);
  private readonly sealLens = new Uint32Array(SEAL_OUT_MESSAGES);

  constructor(private readonly d: DeviceState) {}

  /**
   * Packets first..first+count-1 of a TUN batch (desc: `stride` words each, offset and length
   * first) that share a destination (the segments of one superpacket): routed once by the first,
   * sealed and sent together. Views into src are not kept (staging copies).
   */
  sendIpGroup(src: Buffer, desc: Uint32Array, stride: number, first: number, count: number): void {
    const d = this.d;
    const off = desc[first * stride];
    const len = desc[first * stride + 1];
    const version = len >= 1 ? src[off] >> 4 : 0;
    let peer: Peer | undefined;
    if (version === 4 && len >= 20) peer = d.allowedIps.lookup(src, off + 16, 4);
    else if (version === 6 && len >= 40) peer = d.allowedIps.lookup(src, off + 24, 6);
    else return d.counters.drop(len < 1 ? 'tun-short' : 'tun-not-ip', count);
    if (!peer) return d.counters.drop('no-peer-for-destination', count);
    this.sendDataGroup(peer, MessageTransportType, 0, src, desc, stride, first, count);
  }

  /**
   * Labelled packets sharing their outer entry (`lse24`, carried in the header as type 5, or 6
   * for multicast): the payloads first..first+count-1 of src (desc: `stride` words each, offset
   * and length first; below the outer entry), to the MPLS peer. False when there is none.
   */
  sendMplsGroup(src: Buffer, desc: Uint32Array, stride: number, first: number, count: number, lse24: number, opts: { multicast?: boolean; nextHop?: Uint8Array } = {}): boolean {
    const peer = this.mplsPeer(opts.nextHop);
    if (!peer) {
      this.d.counters.drop('no-peer-for-mpls', count);
      return false;
    }
    this.sendDataGroup(peer, opts.multicast ? MessageMplsMulticastType : MessageMplsUnicastType, lse24, src, desc, stride, first, count);
    return true;
  }

  private sendDataGroup(peer: Peer, type: number, lse24: number, src: Buffer, desc: Uint32Array, stride: number, first: number, count: number): void {
    const d = this.d;
    if (d.closed) return;
    const kp = this.validSendKeypair(peer);
    if (!kp || kp.sendCounter + count > REJECT_AFTER_MESSAGES_NUM) {
      for (let i = first; i < first + count; i++) {
        const o = desc[i * stride];
        this.sendData(peer, type, lse24, src.subarray(o, o + desc[i * stride + 1]));
      }
      return;
    }
    if (!peer.endpoint) return d.counters.drop('no-endpoint', count);
    const authHeader = peer.labelAuth && type !== MessageTransportType;
    let payloadBytes = 0;
    for (let done = 0; done < count; ) {
      const n = sealTransportBatch(kp.sendKeyHandle, type, lse24, kp.remoteIndex, kp.sendCounter, authHeader, d.mtu, src, desc, stride, first + done, count - done, this.sealOut, this.sealLens);
      if (n <= 0) return d.counters.drop('udp-send', count - done); // cannot happen: out holds any one message
      kp.sendCounter += n;
      let bytes = 0;
      for (let i = 0; i < n; i++) bytes += this.sealLens[i];
      this.sendSealed(peer, n);
      peer.txBytes += bytes;
      for (let i = first + done; i < first + done + n; i++) payloadBytes += desc[i * stride + 1];
      done += n;
    }
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketSent();
    if (payloadBytes > 0) peer.timersDataSent();
    this.keepKeyFreshSending(peer);
  }

  /** The first n sealed messages of sealOut to the peer's endpoint; those the kernel refused are counted. */
  private sendSealed(peer: Peer, n: number): void {
    const d = this.d;
    const to = peer.endpoint;
    if (!to) return d.counters.drop('no-endpoint', n);
    if (d.io.sendUdpBatch) {
      const sent = d.io.sendUdpBatch(this.sealOut, this.sealLens, n, to);
      if (sent < n) d.counters.drop('udp-send', n - sent);
      return;
    }
    for (let i = 0, o = 0; i < n; o += this.sealLens[i], i++) d.io.sendUdp(Buffer.from(this.sealOut.subarray(o, o + this.sealLens[i])), to);
  }

  /** An IPv4/IPv6 packet to encrypt: cryptokey routing by destination (type 4). */
  sendIp(packet: Uint8Array): void {
    const d = this.d;
    if (packet.length < 1) return d.counters.drop('tun-short');
    const version = packet[0] >> 4;
    let peer: Peer | undefined;
    if (version === 4 && packet.length >= 20) peer = d.allowedIps.lookup(packet, 16, 4);
    else if (version === 6 && packet.length >= 40) peer = d.allowedIps.lookup(packet, 24, 6);
    else return d.counters.drop('tun-not-ip');
    if (!peer) return d.counters.drop('no-peer-for-destination');
    this.sendData(peer, MessageTransportType, 0, packet);
  }

  /**
   * An IP packet to a neighbour: to the peer whose allowed-ips contain `nextHop` when given
   * (a route's `via`), else by destination. Returns false when it was dropped.
   */
  sendIpVia(packet: Uint8Array, nextHop?: Uint8Array): boolean {
    const d = this.d;
    if (!nextHop) {
      const before = d.counters.totalDrops();
      this.sendIp(packet);
      return d.counters.totalDrops() === before;
    }
    const peer = d.allowedIps.lookup(nextHop, 0, nextHop.length === 4 ? 4 : 6);
    if (!peer) {
      d.counters.drop('no-peer-for-destination');
      return false;
    }
    this.sendData(peer, MessageTransportType, 0, packet);
    return true;
  }

  /** The MPLS peer by the seed's rule (0.0.0.0, else ::) or by an explicit next hop. */
  mplsPeer(nextHop?: Uint8Array): Peer | undefined {
    const a = this.d.allowedIps;
    if (nextHop) return a.lookup(nextHop, 0, nextHop.length === 4 ? 4 : 6);
    return a.lookup(ZERO_V4, 0, 4) ?? a.lookup(ZERO_V6, 0, 6);
  }

  /**
   * An MPLS frame (outermost label first) to send: the outer entry rides in the header
   * (type 5, or 6 for multicast), the rest is encrypted. Returns false when it was dropped.
   */
  sendMpls(frame: Uint8Array, opts: { multicast?: boolean; nextHop?: Uint8Array } = {}): boolean {
    const peer = this.mplsPeer(opts.nextHop);
    if (!peer) {
      this.d.counters.drop('no-peer-for-mpls');
      return false;
    }
    const stripped = stripOuterLabel(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
    if ('error' in stripped) {
      this.d.counters.drop('mpls-malformed');
      return false;
    }
    this.sendData(peer, opts.multicast ? MessageMplsMulticastType : MessageMplsUnicastType, stripped.lse24, stripped.payload);
    return true;
  }

  private validSendKeypair(peer: Peer): Keypair | null {
    const kp = peer.keypairs.current;
    if (!kp) return null;
    if (this.d.clock.now() - kp.created >= this.d.timing.rejectAfterTime) return null;
    if (kp.sendCounter >= REJECT_AFTER_MESSAGES_NUM) return null;
    return kp;
  }

  private sendData(peer: Peer, type: number, lse24: number, payload: Uint8Array): void {
    if (this.d.closed) return;
    const kp = this.validSendKeypair(peer);
    if (!kp) {
      // A copy: the payload may be a view into a batch buffer the next read overwrites.
      peer.stage({ type, lse24, payload: Uint8Array.from(payload) });
      this.sendHandshakeInitiation(peer, false);
      return;
    }
    this.encryptAndSend(peer, kp, type, lse24, payload);
    this.keepKeyFreshSending(peer);
  }

  private encryptAndSend(peer: Peer, kp: Keypair, type: number, lse24: number, payload: Uint8Array): void {
    const d = this.d;
    if (!peer.endpoint) return d.counters.drop('no-endpoint');
    const counter = kp.sendCounter++;
    // Type 4 stays plain WireGuard (empty AD) whatever the setting; 5/6 bind their header.
    const authHeader = peer.labelAuth && type !== MessageTransportType;
    const msg = sealTransport(kp.sendKeyHandle, type, lse24, kp.remoteIndex, counter, payload, paddingFor(payload.length, d.mtu), authHeader);
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketSent();
    d.io.sendUdp(msg, peer.endpoint);
    peer.txBytes += msg.length;
    if (payload.length > 0) peer.timersDataSent();
  }

  /** What waited for a session goes now (or a handshake is started for it). */
  sendStaged(peer: Peer): void {
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
    if (kp.sendCounter > REKEY_AFTER_MESSAGES_NUM || (kp.isInitiator && this.d.clock.now() - kp.created > this.d.timing.rekeyAfterTime)) {
      this.sendHandshakeInitiation(peer, false);
    }
  }

  sendKeepalive(peer: Peer): void {
    if (peer.staged.length === 0) peer.stage({ type: MessageTransportType, lse24: 0, payload: new Uint8Array(0) });
    this.sendStaged(peer);
  }

  sendHandshakeInitiation(peer: Peer, isRetry: boolean): void {
    const d = this.d;
    if (d.closed || !d.identity) return;
    if (!isRetry) peer.handshakeAttempts = 0;
    const now = d.clock.now();
    if (now - peer.lastSentHandshake < d.timing.rekeyTimeout) return;
    if (!peer.endpoint) return d.counters.drop('no-endpoint');
    peer.lastSentHandshake = now;
    if (peer.initiation) {
      // The superseded initiation's secrets are wiped, not left to the garbage collector.
      d.indices.delete(peer.initiation.localIndex);
      peer.initiation.state.chainKey.fill(0);
      peer.initiation.state.hash.fill(0);
    }
    const localIndex = d.indices.newIndex(peer);
    const ss = d.precomputedSs(peer);
    const created = ss ? createInitiation(d.identity, peer.publicKey, localIndex, now, { precomputedSs: ss }) : null;
    if (!created) {
      d.indices.delete(localIndex);
      return d.counters.drop('bad-peer-key');
    }
    const { message, state } = created;
    peer.initiation = { state, localIndex };
    peer.cookies.addMacs(message, now);
    peer.timersAnyAuthenticatedPacketTraversal();
    peer.timersAnyAuthenticatedPacketSent();
    this.sendRaw(peer, message);
    peer.timersHandshakeInitiated();
  }

  /** A handshake message as it is, to the peer's endpoint. */
  sendRaw(peer: Peer, message: Uint8Array): void {
    if (!peer.endpoint) return;
    const buf = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    this.d.io.sendUdp(buf, peer.endpoint);
    peer.txBytes += buf.length;
  }
}
