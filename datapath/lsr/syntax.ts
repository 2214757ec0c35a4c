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
import { IpCommand, IpFamily, IpVerb, OTHER_FAMILIES, USAGE, isMplsRoute, readFamilyName } from './command';
import { familyName, familyOfAddr } from './addrSyntax';
import { parseRouteSpec } from './routeSyntax';
import { parseSelectors } from './selectorSyntax';
import { fail, matches, q } from './syntaxUtil';



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

