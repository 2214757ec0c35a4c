// The route of `ip route add|del|replace|change` (iproute.c iproute_modify): destination,
// `as`/`encap mpls` labels, `via`, `dev`, and the keywords the route model cannot hold, which
// are refused unless they carry the value iproute2 or the kernel would set anyway.
import type { Prefix } from '../device/config';
import { Family, IpRoute, MplsRoute, NextHop } from './model';
import { IPV6_DEFAULT_METRIC, IpFamily, IpVerb, OTHER_FAMILIES, USAGE, readFamilyName } from './command';
import { parseIncomingLabel, parseOutgoingLabels } from './labelSyntax';
import { KeywordTable, argumentAfter, fail, matches, q, strtoulWhole } from './syntaxUtil';
import { familyName, parseAddr, parseIpPrefix } from './addrSyntax';

// ---------------------------------------------------------------------------------------
// ROUTE (add / del / replace / change).

/** Keywords of iproute_modify that carry things the route model has no place for. */
const MODIFY_KEYWORDS = new KeywordTable(
  'src! from! tos! dsfield expires! metric priority preference! scope! mtu! hoplimit! ' +
  'advmss! reordering rtt! rto_min! window cwnd initcwnd initrwnd features quickack congctl ' +
  'rttvar ssthresh realms onlink! nexthop! nhid! protocol table vrf pref ttl-propagate! ' +
  'fastopen_no_cookie ',
);

const ROUTE_TYPES = ['unicast', 'local', 'broadcast', 'multicast', 'throw', 'unreachable', 'prohibit', 'blackhole', 'nat', 'anycast', 'xresolve'];

const SCOPES: Record<string, number> = { global: 0, universe: 0, site: 200, link: 253, host: 254, nowhere: 255 };

interface RawVia {
  keyword: string | null;
  addr: string;
}

interface Defaults {
  /** Keyword, value, what iproute2/the kernel would set: checked once the family is known. */
  keyword: string;
  value: string;
}

export function parseRouteSpec(args: readonly string[], family: IpFamily | null, verb: IpVerb): MplsRoute | IpRoute {
  let dst: string | null = null;
  let as: string | null = null;
  let encap: string | null = null;
  let via: RawVia | null = null;
  let dev: string | null = null;
  const defaults: Defaults[] = [];

  const next = (k: number, what: string): string => argumentAfter(args, k, what);

  for (let k = 0; k < args.length; k++) {
    const tok = args[k];
    if (tok === 'as') {
      let v = next(k, 'as');
      k++;
      if (v === 'to') {
        v = next(k, 'as to');
        k++;
      }
      if (as !== null) fail(`duplicate "as": ${q(v)} is the second value`);
      as = v;
    } else if (tok === 'via') {
      if (via !== null) fail(`argument "via" is wrong: use nexthop syntax to specify multiple via (not supported by wgmpls)`);
      let v = next(k, 'via');
      k++;
      let keyword: string | null = null;
      if (readFamilyName(v) !== null || OTHER_FAMILIES.has(v)) {
        keyword = v;
        v = next(k, `via ${keyword}`);
        k++;
      }
      via = { keyword, addr: v };
    } else if (tok === 'dev' || tok === 'oif') {
      dev = next(k, tok);
      k++;
    } else if (tok === 'encap') {
      const type = next(k, 'encap');
      k++;
      if (type !== 'mpls') {
        if (['ip', 'ip6', 'ila', 'bpf', 'seg6', 'seg6local', 'rpl', 'ioam6', 'xfrm'].includes(type)) {
          fail(`encap ${type} is not supported by wgmpls (only encap mpls)`);
        }
        fail(`argument ${q(type)} is wrong: "encap type" value is invalid`);
      }
      const labels = next(k, 'encap mpls');
      k++;
      if (encap !== null) fail(`duplicate "encap": ${q(labels)} is the second value`);
      encap = labels;
      if (args[k + 1] === 'ttl') fail('"encap mpls ... ttl" is not supported by wgmpls (the LSR has one TTL setting)');
    } else {
      const kw = MODIFY_KEYWORDS.find(tok);
      if (kw) {
        if (['table', 'protocol', 'scope', 'metric', 'priority', 'preference', 'pref'].includes(kw)) {
          defaults.push({ keyword: kw, value: next(k, tok) });
          k++;
          continue;
        }
        if (kw === 'nexthop') fail('multipath routes ("nexthop") are not supported by wgmpls');
        if (kw === 'ttl-propagate') fail('per-route "ttl-propagate" is not supported by wgmpls (the LSR has one TTL setting)');
        fail(`${q(tok)}${tok !== kw ? ` (${kw})` : ''} is not supported by wgmpls`);
      }
      let t = tok;
      if (t === 'to') {
        t = next(k, 'to');
        k++;
      }
      if (!/^[0-9]/.test(t) && ROUTE_TYPES.includes(t)) {
        if (t !== 'unicast') fail(`route type ${q(t)} is not supported by wgmpls (only unicast)`);
        t = next(k, t);
        k++;
      }
      if (matches(t, 'help')) fail(USAGE);
      if (dst !== null) fail(`either "to" is duplicate, or ${q(t)} is a garbage.`);
      dst = t;
    }
  }

  if (dst === null) {
    fail(family === 'mpls' ? 'missing the incoming label (ip -f mpls route add LABEL ...)' : 'missing the prefix (ip route add PREFIX encap mpls LABEL ...)');
  }
  const needsNexthop = verb !== 'del';

  if (family === 'mpls') {
    if (encap !== null) fail('"encap" is only for IP routes (ip route add PREFIX encap mpls ...), not for MPLS routes');
    const label = parseIncomingLabel(dst);
    const outLabels = as === null ? [] : parseOutgoingLabels(as);
    const nh = via === null ? null : resolveMplsVia(via);
    checkDefaults(defaults, 'mpls', nh !== null);
    if (dev === null && needsNexthop) fail('missing "dev": wgmpls needs the outgoing interface (dev wgmN, or dev lo to deliver locally)');
    return { label, outLabels, via: nh, dev: dev ?? '' };
  }

  if (as !== null) fail('"as" is only for MPLS routes: use ip -f mpls route (or ip -M route) for label swaps');
  const fam: Family | null = family === 'inet6' ? 6 : family === 'inet' ? 4 : null;
  const parsed = parseIpPrefix(dst, fam, true);
  let routeFamily = parsed.family;
  if (parsed.unspecifiedDefault && via !== null && via.keyword === null) {
    // `ip route add default via fd00::1 ...`: iproute2 takes the family from the gateway.
    const nh = parseAddr(via.addr);
    if (nh) routeFamily = nh.family;
  }
  const prefix: Prefix =
    routeFamily === parsed.family ? parsed.prefix : { addr: new Uint8Array(routeFamily === 6 ? 16 : 4), bits: 0 };
  const nh = via === null ? null : resolveIpVia(via, routeFamily);
  checkDefaults(defaults, routeFamily === 6 ? 'inet6' : 'inet', nh !== null);
  if (encap === null && needsNexthop) {
    fail('wgmpls only keeps MPLS encap routes (add "encap mpls LABEL"); plain IP routes belong to "ip"');
  }
  const labels = encap === null ? [] : parseOutgoingLabels(encap);
  if (dev === null && needsNexthop) fail('missing "dev": wgmpls needs the outgoing interface (dev wgmN)');
  return { prefix, labels, via: nh, dev: dev ?? '' };
}

