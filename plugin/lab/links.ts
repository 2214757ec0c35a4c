// A containerlab node's wgmpls links, declared in its `wgmpls.links` label (containerlab hands
// node labels to Docker as they are): one entry per link, separated by `;` or newlines, each
// `NETWORK ADDRESS/PREFIX [ADDRESS/PREFIX]` (at most one IPv4 and one IPv6), e.g.
// "r1-r2 10.0.12.1/24 fd00:12::1/64; r1-r3 10.0.13.1/24". Ends that name the same NETWORK in one
// lab are on the same wgmpls network (two ends: a point-to-point link; more: a multipoint one).
// Docker names the TUNs in the container wgm0, wgm1, ... in the order of the entries.
// Pure: parsing and the checks across a lab's nodes; nothing here talks to Docker.
import { isIP } from 'node:net';

export const LINKS_LABEL = 'wgmpls.links';
/** containerlab's own label on every container of a lab: the lab's name. */
export const CLAB_LAB_LABEL = 'containerlab';
/** containerlab's label with the node's short name (as written in the topology). */
export const CLAB_NODE_LABEL = 'clab-node-name';
/** Put on the Docker networks `wgmpls lab sync` creates: the lab they belong to. */
export const NET_LAB_LABEL = 'wgmpls.lab';
export const NET_NAME_LABEL = 'wgmpls.lab.network';

export class LabError extends Error {}

export interface Cidr {
  address: string;
  prefix: number;
  family: 4 | 6;
}

export interface LinkEnd {
  /** 1-based position in the label (Docker's wgm<n-1>). */
  n: number;
  network: string;
  v4?: Cidr;
  v6?: Cidr;
}

const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;

export function parseCidr(text: string): Cidr | string {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) return `"${text}" is not ADDRESS/PREFIX`;
  const family = isIP(m[1]);
  if (family === 0) return `"${m[1]}" is not an IP address`;
  const prefix = Number(m[2]);
  const max = family === 4 ? 32 : 128;
  if (prefix < 1 || prefix > max) return `prefix /${prefix} of "${text}" is out of range (1-${max})`;
  return { address: m[1], prefix, family: family as 4 | 6 };
}

/** The label's entries, or a LabError naming the first bad entry and what is wrong with it. */
export function parseLinksLabel(value: string): LinkEnd[] {
  const texts = value
    .split(/[;\n]/)
    .map((t) => t.trim().replace(/\s+/g, ' '))
    .filter((t) => t !== '');
  const seen = new Set<string>();
  return texts.map((text, i) => {
    const where = `${LINKS_LABEL} entry ${i + 1} ("${text}")`;
    const [network, ...addrs] = text.split(' ');
    if (!NETWORK_NAME.test(network)) throw new LabError(`${where}: network name "${network}" must be 1-40 letters, digits, _ . - (starting with a letter or digit)`);
    if (seen.has(network)) throw new LabError(`${where}: network "${network}" is named twice; a node has one end on each network`);
    seen.add(network);
    if (addrs.length === 0) throw new LabError(`${where}: no address; give the node's address on the link, e.g. "${network} 10.0.12.1/24 fd00:12::1/64"`);
    const end: LinkEnd = { n: i + 1, network };
    for (const a of addrs) {
      const c = parseCidr(a);
      if (typeof c === 'string') throw new LabError(`${where}: ${c}`);
      const key = c.family === 4 ? 'v4' : 'v6';
      if (end[key]) throw new LabError(`${where}: more than one IPv${c.family} address`);
      end[key] = c;
    }
    return end;
  });
}

/** The subnet (network address) a CIDR belongs to, as Docker wants it: "10.0.12.0/24". */
export function subnetOf(c: Cidr): string {
  const bytes = addressBytes(c);
  for (let bit = c.prefix; bit < bytes.length * 8; bit++) bytes[bit >> 3] &= ~(0x80 >> (bit & 7));
  return `${formatBytes(bytes, c.family)}/${c.prefix}`;
}

