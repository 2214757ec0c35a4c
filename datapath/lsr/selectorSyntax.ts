// The selectors of `ip route show|flush` (iproute.c iproute_list_flush_or_save) that wgmpls
// understands, and iproute2's own errors for the ones it does not.
import type { Family } from './model';
import { IpFamily, PrefixMatch, RouteFilter } from './command';
import { parseLabelList } from './labelSyntax';
import { KeywordTable, argumentAfter, fail, matches, q, strtoulWhole } from './syntaxUtil';
import { parseIpPrefix } from './addrSyntax';

// ---------------------------------------------------------------------------------------
// SELECTOR (show / flush).

const UNSUPPORTED_SELECTORS = new KeywordTable(
  'vrf cached cloned tos! dsfield protocol scope type iif! mark! metric priority ' +
  'preference! via! src! realms from ',
);

export function parseSelectors(args: readonly string[], family: IpFamily | null): RouteFilter {
  const filter: RouteFilter = {};
  const next = (k: number, what: string): string => argumentAfter(args, k, what);
  for (let k = 0; k < args.length; k++) {
    const tok = args[k];
    if (matches(tok, 'table')) {
      const v = next(k, 'table');
      k++;
      if (!(v === 'main' || v === 'all' || strtoulWhole(v) === 254)) fail(`table ${v} is not supported by wgmpls (only main)`);
      continue;
    }
    const unsupported = UNSUPPORTED_SELECTORS.find(tok);
    if (unsupported) fail(`selector ${q(tok)}${tok !== unsupported ? ` (${unsupported})` : ''} is not supported by wgmpls`);
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

