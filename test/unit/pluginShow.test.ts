// `wgmpls show` text (plugin/show.ts formatShow): the label-auth setting per peer and the
// label-auth-mismatch drop counter are named, so a user sees why MPLS does not arrive.
import { EndpointView, NetworkView, formatShow } from '../../plugin/show';

const endpoint = (over: Partial<EndpointView> = {}): EndpointView => ({
  id: 'e'.repeat(64),
  container: 'r1',
  ifname: 'wgmeeeeeeeeeeee',
  containerIfname: 'wgm0',
  addresses: ['10.66.0.2/24'],
  publicKey: 'PUB1',
  port: 51820,
  datapath: { pid: 42, running: true },
  routes: [],
  lsr: null,
  peers: [
    { publicKey: 'PUB2', endpointId: 'f'.repeat(64), node: null, container: 'r2', endpoint: '127.0.0.1:51821', allowedIps: ['0.0.0.0/0'], latestHandshake: 0, rxBytes: 0, txBytes: 0, labelAuth: true },
  ],
  drops: {},
  ...over,
});

const network = (e: EndpointView): NetworkView[] => [
  { id: 'n'.repeat(64), name: 'r1-r2', scope: 'local', mtu: 1420, underlay: '127.0.0.1', mplsPeers: 'any', subnets: ['10.66.0.0/24'], endpoints: [e], remote: [], retained: [] },
];

describe('wgmpls show', () => {
  test('names the label-auth setting of each peer', () => {
    expect(formatShow(network(endpoint()))).toContain('      label auth: on (MPLS header authenticated)\n');
    const off = endpoint();
    off.peers[0].labelAuth = false;
    expect(formatShow(network(off))).toContain('label auth: off (kernel-module compatible; labels not authenticated)');
    const unknown = endpoint();
    unknown.peers[0].labelAuth = null;
    expect(formatShow(network(unknown))).not.toContain('label auth');
  });

  test('names the label-auth-mismatch drop counter and the other drops', () => {
    const text = formatShow(network(endpoint({ drops: { 'label-auth-mismatch': 3, decrypt: 1 } })));
    expect(text).toContain('    dropped: decrypt 1, label-auth-mismatch 3\n');
    expect(text).toMatch(/label-auth-mismatch: 3 MPLS packets authenticated only under the other wgmpls-label-auth setting/);
    expect(formatShow(network(endpoint()))).not.toContain('dropped');
  });
});
