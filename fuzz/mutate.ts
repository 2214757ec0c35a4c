// Byte-level inputs: valid examples ("templates") changed by a few random edits, the way
// coverage-guided fuzzers mutate their corpus, next to wholly random bytes. Edits: flip a bit,
// set a byte, write an interesting 32-bit value, truncate, extend, insert, delete, repeat a
// range, splice in another template.
import fc from 'fast-check';

type Edit =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'u32'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'append'; bytes: Uint8Array }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; n: number }
  | { op: 'repeat'; at: number; n: number }
  | { op: 'splice'; at: number; other: number };

const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

const position = fc.nat({ max: 4096 });
const edit: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at: position, bit: fc.nat({ max: 7 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('set' as const), at: position, value: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('u32' as const), at: position, value: fc.constantFrom(...INTERESTING_U32) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: position }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at: position, n: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('repeat' as const), at: position, n: fc.integer({ min: 1, max: 32 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('splice' as const), at: position, other: fc.nat() }) },
);

function apply(buf: Buffer, e: Edit, templates: readonly Uint8Array[]): Buffer {
  // subarray views are fine here: the final Buffer.from copies
  const len = buf.length;
  const at = len === 0 ? 0 : e.op === 'append' ? 0 : ('at' in e ? e.at % (len + 1) : 0);
  switch (e.op) {
    case 'flip':
      if (at < len) buf[at] ^= 1 << e.bit;
      return buf;
    case 'set':
      if (at < len) buf[at] = e.value;
      return buf;
    case 'u32':
      if (at + 4 <= len) buf.writeUInt32LE(e.value, at);
      return buf;
    case 'truncate':
      return buf.subarray(0, at);
    case 'append':
      return Buffer.concat([buf, e.bytes]);
    case 'insert':
      return Buffer.concat([buf.subarray(0, at), e.bytes, buf.subarray(at)]);
    case 'delete':
      return Buffer.concat([buf.subarray(0, at), buf.subarray(at + e.n)]);
    case 'repeat':
      return Buffer.concat([buf.subarray(0, at + e.n), buf.subarray(at)]);
    case 'splice': {
      const other = templates[e.other % templates.length];
      return Buffer.concat([buf.subarray(0, at), other.subarray(Math.min(at, other.length))]);
    }
  }
}

const inPlaceEdit = edit.filter((e) => e.op === 'flip' || e.op === 'set' || e.op === 'u32');

/** A template with 1-4 edits that keep its length (flip, set, u32): a body changed, not its frame. */
export function mutatedInPlace(templates: readonly Uint8Array[]): fc.Arbitrary<Buffer> {
  return fc.tuple(fc.nat({ max: templates.length - 1 }), fc.array(inPlaceEdit, { minLength: 1, maxLength: 4 })).map(([i, edits]) => {
    let buf: Buffer = Buffer.from(templates[i]);
    for (const e of edits) buf = apply(buf, e, templates);
    return buf;
  });
}

/** A template with 1-8 edits (each on a fresh copy), or random bytes up to maxRandom long. */
export function mutatedBytes(templates: readonly Uint8Array[], maxRandom = 256): fc.Arbitrary<Buffer> {
  const mutated = fc.tuple(fc.nat({ max: templates.length - 1 }), fc.array(edit, { minLength: 1, maxLength: 8 })).map(([i, edits]) => {
    let buf: Buffer = Buffer.from(templates[i]);
    for (const e of edits) buf = apply(buf, e, templates);
    return Buffer.from(buf); // a copy of its own: the code under test may write into it
  });
  const random = fc.uint8Array({ maxLength: maxRandom }).map((u) => Buffer.from(u));
  return fc.oneof({ weight: 8, arbitrary: mutated }, { weight: 2, arbitrary: random });
}
