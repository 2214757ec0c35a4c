// test/canRun.ts: a test that cannot run is skipped with its reason locally and FAILS under CI.
// describeWhere() is watched through injected jest functions; the block the CI variant registers
// is then really run to see that it throws with the reason.
import { DescribeWhereDeps, describeWhere, firstReason, inCi, needProgram, needRoot } from '../canRun';

interface Calls {
  deps: DescribeWhereDeps;
  described: string[];
  skipped: string[];
  tests: { name: string; fn: () => void }[];
  warnings: string[];
  bodyRuns: number;
}

function watch(env: NodeJS.ProcessEnv): Calls {
  const c: Calls = {
    described: [],
    skipped: [],
    tests: [],
    warnings: [],
    bodyRuns: 0,
    deps: {
      env,
      describe: (name, fn) => {
        c.described.push(name);
        fn();
      },
      skip: (name) => c.skipped.push(name),
      test: (name, fn) => c.tests.push({ name, fn }),
      warn: (msg) => c.warnings.push(msg),
    },
  };
  return c;
}

describe('inCi', () => {
  test.each([
    [{ CI: 'true' }, true],
    [{ CI: '1' }, true],
    [{ CI: 'TRUE' }, true],
    [{}, false],
    [{ CI: '' }, false],
    [{ CI: '0' }, false],
    [{ CI: 'false' }, false],
  ])('%j -> %s', (env, want) => expect(inCi(env)).toBe(want));
});

describe('describeWhere', () => {
  const body = (c: Calls) => () => {
    c.bodyRuns++;
  };

  test('nothing missing: the real describe, whatever CI says', () => {
    for (const env of [{}, { CI: 'true' }]) {
      const c = watch(env);
      describeWhere(null, c.deps)('block', body(c));
      expect(c).toMatchObject({ described: ['block'], skipped: [], tests: [], warnings: [], bodyRuns: 1 });
    }
  });

  test('something missing outside CI: skipped, and the reason printed', () => {
    const c = watch({});
    describeWhere('needs root, but runs as uid 1000', c.deps)('block', body(c));
    expect(c.skipped).toEqual(['block']);
    expect(c.described).toEqual([]);
    expect(c.warnings).toEqual(['skipped "block": needs root, but runs as uid 1000']);
  });

  test('something missing under CI=true: one failing test naming the block and the reason; the body never runs', () => {
    const c = watch({ CI: 'true' });
    describeWhere('needs qemu-system-x86_64', c.deps)('in a VM', body(c));
    expect(c.skipped).toEqual([]);
    expect(c.described).toEqual(['in a VM']);
    expect(c.bodyRuns).toBe(0);
    expect(c.tests).toHaveLength(1);
    expect(c.tests[0].fn).toThrow('"in a VM" cannot run here: needs qemu-system-x86_64. CI=true: a test that cannot run where it is meant to is a failure, not a skip');
  });
});

describe('the checks', () => {
  test('firstReason keeps the first failing one', () => {
    expect(firstReason(null, null)).toBeNull();
    expect(firstReason(null, 'a', 'b')).toBe('a');
  });

  test('needProgram: a program that runs, one that fails, one that is not there', () => {
    expect(needProgram(process.execPath, ['--version'])).toBeNull();
    expect(needProgram(process.execPath, ['-e', 'process.exit(3)'])).toMatch(/exited 3/);
    expect(needProgram('wgmt-no-such-program')).toBe('needs wgmt-no-such-program (ENOENT)');
  });

  test('needRoot says which uid it got', () => {
    const uid = process.getuid?.();
    if (uid === 0) expect(needRoot()).toBeNull();
    else expect(needRoot('root (TUN)')).toBe(`needs root (TUN), but runs as uid ${uid}`);
  });
});
