// The warm-up must really push packets through (a silent handshake failure would leave the
// datapath as cold as before while looking fine).
import { warmUp, warmUpOverLoopback } from '../../datapath/device/warmup';

test('in memory: every IP packet and MPLS frame arrives', () => {
  // 100 IP packets and 25 MPLS frames (one every fourth round).
  expect(warmUp(100)).toBe(125);
});

test('over UDP on 127.0.0.1: every packet fed as from the TUN arrives', async () => {
  expect(await warmUpOverLoopback(200, 10_000)).toBe(200);
});
