// The WireGuard cross-platform configuration protocol ("UAPI"), as spoken by wireguard-go on
// /var/run/wireguard/<ifname>.sock and by wireguard-tools' `wg` (src/ipc-uapi.h).
// Pure protocol code: text <-> DeviceChange / DeviceSnapshot. No I/O here.
//
// Differences from wireguard-go, on purpose: wireguard-go applies a `set=1` transaction line by
// line (a bad line leaves the earlier lines applied); here the whole body is validated first and
// turned into one DeviceChange the device applies all or nothing. Errno values are the ones
// wireguard-go uses for the same input.

import { DeviceChange, DeviceSnapshot, Endpoint, Errno, PeerChange, UapiError } from '../device/config';
import {
  ipToString,
  maskPrefix,
  parseIPv4,
  parseIPv6,
  parseIp,
  parsePrefix,
  prefixToString,
} from '../net/addr';

// Address helpers moved to net/addr.ts; re-exported for the code that still imports them here.
export { ipToString, maskPrefix, parseIPv4, parseIPv6, parseIp, parsePrefix, prefixToString };

/** wireguard-go's IpcErrorUnknown (ENOANO): what it reports for an error that is not an IPC error. */
export const ENOANO = 55;

export const KEY_LEN = 32;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const DIGITS = /^[0-9]+$/;

// ------------------------------------------------------------------------------------ keys

/** Lowercase hex, as wireguard-go prints keys. */
export function keyToHex(key: Uint8Array): string {
  if (key.length !== KEY_LEN) throw new RangeError(`key must be ${KEY_LEN} bytes, got ${key.length}`);
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
}

/** Exactly 64 hex digits (either case) -> 32 bytes; null when malformed. */
export function keyFromHex(hex: string): Uint8Array | null {
  if (!HEX_KEY.test(hex)) return null;
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function isZeroKey(key: Uint8Array): boolean {
  return key.every((b) => b === 0);
}

// ------------------------------------------------------------------------------- addresses

function parsePort(s: string): number | null {
  if (!DIGITS.test(s)) return null;
  const n = Number(s);
  return n <= 0xffff ? n : null;
}

/**
 * What wireguard-go accepts as an endpoint: "a.b.c.d:port" or "[ipv6]:port", the IPv6 possibly
 * with a non-empty "%zone" (dropped: Endpoint has no scope). No host names. Port 0..65535.
 */
export function parseEndpoint(s: string): Endpoint | null {
  let host: string;
  let portStr: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0 || s[close + 1] !== ':') return null;
    host = s.slice(1, close);
    portStr = s.slice(close + 2);
    const pct = host.indexOf('%');
    if (pct >= 0) {
      const zone = host.slice(pct + 1);
      if (!/^[^\s%\]]+$/.test(zone)) return null;
      host = host.slice(0, pct);
    }
    if (!host.includes(':')) return null; // "[1.2.3.4]:5" is refused by wireguard-go too
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) return null;
    host = s.slice(0, colon);
    portStr = s.slice(colon + 1);
    if (host.includes(':')) return null; // unbracketed IPv6
  }
  const addr = parseIp(host);
  const port = parsePort(portStr);
  if (!addr || port === null) return null;
  return { address: ipToString(addr), port };
}

/** "192.0.2.1:51820" / "[2001:db8::1]:51820" (the address canonicalised when it parses). */
export function endpointToString(e: Endpoint): string {
  const parsed = parseIp(e.address);
  const addr = parsed ? ipToString(parsed) : e.address;
  return addr.includes(':') ? `[${addr}]:${e.port}` : `${addr}:${e.port}`;
}

// ------------------------------------------------------------------------------------- set

function invalid(message: string): UapiError {
  return new UapiError(Errno.EINVAL, message);
}

/** A key name fit to appear in an error message / log (never a value, never key material). */
function printableKey(key: string): string {
  // A bare hex string could be a key pasted into the wrong place: don't echo those.
  return /^[A-Za-z0-9_]{1,32}$/.test(key) && /[g-zG-Z_]/.test(key) ? key : '(unprintable key)';
}

function parseUint(key: string, value: string, max: number): number {
  if (!DIGITS.test(value)) throw invalid(`failed to parse ${key}: not a decimal number: ${JSON.stringify(value.slice(0, 40))}`);
  const n = Number(value);
  if (n > max) throw invalid(`failed to parse ${key}: ${value.length > 20 ? 'value' : value} out of range 0..${max}`);
  return n;
}

function parseKey(key: string, value: string): Uint8Array {
  const k = keyFromHex(value);
  // Never echo the value: it may be (a mangled) private or preshared key.
  if (!k) throw invalid(`failed to set ${key}: expected exactly 64 hex characters, got ${value.length}`);
  return k;
}

/** A wgmpls extension flag: unlike WireGuard's own flags it can be turned off again. */
function parseBool(key: string, value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw invalid(`failed to set ${key}: invalid value ${JSON.stringify(value.slice(0, 40))} (only "true" or "false")`);
}

/** The wgmpls per-peer extension key for authenticated labels (docs/design.md section 3). */
export const LABEL_AUTH_KEY = 'wgmpls-label-auth';

function parseTrue(key: string, value: string): true {
  if (value !== 'true') throw invalid(`failed to set ${key}: invalid value ${JSON.stringify(value.slice(0, 40))} (only "true")`);
  return true;
}

/**
 * Parses the body of a `set=1` transaction (the lines after "set=1", without newlines; parsing
 * stops at the first empty line). Validates everything before returning, so a bad transaction
 * changes nothing; throws UapiError with wireguard-go's errno and a message naming the key:
 * EPROTO for a line without "=", EINVAL for everything else (unknown key, malformed value, peer
 * key before any public_key, protocol_version other than 1).
 *
 * Within one public_key block: `remove=true` discards what came before it and what follows it
 * (the device just removes the peer); `replace_allowed_ips=true` drops the allowed_ips collected
 * so far in that block; for the other keys the last value wins.
 */
