// A line of namespaces joined by wgmpls tunnels, each node a label-switching router: the
// shape of the seed's tunnel, router and stack scripts. Node i's end of the link to node j is
// the TUN `<base><i><j>`; link i-j has tunnel addresses 10.0.<ij>.1/.2 and fd00:<ij>::1/::2
// and runs over a veth underlay 10.200.<i>.1/.2 (all inside namespaces the test made).
import { CLI, Netns, Tunnel, genKeys, keyFile, link, must, startTunnel, uniq } from './harness';

export interface LinkEnd {
  node: number;
  ifname: string;
  v4: string;
  v6: string;
  port: number;
  underlay: string;
  pub: string;
  tun: Tunnel;
}

export interface Topology {
  nodes: Netns[];
  /** ends[i][j]: node i's end of the link to node j. */
  ends: Map<string, LinkEnd>;
  end(i: number, j: number): LinkEnd;
  /** `wgmpls ip ...` inside node i; throws with its stderr on failure. */
  wgmplsIp(i: number, args: string): Promise<string>;
  wgmplsIpRaw(i: number, args: string): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

const pair = (i: number, j: number): string => `${Math.min(i, j)}${Math.max(i, j)}`;

/** Nodes 1..n in a line. */
export async function line(n: number, opts: { env?: NodeJS.ProcessEnv; startTimeoutMs?: number; oneProcess?: number[] } = {}): Promise<Topology> {
  const base = `m${uniq()}`;
  const nodes: Netns[] = [];
  for (let i = 1; i <= n; i++) {
    const ns = await Netns.create(`n${i}`);
    for (const s of ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']) {
      await ns.must('sysctl', ['-q', '-w', s]);
    }
    nodes.push(ns);
  }
  const node = (i: number): Netns => nodes[i - 1];
  const ends = new Map<string, LinkEnd>();
  // Nodes in opts.oneProcess run all their ends in one process (`wgmpls datapath X Y`), started
  // here; the others one process per end, started with their link.
  const shared = new Map<number, Tunnel>();
  try {
    for (const i of opts.oneProcess ?? []) {
      const names = [i - 1, i + 1].filter((j) => j >= 1 && j <= n).map((j) => `${base}${i}${j}`);
      shared.set(i, await startTunnel(node(i), 'wgmpls', names.join(' '), opts.env, opts.startTimeoutMs));
    }
  } catch (err) {
    for (const t of shared.values()) await t.stop();
    for (const ns of nodes) await ns.destroy();
    throw err;
  }
  for (let i = 1; i < n; i++) {
    const j = i + 1;
    await link(node(i), [`10.200.${i}.1/24`], node(j), [`10.200.${i}.2/24`]);
    const p = pair(i, j);
    const keys = [await genKeys(), await genKeys()];
    const mk = async (me: number, other: number, k: number): Promise<LinkEnd> => {
      const ifname = `${base}${me}${other}`;
      const tun = shared.get(me) ?? (await startTunnel(node(me), 'wgmpls', ifname, opts.env, opts.startTimeoutMs));
      return {
        node: me,
        ifname,
        v4: `10.0.${p}.${k + 1}`,
        v6: `fd00:${p}::${k + 1}`,
        port: 51000 + me * 10 + other,
        underlay: `10.200.${i}.${k + 1}`,
        pub: keys[k].pub,
        tun,
      };
    };
    // Both ends at once: a datapath's start is mostly CPU (loading, warm-up), and there are two.
    // If one fails, the other is stopped: nothing outlives the test.
    const started = await Promise.allSettled([mk(i, j, 0), mk(j, i, 1)]);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      for (const r of started) if (r.status === 'fulfilled') await r.value.tun.stop();
      throw failed.reason;
    }
    const [a, b] = started.map((r) => (r as PromiseFulfilledResult<LinkEnd>).value);
    ends.set(`${i}-${j}`, a);
    ends.set(`${j}-${i}`, b);
    for (const [me, other, k] of [
      [a, b, 0],
      [b, a, 1],
    ] as const) {
      const ns = node(me.node);
      await ns.must('wg', [
        'set', me.ifname, 'private-key', keyFile(keys[k].priv), 'listen-port', String(me.port),
        'peer', other.pub, 'allowed-ips', '0.0.0.0/0,::/0', 'endpoint', `${other.underlay}:${other.port}`,
      ]);
      await ns.ip('addr', 'add', `${me.v4}/24`, 'dev', me.ifname);
      await ns.ip('addr', 'add', `${me.v6}/64`, 'dev', me.ifname, 'nodad');
      await ns.ip('link', 'set', me.ifname, 'up');
    }
  }
  const raw = (i: number, args: string): Promise<{ code: number; stdout: string; stderr: string }> =>
    node(i).exec('node', [CLI, 'ip', ...args.split(/\s+/).filter(Boolean)]);
  return {
    nodes,
    ends,
    end(i, j) {
      const e = ends.get(`${i}-${j}`);
      if (!e) throw new Error(`no link ${i}-${j}`);
      return e;
    },
    wgmplsIpRaw: raw,
    async wgmplsIp(i, args) {
      const r = await raw(i, args);
      if (r.code !== 0) throw new Error(`node ${i}: wgmpls ip ${args}: ${r.stderr}`);
      return r.stdout;
    },
    async stop() {
      for (const e of ends.values()) await e.tun.stop();
      for (const ns of nodes) await ns.destroy();
      await must('true', []);
    },
  };
}

