// The userspace label-switching router of one namespace, as seen from one of its endpoints:
// ILM processing of labelled frames (swap, pop, swap+push, PHP, explicit null, TTL expiry with
// ICMP) and FTN processing of IP packets (push). Pure: it decides, the caller does the I/O.
import { AllowedIps } from '../device/allowedIps';
import {
  LSE_SIZE,
  MplsLabel,
  lowerIpv4Ttl,
  lseBos,
  lseLabel,
  lseTc,
  lseTtl,
  makeLse,
  writeLse,
} from '../mpls/wire';
import { timeExceededV4, timeExceededV6 } from './icmp';
import { IcmpRateLimiter } from './icmpRateLimit';
import { IpRoute, LsrSettings, LsrTable, MplsRoute, NextHop, defaultSettings } from './model';

export type LsrDrop =
  | 'ttl-expired'
  | 'no-route'
  | 'router-alert'
  | 'implicit-null-on-wire'
  | 'reserved-label'
  | 'malformed'
  | 'explicit-null-not-bottom'
  | 'stack-too-deep'
  /** Not a dropped frame: a time-exceeded reply not sent because of net.mpls.icmp_ratelimit. */
  | 'icmp-rate-limited';

/** What to do with a packet after switching. */
export type Egress =
  | { kind: 'mpls'; dev: string; via: NextHop | null; frame: Buffer; multicast: boolean }
  | { kind: 'ip'; dev: string; via: NextHop | null; packet: Buffer }
  | { kind: 'local'; packet: Buffer };

export interface RouteCounters {
  packets: number;
  bytes: number;
  ttlExpired: number;
}

export interface LsrHost {
  /** Sends the result on; `dev` may be this endpoint's own TUN or a sibling's. */
  egress(e: Egress): void;
  /**
   * A run of switched frames to one next hop, in place in buf (desc: offset, length, ethertype
   * per frame; all share their new outer entry). Optional: otherwise each goes to egress().
   */
  egressMplsRun?(dev: string, via: NextHop | null, buf: Buffer, desc: Uint32Array, count: number, multicast: boolean): void;
  /** IP packets for our own stack, in place in buf (desc as above). Optional: otherwise each goes to egress(). */
  egressLocalRun?(buf: Buffer, desc: Uint32Array, count: number): void;
  drop(reason: LsrDrop): void;
  /** An address of ours to answer from (ICMP source), preferably on `dev`. */
  localAddress(family: 4 | 6, dev: string): Uint8Array | null;
}

/** Enough labels for any sane stack; a frame deeper than this is refused, not walked. */
const MAX_STACK_WALK = 64;


function ipVersion(b: Uint8Array, off: number): 4 | 6 | 0 {
  if (b.length - off >= 20 && b[off] >> 4 === 4) return 4;
  if (b.length - off >= 40 && b[off] >> 4 === 6) return 6;
  return 0;
}

export class Lsr {
  private ilm = new Map<number, MplsRoute>();
  private ftn = new AllowedIps<IpRoute>();
  private settings: LsrSettings = defaultSettings;
  readonly routeCounters = new Map<number, RouteCounters>();
  private readonly icmpLimit: IcmpRateLimiter;
  /** Descriptors of the run being switched (handleFrameRun), reused. */
  private runDesc = new Uint32Array(3 * 1024);

  constructor(
    /** The interface this endpoint serves (where locally delivered packets go up); it changes when Docker moves the TUN. */
    public ifname: string,
    private readonly host: LsrHost,
    /** Milliseconds, for the ICMP rate limit; injected so the tests can use a fake clock. */
    now: () => number = () => performance.now(),
  ) {
    this.icmpLimit = new IcmpRateLimiter(now);
  }

  /** Replaces the tables all at once: everything is built before anything is swapped in. */
  load(table: LsrTable): void {
    const ilm = new Map(table.mpls.map((r) => [r.label, r]));
    const ftn = new AllowedIps<IpRoute>();
    for (const r of table.ip) ftn.insert(r.prefix, r);
    const settings = { ...defaultSettings, ...table.settings };
    this.ilm = ilm;
    this.ftn = ftn;
    this.settings = settings;
  }

