/**
 * Reassembly of fragmented messages with a per-peer memory cap. Memory is
 * charged for what actually arrived (payload + bookkeeping), never for what a
 * fragment header claims, so a "fragment bomb" (huge counts, few parts)
 * costs the attacker as much as it costs us, and stops at the cap.
 */

/** Bookkeeping charged per reassembly and per stored part, bytes. */
export const REASSEMBLY_OVERHEAD = 64;
export const PART_OVERHEAD = 16;

export class Reassembly {
  readonly parts: (Uint8Array | undefined)[] = [];
  got = 0;
  bytes = 0;
  /** Length of every fragment but the last, learnt from the first non-last fragment. */
  partSize = -1;
  lastSize = -1;
  charge = REASSEMBLY_OVERHEAD;

  constructor(readonly key: number, readonly count: number, readonly createdAt: number, readonly reliable: boolean) {}

  /**
   * Stores a part; returns 1 when stored, 0 for a duplicate, -1 when inconsistent with earlier parts.
   * Copies `part` (the datagram buffer is not ours to keep).
   */
  add(index: number, part: Uint8Array): number {
    if (this.parts[index] !== undefined) return 0;
    // Every check before any state change: a rejected part must not become the reference for later ones.
    if (index < this.count - 1) {
      if (part.length === 0) return -1;
      if (this.partSize !== -1 && part.length !== this.partSize) return -1;
      if (this.lastSize > part.length) return -1;
      this.partSize = part.length;
    } else {
      if (this.partSize !== -1 && part.length > this.partSize) return -1;
      this.lastSize = part.length;
    }
    this.parts[index] = part.slice();
    this.got++;
    this.bytes += part.length;
    this.charge += part.length + PART_OVERHEAD;
    return 1;
  }

  get complete(): boolean {
    return this.got === this.count;
  }

  /** Joins the parts into one message. Only when complete. */
  join(): Uint8Array {
    const out = new Uint8Array(this.bytes);
    let off = 0;
    for (let i = 0; i < this.count; i++) {
      const p = this.parts[i]!;
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

/** Key of a reassembly: channel and sequence in one number (no string keys). */
export function reassemblyKey(channel: number, seq: number): number {
  return channel * 0x10000 + seq;
}
