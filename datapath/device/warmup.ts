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

/**
 * What the kernel also hands a TUN that no peer takes: an IPv6 MLD report to ff02::16 (sent when
 * the link comes up) and IPv4 to an address outside allowed-ips. Live, these arrive in the first
 * second; if the warm-up never sent one, the compiled send path meets a branch it has no feedback
 * for and is thrown away right when the first pings go through.
 */
export function strayPacket(from: 0 | 1, version: 4 | 6): Buffer {
  const p = fromTun(from, version, version === 4 ? 84 : 76);
  const ip = p.subarray(4);
  if (version === 4) ip.set([198, 51, 100, 7], 16);
  else ip.set([0xff, 0x02, ...new Array<number>(13).fill(0), 0x16], 24);
  return p;
}

/** Per side, what it sends: v4 and v6, big and small, PI header first. */
export function packetSet(): Buffer[][] {
  return [0, 1].map((s) => [fromTun(s as 0 | 1, 4, 1400), fromTun(s as 0 | 1, 4, 84), fromTun(s as 0 | 1, 6, 1280), fromTun(s as 0 | 1, 6, 104)]);
}

/** Two devices wired back to back in memory: IP and MPLS, no I/O at all. Returns what arrived. */
export function warmUp(rounds = 3000): number {
  let delivered = 0;
  // What each side sent, per receiving side, delivered as the live UDP reader delivers: a batch
  // of datagrams in one arena (offset, length, endpoint index).
  const queue: Buffer[][] = [[], []];
  const eps: [Endpoint, Endpoint] = [
    { address: '192.0.2.1', port: 1 },
    { address: '192.0.2.2', port: 2 },
  ];
  const devs: Device[] = [];
  const io = (me: 0 | 1): DeviceIO => ({
    sendUdp: (msg) => void queue[1 - me].push(msg),
    sendUdpBatch: (buf, lens, count) => {
      for (let i = 0, o = 0; i < count; o += lens[i], i++) queue[1 - me].push(Buffer.from(buf.subarray(o, o + lens[i])));
      return count;
    },
    writeTun: () => void delivered++,
    writeTunBatch: (_buf, _desc, count) => void (delivered += count),
    bind: async () => eps[me].port,
  });
  devs.push(new Device(io(0)), new Device(io(1)));
  const [ca, cb] = pairConfig(eps, true);
  // apply() only awaits a port change, which these do not make: they complete synchronously.
  void devs[0].apply(ca);
  void devs[1].apply(cb);
  const packets = packetSet();
  const tunArena = Buffer.alloc(65536);
  const tunDesc = new Uint32Array(4 * 2);
  const udpArena = Buffer.alloc(65536 * 4);
  const udpDesc = new Uint32Array(3 * 64);
  const payload = packets[0][0].subarray(4); // below label 101, BoS
  const mplsDesc = Uint32Array.from([0, payload.length, 0]);
  const deliver = (to: 0 | 1): void => {
    const msgs = queue[to];
    // Every 16th delivery two datagrams swap places, as on a real network now and then.
    if (msgs.length >= 2 && delivered % 16 === 15) msgs.push(msgs.shift() as Buffer);
    let n = 0;
    for (let o = 0; msgs.length > 0 && n < 64; n++) {
      const m = msgs.shift() as Buffer;
      m.copy(udpArena, o);
      udpDesc.set([o, m.length, 0], 3 * n);
      o += m.length;
    }
    if (n > 0) devs[to].handleUdpBatch(udpArena, udpDesc, n, [eps[1 - to]]);
  };
  for (let i = 0; i < rounds; i++) {
    const { from, pkt } = roundPacket(packets, i);
    // As the live TUN reader hands them over: one group of one packet (or two, the segments of
    // a superpacket, every other round).
    const ip = pkt.subarray(4);
    const group = i % 2 === 0 ? 2 : 1;
    for (let g = 0; g < group; g++) {
      ip.copy(tunArena, g * ip.length);
      tunDesc.set([g * ip.length, ip.length, pkt.readUInt16BE(2), g === 0 ? group : 0], 4 * g);
    }
    devs[from].handleTunBatch({ arena: tunArena, desc: tunDesc, count: group, dropped: 0 });
    if (i % 8 === 7) {
      // Now and then one that no peer takes (strayPacket), as the live TUN brings.
      const stray = strayPacket(from, i % 16 === 7 ? 6 : 4);
      stray.copy(tunArena, 0, 4);
      tunDesc.set([0, stray.length - 4, stray.readUInt16BE(2), 1], 0);
      devs[from].handleTunBatch({ arena: tunArena, desc: tunDesc, count: 1, dropped: 0 });
    }
    if (i % 4 === 0) devs[0].sendMplsGroup(payload, mplsDesc, 3, 0, 1, (101 << 4) | 1);
    while (queue[0].length > 0 || queue[1].length > 0) {
      deliver(1);
      deliver(0);
    }
  }
  for (const d of devs) d.close();
  return delivered;
}
