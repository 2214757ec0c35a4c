// Docker creates an endpoint's TUN in the host namespace and moves it into the container,
// renamed (wgm0, ...), while the datapath holds it. The datapath's label-switching router must
// follow: `wgmpls ip` inside the container then knows wgm0 as one of its devices.
import { CLI, Netns, cleanupAll, run, startTunnel, uniq, waitFor } from './harness';
import { describeWhere, needRoot } from '../canRun';

const d = describeWhere(needRoot('root (network namespaces, TUN)'));
jest.setTimeout(60_000);

d('the LSR follows its TUN into another namespace', () => {
  afterAll(cleanupAll);

  test('moved and renamed to wgm0, it serves the new namespace\'s routes', async () => {
    const host = await Netns.create('host');
    const ctr = await Netns.create('ctr');
    const ifname = `wgr${uniq()}`;
    const tun = await startTunnel(host, 'wgmpls', ifname);
    try {
      const route = ['ip', 'route', 'add', '10.5.0.0/24', 'encap', 'mpls', '100', 'dev', 'wgm0'];
      const before = await ctr.exec('node', [CLI, ...route]);
      expect(before.code).not.toBe(0);
      expect(before.stderr).toContain('Cannot find device "wgm0"');

      await host.ip('link', 'set', ifname, 'netns', ctr.name, 'name', 'wgm0');
      await ctr.ip('link', 'set', 'wgm0', 'up');
      await waitFor('the datapath to join the new namespace', async () => (await ctr.exec('node', [CLI, ...route])).code === 0, 10_000);
      expect(await ctr.must('node', [CLI, 'ip', 'route', 'show'])).toContain('10.5.0.0/24  encap mpls  100 dev wgm0');
      await waitFor('the kernel route in the new namespace', async () => (await ctr.ip('route', 'show')).includes('10.5.0.0/24 dev wgm0'), 10_000);
      // The UAPI socket keeps the name the datapath was started with.
      expect((await run('wg', ['show', ifname])).code).toBe(0);
    } finally {
      await tun.stop();
      await cleanupAll();
    }
  });
});
