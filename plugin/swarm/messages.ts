// What the plugins of a swarm's nodes tell each other about a network's endpoints, and how it
// is authenticated. Pure: no sockets, no state.
//
// An announcement is one node's whole list of endpoints on one network (public key, UDP port,
// container addresses; never a private key), with an increasing sequence number. On the wire it
// is one line of JSON, {"body": "<the announcement as JSON text>", "mac": "<hex>"}, where mac is
// HMAC-SHA256 over the body text with a key derived (HKDF-SHA256) from the network's secret. The
// secret is made by AllocateNetwork on a manager and reaches each node with CreateNetwork, so
// only nodes the swarm put on the network can announce on it (see README, "Trust model").
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import { RemoteEndpointSchema } from '../state/types';

/** The network option that carries the secret from the manager to every node. */
export const SECRET_OPTION = 'wgmpls.secret';

/** Longest line accepted: an announcement of a few thousand endpoints. */
export const MAX_LINE = 1 << 20;

export class ExchangeError extends Error {}

export const AnnouncementSchema = z.object({
  v: z.literal(1),
  network: z.string().regex(/^[0-9a-z]{12,64}$/, 'expected a network id'),
  /** The sender's swarm address; must be the address the message came from. */
  node: z.string().refine((a) => isIP(a) !== 0, 'expected an IP address'),
  seq: z.number().int().nonnegative(),
  endpoints: z.array(RemoteEndpointSchema).max(100_000),
  /** The other nodes the sender knows (so that nodes that never heard of each other meet). */
  nodes: z.array(z.string().refine((a) => isIP(a) !== 0, 'expected an IP address')).max(10_000).optional(),
  /** The sender wants the receiver's own list back on the same connection. */
  reply: z.boolean().optional(),
});
export type Announcement = z.infer<typeof AnnouncementSchema>;

/** 32 random bytes as hex: a new network's secret. */
export function newSecret(): string {
  return randomBytes(32).toString('hex');
}

/** The MAC key of a network's announcements (never the secret itself: it may get other uses). */
export function exchangeKey(secretHex: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secretHex, 'hex'), Buffer.alloc(0), 'wgmpls swarm endpoint exchange v1', 32));
}

function mac(key: Buffer, body: string): Buffer {
  return createHmac('sha256', key).update(body, 'utf8').digest();
}

/** One line (with its newline) carrying the announcement, authenticated with `key`. */
export function seal(a: Announcement, key: Buffer): string {
  const body = JSON.stringify(a);
  return JSON.stringify({ body, mac: mac(key, body).toString('hex') }) + '\n';
}

/**
 * The announcement in a line, once its MAC checks out under the key of the network it names
 * (`keyOf` returns undefined for a network this node does not have). Throws ExchangeError saying
 * what is wrong; nothing in an unauthenticated body is trusted beyond the network id.
 */
export function unseal(line: string, keyOf: (networkId: string) => Buffer | undefined): Announcement {
  let outer: unknown;
  try {
    outer = JSON.parse(line);
  } catch {
    throw new ExchangeError('not JSON');
  }
  const o = z.object({ body: z.string(), mac: z.string().regex(/^[0-9a-f]{64}$/) }).safeParse(outer);
  if (!o.success) throw new ExchangeError('expected {"body", "mac"}');
  let inner: unknown;
  try {
    inner = JSON.parse(o.data.body);
  } catch {
    throw new ExchangeError('body is not JSON');
  }
  const network = typeof inner === 'object' && inner !== null ? (inner as { network?: unknown }).network : undefined;
  if (typeof network !== 'string') throw new ExchangeError('body names no network');
  const key = keyOf(network);
  if (!key) throw new ExchangeError(`unknown network ${network.slice(0, 12)}`);
  if (!timingSafeEqual(mac(key, o.data.body), Buffer.from(o.data.mac, 'hex'))) throw new ExchangeError('bad MAC (not sent by a node of this network)');
  const a = AnnouncementSchema.safeParse(inner);
  if (!a.success) {
    const issue = a.error.issues[0];
    throw new ExchangeError(`bad announcement at ${issue.path.join('.') || '(body)'}: ${issue.message}`);
  }
  return a.data;
}

/** "::ffff:10.0.0.1" (an IPv4 peer on a dual-stack socket) as "10.0.0.1". */
export function plainAddress(a: string): string {
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a.toLowerCase();
}
