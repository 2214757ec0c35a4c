// `docker network create -o wgmpls.KEY=VALUE`: what arrives as Options["com.docker.network.generic"].
// Typos must not pass silently (a mistyped MTU would give a network that works until the first
// big packet), so every key that is not Docker's own is either known or refused by name.
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { DriverError } from '../api/errors';
import { MPLS_PEER_MODES, MplsPeerMode } from '../state/types';
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
}

export const DEFAULTS: NetworkOptions = { mtu: 1420, underlay: '127.0.0.1', mplsPeers: 'any', portBase: null, defaultRoute: false, lsr: 'auto', labelAuth: true };

const KNOWN = ['wgmpls.mtu', 'wgmpls.underlay', 'wgmpls.mpls-peers', 'wgmpls.port-base', 'wgmpls.default-route', 'wgmpls.lsr', 'wgmpls.label-auth'] as const;

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

export function parseNetworkOptions(generic: Readonly<Record<string, string>>): NetworkOptions {
  const o: NetworkOptions = { ...DEFAULTS };
  for (const [key, value] of Object.entries(generic)) {
    // Docker's own keys (com.docker.network.*) and labels-as-options of other tools are not ours.
    if (key.startsWith('com.docker.')) continue;
    switch (key) {
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
