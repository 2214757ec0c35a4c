// The UDP underlay on the addon's sockets, over loopback (no root needed): binding, both
// families on one port, what a refused send and a taken port look like, and what arrives.
import dgram from 'node:dgram';
import { UdpConn } from '../../datapath/conn/udp';
import type { Endpoint } from '../../datapath/device/config';

function collector(): { got: { msg: Buffer; from: Endpoint }[]; sink: { handleUdp(msg: Buffer, from: Endpoint): void } } {
  const got: { msg: Buffer; from: Endpoint }[] = [];
  return { got, sink: { handleUdp: (msg, from) => got.push({ msg, from }) } };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('UdpConn (native sockets)', () => {
  const open: UdpConn[] = [];
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  const conn = (address?: string): UdpConn => {
    const c = new UdpConn(address);
    open.push(c);
    return c;
  };

  test('datagrams both ways over IPv4 loopback, with the sender as endpoint; many in a burst arrive whole and in order', async () => {
    const a = conn('127.0.0.1');
    const b = conn('127.0.0.1');
    const ca = collector();
    const cb = collector();
    a.attach(ca.sink);
    b.attach(cb.sink);
    const pa = await a.bind(0);
    const pb = await b.bind(0);
    expect(a.send(Buffer.from('hello'), { address: '127.0.0.1', port: pb })).toBe(true);
    await until(() => cb.got.length === 1);
    expect(cb.got[0].msg.toString()).toBe('hello');
    expect(cb.got[0].from).toEqual({ address: '127.0.0.1', port: pa });
    // More than one recvmmsg batch (16) and of several sizes, one at 9000 bytes.
    for (let i = 0; i < 100; i++) b.send(Buffer.alloc(i === 50 ? 9000 : 1 + i, i), { address: '127.0.0.1', port: pa });
    await until(() => ca.got.length === 100);
    ca.got.forEach((g, i) => expect(g.msg).toEqual(Buffer.alloc(i === 50 ? 9000 : 1 + i, i)));
  });

  test('without a listen address both families share the port; IPv6 loopback works', async () => {
    const a = conn();
    const c = collector();
    a.attach(c.sink);
    const port = await a.bind(0);
    const s6 = dgram.createSocket('udp6');
    await new Promise<void>((r) => s6.bind(0, '::1', () => r()));
    s6.send('over v6', port, '::1');
    await until(() => c.got.length === 1);
    expect(c.got[0].from.address).toBe('::1');
    expect(a.send(Buffer.from('back'), c.got[0].from)).toBe(true);
    const reply = await new Promise<Buffer>((r) => s6.once('message', (m) => r(m)));
    expect(reply.toString()).toBe('back');
    s6.close();
  });

  test('a taken port is EADDRINUSE and leaves the old sockets bound', async () => {
    const a = conn('127.0.0.1');
    const port = await a.bind(0);
    const b = conn('127.0.0.1');
    const bPort = await b.bind(0);
    await expect(b.bind(port)).rejects.toMatchObject({ errno: 98 });
    // b still owns its first port.
    const c = collector();
    b.attach(c.sink);
    a.send(Buffer.from('x'), { address: '127.0.0.1', port: bPort });
    await until(() => c.got.length === 1);
  });

  test('a send with no socket of that family, or to a malformed address, is refused, not thrown', async () => {
    const a = conn('127.0.0.1');
    await a.bind(0);
    expect(a.send(Buffer.from('x'), { address: '::1', port: 9 })).toBe(false);
    expect(a.send(Buffer.from('x'), { address: 'not an address', port: 9 })).toBe(false);
    expect(a.send(Buffer.from('x'), { address: '127.0.0.1', port: 70000 })).toBe(false);
    a.close();
    expect(a.send(Buffer.from('x'), { address: '127.0.0.1', port: 9 })).toBe(false);
  });
});
