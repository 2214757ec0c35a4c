// The `wgmpls.routes` container label: `wgmpls ip` lines (what follows `ip`), separated by `;`
// or newlines, e.g. "-f mpls route add 101 via inet 10.0.23.3 dev wgm1; route add 10.0.3.0/24
// encap mpls 201 via 10.0.12.1 dev wgm0". Pure: parsing and checks that need no namespace.
import { parseIp } from '../../datapath/lsr/namespaceRoutes';
import type { IpCommand } from '../../datapath/lsr/command';

export const ROUTES_LABEL = 'wgmpls.routes';

export interface RouteLine {
  /** 1-based, in the order of the label. */
  n: number;
  text: string;
  cmd: IpCommand;
}

/** A label that cannot be applied; the message names the line and the problem. */
export class RoutesLabelError extends Error {}

export function describeLine(n: number, text: string): string {
  return `${ROUTES_LABEL} line ${n} ("${text}")`;
}

/**
 * Every line parsed, or the first bad one named. `add` becomes `replace`: the label is applied
 * again on every start and `docker network connect`, and must not fail on its own routes.
 */
export function parseRoutesLabel(value: string): RouteLine[] {
  const texts = value
    .split(/[;\n]/)
    .map((t) => t.trim().replace(/\s+/g, ' '))
    .filter((t) => t !== '');
  return texts.map((text, i) => {
    let argv = text.split(' ');
    // "ip -f mpls route add ..." is what people copy from iproute2: the word is not part of the syntax.
    if (argv[0] === 'ip') argv = argv.slice(1);
    const parsed = parseIp(argv);
    const where = describeLine(i + 1, text);
    if ('stderr' in parsed) throw new RoutesLabelError(`${where}: ${parsed.stderr.trim().replace(/^Error: /, '')}`);
    if (parsed.verb === 'add') parsed.verb = 'replace';
    if (parsed.verb !== 'replace' && parsed.verb !== 'change') {
      throw new RoutesLabelError(`${where}: only "route add", "replace" and "change" belong in ${ROUTES_LABEL}, not "${parsed.verb}"`);
    }
    return { n: i + 1, text, cmd: parsed };
  });
}

/** The interfaces the routes leave through that must be in the namespace first ('lo' always is). */
export function devicesNamed(lines: readonly RouteLine[]): string[] {
  const devs = new Set<string>();
  for (const l of lines) {
    const dev = l.cmd.route?.dev;
    if (dev !== undefined && dev !== '' && dev !== 'lo') devs.add(dev);
  }
  return [...devs];
}
