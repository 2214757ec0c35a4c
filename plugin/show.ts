// `wgmpls show`: every wgmpls network, endpoint, container and peer, with handshakes and
// transfer counters, as `wg show` prints them but with Docker's names. Reads the plugin's state
// file and asks each datapath over UAPI; works whether or not the plugin is running.
// Never prints a private key (the UAPI answer has it: it is dropped while parsing).
import { dockerClient } from './docker/client';
import { pluginPaths } from './config';
import { dockerNames } from './docker/names';
import { isAlive } from './datapaths/process';
import { lsrBackend, routeLines } from './datapaths/tables';
import type { LsrBackend } from '../datapath/lsr/model';
import { DeviceStatus, UapiClient, uapiSocketPath } from './datapaths/uapiClient';
import { ROUTES_LABEL } from './routes/label';
import { RouteStatus, readRouteStatus } from './routes/status';
import { StateStore } from './state/store';
import type { EndpointState, NetworkState } from './state/types';

export interface ShowResult {
  code: number;
  stdout: string;
  stderr: string;
}

const b64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');
const short = (id: string): string => id.slice(0, 12);

export interface PeerView {
  publicKey: string;
  endpointId: string | null;
  /** The swarm node of a remote endpoint (null: an endpoint of this host, or unknown). */
  node: string | null;
  container: string | null;
  endpoint: string | null;
  allowedIps: string[];
  latestHandshake: number;
  rxBytes: number;
  txBytes: number;
  /** wgmpls-label-auth with this peer; null when the datapath does not say (an older one). */
  labelAuth: boolean | null;
}

export interface EndpointView {
  id: string;
  container: string | null;
  ifname: string;
  containerIfname: string | null;
  addresses: string[];
  publicKey: string;
  port: number;
  datapath: { pid: number | null; running: boolean; error?: string };
  /** The container's MPLS and FTN routes (its namespace's label table), as `ip` prints them. */
  routes: string[];
  /** Who switches the container's labels: its table's backend (null: no routes yet, or not in a container). */
  lsr: LsrBackend | null;
  peers: PeerView[];
  /** The datapath's dropped packets by reason (only reasons with drops), from wgmpls-stats. */
  drops: Record<string, number>;
}

/** The identity a stopped container keeps on the network until it starts again or is removed. */
export interface RetainedView {
  containerId: string;
  container: string | null;
  publicKey: string;
  port: number;
  routes: string[];
}

/** An endpoint of a swarm network on another node, as that node's plugin announced it. */
export interface RemoteEndpointView {
  id: string;
  node: string;
  addresses: string[];
  publicKey: string;
  port: number;
}

export interface NetworkView {
  id: string;
  name: string | null;
  /** "swarm" for a network across a Docker Swarm (its endpoints on other nodes in `remote`). */
  scope: 'local' | 'swarm';
  mtu: number;
  underlay: string;
  mplsPeers: string;
  subnets: string[];
  endpoints: EndpointView[];
  remote: RemoteEndpointView[];
  retained: RetainedView[];
}

type KeyOwner = { id: string; node: string | null };

async function endpointView(ep: EndpointState, byKey: ReadonlyMap<string, KeyOwner>, containers: ReadonlyMap<string, string>): Promise<EndpointView> {
  const running = ep.datapath !== undefined && isAlive(ep.datapath);
  const view: EndpointView = {
    id: ep.id,
    container: containers.get(ep.id) ?? null,
    ifname: ep.ifname,
    containerIfname: ep.containerIfname ?? null,
    addresses: [ep.address, ep.addressIPv6].filter((a): a is string => a !== undefined),
    publicKey: b64(ep.publicKey),
    port: ep.port,
    datapath: { pid: ep.datapath?.pid ?? null, running },
    routes: routeLines(ep.nsid, ep.table),
    lsr: lsrBackend(ep.nsid),
    peers: [],
    drops: {},
  };
  if (!running) return view;
  let status: DeviceStatus;
  const client = new UapiClient(uapiSocketPath(pluginPaths().uapiDir, ep.ifname));
  try {
    // The extended get names the label-auth setting; a datapath from before it hangs up on it.
    status = await client.getExtended().catch(() => client.get());
    for (const [k, v] of Object.entries(await client.stats())) {
      if (k.startsWith('drop.') && v > 0) view.drops[k.slice('drop.'.length)] = v;
    }
  } catch (err) {
    view.datapath.error = (err as Error).message;
    return view;
  }
  view.peers = status.peers.map((p) => {
    const other = byKey.get(p.publicKey);
    return {
      publicKey: b64(p.publicKey),
      endpointId: other?.id ?? null,
      node: other?.node ?? null,
      container: other ? (containers.get(other.id) ?? null) : null,
      endpoint: p.endpoint,
      allowedIps: p.allowedIps,
      latestHandshake: p.lastHandshakeSec,
      rxBytes: p.rxBytes,
      txBytes: p.txBytes,
      labelAuth: p.labelAuth ?? null,
    };
  });
  return view;
}

