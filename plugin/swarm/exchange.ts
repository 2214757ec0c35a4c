// The endpoint exchange between the plugins of a swarm (swarm scope only; README, "Across a
// swarm"). Each plugin listens on TCP WGMPLS_EXCHANGE_PORT (default 7950) at its node's swarm
// address. Whenever the list of this node's endpoints on a swarm network changes (and every
// REANNOUNCE_MS, and to a node that dockerd reports new), it sends the list to every node it
// knows, asking for theirs back on the same connection (messages.ts: authenticated with the
// network's secret). What it receives is written to the state (atomically, like everything else)
// and the mesh of that network is brought up to date: peers survive a plugin or dockerd restart.
// A node that dockerd reports gone (DiscoverDelete: it left the swarm) loses its peers here.
//
// Nothing here runs inside a driver request, and no driver request waits on the network: a
// change is announced after its request returned.
import { Server, Socket, connect, createServer } from 'node:net';
import type { Log } from '../../datapath/log';
import type { Supervisor } from '../datapaths/supervisor';
import { swarmNodes } from '../docker/swarmNodes';
import type { Mutex } from '../lock';
import type { StateStore } from '../state/store';
import { NetworkState, RemoteEndpoint, remoteKey } from '../state/types';
import { Announcement, ExchangeError, MAX_LINE, exchangeKey, plainAddress, seal, unseal } from './messages';

export const DEFAULT_EXCHANGE_PORT = 7950;
/** Announcements are repeated this often: a node that missed one (it was restarting) catches up. */
const REANNOUNCE_MS = 15_000;
/** A peer that does not answer within this is tried again at the next round. */
const CONNECT_TIMEOUT_MS = 3000;
/** Changes made within this are announced together. */
const DEBOUNCE_MS = 20;

const short = (id: string): string => id.slice(0, 12);

/** What this node announces for a network: its endpoints, public parts only. */
export function localList(store: StateStore, networkId: string): RemoteEndpoint[] {
  return store.endpointsOf(networkId).map((e) => {
    const r: RemoteEndpoint = { id: e.id, publicKey: e.publicKey, port: e.port };
    if (e.address) r.address = e.address;
    if (e.addressIPv6) r.addressIPv6 = e.addressIPv6;
    return r;
  });
}

export function isSwarmNetwork(n: NetworkState): n is NetworkState & { secret: string } {
  return n.secret !== undefined;
}

/** Reads one line (up to MAX_LINE) from a socket; rejects on close, error or timeout. */
function readLine(sock: Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => done(new Error('timed out')), timeoutMs);
    const done = (err: Error | null, line?: string): void => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('error', onError);
      sock.off('end', onEnd);
      if (err) reject(err);
      else resolve(line ?? '');
    };
    const onData = (d: Buffer): void => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(null, buf.slice(0, nl));
      else if (buf.length > MAX_LINE) done(new Error('line too long'));
    };
    const onError = (e: Error): void => done(e);
    const onEnd = (): void => done(new Error('closed before a full line'));
    sock.on('data', onData);
    sock.on('error', onError);
    sock.on('end', onEnd);
  });
}

export interface ExchangeOptions {
  port?: number;
  /** Overrides the address learnt from DiscoverNew (WGMPLS_UNDERLAY). */
  self?: string;
  /** Where other nodes are learnt besides DiscoverNew and announcements (default: dockerd). */
  lookup?: () => Promise<{ self: string | null; nodes: string[]; manager: boolean } | null>;
}

export class SwarmExchange {
  private server: Server | null = null;
  private listening: string | null = null;
  private readonly port: number;
  private readonly fixedSelf: string | undefined;
  private timer: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private readonly announced = new Map<string, string>();
  private stopped = true;

  constructor(
    private readonly store: StateStore,
    private readonly mutex: Mutex,
    private readonly supervisor: Supervisor,
    private readonly log: Log,
    opts: ExchangeOptions = {},
  ) {
    this.port = opts.port ?? DEFAULT_EXCHANGE_PORT;
    this.fixedSelf = opts.self;
    this.lookup = opts.lookup ?? (() => swarmNodes());
  }

