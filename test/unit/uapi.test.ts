// The UAPI text protocol (datapath/ipc/uapi.ts): keys, addresses, set transactions and their
// errors, get answers, as wg and wireguard-go read and write them. The socket: uapiServer.test.ts.
import { DeviceChange, DeviceSnapshot, Errno, PeerSnapshot, Prefix, UapiError } from '../../datapath/device/config';
import { endpointToString, formatErrno, formatGet, ipToString, keyFromHex, keyToHex, parseEndpoint, parseIp, parsePrefix, parseSet, prefixToString } from '../../datapath/ipc/uapi';
import { FakeTarget, newPeer } from '../fakeUapiTarget';

const K1 = '1111111111111111111111111111111111111111111111111111111111111111';
const K2 = '2222222222222222222222222222222222222222222222222222222222222222';
const PRIV = 'a8aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa6a';
const PSK = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const ZERO = '0'.repeat(64);

const key = (hex: string): Uint8Array => keyFromHex(hex) as Uint8Array;
const pfx = (s: string): Prefix => parsePrefix(s) as Prefix;

/** Expects parseSet(lines) to throw UapiError(errno) whose message names `name`. */
function expectSetError(lines: string[], errno: number, name: string): UapiError {
  let caught: unknown;
  try {
    parseSet(lines);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(UapiError);
  const e = caught as UapiError;
  expect(e.errno).toBe(errno);
  expect(e.message).toContain(name);
  return e;
}

// ------------------------------------------------------------------------------- helpers

describe('keys', () => {
  test('hex round trip, lowercase out, either case in', () => {
    const k = key(PSK.toUpperCase());
    expect(k).toHaveLength(32);
    expect(keyToHex(k)).toBe(PSK);
  });
  test('exactly 64 hex digits', () => {
    expect(keyFromHex(PSK.slice(1))).toBeNull();
    expect(keyFromHex(PSK + '0')).toBeNull();
    expect(keyFromHex(PSK.slice(1) + 'g')).toBeNull();
    expect(keyFromHex(` ${PSK.slice(1)}`)).toBeNull();
    expect(keyFromHex('')).toBeNull();
  });
  test('keyToHex wants 32 bytes', () => {
    expect(() => keyToHex(new Uint8Array(31))).toThrow(RangeError);
  });
});

describe('addresses', () => {
  test.each([
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:DB8::0:1', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:0:0:1:0:0:1:1', '1::1:0:0:1:1'],
    ['1:0:1:0:1:0:1:0', '1:0:1:0:1:0:1:0'],
    ['fe80:0000:0000:0000:0000:0000:0000:0001', 'fe80::1'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::ffff:0102:0304', '::ffff:1.2.3.4'],
    ['::1.2.3.4', '::102:304'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ])('%s -> %s (Go netip formatting)', (input, out) => {
    const a = parseIp(input);
    expect(a).not.toBeNull();
    expect(ipToString(a as Uint8Array)).toBe(out);
  });

  test.each([
    '', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.256', '1.2.3.-1', ' 1.2.3.4', '1.2.3.4 ', 'a.b.c.d',
    ':', ':::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7::8', '1::2::3', '12345::', 'g::',
    ':1::', '1::2:', 'fe80::1%eth0', '1.2.3.4::', '::1.2.3.4:1', '::01.2.3.4', 'localhost',
  ])('rejects %j', (input) => {
    expect(parseIp(input)).toBeNull();
  });

  test('prefixes: parse masks host bits, string is canonical', () => {
    expect(prefixToString(pfx('10.1.2.3/24'))).toBe('10.1.2.0/24');
    expect(prefixToString(pfx('10.1.2.3/32'))).toBe('10.1.2.3/32');
    expect(prefixToString(pfx('10.255.2.3/9'))).toBe('10.128.0.0/9');
    expect(prefixToString(pfx('0.0.0.0/0'))).toBe('0.0.0.0/0');
    expect(prefixToString(pfx('1.2.3.4/0'))).toBe('0.0.0.0/0');
    expect(prefixToString(pfx('fd00::1:2/64'))).toBe('fd00::/64');
    expect(prefixToString(pfx('fd00:ffff::/17'))).toBe('fd00:8000::/17');
    expect(prefixToString(pfx('::/0'))).toBe('::/0');
    expect(prefixToString(pfx('::ffff:10.1.2.3/104'))).toBe('::ffff:10.0.0.0/104');
    expect(prefixToString(pfx('10.0.0.0/08'))).toBe('10.0.0.0/8'); // wireguard-go accepts it too
    // prefixToString masks prefixes that did not come from parsePrefix
    expect(prefixToString({ addr: Uint8Array.from([10, 9, 8, 7]), bits: 16 })).toBe('10.9.0.0/16');
    expect(pfx('10.1.2.3/24').addr).toEqual(Uint8Array.from([10, 1, 2, 0]));
    expect(() => prefixToString({ addr: new Uint8Array(4), bits: 33 })).toThrow(RangeError);
  });

  test.each(['10.0.0.0', '10.0.0.0/', '10.0.0.0/33', 'fd00::/129', 'fd00::%eth0/64', ' 10.0.0.0/8', '10.0.0.0/8 ', '10.0.0.0/-1', '10.0.0.0/+8', 'x/8', '/8'])(
    'rejects prefix %j',
    (input) => {
      expect(parsePrefix(input)).toBeNull();
    },
  );

  test('endpoints', () => {
    expect(parseEndpoint('127.0.0.1:51821')).toEqual({ address: '127.0.0.1', port: 51821 });
    expect(parseEndpoint('1.2.3.4:05')).toEqual({ address: '1.2.3.4', port: 5 });
    expect(parseEndpoint('1.2.3.4:0')).toEqual({ address: '1.2.3.4', port: 0 });
    expect(parseEndpoint('[2001:DB8::0:1]:65535')).toEqual({ address: '2001:db8::1', port: 65535 });
    expect(parseEndpoint('[fe80::1%eth0]:5')).toEqual({ address: 'fe80::1', port: 5 });
    expect(parseEndpoint('[fe80::1%2]:5')).toEqual({ address: 'fe80::1', port: 5 });
    expect(parseEndpoint('[::ffff:1.2.3.4]:5')).toEqual({ address: '::ffff:1.2.3.4', port: 5 });
    expect(endpointToString({ address: '1.2.3.4', port: 5 })).toBe('1.2.3.4:5');
    expect(endpointToString({ address: '2001:DB8:0::1', port: 5 })).toBe('[2001:db8::1]:5');
  });

  test.each([
    '', '1.2.3.4', '1.2.3.4:', '1.2.3.4:65536', '1.2.3.4:+5', '1.2.3.4:-1', '1.2.3.4:x', '::1:5', '[::1]', '[::1]:',
    '[::1]5', '[::1', 'host:5', 'localhost:51820', '[1.2.3.4]:5', '1.2.3.4%lo:5', '[fe80::1%]:5', '01.2.3.4:5', ' 1.2.3.4:5',
  ])('rejects endpoint %j', (input) => {
    expect(parseEndpoint(input)).toBeNull();
  });
});

// ------------------------------------------------------------------------------- parseSet

describe('parseSet', () => {
  test('every key, device and peer', () => {
    const c = parseSet([
      `private_key=${PRIV}`,
      'listen_port=51820',
      'fwmark=4294967295',
      'replace_peers=true',
      `public_key=${K1}`,
      `preshared_key=${PSK}`,
      'protocol_version=1',
      'endpoint=[fd00::1%eth0]:51821',
      'persistent_keepalive_interval=25',
      'replace_allowed_ips=true',
      'allowed_ip=10.9.0.1/24',
      'allowed_ip=fd00::/64',
      `public_key=${K2.toUpperCase()}`,
      'update_only=true',
      'endpoint=192.0.2.1:1',
      `public_key=${K1}`,
      'remove=true',
    ]);
    expect(c).toEqual<DeviceChange>({
      privateKey: key(PRIV),
      listenPort: 51820,
      fwmark: 4294967295,
      replacePeers: true,
      peers: [
        {
          publicKey: key(K1),
          remove: false,
          updateOnly: false,
          presharedKey: key(PSK),
          endpoint: { address: 'fd00::1', port: 51821 },
          persistentKeepaliveInterval: 25,
          replaceAllowedIps: true,
          allowedIps: [pfx('10.9.0.0/24'), pfx('fd00::/64')],
        },
        {
          publicKey: key(K2),
          remove: false,
          updateOnly: true,
          endpoint: { address: '192.0.2.1', port: 1 },
          replaceAllowedIps: false,
          allowedIps: [],
        },
        { publicKey: key(K1), remove: true, updateOnly: false, replaceAllowedIps: false, allowedIps: [] },
      ],
    });
  });

  test('empty transaction; stops at the first blank line', () => {
    expect(parseSet([])).toEqual({ replacePeers: false, peers: [] });
    expect(parseSet(['listen_port=1', '', 'bogus'])).toEqual({ listenPort: 1, replacePeers: false, peers: [] });
  });

  test('all-zero private_key removes it; zero preshared_key clears it; last value wins', () => {
    expect(parseSet([`private_key=${ZERO}`]).privateKey).toBeNull();
    expect(parseSet([`private_key=${PRIV}`, `private_key=${ZERO}`]).privateKey).toBeNull();
    expect(parseSet(['listen_port=1', 'listen_port=0']).listenPort).toBe(0);
    const c = parseSet([`public_key=${K1}`, `preshared_key=${ZERO}`, 'persistent_keepalive_interval=0', 'persistent_keepalive_interval=007']);
    expect(c.peers[0].presharedKey).toEqual(new Uint8Array(32));
    expect(c.peers[0].persistentKeepaliveInterval).toBe(7);
  });

  test('replace_allowed_ips drops the allowed_ips collected before it in the block', () => {
    const c = parseSet([`public_key=${K1}`, 'allowed_ip=10.0.0.0/8', 'replace_allowed_ips=true', 'allowed_ip=10.1.0.0/16']);
    expect(c.peers[0].replaceAllowedIps).toBe(true);
    expect(c.peers[0].allowedIps.map(prefixToString)).toEqual(['10.1.0.0/16']);
  });

  test('remove discards the block; lines after it are validated but ignored', () => {
    const c = parseSet([`public_key=${K1}`, 'allowed_ip=10.0.0.0/8', 'endpoint=1.2.3.4:5', 'remove=true', 'allowed_ip=10.1.0.0/16', 'persistent_keepalive_interval=5', 'update_only=true']);
    expect(c.peers).toEqual([{ publicKey: key(K1), remove: true, updateOnly: false, replaceAllowedIps: false, allowedIps: [] }]);
    expectSetError([`public_key=${K1}`, 'remove=true', 'allowed_ip=bogus'], Errno.EINVAL, 'allowed_ip');
  });

  test('wgmpls-label-auth: true or false, per peer; unchanged when absent; cleared by remove', () => {
    const c = parseSet([`public_key=${K1}`, 'wgmpls-label-auth=true', `public_key=${K2}`, 'wgmpls-label-auth=false', `public_key=${PSK}`]);
    expect(c.peers.map((p) => p.labelAuth)).toEqual([true, false, undefined]);
    expect(parseSet([`public_key=${K1}`, 'wgmpls-label-auth=true', 'remove=true']).peers[0].labelAuth).toBeUndefined();
    const e = expectSetError([`public_key=${K1}`, 'wgmpls-label-auth=1'], Errno.EINVAL, 'wgmpls-label-auth');
    expect(e.message).toContain('only "true" or "false"');
    expectSetError([`public_key=${K1}`, 'wgmpls-label-auth=TRUE'], Errno.EINVAL, 'wgmpls-label-auth');
    expectSetError(['wgmpls-label-auth=true'], Errno.EINVAL, 'a peer key must follow a public_key line');
  });

  test('\\r is part of the value (the server strips CRLF, not the parser)', () => {
    expectSetError(['listen_port=1\r'], Errno.EINVAL, 'listen_port');
  });

  describe('errors name the key and carry wireguard-go errno', () => {
    test.each<[string, string[], number, string]>([
      ['line without =', ['listen_port'], Errno.EPROTO, 'line 1'],
      ['line without = (peer)', [`public_key=${K1}`, 'garbage'], Errno.EPROTO, 'line 2'],
      ['unknown device key', ['foo=bar'], Errno.EINVAL, 'foo'],
      ['unknown peer key', [`public_key=${K1}`, 'foo=bar'], Errno.EINVAL, 'foo'],
      ['device key in peer block', [`public_key=${K1}`, 'listen_port=1'], Errno.EINVAL, 'listen_port'],
      ['private_key in peer block', [`public_key=${K1}`, `private_key=${PRIV}`], Errno.EINVAL, 'private_key'],
      ['empty key', ['=x'], Errno.EINVAL, 'device key'],
      ['allowed_ip before public_key', ['allowed_ip=10.0.0.0/8'], Errno.EINVAL, 'allowed_ip'],
      ['endpoint before public_key', ['endpoint=1.2.3.4:5'], Errno.EINVAL, 'endpoint'],
      ['preshared_key before public_key', [`preshared_key=${PSK}`], Errno.EINVAL, 'preshared_key'],
      ['remove before public_key', ['remove=true'], Errno.EINVAL, 'remove'],
      ['protocol_version before public_key', ['protocol_version=1'], Errno.EINVAL, 'protocol_version'],
      ['private_key not hex', [`private_key=${PRIV.slice(1)}x`], Errno.EINVAL, 'private_key'],
      ['private_key 63 chars', [`private_key=${PRIV.slice(1)}`], Errno.EINVAL, 'private_key'],
      ['private_key 65 chars', [`private_key=${PRIV}0`], Errno.EINVAL, 'private_key'],
      ['private_key empty', ['private_key='], Errno.EINVAL, 'private_key'],
      ['private_key short zero', ['private_key=0'], Errno.EINVAL, 'private_key'],
      ['private_key base64', ['private_key=qKqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqmo='], Errno.EINVAL, 'private_key'],
      ['public_key 63 chars', [`public_key=${K1.slice(1)}`], Errno.EINVAL, 'public_key'],
      ['public_key not hex', [`public_key=${K1.slice(1)}z`], Errno.EINVAL, 'public_key'],
      ['preshared_key 63 chars', [`public_key=${K1}`, `preshared_key=${PSK.slice(1)}`], Errno.EINVAL, 'preshared_key'],
      ['listen_port too big', ['listen_port=65536'], Errno.EINVAL, 'listen_port'],
      ['listen_port negative', ['listen_port=-1'], Errno.EINVAL, 'listen_port'],
      ['listen_port signed', ['listen_port=+5'], Errno.EINVAL, 'listen_port'],
      ['listen_port empty', ['listen_port='], Errno.EINVAL, 'listen_port'],
      ['listen_port space', ['listen_port= 5'], Errno.EINVAL, 'listen_port'],
      ['listen_port hex', ['listen_port=0x10'], Errno.EINVAL, 'listen_port'],
      ['listen_port huge', [`listen_port=${'9'.repeat(30)}`], Errno.EINVAL, 'listen_port'],
      ['fwmark too big', ['fwmark=4294967296'], Errno.EINVAL, 'fwmark'],
      ['fwmark hex', ['fwmark=0x10'], Errno.EINVAL, 'fwmark'],
      ['replace_peers=false', ['replace_peers=false'], Errno.EINVAL, 'replace_peers'],
      ['replace_peers=True', ['replace_peers=True'], Errno.EINVAL, 'replace_peers'],
      ['remove=false', [`public_key=${K1}`, 'remove=false'], Errno.EINVAL, 'remove'],
      ['update_only=1', [`public_key=${K1}`, 'update_only=1'], Errno.EINVAL, 'update_only'],
      ['replace_allowed_ips=false', [`public_key=${K1}`, 'replace_allowed_ips=false'], Errno.EINVAL, 'replace_allowed_ips'],
      ['keepalive too big', [`public_key=${K1}`, 'persistent_keepalive_interval=65536'], Errno.EINVAL, 'persistent_keepalive_interval'],
      ['keepalive empty', [`public_key=${K1}`, 'persistent_keepalive_interval='], Errno.EINVAL, 'persistent_keepalive_interval'],
      ['endpoint without port', [`public_key=${K1}`, 'endpoint=1.2.3.4'], Errno.EINVAL, 'endpoint'],
      ['endpoint bad port', [`public_key=${K1}`, 'endpoint=1.2.3.4:70000'], Errno.EINVAL, 'endpoint'],
      ['endpoint host name', [`public_key=${K1}`, 'endpoint=example.com:51820'], Errno.EINVAL, 'endpoint'],
      ['endpoint unbracketed v6', [`public_key=${K1}`, 'endpoint=::1:5'], Errno.EINVAL, 'endpoint'],
      ['endpoint bad v4', [`public_key=${K1}`, 'endpoint=1.2.3.256:5'], Errno.EINVAL, 'endpoint'],
      ['allowed_ip no bits', [`public_key=${K1}`, 'allowed_ip=10.0.0.0'], Errno.EINVAL, 'allowed_ip'],
      ['allowed_ip bits too big', [`public_key=${K1}`, 'allowed_ip=10.0.0.0/33'], Errno.EINVAL, 'allowed_ip'],
      ['allowed_ip v6 bits too big', [`public_key=${K1}`, 'allowed_ip=fd00::/129'], Errno.EINVAL, 'allowed_ip'],
      ['allowed_ip with zone', [`public_key=${K1}`, 'allowed_ip=fe80::%eth0/64'], Errno.EINVAL, 'allowed_ip'],
      ['allowed_ip garbage', [`public_key=${K1}`, 'allowed_ip=ten/8'], Errno.EINVAL, 'allowed_ip'],
      ['protocol_version=2', [`public_key=${K1}`, 'protocol_version=2'], Errno.EINVAL, 'protocol_version'],
      ['protocol_version empty', [`public_key=${K1}`, 'protocol_version='], Errno.EINVAL, 'protocol_version'],
    ])('%s', (_name, lines, errno, name) => {
      expectSetError(lines, errno, name);
    });

    test('a bad line anywhere rejects the whole transaction', () => {
      expectSetError([`private_key=${PRIV}`, 'listen_port=1', `public_key=${K1}`, 'allowed_ip=10.0.0.0/8', `public_key=${K2}`, 'endpoint=nope'], Errno.EINVAL, 'endpoint');
    });

    test('messages never contain key material', () => {
      const bad = `${PRIV.slice(0, 40)}zz${PRIV.slice(42)}`;
      for (const lines of [[`private_key=${bad}`], [`public_key=${K1}`, `preshared_key=${bad}`], [`${PRIV}=1`], [`public_key=${K1}`, `${PRIV}`]]) {
        let msg = '';
        try {
          parseSet(lines);
        } catch (err) {
          msg = (err as Error).message;
        }
        expect(msg).not.toBe('');
        expect(msg).not.toContain(PRIV.slice(0, 16));
      }
    });
  });
});

// ------------------------------------------------------------------------------ formatGet

describe('formatGet', () => {
  const peer1: PeerSnapshot = {
    ...newPeer(key(K1)),
    allowedIps: [pfx('10.1.2.0/24'), pfx('fd00::/64'), pfx('1.2.3.4/32'), pfx('::ffff:1.2.3.4/128')],
  };
  const peer2: PeerSnapshot = {
    publicKey: key(K2),
    presharedKey: key(PSK),
    endpoint: { address: '2001:db8::1', port: 5 },
    persistentKeepaliveInterval: 25,
    labelAuth: true,
    lastHandshakeTimeSec: 1700000000,
    lastHandshakeTimeNsec: 123456789,
    txBytes: 18446744073709551615n,
    rxBytes: 42n,
    allowedIps: [],
  };

  test('byte for byte what wireguard-go v0.0.20220316 printed for the same state', () => {
    const s: DeviceSnapshot = { privateKey: key(PRIV), listenPort: 51999, fwmark: 4294967295, peers: [peer1, peer2] };
    expect(formatGet(s)).toBe(
      `private_key=${PRIV}\nlisten_port=51999\nfwmark=4294967295\n` +
        `public_key=${K1}\npreshared_key=${ZERO}\nprotocol_version=1\n` +
        'last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n' +
        'allowed_ip=10.1.2.0/24\nallowed_ip=fd00::/64\nallowed_ip=1.2.3.4/32\nallowed_ip=::ffff:1.2.3.4/128\n' +
        `public_key=${K2}\npreshared_key=${PSK}\nprotocol_version=1\nendpoint=[2001:db8::1]:5\n` +
        'last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=123456789\ntx_bytes=18446744073709551615\nrx_bytes=42\n' +
        'persistent_keepalive_interval=25\n' +
        'errno=0\n\n',
    );
  });

  test('omits private_key when unset or zero, listen_port and fwmark when 0', () => {
    expect(formatGet({ privateKey: null, listenPort: 0, fwmark: 0, peers: [] })).toBe('errno=0\n\n');
    expect(formatGet({ privateKey: new Uint8Array(32), listenPort: 0, fwmark: 0, peers: [] })).toBe('errno=0\n\n');
    expect(formatGet({ privateKey: null, listenPort: 1, fwmark: 0, peers: [] })).toBe('listen_port=1\nerrno=0\n\n');
  });

  test('endpoint: IPv4 plain, IPv6 bracketed and canonical', () => {
    const withEp = (address: string): string =>
      formatGet({ privateKey: null, listenPort: 0, fwmark: 0, peers: [{ ...peer1, allowedIps: [], endpoint: { address, port: 51820 } }] });
    expect(withEp('192.0.2.1')).toContain('\nendpoint=192.0.2.1:51820\n');
    expect(withEp('FD00:0::1')).toContain('\nendpoint=[fd00::1]:51820\n');
  });

  test('errno trailer: 0, or negated like wireguard-go (wg reads it as -ret)', () => {
    expect(formatErrno(0)).toBe('errno=0\n\n');
    expect(formatErrno(Errno.EINVAL)).toBe('errno=-22\n\n');
    expect(formatErrno(Errno.EPROTO)).toBe('errno=-71\n\n');
    expect(formatErrno(-Errno.EADDRINUSE)).toBe('errno=-98\n\n');
  });

  test('round trip: set text -> DeviceChange -> device -> get text', async () => {
    const t = new FakeTarget();
    await t.apply(
      parseSet([
        `private_key=${PRIV}`,
        'listen_port=51820',
        `public_key=${K1}`,
        `preshared_key=${PSK}`,
        'endpoint=[FD00::0:1]:51821',
        'persistent_keepalive_interval=25',
        'allowed_ip=10.9.0.7/24',
        'allowed_ip=fd00:0:0:0:1::/64',
      ]),
    );
    const text = formatGet(t.snapshot());
    expect(text).toBe(
      `private_key=${PRIV}\nlisten_port=51820\npublic_key=${K1}\npreshared_key=${PSK}\nprotocol_version=1\n` +
        'endpoint=[fd00::1]:51821\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n' +
        'persistent_keepalive_interval=25\nallowed_ip=10.9.0.0/24\nallowed_ip=fd00::/64\nerrno=0\n\n',
    );
    // The settable part of a get response parses back to the same state.
    const settable = text
      .split('\n')
      .filter((l) => /^(private_key|listen_port|fwmark|public_key|preshared_key|protocol_version|endpoint|persistent_keepalive_interval|allowed_ip)=/.test(l));
    const t2 = new FakeTarget();
    await t2.apply(parseSet(settable));
    expect(formatGet(t2.snapshot())).toBe(text);
  });
});
