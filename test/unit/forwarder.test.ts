// The userspace label-switching router (datapath/lsr/forwarder.ts) against Linux af_mpls and
// NetBSD mpls(4) semantics, plus the differences docs/design.md section 4 documents: TC is kept
// through swap (Linux writes 0), and TTL expiry is answered with ICMP time exceeded carrying
// the RFC 4950 label stack (Linux drops silently), sent onwards along the LSP (RFC 3032 2.3.2).
// The LSR is pure: a fake host records what it decides (forwarderHarness.ts). TTL expiry and
// load are in forwarderTtl.test.ts.
import { MplsRoute } from '../../datapath/lsr/model';
import { ipv4Udp, lse } from '../packets';
import { MplsEgress, VIA1, VIA2, ilm, ftn, Entry, frame, parseStack, ipv6, expectIpv4HeaderValid, payloadOf, TableSpec, setup, PIPE } from './forwarderHarness';

// ---------------------------------------------------------------------------------------
// ILM
// ---------------------------------------------------------------------------------------

describe('ILM swap', () => {
  test('swaps the label, keeps TC and BoS, decrements the TTL, leaves the payload alone', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200], 'wg1', VIA1)] });
    const ip = ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(30));
    lsr.handleFrame(frame([{ label: 100, tc: 5, ttl: 64 }], ip), false, 'wg0');
    const e = host.mpls();
    expect(e.dev).toBe('wg1');
    expect(e.via).toEqual(VIA1);
    expect(e.multicast).toBe(false);
    const { stack, payload } = parseStack(e.frame);
    expect(stack).toEqual([{ label: 200, tc: 5, bos: 1, ttl: 63 }]);
    expect(payload).toEqual(ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(30)));
    expect(host.drops).toEqual([]);
  });

  test('above other labels: BoS stays clear and the entries below are untouched', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])] });
    const ip = ipv6({ hop: 50 });
    lsr.handleFrame(frame([{ label: 100, tc: 3, ttl: 40 }, { label: 500, tc: 1, ttl: 99 }], ip), false, 'wg0');
    const { stack, payload } = parseStack(host.mpls().frame);
    expect(stack).toEqual([
      { label: 200, tc: 3, bos: 0, ttl: 39 },
      { label: 500, tc: 1, bos: 1, ttl: 99 },
    ]);
    expect(payload).toEqual(ipv6({ hop: 50 }));
  });

  test('keeps the multicast flag of the received frame', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])] });
    lsr.handleFrame(frame([{ label: 100, ttl: 9 }], ipv4Udp('10.0.0.1', '224.1.1.1', 9, payloadOf(4))), true, 'wg0');
    expect(host.mpls().multicast).toBe(true);
  });

  test('the extreme label values and TC 7 round-trip (16 <-> 0xfffff)', () => {
    const { lsr, host } = setup({ mpls: [ilm(0xfffff, [16]), ilm(16, [0xfffff])] });
    const ip = ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(4));
    lsr.handleFrame(frame([{ label: 0xfffff, tc: 7, ttl: 255 }], ip), false, 'wg0');
    lsr.handleFrame(frame([{ label: 16, tc: 7, ttl: 2 }], ip), false, 'wg0');
    expect(host.egresses).toHaveLength(2);
    const [a, b] = host.egresses as MplsEgress[];
    expect(parseStack(a.frame).stack).toEqual([{ label: 16, tc: 7, bos: 1, ttl: 254 }]);
    expect(parseStack(b.frame).stack).toEqual([{ label: 0xfffff, tc: 7, bos: 1, ttl: 1 }]);
  });
});

describe('ILM swap and push (as 30/40/41)', () => {
  test('at the bottom: outermost first, BoS only on the innermost new entry, TC and TTL on all', () => {
    const { lsr, host } = setup({ mpls: [ilm(60, [30, 40, 41])] });
    const ip = ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(20));
    lsr.handleFrame(frame([{ label: 60, tc: 2, ttl: 64 }], ip), false, 'wg0');
    const { stack, payload } = parseStack(host.mpls().frame);
    expect(stack).toEqual([
      { label: 30, tc: 2, bos: 0, ttl: 63 },
      { label: 40, tc: 2, bos: 0, ttl: 63 },
      { label: 41, tc: 2, bos: 1, ttl: 63 },
    ]);
    expect(payload).toEqual(ip);
  });

  test('above other labels: none of the new entries has BoS', () => {
    const { lsr, host } = setup({ mpls: [ilm(60, [30, 40, 41])] });
    const ip = ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(20));
    lsr.handleFrame(frame([{ label: 60, tc: 4, ttl: 20 }, { label: 500, ttl: 33 }], ip), false, 'wg0');
    const { stack, payload } = parseStack(host.mpls().frame);
    expect(stack).toEqual([
      { label: 30, tc: 4, bos: 0, ttl: 19 },
      { label: 40, tc: 4, bos: 0, ttl: 19 },
      { label: 41, tc: 4, bos: 0, ttl: 19 },
      { label: 500, tc: 0, bos: 1, ttl: 33 },
    ]);
    expect(payload).toEqual(ip);
  });
});

