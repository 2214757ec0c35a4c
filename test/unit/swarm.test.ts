// Swarm scope without Docker: the network secret (AllocateNetwork), the authenticated
// announcements, the swarm options, the IPv6 addresses made from IPv4 ones, the mesh with other
// nodes' endpoints, and two exchanges talking over loopback (127.0.0.1 and 127.0.0.2) with
// real state stores.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocateNetwork } from '../../plugin/api/routes';
import { desiredPeers } from '../../plugin/driver/mesh';
import { checkSwarmOptions, parseNetworkOptions } from '../../plugin/driver/options';
import { Mutex } from '../../plugin/lock';
import type { Supervisor } from '../../plugin/datapaths/supervisor';
import { StateStore } from '../../plugin/state/store';
import type { EndpointState, NetworkState } from '../../plugin/state/types';
import { SwarmExchange } from '../../plugin/swarm/exchange';
import { ipv6For, parseIpv6Prefix } from '../../plugin/swarm/ipv6';
import { Announcement, ExchangeError, exchangeKey, newSecret, seal, unseal } from '../../plugin/swarm/messages';
import pino from 'pino';

const NET = 'u73tdgtz9va7mumg27k0y0qgv';
const hex = (c: string): string => c.repeat(64);

describe('AllocateNetwork', () => {
  test('adds a new 64-hex secret to the options, and gives options that have one back unchanged', () => {
    const first = allocateNetwork({ 'wgmpls.mtu': '1400' }).Options;
    expect(first['wgmpls.mtu']).toBe('1400');
    expect(first['wgmpls.secret']).toMatch(/^[0-9a-f]{64}$/);
    expect(allocateNetwork({ 'wgmpls.mtu': '1400' }).Options['wgmpls.secret']).not.toBe(first['wgmpls.secret']);
    // A new leader asks again with what Raft stored: same answer, same secret.
    expect(allocateNetwork(first).Options).toEqual(first);
  });

  test('refuses, naming the option: an underlay, a bad value, Docker IPv6 pools', () => {
    expect(() => allocateNetwork({ 'wgmpls.underlay': '10.0.0.1' })).toThrow(/wgmpls.underlay cannot be set on a swarm-scope network/);
    expect(() => allocateNetwork({ 'wgmpls.mtu': '9' })).toThrow(/wgmpls.mtu must be an integer from 576 to 65535/);
    expect(() => allocateNetwork({ 'wgmpls.ipv6': 'fd00::/48' })).toThrow(/wgmpls.ipv6 must have a prefix length from 64 to 96/);
    expect(() => allocateNetwork({}, 1)).toThrow(/--ipv6 is not supported on a swarm-scope wgmpls network.*-o wgmpls.ipv6=/);
  });

  test('swarm options: secret and ipv6 only on swarm networks', () => {
    expect(() => checkSwarmOptions({ 'wgmpls.secret': hex('a') }, false)).toThrow(/wgmpls.secret is made by the driver/);
    expect(() => parseNetworkOptions({ 'wgmpls.ipv6': 'fd00::/64' })).toThrow(/wgmpls.ipv6 is for swarm-scope networks/);
    expect(() => parseNetworkOptions({ 'wgmpls.secret': 'abc' })).toThrow(/wgmpls.secret must be 64 lowercase hex digits/);
    expect(parseNetworkOptions({ 'wgmpls.secret': hex('b'), 'wgmpls.ipv6': 'fd00:1::5/64' })).toMatchObject({ secret: hex('b'), ipv6Prefix: 'fd00:1::/64' });
  });
});

describe('IPv6 addresses of a swarm network', () => {
  test('the prefix with the IPv4 address in the last 32 bits', () => {
    expect(parseIpv6Prefix('fd00:214::1/64')).toBe('fd00:214::/64');
    expect(ipv6For('fd00:214::/64', '10.214.0.12/24')).toBe('fd00:214::ad6:c/64');
    expect(ipv6For('fd00:1:2:3:4:5::/96', '1.2.3.4/8')).toBe('fd00:1:2:3:4:5:102:304/96');
    expect(ipv6For('fd00::/64', '0.0.0.1/8')).toBe('fd00::1/64');
    expect(() => parseIpv6Prefix('10.0.0.0/64')).toThrow(/must be an IPv6 prefix/);
    expect(() => parseIpv6Prefix('fd00::/97')).toThrow(/from 64 to 96/);
  });
});

describe('announcements', () => {
  const secret = newSecret();
  const key = exchangeKey(secret);
  const a: Announcement = { v: 1, network: NET, node: '10.0.0.2', seq: 5, endpoints: [{ id: hex('1'), publicKey: hex('2'), port: 51820, address: '10.1.0.2/24' }] };

  test('what is sealed with the network key opens with it', () => {
    expect(unseal(seal(a, key).trim(), () => key)).toEqual(a);
  });

  test('a changed body, another network key, an unknown network or garbage is refused with the reason', () => {
    const line = seal(a, key).trim();
    const outer = JSON.parse(line) as { body: string; mac: string };
    const forged = JSON.stringify({ ...outer, body: outer.body.replace('51820', '51821') });
    expect(() => unseal(forged, () => key)).toThrow(new ExchangeError('bad MAC (not sent by a node of this network)'));
    expect(() => unseal(line, () => exchangeKey(newSecret()))).toThrow(/bad MAC/);
    expect(() => unseal(line, () => undefined)).toThrow(/unknown network u73tdgtz9va7/);
    expect(() => unseal('nope', () => key)).toThrow(/not JSON/);
    const bad = { ...a, endpoints: [{ id: 'x', publicKey: 'short', port: 0 }] };
    expect(() => unseal(seal(bad as unknown as Announcement, key).trim(), () => key)).toThrow(/bad announcement at endpoints.0.publicKey/);
  });

  test('the key is derived from the secret, not the secret itself', () => {
    expect(key.toString('hex')).not.toBe(secret);
    expect(key).toHaveLength(32);
  });
});

