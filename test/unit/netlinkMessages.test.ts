import type { IpRoute, MplsRoute } from '../../datapath/lsr/model';
import { ipRouteRequest, labelStack, mplsRouteRequest } from '../../datapath/netlink/routeMessages';
import { dumpLinksRequest, getLinkRequest, linkIndex, parseLinks } from '../../datapath/netlink/linkMessages';
import { NetlinkError, readReply } from '../../datapath/netlink/reply';
import { attrAt } from '../../datapath/netlink/message';
import { dumpAddrsRequest, parseAddrs } from '../../datapath/netlink/addrMessages';

// Expected bytes written out by hand from the kernel's structs (linux/netlink.h nlmsghdr,
// linux/rtnetlink.h rtmsg and RTA_*, linux/lwtunnel.h, linux/mpls_iptunnel.h) and what
// `ip -f mpls route replace ...` / `ip route replace ... encap mpls ...` send (strace of
// iproute2 6.1 shows the same attributes in the same order).

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const le32 = (n: number): string => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b.toString('hex');
};
const v4 = (s: string): Uint8Array => Uint8Array.from(s.split('.').map(Number));

describe('netlink route messages', () => {
  test('a label stack: big-endian entries, label << 12, bottom-of-stack bit only on the last, TC and TTL zero', () => {
    expect(labelStack([101]).toString('hex')).toBe('00065100');
    expect(labelStack([100, 200]).toString('hex')).toBe('00064000' + '000c8100');
    expect(labelStack([0xfffff]).toString('hex')).toBe('fffff100');
  });

  test('ILM swap: 101 as 102 via inet 10.0.34.2 dev (ifindex 7), replace', () => {
    const route: MplsRoute = { label: 101, outLabels: [102], via: { family: 4, addr: v4('10.0.34.2') }, dev: 'wgm1' };
    const req = mplsRouteRequest('replace', route, 7);
    expect(req.bytes.toString('hex')).toBe(
      hex(
        `40000000 1800 0505 ${le32(req.seq)} 00000000` + // nlmsghdr: len 64, RTM_NEWROUTE, REQUEST|ACK|REPLACE|CREATE (0x505)
          '1c 14 00 00 fe 03 00 01 00000000' + // rtmsg: AF_MPLS, dst_len 20, main table, boot, universe, unicast
          '0800 0100 00065100' + // RTA_DST 101 (BoS)
          '0800 1300 00066100' + // RTA_NEWDST 102 (BoS)
          '0a00 1200 0200 0a002202 0000' + // RTA_VIA AF_INET 10.0.34.2, padded to 4
          '0800 0400 07000000', // RTA_OIF 7
      ).toString('hex'),
    );
    expect(attrAt(req, 36)).toBe('RTA_NEWDST');
    expect(attrAt(req, 45)).toBe('RTA_VIA');
  });

  test('ILM pop to lo (no as, no via) and implicit null as a pop; delete names only the label', () => {
    const pop: MplsRoute = { label: 200, outLabels: [3], via: null, dev: 'lo' };
    const req = mplsRouteRequest('add', pop, 1);
    expect(req.bytes.toString('hex')).toBe(
      hex(`2c000000 1800 0506 ${le32(req.seq)} 00000000 1c 14 00 00 fe 03 00 01 00000000 0800 0100 000c8100 0800 0400 01000000`).toString('hex'),
    );
    const del = mplsRouteRequest('del', pop, 0);
    expect(del.bytes.toString('hex')).toBe(hex(`24000000 1900 0500 ${le32(del.seq)} 00000000 1c 14 00 00 fe 03 00 01 00000000 0800 0100 000c8100`).toString('hex'));
  });

  test('FTN push: 10.0.56.0/24 encap mpls 101 via 10.0.23.2 dev (ifindex 5)', () => {
    const route: IpRoute = { prefix: { addr: v4('10.0.56.0'), bits: 24 }, labels: [101], via: { family: 4, addr: v4('10.0.23.2') }, dev: 'wgm0' };
    const req = ipRouteRequest('replace', route, 5);
    expect(req.bytes.toString('hex')).toBe(
      hex(
        `48000000 1800 0505 ${le32(req.seq)} 00000000` +
          '02 18 00 00 fe 03 00 01 00000000' + // rtmsg: AF_INET, /24
          '0800 0100 0a003800' + // RTA_DST 10.0.56.0
          '0600 1500 0100 0000' + // RTA_ENCAP_TYPE LWTUNNEL_ENCAP_MPLS, padded
          '0c00 1680 0800 0100 00065100' + // RTA_ENCAP (nested) { MPLS_IPTUNNEL_DST 101 }
          '0800 0500 0a001702' + // RTA_GATEWAY 10.0.23.2
          '0800 0400 05000000', // RTA_OIF 5
      ).toString('hex'),
    );
    expect(attrAt(req, 16 + 12 + 8 + 8 + 4)).toBe('MPLS_IPTUNNEL_DST');
  });

  test('FTN with a next hop of the other family uses RTA_VIA; a route without one is scope link', () => {
    const six = new Uint8Array(16);
    six.set([0xfd, 0x00, 0x00, 0x23], 0);
    six[15] = 2;
    const route: IpRoute = { prefix: { addr: v4('10.9.2.1'), bits: 32 }, labels: [100, 200], via: { family: 6, addr: six }, dev: 'wgm0' };
    const req = ipRouteRequest('add', route, 3);
    const via = req.bytes.subarray(16 + 12 + 8 + 8 + 16, 16 + 12 + 8 + 8 + 16 + 24);
    expect(via.toString('hex')).toBe(hex('1600 1200 0a00 fd000023000000000000000000000002 0000').toString('hex'));
    const bare = ipRouteRequest('add', { ...route, via: null }, 3);
    expect(bare.bytes[16 + 6]).toBe(253); // RT_SCOPE_LINK
  });
});

