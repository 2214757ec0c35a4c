// The warm-up must really push packets through (a silent handshake failure would leave the
// datapath as cold as before while looking fine).
import { warmUp } from '../../datapath/device/warmup';
import { existsSync } from 'node:fs';
import { LSR_ROOT } from '../../datapath/lsr/store';
import { warmUpLive } from '../../datapath/warmupLive';

test('in memory: every IP packet (both ways, v4 and v6) and MPLS frame arrives', () => {
  // 150 IP packets (every other round a group of two, the segments of a superpacket) and 25
  // MPLS frames (one every fourth round).
  expect(warmUp(100)).toBe(175);
});

test('through the live wiring, socket pairs for TUNs, UDP on 127.0.0.1: every packet arrives', async () => {
  expect(await warmUpLive({ mtu: 1420, rounds: 200, budgetMs: 60_000, roundWaitMs: 5_000 })).toBe(200);
}, 90_000);

test('the warm-up leaves no label-switching router behind', async () => {
  await warmUpLive({ mtu: 1420, rounds: 20, budgetMs: 60_000, roundWaitMs: 5_000 });
  expect(existsSync(`${LSR_ROOT}/warm-up-${process.pid}`)).toBe(false);
}, 90_000);
