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
  ipv4: z.array(IpamDataSchema),
  ipv6: z.array(IpamDataSchema),
  createdAt: z.string(),
});
export type NetworkState = z.infer<typeof NetworkStateSchema>;

export const DatapathRefSchema = z.object({
  pid: z.number().int().positive(),
  /** /proc/<pid>/stat start time: a pid alone may have been reused by an unrelated process. */
  startTime: z.string(),
});
export type DatapathRef = z.infer<typeof DatapathRefSchema>;

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
  datapath: DatapathRefSchema.optional(),
  createdAt: z.string(),
});
export type EndpointState = z.infer<typeof EndpointStateSchema>;

export const STATE_VERSION = 1;

export const StateSchema = z.object({
  version: z.literal(STATE_VERSION),
  networks: z.record(NetworkStateSchema),
  endpoints: z.record(EndpointStateSchema),
});
export type State = z.infer<typeof StateSchema>;

export function emptyState(): State {
  return { version: STATE_VERSION, networks: {}, endpoints: {} };
}
