// The libnetwork remote-driver API as the plugin checks it (plugin/api/routes.ts over the zod
// schemas of plugin/api/schemas.ts, then the handlers' own option checks, e.g. the network
// options): every method, with bodies that are valid requests with fields changed, dropped or
// given values of the wrong kind, or any JSON at all.
//
// The driver's state is out of reach: the handlers get a context whose every property throws
// "reached the driver" (so a body that passes validation stops there, and a refused one is
// known to have touched nothing). Properties: a body is either refused with a DriverError whose
// message a user can act on (for a schema failure "wgmpls <Method>: bad request: <field>: ...",
// naming the field; no "undefined", "NaN", "[object Object]"); or it reaches the
// driver; or the method answers on its own (Activate, GetCapabilities...). Never another
// exception (a TypeError would be a crash), and never a polluted Object.prototype.
import fc from 'fast-check';
import { DriverError } from '../../plugin/api/errors';
import { driverRoutes } from '../../plugin/api/routes';
import type { Route } from '../../plugin/api/server';
import type { DriverContext } from '../../plugin/driver/context';
import { FuzzTarget, expectThat } from '../target';

class ReachedDriver extends Error {}

const reachedContext = new Proxy({} as DriverContext, {
  get(): never {
    throw new ReachedDriver('reached the driver');
  },
});

const id = fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), fc.stringMatching(/^[0-9a-f]{12}$/), fc.constantFrom('', 'ABC', 'a'.repeat(65), '../etc', '0'.repeat(11)), fc.string({ maxLength: 70 }));
const cidr4 = fc.oneof(fc.tuple(fc.ipV4(), fc.nat({ max: 33 })).map(([a, b]) => `${a}/${b}`), fc.constantFrom('10.0.0.2/24', '10.0.0.2', '10.0.0.2/024', '', '::1/64'));
const cidr6 = fc.oneof(fc.tuple(fc.ipV6(), fc.nat({ max: 129 })).map(([a, b]) => `${a}/${b}`), fc.constantFrom('fd00::2/64', 'fd00::2', '', '10.0.0.1/24'));
const optionValue = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constantFrom('1420', '576', '65536', '-1', '1e3', 'true', 'false', 'seed', 'any', 'kernel', 'userspace', 'auto', '127.0.0.1', '::1', '0'));
const optionKey = fc.oneof(
  fc.constantFrom('wgmpls.mtu', 'wgmpls.underlay', 'wgmpls.mpls-peers', 'wgmpls.port-base', 'wgmpls.default-route', 'wgmpls.lsr', 'wgmpls.label-auth', 'wgmpls.bogus', '__proto__', 'constructor'),
  fc.string({ maxLength: 20 }),
);
const generic = fc.dictionary(optionKey, optionValue, { maxKeys: 5 });
const ipam = fc.record({ AddressSpace: fc.string({ maxLength: 8 }), Pool: fc.oneof(cidr4, cidr6), Gateway: fc.oneof(cidr4, cidr6) }, { requiredKeys: ['Pool'] });
const portmap = fc.array(fc.record({ Proto: fc.nat({ max: 20 }), IP: fc.string({ maxLength: 16 }), Port: fc.nat({ max: 70000 }), HostIP: fc.string({ maxLength: 16 }), HostPort: fc.nat({ max: 70000 }) }), { maxLength: 3 });
const options = fc.dictionary(fc.oneof(fc.constantFrom('com.docker.network.portmap', 'com.docker.network.endpoint.exposedports', 'com.docker.network.generic', '__proto__'), fc.string({ maxLength: 12 })), fc.oneof(portmap, fc.jsonValue({ maxDepth: 2 })), { maxKeys: 3 });

