// Typed access to the native TUN addon (datapath/tun/native/tun.c, built by `npm run build:addon`).
//
// The addon is located from the package root rather than relative to this file because this
// file runs both from source (ts-jest, datapath/tun/) and compiled (dist/datapath/tun/), while
// node-gyp always writes to <root>/build/Release.

import * as fs from 'node:fs';
import * as path from 'node:path';

export interface TunOpenResult {
  fd: number;
  /** The name the kernel actually gave the interface (differs only for patterns like tun%d). */
  name: string;
}

/** Opaque token from startReading; only meaningful to stopReading. */
export interface TunReadHandle {
  readonly __brand: 'wgmpls.TunReadHandle';
}

/**
 * Called once per readable event with every packet read in that event (each a private copy,
 * PI header included), or with (null, errnoName) when a read failed. EBADFD / EBADF mean the
 * device is gone and reading has stopped; anything else (EIO...) is reported and polling goes on.
 */
export type TunReadCallback = (...args: [packets: Buffer[]] | [packets: null, errorCode: string]) => void;

/** Errors thrown by open/close carry the errno name, like Node's own system errors. */
export interface TunSystemError extends Error {
  code: string;
  errno: number;
}

export interface TunAddon {
  /** mtu <= 0 leaves the MTU alone. netnsPath: a bind-mounted or /proc/PID/ns/net netns file. */
  open(name: string, netnsPath: string | undefined, mtu: number): TunOpenResult;
  startReading(fd: number, callback: TunReadCallback): TunReadHandle;
  /** Idempotent. */
  stopReading(handle: TunReadHandle): void;
  /** Bytes written (PI header included), or a negative errno; never throws for kernel refusals. */
  write(fd: number, proto: number, packet: Buffer | Uint8Array): number;
  close(fd: number): void;
  /** The network namespace's SO_NETNS_COOKIE (never reused, unlike its inode), as a decimal string. */
  netnsCookie(netnsPath: string | undefined): string;
  /** The TUN's current name and a new fd on its current network namespace (caller closes it). */
  tunInfo(fd: number): { name: string; netnsFd: number };
}

const PACKAGE_NAME = 'wgmpls';
const ADDON_RELATIVE = path.join('build', 'Release', 'wgmpls_tun.node');

function isPackageRoot(dir: string): boolean {
  const manifest = path.join(dir, 'package.json');
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && (parsed as { name?: unknown }).name === PACKAGE_NAME;
  } catch {
    // Missing or unreadable manifests are normal on the way up (dist/, datapath/...).
    return false;
  }
}

export function findPackageRoot(start: string = __dirname): string {
  let dir = path.resolve(start);
  for (;;) {
    if (isPackageRoot(dir)) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`wgmpls: cannot find the package root (a package.json named "${PACKAGE_NAME}") above ${start}`);
    }
    dir = parent;
  }
}

const EXPORTS: readonly (keyof TunAddon)[] = ['open', 'startReading', 'stopReading', 'write', 'close'];

let cached: TunAddon | null = null;

/**
 * Loaded on first use, not at import: modules that merely import the TUN types (unit tests,
 * the CLI's help) must keep working on a checkout where the addon has not been built.
 */
export function loadTunAddon(): TunAddon {
  if (cached !== null) return cached;
  const root = findPackageRoot();
  const file = path.join(root, ADDON_RELATIVE);
  if (!fs.existsSync(file)) {
    throw new Error(`wgmpls: the native TUN addon ${file} is missing; run \`npm run build\` in ${root} first`);
  }
  let mod: unknown;
  try {
    mod = require(file);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`wgmpls: cannot load the native TUN addon ${file} (${why}); rebuild it with \`npm run build\``, {
      cause: err,
    });
  }
  const record = mod as Record<string, unknown>;
  for (const name of EXPORTS) {
    if (typeof record[name] !== 'function') {
      throw new Error(`wgmpls: ${file} does not export ${name}(); it is stale, rebuild it with \`npm run build\``);
    }
  }
  cached = mod as TunAddon;
  return cached;
}
