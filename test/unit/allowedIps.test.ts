import { isIP } from 'node:net';
import { AllowedIps } from '../../datapath/device/allowedIps';
import type { Prefix } from '../../datapath/device/config';

interface Peer {
  name: string;
}

function v4(s: string): Uint8Array {
  return Uint8Array.from(s.split('.').map(Number));
}

function v6(s: string): Uint8Array {
  // Expands '::' then reads eight 16-bit groups.
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}

function p(cidr: string): Prefix {
  const [a, bits] = cidr.split('/');
  return { addr: isIP(a) === 4 ? v4(a) : v6(a), bits: Number(bits) };
}

function addr(s: string): Uint8Array {
  return isIP(s) === 4 ? v4(s) : v6(s);
}

const A: Peer = { name: 'A' };
const B: Peer = { name: 'B' };
const C: Peer = { name: 'C' };

function names(t: AllowedIps<Peer>, addrs: string[]): (string | undefined)[] {
  return addrs.map((s) => t.lookup(addr(s))?.name);
}

describe('AllowedIps IPv4', () => {
  test('longest prefix wins across overlapping prefixes of different peers', () => {
    const t = new AllowedIps<Peer>();
    t.insert(p('10.0.0.0/8'), A);
    t.insert(p('10.1.0.0/16'), B);
    t.insert(p('10.1.2.0/24'), C);
    t.insert(p('10.1.2.3/32'), A);
    expect(names(t, ['10.9.9.9', '10.1.9.9', '10.1.2.9', '10.1.2.3', '11.0.0.1'])).toEqual([
      'A',
      'B',
      'C',
      'A',
      undefined,
    ]);
  });

  test('/0 is the default, and /32 matches only itself', () => {
    const t = new AllowedIps<Peer>();
    t.insert(p('0.0.0.0/0'), A);
    t.insert(p('192.0.2.1/32'), B);
    expect(names(t, ['192.0.2.1', '192.0.2.0', '192.0.2.2', '255.255.255.255', '0.0.0.0'])).toEqual([
      'B',
      'A',
      'A',
      'A',
      'A',
    ]);
  });

  test('host bits are masked on insert', () => {
    const t = new AllowedIps<Peer>();
    t.insert(p('10.1.2.3/16'), A);
    expect(t.lookup(addr('10.1.200.200'))).toBe(A);
    expect(t.entriesForPeer(A)).toEqual([p('10.1.0.0/16')]);
  });

  test('re-inserting a prefix moves it to the new peer', () => {
    const t = new AllowedIps<Peer>();
    t.insert(p('10.0.0.0/24'), A);
    t.insert(p('10.0.0.7/24'), B);
    expect(t.lookup(addr('10.0.0.1'))).toBe(B);
    expect(t.entriesForPeer(A)).toEqual([]);
    expect(t.entriesForPeer(B)).toEqual([p('10.0.0.0/24')]);
  });

  test('diverging prefixes under a branch node', () => {
    const t = new AllowedIps<Peer>();
    t.insert(p('192.168.1.0/24'), A);
    t.insert(p('192.168.2.0/24'), B);
    t.insert(p('192.168.0.0/16'), C);
    expect(names(t, ['192.168.1.5', '192.168.2.5', '192.168.3.5', '192.169.0.1'])).toEqual([
      'A',
      'B',
      'C',
      undefined,
    ]);
  });

  test('lookup reads the address straight out of a packet', () => {
    const t = new AllowedIps<Peer>();
    t.insert(p('10.0.34.0/24'), A);
    const pkt = new Uint8Array(20);
    pkt.set(v4('10.0.34.2'), 16); // IPv4 destination offset
    expect(t.lookup(pkt, 16, 4)).toBe(A);
    expect(t.lookupV4(pkt, 16)).toBe(A);
    expect(t.lookupV4(pkt, 12)).toBeUndefined();
    expect(t.lookupV4(pkt, 17)).toBeUndefined(); // runs past the end
  });

  test('lookup without family needs an exact 4- or 16-byte address', () => {
    const t = new AllowedIps<Peer>();
    expect(() => t.lookup(new Uint8Array(5))).toThrow(RangeError);
  });
});

