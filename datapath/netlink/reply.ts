// The kernel's answer to one request: the ack, the error (errno, and with NETLINK_EXT_ACK the
// kernel's own reason and the offset of the attribute it refused), or the messages of a dump.
// Pure.
import { constants as os } from 'node:os';
import { FlagsAck, MessageType, NetlinkMessage, parseAttributes, parseMessages } from 'netlink';
import { Request, attrAt } from './message';

// struct nlmsgerr's extended-ack attributes (linux/netlink.h); the package does not name them.
const NLMSGERR_ATTR_MSG = 1;
const NLMSGERR_ATTR_OFFS = 2;

/** A request the kernel refused: errno by name, the kernel's reason and the attribute it named. */
export class NetlinkError extends Error {
  constructor(
    /** Positive errno. */
    readonly errno: number,
    /** Its name (EINVAL, EEXIST...). */
    readonly code: string,
    /** The kernel's extended-ack message, if it gave one. */
    readonly reason: string | undefined,
    /** The request's attribute the kernel pointed at, by name (RTA_NEWDST...). */
    readonly attribute: string | undefined,
  ) {
    super(`${reason ?? errnoText(errno)} (${code}${attribute ? `, attribute ${attribute}` : ''})`);
    this.name = 'NetlinkError';
  }
}

const names = new Map<number, string>(Object.entries(os.errno).map(([k, v]) => [v, k]));

function errnoName(errno: number): string {
  return names.get(errno) ?? `errno ${errno}`;
}

// strerror's words for the errors rtnetlink gives when it has no message of its own.
const TEXT: Record<string, string> = {
  EEXIST: 'File exists',
  ENOENT: 'No such file or directory',
  ESRCH: 'No such process',
  ENODEV: 'No such device',
  EINVAL: 'Invalid argument',
  ENETUNREACH: 'Network is unreachable',
  EPERM: 'Operation not permitted',
  EAFNOSUPPORT: 'Address family not supported by protocol',
  EOPNOTSUPP: 'Operation not supported',
  ERANGE: 'Numerical result out of range',
};

function errnoText(errno: number): string {
  const name = errnoName(errno);
  return TEXT[name] ?? name;
}

/** The error message's TLVs after the echoed request (NLM_F_ACK_TLVS). */
function extAck(data: Buffer, flags: number): { msg?: string; offset?: number } {
  if (!(flags & FlagsAck.ACK_TLVS)) return {};
  // int error, then the request's header; its payload too unless capped (NLM_F_CAPPED).
  const echoedLen = data.readUInt32LE(4);
  const start = 4 + (flags & FlagsAck.CAPPED ? 16 : echoedLen);
  const out: { msg?: string; offset?: number } = {};
  if (start > data.length) return out;
  parseAttributes(data.subarray(start), (a) => {
    if (a.type === NLMSGERR_ATTR_MSG) out.msg = a.data.toString('utf8').replace(/\0.*$/s, '');
    if (a.type === NLMSGERR_ATTR_OFFS && a.data.length >= 4) out.offset = a.data.readUInt32LE(0);
  });
  return out;
}

/**
 * The messages answering `req` among the datagrams received: resolves the ack to the data
 * messages before it (a dump's or a GET's answer), throws NetlinkError for an error.
 */
export function readReply(req: Request, datagrams: readonly Buffer[]): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  for (const d of datagrams) {
    for (const m of parseMessages(d)) {
      if (m.seq !== req.seq) continue;
      if (m.type === MessageType.DONE) return out;
      if (m.type !== MessageType.ERROR) {
        out.push(m);
        continue;
      }
      const err = m.data.readInt32LE(0);
      if (err === 0) return out;
      const { msg, offset } = extAck(m.data, m.flags);
      const errno = -err;
      throw new NetlinkError(errno, errnoName(errno), msg, offset === undefined ? undefined : attrAt(req, offset));
    }
  }
  // A GET answered with its message and no ack (no NLM_F_ACK asked) ends here too.
  if (out.length > 0) return out;
  throw new Error(`netlink: no answer to request ${req.seq}`);
}
