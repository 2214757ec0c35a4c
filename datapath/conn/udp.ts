import dgram from 'node:dgram';
import { Endpoint, Errno, UapiError } from '../device/config';

// The underlay: one UDP port on IPv4 and IPv6 (two sockets, like wireguard-go's StdNetBind,
// because a dual-stack socket would need IPv4-mapped addresses on every send).

const SOCKET_BUFFER = 4 << 20;

function bindSocket(type: 'udp4' | 'udp6', port: number, address?: string): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type, ipv6Only: type === 'udp6', recvBufferSize: SOCKET_BUFFER, sendBufferSize: SOCKET_BUFFER });
    const onError = (err: Error): void => {
      s.close();
      reject(err);
    };
    s.once('error', onError);
    s.bind({ port, address, exclusive: true }, () => {
      s.off('error', onError);
      resolve(s);
    });
  });
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export class UdpConn {
  private v4: dgram.Socket | null = null;
  private v6: dgram.Socket | null = null;
  sendErrors = 0;

  constructor(
    private readonly onMessage: (msg: Buffer, from: Endpoint) => void,
    /** Only this address (the underlay a Docker network was given); both families when unset. */
    private readonly address?: string,
  ) {}

  /** Binds both families on `port` (0 = any), then drops the old sockets; all or nothing. */
  async bind(port: number): Promise<number> {
    const only = this.address;
    const v6Only = only !== undefined && only.includes(':');
    let first: dgram.Socket;
    try {
      first = await bindSocket(v6Only ? 'udp6' : 'udp4', port, only);
    } catch (err) {
      if (errnoOf(err) === 'EADDRINUSE') throw new UapiError(Errno.EADDRINUSE, `UDP port ${port} is in use`);
      throw err;
    }
    const bound = first.address().port;
    let second: dgram.Socket | null = null;
    if (only === undefined) {
      try {
        second = await bindSocket('udp6', bound);
      } catch (err) {
        if (errnoOf(err) === 'EADDRINUSE') {
          first.close();
          throw new UapiError(Errno.EADDRINUSE, `UDP port ${bound} is in use (IPv6)`);
        }
        // No IPv6 in this namespace: carry on with IPv4 only, as wireguard-go does.
      }
    }
    this.close();
    this.v4 = v6Only ? null : first;
    this.v6 = v6Only ? first : second;
    for (const s of [this.v4, this.v6]) {
      if (!s) continue;
      s.on('message', (msg, rinfo) => this.onMessage(msg, { address: rinfo.address, port: rinfo.port }));
      s.on('error', () => this.sendErrors++);
    }
    return bound;
  }

  send(chunks: readonly Buffer[], to: Endpoint): void {
    const s = to.address.includes(':') ? this.v6 : this.v4;
    if (!s) {
      this.sendErrors++;
      return;
    }
    // No per-packet callback: a failed send surfaces as the socket's 'error' event (counted).
    s.send(chunks as Buffer[], to.port, to.address);
  }

  close(): void {
    this.v4?.close();
    this.v6?.close();
    this.v4 = this.v6 = null;
  }
}
