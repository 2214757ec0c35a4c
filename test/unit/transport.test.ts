// The transport AEAD of data messages, in the native addon, checked against @noble/ciphers:
// both directions, counters past 2^32, padding, empty (keepalive) payloads, forgeries, and
// what happens to a key after it was destroyed.
import { randomBytes, randomInt } from 'node:crypto';
import { chacha20poly1305 } from '@noble/ciphers/chacha';
import {
  OPEN_FORGED,
  OPEN_OTHER_AD,
  destroyTransportKey,
  openTransportLength,
  paddingFor,
  sealTransport,
  transportKey,
  type TransportKey,
} from '../../datapath/device/transport';
import { MessageTransportHeaderSize } from '../../datapath/noise/messages';
import { aeadBackend, primitivesAvailable } from '../../datapath/crypto/native';
import { describeWhere } from '../canRun';

/** The plaintext as a view of msg after the header, or null when forged (no associated data). */
function openTransport(key: TransportKey, counterLo: number, counterHi: number, msg: Buffer): Buffer | null {
  const n = openTransportLength(key, counterLo, counterHi, msg, false, false);
  return n < 0 ? null : msg.subarray(MessageTransportHeaderSize, MessageTransportHeaderSize + n);
}

/** A data message's 16-byte header (type, 24 bits of label entry, receiver, counter), written out by hand. */
const headerOf = (type: number, lse24: number, receiver: number, counter: number): Buffer => {
  const h = Buffer.alloc(16);
  h[0] = type;
  h.writeUIntLE(lse24, 1, 3);
  h.writeUInt32LE(receiver, 4);
  h.writeUInt32LE(counter % 0x1_0000_0000, 8);
  h.writeUInt32LE(Math.floor(counter / 0x1_0000_0000), 12);
  return h;
};

const nonceOf = (counter: number): Uint8Array => {
  const n = Buffer.alloc(12);
  n.writeUInt32LE(counter % 0x1_0000_0000, 4);
  n.writeUInt32LE(Math.floor(counter / 0x1_0000_0000), 8);
  return n;
};

// Both ways the addon seals: OpenSSL's EVP interface, and the AEAD composed from OpenSSL's own
// ChaCha20 and Poly1305 primitives (used when the node binary exports them and they pass the
// addon's start-up self-test). The primitives are meant to be there on the node this project
// runs on (CI's); elsewhere that half is skipped with the reason.
const BACKENDS = [
  { name: 'evp' as const, whyNot: null },
  { name: 'primitives' as const, whyNot: primitivesAvailable() ? null : 'this node binary does not export OpenSSL\'s ChaCha20_ctr32/Poly1305 (or they failed the self-test)' },
];

