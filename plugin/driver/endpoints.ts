// CreateEndpoint / DeleteEndpoint / Join / Leave / EndpointOperInfo.
//
// An endpoint is one datapath (a device in a worker process) with its own key and UDP port. The
// key and port are made at CreateEndpoint; the datapath starts at Join, when the container's
// namespace is known (its endpoints share a worker, supervisor.ts), with its TUN in the host
// namespace (so the MTU is set before Docker takes it: Docker leaves it alone), handed to Docker
// by name in Join's answer; Docker moves it into the container as wgm0, wgm1...
import { ROUTES_LABEL, RoutesLabelError, parseRoutesLabel } from '../routes/label';
import { generatePrivateKey, publicKey } from '../../datapath/crypto/x25519';
import { DriverError } from '../api/errors';
import type { CreateEndpointRequest, JoinRequest } from '../api/schemas';
import { short } from '../datapaths/supervisor';
import { linkExists } from '../datapaths/process';
import type { EndpointState } from '../state/types';
import type { DriverContext } from './context';
import { retireEndpoint } from './identity';
import { DEFAULT_PORT_BASE, allocatePort } from './ports';
import { refusePublishedPorts } from './published';
import { ipv6For } from '../swarm/ipv6';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** 15 characters, Linux's limit: "wgm" + 12 hex digits of the endpoint id. */
export function tunName(endpointId: string): string {
  return `wgm${endpointId.slice(0, 12)}`;
}

export interface CreateEndpointResponse {
  /**
   * Empty on purpose: Docker's IPAM address stands, and a TUN has no MAC to report; except the
   * IPv6 address of a swarm network with wgmpls.ipv6, which the driver makes (swarm/ipv6.ts).
   */
  Interface: { AddressIPv6?: string };
}

export async function createEndpoint(ctx: DriverContext, req: CreateEndpointRequest): Promise<CreateEndpointResponse> {
  const network = ctx.store.network(req.NetworkID);
  if (!network) throw new DriverError(`network ${short(req.NetworkID)} is unknown to the wgmpls driver (its state was lost?); recreate the network`);
  const existing = ctx.store.endpoint(req.EndpointID);
  if (existing) {
    ctx.log.warn({ endpoint: short(existing.id) }, 'CreateEndpoint for an endpoint that exists; keeping it');
    return { Interface: {} };
  }
  // Before anything is made: `docker run -p` must fail with the reason, not pretend to publish.
  refusePublishedPorts(req.Options);
  const members = ctx.store.endpointsOf(network.id);
  if (network.mplsPeers === 'seed' && members.length >= 2) {
    throw new DriverError(
      'this network has wgmpls.mpls-peers=seed, which allows exactly two endpoints (one peer holds 0.0.0.0 and is the only MPLS peer); create the network with wgmpls.mpls-peers=any for more',
    );
  }
  // Routes given as an endpoint driver option are checked here, where an error still reaches the
  // docker CLI (a label can only be read after the container started; see plugin/routes).
  const routesOpt = req.Options?.[ROUTES_LABEL];
  if (routesOpt !== undefined) {
    if (typeof routesOpt !== 'string') throw new DriverError(`${ROUTES_LABEL} must be a string of wgmpls ip lines`);
    try {
      parseRoutesLabel(routesOpt);
    } catch (err) {
      if (err instanceof RoutesLabelError) throw new DriverError(err.message);
      throw err;
    }
  }
  const ifname = tunName(req.EndpointID);
  if (ctx.store.endpoints().some((e) => e.ifname === ifname) || linkExists(ifname)) {
    throw new DriverError(`interface ${ifname} already exists on this host`);
  }
  // Ports of retained identities are kept for their containers, which may come back any moment.
  const taken = new Set([...ctx.store.endpoints(), ...ctx.store.retained()].map((e) => e.port));
  const port = await allocatePort(network.underlay, network.portBase ?? DEFAULT_PORT_BASE, taken);
  const priv = generatePrivateKey();
  const ep: EndpointState = {
    id: req.EndpointID,
    networkId: network.id,
    ifname,
    privateKey: hex(priv),
    publicKey: hex(publicKey(priv)),
    port,
    createdAt: new Date().toISOString(),
  };
  if (req.Interface?.Address) ep.address = req.Interface.Address;
  if (req.Interface?.AddressIPv6) ep.addressIPv6 = req.Interface.AddressIPv6;
  const made = network.ipv6Prefix && !ep.addressIPv6 && ep.address ? ipv6For(network.ipv6Prefix, ep.address) : undefined;
  if (made) ep.addressIPv6 = made;
  if (typeof routesOpt === 'string') ep.routes = routesOpt;
  // The datapath starts at Join; the network's other endpoints learn of this one then.
  ctx.store.putEndpoint(ep);
  ctx.log.info({ network: short(network.id), endpoint: short(ep.id), ifname, port, address: ep.address, addressIPv6: ep.addressIPv6, peers: members.length }, 'endpoint created');
  return { Interface: made ? { AddressIPv6: made } : {} };
}

