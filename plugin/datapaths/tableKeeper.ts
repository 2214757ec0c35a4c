// The supervisor's share of carrying containers' routes across their restarts (see tables.ts):
// on every tick it copies changed label tables into the state, and puts the routes of a
// container's previous life into its new namespace once that namespace is plumbed.
import type { Log } from '../../datapath/log';
import type { StateStore } from '../state/store';
import type { EndpointState } from '../state/types';
import { combineTexts, readTableText, restoreTable, tableStamp } from './tables';

const short = (id: string): string => id.slice(0, 12);

export class TableKeeper {
  /** Endpoint id -> mtime of its namespace's table when last copied into the state. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly store: StateStore,
    private readonly log: Log,
  ) {}

  /** Keeps the state's copy of the endpoint's container table current (a stat when unchanged). */
  copy(ep: EndpointState): void {
    if (!ep.nsid) return;
    const stamp = tableStamp(ep.nsid);
    if (stamp === null || this.seen.get(ep.id) === stamp) return;
    this.seen.set(ep.id, stamp);
    const text = readTableText(ep.nsid);
    if (text !== undefined && text !== ep.table) this.store.patchEndpoint(ep.id, { table: text });
  }

  forget(endpointId: string): void {
    this.seen.delete(endpointId);
  }

  /**
   * Routes a container had before it restarted go into its new namespace once every endpoint
   * that brings some back is plumbed (their routes name the interfaces, which Docker may now
   * name differently: wgm1 where it was wgm0).
   */
  restorePending(): void {
    const groups = new Map<string, EndpointState[]>();
    for (const ep of this.store.endpoints()) {
      if (!ep.pendingTable) continue;
      const key = ep.containerId ?? ep.id;
      groups.set(key, [...(groups.get(key) ?? []), ep]);
    }
    for (const group of groups.values()) {
      const nsid = group[0].nsid;
      if (!nsid || group.some((e) => e.nsid !== nsid || !e.containerIfname)) continue;
      const names = new Map<string, string>();
      for (const e of group) {
        const was = e.pendingTable?.ifname;
        if (was && e.containerIfname && was !== e.containerIfname) names.set(was, e.containerIfname);
      }
      const saved = group.map((e) => e.pendingTable?.table).reduce(combineTexts, undefined);
      const endpoints = group.map((e) => short(e.id));
      try {
        const added = saved === undefined ? 0 : restoreTable(nsid, saved, names);
        this.log.info({ endpoints, nsid, added, renamed: Object.fromEntries(names) }, 'routes of the container before its restart put back');
      } catch (err) {
        // A table that cannot be parsed or written would fail the same way every tick.
        this.log.error({ endpoints, nsid, err: (err as Error).message }, 'cannot put back the routes of the container before its restart');
      }
      for (const e of group) this.store.patchEndpoint(e.id, { pendingTable: undefined });
    }
  }
}