function addressBytes(c: Cidr): number[] {
  if (c.family === 4) return c.address.split('.').map(Number);
  const [head, tail = ''] = c.address.includes('::') ? c.address.split('::') : [c.address, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = c.address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.flatMap((g) => {
    const v = parseInt(g, 16);
    return [v >> 8, v & 0xff];
  });
}

function formatBytes(bytes: number[], family: 4 | 6): string {
  if (family === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  // Canonical enough for Docker and for comparing: the longest run of zero groups becomes "::".
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** The same address written the canonical way (so "fd00:12::0:1" and "fd00:12::1" compare equal). */
export function canonical(c: Cidr): string {
  return formatBytes(addressBytes(c), c.family);
}

/**
 * The gateway Docker's IPAM must reserve in a subnet, at an address no end uses (Docker would
 * take the first one, the seed addressing's ".1", otherwise). wgmpls answers no traffic at it
 * (no gateway service); it only keeps IPAM from handing the address out. IPv4: the highest host
 * address (.254 in a /24); IPv6: the lowest free one, as Docker's IPAM refuses addresses beyond
 * the first 2^64 of a large subnet ("bit does not belong to the sequence").
 */
export function gatewayFor(c: Cidr, used: ReadonlySet<string>): string | undefined {
  const bits = c.family === 4 ? 32 : 128;
  const toBig = (bytes: number[]): bigint => bytes.reduce((n, b) => (n << 8n) | BigInt(b), 0n);
  const fromBig = (n: bigint): number[] => Array.from({ length: bits / 8 }, (_, i) => Number((n >> BigInt(8 * (bits / 8 - 1 - i))) & 0xffn));
  const base = toBig(addressBytes({ ...c, address: subnetOf(c).split('/')[0] }));
  const size = 1n << BigInt(bits - c.prefix);
  // 64 tries are plenty; the IPv4 broadcast address (top) is skipped.
  for (let k = 1n; k < size - 1n && k <= 64n; k++) {
    const addr = formatBytes(fromBig(c.family === 4 ? base + size - 1n - k : base + k), c.family);
    if (!used.has(addr)) return addr;
  }
  return undefined;
}

export interface LabNode {
  /** The node's name in the topology (containerlab's clab-node-name label). */
  node: string;
  links: LinkEnd[];
}

export interface LabNetwork {
  /** As named in the labels. */
  name: string;
  /** The Docker network: wgmpls-<lab>-<name>. */
  dockerName: string;
  v4?: { subnet: string; gateway: string };
  v6?: { subnet: string; gateway: string };
  ends: { node: string; end: LinkEnd }[];
}

export function dockerNetworkName(lab: string, network: string): string {
  return `wgmpls-${lab}-${network}`;
}

/**
 * A lab's networks from its nodes' links, checked across nodes: every end of a network in the
 * same subnets, no address twice, the same families at every end, at least two ends. The
 * message names the node and the problem.
 */
export function labNetworks(lab: string, nodes: readonly LabNode[]): LabNetwork[] {
  const byName = new Map<string, LabNetwork>();
  for (const { node, links } of nodes) {
    for (const end of links) {
      let net = byName.get(end.network);
      if (!net) {
        net = { name: end.network, dockerName: dockerNetworkName(lab, end.network), ends: [] };
        byName.set(end.network, net);
      }
      net.ends.push({ node, end });
    }
  }
  for (const net of byName.values()) {
    const first = net.ends[0];
    if (net.ends.length < 2) {
      throw new LabError(`node ${first.node}: ${LINKS_LABEL} entry ${first.end.n}: network "${net.name}" has no other end (no other node of lab ${lab} names it)`);
    }
    for (const fam of ['v4', 'v6'] as const) {
      const used = new Map<string, string>();
      let subnet: string | undefined;
      for (const { node, end } of net.ends) {
        const c = end[fam];
        if (!c !== !first.end[fam]) {
          throw new LabError(`node ${node}: ${LINKS_LABEL} entry ${end.n}: network "${net.name}" has IPv${fam[1]} at node ${c ? node : first.node} but not at node ${c ? first.node : node}; give every end the same families`);
        }
        if (!c) continue;
        const s = subnetOf(c);
        if (subnet === undefined) subnet = s;
        else if (s !== subnet) throw new LabError(`node ${node}: ${LINKS_LABEL} entry ${end.n}: ${c.address}/${c.prefix} is not in ${subnet}, the subnet of network "${net.name}" at node ${first.node}`);
        const a = canonical(c);
        if (a === subnetOf(c).split('/')[0]) throw new LabError(`node ${node}: ${LINKS_LABEL} entry ${end.n}: ${c.address} is the network address of ${subnet}`);
        const other = used.get(a);
        if (other !== undefined) throw new LabError(`node ${node}: ${LINKS_LABEL} entry ${end.n}: address ${c.address} on network "${net.name}" is node ${other}'s too`);
        used.set(a, node);
      }
      if (subnet !== undefined && first.end[fam]) {
        const gateway = gatewayFor(first.end[fam] as Cidr, new Set(used.keys()));
        if (gateway === undefined) throw new LabError(`node ${first.node}: ${LINKS_LABEL}: subnet ${subnet} of network "${net.name}" has no address left for Docker's IPAM gateway; use a larger prefix`);
        net[fam] = { subnet, gateway };
      }
    }
  }
  return [...byName.values()];
}
