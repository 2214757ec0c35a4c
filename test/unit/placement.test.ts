// plugin/datapaths/placement.ts and the pool's size from the environment (plugin/config.ts):
// which worker process hosts a new endpoint's datapath.
import { chooseSlot, workersFor } from '../../plugin/datapaths/placement';
import { workerShape } from '../../plugin/config';
import type { EndpointState } from '../../plugin/state/types';

const placed = (id: string, worker: number, over: Partial<EndpointState> = {}): EndpointState => ({
  id,
  networkId: 'n',
  ifname: `wgm${id}`,
  privateKey: 'a'.repeat(64),
  publicKey: 'b'.repeat(64),
  port: 1,
  createdAt: '2020-01-01T00:00:00.000Z',
  worker,
  ...over,
});

describe('placement and pool size', () => {
  const two = { base: 2, perWorker: 4, max: 64 };
  const up = (): boolean => true;

  test("a namespace's endpoints share a worker; a new namespace goes to the least loaded, a running one among equals", () => {
    const all = [placed('a', 0, { sandboxKey: '/s1' }), placed('b', 0, { sandboxKey: '/s1' }), placed('c', 1, { sandboxKey: '/s2' })];
    expect(chooseSlot({ id: 'x', sandboxKey: '/s2' }, all, two, up)).toBe(1);
    expect(chooseSlot({ id: 'x', sandboxKey: '/s1' }, all, two, up)).toBe(0);
    expect(chooseSlot({ id: 'x', sandboxKey: '/s3' }, all, two, up)).toBe(1); // 2 endpoints in 0, 1 in 1
    expect(chooseSlot({ id: 'x', sandboxKey: '/s3' }, all, { ...two, base: 3 }, up)).toBe(2);
    expect(chooseSlot({ id: 'x', sandboxKey: '/s3' }, all, { ...two, base: 3 }, (s) => s !== 2)).toBe(2); // still the least loaded
    expect(chooseSlot({ id: 'x', sandboxKey: '/s3' }, [placed('a', 0), placed('b', 1)], { ...two, base: 3 }, (s) => s === 1)).toBe(2);
    expect(chooseSlot({ id: 'x', sandboxKey: '/s3' }, [placed('a', 1), placed('b', 2)], { ...two, base: 3 }, (s) => s !== 0)).toBe(0);
    expect(chooseSlot({ id: 'x', sandboxKey: '/s3' }, [placed('a', 0)], { ...two, base: 3 }, (s) => s === 2)).toBe(2); // running wins a tie
    // The container is known by its namespace's cookie or its id too.
    expect(chooseSlot({ id: 'x', nsid: '77' }, [placed('a', 0), placed('b', 1, { nsid: '77' })], two, up)).toBe(1);
    expect(chooseSlot({ id: 'x', containerId: 'c9' }, [placed('a', 1, { containerId: 'c9' }), placed('b', 0)], two, up)).toBe(1);
  });

  test('more endpoints than base x perWorker open more workers, up to the maximum', () => {
    expect(workersFor(1, two)).toBe(2);
    expect(workersFor(8, two)).toBe(2);
    expect(workersFor(9, two)).toBe(3);
    expect(workersFor(1000, two)).toBe(64);
    // Eight endpoints fill two workers of four: the ninth opens a third.
    const eight = Array.from({ length: 8 }, (_, i) => placed(`e${i}`, i % 2, { sandboxKey: `/s${i}` }));
    expect(chooseSlot({ id: 'x', sandboxKey: '/new' }, eight, two, up)).toBe(2);
    expect(chooseSlot({ id: 'x', sandboxKey: '/new' }, eight.slice(1), two, up)).toBe(0);
    // A namespace stays in its worker however full it is.
    expect(chooseSlot({ id: 'x', sandboxKey: '/s1' }, eight, two, up)).toBe(1);
  });

  test('the pool size comes from WGMPLS_WORKERS and WGMPLS_WORKER_ENDPOINTS; bad values are refused by name', () => {
    expect(workerShape({ WGMPLS_WORKERS: '3', WGMPLS_WORKER_ENDPOINTS: '10' })).toEqual({ base: 3, perWorker: 10, max: 64 });
    const d = workerShape({});
    expect(d.base).toBeGreaterThanOrEqual(2);
    expect(d.base).toBeLessThanOrEqual(4);
    expect(d.perWorker).toBe(32);
    expect(() => workerShape({ WGMPLS_WORKERS: '0' })).toThrow('WGMPLS_WORKERS must be an integer from 1 to 64, got "0"');
    expect(() => workerShape({ WGMPLS_WORKER_ENDPOINTS: 'many' })).toThrow(/WGMPLS_WORKER_ENDPOINTS must be an integer/);
  });
});
