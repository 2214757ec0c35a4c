// The Docker network driver end to end, against the host's real dockerd: the plugin runs from
// dist/ as a child process with its own state directory; containers on a wgmpls network ping
// each other through WireGuard tunnels on the loopback. Needs root and a dockerd that answers
// (skipped with a message otherwise). Everything created is named wgmt-dk-*; the 10.66/fd00:66
// addresses exist only inside the test containers.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { CLI, run, sleep, uapiRequest, udpPayloads, waitFor } from '../net/harness';
import { workerDirFor } from '../../plugin/config';
import { Plugin, docker, dockerOk, mustPing, ping, whyNotRunnable } from './helpers';
import { parseSet } from '../../datapath/ipc/uapi';
import { DriverError } from '../../plugin/api/errors';
import { driverRoutes } from '../../plugin/api/routes';
import { PLUGIN_MEDIA_TYPE, buildApp, listen } from '../../plugin/api/server';
import { Supervisor } from '../../plugin/datapaths/supervisor';
import { formatSet, parseGet } from '../../plugin/datapaths/uapiClient';
import { desiredPeers } from '../../plugin/driver/mesh';
import { parseNetworkOptions } from '../../plugin/driver/options';
import { findOrphans } from '../../plugin/driver/orphans';
import { Mutex } from '../../plugin/lock';
import { StateStore } from '../../plugin/state/store';
import { endpointState, networkState } from '../stateFixtures';
import { silentLog } from '../../datapath/log';
import { describeWhere } from '../canRun';

const SOCKET = '/run/docker/plugins/wgmpls.sock';
const NET = 'wgmt-dk-net';
const NET3 = 'wgmt-dk-seed';
const NET4 = 'wgmt-dk-dflt';
const A = 'wgmt-dk-a';
const B = 'wgmt-dk-b';
const C = 'wgmt-dk-c';
const IP = { a: '10.66.0.2', b: '10.66.0.3', c: '10.66.0.4', a6: 'fd00:66::2', b6: 'fd00:66::3', c6: 'fd00:66::4' };
const CONTAINERS = [A, B, C, 'wgmt-dk-s1', 'wgmt-dk-s2', 'wgmt-dk-s3', 'wgmt-dk-d1', 'wgmt-dk-d2', 'wgmt-dk-o1', 'wgmt-dk-o2', 'wgmt-dk-p1', 'wgmt-dk-p2'];

// ------------------------------------------------------------------ no Docker, no root needed

