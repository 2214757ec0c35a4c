// plugin/lab/ring.ts: the ring generator behind `wgmpls lab ring`, lab/ring.clab.yml and
// `npm run bench:scale`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RING_MAX, ringLinks, ringNodeLinks, ringTopology } from '../../plugin/lab/ring';
import { checkTopology, readTopology, topologyFromYaml } from '../../plugin/lab/topology';

describe('ring', () => {
  test('50 nodes: 100 links, each node on four, every pair at most once, distinct /29 subnets', () => {
    const links = ringLinks(50);
    expect(links).toHaveLength(100);
    const degree = [...ringNodeLinks(50).values()].map((l) => l.length);
    expect(new Set(degree)).toEqual(new Set([4]));
    const pairs = links.map((l) => [Math.min(l.a, l.b), Math.max(l.a, l.b)].join('-'));
    expect(new Set(pairs).size).toBe(100);
    expect(new Set(links.map((l) => l.subnet)).size).toBe(100);
    expect(links[0]).toEqual({ name: 'r1-r2', a: 1, b: 2, subnet: '10.200.0.0/29', aAddress: '10.200.0.1', bAddress: '10.200.0.2' });
    expect(links[49]).toMatchObject({ name: 'r50-r1', subnet: '10.201.136.0/29' });
    expect(links[50]).toMatchObject({ name: 'r1-r3', a: 1, b: 3 });
  });

  test('small rings: 2 nodes one link, 3 and 4 only the ring, 5 the chords too; out of range refused', () => {
    expect(ringLinks(2).map((l) => l.name)).toEqual(['r1-r2']);
    expect(ringLinks(3).map((l) => l.name)).toEqual(['r1-r2', 'r2-r3', 'r3-r1']);
    expect(ringLinks(4)).toHaveLength(4);
    expect(ringLinks(5)).toHaveLength(10);
    expect(ringLinks(RING_MAX).at(-1)?.subnet).toBe('10.254.248.0/29');
    expect(() => ringLinks(1)).toThrow(/2 to 880 nodes, got 1/);
    expect(() => ringLinks(RING_MAX + 1)).toThrow(RangeError);
    expect(() => ringLinks(2.5)).toThrow(RangeError);
  });

  test('the topology passes the lab checks, names each node\'s TUNs in link order; lab/ring.clab.yml is the one of 50', () => {
    const checked = checkTopology(topologyFromYaml(ringTopology(7, 'r7'), 'ring'));
    expect(checked.networks).toHaveLength(14);
    expect(checked.networks[0]).toMatchObject({ dockerName: 'wgmpls-r7-r1-r2' });
    const file = join(__dirname, '..', '..', 'lab', 'ring.clab.yml');
    expect(readFileSync(file, 'utf8')).toBe(ringTopology(50));
    expect(checkTopology(readTopology(file)).networks).toHaveLength(100);
  });
});