export async function collect(): Promise<NetworkView[]> {
  const store = StateStore.read(pluginPaths().stateDir);
  const networks = store.networks().sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const names = await dockerNames(networks.map((n) => n.id));
  const byKey = new Map<string, KeyOwner>(store.endpoints().map((e) => [e.publicKey, { id: e.id, node: null }]));
  for (const n of networks) for (const r of store.remotesOf(n.id)) if (!byKey.has(r.endpoint.publicKey)) byKey.set(r.endpoint.publicKey, { id: r.endpoint.id, node: r.node });
  const out: NetworkView[] = [];
  for (const n of networks) {
    const endpoints: EndpointView[] = [];
    for (const ep of store.endpointsOf(n.id)) endpoints.push(await endpointView(ep, byKey, names.containers));
    const remote: RemoteEndpointView[] = store.remotesOf(n.id).map(({ node, endpoint: e }) => ({
      id: e.id,
      node,
      addresses: [e.address, e.addressIPv6].filter((a): a is string => a !== undefined),
      publicKey: b64(e.publicKey),
      port: e.port,
    }));
    const retained: RetainedView[] = [];
    for (const r of store.retained().filter((x) => x.networkId === n.id)) {
      retained.push({ containerId: r.containerId, container: await containerName(r.containerId), publicKey: b64(r.publicKey), port: r.port, routes: routeLines(undefined, r.table) });
    }
    out.push(networkView(n, names.networks.get(n.id) ?? null, endpoints, remote, retained));
  }
  return out;
}

