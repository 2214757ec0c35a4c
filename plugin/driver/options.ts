// `docker network create -o wgmpls.KEY=VALUE`: what arrives as Options["com.docker.network.generic"].
// Typos must not pass silently (a mistyped MTU would give a network that works until the first
// big packet), so every key that is not Docker's own is either known or refused by name.
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { DriverError } from '../api/errors';
import { MPLS_PEER_MODES, MplsPeerMode } from '../state/types';
import { parseIpv6Prefix } from '../swarm/ipv6';
import { LSR_MODES, LsrMode } from '../../datapath/lsr/model';

export interface NetworkOptions {
  mtu: number;
  underlay: string;
  mplsPeers: MplsPeerMode;
  portBase: number | null;
  /** Give containers a default route through this network's TUN (IPv4, and IPv6 if it has it). */
  defaultRoute: boolean;
  /** Who switches labels in its containers (docs/design.md section 4a): kernel, userspace, or auto. */
  lsr: LsrMode;
  /** Bind the MPLS header (types 5/6) into the AEAD between this network's endpoints. */
  labelAuth: boolean;
  /** Swarm scope: the network's secret (from AllocateNetwork on a manager; 64 hex digits). */
  secret?: string;
  /** Swarm scope: the IPv6 prefix of its endpoints (plugin/swarm/ipv6.ts says why not Docker's). */
  ipv6Prefix?: string;
}

export const DEFAULTS: NetworkOptions = { mtu: 1420, underlay: '127.0.0.1', mplsPeers: 'any', portBase: null, defaultRoute: false, lsr: 'auto', labelAuth: true };

const KNOWN = ['wgmpls.secret', 'wgmpls.ipv6', 'wgmpls.mtu', 'wgmpls.underlay', 'wgmpls.mpls-peers', 'wgmpls.port-base', 'wgmpls.default-route', 'wgmpls.lsr', 'wgmpls.label-auth'] as const;

function intOption(key: string, value: string, min: number, max: number): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new DriverError(`${key} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

/** Every address of this host, as os.networkInterfaces() lists them. */
export function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((i) => i.address);
}

function underlayOption(value: string): string {
  if (isIP(value) === 0) throw new DriverError(`wgmpls.underlay must be an IP address of this host, got "${value}"`);
  const local = localAddresses();
  const canon = (a: string): string => a.toLowerCase();
  if (!local.map(canon).includes(canon(value))) {
    const shown = local.slice(0, 8).join(', ') + (local.length > 8 ? ', ...' : '');
    throw new DriverError(`wgmpls.underlay ${value} is not an address of this host (it has ${shown})`);
  }
  return value;
}

/**
 * The options of a swarm-scope network as AllocateNetwork gets them on a manager: checked like a
 * local network's, except the underlay (each node uses its own swarm address, so one address
 * given for all nodes cannot be right) and the secret (only AllocateNetwork itself adds it).
 */
export function checkSwarmOptions(generic: Readonly<Record<string, string>>, allocated: boolean): void {
  if ('wgmpls.underlay' in generic) {
    throw new DriverError('wgmpls.underlay cannot be set on a swarm-scope network: each node uses its own swarm address (or WGMPLS_UNDERLAY set on its plugin)');
  }
  if (!allocated && 'wgmpls.secret' in generic) throw new DriverError('wgmpls.secret is made by the driver; do not give it');
  parseNetworkOptions(generic, true);
}

/** `swarm`: the options of a swarm-scope network (default: those carrying a secret). */
export function parseNetworkOptions(generic: Readonly<Record<string, string>>, swarm = 'wgmpls.secret' in generic): NetworkOptions {
  const o: NetworkOptions = { ...DEFAULTS };
  if ('wgmpls.secret' in generic && 'wgmpls.underlay' in generic) {
    throw new DriverError('wgmpls.underlay cannot be set on a swarm-scope network: each node uses its own swarm address (or WGMPLS_UNDERLAY set on its plugin)');
  }
  for (const [key, value] of Object.entries(generic)) {
    // Docker's own keys (com.docker.network.*) and labels-as-options of other tools are not ours.
    if (key.startsWith('com.docker.')) continue;
    switch (key) {
      case 'wgmpls.secret':
        if (!/^[0-9a-f]{64}$/.test(value)) throw new DriverError('wgmpls.secret must be 64 lowercase hex digits (it is made by the driver on a swarm manager)');
        o.secret = value;
        break;
      case 'wgmpls.ipv6':
        if (!swarm) throw new DriverError('wgmpls.ipv6 is for swarm-scope networks; give a local network its IPv6 subnet with --ipv6 --subnet');
        try {
          o.ipv6Prefix = parseIpv6Prefix(value);
        } catch (err) {
          throw new DriverError((err as Error).message);
        }
        break;
      case 'wgmpls.mtu':
        o.mtu = intOption(key, value, 576, 65535);
        break;
      case 'wgmpls.underlay':
        o.underlay = underlayOption(value);
        break;
      case 'wgmpls.mpls-peers':
        if (!(MPLS_PEER_MODES as readonly string[]).includes(value)) throw new DriverError(`wgmpls.mpls-peers must be ${MPLS_PEER_MODES.join(' or ')}, got "${value}"`);
        o.mplsPeers = value as MplsPeerMode;
        break;
      case 'wgmpls.port-base':
        o.portBase = intOption(key, value, 1, 65535);
        break;
      case 'wgmpls.default-route':
        if (!['true', 'false', '1', '0'].includes(value)) throw new DriverError(`wgmpls.default-route must be true or false, got "${value}"`);
        o.defaultRoute = value === 'true' || value === '1';
        break;
      case 'wgmpls.lsr': {
        const mode = LSR_MODES.find((m) => m === value);
        if (!mode) throw new DriverError(`wgmpls.lsr must be ${LSR_MODES.join(', ')}, got "${value}"`);
        o.lsr = mode;
        break;
      }
      case 'wgmpls.label-auth':
        if (!['true', 'false', '1', '0'].includes(value)) throw new DriverError(`wgmpls.label-auth must be true or false, got "${value}"`);
        o.labelAuth = value === 'true' || value === '1';
        break;
      default:
        throw new DriverError(`unknown option ${key} (the wgmpls driver knows ${KNOWN.join(', ')})`);
    }
  }
  return o;
}
