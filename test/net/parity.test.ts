// WireGuard parity on the underlay (issue 16), with wireguard-go as the independent peer and,
// where it shares the behaviour, as the reference run through the same checks:
// - `wg set fwmark` marks the sockets, so wg-quick's full-tunnel policy routing works;
// - replies leave from the address the peer sent to (the sticky source), so the peer's
//   `wg show endpoints` stays what it was configured with, IPv4 and IPv6, for a second address
//   on the same interface and for an address on another interface;
// - when that address is removed, traffic goes on from another within a second.
import { join } from 'node:path';
import { Netns, ROOT, Tunnel, cleanupAll, genKeys, keyFile, link, run, sleep, startTunnel, uapiStats, uniq } from './harness';
import { describeWhere, needRoot } from '../canRun';

const d = describeWhere(needRoot('root (network namespaces, TUN)'));
jest.setTimeout(120_000);

type Kind = Tunnel['kind'];
const MARK = 51820;

/** Packets received of `count` pings (the exit code says nothing more than "some were lost"). */
async function pings(ns: Netns, to: string, count: number, waitS = 1): Promise<number> {
  const r = await ns.exec('ping', [...(to.includes(':') ? ['-6'] : []), '-n', '-c', String(count), '-i', '0.2', '-W', String(waitS), to], {
    timeoutMs: 60_000,
  });
  const m = /(\d+) received/.exec(r.stdout);
  if (!m) throw new Error(`ping ${to}: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

/** The peer's endpoint as `wg show IF endpoints` prints it (one peer). */
async function endpointOf(t: Tunnel): Promise<string> {
  const out = (await t.ns.must('wg', ['show', t.ifname, 'endpoints'])).trim().split('\n');
  expect(out).toHaveLength(1);
  return out[0].split('\t')[1];
}

/** The source address the kernel itself picks in `ns` for `to`. */
async function kernelSource(ns: Netns, to: string): Promise<string> {
  const out = await ns.ip(...(to.includes(':') ? ['-6'] : []), 'route', 'get', to);
  const m = / src (\S+)/.exec(out);
  if (!m) throw new Error(`no src in: ${out}`);
  return m[1];
}

/** `ss -uapne` lines of the UDP sockets bound to `port` in `ns`. */
async function udpSockets(ns: Netns, port: number): Promise<string[]> {
  const out = await ns.must('ss', ['-uapneH', `sport = :${port}`]);
  return out.split('\n').filter((l) => l.trim() !== '');
}

const bracket = (a: string): string => (a.includes(':') ? `[${a}]` : a);

interface Ends {
  a: Tunnel;
  b: Tunnel;
  aPub: string;
  bPub: string;
}

/** A (the kind under test) and B (wireguard-go) with fresh keys; tunnel addresses 10.99.0.1/.2, fd00:99::1/::2. */
async function tunnels(nsA: Netns, kindA: Kind, nsB: Netns): Promise<Ends> {
  const a = await startTunnel(nsA, kindA, `wga${uniq()}`);
  const b = await startTunnel(nsB, 'wireguard-go', `wgb${uniq()}`);
  const [ka, kb] = [await genKeys(), await genKeys()];
  await nsA.must('wg', ['set', a.ifname, 'private-key', keyFile(ka.priv), 'listen-port', '51820']);
  await nsB.must('wg', ['set', b.ifname, 'private-key', keyFile(kb.priv), 'listen-port', '51820']);
  for (const [ns, t, n] of [
    [nsA, a, 1],
    [nsB, b, 2],
  ] as const) {
    await ns.ip('addr', 'add', `10.99.0.${n}/24`, 'dev', t.ifname);
    await ns.ip('addr', 'add', `fd00:99::${n}/64`, 'dev', t.ifname, 'nodad');
    await ns.ip('link', 'set', t.ifname, 'up');
  }
  return { a, b, aPub: ka.pub, bPub: kb.pub };
}

async function stop(e: Ends | null): Promise<void> {
  if (e) {
    const code = await e.a.stop();
    await e.b.stop();
    if (e.a.kind === 'wgmpls' && code !== 0) throw new Error(`datapath exited with ${code}: ${e.a.logs.join('')}`);
  }
  await cleanupAll();
}

d('fwmark: wg-quick full tunnel (everything not marked goes into the tunnel)', () => {
  afterAll(cleanupAll);

  // B's endpoint is reached by A's default route, as an Internet peer is: the route that
  // wg-quick's `suppress_prefixlength 0` rule hides, so only the mark keeps the tunnel's own
  // datagrams out of the tunnel.
  test.each([
    ['wgmpls', '10.252.0.2'],
    ['wgmpls', 'fd00:252::2'],
    ['wireguard-go', '10.252.0.2'],
  ] as const)('%s over an underlay endpoint %s: traffic flows both families; ss shows the mark', async (kind, endpoint) => {
    const nsA = await Netns.create('fa');
    const nsB = await Netns.create('fb');
    let e: Ends | null = null;
    try {
      await link(nsA, ['10.251.0.1/24', 'fd00:251::1/64'], nsB, ['10.251.0.2/24', 'fd00:251::2/64']);
      await nsB.ip('addr', 'add', '10.252.0.2/32', 'dev', 'lo');
      await nsB.ip('addr', 'add', 'fd00:252::2/128', 'dev', 'lo', 'nodad');
      await nsA.ip('route', 'add', 'default', 'via', '10.251.0.2');
      await nsA.ip('-6', 'route', 'add', 'default', 'via', 'fd00:251::2');
      e = await tunnels(nsA, kind, nsB);
      const { a, b } = e;
      await nsA.must('wg', ['set', a.ifname, 'fwmark', String(MARK), 'peer', e.bPub, 'allowed-ips', '0.0.0.0/0,::/0', 'endpoint', `${bracket(endpoint)}:51820`]);
      await nsB.must('wg', ['set', b.ifname, 'peer', e.aPub, 'allowed-ips', '10.99.0.1/32,fd00:99::1/128']);
      // What wg-quick does for AllowedIPs = 0.0.0.0/0, ::/0 with Table = auto.
      for (const f of ['-4', '-6']) {
        await nsA.ip(f, 'route', 'add', f === '-4' ? '0.0.0.0/0' : '::/0', 'dev', a.ifname, 'table', String(MARK));
        await nsA.ip(f, 'rule', 'add', 'not', 'fwmark', String(MARK), 'table', String(MARK));
        await nsA.ip(f, 'rule', 'add', 'table', 'main', 'suppress_prefixlength', '0');
      }
      await nsA.must('sysctl', ['-q', 'net.ipv4.conf.all.src_valid_mark=1']);

      expect(await pings(nsA, '10.99.0.2', 5)).toBe(5);
      expect(await pings(nsA, 'fd00:99::2', 5)).toBe(5);
      expect(await pings(nsB, '10.99.0.1', 3)).toBe(3);
      expect((await nsA.must('wg', ['show', a.ifname, 'fwmark'])).trim()).toBe('0xca6c');
      const socks = await udpSockets(nsA, 51820);
      expect(socks).toHaveLength(2); // IPv4 and IPv6
      for (const s of socks) expect(s).toContain('fwmark:0xca6c');
      if (kind === 'wireguard-go') return; // the reference: it marks, as we do

      // Mark off: the sockets lose it and the set-up loops its own datagrams (the bug this was).
      await nsA.must('wg', ['set', a.ifname, 'fwmark', 'off']);
      expect((await nsA.must('wg', ['show', a.ifname, 'fwmark'])).trim()).toBe('off');
      for (const s of await udpSockets(nsA, 51820)) expect(s).not.toContain('fwmark');
      expect(await pings(nsA, '10.99.0.2', 3)).toBe(0);

      // Back on, together with a new port: the new sockets carry it, traffic flows again.
      await nsA.must('wg', ['set', a.ifname, 'fwmark', String(MARK), 'listen-port', '51821']);
      expect(await udpSockets(nsA, 51820)).toEqual([]);
      const moved = await udpSockets(nsA, 51821);
      expect(moved).toHaveLength(2);
      for (const s of moved) expect(s).toContain('fwmark:0xca6c');
      expect(await pings(nsA, '10.99.0.2', 5, 3)).toBeGreaterThanOrEqual(4);
      expect(await pings(nsA, 'fd00:99::2', 5)).toBe(5);
    } finally {
      await stop(e);
    }
  });
});

/**
 * A with two addresses of each family on the link to B (10.253.0.1 and .11, fd00:253::1 and
 * ::11) and one of each on another interface (10.254.0.1, fd00:254::1, on a veth inside A), which
 * B reaches through A. A has no endpoint for B: it learns B's from B's handshake.
 */
async function multiHomed(kindA: Kind): Promise<Ends & { nsA: Netns; nsB: Netns; aIf: string }> {
  const nsA = await Netns.create('sa');
  const nsB = await Netns.create('sb');
  const { aIf } = await link(nsA, ['10.253.0.1/24', '10.253.0.11/24', 'fd00:253::1/64', 'fd00:253::11/64'], nsB, ['10.253.0.2/24', 'fd00:253::2/64']);
  const other = `vo${uniq()}`;
  await nsA.ip('link', 'add', other, 'type', 'veth', 'peer', 'name', `vp${uniq()}`);
  await nsA.ip('addr', 'add', '10.254.0.1/32', 'dev', other);
  await nsA.ip('addr', 'add', 'fd00:254::1/128', 'dev', other, 'nodad');
  await nsA.ip('link', 'set', other, 'up');
  await nsB.ip('route', 'add', '10.254.0.1/32', 'via', '10.253.0.1');
  await nsB.ip('-6', 'route', 'add', 'fd00:254::1/128', 'via', 'fd00:253::1');
  const e = await tunnels(nsA, kindA, nsB);
  await nsA.must('wg', ['set', e.a.ifname, 'peer', e.bPub, 'allowed-ips', '10.99.0.2/32,fd00:99::2/128']);
  await nsB.must('wg', ['set', e.b.ifname, 'peer', e.aPub, 'allowed-ips', '10.99.0.1/32,fd00:99::1/128']);
  return { ...e, nsA, nsB, aIf };
}

/** The one of A's two addresses on the link that the kernel would not pick towards B. */
async function notKernelsChoice(nsA: Netns, family: 4 | 6): Promise<string> {
  const [p, s, b] = family === 4 ? ['10.253.0.1', '10.253.0.11', '10.253.0.2'] : ['fd00:253::1', 'fd00:253::11', 'fd00:253::2'];
  const chosen = await kernelSource(nsA, b);
  expect([p, s]).toContain(chosen);
  return chosen === p ? s : p;
}

for (const kind of ['wgmpls', 'wireguard-go'] as const) {
  d(`sticky source, ${kind} answering wireguard-go: the peer's endpoint stays what it was given`, () => {
    let h: Awaited<ReturnType<typeof multiHomed>> | null = null;
    beforeAll(async () => {
      h = await multiHomed(kind);
    });
    afterAll(async () => {
      await stop(h);
    });

    // Each case points B at another of A's addresses; B's next handshake or data goes there,
    // and everything A sends afterwards must come from there. The kernel's own pick towards B
    // is 10.253.0.1 or the IPv6 address it prefers: never the address given.
    test.each([
      ['IPv4, a second address on the same interface', 4, 'same'],
      ['IPv6, a second address on the same interface', 6, 'same'],
      ['IPv4, an address on another interface', 4, 'other'],
      ['IPv6, an address on another interface', 6, 'other'],
    ] as const)('%s', async (_name, family, where) => {
      const { nsA, nsB, b, aPub } = h as NonNullable<typeof h>;
      const given = where === 'same' ? await notKernelsChoice(nsA, family) : family === 4 ? '10.254.0.1' : 'fd00:254::1';
      expect(await kernelSource(nsA, family === 4 ? '10.253.0.2' : 'fd00:253::2')).not.toBe(given);
      const ep = `${bracket(given)}:51820`;
      await nsB.must('wg', ['set', b.ifname, 'peer', aPub, 'endpoint', ep]);
      // B talks first (handshake or data to `given`), then A on its own.
      expect(await pings(nsB, '10.99.0.1', 3)).toBe(3);
      expect(await pings(nsA, 'fd00:99::2', 3)).toBe(3);
      expect(await pings(nsA, '10.99.0.2', 3)).toBe(3);
      expect(await endpointOf(b)).toBe(ep);
    });

    test('`wg set ... endpoint` on A forgets the source: A speaks from the kernel\'s choice again, and B follows', async () => {
      const { nsA, nsB, a, b, aPub, bPub } = h as NonNullable<typeof h>;
      const given = await notKernelsChoice(nsA, 4);
      await nsB.must('wg', ['set', b.ifname, 'peer', aPub, 'endpoint', `${given}:51820`]);
      expect(await pings(nsB, '10.99.0.1', 3)).toBe(3);
      expect(await endpointOf(b)).toBe(`${given}:51820`);
      // The same endpoint A already had for B: only the source it kept changes.
      expect(await endpointOf(a)).toBe('10.253.0.2:51820');
      await nsA.must('wg', ['set', a.ifname, 'peer', bPub, 'endpoint', '10.253.0.2:51820']);
      expect(await pings(nsA, '10.99.0.2', 3)).toBe(3);
      expect(await endpointOf(b)).toBe(`${await kernelSource(nsA, '10.253.0.2')}:51820`);
    });
  });
}