describe('ILM pop', () => {
  const below = (ttl: number): Buffer => frame([{ label: 100, tc: 6, ttl: 64 }, { label: 500, tc: 1, ttl }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8)));

  test('with labels below, uniform: the exposed entry gets the decremented TTL', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [], 'wg2', VIA2)] });
    lsr.handleFrame(below(200), false, 'wg0');
    const e = host.mpls();
    expect(e.dev).toBe('wg2');
    expect(e.via).toEqual(VIA2);
    const { stack, payload } = parseStack(e.frame);
    expect(stack).toEqual([{ label: 500, tc: 1, bos: 1, ttl: 63 }]);
    expect(payload).toEqual(ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8)));
  });

  test('with labels below, uniform: a lower exposed TTL is not raised', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [])] });
    lsr.handleFrame(below(20), false, 'wg0');
    expect(parseStack(host.mpls().frame).stack).toEqual([{ label: 500, tc: 1, bos: 1, ttl: 20 }]);
  });

  test('with labels below, pipe: the exposed entry keeps its TTL', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [])], settings: PIPE });
    lsr.handleFrame(below(200), false, 'wg0');
    expect(parseStack(host.mpls().frame).stack).toEqual([{ label: 500, tc: 1, bos: 1, ttl: 200 }]);
  });

  test('PHP to IPv4, uniform: IP TTL = decremented label TTL, header checksum valid', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [], 'wg1', VIA1)] });
    lsr.handleFrame(frame([{ label: 100, ttl: 10 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(40))), false, 'wg0');
    const e = host.ip();
    expect(e.dev).toBe('wg1');
    expect(e.via).toEqual(VIA1);
    expect(e.packet[8]).toBe(9);
    expectIpv4HeaderValid(e.packet);
    // Byte for byte the packet the builder makes with TTL 9 (checksum included).
    expect(e.packet).toEqual(ipv4Udp('10.0.0.1', '10.1.0.1', 9, payloadOf(40)));
  });

  test('PHP to IPv4, pipe: the IP packet is untouched', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [])], settings: PIPE });
    lsr.handleFrame(frame([{ label: 100, tc: 5, ttl: 10 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(40))), false, 'wg0');
    expect(host.ip().packet).toEqual(ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(40)));
  });

  test('PHP to IPv6: hop limit = decremented label TTL (uniform), untouched (pipe)', () => {
    const uni = setup({ mpls: [ilm(100, [])] });
    uni.lsr.handleFrame(frame([{ label: 100, ttl: 10 }], ipv6({ hop: 64 })), false, 'wg0');
    expect(uni.host.ip().packet).toEqual(ipv6({ hop: 9 }));

    const pipe = setup({ mpls: [ilm(100, [])], settings: PIPE });
    pipe.lsr.handleFrame(frame([{ label: 100, ttl: 10 }], ipv6({ hop: 64 })), false, 'wg0');
    expect(pipe.host.ip().packet).toEqual(ipv6({ hop: 64 }));
  });

  test('dev lo at the bottom: delivered locally (IPv4 and IPv6)', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [], 'lo', null)] });
    lsr.handleFrame(frame([{ label: 100, ttl: 30 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    lsr.handleFrame(frame([{ label: 100, ttl: 30 }], ipv6({ hop: 64 })), false, 'wg0');
    expect(host.egresses).toEqual([
      { kind: 'local', packet: ipv4Udp('10.0.0.1', '10.1.0.1', 29, payloadOf(8)) },
      { kind: 'local', packet: ipv6({ hop: 29 }) },
    ]);
  });

  test('implicit null 3 in "as" is a pop (at the bottom and above labels)', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [3], 'wg1', VIA1)] });
    lsr.handleFrame(frame([{ label: 100, ttl: 10 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    lsr.handleFrame(below(200), false, 'wg0');
    expect(host.egresses).toHaveLength(2);
    const [a, b] = host.egresses;
    expect(a).toEqual({ kind: 'ip', dev: 'wg1', via: VIA1, packet: ipv4Udp('10.0.0.1', '10.1.0.1', 9, payloadOf(8)) });
    if (b.kind !== 'mpls') throw new Error('expected mpls');
    expect(parseStack(b.frame).stack).toEqual([{ label: 500, tc: 1, bos: 1, ttl: 63 }]);
  });
});

