// Packet builders for tests: real headers with valid checksums, nothing mocked.

export function ipv4Checksum(hdr: Buffer): number {
  let sum = 0;
  for (let i = 0; i < hdr.length; i += 2) if (i !== 10) sum += hdr.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4/UDP packet (UDP checksum 0, allowed for IPv4). */
export function ipv4Udp(src: string, dst: string, ttl: number, payload: Buffer, tos = 0): Buffer {
  const p = Buffer.alloc(28 + payload.length);
  p[0] = 0x45;
  p[1] = tos;
  p.writeUInt16BE(p.length, 2);
  p[8] = ttl;
  p[9] = 17;
  Buffer.from(src.split('.').map(Number)).copy(p, 12);
  Buffer.from(dst.split('.').map(Number)).copy(p, 16);
  p.writeUInt16BE(ipv4Checksum(p.subarray(0, 20)), 10);
  p.writeUInt16BE(4000, 20);
  p.writeUInt16BE(4001, 22);
  p.writeUInt16BE(8 + payload.length, 24);
  payload.copy(p, 28);
  return p;
}

/** An IPv6 packet with next header 59 (no next header) and the given hop limit. */
export function ipv6NoNext(hopLimit: number, payload: Buffer): Buffer {
  const p = Buffer.alloc(40 + payload.length);
  p[0] = 0x60;
  p.writeUInt16BE(payload.length, 4);
  p[6] = 59;
  p[7] = hopLimit;
  p[8] = 0xfd;
  p[23] = 1;
  p[24] = 0xfd;
  p[39] = 2;
  payload.copy(p, 40);
  return p;
}

export function lse(label: number, tc: number, bos: number, ttl: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(((label << 12) | (tc << 9) | (bos << 8) | ttl) >>> 0);
  return b;
}

export function parseLse(b: Buffer, off = 0): { label: number; tc: number; bos: number; ttl: number } {
  const v = b.readUInt32BE(off);
  return { label: v >>> 12, tc: (v >>> 9) & 7, bos: (v >>> 8) & 1, ttl: v & 0xff };
}

/** The 32-bit label stack entry at b[off], read independently of the code under test. */
export function lseAt(b: Uint8Array, off = 0): number {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).readUInt32BE(off);
}
