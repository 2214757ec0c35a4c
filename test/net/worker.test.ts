// `wgmpls worker`: one process hosting many endpoints, driven over its control socket the way
// the plugin drives it (plugin/datapaths/workerClient.ts). Three namespaces in a line, n1 - n2 -
// n3, the worker in a fourth (the "host", underlay on its loopback); the TUNs are created right in
// their namespaces under wgm0/wgm1 (as the plugin puts a crashed worker's endpoints back) and
// set up by the plugin's netlink code. n2's two endpoints are siblings in the same process: the
// label n1 pushes is swapped in n2 from wgm0 to wgm1 by a function call, with the sibling socket
// file gone. Then endpoints are removed, and SIGTERM leaves nothing.
import { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, Netns, cleanupAll, uapiRequest, uapiStats as stats, uniq, waitFor, wgDump } from './harness';
import { LSR_ROOT } from '../../datapath/lsr/store';
import { describeWhere, needRoot } from '../canRun';
import { publicKey } from '../../datapath/crypto/x25519';
import { WorkerClient, WorkerError } from '../../plugin/datapaths/workerClient';
import { setUpInSandbox } from '../../plugin/datapaths/plumbing';

const d = describeWhere(needRoot('root (network namespaces, TUN)'));
jest.setTimeout(90_000);

interface End {
  ifname: string;
  ns: Netns;
  tun: string;
  address: string;
  port: number;
  key: string;
}

