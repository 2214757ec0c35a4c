// The selectors of `ip route show|flush` (iproute.c iproute_list_flush_or_save) that wgmpls
// understands, and iproute2's own errors for the ones it does not.
import type { Family } from './model';
import { IpFamily, PrefixMatch, RouteFilter } from './command';
import { parseLabelList } from './labelSyntax';
import { fail, matches, q, strtoulWhole } from './syntaxUtil';
import { parseIpPrefix } from './addrSyntax';

// ---------------------------------------------------------------------------------------
// SELECTOR (show / flush).

const UNSUPPORTED_SELECTORS: ReadonlyArray<{ name: string; exact?: boolean }> = [
  { name: 'vrf' },
  { name: 'cached' },
  { name: 'cloned' },
  { name: 'tos', exact: true },
  { name: 'dsfield' },
  { name: 'protocol' },
  { name: 'scope' },
  { name: 'type' },
  { name: 'iif', exact: true },
  { name: 'mark', exact: true },
  { name: 'metric' },
  { name: 'priority' },
  { name: 'preference', exact: true },
  { name: 'via', exact: true },
  { name: 'src', exact: true },
  { name: 'realms' },
  { name: 'from' },
];

export function parseSelectors(args: readonly string[], family: IpFamily | null): RouteFilter {
  const filter: RouteFilter = {};
  const next = (k: number, what: string): string => {
    const v = args[k + 1];
    if (v === undefined) fail(`Command line is not complete: ${q(what)} needs an argument`);
    return v;
  };
  for (let k = 0; k < args.length; k++) {
    const tok = args[k];
    if (matches(tok, 'table')) {
      const v = next(k, 'table');
      k++;
      if (!(v === 'main' || v === 'all' || strtoulWhole(v) === 254)) fail(`table ${v} is not supported by wgmpls (only main)`);
      continue;
    }
    const unsupported = UNSUPPORTED_SELECTORS.find((s) => (s.exact ? tok === s.name : matches(tok, s.name)));
    if (unsupported) fail(`selector ${q(tok)}${tok !== unsupported.name ? ` (${unsupported.name})` : ''} is not supported by wgmpls`);
    if (tok === 'dev' || tok === 'oif') {
      filter.dev = next(k, tok);
      k++;
      continue;
    }
    let t = tok;
    if (matches(t, 'to')) {
      t = next(k, 'to');
      k++;
    }
    let mode: PrefixMatch = 'exact';
    if (matches(t, 'root')) {
      mode = 'root';
      t = next(k, 'root');
      k++;
    } else if (matches(t, 'match')) {
      mode = 'match';
      t = next(k, 'match');
      k++;
    } else if (matches(t, 'exact')) {
      t = next(k, 'exact');
      k++;
    }
    if (family === 'mpls') {
      if (t.includes('/') && strtoulWhole(t.split('/')[0]) !== null) fail(`incoming label must be a single label, not ${q(t)}`);
      filter.label = parseLabelList(t)[0];
    } else {
      const fam: Family | null = family === 'inet6' ? 6 : family === 'inet' ? 4 : null;
      filter.prefix = { prefix: parseIpPrefix(t, fam, false).prefix, mode };
    }
  }
  return filter;
}

