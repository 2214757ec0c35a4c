// A namespace's links and addresses, read and changed by netlink from inside it (`ip link`,
// `ip addr`), and the one request/answer exchange every netlink module here uses.
import type { NetlinkMessage } from 'netlink';
import { netlinkAddon } from './native';
import { Request } from './message';
import { readReply } from './reply';
import { LinkChange, LinkInfo, deleteLinkRequest, dumpLinksRequest, getLinkRequest, linkIndex, parseLinks, setLinkRequest } from './linkMessages';
import { AddrInfo, dumpAddrsRequest, newAddrRequest, parseAddrs } from './addrMessages';
import { parseIp } from '../net/addr';

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

/** Changes link `name` of the namespace (`ip link set`): renames it, brings it up or down. */
export function setLink(name: string, change: LinkChange, netnsPath: string | undefined): void {
  transact(setLinkRequest(ifIndex(name, netnsPath), change), netnsPath);
}

/** `ip link del dev NAME` in the namespace. */
export function deleteLink(name: string, netnsPath: string | undefined): void {
  transact(deleteLinkRequest(ifIndex(name, netnsPath)), netnsPath);
}

/** `ip addr replace ADDR/LEN dev NAME [nodad]` in the namespace; `cidr` as IPAM gives it. */
export function addAddress(name: string, cidr: string, netnsPath: string | undefined, nodad = false): void {
  const slash = cidr.indexOf('/');
  const addr = parseIp(slash < 0 ? cidr : cidr.slice(0, slash));
  if (!addr) throw new Error(`${cidr} is not an address with a prefix length`);
  const bits = slash < 0 ? addr.length * 8 : Number(cidr.slice(slash + 1));
  if (!Number.isInteger(bits) || bits < 0 || bits > addr.length * 8) throw new Error(`${cidr} has a bad prefix length`);
  transact(newAddrRequest(ifIndex(name, netnsPath), addr, bits, nodad), netnsPath);
}
