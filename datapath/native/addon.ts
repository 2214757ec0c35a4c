// The native addon (datapath/native/module.c and its parts, built by `npm run build:addon`):
// the TUN device, the UDP underlay and the transport AEAD. Each part has its typed view
// (tun/native.ts, conn/native.ts, crypto/nativeAead.ts); this file only finds and loads it.
//
// The addon is located from the package root rather than relative to this file because this
// file runs both from source (ts-jest, datapath/native/) and compiled (dist/datapath/native/),
// while node-gyp always writes to <root>/build/Release.

import * as fs from 'node:fs';
import * as path from 'node:path';

const PACKAGE_NAME = 'wgmpls';
const ADDON_RELATIVE = path.join('build', 'Release', 'wgmpls_native.node');

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

/** Where the built addon is (it may not exist yet). */
export function addonPath(): string {
  return path.join(findPackageRoot(), ADDON_RELATIVE);
}

let cached: Record<string, unknown> | null = null;

/**
 * Loaded on first use, not at import: modules that merely import the types (the CLI's help,
 * the plugin) must keep working on a checkout where the addon has not been built. `needed`
 * are the functions the caller uses: a stale build without them is reported as such.
 */
export function loadNativeAddon<T>(needed: readonly (keyof T & string)[]): T {
  if (cached === null) {
    const file = addonPath();
    if (!fs.existsSync(file)) {
      throw new Error(`wgmpls: the native addon ${file} is missing; run \`npm run build\` in ${findPackageRoot()} first`);
    }
    try {
      // A copy: the module's own exports object, filled one property at a time by the addon, is
      // in V8's dictionary mode, and every call through it (several a packet) would look its
      // function up in a hash table instead of an inline cache.
      cached = { ...(require(file) as Record<string, unknown>) };
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`wgmpls: cannot load the native addon ${file} (${why}); rebuild it with \`npm run build\``, {
        cause: err,
      });
    }
  }
  for (const name of needed) {
    if (typeof cached[name] !== 'function') {
      throw new Error(`wgmpls: the native addon does not export ${name}(); it is stale, rebuild it with \`npm run build\``);
    }
  }
  return cached as T;
}
