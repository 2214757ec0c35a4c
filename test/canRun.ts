// The one way a test file says what it needs (root, a tool, dockerd, qemu...). Where it is
// there, the tests run. Where it is not, they are skipped with the reason printed, except in CI
// (CI=true): there a test that cannot run where it is meant to run is a FAILURE, never a skip,
// so a broken CI machine cannot pass by running nothing. Every conditional skip goes through
// describeWhere(); no test file uses describe.skip / test.skip on its own.
import { spawnSync } from 'node:child_process';

/** Why the tests cannot run here (shown to the user), or null when they can. */
export type WhyNot = string | null;

/** CI set to anything but "", "0" or "false" (GitHub, GitLab and .ci/run set CI=true). */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CI;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/** The first reason of several, or null when every check passes. */
export function firstReason(...reasons: WhyNot[]): WhyNot {
  return reasons.find((r) => r !== null) ?? null;
}

export function needRoot(what = 'root'): WhyNot {
  return process.getuid?.() === 0 ? null : `needs ${what}, but runs as uid ${process.getuid?.() ?? '?'}`;
}

/** `cmd args` must start and exit 0 (e.g. `wg --version`). */
export function needProgram(cmd: string, args: string[] = ['--version']): WhyNot {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 20_000 });
  if (r.error) return `needs ${cmd} (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`;
  return r.status === 0 ? null : `needs a working ${cmd} (\`${[cmd, ...args].join(' ')}\` exited ${r.status})`;
}

type Block = (name: string, fn: () => void) => void;

/** The jest globals describeWhere() uses; injectable so its own unit test can watch it. */
export interface DescribeWhereDeps {
  env: NodeJS.ProcessEnv;
  describe: Block;
  skip: Block;
  test: (name: string, fn: () => void) => void;
  warn: (msg: string) => void;
}

const jestDeps = (): DescribeWhereDeps => ({
  env: process.env,
  describe: (name, fn) => describe(name, fn),
  skip: (name, fn) => describe.skip(name, fn),
  test: (name, fn) => test(name, fn),
  warn: (msg) => console.warn(msg),
});

/**
 * `describe` when `whyNot` is null. Otherwise outside CI `describe.skip`, with the reason
 * printed; under CI a describe of the same name holding one test that fails with the reason
 * (the block's own body is not run: its set-up would fail for the same reason, less clearly).
 */
export function describeWhere(whyNot: WhyNot, deps: Partial<DescribeWhereDeps> = {}): Block {
  const d = { ...jestDeps(), ...deps };
  if (whyNot === null) return d.describe;
  if (inCi(d.env)) {
    return (name) =>
      d.describe(name, () => {
        d.test('can run here (under CI a test that cannot run fails)', () => {
          throw new Error(`"${name}" cannot run here: ${whyNot}. CI=true: a test that cannot run where it is meant to is a failure, not a skip`);
        });
      });
  }
  return (name, fn) => {
    d.warn(`skipped "${name}": ${whyNot}`);
    d.skip(name, fn);
  };
}