/** A stopped container's name (no endpoint of it is on any network to name it by). */
async function containerName(id: string): Promise<string | null> {
  try {
    const info = (await dockerClient(3000).getContainer(id).inspect()) as { Name?: string };
    return info.Name ? info.Name.replace(/^\//, '') : null;
  } catch {
    return null;
  }
}

function networkView(n: NetworkState, name: string | null, endpoints: EndpointView[], remote: RemoteEndpointView[], retained: RetainedView[]): NetworkView {
  const scope = n.secret !== undefined ? 'swarm' : 'local';
  return { id: n.id, name, scope, mtu: n.mtu, underlay: n.underlay, mplsPeers: n.mplsPeers, subnets: [...n.ipv4, ...n.ipv6].map((d) => d.pool), endpoints, remote, retained };
}

function ago(sec: number, now: number): string {
  if (sec === 0) return 'never';
  const d = Math.max(0, Math.round(now - sec));
  if (d < 60) return `${d} second${d === 1 ? '' : 's'} ago`;
  const m = Math.floor(d / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'}, ${d % 60} seconds ago`;
  return `${Math.floor(m / 60)} hours, ${m % 60} minutes ago`;
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(2)} ${units[i]}`;
}

export function formatShow(networks: readonly NetworkView[], now = Date.now() / 1000): string {
  if (networks.length === 0) return 'no wgmpls networks\n';
  const lines: string[] = [];
  for (const n of networks) {
    lines.push(`network ${n.name ?? '(unknown to docker)'} (${short(n.id)})${n.scope === 'swarm' ? ', swarm scope' : ''}`);
    lines.push(`  mtu ${n.mtu}, underlay ${n.underlay}, mpls-peers ${n.mplsPeers}, subnets ${n.subnets.join(' ') || '-'}`);
    if (n.endpoints.length === 0) lines.push('  no endpoints');
    for (const e of n.endpoints) {
      const where = e.containerIfname ? `${e.containerIfname} in ${e.container ?? 'a container'}` : `not in a container`;
      lines.push('', `  endpoint ${short(e.id)}: ${e.container ?? '-'}`);
      lines.push(`    interface: ${e.ifname} (${where})`);
      lines.push(`    addresses: ${e.addresses.join(' ') || '-'}`);
      lines.push(`    public key: ${e.publicKey}`);
      lines.push(`    listening port: ${e.port}`);
      const dp = e.datapath.running ? `pid ${e.datapath.pid}, running` : `not running${e.datapath.pid ? ` (was pid ${e.datapath.pid})` : ''}`;
      lines.push(`    datapath: ${dp}${e.datapath.error ? `, UAPI: ${e.datapath.error}` : ''}`);
      if (e.lsr) lines.push(`    label switching: ${e.lsr === 'kernel' ? "the container's kernel (routes installed by netlink)" : 'userspace (the datapaths)'}`);
      if (e.routes.length > 0) lines.push('    routes:', ...e.routes.map((r) => `      ${r}`));
      const drops = Object.entries(e.drops).sort(([a], [b]) => a.localeCompare(b));
      if (drops.length > 0) lines.push(`    dropped: ${drops.map(([k, v]) => `${k} ${v}`).join(', ')}`);
      if (e.drops['label-auth-mismatch']) {
        lines.push(`    label-auth-mismatch: ${e.drops['label-auth-mismatch']} MPLS packets authenticated only under the other wgmpls-label-auth setting (a peer configured differently, or relabelled on the way); dropped`);
      }
      for (const p of e.peers) {
        const who = p.endpointId ? `endpoint ${short(p.endpointId)}${p.node ? ` on node ${p.node}` : ''}${p.container ? `, ${p.container}` : ''}` : 'not a wgmpls endpoint';
        lines.push('', `    peer: ${p.publicKey} (${who})`);
        lines.push(`      endpoint: ${p.endpoint ?? '(none)'}`);
        lines.push(`      allowed ips: ${p.allowedIps.join(', ') || '(none)'}`);
        if (p.labelAuth !== null) lines.push(`      label auth: ${p.labelAuth ? 'on (MPLS header authenticated)' : 'off (kernel-module compatible; labels not authenticated)'}`);
        lines.push(`      latest handshake: ${ago(p.latestHandshake, now)}`);
        lines.push(`      transfer: ${bytes(p.rxBytes)} received, ${bytes(p.txBytes)} sent`);
      }
    }
    for (const r of n.remote) {
      lines.push('', `  remote endpoint ${short(r.id)} on node ${r.node}`);
      lines.push(`    addresses: ${r.addresses.join(' ') || '-'}`);
      lines.push(`    public key: ${r.publicKey}`);
      lines.push(`    port: ${r.port}`);
    }
    for (const r of n.retained) {
      lines.push('', `  kept for stopped container ${r.container ?? '-'} (${short(r.containerId)}): public key ${r.publicKey}, port ${r.port}`);
      if (r.routes.length > 0) lines.push('    routes:', ...r.routes.map((x) => `      ${x}`));
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** One line per container with a wgmpls.routes label: applied, or why nothing was installed. */
export function formatRouteStatus(routes: readonly RouteStatus[]): string {
  return routes
    .map((r) => {
      const by = r.lsr ? ` (${r.lsr} LSR)` : '';
      const what = r.error === undefined ? `${r.routes} route${r.routes === 1 ? '' : 's'} applied${by}` : `refused, nothing installed: ${r.error}`;
      return `container ${r.name} (${short(r.containerId)}): ${ROUTES_LABEL}: ${what}\n`;
    })
    .join('');
}

export async function showAll(opts: { json: boolean }): Promise<ShowResult> {
  let networks: NetworkView[];
  try {
    networks = await collect();
  } catch (err) {
    return { code: 1, stdout: '', stderr: `wgmpls show: ${(err as Error).message}\n` };
  }
  const routes = [...readRouteStatus(pluginPaths().stateDir).values()].sort((a, b) => a.name.localeCompare(b.name));
  const text = formatShow(networks) + (routes.length > 0 ? `\n${formatRouteStatus(routes)}` : '');
  return { code: 0, stdout: opts.json ? JSON.stringify({ networks, routeLabels: routes }, null, 2) + '\n' : text, stderr: '' };
}
