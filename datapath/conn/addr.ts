import { isIPv4, isIPv6 } from 'node:net';

/** Address string -> bytes (4 or 16); IPv4-mapped IPv6 stays 16 bytes. Throws on garbage. */
export function ipToBytes(address: string): Uint8Array {
  if (isIPv4(address)) return Uint8Array.from(address.split('.').map(Number));
  const bare = address.replace(/%.*$/, '');
  if (!isIPv6(bare)) throw new Error(`not an IP address: ${address}`);
  const [head, tail] = bare.includes('::') ? bare.split('::') : [bare, undefined];
  const conv = (part: string | undefined): number[] => {
    if (!part) return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const b = g.split('.').map(Number);
        out.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const h = conv(head);
  const t = conv(tail);
  const groups = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
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
