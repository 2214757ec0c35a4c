// mac1 / mac2 and cookie replies (whitepaper section 5.4.4 and 5.4.7; wireguard-go
// device/cookie.go). Time is injected as nowMs.
//
//  mac1 = MAC(HASH("mac1----" || Spub_receiver), msg[0 : len-32])
//  mac2 = MAC(cookie, msg[0 : len-16]), or zeros without a fresh cookie
//  cookie = MAC(Rsecret, source address bytes), Rsecret random, replaced every 120 s
//  reply = type 3 || 3 zero || receiver index || nonce(24) ||
//          XAEAD(HASH("cookie--" || Spub_responder), nonce, cookie, ad = mac1 of msg)
//
// The source bytes are opaque here: whatever the responder uses must just be stable per
// source (the responder is the only one to recompute the cookie). wireguard-go uses its
// endpoint's DstToBytes (netip.AddrPort.MarshalBinary: IP bytes, then the port
// little-endian); this project uses IP bytes || port u16 big-endian. Either is fine.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hash, mac } from '../crypto/blake2s';
import { xopen, xseal } from '../crypto/aead';
import {
  COOKIE_COOKIE,
  COOKIE_COOKIE_LEN,
  COOKIE_NONCE,
  COOKIE_NONCE_LEN,
  COOKIE_RECEIVER,
  MAC_LEN,
  MessageCookieReplySize,
  MessageCookieReplyType,
  MessageInitiationType,
  MessageResponseType,
  mac1Offset,
  mac2Offset,
  messageType,
  writeType,
  writeU32LE,
} from './messages';

/** Lifetime of a cookie (initiator) and of the responder's cookie secret. */
export const COOKIE_REFRESH_TIME_MS = 120_000;

const LABEL_MAC1 = new Uint8Array(Buffer.from('mac1----', 'ascii'));
const LABEL_COOKIE = new Uint8Array(Buffer.from('cookie--', 'ascii'));

/** HASH("mac1----" || publicKey) */
export function mac1Key(publicKey: Uint8Array): Uint8Array {
  return hash(LABEL_MAC1, publicKey);
}

/** HASH("cookie--" || publicKey) */
export function cookieKey(publicKey: Uint8Array): Uint8Array {
  return hash(LABEL_COOKIE, publicKey);
}

function isHandshake(msg: Uint8Array): boolean {
  const t = messageType(msg);
  return t === MessageInitiationType || t === MessageResponseType;
}

