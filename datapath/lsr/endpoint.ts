// One endpoint's share of the namespace's label-switching router: loads (and follows) the
// namespace's table, runs the forwarder, and carries its decisions out on this endpoint's
// tunnel, up its TUN, or over to the sibling endpoint that owns the route's device.
// The namespace and the name are those of the TUN, wherever it is now: Docker creates it in the
// host namespace and moves it into the container (renamed wgm0, wgm1, ...); attach() follows.
import { FSWatcher, watch } from 'node:fs';
import type { Device } from '../device/device';
import { prefixToString } from '../net/addr';
import { formatRoute } from './format';
import type { Log } from '../log';
import { AddressBook } from './addresses';
import { CaptureWatch } from './captureWatch';
import { Egress, Lsr, LsrDrop } from './forwarder';
import { LsrTable, NextHop } from './model';
import { stripOuterLse } from '../mpls/wire';
import { Siblings } from './siblings';
import { applyKernelChanges, prepareNamespace, steerPrefix } from '../netlink/kernelRoutes';
import { emptyTable, lsrDir, nsidOf, readTable } from './store';

export class LsrEndpoint {
  readonly lsr: Lsr;
  readonly drops = new Map<LsrDrop | 'sibling', number>();
  ifname: string;
  dir = '';
  nsid = '';
  private netnsPath: string | undefined;
  private table: LsrTable = emptyTable();
  private siblings: Siblings | null = null;
  private addresses: AddressBook | null = null;
  private capture: CaptureWatch | null = null;
  private watcher: FSWatcher | null = null;
  private reloadTimer: NodeJS.Timeout | null = null;
  private siblingDrops = 0;
  /** The FTN prefixes whose kernel route (PREFIX dev <ifname>) we have put back since the link came up. */
  private steered = '';
  private wasUp = false;
  /**
   * The namespace's kernel switches its labels (table backend `kernel`): this endpoint only
   * carries frames between the TUN and message types 5/6, never switches them itself (both
   * switching would send each frame twice, docs/design.md section 7a).
   */
  kernelSwitches = false;

  /**
   * Received labelled frames go up the TUN as they arrived: for the kernel when it switches
   * them, else only while a capture (tcpdump -i) would see them (captureWatch.ts).
   */
  get mirrorsMpls(): boolean {
    return this.kernelSwitches || (this.capture?.capturing ?? false);
  }

  /** Payload descriptors of a run handed to the device (reused). */
  private payloadDesc = new Uint32Array(3 * 1024);

