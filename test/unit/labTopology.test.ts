// The pure part of `wgmpls lab`: the wgmpls.links label, a topology's networks checked across
// its nodes, and the lab/*.clab.yml files themselves (so a broken topology fails here before
// anything is deployed).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cidr, LabError, gatewayFor, labNetworks, parseCidr, parseLinksLabel, subnetOf } from '../../plugin/lab/links';
import { checkTopology, readTopology, topologyFromYaml } from '../../plugin/lab/topology';
import { mermaid } from '../../plugin/lab/graph';

const LAB = join(__dirname, '..', '..', 'lab');
const cidr = (s: string): Cidr => parseCidr(s) as Cidr;

describe('wgmpls.links', () => {
  test('entries split on ; and newlines, in order, one IPv4 and one IPv6 each at most', () => {
    const ends = parseLinksLabel(' r1-r2 10.0.12.1/24  fd00:12::1/64 ;\n lan 10.0.100.1/24; ');
    expect(ends.map((e) => [e.n, e.network, e.v4?.address, e.v6?.address])).toEqual([
      [1, 'r1-r2', '10.0.12.1', 'fd00:12::1'],
      [2, 'lan', '10.0.100.1', undefined],
    ]);
  });

  test.each([
    ['r1-r2 10.0.12.1', /entry 1 \("r1-r2 10\.0\.12\.1"\): "10\.0\.12\.1" is not ADDRESS\/PREFIX/],
    ['r1-r2 10.0.12.1/33', /prefix \/33 .* out of range \(1-32\)/],
    ['r1-r2 10.0.12.300/24', /"10\.0\.12\.300" is not an IP address/],
    ['r1/r2 10.0.12.1/24', /network name "r1\/r2" must be/],
    ['a 10.0.0.1/24; a 10.0.1.1/24', /entry 2 .*network "a" is named twice/],
    ['a', /entry 1 \("a"\): no address/],
    ['a 10.0.0.1/24 10.0.0.2/24', /more than one IPv4 address/],
  ])('%s is refused: %p', (label, msg) => {
    expect(() => parseLinksLabel(label)).toThrow(msg);
  });

  test('subnets and the gateway Docker reserves: no end ever gets it', () => {
    expect(subnetOf(cidr('10.0.12.2/24'))).toBe('10.0.12.0/24');
    expect(subnetOf(cidr('fd00:12::2/64'))).toBe('fd00:12::/64');
    expect(gatewayFor(cidr('10.0.12.1/24'), new Set(['10.0.12.1', '10.0.12.2']))).toBe('10.0.12.254');
    expect(gatewayFor(cidr('10.0.12.1/24'), new Set(['10.0.12.254']))).toBe('10.0.12.253');
    expect(gatewayFor(cidr('fd00:12::1/64'), new Set(['fd00:12::1', 'fd00:12::2']))).toBe('fd00:12::3');
    expect(gatewayFor(cidr('10.0.12.1/30'), new Set(['10.0.12.1', '10.0.12.2']))).toBeUndefined();
  });
});

