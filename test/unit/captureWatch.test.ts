// Which packet sockets make a datapath hand the labelled frames it switches up its TUN: the
// /proc/net/packet parser and the rule, on lines as Linux 6.1 prints them.
import { parsePacketSockets, seesMpls } from '../../datapath/lsr/captureWatch';

const HEADER = 'sk               RefCnt Type Proto  Iface R Rmem   User   Inode\n';
const line = (proto: string, iface: number, running: 0 | 1): string => `000000002b20d6c5 3      3    ${proto}   ${iface}     ${running} 0      0      140988\n`;

describe('/proc/net/packet', () => {
  test('parses protocol (hex), interface and running; the header and junk lines are skipped', () => {
    expect(parsePacketSockets(HEADER + line('0003', 2, 1) + line('8847', 0, 0) + 'garbage\n' + line('zz', 1, 1))).toEqual([
      { proto: 0x0003, ifindex: 2, running: true },
      { proto: 0x8847, ifindex: 0, running: false },
    ]);
    expect(parsePacketSockets(HEADER)).toEqual([]);
    expect(parsePacketSockets('')).toEqual([]);
  });

  test('a running ETH_P_ALL or MPLS socket on this interface or on all sees labelled frames; others do not', () => {
    const s = (proto: number, ifindex: number, running = true) => ({ proto, ifindex, running });
    expect(seesMpls(s(0x0003, 5), 5)).toBe(true); // tcpdump -i wgm0
    expect(seesMpls(s(0x0003, 0), 5)).toBe(true); // tcpdump -i any
    expect(seesMpls(s(0x8847, 5), 5)).toBe(true);
    expect(seesMpls(s(0x8848, 0), null)).toBe(true);
    expect(seesMpls(s(0x0003, 4), 5)).toBe(false); // another interface
    expect(seesMpls(s(0x0003, 4), null)).toBe(false); // ours unknown: only "any" counts
    expect(seesMpls(s(0x0800, 5), 5)).toBe(false); // IPv4 only
    expect(seesMpls(s(0x0003, 5, false), 5)).toBe(false); // not bound / not running
  });
});
