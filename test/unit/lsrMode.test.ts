import { lsrModeOf } from '../../plugin/routes/watcher';
import { formatRouteStatus, formatShow } from '../../plugin/show';
import { RoutesLabelError } from '../../plugin/routes/label';
import { applyKernelSettings } from '../../datapath/netlink/kernelRoutes';
import { RouteError, defaultSettings } from '../../datapath/lsr/model';
import { emptyTable } from '../../datapath/lsr/store';
import { mergeTables, renameDevices } from '../../plugin/datapaths/tables';

describe('wgmpls.lsr across a container\'s networks', () => {
  test('auto unless a network says otherwise; explicit ones must agree', () => {
    expect(lsrModeOf([])).toBe('auto');
    expect(lsrModeOf(['auto', undefined])).toBe('auto');
    expect(lsrModeOf(['auto', 'kernel', 'kernel'])).toBe('kernel');
    expect(lsrModeOf([undefined, 'userspace'])).toBe('userspace');
    expect(() => lsrModeOf(['kernel', 'userspace'])).toThrow(RoutesLabelError);
    expect(() => lsrModeOf(['kernel', 'userspace'])).toThrow('wgmpls.lsr kernel and userspace');
  });

  test('wgmpls show says who switches an applied label', () => {
    const at = '2026-01-01T00:00:00.000Z';
    expect(
      formatRouteStatus([
        { containerId: 'a'.repeat(64), name: 'r1', routes: 3, lsr: 'kernel', at },
        { containerId: 'b'.repeat(64), name: 'r2', routes: 1, at },
      ]),
    ).toBe(`container r1 (${'a'.repeat(12)}): wgmpls.routes: 3 routes applied (kernel LSR)\ncontainer r2 (${'b'.repeat(12)}): wgmpls.routes: 1 route applied\n`);
  });
});

describe('wgmpls sysctl with the kernel LSR', () => {
  test('a setting Linux lacks is refused by name before anything is written', () => {
    const before = { ...defaultSettings };
    expect(() => applyKernelSettings(before, { ...before, icmpRespond: false }, '/nonexistent')).toThrow(
      'net.mpls.icmp_respond: not with the kernel LSR switching this namespace (Linux sends no ICMP for expired labels)',
    );
    expect(() => applyKernelSettings(before, { ...before, rfc4182: false }, '/nonexistent')).toThrow(RouteError);
    expect(() => applyKernelSettings(before, { ...before, mapPrecedence: true }, '/nonexistent')).toThrow('net.mpls.inet_map_prec');
  });
});

describe("a container's table carried across its restart", () => {
  const route = { label: 101, outLabels: [102], via: null, dev: 'wgm0' };
  test('keeps who switches it (the kernel routes are then put back by the datapaths)', () => {
    const carried = { ...emptyTable(), mpls: [route], backend: 'kernel' as const };
    expect(mergeTables(emptyTable(), renameDevices(carried, new Map([['wgm0', 'wgm1']])))).toEqual({
      ...emptyTable(),
      mpls: [{ ...route, dev: 'wgm1' }],
      backend: 'kernel',
    });
    // Routes already there decide.
    const current = { ...emptyTable(), mpls: [{ ...route, label: 300 }], backend: 'userspace' as const };
    expect(mergeTables(current, carried).backend).toBe('userspace');
  });
});

describe('wgmpls show', () => {
  test('names who switches each endpoint\'s container', () => {
    const endpoint = (lsr: 'kernel' | 'userspace' | null) => ({
      id: 'e'.repeat(64),
      container: 'r1',
      ifname: 'wgm123456789abc',
      containerIfname: 'wgm0',
      addresses: ['10.0.12.1'],
      publicKey: 'k',
      port: 51820,
      datapath: { pid: null, running: false },
      routes: ['101 as to 102 dev wgm0'],
      lsr,
      peers: [],
      drops: {},
    });
    const net = (lsr: 'kernel' | 'userspace' | null) => [{ id: 'n'.repeat(64), name: 'r1-r2', scope: 'local' as const, mtu: 1420, underlay: '127.0.0.1', mplsPeers: 'any', subnets: [], endpoints: [endpoint(lsr)], remote: [], retained: [] }];
    expect(formatShow(net('kernel'))).toContain("\n    label switching: the container's kernel (routes installed by netlink)\n    routes:\n");
    expect(formatShow(net('userspace'))).toContain('\n    label switching: userspace (the datapaths)\n');
    expect(formatShow(net(null))).not.toContain('label switching');
  });
});
