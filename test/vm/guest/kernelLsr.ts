// The seed's router and stack scenarios with the kernel as the label-switching router (the
// userspace versions are in test/net/lsr.test.ts, same labels and addressing): routes given to
// `wgmpls ip` (auto: kernel, since these namespaces have net.mpls.platform_labels) become
// kernel routes, the kernel switches, the datapaths only carry frames. Then the plugin's own
// route path (plugin/routes/apply.ts) with a batch the kernel refuses.
import { CLI, cleanupAll, keyFile, startTunnel, uapiStats, waitFor } from '../../net/harness';
import { Topology, line, seedRouterRoutes, seedStackRoutes } from '../../net/lsrTopology';
import { applyRoutes } from '../../../plugin/routes/apply';
import { parseRoutesLabel } from '../../../plugin/routes/label';
import { runIp } from '../../../datapath/lsr/namespaceRoutes';
import { nsidOf } from '../../../datapath/lsr/store';
import { expectThat, scenario } from './report';

/** Under software emulation a datapath takes about 10 s to start (loading and warm-up). */
const START_MS = 120_000;

/**
 * `wgmpls ip` in-process, on node i's namespace by path: the code path of `wgmpls ip
 * --container` and of the plugin's route labels (setns for netlink), and about 5 s faster per
 * call here than a new node process. The CLI inside the namespace is used too (`cli`).
 */
function inProcess(t: Topology): { cli: Topology['wgmplsIpRaw'] } {
  const cli = t.wgmplsIpRaw;
  const raw = (i: number, args: string): ReturnType<Topology['wgmplsIpRaw']> => {
    const path = t.nodes[i - 1].path;
    return runIp(args.split(/\s+/).filter(Boolean), { nsid: nsidOf(path), netnsPath: path });
  };
  t.wgmplsIpRaw = raw;
  t.wgmplsIp = async (i, args) => {
    const r = await raw(i, args);
    if (r.code !== 0) throw new Error(`node ${i}: wgmpls ip ${args}: ${r.stderr}`);
    return r.stdout;
  };
  return { cli };
}

async function ping(t: Topology, from: number, to: string, extra: string[] = []): Promise<void> {
  const r = await t.nodes[from - 1].exec('ping', [...(to.includes(':') ? ['-6'] : []), '-c', '3', '-i', '0.2', '-W', '5', ...extra, to], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`ping ${to} from node ${from} failed: ${r.stdout}${r.stderr}`);
}

const has = (text: string, want: string): void => expectThat(text.includes(want), `"${want}" in`, text);

