// RTM_GETLINK by name or for every link, and what the answers say; RTM_NEWLINK / RTM_DELLINK on
// an existing link (renamed, up, deleted). Pure.
import { Flags, FlagsGet, NetlinkMessage, parseAttributes, rt } from 'netlink';
import { Attr, Request, buildRequest, cstr } from './message';

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

/** struct ifinfomsg for a change to link `index`: IFF_UP set or cleared when `up` is given. */
function ifinfomsg(index: number, up?: boolean): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32LE(index, 4);
  if (up !== undefined) {
    b.writeUInt32LE(up ? IFF_UP : 0, 8);
    b.writeUInt32LE(IFF_UP, 12);
  }
  return b;
}

export interface LinkChange {
  /** Rename it (`ip link set name`; the link must be down). */
  name?: string;
  /** Bring it up or down. */
  up?: boolean;
}

/** `ip link set dev <index> ...` as a request: RTM_NEWLINK on an existing link, as iproute2 sends it. */
export function setLinkRequest(index: number, change: LinkChange): Request {
  const attrs: Attr[] = [];
  if (change.name !== undefined) attrs.push({ type: IFLA_IFNAME, name: 'IFLA_IFNAME', data: cstr(change.name) });
  return buildRequest(rt.MessageType.NEWLINK, Flags.REQUEST | Flags.ACK, ifinfomsg(index, change.up), attrs);
}

/** `ip link del dev <index>` as a request. */
export function deleteLinkRequest(index: number): Request {
  return buildRequest(rt.MessageType.DELLINK, Flags.REQUEST | Flags.ACK, ifinfomsg(index), []);
}
