// A namespace's links and addresses, read by netlink from inside it (`ip link`, `ip addr`), and
// the one request/answer exchange every netlink module here uses.
import type { NetlinkMessage } from 'netlink';
import { netlinkAddon } from './native';
import { Request } from './message';
import { readReply } from './reply';
import { LinkInfo, dumpLinksRequest, getLinkRequest, linkIndex, parseLinks } from './linkMessages';
import { AddrInfo, dumpAddrsRequest, parseAddrs } from './addrMessages';

/** One request in the namespace (undefined: ours) and its answer; NetlinkError if refused. */
export function transact(req: Request, netnsPath: string | undefined): NetlinkMessage[] {
  return readReply(req, netlinkAddon().netlinkTransact(req.bytes, netnsPath));
}

/** The interface index of `name` in the namespace; NetlinkError (ENODEV) if it has none. */
export function ifIndex(name: string, netnsPath: string | undefined): number {
  return linkIndex(transact(getLinkRequest(name), netnsPath));
}

/** Every link of the namespace with its index and whether it is up (`ip link show`). */
export function listLinks(netnsPath: string | undefined): LinkInfo[] {
  return parseLinks(transact(dumpLinksRequest(), netnsPath));
}

/** Every address of the namespace (`ip addr show`). */
export function listAddrs(netnsPath: string | undefined): AddrInfo[] {
  return parseAddrs(transact(dumpAddrsRequest(), netnsPath));
}
