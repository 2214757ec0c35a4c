// The batched path between two wgmpls datapaths (TUN offloads, UDP GSO/GRO on both ends) and its
// fallback (--no-offload: one packet per TUN read and write), real processes in namespaces.
import { cleanupAll, pair, ping, stopPair, tcpTransfer, uapiStats } from './harness';
import { describeWhere, needRoot } from '../canRun';

const d = describeWhere(needRoot('root (network namespaces, TUN)'));
jest.setTimeout(180_000);

/** The `offloads` field of a datapath's "datapath up" log line. */
function offloadsLogged(logs: string[]): string | undefined {
  for (const line of logs.join('').split('\n')) {
    if (!line.includes('datapath up')) continue;
    try {
      return (JSON.parse(line) as { offloads?: string }).offloads;
    } catch {
      const m = /offloads[":= ]+"?([a-z0-9 ]+)"?/.exec(line);
      if (m) return m[1].trim();
    }
  }
  return undefined;
}

d('batched path (TUN offloads, UDP GSO/GRO) between wgmpls datapaths', () => {
  afterAll(cleanupAll);

  test.each([
    ['offloads on both ends', [], []],
    ['one end without offloads (--no-offload)', ['--no-offload'], []],
  ])('%s: 20 MB TCP both ways arrives intact, no datagram refused', async (_name, argsA, argsB) => {
    const sides = await pair('wgmpls', 'wgmpls', { argsA, argsB });
    try {
      expect(offloadsLogged(sides[0].tun.logs)).toEqual(argsA.length > 0 ? 'off' : expect.stringMatching(/^csum tso4 tso6/));
      expect(offloadsLogged(sides[1].tun.logs)).toEqual(expect.stringMatching(/^csum tso4 tso6/));
      await ping(sides[0], sides[1].v4, 1);
      await tcpTransfer(sides[0], sides[1], 20 << 20);
      await tcpTransfer(sides[1], sides[0], 20 << 20);
      await ping(sides[1], sides[0].v6, 1);
      for (const s of sides) {
        const stats = await uapiStats(s.tun.ifname);
        // Nothing authenticated was refused on the way in, and nothing the TUN gave was malformed.
        for (const reason of ['drop.decrypt', 'drop.replay', 'drop.source-not-allowed', 'drop.bad-inner-packet', 'drop.tun-malformed', 'drop.tun-write']) {
          expect({ reason, n: stats[reason] ?? 0 }).toEqual({ reason, n: 0 });
        }
      }
    } finally {
      await stopPair(sides);
    }
  });
});
