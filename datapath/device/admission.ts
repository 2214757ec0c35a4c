// Which handshake messages get as far as the (expensive) Noise computations: mac1 always; under
// load also mac2, answered with a cookie reply when missing, and a per-source rate limit. This is
// the part of wireguard-go's receive.go that guards its handshake queue.
import { UNDER_LOAD_AFTER_TIME, UNDER_LOAD_HANDSHAKES_PER_SECOND } from './constants';
import { Endpoint } from './config';
import { DeviceState } from './state';
import { addrPortBytes } from '../conn/addr';
import { RateLimiter } from '../noise/rateLimiter';

export class HandshakeAdmission {
  private readonly rateLimiter = new RateLimiter();
  private loadWindowStart = 0;
  private loadWindowCount = 0;
  private underLoadUntil = -Infinity;

  /** forceUnderLoad: a test hook, cookies required whatever the handshake rate. */
  constructor(
    private readonly d: DeviceState,
    private readonly forceUnderLoad: boolean,
  ) {}

  private underLoad(): boolean {
    if (this.forceUnderLoad) return true;
    const now = this.d.clock.now();
    if (now - this.loadWindowStart >= 1000) {
      this.loadWindowStart = now;
      this.loadWindowCount = 0;
    }
    if (++this.loadWindowCount > UNDER_LOAD_HANDSHAKES_PER_SECOND) this.underLoadUntil = now + UNDER_LOAD_AFTER_TIME;
    return now < this.underLoadUntil;
  }

  /** True when the message may be processed; otherwise it was counted (and maybe answered). */
  admit(msg: Buffer, src: Endpoint, senderIndex: number): boolean {
    const d = this.d;
    if (!d.cookieChecker || !d.cookieChecker.checkMac1(msg)) {
      d.counters.drop('bad-mac1');
      return false;
    }
    if (!this.underLoad()) return true;
    const now = d.clock.now();
    const srcBytes = addrPortBytes(src.address, src.port);
    if (!d.cookieChecker.checkMac2(msg, srcBytes, now)) {
      const reply = d.cookieChecker.createReply(msg, senderIndex, srcBytes, now);
      d.io.sendUdp(Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength), src);
      d.counters.drop('cookie-required');
      return false;
    }
    if (!this.rateLimiter.allow(srcBytes.subarray(0, srcBytes.length - 2), now)) {
      d.counters.drop('rate-limited');
      return false;
    }
    return true;
  }
}