for (const backend of BACKENDS) describeWhere(backend.whyNot)(`transport messages (native ChaCha20-Poly1305, ${backend.name})`, () => {
  let before: string;
  beforeAll(() => {
    before = aeadBackend();
    expect(aeadBackend(backend.name)).toBe(backend.name);
  });
  afterAll(() => {
    aeadBackend(before as 'evp' | 'primitives');
  });

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

      const header = headerOf(type, lse24, receiver, counter);
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

  describe('authenticated labels: header bytes 0-3 as associated data', () => {
    test('seal with the header as AD agrees with @noble/ciphers (AAD = bytes 0-3) on 300 random messages', () => {
      for (let i = 0; i < 300; i++) {
        const raw = randomBytes(32);
        const payload = randomBytes(randomInt(0, 1500));
        const padding = paddingFor(payload.length, 1420);
        const counter = randomInt(0, 0xffff_ffff) + (i % 2) * 0x1_0000_0000 * 3;
        const lse24 = randomInt(0, 1 << 24);
        const receiver = randomInt(0, 0xffff_ffff);
        const type = [5, 6][i % 2];
        const msg = sealTransport(transportKey(raw), type, lse24, receiver, counter, payload, padding, true);
        const header = headerOf(type, lse24, receiver, counter);
        const sealed = chacha20poly1305(raw, nonceOf(counter), header.subarray(0, 4)).encrypt(Buffer.concat([payload, Buffer.alloc(padding)]));
        expect(msg.equals(Buffer.concat([header, sealed]))).toBe(true);
        // And it is not the message an empty AD gives: the tag differs.
        expect(msg.equals(sealTransport(transportKey(raw), type, lse24, receiver, counter, payload, padding, false))).toBe(false);
      }
    });

    test('open with the header as AD takes what @noble/ciphers sealed with it, in place', () => {
      for (let i = 0; i < 300; i++) {
        const raw = randomBytes(32);
        const payload = randomBytes(randomInt(0, 1500));
        const counter = randomInt(0, 0xffff_ffff);
        const header = headerOf(5 + (i % 2), randomInt(0, 1 << 24), randomInt(0, 0xffff_ffff), counter);
        const msg = Buffer.concat([header, chacha20poly1305(raw, nonceOf(counter), header.subarray(0, 4)).encrypt(payload)]);
        expect(openTransportLength(transportKey(raw), counter, 0, msg, true, false)).toBe(payload.length);
        expect(msg.subarray(16, 16 + payload.length).equals(payload)).toBe(true);
        expect(msg.subarray(0, 16).equals(header)).toBe(true);
      }
    });

    test('any change to bytes 0-3 fails; the untouched message still opens afterwards', () => {
      const raw = randomBytes(32);
      const key = transportKey(raw);
      const payload = randomBytes(300);
      const sealed = sealTransport(key, 5, 0x000651, 7, 1234, payload, 4, true);
      for (let bit = 0; bit < 32; bit++) {
        const m = Buffer.from(sealed);
        m[bit >> 3] ^= 1 << (bit & 7);
        expect(openTransportLength(key, 1234, 0, m, true, false)).toBe(OPEN_FORGED);
        // The other way (no AD) does not open it either: it is forged, not a setting mismatch.
        expect(openTransportLength(key, 1234, 0, Buffer.from(m), true, true)).toBe(OPEN_FORGED);
      }
      // Bytes 4-15 are not AD but still bound: the receiver index picks the key, the counter is the nonce.
      const m = Buffer.from(sealed);
      expect(openTransportLength(key, 1235, 0, m, true, false)).toBe(OPEN_FORGED);
      const good = Buffer.from(sealed);
      expect(openTransportLength(key, 1234, 0, good, true, false)).toBe(300 + 4);
      expect(good.subarray(16, 316).equals(payload)).toBe(true);
    });

    test('type flips fail both ways: 4 -> 5/6 (sealed with no AD) and 5/6 -> 4 (sealed with the header)', () => {
      const key = transportKey(randomBytes(32));
      const payload = randomBytes(64);
      // 4 -> 5 or 6, bytes 1-3 as they were (zero) or set to a label: the receiver uses the header as AD.
      for (const [type, lse] of [[5, 0], [6, 0], [5, 0x000651]]) {
        const m = sealTransport(key, 4, 0, 1, 10, payload, 0, false);
        m[0] = type;
        m.writeUIntLE(lse, 1, 3);
        expect(openTransportLength(key, 10, 0, Buffer.from(m), true, false)).toBe(OPEN_FORGED);
        // With tryOther it is recognised as opening only without AD: dropped as a mismatch, still not delivered.
        expect(openTransportLength(key, 10, 0, Buffer.from(m), true, true)).toBe(OPEN_OTHER_AD);
      }
      // 5/6 -> 4 with bytes 1-3 zeroed: type 4 is opened with no AD, and fails.
      for (const type of [5, 6]) {
        const m = sealTransport(key, type, 0x000651, 1, 11, payload, 0, true);
        m[0] = 4;
        m.writeUIntLE(0, 1, 3);
        expect(openTransportLength(key, 11, 0, m, false, false)).toBe(OPEN_FORGED);
      }
      // 5 <-> 6.
      const m = sealTransport(key, 5, 0x000651, 1, 12, payload, 0, true);
      m[0] = 6;
      expect(openTransportLength(key, 12, 0, m, true, true)).toBe(OPEN_FORGED);
    });

    test('a setting mismatch is told apart from forgery, both ways, without a copy of the message', () => {
      const key = transportKey(randomBytes(32));
      const payload = randomBytes(777);
      const withAd = sealTransport(key, 5, 0x0abcde, 1, 99, payload, 7, true);
      const without = sealTransport(key, 5, 0x0abcde, 1, 99, payload, 7, false);
      expect(openTransportLength(key, 99, 0, Buffer.from(withAd), false, true)).toBe(OPEN_OTHER_AD);
      expect(openTransportLength(key, 99, 0, Buffer.from(without), true, true)).toBe(OPEN_OTHER_AD);
      expect(openTransportLength(key, 99, 0, Buffer.from(withAd), false, false)).toBe(OPEN_FORGED);
      // Each opens as it was sealed, and the key's context is fine after the failed attempts.
      expect(openTransportLength(key, 99, 0, Buffer.from(withAd), true, true)).toBe(784);
      expect(openTransportLength(key, 99, 0, Buffer.from(without), false, true)).toBe(784);
      // Empty payloads (keepalives) too.
      const ka = sealTransport(key, 6, 1, 1, 5, Buffer.alloc(0), 0, true);
      expect(openTransportLength(key, 5, 0, Buffer.from(ka), false, true)).toBe(OPEN_OTHER_AD);
      expect(openTransportLength(key, 5, 0, Buffer.from(ka), true, false)).toBe(0);
    });
  });
});
