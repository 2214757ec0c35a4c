// The first packets after start-up run the code the warm-up compiled (datapath/warmupLive.ts):
// nothing of the per-packet path may be thrown away ("deoptimized") by going live - the router
// joining its namespace, the warm-up closing its own devices, the first handshake, the first
// pings. When it was, the RTT right after start-up was 1.5x current wireguard-go's, because
// the datapath ran baseline code until enough packets had gone through to compile it again.
// Node's own --trace-deopt-verbose says where each deoptimization happened.
import { Side, cleanupAll, pair, stopPair } from './harness';
import { describeWhere, needRoot } from '../canRun';

const d = describeWhere(needRoot('root (network namespaces, TUN)'));
jest.setTimeout(90_000);

/**
 * What was thrown away after the datapath went live: deoptimizations in its own code (where:
 * file:line:col), and compiled functions invalidated because something they assumed changed
 * (by name; V8 names no file for these).
 */
function liveDeopts(s: Side): string[] {
  const all = s.tun.logs.join('');
  const up = all.indexOf('"datapath up"');
  if (up < 0) throw new Error(`the datapath never said it was up: ${all.slice(-500)}`);
  const live = all.slice(up);
  const eager = [...live.matchAll(/deoptimize at <([^>]*)>/g)].map((m) => m[1]).filter((where) => where.includes('/dist/datapath/'));
  const invalidated = [...live.matchAll(/marking dependent code .*?<SharedFunctionInfo ([^>]*)>.*?reason: ([^\]]*)\]/g)].map((m) => `${m[1]} (${m[2]})`);
  return [...eager, ...invalidated];
}

d('after the warm-up', () => {
  let sides: Side[] = [];
  afterAll(async () => {
    if (sides.length) await stopPair(sides);
    await cleanupAll();
  });

  test('a handshake and pings both ways, IPv4 and IPv6, throw none of the compiled datapath away', async () => {
    sides = await pair('wgmpls', 'wgmpls', { nodeArgs: ['--trace-deopt-verbose'] });
    const [a, b] = sides;
    // What the bench's cold RTT does, both ways.
    await a.ns.must('ping', ['-c', '20', '-i', '0.05', '-W', '3', b.v4], { timeoutMs: 30_000 });
    await b.ns.must('ping', ['-c', '20', '-i', '0.05', '-W', '3', a.v4], { timeoutMs: 30_000 });
    await a.ns.must('ping', ['-6', '-c', '10', '-i', '0.05', '-W', '3', b.v6], { timeoutMs: 30_000 });
    expect(sides.map(liveDeopts)).toEqual([[], []]);
  });
});
