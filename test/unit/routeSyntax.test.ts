import type { IpRoute, MplsRoute } from '../../datapath/lsr/model';
import { RouteError } from '../../datapath/lsr/model';
import { IpCommand, isMplsRoute, routeKey, routeMatches, validateCommandDevices, validateDevices } from '../../datapath/lsr/command';
import { formatIpRoute, formatMplsRoute, formatRoute, formatRouteJson, formatShow, formatStats } from '../../datapath/lsr/format';
import { formatAddr } from '../../datapath/lsr/addrSyntax';
import { parseIpArgs } from '../../datapath/lsr/syntax';

// `wgmpls ip ...` takes iproute2's route syntax and prints what `ip` prints on a kernel with
// MPLS routing (iproute2 ip/iproute.c print_route, ip/iproute_lwtunnel.c): every field is
// followed by one space, lwt_print_encap prints " encap mpls " and print_encap_mpls " L1/L2 ",
// hence the two double spaces in encap lines; IPv6 lines end "metric 1024 pref medium".

const v4 = (s: string): Uint8Array => Uint8Array.from(s.split('.').map(Number));
const words6 = (...w: number[]): Uint8Array => {
  const out = new Uint8Array(16);
  w.forEach((x, i) => {
    out[2 * i] = x >> 8;
    out[2 * i + 1] = x & 0xff;
  });
  return out;
};
const ip = (s: string): string[] => (s.trim() === '' ? [] : s.trim().split(/\s+/));
const parse = (s: string): IpCommand => parseIpArgs(ip(s));
const route = (s: string): MplsRoute | IpRoute => {
  const r = parse(s).route;
  if (!r) throw new Error(`no route in ${s}`);
  return r;
};
const err = (s: string): string => {
  try {
    parse(s);
  } catch (e) {
    expect(e).toBeInstanceOf(RouteError);
    return (e as Error).message;
  }
  throw new Error(`parsed without error: ${s}`);
};

/** Feeds a printed line back to `ip ... route add` and checks the same route comes out. */
function reparses(line: string, family: string, r: MplsRoute | IpRoute): void {
  const again = parseIpArgs([...ip(family), 'route', 'add', ...ip(line)]).route;
  expect(again).toEqual(r);
}

