// The seed's three scripts (tunnel, router, stack), ported to wgmpls datapaths and `wgmpls ip`,
// with assertions: real namespaces, real ping/traceroute/tcpdump, no Docker.
import { join } from 'node:path';
import { CLI, ROOT, capture, cleanupAll, uapiStats as stats, waitFor } from './harness';
import { describeWhere, needRoot } from '../canRun';
import { Topology, line, seedRouterRoutes, seedStackRoutes } from './lsrTopology';
import { lse } from '../packets';

const d = describeWhere(needRoot('root (network namespaces, TUN)'));
jest.setTimeout(180_000);

async function ping(t: Topology, from: number, to: string, count = 3): Promise<string> {
  const r = await t.nodes[from - 1].exec('ping', [...(to.includes(':') ? ['-6'] : []), '-c', String(count), '-i', '0.2', '-W', '3', to], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`ping ${to} from node ${from} failed: ${r.stdout}${r.stderr}`);
  return r.stdout;
}


async function vethTo(t: Topology, i: number, peerUnderlay: string): Promise<string> {
  // The veth of node i whose subnet holds peerUnderlay.
  const out = await t.nodes[i - 1].ip('-o', '-4', 'addr', 'show');
  const net = peerUnderlay.split('.').slice(0, 3).join('.');
  const lineFor = out.split('\n').find((l) => l.includes(` ${net}.`));
  if (!lineFor) throw new Error(`no veth toward ${peerUnderlay}`);
  return lineFor.split(/\s+/)[1];
}

