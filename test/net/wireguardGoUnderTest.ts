// The wireguard-go binaries the interop tests run against, both of them: current upstream
// (scripts/wireguard-go.sh, pinned) and Debian's 0.0.20220316. Found through
// bench/wireguardGo.ts, as the benchmark finds them. A missing one fails in CI and is skipped,
// with the reason and the way to get it, elsewhere.
import { WireguardGo, findWireguardGo, wireguardGoVersion } from '../../bench/wireguardGo';
import { inCi } from '../canRun';

export type { WireguardGo } from '../../bench/wireguardGo';

/** outer(`${title} ${name} (version, binary)`, body) for each wireguard-go; outer is describe or a describeWhere block. */
export function describeEachWireguardGo(title: string, body: (wg: WireguardGo) => void, outer: (name: string, fn: () => void) => void = describe): void {
  for (const name of ['current', 'Debian'] as const) {
    const found = findWireguardGo(name);
    if ('missing' in found) {
      if (inCi()) {
        outer(`${title} ${name}`, () => {
          test('the binary is there', () => {
            throw new Error(`CI must run the interop tests against both wireguard-go, but ${found.missing}`);
          });
        });
      } else {
        describe.skip(`${title} ${name} (skipped: ${found.missing})`, () => {
          test.todo(found.missing);
        });
      }
      continue;
    }
    outer(`${title} ${name} (${wireguardGoVersion(found.binary)}, ${found.binary})`, () => body(found));
  }
}