describe('plugin logic (no Docker needed)', () => {
  test('network options: defaults, bounds and unknown keys named; Docker keys ignored', () => {
    expect(parseNetworkOptions({})).toEqual({ mtu: 1420, underlay: '127.0.0.1', mplsPeers: 'any', portBase: null, defaultRoute: false, lsr: 'auto', labelAuth: true });
    expect(parseNetworkOptions({ 'wgmpls.mtu': '9000', 'wgmpls.mpls-peers': 'seed', 'wgmpls.port-base': '40000', 'com.docker.network.bridge.name': 'x', 'wgmpls.underlay': '::1', 'wgmpls.default-route': 'true', 'wgmpls.lsr': 'kernel', 'wgmpls.label-auth': 'false' })).toEqual({
      mtu: 9000,
      underlay: '::1',
      mplsPeers: 'seed',
      portBase: 40000,
      defaultRoute: true,
      lsr: 'kernel',
      labelAuth: false,
    });
    expect(() => parseNetworkOptions({ 'wgmpls.lsr': 'hardware' })).toThrow('wgmpls.lsr must be auto, kernel, userspace, got "hardware"');
    expect(() => parseNetworkOptions({ 'wgmpls.label-auth': 'on' })).toThrow(/wgmpls\.label-auth must be true or false, got "on"/);
    expect(() => parseNetworkOptions({ 'wgmpls.mtu': '575' })).toThrow(/wgmpls\.mtu must be an integer from 576 to 65535/);
    expect(() => parseNetworkOptions({ 'wgmpls.mtu': '1e3' })).toThrow(DriverError);
    expect(() => parseNetworkOptions({ 'wgmpls.mpls-peers': 'all' })).toThrow(/seed or any/);
    expect(() => parseNetworkOptions({ 'wgmpls.underlay': 'localhost' })).toThrow(/must be an IP address/);
    expect(() => parseNetworkOptions({ 'wgmpls.underlay': '203.0.113.7' })).toThrow(/not an address of this host/);
    expect(() => parseNetworkOptions({ mtu: '1400' })).toThrow(/unknown option mtu/);
  });

  test('mesh: a point-to-point link routes everything to the other end; a multipoint one only its addresses', () => {
    const n = networkState({ underlay: '::1' });
    const [a, b, c] = [endpointState(1), endpointState(2), endpointState(3)];
    expect(desiredPeers(a, n, [a, b])).toEqual([{ publicKey: b.publicKey, endpoint: '[::1]:51822', labelAuth: true, allowedIps: ['0.0.0.0/0', '::/0'] }]);
    expect(desiredPeers(a, networkState({ labelAuth: false }), [a, b])[0].labelAuth).toBe(false);
    expect(desiredPeers(a, n, [a, b, c]).map((p) => p.allowedIps)).toEqual([
      ['10.66.0.2/32', 'fd00:66::2/128'],
      ['10.66.0.3/32', 'fd00:66::3/128'],
    ]);
    expect(desiredPeers(a, n, [a])).toEqual([]);
  });

  test("UAPI: what the plugin sends is what the datapath's own parser accepts", () => {
    const text = formatSet({
      privateKey: 'b'.repeat(64),
      listenPort: 51820,
      peers: [{ publicKey: 'c'.repeat(64), endpoint: '127.0.0.1:51821', allowedIps: ['0.0.0.0/0', '::/0'], persistentKeepalive: 1, labelAuth: true }],
      remove: ['d'.repeat(64)],
    });
    expect(text.endsWith('\n\n')).toBe(true);
    const change = parseSet(text.split('\n').slice(1));
    expect(change.listenPort).toBe(51820);
    expect(change.peers).toHaveLength(2);
    expect(change.peers[0]).toMatchObject({ replaceAllowedIps: true, persistentKeepaliveInterval: 1, labelAuth: true, endpoint: { address: '127.0.0.1', port: 51821 } });
    expect(change.peers[0].allowedIps).toHaveLength(2);
    expect(change.peers[1].remove).toBe(true);
    const got = parseGet(`private_key=${'e'.repeat(64)}\nlisten_port=7\npublic_key=${'c'.repeat(64)}\nendpoint=127.0.0.1:9\nlast_handshake_time_sec=5\nrx_bytes=10\ntx_bytes=20\nallowed_ip=10.0.0.1/32\nerrno=0\n\n`);
    expect(got).toEqual({ hasPrivateKey: true, listenPort: 7, peers: [{ publicKey: 'c'.repeat(64), endpoint: '127.0.0.1:9', lastHandshakeSec: 5, rxBytes: 10, txBytes: 20, persistentKeepalive: 0, allowedIps: ['10.0.0.1/32'] }] });
    expect(JSON.stringify(got)).not.toContain('e'.repeat(64));
  });

  test('orphans: only old entries dockerd does not know, and never an endpoint in a live container', () => {
    const now = Date.parse('2020-01-01T01:00:00.000Z');
    const n = networkState();
    const young = endpointState(4, { createdAt: '2020-01-01T00:59:30.000Z' });
    const inLiveSandbox = endpointState(5, { sandboxKey: '/live' });
    const forgotten = endpointState(6, { sandboxKey: '/gone' });
    const attached = endpointState(7);
    const docker = new Map([[n.id, new Set([attached.id])]]);
    const o = findOrphans([n], [young, inLiveSandbox, forgotten, attached], docker, now, (p) => p === '/live');
    // The young one is looked at again when it is old enough (30 s from now).
    expect(o).toEqual({ networks: [], endpoints: [forgotten.id], recheckInMs: 30_000 });
    expect(findOrphans([n], [attached], new Map(), now, () => true)).toEqual({ networks: [n.id], endpoints: [attached.id], recheckInMs: null });
    expect(findOrphans([n], [young, attached], docker, now, () => true).recheckInMs).toBe(30_000);
  });

  test('the HTTP API: media type, Err with the field name, unsupported methods, bad JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgmt-api-'));
    const store = StateStore.open(join(dir, 'state'));
    const mutex = new Mutex();
    const paths = { socket: join(dir, 'api.sock'), stateDir: join(dir, 'state'), logDir: join(dir, 'logs'), uapiDir: join(dir, 'uapi'), cli: CLI };
    const supervisor = new Supervisor(store, mutex, paths, silentLog);
    const server = await listen(buildApp(driverRoutes({ store, supervisor, log: silentLog }), mutex, silentLog), paths.socket);
    const post = (path: string, body: string): Promise<{ status: number; type: string; json: { Err?: string } & Record<string, unknown> }> =>
      new Promise((resolve, reject) => {
        const req = request({ socketPath: paths.socket, path, method: 'POST', headers: { 'Content-Type': PLUGIN_MEDIA_TYPE } }, (res) => {
          let data = '';
          res.on('data', (d: Buffer) => (data += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', json: JSON.parse(data) as { Err?: string } }));
        });
        req.on('error', reject);
        req.end(body);
      });
    try {
      expect(statSync(paths.socket).mode & 0o777).toBe(0o600);
      const act = await post('/Plugin.Activate', 'null');
      expect(act).toMatchObject({ status: 200, json: { Implements: ['NetworkDriver'] } });
      expect(act.type).toContain(PLUGIN_MEDIA_TYPE);
      expect((await post('/NetworkDriver.GetCapabilities', '')).json).toEqual({ Scope: 'local', ConnectivityScope: 'local' });
      expect((await post('/NetworkDriver.AllocateNetwork', '{}')).json.Err).toMatch(/not supported/);
      const id = 'f'.repeat(64);
      const created = await post('/NetworkDriver.CreateNetwork', JSON.stringify({ NetworkID: id, Options: { 'com.docker.network.generic': { 'wgmpls.mtu': 1400 } }, IPv4Data: [{ Pool: '10.66.0.0/24', Gateway: '10.66.0.1/24' }] }));
      expect(created).toMatchObject({ status: 200, json: {} });
      expect(store.network(id)).toMatchObject({ mtu: 1400, ipv4: [{ pool: '10.66.0.0/24', gateway: '10.66.0.1/24' }] });
      const bad = await post('/NetworkDriver.CreateEndpoint', JSON.stringify({ NetworkID: id, EndpointID: 'e'.repeat(64), Interface: { Address: '10.66.0.300/24' } }));
      expect(bad.status).toBe(500);
      expect(bad.json.Err).toMatch(/CreateEndpoint: bad request: Interface\.Address: expected an IPv4 address/);
      expect((await post('/NetworkDriver.Join', JSON.stringify({ NetworkID: id, EndpointID: 'e'.repeat(64) }))).json.Err).toMatch(/SandboxKey/);
      expect((await post('/NetworkDriver.Join', JSON.stringify({ NetworkID: id, EndpointID: 'e'.repeat(64), SandboxKey: '/x' }))).json.Err).toMatch(/unknown to the wgmpls driver/);
      expect((await post('/NetworkDriver.CreateNetwork', '{"NetworkID":')).json.Err).toMatch(/bad request/);
      // What dockerd resends after a call the plugin did not answer (killed, restarting): no body.
      expect(await post('/NetworkDriver.CreateEndpoint', '')).toMatchObject({ status: 500, json: { Err: expect.stringMatching(/^wgmpls CreateEndpoint: the request came without its body \(dockerd resends/) } });
      expect((await post('/NetworkDriver.CreateEndpoint', '{}')).json.Err).toMatch(/bad request: NetworkID: Required/);
      expect((await post('/NetworkDriver.Nope', '{}')).status).toBe(404);
      const pec = (options: unknown): Promise<{ status: number; json: { Err?: string } }> =>
        post('/NetworkDriver.ProgramExternalConnectivity', JSON.stringify({ NetworkID: id, EndpointID: 'e'.repeat(64), Options: options }));
      expect(await pec({ 'com.docker.network.portmap': [{ Proto: 6, Port: 80, HostPort: 8080 }] })).toMatchObject({ status: 500, json: { Err: expect.stringMatching(/cannot publish ports \(8080->80\/tcp\)/) } });
      expect(await pec({ 'com.docker.network.endpoint.exposedports': [{ Proto: 6, Port: 80 }] })).toMatchObject({ status: 200, json: {} });
      expect((await post('/NetworkDriver.DeleteNetwork', JSON.stringify({ NetworkID: id }))).json).toEqual({});
      expect(store.networks()).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ------------------------------------------------------------------ against the host's dockerd

const skipReason = whyNotRunnable(SOCKET);
jest.setTimeout(120_000);
const maybe = describeWhere(skipReason);

/** `wg show <if> dump`, peers only (the first line holds the private key and is dropped unread). */
async function wgPeers(ifname: string): Promise<{ pub: string; endpoint: string; allowedIps: string; handshake: number }[]> {
  const r = await run('wg', ['show', ifname, 'dump']);
  if (r.code !== 0) throw new Error(`wg show ${ifname} failed: ${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => {
      const f = l.split('\t');
      return { pub: f[0], endpoint: f[2], allowedIps: f[3], handshake: Number(f[4]) };
    });
}

const b64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');

async function removeAll(): Promise<void> {
  await docker('rm', '-f', ...CONTAINERS);
  for (const n of [NET, NET3, NET4]) await docker('network', 'rm', n);
}

maybe('docker network driver (wgmpls plugin)', () => {
  const plugin = new Plugin();
  let image = '';

  beforeAll(async () => {
    image = await plugin.setUp(removeAll, true);
  }, 180_000);

  afterAll(() => plugin.tearDown(removeAll), 120_000);

  test('bad options reach the docker CLI as the driver said them, and create nothing', async () => {
    const cases: [string, RegExp][] = [
      ['wgmpls.mtu=10', /wgmpls\.mtu must be an integer from 576 to 65535, got "10"/],
      ['wgmpls.bogus=1', /unknown option wgmpls\.bogus/],
      ['wgmpls.underlay=203.0.113.7', /wgmpls\.underlay 203\.0\.113\.7 is not an address of this host/],
    ];
    for (const [opt, message] of cases) {
      const r = await docker('network', 'create', '-d', 'wgmpls', '-o', opt, NET);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect((await docker('network', 'inspect', NET)).code).not.toBe(0);
    }
    expect(plugin.state().networks).toEqual({});
  });

  test('two containers ping each other over IPv4 and IPv6 through the tunnel', async () => {
    await dockerOk('network', 'create', '-d', 'wgmpls', '--subnet', '10.66.0.0/24', '--ipv6', '--subnet', 'fd00:66::/64', NET);
    await dockerOk('run', '-d', '--name', A, '--network', NET, '--ip', IP.a, '--ip6', IP.a6, image);
    await dockerOk('run', '-d', '--name', B, '--network', NET, '--ip', IP.b, '--ip6', IP.b6, image);
    // Docker named the TUN after our DstPrefix and gave it the IPAM address and our MTU.
    const link = await dockerOk('exec', A, 'ip', '-o', 'addr', 'show', 'dev', 'wgm0');
    expect(link).toContain(`${IP.a}/24`);
    expect(await dockerOk('exec', A, 'cat', '/sys/class/net/wgm0/mtu')).toBe('1420\n');
    await mustPing(A, IP.b);
    await mustPing(B, IP.a);
    await mustPing(A, IP.b6);
    await mustPing(B, IP.a6);
  });

  test('wg show on the host sees the handshake; the loopback carries WireGuard data, never the ping', async () => {
    const a = plugin.endpointAt(IP.a);
    const b = plugin.endpointAt(IP.b);
    const peers = await wgPeers(a.ifname);
    expect(peers).toHaveLength(1);
    expect(peers[0].pub).toBe(b64(b.publicKey));
    expect(peers[0].endpoint).toBe(`127.0.0.1:${b.port}`);
    expect(peers[0].handshake).toBeGreaterThan(0);

    // wgmpls show: Docker's names for everything, the same handshake, and no private key.
    const show = await run(process.execPath, [CLI, 'show', '--json'], { env: plugin.env });
    expect(show.code).toBe(0);
    expect(show.stdout).not.toContain(a.privateKey);
    const view = JSON.parse(show.stdout) as { networks: { name: string; endpoints: { container: string; peers: { container: string; latestHandshake: number }[] }[] }[] };
    const net = view.networks.find((n) => n.name === NET);
    expect(net?.endpoints.map((e) => e.container).sort()).toEqual([A, B]);
    expect(net?.endpoints.find((e) => e.container === A)?.peers).toEqual([expect.objectContaining({ container: B, latestHandshake: expect.any(Number) })]);
    expect((await run(process.execPath, [CLI, 'show'], { env: plugin.env })).stdout).toMatch(new RegExp(`endpoint [0-9a-f]{12}: ${A}\\n\\s+interface: ${a.ifname} \\(wgm0 in ${A}\\)`));

    const pcap = join(plugin.dir, 'lo.pcap');
    const dump = spawn('tcpdump', ['-i', 'lo', '-n', '-U', '--immediate-mode', '-s', '0', '-w', pcap, `udp port ${a.port} or udp port ${b.port} or icmp or icmp6`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    dump.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    await waitFor('tcpdump', () => err.includes('listening on') || dump.exitCode !== null);
    await sleep(300);
    // A payload pattern that would be plain to see if anything leaked unencrypted.
    const pattern = '77676d706c7321'; // "wgmpls!"
    const r = await docker('exec', A, 'ping', '-c', '5', '-i', '0.2', '-p', pattern, IP.b);
    expect(r.code).toBe(0);
    await sleep(300);
    const exited = new Promise<void>((res) => dump.once('exit', () => res()));
    dump.kill('SIGINT');
    await exited;
    const raw = readFileSync(pcap);
    const udp = udpPayloads(raw);
    const data = udp.filter((u) => u.payload[0] === 4);
    expect(data.length).toBeGreaterThanOrEqual(10); // 5 requests and 5 replies
    expect(data.every((u) => [a.port, b.port].includes(u.srcPort) && [a.port, b.port].includes(u.dstPort))).toBe(true);
    expect(raw.includes(Buffer.from('wgmpls!wgmpls!'))).toBe(false);
    expect(raw.length).toBeGreaterThan(24);
  });

  test('a third endpoint makes a full mesh; when it goes the other two are a point-to-point link again', async () => {
    await dockerOk('run', '-d', '--name', C, '--network', NET, '--ip', IP.c, '--ip6', IP.c6, image);
    await mustPing(C, IP.a);
    await mustPing(C, IP.b6);
    await mustPing(A, IP.b);
    const a = plugin.endpointAt(IP.a);
    const meshed = await wgPeers(a.ifname);
    expect(meshed).toHaveLength(2);
    expect(meshed.map((p) => p.allowedIps).sort()).toEqual([`${IP.b}/32,${IP.b6}/128`, `${IP.c}/32,${IP.c6}/128`]);

    await dockerOk('rm', '-f', C);
    const pair = await wgPeers(a.ifname);
    expect(pair).toHaveLength(1);
    expect(pair[0].allowedIps).toBe('0.0.0.0/0,::/0');
    await mustPing(A, IP.b);
  });

  test('a datapath killed with SIGKILL is restarted with the same key and port; ping resumes within 5 s', async () => {
    const before = plugin.endpointAt(IP.b);
    const pub = (await run('wg', ['show', before.ifname, 'public-key'])).stdout.trim();
    expect(pub).toBe(b64(before.publicKey));
    process.kill(before.datapath?.pid ?? 0, 'SIGKILL');
    const t0 = Date.now();
    await waitFor('ping to resume', async () => (await docker('exec', A, 'ping', '-c', '1', '-W', '1', IP.b)).code === 0, 5000);
    console.log(`ping resumed ${Date.now() - t0} ms after the datapath was killed`);
    const after = plugin.endpointAt(IP.b);
    expect(after.datapath?.pid).not.toBe(before.datapath?.pid);
    expect(after.port).toBe(before.port);
    expect((await run('wg', ['show', after.ifname, 'public-key'])).stdout.trim()).toBe(pub);
    await mustPing(B, IP.a6); // its IPv6 address came back too
  });

  test('the plugin killed and restarted: traffic never stops, and it knows the same endpoints', async () => {
    const before = plugin.state();
    const long = ping(A, IP.b, 25); // 5 s of pings across the restart
    await sleep(800);
    await plugin.stop('SIGKILL');
    await sleep(800);
    await plugin.start();
    const r = await long;
    expect(r.stdout).toMatch(/25 packets transmitted, 25 received/);
    const after = plugin.state();
    expect(Object.keys(after.endpoints).sort()).toEqual(Object.keys(before.endpoints).sort());
    for (const [id, ep] of Object.entries(after.endpoints)) {
      // Re-adopted, not restarted.
      expect(ep.datapath?.pid).toBe(before.endpoints[id].datapath?.pid);
    }
    expect(plugin.logs).toMatch(/datapath re-adopted/);
    // And it still serves Docker: a container can join and leave.
    await dockerOk('run', '-d', '--name', C, '--network', NET, '--ip', IP.c, image);
    await mustPing(C, IP.a);
    await dockerOk('rm', '-f', C);
  });

  test('wgmpls.mpls-peers=seed networks stop at two endpoints, with a message', async () => {
    await dockerOk('network', 'create', '-d', 'wgmpls', '-o', 'wgmpls.mpls-peers=seed', '-o', 'wgmpls.mtu=1380', '--subnet', '10.67.0.0/29', NET3);
    await dockerOk('run', '-d', '--name', 'wgmt-dk-s1', '--network', NET3, image);
    await dockerOk('run', '-d', '--name', 'wgmt-dk-s2', '--network', NET3, image);
    expect(await dockerOk('exec', 'wgmt-dk-s1', 'cat', '/sys/class/net/wgm0/mtu')).toBe('1380\n');
    const r = await docker('run', '-d', '--name', 'wgmt-dk-s3', '--network', NET3, image);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/wgmpls\.mpls-peers=seed, which allows exactly two endpoints/);
  });

  test('wgmpls.default-route=true: containers route everything through the tunnel', async () => {
    await dockerOk('network', 'create', '-d', 'wgmpls', '-o', 'wgmpls.default-route=true', '--subnet', '10.69.0.0/24', NET4);
    await dockerOk('run', '-d', '--name', 'wgmt-dk-d1', '--network', NET4, '--ip', '10.69.0.2', image);
    await dockerOk('run', '-d', '--name', 'wgmt-dk-d2', '--network', NET4, '--ip', '10.69.0.3', '--cap-add', 'NET_ADMIN', image);
    expect(await dockerOk('exec', 'wgmt-dk-d1', 'ip', 'route', 'show', 'default')).toMatch(/^default dev wgm0/);
    // An address that only d2 has, outside the network: reachable from d1 only by the default route.
    await dockerOk('exec', 'wgmt-dk-d2', 'ip', 'addr', 'add', '10.70.0.1/32', 'dev', 'lo');
    await mustPing('wgmt-dk-d1', '10.70.0.1');
    const bad = await docker('network', 'create', '-d', 'wgmpls', '-o', 'wgmpls.default-route=maybe', 'wgmt-dk-bad');
    expect(bad.stderr).toMatch(/wgmpls\.default-route must be true or false, got "maybe"/);
  });

  test('docker run -p is refused with the reason shown by the docker CLI; publishing on bridge and connecting afterwards works', async () => {
    const before = Object.keys(plugin.state().endpoints).length;
    const r = await docker('run', '-d', '--name', 'wgmt-dk-p1', '--network', NET, '-p', '18080:80', '-p', '127.0.0.1:15353:53/udp', image);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/wgmpls networks cannot publish ports \(18080->80\/tcp, 127\.0\.0\.1:15353->53\/udp\)/);
    expect(Object.keys(plugin.state().endpoints)).toHaveLength(before); // nothing made
    await docker('rm', '-f', 'wgmt-dk-p1');
    // The way out the message gives: publish on bridge, then connect the wgmpls network.
    await dockerOk('run', '-d', '--name', 'wgmt-dk-p2', '-p', '127.0.0.1:18081:80', image);
    // (NET, not NET4: a default route through the tunnel would clash with the bridge's.)
    await dockerOk('network', 'connect', NET, 'wgmt-dk-p2');
    expect(await dockerOk('exec', 'wgmt-dk-p2', 'ip', '-o', 'link', 'show', 'wgm0')).toContain('wgm0');
  });

  test('plugin networks authenticate labels: every peer has wgmpls-label-auth=true, and wgmpls show says so', async () => {
    const d1 = plugin.endpointAt('10.69.0.2');
    const got = await uapiRequest(d1.ifname, 'wgmpls-get=1\n\n');
    expect(got).toMatch(/wgmpls-label-auth=true\n/);
    expect(got).not.toMatch(/wgmpls-label-auth=false/);
    expect((await run(process.execPath, [CLI, 'show'], { env: plugin.env })).stdout).toContain('label auth: on (MPLS header authenticated)');
  });

  test('routes given as an endpoint driver option: a bad one is refused to the docker CLI, a good one applied', async () => {
    const bad = await docker('run', '-d', '--name', 'wgmt-dk-o1', '--network', `name=${NET4},driver-opt=wgmpls.routes=-f mpls route add 5 dev lo`, image);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/NetworkDriver\.CreateEndpoint: wgmpls\.routes line 1 \("-f mpls route add 5 dev lo"\): label 5 is reserved/);
    await dockerOk('run', '-d', '--name', 'wgmt-dk-o2', '--network', `name=${NET4},driver-opt=wgmpls.routes=-f mpls route add 100 dev lo`, image);
    const show = async (): Promise<string> => (await run('node', [CLI, 'ip', '--container', 'wgmt-dk-o2', '-f', 'mpls', 'route', 'show'])).stdout;
    const end = Date.now() + 10_000;
    while ((await show()) !== '100 dev lo \n' && Date.now() < end) await sleep(200);
    expect(await show()).toBe('100 dev lo \n');
  });

  test('after docker rm -f and docker network rm nothing is left', async () => {
    const eps = Object.values(plugin.state().endpoints);
    expect(eps.length).toBeGreaterThan(0);
    await removeAll();
    expect(plugin.state()).toEqual({ version: 1, networks: {}, endpoints: {} });
    const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
    const procs = (await run('ps', ['-eo', 'pid,args'])).stdout;
    const udp = (await run('ss', ['-uan'])).stdout;
    for (const ep of eps) {
      expect(links).not.toContain(ep.ifname);
      expect(procs).not.toContain(`datapath ${ep.ifname}`);
      expect(existsSync(`/var/run/wireguard/${ep.ifname}.sock`)).toBe(false);
      expect(udp).not.toMatch(new RegExp(`:${ep.port}\\s`));
    }
    // The datapath workers went with the last endpoint.
    expect(procs).not.toContain(workerDirFor(join(plugin.dir, 'state')));
    // Datapath logs go with their endpoints; the state file stays private.
    expect(existsSync(join(plugin.dir, 'logs')) ? spawnSync('ls', [join(plugin.dir, 'logs')], { encoding: 'utf8' }).stdout : '').toBe('');
    expect(statSync(join(plugin.dir, 'state', 'state.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(plugin.dir, 'state')).mode & 0o777).toBe(0o700);
    expect(statSync(SOCKET).mode & 0o777).toBe(0o600);
  });
});
