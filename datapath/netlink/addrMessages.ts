// RTM_GETADDR for every address, and what the answers say; RTM_NEWADDR for one. Pure.
import { Flags, FlagsGet, FlagsNew, NetlinkMessage, parseAttributes, rt } from 'netlink';
import { Request, buildRequest, u32 } from './message';

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const AF_INET = 2;

/** `ip addr show` as a request: a dump of every address (an empty ifaddrmsg). */
export function dumpAddrsRequest(): Request {
  return buildRequest(rt.MessageType.GETADDR, Flags.REQUEST | FlagsGet.DUMP, Buffer.alloc(8), []);
}

export interface AddrInfo {
  /** The interface's index. */
  index: number;
  /** 4 or 16 bytes. */
  local: Uint8Array;
  /** RT_SCOPE_*: 0 global (universe), 253 link, 254 host. */
  scope: number;
}

/** The addresses in a dump's RTM_NEWADDR messages (the local one, as `ip addr` shows it). */
export function parseAddrs(reply: readonly NetlinkMessage[]): AddrInfo[] {
  const out: AddrInfo[] = [];
  for (const m of reply) {
    if (m.type !== rt.MessageType.NEWADDR) continue;
    // struct ifaddrmsg: family, prefixlen, flags, scope (u8 each), index (u32).
    const family = m.data[0];
    const scope = m.data[3];
    const index = m.data.readUInt32LE(4);
    let address: Buffer | undefined;
    let local: Buffer | undefined;
    parseAttributes(m.data.subarray(8), (a) => {
      if (a.type === IFA_ADDRESS) address = a.data;
      if (a.type === IFA_LOCAL) local = a.data;
    });
    // IPv4 point-to-point links carry the peer in IFA_ADDRESS and our own in IFA_LOCAL.
    const own = local ?? address;
    if (!own || own.length !== (family === AF_INET ? 4 : 16)) continue;
    out.push({ index, local: Uint8Array.from(own), scope });
  }
  return out;
}

const AF_INET6 = 10;
const IFA_FLAGS = 8;
/** IFA_F_NODAD: no duplicate address detection (the address is usable at once). */
const IFA_F_NODAD = 0x02;

/**
 * `ip addr replace ADDR/LEN dev <index> [nodad]` as a request: IFA_LOCAL and IFA_ADDRESS both
 * the address (no peer), scope global, as iproute2 sends it.
 */
export function newAddrRequest(index: number, addr: Uint8Array, prefixLen: number, nodad: boolean): Request {
  const msg = Buffer.alloc(8);
  msg[0] = addr.length === 4 ? AF_INET : AF_INET6;
  msg[1] = prefixLen;
  msg[2] = nodad ? IFA_F_NODAD : 0;
  msg.writeUInt32LE(index, 4);
  const attrs = [
    { type: IFA_LOCAL, name: 'IFA_LOCAL', data: addr },
    { type: IFA_ADDRESS, name: 'IFA_ADDRESS', data: addr },
  ];
  if (nodad) attrs.push({ type: IFA_FLAGS, name: 'IFA_FLAGS', data: u32(IFA_F_NODAD) });
  return buildRequest(rt.MessageType.NEWADDR, Flags.REQUEST | Flags.ACK | FlagsNew.CREATE | FlagsNew.REPLACE, msg, attrs);
}