/** Valid-looking bodies, per method. */
const BODIES: Record<string, fc.Arbitrary<unknown>> = {
  'NetworkDriver.CreateNetwork': fc.record({ NetworkID: id, Options: fc.record({ 'com.docker.network.generic': generic }), IPv4Data: fc.array(ipam, { maxLength: 2 }), IPv6Data: fc.array(ipam, { maxLength: 2 }) }, { requiredKeys: ['NetworkID'] }),
  'NetworkDriver.CreateEndpoint': fc.record({ NetworkID: id, EndpointID: id, Interface: fc.record({ Address: cidr4, AddressIPv6: cidr6, MacAddress: fc.string({ maxLength: 17 }) }, { requiredKeys: [] }), Options: options }, { requiredKeys: ['NetworkID', 'EndpointID'] }),
  'NetworkDriver.Join': fc.record({ NetworkID: id, EndpointID: id, SandboxKey: fc.oneof(fc.constantFrom('/var/run/docker/netns/abc', 'relative', ''), fc.string({ maxLength: 30 })), Options: options }, { requiredKeys: ['NetworkID', 'EndpointID', 'SandboxKey'] }),
  'NetworkDriver.ProgramExternalConnectivity': fc.record({ NetworkID: id, EndpointID: id, Options: options }, { requiredKeys: ['NetworkID', 'EndpointID'] }),
  'NetworkDriver.DiscoverNew': fc.record({ DiscoveryType: fc.oneof(fc.integer(), fc.double()), DiscoveryData: fc.jsonValue({ maxDepth: 2 }) }),
};
const endpointBody = fc.record({ NetworkID: id, EndpointID: id }, { requiredKeys: [] });
const networkBody = fc.record({ NetworkID: id }, { requiredKeys: [] });

/** A body with one field set to a value of any JSON kind, or deleted. */
function spoil(body: unknown, key: string, value: unknown, drop: boolean): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  const keys = Object.keys(out);
  const k = keys.length > 0 && key.length % 2 === 0 ? keys[key.length % keys.length] : key;
  if (drop) delete out[k];
  else out[k] = value;
  return out;
}

interface Input {
  method: string;
  body: unknown;
}

export async function pluginApiTarget(): Promise<FuzzTarget<Input>> {
  const routes = new Map<string, Route>(driverRoutes(reachedContext).map((r) => [r.method, r]));
  const methods = [...routes.keys()];
  const bodyFor = (m: string): fc.Arbitrary<unknown> =>
    BODIES[m] ?? (m === 'NetworkDriver.DeleteNetwork' ? networkBody : m.startsWith('NetworkDriver.') ? endpointBody : fc.jsonValue({ maxDepth: 1 }));
  const arbitrary: fc.Arbitrary<Input> = fc.constantFrom(...methods).chain((method) =>
    fc.record({
      method: fc.constant(method),
      body: fc.oneof(
        { weight: 4, arbitrary: bodyFor(method) },
        { weight: 3, arbitrary: fc.tuple(bodyFor(method), fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), fc.boolean()).map(([b, k, v, drop]) => spoil(b, k, v, drop)) },
        { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
        { weight: 1, arbitrary: fc.constantFrom(null, undefined, [], '', 0, { __proto__: { NetworkID: 'a'.repeat(64) } }) },
      ),
    }),
  );
  const counts = { refusedBySchema: 0, refusedByHandler: 0, reached: 0, answered: 0 };

  async function check(input: Input): Promise<void> {
    const r = routes.get(input.method) as Route;
    const name = input.method.replace(/^NetworkDriver\./, '');
    // Through JSON, as the body arrives (express.json): no undefined, no prototypes.
    const body: unknown = input.body === undefined ? undefined : JSON.parse(JSON.stringify(input.body));
    try {
      await r.handle(body);
      counts.answered++;
    } catch (err) {
      if (err instanceof ReachedDriver) counts.reached++;
      else {
        expectThat(err instanceof DriverError, `${input.method} ${JSON.stringify(body)} threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
        const msg = (err as Error).message;
        // dockerd puts the method in front ("NetworkDriver.CreateNetwork: ..."): the text is the user's.
        expectThat(msg.length > 0 && !/undefined|NaN|\[object Object\]|internal error/.test(msg), `${input.method}: a message no user can act on: ${msg}`);
        if (msg.includes(': bad request: ')) {
          expectThat(msg.startsWith(`wgmpls ${name}: bad request: `) && /: bad request: [^:]+: ./.test(msg), `${input.method}: a schema error without its field: ${msg}`);
          counts.refusedBySchema++;
        } else counts.refusedByHandler++;
      }
    }
    expectThat(Object.keys(Object.prototype).length === 0 && !('NetworkID' in {}), 'Object.prototype was polluted');
  }

  return {
    arbitrary,
    check,
    async: true,
    summary: () => `refused by a schema ${counts.refusedBySchema}, by a handler's own checks ${counts.refusedByHandler}, reached the driver ${counts.reached}, answered by the method itself ${counts.answered}`,
  };
}