export async function deleteEndpoint(ctx: DriverContext, endpointId: string): Promise<Record<string, never>> {
  const ep = ctx.store.endpoint(endpointId);
  if (!ep) {
    // Docker retries teardown after failures; refusing would leave it stuck.
    ctx.log.warn({ endpoint: short(endpointId) }, 'DeleteEndpoint for an unknown endpoint; nothing to do');
    return {};
  }
  // Whether the container is being removed or only stopped (dockerd stopping too) cannot be asked
  // from in here: its identity is retained, and dropped when Docker reports it destroyed.
  await retireEndpoint(ctx, ep, true);
  await ctx.supervisor.syncNetwork(ep.networkId);
  ctx.log.info({ network: short(ep.networkId), endpoint: short(ep.id), ifname: ep.ifname }, 'endpoint deleted');
  return {};
}

export interface JoinResponse {
  InterfaceName: { SrcName: string; DstPrefix: string };
  DisableGatewayService: boolean;
  /** RouteType 1 = connected: `default dev wgmN`, no next hop (a point-to-point TUN needs none). */
  StaticRoutes?: { Destination: string; RouteType: 1 }[];
}

export async function join(ctx: DriverContext, req: JoinRequest): Promise<JoinResponse> {
  const known = ctx.store.endpoint(req.EndpointID);
  if (!known) throw new DriverError(`endpoint ${short(req.EndpointID)} is unknown to the wgmpls driver`);
  // Only recorded: the namespace file may not exist yet, and asking dockerd about the container
  // from in here would block until this very Join returns. The key names the sandbox, which is
  // all the worker placement needs.
  const joined: Partial<EndpointState> = { sandboxKey: req.SandboxKey, containerIfname: undefined, nsid: undefined };
  let ep: EndpointState = { ...known, sandboxKey: req.SandboxKey };
  if (ctx.supervisor.hosts(known)) {
    ep = ctx.store.patchEndpoint(known.id, joined) ?? ep;
  } else {
    // Recorded with the worker in one write (each costs an fsync), or not at all if it fails.
    ep = await ctx.supervisor.start(ep, joined);
    // The others learn the new peer, then it starts the handshakes: the link is up before the
    // container's first packet.
    await ctx.supervisor.syncNetwork(ep.networkId, ep.id);
    await ctx.supervisor.kickHandshakes(ep).catch((err: Error) => ctx.log.warn({ endpoint: short(ep.id), err: err.message }, 'cannot start handshakes'));
  }
  ctx.log.info({ endpoint: short(ep.id), ifname: ep.ifname, sandboxKey: req.SandboxKey, worker: ctx.store.endpoint(ep.id)?.worker }, 'endpoint joined');
  const net = ctx.store.network(ep.networkId);
  const routes: { Destination: string; RouteType: 1 }[] = [];
  if (net?.defaultRoute) {
    routes.push({ Destination: '0.0.0.0/0', RouteType: 1 });
    if (net.ipv6.length > 0) routes.push({ Destination: '::/0', RouteType: 1 });
  }
  return {
    InterfaceName: { SrcName: ep.ifname, DstPrefix: 'wgm' },
    // Never the IPAM gateway (nothing answers there) and no docker_gwbridge: the container keeps
    // what its other networks give it, a wgmpls-only container has just its links, as a lab
    // router should - unless the network was created with wgmpls.default-route=true.
    DisableGatewayService: true,
    ...(routes.length > 0 ? { StaticRoutes: routes } : {}),
  };
}

export function leave(ctx: DriverContext, endpointId: string): Record<string, never> {
  const ep = ctx.store.endpoint(endpointId);
  if (!ep) {
    ctx.log.warn({ endpoint: short(endpointId) }, 'Leave for an unknown endpoint; nothing to do');
    return {};
  }
  // The datapath keeps running until DeleteEndpoint; Docker moves the TUN back to the host.
  // The namespace's cookie stays: DeleteEndpoint still needs the container's routes from it.
  ctx.store.patchEndpoint(ep.id, { sandboxKey: undefined, containerIfname: undefined });
  ctx.log.info({ endpoint: short(ep.id), ifname: ep.ifname }, 'endpoint left its container');
  return {};
}

export function operInfo(ctx: DriverContext, endpointId: string): { Value: Record<string, string | number> } {
  const ep = ctx.store.endpoint(endpointId);
  if (!ep) return { Value: {} };
  // Public values only: what a user needs to find the endpoint with `wg show`.
  return { Value: { 'wgmpls.ifname': ep.ifname, 'wgmpls.port': ep.port, 'wgmpls.public-key': Buffer.from(ep.publicKey, 'hex').toString('base64') } };
}
