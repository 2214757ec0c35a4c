// Real traceroute -e against our ICMP / ICMPv6 time exceeded: a TUN in a throwaway namespace
// plays the first label-switching hop and answers every probe with timeExceededV4/V6. The
// kernel must accept the replies (checksums, quoted probe) and deliver them to traceroute,
// which must find the RFC 4884/4950 extension and print the label stack.
// Needs root (namespaces, TUN), traceroute (Debian's, 2.x) and the built TUN addon.

import { runOutput } from './harness';
import { describeWhere, firstReason, needRoot } from '../canRun';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { internetChecksum, timeExceededV4, timeExceededV6 } from '../../datapath/lsr/icmp';
import { ETH_P_IP, ETH_P_IPV6 } from '../../datapath/net/ethertypes';
import { PI_LEN, TunDevice, piProto } from '../../datapath/tun/tunDevice';
import { addonPath } from '../../datapath/native/addon';

function traceroutePath(): string | null {
  for (const p of ['/usr/bin/traceroute', '/usr/sbin/traceroute']) if (existsSync(p)) return p;
  return null;
}

function addonBuilt(): boolean {
  try {
    return existsSync(addonPath());
  } catch {
    return false;
  }
}

const traceroute = traceroutePath();
const describeReady = describeWhere(
  firstReason(needRoot('root (a TUN in a namespace)'), traceroute === null ? 'needs traceroute (/usr/bin or /usr/sbin)' : null, addonBuilt() ? null : 'needs the built addon (npm run build)'),
);

jest.setTimeout(30_000);

const NS = `wgmt-icmp-${process.pid}`;
const NS_PATH = `/var/run/netns/${NS}`;

// Spawned (harness.runOutput), not execSync'd: the echo responder runs on this same event loop.
const run = runOutput;

const lse = (label: number, tc: number, s: number, ttl: number): number[] => {
  const v = label * 4096 + tc * 512 + s * 256 + ttl;
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
};
const STACK = Uint8Array.from([...lse(101, 0, 0, 1), ...lse(202, 5, 1, 64)]);
const HOP_V4 = Uint8Array.from([10, 203, 0, 2]);
const HOP_V6 = Uint8Array.from([0xfd, 0, 2, 3, ...Array(11).fill(0), 2]); // fd00:203::2

describeReady('traceroute -e reads our time exceeded (root)', () => {
  let dev: TunDevice | null = null;
  const answered = { v4: 0, v6: 0, suppressed: 0 };
  /** Control: spoil the extension checksum (and fix the ICMP one) to show traceroute checks it. */
  let spoilExtension = false;

  beforeAll(async () => {
    execFileSync('ip', ['netns', 'add', NS]);
    const name = `wgmtic${process.pid % 100000}`;
    dev = TunDevice.open(name, { netnsPath: NS_PATH, offload: false });
    const d = dev;
    d.onPackets((packets) => {
      for (const pkt of packets) {
        const proto = piProto(pkt);
        const ip = pkt.subarray(PI_LEN);
        // Only probes toward the far targets; link-up chatter (MLD, RS) is ignored.
        if (proto === ETH_P_IP && ip[16] === 10 && ip[17] === 204) {
          const r = timeExceededV4({ original: ip, source: HOP_V4, labelStack: STACK });
          if (r !== null && spoilExtension) {
            const ext = 20 + 8 + 128;
            r[ext + 3] ^= 0x01;
            r[22] = 0;
            r[23] = 0;
            const c = internetChecksum(r, 20, r.length - 20);
            r[22] = c >> 8;
            r[23] = c & 0xff;
          }
          if (r === null) answered.suppressed++;
          else if (d.write(ETH_P_IP, r)) answered.v4++;
        } else if (proto === ETH_P_IPV6 && ip[24] === 0xfd && ip[26] === 2 && ip[27] === 4) {
          const r = timeExceededV6({ original: ip, source: HOP_V6, labelStack: STACK });
          if (r === null) answered.suppressed++;
          else if (d.write(ETH_P_IPV6, r)) answered.v6++;
        }
      }
    });
    const ipn = (...a: string[]): void => void execFileSync('ip', ['-n', NS, ...a]);
    ipn('link', 'set', 'lo', 'up');
    ipn('addr', 'add', '10.203.0.1/24', 'dev', name);
    ipn('-6', 'addr', 'add', 'fd00:203::1/64', 'dev', name, 'nodad');
    ipn('link', 'set', name, 'up');
    ipn('route', 'add', '10.204.0.0/16', 'via', '10.203.0.2', 'dev', name);
    ipn('-6', 'route', 'add', 'fd00:204::/32', 'via', 'fd00:203::2', 'dev', name);
  });

  afterAll(() => {
    try {
      dev?.close();
    } finally {
      try {
        execFileSync('ip', ['netns', 'del', NS]);
      } catch {
        // Already gone.
      }
    }
  });

  const expectLabels = (out: string): void => {
    // traceroute 2.x prints the extension as <MPLS:L=..,E=..,S=..,T=../...>.
    expect(out).toContain('<MPLS:L=101,E=0,S=0,T=1/L=202,E=5,S=1,T=64>');
  };

  it.each([
    ['UDP', []],
    ['ICMP echo', ['-I']],
    ['TCP SYN', ['-T']],
  ])('IPv4 %s probes', async (_what, method) => {
    const r = await run('ip', ['netns', 'exec', NS, traceroute as string, ...method, '-n', '-e', '-q', '1', '-m', '1', '-w', '2', '10.204.6.9']);
    expect(r.output).toMatch(/ 1 {2}10\.203\.0\.2 /);
    expectLabels(r.output);
  });

  it('control: with a spoiled extension checksum the hop shows but its labels do not', async () => {
    spoilExtension = true;
    try {
      const r = await run('ip', ['netns', 'exec', NS, traceroute as string, '-n', '-e', '-q', '1', '-m', '1', '-w', '2', '10.204.6.9']);
      expect(r.output).toMatch(/ 1 {2}10\.203\.0\.2 /);
      expect(r.output).not.toContain('MPLS');
    } finally {
      spoilExtension = false;
    }
  });

  it.each([
    ['UDP', []],
    ['ICMPv6 echo', ['-I']],
  ])('IPv6 %s probes', async (_what, method) => {
    const r = await run('ip', ['netns', 'exec', NS, traceroute as string, '-6', ...method, '-n', '-e', '-q', '1', '-m', '1', '-w', '2', 'fd00:204::9']);
    expect(r.output).toMatch(/ 1 {2}fd00:203::2 /);
    expectLabels(r.output);
    expect(answered.suppressed).toBe(0);
  });
});
