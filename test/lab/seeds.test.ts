// The seed's scenarios as containerlab topologies (lab/tunnel, lab/router, lab/stack), deployed
// with the real containerlab binary, exercised with the lab image's ping, traceroute and
// tcpdump on the host's underlay, destroyed, and checked to have left nothing. Needs root,
// dockerd, containerlab (lab/containerlab/install.sh) and no other wgmpls driver running;
// skipped with a message otherwise, an error under CI.
import { docker, dockerOk } from '../docker/helpers';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_DIR, Lab, captureUnderlay, labelsTo, node, topology, whyNoLab } from './labHarness';
import { describeWhere } from '../canRun';

const skipReason = whyNoLab();
const maybe = describeWhere(skipReason);
jest.setTimeout(180_000);

maybe('containerlab: the seed scenarios', () => {
  const lab = new Lab();
  beforeAll(async () => {
    await lab.start();
    for (const t of ['tunnel', 'router', 'stack']) await lab.clear(topology(t));
  }, 240_000);
  afterAll(async () => {
    for (const t of ['tunnel', 'router', 'stack']) {
      await lab.clear(topology(t));
      // What `containerlab destroy` without --cleanup keeps: its lab directory beside the file.
      rmSync(join(LAB_DIR, `clab-${t}`), { recursive: true, force: true });
    }
    await lab.stop();
  }, 240_000);
  // A test that failed half way must not leave its lab to the next (same subnets).
  afterEach(async () => {
    for (const t of ['tunnel', 'stack']) await lab.clear(topology(t));
  }, 240_000);

  test('tunnel: ping over label 100 one way and 200 back, IPv4 and IPv6; destroy leaves nothing', async () => {
    const file = topology('tunnel');
    await lab.deploy(file);
    const r1 = node('tunnel', 'r1');
    const r2 = node('tunnel', 'r2');
    await lab.pingUntil(r1, ['-I', '10.9.1.1', '10.9.2.1']);
    const toR2 = lab.portOf('10.0.12.2');
    const toR1 = lab.portOf('10.0.12.1');
    const cap = await captureUnderlay([toR1, toR2]);
    await lab.pingUntil(r1, ['-I', '10.9.1.1', '10.9.2.1']);
    await lab.pingUntil(r1, ['-6', '-I', 'fd00:9:1::1', 'fd00:9:2::1']);
    await lab.pingUntil(r2, ['-I', '10.9.2.1', '10.9.1.1']);
    const udp = await cap.stop();
    expect(labelsTo(udp, toR2)).toEqual([100]);
    expect(labelsTo(udp, toR1)).toEqual([200]);
    expect(udp.filter((u) => u.dstPort === toR2 && u.payload[0] === 5).length).toBeGreaterThanOrEqual(9);
    const fp = await lab.footprint('tunnel');
    expect(fp.containers).toHaveLength(2);
    expect(fp.ifnames).toHaveLength(2);
    expect(fp.nsids).toHaveLength(2);
    await lab.destroy(file); // without --cleanup
    await lab.assertGone(fp);
  });

  describe('router: six nodes in a line, 101/102/103 towards r6 and 201/202/203 back', () => {
    const file = topology('router');
    const r1 = node('router', 'r1');
    const r6 = node('router', 'r6');
    beforeAll(async () => {
      await lab.deploy(file);
      await lab.pingUntil(r1, ['10.0.56.2']);
    }, 180_000);
    // Whatever failed above, the next lab (same subnets) must find this one gone.
    afterAll(() => lab.clear(file), 120_000);

    test('containerlab inspect lists the six nodes running; each link is a wgmpls network of the lab', async () => {
      const r = await lab.clab(['inspect', '-t', file, '--format', 'json']);
      expect(r.code).toBe(0);
      const names = [...r.stdout.matchAll(/"name": "(clab-router-r\d)"/g)].map((m) => m[1]).sort();
      expect(names).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'r6'].map((n) => node('router', n)));
      const nets = (await dockerOk('network', 'ls', '--filter', 'label=wgmpls.lab=router', '--format', '{{.Name}} {{.Driver}}')).trim().split('\n').sort();
      expect(nets).toEqual(['r1-r2', 'r2-r3', 'r3-r4', 'r4-r5', 'r5-r6'].map((n) => `wgmpls-router-${n} wgmpls`));
      expect(await dockerOk('exec', node('router', 'r3'), 'ip', '-o', '-4', 'addr', 'show', 'dev', 'wgm1')).toContain('10.0.34.1/24');
    });

    test('IPv4 and IPv6 ping end to end both ways; the underlay carries type 5 with each hop\'s label', async () => {
      const hops = [
        { fwdTo: '10.0.23.2', label: 101, backTo: '10.0.23.1', back: 203 },
        { fwdTo: '10.0.34.2', label: 102, backTo: '10.0.34.1', back: 202 },
        { fwdTo: '10.0.45.2', label: 103, backTo: '10.0.45.1', back: 201 },
      ].map((h) => ({ ...h, fwdPort: lab.portOf(h.fwdTo), backPort: lab.portOf(h.backTo) }));
      const cap = await captureUnderlay(hops.flatMap((h) => [h.fwdPort, h.backPort]));
      await lab.pingUntil(r1, ['10.0.56.2']);
      await lab.pingUntil(r6, ['10.0.12.1']);
      await lab.pingUntil(r1, ['-6', 'fd00:56::2']);
      await lab.pingUntil(r6, ['-6', 'fd00:12::1']);
      const udp = await cap.stop();
      for (const h of hops) {
        expect({ to: h.fwdTo, labels: labelsTo(udp, h.fwdPort) }).toEqual({ to: h.fwdTo, labels: [h.label] });
        expect({ to: h.backTo, labels: labelsTo(udp, h.backPort) }).toEqual({ to: h.backTo, labels: [h.back] });
      }
      // r5 pops 103 (penultimate hop): towards r6 it is plain IP, type 4 only.
      const toR6 = lab.portOf('10.0.56.2');
      const cap2 = await captureUnderlay([toR6]);
      await lab.pingUntil(r1, ['10.0.56.2']);
      const udp2 = await cap2.stop();
      expect(udp2.filter((u) => u.dstPort === toR6 && u.payload[0] === 4).length).toBeGreaterThanOrEqual(3);
      expect(labelsTo(udp2, toR6)).toEqual([]);
    });

    test('traceroute -e from r1 lists every hop with its address on the link and its labels', async () => {
      const out = await dockerOk('exec', r1, 'traceroute', '-e', '-I', '-n', '-q', '1', '-w', '2', '-m', '8', '10.0.56.2');
      const hops = out.trim().split('\n').slice(1).map((l) => l.trim());
      expect(hops).toHaveLength(5);
      expect(hops[0]).toMatch(/^1\s+10\.0\.12\.2\s+[\d.]+ ms/);
      expect(hops[1]).toMatch(/^2\s+10\.0\.23\.2\s+<MPLS:L=101,E=0,S=1,T=1>/);
      expect(hops[2]).toMatch(/^3\s+10\.0\.34\.2\s+<MPLS:L=102,E=0,S=1,T=1>/);
      expect(hops[3]).toMatch(/^4\s+10\.0\.45\.2\s+<MPLS:L=103,E=0,S=1,T=1>/);
      expect(hops[4]).toMatch(/^5\s+10\.0\.56\.2\s+[\d.]+ ms/);
      const out6 = await dockerOk('exec', r1, 'traceroute', '-6', '-e', '-I', '-n', '-q', '1', '-w', '2', '-m', '8', 'fd00:56::2');
      const hops6 = out6.trim().split('\n').slice(1).map((l) => l.trim());
      expect(hops6).toHaveLength(5);
      expect(hops6[1]).toMatch(/^2\s+fd00:23::2\s+<MPLS:L=101,E=0,S=1,T=1>/);
      expect(hops6[2]).toMatch(/^3\s+fd00:34::2\s+<MPLS:L=102,E=0,S=1,T=1>/);
      expect(hops6[3]).toMatch(/^4\s+fd00:45::2\s+<MPLS:L=103,E=0,S=1,T=1>/);
      // And back: r6 towards r1 through 201/202/203.
      const back = await dockerOk('exec', r6, 'traceroute', '-e', '-I', '-n', '-q', '1', '-w', '2', '-m', '8', '10.0.12.1');
      expect(back).toMatch(/\n\s*2\s+10\.0\.45\.1\s+<MPLS:L=201,E=0,S=1,T=1>/);
      expect(back).toMatch(/\n\s*3\s+10\.0\.34\.1\s+<MPLS:L=202,E=0,S=1,T=1>/);
      expect(back).toMatch(/\n\s*4\s+10\.0\.23\.1\s+<MPLS:L=203,E=0,S=1,T=1>/);
    });

    test('destroy --cleanup leaves nothing behind', async () => {
      const fp = await lab.footprint('router');
      expect(fp.containers).toHaveLength(6);
      expect(fp.ifnames).toHaveLength(10);
      await lab.destroy(file, true);
      await lab.assertGone(fp);
      expect((await docker('inspect', r1)).code).not.toBe(0);
    });
  });

  test('stack: 100 over 200, swapped to 101, popped, 200 popped to the stack; both ways', async () => {
    const file = topology('stack');
    await lab.deploy(file);
    const r1 = node('stack', 'r1');
    const r2 = node('stack', 'r2');
    await lab.pingUntil(r1, ['-I', '10.9.1.1', '10.9.2.1']);
    const ports = [lab.portOf('10.0.12.1'), lab.portOf('10.0.12.2')];
    const cap = await captureUnderlay(ports);
    await lab.pingUntil(r1, ['-I', '10.9.1.1', '10.9.2.1']);
    await lab.pingUntil(r2, ['-I', '10.9.2.1', '10.9.1.1']);
    await lab.pingUntil(r1, ['-6', '-I', 'fd00:9:1::1', 'fd00:9:2::1']);
    const udp = await cap.stop();
    const tops = [...new Set([...labelsTo(udp, ports[0]), ...labelsTo(udp, ports[1])])].sort((a, b) => a - b);
    expect(tops).toEqual([100, 101, 200]);
    // Both ways carry all three: a request goes out as 100 (over 200), comes back as 101, goes
    // out again as 200; the reply does the same the other way round.
    expect(labelsTo(udp, ports[1])).toEqual([100, 101, 200]);
    expect(labelsTo(udp, ports[0])).toEqual([100, 101, 200]);
    const fp = await lab.footprint('stack');
    await lab.destroy(file);
    await lab.assertGone(fp);
  });
});
