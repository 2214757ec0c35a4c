// Label tables outlive a datapath restart, but not their namespace: a removed container's or a
// deleted namespace's table is cleaned up, a live one is kept.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, Netns, cleanupAll, startTunnel, uniq } from './harness';
import { describeWhere, needRoot } from '../canRun';
import { LSR_ROOT, gcStaleTables } from '../../datapath/lsr/store';
import { loadTunAddon } from '../../datapath/tun/native';

const d = describeWhere(needRoot('root (network namespaces, TUN)'));
jest.setTimeout(60_000);

d('label table clean-up', () => {
  afterAll(cleanupAll);

  test('the table of a deleted namespace goes, a live one stays', async () => {
    const live = await Netns.create('live');
    const doomed = await Netns.create('doomed');
    const tuns = [];
    for (const ns of [live, doomed]) {
      const ifname = `wgs${uniq()}`;
      tuns.push(await startTunnel(ns, 'wgmpls', ifname));
      await ns.must('node', [CLI, 'ip', '-f', 'mpls', 'route', 'add', '100', 'dev', 'lo']);
    }
    const dirOf = (ns: Netns): string => join(LSR_ROOT, loadTunAddon().netnsCookie(ns.path));
    const liveDir = dirOf(live);
    const doomedDir = dirOf(doomed);
    expect(existsSync(join(doomedDir, 'table.json'))).toBe(true);
    for (const t of tuns) await t.stop();
    await doomed.destroy();
    const removed = gcStaleTables(0);
    expect(removed).toContain(doomedDir.split('/').pop());
    expect(existsSync(doomedDir)).toBe(false);
    expect(existsSync(join(liveDir, 'table.json'))).toBe(true);
    expect(await live.must('node', [CLI, 'ip', '-f', 'mpls', 'route', 'show'])).toBe('100 dev lo \n');
  });
});
