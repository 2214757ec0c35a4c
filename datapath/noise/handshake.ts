// Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s exactly as WireGuard runs it (whitepaper section
// 5.4.2-5.4.5). Pure functions over byte arrays: no clocks (time comes in as nowMs), no
// sockets, no peer tables. What the caller does around them (as wireguard-go's device does):
//  - before consumeInitiation/consumeResponse: check mac1 (and mac2 under load) with
//    CookieChecker, and rate-limit;
//  - after consumeInitiation: find the peer by peerPublic, reject a timestamp that is not
//    newer than the last accepted one from that peer (compareTai64n), optionally reject
//    initiations less than 20 ms apart, then createResponse with that peer's psk;
//  - before consumeResponse: find the InitiatorState by the response's receiver index;
//  - fill mac1/mac2 of outgoing handshake messages with CookieGenerator.addMacs.
// Ephemeral keys and the timestamp can be injected (tests, fixed vectors).
import type { KeyObject } from 'node:crypto';
import { hash, kdf } from '../crypto/blake2s';
import { dh, generatePrivateKey, importPrivateKey, publicKey as x25519Public } from '../crypto/x25519';
import { open, seal } from '../crypto/aead';
import { tai64n } from '../crypto/tai64n';
import {
  INIT_EPHEMERAL,
  INIT_SENDER,
  INIT_STATIC,
  INIT_STATIC_LEN,
  INIT_TIMESTAMP,
  INIT_TIMESTAMP_LEN,
  KEY_LEN,
  MessageInitiationSize,
  MessageInitiationType,
  MessageResponseSize,
  MessageResponseType,
  RESP_EMPTY,
  RESP_EMPTY_LEN,
  RESP_EPHEMERAL,
  RESP_RECEIVER,
  RESP_SENDER,
  TIMESTAMP_LEN,
  messageType,
  readU32LE,
  writeType,
  writeU32LE,
} from './messages';

const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

export const CONSTRUCTION = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
export const IDENTIFIER = 'WireGuard v1 zx2c4 Jason@zx2c4.com';
/** Ci = HASH(CONSTRUCTION) */
export const INITIAL_CHAIN_KEY: Uint8Array = hash(utf8(CONSTRUCTION));
/** Hi = HASH(Ci || IDENTIFIER) */
export const INITIAL_HASH: Uint8Array = hash(INITIAL_CHAIN_KEY, utf8(IDENTIFIER));

const ZERO_KEY = new Uint8Array(KEY_LEN);
const EMPTY = new Uint8Array(0);

function wipe(...bufs: (Uint8Array | null | undefined)[]): void {
  for (const b of bufs) if (b) b.fill(0);
}

/** The device's static key pair, with what can be precomputed from it. */
export class StaticIdentity {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** The imported private key, for node:crypto DH. */
  readonly keyObject: KeyObject;
  /** HASH(Hi || Spub): the responder's hash after mixing its own static key. */
  readonly responderHash: Uint8Array;

  constructor(privateKey: Uint8Array) {
    if (privateKey.length !== KEY_LEN) throw new RangeError('private key must be 32 bytes');
    this.privateKey = Uint8Array.from(privateKey);
    this.keyObject = importPrivateKey(this.privateKey);
    this.publicKey = x25519Public(this.keyObject);
    this.responderHash = hash(INITIAL_HASH, this.publicKey);
  }

  /**
   * Wipes the raw private key when this identity is replaced or dropped. The imported KeyObject
   * lives in OpenSSL's memory, which JS cannot reach; it goes with the object (docs/design.md
   * section 2, key material).
   */
  zero(): void {
    this.privateKey.fill(0);
  }

  /** DH(Spriv, peerPublic): the static-static secret to cache per peer; null if low-order. */
  sharedWith(peerPublic: Uint8Array): Uint8Array | null {
    return dh(this.keyObject, peerPublic);
  }
}

