// The send path (datapath/device/send.ts): cryptokey routing by destination and staging while
// there is no session, through devices on the simulated network of test/unit/deviceHarness.ts.

import { A4, B4, A6, pair, v4, v6, types } from './deviceHarness';

describe('handshake and data: keys and inner packets', () => {
  test('at most 128 packets wait for a handshake; the oldest are dropped first', async () => {
    const { net, a, b } = await pair();
    for (let i = 0; i < 130; i++) a.device.sendIp(v4(A4, B4, `n${i}`));
    expect(a.peerOf(b).staged).toHaveLength(128);
    expect(types(net.queue)).toEqual(['A:1']); // one initiation, not one per packet
    net.flush();
    const got = b.tun.map((t) => t.packet.subarray(28).toString());
    expect(got).toHaveLength(128);
    expect(got[0]).toBe('n2');
    expect(got[127]).toBe('n129');
  });
});

describe('cryptokey routing', () => {
  test('a destination no peer covers is counted (no-peer-for-destination) and nothing is sent', async () => {
    const { net, a } = await pair();
    a.device.sendIp(v4(A4, '198.51.100.7'));
    a.device.sendIp(v6(A6, '2001:db8::7'));
    expect(types(net.queue)).toEqual([]);
    expect(a.drops('no-peer-for-destination')).toBe(2);
  });
});