describe('the route forms wgmpls takes, parsed and printed back', () => {
  test('swap: -f mpls route add 101 as 102 via inet 10.0.34.2 dev wgm1', () => {
    const cmd = parse('-f mpls route add 101 as 102 via inet 10.0.34.2 dev wgm1');
    expect(cmd).toEqual({
      family: 'mpls',
      verb: 'add',
      stats: 0,
      json: false,
      details: 0,
      route: { label: 101, outLabels: [102], via: { family: 4, addr: v4('10.0.34.2') }, dev: 'wgm1' },
    });
    const line = formatMplsRoute(cmd.route as MplsRoute);
    expect(line).toBe('101 as to 102 via inet 10.0.34.2 dev wgm1 ');
    reparses(line, '-f mpls', cmd.route as MplsRoute);
  });

  test('pop: -M route add 103 via inet 10.0.56.2 dev wgm1', () => {
    const cmd = parse('-M route add 103 via inet 10.0.56.2 dev wgm1');
    expect(cmd.family).toBe('mpls');
    expect(cmd.route).toEqual({ label: 103, outLabels: [], via: { family: 4, addr: v4('10.0.56.2') }, dev: 'wgm1' });
    const line = formatMplsRoute(cmd.route as MplsRoute);
    expect(line).toBe('103 via inet 10.0.56.2 dev wgm1 ');
    reparses(line, '-M', cmd.route as MplsRoute);
  });

  test('swap and push: -f mpls route add 60 as 30/40/41 via inet 10.0.5.2 dev wgm0', () => {
    const r = route('-f mpls route add 60 as 30/40/41 via inet 10.0.5.2 dev wgm0');
    expect(r).toEqual({ label: 60, outLabels: [30, 40, 41], via: { family: 4, addr: v4('10.0.5.2') }, dev: 'wgm0' });
    const line = formatRoute(r);
    expect(line).toBe('60 as to 30/40/41 via inet 10.0.5.2 dev wgm0 ');
    reparses(line, '-f mpls', r);
  });

  test('deliver locally: -f mpls route add 200 dev lo', () => {
    const r = route('-f mpls route add 200 dev lo');
    expect(r).toEqual({ label: 200, outLabels: [], via: null, dev: 'lo' });
    expect(formatRoute(r)).toBe('200 dev lo ');
    reparses('200 dev lo ', '-f mpls', r);
  });

  test('push (FTN): route add 10.0.6.0/24 encap mpls 101/201 via 10.0.23.2 dev wgm0', () => {
    const cmd = parse('route add 10.0.6.0/24 encap mpls 101/201 via 10.0.23.2 dev wgm0');
    expect(cmd).toEqual({
      family: 'inet',
      verb: 'add',
      stats: 0,
      json: false,
      details: 0,
      route: {
        prefix: { addr: v4('10.0.6.0'), bits: 24 },
        labels: [101, 201],
        via: { family: 4, addr: v4('10.0.23.2') },
        dev: 'wgm0',
      },
    });
    const line = formatIpRoute(cmd.route as IpRoute);
    expect(line).toBe('10.0.6.0/24  encap mpls  101/201 via 10.0.23.2 dev wgm0 ');
    reparses(line, '', cmd.route as IpRoute);
  });

  test('IPv6: -6 route add fd00:6::/64 encap mpls 101 via fd00:23::2 dev wgm0', () => {
    const cmd = parse('-6 route add fd00:6::/64 encap mpls 101 via fd00:23::2 dev wgm0');
    expect(cmd.family).toBe('inet6');
    expect(cmd.route).toEqual({
      prefix: { addr: words6(0xfd00, 6), bits: 64 },
      labels: [101],
      via: { family: 6, addr: words6(0xfd00, 0x23, 0, 0, 0, 0, 0, 2) },
      dev: 'wgm0',
    });
    const line = formatIpRoute(cmd.route as IpRoute);
    expect(line).toBe('fd00:6::/64  encap mpls  101 via fd00:23::2 dev wgm0 metric 1024 pref medium');
    reparses(line, '-6', cmd.route as IpRoute); // metric 1024 and pref medium are the defaults
    // The family also comes from the prefix alone.
    expect(route('route add fd00:6::/64 encap mpls 101 via fd00:23::2 dev wgm0')).toEqual(cmd.route);
  });

  test('default route without a gateway: route add default encap mpls 100/200 dev wgm0', () => {
    const r = route('route add default encap mpls 100/200 dev wgm0');
    expect(r).toEqual({ prefix: { addr: v4('0.0.0.0'), bits: 0 }, labels: [100, 200], via: null, dev: 'wgm0' });
    // ip sets scope link on a gatewayless IPv4 route, and prints it.
    const line = formatRoute(r);
    expect(line).toBe('default  encap mpls  100/200 dev wgm0 scope link ');
    reparses(line, '', r);
    expect(route('-6 route add default encap mpls 100 dev wgm0')).toEqual({
      prefix: { addr: new Uint8Array(16), bits: 0 },
      labels: [100],
      via: null,
      dev: 'wgm0',
    });
    expect(formatRoute(route('-6 route add default encap mpls 100 dev wgm0'))).toBe(
      'default  encap mpls  100 dev wgm0 metric 1024 pref medium',
    );
  });

  test('delete: -f mpls route del 101', () => {
    const cmd = parse('-f mpls route del 101');
    expect(cmd).toEqual({
      family: 'mpls',
      verb: 'del',
      stats: 0,
      json: false,
      details: 0,
      route: { label: 101, outLabels: [], via: null, dev: '' },
    });
    expect(routeKey(cmd.route as MplsRoute)).toBe('mpls 101');
    expect(formatRoute(cmd.route as MplsRoute)).toBe('101 ');
  });

  test('show: -f mpls route show, -s -f mpls route show, route list', () => {
    expect(parse('-f mpls route show')).toEqual({ family: 'mpls', verb: 'show', stats: 0, json: false, details: 0, filter: {} });
    expect(parse('-s -f mpls route show')).toEqual({ family: 'mpls', verb: 'show', stats: 1, json: false, details: 0, filter: {} });
    expect(parse('route list')).toEqual({ family: null, verb: 'show', stats: 0, json: false, details: 0, filter: {} });
  });
});

