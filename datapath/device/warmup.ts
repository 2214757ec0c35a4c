// A freshly started datapath runs its per-packet code in V8's interpreter: the first pings
// through a new tunnel take several times longer than they will a second later. Before the
// device goes live, push traffic through a throwaway pair of devices, so the hot paths (seal,
// open, replay, allowed-ips, MPLS strip/rebuild, and Node's own dgram paths) are compiled.
import { Device, DeviceIO } from './device';
import { DeviceChange, Endpoint } from './config';
import { generatePrivateKey, publicKey } from '../crypto/x25519';
import { UdpConn } from '../conn/udp';

const addr = (last: number): Uint8Array => Uint8Array.from([192, 0, 2, last]);

/** A key for each side, and the transaction that makes each the other's only peer. */
function pairConfig(endpoints: [Endpoint, Endpoint], withMpls: boolean): [DeviceChange, DeviceChange] {
  const keys = [generatePrivateKey(), generatePrivateKey()];
  const side = (i: 0 | 1): DeviceChange => {
    const other = 1 - i;
    const allowedIps = [{ addr: addr(other + 1), bits: 32 }];
    if (withMpls) allowedIps.push({ addr: new Uint8Array(4), bits: 32 }); // the seed's MPLS peer rule
    return {
      privateKey: keys[i],
      replacePeers: false,
      peers: [{ publicKey: publicKey(keys[other]), remove: false, updateOnly: false, endpoint: endpoints[other], replaceAllowedIps: true, allowedIps }],
    };
  };
  return [side(0), side(1)];
}

/** An IPv4/UDP packet from side 0 (192.0.2.1) to side 1 (192.0.2.2). */
function packet(size: number): Buffer {
  const p = Buffer.alloc(size);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  p.set(addr(1), 12);
  p.set(addr(2), 16);
  return p;
}

/** Two devices wired back to back in memory: IP and MPLS, no I/O at all. Returns what arrived. */
export function warmUp(rounds = 3000): number {
  let delivered = 0;
  const queue: { to: Device; msg: Buffer; from: Endpoint }[] = [];
  const eps: [Endpoint, Endpoint] = [
    { address: '192.0.2.1', port: 1 },
    { address: '192.0.2.2', port: 2 },
  ];
  const devs: Device[] = [];
  const io = (me: 0 | 1): DeviceIO => ({
    sendUdp: (msg) => queue.push({ to: devs[1 - me], msg, from: eps[me] }),
    writeTun: () => void delivered++,
    bind: async () => eps[me].port,
  });
  devs.push(new Device(io(0)), new Device(io(1)));
  const [ca, cb] = pairConfig(eps, true);
  // apply() only awaits a port change, which these do not make: they complete synchronously.
  void devs[0].apply(ca);
  void devs[1].apply(cb);
  const ip = packet(1400);
  const frame = Buffer.concat([Buffer.from([0x00, 0x06, 0x51, 0x40]), ip]); // label 101, BoS, TTL 64
  for (let i = 0; i < rounds; i++) {
    devs[0].sendIp(ip);
    if (i % 4 === 0) devs[0].sendMpls(Buffer.from(frame));
    for (let m = queue.shift(); m; m = queue.shift()) m.to.handleUdp(m.msg, m.from);
  }
  for (const d of devs) d.close();
  return delivered;
}

/** The same over two real UDP sockets on 127.0.0.1, fed as the TUN would. Bounded in time. */
export async function warmUpOverLoopback(rounds = 4000, budgetMs = 2000): Promise<number> {
  const started = performance.now();
  const devs: Device[] = [];
  const conns: UdpConn[] = [];
  let received = 0;
  try {
    for (let i = 0; i < 2; i++) {
      let dev: Device | null = null;
      const conn = new UdpConn((msg, from) => dev?.handleUdp(msg, from), '127.0.0.1');
      dev = new Device({ sendUdp: (msg, to) => void conn.send(msg, to), writeTun: () => void received++, bind: (port) => conn.bind(port) });
      devs.push(dev);
      conns.push(conn);
      await dev.start(0);
    }
    const [ca, cb] = pairConfig(
      [
        { address: '127.0.0.1', port: devs[0].port },
        { address: '127.0.0.1', port: devs[1].port },
      ],
      false,
    );
    await devs[0].apply(ca);
    await devs[1].apply(cb);
    // As the TUN hands it over: packet-information header (protocol 0x0800) first.
    const fromTun = Buffer.concat([Buffer.from([0, 0, 0x08, 0x00]), packet(100)]);
    for (let i = 0; i < rounds && performance.now() - started < budgetMs; i++) {
      const want = received + 1;
      devs[0].handleTunPacket(fromTun);
      const until = performance.now() + 50;
      while (received < want && performance.now() < until) await new Promise((r) => setImmediate(r));
      // Nothing comes through (loopback down in a fresh namespace): not worth the wait.
      if (i === 1 && received === 0) break;
    }
  } finally {
    for (const d of devs) d.close();
    for (const c of conns) c.close();
  }
  return received;
}
