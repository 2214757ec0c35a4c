// Typed access to the netlink part of the native addon (datapath/netlink/native/netlink.c):
// one rtnetlink exchange, one /proc/sys/net file, or a /proc/net file, inside a network namespace.
import { loadNativeAddon } from '../native/addon';

export interface NetlinkAddon {
  /** Sends one netlink message; the datagrams received up to its ack, error or end of dump. */
  netlinkTransact(request: Buffer, netnsPath: string | undefined): Buffer[];
  /** /proc/sys/net/<relPath> in the namespace: writes `value` when given, returns the content. */
  procSys(relPath: string, value: string | undefined, netnsPath: string | undefined): string;
  /** A read-only fd on /proc/net/<name> of the namespace (it stays that namespace's view). */
  openProcNet(name: string, netnsPath: string | undefined): number;
}

export const netlinkAddon = (): NetlinkAddon => loadNativeAddon<NetlinkAddon>(['netlinkTransact', 'procSys', 'openProcNet']);
