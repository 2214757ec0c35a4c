// `wgmpls lab graph`: the lab as a Mermaid flowchart, with its wgmpls links. containerlab's own
// `graph` draws only the links of the topology's `links:` section (each of which it would create
// as a veth pair), so it knows nothing of links that are Docker networks. Same shape as
// `containerlab graph --mermaid`: point-to-point networks are edges labelled with both ends'
// interfaces, a multipoint network is a node of its own joined to each member. Pure.
import type { CheckedLab } from './topology';

const id = (s: string): string => s.replace(/[^A-Za-z0-9_]/g, '_');

export function mermaid(checked: CheckedLab, direction = 'TD'): string {
  const lines = ['---', `title: ${checked.lab}`, '---', `graph ${direction}`];
  for (const n of checked.nodes.keys()) lines.push(`  ${id(n)}[${n}]`);
  for (const net of checked.networks) {
    const subnets = [net.v4?.subnet, net.v6?.subnet].filter(Boolean).join(' ');
    const at = (e: (typeof net.ends)[number]): string => `wgm${e.end.n - 1}`;
    if (net.ends.length === 2) {
      const [a, b] = net.ends;
      lines.push(`  ${id(a.node)} ---|"${at(a)} ${net.name} ${subnets} ${at(b)}"| ${id(b.node)}`);
    } else {
      lines.push(`  net_${id(net.name)}{{"${net.name} ${subnets}"}}`);
      for (const e of net.ends) lines.push(`  ${id(e.node)} ---|"${at(e)}"| net_${id(net.name)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
