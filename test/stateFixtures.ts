// Plugin state records for tests that need one without a dockerd: a network with the driver's
// defaults and an endpoint on it, each with whatever fields the test overrides. Documentation and
// private addresses only; the keys are placeholders, never real ones.
import type { EndpointState, NetworkState } from '../plugin/state/types';

export const networkState = (over: Partial<NetworkState> = {}): NetworkState => ({
  id: 'n'.repeat(64),
  mtu: 1420,
  underlay: '127.0.0.1',
  mplsPeers: 'any',
  portBase: null,
  defaultRoute: false,
  lsr: 'auto',
  labelAuth: true,
  ipv4: [],
  ipv6: [],
  createdAt: '2020-01-01T00:00:00.000Z',
  ...over,
});

/** Endpoint number i (1-9) of networkState()'s network. */
export const endpointState = (i: number, over: Partial<EndpointState> = {}): EndpointState => ({
  id: String(i).repeat(64).slice(0, 64),
  networkId: 'n'.repeat(64),
  ifname: `wgm${String(i).repeat(12)}`,
  privateKey: 'a'.repeat(64),
  publicKey: String(i).repeat(64).slice(0, 64),
  port: 51820 + i,
  address: `10.66.0.${i}/24`,
  addressIPv6: `fd00:66::${i}/64`,
  createdAt: '2020-01-01T00:00:00.000Z',
  ...over,
});