async function router(): Promise<void> {
  let t: Topology | undefined;
  const e = (i: number, j: number): ReturnType<Topology['end']> => {
    if (!t) throw new Error('no topology (the first router scenario failed)');
    return t.end(i, j);
  };
  await scenario('router (kernel LSR): wgmpls ip installs real kernel routes by netlink', async () => {
    t = await line(6, { startTimeoutMs: START_MS });
    const { cli } = inProcess(t);
    await seedRouterRoutes(t);
    // The kernel's own view, as `ip` inside the namespace prints it.
    const ilm3 = await t.nodes[2].ip('-f', 'mpls', 'route', 'show');
    has(ilm3, `101 as to 102 via inet ${e(4, 3).v4} dev ${e(3, 4).ifname}`);
    has(ilm3, `202 as to 203 via inet ${e(2, 3).v4} dev ${e(3, 2).ifname}`);
    has(await t.nodes[4].ip('-f', 'mpls', 'route', 'show'), `103 via inet ${e(6, 5).v4} dev ${e(5, 6).ifname}`);
    has(await t.nodes[1].ip('route', 'show', '10.0.56.0/24'), `encap mpls  101 via ${e(3, 2).v4} dev ${e(2, 3).ifname}`);
    has(await t.nodes[1].ip('-6', 'route', 'show', 'fd00:56::/64'), `encap mpls  101 via ${e(3, 2).v6} dev ${e(2, 3).ifname}`);
    // What platform_labels and input the routes needed.
    const labels = Number((await t.nodes[2].must('sysctl', ['-n', 'net.mpls.platform_labels'])).trim());
    expectThat(labels >= 203, 'net.mpls.platform_labels >= 203 on node 3', labels);
    const input = (await t.nodes[2].must('sysctl', ['-n', `net.mpls.conf.${e(3, 2).ifname}.input`])).trim();
    expectThat(input === '1', `MPLS input on ${e(3, 2).ifname}`, input);
    // The CLI inside the namespace reads the same routes back, and knows who switches them.
    const shown = await cli(3, '-f mpls route show');
    has(shown.stdout, `101 as to 102 via inet ${e(4, 3).v4} dev ${e(3, 4).ifname}`);
    const mixed = await cli(3, '--lsr userspace -f mpls route add 300 dev lo');
    expectThat(mixed.code !== 0, 'wgmpls ip --lsr userspace refused where the kernel switches', mixed);
    has(mixed.stderr, 'switched by the kernel LSR');
  });

  await scenario('router (kernel LSR): IPv4 and IPv6 ping end to end both ways; the datapaths switch nothing', async () => {
    if (!t) throw new Error('no topology');
    await ping(t, 1, e(6, 5).v4);
    await ping(t, 6, e(1, 2).v4);
    await ping(t, 1, e(6, 5).v6);
    await ping(t, 6, e(1, 2).v6);
    for (const [i, j] of [
      [3, 2],
      [3, 4],
      [4, 3],
      [4, 5],
    ]) {
      const s = await uapiStats(e(i, j).ifname);
      const switched = Object.entries(s).filter(([k, v]) => k.startsWith('lsr.route.') && v > 0);
      expectThat(switched.length === 0, `no label switched in userspace by node ${i}'s ${e(i, j).ifname}`, switched);
    }
  });

  await scenario('router (kernel LSR): traceroute from 1 to 6 reaches 6 in 5 hops; the kernel LSRs expire probes silently', async () => {
    if (!t) throw new Error('no topology');
    const out = await t.nodes[0].must('traceroute', ['-n', '-q', '1', '-w', '3', '-m', '8', e(6, 5).v4], { timeoutMs: 120_000 });
    const hops = out.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/).slice(0, 2).join(' '));
    // Linux's af_mpls drops a label whose TTL runs out without an ICMP error (docs/design.md
    // section 4): hops 2-4, inside the LSP, answer nothing.
    const want = [`1 ${e(2, 1).v4}`, '2 *', '3 *', '4 *', `5 ${e(6, 5).v4}`];
    expectThat(JSON.stringify(hops) === JSON.stringify(want), JSON.stringify(want), out);
    const out6 = await t.nodes[0].must('traceroute', ['-6', '-n', '-q', '1', '-w', '3', '-m', '8', e(6, 5).v6], { timeoutMs: 120_000 });
    const last = out6.trim().split('\n').at(-1)!.trim().split(/\s+/).slice(0, 2).join(' ');
    expectThat(last === `5 ${e(6, 5).v6}`, `IPv6 traceroute ending "5 ${e(6, 5).v6}"`, out6);
  });

  await scenario('router (kernel LSR): wgmpls sysctl sets the kernel\'s ip_ttl_propagate and default_ttl, refuses icmp_respond; pipe at the ingress still shows every hop', async () => {
    if (!t) throw new Error('no topology');
    const ns = t.nodes[1];
    const sys = (args: string[]): ReturnType<typeof ns.exec> => ns.exec('node', [CLI, 'sysctl', ...args], { timeoutMs: 60_000 });
    const refused = await sys(['-w', 'net.mpls.icmp_respond=0']);
    expectThat(refused.code !== 0 && refused.stderr.includes('net.mpls.icmp_respond: not with the kernel LSR'), 'icmp_respond refused with the kernel LSR', refused);
    const set = await sys(['-w', 'net.mpls.ip_ttl_propagate=0', 'net.mpls.default_ttl=200']);
    expectThat(set.code === 0, 'wgmpls sysctl -w accepted', set);
    try {
      const kernel = (await ns.must('sysctl', ['-n', 'net.mpls.ip_ttl_propagate', 'net.mpls.default_ttl'])).trim().split(/\s+/);
      expectThat(JSON.stringify(kernel) === '["0","200"]', "node 2's kernel: ip_ttl_propagate 0, default_ttl 200", kernel);
      // Node 2's kernel now pushes labels with TTL 200, but the wire format does not carry the
      // outer TTL: the next hop rebuilds it from the IP header (design section 3), so the pipe
      // model is invisible between wgmpls hops and the LSP's hops still expire the probes.
      const out = await t.nodes[0].must('traceroute', ['-n', '-q', '1', '-w', '3', '-m', '8', e(6, 5).v4], { timeoutMs: 120_000 });
      const hops = out.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/).slice(0, 2).join(' '));
      const want = [`1 ${e(2, 1).v4}`, '2 *', '3 *', '4 *', `5 ${e(6, 5).v4}`];
      expectThat(JSON.stringify(hops) === JSON.stringify(want), JSON.stringify(want), out);
    } finally {
      await sys(['-w', 'net.mpls.ip_ttl_propagate=1', 'net.mpls.default_ttl=255']);
    }
  });

  await scenario('router (kernel LSR): after a restart of two datapaths (new TUNs) their kernel routes and MPLS input are back; traffic flows', async () => {
    if (!t) throw new Error('no topology');
    const topo = t;
    // Node 2's end towards 3 carries an FTN route; node 3's end towards 4 an ILM swap and it
    // receives 202: the kernel dropped both routes with the old TUNs.
    await Promise.all(
      [
        [2, 3],
        [3, 4],
      ].map(async ([i, j]) => {
        const end = e(i, j);
        const ns = topo.nodes[i - 1];
        const conf = await ns.must('wg', ['showconf', end.ifname]);
        await end.tun.stop();
        const gone = await ns.ip('-f', 'mpls', 'route', 'show');
        expectThat(!gone.includes(`dev ${end.ifname}`), `no kernel MPLS route through the stopped ${end.ifname}`, gone);
        end.tun = await startTunnel(ns, 'wgmpls', end.ifname, {}, START_MS);
        await ns.must('wg', ['setconf', end.ifname, keyFile(conf.trim())]);
        await ns.ip('addr', 'add', `${end.v4}/24`, 'dev', end.ifname);
        await ns.ip('addr', 'add', `${end.v6}/64`, 'dev', end.ifname, 'nodad');
        await ns.ip('link', 'set', end.ifname, 'up');
      }),
    );
    await waitFor('the ILM route 101 back in node 3\'s kernel', async () => (await t!.nodes[2].ip('-f', 'mpls', 'route', 'show')).includes(`101 as to 102 via inet ${e(4, 3).v4} dev ${e(3, 4).ifname}`), 30_000);
    await waitFor('the FTN route back in node 2\'s kernel', async () => (await t!.nodes[1].ip('route', 'show', '10.0.56.0/24')).includes(`encap mpls  101 via ${e(3, 2).v4} dev ${e(2, 3).ifname}`), 30_000);
    const input = (await t.nodes[2].must('sysctl', ['-n', `net.mpls.conf.${e(3, 4).ifname}.input`])).trim();
    expectThat(input === '1', `MPLS input on the new ${e(3, 4).ifname}`, input);
    await ping(t, 1, e(6, 5).v4);
    await ping(t, 6, e(1, 2).v6);
  });

  await scenario('plugin route path (kernel LSR): a batch the kernel refuses names the route and the reason; nothing of it is installed', async () => {
    if (!t) throw new Error('no topology');
    const ns = t.nodes[2];
    const before = await ns.ip('-f', 'mpls', 'route', 'show');
    const lines = parseRoutesLabel(
      [
        `-f mpls route add 301 as 302 via inet ${e(4, 3).v4} dev ${e(3, 4).ifname}`,
        `route add 10.77.0.0/24 encap mpls 301 via 10.99.0.1 dev ${e(3, 4).ifname}`,
      ].join('; '),
    );
    let err = '';
    try {
      await applyRoutes(lines, ns.path, { waitMs: 10_000 });
    } catch (x) {
      err = (x as Error).message;
    }
    has(err, `10.77.0.0/24  encap mpls  301 via 10.99.0.1 dev ${e(3, 4).ifname}`);
    has(err, 'Nexthop has invalid gateway');
    const after = await ns.ip('-f', 'mpls', 'route', 'show');
    expectThat(after === before, 'the kernel MPLS routes unchanged', after);
    const fromTable = await t.wgmplsIp(3, '-f mpls route show');
    expectThat(!fromTable.includes('301'), 'no route 301 in the table', fromTable);
    // The same path with good routes installs them in the kernel.
    await applyRoutes(parseRoutesLabel(`-f mpls route add 301 as 302 via inet ${e(4, 3).v4} dev ${e(3, 4).ifname}`), ns.path, { waitMs: 10_000 });
    has(await ns.ip('-f', 'mpls', 'route', 'show'), `301 as to 302 via inet ${e(4, 3).v4} dev ${e(3, 4).ifname}`);
    // And deleting through wgmpls ip takes it out of the kernel again.
    await t.wgmplsIp(3, '-f mpls route del 301');
    const gone = await ns.ip('-f', 'mpls', 'route', 'show');
    expectThat(!gone.includes('301'), 'route 301 deleted from the kernel', gone);
  });
  await t?.stop();
}

