// RTM_GETLINK by name, and the interface index in its answer. Pure.
import { Flags, NetlinkMessage, rt } from 'netlink';
import { Request, buildRequest, cstr } from './message';

const IFLA_IFNAME = 3;

/** `ip link show dev NAME` as a request: an empty ifinfomsg and IFLA_IFNAME. */
export function getLinkRequest(name: string): Request {
  return buildRequest(rt.MessageType.GETLINK, Flags.REQUEST | Flags.ACK, rt.formatLink({}), [{ type: IFLA_IFNAME, name: 'IFLA_IFNAME', data: cstr(name) }]);
}

/** The ifindex in the RTM_NEWLINK answering a getLinkRequest. */
export function linkIndex(reply: readonly NetlinkMessage[]): number {
  const m = reply.find((x) => x.type === rt.MessageType.NEWLINK);
  if (!m) throw new Error('netlink: RTM_GETLINK answered without a link');
  // struct ifinfomsg is the first 16 bytes; the attributes follow.
  return rt.parseLink(m.data.subarray(0, 16)).index ?? 0;
}
