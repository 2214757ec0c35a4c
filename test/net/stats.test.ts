// `wgmpls stats IF` on a real tunnel: a wgmpls datapath and a wireguard-go peer in two
// namespaces, some traffic, and garbage datagrams sent to the datapath's port. The output holds
// every line `wg show IF` prints (the handshake's age aside), the label-auth setting, and the
// garbage counted under its reason; the private key appears nowhere.
import { CLI, Side, cleanupAll, pair, ping, run, stopPair } from './harness';
import { describeWhere, needRoot } from '../canRun';

jest.setTimeout(60_000);
const d = describeWhere(needRoot('root (network namespaces, TUN)'));

d('wgmpls stats', () => {
  let sides: [Side, Side];
  beforeAll(async () => {
    sides = await pair('wgmpls', 'wireguard-go');
    await sides[0].ns.must('wg', ['set', sides[0].tun.ifname, 'peer', sides[1].pub, 'persistent-keepalive', '25']);
  });
  afterAll(async () => {
    if (sides) await stopPair(sides);
    await cleanupAll();
  });

  test("wg show's lines, label auth, and garbage counted by reason", async () => {
    const [a, b] = sides;
    await ping(a, b.v4);
    const privA = (await a.ns.must('wg', ['showconf', a.tun.ifname])).match(/PrivateKey = (\S+)/)?.[1];
    expect(privA).toBeDefined();
    // Seven datagrams of an unknown message type (9) and three too short to be any message.
    const send = `const s=require('dgram').createSocket('udp4');let n=0;const go=(b)=>new Promise(r=>s.send(b,51820,'${a.underlay}',r));(async()=>{for(let i=0;i<7;i++)await go(Buffer.alloc(64,9));for(let i=0;i<3;i++)await go(Buffer.from([1,0]));s.close();})()`;
    const sent = await b.ns.exec('node', ['-e', send]);
    expect(sent.code).toBe(0);

    // The counters are read before the text is checked: the datapath may still be reading.
    let out = '';
    const until = Date.now() + 10_000;
    do {
      const r = await run('node', [CLI, 'stats', a.tun.ifname]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      out = r.stdout;
    } while (!(out.includes('    unknown-type: 7\n') && out.includes('    short: 3\n')) && Date.now() < until);
    const wgShow = await a.ns.must('wg', ['show', a.tun.ifname]);

    // Only the garbage came in refused; on the way out the kernel's own IPv6 chatter may be dropped.
    expect(out).toMatch(/\n {2}dropped: \d+ packets \(10 received from the underlay, \d+ on the way out\)\n/);
    expect(out).toContain('\n    short: 3\n');
    expect(out).toContain('\n    unknown-type: 7\n');
    expect(out).toContain(`interface: ${a.tun.ifname}\n  public key: ${a.pub}\n  private key: (hidden)\n  listening port: 51820\n`);
    expect(out).toContain(`\npeer: ${b.pub}\n  endpoint: ${b.underlay}:51820\n  allowed ips: ${b.v4}/32, ${b.v6}/128\n  label auth: off\n  latest handshake: `);
    for (const line of wgShow.split('\n')) {
      if (line.includes('latest handshake:')) continue; // a second may have passed between the two
      expect(out.split('\n')).toContain(line);
    }
    expect(out).toMatch(/\n {2}transfer: [\d.]+ (B|KiB) received, [\d.]+ (B|KiB) sent\n {2}persistent keepalive: every 25 seconds\n/);
    expect(out).not.toContain(privA);
  });

  test('an interface with no datapath, and a bad name, are errors that say so', async () => {
    const none = await run('node', [CLI, 'stats', 'wgmt-none0']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^wgmpls stats wgmt-none0: \/var\/run\/wireguard\/wgmt-none0\.sock: connect ENOENT/);
    const bad = await run('node', [CLI, 'stats', 'a/b']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('wgmpls stats: invalid interface name "a/b"\n');
  });
});
