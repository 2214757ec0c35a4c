// Kernel behaviour, tested in a VM: Debian's kernel (MPLS routing and WireGuard as modules,
// which this machine's kernel lacks) boots under qemu from an initramfs made of this machine's
// programs and the built project (image.ts); the guest (guest/main.ts) runs every scenario in
// one boot and reports each on the serial console. Needs root, qemu-system-x86 and
// linux-image-amd64 (scripts/install-deps.sh); in CI a missing part fails the test, elsewhere
// the test is skipped (test/canRun.ts). Run alone: npx jest --selectProjects vm (WGMPLS_VM_ONLY=lsr|interop
// narrows the guest's run, WGMPLS_VM_KEEP=1 keeps the image directory, WGMPLS_VM_VERBOSE=1 shows the console as it comes).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildImage, findKernel } from './image';
import { boot, qemuAvailable } from './qemu';
import { REPORT_PREFIX, ScenarioReport } from './guest/report';
import { describeWhere, firstReason, needRoot } from '../canRun';

const ROOT = resolve(__dirname, '..', '..');
const GUEST_FILES = [
  'test/vm/guest/main.ts',
  'test/vm/guest/report.ts',
  'test/vm/guest/kernelLsr.ts',
  'test/vm/guest/interop.ts',
  'test/net/harness.ts',
  'test/net/lsrTopology.ts',
];
/** Every scenario the guest must report, passed. */
const EXPECTED: Record<string, string[]> = {
  vm: ['vm: the kernel has MPLS routing and WireGuard'],
  lsr: [
    'router (kernel LSR): wgmpls ip installs real kernel routes by netlink',
    'router (kernel LSR): IPv4 and IPv6 ping end to end both ways; the datapaths switch nothing',
    'router (kernel LSR): traceroute from 1 to 6 reaches 6 in 5 hops; the kernel LSRs expire probes silently',
    "router (kernel LSR): wgmpls sysctl sets the kernel's ip_ttl_propagate and default_ttl, refuses icmp_respond; pipe at the ingress still shows every hop",
    'router (kernel LSR): after a restart of two datapaths (new TUNs) their kernel routes and MPLS input are back; traffic flows',
    'plugin route path (kernel LSR): a batch the kernel refuses names the route and the reason; nothing of it is installed',
    'stack (kernel LSR): encap mpls 100/200, swap 100 -> 101, pop 101, pop 200 to lo; both directions',
  ],
  interop: [
    'interop with kernel WireGuard: wgmpls initiates over IPv4; IPv4 and IPv6 inside',
    'interop with kernel WireGuard: wgmpls rekeys its session and traffic goes on',
    'interop with kernel WireGuard: the kernel initiates over IPv6; IPv4 and IPv6 inside',
    'interop with kernel WireGuard: 20 MB each way over TCP arrive with the same SHA-256',
  ],
};

const kernel = findKernel();
const d = describeWhere(
  firstReason(
    needRoot('root (qemu, the initramfs)'),
    qemuAvailable() ? null : 'needs qemu-system-x86_64 (scripts/install-deps.sh)',
    kernel === null ? 'needs a Debian kernel with mpls_router in /boot (linux-image-amd64, scripts/install-deps.sh)' : null,
  ),
);

d('in a VM with the Debian kernel', () => {
  jest.setTimeout(600_000);
  let reports: ScenarioReport[] = [];
  let consoleText = '';
  let ms = 0;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgmpls-vm-'));
    try {
      const cpio = buildImage(ROOT, join(dir, 'root'), kernel!, GUEST_FILES);
      const only = process.env.WGMPLS_VM_ONLY;
      const r = await boot(kernel!.vmlinuz, cpio, {
        timeoutMs: 480_000,
        env: only ? { WGMPLS_VM_ONLY: only } : {},
        onLine: process.env.WGMPLS_VM_VERBOSE === '1' ? (l) => process.stdout.write(`vm| ${l}\n`) : undefined,
      });
      consoleText = r.console;
      ms = r.ms;
      // The firmware's terminal resets can share a line with the first report: find the prefix.
      reports = r.console
        .split('\n')
        .filter((l) => l.includes(REPORT_PREFIX))
        .map((l) => JSON.parse(l.slice(l.indexOf(REPORT_PREFIX) + REPORT_PREFIX.length)) as ScenarioReport);
      if (r.timedOut) consoleText += '\n[qemu killed at the deadline]';
    } finally {
      if (process.env.WGMPLS_VM_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the guest ran to the end and powered off', () => {
    expect({ exit: /VMTEST-EXIT 0/.test(consoleText), errors: consoleText.split('\n').filter((l) => l.includes('VMTEST-ERROR')) }).toEqual({ exit: true, errors: [] });
    console.log(`VM run: ${Math.round(ms / 1000)} s, ${reports.length} scenarios\n${reports.map((r) => `  ${Math.round(r.ms / 1000)} s  ${r.name}`).join('\n')}`);
  });

  const only = process.env.WGMPLS_VM_ONLY;
  const names = [...EXPECTED.vm, ...(!only || only === 'lsr' ? EXPECTED.lsr : []), ...(!only || only === 'interop' ? EXPECTED.interop : [])];
  test.each(names)('%s', (name) => {
    const r = reports.find((x) => x.name === name);
    expect(r ? { ok: r.ok, detail: r.ok ? '' : r.detail } : `not reported; console:\n${consoleText.slice(-4000)}`).toEqual({ ok: true, detail: '' });
  });
});
