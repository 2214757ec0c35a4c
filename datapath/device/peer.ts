import { Clock, Timer } from './clock';
import { MAX_TIMER_HANDSHAKES, QUEUE_STAGED_SIZE, Timing } from './constants';
import type { Endpoint } from './config';
import type { Keypair, KeypairSlots } from './keypair';
import type { CookieGenerator } from '../noise/cookie';
import type { InitiatorState } from '../noise/handshake';

/** A packet waiting for a session: what to send once keys exist. */
export interface StagedPacket {
  type: number; // 4, 5 or 6
  lse24: number; // 0 for type 4
  payload: Uint8Array;
}

/** What a peer's timers ask the device to do (wireguard-go timers.go, expired* functions). */
export interface PeerHost {
  sendHandshakeInitiation(peer: Peer, isRetry: boolean): void;
  sendKeepalive(peer: Peer): void;
  zeroKeyMaterial(peer: Peer): void;
  /** Deletes (zeroes) the peer's sessions that reached reject-after-time; ms to the next, or null. */
  zeroExpiredKeypairs(peer: Peer): number | null;
}

export class Peer {
  presharedKey: Uint8Array = new Uint8Array(32);
  endpoint: Endpoint | null = null;
  persistentKeepaliveInterval = 0; // seconds
  /**
   * Authenticated labels (UAPI `wgmpls-label-auth`): types 5/6 to and from this peer bind header
   * bytes 0-3 as the AEAD's associated data. Off by default: the kernel module never does.
   */
  labelAuth = false;
  /** Plain numbers on the hot path (exact up to 2^53 bytes); BigInt only when `wg` asks. */
  txBytes = 0;
  rxBytes = 0;
  /** Wall-clock time of the last completed handshake, ms; 0 = never. */
  lastHandshakeMs = 0;

  readonly keypairs: KeypairSlots = { previous: null, current: null, next: null };
  staged: StagedPacket[] = [];

  // Handshake state (wireguard-go's Handshake struct, reduced to what a single thread needs).
  initiation: { state: InitiatorState; localIndex: number } | null = null;
  lastSentHandshake = -Infinity;
  lastReceivedTimestamp: Uint8Array | null = null;
  lastInitiationConsumption = -Infinity;
  /** Static-static DH with this peer, cached: it only changes with the private key. */
  precomputedSs: Uint8Array | null = null;

  handshakeAttempts = 0;
  needAnotherKeepalive = false;
  sentLastMinuteHandshake = false;

  private readonly retransmitHandshake: Timer;
  private readonly sendKeepaliveTimer: Timer;
  private readonly newHandshake: Timer;
  private readonly zeroKeyMaterialTimer: Timer;
  private readonly persistentKeepalive: Timer;
  /** Fires when the oldest session reaches reject-after-time, to wipe it (not in wireguard-go). */
  private readonly keypairExpiry: Timer;

  constructor(
    readonly publicKey: Uint8Array,
    readonly cookies: CookieGenerator,
    clock: Clock,
    private readonly timing: Timing,
    private readonly host: PeerHost,
  ) {
    this.retransmitHandshake = new Timer(clock, () => this.expiredRetransmitHandshake());
    this.sendKeepaliveTimer = new Timer(clock, () => this.expiredSendKeepalive());
    this.newHandshake = new Timer(clock, () => this.expiredNewHandshake());
    this.zeroKeyMaterialTimer = new Timer(clock, () => this.host.zeroKeyMaterial(this));
    this.persistentKeepalive = new Timer(clock, () => this.expiredPersistentKeepalive());
    this.keypairExpiry = new Timer(clock, () => {
      const next = this.host.zeroExpiredKeypairs(this);
      if (next !== null) this.keypairExpiry.mod(next);
    });
  }

  readonly publicKeyHex = (): string => Buffer.from(this.publicKey).toString('hex');

  stage(p: StagedPacket): void {
    // Like wireguard-go: a full queue drops the oldest, so the newest data goes first.
    if (this.staged.length >= QUEUE_STAGED_SIZE) this.staged.shift();
    this.staged.push(p);
  }