describe('AllowedIps IPv6', () => {
  test('longest prefix, ::/0 and /128', () => {
    const t = new AllowedIps<Peer>();
    t.insert(p('::/0'), A);
    t.insert(p('2001:db8::/32'), B);
    t.insert(p('2001:db8:1::/48'), C);
    t.insert(p('2001:db8:1::1/128'), A);
    t.insert(p('2001:db8:1:0:8000::/65'), B);
    expect(
      names(t, ['fe80::1', '2001:db8:ffff::1', '2001:db8:1::2', '2001:db8:1::1', '2001:db8:1:0:8000::2', '2001:db8:1:0:7fff::2']),
    ).toEqual(['A', 'B', 'C', 'A', 'B', 'C']);
  });

  test('families are separate tables', () => {
    const t = new AllowedIps<Peer>();
    t.insert(p('0.0.0.0/0'), A);
    expect(t.lookup(addr('::1'))).toBeUndefined();
    t.insert(p('::/0'), B);
    expect(t.lookup(addr('1.2.3.4'))).toBe(A);
    expect(t.lookup(addr('::1'))).toBe(B);
  });

  test('lookup at an offset in an IPv6 packet', () => {
    const t = new AllowedIps<Peer>();
    t.insert(p('2001:db8::/64'), C);
    const pkt = new Uint8Array(40);
    pkt.set(v6('2001:db8::9'), 24);
    expect(t.lookup(pkt, 24, 6)).toBe(C);
    expect(t.lookupV6(pkt, 8)).toBeUndefined();
  });
});

describe('AllowedIps removal and listing', () => {
  test('remove only removes the prefix of the given peer and keeps the rest reachable', () => {
    const t = new AllowedIps<Peer>();
    t.insert(p('10.0.0.0/8'), A);
    t.insert(p('10.1.0.0/16'), B);
    t.insert(p('10.1.2.0/24'), C);
    expect(t.remove(p('10.1.0.0/16'), A)).toBe(false);
    expect(t.lookup(addr('10.1.9.9'))).toBe(B);
    expect(t.remove(p('10.1.0.0/16'), B)).toBe(true);
    expect(names(t, ['10.1.9.9', '10.1.2.9'])).toEqual(['A', 'C']);
    expect(t.remove(p('10.0.0.0/8'), A)).toBe(true);
    expect(names(t, ['10.1.9.9', '10.1.2.9'])).toEqual([undefined, 'C']);
    expect(t.remove(p('10.1.2.0/24'), C)).toBe(true);
    expect(t.lookup(addr('10.1.2.9'))).toBeUndefined();
  });

  test('removeByPeer, entriesForPeer sorted and stable, clear', () => {
    const t = new AllowedIps<Peer>();
    const mine = ['2001:db8::/32', '10.0.0.0/8', '::/0', '10.0.0.0/24', '192.168.0.0/16', '10.0.0.0/16'];
    for (const c of mine) t.insert(p(c), A);
    t.insert(p('10.0.1.0/24'), B);
    t.insert(p('2001:db8:1::/48'), B);
    const expected = ['10.0.0.0/8', '10.0.0.0/16', '10.0.0.0/24', '192.168.0.0/16', '::/0', '2001:db8::/32'].map(p);
    expect(t.entriesForPeer(A)).toEqual(expected);

    const t2 = new AllowedIps<Peer>();
    for (const c of [...mine].reverse()) t2.insert(p(c), A);
    expect(t2.entriesForPeer(A)).toEqual(expected);

    t.removeByPeer(A);
    expect(t.entriesForPeer(A)).toEqual([]);
    expect(names(t, ['10.0.1.1', '10.0.2.1', '2001:db8:1::1', '2001:db8:2::1'])).toEqual([
      'B',
      undefined,
      'B',
      undefined,
    ]);
    t.clear();
    expect(t.lookup(addr('10.0.1.1'))).toBeUndefined();
    expect(t.entriesForPeer(B)).toEqual([]);
  });

  test('rejects malformed prefixes', () => {
    const t = new AllowedIps<Peer>();
    expect(() => t.insert({ addr: new Uint8Array(5), bits: 8 }, A)).toThrow(RangeError);
    expect(() => t.insert({ addr: new Uint8Array(4), bits: 33 }, A)).toThrow(RangeError);
    expect(() => t.insert({ addr: new Uint8Array(16), bits: -1 }, A)).toThrow(RangeError);
  });
});

