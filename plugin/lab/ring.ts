// A ring of N routers for labs of a hundred links (`wgmpls lab ring N`, lab/ring.clab.yml, and
// `npm run bench:scale`): node i is linked to i+1 and, from five nodes on, to i+2 as well (round
// the ring), so N nodes make 2N point-to-point wgmpls links and 4N endpoints. Link k gets the
// /29 10.(200 + k/32).((k%32)*8).0; the node it starts from is .1, the other .2. Pure.
import { stringify } from 'yaml';

export interface RingLink {
  /** "r3-r4". */
  name: string;
  /** Node numbers, 1-based: the link goes from a (.1) to b (.2). */
  a: number;
  b: number;
  subnet: string;
  aAddress: string;
  bAddress: string;
}

/** Nodes a ring generator accepts: two make one link, 880 use the last /29 below 10.255. */
export const RING_MIN = 2;
export const RING_MAX = 880;

export function ringLinks(n: number): RingLink[] {
  if (!Number.isInteger(n) || n < RING_MIN || n > RING_MAX) throw new RangeError(`a ring has ${RING_MIN} to ${RING_MAX} nodes, got ${n}`);
  const pairs: [number, number][] = [];
  if (n === 2) pairs.push([1, 2]);
  else for (let i = 1; i <= n; i++) pairs.push([i, (i % n) + 1]);
  if (n >= 5) for (let i = 1; i <= n; i++) pairs.push([i, ((i + 1) % n) + 1]);
  return pairs.map(([a, b], k) => {
    const base = `10.${200 + (k >> 5)}.${(k & 31) << 3}`;
    return { name: `r${a}-r${b}`, a, b, subnet: `${base}.0/29`, aAddress: `${base}.1`, bAddress: `${base}.2` };
  });
}

/** Each node's links in the order its TUNs are named (wgm0, wgm1, ...): by link number. */
export function ringNodeLinks(n: number): Map<number, { link: RingLink; address: string }[]> {
  const out = new Map<number, { link: RingLink; address: string }[]>();
  for (let i = 1; i <= n; i++) out.set(i, []);
  for (const link of ringLinks(n)) {
    out.get(link.a)?.push({ link, address: link.aAddress });
    out.get(link.b)?.push({ link, address: link.bAddress });
  }
  return out;
}

/** The containerlab topology of the ring (lab/README.md: wgmpls.links labels, the sync stage). */
export function ringTopology(n: number, name = 'ring'): string {
  const nodes: Record<string, unknown> = {};
  for (const [i, links] of ringNodeLinks(n)) {
    nodes[`r${i}`] = { labels: { 'wgmpls.links': links.map((l) => `${l.link.name} ${l.address}/29`).join('; ') } };
  }
  const doc = {
    name,
    topology: {
      defaults: {
        kind: 'linux',
        image: 'wgmpls/node:latest',
        privileged: false,
        'cap-add': ['NET_ADMIN', 'NET_RAW'],
        sysctls: { 'net.ipv4.ip_forward': 1, 'net.ipv4.conf.all.rp_filter': 0 },
        stages: { 'create-links': { exec: [{ command: 'wgmpls lab sync', target: 'host' }] } },
      },
      nodes,
    },
  };
  const links = ringLinks(n).length;
  const head = [
    `# A ring of ${n} routers with ${links} wgmpls links (${2 * links} endpoints), made by \`wgmpls lab ring ${n}\`:`,
    '# node i is linked to i+1 and, from five nodes on, to i+2 (round the ring). Link k is the /29',
    '# 10.(200 + k/32).((k%32)*8).0, the node it starts from .1 and the other .2. No routes: add them',
    '# with wgmpls.routes labels or `wgmpls ip --container`. lab/README.md has the set-up.',
  ];
  return `${head.join('\n')}\n${stringify(doc, { lineWidth: 0 })}`;
}
