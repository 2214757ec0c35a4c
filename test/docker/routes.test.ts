// MPLS routes in containers, end to end against the host's dockerd: three containers in a line
// c1 - c2 - c3 on two wgmpls networks, their routes declared in the `wgmpls.routes` label and
// applied by the plugin; `wgmpls ip --container` on the host. c1 pushes 101, c2 pops it towards
// c3; back, c3 pushes 201 and c2 pops it towards c1. Needs root and a dockerd that answers
// (skipped with a message otherwise, an error under CI). The plugin instance is the test's own,
// on a socket of its own (driver "wgmplsrt"), so it can run beside another wgmpls driver.
// Everything created is named wgmt-rt-*; the 10.0.x / fd00:x addresses exist only in the containers.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, run, sleep, udpPayloads, waitFor } from '../net/harness';
import { Plugin, docker, dockerOk, mustPing, whyNotRunnable } from './helpers';
import { RoutesLabelError, devicesNamed, parseRoutesLabel } from '../../plugin/routes/label';
import { describeWhere } from '../canRun';

const plugin = new Plugin('/run/docker/plugins/wgmplsrt.sock');
const NET12 = 'wgmt-rt-net12';
const NET23 = 'wgmt-rt-net23';
const SOLO = 'wgmt-rt-solo';
const [C1, C2, C3, BAD] = ['wgmt-rt-c1', 'wgmt-rt-c2', 'wgmt-rt-c3', 'wgmt-rt-bad'];
const IP = { c1: '10.0.12.1', c2a: '10.0.12.2', c2b: '10.0.23.2', c3: '10.0.23.3', c1v6: 'fd00:12::1', c2av6: 'fd00:12::2', c2bv6: 'fd00:23::2', c3v6: 'fd00:23::3' };

// c2 is started on net12 and connected to net23 afterwards: Docker names its interfaces in
// connect order, so wgm0 faces c1 and wgm1 faces c3 (checked by address below).
const ROUTES = {
  [C1]: `route add 10.0.23.0/24 encap mpls 101 via ${IP.c2a} dev wgm0; -6 route add fd00:23::/64 encap mpls 101 via ${IP.c2av6} dev wgm0`,
  [C2]: `-f mpls route add 101 via inet ${IP.c3} dev wgm1; -f mpls route add 201 via inet ${IP.c1} dev wgm0`,
  [C3]: `route add 10.0.12.0/24 encap mpls 201 via ${IP.c2b} dev wgm0; -6 route add fd00:12::/64 encap mpls 201 via ${IP.c2bv6} dev wgm0`,
  // The first line is fine, the second is not: nothing at all may be installed.
  [BAD]: '-f mpls route add 100 dev lo; -f mpls route add 5 dev lo',
};

describe('the wgmpls.routes label (no Docker needed)', () => {
  test('lines split on ; and newlines, "ip" tolerated in front, add applied as replace', () => {
    const lines = parseRoutesLabel(' ip -f mpls route add 101 as 102 via inet 10.0.23.3 dev wgm1 ;\n route add 10.0.3.0/24 encap mpls 201 via 10.0.12.1 dev wgm0;; ');
    expect(lines.map((l) => [l.n, l.text, l.cmd.verb])).toEqual([
      [1, 'ip -f mpls route add 101 as 102 via inet 10.0.23.3 dev wgm1', 'replace'],
      [2, 'route add 10.0.3.0/24 encap mpls 201 via 10.0.12.1 dev wgm0', 'replace'],
    ]);
    expect(devicesNamed([...lines, ...parseRoutesLabel('-M route change 7000 dev lo')])).toEqual(['wgm1', 'wgm0']);
    expect(parseRoutesLabel(' ; ')).toEqual([]);
  });

  test('the first bad line is named with the parser\'s own words; show, del and flush do not belong', () => {
    expect(() => parseRoutesLabel('-f mpls route add 100 dev lo; -f mpls route add 5 dev lo')).toThrow(
      new RoutesLabelError('wgmpls.routes line 2 ("-f mpls route add 5 dev lo"): label 5 is reserved (0-15); use 16-1048575'),
    );
    expect(() => parseRoutesLabel('route add 10.0.3.0/24 encap mpls 20/x dev wgm0')).toThrow(/line 1 .*malformed label stack "20\/x"/);
    expect(() => parseRoutesLabel('-f mpls route del 100')).toThrow(/only "route add", "replace" and "change" belong in wgmpls\.routes, not "del"/);
    expect(() => parseRoutesLabel('-f mpls route show')).toThrow(/not "show"/);
  });
});