describe('ILM with deep stacks (8 labels and more)', () => {
  const eight = (ttl = 64): Entry[] => [100, 101, 102, 103, 104, 105, 106, 107].map((label, i) => ({ label, tc: i % 8, ttl: ttl - i }));

  test('8 labels in: the top is swapped, the 7 below are untouched', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])] });
    const ip = ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8));
    lsr.handleFrame(frame(eight(), ip), false, 'wg0');
    const { stack, payload } = parseStack(host.mpls().frame);
    expect(stack).toHaveLength(8);
    expect(stack[0]).toEqual({ label: 200, tc: 0, bos: 0, ttl: 63 });
    expect(stack.slice(1)).toEqual(eight().slice(1).map((e, i) => ({ label: e.label, tc: e.tc, ttl: e.ttl, bos: i === 6 ? 1 : 0 })));
    expect(payload).toEqual(ip);
  });

  test('8 new labels pushed over an 8-label stack: 15 out, BoS only at the very bottom', () => {
    const out = [30, 31, 32, 33, 34, 35, 36, 37];
    const { lsr, host } = setup({ mpls: [ilm(100, out)] });
    const ip = ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8));
    lsr.handleFrame(frame(eight(), ip), false, 'wg0');
    const { stack, payload } = parseStack(host.mpls().frame);
    expect(stack).toHaveLength(15);
    expect(stack.slice(0, 8)).toEqual(out.map((label) => ({ label, tc: 0, bos: 0, ttl: 63 })));
    expect(stack.slice(8).map((e) => e.label)).toEqual([101, 102, 103, 104, 105, 106, 107]);
    expect(stack.map((e) => e.bos)).toEqual([...new Array<number>(14).fill(0), 1]);
    expect(payload).toEqual(ip);
  });

  test('8 pops through dev lo: the IP packet arrives locally with TTL lowered hop by hop (uniform)', () => {
    const routes = [100, 101, 102, 103, 104, 105, 106, 107].map((l) => ilm(l, [], 'lo', null));
    const { lsr, host } = setup({ mpls: routes });
    const entries = [100, 101, 102, 103, 104, 105, 106, 107].map((label) => ({ label, ttl: 64 }));
    lsr.handleFrame(frame(entries, ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    expect(host.local().packet).toEqual(ipv4Udp('10.0.0.1', '10.1.0.1', 56, payloadOf(8)));
    for (const r of routes) expect(lsr.routeCounters.get(r.label)?.packets).toBe(1);
  });

  test('8 pops through dev lo, pipe: the IP packet is untouched', () => {
    const routes = [100, 101, 102, 103, 104, 105, 106, 107].map((l) => ilm(l, [], 'lo', null));
    const { lsr, host } = setup({ mpls: routes, settings: PIPE });
    const entries = [100, 101, 102, 103, 104, 105, 106, 107].map((label) => ({ label, ttl: 64 }));
    lsr.handleFrame(frame(entries, ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    expect(host.local().packet).toEqual(ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8)));
  });
});

