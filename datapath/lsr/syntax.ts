// `wgmpls ip ...`: iproute2's own route syntax, parsed into the LSR's route model and printed
// back exactly as `ip` prints routes on a kernel with MPLS routing. Pure code, no I/O.
//
// What follows iproute2 (ip/ip.c, ip/iproute.c, ip/iproute_lwtunnel.c, lib/utils.c,
// lib/mpls_pton.c, lib/mpls_ntop.c) and Linux (net/mpls/af_mpls.c, net/ipv4/fib_frontend.c,
// net/ipv6/route.c):
//   - option, object and verb abbreviations use iproute2's matches() (any non-empty prefix;
//     the first entry of iproute2's own table order wins: `r` is `route`, `d` is `delete`);
//   - labels are read like strtoul(…, 0) (so 0x65 and 0145 are 101), IPv4 addresses with
//     iproute2's legacy reader (`10/8` is 10.0.0.0/8), prefix lengths also as a netmask;
//   - an IPv4 prefix with host bits set is refused ("Invalid prefix for given prefix length",
//     the kernel's words); an IPv6 one is masked silently, as the kernel does;
//   - `ip route show` without a family lists IPv4 routes only, as ip does.
// Where wgmpls deliberately differs (the kernel would refuse or do something else):
//   - `as 3` / `encap mpls 3` (implicit null alone) mean pop / push nothing;
//   - outgoing labels 1 and 4-15 are refused (only 0 and 2, explicit null, are allowed);
//   - `dev` is required (no FIB lookup from the via address);
//   - `via ADDR` without a family keyword is accepted on MPLS routes (family from the address);
//   - keywords the model cannot hold are refused unless they carry the default value
//     (`proto boot`, `table main`, `scope` as ip would set it, `metric 1024` on IPv6,
//     `pref medium`, `unicast`), so every line `ip route show` prints can be fed back.
import type { Prefix } from '../device/config';
import { Family, FIRST_UNRESERVED_LABEL, IpRoute, MAX_LABEL, MAX_LABEL_STACK, MplsRoute, NextHop } from './model';
import { fail, matches, q, strtoulWhole } from './syntaxUtil';
import { familyName, familyOfAddr, formatAddr, maskAddr, parseAddr, parseIpPrefix, sameBytes } from './addrSyntax';

export { familyName, familyOfAddr, formatAddr, maskAddr };

export type IpFamily = 'mpls' | 'inet' | 'inet6';
export type IpVerb = 'add' | 'del' | 'replace' | 'change' | 'show' | 'flush';
export type PrefixMatch = 'exact' | 'root' | 'match';

/** Selectors of `ip route show|flush` that wgmpls understands. */
export interface RouteFilter {
  /** `dev IF`: routes leaving through IF (ip then omits "dev IF" from each line). */
  dev?: string;
  /** MPLS: `ip -f mpls route show LABEL`. */
  label?: number;
  /** IP: `[to] [exact|root|match] PREFIX` (bare = exact). */
  prefix?: { prefix: Prefix; mode: PrefixMatch };
}

export interface IpCommand {
  /** From -f/-4/-6/-M, or deduced from the route for add/del/replace/change; null = not given. */
  family: IpFamily | null;
  verb: IpVerb;
  /** Number of -s. */
  stats: number;
  json: boolean;
  /** Number of -d (ip then prints "unicast ... proto boot scope global"). */
  details: number;
  /**
   * add/del/replace/change. For del only routeKey() is required: fields not given are empty
   * (dev '', via null, no labels).
   */
  route?: MplsRoute | IpRoute;
  /** show/flush (always present for those verbs, possibly empty). */
  filter?: RouteFilter;
}

/** Per-route counters for `-s` (wgmpls's own; the kernel keeps none per MPLS route). */
export interface RouteCounters {
  packets: bigint | number;
  bytes: bigint | number;
  /** Drops by reason, e.g. { 'ttl-expired': 1, 'no-route': 0 }; printed as given, zeros left out. */
  drops?: Record<string, number | bigint>;
}

export interface FormatOptions {
  /** `ip -d`: "unicast " first, "proto boot scope global " after dev. */
  details?: boolean | number;
  /** ip leaves "dev IF" out when the listing was filtered by `dev IF`. */
  hideDev?: boolean;
}

