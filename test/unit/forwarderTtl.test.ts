// The label-switching router (datapath/lsr/forwarder.ts) when a TTL expires: ICMP time exceeded
// with the RFC 4950 label stack, sent onwards along the LSP (RFC 3032 2.3.2), and under load.
// Fixtures in forwarderHarness.ts.
import { IpRoute, defaultSettings } from '../../datapath/lsr/model';
import { ipv4Udp, lse } from '../packets';
import { MplsEgress, v4, v6, VIA1, VIA2, LOCAL4, LOCAL6, ilm, ftn, frame, parseStack, ipv6, onesSum, ipv4Icmp, expectIpv4HeaderValid, payloadOf, setup, PIPE } from './forwarderHarness';

// ---------------------------------------------------------------------------------------
// TTL expiry and ICMP time exceeded (RFC 4950)
// ---------------------------------------------------------------------------------------

/** Checks an ICMP time exceeded (IPv4 type 11 / IPv6 type 3) with RFC 4950 and returns nothing. */
function expectTimeExceeded(p: Buffer, want: { source: Uint8Array; original: Buffer; stack: Buffer }): void {
  const v = p[0] >> 4;
  expect([4, 6]).toContain(v);
  let icmp: Buffer;
  if (v === 4) {
    expect(p[0]).toBe(0x45);
    expect(p.readUInt16BE(2)).toBe(p.length);
    expect(p[8]).toBe(255);
    expect(p[9]).toBe(1);
    expectIpv4HeaderValid(p);
    expect(p.subarray(12, 16)).toEqual(Buffer.from(want.source));
    expect(p.subarray(16, 20)).toEqual(want.original.subarray(12, 16));
    icmp = p.subarray(20);
    expect(icmp[0]).toBe(11);
    expect(icmp[1]).toBe(0);
    expect(icmp[5]).toBe(128 / 4);
    expect(onesSum(icmp)).toBe(0xffff);
  } else {
    expect(p.readUInt16BE(4)).toBe(p.length - 40);
    expect(p[6]).toBe(58);
    expect(p[7]).toBe(255);
    expect(p.subarray(8, 24)).toEqual(Buffer.from(want.source));
    expect(p.subarray(24, 40)).toEqual(want.original.subarray(8, 24));
    icmp = p.subarray(40);
    expect(icmp[0]).toBe(3);
    expect(icmp[1]).toBe(0);
    expect(icmp[4]).toBe(128 / 8);
    const pseudo = Buffer.alloc(40);
    p.copy(pseudo, 0, 8, 40);
    pseudo.writeUInt32BE(icmp.length, 32);
    pseudo[39] = 58;
    expect(onesSum(icmp, onesSum(pseudo))).toBe(0xffff);
  }
  // The original, zero-padded or cut to 128 bytes, then the extension (RFC 4884 / 4950).
  const quoted = Math.min(want.original.length, 128);
  expect(icmp.subarray(8, 8 + quoted)).toEqual(want.original.subarray(0, quoted));
  expect(icmp.subarray(8 + quoted, 8 + 128)).toEqual(Buffer.alloc(128 - quoted));
  const ext = icmp.subarray(8 + 128);
  expect(ext.length).toBe(4 + 4 + want.stack.length);
  expect(ext[0]).toBe(0x20);
  expect(ext[1]).toBe(0);
  expect(onesSum(ext)).toBe(0xffff);
  expect(ext.readUInt16BE(4)).toBe(4 + want.stack.length);
  expect(ext[6]).toBe(1);
  expect(ext[7]).toBe(1);
  expect(ext.subarray(8)).toEqual(want.stack);
}