d('a datapath worker hosting endpoints in several namespaces', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgmt-worker-'));
  const control = join(dir, 'w.sock');
  let host: Netns;
  let proc: ChildProcess;
  let client: WorkerClient;
  let logs = '';
  const ends: Record<'e1' | 'e2a' | 'e2b' | 'e3', End> = {} as Record<'e1' | 'e2a' | 'e2b' | 'e3', End>;
  const nodes: Netns[] = [];

  beforeAll(async () => {
    host = await Netns.create('wkh');
    for (let i = 1; i <= 3; i++) {
      const ns = await Netns.create(`wk${i}`);
      await ns.must('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
      nodes.push(ns);
    }
    proc = host.spawn('node', [CLI, 'worker', '--control', control, '--listen-address', '127.0.0.1']);
    proc.stdout?.on('data', (b: Buffer) => (logs += b.toString()));
    proc.stderr?.on('data', (b: Buffer) => (logs += b.toString()));
    client = await WorkerClient.connect(control, 20_000);
  });

  afterAll(async () => {
    client?.close();
    if (proc && proc.exitCode === null) proc.kill('SIGKILL');
    await cleanupAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test('hello, and requests it refuses with the field named', async () => {
    const hello = await client.hello();
    expect(hello).toMatchObject({ protocol: 1, endpoints: [] });
    expect(hello.pid).toBeGreaterThan(0);
    const bad = { ifname: `wgk${uniq()}`, mtu: 1420, listenAddress: '127.0.0.1', mplsPeers: 'any' as const };
    await expect(client.add({ ...bad, mtu: 100 }, true)).rejects.toThrow('mtu must be an integer from 576 to 65535');
    await expect(client.add({ ...bad, ifname: 'a/b' }, true)).rejects.toThrow(/ifname must be 1-15 characters/);
    await expect(client.add({ ...bad, listenAddress: 'localhost' }, true)).rejects.toThrow('listenAddress must be an IP address');
    await expect(client.add({ ...bad, netns: 'relative', tunName: 'wgm0' }, true)).rejects.toThrow('netns must be an absolute path');
    const missing = client.add({ ...bad, netns: '/nonexistent/netns', tunName: 'wgm0' }, true);
    await expect(missing).rejects.toBeInstanceOf(WorkerError);
    await expect(missing).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await client.list()).toEqual([]);
  });

  test('four endpoints in three namespaces: a label swapped between n2\'s two interfaces by a function call', async () => {
    const tag = uniq();
    const mk = (name: keyof typeof ends, ns: Netns, tun: string, address: string): void => {
      ends[name] = { ifname: `wgk${tag}${name}`.slice(0, 15), ns, tun, address, port: 0, key: '' };
    };
    mk('e1', nodes[0], 'wgm0', '10.0.12.1/24');
    mk('e2a', nodes[1], 'wgm0', '10.0.12.2/24');
    mk('e2b', nodes[1], 'wgm1', '10.0.23.2/24');
    mk('e3', nodes[2], 'wgm0', '10.0.23.3/24');
    await Promise.all(
      Object.values(ends).map(async (e) => {
        e.port = await client.add({ ifname: e.ifname, mtu: 1420, listenAddress: '127.0.0.1', mplsPeers: 'any', netns: e.ns.path, tunName: e.tun }, true);
        e.key = Buffer.from(Array.from({ length: 32 }, () => Math.floor(Math.random() * 256))).toString('hex');
      }),
    );
    // Idempotent: the same endpoint again is the one already there.
    expect(await client.add({ ifname: ends.e1.ifname, mtu: 1420, listenAddress: '127.0.0.1', mplsPeers: 'any', netns: ends.e1.ns.path, tunName: 'wgm0' }, true)).toBe(ends.e1.port);
    const listed = await client.list();
    expect(listed.map((e) => [e.ifname, e.tunName, e.port]).sort()).toEqual(Object.values(ends).map((e) => [e.ifname, e.tun, e.port]).sort());
    expect(listed.find((e) => e.ifname === ends.e2a.ifname)?.nsid).toBe(listed.find((e) => e.ifname === ends.e2b.ifname)?.nsid);
    expect(listed.find((e) => e.ifname === ends.e1.ifname)?.nsid).not.toBe(listed.find((e) => e.ifname === ends.e2a.ifname)?.nsid);

    // Keys and peers over each endpoint's own UAPI socket, as `wg` would; then as Docker would.
    const pub = (e: End): string => Buffer.from(publicKey(Buffer.from(e.key, 'hex'))).toString('hex');
    for (const e of Object.values(ends)) expect(await uapiRequest(e.ifname, `set=1\nprivate_key=${e.key}\n\n`)).toBe('errno=0\n\n');
    const peer = async (a: End, b: End): Promise<void> => {
      const r = await uapiRequest(a.ifname, `set=1\npublic_key=${pub(b)}\nendpoint=127.0.0.1:${b.port}\nallowed_ip=0.0.0.0/0\nwgmpls-label-auth=true\n\n`);
      expect(r).toBe('errno=0\n\n');
    };
    await peer(ends.e1, ends.e2a);
    await peer(ends.e2a, ends.e1);
    await peer(ends.e2b, ends.e3);
    await peer(ends.e3, ends.e2b);
    for (const e of Object.values(ends)) setUpInSandbox({ sandboxKey: e.ns.path, containerIfname: e.tun, addresses: [e.address] });
    expect(await nodes[1].ip('-o', 'addr', 'show', 'dev', 'wgm1')).toContain('10.0.23.2/24');
    expect(await nodes[1].ip('-o', 'link', 'show', 'dev', 'wgm1')).toMatch(/<[^>]*\bUP\b/);

    // n1 pushes 100 towards n3's loopback; n2 swaps it to 200 out of wgm1; n3 pops it to its stack.
    await nodes[2].ip('addr', 'add', '10.9.3.1/32', 'dev', 'lo');
    await nodes[2].ip('route', 'add', '10.0.12.0/24', 'dev', 'wgm0');
    await nodes[0].must('node', [CLI, 'ip', 'route', 'add', '10.9.3.1/32', 'encap', 'mpls', '100', 'via', '10.0.12.2', 'dev', 'wgm0']);
    await nodes[1].must('node', [CLI, 'ip', '-f', 'mpls', 'route', 'add', '100', 'as', '200', 'via', 'inet', '10.0.23.3', 'dev', 'wgm1']);
    await nodes[2].must('node', [CLI, 'ip', '-f', 'mpls', 'route', 'add', '200', 'dev', 'lo']);
    // Without the sibling's socket a hand-over between processes could not happen: this one is a call.
    const nsid = listed.find((e) => e.ifname === ends.e2b.ifname)?.nsid ?? '';
    const sock = join(LSR_ROOT, nsid, 'wgm1.sock');
    expect(existsSync(sock)).toBe(true);
    unlinkSync(sock);
    await waitFor('n1 to reach 10.9.3.1 through the LSP', async () => (await nodes[0].exec('ping', ['-c', '1', '-W', '1', '10.9.3.1'])).code === 0, 20_000);
    const r = await nodes[0].exec('ping', ['-c', '5', '-i', '0.2', '10.9.3.1']);
    expect(r.stdout).toMatch(/5 packets transmitted, 5 received/);
    const s = await stats(ends.e2a.ifname);
    expect(s['lsr.route.100.packets']).toBeGreaterThanOrEqual(5);
    expect(s['lsr.drop.sibling']).toBe(0);
    // wg sees every endpoint of the process by its own name, with its handshake.
    for (const e of [ends.e1, ends.e2b]) expect((await wgDump(host, e.ifname)).peers[0].latestHandshake).toBeGreaterThan(0);
  });

  test('remove takes one endpoint away (TUN, UAPI socket), the others run on; SIGTERM takes the rest', async () => {
    await client.remove(ends.e1.ifname);
    expect(await nodes[0].ip('-o', 'link', 'show')).not.toContain('wgm0');
    expect(existsSync(`/var/run/wireguard/${ends.e1.ifname}.sock`)).toBe(false);
    await client.remove(ends.e1.ifname); // an unknown name is no error
    expect((await client.list()).map((e) => e.ifname).sort()).toEqual([ends.e2a.ifname, ends.e2b.ifname, ends.e3.ifname].sort());
    expect((await nodes[1].exec('ping', ['-c', '1', '-W', '2', '10.0.23.3'])).code).toBe(0);

    const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
    const closed = new Promise<void>((res) => client.onClose(res));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    await closed;
    expect(client.closed).toBe(true);
    for (const e of Object.values(ends)) {
      expect(existsSync(`/var/run/wireguard/${e.ifname}.sock`)).toBe(false);
      expect(await e.ns.ip('-o', 'link', 'show')).not.toContain(e.tun);
    }
    expect(existsSync(control)).toBe(false);
    expect(logs).not.toMatch(/"level":50/);
  });
});
