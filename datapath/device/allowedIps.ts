// Longest-prefix-match table from IP prefixes to peers (WireGuard's "allowed IPs": the
// peer to encrypt to for a destination, and the source check on receive).
//
// One path-compressed binary trie per family. Every node holds its whole prefix (so a
// lookup can stop at the first node that does not cover the address) and, optionally, a
// peer; nodes without a peer exist only where two branches diverge. Keys are big-endian
// 32-bit words, so IPv4 compares one integer per node and IPv6 at most four.

import type { Prefix } from './config';

interface Node<P> {
  /** Prefix bits, masked to `cidr`, as int32 words (1 for IPv4, 4 for IPv6). */
  readonly key: Int32Array;
  readonly cidr: number;
  peer: P | undefined;
  c0: Node<P> | null;
  c1: Node<P> | null;
}

// MASKS[n]: the top n bits of a 32-bit word (as int32; MASKS[0] = 0, MASKS[32] = -1).
const MASKS: Int32Array = (() => {
  const m = new Int32Array(33);
  for (let n = 1; n <= 32; n++) m[n] = (0xffffffff << (32 - n)) | 0;
  return m;
})();

function bitAt(words: Int32Array, pos: number): number {
  return (words[pos >>> 5] >>> (31 - (pos & 31))) & 1;
}

/** Whether `node`'s prefix covers the address in `addr` (same word layout). */
function covers(key: Int32Array, cidr: number, addr: Int32Array): boolean {
  let w = 0;
  let rem = cidr;
  while (rem >= 32) {
    if (key[w] !== addr[w]) return false;
    w++;
    rem -= 32;
  }
  return rem === 0 || ((key[w] ^ addr[w]) & MASKS[rem]) === 0;
}

function commonBits(a: Int32Array, b: Int32Array): number {
  for (let w = 0; w < a.length; w++) {
    const x = a[w] ^ b[w];
    if (x !== 0) return w * 32 + Math.clz32(x);
  }
  return a.length * 32;
}

function maskedCopy(words: Int32Array, cidr: number): Int32Array {
  const out = new Int32Array(words.length);
  let rem = cidr;
  for (let w = 0; w < words.length; w++) {
    out[w] = rem >= 32 ? words[w] : words[w] & MASKS[rem];
    rem = rem >= 32 ? rem - 32 : 0;
  }
  return out;
}

function wordsOf(bytes: Uint8Array, offset: number, nWords: number, out: Int32Array): void {
  for (let w = 0; w < nWords; w++) {
    const o = offset + w * 4;
    out[w] = (bytes[o] << 24) | (bytes[o + 1] << 16) | (bytes[o + 2] << 8) | bytes[o + 3];
  }
}

function newNode<P>(key: Int32Array, cidr: number, peer: P | undefined): Node<P> {
  return { key, cidr, peer, c0: null, c1: null };
}

/** After a peer was taken off `node`: what should stand in its place (null = nothing). */
function compact<P>(node: Node<P>): Node<P> | null {
  if (node.peer !== undefined) return node;
  if (node.c0 !== null && node.c1 !== null) return node;
  return node.c0 ?? node.c1;
}

function validate(prefix: Prefix): 4 | 6 {
  const len = prefix.addr.length;
  if (len !== 4 && len !== 16) throw new RangeError(`prefix address must be 4 or 16 bytes, got ${len}`);
  const max = len * 8;
  if (!Number.isInteger(prefix.bits) || prefix.bits < 0 || prefix.bits > max) {
    throw new RangeError(`prefix length ${prefix.bits} out of range 0-${max}`);
  }
  return len === 4 ? 4 : 6;
}

function toBytes(key: Int32Array): Uint8Array {
  const out = new Uint8Array(key.length * 4);
  for (let w = 0; w < key.length; w++) {
    out[w * 4] = key[w] >>> 24;
    out[w * 4 + 1] = (key[w] >>> 16) & 0xff;
    out[w * 4 + 2] = (key[w] >>> 8) & 0xff;
    out[w * 4 + 3] = key[w] & 0xff;
  }
  return out;
}