export interface SessionKeys {
  sendKey: Uint8Array;
  receiveKey: Uint8Array;
  /** Our index: receivers of our peer's data messages carry it. */
  localIndex: number;
  /** The peer's index: we put it in our data messages. */
  remoteIndex: number;
  isInitiator: boolean;
}

/** What the initiator keeps between createInitiation and consumeResponse. */
export interface InitiatorState {
  readonly peerPublic: Uint8Array;
  readonly localIndex: number;
  /** Unencrypted timestamp that went into the initiation. */
  readonly timestamp: Uint8Array;
  /** Noise hash H and chaining key C after the initiation (zeroed once consumed). */
  hash: Uint8Array;
  chainKey: Uint8Array;
  ephemeralPublic: Uint8Array;
  /** Imported ephemeral private key; dropped once consumed. */
  ephemeral: KeyObject | null;
  consumed: boolean;
}

/** What the responder keeps between consumeInitiation and createResponse. */
export interface ResponderState {
  readonly peerPublic: Uint8Array;
  /** The initiator's sender index: our response's receiver index. */
  readonly remoteIndex: number;
  readonly remoteEphemeral: Uint8Array;
  hash: Uint8Array;
  chainKey: Uint8Array;
  consumed: boolean;
}

export interface InitiationOptions {
  /** Precomputed DH(local static, peer static) (StaticIdentity.sharedWith), cached per peer. */
  precomputedSs?: Uint8Array;
  /** Fixed ephemeral private key (tests); a fresh random one otherwise. */
  ephemeralPrivate?: Uint8Array;
  /** Fixed 12-byte TAI64N timestamp (tests); tai64n(nowMs) otherwise. */
  timestamp?: Uint8Array;
}

export interface ConsumeInitiationOptions {
  /**
   * Called with the decrypted initiator static key: return that peer's cached static-static
   * secret, undefined to have it computed, or null to reject (unknown peer) before the
   * timestamp is decrypted.
   */
  precomputedSs?: (peerPublic: Uint8Array) => Uint8Array | null | undefined;
}

export interface ResponseOptions {
  /** Fixed ephemeral private key (tests); a fresh random one otherwise. */
  ephemeralPrivate?: Uint8Array;
}

export interface ConsumedInitiation {
  peerPublic: Uint8Array;
  /** The decrypted TAI64N timestamp: the caller's replay check. */
  timestamp: Uint8Array;
  /** The initiator's index. */
  senderIndex: number;
  state: ResponderState;
}

function ephemeralKey(fixed: Uint8Array | undefined): { handle: KeyObject; pub: Uint8Array } {
  const priv = fixed ? Uint8Array.from(fixed) : generatePrivateKey();
  const handle = importPrivateKey(priv);
  priv.fill(0);
  return { handle, pub: x25519Public(handle) };
}

/**
 * Builds a handshake initiation (148 bytes, mac1/mac2 left zero) to the peer with static
 * key peerPublic. Returns null when the peer key is unusable (a low-order point: DH is
 * all zeros). The psk only enters at the response (consumeResponse).
 */