async function stack(): Promise<void> {
  await scenario('stack (kernel LSR): encap mpls 100/200, swap 100 -> 101, pop 101, pop 200 to lo; both directions', async () => {
    const t = await line(2, { startTimeoutMs: START_MS });
    inProcess(t);
    try {
      const { a, b } = await seedStackRoutes(t);
      has(await t.nodes[0].ip('route', 'show', '10.9.2.1'), `encap mpls  100/200 via ${b.v4} dev ${a.ifname}`);
      has(await t.nodes[1].ip('-f', 'mpls', 'route', 'show'), '200 dev lo');
      await ping(t, 1, '10.9.2.1', ['-I', '10.9.1.1']);
      await ping(t, 2, '10.9.1.1', ['-I', '10.9.2.1']);
      // Both ends' datapaths carried labelled frames (type 5) and switched none themselves.
      for (const end of [a, b]) {
        const s = await uapiStats(end.ifname);
        const switched = Object.entries(s).filter(([k, v]) => k.startsWith('lsr.route.') && v > 0);
        expectThat(switched.length === 0, `no userspace switching on ${end.ifname}`, switched);
      }
    } finally {
      await t.stop();
    }
  });
}

export async function kernelLsrScenarios(): Promise<void> {
  await router();
  await stack();
  await cleanupAll();
}
