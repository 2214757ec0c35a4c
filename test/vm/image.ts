// The VM's initramfs, built from this machine's own files: busybox for the shell, the host's
// node, ip, wg, ping and traceroute with the libraries ldd names, the built project (dist/, the
// addon, the production node_modules), the guest scenarios transpiled from test/, and the
// kernel modules the scenarios need with their dependencies from modules.dep. The kernel is
// Debian's linux-image-amd64 (mpls_router, mpls_iptunnel and wireguard are modules there).
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { execFileSync } from 'node:child_process';
import * as ts from 'typescript';

/** Modules the scenarios load, in the order given (dependencies are put before each). */
export const MODULES = ['tun', 'veth', 'mpls_router', 'mpls_iptunnel', 'wireguard'];
/** Programs from the host, found on PATH and copied with their libraries. */
const PROGRAMS = ['node', 'ip', 'wg', 'ping', 'traceroute'];
/** busybox applets /init and the scenarios use (never one of PROGRAMS); `cat`, `ls` for debugging. */
const APPLETS = ['sh', 'mount', 'mkdir', 'echo', 'insmod', 'poweroff', 'sysctl', 'true', 'cat', 'ls'];

export interface Kernel {
  version: string;
  vmlinuz: string;
  modulesDir: string;
}

/** The newest Debian kernel in /boot whose modules include MPLS routing; null if none. */
export function findKernel(): Kernel | null {
  if (!existsSync('/boot')) return null;
  const versions = readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => existsSync(`/lib/modules/${v}/kernel/net/mpls/mpls_router.ko`))
    .sort();
  const version = versions.at(-1);
  return version ? { version, vmlinuz: `/boot/vmlinuz-${version}`, modulesDir: `/lib/modules/${version}` } : null;
}

/** modules.dep: module name -> its file and the files it needs (deepest first, as depmod writes them). */
function moduleFiles(modulesDir: string, wanted: readonly string[]): string[] {
  const deps = new Map<string, string[]>();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const [file, rest] = line.split(':');
    if (!file) continue;
    deps.set(file, (rest ?? '').trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map([...deps.keys()].map((f) => [f.split('/').at(-1)!.replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_'), f]));
  const order: string[] = [];
  const add = (file: string): void => {
    if (order.includes(file)) return;
    // depmod lists a module's dependencies so that loading them from last to first works.
    for (const d of [...(deps.get(file) ?? [])].reverse()) add(d);
    order.push(file);
  };
  for (const name of wanted) {
    const file = byName.get(name);
    if (!file) throw new Error(`kernel module ${name} not in ${modulesDir}/modules.dep`);
    add(file);
  }
  return order;
}

function which(cmd: string): string {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = join(dir, cmd);
    if (existsSync(p)) return p;
  }
  throw new Error(`${cmd} not found on PATH (the VM image needs it)`);
}

/** The shared libraries `ldd` says a program needs (the loader included). */
function libraries(program: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [program], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return []; // "not a dynamic executable" (busybox-static): nothing to copy
  }
  return [...out.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]);
}

function copyInto(root: string, path: string, as = path): void {
  const dest = join(root, as);
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(realpathSync(path), dest);
  chmodSync(dest, 0o755);
}

/** Production dependencies only, without their tests and docs (pino's tests alone are 400 MB). */
function copyNodeModules(project: string, dest: string): void {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--parseable', '--all'], { cwd: project, encoding: 'utf8' });
  const skip = new Set(['test', 'tests', 'docs', 'doc', 'benchmarks', 'bench', 'example', 'examples', '.github']);
  for (const dir of out.split('\n').slice(1).filter(Boolean)) {
    const rel = relative(project, dir);
    cpSync(dir, join(dest, rel), {
      recursive: true,
      filter: (src) => {
        const inside = relative(dir, src).split('/');
        return !(inside.length === 1 && skip.has(inside[0])) && !inside.includes('node_modules');
      },
    });
  }
}

/** Transpiles the guest's TypeScript (and the test harness it shares) to CommonJS. */
function transpile(project: string, files: readonly string[], dest: string): void {
  for (const f of files) {
    const src = readFileSync(join(project, f), 'utf8');
    const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
    const out = join(dest, f.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, js);
  }
}

const INIT = (modules: string[]): string => `#!/bin/sh
# PID 1 of the test VM: mount what Linux programs expect, load the modules, run the scenarios
# (their report goes to the serial console), power off.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mkdir -p /run/netns /run/wireguard
for m in ${modules.join(' ')}; do insmod /modules/$m || echo "VMTEST-ERROR insmod $m"; done
ip link set lo up
cd /wgmpls
node test/vm/guest/main.js
echo "VMTEST-EXIT $?"
poweroff -f
`;

/**
 * Writes the image tree under `root` and packs it as `root`.cpio (newc, uncompressed: the
 * kernel unpacks it faster than it could inflate it under software emulation).
 */
export function buildImage(project: string, root: string, kernel: Kernel, guestFiles: readonly string[]): string {
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'run', 'etc', 'var', 'modules']) mkdirSync(join(root, d), { recursive: true });
  symlinkSync('/run', join(root, 'var', 'run'));
  // Debian's busybox is dynamically linked, busybox-static is not: the libraries either way.
  copyInto(root, which('busybox'), '/bin/busybox');
  for (const lib of libraries(which('busybox'))) copyInto(root, lib);
  for (const a of APPLETS) symlinkSync('busybox', join(root, 'bin', a));
  for (const p of PROGRAMS) {
    const path = which(p);
    copyInto(root, path, `/bin/${p}`);
    for (const lib of libraries(path)) copyInto(root, lib);
  }
  for (const f of ['/etc/protocols', '/etc/services']) if (existsSync(f)) copyInto(root, f);
  writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');

  const mods = moduleFiles(kernel.modulesDir, MODULES);
  for (const m of mods) copyFileSync(join(kernel.modulesDir, m), join(root, 'modules', m.split('/').at(-1)!));
  const init = join(root, 'init');
  writeFileSync(init, INIT(mods.map((m) => m.split('/').at(-1)!)));
  chmodSync(init, 0o755);

  const app = join(root, 'wgmpls');
  mkdirSync(app);
  copyFileSync(join(project, 'package.json'), join(app, 'package.json'));
  cpSync(join(project, 'dist'), join(app, 'dist'), { recursive: true, filter: (s) => !s.endsWith('.map') });
  mkdirSync(join(app, 'build', 'Release'), { recursive: true });
  copyFileSync(join(project, 'build', 'Release', 'wgmpls_native.node'), join(app, 'build', 'Release', 'wgmpls_native.node'));
  copyNodeModules(project, app);
  // The transpiled guest and test/net harness import ../../datapath/... as from the source tree.
  for (const d of ['datapath', 'plugin', 'cli']) symlinkSync(`dist/${d}`, join(app, d));
  transpile(project, guestFiles, app);

  const cpio = `${root}.cpio`;
  execFileSync('sh', ['-c', `cd "${root}" && find . | cpio -o -H newc --quiet > "${cpio}"`]);
  return cpio;
}