function equal16(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export type RandomSource = (n: number) => Uint8Array;
const defaultRandom: RandomSource = (n) => new Uint8Array(randomBytes(n));

/** Responder side: one per device, for the device's own public key. */
export class CookieChecker {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private readonly secret = new Uint8Array(32);
  private secretSetMs = Number.NEGATIVE_INFINITY;
  private readonly random: RandomSource;

  constructor(publicKey: Uint8Array, random: RandomSource = defaultRandom) {
    this.mac1Key = mac1Key(publicKey);
    this.cookieKey = cookieKey(publicKey);
    this.random = random;
  }

  /** True when msg is an initiation or response whose mac1 is valid for our key. */
  checkMac1(msg: Uint8Array): boolean {
    if (!isHandshake(msg)) return false;
    const m1 = mac1Offset(msg.length);
    return equal16(mac(this.mac1Key, msg.subarray(0, m1)), msg.subarray(m1, m1 + MAC_LEN));
  }

  /**
   * True when msg carries a valid mac2 for a cookie we gave src within the current secret's
   * lifetime. Call after checkMac1 (it does not check mac1).
   */
  checkMac2(msg: Uint8Array, src: Uint8Array, nowMs: number): boolean {
    if (!isHandshake(msg)) return false;
    if (!this.secretFresh(nowMs)) return false;
    const cookie = mac(this.secret, src);
    const m2 = mac2Offset(msg.length);
    return equal16(mac(cookie, msg.subarray(0, m2)), msg.subarray(m2, m2 + MAC_LEN));
  }

  /** Replaces the cookie secret (createReply does it by itself once it is 120 s old). */
  rotate(nowMs: number): void {
    this.secret.set(this.random(32));
    this.secretSetMs = nowMs;
  }

  /**
   * The 64-byte cookie reply to a handshake message msg from src (whose mac1 should have
   * been checked); receiverIndex is the sender index found in msg.
   */
  createReply(msg: Uint8Array, receiverIndex: number, src: Uint8Array, nowMs: number): Uint8Array {
    if (!isHandshake(msg)) throw new Error('createReply: not a handshake message');
    if (!this.secretFresh(nowMs)) this.rotate(nowMs);
    const cookie = mac(this.secret, src);
    const nonce = this.random(COOKIE_NONCE_LEN);
    const m1 = mac1Offset(msg.length);
    const sealed = xseal(this.cookieKey, nonce, cookie, msg.subarray(m1, m1 + MAC_LEN));
    cookie.fill(0);
    const out = new Uint8Array(MessageCookieReplySize);
    writeType(out, MessageCookieReplyType);
    writeU32LE(out, COOKIE_RECEIVER, receiverIndex >>> 0);
    out.set(nonce, COOKIE_NONCE);
    out.set(sealed, COOKIE_COOKIE);
    return out;
  }

  private secretFresh(nowMs: number): boolean {
    return nowMs - this.secretSetMs <= COOKIE_REFRESH_TIME_MS;
  }
}

/** Initiator side: one per peer, for the PEER's public key. */
export class CookieGenerator {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private cookie: Uint8Array | null = null;
  private cookieSetMs = Number.NEGATIVE_INFINITY;
  private lastMac1: Uint8Array | null = null;

  constructor(peerPublicKey: Uint8Array) {
    this.mac1Key = mac1Key(peerPublicKey);
    this.cookieKey = cookieKey(peerPublicKey);
  }

  /**
   * Writes mac1, and mac2 when we hold a cookie younger than 120 s (zeros otherwise), into
   * the handshake message msg in place; remembers mac1 for consumeReply.
   */
  addMacs(msg: Uint8Array, nowMs: number): void {
    if (!isHandshake(msg)) throw new Error('addMacs: not a handshake message');
    const m1 = mac1Offset(msg.length);
    const m2 = mac2Offset(msg.length);
    const mac1 = mac(this.mac1Key, msg.subarray(0, m1));
    msg.set(mac1, m1);
    this.lastMac1 = mac1;
    if (this.cookie !== null && nowMs - this.cookieSetMs <= COOKIE_REFRESH_TIME_MS) {
      msg.set(mac(this.cookie, msg.subarray(0, m2)), m2);
    } else {
      msg.fill(0, m2, m2 + MAC_LEN);
    }
  }

  /**
   * Decrypts a cookie reply to the last message we added macs to and keeps its cookie.
   * False when there is no such message or the reply does not decrypt (the caller has
   * matched the reply's receiver index to this peer).
   */
  consumeReply(reply: Uint8Array, nowMs: number): boolean {
    if (this.lastMac1 === null || messageType(reply) !== MessageCookieReplyType) return false;
    const nonce = reply.subarray(COOKIE_NONCE, COOKIE_NONCE + COOKIE_NONCE_LEN);
    const sealed = reply.subarray(COOKIE_COOKIE, COOKIE_COOKIE + COOKIE_COOKIE_LEN);
    const cookie = xopen(this.cookieKey, nonce, sealed, this.lastMac1);
    if (cookie === null) return false;
    if (this.cookie !== null) this.cookie.fill(0);
    this.cookie = Uint8Array.from(cookie);
    this.cookieSetMs = nowMs;
    return true;
  }

  /** True while a cookie received within the last 120 s is held. */
  hasFreshCookie(nowMs: number): boolean {
    return this.cookie !== null && nowMs - this.cookieSetMs <= COOKIE_REFRESH_TIME_MS;
  }
}