d('sticky source: its address removed, traffic goes on from another (wgmpls; wireguard-go loses the peer here)', () => {
  afterAll(cleanupAll);

  test.each([4, 6] as const)('IPv%s', async (family) => {
    let h: Awaited<ReturnType<typeof multiHomed>> | null = null;
    try {
      h = await multiHomed('wgmpls');
      const { nsA, nsB, a, b, aPub, aIf } = h;
      const given = await notKernelsChoice(nsA, family);
      const fallback = await kernelSource(nsA, family === 4 ? '10.253.0.2' : 'fd00:253::2');
      await nsB.must('wg', ['set', b.ifname, 'peer', aPub, 'endpoint', `${bracket(given)}:51820`]);
      expect(await pings(nsB, '10.99.0.1', 3)).toBe(3);
      expect(await endpointOf(b)).toBe(`${bracket(given)}:51820`);
      const before = (await uapiStats(a.ifname))['event.udp-source-gone'] ?? 0;

      // 25 pings at 5 a second from A's side; the address goes away after the fifth.
      const running = pings(nsA, family === 4 ? '10.99.0.2' : 'fd00:99::2', 25);
      await sleep(1000);
      await nsA.ip('addr', 'del', `${given}/${family === 4 ? 24 : 64}`, 'dev', aIf);
      const received = await running;
      expect(25 - received).toBeLessThanOrEqual(5); // at most a second's worth lost
      expect(await endpointOf(b)).toBe(`${bracket(fallback)}:51820`);
      expect((await uapiStats(a.ifname))['event.udp-source-gone'] ?? 0).toBeGreaterThan(before);
      // And B's own traffic follows.
      expect(await pings(nsB, '10.99.0.1', 3)).toBe(3);
    } finally {
      await stop(h);
    }
  });
});

