// Which remote-driver method does what. Methods that only describe the driver are not
// exclusive; everything that reads-then-writes state runs under the lock.
import { z } from 'zod';
import type { DriverContext } from '../driver/context';
import { createEndpoint, deleteEndpoint, join, leave, operInfo } from '../driver/endpoints';
import { createNetwork, deleteNetwork } from '../driver/networks';
import { checkSwarmOptions } from '../driver/options';
import { newSecret, SECRET_OPTION } from '../swarm/messages';
import { refusePublishedPorts } from '../driver/published';
import { DriverError } from './errors';
import {
  AllocateNetworkRequest,
  CreateEndpointRequest,
  CreateNetworkRequest,
  DiscoveryRequest,
  EndpointRequest,
  ExternalConnectivityRequest,
  JoinRequest,
  NetworkRequest,
  NodeDiscoveryData,
  describeZodError,
} from './schemas';
import { Route, route } from './server';

const Anything = z.unknown();

/**
 * AllocateNetwork, on a swarm manager: the options every node's CreateNetwork will get (Swarm
 * keeps them in its Raft store), with a new secret for the endpoint exchange. Idempotent: a
 * manager asks again after a leader change, and options that carry a secret come back unchanged.
 */
export function allocateNetwork(options: Record<string, string>, ipv6Pools = 0): { Options: Record<string, string> } {
  if (ipv6Pools > 0) {
    // Swarm (20.10) would give the same IPv6 addresses on every node (see swarm/ipv6.ts).
    throw new DriverError('--ipv6 is not supported on a swarm-scope wgmpls network: Swarm does not allocate IPv6 addresses across nodes (each node would hand out the same ones); give the prefix as -o wgmpls.ipv6=PREFIX/64 instead (each container gets the prefix with its IPv4 address in the last 32 bits)');
  }
  const allocated = SECRET_OPTION in options;
  checkSwarmOptions(options, allocated);
  return { Options: allocated ? options : { ...options, [SECRET_OPTION]: newSecret() } };
}

export function driverRoutes(ctx: DriverContext): Route[] {
  const nd = (m: string): string => `NetworkDriver.${m}`;
  // ctx is read per request, not here (the fuzz target hands in a context that must not be touched).
  const scope = (): 'global' | 'local' => (ctx.swarm ? 'global' : 'local');
  // A node's address (DiscoverNew/DiscoverDelete): acted on after the answer, never before it.
  const discovery = (add: boolean) => (r: { DiscoveryType?: number; DiscoveryData?: unknown }): Record<string, never> => {
    const swarm = ctx.swarm;
    if (!swarm || r.DiscoveryType !== 1) return {};
    const d = NodeDiscoveryData.safeParse(r.DiscoveryData);
    if (!d.success) throw new DriverError(`wgmpls Discover${add ? 'New' : 'Delete'}: bad request: DiscoveryData: ${d.error.issues[0].message}`);
    const job = add ? swarm.discoverNew(d.data.Address, d.data.Self === true) : swarm.discoverDelete(d.data.Address, d.data.Self === true);
    job.catch((err: Error) => ctx.log.error({ err: err.message, node: d.data.Address }, 'node discovery failed'));
    return {};
  };
  return [
    route('Plugin.Activate', Anything, () => ({ Implements: ['NetworkDriver'] }), false),
    route(nd('GetCapabilities'), Anything, () => ({ Scope: scope(), ConnectivityScope: scope() }), false),
    route(nd('CreateNetwork'), CreateNetworkRequest, (r) => createNetwork(ctx, r)),
    route(nd('DeleteNetwork'), NetworkRequest, (r) => deleteNetwork(ctx, r.NetworkID)),
    // Swarm-scope network allocation (managers); a local-scope driver is never asked for real.
    // The scope is checked before the body: a local driver says why it will not, whatever it got.
    route(nd('AllocateNetwork'), Anything, (body) => {
      if (!ctx.swarm) throw new DriverError('wgmpls runs with local scope: AllocateNetwork (swarm) is not supported unless WGMPLS_SCOPE=global is set on the plugin');
      const r = AllocateNetworkRequest.safeParse(body ?? {});
      if (!r.success) throw new DriverError(describeZodError('AllocateNetwork', r.error));
      return allocateNetwork(r.data.Options ?? {}, r.data.IPv6Data?.length ?? 0);
    }, false),
    // Nothing is held for a network on the manager: the secret goes with Swarm's record of it.
    route(nd('FreeNetwork'), Anything, () => {
      if (!ctx.swarm) throw new DriverError('wgmpls runs with local scope: FreeNetwork (swarm) is not supported unless WGMPLS_SCOPE=global is set on the plugin');
      return {};
    }, false),
    route(nd('CreateEndpoint'), CreateEndpointRequest, (r) => createEndpoint(ctx, r)),
    route(nd('DeleteEndpoint'), EndpointRequest, (r) => deleteEndpoint(ctx, r.EndpointID)),
    route(nd('EndpointOperInfo'), EndpointRequest, (r) => operInfo(ctx, r.EndpointID)),
    route(nd('Join'), JoinRequest, (r) => join(ctx, r)),
    route(nd('Leave'), EndpointRequest, (r) => leave(ctx, r.EndpointID)),
    route(nd('DiscoverNew'), DiscoveryRequest, discovery(true), false),
    route(nd('DiscoverDelete'), DiscoveryRequest, discovery(false), false),
    // Port publishing (-p) has no meaning on a tunnel-only network: refused with the reason
    // (driver/published.ts); without published ports there is nothing to program.
    route(nd('ProgramExternalConnectivity'), ExternalConnectivityRequest, (r) => {
      refusePublishedPorts(r.Options);
      return {};
    }, false),
    route(nd('RevokeExternalConnectivity'), EndpointRequest, () => ({}), false),
  ];
}