export const IMPLICIT_NULL = 3;
const IPV4_EXPLICIT_NULL = 0;
const IPV6_EXPLICIT_NULL = 2;
/** Kernel default metric of IPv6 routes added from userspace (IP6_RT_PRIO_USER). */
export const IPV6_DEFAULT_METRIC = 1024;

export const USAGE = [
  'Usage: wgmpls ip [ -f { mpls | inet | inet6 } | -M | -4 | -6 ] [ -s ] [ -d ] [ -j ] route COMMAND',
  '       ip -f mpls route { add | del | replace | change } LABEL [ as [ to ] L1/L2/... ]',
  '                        [ via [ inet | inet6 ] ADDRESS ] dev IF',
  '       ip route { add | del | replace | change } [ to ] PREFIX encap mpls L1/L2/...',
  '                        [ via ADDRESS ] dev IF',
  '       ip route { show | list | flush } [ dev IF ] [ [ to ] [ exact | root | match ] PREFIX ]',
].join('\n');

// ---------------------------------------------------------------------------------------
// Labels.

/** Parses "L1/L2/..." (outermost first) like mpls_pton; checks syntax, range and count only. */
function parseLabelList(text: string): number[] {
  const parts = text.split('/');
  const labels: number[] = [];
  for (const part of parts) {
    const v = strtoulWhole(part);
    if (v === null) fail(`malformed label stack ${q(text)}`);
    labels.push(v);
  }
  for (const v of labels) {
    if (!(v <= MAX_LABEL)) fail(`label ${Number.isFinite(v) ? v : text} is out of range (max ${MAX_LABEL})`);
  }
  if (labels.length > MAX_LABEL_STACK) fail(`too many labels (${labels.length} > ${MAX_LABEL_STACK})`);
  return labels;
}

function reservedLabel(v: number): never {
  fail(`label ${v} is reserved (0-${FIRST_UNRESERVED_LABEL - 1}); use ${FIRST_UNRESERVED_LABEL}-${MAX_LABEL}`);
}

/** An incoming label (the key of an ILM entry): one label, 16 or more, as Linux requires. */
function parseIncomingLabel(text: string): number {
  if (text.includes('/') && strtoulWhole(text.split('/')[0]) !== null) {
    fail(`incoming label must be a single label, not ${q(text)}`);
  }
  const [label] = parseLabelList(text);
  if (label < FIRST_UNRESERVED_LABEL) reservedLabel(label);
  return label;
}

/**
 * An outgoing stack (`as` or `encap mpls`): explicit null 0/2 allowed anywhere, implicit null 3
 * only alone (meaning: no label, i.e. pop / push nothing), other reserved labels refused.
 */
function parseOutgoingLabels(text: string): number[] {
  const labels = parseLabelList(text);
  if (labels.length === 1 && labels[0] === IMPLICIT_NULL) return [];
  for (const v of labels) {
    if (v === IMPLICIT_NULL) fail(`label 3 (implicit null) is only allowed alone, in ${q(text)}`);
    if (v < FIRST_UNRESERVED_LABEL && v !== IPV4_EXPLICIT_NULL && v !== IPV6_EXPLICIT_NULL) reservedLabel(v);
  }
  return labels;
}

// ---------------------------------------------------------------------------------------
// Global options, object, verb.

type OptionKind =
  | 'family'
  | 'inet'
  | 'inet6'
  | 'mpls'
  | 'stats'
  | 'details'
  | 'json'
  | 'noop'
  | 'unsupported'
  | 'unsupported-family';