d('label switching: the seed scenarios', () => {
  afterAll(cleanupAll);

  test('tunnel: IP over a label push at one end and a pop to the local stack at the other', async () => {
    const t = await line(2);
    try {
      const a = t.end(1, 2);
      const b = t.end(2, 1);
      await t.nodes[1].ip('addr', 'add', '10.9.2.1/32', 'dev', 'lo');
      await t.nodes[0].ip('addr', 'add', '10.9.1.1/32', 'dev', 'lo');
      await t.wgmplsIp(1, `route add 10.9.2.1/32 encap mpls 100 via ${b.v4} dev ${a.ifname}`);
      await t.wgmplsIp(2, `-f mpls route add 100 dev lo`);
      await t.wgmplsIp(2, `route add 10.9.1.1/32 encap mpls 200 via ${a.v4} dev ${b.ifname}`);
      await t.wgmplsIp(1, `-f mpls route add 200 dev lo`);
      expect(await t.wgmplsIp(2, '-f mpls route show')).toBe('100 dev lo \n');
      const cap = await capture(t.nodes[0], await vethTo(t, 1, b.underlay), 'udp');
      await t.nodes[0].must('ping', ['-c', '3', '-i', '0.2', '-W', '3', '-I', '10.9.1.1', '10.9.2.1']);
      const udp = await cap.stop();
      const toB = udp.filter((u) => u.dstPort === b.port && u.payload[0] === 5);
      const toA = udp.filter((u) => u.dstPort === a.port && u.payload[0] === 5);
      expect(toB.length).toBeGreaterThanOrEqual(3);
      expect(toA.length).toBeGreaterThanOrEqual(3);
      expect([...toB[0].payload.subarray(1, 4)]).toEqual([0x41, 0x06, 0x00]); // label 100, BoS
      expect([...toA[0].payload.subarray(1, 4)]).toEqual([0x81, 0x0c, 0x00]); // label 200, BoS
    } finally {
      await t.stop();
    }
  });

  describe('router: six namespaces in a line, labels 101/102/103 and back 201/202/203', () => {
    let t: Topology;
    beforeAll(async () => {
      t = await line(6);
      await seedRouterRoutes(t);
    });
    afterAll(async () => {
      if (t) await t.stop();
    });

    test('routes read back as iproute2 prints them', async () => {
      const e = (i: number, j: number): ReturnType<Topology['end']> => t.end(i, j);
      expect(await t.wgmplsIp(3, '-f mpls route show')).toBe(
        `101 as to 102 via inet ${e(4, 3).v4} dev ${e(3, 4).ifname} \n202 as to 203 via inet ${e(2, 3).v4} dev ${e(3, 2).ifname} \n`,
      );
      expect(await t.wgmplsIp(2, 'route show')).toContain(`10.0.56.0/24  encap mpls  101 via ${e(3, 2).v4} dev ${e(2, 3).ifname}`);
    });

    test('IPv4 and IPv6 ping end to end, both ways, and tcpdump shows type 5 with each hop\'s label', async () => {
      const e = (i: number, j: number): ReturnType<Topology['end']> => t.end(i, j);
      const caps = [
        { hop: [2, 3], label: 101, back: 203 },
        { hop: [3, 4], label: 102, back: 202 },
        { hop: [4, 5], label: 103, back: 201 },
      ];
      const running = [];
      for (const c of caps) running.push({ c, cap: await capture(t.nodes[c.hop[0] - 1], await vethTo(t, c.hop[0], e(c.hop[1], c.hop[0]).underlay), 'udp') });
      await ping(t, 1, e(6, 5).v4);
      await ping(t, 6, e(1, 2).v4);
      await ping(t, 1, e(6, 5).v6);
      await ping(t, 6, e(1, 2).v6);
      for (const { c, cap } of running) {
        const udp = await cap.stop();
        const fwd = e(c.hop[1], c.hop[0]).port;
        const rev = e(c.hop[0], c.hop[1]).port;
        const labelsTo = (port: number): number[] =>
          [...new Set(udp.filter((u) => u.dstPort === port && u.payload[0] === 5).map((u) => (u.payload[1] | (u.payload[2] << 8) | (u.payload[3] << 16)) >> 4))];
        expect({ hop: c.hop, labels: labelsTo(fwd) }).toEqual({ hop: c.hop, labels: [c.label] });
        expect({ hop: c.hop, labels: labelsTo(rev) }).toEqual({ hop: c.hop, labels: [c.back] });
      }
    });

    test('traceroute -e -I from 1 to 6 lists every hop in order, with the MPLS extension on the label-switching hops', async () => {
      const e = (i: number, j: number): ReturnType<Topology['end']> => t.end(i, j);
      const r = await t.nodes[0].must('traceroute', ['-e', '-I', '-n', '-q', '1', '-w', '2', '-m', '8', e(6, 5).v4], { timeoutMs: 60_000 });
      const hops = r
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.trim());
      expect(hops).toHaveLength(5);
      expect(hops[0]).toMatch(new RegExp(`^1\\s+${e(2, 1).v4.replace(/\./g, '\\.')}\\s`));
      expect(hops[1]).toMatch(new RegExp(`^2\\s+${e(3, 2).v4.replace(/\./g, '\\.')}\\s+<MPLS:L=101,E=0,S=1,T=1>`));
      expect(hops[2]).toMatch(new RegExp(`^3\\s+${e(4, 3).v4.replace(/\./g, '\\.')}\\s+<MPLS:L=102,E=0,S=1,T=1>`));
      expect(hops[3]).toMatch(new RegExp(`^4\\s+${e(5, 4).v4.replace(/\./g, '\\.')}\\s+<MPLS:L=103,E=0,S=1,T=1>`));
      expect(hops[4]).toMatch(new RegExp(`^5\\s+${e(6, 5).v4.replace(/\./g, '\\.')}\\s`));
      expect(hops[0]).not.toContain('MPLS');
      expect(hops[4]).not.toContain('MPLS');
    });

    test('traceroute -e over IPv6 shows the labels too', async () => {
      const e = (i: number, j: number): ReturnType<Topology['end']> => t.end(i, j);
      const r = await t.nodes[0].must('traceroute', ['-6', '-e', '-I', '-n', '-q', '1', '-w', '2', '-m', '8', e(6, 5).v6], { timeoutMs: 60_000 });
      expect(r).toContain('<MPLS:L=101,E=0,S=1,T=1>');
      expect(r).toContain('<MPLS:L=102,E=0,S=1,T=1>');
      expect(r).toContain('<MPLS:L=103,E=0,S=1,T=1>');
    });

    test('wgmpls sysctl -w net.mpls.icmp_respond=0 on a core LSR makes its hop silent; back to 1, it answers again', async () => {
      const e = (i: number, j: number): ReturnType<Topology['end']> => t.end(i, j);
      const trace = async (): Promise<string[]> =>
        (await t.nodes[0].must('traceroute', ['-e', '-I', '-n', '-q', '1', '-w', '1', '-m', '8', e(6, 5).v4], { timeoutMs: 60_000 }))
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => l.trim());
      expect(await t.nodes[2].must('node', [CLI, 'sysctl', '-w', 'net.mpls.icmp_respond=0'])).toBe('net.mpls.icmp_respond = 0\n');
      try {
        await waitFor('node 3 silent', async () => (await trace())[1] === '2  *', 15_000);
        const hops = await trace();
        expect(hops).toHaveLength(5);
        expect(hops[2]).toContain('<MPLS:L=102,E=0,S=1,T=1>');
        const s3 = await stats(e(3, 2).ifname);
        expect(s3['lsr.drop.ttl-expired']).toBeGreaterThan(0);
      } finally {
        await t.nodes[2].must('node', [CLI, 'sysctl', '-w', 'net.mpls.icmp_respond=1']);
      }
      await waitFor('node 3 answers again', async () => (await trace())[1].includes('<MPLS:L=101'), 15_000);
    });

    test('routes survive a restart of a datapath: restore the keys (wg setconf) and addresses, and traffic flows again', async () => {
      const e = (i: number, j: number): ReturnType<Topology['end']> => t.end(i, j);
      const { startTunnel, keyFile, waitFor: wait } = await import('./harness');
      // Node 2's end towards 3 carries an FTN prefix (its kernel route dies with the TUN);
      // node 3's end towards 4 is the target of an ILM swap.
      for (const [i, j] of [
        [2, 3],
        [3, 4],
      ]) {
        const end = e(i, j);
        const ns = t.nodes[i - 1];
        const conf = await ns.must('wg', ['showconf', end.ifname]);
        await end.tun.stop();
        end.tun = await startTunnel(ns, 'wgmpls', end.ifname);
        await ns.must('wg', ['setconf', end.ifname, keyFile(conf.trim())]);
        await ns.ip('addr', 'add', `${end.v4}/24`, 'dev', end.ifname);
        await ns.ip('addr', 'add', `${end.v6}/64`, 'dev', end.ifname, 'nodad');
        await ns.ip('link', 'set', end.ifname, 'up');
      }
      expect(await t.wgmplsIp(3, '-f mpls route show')).toContain(`101 as to 102 via inet ${e(4, 3).v4} dev ${e(3, 4).ifname}`);
      await wait('the FTN prefix steered into the new TUN again', async () => (await t.nodes[1].ip('route', 'show', '10.0.56.0/24')).includes(e(2, 3).ifname), 10_000);
      await ping(t, 1, e(6, 5).v4);
      await ping(t, 6, e(1, 2).v6);
    });
  });

  test('stack: encap mpls 100/200, swap 100 -> 101 at the far side, pop 101 back, pop 200 to lo; both directions', async () => {
    const t = await line(2);
    try {
      const { a, b } = await seedStackRoutes(t);
      expect(await t.wgmplsIp(1, 'route show')).toContain(`10.9.2.1  encap mpls  100/200 via ${b.v4} dev ${a.ifname}`);
      const cap = await capture(t.nodes[0], await vethTo(t, 1, b.underlay), 'udp');
      await t.nodes[0].must('ping', ['-c', '3', '-i', '0.2', '-W', '3', '-I', '10.9.1.1', '10.9.2.1']);
      await t.nodes[1].must('ping', ['-c', '3', '-i', '0.2', '-W', '3', '-I', '10.9.2.1', '10.9.1.1']);
      const udp = await cap.stop();
      const tops = new Set(udp.filter((u) => u.payload[0] === 5).map((u) => (u.payload[1] | (u.payload[2] << 8) | (u.payload[3] << 16)) >> 4));
      expect([...tops].sort()).toEqual([100, 101, 200]);
    } finally {
      await t.stop();
    }
  });

  test('a two-node label loop dies by TTL and the drop counter says why; malformed frames are dropped and counted', async () => {
    const t = await line(2);
    try {
      const a = t.end(1, 2);
      const b = t.end(2, 1);
      await t.wgmplsIp(1, `route add 10.77.0.0/24 encap mpls 301 via ${b.v4} dev ${a.ifname}`);
      await t.wgmplsIp(2, `-f mpls route add 301 as 300 via inet ${a.v4} dev ${b.ifname}`);
      await t.wgmplsIp(1, `-f mpls route add 300 as 301 via inet ${b.v4} dev ${a.ifname}`);
      const r = await t.nodes[0].exec('ping', ['-c', '1', '-W', '2', '-t', '30', '10.77.0.1']);
      expect(r.code).not.toBe(0);
      await waitFor('TTL expiry counted', async () => ((await stats(a.ifname))['lsr.drop.ttl-expired'] ?? 0) + ((await stats(b.ifname))['lsr.drop.ttl-expired'] ?? 0) >= 1);
      const sa = await stats(a.ifname);
      const sb = await stats(b.ifname);
      // The loop is bounded: about 30 switchings for the ping, at most 255 more for the ICMP error.
      const switched = (sa['lsr.route.300.packets'] ?? 0) + (sb['lsr.route.301.packets'] ?? 0);
      expect(switched).toBeGreaterThanOrEqual(25);
      expect(switched).toBeLessThanOrEqual(30 + 256);

      // Malformed: a stack that never reaches BoS (refused by the receiver), and a truncated one
      // (refused by the sender before encryption). Injected as MPLS on node 1's TUN.
      const inject = (hex: string): Promise<string> => t.nodes[0].must('python3', [join(ROOT, 'test', 'net', 'tools', 'mplsinject.py'), a.ifname, '0x8847', hex]);
      const before = await stats(b.ifname);
      await inject(Buffer.concat([lse(500, 0, 0, 64), lse(501, 0, 0, 64)]).toString('hex'));
      await waitFor('no-BoS frame counted at the receiver', async () => ((await stats(b.ifname))['drop.mpls-malformed'] ?? 0) > (before['drop.mpls-malformed'] ?? 0));
      const beforeA = await stats(a.ifname);
      await inject(Buffer.concat([lse(500, 0, 0, 64), Buffer.from([1, 2])]).toString('hex'));
      await waitFor('truncated frame counted at the sender', async () => ((await stats(a.ifname))['drop.mpls-malformed'] ?? 0) > (beforeA['drop.mpls-malformed'] ?? 0));
    } finally {
      await t.stop();
    }
  });

  test('a bad route is refused with a message naming the problem, and nothing is installed', async () => {
    const t = await line(2);
    try {
      const a = t.end(1, 2);
      const cases: [string, RegExp][] = [
        [`-f mpls route add 101 as 102 via inet 10.0.12.2 dev nosuchdev`, /Cannot find device "nosuchdev"/],
        [`-f mpls route add 5 as 102 via inet 10.0.12.2 dev ${a.ifname}`, /reserved/],
        [`-f mpls route add 1048576 dev lo`, /range/],
        [`-f mpls route add 101 as 102//3 via inet 10.0.12.2 dev ${a.ifname}`, /malformed|label/i],
        [`-f mpls route add 101 as 3/102 via inet 10.0.12.2 dev ${a.ifname}`, /3|implicit/i],
        [`route add 10.0.0.0/33 encap mpls 100 dev ${a.ifname}`, /prefix|Invalid/i],
        [`route add 10.8.0.0/16 encap mpls 100 via fd00::1 dev ${a.ifname}`, /famil/i],
      ];
      for (const [args, msg] of cases) {
        const r = await t.wgmplsIpRaw(1, args);
        expect({ args, code: r.code === 0 ? 0 : 'error', msg: r.stderr }).toEqual({ args, code: 'error', msg: expect.stringMatching(msg) });
      }
      expect(await t.wgmplsIp(1, '-f mpls route show')).toBe('');
      expect(await t.wgmplsIp(1, 'route show')).toBe('');
      expect(await t.nodes[0].ip('route', 'show')).not.toContain('10.8.0.0');
    } finally {
      await t.stop();
    }
  });
});
