// Choosing who switches labels (--lsr) on this machine's own kernel: bad values are refused by
// name, and asking for the kernel where it has no MPLS routing is refused with the reason and
// changes nothing. (Kernel routes themselves are tested in the VM, test/vm.)
import { existsSync } from 'node:fs';
import { CLI, Netns, cleanupAll } from './harness';
import { describeWhere, needRoot } from '../canRun';

const d = describeWhere(needRoot('root (network namespaces, TUN)'));
jest.setTimeout(60_000);

d('wgmpls ip --lsr', () => {
  let ns: Netns;
  beforeAll(async () => {
    ns = await Netns.create('lsrb');
  });
  afterAll(cleanupAll);

  test('an unknown mode is refused by name before anything is read or written', async () => {
    const r = await ns.exec('node', [CLI, 'ip', '--lsr', 'hardware', '-f', 'mpls', 'route', 'add', '100', 'dev', 'lo']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--lsr must be auto, kernel, userspace, got "hardware"');
  });

  test('kernel where the kernel has no MPLS routing: refused with the reason, no route anywhere; with MPLS routing: a kernel route', async () => {
    const r = await ns.exec('node', [CLI, 'ip', '--lsr', 'kernel', '-f', 'mpls', 'route', 'add', '100', 'dev', 'lo']);
    const show = await ns.exec('node', [CLI, 'ip', '-f', 'mpls', 'route', 'show']);
    if (!existsSync('/proc/sys/net/mpls/platform_labels')) {
      expect({ code: r.code, stderr: r.stderr }).toEqual({
        code: 1,
        stderr: 'lsr kernel: this namespace has no net.mpls.platform_labels (the kernel needs the mpls_router and mpls_iptunnel modules)\n',
      });
      expect(show.stdout).toBe('');
    } else {
      expect(r.code).toBe(0);
      expect(await ns.ip('-f', 'mpls', 'route', 'show')).toContain('100 dev lo');
    }
  });
});
