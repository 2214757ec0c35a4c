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

export interface LiveWarmUpOptions {
  mtu: number;
  /** The live socket's address, if it has one; the warm-up binds (and talks over) the same. */
  listenAddress?: string;
  mplsPeers?: 'seed' | 'any';
  /**
   * The live datapath's log. Its object is stored in the devices: a different kind of object
   * here would give them a different shape and throw the compiled code away at go-live. The
   * devices log only at debug level, and these never attach to a namespace (no info lines).
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
  const rounds = opts.rounds ?? 4000;
  const budgetMs = opts.budgetMs ?? 2000;
  const started = performance.now();
  const addon = loadTunAddon();
  const target = opts.listenAddress ?? '127.0.0.1';
  const log = opts.log ?? silentLog;
  const sides: { dev: Device; tun: TunDevice; udp: UdpConn; farFd: number; far: TunReadHandle | null }[] = [];
  let received = 0;
  await closeOnceBeforehand(opts.listenAddress, log);
  try {
    for (let i = 0; i < 2; i++) {
      const { tun, farFd } = TunDevice.standIn(`warm${i}`);
      // Built as run.ts builds the live one (wiring.ts: the same closures, objects of the same shapes).
      const udp = openUdp(opts.listenAddress, log);
      const { device: dev } = wireEndpoint(tun, udp, { mtu: opts.mtu, timing: defaultTiming, log, mplsPeers: opts.mplsPeers });
      const side: (typeof sides)[number] = { dev, tun, udp, farFd, far: null };
      sides.push(side);
      side.far = addon.startReading(farFd, (...[packets]) => {
        if (packets !== null) received += packets.length;
      });
      await dev.start(0);
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
    for (let i = 0; i < rounds && performance.now() - started < budgetMs; i++) {
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
      s.dev.close();
      s.udp.close();
      s.tun.close();
      if (s.far !== null) addon.stopReading(s.far);
      addon.close(s.farFd);
    }
  }
  return received;
}

/**
 * A stand-in TUN and a bound UDP socket, opened and closed before the rounds. Closing writes
 * fields (the TUN's closed flag, the socket's descriptors) that until the first close of their
 * kind have only ever held one value; V8 compiles the send path assuming they keep it, and the
 * warm-up's own close after the rounds would then throw that code away ("code dependencies")
 * just before the live device needs it. Closed once first, they are ordinary fields by the time
 * the rounds compile.
 */
async function closeOnceBeforehand(listenAddress: string | undefined, log: Log): Promise<void> {
  const { tun, farFd } = TunDevice.standIn('warm-close');
  tun.close();
  loadTunAddon().close(farFd);
  const udp = openUdp(listenAddress, log);
  try {
    await udp.bind(0);
  } finally {
    udp.close();
  }
}