describe('netlink steering routes (userspace backend)', () => {
  test('PREFIX dev DEV: no encapsulation, no gateway, scope link; its delete names the device', () => {
    const route: IpRoute = { prefix: { addr: v4('10.0.6.0'), bits: 24 }, labels: [], via: null, dev: 'wgm0' };
    const add = ipRouteRequest('replace', route, 4);
    expect(add.bytes.toString('hex')).toBe(hex(`2c000000 1800 0505 ${le32(add.seq)} 00000000 02 18 00 00 fe 03 fd 01 00000000 0800 0100 0a000600 0800 0400 04000000`).toString('hex'));
    const del = ipRouteRequest('del', route, 4);
    expect(del.bytes.toString('hex')).toBe(hex(`2c000000 1900 0500 ${le32(del.seq)} 00000000 02 18 00 00 fe 00 ff 00 00000000 0800 0100 0a000600 0800 0400 04000000`).toString('hex'));
  });
});

describe('netlink replies', () => {
  const route: MplsRoute = { label: 101, outLabels: [102], via: null, dev: 'wgm1' };

  test('an ack (error 0) resolves to no messages', () => {
    const req = mplsRouteRequest('replace', route, 7);
    const ack = hex(`24000000 0200 0001 ${le32(req.seq)} 00000000 00000000 ${req.bytes.subarray(0, 16).toString('hex')}`);
    expect(readReply(req, [ack])).toEqual([]);
  });

  test("an error with extended ack: errno by name, the kernel's words, the attribute at the offset", () => {
    const req = mplsRouteRequest('replace', route, 7);
    const msg = Buffer.concat([Buffer.from('Invalid label - out of range'), Buffer.alloc(1)]); // 29 bytes
    const tlvs = `2100 0100 ${msg.toString('hex')} 000000` + '0800 0200 24000000'; // MSG, OFFS 36 (RTA_NEWDST)
    const body = `eaffffff ${req.bytes.toString('hex')} ${tlvs}`;
    const len = 16 + hex(body).length;
    const err = hex(`${le32(len)} 0200 0002 ${le32(req.seq)} 00000000 ${body}`); // flags NLM_F_ACK_TLVS
    let thrown: unknown;
    try {
      readReply(req, [err]);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(NetlinkError);
    const ne = thrown as NetlinkError;
    expect([ne.errno, ne.code, ne.reason, ne.attribute]).toEqual([22, 'EINVAL', 'Invalid label - out of range', 'RTA_NEWDST']);
    expect(ne.message).toBe('Invalid label - out of range (EINVAL, attribute RTA_NEWDST)');
  });

  test('an error without extended ack falls back to the errno text; replies to other requests are ignored', () => {
    const req = mplsRouteRequest('del', route, 0);
    const other = hex(`24000000 0200 0000 ${le32(req.seq + 1000)} 00000000 00000000 ${req.bytes.subarray(0, 16).toString('hex')}`);
    const err = hex(`24000000 0200 0001 ${le32(req.seq)} 00000000 fdffffff ${req.bytes.subarray(0, 16).toString('hex')}`); // -ESRCH, capped
    expect(() => readReply(req, [other, err])).toThrow('No such process (ESRCH)');
  });

  test('RTM_GETLINK by name and the index in its answer', () => {
    const req = getLinkRequest('wgm0');
    expect(req.bytes.toString('hex')).toBe(
      hex(`2c000000 1200 0500 ${le32(req.seq)} 00000000 00 00 0000 00000000 00000000 00000000 0900 0300 77676d3000 000000`).toString('hex'),
    );
    const link = hex(`2c000000 1000 0000 ${le32(req.seq)} 00000000 00 00 fffe 09000000 91100100 00000000 0900 0300 77676d3000 000000`);
    const ack = hex(`24000000 0200 0001 ${le32(req.seq)} 00000000 00000000 ${req.bytes.subarray(0, 16).toString('hex')}`);
    expect(linkIndex(readReply(req, [link, ack]))).toBe(9);
  });
});

describe('netlink link dump', () => {
  test('RTM_GETLINK with NLM_F_DUMP, and each link with its name and IFF_UP', () => {
    const req = dumpLinksRequest();
    expect(req.bytes.toString('hex')).toBe(hex(`20000000 1200 0103 ${le32(req.seq)} 00000000 00 00 0000 00000000 00000000 00000000`).toString('hex'));
    // lo (index 1, UP|LOOPBACK|RUNNING), wgm0 (index 9, down), then the end of the dump.
    const lo = hex(`28000000 1000 0200 ${le32(req.seq)} 00000000 00 00 0403 01000000 49000100 00000000 0700 0300 6c6f00 00`);
    const wgm0 = hex(`2c000000 1000 0200 ${le32(req.seq)} 00000000 00 00 fffe 09000000 90100000 00000000 0900 0300 77676d3000 000000`);
    const done = hex(`14000000 0300 0200 ${le32(req.seq)} 00000000 00000000`);
    expect(parseLinks(readReply(req, [Buffer.concat([lo, wgm0]), done]))).toEqual([
      { index: 1, name: 'lo', up: true },
      { index: 9, name: 'wgm0', up: false },
    ]);
  });
});

describe('netlink address dump', () => {
  test('RTM_GETADDR with NLM_F_DUMP; IPv4 takes IFA_LOCAL, IPv6 IFA_ADDRESS, scope kept', () => {
    const req = dumpAddrsRequest();
    expect(req.bytes.toString('hex')).toBe(hex(`18000000 1600 0103 ${le32(req.seq)} 00000000 00 00 00 00 00000000`).toString('hex'));
    // 10.0.23.1/24 on ifindex 5 (peer 10.0.23.9 in IFA_ADDRESS), fe80::1/64 scope link on 5.
    const v4 = hex(`28000000 1400 0200 ${le32(req.seq)} 00000000 02 18 80 00 05000000 0800 0100 0a001709 0800 0200 0a001701`);
    const v6 = hex(`2c000000 1400 0200 ${le32(req.seq)} 00000000 0a 40 80 fd 05000000 1400 0100 fe800000000000000000000000000001`);
    const done = hex(`14000000 0300 0200 ${le32(req.seq)} 00000000 00000000`);
    expect(parseAddrs(readReply(req, [Buffer.concat([v4, v6]), done]))).toEqual([
      { index: 5, local: Uint8Array.from([10, 0, 23, 1]), scope: 0 },
      { index: 5, local: Uint8Array.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), scope: 253 },
    ]);
  });
});
