// The route syntax of `wgmpls ip` (datapath/lsr/syntax.ts parseIpArgs over routeSyntax.ts,
// selectorSyntax.ts, labelSyntax.ts, addrSyntax.ts) on argument lists made of ip's own words,
// labels, label stacks, addresses, prefixes and device names, in the right order with some
// words changed, or shuffled, or made up.
//
// Properties: parseIpArgs returns a command or throws RouteError (a message for the user),
// never anything else; validateDevices does the same; a parsed route printed as `ip route show`
// prints it (format.ts) parses back to the same route, as iproute2's own output does.
import fc from 'fast-check';
import { formatRoute } from '../../datapath/lsr/format';
import { RouteError } from '../../datapath/lsr/model';
import { isMplsRoute, validateDevices } from '../../datapath/lsr/command';
import { parseIpArgs } from '../../datapath/lsr/syntax';
import { familyOfAddr } from '../../datapath/lsr/addrSyntax';
import { validIfname } from '../../datapath/ipc/server';
import { FuzzTarget, expectThat } from '../target';

const label = fc.oneof(
  fc.integer({ min: 0, max: 0xfffff }).map(String),
  fc.constantFrom('0', '3', '15', '16', '1048575', '1048576', '-1', '01', '0x10', '1e3', 'implicit-null', ''),
);
const stack = fc.array(label, { minLength: 1, maxLength: 32 }).map((ls) => ls.join('/'));
const v4 = fc.oneof(fc.ipV4(), fc.constantFrom('10.0.34.2', '0.0.0.0', '255.255.255.255', '1.2.3', '1.2.3.4.5', '256.1.1.1', '10.0.0.01'));
const v6 = fc.oneof(fc.ipV6(), fc.constantFrom('fd00::2', '::', '::1', 'fe80::1%wgm0', '1::2::3', '::ffff:10.0.0.1'));
const addr = fc.oneof(v4, v6);
const prefix = fc.oneof(
  fc.tuple(addr, fc.integer({ min: -1, max: 130 })).map(([a, b]) => `${a}/${b}`),
  addr,
  fc.constantFrom('default', 'all', 'any', '10.0.6.0/24', 'fd00:6::/64', '10.0.6.1/24', '0/0'),
);
const dev = fc.oneof(fc.constantFrom('wgm0', 'wgm1', 'lo', 'eth0', 'a-very-long-interface-name', 'x/y', ''), fc.string({ maxLength: 16 }));
const word = fc.constantFrom(
  'as', 'to', 'via', 'inet', 'inet6', 'mpls', 'link', 'dev', 'oif', 'encap', 'table', 'main', 'local', 'proto', 'static', 'boot',
  'metric', '1024', 'scope', 'global', 'host', 'src', 'onlink', 'ttl-propagate', 'enabled', 'disabled', 'nexthop', 'weight',
  'pref', 'medium', 'type', 'unicast', 'blackhole', 'exact', 'root', 'match', 'newdst', 'label', 'mtu', 'expires', 'default',
);
const option = fc.constantFrom('-f', '-family', '-4', '-6', '-M', '-s', '-stats', '-d', '-j', '-json', '-p', '--', '-x', '-color=always', '-n', '-0', '-b', '--force');
const family = fc.constantFrom('mpls', 'inet', 'inet6', 'link', 'bridge', 'ipx', 'junk');
const object = fc.constantFrom('route', 'r', 'ro', 'address', 'link', 'neigh', 'rule', 'junk');
const verb = fc.constantFrom('add', 'del', 'delete', 'replace', 'change', 'show', 'list', 'flush', 'get', 'help', 'a', 'd', 'append', 'prepend', 'test');

const token = fc.oneof(word, label, stack, addr, prefix, dev, option, family, object, verb, fc.string({ maxLength: 12 }));

/** A well-formed command to start from. */
const valid = fc.oneof(
  fc.tuple(label, fc.option(stack), fc.option(fc.tuple(fc.constantFrom('inet', 'inet6'), addr)), dev).map(([l, as, via, d]) => [
    '-f', 'mpls', 'route', 'add', l,
    ...(as === null ? [] : ['as', as]),
    ...(via === null ? [] : ['via', via[0], via[1]]),
    'dev', d,
  ]),
  fc.tuple(fc.constantFrom('add', 'replace', 'change', 'del'), prefix, stack, fc.option(addr), dev).map(([v, p, s, via, d]) => [
    'route', v, p, 'encap', 'mpls', s, ...(via === null ? [] : ['via', via]), 'dev', d,
  ]),
  fc.tuple(fc.constantFrom(['-f', 'mpls'], ['-M'], ['-6'], ['-4'], []), fc.constantFrom('show', 'flush', 'list'), fc.array(fc.oneof(word, label, prefix, dev), { maxLength: 4 })).map(
    ([opts, v, sel]) => [...opts, 'route', v, ...sel],
  ),
);

/** A valid command with some tokens replaced, dropped or doubled; or tokens at random. */
const argv: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 2 }), token), { maxLength: 3 })).map(([args, edits]) => {
    const out = [...args];
    for (const [at, op, t] of edits) {
      const k = at % (out.length + 1);
      if (op === 0) out.splice(k, 1, t);
      else if (op === 1) out.splice(k, 1);
      else out.splice(k, 0, t);
    }
    return out;
  }) },
  { weight: 2, arbitrary: valid },
  { weight: 2, arbitrary: fc.array(token, { maxLength: 14 }) },
);

function describeRoute(r: unknown): string {
  return JSON.stringify(r, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
}

export async function routeSyntaxTarget(): Promise<FuzzTarget<string[]>> {
  let parsed = 0;
  let refused = 0;
  let routes = 0;
  const known = new Set(['wgm0', 'wgm1', 'lo']);

  function check(args: string[]): void {
    let cmd;
    try {
      cmd = parseIpArgs(args);
    } catch (err) {
      expectThat(err instanceof RouteError, `parseIpArgs(${JSON.stringify(args)}) threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
      expectThat((err as Error).message.length > 0, 'an empty error message');
      refused++;
      return;
    }
    parsed++;
    const route = cmd.route;
    if (!route) return;
    routes++;
    try {
      validateDevices(route, known);
    } catch (err) {
      expectThat(err instanceof RouteError, `validateDevices threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
    }
    // A name no interface can have (validateDevices refuses it) cannot print as one word.
    if (!validIfname(route.dev)) return;
    const text = formatRoute(route).trim().split(/\s+/);
    const fam = isMplsRoute(route) ? 'mpls' : familyOfAddr(route.prefix.addr) === 6 ? 'inet6' : 'inet';
    let again;
    try {
      again = parseIpArgs(['-f', fam, 'route', 'add', ...text]).route;
    } catch (err) {
      expectThat(false, `printed route ${JSON.stringify(text.join(' '))} (from ${JSON.stringify(args)}) does not parse back: ${(err as Error).message}`);
    }
    expectThat(describeRoute(again) === describeRoute(route), `printed route ${JSON.stringify(text.join(' '))} parses back as ${describeRoute(again)}, not ${describeRoute(route)}`);
  }

  return { arbitrary: argv, check, async: false, summary: () => `parsed ${parsed} (${routes} routes, each printed and parsed back), refused ${refused}` };
}
