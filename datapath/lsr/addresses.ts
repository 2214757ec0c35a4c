// The namespace's interface addresses, for the source of the ICMP errors the LSR originates.
// Read with `ip -j addr` (through nsenter when the datapath lives outside the namespace) and
// cached: the forwarding path never waits on it.
import { ipIn } from '../sys/exec';
import { parseIp } from '../net/addr';

interface IpAddrJson {
  ifname: string;
  flags?: string[];
  addr_info?: { family: string; local: string; scope: string }[];
}

export class AddressBook {
  private byDev = new Map<string, { v4: Uint8Array[]; v6: Uint8Array[]; up: boolean }>();
  /** Called after every refresh, e.g. to notice a link coming up. */
  onRefresh: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly netnsPath?: string) {}

  async refresh(): Promise<void> {
    const r = await ipIn(this.netnsPath, ['-j', 'addr', 'show'], { timeoutMs: 5000 });
    if (r.code === 0) {
      try {
        const next = new Map<string, { v4: Uint8Array[]; v6: Uint8Array[]; up: boolean }>();
        for (const link of JSON.parse(r.stdout) as IpAddrJson[]) {
          const e = { v4: [] as Uint8Array[], v6: [] as Uint8Array[], up: (link.flags ?? []).includes('UP') };
          for (const a of link.addr_info ?? []) {
            if (a.scope !== 'global') continue;
            const bytes = parseIp(a.local);
            if (bytes) (bytes.length === 4 ? e.v4 : e.v6).push(bytes);
          }
          next.set(link.ifname, e);
        }
        this.byDev = next;
      } catch {
        // keep the last good view
      }
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
