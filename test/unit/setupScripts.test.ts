// The set-up's own scripts (scripts/check-node.js, scripts/node-headers.js): the Node check says
// what is needed instead of failing later, and the addon is built against the headers of the
// Node that runs the build, found beside it, never at a fixed path.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

interface Choice {
  dir: string | null;
  rejected: string[];
}
// Plain JavaScript run by `npm run setup` before anything is built; typed here for the test.
const headers = require(join(ROOT, 'scripts', 'node-headers.js')) as {
  headerVersion(dir: string): string | null;
  candidateDirs(execPath: string, configuredPrefix: unknown, npmNodedir: string | undefined): string[];
  chooseNodedir(version: string, dirs: string[]): Choice;
};

let tmp = '';
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wgmpls-setup-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

function fakePrefix(name: string, version: [number, number, number] | null, layout: 'prefix' | 'source' = 'prefix'): string {
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(join(dir, 'bin', 'node'), '');
  if (version) {
    const inc = layout === 'prefix' ? join(dir, 'include', 'node') : join(dir, 'src');
    mkdirSync(inc, { recursive: true });
    const [ma, mi, pa] = version;
    writeFileSync(join(inc, 'node_version.h'), `#define NODE_MAJOR_VERSION ${ma}\n#define NODE_MINOR_VERSION ${mi}\n#define NODE_PATCH_VERSION ${pa}\n`);
  }
  return dir;
}

describe('scripts/node-headers.js', () => {
  test('reads the version of a prefix (include/node) and of a source tree (src)', () => {
    expect(headers.headerVersion(fakePrefix('a', [20, 19, 5]))).toBe('v20.19.5');
    expect(headers.headerVersion(fakePrefix('b', [22, 1, 0], 'source'))).toBe('v22.1.0');
    expect(headers.headerVersion(fakePrefix('c', null))).toBeNull();
  });

  test("the binary's own prefix comes from its real path, after npm's nodedir setting", () => {
    const real = fakePrefix('opt-node', [20, 1, 0]);
    mkdirSync(join(tmp, 'usr', 'bin'), { recursive: true });
    symlinkSync(join(real, 'bin', 'node'), join(tmp, 'usr', 'bin', 'node'));
    expect(headers.candidateDirs(join(tmp, 'usr', 'bin', 'node'), '/', '/npm/nodedir')).toEqual(['/npm/nodedir', real, '/']);
    expect(headers.candidateDirs(join(real, 'bin', 'node'), real, undefined)).toEqual([real]);
  });

  test("only headers of exactly the running version are taken, never another Node's", () => {
    const other = fakePrefix('usr', [20, 19, 2]);
    const mine = fakePrefix('mine', [20, 20, 2]);
    const none = fakePrefix('none', null);
    expect(headers.chooseNodedir('v20.20.2', [other, none, mine])).toEqual({
      dir: mine,
      rejected: [`${other} has the headers of v20.19.2`, `${none} has no Node headers`],
    });
    expect(headers.chooseNodedir('v20.20.2', [other, none]).dir).toBeNull();
  });

  test('on this machine the running Node has its headers beside it', () => {
    const dirs = headers.candidateDirs(process.execPath, process.config.variables.node_prefix, undefined);
    expect(headers.chooseNodedir(process.version, dirs).dir).not.toBeNull();
  });
});

describe('scripts/check-node.js', () => {
  function runWith(engines: string): { status: number | null; out: string } {
    mkdirSync(join(tmp, 'scripts'));
    copyFileSync(join(ROOT, 'scripts', 'check-node.js'), join(tmp, 'scripts', 'check-node.js'));
    writeFileSync(join(tmp, 'package.json'), JSON.stringify({ engines: { node: engines } }));
    const r = spawnSync(process.execPath, [join(tmp, 'scripts', 'check-node.js')], { encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr };
  }

  test("passes on this project's own requirement", () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'check-node.js')], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Node.js ${process.version}`);
  });

  test('a Node too old fails, saying what is needed and where to get it', () => {
    const r = runWith('>=99');
    expect(r.status).toBe(1);
    expect(r.out).toContain(`wgmpls needs Node.js >= 99, but ${process.execPath} is ${process.version}`);
    expect(r.out).toContain("Debian 12's own nodejs package is 18");
    expect(r.out).toMatch(/nodesource/);
    expect(r.out).toMatch(/nodejs\.org/);
  });
});
