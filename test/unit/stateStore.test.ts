// plugin/state/store.ts when the state cannot be written: the change is made neither on disk nor
// in memory, and the error says where and why. The failing write is provoked without root (a
// directory where the temporary file would go), so this runs anywhere; the read-only and full
// file systems themselves are tested against dockerd in test/docker/faults.test.ts.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateError, StateStore } from '../../plugin/state/store';
import type { NetworkState } from '../../plugin/state/types';
import { networkState } from '../stateFixtures';

const net = (id: string): NetworkState => networkState({ id: id.repeat(64).slice(0, 64) });

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wgmpls-state-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('a change that cannot be saved is not made in memory either; the file stays the last good one', () => {
  const store = StateStore.open(dir);
  store.putNetwork(net('a'));
  const good = readFileSync(store.file);
  mkdirSync(`${store.file}.tmp-${process.pid}`); // the temporary file cannot be opened now

  expect(() => store.putNetwork(net('b'))).toThrow(StateError);
  expect(() => store.deleteNetwork(net('a').id)).toThrow(/^wgmpls cannot save its state in .* \(.*\); nothing was changed, the state on disk is the last good one$/);
  expect(store.networks().map((n) => n.id)).toEqual([net('a').id]);
  expect(readFileSync(store.file).equals(good)).toBe(true);
  expect(StateStore.read(dir).networks().map((n) => n.id)).toEqual([net('a').id]);

  rmSync(`${store.file}.tmp-${process.pid}`, { recursive: true });
  store.putNetwork(net('c')); // writable again: the refused changes do not come back with it
  expect(StateStore.read(dir).networks().map((n) => n.id).sort()).toEqual([net('a').id, net('c').id]);
});
