import { constants } from 'node:os';
import { Endpoint, Errno, UapiError, endpoint } from '../device/config';
import type { TunReadHandle } from '../tun/native';
import { loadUdpAddon, type UdpAddon } from './native';
import { UDP_DESC_WORDS } from '../device/constants';

// The underlay: one UDP port on IPv4 and IPv6 (two sockets, like wireguard-go's StdNetBind,
// because a dual-stack socket would need IPv4-mapped addresses on every send). The sockets are
// the native addon's, not node:dgram's: a send is one sendmsg(2) on the caller's stack and a
// readable event is drained with recvmmsg(2) into one callback (see conn/native/udp.c for why).
// Received endpoints carry the local address and interface they arrived at, and a send to such
// an endpoint leaves from there (WireGuard's sticky source; the device keeps only endpoints
// that authenticated).
//
// The per-packet methods are kept free of work whose machine code depends on what it is fed
// (no string checks on the address, datagrams handed to a sink's method rather than to a
// closure): the warm-up's sockets and the live ones then run the same optimized code.

const SOCKET_BUFFER = 4 << 20;
/** The batched reader's slots: 16 datagrams (or GRO bursts) of up to 64 KiB per round. */
const READ_ARENA_BYTES = 16 * 65536;
const READ_DESC_DATAGRAMS = 1024;

// What a send from a sticky source that is no longer ours returns (negative, as udpSend does).
// IPv6 says EINVAL (the source check of IPV6_PKTINFO), or ENODEV when its interface went too;
// EADDRNOTAVAIL and IPv4's EINVAL come from older kernels. IPv4 on current kernels says
// ENETUNREACH, which an unreachable destination says too: that one only counts as the source's
// fault when the same datagram then goes out from the kernel's choice. (Checking EINVAL alone is
// why wireguard-go keeps sending from a removed IPv4 address and loses the peer.)
const { EINVAL, EADDRNOTAVAIL, ENODEV, ENETUNREACH } = constants.errno;
function sourceGone(n: number): boolean {
  return n === -EINVAL || n === -EADDRNOTAVAIL || n === -ENODEV;
}

/** Who gets the datagrams: the device. */
export interface UdpSink {
  /** A round of datagrams in arena (desc: offset, length, endpoint index); views must not outlive the call. */
  handleUdpBatch(arena: Buffer, desc: Uint32Array, count: number, endpoints: readonly Endpoint[]): void;
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** The addon's system error as a UAPI error (its errno is negative, as in Node's). */
function uapiErrorOf(err: unknown, what: string): UapiError {
  const n = typeof err === 'object' && err !== null && 'errno' in err ? Number((err as { errno: unknown }).errno) : NaN;
  const message = err instanceof Error ? err.message : String(err);
  return new UapiError(Number.isInteger(n) && n !== 0 ? Math.abs(n) : Errno.EIO, `${what}: ${message}`);
}

export class UdpConn {
  /** -1 when there is no socket of that family. */
  private fd4 = -1;
  private fd6 = -1;
  private readers: TunReadHandle[] = [];
  private sink: UdpSink | null = null;
  private onSourceGone: () => void = () => undefined;
  /** SO_MARK of every socket, the ones a later bind opens too (0 = none). */
  private mark = 0;
  private readonly addon: UdpAddon = loadUdpAddon();
  constructor(
    /** Only this address (the underlay a Docker network was given); both families when unset. */
    private readonly address?: string,
    /** Socket errors while reading (errno names); reading goes on unless the socket is gone. */
    private readonly onReadError: (code: string) => void = () => undefined,
  ) {}

  /**
   * Where received datagrams go from now on; `onSourceGone` hears of each sticky source that
   * had to be forgotten (see send).
   */
  attach(sink: UdpSink, onSourceGone: () => void = () => undefined): void {
    this.sink = sink;
    this.onSourceGone = onSourceGone;
  }

  /**
   * `wg set IF fwmark N`: marks both sockets (0 clears the mark), so that policy routing can
   * tell the tunnel's own datagrams from what it carries (wg-quick routes everything `not
   * fwmark N` into the tunnel). All or nothing: on a refusal the sockets keep the old mark.
   */
  setMark(mark: number): void {
    const done: number[] = [];
    try {
      for (const fd of [this.fd4, this.fd6]) {
        if (fd < 0) continue;
        this.addon.udpSetMark(fd, mark);
        done.push(fd);
      }
    } catch (err) {
      try {
        for (const fd of done) this.addon.udpSetMark(fd, this.mark);
      } catch {
        // Best effort: a socket that took a mark a moment ago takes the old one back; the
        // refusal above is what the caller needs to hear of.
      }
      throw uapiErrorOf(err, `fwmark ${mark}`);
    }
    this.mark = mark;
  }

