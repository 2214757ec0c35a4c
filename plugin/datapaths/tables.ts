// A container's label table (its routes and LSR settings, /run/wgmpls/lsr/<netns cookie>/
// table.json) as the plugin carries it across a restart of the container. The table is keyed by
// the namespace's cookie, and a restarted container has a new namespace, hence an empty table:
// the plugin keeps a copy (in state.json, since /run does not survive a reboot) and merges it
// into the new namespace's table once the container's interfaces are back.
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { IpRoute, LsrBackend, LsrSettings, LsrTable, MplsRoute, defaultSettings } from '../../datapath/lsr/model';
import {
  LSR_ROOT,
  lsrDir,
  nsidOf,
  parseTable,
  readTable,
  serialiseTable,
  writeTable,
} from '../../datapath/lsr/store';
import { routeKey } from '../../datapath/lsr/command';
import { formatRoute } from '../../datapath/lsr/format';
import { sandboxPath } from './plumbing';

/** The cookie of the namespace behind a SandboxKey; null while it does not exist (yet). */
export function namespaceCookie(sandboxKey: string): string | null {
  const path = sandboxPath(sandboxKey);
  if (path === null) return null;
  try {
    return nsidOf(path);
  } catch {
    return null; // gone meanwhile
  }
}

function tableFile(nsid: string): string {
  return join(LSR_ROOT, nsid, 'table.json');
}

/** When the table was last replaced (writes are renames), or null when there is none. */
export function tableStamp(nsid: string): number | null {
  try {
    return statSync(tableFile(nsid)).mtimeMs;
  } catch {
    return null;
  }
}

/** The table as stored, or undefined when the namespace has none (or an unreadable one). */
export function readTableText(nsid: string): string | undefined {
  try {
    const text = readFileSync(tableFile(nsid), 'utf8');
    parseTable(text); // a torn or foreign file is not worth carrying
    return text;
  } catch {
    return undefined;
  }
}

function isDefault(t: LsrTable): boolean {
  return (Object.keys(defaultSettings) as (keyof LsrSettings)[]).every((k) => t.settings[k] === defaultSettings[k]);
}

/** Routes of `base` stay; `extra` adds the routes base has no route for (same label / prefix). */
export function mergeTables(base: LsrTable, extra: LsrTable): LsrTable {
  const have = new Set([...base.mpls, ...base.ip].map(routeKey));
  // Who switches comes with the routes: base's if it has any, else the carried table's.
  const backend = base.mpls.length + base.ip.length > 0 ? base.backend : (extra.backend ?? base.backend);
  return {
    mpls: [...base.mpls, ...extra.mpls.filter((r) => !have.has(routeKey(r)))],
    ip: [...base.ip, ...extra.ip.filter((r) => !have.has(routeKey(r)))],
    // Settings changed by hand (`wgmpls sysctl -w`) are kept unless the new table has its own.
    settings: isDefault(base) ? { ...extra.settings } : { ...base.settings },
    ...(backend ? { backend } : {}),
  };
}

/** Every route's device renamed through `names` at once (so wgm0 <-> wgm1 swaps work). */
export function renameDevices(t: LsrTable, names: ReadonlyMap<string, string>): LsrTable {
  const dev = (d: string): string => names.get(d) ?? d;
  return {
    ...t,
    mpls: t.mpls.map((r): MplsRoute => ({ ...r, dev: dev(r.dev) })),
    ip: t.ip.map((r): IpRoute => ({ ...r, dev: dev(r.dev) })),
  };
}

/** Two serialised tables as one (the first wins); undefined when neither has anything. */
export function combineTexts(first: string | undefined, second: string | undefined): string | undefined {
  const parse = (t: string | undefined): LsrTable | null => {
    try {
      return t === undefined ? null : parseTable(t);
    } catch {
      return null;
    }
  };
  const a = parse(first);
  const b = parse(second);
  const t = a && b ? mergeTables(a, b) : (a ?? b);
  if (!t || (t.mpls.length === 0 && t.ip.length === 0 && isDefault(t))) return undefined;
  return serialiseTable(t);
}

/**
 * Merges `saved` (renamed through `names`) into the namespace's current table; what is there
 * already wins (the `wgmpls.routes` label may have been applied first). The datapaths follow the
 * file and put the kernel routes of FTN prefixes back themselves. Returns the routes added.
 */
export function restoreTable(nsid: string, saved: string, names: ReadonlyMap<string, string>): number {
  const current = readTable(join(LSR_ROOT, nsid));
  const merged = mergeTables(current, renameDevices(parseTable(saved), names));
  const added = merged.mpls.length + merged.ip.length - current.mpls.length - current.ip.length;
  if (added > 0 || serialiseTable(merged) !== serialiseTable(current)) writeTable(lsrDir(nsid), merged);
  return added;
}

/** The directory of a namespace nobody of ours uses any more (its copy lives in the state). */
export function removeTableDir(nsid: string): void {
  rmSync(join(LSR_ROOT, nsid), { recursive: true, force: true });
}

/**
 * The container's routes as `ip` prints them (MPLS first), for `wgmpls show`: from the live
 * table, or from the state's copy when the namespace has none (the container is stopped).
 */
export function routeLines(nsid: string | undefined, copy: string | undefined): string[] {
  const text = (nsid ? readTableText(nsid) : undefined) ?? copy;
  if (text === undefined) return [];
  let t: LsrTable;
  try {
    t = parseTable(text);
  } catch {
    return [];
  }
  return [...t.mpls, ...t.ip].map((r) => formatRoute(r).replace(/\s+/g, ' ').trim());
}

/** Who switches the labels of the namespace `nsid`: its table's backend, null when it has no routes. */
export function lsrBackend(nsid: string | undefined): LsrBackend | null {
  const text = nsid ? readTableText(nsid) : undefined;
  if (text === undefined) return null;
  try {
    const t = parseTable(text);
    return t.mpls.length + t.ip.length > 0 ? (t.backend ?? 'userspace') : null;
  } catch {
    return null;
  }
}