  /**
   * FTN: an IP packet from the local stack. Returns false when no MPLS route covers its
   * destination (it then goes as plain WireGuard, type 4).
   */
  handleIpFromStack(packet: Buffer): boolean {
    const v = ipVersion(packet, 0);
    if (v === 0) return false;
    const route = v === 4 ? this.ftn.lookup(packet, 16, 4) : this.ftn.lookup(packet, 24, 6);
    if (!route) return false;
    const s = this.settings;
    const ipTtl = v === 4 ? packet[8] : packet[7];
    const ttl = s.ttlPropagate ? ipTtl : s.defaultTtl;
    const tc = s.mapPrecedence ? (v === 4 ? packet[1] >> 5 : ((packet[0] & 0x0f) << 4 | packet[1] >> 4) >> 5) : 0;
    const labels = route.labels.filter((l) => l !== MplsLabel.IMPLICIT_NULL);
    if (labels.length === 0) {
      this.host.egress({ kind: 'ip', dev: route.dev, via: route.via, packet });
      return true;
    }
    const frame = Buffer.allocUnsafe(labels.length * 4 + packet.length);
    labels.forEach((l, i) => writeLse(frame, i * LSE_SIZE, makeLse(l, tc, i === labels.length - 1 ? 1 : 0, ttl)));
    packet.copy(frame, labels.length * 4);
    this.host.egress({ kind: 'mpls', dev: route.dev, via: route.via, frame, multicast: false });
    return true;
  }

  /**
   * FTN for the segments of one superpacket (one destination, one TOS): the route and, when it
   * pushes exactly one label, that entry's upper 24 bits (label, TC, bottom of stack) as the
   * header carries them; null when no MPLS route covers the destination.
   */
  ftnGroup(packet: Buffer): { route: IpRoute; lse24: number | null } | null {
    const v = ipVersion(packet, 0);
    if (v === 0) return null;
    const route = v === 4 ? this.ftn.lookup(packet, 16, 4) : this.ftn.lookup(packet, 24, 6);
    if (!route) return null;
    const labels = route.labels.filter((l) => l !== MplsLabel.IMPLICIT_NULL);
    if (labels.length !== 1) return { route, lse24: null };
    const tc = this.settings.mapPrecedence ? (v === 4 ? packet[1] >> 5 : (((packet[0] & 0x0f) << 4) | (packet[1] >> 4)) >> 5) : 0;
    return { route, lse24: (makeLse(labels[0], tc, 1, 0) >>> 8) & 0xffffff };
  }

  /**
   * ILM for a run of received frames sharing their outer entry but for its TTL (one message
   * header), in place in buf (desc: offset, length, ethertype). The common cases go on as a run:
   * a swap to one label, and a pop at the bottom of the stack to our own stack; frames whose
   * TTL expires, and every other route, take handleFrame one by one.
   */
  handleFrameRun(buf: Buffer, desc: Uint32Array, n: number, multicast: boolean, inDev: string): void {
    const off0 = desc[0];
    const label = lseLabel(buf, off0);
    const route = label >= MplsLabel.FIRST_UNRESERVED ? this.ilm.get(label) : undefined;
    const out = route ? route.outLabels.filter((l) => l !== MplsLabel.IMPLICIT_NULL) : [];
    const bos = lseBos(buf, off0);
    const popLocal = route !== undefined && out.length === 0 && bos === 1 && route.dev === 'lo';
    const swap = route !== undefined && out.length === 1 && route.dev !== 'lo' && (this.host.egressMplsRun !== undefined);
    if (!route || !(popLocal || swap) || (popLocal && this.host.egressLocalRun === undefined)) {
      for (let k = 0; k < n; k++) this.handleFrame(buf.subarray(desc[3 * k], desc[3 * k] + desc[3 * k + 1]), multicast, inDev);
      return;
    }
    const tc = lseTc(buf, off0);
    const run = this.runDesc.length >= n * 3 ? this.runDesc : (this.runDesc = new Uint32Array(n * 3));
    let m = 0;
    let bytes = 0;
    for (let k = 0; k < n; k++) {
      const off = desc[3 * k];
      const len = desc[3 * k + 1];
      const ttl = lseTtl(buf, off);
      if (ttl <= 1 || (!bos && len < 8)) {
        this.handleFrame(buf.subarray(off, off + len), multicast, inDev);
        continue;
      }
      bytes += len;
      if (popLocal) {
        const version = buf[off + 4] >> 4;
        const v = version === 4 && len - 4 >= 20 ? 4 : version === 6 && len - 4 >= 40 ? 6 : 0;
        if (v === 0) {
          this.host.drop('malformed');
          continue;
        }
        this.egressIpAt(buf, off + 4, v, ttl - 1, tc);
        run[3 * m] = off + 4;
        run[3 * m + 1] = len - 4;
        run[3 * m + 2] = v === 4 ? 0x0800 : 0x86dd;
      } else {
        writeLse(buf, off, makeLse(out[0], tc, bos, ttl - 1));
        run[3 * m] = off;
        run[3 * m + 1] = len;
        run[3 * m + 2] = desc[3 * k + 2];
      }
      m++;
    }
    if (m === 0) return;
    const c = this.routeCounters.get(label);
    if (c) {
      c.packets += m;
      c.bytes += bytes;
    } else this.routeCounters.set(label, { packets: m, bytes, ttlExpired: 0 });
    if (popLocal) this.host.egressLocalRun?.(buf, run, m);
    else this.host.egressMplsRun?.(route.dev, route.via, buf, run, m, multicast);
  }