describe('global options, object and verb (iproute2 abbreviations)', () => {
  test('-f / -family / --family, -M, -4, -6', () => {
    expect(parse('-family mpls route').family).toBe('mpls');
    expect(parse('--family inet6 route').family).toBe('inet6');
    expect(parse('-fam inet route').family).toBe('inet');
    expect(parse('-4 route').family).toBe('inet');
    expect(parse('-6 route').family).toBe('inet6');
    expect(parse('-M route').family).toBe('mpls');
    expect(parse('-6 -M route').family).toBe('mpls'); // the last one wins, as in ip
  });

  test('-s repeats; -stats, -statistics; -d; -j / -json', () => {
    expect(parse('-s -s -M route show').stats).toBe(2);
    expect(parse('-stats -statistics route').stats).toBe(2);
    expect(parse('-st route').stats).toBe(1);
    expect(parse('-d route').details).toBe(1);
    expect(parse('-details -d route').details).toBe(2);
    expect(parse('-j route').json).toBe(true);
    expect(parse('--json route').json).toBe(true);
    expect(parse('-N -h -iec -c route').verb).toBe('show'); // output-neutral options are accepted
    expect(parse('-- route').verb).toBe('show');
  });

  test('object abbreviations r, ro, rou, rout, route', () => {
    for (const o of ['r', 'ro', 'rou', 'rout', 'route']) expect(parse(`-M ${o} add 100 dev lo`).route).toBeDefined();
  });

  test('no verb is show; verb abbreviations', () => {
    expect(parse('-M route').verb).toBe('show');
    const verbs: Record<string, string> = {
      a: 'add',
      add: 'add',
      del: 'del',
      d: 'del',
      delete: 'del',
      r: 'replace',
      replace: 'replace',
      change: 'change',
      chg: 'change',
      c: 'change',
    };
    for (const [w, v] of Object.entries(verbs)) expect(parse(`-M route ${w} 100 dev lo`).verb).toBe(v);
    for (const w of ['show', 'sh', 's', 'list', 'l', 'lst', 'ls']) expect(parse(`route ${w}`).verb).toBe('show');
    expect(parse('-M route flush dev wgm0').verb).toBe('flush');
    expect(parse('-M route f table main').verb).toBe('flush');
  });

  test('errors name the option, object or verb', () => {
    expect(err('-x route')).toBe('Option "-x" is unknown, try "ip -help".');
    expect(err('-f bogus route')).toBe('argument "bogus" is wrong: invalid protocol family');
    expect(err('-f bridge route')).toMatch(/family bridge is not supported/);
    expect(err('-f')).toMatch(/"-f" needs a family/);
    expect(err('-B route')).toMatch(/"-B" is not supported/);
    expect(err('-o route')).toMatch(/"-o" \(-oneline\) is not supported/);
    expect(err('link show')).toBe('Object "link" (ip link) is not supported by wgmpls: only "ip route" is');
    expect(err('ru')).toMatch(/"ru" \(ip rule\) is not supported/);
    expect(err('frob')).toBe('Object "frob" is unknown, try "ip help".');
    expect(err('')).toMatch(/missing object/);
    expect(err('route frob')).toBe('Command "frob" is unknown, try "ip route help".');
    expect(err('route append 10.0.0.0/8 encap mpls 100 dev wgm0')).toBe('"ip route append" is not supported by wgmpls');
    expect(err('route get 10.0.0.1')).toBe('"ip route get" is not supported by wgmpls');
    expect(err('-M route flush')).toBe('"ip route flush" requires arguments.');
  });
});

