// A freshly started datapath runs its per-packet code in V8's interpreter: the first pings
// through a new tunnel take several times longer than they will a second later. Before the
// device goes live, push traffic through a throwaway pair of devices wired back to back in
// memory, so the hot paths (seal, open, replay, allowed-ips, MPLS strip/rebuild) are compiled.
import { Device, DeviceIO } from './device';
import { Endpoint } from './config';
import { generatePrivateKey, publicKey } from '../crypto/x25519';
import { UdpConn } from '../conn/udp';

export function warmUp(rounds = 3000): number {
  const started = performance.now();
  const queue: { to: Device; msg: Buffer; from: Endpoint }[] = [];
  const epA = { address: '192.0.2.1', port: 1 };
  const epB = { address: '192.0.2.2', port: 2 };
  let a: Device | null = null;
  let b: Device | null = null;
  const io = (self: () => Device | null, other: () => Device | null, from: Endpoint): DeviceIO => ({
    sendUdp: (chunks) => {
      const to = other();
      if (to) queue.push({ to, msg: Buffer.concat(chunks), from });
    },
    writeTun: () => undefined,
    bind: async () => (self() === a ? 1 : 2),
  });
  a = new Device(io(() => a, () => b, epA));
  b = new Device(io(() => b, () => a, epB));
  const ka = generatePrivateKey();
  const kb = generatePrivateKey();
  const v4 = (last: number): Uint8Array => Uint8Array.from([192, 0, 2, last]);
  const setup = (d: Device, priv: Uint8Array, peerPriv: Uint8Array, peerEp: Endpoint, peerAddr: number): Promise<void> =>
    Promise.resolve(
      d.apply({
        privateKey: priv,
        replacePeers: false,
        peers: [
          {
            publicKey: publicKey(peerPriv),
            remove: false,
            updateOnly: false,
            endpoint: peerEp,
            replaceAllowedIps: true,
            allowedIps: [{ addr: v4(peerAddr), bits: 32 }, { addr: new Uint8Array(4), bits: 32 }],
          },
        ],
      }),
    );
  // apply() only awaits a port change, which this does not make: it completes synchronously.
  void setup(a, ka, kb, epB, 2);
  void setup(b, kb, ka, epA, 1);
  const packet = Buffer.alloc(1400);
  packet[0] = 0x45;
  packet.writeUInt16BE(packet.length, 2);
  packet[8] = 64;
  packet[9] = 17;
  packet.set(v4(1), 12);
  packet.set(v4(2), 16);
  const frame = Buffer.concat([Buffer.from([0x00, 0x06, 0x51, 0x40]), packet]); // label 101, BoS, TTL 64
  const drain = (): void => {
    while (queue.length) {
      const m = queue.shift();
      if (m) m.to.handleUdp(m.msg, m.from);
    }
  };
  for (let i = 0; i < rounds; i++) {
    a.sendIp(packet);
    if (i % 4 === 0) a.sendMpls(Buffer.from(frame));
    drain();
  }
  a.close();
  b.close();
  return performance.now() - started;
}

/**
 * The same over two real UDP sockets on 127.0.0.1, so Node's own dgram send and receive paths
 * are compiled too (they are most of what a packet costs in JavaScript). Bounded in time.
 */
export async function warmUpOverLoopback(rounds = 4000, budgetMs = 2000): Promise<number> {
  const started = performance.now();
  const devs: Device[] = [];
  const conns: UdpConn[] = [];
  let received = 0;
  const mk = (): { dev: Device; conn: UdpConn } => {
    let dev: Device | null = null;
    const conn = new UdpConn((msg, from) => dev?.handleUdp(msg, from), '127.0.0.1');
    dev = new Device({ sendUdp: (chunks, to) => conn.send(chunks, to), writeTun: () => void received++, bind: (port) => conn.bind(port) });
    devs.push(dev);
    conns.push(conn);
    return { dev, conn };
  };
  try {
    const a = mk();
    const b = mk();
    const [pa, pb] = [await a.dev.start(0).then(() => a.dev.port), await b.dev.start(0).then(() => b.dev.port)];
    const ka = generatePrivateKey();
    const kb = generatePrivateKey();
    const v4 = (last: number): Uint8Array => Uint8Array.from([192, 0, 2, last]);
    await a.dev.apply({ privateKey: ka, replacePeers: false, peers: [{ publicKey: publicKey(kb), remove: false, updateOnly: false, endpoint: { address: '127.0.0.1', port: pb }, replaceAllowedIps: true, allowedIps: [{ addr: v4(2), bits: 32 }] }] });
    await b.dev.apply({ privateKey: kb, replacePeers: false, peers: [{ publicKey: publicKey(ka), remove: false, updateOnly: false, endpoint: { address: '127.0.0.1', port: pa }, replaceAllowedIps: true, allowedIps: [{ addr: v4(1), bits: 32 }] }] });
    const packet = Buffer.alloc(100);
    packet[0] = 0x45;
    packet.writeUInt16BE(packet.length, 2);
    packet[8] = 64;
    packet[9] = 17;
    packet.set(v4(1), 12);
    packet.set(v4(2), 16);
    // As the TUN hands it over: packet-information header (protocol 0x0800) first.
    const fromTun = Buffer.concat([Buffer.from([0, 0, 0x08, 0x00]), packet]);
    for (let i = 0; i < rounds && performance.now() - started < budgetMs; i++) {
      const want = received + 1;
      a.dev.handleTunPacket(fromTun);
      const until = performance.now() + 50;
      while (received < want && performance.now() < until) await new Promise((r) => setImmediate(r));
    }
  } finally {
    for (const d of devs) d.close();
    for (const c of conns) c.close();
  }
  return received;
}
