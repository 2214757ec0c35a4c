// Where a namespace's label-switching tables live, and how its endpoints find each other:
//   /run/wgmpls/lsr/<nsid>/table.json    routes and settings, replaced atomically
//   /run/wgmpls/lsr/<nsid>/<ifname>.sock one per endpoint: hand-over between siblings
// <nsid> is the namespace's cookie, the one identity every process that can see the namespace
// agrees on (a datapath may live in the host namespace with its TUN inside).
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  writeSync,
  chmodSync,
  rmSync,
  statSync,
} from 'node:fs';
import { loadTunAddon } from '../tun/native';
import { join } from 'node:path';
import { ipToString, parseIp, parsePrefix, prefixToString } from '../net/addr';
import { IpRoute, LsrBackend, LsrSettings, LsrTable, MplsRoute, NextHop, defaultSettings } from './model';

export const LSR_ROOT = process.env.WGMPLS_LSR_DIR ?? '/run/wgmpls/lsr';

/**
 * The namespace's identity for its tables: its SO_NETNS_COOKIE. Not the nsfs inode: inodes
 * are reused once a namespace is gone, and a new namespace must never inherit old routes.
 */
export function nsidOf(nsPath?: string): string {
  return loadTunAddon().netnsCookie(nsPath);
}

export function lsrDir(nsid: string): string {
  const dir = join(LSR_ROOT, nsid);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

export const emptyTable = (): LsrTable => ({ mpls: [], ip: [], settings: { ...defaultSettings } });

interface StoredNextHop {
  family: 4 | 6;
  addr: string;
}
interface StoredTable {
  version: 1;
  mpls: { label: number; outLabels: number[]; via: StoredNextHop | null; dev: string }[];
  ip: { prefix: string; labels: number[]; via: StoredNextHop | null; dev: string }[];
  settings: LsrSettings;
  backend?: LsrBackend;
}

const viaOut = (v: NextHop | null): StoredNextHop | null => (v ? { family: v.family, addr: ipToString(v.addr) } : null);
function viaIn(v: StoredNextHop | null): NextHop | null {
  if (!v) return null;
  const addr = parseIp(v.addr);
  if (!addr) throw new Error(`bad next hop ${v.addr} in table`);
  return { family: v.family, addr };
}

export function serialiseTable(t: LsrTable): string {
  const s: StoredTable = {
    version: 1,
    mpls: t.mpls.map((r) => ({ label: r.label, outLabels: r.outLabels, via: viaOut(r.via), dev: r.dev })),
    ip: t.ip.map((r) => ({ prefix: prefixToString(r.prefix), labels: r.labels, via: viaOut(r.via), dev: r.dev })),
    settings: t.settings,
    ...(t.backend ? { backend: t.backend } : {}),
  };
  return JSON.stringify(s, null, 1) + '\n';
}

export function parseTable(text: string): LsrTable {
  const s = JSON.parse(text) as StoredTable;
  if (s.version !== 1) throw new Error(`unsupported table version ${String(s.version)}`);
  const mpls: MplsRoute[] = s.mpls.map((r) => ({ label: r.label, outLabels: r.outLabels, via: viaIn(r.via), dev: r.dev }));
  const ip: IpRoute[] = s.ip.map((r) => {
    const prefix = parsePrefix(r.prefix);
    if (!prefix) throw new Error(`bad prefix ${r.prefix} in table`);
    return { prefix, labels: r.labels, via: viaIn(r.via), dev: r.dev };
  });
  const backend = s.backend === 'kernel' || s.backend === 'userspace' ? s.backend : undefined;
  return { mpls, ip, settings: { ...defaultSettings, ...s.settings }, ...(backend ? { backend } : {}) };
}

export function readTable(dir: string): LsrTable {
  let text: string;
  try {
    text = readFileSync(join(dir, 'table.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyTable();
    throw err;
  }
  return parseTable(text);
}

/** Atomic replace: write a temporary file, fsync it, rename over the old one. */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function writeTable(dir: string, t: LsrTable): void {
  writeFileAtomic(join(dir, 'table.json'), serialiseTable(t));
}

/** The endpoints (TUN names) that have a datapath in this namespace right now. */
export function endpointsIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sock'))
    .map((f) => f.slice(0, -'.sock'.length));
}

/** Where network namespaces can be found pinned: every process's, and the bind mounts of ip and Docker. */
function livePins(): string[] {
  const pins: string[] = [];
  for (const pid of readdirSync('/proc')) if (/^\d+$/.test(pid)) pins.push(`/proc/${pid}/ns/net`);
  for (const dir of ['/var/run/netns', '/var/run/docker/netns']) {
    try {
      for (const f of readdirSync(dir)) pins.push(join(dir, f));
    } catch {
      // not there on this host
    }
  }
  return pins;
}

/**
 * Removes the tables of namespaces that no longer exist (a container removed, a namespace
 * deleted): their cookie is never reused, so nothing could ever read them again. Only
 * directories untouched for `minAgeMs` go, so a namespace being set up is never raced.
 */
export function gcStaleTables(minAgeMs = 60_000): string[] {
  let dirs: string[];
  try {
    dirs = readdirSync(LSR_ROOT);
  } catch {
    return [];
  }
  const seen = new Set<string>();
  const live = new Set<string>();
  const addon = loadTunAddon();
  for (const pin of livePins()) {
    try {
      const st = statSync(pin);
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
      live.add(addon.netnsCookie(pin));
    } catch {
      // the process exited meanwhile, or the pin is not a namespace
    }
  }
  const removed: string[] = [];
  const now = Date.now();
  for (const d of dirs) {
    if (live.has(d)) continue;
    const path = join(LSR_ROOT, d);
    try {
      if (now - statSync(path).mtimeMs < minAgeMs) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(d);
    } catch {
      // raced with another datapath's clean-up
    }
  }
  return removed;
}