describe('MPLS routes', () => {
  test('as to, labels in any strtoul base, via with or without family, keyword order', () => {
    expect(route('-M route add 101 as to 102 via inet 10.0.34.2 dev wgm1')).toEqual(
      route('-M route add 101 as 102 via inet 10.0.34.2 dev wgm1'),
    );
    expect(route('-M route add 0x65 as 0146 via inet 10.0.34.2 dev wgm1')).toMatchObject({ label: 101, outLabels: [102] });
    expect(route('-M route add dev wgm1 via 10.0.34.2 as 102 to 101')).toEqual(
      route('-M route add 101 as 102 via inet 10.0.34.2 dev wgm1'),
    );
    expect(route('-M route add 101 as 102 via inet6 fd00::1 dev wgm1')).toMatchObject({ via: { family: 6 } });
    expect(formatRoute(route('-M route add 101 as 102 via fd00::1 dev wgm1'))).toBe('101 as to 102 via inet6 fd00::1 dev wgm1 ');
    expect(route('-M route add unicast 101 dev lo')).toMatchObject({ label: 101 });
  });

  test('implicit null alone means pop; explicit null 0 and 2 may be pushed', () => {
    expect(route('-M route add 101 as 3 via inet 10.0.34.2 dev wgm1')).toMatchObject({ outLabels: [] });
    expect(route('-M route add 101 as 0 via inet 10.0.34.2 dev wgm1')).toMatchObject({ outLabels: [0] });
    expect(route('-M route add 101 as 100/2 via inet 10.0.34.2 dev wgm1')).toMatchObject({ outLabels: [100, 2] });
  });

  test('a swap stack of MAX_LABEL_STACK (30) labels, not 31', () => {
    const stack30 = Array.from({ length: 30 }, (_, i) => 100 + i).join('/');
    expect(route(`-M route add 101 as ${stack30} dev wgm1`)).toMatchObject({ outLabels: stack30.split('/').map(Number) });
    expect(err(`-M route add 101 as ${stack30}/200 dev wgm1`)).toBe('too many labels (31 > 30)');
  });

  test('label errors', () => {
    expect(err('-M route add 5 dev wgm1')).toBe('label 5 is reserved (0-15); use 16-1048575');
    expect(err('-M route add 0 dev wgm1')).toBe('label 0 is reserved (0-15); use 16-1048575');
    expect(err('-M route add 1048576 dev wgm1')).toBe('label 1048576 is out of range (max 1048575)');
    expect(route('-M route add 1048575 dev lo')).toMatchObject({ label: 1048575 });
    expect(err('-M route add 101 as 101//2 dev wgm1')).toBe('malformed label stack "101//2"');
    expect(err('-M route add 101 as 101/ dev wgm1')).toBe('malformed label stack "101/"');
    expect(err('-M route add 101 as x1 dev wgm1')).toBe('malformed label stack "x1"');
    expect(err('-M route add 101 as 09 dev wgm1')).toBe('malformed label stack "09"');
    expect(err('-M route add 101 as 1048576 dev wgm1')).toBe('label 1048576 is out of range (max 1048575)');
    expect(err('-M route add 101 as 5 dev wgm1')).toBe('label 5 is reserved (0-15); use 16-1048575');
    expect(err('-M route add 101 as 100/1 dev wgm1')).toBe('label 1 is reserved (0-15); use 16-1048575');
    expect(err('-M route add 101 as 3/100 dev wgm1')).toBe('label 3 (implicit null) is only allowed alone, in "3/100"');
    expect(err('-M route add 101/102 dev wgm1')).toBe('incoming label must be a single label, not "101/102"');
    expect(err('-M route add 3 dev lo')).toBe('label 3 is reserved (0-15); use 16-1048575');
  });

  test('via, dev and keyword errors', () => {
    expect(err('-M route add 101 as 102 via inet 10.0.34.2')).toMatch(/^missing "dev"/);
    expect(err('-M route add 101 as 102 via inet fd00::1 dev wgm1')).toBe('inet address is expected rather than "fd00::1"');
    expect(err('-M route add 101 as 102 via inet6 10.0.0.1 dev wgm1')).toBe('inet6 address is expected rather than "10.0.0.1"');
    expect(err('-M route add 101 via link 00:11:22:33:44:55 dev wgm1')).toMatch(/via link is not supported/);
    expect(err('-M route add 101 via 10.0.0.1 via 10.0.0.2 dev wgm1')).toMatch(/multiple via/);
    expect(err('-M route add 101 as 102 bogus dev wgm1')).toBe('either "to" is duplicate, or "bogus" is a garbage.');
    expect(err('-M route add 101 as 102 dev wgm1 ttl-propagate enabled')).toMatch(/ttl-propagate/);
    expect(err('-M route add 101 nexthop via inet 10.0.0.1 dev wgm1')).toMatch(/multipath/);
    expect(err('-M route add 101 as 102 dev wgm1 mtu 1400')).toBe('"mtu" is not supported by wgmpls');
    expect(err('-M route add 101 as 102 dev wgm1 proto static')).toBe(
      '"protocol static" is not supported by wgmpls (only the default, protocol boot)',
    );
    expect(route('-M route add 101 as 102 dev wgm1 proto boot table main scope global')).toMatchObject({ label: 101 });
    expect(err('-M route add 101 encap mpls 100 dev wgm1')).toMatch(/"encap" is only for IP routes/);
    expect(err('-M route add blackhole 101')).toMatch(/route type "blackhole" is not supported/);
    expect(err('-M route add')).toMatch(/missing the incoming label/);
    expect(err('-M route add 101 dev')).toBe('Command line is not complete: "dev" needs an argument');
    expect(err('-M route add 101 dev wgm1 table')).toBe('Command line is not complete: "table" needs an argument');
    expect(err('-M route add 101 via 102 dev wgm1')).toBe(
      'inet or inet6 address is expected rather than "102" (via [ inet | inet6 ] ADDRESS)',
    );
  });

  test('"as" on a route of no family points to -f mpls', () => {
    expect(err('route add 101 as 102 via inet 10.0.34.2 dev wgm1')).toMatch(/"as" is only for MPLS routes/);
  });
});

