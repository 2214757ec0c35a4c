// bench/lsp.ts: the transit's label counters, as `wgmpls ip -s` prints them.
import { routeBytes } from '../../bench/lsp';

describe('LSP counters (bench/lsp.ts)', () => {
  test('bytes of one label\'s route from wgmpls ip -s -f mpls route show', () => {
    const show = '101 as to 102 via inet 10.254.2.2 dev wgmbl1a \n    packets 3 bytes 264 drops 0\n201 as to 202 via inet 10.254.1.1 dev wgmbl1x \n    packets 9 bytes 999 drops 0\n';
    expect(routeBytes(show, 101)).toBe(264);
    expect(routeBytes(show, 201)).toBe(999);
    expect(routeBytes(show, 20)).toBeNull();
    expect(routeBytes('101 as to 102 via inet 10.254.2.2 dev x \n', 101)).toBeNull();
  });
});
