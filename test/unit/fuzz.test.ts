// The short run of every fuzz target in CI (`npm run fuzz` runs a million inputs each): the
// same properties (fuzz/targets/*), 20,000 inputs each from a fresh seed, which fast-check
// prints with the shrunk input when a property breaks (replay: npm run fuzz -- --seed S TARGET).
// And the device's no-state-change property is shown to catch an accepted datagram.
import fc from 'fast-check';
import { PropertyBroken, property } from '../../fuzz/target';
import { TARGETS } from '../../fuzz/targets';

const RUNS = 20_000;
jest.setTimeout(120_000);

describe.each(TARGETS.map((t) => [t.name, t] as const))('fuzz target %s', (_name, spec) => {
  test(`${RUNS} inputs: ${spec.about}`, async () => {
    const t = await spec.make();
    if (t.async) await fc.assert(property(t) as fc.IAsyncProperty<[unknown]>, { numRuns: RUNS });
    else fc.assert(property(t) as fc.IProperty<[unknown]>, { numRuns: RUNS });
  });
});

test("the device property is not vacuous: a genuine datagram B never saw changes B's state, and check says so", async () => {
  const spec = TARGETS.find((t) => t.name === 'device');
  const t = await spec!.make();
  expect(t.mustBreak).toHaveLength(1);
  let err: unknown = null;
  try {
    void t.check(t.mustBreak![0]);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(PropertyBroken);
  expect((err as Error).message).toMatch(/^unauthenticated input changed B: state item \d+/);
});
