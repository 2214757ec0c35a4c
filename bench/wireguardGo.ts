// Which wireguard-go binaries the benchmark and the interop tests run: the current upstream
// one, built by scripts/wireguard-go.sh at a pinned version (the reference the benchmark's
// targets are judged against), and Debian's packaged one (0.0.20220316, no TUN offloads), a
// second reference. The one place that knows where they are; the tests import it too.
//
// WGMPLS_WIREGUARD_GO names another binary to use as the current one (CI sets it to what the
// script printed); otherwise the script says where its cache keeps the build.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { run } from '../datapath/sys/exec';

// Compiled, this runs from dist/bench/; under ts-jest from bench/: the script is in either root.
const SCRIPT = [resolve(__dirname, '..', 'scripts', 'wireguard-go.sh'), resolve(__dirname, '..', '..', 'scripts', 'wireguard-go.sh')].find((p) => existsSync(p)) ?? 'scripts/wireguard-go.sh';

export const DEBIAN_WIREGUARD_GO = '/usr/bin/wireguard-go';
export const CURRENT_ENV = 'WGMPLS_WIREGUARD_GO';

export interface WireguardGo {
  /** 'current' (upstream, pinned) or 'Debian' (the distribution's package). */
  name: 'current' | 'Debian';
  binary: string;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where the current wireguard-go is (or would be once built); synchronous so tests can use it while collecting. */
export function currentWireguardGoPath(): string {
  const fromEnv = process.env[CURRENT_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const r = spawnSync('bash', [SCRIPT, '--path'], { encoding: 'utf8', timeout: 10_000 });
  const path = r.stdout?.trim() ?? '';
  if (r.status !== 0 || path === '') throw new Error(`bash ${SCRIPT} --path failed: ${(r.stderr ?? r.error?.message ?? '').trim()}`);
  return path;
}

/** The binary of `name`, or why it is not there (with the way to get it). */
export function findWireguardGo(name: WireguardGo['name']): WireguardGo | { name: WireguardGo['name']; missing: string } {
  const binary = name === 'Debian' ? DEBIAN_WIREGUARD_GO : currentWireguardGoPath();
  if (isExecutable(binary)) return { name, binary };
  const how = name === 'Debian' ? 'install the Debian package wireguard-go (scripts/install-deps.sh)' : `run \`bash scripts/wireguard-go.sh\`${process.env[CURRENT_ENV] ? ` or fix ${CURRENT_ENV}` : ''}`;
  return { name, missing: `wireguard-go ${name}: ${binary} is not an executable; ${how}` };
}

/** The current wireguard-go, built by the script first if it is not cached (needs Go and the module proxy). */
export async function buildCurrentWireguardGo(): Promise<WireguardGo> {
  const fromEnv = process.env[CURRENT_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!isExecutable(fromEnv)) throw new Error(`${CURRENT_ENV}=${fromEnv} is not an executable`);
    return { name: 'current', binary: fromEnv };
  }
  const r = await run('bash', [SCRIPT], { timeoutMs: 600_000 });
  const binary = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !isExecutable(binary)) throw new Error(`bash ${SCRIPT} could not build wireguard-go: ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  return { name: 'current', binary };
}

/** The first line of `binary --version`, e.g. "wireguard-go v0.0.20250522". */
export function wireguardGoVersion(binary: string): string {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return (r.stdout ?? '').trim().split('\n')[0] || `${binary}: no version (${r.error?.message ?? `exit ${r.status}`})`;
}
