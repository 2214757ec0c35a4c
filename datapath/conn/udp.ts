import { Endpoint, Errno, UapiError, endpoint } from '../device/config';
import type { TunReadHandle } from '../tun/native';
import { loadUdpAddon, type UdpAddon } from './native';

// The underlay: one UDP port on IPv4 and IPv6 (two sockets, like wireguard-go's StdNetBind,
// because a dual-stack socket would need IPv4-mapped addresses on every send). The sockets are
// the native addon's, not node:dgram's: a send is one sendto(2) on the caller's stack and a
// readable event is drained with recvmmsg(2) into one callback (see conn/native/udp.c for why).
//
// The per-packet methods are kept free of work whose machine code depends on what it is fed
// (no string checks on the address, datagrams handed to a sink's method rather than to a
// closure): the warm-up's sockets and the live ones then run the same optimized code.

const SOCKET_BUFFER = 4 << 20;

/** Who gets the datagrams: the device. */
export interface UdpSink {
  handleUdp(msg: Buffer, from: Endpoint): void;
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export class UdpConn {
  /** -1 when there is no socket of that family. */
  private fd4 = -1;
  private fd6 = -1;
  private readers: TunReadHandle[] = [];
  private sink: UdpSink | null = null;
  private readonly addon: UdpAddon = loadUdpAddon();
  constructor(
    /** Only this address (the underlay a Docker network was given); both families when unset. */
    private readonly address?: string,
    /** Socket errors while reading (errno names); reading goes on unless the socket is gone. */
    private readonly onReadError: (code: string) => void = () => undefined,
  ) {}

  /** Where received datagrams go from now on. */
  attach(sink: UdpSink): void {
    this.sink = sink;
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
    this.close();
    this.fd4 = v6Only ? -1 : first;
    this.fd6 = v6Only ? first : second;
    for (const fd of [this.fd4, this.fd6]) if (fd >= 0) this.readers.push(this.addon.udpStartReading(fd, (...args) => this.onBatch(args)));
    return bound;
  }

  private onBatch(args: [batch: (Buffer | string | number)[]] | [batch: null, errorCode: string]): void {
    const [batch] = args;
    if (batch === null) {
      this.onReadError(args[1] ?? 'EUNKNOWN');
      return;
    }
    const sink = this.sink;
    if (sink === null) return;
    for (let i = 0; i + 2 < batch.length; i += 3) {
      sink.handleUdp(batch[i] as Buffer, endpoint(batch[i + 1] as string, batch[i + 2] as number));
    }
  }

  /** False when the datagram was dropped: no socket of that family, or the kernel refused it. */
  send(msg: Buffer, to: Endpoint): boolean {
    return this.addon.udpSend(this.fd4, this.fd6, to.address, to.port, msg) >= 0;
  }

  close(): void {
    for (const r of this.readers) this.addon.stopReading(r);
    for (const fd of [this.fd4, this.fd6]) if (fd >= 0) this.addon.udpClose(fd);
    this.readers = [];
    this.fd4 = this.fd6 = -1;
  }
}
