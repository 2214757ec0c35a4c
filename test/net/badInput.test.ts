// Bad input against a real datapath: a stream of mutated messages while a ping runs, and
// malformed configuration through the UAPI socket. Everything is refused, counted, and
// nothing that works is disturbed.
import { join } from 'node:path';
import { Side, capture, cleanupAll, genKeys, keyFile, pair, ping, stopPair, uapiRequest, uapiStats as stats, waitFor, ROOT } from './harness';
import { describeWhere, needRoot } from '../canRun';

const d = describeWhere(needRoot('root (network namespaces, TUN)'));
jest.setTimeout(120_000);


async function vethOf(side: Side): Promise<string> {
  return (await side.ns.ip('-o', 'link', 'show', 'type', 'veth')).split(':')[1].trim().split('@')[0];
}

d('bad input', () => {
  let sides: [Side, Side];
  beforeAll(async () => {
    sides = await pair('wgmpls', 'wgmpls', { mpls: true });
  });
  afterAll(async () => {
    if (sides) await stopPair(sides);
    await cleanupAll();
  });

  test('100k mutated, truncated, oversized, replayed and garbage datagrams are dropped and counted while a ping keeps succeeding', async () => {
    const [a, b] = sides;
    // Real messages to mutate: a handshake and data, captured on the underlay.
    const cap = await capture(a.ns, await vethOf(a), 'udp port 51820');
    await ping(a, b.v4, 2);
    await ping(a, b.v6, 1);
    const templates = (await cap.stop()).map((u) => u.payload).filter((p) => p.length >= 32);
    const types = new Set(templates.map((t) => t[0]));
    expect(types.has(1) && types.has(2) && types.has(4)).toBe(true);

    const before = await stats(b.tun.ifname);
    const pinger = a.ns.exec('ping', ['-c', '40', '-i', '0.1', '-W', '2', b.v4], { timeoutMs: 60_000 });
    const seed = Date.now() % 100000;
    const fuzz = await a.ns.must(
      'node',
      [join(ROOT, 'test', 'net', 'tools', 'fuzz.js'), b.underlay, '51820', '100000', String(seed), templates.map((t) => t.toString('hex')).join(',')],
      { timeoutMs: 90_000 },
    );
    const sent = Number(fuzz.trim());
    expect(sent).toBe(100000);
    const pr = await pinger;
    expect(pr.stdout).toMatch(/40 packets transmitted, 40 received/);

    await waitFor('drops counted', async () => (await stats(b.tun.ifname)).drops_udp_total - before.drops_udp_total >= sent * 0.99, 10_000).catch(() => undefined);
    const after = await stats(b.tun.ifname);
    const dropped = after.drops_udp_total - before.drops_udp_total;
    const delta = Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)]));
    // Every datagram is garbage to the datapath (the kernel may lose a few from its socket buffer).
    if (dropped < sent * 0.99 || dropped > sent) throw new Error(`dropped ${dropped} of ${sent}: ${JSON.stringify(delta)}`);
    const reasons = ['short', 'bad-length', 'decrypt', 'replay', 'unknown-type', 'reserved-nonzero', 'unknown-index', 'bad-mac1'];
    expect(reasons.filter((r) => !(delta[`drop.${r}`] > 0))).toEqual([]);
    // The session survived: both directions, both families.
    await ping(b, a.v4, 2);
    await ping(a, b.v6, 2);
  });

  test('malformed or unknown UAPI input gets a non-zero errno and changes nothing', async () => {
    const [, b] = sides;
    const conf = async (): Promise<string> => b.ns.must('wg', ['showconf', b.tun.ifname]);
    const original = await conf();

    const bad = keyFile('not-a-key');
    const r1 = await b.ns.exec('wg', ['set', b.tun.ifname, 'private-key', bad]);
    expect(r1.code).not.toBe(0);
    const r2 = await b.ns.exec('wg', ['set', b.tun.ifname, 'peer', 'AAAA', 'allowed-ips', '10.1.0.0/16']);
    expect(r2.code).not.toBe(0);

    const newPeer = (await genKeys()).pub;
    const hex = Buffer.from(newPeer, 'base64').toString('hex');
    const cases = [
      'set=1\nprivate_key=zz\n\n',
      'set=1\nlisten_port=40000\nno_such_key=1\n\n', // valid first line, then an unknown key
      `set=1\npublic_key=${hex}\nallowed_ip=10.1.2.0/40\n\n`,
      `set=1\npublic_key=${hex}\nendpoint=10.250.0.9\n\n`,
      `set=1\npublic_key=${hex.slice(2)}\n\n`,
      `set=1\npublic_key=${hex}\nprotocol_version=2\n\n`,
      `set=1\npublic_key=${hex}\npersistent_keepalive_interval=70000\n\n`,
    ];
    for (const req of cases) {
      const res = await uapiRequest(b.tun.ifname, req);
      expect({ req, res }).toEqual({ req, res: expect.stringMatching(/^errno=-\d+\n\n$/) });
    }
    expect(await conf()).toBe(original);

    // A port another socket holds: EADDRINUSE, reported by wg, and the old port is kept.
    const holder = b.ns.spawn('python3', ['-c', 'import socket,time;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("0.0.0.0",40001));print("ok",flush=True);time.sleep(30)']);
    let ready = false;
    holder.stdout?.on('data', () => (ready = true));
    await waitFor('port holder', () => ready);
    const r3 = await b.ns.exec('wg', ['set', b.tun.ifname, 'listen-port', '40001']);
    holder.kill();
    expect(r3.code).not.toBe(0);
    expect(r3.stderr).toMatch(/Address already in use/);
    expect(await conf()).toBe(original);
    await ping(sides[0], b.v4, 1);
  });
});
