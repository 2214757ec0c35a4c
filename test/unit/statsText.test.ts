// `wgmpls stats` text from a wgmpls-get=1 and a wgmpls-stats=1 answer: wg show's layout and
// wording, the private key never shown, the counters grouped and named.
import { ago, bytes, formatStats, parseGetAnswer, parseStatsAnswer, prettyTime } from '../../datapath/ipc/statsText';

const hex = (c: string): string => c.repeat(64);
const b64 = (h: string): string => Buffer.from(h, 'hex').toString('base64');

describe("wg show's wording", () => {
  test('times as pretty_time, handshakes as ago', () => {
    expect(prettyTime(25)).toBe('25 seconds');
    expect(prettyTime(61)).toBe('1 minute, 1 second');
    expect(prettyTime(2 * 86400 + 3600 + 120)).toBe('2 days, 1 hour, 2 minutes');
    expect(prettyTime(366 * 86400)).toBe('1 year, 1 day');
    expect(ago(1000, 1000.7)).toBe('Now');
    expect(ago(1000, 1065.2)).toBe('1 minute, 5 seconds ago');
    expect(ago(1000, 999)).toMatch(/clock wound backward/);
  });

  test('byte counts', () => {
    expect(bytes(0)).toBe('0 B');
    expect(bytes(1023)).toBe('1023 B');
    expect(bytes(1024)).toBe('1.00 KiB');
    expect(bytes(1536 * 1024)).toBe('1.50 MiB');
    expect(bytes(3 * 1024 ** 4)).toBe('3.00 TiB');
  });
});

describe('formatStats', () => {
  const get =
    `private_key=${hex('a')}\nlisten_port=51820\nfwmark=51820\n` +
    `public_key=${hex('b')}\npreshared_key=${hex('0')}\nprotocol_version=1\nwgmpls-label-auth=false\nendpoint=192.0.2.2:51820\n` +
    'last_handshake_time_sec=900\nlast_handshake_time_nsec=5\ntx_bytes=2048\nrx_bytes=100\npersistent_keepalive_interval=0\nallowed_ip=10.0.0.2/32\n' +
    `public_key=${hex('c')}\npreshared_key=${hex('d')}\nprotocol_version=1\nwgmpls-label-auth=true\nendpoint=[fd00::3]:7\n` +
    'last_handshake_time_sec=990\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=25\nallowed_ip=0.0.0.0/0\nallowed_ip=::/0\n' +
    `public_key=${hex('e')}\npreshared_key=${hex('0')}\nprotocol_version=1\nwgmpls-label-auth=false\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n` +
    'errno=0\n\n';
  const stats =
    'drops_total=7\ndrops_udp_total=5\ndrop.decrypt=3\ndrop.label-auth-mismatch=2\ndrop.no-endpoint=2\nevent.rx-mpls=11\n' +
    'lsr.drop.icmp-rate-limited=4\nlsr.drop.sibling=0\nlsr.route.101.packets=10\nlsr.route.101.bytes=1200\nlsr.route.101.drop.ttl-expired=1\n' +
    'lsr.route.3.packets=0\nlsr.route.3.bytes=0\nlsr.route.3.drop.ttl-expired=0\nerrno=0\n\n';

  test('interface, counters, then the peers by latest handshake', () => {
    const { device, privateKeyHex } = parseGetAnswer(get);
    expect(privateKeyHex).toBe(hex('a'));
    const text = formatStats({ ifname: 'wgm0', publicKey: 'PUB=', device, counters: parseStatsAnswer(stats), now: 1000 });
    expect(text).toBe(
      [
        'interface: wgm0',
        '  public key: PUB=',
        '  private key: (hidden)',
        '  listening port: 51820',
        '  fwmark: 0xca6c',
        '  dropped: 7 packets (5 received from the underlay, 2 on the way out)',
        '    decrypt: 3',
        '    label-auth-mismatch: 2 (MPLS authenticated only under the other wgmpls-label-auth setting)',
        '    no-endpoint: 2',
        '  events: rx-mpls 11',
        '  label switching:',
        '    label 3: 0 packets, 0 B',
        '    label 101: 10 packets, 1.17 KiB, 1 ttl expired',
        '    dropped: icmp-rate-limited 4',
        '',
        `peer: ${b64(hex('c'))}`,
        '  preshared key: (hidden)',
        '  endpoint: [fd00::3]:7',
        '  allowed ips: 0.0.0.0/0, ::/0',
        '  label auth: on',
        '  latest handshake: 10 seconds ago',
        '  persistent keepalive: every 25 seconds',
        '',
        `peer: ${b64(hex('b'))}`,
        '  endpoint: 192.0.2.2:51820',
        '  allowed ips: 10.0.0.2/32',
        '  label auth: off',
        '  latest handshake: 1 minute, 40 seconds ago',
        '  transfer: 100 B received, 2.00 KiB sent',
        '',
        `peer: ${b64(hex('e'))}`,
        '  allowed ips: (none)',
        '  label auth: off',
        '',
      ].join('\n'),
    );
    expect(text).not.toContain(hex('a'));
    expect(text).not.toContain(b64(hex('a')));
    expect(text).not.toContain(b64(hex('d')));
  });

  test('a fresh device: no key, no drops, no peers', () => {
    const { device, privateKeyHex } = parseGetAnswer('errno=0\n\n');
    expect(privateKeyHex).toBeNull();
    expect(formatStats({ ifname: 'x', publicKey: null, device, counters: parseStatsAnswer('drops_total=0\ndrops_udp_total=0\nlsr.drop.sibling=0\nerrno=0\n\n'), now: 0 })).toBe(
      'interface: x\n  dropped: 0 packets\n',
    );
  });

  test('a refused request is an error naming it', () => {
    expect(() => parseGetAnswer('errno=-22\n\n')).toThrow('the datapath refused wgmpls-get (errno -22)');
    expect(() => parseStatsAnswer('errno=-22\n\n')).toThrow('the datapath refused wgmpls-stats (errno -22)');
  });
});
