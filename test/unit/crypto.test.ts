import { randomBytes, randomInt } from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2';
import { hmac as nobleHmac } from '@noble/hashes/hmac';
import { chacha20poly1305 } from '@noble/ciphers/chacha';
import { x25519 as nobleX25519 } from '@noble/curves/ed25519';
import { hash, hmac, kdf, mac } from '../../datapath/crypto/blake2s';
import { dh, generatePrivateKey, importPrivateKey, importPublicKey, publicKey } from '../../datapath/crypto/x25519';
import { open, seal, wgNonce, xopen, xseal } from '../../datapath/crypto/aead';
import { compareTai64n, tai64n } from '../../datapath/crypto/tai64n';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
const rnd = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
const seq = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i);

describe('BLAKE2s', () => {
  test('HASH known answers (RFC 7693 appendix B and the empty string)', () => {
    expect(hex(hash(new Uint8Array(0)))).toBe('69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9');
    expect(hex(hash(ascii('abc')))).toBe('508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982');
    // parts are concatenated
    expect(hex(hash(ascii('a'), ascii(''), ascii('bc')))).toBe(hex(hash(ascii('abc'))));
  });

  test('keyed BLAKE2s: reference KAT (blake2s-kat.txt, key 00..1f) and MAC (16-byte digest)', () => {
    const key = seq(32);
    expect(hex(blake2s(new Uint8Array(0), { key }))).toBe('48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49');
    expect(hex(blake2s(Uint8Array.of(0), { key }))).toBe('40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1');
    // 16-byte digest (digest length is in the parameter block: not a truncation);
    // values from CPython hashlib.blake2s(digest_size=16, key=...), the reference C code.
    expect(hex(mac(key, new Uint8Array(0)))).toBe('9536f9b267655743dee97b8a670f9f53');
    expect(hex(mac(key, ascii('abc')))).toBe('61ba5f165c194692e09d12520cc4c74a');
    expect(hex(mac(key.subarray(0, 16), seq(64)))).toBe('dd55c51c98f8ab96ed272882941f0b6a');
    expect(hex(mac(key, ascii('ab'), ascii('c')))).toBe('61ba5f165c194692e09d12520cc4c74a');
  });

  test('HMAC (node:crypto) agrees with @noble/hashes HMAC-BLAKE2s', () => {
    for (let i = 0; i < 200; i++) {
      const key = rnd(i % 2 === 0 ? 32 : randomInt(1, 100));
      const msg = rnd(randomInt(0, 200));
      expect(hex(hmac(key, msg))).toBe(hex(nobleHmac(blake2s, key, msg)));
    }
    // also a fixed answer from CPython hmac.new(key, msg, hashlib.blake2s)
    expect(hex(hmac(seq(32), ascii('abc')))).toBe('82623be5bc0a391b24dce53e67d028eff92d586de0485ac37822e597d049c74f');
  });

  test('KDF_n follows the whitepaper definition', () => {
    const key = rnd(32);
    const input = rnd(32);
    const t0 = nobleHmac(blake2s, key, input);
    const t1 = nobleHmac(blake2s, t0, Uint8Array.of(1));
    const t2 = nobleHmac(blake2s, t0, Uint8Array.from([...t1, 2]));
    const t3 = nobleHmac(blake2s, t0, Uint8Array.from([...t2, 3]));
    expect(kdf(1, key, input).map(hex)).toEqual([hex(t1)]);
    expect(kdf(2, key, input).map(hex)).toEqual([hex(t1), hex(t2)]);
    expect(kdf(3, key, input).map(hex)).toEqual([hex(t1), hex(t2), hex(t3)]);
    // empty input (final key derivation)
    const e0 = nobleHmac(blake2s, key, new Uint8Array(0));
    expect(hex(kdf(1, key, new Uint8Array(0))[0])).toBe(hex(nobleHmac(blake2s, e0, Uint8Array.of(1))));
  });
});