/** ip.c's option chain, in its order (the first match wins); exact = strcmp, else matches(). */
const OPTIONS: ReadonlyArray<{ name: string; exact?: boolean; kind: OptionKind }> = [
  { name: '-loops', kind: 'unsupported' },
  { name: '-family', kind: 'family' },
  { name: '-4', exact: true, kind: 'inet' },
  { name: '-6', exact: true, kind: 'inet6' },
  { name: '-0', exact: true, kind: 'unsupported-family' },
  { name: '-D', exact: true, kind: 'unsupported-family' },
  { name: '-M', exact: true, kind: 'mpls' },
  { name: '-B', exact: true, kind: 'unsupported-family' },
  { name: '-human', kind: 'noop' },
  { name: '-human-readable', kind: 'noop' },
  { name: '-iec', kind: 'noop' },
  { name: '-stats', kind: 'stats' },
  { name: '-statistics', kind: 'stats' },
  { name: '-details', kind: 'details' },
  { name: '-resolve', kind: 'unsupported' },
  { name: '-oneline', kind: 'unsupported' },
  { name: '-timestamp', kind: 'unsupported' },
  { name: '-tshort', kind: 'unsupported' },
  { name: '-Version', kind: 'unsupported' },
  { name: '-force', kind: 'unsupported' },
  { name: '-batch', kind: 'unsupported' },
  { name: '-brief', kind: 'unsupported' },
  { name: '-json', kind: 'json' },
  { name: '-pretty', kind: 'unsupported' },
  { name: '-rcvbuf', kind: 'unsupported' },
  { name: '-color', kind: 'noop' },
  { name: '-help', kind: 'unsupported' },
  { name: '-netns', kind: 'unsupported' },
  { name: '-Numeric', kind: 'noop' },
  { name: '-all', kind: 'unsupported' },
];

/** ip.c's object table, in its order. */
const OBJECTS = [
  'address', 'addrlabel', 'maddress', 'route', 'rule', 'neighbor', 'neighbour', 'ntable', 'ntbl',
  'link', 'l2tp', 'fou', 'ila', 'macsec', 'tunnel', 'tunl', 'tuntap', 'tap', 'token', 'tcpmetrics',
  'tcp_metrics', 'monitor', 'xfrm', 'mroute', 'mrule', 'netns', 'netconf', 'vrf', 'sr', 'nexthop',
  'mptcp', 'stats', 'ioam', 'help',
];

/** do_iproute's verbs, in its order; null = iproute2 has it, wgmpls does not. */
const VERBS: ReadonlyArray<{ name: string; exact?: boolean; verb: IpVerb | null }> = [
  { name: 'add', verb: 'add' },
  { name: 'change', verb: 'change' },
  { name: 'chg', exact: true, verb: 'change' },
  { name: 'replace', verb: 'replace' },
  { name: 'prepend', verb: null },
  { name: 'append', verb: null },
  { name: 'test', verb: null },
  { name: 'delete', verb: 'del' },
  { name: 'list', verb: 'show' },
  { name: 'show', verb: 'show' },
  { name: 'lst', verb: 'show' },
  { name: 'get', verb: null },
  { name: 'flush', verb: 'flush' },
  { name: 'save', verb: null },
  { name: 'restore', verb: null },
  { name: 'showdump', verb: null },
  { name: 'help', verb: null },
];

function readFamilyName(name: string): IpFamily | null {
  return name === 'inet' || name === 'inet6' || name === 'mpls' ? name : null;
}

/** iproute2's read_family() names that wgmpls does not route. */
const OTHER_FAMILIES = new Set(['link', 'bridge', 'ipx', 'dnet']);

/**
 * Parses the arguments after `ip`, e.g. ['-f', 'mpls', 'route', 'add', '101', 'as', '102',
 * 'via', 'inet', '10.0.34.2', 'dev', 'wgm1']. Throws RouteError naming the problem.
 * Device names are not checked here: see validateDevices.
 */
