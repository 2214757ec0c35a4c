import { Endpoint, Errno, UapiError } from '../device/config';
import type { TunReadHandle } from '../tun/native';
import { loadUdpAddon, type UdpAddon } from './native';

// The underlay: one UDP port on IPv4 and IPv6 (two sockets, like wireguard-go's StdNetBind,
// because a dual-stack socket would need IPv4-mapped addresses on every send). The sockets are
// the native addon's, not node:dgram's: a send is one sendto(2) on the caller's stack and a
// readable event is drained with recvmmsg(2) into one callback (see conn/native/udp.c for why).

const SOCKET_BUFFER = 4 << 20;

interface Sock {
  fd: number;
  reader: TunReadHandle | null;
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export class UdpConn {
  private v4: Sock | null = null;
  private v6: Sock | null = null;
  private readonly addon: UdpAddon = loadUdpAddon();
  /** errno name of the last socket error reported while reading. */
  lastReadError: string | null = null;

  constructor(
    private readonly onMessage: (msg: Buffer, from: Endpoint) => void,
    /** Only this address (the underlay a Docker network was given); both families when unset. */
    private readonly address?: string,
  ) {}

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
    let second: number | null = null;
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
    this.v4 = v6Only ? null : this.start(first);
    this.v6 = v6Only ? this.start(first) : second === null ? null : this.start(second);
    return bound;
  }

  private start(fd: number): Sock {
    const sock: Sock = { fd, reader: null };
    sock.reader = this.addon.udpStartReading(fd, (...args) => {
      const [batch] = args;
      if (batch === null) {
        this.lastReadError = args[1] ?? null;
        return;
      }
      for (let i = 0; i + 2 < batch.length; i += 3) {
        this.onMessage(batch[i] as Buffer, { address: batch[i + 1] as string, port: batch[i + 2] as number });
      }
    });
    return sock;
  }

  /** False when the datagram was dropped: no socket of that family, or the kernel refused it. */
  send(msg: Buffer, to: Endpoint): boolean {
    const s = to.address.includes(':') ? this.v6 : this.v4;
    return s !== null && this.addon.udpSend(s.fd, to.address, to.port, msg) >= 0;
  }

  close(): void {
    for (const s of [this.v4, this.v6]) {
      if (!s) continue;
      if (s.reader) this.addon.stopReading(s.reader);
      this.addon.udpClose(s.fd);
    }
    this.v4 = this.v6 = null;
  }
}
