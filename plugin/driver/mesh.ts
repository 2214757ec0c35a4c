// Who is whose peer, and with which allowed-ips: pure, computed from the state every time, so
// adding or removing an endpoint and rebuilding after a restart all end in the same config.
//
// Every endpoint of a network peers with every other one (full mesh). Allowed-ips:
// - exactly two endpoints (a point-to-point link, the common lab case): the other end gets
//   0.0.0.0/0 and ::/0. It is the next hop for anything routed into the link, so transit IP
//   works (a /32 would make WireGuard drop packets from or to addresses behind a router), and
//   it holds 0.0.0.0 / ::, which makes it the MPLS peer by the seed's rule (wireguard-mpls).
// - more than two: each peer gets its container's addresses (/32, /128); MPLS next hops are
//   then chosen by a route's `via` address, and with `--mpls-peers any` any peer may send MPLS.
import type { PeerSpec } from '../datapaths/uapiClient';
import type { EndpointState, NetworkState, RemoteEndpoint } from '../state/types';

export function hostPrefix(cidr: string): string {
  const addr = cidr.split('/')[0];
  return addr.includes(':') ? `${addr}/128` : `${addr}/32`;
}

export function udpEndpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** An endpoint of the network on another swarm node: reached at that node's address. */
export interface RemoteMember {
  node: string;
  endpoint: RemoteEndpoint;
}

/**
 * The peers `self`'s datapath should have, given all endpoints of its network on this host
 * (`members`) and, for a swarm network, on the other nodes (`remotes`). A remote endpoint whose
 * key is also a local one's (a node announcing stale data) is left out: the local one wins.
 */
export function desiredPeers(self: EndpointState, network: NetworkState, members: readonly EndpointState[], remotes: readonly RemoteMember[] = []): PeerSpec[] {
  const local = members.filter((e) => e.id !== self.id && e.networkId === self.networkId).map((o) => ({ o, at: network.underlay }));
  const keys = new Set([self.publicKey, ...local.map((l) => l.o.publicKey)]);
  const remote = remotes.filter((r) => !keys.has(r.endpoint.publicKey)).map((r) => ({ o: r.endpoint, at: r.node }));
  const others = [...local, ...remote];
  const pointToPoint = others.length === 1;
  return others.map(({ o, at }) => ({
    publicKey: o.publicKey,
    endpoint: udpEndpoint(at, o.port),
    // Both ends are wgmpls datapaths: the label header is authenticated unless the network says not.
    labelAuth: network.labelAuth,
    allowedIps: pointToPoint ? ['0.0.0.0/0', '::/0'] : [o.address, o.addressIPv6].filter((a): a is string => a !== undefined).map(hostPrefix),
  }));
}