describe('IP routes (FTN)', () => {
  test('to PREFIX, bare addresses, iproute2 address and netmask forms', () => {
    const a = route('route add to 10.0.6.0/24 encap mpls 101 dev wgm0');
    expect(a).toMatchObject({ prefix: { addr: v4('10.0.6.0'), bits: 24 } });
    expect(route('route add 10.0.6.0/255.255.255.0 encap mpls 101 dev wgm0')).toEqual(a);
    expect(route('route add 10.0.6/24 encap mpls 101 dev wgm0')).toEqual(a);
    expect(route('route add 10/8 encap mpls 101 dev wgm0')).toMatchObject({ prefix: { addr: v4('10.0.0.0'), bits: 8 } });
    const host = route('route add 10.0.6.1 encap mpls 101 dev wgm0');
    expect(host).toMatchObject({ prefix: { addr: v4('10.0.6.1'), bits: 32 } });
    expect(formatRoute(host)).toBe('10.0.6.1  encap mpls  101 dev wgm0 scope link ');
    const host6 = route('route add fd00::6 encap mpls 101 dev wgm0');
    expect(host6).toMatchObject({ prefix: { bits: 128 } });
    expect(formatRoute(host6)).toBe('fd00::6  encap mpls  101 dev wgm0 metric 1024 pref medium');
    expect(route('-4 route add 0.0.0.0/0 encap mpls 100 dev wgm0')).toEqual(route('route add default encap mpls 100 dev wgm0'));
  });

  test('default takes its family from -6 or from the gateway', () => {
    expect(route('route add default encap mpls 100 via fd00::1 dev wgm0')).toMatchObject({
      prefix: { addr: new Uint8Array(16), bits: 0 },
      via: { family: 6 },
    });
  });

  test('IPv6 host bits are masked (as the kernel does); IPv4 ones are refused', () => {
    expect(route('route add fd00:6::1/64 encap mpls 101 dev wgm0')).toEqual(route('route add fd00:6::/64 encap mpls 101 dev wgm0'));
    expect(err('route add 10.0.6.1/24 encap mpls 101 dev wgm0')).toBe(
      'Invalid prefix for given prefix length (10.0.6.1/24 has host bits set; did you mean 10.0.6.0/24?)',
    );
  });

  test('prefix, via and encap errors', () => {
    expect(err('route add 10.0.0.0/33 encap mpls 101 dev wgm0')).toBe('prefix 10.0.0.0/33 is invalid');
    expect(err('-6 route add fd00::/129 encap mpls 101 dev wgm0')).toBe('prefix fd00::/129 is invalid');
    expect(err('route add 10.0.0.256/24 encap mpls 101 dev wgm0')).toBe('prefix 10.0.0.256/24 is invalid');
    expect(err('route add fd00:::1/64 encap mpls 101 dev wgm0')).toBe('prefix fd00:::1/64 is invalid');
    expect(err('route add bogus encap mpls 101 dev wgm0')).toBe('prefix bogus is invalid');
    expect(err('-4 route add fd00::/64 encap mpls 101 dev wgm0')).toBe('inet prefix is expected rather than "fd00::/64"');
    expect(err('route add 10.0.6.0/24 encap mpls 101 via inet6 fd00::1 dev wgm0')).toBe(
      "via inet6 fd00::1 is not of the route's family inet",
    );
    expect(err('route add 10.0.6.0/24 encap mpls 101 via fd00::1 dev wgm0')).toBe(
      "via inet6 fd00::1 is not of the route's family inet",
    );
    expect(err('route add fd00:6::/64 encap mpls 101 via 10.0.0.1 dev wgm0')).toBe(
      "via inet 10.0.0.1 is not of the route's family inet6",
    );
    expect(err('route add 10.0.6.0/24 encap mpls 101 via 10.0.0.x dev wgm0')).toBe('inet address is expected rather than "10.0.0.x"');
    expect(err('route add 10.0.6.0/24 encap mpls 101 via 10.0.23.2')).toMatch(/^missing "dev"/);
    expect(err('route add 10.0.6.0/24 via 10.0.23.2 dev wgm0')).toMatch(/wgmpls only keeps MPLS encap routes/);
    expect(err('route add 10.0.6.0/24 encap ip id 1 dev wgm0')).toBe('encap ip is not supported by wgmpls (only encap mpls)');
    expect(err('route add 10.0.6.0/24 encap foo 1 dev wgm0')).toBe('argument "foo" is wrong: "encap type" value is invalid');
    expect(err('route add 10.0.6.0/24 encap mpls 101 ttl 5 dev wgm0')).toMatch(/ttl/);
    expect(err('route add 10.0.6.0/24 encap mpls 101//2 dev wgm0')).toBe('malformed label stack "101//2"');
    expect(err('route add 10.0.6.0/24 encap mpls 7 dev wgm0')).toBe('label 7 is reserved (0-15); use 16-1048575');
    expect(err('route add 10.0.6.0/24 encap mpls 101 dev wgm0 10.0.7.0/24')).toBe(
      'either "to" is duplicate, or "10.0.7.0/24" is a garbage.',
    );
    expect(err('-6 route add fd00::/64 encap mpls 101 dev wgm0 metric 5')).toBe(
      '"metric 5" is not supported by wgmpls (only the default, metric 1024)',
    );
    expect(err('route add 10.0.6.0/24 encap mpls 101 via 10.0.23.2 dev wgm0 scope link')).toBe(
      '"scope link" is not supported by wgmpls (only the default, scope global)',
    );
    expect(err('route add 10.0.6.0/24 encap mpls 101 dev wgm0 src 10.0.0.1')).toBe('"src" is not supported by wgmpls');
    expect(err('route add 10.0.6.0/24 encap mpls 101 dev wgm0 onlink')).toBe('"onlink" is not supported by wgmpls');
    expect(err('route add')).toMatch(/missing the prefix/);
  });

  test('encap mpls 3 alone pushes nothing; del needs no encap', () => {
    const r = route('route add 10.0.6.0/24 encap mpls 3 via 10.0.23.2 dev wgm0');
    expect(r).toMatchObject({ labels: [] });
    expect(formatRoute(r)).toBe('10.0.6.0/24  encap mpls  3 via 10.0.23.2 dev wgm0 ');
    const del = parse('route del 10.0.6.0/24');
    expect(del.verb).toBe('del');
    expect(del.family).toBe('inet');
    expect(del.route).toEqual({ prefix: { addr: v4('10.0.6.0'), bits: 24 }, labels: [], via: null, dev: '' });
    expect(routeKey(del.route as IpRoute)).toBe('inet 10.0.6.0/24');
    expect(routeKey(route('-6 route del fd00:6::/64'))).toBe('inet6 fd00:6::/64');
    expect(err('route del 10.0.6.1/24')).toMatch(/^Invalid prefix for given prefix length/);
  });

  test('replace and change parse like add', () => {
    expect(parse('route replace 10.0.6.0/24 encap mpls 101 dev wgm0').verb).toBe('replace');
    expect(parse('-M route change 101 as 102 dev wgm1').verb).toBe('change');
    expect(parse('-M route replace 101 as 102 dev wgm1').route).toEqual(route('-M route add 101 as 102 dev wgm1'));
  });
});

