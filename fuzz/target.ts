// What a fuzz target is: inputs (a fast-check arbitrary, built once the target's world is set
// up) and a check that throws when a property does not hold for one input. The runner
// (run.ts, worker.ts) and the short CI run (test/unit/fuzz.test.ts) drive every target the same
// way through property().
import fc from 'fast-check';

export interface FuzzTarget<T> {
  /** Inputs, usually mutations of valid examples next to wholly random ones. */
  arbitrary: fc.Arbitrary<T>;
  /** Throws (an Error saying which property broke) when the input breaks one. */
  check(input: T): void | Promise<void>;
  /** True when check returns a promise. */
  async: boolean;
  /** A line about what the inputs reached (e.g. drops by reason), for the report. */
  summary?(): string;
  /**
   * Inputs that must break the property, to show the check is not vacuous (e.g. a genuine
   * datagram never delivered before, which a device must accept). Checking one may leave the
   * target in a state the property forbids: use a fresh target after.
   */
  mustBreak?: unknown[];
}

export interface TargetSpec {
  name: string;
  /** What is fuzzed and which properties are checked. */
  about: string;
  make(): Promise<FuzzTarget<unknown>>;
}

/** fast-check's property for a target, calling `tick` before each input (the hang watchdog). */
export function property(t: FuzzTarget<unknown>, tick: () => void = () => undefined): fc.IProperty<[unknown]> | fc.IAsyncProperty<[unknown]> {
  if (t.async) {
    return fc.asyncProperty(t.arbitrary, async (input) => {
      tick();
      await t.check(input);
    });
  }
  return fc.property(t.arbitrary, (input) => {
    tick();
    void t.check(input);
  });
}

/** A property failure (not a crash of the code under test: that is any other error). */
export class PropertyBroken extends Error {}

export function expectThat(ok: boolean, what: string): void {
  if (!ok) throw new PropertyBroken(what);
}