function comparePrefixes(a: Prefix, b: Prefix): number {
  if (a.addr.length !== b.addr.length) return a.addr.length - b.addr.length;
  for (let i = 0; i < a.addr.length; i++) {
    if (a.addr[i] !== b.addr[i]) return a.addr[i] - b.addr[i];
  }
  return a.bits - b.bits;
}

export class AllowedIps<P> {
  private root4: Node<P> | null = null;
  private root6: Node<P> | null = null;
  // Reused by IPv6 lookups so that reading the address out of a packet allocates nothing.
  private readonly scratch6 = new Int32Array(4);
  private readonly scratchInsert = new Int32Array(4);

  /** Maps `prefix` (host bits ignored) to `peer`, taking it from any previous peer. */
  insert(prefix: Prefix, peer: P): void {
    if (peer === undefined) throw new TypeError('peer must not be undefined');
    const family = validate(prefix);
    const nWords = family === 4 ? 1 : 4;
    const full = this.scratchInsert.subarray(0, nWords);
    wordsOf(prefix.addr, 0, nWords, full);
    const key = maskedCopy(full, prefix.bits);
    const root = family === 4 ? this.root4 : this.root6;
    const newRoot = insertAt(root, key, prefix.bits, peer);
    if (family === 4) this.root4 = newRoot;
    else this.root6 = newRoot;
  }

  /**
   * Longest-prefix match for the address at addr[offset..]: 4 bytes when family is 4, 16
   * when 6. Without `family`, the bytes from offset to the end must be exactly an address.
   * An address running past the end of the buffer matches nothing.
   */
  lookup(addr: Uint8Array, offset = 0, family?: 4 | 6): P | undefined {
    const fam = family ?? inferFamily(addr.length - offset);
    return fam === 4 ? this.lookupV4(addr, offset) : this.lookupV6(addr, offset);
  }

  lookupV4(addr: Uint8Array, offset = 0): P | undefined {
    if (offset < 0 || offset + 4 > addr.length) return undefined;
    const a = (addr[offset] << 24) | (addr[offset + 1] << 16) | (addr[offset + 2] << 8) | addr[offset + 3];
    let node = this.root4;
    let found: P | undefined;
    while (node !== null) {
      const cidr = node.cidr;
      if (((node.key[0] ^ a) & MASKS[cidr]) !== 0) break;
      if (node.peer !== undefined) found = node.peer;
      if (cidr === 32) break;
      node = ((a >>> (31 - cidr)) & 1) === 0 ? node.c0 : node.c1;
    }
    return found;
  }

  lookupV6(addr: Uint8Array, offset = 0): P | undefined {
    if (offset < 0 || offset + 16 > addr.length) return undefined;
    const a = this.scratch6;
    wordsOf(addr, offset, 4, a);
    let node = this.root6;
    let found: P | undefined;
    while (node !== null) {
      if (!covers(node.key, node.cidr, a)) break;
      if (node.peer !== undefined) found = node.peer;
      if (node.cidr === 128) break;
      node = bitAt(a, node.cidr) === 0 ? node.c0 : node.c1;
    }
    return found;
  }

  /** Removes `prefix` (host bits ignored) if, and only if, it currently maps to `peer`. */
  remove(prefix: Prefix, peer: P): boolean {
    const family = validate(prefix);
    const nWords = family === 4 ? 1 : 4;
    const full = this.scratchInsert.subarray(0, nWords);
    wordsOf(prefix.addr, 0, nWords, full);
    const key = maskedCopy(full, prefix.bits);
    const state = { removed: false };
    const root = family === 4 ? this.root4 : this.root6;
    const newRoot = removeAt(root, key, prefix.bits, peer, state);
    if (family === 4) this.root4 = newRoot;
    else this.root6 = newRoot;
    return state.removed;
  }

