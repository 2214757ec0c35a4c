// lab/lan: three routers on one multipoint wgmpls network, MPLS steered by each route's `via`:
// r1 reaches r3 through r2 (300, swapped to 301) although r1 and r3 share the network, and r3
// answers through r2 (310, swapped to 311). Same requirements as seeds.test.ts.
import { dockerOk } from '../docker/helpers';
import { Lab, captureUnderlay, labelsTo, node, topology, whyNoLab } from './labHarness';
import { describeWhere } from '../canRun';

const skipReason = whyNoLab();
const maybe = describeWhere(skipReason);
jest.setTimeout(180_000);

maybe('containerlab: three routers on one multipoint network', () => {
  const lab = new Lab();
  const file = topology('lan');
  const r1 = node('lan', 'r1');
  beforeAll(async () => {
    await lab.start();
    await lab.clear(file);
  }, 240_000);
  afterAll(async () => {
    await lab.clear(file);
    await lab.stop();
  }, 240_000);

  test('one network, three ends; r1 and r3 exchange MPLS through r2 by explicit next hop, IPv4 and IPv6; destroy leaves nothing', async () => {
    await lab.deploy(file);
    expect((await dockerOk('network', 'ls', '--filter', 'label=wgmpls.lab=lan', '--format', '{{.Name}}')).trim()).toBe('wgmpls-lan-lan');
    const eps = Object.values(lab.plugin.state().endpoints);
    expect(eps).toHaveLength(3);
    await lab.pingUntil(r1, ['-I', '10.9.1.1', '10.9.3.1']);
    const [p1, p2, p3] = ['10.0.100.1', '10.0.100.2', '10.0.100.3'].map((a) => lab.portOf(a));
    const cap = await captureUnderlay([p1, p2, p3]);
    await lab.pingUntil(r1, ['-I', '10.9.1.1', '10.9.3.1']);
    await lab.pingUntil(r1, ['-6', '-I', 'fd00:9:1::1', 'fd00:9:3::1']);
    const udp = await cap.stop();
    // r1 -> r2: 300 (requests); r2 -> r3: 301; r3 -> r2: 310 (replies); r2 -> r1: 311.
    const from = (src: number, dst: number): number[] =>
      [...new Set(udp.filter((u) => u.srcPort === src && u.dstPort === dst && u.payload[0] === 5).map((u) => (u.payload[1] | (u.payload[2] << 8) | (u.payload[3] << 16)) >> 4))];
    expect(from(p1, p2)).toEqual([300]);
    expect(from(p2, p3)).toEqual([301]);
    expect(from(p3, p2)).toEqual([310]);
    expect(from(p2, p1)).toEqual([311]);
    // Never directly between r1 and r3, though they are peers on the same network.
    expect(from(p1, p3)).toEqual([]);
    expect(from(p3, p1)).toEqual([]);
    expect(labelsTo(udp, p2).length).toBe(2);
    const tr = await dockerOk('exec', r1, 'traceroute', '-e', '-I', '-n', '-q', '1', '-w', '2', '-m', '5', '-s', '10.9.1.1', '10.9.3.1');
    const hops = tr.trim().split('\n').slice(1).map((l) => l.trim());
    expect(hops[0]).toMatch(/^1\s+10\.0\.100\.2\s+<MPLS:L=300,E=0,S=1,T=1>/);
    expect(hops[hops.length - 1]).toMatch(/^\d\s+10\.9\.3\.1\s/);
    const fp = await lab.footprint('lan');
    await lab.destroy(file, true);
    await lab.assertGone(fp);
  });
});
