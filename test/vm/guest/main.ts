// The VM's test run (started by its /init): every scenario in one boot, since booting under
// software emulation is the slow part.
import { scenario } from './report';
import { kernelLsrScenarios } from './kernelLsr';
import { interopScenarios } from './interop';

async function main(): Promise<void> {
  await scenario('vm: the kernel has MPLS routing and WireGuard', async () => {
    const { readFileSync } = await import('node:fs');
    const mods = readFileSync('/proc/modules', 'utf8');
    for (const m of ['mpls_router', 'mpls_iptunnel', 'wireguard']) if (!mods.includes(`${m} `)) throw new Error(`${m} not loaded`);
    return readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  });
  const only = process.env.WGMPLS_VM_ONLY;
  if (!only || only === 'lsr') await kernelLsrScenarios();
  if (!only || only === 'interop') await interopScenarios();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.log(`VMTEST-ERROR ${String(err)}`);
    process.exit(1);
  },
);