  /** Removes every prefix of `peer`. */
  removeByPeer(peer: P): void {
    this.root4 = pruneAt(this.root4, peer);
    this.root6 = pruneAt(this.root6, peer);
  }

  /** The prefixes of `peer`: IPv4 before IPv6, then by address, then by length. */
  entriesForPeer(peer: P): Prefix[] {
    const out: Prefix[] = [];
    collect(this.root4, peer, out);
    collect(this.root6, peer, out);
    return out.sort(comparePrefixes);
  }

  clear(): void {
    this.root4 = null;
    this.root6 = null;
  }
}

function inferFamily(len: number): 4 | 6 {
  if (len === 4) return 4;
  if (len === 16) return 6;
  throw new RangeError(`cannot tell the address family of ${len} bytes; pass family`);
}

function insertAt<P>(root: Node<P> | null, key: Int32Array, cidr: number, peer: P): Node<P> {
  if (root === null) return newNode(key, cidr, peer);
  // Walk down while the current node's prefix covers the new one; `attach` relinks the
  // subtree that ends up replacing `node` (root or a child slot of `parent`).
  let parent: Node<P> | null = null;
  let node: Node<P> = root;
  for (;;) {
    const common = Math.min(commonBits(node.key, key), node.cidr, cidr);
    if (common === node.cidr) {
      if (node.cidr === cidr) {
        node.peer = peer;
        return root;
      }
      const bit = bitAt(key, node.cidr);
      const next = bit === 0 ? node.c0 : node.c1;
      if (next === null) {
        if (bit === 0) node.c0 = newNode(key, cidr, peer);
        else node.c1 = newNode(key, cidr, peer);
        return root;
      }
      parent = node;
      node = next;
      continue;
    }
    let replacement: Node<P>;
    if (common === cidr) {
      // The new prefix is shorter and covers `node`: it becomes node's parent.
      replacement = newNode(key, cidr, peer);
      if (bitAt(node.key, cidr) === 0) replacement.c0 = node;
      else replacement.c1 = node;
    } else {
      // They diverge at bit `common`: a peerless branch node holds both.
      replacement = newNode<P>(maskedCopy(key, common), common, undefined);
      const leaf = newNode(key, cidr, peer);
      if (bitAt(key, common) === 0) {
        replacement.c0 = leaf;
        replacement.c1 = node;
      } else {
        replacement.c0 = node;
        replacement.c1 = leaf;
      }
    }
    if (parent === null) return replacement;
    if (parent.c0 === node) parent.c0 = replacement;
    else parent.c1 = replacement;
    return root;
  }
}

function removeAt<P>(
  node: Node<P> | null,
  key: Int32Array,
  cidr: number,
  peer: P,
  state: { removed: boolean },
): Node<P> | null {
  if (node === null || node.cidr > cidr || !covers(node.key, node.cidr, key)) return node;
  if (node.cidr === cidr) {
    if (node.peer !== peer) return node;
    node.peer = undefined;
    state.removed = true;
    return compact(node);
  }
  if (bitAt(key, node.cidr) === 0) node.c0 = removeAt(node.c0, key, cidr, peer, state);
  else node.c1 = removeAt(node.c1, key, cidr, peer, state);
  return compact(node);
}

function pruneAt<P>(node: Node<P> | null, peer: P): Node<P> | null {
  if (node === null) return null;
  node.c0 = pruneAt(node.c0, peer);
  node.c1 = pruneAt(node.c1, peer);
  if (node.peer === peer) node.peer = undefined;
  return compact(node);
}

function collect<P>(node: Node<P> | null, peer: P, out: Prefix[]): void {
  if (node === null) return;
  if (node.peer === peer) out.push({ addr: toBytes(node.key), bits: node.cidr });
  collect(node.c0, peer, out);
  collect(node.c1, peer, out);
}