describe('TTL expiry', () => {
  const src = '10.9.9.9';
  const original = (): Buffer => ipv4Udp(src, '10.1.0.1', 64, payloadOf(12));

  test.each([1, 0])('TTL %i arriving: dropped and counted, nothing sent when icmpRespond is off', (ttl) => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])], ip: [ftn('10.0.0.0/8', [900])], settings: { icmpRespond: false } });
    lsr.handleFrame(frame([{ label: 100, ttl }], original()), false, 'wg0');
    expect(host.drops).toEqual(['ttl-expired']);
    expect(host.egresses).toEqual([]);
    expect(host.addressQueries).toEqual([]);
    expect(lsr.routeCounters.get(100)?.ttlExpired).toBe(1);
    expect(lsr.routeCounters.get(100)?.packets ?? 0).toBe(0);
  });

  test.each([1, 0])('TTL %i: our FTN route covering the source sends the ICMP time exceeded (RFC 4950)', (ttl) => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200], 'wg1', VIA1)], ip: [ftn('10.9.0.0/16', [900], 'wg2', VIA2)] });
    const f = frame([{ label: 100, tc: 5, ttl }], original());
    lsr.handleFrame(f, false, 'wg0');
    expect(host.drops).toEqual(['ttl-expired']);
    expect(host.addressQueries).toEqual([{ family: 4, dev: 'wg0' }]);
    const e = host.mpls();
    expect(e.dev).toBe('wg2');
    expect(e.via).toEqual(VIA2);
    const { stack, payload } = parseStack(e.frame);
    // Uniform model: the pushed label takes the reply's IP TTL.
    expect(stack).toEqual([{ label: 900, tc: 0, bos: 1, ttl: 255 }]);
    expectTimeExceeded(payload, { source: LOCAL4, original: original(), stack: lse(100, 5, 1, ttl) });
  });

  test('via our FTN route in the pipe model: the label gets defaultTtl', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])], ip: [ftn('10.9.0.0/16', [900, 901], 'wg2')], settings: { ttlPropagate: false, defaultTtl: 42 } });
    lsr.handleFrame(frame([{ label: 100, ttl: 1 }], original()), false, 'wg0');
    const { stack, payload } = parseStack(host.mpls().frame);
    expect(stack).toEqual([
      { label: 900, tc: 0, bos: 0, ttl: 42 },
      { label: 901, tc: 0, bos: 1, ttl: 42 },
    ]);
    expectTimeExceeded(payload, { source: LOCAL4, original: original(), stack: lse(100, 0, 1, 1) });
  });

  test('no FTN route to the source: sent onwards along the LSP, swap applied, fresh TTL, TC kept', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200], 'wg1', VIA1)], ip: [ftn('172.16.0.0/12', [900], 'wg2')], settings: { defaultTtl: 100 } });
    lsr.handleFrame(frame([{ label: 100, tc: 5, ttl: 1 }], original()), false, 'wg0');
    expect(host.drops).toEqual(['ttl-expired']);
    const e = host.mpls();
    expect(e.dev).toBe('wg1');
    expect(e.via).toEqual(VIA1);
    expect(e.multicast).toBe(false);
    const { stack, payload } = parseStack(e.frame);
    expect(stack).toEqual([{ label: 200, tc: 5, bos: 1, ttl: 100 }]);
    // The inner packet is the ICMP, from us, to the original source.
    expect(payload.subarray(12, 16)).toEqual(LOCAL4);
    expect(payload.subarray(16, 20)).toEqual(v4(src));
    expectTimeExceeded(payload, { source: LOCAL4, original: original(), stack: lse(100, 5, 1, 1) });
  });

  test('along the LSP with labels below and swap+push: every entry gets the fresh TTL; RFC 4950 lists the received stack', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [30, 40])], settings: { defaultTtl: 99 } });
    const f = frame([{ label: 100, tc: 1, ttl: 1 }, { label: 500, tc: 2, ttl: 30 }], original());
    const received = Buffer.from(f.subarray(0, 8));
    lsr.handleFrame(f, false, 'wg0');
    const { stack, payload } = parseStack(host.mpls().frame);
    expect(stack).toEqual([
      { label: 30, tc: 1, bos: 0, ttl: 99 },
      { label: 40, tc: 1, bos: 0, ttl: 99 },
      { label: 500, tc: 2, bos: 1, ttl: 99 },
    ]);
    expectTimeExceeded(payload, { source: LOCAL4, original: original(), stack: received });
  });

  test('under an explicit null: the label expires by the TTL the null handed down; RFC 4950 quotes the stack as received', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])] });
    const f = frame([{ label: 0, ttl: 2 }, { label: 100, tc: 3, ttl: 64 }], original());
    const received = Buffer.from(f.subarray(0, 8));
    lsr.handleFrame(f, false, 'wg0');
    expect(host.drops).toEqual(['ttl-expired']);
    expect(lsr.routeCounters.get(100)?.ttlExpired).toBe(1);
    const { stack, payload } = parseStack(host.mpls().frame);
    expect(stack).toEqual([{ label: 200, tc: 3, bos: 1, ttl: 255 }]);
    expectTimeExceeded(payload, { source: LOCAL4, original: original(), stack: received });
  });

  test('along the LSP on a PHP route: the ICMP leaves as IP on the route', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [], 'wg1', VIA1)] });
    lsr.handleFrame(frame([{ label: 100, ttl: 1 }], original()), false, 'wg0');
    const e = host.ip();
    expect(e.dev).toBe('wg1');
    expect(e.via).toEqual(VIA1);
    expectTimeExceeded(e.packet, { source: LOCAL4, original: original(), stack: lse(100, 0, 1, 1) });
  });

  test('along the LSP on a swap to dev lo: switched again by the table', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200], 'lo', null), ilm(200, [300], 'wg3', null)] });
    lsr.handleFrame(frame([{ label: 100, ttl: 1 }], original()), false, 'wg0');
    const e = host.mpls();
    expect(e.dev).toBe('wg3');
    const { stack, payload } = parseStack(e.frame);
    expect(stack).toEqual([{ label: 300, tc: 0, bos: 1, ttl: 254 }]);
    expectTimeExceeded(payload, { source: LOCAL4, original: original(), stack: lse(100, 0, 1, 1) });
  });

  test('a long original is quoted to 128 bytes exactly', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])] });
    const long = ipv4Udp(src, '10.1.0.1', 64, payloadOf(300));
    lsr.handleFrame(frame([{ label: 100, ttl: 1 }], long), false, 'wg0');
    expectTimeExceeded(parseStack(host.mpls().frame).payload, { source: LOCAL4, original: long, stack: lse(100, 0, 1, 1) });
  });

  test('an expiring explicit null with no FTN route: the ICMP is delivered locally', () => {
    const { lsr, host } = setup();
    lsr.handleFrame(frame([{ label: 0, ttl: 1 }], original()), false, 'wg0');
    expect(host.drops).toEqual(['ttl-expired']);
    expectTimeExceeded(host.local().packet, { source: LOCAL4, original: original(), stack: lse(0, 0, 1, 1) });
    expect(lsr.routeCounters.size).toBe(0);
  });

  test('an expiring explicit null with an FTN route to the source: sent by it', () => {
    const { lsr, host } = setup({ ip: [ftn('10.0.0.0/8', [900], 'wg2')] });
    lsr.handleFrame(frame([{ label: 0, ttl: 0 }], original()), false, 'wg0');
    const { stack, payload } = parseStack(host.mpls().frame);
    expect(stack).toEqual([{ label: 900, tc: 0, bos: 1, ttl: 255 }]);
    expectTimeExceeded(payload, { source: LOCAL4, original: original(), stack: lse(0, 0, 1, 0) });
  });

  test('IPv6: ICMPv6 time exceeded (type 3) from our IPv6 address, RFC 4950 at 128', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])], settings: { defaultTtl: 64 } }, 'wg7');
    const orig = ipv6({ src: 'fd00:9::9', dst: 'fd00:1::1', hop: 64, payload: payloadOf(20) });
    lsr.handleFrame(frame([{ label: 100, tc: 3, ttl: 1 }], orig), false, 'wg5');
    expect(host.addressQueries).toEqual([{ family: 6, dev: 'wg5' }]);
    const { stack, payload } = parseStack(host.mpls().frame);
    expect(stack).toEqual([{ label: 200, tc: 3, bos: 1, ttl: 64 }]);
    expect(payload.subarray(24, 40)).toEqual(v6('fd00:9::9'));
    expectTimeExceeded(payload, { source: LOCAL6, original: orig, stack: lse(100, 3, 1, 1) });
  });

  test('IPv6 via our FTN route covering the source', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])], ip: [ftn('fd00:9::/32', [901], 'wg2')] });
    const orig = ipv6({ src: 'fd00:9::9', dst: 'fd00:1::1', hop: 64 });
    lsr.handleFrame(frame([{ label: 100, ttl: 1 }], orig), false, 'wg0');
    const e = host.mpls();
    expect(e.dev).toBe('wg2');
    const { stack, payload } = parseStack(e.frame);
    expect(stack).toEqual([{ label: 901, tc: 0, bos: 1, ttl: 255 }]);
    expectTimeExceeded(payload, { source: LOCAL6, original: orig, stack: lse(100, 0, 1, 1) });
  });

  test('no error about an error: an expiring ICMP time exceeded gets no reply (an echo request does)', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])] });
    const err = ipv4Icmp(src, '10.1.0.1', 64, 11, payloadOf(36));
    lsr.handleFrame(frame([{ label: 100, ttl: 1 }], err), false, 'wg0');
    expect(host.drops).toEqual(['ttl-expired']);
    expect(host.egresses).toEqual([]);

    const echo = ipv4Icmp(src, '10.1.0.1', 64, 8, payloadOf(36));
    lsr.handleFrame(frame([{ label: 100, ttl: 1 }], echo), false, 'wg0');
    expect(host.egresses).toHaveLength(1);
  });

  test('no error about an ICMPv6 error (destination unreachable); an echo request gets one', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])] });
    const err = ipv6({ src: 'fd00:9::9', hop: 64, next: 58, payload: Buffer.concat([Buffer.from([1, 0, 0, 0]), payloadOf(44)]) });
    lsr.handleFrame(frame([{ label: 100, ttl: 1 }], err), false, 'wg0');
    expect(host.drops).toEqual(['ttl-expired']);
    expect(host.egresses).toEqual([]);

    const echo = ipv6({ src: 'fd00:9::9', hop: 64, next: 58, payload: Buffer.concat([Buffer.from([128, 0, 0, 0]), payloadOf(44)]) });
    lsr.handleFrame(frame([{ label: 100, ttl: 1 }], echo), false, 'wg0');
    expect(host.egresses).toHaveLength(1);
  });

  test('no local address: dropped and counted, no reply', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])] });
    host.addr4 = null;
    lsr.handleFrame(frame([{ label: 100, ttl: 1 }], original()), false, 'wg0');
    expect(host.drops).toEqual(['ttl-expired']);
    expect(host.egresses).toEqual([]);
  });

  test('a non-IP payload under an expiring label: dropped, no reply', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])] });
    lsr.handleFrame(frame([{ label: 100, ttl: 1 }], Buffer.alloc(60)), false, 'wg0');
    expect(host.drops).toEqual(['ttl-expired']);
    expect(host.egresses).toEqual([]);
  });

  test('TTL 2 is still forwarded (with TTL 1)', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])] });
    lsr.handleFrame(frame([{ label: 100, ttl: 2 }], original()), false, 'wg0');
    expect(parseStack(host.mpls().frame).stack).toEqual([{ label: 200, tc: 0, bos: 1, ttl: 1 }]);
    expect(host.drops).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// load()
