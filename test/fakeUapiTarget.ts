// A UapiTarget with no device behind it: applies DeviceChanges to a snapshot with wireguard-go's
// set semantics, all or nothing, and records them. Shared by the UAPI unit tests and the tests
// that drive it with the real `wg`.
import type { DeviceChange, DeviceSnapshot, PeerSnapshot, UapiTarget } from '../datapath/device/config';
import { keyToHex, prefixToString } from '../datapath/ipc/uapi';

function clonePeer(p: PeerSnapshot): PeerSnapshot {
  return { ...p, endpoint: p.endpoint && { ...p.endpoint }, allowedIps: p.allowedIps.map((a) => ({ addr: a.addr, bits: a.bits })) };
}

/** Applies DeviceChanges with wireguard-go's semantics, all or nothing. */
/** A peer as a device shows it right after `wg set ... peer KEY`: nothing else set yet. */
export function newPeer(publicKey: Uint8Array): PeerSnapshot {
  return {
    publicKey,
    presharedKey: new Uint8Array(32),
    endpoint: null,
    persistentKeepaliveInterval: 0,
    labelAuth: false,
    lastHandshakeTimeSec: 0,
    lastHandshakeTimeNsec: 0,
    txBytes: 0n,
    rxBytes: 0n,
    allowedIps: [],
  };
}

export class FakeTarget implements UapiTarget {
  state: DeviceSnapshot = { privateKey: null, listenPort: 0, fwmark: 0, peers: [] };
  applied: DeviceChange[] = [];
  failWith: Error | null = null;
  delayMs = 0;

  snapshot(): DeviceSnapshot {
    return { ...this.state, peers: this.state.peers.map(clonePeer) };
  }

  async apply(change: DeviceChange): Promise<void> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failWith) throw this.failWith;
    const next = this.snapshot();
    if (change.listenPort !== undefined) next.listenPort = change.listenPort;
    if (change.fwmark !== undefined) next.fwmark = change.fwmark;
    if (change.privateKey !== undefined) next.privateKey = change.privateKey;
    if (change.replacePeers) next.peers = [];
    for (const pc of change.peers) {
      const hex = keyToHex(pc.publicKey);
      let peer = next.peers.find((p) => keyToHex(p.publicKey) === hex);
      if (pc.remove) {
        next.peers = next.peers.filter((p) => p !== peer);
        continue;
      }
      if (!peer) {
        if (pc.updateOnly) continue;
        peer = newPeer(pc.publicKey);
        next.peers.push(peer);
      }
      if (pc.presharedKey) peer.presharedKey = pc.presharedKey;
      if (pc.endpoint) peer.endpoint = pc.endpoint;
      if (pc.persistentKeepaliveInterval !== undefined) peer.persistentKeepaliveInterval = pc.persistentKeepaliveInterval;
      if (pc.labelAuth !== undefined) peer.labelAuth = pc.labelAuth;
      if (pc.replaceAllowedIps) peer.allowedIps = [];
      for (const a of pc.allowedIps) {
        const s = prefixToString(a);
        for (const other of next.peers) other.allowedIps = other.allowedIps.filter((x) => prefixToString(x) !== s);
        peer.allowedIps.push(a);
      }
    }
    this.state = next;
    this.applied.push(change);
  }
}
