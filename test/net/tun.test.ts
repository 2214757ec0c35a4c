// The TUN addon against the real kernel: namespaces, ping round trips through a userspace
// echo responder, EBUSY, cleanup, and the thread's namespace after a failed open.
// Needs root (CAP_NET_ADMIN + setns); everything happens inside throwaway namespaces.

import { runOutput } from './harness';
import { describeWhere, needRoot } from '../canRun';
import { execFile } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { promisify } from 'node:util';
import { ETH_P_IP, ETH_P_IPV6, ETH_P_MPLS_UC } from '../../datapath/net/ethertypes';
import { PI_LEN, TunDevice, piProto } from '../../datapath/tun/tunDevice';
import { TUN_F } from '../../datapath/tun/native';

const execFileP = promisify(execFile);
const describeRoot = describeWhere(needRoot('root (CAP_NET_ADMIN, setns) to create TUNs in namespaces'));

jest.setTimeout(30_000);

const pid = process.pid;
const NS = `wgmt-tun-${pid}`;
const NS_PATH = `/var/run/netns/${NS}`;
// Interface names are capped at 15 bytes, so they cannot carry the full namespace prefix.
const ifname = (suffix: string): string => `wgmt${pid}${suffix}`;

async function ip(...args: string[]): Promise<string> {
  const { stdout } = await execFileP('ip', args);
  return stdout;
}

async function linkExists(ns: string | null, name: string): Promise<boolean> {
  try {
    await ip(...(ns === null ? [] : ['-n', ns]), 'link', 'show', name);
    return true;
  } catch {
    return false;
  }
}

// Spawned (harness.runOutput), not execSync'd: the echo responder runs on this same event loop.
const run = runOutput;