/**
 * The seed's router scenario on line(6): plain IP routes at the ends; 2 pushes 101, 3 swaps to
 * 102, 4 swaps to 103, 5 pops towards 6; and back 201/202/203 from 5 to 1. Through
 * t.wgmplsIp, whichever label-switching router that reaches.
 */
export async function seedRouterRoutes(t: Topology): Promise<void> {
  const e = (i: number, j: number): LinkEnd => t.end(i, j);
  // Plain IP at the ends: 1 -> 2 and 6 -> 5.
  await t.nodes[0].ip('route', 'add', '10.0.56.0/24', 'via', e(2, 1).v4, 'dev', e(1, 2).ifname);
  await t.nodes[0].ip('-6', 'route', 'add', 'fd00:56::/64', 'via', e(2, 1).v6, 'dev', e(1, 2).ifname);
  await t.nodes[5].ip('route', 'add', '10.0.12.0/24', 'via', e(5, 6).v4, 'dev', e(6, 5).ifname);
  await t.nodes[5].ip('-6', 'route', 'add', 'fd00:12::/64', 'via', e(5, 6).v6, 'dev', e(6, 5).ifname);
  // 2 pushes 101, 3 swaps to 102, 4 swaps to 103, 5 pops towards 6.
  await t.wgmplsIp(2, `route add 10.0.56.0/24 encap mpls 101 via ${e(3, 2).v4} dev ${e(2, 3).ifname}`);
  await t.wgmplsIp(2, `-6 route add fd00:56::/64 encap mpls 101 via ${e(3, 2).v6} dev ${e(2, 3).ifname}`);
  await t.wgmplsIp(3, `-f mpls route add 101 as 102 via inet ${e(4, 3).v4} dev ${e(3, 4).ifname}`);
  await t.wgmplsIp(4, `-f mpls route add 102 as 103 via inet ${e(5, 4).v4} dev ${e(4, 5).ifname}`);
  await t.wgmplsIp(5, `-f mpls route add 103 via inet ${e(6, 5).v4} dev ${e(5, 6).ifname}`);
  // and back: 5 pushes 201, 4 swaps to 202, 3 swaps to 203, 2 pops towards 1.
  await t.wgmplsIp(5, `route add 10.0.12.0/24 encap mpls 201 via ${e(4, 5).v4} dev ${e(5, 4).ifname}`);
  await t.wgmplsIp(5, `-6 route add fd00:12::/64 encap mpls 201 via ${e(4, 5).v6} dev ${e(5, 4).ifname}`);
  await t.wgmplsIp(4, `-f mpls route add 201 as 202 via inet ${e(3, 4).v4} dev ${e(4, 3).ifname}`);
  await t.wgmplsIp(3, `-f mpls route add 202 as 203 via inet ${e(2, 3).v4} dev ${e(3, 2).ifname}`);
  await t.wgmplsIp(2, `-f mpls route add 203 via inet ${e(1, 2).v4} dev ${e(2, 1).ifname}`);
}

/**
 * The seed's stack scenario on a two-node line, both directions: each node pushes 100/200 towards
 * the other's loopback address (10.9.1.1 on node 1, 10.9.2.1 on node 2), swaps 100 -> 101, pops
 * 101, and pops 200 to lo. Returns node 1's and node 2's ends of the link.
 */
export async function seedStackRoutes(t: Topology): Promise<{ a: LinkEnd; b: LinkEnd }> {
  const a = t.end(1, 2);
  const b = t.end(2, 1);
  await t.nodes[0].ip('addr', 'add', '10.9.1.1/32', 'dev', 'lo');
  await t.nodes[1].ip('addr', 'add', '10.9.2.1/32', 'dev', 'lo');
  for (const [n, me, other, dst] of [
    [1, a, b, '10.9.2.1'],
    [2, b, a, '10.9.1.1'],
  ] as const) {
    await t.wgmplsIp(n, `route add ${dst}/32 encap mpls 100/200 via ${other.v4} dev ${me.ifname}`);
    await t.wgmplsIp(n, `-f mpls route add 100 as 101 via inet ${other.v4} dev ${me.ifname}`);
    await t.wgmplsIp(n, `-f mpls route add 101 via inet ${other.v4} dev ${me.ifname}`);
    await t.wgmplsIp(n, `-f mpls route add 200 dev lo`);
  }
  return { a, b };
}
