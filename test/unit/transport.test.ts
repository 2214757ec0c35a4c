// The transport AEAD of data messages, in the native addon, checked against @noble/ciphers:
// both directions, counters past 2^32, padding, empty (keepalive) payloads, forgeries, and
// what happens to a key after it was destroyed.
import { randomBytes, randomInt } from 'node:crypto';
import { chacha20poly1305 } from '@noble/ciphers/chacha';
import { destroyTransportKey, openTransport, paddingFor, sealTransport, transportKey } from '../../datapath/device/transport';

const nonceOf = (counter: number): Uint8Array => {
  const n = Buffer.alloc(12);
  n.writeUInt32LE(counter % 0x1_0000_0000, 4);
  n.writeUInt32LE(Math.floor(counter / 0x1_0000_0000), 8);
  return n;
};

describe('transport messages (native ChaCha20-Poly1305)', () => {
  test('seal agrees with @noble/ciphers byte for byte, header included, on 500 random messages', () => {
    for (let i = 0; i < 500; i++) {
      const raw = randomBytes(32);
      const key = transportKey(raw);
      const payload = randomBytes(randomInt(0, 1500));
      const padding = paddingFor(payload.length, 1420);
      const counter = i % 3 === 0 ? 0x1_0000_0000 * randomInt(0, 0x1f_ffff) + randomInt(0, 0xffff_ffff) : randomInt(0, 1 << 30);
      const lse24 = randomInt(0, 1 << 24);
      const receiver = randomInt(0, 0xffff_ffff);
      const type = [4, 5, 6][i % 3];
      const msg = sealTransport(key, type, lse24, receiver, counter, payload, padding);

      const header = Buffer.alloc(16);
      header[0] = type;
      header.writeUIntLE(lse24, 1, 3);
      header.writeUInt32LE(receiver, 4);
      header.writeUInt32LE(counter % 0x1_0000_0000, 8);
      header.writeUInt32LE(Math.floor(counter / 0x1_0000_0000), 12);
      const plain = Buffer.concat([payload, Buffer.alloc(padding)]);
      const want = Buffer.concat([header, chacha20poly1305(raw, nonceOf(counter)).encrypt(plain)]);
      expect(msg.equals(want)).toBe(true);
    }
  });

  test('open takes what @noble/ciphers sealed, in place, leaving the header alone', () => {
    for (let i = 0; i < 500; i++) {
      const raw = randomBytes(32);
      const key = transportKey(raw);
      const payload = randomBytes(randomInt(0, 1500));
      const counter = randomInt(0, 0xffff_ffff) + (i % 2) * 0x1_0000_0000 * 7;
      const header = randomBytes(16);
      const msg = Buffer.concat([header, chacha20poly1305(raw, nonceOf(counter)).encrypt(payload)]);
      const plain = openTransport(key, counter % 0x1_0000_0000, Math.floor(counter / 0x1_0000_0000), msg);
      expect(plain).not.toBeNull();
      expect(Buffer.compare(plain as Buffer, payload)).toBe(0);
      expect(msg.subarray(0, 16).equals(header)).toBe(true);
    }
  });

  test('one key seals and opens many messages in a row (the context is re-armed per nonce only)', () => {
    const raw = randomBytes(32);
    const sender = transportKey(raw);
    const receiver = transportKey(raw);
    for (let c = 0; c < 2000; c++) {
      const payload = randomBytes(c % 300);
      const msg = sealTransport(sender, 4, 0, 1, c, payload, 0);
      const plain = openTransport(receiver, c, 0, msg);
      expect(plain && Buffer.compare(plain, payload)).toBe(0);
    }
  });

  test('a flipped bit anywhere in body or tag, a wrong counter or a wrong key is refused', () => {
    const raw = randomBytes(32);
    const key = transportKey(raw);
    const payload = randomBytes(200);
    const sealed = sealTransport(key, 4, 0, 9, 77, payload, 8);
    for (let bit = 16 * 8; bit < sealed.length * 8; bit += 13) {
      const m = Buffer.from(sealed);
      m[bit >> 3] ^= 1 << (bit & 7);
      expect(openTransport(key, 77, 0, m)).toBeNull();
    }
    expect(openTransport(key, 78, 0, Buffer.from(sealed))).toBeNull();
    expect(openTransport(key, 77, 1, Buffer.from(sealed))).toBeNull();
    expect(openTransport(transportKey(randomBytes(32)), 77, 0, Buffer.from(sealed))).toBeNull();
    // And the untouched message still opens: nothing above disturbed the key's context.
    expect(openTransport(key, 77, 0, Buffer.from(sealed))?.subarray(0, 200).equals(payload)).toBe(true);
  });

  test('keepalives (empty payload) and too-short messages', () => {
    const key = transportKey(randomBytes(32));
    const keepalive = sealTransport(key, 4, 0, 3, 5, Buffer.alloc(0), 0);
    expect(keepalive).toHaveLength(32);
    expect(openTransport(key, 5, 0, keepalive)).toHaveLength(0);
    expect(openTransport(key, 5, 0, keepalive.subarray(0, 31))).toBeNull();
    expect(openTransport(key, 5, 0, Buffer.alloc(0))).toBeNull();
  });

  test('a destroyed key refuses to work; bad arguments are type errors', () => {
    const key = transportKey(randomBytes(32));
    destroyTransportKey(key);
    destroyTransportKey(key); // idempotent
    expect(() => sealTransport(key, 4, 0, 0, 0, Buffer.alloc(1), 0)).toThrow(/destroyed/);
    expect(() => openTransport(key, 0, 0, Buffer.alloc(40))).toThrow(/destroyed/);
    expect(() => transportKey(randomBytes(16))).toThrow(/32 bytes/);
    // A handle of another kind must not be taken for a key.
    expect(() => openTransport({} as never, 0, 0, Buffer.alloc(40))).toThrow(/handle made by this addon/);
  });
});
