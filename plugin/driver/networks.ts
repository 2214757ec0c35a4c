// CreateNetwork / DeleteNetwork. A network is only a record here: datapaths belong to endpoints.
import { DriverError } from '../api/errors';
import type { CreateNetworkRequest } from '../api/schemas';
import { short } from '../datapaths/supervisor';
import type { IpamData } from '../state/types';
import type { DriverContext } from './context';
import { retireEndpoint } from './identity';
import { parseNetworkOptions } from './options';

function ipam(data: CreateNetworkRequest['IPv4Data']): IpamData[] {
  // Gateway arrives as CIDR ("10.66.0.1/24"); keep it as given, it is informative only.
  return (data ?? []).map((d) => (d.Gateway ? { pool: d.Pool, gateway: d.Gateway } : { pool: d.Pool }));
}

export function createNetwork(ctx: DriverContext, req: CreateNetworkRequest): Record<string, never> {
  const opts = parseNetworkOptions(req.Options?.['com.docker.network.generic'] ?? {});
  if (ctx.store.network(req.NetworkID)) {
    ctx.log.warn({ network: short(req.NetworkID) }, 'CreateNetwork for a network that exists; keeping it');
    return {};
  }
  if (opts.secret !== undefined) {
    // A swarm network (AllocateNetwork made the secret on a manager): this node's endpoints live
    // on its own swarm address, which dockerd told the plugin (DiscoverNew) when it registered it.
    if (!ctx.swarm) throw new DriverError('this is a swarm-scope network but this plugin runs with local scope: set WGMPLS_SCOPE=global on the plugin of every node');
    const self = ctx.swarm.self();
    if (!self) throw new DriverError("this node's swarm address is not known yet (dockerd sends it when the node is in a swarm); set WGMPLS_UNDERLAY on the plugin to give it");
    opts.underlay = self;
  }
  const ipv4 = ipam(req.IPv4Data);
  const ipv6 = ipam(req.IPv6Data);
  ctx.store.putNetwork({ id: req.NetworkID, ...opts, ipv4, ipv6, createdAt: new Date().toISOString() });
  ctx.log.info(
    { network: short(req.NetworkID), mtu: opts.mtu, underlay: opts.underlay, mplsPeers: opts.mplsPeers, labelAuth: opts.labelAuth, portBase: opts.portBase, ipv4: ipv4.map((d) => d.pool), ipv6: ipv6.map((d) => d.pool) },
    'network created',
  );
  return {};
}

export async function deleteNetwork(ctx: DriverContext, networkId: string): Promise<Record<string, never>> {
  if (!ctx.store.network(networkId)) {
    ctx.log.warn({ network: short(networkId) }, 'DeleteNetwork for an unknown network; nothing to do');
    return {};
  }
  // Docker deletes endpoints first; these would be leftovers of a failed teardown.
  for (const ep of ctx.store.endpointsOf(networkId)) {
    ctx.log.warn({ network: short(networkId), endpoint: short(ep.id) }, 'endpoint still present at DeleteNetwork; removing it');
    await retireEndpoint(ctx, ep, false);
  }
  // Identities retained for the network's containers go with it; those of a swarm network stay
  // (dockerd deletes it on a node whose last container stops, and creates it again at the next).
  ctx.store.deleteNetwork(networkId, ctx.store.network(networkId)?.secret !== undefined);
  ctx.log.info({ network: short(networkId) }, 'network deleted');
  return {};
}