export function parseIpArgs(argv: readonly string[]): IpCommand {
  let family: IpFamily | null = null;
  let stats = 0;
  let details = 0;
  let json = false;
  let i = 0;

  while (i < argv.length) {
    const raw = argv[i];
    if (raw === '--') {
      i++;
      break;
    }
    if (!raw.startsWith('-')) break;
    const opt = raw[1] === '-' ? raw.slice(1) : raw;
    const base = opt.split('=')[0];
    const entry = OPTIONS.find((o) => (o.exact ? opt === o.name : matches(o.name === '-color' ? base : opt, o.name)));
    if (!entry) fail(`Option ${q(opt)} is unknown, try "ip -help".`);
    switch (entry.kind) {
      case 'family': {
        const value = argv[i + 1];
        if (value === undefined) fail(`option ${q(opt)} needs a family (mpls, inet or inet6)`);
        const f = readFamilyName(value);
        if (f === null) {
          if (OTHER_FAMILIES.has(value)) fail(`family ${value} is not supported by wgmpls (use mpls, inet or inet6)`);
          fail(`argument ${q(value)} is wrong: invalid protocol family`);
        }
        family = f;
        i++;
        break;
      }
      case 'inet':
        family = 'inet';
        break;
      case 'inet6':
        family = 'inet6';
        break;
      case 'mpls':
        family = 'mpls';
        break;
      case 'stats':
        stats++;
        break;
      case 'details':
        details++;
        break;
      case 'json':
        json = true;
        break;
      case 'noop':
        break;
      case 'unsupported-family':
        fail(`option ${q(opt)} is not supported by wgmpls (use -f mpls, -M, -4 or -6)`);
      case 'unsupported':
        fail(`option ${q(opt)} (${entry.name}) is not supported by wgmpls`);
    }
    i++;
  }

  const object = argv[i];
  if (object === undefined) fail(`missing object: wgmpls ip only handles "route"\n${USAGE}`);
  const obj = OBJECTS.find((o) => matches(object, o));
  if (obj === undefined) fail(`Object ${q(object)} is unknown, try "ip help".`);
  if (obj !== 'route') fail(`Object ${q(object)} (ip ${obj}) is not supported by wgmpls: only "ip route" is`);
  i++;

  const verbWord = argv[i];
  let verb: IpVerb = 'show';
  if (verbWord !== undefined) {
    const v = VERBS.find((e) => (e.exact ? verbWord === e.name : matches(verbWord, e.name)));
    if (v === undefined) fail(`Command ${q(verbWord)} is unknown, try "ip route help".`);
    if (v.verb === null) {
      if (v.name === 'help') fail(USAGE);
      fail(`"ip route ${v.name}" is not supported by wgmpls`);
    }
    verb = v.verb;
    i++;
  }
  const rest = argv.slice(i);
  const cmd: IpCommand = { family, verb, stats, json, details };
  if (verb === 'show' || verb === 'flush') {
    if (verb === 'flush' && rest.length === 0) fail('"ip route flush" requires arguments.');
    cmd.filter = parseSelectors(rest, family);
  } else {
    const route = parseRouteSpec(rest, family, verb);
    cmd.route = route;
    cmd.family = isMplsRoute(route) ? 'mpls' : familyName(familyOfAddr(route.prefix.addr));
  }
  return cmd;
}

// ---------------------------------------------------------------------------------------
// ROUTE (add / del / replace / change).

/** Keywords of iproute_modify that carry things the route model has no place for. */
const MODIFY_KEYWORDS: ReadonlyArray<{ name: string; exact?: boolean }> = [
  { name: 'src', exact: true },
  { name: 'from', exact: true },
  { name: 'tos', exact: true },
  { name: 'dsfield' },
  { name: 'expires', exact: true },
  { name: 'metric' },
  { name: 'priority' },
  { name: 'preference', exact: true },
  { name: 'scope', exact: true },
  { name: 'mtu', exact: true },
  { name: 'hoplimit', exact: true },
  { name: 'advmss', exact: true },
  { name: 'reordering' },
  { name: 'rtt', exact: true },
  { name: 'rto_min', exact: true },
  { name: 'window' },
  { name: 'cwnd' },
  { name: 'initcwnd' },
  { name: 'initrwnd' },
  { name: 'features' },
  { name: 'quickack' },
  { name: 'congctl' },
  { name: 'rttvar' },
  { name: 'ssthresh' },
  { name: 'realms' },
  { name: 'onlink', exact: true },
  { name: 'nexthop', exact: true },
  { name: 'nhid', exact: true },
  { name: 'protocol' },
  { name: 'table' },
  { name: 'vrf' },
  { name: 'pref' },
  { name: 'ttl-propagate', exact: true },
  { name: 'fastopen_no_cookie' },
];

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

