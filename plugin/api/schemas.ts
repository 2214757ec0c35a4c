// The request bodies libnetwork's remote driver sends (libnetwork/drivers/remote/api), as far
// as this driver reads them. Unknown fields pass: newer dockerds add some, and refusing them
// would break the driver for nothing. What we do read is checked, and a failure names the field.
import { isIP } from 'node:net';
import { z } from 'zod';

/** Docker's endpoint ids: 64 lowercase hex digits (the TUN name takes 12 of them). */
const Id = z.string().regex(/^[0-9a-f]{12,64}$/, 'expected a Docker id (hex)');
/** Network ids: the same, or a swarm network's (25 characters of base 36, e.g. u73tdgtz9va7mumg27k0y0qgv). */
const NetId = z.string().regex(/^[0-9a-z]{12,64}$/, 'expected a Docker network id');

function isCidr(s: string, family: 4 | 6): boolean {
  const slash = s.lastIndexOf('/');
  if (slash < 0) return false;
  const bits = s.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  return isIP(s.slice(0, slash)) === family && /^[0-9]{1,3}$/.test(bits) && Number(bits) <= max;
}

const Cidr4 = z.string().refine((s) => isCidr(s, 4), 'expected an IPv4 address with prefix length, e.g. 10.0.0.2/24');
const Cidr6 = z.string().refine((s) => isCidr(s, 6), 'expected an IPv6 address with prefix length, e.g. fd00::2/64');

const IpamData = z.object({
  AddressSpace: z.string().optional(),
  Pool: z.string().min(1),
  Gateway: z.string().optional(),
  AuxAddresses: z.record(z.string()).nullish(),
});

/** Option values come as strings from the CLI, but the API lets a client send numbers or booleans. */
const GenericOptions = z.record(z.union([z.string(), z.number(), z.boolean()]).transform(String));

export const CreateNetworkRequest = z.object({
  NetworkID: NetId,
  Options: z
    .object({ 'com.docker.network.generic': GenericOptions.nullish() })
    .passthrough()
    .nullish(),
  IPv4Data: z.array(IpamData).nullish(),
  IPv6Data: z.array(IpamData).nullish(),
});
export type CreateNetworkRequest = z.infer<typeof CreateNetworkRequest>;

export const NetworkRequest = z.object({ NetworkID: NetId });

export const EndpointRequest = z.object({ NetworkID: NetId, EndpointID: Id });

/** ProgramExternalConnectivity: the sandbox's labels, the port bindings among them. */
export const ExternalConnectivityRequest = EndpointRequest.extend({ Options: z.record(z.unknown()).nullish() });

export const CreateEndpointRequest = z.object({
  NetworkID: NetId,
  EndpointID: Id,
  Interface: z
    .object({
      Address: z.union([Cidr4, z.literal('')]).optional(),
      AddressIPv6: z.union([Cidr6, z.literal('')]).optional(),
      MacAddress: z.string().optional(),
    })
    .nullish(),
  Options: z.record(z.unknown()).nullish(),
});
export type CreateEndpointRequest = z.infer<typeof CreateEndpointRequest>;

export const JoinRequest = z.object({
  NetworkID: NetId,
  EndpointID: Id,
  SandboxKey: z.string().startsWith('/', 'expected the path of a network namespace'),
  Options: z.record(z.unknown()).nullish(),
});
export type JoinRequest = z.infer<typeof JoinRequest>;

/** DiscoverNew / DiscoverDelete: node discovery (type 1, libnetwork's NodeDiscovery), used in swarm scope. */
export const DiscoveryRequest = z.object({ DiscoveryType: z.number().int(), DiscoveryData: z.unknown() }).partial();

/** DiscoveryData of a NodeDiscovery: a swarm node's address, and whether it is this node. */
export const NodeDiscoveryData = z.object({
  Address: z.string().refine((a) => isIP(a) !== 0, 'expected an IP address'),
  BindAddress: z.string().optional(),
  Self: z.boolean().optional(),
});

/** AllocateNetwork (swarm managers): the network's driver options, to be returned completed. */
export const AllocateNetworkRequest = z.object({
  NetworkID: NetId,
  Options: z.record(z.union([z.string(), z.number(), z.boolean()]).transform(String)).nullish(),
  IPv4Data: z.array(z.unknown()).nullish(),
  IPv6Data: z.array(z.unknown()).nullish(),
});

/** The first problem, as "Field.Sub: message", for the {"Err": ...} Docker shows the user. */
export function describeZodError(method: string, err: z.ZodError): string {
  const issue = err.issues[0];
  const where = issue.path.length > 0 ? issue.path.join('.') : '(body)';
  return `wgmpls ${method}: bad request: ${where}: ${issue.message}`;
}