d('the underlay on its own (conn/udp.ts in a namespace of its own)', () => {
  afterAll(cleanupAll);
  const UDP = JSON.stringify(join(ROOT, 'dist', 'datapath', 'conn', 'udp.js'));

  test('a send that fails for want of a route keeps the sticky source (IPv4 says ENETUNREACH for that and for a removed source alike)', async () => {
    const ns = await Netns.create('u');
    // Only lo: 203.0.113.1 has no route, from any source.
    const out = await ns.must('node', [
      '-e',
      `const { UdpConn } = require(${UDP});
       const c = new UdpConn();
       let gone = 0;
       c.attach({ handleUdpBatch() {} }, () => gone++);
       c.bind(0).then(() => {
         const to = { address: '203.0.113.1', port: 9, localAddress: '127.0.0.1', localIfindex: 1 };
         const sent = c.send(Buffer.from('x'), to);
         console.log(JSON.stringify({ sent, local: to.localAddress ?? null, gone }));
         c.close();
       });`,
    ]);
    expect(JSON.parse(out)).toEqual({ sent: false, local: '127.0.0.1', gone: 0 });
  });

  test('without CAP_NET_ADMIN setting a mark is refused with EPERM as a UAPI error, and the sockets go on', async () => {
    const r = await run('setpriv', [
      '--bounding-set', '-net_admin,-net_raw', '--inh-caps', '-net_admin,-net_raw',
      'node', '-e',
      `const { UdpConn } = require(${UDP});
       const c = new UdpConn('127.0.0.1');
       const got = [];
       c.attach({ handleUdpBatch(arena, desc, n) { for (let i = 0; i < n; i++) got.push(arena.toString('latin1', desc[3 * i], desc[3 * i] + desc[3 * i + 1])); } });
       c.bind(0).then(async (port) => {
         let err = null;
         try { c.setMark(51820); } catch (e) { err = { name: e.constructor.name, errno: e.errno }; }
         c.send(Buffer.from('still'), { address: '127.0.0.1', port });
         await new Promise((r) => setTimeout(r, 200));
         console.log(JSON.stringify({ err, got }));
         c.close();
       });`,
    ]);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ err: { name: 'UapiError', errno: 1 }, got: ['still'] });
  });
});
