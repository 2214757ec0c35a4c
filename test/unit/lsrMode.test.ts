import { lsrModeOf } from '../../plugin/routes/watcher';
import { formatRouteStatus } from '../../plugin/show';
import { RoutesLabelError } from '../../plugin/routes/label';

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
