// The kernel route that steers an `encap mpls` prefix into its TUN (userspace LSR): `wgmpls ip`
// puts it in with the table entry and takes it out with it, through netlink. A delete must find
// the scope-link route the add made (iproute2 deletes with "any scope"; a delete naming another
// scope is refused by the kernel as "no such route" and would leave the route behind).
import { CLI, Netns, cleanupAll, startTunnel, uniq } from './harness';
import { describeWhere, needRoot } from '../canRun';

const d = describeWhere(needRoot('root (network namespaces, TUN)'));
jest.setTimeout(60_000);

d('steering routes of the userspace LSR', () => {
  afterAll(cleanupAll);

  test('route add puts PREFIX dev TUN in the kernel, route del and flush take it out (IPv4 and IPv6)', async () => {
    const ns = await Netns.create('steer');
    const ifname = `wgs${uniq()}`;
    const tunnel = await startTunnel(ns, 'wgmpls', ifname);
    try {
      await ns.ip('link', 'set', ifname, 'up');
      const wgmplsIp = (...args: string[]): Promise<string> => ns.must('node', [CLI, 'ip', ...args]);
      await wgmplsIp('route', 'add', '10.9.0.0/16', 'encap', 'mpls', '500', 'dev', ifname);
      await wgmplsIp('-6', 'route', 'add', 'fd00:9::/64', 'encap', 'mpls', '501', 'dev', ifname);
      expect(await ns.ip('route', 'show', '10.9.0.0/16')).toBe(`10.9.0.0/16 dev ${ifname} scope link \n`);
      expect(await ns.ip('-6', 'route', 'show', 'fd00:9::/64')).toContain(`fd00:9::/64 dev ${ifname}`);

      await wgmplsIp('route', 'del', '10.9.0.0/16');
      expect(await ns.ip('route', 'show', '10.9.0.0/16')).toBe('');
      expect(await wgmplsIp('route', 'show')).toBe('');
      await wgmplsIp('-6', 'route', 'flush', 'dev', ifname);
      expect(await ns.ip('-6', 'route', 'show', 'fd00:9::/64')).toBe('');
    } finally {
      await tunnel.stop();
    }
  });
});
