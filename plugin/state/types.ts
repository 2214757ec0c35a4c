// The plugin's whole memory. Docker never replays CreateNetwork / CreateEndpoint after a driver
// restart, so everything needed to rebuild a datapath (keys, port, peers, where its TUN lives)
// must be in here. The schema doubles as the validator of state.json at start-up.
import { z } from 'zod';

export const MPLS_PEER_MODES = ['seed', 'any'] as const;
export type MplsPeerMode = (typeof MPLS_PEER_MODES)[number];

const hexKey = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits');

export const IpamDataSchema = z.object({
  pool: z.string(),
  gateway: z.string().optional(),
});
export type IpamData = z.infer<typeof IpamDataSchema>;

export const NetworkStateSchema = z.object({
  id: z.string(),
  mtu: z.number().int(),
  underlay: z.string(),
  mplsPeers: z.enum(MPLS_PEER_MODES),
  portBase: z.number().int().nullable(),
  /** Containers get a default route through this network's TUN (state written before it existed: off). */
  defaultRoute: z.boolean().default(false),
  /** Who switches the labels of its containers' routes (state written before it existed: auto). */
  lsr: z.enum(['auto', 'kernel', 'userspace']).default('auto'),
  /**
   * Authenticated labels between this network's endpoints (wgmpls-label-auth on every peer):
   * both ends are wgmpls, so on unless turned off (state written before it existed: on too).
   */
  labelAuth: z.boolean().default(true),
  ipv4: z.array(IpamDataSchema),
  ipv6: z.array(IpamDataSchema),
  createdAt: z.string(),
  /**
   * Swarm-scope networks only: the per-network secret AllocateNetwork made on a manager (it comes
   * with every node's CreateNetwork); the endpoint exchange between nodes is authenticated with a
   * key derived from it (plugin/swarm/messages.ts). Absent for a local network.
   */
  secret: hexKey.optional(),
  /** Swarm-scope networks: the IPv6 prefix its endpoints' addresses are made from (swarm/ipv6.ts). */
  ipv6Prefix: z.string().optional(),
});
export type NetworkState = z.infer<typeof NetworkStateSchema>;

export const DatapathRefSchema = z.object({
  pid: z.number().int().positive(),
  /** /proc/<pid>/stat start time: a pid alone may have been reused by an unrelated process. */
  startTime: z.string(),
});
export type DatapathRef = z.infer<typeof DatapathRefSchema>;

export const WorkerRefSchema = DatapathRefSchema.extend({
  /** Its control socket: one of its own, so that its successor need not wait for it to exit. */
  control: z.string().optional(),
});
export type WorkerRef = z.infer<typeof WorkerRefSchema>;

export const PendingTableSchema = z.object({
  table: z.string(),
  /** The interface name the routes were written for (Docker may name it differently now). */
  ifname: z.string().optional(),
});
export type PendingTable = z.infer<typeof PendingTableSchema>;

export const EndpointStateSchema = z.object({
  id: z.string(),
  networkId: z.string(),
  /** Name of the TUN as created in the host namespace, and of its UAPI socket (host-unique). */
  ifname: z.string(),
  privateKey: hexKey,
  publicKey: hexKey,
  port: z.number().int(),
  /** As IPAM gave them to CreateEndpoint, with prefix length: "10.66.0.2/24". */
  address: z.string().optional(),
  addressIPv6: z.string().optional(),
  /** From Join: the container's network namespace; cleared by Leave. */
  sandboxKey: z.string().optional(),
  /** The name Docker gave the TUN inside the container (wgm0, wgm1...), learnt after Join. */
  containerIfname: z.string().optional(),
  /**
   * The process that runs its datapath: the worker of slot `worker` (shared by the endpoints that
   * worker hosts), or, in state written by an older build, a process of its own.
   */
  datapath: DatapathRefSchema.optional(),
  /** The worker slot hosting its datapath, once placed (at Join); absent while it needs none. */
  worker: z.number().int().nonnegative().optional(),
  /** `--driver-opt wgmpls.routes=...` of this endpoint: checked at CreateEndpoint, applied with the label's. */
  routes: z.string().optional(),
  createdAt: z.string(),
  /** Docker's container behind the endpoint, learnt after Join from dockerd (never asked in Join). */
  containerId: z.string().optional(),
  /** Cookie of the container's network namespace: the name of its label table's directory. */
  nsid: z.string().optional(),
  /**
   * The container's label table as last seen (serialised LSR table). /run is gone after a reboot
   * and dead namespaces' tables are collected: this copy is what a restarted container gets back.
   */
  table: z.string().optional(),
  /** Routes of the container's previous life, to put into its new namespace once it is plumbed. */
  pendingTable: PendingTableSchema.optional(),
});
export type EndpointState = z.infer<typeof EndpointStateSchema>;

