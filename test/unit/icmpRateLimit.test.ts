// ICMP time-exceeded replies are rate-limited per source like Linux's icmp_ratelimit (bursts
// of six, then one per net.mpls.icmp_ratelimit ms), with Linux's global 1000/s, burst 50 cap;
// settable with `wgmpls sysctl`. All on a fake clock.
import { FakeClock } from '../fakeClock';
import { ICMP_BURST_FACTOR, ICMP_MSGS_BURST, ICMP_TRACKED_SOURCES, IcmpRateLimiter } from '../../datapath/lsr/icmpRateLimit';
import { sysctl } from '../../datapath/lsr/sysctl';
import { defaultSettings } from '../../datapath/lsr/model';
import { RouteError } from '../../datapath/lsr/model';
import { frame, ftn, ilm, setup, v4, VIA1, VIA2 } from './forwarderHarness';
import { ipv4Udp } from '../packets';

const A = v4('10.9.9.9');
const B = v4('10.9.9.10');

describe('IcmpRateLimiter (token bucket per source, Linux inet_peer_xrlim_allow)', () => {
  test('a burst of six, then one per interval; a quiet source earns its burst back', () => {
    const clock = new FakeClock();
    const rl = new IcmpRateLimiter(() => clock.now());
    const sent = (n: number): number => Array.from({ length: n }, () => rl.allow(A, 1000)).filter(Boolean).length;
    expect(sent(10)).toBe(ICMP_BURST_FACTOR);
    clock.advance(999);
    expect(rl.allow(A, 1000)).toBe(false);
    clock.advance(1);
    expect(rl.allow(A, 1000)).toBe(true);
    expect(rl.allow(A, 1000)).toBe(false);
    clock.advance(2500);
    expect(sent(5)).toBe(2); // 2.5 intervals of tokens: two replies
    clock.advance(60_000);
    expect(sent(10)).toBe(ICMP_BURST_FACTOR); // capped at the burst, not 60
  });

  test('sources are limited apart: one flooding source does not silence another', () => {
    const clock = new FakeClock();
    const rl = new IcmpRateLimiter(() => clock.now());
    for (let i = 0; i < 20; i++) rl.allow(A, 1000);
    expect(rl.allow(A, 1000)).toBe(false);
    expect(rl.allow(B, 1000)).toBe(true);
  });

  test('interval 0 lifts the per-source limit; the global 1000/s (burst 50) still holds against spoofed floods', () => {
    const clock = new FakeClock();
    const rl = new IcmpRateLimiter(() => clock.now());
    let n = 0;
    for (let i = 0; i < 200; i++) if (rl.allow(A, 0)) n++;
    expect(n).toBe(ICMP_MSGS_BURST);
    clock.advance(10);
    expect([rl.allow(A, 0), rl.allow(A, 0), rl.allow(A, 0)].filter(Boolean)).toHaveLength(3); // 10 ms earned 10 global tokens
    // Many spoofed sources, one packet each: at most the global rate gets a reply.
    const rl2 = new IcmpRateLimiter(() => clock.now());
    let m = 0;
    for (let i = 0; i < 10_000; i++) {
      if (rl2.allow(Uint8Array.of(10, (i >> 16) & 255, (i >> 8) & 255, i & 255), 1000)) m++;
      if (i % 10 === 9) clock.advance(1); // 10,000 packets in one second
    }
    expect(m).toBeLessThanOrEqual(ICMP_MSGS_BURST + 1000);
    expect(m).toBeGreaterThanOrEqual(1000);
    expect(rl2.tracked).toBeLessThanOrEqual(ICMP_TRACKED_SOURCES);
  });
});

describe('the LSR limits its time-exceeded replies per source (default 1000 ms, like Linux)', () => {
  const expired = (src: string): Buffer => frame([{ label: 100, ttl: 1 }], ipv4Udp(src, '10.1.0.1', 64, Buffer.from('x')));

  test('ten expiries from one source: six replies, four counted as icmp-rate-limited; another source still answered; a second later one more', () => {
    const clock = new FakeClock();
    const { lsr, host } = setup({ mpls: [ilm(100, [200], 'wg1', VIA1)], ip: [ftn('10.9.0.0/16', [900], 'wg2', VIA2)] }, 'wg0', () => clock.now());
    for (let i = 0; i < 10; i++) lsr.handleFrame(expired('10.9.9.9'), false, 'wg0');
    expect(host.egresses).toHaveLength(6);
    expect(host.drops.filter((d) => d === 'ttl-expired')).toHaveLength(10);
    expect(host.drops.filter((d) => d === 'icmp-rate-limited')).toHaveLength(4);
    lsr.handleFrame(expired('10.9.9.10'), false, 'wg0');
    expect(host.egresses).toHaveLength(7);
    clock.advance(1000);
    lsr.handleFrame(expired('10.9.9.9'), false, 'wg0');
    lsr.handleFrame(expired('10.9.9.9'), false, 'wg0');
    expect(host.egresses).toHaveLength(8);
  });

  test('net.mpls.icmp_ratelimit=0 answers every expiry (up to the global cap); 100 ms spaces them 100 ms apart', () => {
    const clock = new FakeClock();
    const { lsr, host } = setup({ mpls: [ilm(100, [200], 'wg1', VIA1)], ip: [ftn('10.9.0.0/16', [900], 'wg2', VIA2)], settings: { icmpRatelimit: 0 } }, 'wg0', () => clock.now());
    for (let i = 0; i < 20; i++) lsr.handleFrame(expired('10.9.9.9'), false, 'wg0');
    expect(host.egresses).toHaveLength(20);
    const s2 = setup({ mpls: [ilm(100, [200], 'wg1', VIA1)], ip: [ftn('10.9.0.0/16', [900], 'wg2', VIA2)], settings: { icmpRatelimit: 100 } }, 'wg0', () => clock.now());
    for (let i = 0; i < 6; i++) s2.lsr.handleFrame(expired('10.9.9.9'), false, 'wg0');
    for (let i = 0; i < 10; i++) {
      clock.advance(100);
      s2.lsr.handleFrame(expired('10.9.9.9'), false, 'wg0');
      s2.lsr.handleFrame(expired('10.9.9.9'), false, 'wg0');
    }
    expect(s2.host.egresses).toHaveLength(6 + 10);
  });
});

describe('wgmpls sysctl net.mpls.icmp_ratelimit', () => {
  test('listed with its default, set in ms, bounds checked naming the key, nothing changed on error', () => {
    expect(sysctl([], defaultSettings).output).toContain('net.mpls.icmp_ratelimit = 1000\n');
    const r = sysctl(['-w', 'net.mpls.icmp_ratelimit=250'], defaultSettings);
    expect(r.changed).toBe(true);
    expect(r.settings.icmpRatelimit).toBe(250);
    expect(r.output).toBe('net.mpls.icmp_ratelimit = 250\n');
    expect(sysctl(['net/mpls/icmp_ratelimit'], r.settings).output).toBe('net.mpls.icmp_ratelimit = 250\n');
    for (const bad of ['-1', '1.5', 'fast', '3600001']) {
      expect(() => sysctl(['-w', `net.mpls.icmp_ratelimit=${bad}`], defaultSettings)).toThrow(RouteError);
      expect(() => sysctl(['-w', `net.mpls.icmp_ratelimit=${bad}`], defaultSettings)).toThrow(/net\.mpls\.icmp_ratelimit/);
    }
    expect(defaultSettings.icmpRatelimit).toBe(1000);
  });
});