  private jitter(): number {
    return Math.floor(Math.random() * this.timing.rekeyTimeoutJitterMax);
  }

  // --- timer events (named as in wireguard-go timers.go) ---

  /** A data packet (not a keepalive) was sent. */
  timersDataSent(): void {
    if (!this.newHandshake.pending) {
      this.newHandshake.mod(this.timing.keepaliveTimeout + this.timing.rekeyTimeout + this.jitter());
    }
  }

  /** A data packet (not a keepalive) was received. */
  timersDataReceived(): void {
    if (!this.sendKeepaliveTimer.pending) this.sendKeepaliveTimer.mod(this.timing.keepaliveTimeout);
    else this.needAnotherKeepalive = true;
  }

  timersAnyAuthenticatedPacketSent(): void {
    this.sendKeepaliveTimer.del();
  }

  timersAnyAuthenticatedPacketReceived(): void {
    this.newHandshake.del();
  }

  timersHandshakeInitiated(): void {
    this.retransmitHandshake.mod(this.timing.rekeyTimeout + this.jitter());
  }

  timersHandshakeComplete(nowWallMs: number): void {
    this.retransmitHandshake.del();
    this.handshakeAttempts = 0;
    this.sentLastMinuteHandshake = false;
    this.lastHandshakeMs = nowWallMs;
  }

  timersSessionDerived(): void {
    this.zeroKeyMaterialTimer.mod(this.timing.rejectAfterTime * 3);
    // A pending expiry is for an older session, hence sooner; it reschedules itself for the rest.
    if (!this.keypairExpiry.pending) this.keypairExpiry.mod(this.timing.rejectAfterTime);
  }

  timersAnyAuthenticatedPacketTraversal(): void {
    if (this.persistentKeepaliveInterval > 0) this.persistentKeepalive.mod(this.persistentKeepaliveInterval * 1000);
  }

  private expiredRetransmitHandshake(): void {
    if (this.handshakeAttempts > MAX_TIMER_HANDSHAKES(this.timing)) {
      // Gave up for now: drop what waited for this handshake; keys die later.
      this.sendKeepaliveTimer.del();
      this.staged = [];
      if (!this.zeroKeyMaterialTimer.pending) this.zeroKeyMaterialTimer.mod(this.timing.rejectAfterTime * 3);
      return;
    }
    this.handshakeAttempts++;
    this.host.sendHandshakeInitiation(this, true);
  }

  private expiredSendKeepalive(): void {
    this.host.sendKeepalive(this);
    if (this.needAnotherKeepalive) {
      this.needAnotherKeepalive = false;
      this.sendKeepaliveTimer.mod(this.timing.keepaliveTimeout);
    }
  }

  private expiredNewHandshake(): void {
    this.host.sendHandshakeInitiation(this, false);
  }

  private expiredPersistentKeepalive(): void {
    if (this.persistentKeepaliveInterval > 0) this.host.sendKeepalive(this);
  }

  /** Restarts the persistent keepalive after its interval changed (wg set ... persistent-keepalive). */
  persistentKeepaliveChanged(): void {
    if (this.persistentKeepaliveInterval > 0) this.persistentKeepalive.mod(this.persistentKeepaliveInterval * 1000);
    else this.persistentKeepalive.del();
  }

  stopTimers(): void {
    this.retransmitHandshake.stop();
    this.sendKeepaliveTimer.stop();
    this.newHandshake.stop();
    this.zeroKeyMaterialTimer.stop();
    this.persistentKeepalive.stop();
    this.keypairExpiry.stop();
  }

  allKeypairs(): Keypair[] {
    const out: Keypair[] = [];
    for (const k of [this.keypairs.previous, this.keypairs.current, this.keypairs.next]) if (k) out.push(k);
    return out;
  }

  /** For tests and `wgmpls show`: is a retransmit pending? */
  get handshakePending(): boolean {
    return this.retransmitHandshake.pending;
  }
}