/**
 * What stays of an endpoint whose container still exists (stopped, or restarting with dockerd):
 * Docker gives the container a new endpoint id next time, and that endpoint takes this identity
 * over, so peers, `wg show` and `wgmpls show` see the same key. Dropped with the container.
 */
export const RetainedIdentitySchema = z.object({
  networkId: z.string(),
  containerId: z.string(),
  privateKey: hexKey,
  publicKey: hexKey,
  /** Reserved: no new endpoint is given it while the container may come back. */
  port: z.number().int(),
  /** The name its TUN had in the container, which its routes name. */
  containerIfname: z.string().optional(),
  table: z.string().optional(),
  retainedAt: z.string(),
});
export type RetainedIdentity = z.infer<typeof RetainedIdentitySchema>;

export function retainedKey(networkId: string, containerId: string): string {
  return `${networkId}/${containerId}`;
}

/** An endpoint on another node of the swarm, as that node's plugin announced it. */
export const RemoteEndpointSchema = z.object({
  id: z.string(),
  publicKey: hexKey,
  port: z.number().int().min(1).max(65535),
  address: z.string().optional(),
  addressIPv6: z.string().optional(),
});
export type RemoteEndpoint = z.infer<typeof RemoteEndpointSchema>;

/**
 * What one node said about one network: the whole list of its endpoints there (each announcement
 * replaces the previous one). Kept across restarts: after one, dockerd tells a plugin only about
 * its own node, and the others may not announce again until something changes.
 */
export const RemoteSetSchema = z.object({
  networkId: z.string(),
  /** The node's swarm address: where its plugin listens and its datapaths' underlay. */
  node: z.string(),
  /** The announcement's sequence number: older or replayed ones are refused. */
  seq: z.number().int().nonnegative(),
  endpoints: z.array(RemoteEndpointSchema),
  receivedAt: z.string(),
});
export type RemoteSet = z.infer<typeof RemoteSetSchema>;

export function remoteKey(networkId: string, node: string): string {
  return `${networkId}/${node}`;
}

/** What this plugin knows of the swarm's nodes (swarm scope only). */
export const SwarmStateSchema = z.object({
  /** This node's swarm address (DiscoverNew with Self), the underlay of its swarm networks. */
  self: z.string().optional(),
  /** Other nodes, by address, from DiscoverNew and from authenticated announcements. */
  nodes: z.array(z.string()).default([]),
  /** The last sequence number this node used (announcements carry increasing ones). */
  seq: z.number().int().nonnegative().default(0),
  /** Announcements received, by remoteKey(). */
  remotes: z.record(RemoteSetSchema).default({}),
  /**
   * Nodes dockerd reported gone (DiscoverDelete: they left the swarm): their announcements are
   * refused, and nobody's mention of them counts, until dockerd reports them back.
   */
  left: z.array(z.string()).default([]),
  /** Highest sequence number seen per node and network, kept after the node left (no replays). */
  seen: z.record(z.number().int().nonnegative()).default({}),
});
export type SwarmState = z.infer<typeof SwarmStateSchema>;

export const STATE_VERSION = 1;

export const StateSchema = z.object({
  version: z.literal(STATE_VERSION),
  networks: z.record(NetworkStateSchema),
  endpoints: z.record(EndpointStateSchema),
  /** By retainedKey(); absent when empty (a state with nothing in it stays three keys). */
  retained: z.record(RetainedIdentitySchema).optional(),
  /** The running worker processes by slot number; absent when there are none. */
  workers: z.record(z.string().regex(/^\d+$/), WorkerRefSchema).optional(),
  /** Swarm scope: nodes and other nodes' endpoints; absent for a local-scope plugin. */
  swarm: SwarmStateSchema.optional(),
});
export type State = z.infer<typeof StateSchema>;

export function emptyState(): State {
  return { version: STATE_VERSION, networks: {}, endpoints: {} };
}
