// wgmpls datapath against wireguard-go, both real processes in their own namespaces, joined
// by a veth underlay; configured and inspected with the real `wg`. Every wireguard-go test runs
// twice: against current upstream wireguard-go (scripts/wireguard-go.sh, with TUN offloads and
// UDP GSO/GRO) and against Debian's 0.0.20220316 (wireguardGoUnderTest.ts).
import { CLI, Netns, cleanupAll, pair, ping, startTunnel, stopPair, tcpTransfer, uniq, waitFor, wgDump } from './harness';
import { describeEachWireguardGo } from './wireguardGoUnderTest';
import { describeWhere, needRoot } from '../canRun';

const d = describeWhere(needRoot('root (network namespaces, TUN)'));
jest.setTimeout(120_000);

describeEachWireguardGo(
  'wgmpls datapath <-> wireguard-go',
  (wg) => {
    afterAll(cleanupAll);
    const opts = { wireguardGo: wg.binary };

    test.each([
      ['wgmpls initiates', 0],
      ['wireguard-go initiates', 1],
    ])('%s: handshake, IPv4/IPv6 ping both ways, wg show on both sides', async (_name, initiator) => {
      const sides = await pair('wgmpls', 'wireguard-go', opts);
      try {
        const first = sides[initiator];
        const second = sides[1 - initiator];
        await ping(first, second.v4);
        await ping(second, first.v4);
        await ping(first, second.v6);
        await ping(second, first.v6);
        for (const [i, s] of sides.entries()) {
          const dump = await wgDump(s.ns, s.tun.ifname);
          expect(dump.peers).toHaveLength(1);
          expect(dump.peers[0].pub).toBe(sides[1 - i].pub);
          expect(dump.peers[0].latestHandshake).toBeGreaterThan(Date.now() / 1000 - 60);
          expect(dump.peers[0].rx).toBeGreaterThan(0);
          expect(dump.peers[0].tx).toBeGreaterThan(0);
          expect(dump.peers[0].endpoint).toBe(`${sides[1 - i].underlay}:51820`);
          const human = await s.ns.must('wg', ['show', s.tun.ifname]);
          expect(human).toMatch(/latest handshake: .* ago/);
          expect(human).toMatch(/transfer: .* received, .* sent/);
        }
      } finally {
        await stopPair(sides);
      }
    });

    // Both directions, each in a fresh pair: with current wireguard-go one direction has its
    // TUN hand over TSO superpackets and the other coalesces with GRO before writing to its TUN.
    test.each([
      ['wgmpls -> wireguard-go', 0],
      ['wireguard-go -> wgmpls', 1],
    ])('%s: a 20 MB TCP transfer arrives intact (SHA-256 equal)', async (_name, sender) => {
      const sides = await pair('wgmpls', 'wireguard-go', opts);
      try {
        await ping(sides[sender], sides[1 - sender].v4, 1);
        await tcpTransfer(sides[sender], sides[1 - sender], 20 << 20);
      } finally {
        await stopPair(sides);
      }
    });

    test('after rekey intervals traffic still flows (shortened timers on the wgmpls side)', async () => {
      const timing = JSON.stringify({ rekeyAfterTime: 2500, rejectAfterTime: 6000, keepaliveTimeout: 1000, rekeyTimeout: 1000 });
      const sides = await pair('wgmpls', 'wireguard-go', { ...opts, argsA: ['--test-timing', timing] });
      try {
        await ping(sides[0], sides[1].v4, 1);
        const first = (await wgDump(sides[1].ns, sides[1].tun.ifname)).peers[0].latestHandshake;
        // 20 s at 5 pings/s spans several rekeys and two reject-after-time windows.
        await sides[0].ns.must('ping', ['-c', '100', '-i', '0.2', '-W', '2', sides[1].v4], { timeoutMs: 60_000 });
        const later = (await wgDump(sides[1].ns, sides[1].tun.ifname)).peers[0].latestHandshake;
        expect(later).toBeGreaterThan(first);
        await ping(sides[1], sides[0].v4, 3);
        await ping(sides[0], sides[1].v6, 3);
      } finally {
        await stopPair(sides);
      }
    });
  },
  d,
);

d('wgmpls datapath on its own', () => {
  afterAll(cleanupAll);

  test('WGMPLS_TEST_TIMING in the environment is not read; only --test-timing shortens timers, and a bad one is refused by name', async () => {
    const ns = await Netns.create('t');
    try {
      // The old datapath parsed this variable and died on garbage: now nothing inherited matters.
      const t = await startTunnel(ns, 'wgmpls', `wgt${uniq()}`, { WGMPLS_TEST_TIMING: '{"rekeyAfterTime":"not json' });
      expect(t.logs.join('')).not.toMatch(/TEST TIMING/);
      expect(await t.stop()).toBe(0);
      const bad = await ns.exec('node', [CLI, 'datapath', `wgt${uniq()}`, '--test-timing', '{"rekeyAftreTime":3000}']);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/--test-timing: unknown field "rekeyAftreTime"/);
      const good = await startTunnel(ns, 'wgmpls', `wgt${uniq()}`, {}, undefined, ['--test-timing', '{"rekeyAfterTime":3000}']);
      await waitFor('the test-timing warning', () => good.logs.join('').includes('TEST TIMING in effect'));
      expect(await good.stop()).toBe(0);
    } finally {
      await cleanupAll();
    }
  });

  test('SIGTERM removes the TUN and the UAPI socket promptly', async () => {
    const ns = await Netns.create('t');
    try {
      const ifname = `wgt${uniq()}`;
      const t = await startTunnel(ns, 'wgmpls', ifname);
      expect(await ns.ip('link', 'show', ifname)).toContain('mtu 1420');
      const started = Date.now();
      expect(await t.stop()).toBe(0);
      expect(Date.now() - started).toBeLessThan(3000);
      await expect(ns.ip('link', 'show', ifname)).rejects.toThrow();
      const { existsSync } = await import('node:fs');
      expect(existsSync(`/var/run/wireguard/${ifname}.sock`)).toBe(false);
    } finally {
      await cleanupAll();
    }
  });
});
