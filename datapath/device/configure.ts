// Applying a validated UAPI transaction to a device, and reading its configuration back: the
// device half of wireguard-go's uapi.go (the text protocol itself is in ipc/).
import { DeviceChange, DeviceSnapshot, Errno, PeerChange, UapiError, endpoint } from './config';
import { Peer, PeerHost } from './peer';
import { Sender } from './send';
import { expireSessions, zeroExpiredKeypairs, zeroKeyMaterial } from './session';
import { DeviceState } from './state';
import { CookieChecker, CookieGenerator } from '../noise/cookie';
import { StaticIdentity } from '../noise/handshake';
import { clampInPlace } from '../crypto/x25519';

export class Configurator {
  /** What a peer's timers call back into: one object for all peers. */
  private readonly peerHost: PeerHost;

  constructor(
    private readonly d: DeviceState,
    private readonly sender: Sender,
  ) {
    this.peerHost = {
      sendHandshakeInitiation: (p, isRetry) => sender.sendHandshakeInitiation(p, isRetry),
      sendKeepalive: (p) => sender.sendKeepalive(p),
      zeroKeyMaterial: (p) => zeroKeyMaterial(d.indices, p),
      zeroExpiredKeypairs: (p) => zeroExpiredKeypairs(d.indices, p, d.clock.now(), d.timing.rejectAfterTime),
    };
  }

  /** Applies a validated transaction all or nothing (the port is bound first: it can fail). */
  async apply(change: DeviceChange): Promise<void> {
    const d = this.d;
    if (d.closed) throw new UapiError(Errno.EIO, 'device is closed');
    if (change.listenPort !== undefined && change.listenPort !== d.listenPort) {
      d.listenPort = await d.io.bind(change.listenPort);
    }
    if (change.fwmark !== undefined && change.fwmark !== d.fwmark) {
      d.io.setMark?.(change.fwmark);
      d.fwmark = change.fwmark;
    }
    if (change.privateKey !== undefined) this.setPrivateKey(change.privateKey);
    if (change.replacePeers) for (const p of d.peerList()) this.removePeer(p);
    for (const pc of change.peers) this.applyPeer(pc);
  }

  snapshot(): DeviceSnapshot {
    const d = this.d;
    return {
      privateKey: d.identity ? d.identity.privateKey : null,
      listenPort: d.listenPort,
      fwmark: d.fwmark,
      peers: d.peerList().map((p) => ({
        publicKey: p.publicKey,
        presharedKey: p.presharedKey,
        endpoint: p.endpoint,
        persistentKeepaliveInterval: p.persistentKeepaliveInterval,
        labelAuth: p.labelAuth,
        lastHandshakeTimeSec: Math.floor(p.lastHandshakeMs / 1000),
        lastHandshakeTimeNsec: Math.floor((p.lastHandshakeMs % 1000) * 1e6),
        txBytes: BigInt(p.txBytes),
        rxBytes: BigInt(p.rxBytes),
        allowedIps: d.allowedIps.entriesForPeer(p),
      })),
    };
  }

  private setPrivateKey(key: Uint8Array | null): void {
    const d = this.d;
    // Clamped on the way in, as wireguard-go does: `wg show` then prints the key in use.
    const incoming = key ? clampInPlace(Uint8Array.from(key)) : null;
    const same = d.identity && incoming && Buffer.from(d.identity.privateKey.buffer, d.identity.privateKey.byteOffset, 32).equals(incoming);
    if (same) {
      incoming.fill(0);
      return;
    }
    const old = d.identity;
    d.identity = incoming ? new StaticIdentity(incoming) : null; // it keeps its own copy
    incoming?.fill(0);
    // The old key and every secret derived from it are wiped, not left to the garbage collector.
    old?.zero();
    d.cookieChecker = d.identity ? new CookieChecker(d.identity.publicKey) : null;
    for (const p of d.peerList()) {
      p.precomputedSs?.fill(0);
      // A peer with our own public key would be ourselves; wireguard-go drops it too.
      if (d.identity && Buffer.from(p.publicKey).equals(Buffer.from(d.identity.publicKey))) {
        this.removePeer(p);
        continue;
      }
      p.precomputedSs = null;
      expireSessions(d.indices, p);
    }
  }

  private applyPeer(pc: PeerChange): void {
    const d = this.d;
    const hex = Buffer.from(pc.publicKey).toString('hex');
    let peer = d.peers.get(hex);
    if (pc.remove) {
      if (peer) this.removePeer(peer);
      return;
    }
    if (!peer) {
      if (pc.updateOnly) return;
      if (d.identity && Buffer.from(pc.publicKey).equals(Buffer.from(d.identity.publicKey))) return;
      peer = new Peer(pc.publicKey, new CookieGenerator(pc.publicKey), d.clock, d.timing, this.peerHost);
      d.peers.set(hex, peer);
    }
    if (pc.presharedKey) {
      peer.presharedKey.fill(0); // the old one is wiped, not left behind
      peer.presharedKey = Uint8Array.from(pc.presharedKey);
    }
    if (pc.labelAuth !== undefined) peer.labelAuth = pc.labelAuth;
    if (pc.endpoint) peer.endpoint = endpoint(pc.endpoint.address, pc.endpoint.port);
    if (pc.replaceAllowedIps) d.allowedIps.removeByPeer(peer);
    for (const prefix of pc.allowedIps) d.allowedIps.insert(prefix, peer);
    if (pc.persistentKeepaliveInterval !== undefined && pc.persistentKeepaliveInterval !== peer.persistentKeepaliveInterval) {
      const wasOff = peer.persistentKeepaliveInterval === 0;
      peer.persistentKeepaliveInterval = pc.persistentKeepaliveInterval;
      peer.persistentKeepaliveChanged();
      // As wireguard-go: turning it on sends a keepalive now, so the NAT mapping opens at once.
      if (wasOff && peer.persistentKeepaliveInterval > 0 && d.identity) this.sender.sendKeepalive(peer);
    }
    // As wireguard-go's handlePostConfig: what waited (say, for an endpoint) may go now.
    if (d.identity && peer.staged.length > 0) this.sender.sendStaged(peer);
  }

  removePeer(peer: Peer): void {
    const d = this.d;
    peer.stopTimers();
    zeroKeyMaterial(d.indices, peer);
    peer.presharedKey.fill(0);
    peer.precomputedSs?.fill(0);
    peer.precomputedSs = null;
    d.allowedIps.removeByPeer(peer);
    d.peers.delete(peer.publicKeyHex());
  }
}
