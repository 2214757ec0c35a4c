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
import type { EndpointState, NetworkState } from '../state/types';

export function hostPrefix(cidr: string): string {
  const addr = cidr.split('/')[0];
  return addr.includes(':') ? `${addr}/128` : `${addr}/32`;
}

export function udpEndpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The peers `self`'s datapath should have, given all endpoints of its network. */
export function desiredPeers(self: EndpointState, network: NetworkState, members: readonly EndpointState[]): PeerSpec[] {
  const others = members.filter((e) => e.id !== self.id && e.networkId === self.networkId);
  const pointToPoint = others.length === 1;
  return others.map((o) => ({
    publicKey: o.publicKey,
    endpoint: udpEndpoint(network.underlay, o.port),
    // Both ends are wgmpls datapaths: the label header is authenticated unless the network says not.
    labelAuth: network.labelAuth,
    allowedIps: pointToPoint ? ['0.0.0.0/0', '::/0'] : [o.address, o.addressIPv6].filter((a): a is string => a !== undefined).map(hostPrefix),
  }));
}
