// RTM_GETLINK by name or for every link, and what the answers say. Pure.
import { Flags, FlagsGet, NetlinkMessage, parseAttributes, rt } from 'netlink';
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

/** `ip link show` as a request: a dump of every link. */
export function dumpLinksRequest(): Request {
  return buildRequest(rt.MessageType.GETLINK, Flags.REQUEST | FlagsGet.DUMP, rt.formatLink({}), []);
}

export interface LinkInfo {
  index: number;
  name: string;
  /** IFF_UP: administratively up (what `ip link` prints as UP inside <...>). */
  up: boolean;
}

const IFF_UP = 1;

/** The links in a dump's RTM_NEWLINK messages. */
export function parseLinks(reply: readonly NetlinkMessage[]): LinkInfo[] {
  const out: LinkInfo[] = [];
  for (const m of reply) {
    if (m.type !== rt.MessageType.NEWLINK) continue;
    // struct ifinfomsg: family, pad, type (u16), index (s32), flags (u32), change (u32).
    const index = m.data.readInt32LE(4);
    const flags = m.data.readUInt32LE(8);
    let name = '';
    parseAttributes(m.data.subarray(16), (a) => {
      if (a.type === IFLA_IFNAME) name = a.data.toString('utf8').replace(/\0.*$/s, '');
    });
    out.push({ index, name, up: (flags & IFF_UP) !== 0 });
  }
  return out;
}
