// The namespace's interface addresses, for the source of the ICMP errors the LSR originates,
// and whether each link is up. Read by netlink from inside the namespace (the datapath may live
// outside it) and cached: the forwarding path never waits on it.
import { listAddrs, listLinks } from '../netlink/links';

/** RT_SCOPE_UNIVERSE: what `ip addr` calls scope global. */
const SCOPE_GLOBAL = 0;

export class AddressBook {
  private byDev = new Map<string, { v4: Uint8Array[]; v6: Uint8Array[]; up: boolean }>();
  /** Called after every refresh, e.g. to notice a link coming up. */
  onRefresh: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly netnsPath?: string) {}

  async refresh(): Promise<void> {
    try {
      const next = new Map<string, { v4: Uint8Array[]; v6: Uint8Array[]; up: boolean }>();
      const byIndex = new Map<number, { v4: Uint8Array[]; v6: Uint8Array[]; up: boolean }>();
      for (const link of listLinks(this.netnsPath)) {
        const e = { v4: [] as Uint8Array[], v6: [] as Uint8Array[], up: link.up };
        next.set(link.name, e);
        byIndex.set(link.index, e);
      }
      for (const a of listAddrs(this.netnsPath)) {
        const e = byIndex.get(a.index);
        if (e && a.scope === SCOPE_GLOBAL) (a.local.length === 4 ? e.v4 : e.v6).push(a.local);
      }
      this.byDev = next;
    } catch {
      // keep the last good view (the namespace may be going away)
    }
    this.onRefresh?.();
  }

  /** Refreshes now and then every `ms`, without keeping the process alive. */
  start(ms = 3000): Promise<void> {
    this.timer = setInterval(() => void this.refresh(), ms);
    this.timer.unref();
    return this.refresh();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  isUp(dev: string): boolean {
    return this.byDev.get(dev)?.up ?? false;
  }

  /** An address on `dev`, else any global address of the namespace. */
  pick(family: 4 | 6, dev: string): Uint8Array | null {
    const key = family === 4 ? 'v4' : 'v6';
    const own = this.byDev.get(dev)?.[key][0];
    if (own) return own;
    for (const e of this.byDev.values()) if (e[key].length) return e[key][0];
    return null;
  }
}
