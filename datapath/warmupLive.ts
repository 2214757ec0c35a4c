// The second half of the warm-up (device/warmup.ts has the first and the reasons): two
// throwaway devices wired exactly as the live one will be (wiring.ts: the same closures, a real
// UDP socket bound like the live one, a label-switching router with no routes) with a socket
// pair standing in for each TUN. Packets are written into one stand-in as the kernel would
// hand them to a TUN and read from the other, so every function a live packet runs through,
// from the native read callback to the native write, is compiled by the time the real TUN opens.
import { silentLog, type Log } from './log';
import type { UdpConn } from './conn/udp';
import { Device } from './device/device';
import { pairConfig, packetSet, roundPacket, strayPacket } from './device/warmup';
import { loadTunAddon, type TunReadHandle } from './tun/native';
import { TunDevice, piProto, PI_LEN } from './tun/tunDevice';
import { feedFromTun, openUdp, wireEndpoint } from './wiring';
import { defaultTiming } from './device/constants';
import type { LsrEndpoint } from './lsr/endpoint';
import { LSR_ROOT } from './lsr/store';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

export interface LiveWarmUpOptions {
  mtu: number;
  /** The live socket's address, if it has one; the warm-up binds (and talks over) the same. */
  listenAddress?: string;
  mplsPeers?: 'seed' | 'any';
  /**
   * The live datapath's log. Its object is stored in the devices: a different kind of object
   * here would give them a different shape and throw the compiled code away at go-live. The
   * devices log only at debug level; the first pair's join logs one info line.
   */
  log?: Log;
  rounds?: number;
  budgetMs?: number;
  /**
   * How long one packet may take before the next goes anyway (the warm-up must not stall on a
   * lost one); a test that checks delivery, not speed, gives it all the time it needs.
   */
  roundWaitMs?: number;
}

/** Returns how many packets came out of the far stand-in (all of them, when it worked). */
export async function warmUpLive(opts: LiveWarmUpOptions): Promise<number> {
  const started = performance.now();
  // A whole lifetime first, briefly: started, joined to a label-switching router, a few packets,
  // closed. Joining and closing write fields (the router's interface name and table, the TUN's
  // closed flag, the socket's descriptors, a peer's sessions) that until then have only ever
  // held one value; V8 compiles the send path assuming they keep it, and their first change
  // throws that code away ("code dependencies"). Changed here, before the compiling rounds, they
  // are ordinary fields: neither the rounds' own close nor the live router's join undoes the work.
  await pairLifetime(opts, { rounds: 16, join: true, started, budgetMs: opts.budgetMs ?? 2000 });
  return pairLifetime(opts, { rounds: opts.rounds ?? 4000, join: false, started, budgetMs: opts.budgetMs ?? 2000 });
}

/** Two wired devices talking through their stand-in TUNs for `rounds` packets, then closed. */
async function pairLifetime(opts: LiveWarmUpOptions, run: { rounds: number; join: boolean; started: number; budgetMs: number }): Promise<number> {
  const addon = loadTunAddon();
  const target = opts.listenAddress ?? '127.0.0.1';
  const log = opts.log ?? silentLog;
  const sides: { dev: Device; endpoint: LsrEndpoint; tun: TunDevice; udp: UdpConn; farFd: number; far: TunReadHandle | null }[] = [];
  // A router of its own, in a directory no namespace has (the live one's is its namespace cookie).
  const nsid = `warm-up-${process.pid}`;
  let received = 0;
  try {
    for (let i = 0; i < 2; i++) {
      const { tun, farFd } = TunDevice.standIn(`warm${i}`);
      // Built as run.ts builds the live one (wiring.ts: the same closures, objects of the same shapes).
      const udp = openUdp(opts.listenAddress, log);
      const { device: dev, endpoint } = wireEndpoint(tun, udp, { mtu: opts.mtu, timing: defaultTiming, log, mplsPeers: opts.mplsPeers });
      const side: (typeof sides)[number] = { dev, endpoint, tun, udp, farFd, far: null };
      sides.push(side);
      side.far = addon.startReading(farFd, (...[packets]) => {
        if (packets !== null) received += packets.length;
      });
      await dev.start(0);
      // Best effort, like the whole warm-up: without a router to join (no root, no /run) the
      // live join just costs the first packets some speed.
      if (run.join) await endpoint.attach(tun.name, undefined, nsid).catch((err: Error) => log.debug({ err: err.message }, 'warm-up: cannot join a router'));
      feedFromTun(tun, dev, () => undefined);
    }
    const [ca, cb] = pairConfig(
      [
        { address: target, port: sides[0].dev.port },
        { address: target, port: sides[1].dev.port },
      ],
      false,
    );
    await sides[0].dev.apply(ca);
    await sides[1].dev.apply(cb);
    const packets = packetSet();
    for (let i = 0; i < run.rounds && performance.now() - run.started < run.budgetMs; i++) {
      const want = received + 1;
      const { from, pkt } = roundPacket(packets, i);
      if (i % 8 === 7) {
        // One no peer takes (device/warmup.ts strayPacket): dropped, nothing to wait for.
        const stray = strayPacket(from, i % 16 === 7 ? 6 : 4);
        addon.write(sides[from].farFd, piProto(stray), stray.subarray(PI_LEN), 0);
      }
      addon.write(sides[from].farFd, piProto(pkt), pkt.subarray(PI_LEN), 0);
      const until = performance.now() + (opts.roundWaitMs ?? 50);
      while (received < want && performance.now() < until) await new Promise((r) => setImmediate(r));
      // Nothing comes through (no loopback in a fresh namespace): not worth the wait.
      if (i === 1 && received === 0) break;
    }
  } finally {
    for (const s of sides) {
      s.endpoint.stop();
      s.dev.close();
      s.udp.close();
      s.tun.close();
      if (s.far !== null) addon.stopReading(s.far);
      addon.close(s.farFd);
    }
    if (run.join) rmSync(join(LSR_ROOT, nsid), { recursive: true, force: true });
  }
  return received;
}
