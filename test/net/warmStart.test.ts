// The first packets after start-up run the code the warm-up compiled (datapath/warmupLive.ts):
// nothing of the per-packet path may be thrown away ("deoptimized") by going live - the router
// joining its namespace, the warm-up closing its own devices, the first handshake, the first
// pings. When it was, the RTT right after start-up was 1.5x current wireguard-go's, because
// the datapath ran baseline code until enough packets had gone through to compile it again.
// Node's own --trace-deopt-verbose says where each deoptimization happened.
import { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CLI, Netns, cleanupAll, genKeys, keyFile, link, uniq, waitFor } from './harness';
import { describeWhere, needRoot } from '../canRun';

const d = describeWhere(needRoot('root (network namespaces, TUN)'));
jest.setTimeout(90_000);

interface Traced {
  ns: Netns;
  ifname: string;
  proc: ChildProcess;
  out: string[];
}

async function startTraced(ns: Netns, ifname: string): Promise<Traced> {
  const proc = ns.spawn('node', ['--trace-deopt-verbose', CLI, 'datapath', ifname], { ...process.env, WG_PROCESS_FOREGROUND: '1' });
  const out: string[] = [];
  proc.stdout?.on('data', (c: Buffer) => out.push(c.toString()));
  proc.stderr?.on('data', (c: Buffer) => out.push(c.toString()));
  const sock = `/var/run/wireguard/${ifname}.sock`;
  await waitFor(`datapath ${ifname} up`, () => existsSync(sock) && out.join('').includes('"datapath up"'), 30_000);
  return { ns, ifname, proc, out };
}

/**
 * What was thrown away after the datapath went live: deoptimizations in its own code (where:
 * file:line:col), and compiled functions invalidated because something they assumed changed
 * (by name; V8 names no file for these).
 */
function liveDeopts(t: Traced): string[] {
  const all = t.out.join('');
  const live = all.slice(all.indexOf('"datapath up"'));
  const eager = [...live.matchAll(/deoptimize at <([^>]*)>/g)].map((m) => m[1]).filter((where) => where.includes('/dist/datapath/'));
  const invalidated = [...live.matchAll(/marking dependent code .*?<SharedFunctionInfo ([^>]*)>.*?reason: ([^\]]*)\]/g)].map((m) => `${m[1]} (${m[2]})`);
  return [...eager, ...invalidated];
}

d('after the warm-up', () => {
  const sides: Traced[] = [];
  afterAll(async () => {
    for (const s of sides) {
      s.proc.kill('SIGTERM');
      await new Promise((r) => (s.proc.exitCode !== null ? r(null) : s.proc.on('exit', r)));
    }
    await cleanupAll();
  });

  test('a handshake and pings both ways, IPv4 and IPv6, throw none of the compiled datapath away', async () => {
    const a = await Netns.create('a');
    const b = await Netns.create('b');
    await link(a, ['10.250.0.1/24'], b, ['10.250.0.2/24']);
    sides.push(await startTraced(a, `wga${uniq()}`), await startTraced(b, `wgb${uniq()}`));
    const keys = [await genKeys(), await genKeys()];
    const tunnel = [
      { v4: '10.99.0.1', v6: 'fd00:99::1', underlay: '10.250.0.1' },
      { v4: '10.99.0.2', v6: 'fd00:99::2', underlay: '10.250.0.2' },
    ];
    for (const [i, s] of sides.entries()) {
      const o = tunnel[1 - i];
      await s.ns.must('wg', [
        'set', s.ifname, 'private-key', keyFile(keys[i].priv), 'listen-port', '51820',
        'peer', keys[1 - i].pub, 'allowed-ips', `${o.v4}/32,${o.v6}/128`, 'endpoint', `${o.underlay}:51820`,
      ]);
      await s.ns.ip('addr', 'add', `${tunnel[i].v4}/24`, 'dev', s.ifname);
      await s.ns.ip('addr', 'add', `${tunnel[i].v6}/64`, 'dev', s.ifname, 'nodad');
      await s.ns.ip('link', 'set', s.ifname, 'up');
    }
    // What the bench's cold RTT does, both ways.
    await a.must('ping', ['-c', '20', '-i', '0.05', '-W', '3', tunnel[1].v4], { timeoutMs: 30_000 });
    await b.must('ping', ['-c', '20', '-i', '0.05', '-W', '3', tunnel[0].v4], { timeoutMs: 30_000 });
    await a.must('ping', ['-6', '-c', '10', '-i', '0.05', '-W', '3', tunnel[1].v6], { timeoutMs: 30_000 });
    expect(sides.map(liveDeopts)).toEqual([[], []]);
  });
});