describe('printing', () => {
  const swap = route('-M route add 101 as 102 via inet 10.0.34.2 dev wgm1') as MplsRoute;
  const ftn = route('route add 10.0.6.0/24 encap mpls 101/201 via 10.0.23.2 dev wgm0') as IpRoute;
  const ftn6 = route('-6 route add fd00:6::/64 encap mpls 101 via fd00:23::2 dev wgm0') as IpRoute;
  const ftnDefault = route('route add default encap mpls 100/200 dev wgm0') as IpRoute;

  test('ip -d adds the type, protocol and scope', () => {
    expect(formatRoute(swap, { details: true })).toBe('unicast 101 as to 102 via inet 10.0.34.2 dev wgm1 proto boot scope global ');
    expect(formatRoute(ftn, { details: 1 })).toBe(
      'unicast 10.0.6.0/24  encap mpls  101/201 via 10.0.23.2 dev wgm0 proto boot scope global ',
    );
    expect(formatRoute(ftnDefault, { details: true })).toBe('unicast default  encap mpls  100/200 dev wgm0 proto boot scope link ');
    expect(formatRoute(ftn6, { details: true })).toBe(
      'unicast fd00:6::/64  encap mpls  101 via fd00:23::2 dev wgm0 proto boot scope global metric 1024 pref medium',
    );
    // ... and the detailed lines can be fed back too.
    reparses(formatRoute(swap, { details: true }), '-M', swap);
    reparses(formatRoute(ftn, { details: true }), '', ftn);
    reparses(formatRoute(ftnDefault, { details: true }), '', ftnDefault);
    reparses(formatRoute(ftn6, { details: true }), '-6', ftn6);
  });

  test('a dev selector leaves dev out of the lines', () => {
    expect(formatRoute(swap, { hideDev: true })).toBe('101 as to 102 via inet 10.0.34.2 ');
  });

  test('addresses as inet_ntop prints them', () => {
    expect(formatAddr(v4('10.0.34.2'))).toBe('10.0.34.2');
    expect(formatAddr(words6(0xfd00, 0, 0, 0, 0, 0, 0, 1))).toBe('fd00::1');
    expect(formatAddr(new Uint8Array(16))).toBe('::');
    expect(formatAddr(words6(0, 0, 0, 0, 0, 0, 0, 1))).toBe('::1');
    expect(formatAddr(words6(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1))).toBe('2001:db8::1:0:0:1');
    expect(formatAddr(words6(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1))).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatAddr(words6(0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001))).toBe('::ffff:10.0.0.1');
    expect(formatAddr(words6(0, 0, 0, 0, 0, 0, 0x0a00, 0x0001))).toBe('::10.0.0.1');
    expect(formatAddr(words6(0xfe80, 0, 0, 0, 0xabcd, 0, 0, 0))).toBe('fe80::abcd:0:0:0');
    expect(formatAddr(words6(1, 0, 0, 2, 0, 0, 0, 3))).toBe('1:0:0:2::3');
    expect(formatAddr(words6(1, 0, 0, 2, 0, 0, 3, 4))).toBe('1::2:0:0:3:4');
  });

  test('IPv6 input forms', () => {
    const p = (s: string): Uint8Array => (route(`-M route add 100 via inet6 ${s} dev wgm0`) as MplsRoute).via?.addr as Uint8Array;
    expect(formatAddr(p('FD00:0:0::1'))).toBe('fd00::1');
    expect(formatAddr(p('::ffff:10.0.0.1'))).toBe('::ffff:10.0.0.1');
    expect(formatAddr(p('1:2:3:4:5:6:7:8'))).toBe('1:2:3:4:5:6:7:8');
    for (const bad of ['1:2:3:4:5:6:7', '1::2::3', ':1::2', '1:2:3:4:5:6:7:8:9', '12345::', '1.2.3.4::', '::1.2.3.04', '1::2:3:4:5:6:7:8']) {
      expect(err(`-M route add 100 via inet6 ${bad} dev wgm0`)).toBe(`inet6 address is expected rather than "${bad}"`);
    }
  });

  test('-s line', () => {
    expect(formatStats({ packets: 10, bytes: 1200n })).toBe('    packets 10 bytes 1200 drops 0');
    expect(formatStats({ packets: 10n, bytes: 1200, drops: { 'ttl-expired': 2, 'no-route': 0, 'bad-label': 1n } })).toBe(
      '    packets 10 bytes 1200 drops 3 (ttl-expired 2, bad-label 1)',
    );
  });

  test('-j objects, with ip\'s two "dst" keys on encap routes', () => {
    expect(formatRouteJson(swap)).toBe('{"dst":"101","to":"102","via":{"family":"inet","host":"10.0.34.2"},"dev":"wgm1","flags":[]}');
    expect(formatRouteJson(ftn)).toBe(
      '{"dst":"10.0.6.0/24","encap":"mpls","dst":"101/201","gateway":"10.0.23.2","dev":"wgm0","flags":[]}',
    );
    expect(formatRouteJson(ftnDefault)).toBe('{"dst":"default","encap":"mpls","dst":"100/200","dev":"wgm0","scope":"link","flags":[]}');
    expect(formatRouteJson(ftn6)).toBe(
      '{"dst":"fd00:6::/64","encap":"mpls","dst":"101","gateway":"fd00:23::2","dev":"wgm0","metric":1024,"flags":[],"pref":"medium"}',
    );
    expect(formatRouteJson(swap, { details: true }, { packets: 1, bytes: 2, drops: { x: 1 } })).toBe(
      '{"type":"unicast","dst":"101","to":"102","via":{"family":"inet","host":"10.0.34.2"},"dev":"wgm1",' +
        '"protocol":"boot","scope":"global","flags":[],"stats":{"packets":1,"bytes":2,"drops":1,"drop_reasons":{"x":1}}}',
    );
  });
});

