// A freshly started datapath runs its per-packet code in V8's interpreter: the first pings
// through a new tunnel take longer than they will after a few thousand packets. Before the
// device goes live, traffic goes through throwaway pairs of devices: here in memory (the
// device's own code, MPLS included), then in warmupLive.ts through the live wiring.
//
// The traffic must look like the live traffic in every way the optimizing compiler notices,
// or the compiled code is thrown away (deoptimized) on the first live packet and the datapath
// is cold again for thousands of packets: both directions (a session's initiator receives
// too), IPv4 and IPv6, packets overtaking each other (the replay window's other branch), and
// the same kind of socket bound the same way as the live one.
import { Device, DeviceIO } from './device';
import { DeviceChange, Endpoint } from './config';
import { generatePrivateKey, publicKey } from '../crypto/x25519';

const v4 = (side: number): Uint8Array => Uint8Array.from([192, 0, 2, side + 1]);
const v6 = (side: number): Uint8Array => Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), side + 1]);

/** A key for each side, and the transaction that makes each the other's only peer. */
export function pairConfig(endpoints: [Endpoint, Endpoint], withMpls: boolean): [DeviceChange, DeviceChange] {
  const keys = [generatePrivateKey(), generatePrivateKey()];
  const side = (i: 0 | 1): DeviceChange => {
    const other = 1 - i;
    const allowedIps = [
      { addr: v4(other), bits: 32 },
      { addr: v6(other), bits: 128 },
    ];
    if (withMpls) allowedIps.push({ addr: new Uint8Array(4), bits: 32 }); // the seed's MPLS peer rule
    return {
      privateKey: keys[i],
      replacePeers: false,
      peers: [{ publicKey: publicKey(keys[other]), remove: false, updateOnly: false, endpoint: endpoints[other], replaceAllowedIps: true, allowedIps }],
    };
  };
  return [side(0), side(1)];
}

/** An IPv4 or IPv6 UDP packet from side `from` to the other side, as the TUN hands it over (PI header first). */
function fromTun(from: 0 | 1, version: 4 | 6, size: number): Buffer {
  const p = Buffer.alloc(4 + size);
  const ip = p.subarray(4);
  if (version === 4) {
    p.writeUInt16BE(0x0800, 2);
    ip[0] = 0x45;
    ip.writeUInt16BE(size, 2);
    ip[8] = 64;
    ip[9] = 17;
    ip.set(v4(from), 12);
    ip.set(v4(1 - from), 16);
  } else {
    p.writeUInt16BE(0x86dd, 2);
    ip[0] = 0x60;
    ip.writeUInt16BE(size - 40, 4);
    ip[6] = 17;
    ip[7] = 64;
    ip.set(v6(from), 8);
    ip.set(v6(1 - from), 24);
  }
  return p;
}

/** Side 0 -> 1 and back, v4 and v6, big and small: what round i sends. */
export function roundPacket(packets: Buffer[][], i: number): { from: 0 | 1; pkt: Buffer } {
  const from = (i & 1) as 0 | 1;
  return { from, pkt: packets[from][(i >> 1) % packets[from].length] };
}

/** Per side, what it sends: v4 and v6, big and small, PI header first. */
export function packetSet(): Buffer[][] {
  return [0, 1].map((s) => [fromTun(s as 0 | 1, 4, 1400), fromTun(s as 0 | 1, 4, 84), fromTun(s as 0 | 1, 6, 1280), fromTun(s as 0 | 1, 6, 104)]);
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
  const packets = packetSet();
  const frame = Buffer.concat([Buffer.from([0x00, 0x06, 0x51, 0x40]), packets[0][0].subarray(4)]); // label 101, BoS, TTL 64
  for (let i = 0; i < rounds; i++) {
    const { from, pkt } = roundPacket(packets, i);
    devs[from].handleTunPacket(pkt);
    if (i % 4 === 0) devs[0].sendMpls(Buffer.from(frame));
    // Every 16th round two datagrams swap places, as on a real network now and then.
    if (i % 16 === 15 && queue.length >= 2 && queue[0].to === queue[1].to) queue.push(queue.shift() as (typeof queue)[number]);
    for (let m = queue.shift(); m; m = queue.shift()) m.to.handleUdp(m.msg, m.from);
  }
  for (const d of devs) d.close();
  return delivered;
}