// ---------------------------------------------------------------------------------------

describe('load', () => {
  test('replaces ILM, FTN and settings: old routes are gone', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])], ip: [ftn('10.0.0.0/8', [900])], settings: PIPE });
    lsr.load({ mpls: [ilm(101, [201])], ip: [ftn('172.16.0.0/12', [901])], settings: { ...defaultSettings } });
    lsr.handleFrame(frame([{ label: 100, ttl: 64 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    expect(host.drops).toEqual(['no-route']);
    expect(lsr.handleIpFromStack(ipv4Udp('192.168.0.1', '10.1.2.3', 64, payloadOf(8)))).toBe(false);
    expect(host.egresses).toEqual([]);

    lsr.handleFrame(frame([{ label: 101, ttl: 64 }, { label: 500, ttl: 200 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    expect(lsr.handleIpFromStack(ipv4Udp('192.168.0.1', '172.16.0.9', 30, payloadOf(8)))).toBe(true);
    const [a, b] = host.egresses as MplsEgress[];
    expect(parseStack(a.frame).stack).toEqual([
      { label: 201, tc: 0, bos: 0, ttl: 63 },
      { label: 500, tc: 0, bos: 1, ttl: 200 },
    ]);
    // The new settings (uniform) apply: the label takes the IP TTL.
    expect(parseStack(b.frame).stack).toEqual([{ label: 901, tc: 0, bos: 1, ttl: 30 }]);
  });

  test('an empty table removes everything', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])], ip: [ftn('0.0.0.0/0', [900]), ftn('::/0', [901])] });
    lsr.load({ mpls: [], ip: [], settings: { ...defaultSettings } });
    lsr.handleFrame(frame([{ label: 100, ttl: 64 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    expect(lsr.handleIpFromStack(ipv4Udp('192.168.0.1', '10.1.2.3', 64, payloadOf(8)))).toBe(false);
    expect(lsr.handleIpFromStack(ipv6({ hop: 64 }))).toBe(false);
    expect(host.drops).toEqual(['no-route']);
    expect(host.egresses).toEqual([]);
  });

  test('later mutation of the loaded table arrays does not change the LSR', () => {
    const { lsr, host } = setup();
    const mpls = [ilm(100, [200])];
    const ip = [ftn('10.0.0.0/8', [900])];
    lsr.load({ mpls, ip, settings: { ...defaultSettings } });
    mpls.length = 0;
    ip.length = 0;
    lsr.handleFrame(frame([{ label: 100, ttl: 64 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    expect(lsr.handleIpFromStack(ipv4Udp('192.168.0.1', '10.1.2.3', 64, payloadOf(8)))).toBe(true);
    expect(host.egresses).toHaveLength(2);
  });

  test('a table that fails to load leaves the previous one whole (atomic)', () => {
    const { lsr, host } = setup({ mpls: [ilm(100, [200])], ip: [ftn('10.0.0.0/8', [900])] });
    const bad: IpRoute = { prefix: { addr: v4('10.0.0.0'), bits: 33 }, labels: [901], via: null, dev: 'wg1' };
    expect(() => lsr.load({ mpls: [ilm(101, [201])], ip: [bad], settings: { ...defaultSettings, ttlPropagate: false } })).toThrow();
    // The previous ILM must still be there...
    lsr.handleFrame(frame([{ label: 100, ttl: 64 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    expect(host.drops).toEqual([]);
    const e = host.mpls();
    // ... with the previous settings (uniform: 63, not the failed table's pipe model).
    expect(parseStack(e.frame).stack).toEqual([{ label: 200, tc: 0, bos: 1, ttl: 63 }]);
    // ... and the failed table's route must not be.
    lsr.handleFrame(frame([{ label: 101, ttl: 64 }], ipv4Udp('10.0.0.1', '10.1.0.1', 64, payloadOf(8))), false, 'wg0');
    expect(host.drops).toEqual(['no-route']);
    expect(host.egresses).toHaveLength(1);
  });
});