export function parseSet(lines: readonly string[]): DeviceChange {
  const change: DeviceChange = { replacePeers: false, peers: [] };
  let peer: PeerChange | null = null;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (line === '') break;
    const eq = line.indexOf('=');
    if (eq < 0) throw new UapiError(Errno.EPROTO, `failed to parse line ${n + 1}: no "=" in it`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);

    if (key === 'public_key') {
      peer = { publicKey: parseKey(key, value), remove: false, updateOnly: false, replaceAllowedIps: false, allowedIps: [] };
      change.peers.push(peer);
      continue;
    }

    if (!peer) {
      switch (key) {
        case 'private_key': {
          const k = parseKey(key, value);
          change.privateKey = isZeroKey(k) ? null : k;
          break;
        }
        case 'listen_port':
          change.listenPort = parseUint(key, value, 0xffff);
          break;
        case 'fwmark':
          change.fwmark = parseUint(key, value, 0xffffffff);
          break;
        case 'replace_peers':
          change.replacePeers = parseTrue(key, value);
          break;
        default: {
          const peerKeys = ['preshared_key', 'endpoint', 'persistent_keepalive_interval', 'replace_allowed_ips', 'allowed_ip', 'remove', 'update_only', 'protocol_version', LABEL_AUTH_KEY];
          const hint = peerKeys.includes(key) ? ' (a peer key must follow a public_key line)' : '';
          throw invalid(`invalid UAPI device key: ${key === LABEL_AUTH_KEY ? key : printableKey(key)}${hint}`);
        }
      }
      continue;
    }

    // Lines after remove=true are still validated, but apply to nothing (wireguard-go: dummy peer).
    const p: PeerChange = peer.remove ? { ...peer, allowedIps: [] } : peer;
    switch (key) {
      case 'remove':
        parseTrue(key, value);
        peer.remove = true;
        peer.updateOnly = false;
        peer.replaceAllowedIps = false;
        peer.allowedIps = [];
        delete peer.presharedKey;
        delete peer.endpoint;
        delete peer.persistentKeepaliveInterval;
        delete peer.labelAuth;
        break;
      case 'update_only':
        p.updateOnly = parseTrue(key, value);
        break;
      case 'preshared_key':
        p.presharedKey = parseKey(key, value);
        break;
      case 'endpoint': {
        const e = parseEndpoint(value);
        if (!e) throw invalid(`failed to set endpoint ${JSON.stringify(value.slice(0, 80))}: expected a.b.c.d:port or [ipv6]:port`);
        p.endpoint = e;
        break;
      }
      case 'persistent_keepalive_interval':
        p.persistentKeepaliveInterval = parseUint(key, value, 0xffff);
        break;
      case 'replace_allowed_ips':
        p.replaceAllowedIps = parseTrue(key, value);
        p.allowedIps = [];
        break;
      case 'allowed_ip': {
        const prefix = parsePrefix(value);
        if (!prefix) throw invalid(`failed to set allowed_ip ${JSON.stringify(value.slice(0, 80))}: expected address/bits`);
        p.allowedIps.push(prefix);
        break;
      }
      case LABEL_AUTH_KEY:
        p.labelAuth = parseBool(key, value);
        break;
      case 'protocol_version':
        if (value !== '1') throw invalid(`invalid protocol_version: ${JSON.stringify(value.slice(0, 20))} (only 1)`);
        break;
      default:
        throw invalid(`invalid UAPI peer key: ${printableKey(key)}`);
    }
  }
  return change;
}

// ------------------------------------------------------------------------------------- get

/** The status trailer: wireguard-go writes errno negated ("errno=-22"); wg reads it back as -ret. */
export function formatErrno(errno: number): string {
  return `errno=${errno === 0 ? 0 : -Math.abs(errno)}\n\n`;
}

/**
 * The full `get=1` response, as wireguard-go prints it, trailer ("errno=0\n\n") included. With
 * `extensions` (the `wgmpls-get=1` operation) each peer also carries `wgmpls-label-auth`: never in
 * a plain get, because `wg` refuses a response with a key it does not know (EPROTO).
 */
export function formatGet(s: DeviceSnapshot, extensions = false): string {
  const out: string[] = [];
  if (s.privateKey && !isZeroKey(s.privateKey)) out.push(`private_key=${keyToHex(s.privateKey)}`);
  if (s.listenPort !== 0) out.push(`listen_port=${s.listenPort}`);
  if (s.fwmark !== 0) out.push(`fwmark=${s.fwmark}`);
  for (const p of s.peers) {
    out.push(`public_key=${keyToHex(p.publicKey)}`);
    out.push(`preshared_key=${keyToHex(p.presharedKey)}`);
    out.push('protocol_version=1');
    if (extensions) out.push(`${LABEL_AUTH_KEY}=${p.labelAuth}`);
    if (p.endpoint) out.push(`endpoint=${endpointToString(p.endpoint)}`);
    out.push(`last_handshake_time_sec=${Math.trunc(p.lastHandshakeTimeSec)}`);
    out.push(`last_handshake_time_nsec=${Math.trunc(p.lastHandshakeTimeNsec)}`);
    out.push(`tx_bytes=${p.txBytes}`);
    out.push(`rx_bytes=${p.rxBytes}`);
    out.push(`persistent_keepalive_interval=${p.persistentKeepaliveInterval}`);
    for (const a of p.allowedIps) out.push(`allowed_ip=${prefixToString(a)}`);
  }
  return out.map((l) => `${l}\n`).join('') + formatErrno(0);
}