  /** ILM: a labelled frame that arrived (from a peer, or handed over by a sibling endpoint). */
  handleFrame(frame: Buffer, multicast: boolean, inDev: string): void {
    let off = 0;
    // The TTL popped explicit nulls hand down (uniform model), kept aside rather than written
    // into the frame: an ICMP error must quote the stack exactly as it was received.
    let carry = 255;
    for (let depth = 0; ; depth++) {
      if (depth >= MAX_STACK_WALK) return this.host.drop('stack-too-deep');
      if (frame.length - off < 4) return this.host.drop('malformed');
      const label = lseLabel(frame, off);
      const tc = lseTc(frame, off);
      const bos = lseBos(frame, off);
      const ttl = Math.min(lseTtl(frame, off), carry);
      if (!bos && frame.length - off < 8) return this.host.drop('malformed');

      if (label < MplsLabel.FIRST_UNRESERVED) {
        if (label === MplsLabel.IPV4_EXPLICIT_NULL || label === MplsLabel.IPV6_EXPLICIT_NULL) {
          // RFC 4182: pop, and go on with what is below, whether a label or the IP packet.
          if (ttl <= 1) return this.expire(frame, off, inDev, null);
          if (!bos) {
            if (!this.settings.rfc4182) return this.host.drop('explicit-null-not-bottom');
            off += 4;
            if (this.settings.ttlPropagate) carry = ttl - 1;
            continue;
          }
          return this.deliverLocal(frame.subarray(off + 4), ttl - 1, tc);
        }
        if (label === MplsLabel.ROUTER_ALERT) return this.host.drop('router-alert');
        if (label === MplsLabel.IMPLICIT_NULL) return this.host.drop('implicit-null-on-wire');
        return this.host.drop('reserved-label');
      }

      const route = this.ilm.get(label);
      if (!route) return this.host.drop('no-route');
      if (ttl <= 1) return this.expire(frame, off, inDev, route);
      this.count(label, frame.length - off);
      return this.forward(frame, off, route, tc, bos, ttl - 1, multicast);
    }
  }

  private count(label: number, bytes: number): void {
    const c = this.routeCounters.get(label);
    if (c) {
      c.packets++;
      c.bytes += bytes;
    } else this.routeCounters.set(label, { packets: 1, bytes, ttlExpired: 0 });
  }

  private lowerLabelTtl(frame: Buffer, off: number, ttl: number): void {
    if (frame[off + 3] > ttl) frame[off + 3] = ttl;
  }

  /** Swap (and push), or pop, then send on. `off` is where the top entry starts. */
  private forward(frame: Buffer, off: number, route: MplsRoute, tc: number, bos: number, newTtl: number, multicast: boolean): void {
    const out = route.outLabels.filter((l) => l !== MplsLabel.IMPLICIT_NULL);
    const rest = off + 4;
    if (out.length === 0) {
      // Pop. At the bottom the payload is IP (PHP or egress); otherwise the next label leads.
      if (bos) {
        const v = ipVersion(frame, rest);
        if (v === 0) return this.host.drop('malformed');
        const packet = frame.subarray(rest);
        this.egressIp(packet, v, newTtl, tc);
        if (route.dev === 'lo') return this.host.egress({ kind: 'local', packet });
        return this.host.egress({ kind: 'ip', dev: route.dev, via: route.via, packet });
      }
      if (this.settings.ttlPropagate) this.lowerLabelTtl(frame, rest, newTtl);
      if (route.dev === 'lo') return this.handleFrame(frame.subarray(rest), multicast, this.ifname);
      return this.host.egress({ kind: 'mpls', dev: route.dev, via: route.via, frame: frame.subarray(rest), multicast });
    }
    const below = frame.length - rest;
    const result = Buffer.allocUnsafe(out.length * 4 + below);
    out.forEach((l, i) => writeLse(result, i * LSE_SIZE, makeLse(l, tc, i === out.length - 1 ? bos : 0, newTtl)));
    frame.copy(result, out.length * 4, rest);
    if (route.dev === 'lo') return this.handleFrame(result, multicast, this.ifname);
    this.host.egress({ kind: 'mpls', dev: route.dev, via: route.via, frame: result, multicast });
  }