function parseRouteSpec(args: readonly string[], family: IpFamily | null, verb: IpVerb): MplsRoute | IpRoute {
  let dst: string | null = null;
  let as: string | null = null;
  let encap: string | null = null;
  let via: RawVia | null = null;
  let dev: string | null = null;
  const defaults: Defaults[] = [];

  const next = (k: number, what: string): string => {
    const v = args[k + 1];
    if (v === undefined) fail(`Command line is not complete: ${q(what)} needs an argument`);
    return v;
  };

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
      const kw = MODIFY_KEYWORDS.find((m) => (m.exact ? tok === m.name : matches(tok, m.name)));
      if (kw) {
        if (['table', 'protocol', 'scope', 'metric', 'priority', 'preference', 'pref'].includes(kw.name)) {
          defaults.push({ keyword: kw.name, value: next(k, tok) });
          k++;
          continue;
        }
        if (kw.name === 'nexthop') fail('multipath routes ("nexthop") are not supported by wgmpls');
        if (kw.name === 'ttl-propagate') fail('per-route "ttl-propagate" is not supported by wgmpls (the LSR has one TTL setting)');
        fail(`${q(tok)}${tok !== kw.name ? ` (${kw.name})` : ''} is not supported by wgmpls`);
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

function parseSelectors(args: readonly string[], family: IpFamily | null): RouteFilter {
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

// ---------------------------------------------------------------------------------------
// Route helpers.

export function isMplsRoute(route: MplsRoute | IpRoute): route is MplsRoute {
  return (route as MplsRoute).label !== undefined;
}

/** Identifies a route for del/replace: "mpls 101", "inet 10.0.6.0/24", "inet6 fd00:6::/64". */
export function routeKey(route: MplsRoute | IpRoute): string {
  if (isMplsRoute(route)) return `mpls ${route.label}`;
  const p = route.prefix;
  return `${familyName(familyOfAddr(p.addr))} ${formatAddr(maskAddr(p.addr, p.bits))}/${p.bits}`;
}

function routeFamilyName(route: MplsRoute | IpRoute): IpFamily {
  return isMplsRoute(route) ? 'mpls' : familyName(familyOfAddr(route.prefix.addr));
}

function prefixCovers(outer: Prefix, inner: Prefix): boolean {
  return (
    outer.addr.length === inner.addr.length &&
    outer.bits <= inner.bits &&
    sameBytes(maskAddr(outer.addr, outer.bits), maskAddr(inner.addr, outer.bits))
  );
}

/**
 * Whether `ip route show|flush` with these family and selectors lists `route`, as ip does:
 * no family means IPv4 only; `exact P` (or bare P) = that prefix, `root P` = P and more
 * specific, `match P` = P and less specific; `dev IF` = leaving through IF.
 */
export function routeMatches(cmd: Pick<IpCommand, 'family' | 'filter'>, route: MplsRoute | IpRoute): boolean {
  if (routeFamilyName(route) !== (cmd.family ?? 'inet')) return false;
  const f = cmd.filter ?? {};
  if (f.dev !== undefined && route.dev !== f.dev) return false;
  if (isMplsRoute(route)) return f.label === undefined || route.label === f.label;
  if (f.prefix === undefined) return true;
  const { prefix: p, mode } = f.prefix;
  const r = route.prefix;
  if (p.addr.length !== r.addr.length) return false;
  switch (mode) {
    case 'exact':
      return p.bits === r.bits && prefixCovers(p, r);
    case 'root':
      return prefixCovers(p, r);
    case 'match':
      return prefixCovers(r, p);
  }
}

/** Throws `Cannot find device "wgm9"` (iproute2's words) unless dev is known or, for MPLS routes, lo. */
export function validateDevices(route: MplsRoute | IpRoute, known: ReadonlySet<string>): void {
  if (route.dev === '') return; // a del that named no device
  if (!isMplsRoute(route) && route.dev === 'lo') {
    fail('dev lo cannot carry MPLS encap routes: use a wgmpls interface (dev wgmN)');
  }
  if (isMplsRoute(route) && route.dev === 'lo') return;
  if (!known.has(route.dev)) fail(`Cannot find device ${q(route.dev)}`);
}

/** validateDevices for a whole command: the route, or the `dev` selector of show/flush. */
export function validateCommandDevices(cmd: IpCommand, known: ReadonlySet<string>): void {
  if (cmd.route) validateDevices(cmd.route, known);
  const dev = cmd.filter?.dev;
  if (dev !== undefined && dev !== 'lo' && !known.has(dev)) fail(`Cannot find device ${q(dev)}`);
}

// Printing lives in format.ts; re-exported so callers keep one import for iproute2 text.
export { formatIpRoute, formatMplsRoute, formatRoute, formatRouteJson, formatShow, formatStats } from './format';