const skipReason = whyNotRunnable(plugin.socket);
jest.setTimeout(120_000);
const maybe = describeWhere(skipReason);

function wgmplsIp(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [CLI, 'ip', ...args], { env: plugin.env });
}

async function removeAll(): Promise<void> {
  await docker('rm', '-f', C1, C2, C3, BAD);
  for (const n of [NET12, NET23, SOLO]) await docker('network', 'rm', n);
}

/** The label's 24 bits in a type-5 header (bytes 1-3, little-endian), as a label number. */
const labelOf = (p: Buffer): number => (p[1] | (p[2] << 8) | (p[3] << 16)) >> 4;

maybe('wgmpls.routes and wgmpls ip --container', () => {
  let image = '';

  beforeAll(async () => {
    // Leftovers of an interrupted run go once the driver is there (dockerd asks it to remove networks).
    image = await plugin.setUp(removeAll, false);
  }, 180_000);

  afterAll(() => plugin.tearDown(removeAll), 120_000);

  test('routes from the label are in place once the containers are up, c2 connected to its second network later', async () => {
    const d = plugin.driver;
    await dockerOk('network', 'create', '-d', d, '--subnet', '10.0.12.0/24', '--gateway', '10.0.12.254', '--ipv6', '--subnet', 'fd00:12::/64', '--gateway', 'fd00:12::fe', NET12);
    await dockerOk('network', 'create', '-d', d, '--subnet', '10.0.23.0/24', '--gateway', '10.0.23.254', '--ipv6', '--subnet', 'fd00:23::/64', '--gateway', 'fd00:23::fe', NET23);
    const runIn = (name: string, net: string, ip: string, ip6: string): Promise<string> =>
      dockerOk('run', '-d', '--name', name, '--network', net, '--ip', ip, '--ip6', ip6, '--label', `wgmpls.routes=${ROUTES[name]}`, image);
    await runIn(C1, NET12, IP.c1, IP.c1v6);
    await runIn(C3, NET23, IP.c3, IP.c3v6);
    await runIn(C2, NET12, IP.c2a, IP.c2av6);
    // c2's label names wgm1, which only this brings: the plugin waits for it.
    await dockerOk('network', 'connect', '--ip', IP.c2b, '--ip6', IP.c2bv6, NET23, C2);
    expect(await dockerOk('exec', C2, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'wgm0')).toContain(`${IP.c2a}/24`);
    expect(await dockerOk('exec', C2, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'wgm1')).toContain(`${IP.c2b}/24`);

    const c2Routes = `101 via inet ${IP.c3} dev wgm1 \n201 via inet ${IP.c1} dev wgm0 \n`;
    await waitFor('c2 to have its label routes', async () => (await wgmplsIp('--container', C2, '-f', 'mpls', 'route', 'show')).stdout === c2Routes, 20_000);
    await waitFor('c1 and c3 to have their label routes', async () => (await wgmplsIp('--container', C1, 'route', 'show')).stdout !== '' && (await wgmplsIp('--container', C3, '-6', 'route', 'show')).stdout !== '');

    // As iproute2 prints them; the steering kernel routes went into the containers' namespaces.
    expect((await wgmplsIp('--container', C2, '-f', 'mpls', 'route', 'show')).stdout).toBe(c2Routes);
    expect((await wgmplsIp('--container', C1, 'route', 'show')).stdout).toBe(`10.0.23.0/24  encap mpls  101 via ${IP.c2a} dev wgm0 \n`);
    expect((await wgmplsIp('--container', C3, '-6', 'route', 'show')).stdout).toBe(`fd00:12::/64  encap mpls  201 via ${IP.c2bv6} dev wgm0 metric 1024 pref medium\n`);
    expect(await dockerOk('exec', C1, 'ip', 'route', 'show', '10.0.23.0/24')).toBe('10.0.23.0/24 dev wgm0 scope link \n');
    // Applied on start and again on connect, in the same namespace: replace semantics, no "File exists".
    const applied = (): number => plugin.logs.split('\n').filter((l) => l.includes(`"container":"${C2}"`) && l.includes('wgmpls.routes applied')).length;
    await waitFor('c2 label applied on start and again on connect', () => applied() >= 2);
    expect(plugin.logs).not.toMatch(/File exists|refused/);
  });

  test('c1 pings c3 over MPLS: the underlay carries type 5 with label 101 towards c2 and 201 back', async () => {
    const toC2From1 = plugin.endpointAt(IP.c2a).port;
    const toC2From3 = plugin.endpointAt(IP.c2b).port;
    const toC3 = plugin.endpointAt(IP.c3).port;
    const pcap = join(plugin.dir, 'lo.pcap');
    const dump = spawn('tcpdump', ['-i', 'lo', '-n', '-U', '--immediate-mode', '-s', '0', '-w', pcap, `udp and (port ${toC2From1} or port ${toC2From3})`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    dump.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    await waitFor('tcpdump', () => err.includes('listening on') || dump.exitCode !== null);
    await sleep(200);
    await mustPing(C1, IP.c3);
    await mustPing(C1, IP.c3v6);
    await sleep(300);
    const exited = new Promise<void>((res) => dump.once('exit', () => res()));
    dump.kill('SIGINT');
    await exited;
    const udp = udpPayloads(readFileSync(pcap));
    const labelsTo = (port: number): number[] => [...new Set(udp.filter((u) => u.dstPort === port && u.payload[0] === 5).map((u) => labelOf(u.payload)))];
    expect(udp.filter((u) => u.dstPort === toC2From1 && u.payload[0] === 5).length).toBeGreaterThanOrEqual(6); // 3 + 3 echo requests
    expect(labelsTo(toC2From1)).toEqual([101]);
    expect(labelsTo(toC2From3)).toEqual([201]);
    const first = udp.find((u) => u.dstPort === toC2From1 && u.payload[0] === 5);
    expect([...(first?.payload.subarray(1, 4) ?? [])]).toEqual([0x51, 0x06, 0x00]); // 101, bottom of stack
    // c2 popped the label (penultimate hop): towards c3 it is plain IP, type 4.
    expect(udp.filter((u) => u.dstPort === toC3 && u.payload[0] === 5)).toEqual([]);
    // The label counters of c2's router saw them (summed over both of its datapaths).
    expect((await wgmplsIp('--container', C2, '-s', '-f', 'mpls', 'route', 'show')).stdout).toMatch(/^101 via inet 10\.0\.23\.3 dev wgm1 \n {4}packets [1-9]/);
  });

  test('traceroute -e -I from c1 shows c2 as hop 1 with the MPLS extension, then c3', async () => {
    const r = await dockerOk('exec', C1, 'traceroute', '-e', '-I', '-n', '-q', '1', '-w', '2', '-m', '4', IP.c3);
    const hops = r.trim().split('\n').slice(1).map((l) => l.trim());
    expect(hops).toHaveLength(2);
    expect(hops[0]).toMatch(/^1\s+10\.0\.12\.2\s+<MPLS:L=101,E=0,S=1,T=1>/);
    expect(hops[1]).toMatch(/^2\s+10\.0\.23\.3\s/);
    expect(hops[1]).not.toContain('MPLS');
  });

  test('wgmpls ip --container: same syntax and errors as wgmpls ip, kernel routes inside the container', async () => {
    const reserved = await wgmplsIp('--container', C2, '-f', 'mpls', 'route', 'add', '5', 'dev', 'lo');
    expect(reserved.code).not.toBe(0);
    expect(reserved.stderr).toBe('Error: label 5 is reserved (0-15); use 16-1048575\n');
    const exists = await wgmplsIp('--container', C2, '-f', 'mpls', 'route', 'add', '101', 'dev', 'lo');
    expect(exists).toMatchObject({ code: 2, stderr: 'RTNETLINK answers: File exists\n' });
    expect(await wgmplsIp('--container', C2, '-f', 'mpls', 'route', 'add', '300', 'dev', 'wgm7')).toMatchObject({ code: 1, stderr: 'Cannot find device "wgm7"\n' });
    const unknown = await wgmplsIp('--container', 'wgmt-rt-nosuch', '-f', 'mpls', 'route', 'show');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toBe('wgmpls ip: no such container: wgmt-rt-nosuch\n');

    // A push route added from the host: the table, and the kernel route in c2's namespace.
    expect(await wgmplsIp('--container', C2, 'route', 'add', '10.9.0.0/16', 'encap', 'mpls', '500', 'via', IP.c3, 'dev', 'wgm1')).toMatchObject({ code: 0 });
    expect(await dockerOk('exec', C2, 'ip', 'route', 'show', '10.9.0.0/16')).toBe('10.9.0.0/16 dev wgm1 scope link \n');
    expect(await wgmplsIp('--container', C2, 'route', 'del', '10.9.0.0/16')).toMatchObject({ code: 0 });
    expect(await dockerOk('exec', C2, 'ip', 'route', 'show', '10.9.0.0/16')).toBe('');
    expect((await wgmplsIp('--container', C2, '-f', 'mpls', 'route', 'show')).stdout).not.toContain('500');
  });

  test('a bad route in the label: nothing installed, the error in the plugin log and in wgmpls show', async () => {
    await dockerOk('network', 'create', '-d', plugin.driver, '--subnet', '10.0.99.0/24', SOLO);
    await dockerOk('run', '-d', '--name', BAD, '--network', SOLO, '--label', `wgmpls.routes=${ROUTES[BAD]}`, image);
    await waitFor('the plugin to refuse the label', () => plugin.logs.includes(`"container":"${BAD}"`), 20_000);
    const line = plugin.logs.split('\n').find((l) => l.includes(`"container":"${BAD}"`)) ?? '';
    expect(line).toContain(`wgmpls.routes of container ${BAD} refused, nothing installed`);
    expect(line).toContain('wgmpls.routes line 2 (\\"-f mpls route add 5 dev lo\\"): label 5 is reserved');
    expect((await wgmplsIp('--container', BAD, '-f', 'mpls', 'route', 'show')).stdout).toBe(''); // not even line 1

    const show = await run(process.execPath, [CLI, 'show', '--json'], { env: plugin.env });
    expect(show.code).toBe(0);
    const routes = (JSON.parse(show.stdout) as { routeLabels: { name: string; routes: number; error?: string }[] }).routeLabels;
    expect(routes.find((r) => r.name === BAD)).toMatchObject({ routes: 0, error: expect.stringContaining('label 5 is reserved') });
    expect(routes.find((r) => r.name === C2)).toEqual(expect.objectContaining({ routes: 2 }));
    expect(routes.find((r) => r.name === C2)?.error).toBeUndefined();
    const text = (await run(process.execPath, [CLI, 'show'], { env: plugin.env })).stdout;
    expect(text).toMatch(new RegExp(`container ${BAD} \\([0-9a-f]{12}\\): wgmpls\\.routes: refused, nothing installed: .*label 5 is reserved`));
  });

  test('after docker rm -f and docker network rm nothing is left', async () => {
    const eps = Object.values(plugin.state().endpoints);
    expect(eps).toHaveLength(5);
    await removeAll();
    expect(plugin.state()).toEqual({ version: 1, networks: {}, endpoints: {} });
    const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
    const procs = (await run('ps', ['-eo', 'pid,args'])).stdout;
    for (const ep of eps) {
      expect(links).not.toContain(ep.ifname);
      expect(procs).not.toContain(`datapath ${ep.ifname}`);
    }
    // Removed containers are forgotten by wgmpls show too.
    await waitFor('the route status to be pruned', async () => {
      const show = await run(process.execPath, [CLI, 'show', '--json'], { env: plugin.env });
      return (JSON.parse(show.stdout) as { routeLabels: unknown[] }).routeLabels.length === 0;
    });
  });
});