describe('show and flush selectors', () => {
  const table: Array<MplsRoute | IpRoute> = [
    route('-M route add 300 as 301 via inet 10.0.1.2 dev wgm1'),
    route('-M route add 101 as 102 via inet 10.0.34.2 dev wgm1'),
    route('-M route add 200 dev lo'),
    route('route add 10.0.6.0/24 encap mpls 101/201 via 10.0.23.2 dev wgm0'),
    route('route add 10.0.6.128/25 encap mpls 105 dev wgm1'),
    route('route add default encap mpls 100/200 dev wgm0'),
    route('-6 route add fd00:6::/64 encap mpls 101 via fd00:23::2 dev wgm0'),
  ];
  const keys = (s: string): string[] => table.filter((r) => routeMatches(parse(s), r)).map(routeKey);

  test('families: none means IPv4 only, as ip does', () => {
    expect(keys('route list')).toEqual(['inet 10.0.6.0/24', 'inet 10.0.6.128/25', 'inet 0.0.0.0/0']);
    expect(keys('-6 route')).toEqual(['inet6 fd00:6::/64']);
    expect(keys('-M route show')).toEqual(['mpls 300', 'mpls 101', 'mpls 200']);
  });

  test('dev, label, exact / root / match prefixes', () => {
    expect(keys('-M route show dev wgm1')).toEqual(['mpls 300', 'mpls 101']);
    expect(keys('-M route show 101')).toEqual(['mpls 101']);
    expect(keys('route show 10.0.6.0/24')).toEqual(['inet 10.0.6.0/24']);
    expect(keys('route show exact 10.0.6.0/24')).toEqual(['inet 10.0.6.0/24']);
    expect(keys('route show root 10.0.6.0/24')).toEqual(['inet 10.0.6.0/24', 'inet 10.0.6.128/25']);
    expect(keys('route show match 10.0.6.200')).toEqual(['inet 10.0.6.0/24', 'inet 10.0.6.128/25', 'inet 0.0.0.0/0']);
    expect(keys('route show to match 10.0.6.200/32')).toEqual(['inet 10.0.6.0/24', 'inet 10.0.6.128/25', 'inet 0.0.0.0/0']);
    expect(keys('route show default')).toEqual(['inet 0.0.0.0/0']);
    expect(keys('route show 10.0.6.0')).toEqual([]); // a bare address is a /32
    expect(keys('route show dev wgm0 table main')).toEqual(['inet 10.0.6.0/24', 'inet 0.0.0.0/0']);
    expect(keys('route flush root 10.0.0.0/8')).toEqual(['inet 10.0.6.0/24', 'inet 10.0.6.128/25']);
  });

  test('selector errors', () => {
    expect(err('route show via 10.0.0.1')).toBe('selector "via" is not supported by wgmpls');
    expect(err('route show proto static')).toBe('selector "proto" (protocol) is not supported by wgmpls');
    expect(err('route show table 10')).toBe('table 10 is not supported by wgmpls (only main)');
    expect(err('route show dev')).toBe('Command line is not complete: "dev" needs an argument');
    expect(err('route show 10.0.0.0/40')).toBe('prefix 10.0.0.0/40 is invalid');
  });

  test('formatShow: lines in label order, -s lines, dev hidden under a dev selector, -j', () => {
    const counters = (r: MplsRoute | IpRoute) =>
      isMplsRoute(r) && r.label === 101 ? { packets: 5, bytes: 500, drops: { 'ttl-expired': 1 } } : undefined;
    expect(formatShow(parse('-M route show'), table, counters)).toBe(
      '101 as to 102 via inet 10.0.34.2 dev wgm1 \n200 dev lo \n300 as to 301 via inet 10.0.1.2 dev wgm1 \n',
    );
    expect(formatShow(parse('-s -f mpls route show'), table, counters)).toBe(
      '101 as to 102 via inet 10.0.34.2 dev wgm1 \n' +
        '    packets 5 bytes 500 drops 1 (ttl-expired 1)\n' +
        '200 dev lo \n300 as to 301 via inet 10.0.1.2 dev wgm1 \n',
    );
    expect(formatShow(parse('-M route show dev wgm1'), table)).toBe(
      '101 as to 102 via inet 10.0.34.2 \n300 as to 301 via inet 10.0.1.2 \n',
    );
    expect(formatShow(parse('route'), table)).toBe(
      '10.0.6.0/24  encap mpls  101/201 via 10.0.23.2 dev wgm0 \n' +
        '10.0.6.128/25  encap mpls  105 dev wgm1 scope link \n' +
        'default  encap mpls  100/200 dev wgm0 scope link \n',
    );
    expect(formatShow(parse('-j -M route show 200'), table)).toBe('[{"dst":"200","dev":"lo","flags":[]}]\n');
    expect(formatShow(parse('-j -M route show 999'), table)).toBe('[]\n');
    expect(formatShow(parse('-M route show 999'), table)).toBe('');
  });
});

