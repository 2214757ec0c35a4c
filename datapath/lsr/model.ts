// The label-switching router's tables, one per network namespace, shared by every datapath in
// it. Same model for both backends (the datapaths' userspace LSR, or the kernel's af_mpls with
// the routes installed by netlink, datapath/netlink/kernelRoutes.ts).
import type { Prefix } from '../device/config';

export type Family = 4 | 6;

export interface NextHop {
  family: Family;
  /** 4 or 16 bytes. */
  addr: Uint8Array;
}

/**
 * An incoming-label map entry (ILM): `ip -f mpls route add LABEL [as L1/L2...] [via inet|inet6 ADDR] dev IF`.
 * outLabels empty = pop; a swap replaces the top label by outLabels (outermost first).
 */
export interface MplsRoute {
  label: number;
  outLabels: number[];
  via: NextHop | null;
  /** An interface of this namespace (a wgmpls TUN), or 'lo' to pop and deliver locally. */
  dev: string;
}

/**
 * An FEC-to-NHLFE entry (FTN): `ip route add PREFIX encap mpls L1/L2... [via ADDR] dev IF`.
 * The kernel route that steers PREFIX into the TUN is installed beside it.
 */
export interface IpRoute {
  prefix: Prefix;
  labels: number[];
  via: NextHop | null;
  dev: string;
}

/** Per-namespace behaviour, after NetBSD's net.mpls sysctls and Linux's net.mpls.*. */
export interface LsrSettings {
  /** Uniform TTL model (Linux ip_ttl_propagate, NetBSD inet_mapttl): IP TTL <-> label TTL. Off = pipe. */
  ttlPropagate: boolean;
  /** TTL for frames this LSR originates when not propagating (Linux default_ttl, NetBSD net.mpls.ttl). */
  defaultTtl: number;
  /** IP precedence <-> TC at ingress and egress (NetBSD inet_map_prec). */
  mapPrecedence: boolean;
  /** Answer TTL expiry with ICMP time exceeded + RFC 4950 extension (NetBSD icmp_respond). */
  icmpRespond: boolean;
  /** Pop explicit null 0/2 also when not at the bottom of the stack (RFC 4182). */
  rfc4182: boolean;
  /**
   * Milliseconds between ICMP time-exceeded replies to one source, with bursts of six (Linux's
   * net.ipv4.icmp_ratelimit, same default); 0 = no per-source limit (lsr/icmpRateLimit.ts).
   */
  icmpRatelimit: number;
}

export const defaultSettings: LsrSettings = Object.freeze({
  ttlPropagate: true,
  defaultTtl: 255,
  mapPrecedence: false,
  icmpRespond: true,
  rfc4182: true,
  icmpRatelimit: 1000,
});

/** Who switches the namespace's labels: the datapaths (userspace) or the kernel (af_mpls). */
export type LsrBackend = 'userspace' | 'kernel';
/** What a user asks for: `auto` is the kernel where the namespace has net.mpls.platform_labels. */
export type LsrMode = LsrBackend | 'auto';
export const LSR_MODES: readonly LsrMode[] = ['auto', 'kernel', 'userspace'];

export interface LsrTable {
  mpls: MplsRoute[];
  ip: IpRoute[];
  settings: LsrSettings;
  /** Chosen with the namespace's first route; absent: userspace (tables written before the kernel backend). */
  backend?: LsrBackend;
}

export const MAX_LABEL = 0xfffff;
export const FIRST_UNRESERVED_LABEL = 16;
/** Linux's MAX_NEW_LABELS (30 since 4.13); at least the 8 this project promises. */
export const MAX_LABEL_STACK = 30;

/** A bad route or command: the message names the problem; nothing has been installed. */
export class RouteError extends Error {}
