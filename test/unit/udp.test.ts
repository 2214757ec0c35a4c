// The UDP underlay on the addon's sockets, over loopback (no root needed): binding, both
// families on one port, what a refused send and a taken port look like, and what arrives; the
// sticky source (all of 127.0.0.0/8 is local, so 127.0.0.2 is a second address without root).
import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { UdpConn, type UdpSink } from '../../datapath/conn/udp';
import type { Endpoint } from '../../datapath/device/config';

function collector(): { got: { msg: Buffer; from: Endpoint }[]; sink: UdpSink } {
  const got: { msg: Buffer; from: Endpoint }[] = [];
  return {
    got,
    sink: {
      handleUdpBatch: (arena, desc, count, endpoints) => {
        // Copies: the arena is overwritten by the next round.
        for (let i = 0; i < count; i++) got.push({ msg: Buffer.from(arena.subarray(desc[3 * i], desc[3 * i] + desc[3 * i + 1])), from: endpoints[desc[3 * i + 2]] });
      },
    },
  };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A documentation address that is none of this host's (these tests run in its namespace). */
function notOurs(candidates: string[]): string {
  const ours = new Set(Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address)));
  const free = candidates.find((c) => !ours.has(c));
  if (free === undefined) throw new Error(`every one of ${candidates.join(', ')} is a local address`);
  return free;
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

  /** Two bound sockets (listen addresses as given), each with what it received. */
  const boundPair = async (addrA?: string, addrB?: string) => {
    const a = conn(addrA);
    const b = conn(addrB);
    const ca = collector();
    const cb = collector();
    a.attach(ca.sink);
    b.attach(cb.sink);
    return { a, b, ca, cb, pa: await a.bind(0), pb: await b.bind(0) };
  };

  test('datagrams both ways over IPv4 loopback, with the sender as endpoint; many in a burst arrive whole and in order', async () => {
    const { a, b, ca, cb, pa, pb } = await boundPair('127.0.0.1', '127.0.0.1');
    expect(a.send(Buffer.from('hello'), { address: '127.0.0.1', port: pb })).toBe(true);
    await until(() => cb.got.length === 1);
    expect(cb.got[0].msg.toString()).toBe('hello');
    // With where it arrived: the local address it was sent to, on lo (ifindex 1 in any namespace).
    expect(cb.got[0].from).toEqual({ address: '127.0.0.1', port: pa, localAddress: '127.0.0.1', localIfindex: 1 });
    // More than one recvmmsg batch (16) and of several sizes, one at 9000 bytes.
    for (let i = 0; i < 100; i++) b.send(Buffer.alloc(i === 50 ? 9000 : 1 + i, i), { address: '127.0.0.1', port: pa });
    await until(() => ca.got.length === 100);
    ca.got.forEach((g, i) => expect(g.msg).toEqual(Buffer.alloc(i === 50 ? 9000 : 1 + i, i)));
  });

  test('a batch goes out as GSO runs and arrives cut back into the same datagrams, in order (IPv4 and IPv6)', async () => {
    for (const addr of ['127.0.0.1', '::1']) {
      const { a, cb, pb } = await boundPair(addr, addr);
      // Runs of equal sizes with a shorter last (one GSO send each), a lone odd size, more than
      // 64 of one size (two sends), and a last run that ends the batch.
      const sizes = [...Array(10).fill(1448), 700, 333, ...Array(70).fill(1200), 1199, ...Array(5).fill(64)];
      const msgs = sizes.map((n, i) => Buffer.alloc(n, i + 1));
      const buf = Buffer.concat(msgs);
      const lens = Uint32Array.from(sizes);
      expect(a.sendBatch(buf, lens, sizes.length, { address: addr, port: pb })).toBe(sizes.length);
      await until(() => cb.got.length === sizes.length);
      cb.got.forEach((g, i) => expect(g.msg).toEqual(msgs[i]));
      a.close();
    }
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

  test('rounds from one source, then another, then the first again: each datagram with its own sender', async () => {
    const { cb, pb } = await boundPair(undefined, '127.0.0.1');
    const x = conn('127.0.0.1');
    const y = conn('127.0.0.2');
    const px = await x.bind(0);
    const py = await y.bind(0);
    // One datagram at a time, so that each is a round of its own: the addon then hands JS the
    // list it kept from the round before whenever the source is unchanged.
    const order: [UdpConn, number][] = [[x, px], [x, px], [x, px], [y, py], [y, py], [x, px], [y, py], [x, px]];
    for (const [i, [from]] of order.entries()) {
      from.send(Buffer.from(`m${i}`), { address: '127.0.0.1', port: pb });
      await until(() => cb.got.length === i + 1);
    }
    expect(cb.got.map((g) => [g.msg.toString(), g.from.address, g.from.port])).toEqual(
      order.map(([from, port], i) => [`m${i}`, from === x ? '127.0.0.1' : '127.0.0.2', port]),
    );
    for (const g of cb.got) expect(g.from).toMatchObject({ localAddress: '127.0.0.1', localIfindex: 1 });
  });

  test('an endpoint a send changed (its sticky source forgotten) is not handed out again as received', async () => {
    const { a, cb, pa, pb } = await boundPair('127.0.0.1', '127.0.0.1');
    a.send(Buffer.from('one'), { address: '127.0.0.1', port: pb });
    await until(() => cb.got.length === 1);
    const first = cb.got[0].from;
    // What UdpConn.send does to an endpoint whose local source went away.
    first.localAddress = undefined;
    first.localIfindex = undefined;
    a.send(Buffer.from('two'), { address: '127.0.0.1', port: pb });
    await until(() => cb.got.length === 2);
    expect(cb.got[1].from).toEqual({ address: '127.0.0.1', port: pa, localAddress: '127.0.0.1', localIfindex: 1 });
  });

  test('a reply to a received endpoint leaves from the address the datagram was sent to, not the kernel\'s choice', async () => {
    const { a, b, ca, cb, pa, pb } = await boundPair('127.0.0.1');
    a.send(Buffer.from('to .2'), { address: '127.0.0.2', port: pb });
    await until(() => cb.got.length === 1);
    const from = cb.got[0].from;
    expect(from).toEqual({ address: '127.0.0.1', port: pa, localAddress: '127.0.0.2', localIfindex: 1 });
    expect(b.send(Buffer.from('sticky'), from)).toBe(true);
    // Without a source the kernel picks 127.0.0.1 for this route: the control.
    expect(b.send(Buffer.from('kernel'), { address: '127.0.0.1', port: pa })).toBe(true);
    await until(() => ca.got.length === 2);
    expect(ca.got.map((g) => [g.msg.toString(), g.from.address])).toEqual([
      ['sticky', '127.0.0.2'],
      ['kernel', '127.0.0.1'],
    ]);
  });

  test.each([
    ['IPv4', '127.0.0.1', notOurs(['192.0.2.254', '198.51.100.254', '203.0.113.254'])],
    ['IPv6', '::1', notOurs(['2001:db8::fe', '2001:db8:1::fe', '2001:db8:2::fe'])],
  ])('%s: a sticky source that is not (or no longer) ours is forgotten and the datagram goes from the kernel\'s choice', async (_f, loop, gone) => {
    const a = conn();
    const b = conn();
    const cb = collector();
    b.attach(cb.sink);
    let forgotten = 0;
    a.attach(collector().sink, () => forgotten++);
    await a.bind(0);
    const pb = await b.bind(0);
    const to: Endpoint = { address: loop, port: pb, localAddress: gone, localIfindex: 1 };
    expect(a.send(Buffer.from('still arrives'), to)).toBe(true);
    expect(to).toEqual({ address: loop, port: pb, localAddress: undefined, localIfindex: undefined });
    expect(forgotten).toBe(1);
    await until(() => cb.got.length === 1);
    expect(cb.got[0].from.address).toBe(loop);
    expect(cb.got[0].from.localAddress).toBe(loop);
    // Sent again: nothing more to forget.
    expect(a.send(Buffer.from('again'), to)).toBe(true);
    expect(forgotten).toBe(1);
  });

  test('a refusal that says nothing about the source (no socket of that family) keeps it', async () => {
    const a = conn('127.0.0.1');
    let forgotten = 0;
    a.attach(collector().sink, () => forgotten++);
    await a.bind(0);
    const to: Endpoint = { address: '::1', port: 9, localAddress: '::1', localIfindex: 1 };
    expect(a.send(Buffer.from('x'), to)).toBe(false);
    expect(to.localAddress).toBe('::1');
    expect(forgotten).toBe(0);
  });
});
