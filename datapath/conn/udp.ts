import { constants } from 'node:os';
import { Endpoint, Errno, UapiError, endpoint } from '../device/config';
import type { TunReadHandle } from '../tun/native';
import { loadUdpAddon, type UdpAddon } from './native';

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
  handleUdp(msg: Buffer, from: Endpoint): void;
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
    for (const fd of [this.fd4, this.fd6]) if (fd >= 0) this.readers.push(this.addon.udpStartReading(fd, (...args) => this.onBatch(args)));
    return bound;
  }

  private onBatch(args: [batch: (Buffer | string | number | undefined)[]] | [batch: null, errorCode: string]): void {
    const [batch] = args;
    if (batch === null) {
      this.onReadError(args[1] ?? 'EUNKNOWN');
      return;
    }
    const sink = this.sink;
    if (sink === null) return;
    for (let i = 0; i + 4 < batch.length; i += 5) {
      const from = endpoint(batch[i + 1] as string, batch[i + 2] as number, batch[i + 3] as string | undefined, batch[i + 4] as number | undefined);
      sink.handleUdp(batch[i] as Buffer, from);
    }
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

  close(): void {
    for (const r of this.readers) this.addon.stopReading(r);
    for (const fd of [this.fd4, this.fd6]) if (fd >= 0) this.addon.udpClose(fd);
    this.readers = [];
    this.fd4 = this.fd6 = -1;
  }
}