describe('ILM dev lo loops back into the table', () => {
  test('a swap to dev lo is switched again by the table', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200], 'lo', null), ilm(200, [300], 'wg1', VIA1)] });
    const ip = ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8));
    lsr.handleFrame(frame([{ label: 100, tc: 3, ttl: 64 }], ip), false, 'wg0');
    const e = host.mpls();
    expect(e.dev).toBe('wg1');
    expect(parseStack(e.frame).stack).toEqual([{ label: 300, tc: 3, bos: 1, ttl: 62 }]);
    expect(lsr.routeCounters.get(100)?.packets).toBe(1);
    expect(lsr.routeCounters.get(200)?.packets).toBe(1);
  });

  test('a label that swaps to itself on dev lo ends on TTL expiry (no ICMP)', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [100], 'lo', null)], settings: { icmpRespond: false } });
    lsr.handleFrame(frame([{ label: 100, ttl: 64 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    expect(host.egresses).toEqual([]);
    expect(host.drops).toEqual(['ttl-expired']);
    expect(lsr.routeCounters.get(100)).toEqual({ packets: 63, bytes: 63 * (4 + 36), ttlExpired: 1 });
  });

  test('a label that swaps to itself on dev lo ends also with ICMP on (the looping error expires unanswered)', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [100], 'lo', null)] });
    lsr.handleFrame(frame([{ label: 100, ttl: 64 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    expect(host.egresses).toEqual([]);
    // The packet, then the ICMP error about it (never an error about that error).
    expect(host.drops).toEqual(['ttl-expired', 'ttl-expired']);
  });

  test('a push loop on dev lo (100 as 100/100) ends', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [100, 100], 'lo', null)] });
    lsr.handleFrame(frame([{ label: 100, ttl: 64 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    expect(host.egresses).toEqual([]);
    expect(host.drops.length).toBeGreaterThan(0);
    expect(host.drops.every((d) => d === 'ttl-expired' || d === 'stack-too-deep')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------
// FTN
// ---------------------------------------------------------------------------------------

describe('FTN (IP from the local stack)', () => {
  const table = (): TableSpec => ({
    ip: [
      ftn('10.0.0.0/8', [100], 'wg1', VIA1),
      ftn('10.1.0.0/16', [200], 'wg2', VIA2),
      ftn('10.1.2.0/24', [20, 30, 40], 'wg3', null),
      ftn('fd00::/8', [600], 'wg1', null),
      ftn('fd00:1::/32', [700], 'wg2', null),
      ftn('fd00:1:2::/48', [3], 'wg3', VIA2),
    ],
  });

  test('IPv4 longest-prefix match picks the most specific route', () => {
    const { lsr, host } = setup(table());
    for (const dst of ['10.9.9.9', '10.1.9.9', '10.1.2.3']) {
      expect(lsr.handleIpFromStack(ipv4Udp('192.168.0.1', dst, 64, payloadOf(8)))).toBe(true);
    }
    const got = (host.egresses as MplsEgress[]).map((e) => [e.dev, parseStack(e.frame).stack.map((s) => s.label)]);
    expect(got).toEqual([
      ['wg1', [100]],
      ['wg2', [200]],
      ['wg3', [20, 30, 40]],
    ]);
  });

  test('IPv6 longest-prefix match picks the most specific route', () => {
    const { lsr, host } = setup(table());
    expect(lsr.handleIpFromStack(ipv6({ dst: 'fd00::2', hop: 64 }))).toBe(true);
    expect(lsr.handleIpFromStack(ipv6({ dst: 'fd00:1::2', hop: 64 }))).toBe(true);
    const got = (host.egresses as MplsEgress[]).map((e) => [e.dev, parseStack(e.frame).stack.map((s) => s.label)]);
    expect(got).toEqual([
      ['wg1', [600]],
      ['wg2', [700]],
    ]);
  });

  test('push of 1 label, uniform: label TTL = IP TTL, BoS, TC 0, packet unchanged', () => {
    const { lsr, host } = setup(table());
    const ip = ipv4Udp('192.168.0.1', '10.9.9.9', 37, payloadOf(8), 0xb8);
    lsr.handleIpFromStack(ip);
    const e = host.mpls();
    expect(e.dev).toBe('wg1');
    expect(e.via).toEqual(VIA1);
    expect(e.multicast).toBe(false);
    const { stack, payload } = parseStack(e.frame);
    expect(stack).toEqual([{ label: 100, tc: 0, bos: 1, ttl: 37 }]);
    expect(payload).toEqual(ipv4Udp('192.168.0.1', '10.9.9.9', 37, payloadOf(8), 0xb8));
  });

  test('push of 3 labels (encap mpls 20/30/40): 20 outermost, BoS only on 40, TTL = IP TTL on all', () => {
    const { lsr, host } = setup(table());
    lsr.handleIpFromStack(ipv4Udp('192.168.0.1', '10.1.2.3', 12, payloadOf(8)));
    const e = host.mpls();
    expect(e.dev).toBe('wg3');
    expect(e.via).toBeNull();
    expect(parseStack(e.frame).stack).toEqual([
      { label: 20, tc: 0, bos: 0, ttl: 12 },
      { label: 30, tc: 0, bos: 0, ttl: 12 },
      { label: 40, tc: 0, bos: 1, ttl: 12 },
    ]);
  });

  test('IPv6 push, uniform: label TTL = hop limit', () => {
    const { lsr, host } = setup(table());
    lsr.handleIpFromStack(ipv6({ dst: 'fd00:1::2', hop: 21 }));
    const { stack, payload } = parseStack(host.mpls().frame);
    expect(stack).toEqual([{ label: 700, tc: 0, bos: 1, ttl: 21 }]);
    expect(payload).toEqual(ipv6({ dst: 'fd00:1::2', hop: 21 }));
  });

  test('pipe: label TTL = defaultTtl on every pushed entry, IP untouched', () => {
    const { lsr, host } = setup({ ...table(), settings: { ttlPropagate: false, defaultTtl: 77 } });
    lsr.handleIpFromStack(ipv4Udp('192.168.0.1', '10.1.2.3', 12, payloadOf(8)));
    lsr.handleIpFromStack(ipv6({ dst: 'fd00::2', hop: 21 }));
    const [a, b] = host.egresses as MplsEgress[];
    expect(parseStack(a.frame).stack.map((s) => s.ttl)).toEqual([77, 77, 77]);
    expect(parseStack(a.frame).payload).toEqual(ipv4Udp('192.168.0.1', '10.1.2.3', 12, payloadOf(8)));
    expect(parseStack(b.frame).stack).toEqual([{ label: 600, tc: 0, bos: 1, ttl: 77 }]);
  });

  test('push of 8 labels', () => {
    const labels = [16, 17, 18, 19, 20, 21, 22, 23];
    const { lsr, host } = setup({ ip: [ftn('10.0.0.0/8', labels)] });
    const ip = ipv4Udp('192.168.0.1', '10.9.9.9', 64, payloadOf(8));
    lsr.handleIpFromStack(ip);
    const { stack, payload } = parseStack(host.mpls().frame);
    expect(stack).toEqual(labels.map((label, i) => ({ label, tc: 0, bos: i === 7 ? 1 : 0, ttl: 64 })));
    expect(payload).toEqual(ip);
  });

  test('mapPrecedence: TC from the IPv4 precedence / IPv6 traffic class; 0 without it', () => {
    const on = setup({ ...table(), settings: { mapPrecedence: true } });
    on.lsr.handleIpFromStack(ipv4Udp('192.168.0.1', '10.1.2.3', 64, payloadOf(8), 0xb8)); // EF: precedence 5
    on.lsr.handleIpFromStack(ipv6({ dst: 'fd00::2', hop: 64, tclass: 0x68 })); // AF31: precedence 3
    on.lsr.handleIpFromStack(ipv6({ dst: 'fd00::2', hop: 64, tclass: 0xe3 })); // precedence 7, ECN bits set
    expect((on.host.egresses as MplsEgress[]).map((e) => parseStack(e.frame).stack.map((s) => s.tc))).toEqual([[5, 5, 5], [3], [7]]);

    const off = setup(table());
    off.lsr.handleIpFromStack(ipv4Udp('192.168.0.1', '10.1.2.3', 64, payloadOf(8), 0xb8));
    off.lsr.handleIpFromStack(ipv6({ dst: 'fd00::2', hop: 64, tclass: 0xe3 }));
    expect((off.host.egresses as MplsEgress[]).map((e) => parseStack(e.frame).stack.map((s) => s.tc))).toEqual([[0, 0, 0], [0]]);
  });

  test('encap mpls 3 alone: plain IP egress on the route', () => {
    const { lsr, host } = setup(table());
    const ip = ipv6({ dst: 'fd00:1:2::9', hop: 64 });
    expect(lsr.handleIpFromStack(ip)).toBe(true);
    expect(host.ip()).toEqual({ kind: 'ip', dev: 'wg3', via: VIA2, packet: ipv6({ dst: 'fd00:1:2::9', hop: 64 }) });
  });

  test('no covering route: false, nothing sent; not IP: false', () => {
    const { lsr, host } = setup(table());
    expect(lsr.handleIpFromStack(ipv4Udp('10.0.0.1', '192.168.1.1', 64, payloadOf(8)))).toBe(false);
    expect(lsr.handleIpFromStack(ipv6({ dst: 'fe80::1', hop: 64 }))).toBe(false);
    expect(lsr.handleIpFromStack(Buffer.alloc(60))).toBe(false);
    expect(lsr.handleIpFromStack(Buffer.alloc(0))).toBe(false);
    expect(lsr.handleIpFromStack(ipv4Udp('10.0.0.1', '10.1.2.3', 64, payloadOf(8)).subarray(0, 19))).toBe(false);
    expect(host.egresses).toEqual([]);
    expect(host.drops).toEqual([]);
  });

  test('an empty table covers nothing', () => {
    const { lsr, host } = setup();
    expect(lsr.handleIpFromStack(ipv4Udp('10.0.0.1', '10.1.2.3', 64, payloadOf(8)))).toBe(false);
    expect(host.egresses).toEqual([]);
  });
});

describe('egress to IP restores precedence from TC (mapPrecedence)', () => {
  test('IPv4 PHP: precedence = TC, the other TOS bits kept, checksum valid', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [])], settings: { mapPrecedence: true } });
    lsr.handleFrame(frame([{ label: 100, tc: 5, ttl: 50 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8), 0x1d)), false, 'wg0');
    const p = host.ip().packet;
    expect(p[1]).toBe(0xbd);
    expectIpv4HeaderValid(p);
    expect(p).toEqual(ipv4Udp('10.0.0.1', '10.1.0.1', 49, payloadOf(8), 0xbd));
  });

  test('IPv4 explicit null at the bottom, pipe: precedence = TC, TTL kept', () => {
    const { lsr, host } = setup({ settings: { mapPrecedence: true, ttlPropagate: false } });
    lsr.handleFrame(frame([{ label: 0, tc: 7, ttl: 50 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8), 0x20)), false, 'wg0');
    expect(host.local().packet).toEqual(ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8), 0xe0));
  });

  test('IPv6 PHP: the top 3 bits of the traffic class = TC, flow label and the rest kept', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [])], settings: { mapPrecedence: true } });
    const ip = ipv6({ hop: 64, tclass: 0x1f });
    ip[1] |= 0x0a; // flow label bits
    ip[2] = 0xbc;
    lsr.handleFrame(frame([{ label: 100, tc: 6, ttl: 50 }], ip), false, 'wg0');
    const want = ipv6({ hop: 49, tclass: 0xdf });
    want[1] |= 0x0a;
    want[2] = 0xbc;
    expect(host.ip().packet).toEqual(want);
  });

  test('without mapPrecedence the TOS / traffic class stays', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [])] });
    lsr.handleFrame(frame([{ label: 100, tc: 5, ttl: 50 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8), 0x1d)), false, 'wg0');
    lsr.handleFrame(frame([{ label: 100, tc: 6, ttl: 50 }], ipv6({ hop: 64, tclass: 0x1f })), false, 'wg0');
    expect(host.egresses).toEqual([
      { kind: 'ip', dev: 'wg1', via: VIA1, packet: ipv4Udp('10.0.0.1', '10.1.0.1', 49, payloadOf(8), 0x1d) },
      { kind: 'ip', dev: 'wg1', via: VIA1, packet: ipv6({ hop: 49, tclass: 0x1f }) },
    ]);
  });

  test('round trip FTN push -> ILM pop keeps the precedence', () => {
    const a = setup({ ip: [ftn('10.0.0.0/8', [100])], settings: { mapPrecedence: true } });
    a.lsr.handleIpFromStack(ipv4Udp('192.168.0.1', '10.1.2.3', 64, payloadOf(8), 0xa0));
    const b = setup({ mpls: [ilm(100, [])], settings: { mapPrecedence: true } });
    b.lsr.handleFrame(a.host.mpls().frame, false, 'wg0');
    expect(b.host.ip().packet).toEqual(ipv4Udp('192.168.0.1', '10.1.2.3', 63, payloadOf(8), 0xa0));
  });
});

