// WireGuard message layouts (whitepaper section 5.4, wireguard-go device/noise-protocol.go)
// plus the two wireguard-mpls data types (docs/design.md section 3). All integers little-endian.
//
// Types 1-3: the first 4 bytes are a little-endian u32 equal to the type (bytes 1-3 zero).
// Types 4-6: byte 0 is the type; bytes 1-3 are zero for type 4 and carry the top 24 bits of
// the outermost label stack entry for types 5 and 6. Receiver index, counter and encrypted
// payload follow identically for 4, 5 and 6.

export const MessageInitiationType = 1;
export const MessageResponseType = 2;
export const MessageCookieReplyType = 3;
export const MessageTransportType = 4;
export const MessageMplsUnicastType = 5;
export const MessageMplsMulticastType = 6;

export const KEY_LEN = 32;
export const TAG_LEN = 16;
export const MAC_LEN = 16;
export const TIMESTAMP_LEN = 12;
export const COOKIE_LEN = 16;
export const COOKIE_NONCE_LEN = 24;

// Message initiation: type(4) sender(4) ephemeral(32) static(32+16) timestamp(12+16) mac1 mac2
export const MessageInitiationSize = 148;
export const INIT_SENDER = 4;
export const INIT_EPHEMERAL = 8;
export const INIT_STATIC = 40;
export const INIT_STATIC_LEN = KEY_LEN + TAG_LEN; // 48
export const INIT_TIMESTAMP = 88;
export const INIT_TIMESTAMP_LEN = TIMESTAMP_LEN + TAG_LEN; // 28

// Message response: type(4) sender(4) receiver(4) ephemeral(32) empty(0+16) mac1 mac2
export const MessageResponseSize = 92;
export const RESP_SENDER = 4;
export const RESP_RECEIVER = 8;
export const RESP_EPHEMERAL = 12;
export const RESP_EMPTY = 44;
export const RESP_EMPTY_LEN = TAG_LEN;

// Cookie reply: type(4) receiver(4) nonce(24) cookie(16+16)
export const MessageCookieReplySize = 64;
export const COOKIE_RECEIVER = 4;
export const COOKIE_NONCE = 8;
export const COOKIE_COOKIE = 32;
export const COOKIE_COOKIE_LEN = COOKIE_LEN + TAG_LEN; // 32

// Transport data (and MPLS data): type(1) label(3) receiver(4) counter(8) packet(n+16)
export const MessageTransportHeaderSize = 16;
export const MessageTransportSize = MessageTransportHeaderSize + TAG_LEN; // 32: the minimum (keepalive)
export const DATA_RECEIVER = 4;
export const DATA_COUNTER = 8;

/** Offset of mac1 / mac2 in a handshake message of length len (initiation or response). */
export function mac1Offset(len: number): number {
  return len - 2 * MAC_LEN;
}
export function mac2Offset(len: number): number {
  return len - MAC_LEN;
}

/**
 * The type of a well-formed message, or 0. Types 1-3 need their exact size and bytes 1-3
 * zero; types 4-6 need at least 32 bytes (bytes 1-3 are not looked at: label bits).
 */
export function messageType(buf: Uint8Array): number {
  if (buf.length < 4) return 0;
  const t = buf[0];
  switch (t) {
    case MessageInitiationType:
    case MessageResponseType:
    case MessageCookieReplyType: {
      if (buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0) return 0;
      const size =
        t === MessageInitiationType
          ? MessageInitiationSize
          : t === MessageResponseType
            ? MessageResponseSize
            : MessageCookieReplySize;
      return buf.length === size ? t : 0;
    }
    case MessageTransportType:
    case MessageMplsUnicastType:
    case MessageMplsMulticastType:
      return buf.length >= MessageTransportSize ? t : 0;
    default:
      return 0;
  }
}

export function readU32LE(buf: Uint8Array, off: number): number {
  return (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0;
}

export function writeU32LE(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v & 0xff;
  buf[off + 1] = (v >>> 8) & 0xff;
  buf[off + 2] = (v >>> 16) & 0xff;
  buf[off + 3] = (v >>> 24) & 0xff;
}

/** Writes the first word of a message: type in byte 0, then 3 zero bytes (types 1-4). */
export function writeType(buf: Uint8Array, type: number): void {
  writeU32LE(buf, 0, type);
}

/** The 24 label bits of a type 5/6 data header (bytes 1-3 as a LE u24: label<<4|tc<<1|bos). */
export function readLse24(buf: Uint8Array): number {
  return buf[1] | (buf[2] << 8) | (buf[3] << 16);
}
