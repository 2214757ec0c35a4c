// Session (keypair) install and rotation: the session half of wireguard-go's noise-protocol.go
// (BeginSymmetricSession, ReceivedWithKeypair) plus taking sessions down. A keypair's index is
// registered when it is installed and released when it goes, so a stale index never finds it.
import { Keypair } from './keypair';
import { IndexTable } from './indexTable';
import { Peer } from './peer';
import { SessionKeys } from '../noise/handshake';

export function deleteKeypair(indices: IndexTable<Peer>, kp: Keypair | null): void {
  if (!kp) return;
  indices.delete(kp.localIndex);
  kp.zero();
}

/**
 * Installs a fresh session. The initiator may send with it at once (it becomes current); the
 * responder waits in `next` until the initiator proves it has the keys by using them.
 */
export function beginSession(indices: IndexTable<Peer>, peer: Peer, keys: SessionKeys, now: number): Keypair {
  const kp = new Keypair(keys.sendKey, keys.receiveKey, keys.localIndex, keys.remoteIndex, keys.isInitiator, now);
  indices.setKeypair(keys.localIndex, kp);
  const s = peer.keypairs;
  if (kp.isInitiator) {
    if (s.next) {
      deleteKeypair(indices, s.previous);
      deleteKeypair(indices, s.current);
      s.previous = s.next;
      s.next = null;
    } else {
      deleteKeypair(indices, s.previous);
      s.previous = s.current;
    }
    s.current = kp;
  } else {
    deleteKeypair(indices, s.next);
    deleteKeypair(indices, s.previous);
    s.next = kp;
    s.previous = null;
  }
  return kp;
}

/** The initiator proved it has `kp` by using it: the responder may now send with it. */
export function receivedWithKeypair(indices: IndexTable<Peer>, peer: Peer, kp: Keypair): boolean {
  const s = peer.keypairs;
  if (s.next !== kp) return false;
  deleteKeypair(indices, s.previous);
  s.previous = s.current;
  s.current = kp;
  s.next = null;
  return true;
}

/** Every session and the pending initiation of `peer` gone, their keys zeroed. */
export function zeroKeyMaterial(indices: IndexTable<Peer>, peer: Peer): void {
  for (const kp of peer.allKeypairs()) deleteKeypair(indices, kp);
  peer.keypairs.previous = peer.keypairs.current = peer.keypairs.next = null;
  if (peer.initiation) {
    indices.delete(peer.initiation.localIndex);
    // An initiation never answered still holds its chaining key and hash.
    peer.initiation.state.chainKey.fill(0);
    peer.initiation.state.hash.fill(0);
  }
  peer.initiation = null;
}

/**
 * Sessions at least `rejectAfterTime` old are refused anyway (send and receive check the age):
 * delete them now, their keys zeroed and their OpenSSL contexts freed, instead of keeping them
 * until a rotation or the 3 x reject-after-time timer. Returns the ms until the next remaining
 * session expires, or null when none is left.
 */
export function zeroExpiredKeypairs(indices: IndexTable<Peer>, peer: Peer, now: number, rejectAfterTime: number): number | null {
  const s = peer.keypairs;
  let next: number | null = null;
  for (const slot of ['previous', 'current', 'next'] as const) {
    const kp = s[slot];
    if (!kp) continue;
    const left = kp.created + rejectAfterTime - now;
    if (left <= 0) {
      deleteKeypair(indices, kp);
      s[slot] = null;
    } else if (next === null || left < next) {
      next = left;
    }
  }
  return next;
}

/** Old sessions are unusable under a new static key: the next send makes a fresh handshake. */
export function expireSessions(indices: IndexTable<Peer>, peer: Peer): void {
  zeroKeyMaterial(indices, peer);
  peer.lastSentHandshake = -Infinity;
}
