import { randomBytes } from 'node:crypto';
import type { Keypair } from './keypair';

/** What a receiver index (our local index) points at. */
export interface IndexEntry<P> {
  peer: P;
  /** Set once the handshake behind this index has produced transport keys. */
  keypair: Keypair | null;
}

/** Random 32-bit local indices, unique per device, as the paper asks (section 5.4.2). */
export class IndexTable<P> {
  private readonly map = new Map<number, IndexEntry<P>>();
  private pool = Buffer.alloc(0);
  private poolOff = 0;

  private random32(): number {
    if (this.poolOff + 4 > this.pool.length) {
      this.pool = randomBytes(256);
      this.poolOff = 0;
    }
    const v = this.pool.readUInt32LE(this.poolOff);
    this.poolOff += 4;
    return v;
  }

  newIndex(peer: P): number {
    for (;;) {
      const idx = this.random32();
      if (!this.map.has(idx)) {
        this.map.set(idx, { peer, keypair: null });
        return idx;
      }
    }
  }

  get(idx: number): IndexEntry<P> | undefined {
    return this.map.get(idx);
  }

  setKeypair(idx: number, keypair: Keypair): void {
    const e = this.map.get(idx);
    if (e) e.keypair = keypair;
  }

  delete(idx: number): void {
    this.map.delete(idx);
  }

  get size(): number {
    return this.map.size;
  }
}
