// `wgmpls showconf` text from a wgmpls-get=1 answer: wg showconf's layout, plus WgmplsLabelAuth.
import { showconfFromGet } from '../../datapath/ipc/showconf';

const hex = (c: string): string => c.repeat(64);
const b64 = (h: string): string => Buffer.from(h, 'hex').toString('base64');

describe('showconfFromGet', () => {
  test('every field, in wg showconf order; the extension only where it is on', () => {
    const answer =
      `private_key=${hex('a')}\nlisten_port=51820\nfwmark=255\n` +
      `public_key=${hex('b')}\npreshared_key=${hex('c')}\nprotocol_version=1\nwgmpls-label-auth=true\nendpoint=[fd00::1]:7\n` +
      'last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=25\nallowed_ip=10.0.0.0/24\nallowed_ip=fd00::/64\n' +
      `public_key=${hex('d')}\npreshared_key=${hex('0')}\nprotocol_version=1\nwgmpls-label-auth=false\npersistent_keepalive_interval=0\n` +
      'errno=0\n\n';
    expect(showconfFromGet(answer)).toBe(
      '[Interface]\nListenPort = 51820\nFwMark = 0xff\n' +
        `PrivateKey = ${b64(hex('a'))}\n\n` +
        `[Peer]\nPublicKey = ${b64(hex('b'))}\nPresharedKey = ${b64(hex('c'))}\nAllowedIPs = 10.0.0.0/24, fd00::/64\nEndpoint = [fd00::1]:7\nPersistentKeepalive = 25\nWgmplsLabelAuth = true\n\n` +
        `[Peer]\nPublicKey = ${b64(hex('d'))}\n`,
    );
  });

  test('an empty device; a failed request throws', () => {
    expect(showconfFromGet('errno=0\n\n')).toBe('[Interface]\n');
    expect(() => showconfFromGet('errno=-22\n\n')).toThrow(/errno -22/);
  });
});