export function createInitiation(
  local: StaticIdentity,
  peerPublic: Uint8Array,
  senderIndex: number,
  nowMs: number,
  opts: InitiationOptions = {},
): { message: Uint8Array; state: InitiatorState } | null {
  if (peerPublic.length !== KEY_LEN) return null;
  const ss = opts.precomputedSs ?? local.sharedWith(peerPublic);
  if (ss === null) return null;
  const eph = ephemeralKey(opts.ephemeralPrivate);
  const es = dh(eph.handle, peerPublic);
  if (es === null) return null;

  const msg = new Uint8Array(MessageInitiationSize);
  writeType(msg, MessageInitiationType);
  writeU32LE(msg, INIT_SENDER, senderIndex >>> 0);
  msg.set(eph.pub, INIT_EPHEMERAL);

  let h = hash(INITIAL_HASH, peerPublic);
  let [ck] = kdf(1, INITIAL_CHAIN_KEY, eph.pub);
  h = hash(h, eph.pub);

  // es
  let k: Uint8Array;
  [ck, k] = kdf(2, ck, es);
  const encStatic = seal(k, 0, local.publicKey, h);
  msg.set(encStatic, INIT_STATIC);
  h = hash(h, encStatic);
  wipe(k, es);

  // ss
  [ck, k] = kdf(2, ck, ss);
  const timestamp = opts.timestamp ? Uint8Array.from(opts.timestamp) : tai64n(nowMs);
  if (timestamp.length !== TIMESTAMP_LEN) throw new RangeError('timestamp must be 12 bytes');
  const encTimestamp = seal(k, 0, timestamp, h);
  msg.set(encTimestamp, INIT_TIMESTAMP);
  h = hash(h, encTimestamp);
  wipe(k);
  if (opts.precomputedSs === undefined) wipe(ss);

  return {
    message: msg,
    state: {
      peerPublic: Uint8Array.from(peerPublic),
      localIndex: senderIndex >>> 0,
      timestamp,
      hash: h,
      chainKey: ck,
      ephemeralPublic: eph.pub,
      ephemeral: eph.handle,
      consumed: false,
    },
  };
}

/**
 * Decrypts a handshake initiation addressed to local. Null on any failure (wrong type or
 * size, low-order ephemeral, not encrypted to us, peer rejected by opts.precomputedSs,
 * tampered timestamp). Does not check macs, timestamps or rates: see the file comment.
 */
export function consumeInitiation(
  local: StaticIdentity,
  message: Uint8Array,
  opts: ConsumeInitiationOptions = {},
): ConsumedInitiation | null {
  if (messageType(message) !== MessageInitiationType) return null;
  const ephemeral = message.slice(INIT_EPHEMERAL, INIT_EPHEMERAL + KEY_LEN);
  const encStatic = message.subarray(INIT_STATIC, INIT_STATIC + INIT_STATIC_LEN);
  const encTimestamp = message.subarray(INIT_TIMESTAMP, INIT_TIMESTAMP + INIT_TIMESTAMP_LEN);

  let h = hash(local.responderHash, ephemeral);
  let [ck] = kdf(1, INITIAL_CHAIN_KEY, ephemeral);

  const es = dh(local.keyObject, ephemeral);
  if (es === null) return null;
  let k: Uint8Array;
  [ck, k] = kdf(2, ck, es);
  wipe(es);
  const opened = open(k, 0, encStatic, h);
  wipe(k);
  if (opened === null) return fail(ck);
  const peerPublic = Uint8Array.from(opened);
  h = hash(h, encStatic);

  const cached = opts.precomputedSs ? opts.precomputedSs(peerPublic) : undefined;
  if (cached === null) return fail(ck);
  const ss = cached ?? local.sharedWith(peerPublic);
  if (ss === null) return fail(ck);
  [ck, k] = kdf(2, ck, ss);
  if (cached === undefined) wipe(ss);
  const ts = open(k, 0, encTimestamp, h);
  wipe(k);
  if (ts === null) return fail(ck);
  const timestamp = Uint8Array.from(ts);
  h = hash(h, encTimestamp);

  const senderIndex = readU32LE(message, INIT_SENDER);
  return {
    peerPublic,
    timestamp,
    senderIndex,
    state: { peerPublic, remoteIndex: senderIndex, remoteEphemeral: ephemeral, hash: h, chainKey: ck, consumed: false },
  };
}

function fail(...secrets: Uint8Array[]): null {
  wipe(...secrets);
  return null;
}

/** psk || zeros: WireGuard mixes 32 zero bytes when no preshared key is set. */
function pskOrZero(psk: Uint8Array | null | undefined): Uint8Array {
  if (psk === null || psk === undefined) return ZERO_KEY;
  if (psk.length !== KEY_LEN) throw new RangeError('preshared key must be 32 bytes');
  return psk;
}

/**
 * Builds the handshake response (92 bytes, macs zero) to a consumed initiation and derives
 * the responder's session keys. The state is wiped and cannot be used again.
 */