describe('the mesh with other nodes', () => {
  const net = { id: NET, mtu: 1420, underlay: '10.0.0.1', mplsPeers: 'any', portBase: null, defaultRoute: false, lsr: 'auto', labelAuth: true, ipv4: [], ipv6: [], createdAt: '' } as NetworkState;
  const ep = (c: string, port: number, address: string): EndpointState => ({ id: hex(c), networkId: NET, ifname: `wgm${c}`, privateKey: hex('0'), publicKey: hex(c), port, address, createdAt: '' });
  const a = ep('a', 51820, '10.1.0.2/24');

  test('a remote endpoint is reached at its node address; with one peer in all the link is point-to-point', () => {
    const remote = { node: '10.0.0.2', endpoint: { id: hex('b'), publicKey: hex('b'), port: 51821, address: '10.1.0.3/24' } };
    expect(desiredPeers(a, net, [a], [remote])).toEqual([{ publicKey: hex('b'), endpoint: '10.0.0.2:51821', labelAuth: true, allowedIps: ['0.0.0.0/0', '::/0'] }]);
    const c = ep('c', 51822, '10.1.0.4/24');
    expect(desiredPeers(a, net, [a, c], [remote]).map((p) => [p.endpoint, p.allowedIps])).toEqual([
      ['10.0.0.1:51822', ['10.1.0.4/32']],
      ['10.0.0.2:51821', ['10.1.0.3/32']],
    ]);
    // A remote claiming a local endpoint's key is left out (the local one is the real one).
    expect(desiredPeers(a, net, [a, c], [{ node: '10.0.0.9', endpoint: { ...remote.endpoint, publicKey: hex('c') } }])).toHaveLength(1);
  });
});

describe('two exchanges over loopback', () => {
  const log = pino({ level: process.env.WGMPLS_TEST_LOG ?? 'silent' });
  const secret = newSecret();
  const port = 20000 + (process.pid % 20000);
  const synced: string[][] = [[], []];

  function node(i: 0 | 1, address: string, other: string): { store: StateStore; ex: SwarmExchange } {
    const store = StateStore.open(mkdtempSync(join(tmpdir(), 'wgmpls-exchange-unit-')));
    store.putNetwork({ id: NET, mtu: 1420, underlay: address, mplsPeers: 'any', portBase: null, defaultRoute: false, lsr: 'auto', labelAuth: true, ipv4: [], ipv6: [], createdAt: '', secret });
    store.patchSwarm((s) => void (s.self = address));
    const supervisor = { syncNetwork: async (id: string) => void synced[i].push(id) } as unknown as Supervisor;
    const ex = new SwarmExchange(store, new Mutex(), supervisor, log, { port, lookup: async () => ({ self: address, nodes: [other], manager: false }) });
    return { store, ex };
  }

  const n1 = node(0, '127.0.0.1', '127.0.0.2');
  const n2 = node(1, '127.0.0.2', '127.0.0.1');
  afterAll(async () => {
    await n1.ex.stop();
    await n2.ex.stop();
    for (const n of [n1, n2]) rmSync(n.store.dir, { recursive: true, force: true });
  });

  const waitFor = async (what: string, ok: () => boolean): Promise<void> => {
    for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
    if (!ok()) throw new Error(`timed out: ${what}`);
  };

  test('an endpoint made on one node reaches the other, persisted; a node that left is refused until back', async () => {
    n1.ex.start();
    n2.ex.start();
    await new Promise((r) => setTimeout(r, 200)); // both listening
    n1.store.putEndpoint({ id: hex('1'), networkId: NET, ifname: 'wgm1', privateKey: hex('9'), publicKey: hex('2'), port: 51820, address: '10.1.0.2/24', createdAt: '' });
    await waitFor('node 2 to learn node 1\'s endpoint', () => n2.store.remotesOf(NET).length === 1);
    expect(n2.store.remotesOf(NET)[0]).toEqual({ node: '127.0.0.1', endpoint: { id: hex('1'), publicKey: hex('2'), port: 51820, address: '10.1.0.2/24' } });
    expect(synced[1]).toContain(NET);
    // On disk, written atomically with the rest; never the private key.
    const onDisk = readFileSync(n2.store.file, 'utf8');
    expect(onDisk).toContain(hex('2'));
    expect(onDisk).not.toContain(hex('9'));
    expect(StateStore.read(n2.store.dir).remotesOf(NET)).toHaveLength(1);

    // Node 1 leaves (DiscoverDelete on node 2): its endpoints go, its announcements are refused.
    await n2.ex.discoverDelete('127.0.0.1', false);
    expect(n2.store.remotesOf(NET)).toEqual([]);
    n1.store.patchEndpoint(hex('1'), { port: 51830 });
    await new Promise((r) => setTimeout(r, 300));
    expect(n2.store.remotesOf(NET)).toEqual([]);
    // Back (DiscoverNew): announced again, taken again.
    await n2.ex.discoverNew('127.0.0.1', false);
    await waitFor('node 2 to take node 1 back', () => n2.store.remotesOf(NET)[0]?.endpoint.port === 51830);
  });
});