  /** Binds both families on `port` (0 = any), then drops the old sockets; all or nothing. */
  async bind(port: number): Promise<number> {
    const only = this.address;
    const v6Only = only !== undefined && only.includes(':');
    let first: number;
    let bound: number;
    try {
      ({ fd: first, port: bound } = this.addon.udpOpen(v6Only ? 6 : 4, only ?? null, port, SOCKET_BUFFER));
    } catch (err) {
      if (errnoOf(err) === 'EADDRINUSE') throw new UapiError(Errno.EADDRINUSE, `UDP port ${port} is in use`);
      throw err;
    }
    let second = -1;
    if (only === undefined) {
      try {
        second = this.addon.udpOpen(6, null, bound, SOCKET_BUFFER).fd;
      } catch (err) {
        if (errnoOf(err) === 'EADDRINUSE') {
          this.addon.udpClose(first);
          throw new UapiError(Errno.EADDRINUSE, `UDP port ${bound} is in use (IPv6)`);
        }
        // No IPv6 in this namespace: carry on with IPv4 only, as wireguard-go does.
      }
    }
    if (this.mark !== 0) {
      try {
        for (const fd of [first, second]) if (fd >= 0) this.addon.udpSetMark(fd, this.mark);
      } catch (err) {
        for (const fd of [first, second]) if (fd >= 0) this.addon.udpClose(fd);
        throw uapiErrorOf(err, `fwmark ${this.mark} on port ${bound}`);
      }
    }
    this.close();
    this.fd4 = v6Only ? -1 : first;
    this.fd6 = v6Only ? first : second;
    for (const fd of [this.fd4, this.fd6]) {
      if (fd < 0) continue;
      // One arena per socket: each reader fills its own, and holds it until it is stopped.
      const arena = Buffer.alloc(READ_ARENA_BYTES);
      const desc = new Uint32Array(READ_DESC_DATAGRAMS * UDP_DESC_WORDS);
      this.readers.push(this.addon.udpStartReadingBatch(fd, arena, desc, (...args) => this.onBatch(arena, desc, args)));
    }
    return bound;
  }

  private onBatch(arena: Buffer, desc: Uint32Array, args: [count: number, endpoints: (string | number | undefined)[]] | [count: null, errorCode: string]): void {
    if (args[0] === null) {
      this.onReadError(args[1]);
      return;
    }
    const sink = this.sink;
    if (sink === null) return;
    const flat = args[1];
    // New Endpoint objects each round, even when the addon hands the list of the round before
    // again: the device may keep or change them (send forgets a sticky source that went away).
    // Reusing them behind a check made that check's rare branch throw the compiled receive path
    // away at go-live, for one small object a round.
    const endpoints: Endpoint[] = [];
    for (let i = 0; i + 3 < flat.length; i += 4) {
      endpoints.push(endpoint(flat[i] as string, flat[i + 1] as number, flat[i + 2] as string | undefined, flat[i + 3] as number | undefined));
    }
    sink.handleUdpBatch(arena, desc, args[0], endpoints);
  }

  /**
   * Sends from `to`'s sticky source when it has one. False when the datagram was dropped: no
   * socket of that family, or the kernel refused it.
   */
  send(msg: Buffer, to: Endpoint): boolean {
    const local = to.localAddress;
    const n = this.addon.udpSend(this.fd4, this.fd6, to.address, to.port, msg, local ?? '', to.localIfindex ?? 0);
    if (n >= 0) return true;
    if (local === undefined || !(sourceGone(n) || n === -ENETUNREACH)) return false;
    // The address the peer last reached us at may be gone: this datagram goes again from the
    // kernel's choice, so traffic goes on from another address.
    const sent = this.addon.udpSend(this.fd4, this.fd6, to.address, to.port, msg, '', 0) >= 0;
    if (sourceGone(n) || sent) {
      // Forgotten in the peer's own endpoint (that is `to`), as WireGuard does; the peer's next
      // authenticated datagram sets it anew.
      to.localAddress = undefined;
      to.localIfindex = undefined;
      this.onSourceGone();
    }
    return sent;
  }

  /**
   * Datagrams lying back to back in buf (lengths in lens) to `to`, runs of equal size with UDP
   * GSO, from its sticky source as send() does. How many were sent.
   */
  sendBatch(buf: Buffer, lens: Uint32Array, count: number, to: Endpoint): number {
    const local = to.localAddress;
    const n = this.addon.udpSendBatch(this.fd4, this.fd6, to.address, to.port, local ?? '', to.localIfindex ?? 0, buf, lens, count);
    if (n >= 0) return n;
    if (local === undefined || !(sourceGone(n) || n === -ENETUNREACH)) return 0;
    const sent = this.addon.udpSendBatch(this.fd4, this.fd6, to.address, to.port, '', 0, buf, lens, count);
    if (sourceGone(n) || sent > 0) {
      to.localAddress = undefined;
      to.localIfindex = undefined;
      this.onSourceGone();
    }
    return Math.max(sent, 0);
  }

  close(): void {
    for (const r of this.readers) this.addon.stopReading(r);
    for (const fd of [this.fd4, this.fd6]) if (fd >= 0) this.addon.udpClose(fd);
    this.readers = [];
    this.fd4 = this.fd6 = -1;
  }
}