// ---------------------------------------------------------------------------------------
// Reserved labels, malformed frames, counters
// ---------------------------------------------------------------------------------------

describe('reserved labels', () => {
  test('0 (IPv4 explicit null) at the bottom: popped, delivered by the inner header (TTL lowered, uniform)', () => {
    const { lsr, host } = setup();
    lsr.handleFrame(frame([{ label: 0, ttl: 30 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    expect(host.local().packet).toEqual(ipv4Udp('10.0.0.1', '10.1.0.1', 29, payloadOf(8)));
    expect(host.drops).toEqual([]);
  });

  test('2 (IPv6 explicit null) at the bottom: popped, delivered; pipe leaves the hop limit', () => {
    const uni = setup();
    uni.lsr.handleFrame(frame([{ label: 2, ttl: 30 }], ipv6({ hop: 64 })), false, 'wg0');
    expect(uni.host.local().packet).toEqual(ipv6({ hop: 29 }));
    const pipe = setup({ settings: PIPE });
    pipe.lsr.handleFrame(frame([{ label: 2, ttl: 30 }], ipv6({ hop: 64 })), false, 'wg0');
    expect(pipe.host.local().packet).toEqual(ipv6({ hop: 64 }));
  });

  test('explicit null not at the bottom (RFC 4182): popped, switching goes on with the label below', () => {
    const uni = setup({ mpls: [ilm(100, [200])] });
    const ip = ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8));
    uni.lsr.handleFrame(frame([{ label: 0, ttl: 64 }, { label: 100, tc: 2, ttl: 64 }], ip), false, 'wg0');
    // Uniform: 100 takes the explicit null's decremented TTL (63), then the swap decrements it.
    expect(parseStack(uni.host.mpls().frame).stack).toEqual([{ label: 200, tc: 2, bos: 1, ttl: 62 }]);

    const pipe = setup({ mpls: [ilm(100, [200])], settings: PIPE });
    pipe.lsr.handleFrame(frame([{ label: 0, ttl: 64 }, { label: 100, tc: 2, ttl: 64 }], ip), false, 'wg0');
    expect(parseStack(pipe.host.mpls().frame).stack).toEqual([{ label: 200, tc: 2, bos: 1, ttl: 63 }]);
  });

  test('several explicit nulls (2, 0, 2) above the bottom label and IP: all popped', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [], 'lo', null)] });
    const entries = [2, 0, 2, 100].map((label) => ({ label, ttl: 64 }));
    lsr.handleFrame(frame(entries, ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    expect(host.local().packet).toEqual(ipv4Udp('10.0.0.1', '10.1.0.1', 60, payloadOf(8)));
  });

  test('explicit null above explicit null at the bottom', () => {
    const { lsr, host } = setup();
    lsr.handleFrame(frame([{ label: 0, ttl: 64 }, { label: 2, ttl: 64 }], ipv6({ hop: 64 })), false, 'wg0');
    expect(host.local().packet).toEqual(ipv6({ hop: 62 }));
  });

  test('rfc4182 off: explicit null not at the bottom is dropped and counted; at the bottom it still pops', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])], settings: { rfc4182: false } });
    const ip = ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8));
    lsr.handleFrame(frame([{ label: 0, ttl: 64 }, { label: 100, ttl: 64 }], ip), false, 'wg0');
    lsr.handleFrame(frame([{ label: 2, ttl: 64 }, { label: 100, ttl: 64 }], ip), false, 'wg0');
    expect(host.drops).toEqual(['explicit-null-not-bottom', 'explicit-null-not-bottom']);
    expect(host.egresses).toEqual([]);
    lsr.handleFrame(frame([{ label: 0, ttl: 64 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    expect(host.local().packet).toEqual(ipv4Udp('10.0.0.1', '10.1.0.1', 63, payloadOf(8)));
  });

  test('1 (router alert) is counted and dropped, at the bottom or above', () => {
    const { lsr, host } = setup({ mpls: [ilm(1, [200]), ilm(100, [200])] });
    const ip = ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8));
    lsr.handleFrame(frame([{ label: 1, ttl: 64 }], ip), false, 'wg0');
    lsr.handleFrame(frame([{ label: 1, ttl: 64 }, { label: 100, ttl: 64 }], ip), false, 'wg0');
    expect(host.drops).toEqual(['router-alert', 'router-alert']);
    expect(host.egresses).toEqual([]);
  });

  test('3 (implicit null) on the wire is dropped', () => {
    const { lsr, host } = setup({ mpls: [ilm(3, [200])] });
    lsr.handleFrame(frame([{ label: 3, ttl: 64 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    expect(host.drops).toEqual(['implicit-null-on-wire']);
    expect(host.egresses).toEqual([]);
  });

  test('4..15 are reserved-label drops, even with a route for them', () => {
    const labels = [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    const { lsr, host } = setup({ mpls: labels.map((l) => ilm(l, [200])) });
    for (const label of labels) {
      lsr.handleFrame(frame([{ label, ttl: 64 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    }
    expect(host.drops).toEqual(labels.map(() => 'reserved-label'));
    expect(host.egresses).toEqual([]);
  });

  test('an unknown label is no-route (also with TTL 1, as Linux looks the route up first), no counters', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])] });
    lsr.handleFrame(frame([{ label: 16, ttl: 64 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    lsr.handleFrame(frame([{ label: 101, ttl: 1 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    expect(host.drops).toEqual(['no-route', 'no-route']);
    expect(host.egresses).toEqual([]);
    expect(lsr.routeCounters.size).toBe(0);
  });
});

describe('malformed frames', () => {
  const cases: Array<[string, Buffer, MplsRoute[]]> = [
    ['empty', Buffer.alloc(0), []],
    ['3 bytes', lse(100, 0, 1, 64).subarray(0, 3), [ilm(100, [200])]],
    ['one entry without BoS', lse(100, 0, 0, 64), [ilm(100, [200])]],
    ['an entry without BoS, then 3 bytes', Buffer.concat([lse(100, 0, 0, 64), Buffer.from([1, 2, 3])]), [ilm(100, [200])]],
    ['explicit nulls without BoS to the end', Buffer.concat([lse(0, 0, 0, 64), lse(0, 0, 0, 64)]), []],
    ['pops on dev lo without BoS to the end', Buffer.concat([lse(100, 0, 0, 64), lse(200, 0, 0, 64)]), [ilm(100, [], 'lo', null)]],
    ['pop at the bottom over nothing', lse(100, 0, 1, 64), [ilm(100, [])]],
    ['pop at the bottom over a non-IP payload', Buffer.concat([lse(100, 0, 1, 64), Buffer.alloc(60)]), [ilm(100, [])]],
    ['pop at the bottom over version 5', Buffer.concat([lse(100, 0, 1, 64), Buffer.alloc(60, 0x55)]), [ilm(100, [])]],
    ['pop at the bottom over a truncated IPv4 header', Buffer.concat([lse(100, 0, 1, 64), ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8)).subarray(0, 19)]), [ilm(100, [])]],
    ['pop at the bottom over a truncated IPv6 header', Buffer.concat([lse(100, 0, 1, 64), ipv6({ hop: 64 }).subarray(0, 39)]), [ilm(100, [], 'lo', null)]],
    ['explicit null at the bottom over a non-IP payload', Buffer.concat([lse(0, 0, 1, 64), Buffer.alloc(60)]), []],
    ['IPv6 explicit null over a truncated IPv6 header', Buffer.concat([lse(2, 0, 1, 64), ipv6({ hop: 64 }).subarray(0, 39)]), []],
  ];
  test.each(cases)('%s', (_name, f, routes) => {
    const { lsr, host } = setup({ mpls: routes });
    lsr.handleFrame(f, false, 'wg0');
    expect(host.drops).toEqual(['malformed']);
    expect(host.egresses).toEqual([]);
  });

  test('64 entries are walked, 65 are refused (stack-too-deep)', () => {
    const ip = ipv4Udp('10.0.0.1', '10.1.0.1', 255, payloadOf(8));
    const ok = setup({ mpls: [ilm(100, [], 'lo', null)] });
    const nulls = (n: number): Entry[] => new Array<Entry>(n).fill({ label: 0, ttl: 255 });
    ok.lsr.handleFrame(frame([...nulls(63), { label: 100, ttl: 255 }], ip), false, 'wg0');
    expect(ok.host.local().packet[8]).toBe(255 - 64);

    const deep = setup({ mpls: [ilm(100, [], 'lo', null)] });
    deep.lsr.handleFrame(frame([...nulls(64), { label: 100, ttl: 255 }], ip), false, 'wg0');
    expect(deep.host.drops).toEqual(['stack-too-deep']);
    expect(deep.host.egresses).toEqual([]);
  });
});

describe('per-route counters', () => {
  test('packets and bytes per incoming label (the frame as received), TTL expiries apart', () => {
    const { lsr } = setup({ mpls: [ilm(100, [200]), ilm(101, [], 'lo', null)], settings: { icmpRespond: false } });
    const a = frame([{ label: 100, ttl: 64 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(10)));
    const b = frame([{ label: 100, ttl: 64 }, { label: 7777, ttl: 64 }], ipv6({ hop: 64 }));
    const c = frame([{ label: 101, ttl: 64 }], ipv6({ hop: 64 }));
    const lens = [a.length, b.length];
    lsr.handleFrame(a, false, 'wg0');
    lsr.handleFrame(b, false, 'wg0');
    lsr.handleFrame(c, false, 'wg0');
    lsr.handleFrame(frame([{ label: 100, ttl: 1 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(10))), false, 'wg0');
    lsr.handleFrame(frame([{ label: 100, ttl: 0 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(10))), false, 'wg0');
    expect(lsr.routeCounters.get(100)).toEqual({ packets: 2, bytes: lens[0] + lens[1], ttlExpired: 2 });
    expect(lsr.routeCounters.get(101)).toEqual({ packets: 1, bytes: c.length, ttlExpired: 0 });
  });

  test('bytes count from the label being switched, after explicit nulls above it', () => {
    const { lsr } = setup({ mpls: [ilm(100, [200])] });
    const f = frame([{ label: 0, ttl: 64 }, { label: 100, ttl: 64 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(10)));
    lsr.handleFrame(f, false, 'wg0');
    expect(lsr.routeCounters.get(100)).toEqual({ packets: 1, bytes: f.length - 4, ttlExpired: 0 });
  });

  test('a route whose first event is an expiry gets a counter', () => {
    const { lsr } = setup({ mpls: [ilm(100, [200])], settings: { icmpRespond: false } });
    lsr.handleFrame(frame([{ label: 100, ttl: 1 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(10))), false, 'wg0');
    expect(lsr.routeCounters.get(100)).toEqual({ packets: 0, bytes: 0, ttlExpired: 1 });
  });
});
