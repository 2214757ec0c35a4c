// The LSR's settings under the sysctl names users already know: Linux's net.mpls.* where it
// has one, NetBSD mpls(4)'s otherwise (its inet_mapttl is Linux's ip_ttl_propagate).
import { LsrSettings, RouteError } from './model';

interface Key {
  field: keyof LsrSettings;
  min: number;
  max: number;
}

const KEYS: Record<string, Key> = {
  'net.mpls.ip_ttl_propagate': { field: 'ttlPropagate', min: 0, max: 1 },
  'net.mpls.default_ttl': { field: 'defaultTtl', min: 1, max: 255 },
  'net.mpls.inet_map_prec': { field: 'mapPrecedence', min: 0, max: 1 },
  'net.mpls.icmp_respond': { field: 'icmpRespond', min: 0, max: 1 },
  'net.mpls.rfc4182': { field: 'rfc4182', min: 0, max: 1 },
  // Linux's net.ipv4.icmp_ratelimit, for the time-exceeded replies of this LSR (ms, 0 = off).
  'net.mpls.icmp_ratelimit': { field: 'icmpRatelimit', min: 0, max: 3_600_000 },
};
const ALIASES: Record<string, string> = {
  'net.mpls.inet_mapttl': 'net.mpls.ip_ttl_propagate',
  'net.mpls.inet6_mapttl': 'net.mpls.ip_ttl_propagate',
  'net.mpls.inet6_map_prec': 'net.mpls.inet_map_prec',
  'net.mpls.ttl': 'net.mpls.default_ttl',
};

const canonical = (name: string): string | undefined => {
  const n = name.replace(/\//g, '.');
  return n in KEYS ? n : ALIASES[n];
};

const valueOf = (s: LsrSettings, k: Key): number => {
  const v = s[k.field];
  return typeof v === 'boolean' ? Number(v) : v;
};

export interface SysctlResult {
  settings: LsrSettings;
  changed: boolean;
  output: string;
}

/** `sysctl [-w] [-a] NAME[=VALUE]...` over the LSR settings; throws RouteError naming the problem. */
export function sysctl(args: readonly string[], current: LsrSettings): SysctlResult {
  const settings: LsrSettings = { ...current };
  let changed = false;
  let out = '';
  const names = args.filter((a) => !a.startsWith('-'));
  const all = args.includes('-a') || names.length === 0 || names.every((n) => n === 'net.mpls');
  if (all) {
    for (const [name, k] of Object.entries(KEYS)) out += `${name} = ${valueOf(settings, k)}\n`;
    return { settings, changed, output: out };
  }
  for (const arg of names) {
    const eq = arg.indexOf('=');
    const name = (eq < 0 ? arg : arg.slice(0, eq)).trim();
    const key = canonical(name);
    if (!key) throw new RouteError(`sysctl: cannot stat /proc/sys/${name.replace(/\./g, '/')}: No such file or directory (known: ${Object.keys(KEYS).join(', ')})`);
    const k = KEYS[key];
    if (eq >= 0) {
      const raw = arg.slice(eq + 1).trim();
      const v = Number(raw);
      if (!/^\d+$/.test(raw) || v < k.min || v > k.max) throw new RouteError(`sysctl: setting key "${key}": Invalid argument (${k.min}-${k.max})`);
      if (k.field === 'defaultTtl' || k.field === 'icmpRatelimit') settings[k.field] = v;
      else settings[k.field] = v === 1;
      changed = true;
    }
    out += `${key} = ${valueOf(settings, k)}\n`;
  }
  return { settings, changed, output: out };
}
