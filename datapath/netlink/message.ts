// One rtnetlink request as bytes, with a map of where each attribute sits: the kernel's
// extended ack names a refused attribute only by its byte offset in the request, and the
// user is told its name instead (reply.ts). Pure; the `netlink` package encodes the headers.
import { formatAttribute, formatHeader, HEADER_LENGTH, pad } from 'netlink';

/** Where one attribute starts and ends in the finished message (bytes from the nlmsghdr). */
export interface AttrSpan {
  name: string;
  start: number;
  end: number;
}

export interface Request {
  bytes: Buffer;
  seq: number;
  attrs: AttrSpan[];
}

/** A netlink attribute to encode: its type, name (for errors) and payload or nested attributes. */
export interface Attr {
  type: number;
  name: string;
  data?: Uint8Array;
  nested?: Attr[];
}

function encodeAttr(a: Attr, at: number, spans: AttrSpan[]): Buffer {
  let payload: Buffer;
  if (a.nested) {
    const parts: Buffer[] = [];
    let off = at + 4;
    for (const n of a.nested) {
      const b = encodeAttr(n, off, spans);
      parts.push(b);
      off += b.length;
    }
    payload = Buffer.concat(parts);
  } else {
    payload = Buffer.from(a.data ?? new Uint8Array(0));
  }
  // Attributes are 4-byte aligned; the header's length excludes the padding (NLA_ALIGN).
  const encoded = Buffer.concat(pad(formatAttribute({ type: a.type, nested: a.nested !== undefined, data: payload })));
  spans.push({ name: a.name, start: at, end: at + encoded.length });
  return encoded;
}

let nextSeq = 1;

/** The message: nlmsghdr, the fixed family header (rtmsg, ifinfomsg...), then the attributes. */
export function buildRequest(type: number, flags: number, fixed: Buffer, attrs: readonly Attr[], seq = nextSeq++): Request {
  const spans: AttrSpan[] = [];
  const body: Buffer[] = [fixed];
  let off = HEADER_LENGTH + fixed.length;
  for (const a of attrs) {
    const b = encodeAttr(a, off, spans);
    body.push(b);
    off += b.length;
  }
  const payload = Buffer.concat(body);
  const header = formatHeader({ length: HEADER_LENGTH + payload.length, type, flags, seq, port: 0 });
  return { bytes: Buffer.concat([header, payload]), seq, attrs: spans };
}

/** The innermost attribute containing byte `offset` of the request, if any. */
export function attrAt(req: Request, offset: number): string | undefined {
  let best: AttrSpan | undefined;
  for (const s of req.attrs) {
    if (offset >= s.start && offset < s.end && (!best || s.end - s.start < best.end - best.start)) best = s;
  }
  return best?.name;
}

export const u16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};

export const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};

/** A C string attribute (IFLA_IFNAME): the bytes and a terminating NUL. */
export const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);
