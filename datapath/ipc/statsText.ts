// `wgmpls stats IF`: what `wg show IF` prints, in its layout and words, plus what `wg` has no
// field for: the label-auth setting of each peer, the packets dropped by reason, the datapath's
// events and its label-switching counters. Built from a `wgmpls-get=1` and a `wgmpls-stats=1`
// answer (server.ts). Pure: text in, text out; the caller derives the interface's public key.
// The private key never reaches the output ("(hidden)", as `wg show` prints it).

import { answerLines, b64, keySet, readGetAnswer, type GetPeer } from './getAnswer';

export interface StatsDevice {
  hasPrivateKey: boolean;
  listenPort: number;
  fwmark: number;
  peers: StatsPeer[];
}

/** A peer as `wg show` shows it: its public key in base64, of its preshared key only whether it has one. */
export type StatsPeer = Omit<GetPeer, 'publicKeyHex' | 'presharedKeyHex'> & { publicKey: string; presharedKey: boolean };

function failedErrno(value: string, what: string): Error {
  return new Error(`the datapath refused ${what} (errno ${value})`);
}

/**
 * The device and its peers from a `wgmpls-get=1` answer, and apart from them the private key (hex,
 * only for deriving the public key); throws when the answer carries a non-zero errno.
 */
export function parseGetAnswer(answer: string): { device: StatsDevice; privateKeyHex: string | null } {
  const got = readGetAnswer(answer, (errno) => failedErrno(errno, 'wgmpls-get'));
  // An all-zero private key is no key: nothing to derive a public key from, nothing to hide.
  const privateKeyHex = keySet(got.privateKeyHex) ? got.privateKeyHex : null;
  const peers = got.peers.map(({ publicKeyHex, presharedKeyHex, ...rest }): StatsPeer => ({ ...rest, publicKey: b64(publicKeyHex), presharedKey: keySet(presharedKeyHex) }));
  return { device: { hasPrivateKey: privateKeyHex !== null, listenPort: got.listenPort, fwmark: got.fwmark, peers }, privateKeyHex };
}

/** The counters of a `wgmpls-stats=1` answer, in the datapath's order; throws on a non-zero errno. */
export function parseStatsAnswer(answer: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, value] of answerLines(answer, (errno) => failedErrno(errno, 'wgmpls-stats'))) out.set(key, Number(value));
  return out;
}

// ------------------------------------------------------------------ wg show's wording