  private readonly lookup: () => Promise<{ self: string | null; nodes: string[]; manager: boolean } | null>;

  /** Adds nodes this plugin had not heard of (from dockerd, or named in an announcement). */
  private learn(nodes: readonly string[]): string[] {
    const self = this.self();
    const known = new Set([...this.store.swarm().nodes, ...this.store.swarm().left]);
    const fresh = [...new Set(nodes.map(plainAddress))].filter((n) => n !== self && !known.has(n));
    if (fresh.length > 0) {
      this.store.patchSwarm((s) => void s.nodes.push(...fresh));
      this.log.info({ nodes: fresh }, 'swarm nodes learnt');
    }
    return fresh;
  }

  /** Asks dockerd (in the background) which nodes the swarm has. */
  private async refreshNodes(): Promise<void> {
    const found = await this.lookup().catch(() => null);
    if (!found || this.stopped) return;
    if (found.self && !this.fixedSelf && !this.store.swarm().self) {
      this.store.patchSwarm((s) => void (s.self = found.self ?? undefined));
      await this.listen();
    }
    // A manager lists only ready nodes: one that left and is back (joined again) is let in again.
    const back = found.manager ? this.store.swarm().left.filter((n) => found.nodes.includes(n)) : [];
    if (back.length > 0) {
      this.store.patchSwarm((s) => void (s.left = s.left.filter((n) => !back.includes(n))));
      this.log.info({ nodes: back }, 'swarm nodes back');
    }
    this.learn(found.nodes);
  }

  /** This node's swarm address (underlay of its swarm networks), if known. */
  self(): string | undefined {
    return this.fixedSelf ?? this.store.swarm().self;
  }

