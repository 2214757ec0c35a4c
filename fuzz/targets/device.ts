// The device's input from the underlay (Device.handleUdpBatch, the live entry, which parses every message layout of
// noise/messages.ts) against arbitrary datagrams, without root: the in-process network of the
// device tests (test/unit/deviceHarness.ts). Device B has two peers, A (labels not
// authenticated, the kernel module's format) and C (wgmpls-label-auth), with live sessions both
// ways. Every genuine datagram B ever received (initiations, a response, data of types 4, 5
// and 6) is a template, delivered once before fuzzing, so that any input is either a replay or
// a forgery. Handshake messages get valid MACs half the time, as an attacker can make them:
// mac1 needs only B's public key, and mac2 the cookie B sends (under load) to the source
// address, which the fuzzer decrypts as a real sender would (CookieGenerator). So mutations
// reach the handshake's decryption, not only the MAC checks; sources come from a pool of 4096
// documentation addresses, so B's per-source rate limit lets some through.
//
// Properties, per input: handleUdpBatch never throws and returns at once; nothing reaches the TUN or
// the label switch; no peer, session, replay window, endpoint, counter of bytes or handshake
// state changes; no event is counted. What may change is what unauthenticated input is meant
// to change: drop counters, the handshake load estimate, and cookie replies (type 3, to the
// sender) when under load, and the per-source rate limit.
import fc from 'fast-check';
import type { Endpoint } from '../../datapath/device/config';
import type { Peer } from '../../datapath/device/peer';
import { CookieGenerator } from '../../datapath/noise/cookie';
import { MessageInitiationType, MessageResponseType, messageType } from '../../datapath/noise/messages';
import { A4, B4, Net, Node, link, mplsFrame, v4, v6 } from '../../test/unit/deviceHarness';
import { mutatedBytes, mutatedInPlace } from '../mutate';
import { FuzzTarget, expectThat } from '../target';

const C4 = '10.0.0.3';

interface Input {
  data: Buffer;
  src: Endpoint;
  fixMac1: boolean;
}

/** What the replay filter keeps (private fields, read here only to watch them stay put). */
interface ReplayInside {
  lastHi: number;
  lastLo: number;
  ring: Uint32Array;
}

/** Everything about B that only authenticated input may change. */
function fingerprint(b: Node): unknown[] {
  const out: unknown[] = [b.device.port, b.tun.length, b.mpls.length, b.device.peerList().length];
  for (const [k, v] of b.device.counters.events) out.push(k, v);
  for (const p of b.device.peerList()) out.push(...peerState(p));
  return out;
}

function peerState(p: Peer): unknown[] {
  const out: unknown[] = [
    p.endpoint?.address,
    p.endpoint?.port,
    p.endpoint?.localAddress,
    p.endpoint?.localIfindex,
    p.rxBytes,
    p.txBytes,
    p.lastHandshakeMs,
    p.initiation,
    p.initiation?.state,
    p.lastReceivedTimestamp ? Buffer.from(p.lastReceivedTimestamp).toString('hex') : null,
    p.lastInitiationConsumption,
    p.staged.length,
    p.handshakeAttempts,
    p.labelAuth,
  ];
  for (const kp of [p.keypairs.previous, p.keypairs.current, p.keypairs.next]) {
    out.push(kp, kp?.sendCounter);
    if (kp) {
      const r = kp.replay as unknown as ReplayInside;
      out.push(r.lastHi, r.lastLo, Buffer.from(r.ring.buffer, r.ring.byteOffset, r.ring.byteLength).toString('base64'));
    }
  }
  return out;
}

function sameState(a: unknown[], b: unknown[]): string | null {
  if (a.length !== b.length) return `state size ${a.length} -> ${b.length}`;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `state item ${i}: ${String(a[i])} -> ${String(b[i])}`;
  return null;
}

