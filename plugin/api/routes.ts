// Which remote-driver method does what. Methods that only describe the driver are not
// exclusive; everything that reads-then-writes state runs under the lock.
import { z } from 'zod';
import type { DriverContext } from '../driver/context';
import { createEndpoint, deleteEndpoint, join, leave, operInfo } from '../driver/endpoints';
import { createNetwork, deleteNetwork } from '../driver/networks';
import { refusePublishedPorts } from '../driver/published';
import { DriverError } from './errors';
import {
  CreateEndpointRequest,
  CreateNetworkRequest,
  DiscoveryRequest,
  EndpointRequest,
  ExternalConnectivityRequest,
  JoinRequest,
  NetworkRequest,
} from './schemas';
import { Route, route } from './server';

const Anything = z.unknown();

export function driverRoutes(ctx: DriverContext): Route[] {
  const nd = (m: string): string => `NetworkDriver.${m}`;
  return [
    route('Plugin.Activate', Anything, () => ({ Implements: ['NetworkDriver'] }), false),
    route(nd('GetCapabilities'), Anything, () => ({ Scope: 'local', ConnectivityScope: 'local' }), false),
    route(nd('CreateNetwork'), CreateNetworkRequest, (r) => createNetwork(ctx, r)),
    route(nd('DeleteNetwork'), NetworkRequest, (r) => deleteNetwork(ctx, r.NetworkID)),
    // Swarm-scope network allocation (managers); a local-scope driver is never asked for real.
    route(nd('AllocateNetwork'), Anything, () => {
      throw new DriverError('wgmpls is a local-scope driver: AllocateNetwork (swarm) is not supported');
    }, false),
    route(nd('FreeNetwork'), Anything, () => {
      throw new DriverError('wgmpls is a local-scope driver: FreeNetwork (swarm) is not supported');
    }, false),
    route(nd('CreateEndpoint'), CreateEndpointRequest, (r) => createEndpoint(ctx, r)),
    route(nd('DeleteEndpoint'), EndpointRequest, (r) => deleteEndpoint(ctx, r.EndpointID)),
    route(nd('EndpointOperInfo'), EndpointRequest, (r) => operInfo(ctx, r.EndpointID)),
    route(nd('Join'), JoinRequest, (r) => join(ctx, r)),
    route(nd('Leave'), EndpointRequest, (r) => leave(ctx, r.EndpointID)),
    route(nd('DiscoverNew'), DiscoveryRequest, () => ({}), false),
    route(nd('DiscoverDelete'), DiscoveryRequest, () => ({}), false),
    // Port publishing (-p) has no meaning on a tunnel-only network: refused with the reason
    // (driver/published.ts); without published ports there is nothing to program.
    route(nd('ProgramExternalConnectivity'), ExternalConnectivityRequest, (r) => {
      refusePublishedPorts(r.Options);
      return {};
    }, false),
    route(nd('RevokeExternalConnectivity'), EndpointRequest, () => ({}), false),
  ];
}
