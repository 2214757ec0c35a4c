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

  test('a swarm network: its scope, the other nodes\' endpoints with their node, peers named by node', () => {
    const e = endpoint();
    e.peers[0].node = '10.0.0.12';
    e.peers[0].container = null;
    const [n] = network(e);
    const text = formatShow([{ ...n, scope: 'swarm', remote: [{ id: 'f'.repeat(64), node: '10.0.0.12', addresses: ['10.66.0.3/24', 'fd00:66::a42:3/64'], publicKey: 'PUB2', port: 51821 }] }]);
    expect(text).toContain(`network r1-r2 (${'n'.repeat(12)}), swarm scope\n`);
    expect(text).toContain(`    peer: PUB2 (endpoint ${'f'.repeat(12)} on node 10.0.0.12)\n`);
    expect(text).toContain(`  remote endpoint ${'f'.repeat(12)} on node 10.0.0.12\n    addresses: 10.66.0.3/24 fd00:66::a42:3/64\n    public key: PUB2\n    port: 51821\n`);
    expect(formatShow(network(endpoint()))).not.toMatch(/swarm scope|remote endpoint/);
  });
});
