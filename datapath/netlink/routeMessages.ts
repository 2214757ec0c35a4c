// RTM_NEWROUTE / RTM_DELROUTE for the LSR's two route kinds, as iproute2 sends them (its
// iproute.c and iproute_lwtunnel.c; the kernel side is net/mpls/af_mpls.c and mpls_iptunnel.c):
// - ILM `LABEL [as L1/..] [via inet|inet6 ADDR] dev IF`: family AF_MPLS, RTA_DST the incoming
//   label, RTA_NEWDST the outgoing stack (absent for a pop), RTA_VIA the next hop, RTA_OIF.
// - FTN `PREFIX encap mpls L1/.. [via ADDR] dev IF`: family AF_INET/AF_INET6, RTA_DST the
//   prefix, RTA_ENCAP_TYPE MPLS with RTA_ENCAP { MPLS_IPTUNNEL_DST stack }, RTA_GATEWAY (same
//   family) or RTA_VIA (the other), RTA_OIF.
// Pure: interface indexes come from the caller.
import { FlagsNew, Flags, rt } from 'netlink';
import type { IpRoute, MplsRoute, NextHop } from '../lsr/model';
import { Attr, Request, buildRequest, u16, u32 } from './message';

const AF_INET = 2;
const AF_INET6 = 10;
const AF_MPLS = 28;

// Route attributes (linux/rtnetlink.h) and the MPLS lightweight tunnel's (linux/lwtunnel.h,
// linux/mpls_iptunnel.h).
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_VIA = 18;
const RTA_NEWDST = 19;
const RTA_ENCAP_TYPE = 21;
const RTA_ENCAP = 22;
const LWTUNNEL_ENCAP_MPLS = 1;
const MPLS_IPTUNNEL_DST = 1;

const RT_TABLE_MAIN = 254;

/**
 * A label stack as the kernel takes it (nla_get_labels): 32-bit big-endian entries, label in
 * the top 20 bits, TC and TTL zero, bottom-of-stack only on the last.
 */
export function labelStack(labels: readonly number[]): Buffer {
  const b = Buffer.alloc(4 * labels.length);
  labels.forEach((l, i) => b.writeUInt32BE(((l << 12) | (i === labels.length - 1 ? 0x100 : 0)) >>> 0, 4 * i));
  return b;
}

/** struct rtvia: the next hop's family (u16, host order) and its address. */
function rtvia(nh: NextHop): Buffer {
  return Buffer.concat([u16(nh.family === 4 ? AF_INET : AF_INET6), Buffer.from(nh.addr)]);
}

/** struct rtmsg, as iproute2 fills it for `ip route add` (protocol boot, main table). */
function rtmsg(family: number, dstLen: number, scope: number): Buffer {
  return rt.formatRoute({ family, dstLen, table: RT_TABLE_MAIN, protocol: rt.RouteProtocol.BOOT, scope, type: rt.RouteType.UNICAST });
}

/**
 * struct rtmsg as iproute2 fills it for `ip route del` of an IP route: protocol and type unspecified and scope
 * RT_SCOPE_NOWHERE, which the kernel reads as "any" (fib_table_delete compares a given scope
 * exactly: a delete saying "universe" would never find a scope-link route).
 */
function rtmsgDelete(family: number, dstLen: number): Buffer {
  return rt.formatRoute({ family, dstLen, table: RT_TABLE_MAIN, scope: rt.RouteScope.NOWHERE, type: rt.RouteType.UNSPEC });
}

export type Verb = 'replace' | 'add' | 'del';

function flagsFor(verb: Verb): number {
  const base = Flags.REQUEST | Flags.ACK;
  if (verb === 'del') return base;
  return base | FlagsNew.CREATE | (verb === 'replace' ? FlagsNew.REPLACE : FlagsNew.EXCL);
}

/** ILM route message; `oif` is the index of route.dev in the namespace (unused for del). */
export function mplsRouteRequest(verb: Verb, route: MplsRoute, oif: number): Request {
  const attrs: Attr[] = [{ type: RTA_DST, name: 'RTA_DST', data: labelStack([route.label]) }];
  if (verb !== 'del') {
    // Implicit null (3) means "no label": as 3 alone is a pop, as iproute2 users write it.
    const out = route.outLabels.filter((l) => l !== 3);
    if (out.length > 0) attrs.push({ type: RTA_NEWDST, name: 'RTA_NEWDST', data: labelStack(out) });
    if (route.via) attrs.push({ type: RTA_VIA, name: 'RTA_VIA', data: rtvia(route.via) });
    attrs.push({ type: RTA_OIF, name: 'RTA_OIF', data: u32(oif) });
  }
  // af_mpls refuses any type but unicast and any scope but universe, deletes included (unlike
  // IPv4, whose delete needs "any scope": see rtmsgDelete).
  const type = verb === 'del' ? rt.MessageType.DELROUTE : rt.MessageType.NEWROUTE;
  return buildRequest(type, flagsFor(verb), rtmsg(AF_MPLS, 20, rt.RouteScope.UNIVERSE), attrs);
}

/**
 * FTN route message (the prefix's kernel route with its MPLS encapsulation; without labels the
 * plain `PREFIX [via ADDR] dev DEV`). For a delete, oif 0 matches any device.
 */
export function ipRouteRequest(verb: Verb, route: IpRoute, oif: number): Request {
  const v4 = route.prefix.addr.length === 4;
  const family = v4 ? AF_INET : AF_INET6;
  const attrs: Attr[] = [];
  if (route.prefix.bits > 0) attrs.push({ type: RTA_DST, name: 'RTA_DST', data: Buffer.from(route.prefix.addr) });
  if (verb !== 'del') {
    const out = route.labels.filter((l) => l !== 3);
    if (out.length > 0) {
      attrs.push({ type: RTA_ENCAP_TYPE, name: 'RTA_ENCAP_TYPE', data: u16(LWTUNNEL_ENCAP_MPLS) });
      attrs.push({ type: RTA_ENCAP, name: 'RTA_ENCAP', nested: [{ type: MPLS_IPTUNNEL_DST, name: 'MPLS_IPTUNNEL_DST', data: labelStack(out) }] });
    }
    if (route.via) {
      const same = (route.via.family === 4) === v4;
      attrs.push(same ? { type: RTA_GATEWAY, name: 'RTA_GATEWAY', data: Buffer.from(route.via.addr) } : { type: RTA_VIA, name: 'RTA_VIA', data: rtvia(route.via) });
    }
    attrs.push({ type: RTA_OIF, name: 'RTA_OIF', data: u32(oif) });
  } else if (oif > 0) {
    // `ip route del PREFIX dev DEV`: only the route through that device.
    attrs.push({ type: RTA_OIF, name: 'RTA_OIF', data: u32(oif) });
  }
  if (verb === 'del') return buildRequest(rt.MessageType.DELROUTE, flagsFor(verb), rtmsgDelete(family, route.prefix.bits), attrs);
  // iproute2: a route without a gateway is scope link, one with a gateway scope universe.
  const scope = route.via ? rt.RouteScope.UNIVERSE : rt.RouteScope.LINK;
  return buildRequest(rt.MessageType.NEWROUTE, flagsFor(verb), rtmsg(family, route.prefix.bits, scope), attrs);
}
