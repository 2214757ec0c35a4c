// A containerlab topology file, read for what wgmpls needs of it: the lab's name and each
// node's `wgmpls.links` and `wgmpls.routes` labels, merged the way containerlab merges labels
// (topology defaults, then the node's kind, its group, then the node). Reading the file, not the
// containers, lets the first node's `wgmpls lab sync` check every node of the lab before the
// others exist. Checking is pure; only `readTopology` touches the file system.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ROUTES_LABEL, RoutesLabelError, devicesNamed, parseRoutesLabel } from '../routes/label';
import { LINKS_LABEL, LabError, LabNetwork, LabNode, labNetworks, parseLinksLabel } from './links';

export interface TopologyNode {
  name: string;
  labels: Record<string, string>;
}

export interface Topology {
  lab: string;
  nodes: TopologyNode[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function labelsOf(v: unknown): Record<string, string> {
  if (!isObj(v) || !isObj(v.labels)) return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v.labels)) out[k] = String(val);
  return out;
}

/** The topology as containerlab will see it (as far as wgmpls is concerned). */
export function topologyFromYaml(text: string, file = 'topology'): Topology {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new LabError(`${file}: not YAML: ${(err as Error).message}`);
  }
  if (!isObj(doc) || typeof doc.name !== 'string') throw new LabError(`${file}: no lab name (top-level "name")`);
  const topo = isObj(doc.topology) ? doc.topology : {};
  const defaults = labelsOf(topo.defaults);
  const kinds = isObj(topo.kinds) ? topo.kinds : {};
  const groups = isObj(topo.groups) ? topo.groups : {};
  const nodes = isObj(topo.nodes) ? topo.nodes : {};
  return {
    lab: doc.name,
    nodes: Object.entries(nodes).map(([name, n]) => {
      const kind = isObj(n) && typeof n.kind === 'string' ? n.kind : isObj(topo.defaults) && typeof topo.defaults.kind === 'string' ? topo.defaults.kind : '';
      const group = isObj(n) && typeof n.group === 'string' ? groups[n.group] : undefined;
      return { name, labels: { ...defaults, ...labelsOf(kinds[kind]), ...labelsOf(group), ...labelsOf(n) } };
    }),
  };
}

export function readTopology(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new LabError(`cannot read the topology file ${file}: ${(err as Error).message}`);
  }
  return topologyFromYaml(text, file);
}

export interface CheckedLab {
  lab: string;
  networks: LabNetwork[];
  /** Per node (topology name): its link ends in label order. */
  nodes: Map<string, LabNode>;
}

/**
 * Every node's links and routes checked, and the lab's networks: or a LabError naming the node
 * and the problem. A route must leave through one of the node's own links (wgm0 .. wgm<n-1>, in
 * the order of its wgmpls.links) or lo: anything else would wait forever for its interface.
 */
export function checkTopology(t: Topology): CheckedLab {
  const nodes = new Map<string, LabNode>();
  for (const n of t.nodes) {
    const links = n.labels[LINKS_LABEL];
    const routes = n.labels[ROUTES_LABEL];
    if (links === undefined && routes === undefined) continue;
    let parsed;
    try {
      parsed = parseLinksLabel(links ?? '');
    } catch (err) {
      throw new LabError(`node ${n.name}: ${(err as Error).message}`);
    }
    if (routes !== undefined) {
      let lines;
      try {
        lines = parseRoutesLabel(routes);
      } catch (err) {
        if (err instanceof RoutesLabelError) throw new LabError(`node ${n.name}: ${err.message}`);
        throw err;
      }
      for (const dev of devicesNamed(lines)) {
        const m = /^wgm(\d+)$/.exec(dev);
        if (!m || Number(m[1]) >= parsed.length) {
          const have = parsed.map((_, i) => `wgm${i}`).join(', ') || 'none';
          throw new LabError(`node ${n.name}: ${ROUTES_LABEL} names device "${dev}", which is not one of its links (${have}, in the order of ${LINKS_LABEL})`);
        }
      }
    }
    nodes.set(n.name, { node: n.name, links: parsed });
  }
  return { lab: t.lab, networks: labNetworks(t.lab, [...nodes.values()]), nodes };
}