function onesComplementSum(buf: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (buf.length % 2 === 1) sum += buf[buf.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

const checksum = (buf: Uint8Array, initial = 0): number => ~onesComplementSum(buf, initial) & 0xffff;

/** IPv4 ICMP echo request (no PI header) -> echo reply, or null if it is something else. */
function ipv4EchoReply(pkt: Buffer): Buffer | null {
  const ihl = (pkt[0] & 0x0f) * 4;
  const total = pkt.readUInt16BE(2);
  if (pkt[0] >> 4 !== 4 || pkt[9] !== 1 || pkt[ihl] !== 8) return null;
  const reply = Buffer.from(pkt.subarray(0, total));
  pkt.copy(reply, 12, 16, 20);
  pkt.copy(reply, 16, 12, 16);
  reply[8] = 64;
  reply.writeUInt16BE(0, 10);
  reply.writeUInt16BE(checksum(reply.subarray(0, ihl)), 10);
  reply[ihl] = 0;
  reply[ihl + 1] = 0;
  reply.writeUInt16BE(0, ihl + 2);
  reply.writeUInt16BE(checksum(reply.subarray(ihl)), ihl + 2);
  return reply;
}

/** IPv6 ICMPv6 echo request (no extension headers, no PI) -> echo reply, or null. */
function ipv6EchoReply(pkt: Buffer): Buffer | null {
  const payloadLen = pkt.readUInt16BE(4);
  if (pkt[0] >> 4 !== 6 || pkt[6] !== 58 || pkt[40] !== 128) return null;
  const reply = Buffer.from(pkt.subarray(0, 40 + payloadLen));
  pkt.copy(reply, 8, 24, 40);
  pkt.copy(reply, 24, 8, 24);
  reply[7] = 64;
  reply[40] = 129;
  reply[41] = 0;
  reply.writeUInt16BE(0, 42);
  // Pseudo-header: source, destination, upper-layer length (32 bit), 3 zero bytes, next header.
  const pseudo = Buffer.alloc(40);
  reply.copy(pseudo, 0, 8, 40);
  pseudo.writeUInt32BE(payloadLen, 32);
  pseudo[39] = 58;
  reply.writeUInt16BE(checksum(reply.subarray(40), onesComplementSum(pseudo)), 42);
  return reply;
}

describeRoot('TunDevice (root, network namespaces)', () => {
  const opened: TunDevice[] = [];
  let originalNetns = '';

  const track = (dev: TunDevice): TunDevice => {
    opened.push(dev);
    return dev;
  };

  beforeAll(async () => {
    originalNetns = readlinkSync('/proc/thread-self/ns/net');
    await ip('netns', 'add', NS);
  });

  afterAll(async () => {
    for (const dev of opened) {
      try {
        dev.close();
      } catch {
        // Keep cleaning up; the namespace deletion below matters more.
      }
    }
    await ip('netns', 'del', NS).catch(() => undefined);
  });

  afterEach(() => {
    // Every open() in this file must leave the test thread where it started.
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(originalNetns);
  });

  test('opens inside a namespace with mtu 1420 and answers an IPv4 ping', async () => {
    const name = ifname('a');
    const dev = track(TunDevice.open(name, { netnsPath: NS_PATH, offload: false }));
    expect(dev.name).toBe(name);
    expect(await linkExists(null, name)).toBe(false);
    expect(await ip('-n', NS, 'link', 'show', name)).toMatch(/mtu 1420\b/);

    const protos: number[] = [];
    const writes: boolean[] = [];
    let requests = 0;
    dev.onPackets((packets) => {
      for (const pkt of packets) {
        protos.push(piProto(pkt));
        if (piProto(pkt) !== ETH_P_IP) continue;
        const reply = ipv4EchoReply(pkt.subarray(PI_LEN));
        if (reply === null) continue;
        requests++;
        // Recorded, not asserted here: a throw in this handler would surface as an uncaught exception.
        writes.push(dev.write(ETH_P_IP, reply));
      }
    });

    await ip('-n', NS, 'addr', 'add', '10.201.0.1/24', 'dev', name);
    await ip('-n', NS, 'link', 'set', name, 'up');
    const ping = await run('ip', ['netns', 'exec', NS, 'ping', '-c', '1', '-W', '2', '10.201.0.2']);
    expect(ping.output).toMatch(/1 received/);
    expect(ping.code).toBe(0);
    expect(requests).toBe(1);
    expect(writes).toEqual([true]);
    expect(protos).toContain(ETH_P_IP);
    expect(dev.writeErrors).toBe(0);
  });

  test('with offloads on: the kernel takes TSO/checksum offloads, and a ping is answered through the batched reader and writer', async () => {
    const name = ifname('o');
    const dev = track(TunDevice.open(name, { netnsPath: NS_PATH }));
    expect(dev.vnet).toBe(true);
    // This host's kernel (6.x) takes at least checksum and TSO for both families.
    expect(dev.offloads & (TUN_F.CSUM | TUN_F.TSO4 | TUN_F.TSO6)).toBe(TUN_F.CSUM | TUN_F.TSO4 | TUN_F.TSO6);
    const up = new Uint32Array(3);
    let requests = 0;
    let refused = -1;
    dev.onBatch(({ arena, desc, count }) => {
      for (let i = 0; i < count; i++) {
        const off = desc[4 * i];
        if (desc[4 * i + 2] !== ETH_P_IP) continue;
        const reply = ipv4EchoReply(arena.subarray(off, off + desc[4 * i + 1]));
        if (reply === null) continue;
        requests++;
        up.set([0, reply.length, ETH_P_IP]);
        refused = dev.writeBatch(reply, up, 1);
      }
    });
    await ip('-n', NS, 'addr', 'add', '10.202.0.1/24', 'dev', name);
    await ip('-n', NS, 'link', 'set', name, 'up');
    const ping = await run('ip', ['netns', 'exec', NS, 'ping', '-c', '1', '-W', '2', '10.202.0.2']);
    expect(ping.output).toMatch(/1 received/);
    expect(requests).toBe(1);
    expect(refused).toBe(0);
    // The reader of single packets would see virtio-net headers it does not expect: refused.
    expect(() => dev.onPackets(() => undefined)).toThrow(/offload/);
  });

  test('answers an IPv6 ping (ICMPv6 checksum over the pseudo-header)', async () => {
    const name = ifname('b');
    const dev = track(TunDevice.open(name, { netnsPath: NS_PATH, offload: false }));
    const writes: boolean[] = [];
    let requests = 0;
    dev.onPackets((packets) => {
      for (const pkt of packets) {
        // Link-up also emits MLD reports and router solicitations; only echo requests matter.
        if (piProto(pkt) !== ETH_P_IPV6) continue;
        const reply = ipv6EchoReply(pkt.subarray(PI_LEN));
        if (reply === null) continue;
        requests++;
        writes.push(dev.write(ETH_P_IPV6, reply));
      }
    });

    await ip('-n', NS, '-6', 'addr', 'add', 'fd00:201::1/64', 'dev', name, 'nodad');
    await ip('-n', NS, 'link', 'set', name, 'up');
    const ping = await run('ip', ['netns', 'exec', NS, 'ping', '-6', '-c', '1', '-W', '2', 'fd00:201::2']);
    expect(ping.output).toMatch(/1 received/);
    expect(ping.code).toBe(0);
    expect(requests).toBe(1);
    expect(writes).toEqual([true]);
  });

  test('writing an MPLS frame does not crash (the kernel may drop it)', async () => {
    const name = ifname('c');
    const dev = track(TunDevice.open(name, { netnsPath: NS_PATH, offload: false }));
    await ip('-n', NS, 'link', 'set', name, 'up');
    // Label 100, bos, TTL 64, then a minimal IPv4 header.
    const frame = Buffer.alloc(4 + 20);
    frame.writeUInt32BE((100 << 12) | (1 << 8) | 64, 0);
    frame[4] = 0x45;
    const ok = dev.write(ETH_P_MPLS_UC, frame);
    expect(typeof ok).toBe('boolean');
    // A Uint8Array view with an offset must go out as exactly its own bytes.
    expect(typeof dev.write(ETH_P_MPLS_UC, new Uint8Array(frame.buffer, frame.byteOffset, frame.length))).toBe(
      'boolean',
    );
    dev.close();
  });

  test('a second open of a held TUN fails with EBUSY; close() removes the link', async () => {
    const name = ifname('d');
    const dev = track(TunDevice.open(name, { netnsPath: NS_PATH, offload: false }));
    dev.onPackets(() => undefined);

    let caught: unknown;
    try {
      track(TunDevice.open(name, { netnsPath: NS_PATH, offload: false }));
    } catch (err) {
      caught = err;
    }
    // Not toBeInstanceOf(Error): the addon builds its errors in Node's main realm, and jest's
    // sandbox has its own Error constructor.
    expect(caught).toHaveProperty('message');
    expect((caught as NodeJS.ErrnoException).code).toBe('EBUSY');
    expect((caught as Error).message).toMatch(/TUNSETIFF/);

    expect(await linkExists(NS, name)).toBe(true);
    dev.close();
    dev.close(); // idempotent
    expect(dev.closed).toBe(true);
    expect(await linkExists(NS, name)).toBe(false);
    expect(dev.write(ETH_P_IP, Buffer.alloc(20))).toBe(false);
  });

  test('a missing namespace path throws ENOENT naming the path, and the thread stays home', async () => {
    const bogus = `/var/run/netns/wgmt-tun-${pid}-missing`;
    let caught: unknown;
    try {
      track(TunDevice.open(ifname('e'), { netnsPath: bogus }));
    } catch (err) {
      caught = err;
    }
    // Not toBeInstanceOf(Error): the addon builds its errors in Node's main realm, and jest's
    // sandbox has its own Error constructor.
    expect(caught).toHaveProperty('message');
    expect((caught as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect((caught as Error).message).toContain(bogus);
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(originalNetns);

    const name = ifname('r');
    const dev = track(TunDevice.open(name));
    try {
      expect(await linkExists(null, name)).toBe(true);
      expect(await linkExists(NS, name)).toBe(false);
    } finally {
      dev.close();
    }
    expect(await linkExists(null, name)).toBe(false);
  });

  test('a failure after entering the namespace still restores the thread', async () => {
    // "lo" exists in every namespace and is no TUN, so TUNSETIFF fails after setns succeeded.
    let caught: unknown;
    try {
      track(TunDevice.open('lo', { netnsPath: NS_PATH }));
    } catch (err) {
      caught = err;
    }
    expect((caught as NodeJS.ErrnoException).code).toBe('EINVAL');
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(originalNetns);
  });

  test('deleting the interface reports EBADFD once and stops reading', async () => {
    const name = ifname('f');
    const dev = track(TunDevice.open(name, { netnsPath: NS_PATH, offload: false }));
    const errors: string[] = [];
    const reported = new Promise<void>((resolve) => {
      dev.onPackets(
        () => undefined,
        (code) => {
          errors.push(code);
          resolve();
        },
      );
    });
    await ip('-n', NS, 'link', 'del', name);
    await reported;
    await new Promise((r) => setTimeout(r, 100));
    expect(errors).toEqual(['EBADFD']);
    dev.close();
  });
});