  /** Listens (once this node's address is known) and announces what it has to the nodes it knows. */
  start(): void {
    this.stopped = false;
    this.store.onCommit = () => this.changed();
    void this.listen();
    this.timer = setInterval(() => void this.announceAll(true), REANNOUNCE_MS);
    this.timer.unref();
    // After a restart dockerd tells us only about ourselves: the others are in the state.
    void this.announceAll(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.store.onCommit = null;
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    const s = this.server;
    this.server = null;
    this.listening = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** DiscoverNew: this node's address (Self), or another node to exchange with. */
  async discoverNew(address: string, self: boolean): Promise<void> {
    const a = plainAddress(address);
    if (self) {
      if (this.store.swarm().self !== a) this.store.patchSwarm((s) => void (s.self = a));
      this.log.info({ address: a }, 'this node\'s swarm address');
      await this.listen();
      return;
    }
    if (a === this.self()) return;
    const sw = this.store.swarm();
    if (!sw.nodes.includes(a) || sw.left.includes(a)) {
      this.store.patchSwarm((s) => {
        if (!s.nodes.includes(a)) s.nodes.push(a);
        s.left = s.left.filter((n) => n !== a);
      });
    }
    this.log.info({ node: a }, 'swarm node discovered');
    await this.announceAll(true, [a]);
  }

  /** DiscoverDelete: a node left; its endpoints stop being peers here. */
  async discoverDelete(address: string, self: boolean): Promise<void> {
    if (self) return;
    const a = plainAddress(address);
    const sets = Object.values(this.store.swarm().remotes).filter((r) => r.node === a);
    this.store.patchSwarm((s) => {
      s.nodes = s.nodes.filter((n) => n !== a);
      if (!s.left.includes(a)) s.left.push(a);
      for (const r of sets) delete s.remotes[remoteKey(r.networkId, r.node)];
    });
    this.log.info({ node: a, networks: sets.map((r) => short(r.networkId)) }, 'swarm node gone; its endpoints removed');
    for (const r of sets) await this.mutex.run(() => this.supervisor.syncNetwork(r.networkId));
  }

  private async listen(): Promise<void> {
    const addr = this.self();
    if (this.stopped || !addr || this.listening === addr) return;
    if (this.server) await new Promise<void>((resolve) => this.server?.close(() => resolve()));
    const server = createServer((sock) => void this.serve(sock));
    this.listening = addr;
    this.server = server;
    server.on('error', (err) => {
      this.log.error({ address: addr, port: this.port, err: err.message }, 'the endpoint exchange cannot listen; retrying in 2 s');
      this.listening = null;
      setTimeout(() => void this.listen(), 2000).unref();
    });
    server.listen(this.port, addr, () => this.log.info({ address: addr, port: this.port }, 'endpoint exchange listening'));
  }

  /** After a state change: the networks whose local list changed are announced. */
  private changed(): void {
    if (this.stopped || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.announceAll(false);
    }, DEBOUNCE_MS);
  }

  /**
   * Sends this node's list of every swarm network (only those that changed since the last
   * time, unless `all`) to `nodes` (default: all known), each asking for the other's list back.
   */
  private async announceAll(all: boolean, nodes?: string[]): Promise<void> {
    if (this.stopped) return;
    if (all || this.store.swarm().nodes.length === 0) await this.refreshNodes();
    const self = this.self();
    if (!self) return;
    const targets = (nodes ?? this.store.swarm().nodes).filter((n) => n !== self);
    const jobs: Promise<void>[] = [];
    for (const n of this.store.networks().filter(isSwarmNetwork)) {
      const endpoints = localList(this.store, n.id);
      const print = JSON.stringify(endpoints);
      if (!all && this.announced.get(n.id) === print) continue;
      this.announced.set(n.id, print);
      if (targets.length === 0) continue;
      const seq = this.nextSeq();
      const line = seal({ v: 1, network: n.id, node: self, seq, endpoints, nodes: this.store.swarm().nodes, reply: true }, exchangeKey(n.secret));
      for (const t of targets) jobs.push(this.send(t, n.id, line));
    }
    for (const id of [...this.announced.keys()]) if (!this.store.network(id)) this.announced.delete(id);
    await Promise.all(jobs);
  }

  private nextSeq(): number {
    const seq = Math.max(this.store.swarm().seq + 1, Date.now());
    this.store.patchSwarm((s) => void (s.seq = seq));
    return seq;
  }

  /** One announcement to one node, and its answer taken in. */
  private async send(node: string, networkId: string, line: string): Promise<void> {
    // From this node's own address: the receiver checks that the sender is who it says it is.
    const self = this.self();
    const sock = connect({ host: node, port: this.port, ...(self ? { localAddress: self } : {}) });
    sock.setTimeout(CONNECT_TIMEOUT_MS, () => sock.destroy(new Error('timed out')));
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', reject);
      });
      sock.write(line);
      const answer = await readLine(sock, CONNECT_TIMEOUT_MS);
      if (answer.startsWith('{"err"')) {
        // The node has not got the network yet (dockerd creates it there lazily): it will ask.
        this.log.debug({ node, network: short(networkId), answer }, 'announcement not taken');
        return;
      }
      const a = unseal(answer, (id) => this.keyOf(id));
      if (a.node !== node || a.network !== networkId) throw new ExchangeError(`answer from ${node} claims to be ${a.node} about ${short(a.network)}`);
      await this.take(a);
    } catch (err) {
      this.log.debug({ node, network: short(networkId), err: (err as Error).message }, 'announcement failed; retried later');
    } finally {
      sock.destroy();
    }
  }

  private keyOf(networkId: string): Buffer | undefined {
    const n = this.store.network(networkId);
    return n && isSwarmNetwork(n) ? exchangeKey(n.secret) : undefined;
  }

  /** An incoming announcement: checked, taken in, and answered with this node's own list. */
  private async serve(sock: Socket): Promise<void> {
    const from = plainAddress(sock.remoteAddress ?? '');
    sock.setTimeout(CONNECT_TIMEOUT_MS, () => sock.destroy());
    try {
      const line = await readLine(sock, CONNECT_TIMEOUT_MS);
      let a: Announcement;
      try {
        a = unseal(line, (id) => this.keyOf(id));
        if (a.node !== from) throw new ExchangeError(`sent from ${from} but claims to be node ${a.node}`);
      } catch (err) {
        if (!(err instanceof ExchangeError)) throw err;
        // A network dockerd has not created here yet is normal (it does so with the first container).
        if (err.message.startsWith('unknown network')) this.log.debug({ from, err: err.message }, 'announcement for a network not on this node');
        else this.log.warn({ from, err: err.message }, 'announcement refused');
        sock.end(JSON.stringify({ err: err.message }) + '\n');
        return;
      }
      if (this.store.swarm().left.includes(from)) {
        this.log.warn({ from }, 'announcement from a node that left the swarm refused');
        sock.end(JSON.stringify({ err: 'this node left the swarm (DiscoverDelete); not taken until dockerd reports it back' }) + '\n');
        return;
      }
      if (!this.store.swarm().nodes.includes(from)) this.store.patchSwarm((s) => void s.nodes.push(from));
      await this.take(a);
      const self = this.self();
      const n = this.store.network(a.network);
      if (a.reply && self && n && isSwarmNetwork(n)) {
        const own = seal({ v: 1, network: n.id, node: self, seq: this.nextSeq(), endpoints: localList(this.store, n.id), nodes: this.store.swarm().nodes }, exchangeKey(n.secret));
        sock.end(own);
      } else {
        sock.end();
      }
    } catch (err) {
      this.log.debug({ from, err: (err as Error).message }, 'exchange connection failed');
      sock.destroy();
    }
  }

  /** Records a node's list (unless older than one already taken) and updates the mesh. */
  private async take(a: Announcement): Promise<void> {
    // Nodes of the network the sender knows and this one did not: they get this node's list too.
    const fresh = this.store.network(a.network) ? this.learn(a.nodes ?? []) : [];
    if (fresh.length > 0) setTimeout(() => void this.announceAll(true, fresh), 0).unref();
    await this.mutex.run(async () => {
      if (!this.store.network(a.network)) return;
      const key = remoteKey(a.network, a.node);
      const sw = this.store.swarm();
      if (sw.left.includes(a.node)) return;
      if ((sw.seen[key] ?? -1) >= a.seq) {
        this.log.debug({ node: a.node, network: short(a.network), seq: a.seq }, 'old announcement ignored');
        return;
      }
      const before = JSON.stringify(sw.remotes[key]?.endpoints ?? null);
      const known = a.node !== this.self() && sw.nodes.includes(a.node);
      this.store.patchSwarm((s) => {
        s.seen[key] = a.seq;
        s.remotes[key] = { networkId: a.network, node: a.node, seq: a.seq, endpoints: a.endpoints, receivedAt: new Date().toISOString() };
        if (!known && !s.nodes.includes(a.node)) s.nodes.push(a.node);
      });
      if (before === JSON.stringify(a.endpoints)) return;
      this.log.info({ node: a.node, network: short(a.network), endpoints: a.endpoints.map((e) => short(e.id)) }, 'remote endpoints updated');
      this.warnDuplicates(a.network);
      await this.supervisor.syncNetwork(a.network);
    });
  }

  /** Two endpoints with one address cannot both be reached: say so (swarm's IPAM should not do it). */
  private warnDuplicates(networkId: string): void {
    const seen = new Map<string, string>();
    const all = [...localList(this.store, networkId).map((e) => ({ node: this.self() ?? 'this node', e })), ...this.store.remotesOf(networkId).map((r) => ({ node: r.node, e: r.endpoint }))];
    for (const { node, e } of all) {
      for (const addr of [e.address, e.addressIPv6]) {
        if (!addr) continue;
        const ip = addr.split('/')[0];
        const other = seen.get(ip);
        if (other) this.log.warn({ network: short(networkId), address: ip, endpoints: [other, `${short(e.id)}@${node}`] }, 'two endpoints of the network have the same address');
        else seen.set(ip, `${short(e.id)}@${node}`);
      }
    }
  }
}
