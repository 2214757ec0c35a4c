// `wgmpls datapath` against the reference WireGuard, the Linux kernel's: two namespaces on a
// veth pair, the kernel's wireguard interface in one, a wgmpls datapath in the other, both
// configured with `wg`. Types 1-4 only (the kernel module does not know 5/6): handshakes from
// each side over an IPv4 and an IPv6 underlay, IPv4 and IPv6 inside, a rekey, and 20 MB over
// TCP with a checksum. Addresses exist only in the namespaces made here.
import { Netns, Tunnel, genKeys, keyFile, link, startTunnel, waitFor, wgDump } from '../../net/harness';
import { expectThat, scenario } from './report';

const START_MS = 120_000;
/** The wgmpls side initiates a new handshake 8 s into a session it initiated (default 120 s). */
const REKEY_MS = 8000;

interface Pair {
  k: Netns;
  u: Netns;
  tun: Tunnel;
  kPub: string;
  uPub: string;
  kPriv: string;
  uPriv: string;
}

async function ping(ns: Netns, to: string, count = 3): Promise<string> {
  const r = await ns.exec('ping', [...(to.includes(':') ? ['-6'] : []), '-c', String(count), '-i', '0.3', '-W', '5', to], { timeoutMs: 90_000 });
  if (r.code !== 0) throw new Error(`ping ${to} from ${ns.name} failed: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The kernel side's only peer, as `wg show dump` prints it. */
async function kernelPeer(p: Pair): Promise<{ endpoint: string; latestHandshake: number }> {
  const d = await wgDump(p.k, 'wgk');
  return d.peers[0];
}

async function setUp(): Promise<Pair> {
  const k = await Netns.create('wgk');
  const u = await Netns.create('wgu');
  await link(k, ['10.201.0.1/24', 'fd01:201::1/64'], u, ['10.201.0.2/24', 'fd01:201::2/64']);
  const [kk, uk] = [await genKeys(), await genKeys()];
  await k.ip('link', 'add', 'wgk', 'type', 'wireguard');
  await k.must('wg', ['set', 'wgk', 'private-key', keyFile(kk.priv), 'listen-port', '51820']);
  const tun = await startTunnel(u, 'wgmpls', 'wgu', {}, START_MS, ['--test-timing', JSON.stringify({ rekeyAfterTime: REKEY_MS })]);
  await u.must('wg', ['set', 'wgu', 'private-key', keyFile(uk.priv), 'listen-port', '51821']);
  for (const [ns, dev, addrs] of [
    [k, 'wgk', ['10.1.0.1/24', 'fd01::1/64']],
    [u, 'wgu', ['10.1.0.2/24', 'fd01::2/64']],
  ] as const) {
    for (const a of addrs) await ns.ip('addr', 'add', a, 'dev', dev, ...(a.includes(':') ? ['nodad'] : []));
    await ns.ip('link', 'set', dev, 'up');
  }
  return { k, u, tun, kPub: kk.pub, uPub: uk.pub, kPriv: kk.priv, uPriv: uk.priv };
}

/** Fresh peers on both sides (no session left), with an endpoint only on the initiator's. */
async function peers(p: Pair, initiator: 'kernel' | 'wgmpls', underlay: 4 | 6): Promise<void> {
  const kEnd = underlay === 4 ? '10.201.0.1:51820' : '[fd01:201::1]:51820';
  const uEnd = underlay === 4 ? '10.201.0.2:51821' : '[fd01:201::2]:51821';
  await p.k.must('wg', ['set', 'wgk', 'peer', p.uPub, 'remove']);
  await p.u.must('wg', ['set', 'wgu', 'peer', p.kPub, 'remove']);
  await p.k.must('wg', ['set', 'wgk', 'peer', p.uPub, 'allowed-ips', '10.1.0.2/32,fd01::2/128', ...(initiator === 'kernel' ? ['endpoint', uEnd] : [])]);
  await p.u.must('wg', ['set', 'wgu', 'peer', p.kPub, 'allowed-ips', '10.1.0.1/32,fd01::1/128', ...(initiator === 'wgmpls' ? ['endpoint', kEnd] : [])]);
}

/** 20 MB of random bytes over TCP from `from` to `to` (node on both ends); both sides' SHA-256. */
async function transfer(from: Netns, to: Netns, addr: string): Promise<{ sent: string; got: string }> {
  const server = to.spawn('node', [
    '-e',
    `const h=require('crypto').createHash('sha256');let n=0;const s=require('net').createServer(c=>{c.on('data',d=>{h.update(d);n+=d.length});c.on('end',()=>{console.log(n+' '+h.digest('hex'));s.close()})}).listen(5001,'${addr}',()=>console.log('listening'))`,
  ]);
  let out = '';
  server.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitFor('the receiver listening', () => out.includes('listening'), 60_000);
    const client = await from.exec(
      'node',
      ['-e', `const b=require('crypto').randomBytes(20*1024*1024);const c=require('net').connect(5001,'${addr}',()=>c.end(b));c.on('close',()=>console.log(b.length+' '+require('crypto').createHash('sha256').update(b).digest('hex')))`],
      { timeoutMs: 180_000 },
    );
    if (client.code !== 0) throw new Error(`sender failed: ${client.stderr}`);
    await waitFor('the receiver done', () => out.trim().split('\n').length >= 2, 60_000);
    return { sent: client.stdout.trim(), got: out.trim().split('\n')[1] };
  } finally {
    server.kill('SIGKILL');
  }
}

export async function interopScenarios(): Promise<void> {
  let p: Pair | undefined;
  const pair = (): Pair => {
    if (!p) throw new Error('no pair (set-up failed)');
    return p;
  };
  await scenario('interop with kernel WireGuard: wgmpls initiates over IPv4; IPv4 and IPv6 inside', async () => {
    p = await setUp();
    await peers(p, 'wgmpls', 4);
    await ping(p.u, '10.1.0.1');
    await ping(p.u, 'fd01::1');
    await ping(p.k, '10.1.0.2');
    const peer = await kernelPeer(p);
    expectThat(peer.endpoint === '10.201.0.2:51821' && peer.latestHandshake > 0, "the kernel's peer endpoint learnt from wgmpls's handshake", peer);
  });

  await scenario('interop with kernel WireGuard: wgmpls rekeys its session and traffic goes on', async () => {
    const q = pair();
    const first = (await kernelPeer(q)).latestHandshake;
    // Pings for longer than the rekey time; the new handshake must not cost more than a ping.
    const out = await ping(q.u, '10.1.0.1', Math.ceil((REKEY_MS + 6000) / 300));
    const loss = /(\d+)% packet loss/.exec(out)?.[1];
    const again = (await kernelPeer(q)).latestHandshake;
    expectThat(again > first, `a newer handshake than ${first}`, again);
    expectThat(Number(loss) <= 5, 'at most 5% loss across the rekey', out);
  });

  await scenario('interop with kernel WireGuard: the kernel initiates over IPv6; IPv4 and IPv6 inside', async () => {
    const q = pair();
    await peers(q, 'kernel', 6);
    await ping(q.k, 'fd01::2');
    await ping(q.k, '10.1.0.2');
    await ping(q.u, 'fd01::1');
    const d = await wgDump(q.u, 'wgu');
    expectThat(d.peers[0]?.endpoint === '[fd01:201::1]:51820' && d.peers[0].latestHandshake > 0, "wgmpls's peer endpoint learnt from the kernel's handshake", d);
  });

  await scenario('interop with kernel WireGuard: 20 MB each way over TCP arrive with the same SHA-256', async () => {
    const q = pair();
    const up = await transfer(q.u, q.k, '10.1.0.1');
    expectThat(up.sent === up.got && up.sent.startsWith('20971520 '), `wgmpls -> kernel: ${up.sent}`, up.got);
    const down = await transfer(q.k, q.u, 'fd01::2');
    expectThat(down.sent === down.got && down.sent.startsWith('20971520 '), `kernel -> wgmpls: ${down.sent}`, down.got);
  });

  if (p) {
    await p.tun.stop();
    await p.k.destroy();
    await p.u.destroy();
  }
}