  /** Leaving the LSP: the uniform model copies the label TTL into IP, TC into precedence. */
  private egressIp(packet: Buffer, v: 4 | 6, labelTtl: number, tc: number): void {
    this.egressIpAt(packet, 0, v, labelTtl, tc);
  }

  /** egressIp for the packet at buf[off] (no view allocated: the run path calls it per packet). */
  private egressIpAt(buf: Buffer, off: number, v: 4 | 6, labelTtl: number, tc: number): void {
    const s = this.settings;
    if (v === 4) {
      if (s.ttlPropagate) lowerIpv4Ttl(buf, off, labelTtl);
      if (s.mapPrecedence) setIpv4Precedence(buf, tc, off);
    } else {
      if (s.ttlPropagate && buf[off + 7] > labelTtl) buf[off + 7] = labelTtl;
      if (s.mapPrecedence) {
        const tclass = ((buf[off] & 0x0f) << 4) | (buf[off + 1] >> 4);
        const next = (tclass & 0x1f) | (tc << 5);
        buf[off] = (buf[off] & 0xf0) | (next >> 4);
        buf[off + 1] = (buf[off + 1] & 0x0f) | ((next & 0x0f) << 4);
      }
    }
  }

  private deliverLocal(packet: Buffer, ttl: number, tc: number): void {
    const v = ipVersion(packet, 0);
    if (v === 0) return this.host.drop('malformed');
    this.egressIp(packet, v, ttl, tc);
    this.host.egress({ kind: 'local', packet });
  }

  /**
   * TTL expiry at this LSR: drop, count, and (icmpRespond) answer with time exceeded carrying
   * the received label stack (RFC 4950): by our own label route to the source when we have
   * one, else onwards along the LSP (RFC 3032 2.3.2) so the egress routes it back; without
   * either it goes up our own stack.
   */
  private expire(frame: Buffer, off: number, inDev: string, route: MplsRoute | null): void {
    this.host.drop('ttl-expired');
    if (route) {
      const c = this.routeCounters.get(route.label);
      if (c) c.ttlExpired++;
      else this.routeCounters.set(route.label, { packets: 0, bytes: 0, ttlExpired: 1 });
    }
    if (!this.settings.icmpRespond) return;
    let end = off;
    for (let i = 0; i < MAX_STACK_WALK; i++) {
      if (frame.length - end < 4) return;
      const bos = frame[end + 2] & 1;
      end += 4;
      if (bos) break;
    }
    const original = frame.subarray(end);
    const v = ipVersion(original, 0);
    if (v === 0) return;
    const source = this.host.localAddress(v, inDev);
    if (!source) return;
    // RFC 4950: the whole stack as received, explicit nulls already popped included.
    const stack = frame.subarray(0, end);
    const icmp = v === 4 ? timeExceededV4({ original, source, labelStack: stack }) : timeExceededV6({ original, source, labelStack: stack });
    if (!icmp) return;
    // Rate-limited per destination of the reply (the expired packet's source), as Linux does;
    // only replies that would really be sent take tokens.
    const dest = v === 4 ? original.subarray(12, 16) : original.subarray(8, 24);
    if (!this.icmpLimit.allow(dest, this.settings.icmpRatelimit)) return this.host.drop('icmp-rate-limited');
    const reply = Buffer.from(icmp.buffer, icmp.byteOffset, icmp.byteLength);
    // Our own label route back to the source wins: handing the reply to a neighbour whose
    // path comes back through this node's kernel would be dropped there (our own address as
    // source arriving from outside: a martian).
    if (this.handleIpFromStack(reply)) return;
    if (!route) return this.host.egress({ kind: 'local', packet: reply });
    // Same stack as the expired frame would have had, fresh TTL, ICMP as payload.
    const labels = Buffer.from(frame.subarray(off, end));
    for (let i = 0; i < labels.length; i += 4) labels[i + 3] = this.settings.defaultTtl;
    const carrier = Buffer.concat([labels, reply]);
    this.forward(carrier, 0, route, lseTc(labels, 0), labels.length === 4 ? 1 : 0, this.settings.defaultTtl, false);
  }
}

function setIpv4Precedence(p: Buffer, prec: number, off = 0): void {
  const old = p.readUInt16BE(off);
  p[off + 1] = (p[off + 1] & 0x1f) | (prec << 5);
  const now = p.readUInt16BE(off);
  // RFC 1624 incremental checksum update for the changed 16-bit word.
  let sum = (~p.readUInt16BE(off + 10) & 0xffff) + (~old & 0xffff) + now;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  p.writeUInt16BE(~sum & 0xffff, off + 10);
}