describe('devices', () => {
  const known = new Set(['wgm0', 'wgm1']);

  test('known devices and lo for MPLS routes pass', () => {
    expect(() => validateDevices(route('-M route add 101 as 102 dev wgm1'), known)).not.toThrow();
    expect(() => validateDevices(route('-M route add 200 dev lo'), known)).not.toThrow();
    expect(() => validateDevices(route('-M route del 200'), known)).not.toThrow();
    expect(() => validateDevices(route('route add 10.0.6.0/24 encap mpls 101 dev wgm0'), known)).not.toThrow();
  });

  test('Cannot find device, as iproute2 says; lo refused for IP routes', () => {
    expect(() => validateDevices(route('-M route add 101 as 102 dev wgm9'), known)).toThrow(
      new RouteError('Cannot find device "wgm9"'),
    );
    expect(() => validateDevices(route('route add 10.0.6.0/24 encap mpls 101 dev wgm9'), known)).toThrow(
      'Cannot find device "wgm9"',
    );
    expect(() => validateDevices(route('route add 10.0.6.0/24 encap mpls 101 dev lo'), known)).toThrow(/dev lo cannot carry/);
    expect(() => validateCommandDevices(parse('-M route show dev wgm7'), known)).toThrow('Cannot find device "wgm7"');
    expect(() => validateCommandDevices(parse('-M route show dev wgm0'), known)).not.toThrow();
  });
});