describe('AllowedIps against a brute-force model', () => {
  let seed = 99;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed % n;
  };

  function randomBytes(len: number): Uint8Array {
    const b = new Uint8Array(len);
    // Few distinct leading bytes so that prefixes overlap a lot.
    for (let i = 0; i < len; i++) b[i] = i < 2 ? rand(3) * 64 : rand(256);
    return b;
  }

  function matches(pre: Prefix, a: Uint8Array): boolean {
    for (let i = 0; i < pre.bits; i++) {
      const byte = i >> 3;
      const mask = 0x80 >> (i & 7);
      if ((pre.addr[byte] & mask) !== (a[byte] & mask)) return false;
    }
    return true;
  }

  for (const len of [4, 16]) {
    test(`random inserts, removals and lookups (${len * 8}-bit)`, () => {
      const peers = [A, B, C];
      const t = new AllowedIps<Peer>();
      const model = new Map<string, { prefix: Prefix; peer: Peer }>();
      const keyOf = (x: Prefix) => `${Array.from(x.addr).join('.')}/${x.bits}`;
      const mask = (x: Prefix): Prefix => {
        const out = new Uint8Array(x.addr);
        for (let i = x.bits; i < len * 8; i++) out[i >> 3] &= ~(0x80 >> (i & 7));
        return { addr: out, bits: x.bits };
      };
      for (let step = 0; step < 3000; step++) {
        const op = rand(10);
        if (op < 6) {
          const pre = mask({ addr: randomBytes(len), bits: rand(len * 8 + 1) });
          const peer = peers[rand(3)];
          t.insert(pre, peer);
          model.set(keyOf(pre), { prefix: pre, peer });
        } else if (op < 8 && model.size > 0) {
          const entries = [...model.values()];
          const e = entries[rand(entries.length)];
          const peer = rand(4) === 0 ? peers[rand(3)] : e.peer;
          expect(t.remove(e.prefix, peer)).toBe(peer === e.peer);
          if (peer === e.peer) model.delete(keyOf(e.prefix));
        } else if (op === 8 && rand(20) === 0) {
          const peer = peers[rand(3)];
          t.removeByPeer(peer);
          for (const [k, v] of model) if (v.peer === peer) model.delete(k);
        }
        for (let q = 0; q < 5; q++) {
          const a = randomBytes(len);
          let best: { prefix: Prefix; peer: Peer } | undefined;
          for (const e of model.values()) {
            if (matches(e.prefix, a) && (best === undefined || e.prefix.bits > best.prefix.bits)) best = e;
          }
          expect(t.lookup(a)).toBe(best?.peer);
        }
      }
      for (const peer of peers) {
        const expected = [...model.values()].filter((e) => e.peer === peer).map((e) => keyOf(e.prefix));
        expect(t.entriesForPeer(peer).map(keyOf).sort()).toEqual(expected.sort());
      }
    });
  }
});

test('lookups are fast enough for the hot path', () => {
  const t = new AllowedIps<Peer>();
  for (let i = 0; i < 1000; i++) t.insert({ addr: Uint8Array.of(10, i >> 8, i & 0xff, 0), bits: 24 }, i % 2 ? A : B);
  for (let i = 0; i < 200; i++) {
    const a = new Uint8Array(16);
    a[0] = 0x20;
    a[1] = 0x01;
    a[2] = i;
    t.insert({ addr: a, bits: 48 }, C);
  }
  const pkt = Uint8Array.of(10, 2, 3, 4);
  const pkt6 = new Uint8Array(16);
  pkt6.set([0x20, 0x01, 77, 0, 0, 0, 1, 2, 3]);
  const n = 300_000;
  const start = process.hrtime.bigint();
  let hits = 0;
  for (let i = 0; i < n; i++) {
    pkt[2] = i & 0xff;
    if (t.lookupV4(pkt, 0) !== undefined) hits++;
    if (t.lookupV6(pkt6, 0) !== undefined) hits++;
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  expect(hits).toBe(2 * n);
  // Generous bound (a loaded CI machine); a normal run is a few tens of ms.
  expect(ms).toBeLessThan(3000);
});
