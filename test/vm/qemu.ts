// Boots the test VM under qemu (software emulation: no KVM here) and returns what it printed
// on its serial console. No network device: the only links are those the guest makes itself.
// The qemu process is always gone when this returns (killed at the deadline if need be).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface BootResult {
  console: string;
  /** Wall-clock time from spawn to exit. */
  ms: number;
  timedOut: boolean;
}

export const QEMU = '/usr/bin/qemu-system-x86_64';

export function qemuAvailable(): boolean {
  return existsSync(QEMU);
}

export function boot(vmlinuz: string, initrd: string, opts: { timeoutMs: number; onLine?: (line: string) => void; env?: Record<string, string> }): Promise<BootResult> {
  const args = [
    '-machine', 'q35,accel=tcg',
    '-cpu', process.env.WGMPLS_VM_CPU ?? 'max',
    '-smp', '2',
    '-m', '2048',
    '-nic', 'none',
    '-nographic',
    '-no-reboot',
    '-kernel', vmlinuz,
    '-initrd', initrd,
    // panic=-1: a kernel panic reboots at once, and -no-reboot turns that into an exit.
    // Parameters the kernel does not know (NAME=value) reach /init as its environment.
    '-append', ['console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init', ...Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`)].join(' '),
  ];
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('nice', [QEMU, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let partial = '';
    let timedOut = false;
    const onData = (d: Buffer): void => {
      const s = d.toString();
      out += s;
      partial += s;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) opts.onLine?.(l.replace(/\r$/, ''));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ console: out.replace(/\r/g, ''), ms: Date.now() - start, timedOut });
    });
  });
}