describe('a lab across its nodes', () => {
  const nodes = (...labels: [string, string][]): { node: string; links: ReturnType<typeof parseLinksLabel> }[] =>
    labels.map(([node, l]) => ({ node, links: parseLinksLabel(l) }));

  test('ends naming a network share it; point-to-point and multipoint', () => {
    const nets = labNetworks('x', nodes(['r1', 'p 10.0.12.1/24 fd00:12::1/64; lan 10.0.9.1/24'], ['r2', 'p 10.0.12.2/24 fd00:12::2/64; lan 10.0.9.2/24'], ['r3', 'lan 10.0.9.3/24']));
    expect(nets.map((n) => [n.dockerName, n.v4, n.v6, n.ends.map((e) => e.node)])).toEqual([
      ['wgmpls-x-p', { subnet: '10.0.12.0/24', gateway: '10.0.12.254' }, { subnet: 'fd00:12::/64', gateway: 'fd00:12::3' }, ['r1', 'r2']],
      ['wgmpls-x-lan', { subnet: '10.0.9.0/24', gateway: '10.0.9.254' }, undefined, ['r1', 'r2', 'r3']],
    ]);
  });

  test.each([
    [[['r1', 'p 10.0.12.1/24'], ['r2', 'p 10.0.13.2/24']], /node r2: .*10\.0\.13\.2\/24 is not in 10\.0\.12\.0\/24, the subnet of network "p" at node r1/],
    [[['r1', 'p 10.0.12.1/24'], ['r2', 'p 10.0.12.1/24']], /node r2: .*address 10\.0\.12\.1 on network "p" is node r1's too/],
    [[['r1', 'p 10.0.12.1/24']], /node r1: .*network "p" has no other end/],
    [[['r1', 'p 10.0.12.1/24 fd00::1/64'], ['r2', 'p 10.0.12.2/24']], /node r2: .*has IPv6 at node r1 but not at node r2/],
    [[['r1', 'p 10.0.12.0/24'], ['r2', 'p 10.0.12.2/24']], /node r1: .*10\.0\.12\.0 is the network address/],
  ] as [[string, string][], RegExp][])('%p is refused: %p', (labels, msg) => {
    expect(() => labNetworks('x', nodes(...labels))).toThrow(LabError);
    expect(() => labNetworks('x', nodes(...labels))).toThrow(msg);
  });
});

describe('topology files', () => {
  test('labels merge as containerlab merges them: defaults, kind, group, node', () => {
    const t = topologyFromYaml(`
name: m
topology:
  defaults: { kind: linux, labels: { a: d, b: d, c: d, e: d } }
  kinds: { linux: { labels: { b: k, c: k, e: k } } }
  groups: { g: { labels: { c: g, e: g } } }
  nodes:
    n1: { group: g, labels: { e: n } }
    n2: {}
`);
    expect(t).toEqual({ lab: 'm', nodes: [
      { name: 'n1', labels: { a: 'd', b: 'k', c: 'g', e: 'n' } },
      { name: 'n2', labels: { a: 'd', b: 'k', c: 'k', e: 'k' } },
    ] });
  });

  test('a route must leave through one of the node\'s links', () => {
    const yaml = (route: string): string => `
name: r
topology:
  nodes:
    r1: { labels: { wgmpls.links: "p 10.0.12.1/24", wgmpls.routes: "${route}" } }
    r2: { labels: { wgmpls.links: "p 10.0.12.2/24" } }
`;
    expect(checkTopology(topologyFromYaml(yaml('-f mpls route add 100 via inet 10.0.12.2 dev wgm0'))).networks).toHaveLength(1);
    expect(() => checkTopology(topologyFromYaml(yaml('-f mpls route add 100 via inet 10.0.12.2 dev wgm1')))).toThrow(/node r1: wgmpls\.routes names device "wgm1", which is not one of its links \(wgm0/);
    expect(() => checkTopology(topologyFromYaml(yaml('-f mpls route add 5 dev lo')))).toThrow(/node r1: wgmpls\.routes line 1 .*label 5 is reserved/);
    expect(() => topologyFromYaml('name: [')).toThrow(/not YAML/);
    expect(() => topologyFromYaml('topology: {}')).toThrow(/no lab name/);
  });

  test.each(['tunnel', 'router', 'stack', 'lan', 'ring'])('lab/%s.clab.yml is a valid lab', (name) => {
    const file = join(LAB, `${name}.clab.yml`);
    const checked = checkTopology(readTopology(file));
    expect(checked.lab).toBe(name);
    expect(checked.networks.length).toBeGreaterThan(0);
    // Every node runs the stage that puts it on its networks.
    expect(readFileSync(file, 'utf8')).toMatch(/create-links:\s+exec:\s+- command: wgmpls lab sync\s+target: host/);
  });

  test('the router lab is the seed\'s line of six with its labels', () => {
    const checked = checkTopology(readTopology(join(LAB, 'router.clab.yml')));
    expect(checked.networks.map((n) => `${n.name} ${n.v4?.subnet} ${n.v6?.subnet}`)).toEqual([
      'r1-r2 10.0.12.0/24 fd00:12::/64',
      'r2-r3 10.0.23.0/24 fd00:23::/64',
      'r3-r4 10.0.34.0/24 fd00:34::/64',
      'r4-r5 10.0.45.0/24 fd00:45::/64',
      'r5-r6 10.0.56.0/24 fd00:56::/64',
    ]);
  });
});

describe('wgmpls lab graph', () => {
  test('point-to-point links are edges with both interfaces, a multipoint network is a node', () => {
    const router = mermaid(checkTopology(readTopology(join(LAB, 'router.clab.yml'))));
    expect(router).toContain('graph TD\n  r1[r1]\n');
    expect(router).toContain('  r2 ---|"wgm1 r2-r3 10.0.23.0/24 fd00:23::/64 wgm0"| r3\n');
    expect(router.match(/---\|/g)).toHaveLength(5);
    const lan = mermaid(checkTopology(readTopology(join(LAB, 'lan.clab.yml'))), 'LR');
    expect(lan).toContain('  net_lan{{"lan 10.0.100.0/24 fd00:100::/64"}}\n');
    expect(lan).toContain('  r3 ---|"wgm0"| net_lan\n');
  });
});

describe('the lab lock', () => {
  test('runs are serialized, also within one process, and a lock left by a dead holder is taken over', async () => {
    const { mkdtempSync, writeFileSync, existsSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { withLock } = await import('../../plugin/lab/sync');
    const file = join(mkdtempSync(join(tmpdir(), 'wgmt-lock-')), 'lab.lock');
    const order: string[] = [];
    const job = (name: string) => () =>
      new Promise<void>((resolve) => {
        order.push(`${name}+`);
        setTimeout(() => {
          order.push(`${name}-`);
          resolve();
        }, 30);
      });
    await Promise.all([withLock(job('a'), file), withLock(job('b'), file), withLock(job('c'), file)]);
    expect(order.join(' ')).toMatch(/^(\w)\+ \1- (\w)\+ \2- (\w)\+ \3-$/);
    expect(existsSync(file)).toBe(false);
    writeFileSync(file, '999999999'); // no such process
    await withLock(job('d'), file, 2000);
    expect(order.slice(-2)).toEqual(['d+', 'd-']);
  }, 30_000); // the first import compiles sync.ts and loads dockerode: slow on a busy machine
});