export function createResponse(
  state: ResponderState,
  psk: Uint8Array | null | undefined,
  senderIndex: number,
  opts: ResponseOptions = {},
): { message: Uint8Array; keys: SessionKeys } {
  if (state.consumed) throw new Error('createResponse: responder state already used');
  const q = pskOrZero(psk);
  const eph = ephemeralKey(opts.ephemeralPrivate);
  // Both DHs are non-zero whenever consumeInitiation succeeded: a low-order remote
  // ephemeral or static key already made es or ss zero there.
  const ee = dh(eph.handle, state.remoteEphemeral);
  const se = dh(eph.handle, state.peerPublic);
  if (ee === null || se === null) throw new Error('createResponse: low-order key after a valid initiation');

  const msg = new Uint8Array(MessageResponseSize);
  writeType(msg, MessageResponseType);
  writeU32LE(msg, RESP_SENDER, senderIndex >>> 0);
  writeU32LE(msg, RESP_RECEIVER, state.remoteIndex);
  msg.set(eph.pub, RESP_EPHEMERAL);

  let h = hash(state.hash, eph.pub);
  let [ck] = kdf(1, state.chainKey, eph.pub);
  [ck] = kdf(1, ck, ee);
  [ck] = kdf(1, ck, se);
  wipe(ee, se);
  const [ck2, tau, k] = kdf(3, ck, q);
  h = hash(h, tau);
  const encEmpty = seal(k, 0, EMPTY, h);
  msg.set(encEmpty, RESP_EMPTY);
  const [receiveKey, sendKey] = kdf(2, ck2, EMPTY);
  wipe(ck, ck2, tau, k, h, state.hash, state.chainKey);
  state.consumed = true;
  return {
    message: msg,
    keys: { sendKey, receiveKey, localIndex: senderIndex >>> 0, remoteIndex: state.remoteIndex, isInitiator: false },
  };
}

/**
 * Consumes the response to our initiation and derives the initiator's session keys. Null on
 * any failure (wrong type/size, receiver index not state.localIndex, wrong psk, not from
 * the peer, tampered); the state then stays usable for a genuine response. On success the
 * state is wiped and further calls return null.
 */
export function consumeResponse(
  state: InitiatorState,
  local: StaticIdentity,
  psk: Uint8Array | null | undefined,
  message: Uint8Array,
): SessionKeys | null {
  if (state.consumed || state.ephemeral === null) return null;
  if (messageType(message) !== MessageResponseType) return null;
  if (readU32LE(message, RESP_RECEIVER) !== state.localIndex) return null;
  const q = pskOrZero(psk);
  const ephemeral = message.subarray(RESP_EPHEMERAL, RESP_EPHEMERAL + KEY_LEN);
  const encEmpty = message.subarray(RESP_EMPTY, RESP_EMPTY + RESP_EMPTY_LEN);

  const ee = dh(state.ephemeral, ephemeral);
  if (ee === null) return null;
  const se = dh(local.keyObject, ephemeral);
  if (se === null) return fail(ee);

  let h = hash(state.hash, ephemeral);
  let [ck] = kdf(1, state.chainKey, ephemeral);
  [ck] = kdf(1, ck, ee);
  [ck] = kdf(1, ck, se);
  wipe(ee, se);
  const [ck2, tau, k] = kdf(3, ck, q);
  h = hash(h, tau);
  const ok = open(k, 0, encEmpty, h) !== null;
  wipe(ck, tau, k, h);
  if (!ok) return fail(ck2);

  const [sendKey, receiveKey] = kdf(2, ck2, EMPTY);
  wipe(ck2, state.hash, state.chainKey);
  state.ephemeral = null;
  state.consumed = true;
  return {
    sendKey,
    receiveKey,
    localIndex: state.localIndex,
    remoteIndex: readU32LE(message, RESP_SENDER),
    isInitiator: true,
  };
}