/** A, B, C with sessions both ways and every kind of datagram B accepts; returns what B received. */
async function world(): Promise<{ net: Net; b: Node; peers: Node[]; templates: Buffer[]; fresh: Buffer }> {
  const net = new Net();
  const a = await net.node('A', '192.0.2.1');
  const b = await net.node('B', '192.0.2.2', { mplsPeers: 'any' });
  const c = await net.node('C', '192.0.2.3');
  await link(a, { allowed: [`${B4}/32`, 'fd00::2/128', '0.0.0.0/32'] }, b, { allowed: [`${A4}/32`, 'fd00::1/128'] });
  await link(c, { allowed: [`${B4}/32`, '0.0.0.0/32'], labelAuth: true }, b, { allowed: [`${C4}/32`], labelAuth: true });
  const ip = v4(A4, B4, 'fuzz template');
  const traffic = (): void => {
    for (const [from, src] of [[a, A4], [c, C4]] as const) {
      from.device.sendIp(v4(src, B4, 'fuzz template'));
      from.device.sendMpls(mplsFrame([{ label: 100, bos: 1, ttl: 64 }], v4(src, B4, 'mpls')));
      from.device.sendMpls(mplsFrame([{ label: 200, bos: 0, ttl: 9 }, { label: 300, bos: 1, ttl: 8 }], ip), { multicast: true });
    }
    a.device.sendIp(v6('fd00::1', 'fd00::2', 'v6 template'));
    net.flush();
  };
  for (const from of [a, c]) from.device.sendKeepalive(from.peerOf(b)); // initiations, responses, keepalives
  net.flush();
  traffic();
  // B initiates too (once its sessions have expired, sending starts a handshake): B receives
  // responses. Then traffic on these live sessions, whose data B's replay windows have seen.
  net.advance(185_000, 5_000);
  b.device.sendIp(v4(B4, A4, 'rekey'));
  b.device.sendIp(v4(B4, C4, 'rekey'));
  net.flush();
  traffic();
  const templates = net.log.filter((d) => d.to.address === b.endpoint.address && d.to.port === b.endpoint.port).map((d) => Buffer.from(d.data));
  const kinds = new Set(templates.map((t) => t[0]));
  for (const t of [1, 2, 4, 5, 6]) if (!kinds.has(t)) throw new Error(`device fuzz world: no template of type ${t}`);
  if (b.tun.length === 0 || b.mpls.length === 0) throw new Error('device fuzz world: B received no IP or no MPLS');
  // One more genuine datagram, kept back: B would accept it (the property's own check).
  a.device.sendIp(v4(A4, B4, 'never delivered'));
  const fresh = net.take();
  if (fresh.length !== 1) throw new Error('device fuzz world: A sent no fresh datagram');
  return { net, b, peers: [a, c], templates, fresh: fresh[0].data };
}

export async function deviceTarget(): Promise<FuzzTarget<Input>> {
  const { net, b, peers, templates, fresh } = await world();
  const pool = (n: number): Endpoint => (n % 2 === 0 ? { address: `198.51.100.${n % 256}`, port: 1024 + (n >> 8) } : { address: `2001:db8::${n.toString(16)}`, port: 51820 });
  const src = fc.oneof(fc.constantFrom(...peers.map((p) => p.endpoint)), fc.nat({ max: 4095 }).map(pool)).map((e) => ({ address: e.address, port: e.port }));
  const handshakes = templates.filter((t) => t[0] === MessageInitiationType || t[0] === MessageResponseType);
  const data = fc.oneof({ weight: 4, arbitrary: mutatedBytes(templates, 200) }, { weight: 1, arbitrary: mutatedInPlace(handshakes) });
  const arbitrary = fc.record({ data, src, fixMac1: fc.boolean() });
  // What a sender at each source knows: B's public key, and the cookie B last gave it.
  const senders = new Map<string, CookieGenerator>();
  const senderAt = (e: Endpoint): CookieGenerator => {
    const k = `${e.address}|${e.port}`;
    let g = senders.get(k);
    if (!g) senders.set(k, (g = new CookieGenerator(b.publicKey)));
    return g;
  };
  const frozen = fingerprint(b);
  const drops = b.device.counters.drops;
  const before = new Map(drops);
  let cookieReplies = 0;
  const desc = new Uint32Array([0, 0, 0]);

  function check(input: Input): void {
    const msg = input.data;
    const type = messageType(msg); // 0 unless well-formed (reserved bytes zero, exact size)
    const handshake = type === MessageInitiationType || type === MessageResponseType;
    if (input.fixMac1 && handshake) senderAt(input.src).addMacs(msg, net.clock.now());
    const dropped = b.device.counters.totalDrops();
    // As the UDP reader hands it over: a round of one datagram in an arena.
    desc[1] = msg.length;
    b.device.handleUdpBatch(msg, desc, 1, [input.src]);
    const changed = sameState(frozen, fingerprint(b));
    expectThat(changed === null, `unauthenticated input changed B: ${changed}`);
    const sent = net.take();
    for (const d of sent) {
      // Under load B may answer a handshake message with a cookie reply: to its sender only.
      expectThat(d.data[0] === 3 && d.data.length === 64 && d.to.address === input.src.address && d.to.port === input.src.port, `B sent a type-${d.data[0]} datagram of ${d.data.length} bytes to ${d.to.address}`);
    }
    cookieReplies += sent.length;
    if (input.fixMac1 && handshake) for (const d of sent) senderAt(input.src).consumeReply(d.data, net.clock.now());
    // Every input is accounted for: dropped by reason, or (under load) answered with a cookie.
    expectThat(b.device.counters.totalDrops() === dropped + 1 || (sent.length === 1 && b.device.counters.totalDrops() === dropped), 'a datagram was not dropped exactly once (nor answered with a cookie)');
  }

  return {
    arbitrary,
    check,
    async: false,
    mustBreak: [{ data: fresh, src: { ...peers[0].endpoint }, fixMac1: false }],
    summary(): string {
      const reasons = [...drops].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const).filter(([, v]) => v > 0);
      reasons.sort((x, y) => y[1] - x[1]);
      return `B's drops by reason: ${reasons.map(([k, v]) => `${k} ${v}`).join(', ')}; cookie replies ${cookieReplies}`;
    },
  };
}