const unit = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** wireguard-tools' pretty_time: "1 day, 2 hours, 1 minute, 5 seconds". */
export function prettyTime(seconds: number): string {
  let left = Math.max(0, Math.floor(seconds));
  const parts: string[] = [];
  for (const [size, word] of [
    [365 * 24 * 3600, 'year'],
    [24 * 3600, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ] as const) {
    const n = Math.floor(left / size);
    left %= size;
    if (n > 0) parts.push(unit(n, word));
  }
  return parts.join(', ');
}

/** wg show's "latest handshake": "Now", "... ago", or a clock running backwards. */
export function ago(sec: number, now: number): string {
  const nowSec = Math.floor(now);
  if (nowSec === sec) return 'Now';
  if (nowSec < sec) return '(System clock wound backward; connection problems may ensue.)';
  return `${prettyTime(nowSec - sec)} ago`;
}

/** wg show's byte counts: "123 B", "1.21 KiB" ... "TiB". */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(2)} ${units[i]}`;
}

// ------------------------------------------------------------------ the counters

interface Counters {
  drops: [string, number][];
  dropsTotal: number;
  dropsUdp: number;
  events: [string, number][];
  lsrDrops: [string, number][];
  routes: Map<string, { packets: number; bytes: number; ttlExpired: number }>;
}

function sortCounters(stats: ReadonlyMap<string, number>): Counters {
  const c: Counters = { drops: [], dropsTotal: stats.get('drops_total') ?? 0, dropsUdp: stats.get('drops_udp_total') ?? 0, events: [], lsrDrops: [], routes: new Map() };
  for (const [k, v] of stats) {
    const route = /^lsr\.route\.([^.]+)\.(packets|bytes|drop\.ttl-expired)$/.exec(k);
    if (route) {
      const r = c.routes.get(route[1]) ?? { packets: 0, bytes: 0, ttlExpired: 0 };
      if (route[2] === 'packets') r.packets = v;
      else if (route[2] === 'bytes') r.bytes = v;
      else r.ttlExpired = v;
      c.routes.set(route[1], r);
    } else if (k.startsWith('lsr.drop.')) c.lsrDrops.push([k.slice('lsr.drop.'.length), v]);
    else if (k.startsWith('drop.')) c.drops.push([k.slice('drop.'.length), v]);
    else if (k.startsWith('event.')) c.events.push([k.slice('event.'.length), v]);
  }
  const byName = (a: [string, number], b: [string, number]): number => a[0].localeCompare(b[0]);
  c.drops.sort(byName);
  c.events.sort(byName);
  c.lsrDrops.sort(byName);
  return c;
}

/** What each drop reason means, where its name alone does not say it. */
const DROP_NOTES: Readonly<Record<string, string>> = {
  'label-auth-mismatch': 'MPLS authenticated only under the other wgmpls-label-auth setting',
  'mpls-peer-not-allowed': 'MPLS from a peer that may not send it (--mpls-peers)',
  'source-not-allowed': "inner source outside the peer's allowed ips",
};

function counterLines(c: Counters): string[] {
  const out: string[] = [];
  out.push(`  dropped: ${unit(c.dropsTotal, 'packet')}${c.dropsTotal > 0 ? ` (${c.dropsUdp} received from the underlay, ${c.dropsTotal - c.dropsUdp} on the way out)` : ''}`);
  for (const [k, v] of c.drops) out.push(`    ${k}: ${v}${DROP_NOTES[k] ? ` (${DROP_NOTES[k]})` : ''}`);
  if (c.events.length > 0) out.push(`  events: ${c.events.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const lsrDropped = c.lsrDrops.filter(([, v]) => v > 0);
  if (c.routes.size > 0 || lsrDropped.length > 0) {
    out.push('  label switching:');
    const labels = [...c.routes.keys()].sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
    for (const l of labels) {
      const r = c.routes.get(l)!;
      out.push(`    label ${l}: ${unit(r.packets, 'packet')}, ${bytes(r.bytes)}${r.ttlExpired > 0 ? `, ${r.ttlExpired} ttl expired` : ''}`);
    }
    if (lsrDropped.length > 0) out.push(`    dropped: ${lsrDropped.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  return out;
}

// ------------------------------------------------------------------ the whole text

export interface StatsView {
  ifname: string;
  /** Base64, derived from the private key by the caller; null when the device has none. */
  publicKey: string | null;
  device: StatsDevice;
  counters: ReadonlyMap<string, number>;
  /** Seconds since the epoch. */
  now: number;
}

/** `wg show IF`'s text with the wgmpls counters after the interface's own lines. */
export function formatStats(v: StatsView): string {
  const d = v.device;
  const out: string[] = [`interface: ${v.ifname}`];
  if (v.publicKey) out.push(`  public key: ${v.publicKey}`);
  if (d.hasPrivateKey) out.push('  private key: (hidden)');
  if (d.listenPort) out.push(`  listening port: ${d.listenPort}`);
  if (d.fwmark) out.push(`  fwmark: 0x${d.fwmark.toString(16)}`);
  out.push(...counterLines(sortCounters(v.counters)));
  // wg show lists the most recent handshake first.
  const peers = [...d.peers].sort((a, b) => b.lastHandshakeSec - a.lastHandshakeSec);
  for (const p of peers) {
    out.push('', `peer: ${p.publicKey}`);
    if (p.presharedKey) out.push('  preshared key: (hidden)');
    if (p.endpoint) out.push(`  endpoint: ${p.endpoint}`);
    out.push(`  allowed ips: ${p.allowedIps.length > 0 ? p.allowedIps.join(', ') : '(none)'}`);
    if (p.labelAuth !== null) out.push(`  label auth: ${p.labelAuth ? 'on' : 'off'}`);
    if (p.lastHandshakeSec) out.push(`  latest handshake: ${ago(p.lastHandshakeSec, v.now)}`);
    if (p.rxBytes || p.txBytes) out.push(`  transfer: ${bytes(p.rxBytes)} received, ${bytes(p.txBytes)} sent`);
    if (p.keepalive) out.push(`  persistent keepalive: every ${prettyTime(p.keepalive)}`);
  }
  return out.join('\n') + '\n';
}