  constructor(
    ifname: string,
    private readonly device: Device,
    /** Hands a packet up this endpoint's TUN (IP: 0x0800/0x86dd by version). */
    private readonly writeUp: (packet: Buffer) => void,
    private readonly log: Log,
    /** Hands packets up the TUN together (desc: offset, length, ethertype); by default one by one through writeUp. */
    private readonly writeUpBatch?: (buf: Buffer, desc: Uint32Array, count: number) => void,
  ) {
    this.ifname = ifname;
    this.lsr = new Lsr(ifname, {
      egress: (e) => this.egress(e),
      egressMplsRun: (dev, via, buf, desc, n, multicast) => this.egressMplsRun(dev, via, buf, desc, n, multicast),
      egressLocalRun: (buf, desc, n) => this.egressLocalRun(buf, desc, n),
      drop: (reason) => this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1),
      localAddress: (family, dev) => this.addresses?.pick(family, dev) ?? null,
    });
  }

  /** Joins the LSR of the namespace at `netnsPath` (undefined: our own) as interface `ifname`. */
  async attach(ifname: string, netnsPath?: string, nsid = nsidOf(netnsPath)): Promise<void> {
    this.detach();
    this.ifname = ifname;
    this.lsr.ifname = ifname;
    this.netnsPath = netnsPath;
    this.nsid = nsid;
    this.dir = lsrDir(nsid);
    this.wasUp = false;
    this.steered = '';
    this.addresses = new AddressBook(netnsPath);
    this.addresses.onRefresh = () => this.steerPrefixes();
    // Watch first, then read: a table written between the read and the watch would never be
    // loaded. That window was real: the sibling socket below tells the plugin we have joined,
    // and it writes a container's routes as soon as it sees it, while we were still awaiting.
    // Atomic replacement shows up as a rename of table.json in the directory.
    this.watcher = watch(this.dir, (_event, file) => {
      if (file !== 'table.json') return;
      if (this.reloadTimer) clearTimeout(this.reloadTimer);
      this.reloadTimer = setTimeout(() => this.reload(), 10);
    });
    this.reload();
    this.siblings = new Siblings(this.dir, ifname, (e) => this.egress(e), (via, buf, desc, n, multicast) => this.egressMplsRun(this.ifname, via, buf, desc, n, multicast));
    await this.siblings.listen();
    await this.addresses.start();
    this.capture = new CaptureWatch(() => this.ifname, netnsPath);
    this.capture.start();
    this.log.info({ ifname, nsid }, 'label-switching router joined');
  }

  reload(): void {
    try {
      this.table = readTable(this.dir);
      this.kernelSwitches = this.table.backend === 'kernel';
      // With the kernel backend the routes are the kernel's; the userspace LSR keeps none.
      this.lsr.load(this.kernelSwitches ? { ...this.table, mpls: [], ip: [] } : this.table);
      void this.addresses?.refresh();
    } catch (err) {
      this.log.error({ err: (err as Error).message, dir: this.dir }, 'cannot load label table; keeping the previous one');
    }
  }

  /**
   * The kernel routes that hand FTN prefixes to this TUN (with the kernel backend: all the
   * routes through it) disappear with the TUN. When the link (re)appears up, or the table
   * changes, put back those that name this device.
   */
  private steerPrefixes(): void {
    if (!this.addresses) return;
    const up = this.addresses.isUp(this.ifname);
    // Kernel backend: every route through this interface (restoreKernelRoutes).
    const mine = this.kernelSwitches ? [...this.table.mpls, ...this.table.ip].filter((r) => r.dev === this.ifname) : this.table.ip.filter((r) => r.dev === this.ifname);
    const want = mine.map((r) => formatRoute(r)).join('\n');
    if (!up) {
      this.wasUp = false;
      return;
    }
    if (this.wasUp && want === this.steered) return;
    this.wasUp = true;
    this.steered = want;
    if (this.kernelSwitches) return this.restoreKernelRoutes();
    for (const r of this.table.ip.filter((x) => x.dev === this.ifname)) {
      try {
        steerPrefix('replace', r, this.netnsPath);
      } catch (err) {
        this.log.warn({ prefix: prefixToString(r.prefix), dev: this.ifname, err: (err as Error).message }, 'cannot install the kernel route for an MPLS prefix');
      }
    }
  }

  /**
   * Kernel backend: a (re)created TUN needs MPLS input, and the kernel dropped every route
   * through its predecessor with it; put back those of the table that name this interface.
   */
  private restoreKernelRoutes(): void {
    const mine = [...this.table.mpls, ...this.table.ip].filter((r) => r.dev === this.ifname);
    try {
      prepareNamespace(mine, [this.ifname], this.netnsPath);
      applyKernelChanges(mine.map((r) => ({ before: null, after: r })), this.netnsPath);
    } catch (err) {
      this.log.warn({ dev: this.ifname, err: (err as Error).message }, 'cannot restore the kernel routes through this interface');
    }
  }

  /**
   * FTN for IP packets from our stack to one destination (the segments of one superpacket; desc:
   * `stride` words each, offset and length first). True when an MPLS route took them: a single
   * pushed label on this endpoint's device goes as one group with the label in the header and
   * the packets as they are; anything else one by one.
   */
  handleIpGroup(src: Buffer, desc: Uint32Array, stride: number, first: number, count: number): boolean {
    const off = desc[first * stride];
    const g = this.lsr.ftnGroup(src.subarray(off, off + desc[first * stride + 1]));
    if (!g) return false;
    if (g.lse24 !== null && g.route.dev === this.ifname) {
      this.device.sendMplsGroup(src, desc, stride, first, count, g.lse24, { nextHop: g.route.via?.addr });
      return true;
    }
    for (let k = first; k < first + count; k++) {
      const o = desc[k * stride];
      const packet = src.subarray(o, o + desc[k * stride + 1]);
      if (!this.lsr.handleIpFromStack(packet)) this.device.sendIp(packet);
    }
    return true;
  }

  /** Received frames sharing their outer entry (one message header), in place (desc: offset, length, ethertype). */
  handleFrameRun(buf: Buffer, desc: Uint32Array, n: number, multicast: boolean): void {
    this.lsr.handleFrameRun(buf, desc, n, multicast, this.ifname);
  }

  private egressMplsRun(dev: string, via: NextHop | null, buf: Buffer, desc: Uint32Array, n: number, multicast: boolean): void {
    if (dev !== this.ifname) {
      if (this.siblings) this.siblings.sendMplsRun(dev, via, buf, desc, n, multicast);
      else this.siblingDrops += n;
      return;
    }
    // The outer entry (the same on every frame but for its TTL) rides in the header; the
    // payloads are what lies below it, their next header's TTL lowered to the outer one (the
    // wire does not carry it: stripOuterLse).
    const pd = this.payloadDesc.length >= 3 * n ? this.payloadDesc : (this.payloadDesc = new Uint32Array(3 * n));
    let m = 0;
    let lse24 = 0;
    for (let k = 0; k < n; k++) {
      const r = stripOuterLse(buf, desc[3 * k], desc[3 * k + 1]);
      if (r < 0) {
        this.device.counters.drop('mpls-malformed');
        continue;
      }
      lse24 = r;
      pd[3 * m] = desc[3 * k] + 4;
      pd[3 * m + 1] = desc[3 * k + 1] - 4;
      m++;
    }
    if (m > 0) this.device.sendMplsGroup(buf, pd, 3, 0, m, lse24, { multicast, nextHop: via?.addr });
  }

  private egressLocalRun(buf: Buffer, desc: Uint32Array, n: number): void {
    if (this.writeUpBatch) return this.writeUpBatch(buf, desc, n);
    for (let k = 0; k < n; k++) this.writeUp(buf.subarray(desc[3 * k], desc[3 * k] + desc[3 * k + 1]));
  }

  private egress(e: Egress): void {
    if (e.kind === 'local') return this.writeUp(e.packet);
    if (e.dev !== this.ifname) {
      if (this.siblings) this.siblings.send(e);
      else this.siblingDrops++;
      return;
    }
    const via = e.via?.addr;
    if (e.kind === 'mpls') this.device.sendMpls(e.frame, { multicast: e.multicast, nextHop: via });
    else this.device.sendIpVia(e.packet, via);
  }

  stats(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.drops) out[`lsr.drop.${k}`] = v;
    out['lsr.drop.sibling'] = this.siblingDrops + (this.siblings?.dropped ?? 0);
    // 1 while received labelled frames also go up the TUN (a capture watches it, or the kernel switches).
    out['lsr.mirror-mpls'] = this.mirrorsMpls ? 1 : 0;
    for (const [label, c] of this.lsr.routeCounters) {
      out[`lsr.route.${label}.packets`] = c.packets;
      out[`lsr.route.${label}.bytes`] = c.bytes;
      out[`lsr.route.${label}.drop.ttl-expired`] = c.ttlExpired;
    }
    return out;
  }

  private detach(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.addresses?.stop();
    this.addresses = null;
    this.capture?.stop();
    this.capture = null;
    if (this.siblings) this.siblingDrops += this.siblings.dropped;
    this.siblings?.close();
    this.siblings = null;
  }

  stop(): void {
    this.detach();
  }
}