/** Accepts `table main`, `proto boot`, default scope/metric/pref; refuses anything else. */
function checkDefaults(defaults: readonly Defaults[], family: IpFamily, hasVia: boolean): void {
  for (const { keyword, value } of defaults) {
    let ok = false;
    let expected = '';
    switch (keyword) {
      case 'table':
        ok = value === 'main' || strtoulWhole(value) === 254;
        expected = 'main';
        break;
      case 'protocol':
        ok = value === 'boot' || strtoulWhole(value) === 3;
        expected = 'boot';
        break;
      case 'scope': {
        const want = family === 'inet' && !hasVia ? 253 : 0;
        const got = value in SCOPES ? SCOPES[value] : strtoulWhole(value);
        ok = got === want;
        expected = want === 253 ? 'link' : 'global';
        break;
      }
      case 'metric':
      case 'priority':
      case 'preference': {
        const want = family === 'inet6' ? IPV6_DEFAULT_METRIC : 0;
        ok = family !== 'mpls' && strtoulWhole(value) === want;
        expected = family === 'mpls' ? '' : String(want);
        break;
      }
      case 'pref':
        ok = family === 'inet6' && (value === 'medium' || strtoulWhole(value) === 0);
        expected = family === 'inet6' ? 'medium' : '';
        break;
    }
    if (!ok) {
      fail(
        `"${keyword} ${value}" is not supported by wgmpls` +
          (expected ? ` (only the default, ${keyword} ${expected})` : ` for ${family} routes`),
      );
    }
  }
}

function resolveMplsVia(via: RawVia): NextHop {
  if (via.keyword === null) {
    // Without "inet"/"inet6" iproute2 would read an MPLS label here; wgmpls takes a full
    // address (a dotted quad or IPv6) and deduces the family, but never a bare number.
    const nh = via.addr.includes(':') || via.addr.split('.').length === 4 ? parseAddr(via.addr) : null;
    if (!nh) fail(`inet or inet6 address is expected rather than ${q(via.addr)} (via [ inet | inet6 ] ADDRESS)`);
    return nh;
  }
  if (via.keyword !== 'inet' && via.keyword !== 'inet6') fail(`via ${via.keyword} is not supported by wgmpls (use via inet or via inet6)`);
  const want: Family = via.keyword === 'inet6' ? 6 : 4;
  const nh = parseAddr(via.addr);
  if (!nh || nh.family !== want) fail(`${via.keyword} address is expected rather than ${q(via.addr)}`);
  return nh;
}

function resolveIpVia(via: RawVia, routeFamily: Family): NextHop {
  const routeName = familyName(routeFamily);
  if (via.keyword !== null && via.keyword !== 'inet' && via.keyword !== 'inet6') {
    fail(`via ${via.keyword} is not supported by wgmpls (a gateway of the route's family ${routeName})`);
  }
  const nh = parseAddr(via.addr);
  const want: Family | null = via.keyword === null ? null : via.keyword === 'inet6' ? 6 : 4;
  if (!nh || (want !== null && nh.family !== want)) {
    fail(`${via.keyword ?? routeName} address is expected rather than ${q(via.addr)}`);
  }
  if (nh.family !== routeFamily) fail(`via ${familyName(nh.family)} ${via.addr} is not of the route's family ${routeName}`);
  return nh;
}

