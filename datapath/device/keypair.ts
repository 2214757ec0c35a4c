import { ReplayFilter } from './replay';
import { destroyTransportKey, transportKey, type TransportKey } from './transport';

/** One direction-pair of transport keys from a completed handshake (a WireGuard "session"). */
export class Keypair {
  /** Next nonce to send; a number: 2^53 packets is centuries at line rate. */
  sendCounter = 0;
  readonly replay = new ReplayFilter();
  readonly sendKeyHandle: TransportKey;
  readonly receiveKeyHandle: TransportKey;

  constructor(
    readonly sendKey: Uint8Array,
    readonly receiveKey: Uint8Array,
    readonly localIndex: number,
    readonly remoteIndex: number,
    readonly isInitiator: boolean,
    readonly created: number,
  ) {
    this.sendKeyHandle = transportKey(sendKey);
    this.receiveKeyHandle = transportKey(receiveKey);
  }

  /** After this the keypair cannot seal or open anything (its handles throw): drop it. */
  zero(): void {
    this.sendKey.fill(0);
    this.receiveKey.fill(0);
    destroyTransportKey(this.sendKeyHandle);
    destroyTransportKey(this.receiveKeyHandle);
  }
}

/**
 * previous/current/next as in the WireGuard paper section 5.4.6: a responder may not send with
 * a new session until the initiator has proved it has it, so the responder keeps it in `next`.
 */
export interface KeypairSlots {
  previous: Keypair | null;
  current: Keypair | null;
  next: Keypair | null;
}
