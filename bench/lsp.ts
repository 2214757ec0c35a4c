// The "wgmpls LSP" setup: an MPLS label-switched path over two wgmpls links, as the lsr tests'
// tunnel and router scenarios build it, with `wgmpls ip` in each namespace:
//
//   a (10.255.1.1 on lo) ==wgmpls== t ==wgmpls== b (10.255.2.1 on lo)
//   a pushes 101 ........ t swaps 101 -> 102 ....... b pops 102, delivers locally
//   a pops 202 <......... t swaps 201 -> 202 <...... b pushes 201           (the ACKs' way back)
//
// Each link has its own veth underlay and port; t runs both interfaces in one datapath process
// (`wgmpls datapath X Y`), which hands frames between them by a function call. Labels are
// switched by the datapaths (--lsr userspace), whatever the kernel offers, so the row measures
// wgmpls and not the kernel's MPLS. The tables under /run/wgmpls/lsr go with the namespaces (the
// next datapath's start removes them).
import { Ns, joinByVeth } from './netns';
import { must } from './processes';
import { CLI, Daemon, Endpoints, Implementation, configureLink, startDaemon, stopDaemon } from './tunnels';

const WGMPLS: Implementation = { kind: 'wgmpls' };

const A_LO = '10.255.1.1';
const B_LO = '10.255.2.1';

/** `wgmpls ip --lsr userspace ARGS` inside a namespace. */
function wgmplsIp(ns: Ns, args: string): Promise<string> {
  return ns.must(process.execPath, [CLI, 'ip', '--lsr', 'userspace', ...args.split(' ')], { timeoutMs: 20_000 });
}

/**
 * Bytes switched by the route of `label`, from `wgmpls ip -s -f mpls route show` as iproute2
 * prints it: the route's line, then "    packets N bytes M drops D".
 */
export function routeBytes(show: string, label: number): number | null {
  const lines = show.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`${label} `));
  const m = at < 0 ? null : /\bbytes (\d+)/.exec(lines[at + 1] ?? '');
  return m ? Number(m[1]) : null;
}

/** Sets up the LSP from a (ingress) through a new namespace t (transit) to b (egress). */
export async function startLsp(a: Ns, b: Ns, tag: string): Promise<Endpoints> {
  const t = await Ns.create(`wgmb-${tag}-t`);
  await joinByVeth(a, t, [`wgmbv${tag}c`, `wgmbv${tag}d`], ['10.252.1.1/24', '10.252.1.2/24']);
  await joinByVeth(t, b, [`wgmbv${tag}e`, `wgmbv${tag}f`], ['10.252.2.1/24', '10.252.2.2/24']);
  // t's two interfaces in one process, as a router runs them (`wgmpls datapath X Y`): the swap
  // hands frames from one to the other by a function call.
  const names = { a: `wgmbl${tag}a`, tx: `wgmbl${tag}x`, ty: `wgmbl${tag}y`, b: `wgmbl${tag}b` };
  const daemons: Daemon[] = [];
  try {
    daemons.push(await startDaemon(a, WGMPLS, [names.a]));
    daemons.push(await startDaemon(t, WGMPLS, [names.tx, names.ty]));
    daemons.push(await startDaemon(b, WGMPLS, [names.b]));
    await configureLink({ a, b: t, underlay: ['10.252.1.1', '10.252.1.2'], port: 51821, prefix: '10.254.1', names: [names.a, names.tx], allowed: 'everything' });
    await configureLink({ a: t, b, underlay: ['10.252.2.1', '10.252.2.2'], port: 51822, prefix: '10.254.2', names: [names.ty, names.b], allowed: 'everything' });
    const { a: aIf, tx: txIf, ty: tyIf, b: bIf } = names;
    await must('ip', ['-n', a.name, 'addr', 'add', `${A_LO}/32`, 'dev', 'lo']);
    await must('ip', ['-n', b.name, 'addr', 'add', `${B_LO}/32`, 'dev', 'lo']);
    // a -> b: push at a, swap at t, pop at b.
    await wgmplsIp(a, `route add ${B_LO}/32 encap mpls 101 via 10.254.1.2 dev ${aIf}`);
    await wgmplsIp(t, `-f mpls route add 101 as 102 via inet 10.254.2.2 dev ${tyIf}`);
    await wgmplsIp(b, '-f mpls route add 102 dev lo');
    // b -> a, the same way back.
    await wgmplsIp(b, `route add ${A_LO}/32 encap mpls 201 via 10.254.2.1 dev ${bIf}`);
    await wgmplsIp(t, `-f mpls route add 201 as 202 via inet 10.254.1.1 dev ${txIf}`);
    await wgmplsIp(a, '-f mpls route add 202 dev lo');
  } catch (err) {
    for (const d of daemons) await stopDaemon(d);
    throw err;
  }
  // The TCP payload must have crossed t's swap: the frames it switched carry at least as much.
  const verify = async (bytes: number): Promise<void> => {
    const switched = routeBytes(await wgmplsIp(t, '-s -f mpls route show'), 101);
    if (switched === null || switched < bytes) throw new Error(`the transit switched ${switched ?? 'no'} bytes with label 101, less than the ${bytes} iperf3 carried: the traffic did not take the LSP`);
  };
  return { src: A_LO, dst: B_LO, daemons, verify };
}
