// The plugin's state against what dockerd says about containers, pure: which container is behind
// each endpoint, which endpoints dockerd no longer uses, which retained identities have lost
// their container, and which new endpoints take an identity over. Applied in watch.ts.
//
// A container has at most one endpoint per network, and Docker never reuses an endpoint id: when
// dockerd names another endpoint (or none) for a container on a network, ours is dead for good -
// even if dockerd never told us (the plugin was down when the container stopped).
import type { EndpointState, RetainedIdentity } from '../state/types';

/** Container id -> network id -> endpoint id ('' while the container is not running). */
export type ContainerNetworks = ReadonlyMap<string, ReadonlyMap<string, string>>;

/** Endpoint id -> container id, for our endpoints whose container we did not know yet. */
export function learnContainers(endpoints: readonly EndpointState[], containers: ContainerNetworks): Map<string, string> {
  const owner = new Map<string, string>();
  for (const [containerId, networks] of containers) for (const endpointId of networks.values()) if (endpointId) owner.set(endpointId, containerId);
  const learnt = new Map<string, string>();
  for (const ep of endpoints) {
    const c = owner.get(ep.id);
    if (c !== undefined && ep.containerId === undefined) learnt.set(ep.id, c);
  }
  return learnt;
}

export interface StaleEndpoint {
  endpointId: string;
  /** The container still exists and is still configured on the network: it may come back. */
  keep: boolean;
}

/** Our endpoints of known containers that dockerd has replaced, released or forgotten. */
export function staleEndpoints(endpoints: readonly EndpointState[], containers: ContainerNetworks): StaleEndpoint[] {
  const stale: StaleEndpoint[] = [];
  for (const ep of endpoints) {
    if (ep.containerId === undefined) continue;
    const networks = containers.get(ep.containerId);
    if (!networks || !networks.has(ep.networkId)) stale.push({ endpointId: ep.id, keep: false });
    else if (networks.get(ep.networkId) !== ep.id) stale.push({ endpointId: ep.id, keep: true });
  }
  return stale;
}

/** Retained identities whose container was removed or taken off the network. */
export function obsoleteIdentities(retained: readonly RetainedIdentity[], containers: ContainerNetworks): RetainedIdentity[] {
  return retained.filter((r) => containers.get(r.containerId)?.has(r.networkId) !== true);
}

export interface Takeover {
  endpoint: EndpointState;
  identity: RetainedIdentity;
}

/** Current endpoints whose container left an identity on the same network. */
export function takeovers(endpoints: readonly EndpointState[], retained: readonly RetainedIdentity[], containers: ContainerNetworks): Takeover[] {
  const out: Takeover[] = [];
  for (const identity of retained) {
    const current = containers.get(identity.containerId)?.get(identity.networkId);
    const endpoint = current ? endpoints.find((e) => e.id === current && e.containerId === identity.containerId) : undefined;
    if (endpoint) out.push({ endpoint, identity });
  }
  return out;
}
