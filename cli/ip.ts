// `wgmpls ip ...` and `wgmpls sysctl ...`: a thin shell over datapath/lsr/namespaceRoutes.ts;
// `--container` finds the container's namespace through dockerd first.
import { IpNamespace, IpResult, parseIp, runIp } from '../datapath/lsr/namespaceRoutes';
import type { LsrMode } from '../datapath/lsr/model';

export { ownNamespace, runIp, runSysctl } from '../datapath/lsr/namespaceRoutes';

/**
 * `wgmpls ip --container C ARGS` on the host: the same command in container C's namespace.
 * Docker is asked only here, and its client loaded only then: every datapath starts through
 * this CLI and must not pay for it.
 */
export async function runIpInContainer(container: string, argv: string[], lsr?: LsrMode): Promise<IpResult> {
  const cmd = parseIp(argv);
  if ('stderr' in cmd) return cmd;
  const { containerNamespace } = await import('../plugin/routes/container');
  let ns: IpNamespace;
  try {
    ns = await containerNamespace(container);
  } catch (err) {
    return { code: 1, stdout: '', stderr: `wgmpls ip: ${(err as Error).message}\n` };
  }
  return runIp(argv, { ...ns, lsr });
}

