import { parseIp } from '../net/addr';

/** Address string -> bytes (4 or 16); throws on garbage (only for addresses we already trust). */
export function ipToBytes(address: string): Uint8Array {
  const b = parseIp(address.replace(/%.*$/, ''));
  if (!b) throw new Error(`not an IP address: ${address}`);
  return b;
}

/** Source identity for cookies and rate limiting: address bytes then the port, big-endian. */
export function addrPortBytes(address: string, port: number): Uint8Array {
  const ip = ipToBytes(address);
  const out = new Uint8Array(ip.length + 2);
  out.set(ip, 0);
  out[ip.length] = port >> 8;
  out[ip.length + 1] = port & 0xff;
  return out;
}