describe('X25519', () => {
  test('RFC 7748 section 5.2 vectors', () => {
    expect(
      hex(
        dh(
          unhex('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4'),
          unhex('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c'),
        )!,
      ),
    ).toBe('c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552');
    expect(
      hex(
        dh(
          unhex('4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d'),
          unhex('e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493'),
        )!,
      ),
    ).toBe('95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957');
  });

  test('RFC 7748 section 5.2 iterated (1 and 1000 iterations)', () => {
    let k: Uint8Array = new Uint8Array(32);
    k[0] = 9;
    let u: Uint8Array = Uint8Array.from(k);
    for (let i = 1; i <= 1000; i++) {
      const r = dh(k, u)!;
      u = k;
      k = r;
      if (i === 1) expect(hex(k)).toBe('422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079');
    }
    expect(hex(k)).toBe('684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51');
  });

  test('RFC 7748 section 6.1 Diffie-Hellman', () => {
    const a = unhex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const b = unhex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
    const A = publicKey(a);
    const B = publicKey(b);
    expect(hex(A)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(hex(B)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(hex(dh(a, B)!)).toBe(shared);
    expect(hex(dh(b, A)!)).toBe(shared);
    // KeyObject forms give the same
    expect(hex(dh(importPrivateKey(a), importPublicKey(B))!)).toBe(shared);
    expect(hex(publicKey(importPrivateKey(a)))).toBe(hex(A));
  });

  test('agrees with @noble/curves on random keys', () => {
    for (let i = 0; i < 50; i++) {
      const a = generatePrivateKey();
      const b = rnd(32); // unclamped too: X25519 clamps
      const B = publicKey(b);
      expect(hex(B)).toBe(hex(nobleX25519.getPublicKey(b)));
      expect(hex(dh(a, B)!)).toBe(hex(nobleX25519.getSharedSecret(a, B)));
    }
  });

  test('generated keys are clamped; DH agrees both ways', () => {
    for (let i = 0; i < 20; i++) {
      const k = generatePrivateKey();
      expect(k[0] & 7).toBe(0);
      expect(k[31] & 0x80).toBe(0);
      expect(k[31] & 0x40).toBe(0x40);
    }
    const a = generatePrivateKey();
    const b = generatePrivateKey();
    expect(hex(dh(importPrivateKey(a), publicKey(b))!)).toBe(hex(dh(b, publicKey(a))!));
  });

  test('low-order points and bad lengths give null, never throw', () => {
    const priv = generatePrivateKey();
    const lowOrder = [
      '0000000000000000000000000000000000000000000000000000000000000000',
      '0100000000000000000000000000000000000000000000000000000000000000',
      'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
      '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
      'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    ];
    for (const p of lowOrder) expect(dh(priv, unhex(p))).toBeNull();
    expect(dh(priv, rnd(31))).toBeNull();
    expect(dh(rnd(33), publicKey(priv))).toBeNull();
  });
});

// RFC 8439 section 2.8.2
const SUNSCREEN = ascii(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
);
const RFC_KEY = unhex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
const RFC_AAD = unhex('50515253c0c1c2c3c4c5c6c7');

describe('ChaCha20-Poly1305', () => {
  test('RFC 8439 section 2.8.2 inputs under a WireGuard nonce: same as @noble/ciphers (checked against the RFC there)', () => {
    const counter = 0x4746454443424140n;
    const ct = seal(RFC_KEY, counter, SUNSCREEN, RFC_AAD);
    expect(hex(ct)).toBe(hex(chacha20poly1305(RFC_KEY, wgNonce(counter), RFC_AAD).encrypt(SUNSCREEN)));
    expect(Buffer.from(open(RFC_KEY, counter, ct, RFC_AAD)!).toString()).toBe(Buffer.from(SUNSCREEN).toString());
    expect(open(RFC_KEY, counter, ct, RFC_AAD.subarray(1))).toBeNull();
  });

  test('WireGuard nonce layout', () => {
    expect(hex(wgNonce(0))).toBe('000000000000000000000000');
    expect(hex(wgNonce(0x0102030405))).toBe('000000000504030201000000');
    expect(hex(wgNonce(0x0102030405n))).toBe('000000000504030201000000');
    expect(hex(wgNonce((1n << 64n) - 1n))).toBe('00000000ffffffffffffffff');
    expect(hex(wgNonce(Number.MAX_SAFE_INTEGER))).toBe(hex(wgNonce(BigInt(Number.MAX_SAFE_INTEGER))));
    expect(() => wgNonce(-1)).toThrow(RangeError);
    expect(() => wgNonce(1n << 64n)).toThrow(RangeError);
  });

  test('node:crypto seal/open agree with @noble/ciphers on 1000 random inputs; a flipped bit is rejected', () => {
    for (let i = 0; i < 1000; i++) {
      const key = rnd(32);
      const counter = i % 3 === 0 ? BigInt(randomInt(0, 2 ** 47)) * 131071n : randomInt(0, 2 ** 48 - 1);
      const pt = rnd(i % 10 === 0 ? 0 : randomInt(0, 1500));
      const ad = i % 2 === 0 ? undefined : rnd(randomInt(0, 64));
      const ct = seal(key, counter, pt, ad);
      const reference = chacha20poly1305(key, wgNonce(counter), ad).encrypt(pt);
      expect(ct.length).toBe(pt.length + 16);
      expect(Buffer.compare(Buffer.from(ct), Buffer.from(reference))).toBe(0);
      const back = open(key, counter, reference, ad);
      expect(back).not.toBeNull();
      expect(Buffer.compare(Buffer.from(back!), Buffer.from(pt))).toBe(0);
      const bad = Uint8Array.from(ct);
      const bit = randomInt(0, bad.length * 8);
      bad[bit >> 3] ^= 1 << (bit & 7);
      expect(open(key, counter, bad, ad)).toBeNull();
      if (typeof counter === 'number') expect(open(key, counter + 1, ct, ad)).toBeNull();
    }
  });

  test('short input is rejected; a keepalive is a tag alone', () => {
    const key = rnd(32);
    expect(open(key, 0, new Uint8Array(15))).toBeNull();
    const ka = seal(key, 9, new Uint8Array(0));
    expect(ka.length).toBe(16);
    expect(open(key, 9, ka)!.length).toBe(0);
  });
});

describe('XChaCha20-Poly1305', () => {
  test('draft-irtf-cfrg-xchacha-03 appendix A.3.1', () => {
    const nonce = unhex('404142434445464748494a4b4c4d4e4f5051525354555657');
    const expected =
      'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39' +
      'ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9' +
      '21f9664c97637da9768812f615c68b13b52e' +
      'c0875924c1c7987947deafd8780acf49';
    const ct = xseal(RFC_KEY, nonce, SUNSCREEN, RFC_AAD);
    expect(hex(ct)).toBe(expected);
    expect(hex(xopen(RFC_KEY, nonce, ct, RFC_AAD)!)).toBe(hex(SUNSCREEN));
    const bad = Uint8Array.from(ct);
    bad[bad.length - 1] ^= 0x80;
    expect(xopen(RFC_KEY, nonce, bad, RFC_AAD)).toBeNull();
    expect(xopen(RFC_KEY, nonce, ct)).toBeNull();
    expect(xopen(RFC_KEY, nonce, new Uint8Array(3), RFC_AAD)).toBeNull();
  });
});

describe('TAI64N', () => {
  test('layout: seconds + 2^62 + 10 and whitened nanoseconds, big-endian', () => {
    expect(hex(tai64n(0))).toBe('400000000000000a00000000');
    // 1e9 s + 123.456 ms: 123456000 ns whitened down to 7 * 2^24 = 117440512 = 0x07000000
    expect(hex(tai64n(1e12 + 123.456))).toBe('400000003b9aca0a07000000');
    // 2024-01-01T00:00:00.999Z: 999 ms -> 59 * 2^24 = 989855744 = 0x3b000000
    expect(hex(tai64n(Date.UTC(2024, 0, 1) + 999))).toBe('400000006592008a3b000000');
  });

  test('whitened to 2^24 ns and monotonic', () => {
    const base = 1_700_000_000_000;
    let prev = tai64n(base);
    for (let t = base; t < base + 3000; t += 1.7) {
      const cur = tai64n(t);
      const nanos = new DataView(cur.buffer).getUint32(8);
      expect(nanos % 2 ** 24).toBe(0);
      expect(nanos).toBeLessThan(1e9);
      expect(compareTai64n(cur, prev)).toBeGreaterThanOrEqual(0);
      // more than one whitening step apart: strictly later
      expect(compareTai64n(tai64n(t + 16.8), cur)).toBe(1);
      prev = cur;
    }
    // within the same 2^24 ns window: equal (a replay to the responder)
    expect(compareTai64n(tai64n(base + 1), tai64n(base + 2))).toBe(0);
    expect(compareTai64n(tai64n(base), tai64n(base + 1000))).toBe(-1);
    expect(compareTai64n(tai64n(base + 1000), tai64n(base))).toBe(1);
  });
});
