// A container's identity on a network (its key, port and routes) outlives its endpoints. Docker
// deletes a container's endpoints whenever it stops - dockerd stopping included - and gives it
// new endpoint ids when it starts again; without this, every restart would mean a new key, so
// peers, `wg show` and any configuration written against the old key would all be stale.
// An endpoint going away leaves a retained identity behind; the container's next endpoint on
// that network takes it over. Both run under the plugin's lock.
import { UapiError } from '../datapaths/uapiClient';
import { short } from '../datapaths/supervisor';
import { combineTexts, readTableText, removeTableDir } from '../datapaths/tables';
import type { EndpointState, PendingTable, RetainedIdentity } from '../state/types';
import type { DriverContext } from './context';

const EADDRINUSE = 98;

/**
 * Stops the endpoint's datapath and forgets the endpoint. With `keep` and a known container, its
 * identity is retained for the container's next endpoint on the network (unless one is already:
 * that is the older, real one, which this endpoint never took over).
 */
export async function retireEndpoint(ctx: DriverContext, ep: EndpointState, keep: boolean): Promise<void> {
  const { store, supervisor, log } = ctx;
  // Read before anything goes: the live table is the freshest copy of the routes.
  const live = ep.nsid ? readTableText(ep.nsid) : undefined;
  const table = combineTexts(live ?? ep.table, ep.pendingTable?.table);
  await supervisor.stop(ep);
  store.deleteEndpoint(ep.id);
  // The namespace's table directory goes with the last of our endpoints in it; its copy lives on.
  if (ep.nsid && !store.endpoints().some((e) => e.nsid === ep.nsid)) removeTableDir(ep.nsid);

  const containerId = ep.containerId;
  if (!keep || !containerId || !store.network(ep.networkId) || store.retainedFor(ep.networkId, containerId)) return;
  const r: RetainedIdentity = {
    networkId: ep.networkId,
    containerId,
    privateKey: ep.privateKey,
    publicKey: ep.publicKey,
    port: ep.port,
    retainedAt: new Date().toISOString(),
  };
  const ifname = ep.containerIfname ?? ep.pendingTable?.ifname;
  if (ifname) r.containerIfname = ifname;
  if (table) r.table = table;
  store.putRetained(r);
  log.info({ network: short(ep.networkId), container: short(containerId), port: ep.port, routes: table !== undefined }, 'identity retained for the container');
}

/**
 * Gives `ep` the retained identity of its container: same private key (so the same public key)
 * and, if nothing else holds it, the same port; the routes follow once the TUN is plumbed. The
 * caller refreshes the network's peers and starts handshakes afterwards.
 */
export async function adoptIdentity(ctx: DriverContext, ep: EndpointState, r: RetainedIdentity): Promise<EndpointState> {
  const { store, supervisor, log } = ctx;
  const portFree = r.port !== ep.port && !store.endpoints().some((e) => e.id !== ep.id && e.port === r.port);
  let port = portFree ? r.port : ep.port;
  // A datapath that is not running gets the stored key and port when the supervisor restarts it.
  if (supervisor.hosts(ep)) {
    const client = supervisor.client(ep);
    try {
      // One transaction: the datapath binds the port first, and changes nothing if that fails.
      await client.set({ privateKey: r.privateKey, listenPort: portFree ? r.port : undefined });
    } catch (err) {
      if (!(portFree && err instanceof UapiError && err.errno === EADDRINUSE)) throw err;
      log.warn({ endpoint: short(ep.id), port: r.port }, 'the retained UDP port is taken by another program; keeping the new one');
      port = ep.port;
      await client.set({ privateKey: r.privateKey });
    }
  }
  const pending: PendingTable | undefined = r.table ? { table: r.table, ...(r.containerIfname ? { ifname: r.containerIfname } : {}) } : ep.pendingTable;
  const next = store.patchEndpoint(ep.id, { privateKey: r.privateKey, publicKey: r.publicKey, port, pendingTable: pending }) ?? ep;
  store.deleteRetained(r.networkId, r.containerId);
  log.info({ network: short(ep.networkId), endpoint: short(ep.id), container: short(r.containerId), port, routes: pending !== undefined }, 'endpoint took over the identity of the container');
  return next;
}
