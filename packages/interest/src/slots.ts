/**
 * Stable snapshot slots for one client: the bridge between an interest set
 * and @fastnet/delta. Each entity in the client's set keeps the same slot
 * (a fixed-size record position in the client's snapshot) for as long as it
 * stays in the set; a leaving entity frees its slot, an entering one takes
 * the lowest free slot. Because records stay put, the delta between two of
 * the client's snapshots is only what changed, and an entering entity's
 * record differs from whatever the baseline held in that slot (zeros, or an
 * entity that left), so the delta carries its full state.
 *
 * Per enter/leave: O(1) plus a scan for the lowest free slot (one word per
 * 32 slots); nothing per staying entity.
 */
import { invalidArgument } from "./grid.ts";

export class ViewSlots {
  /** Entity in each slot, -1 when free. */
  private entities = new Int32Array(16).fill(-1);
  /** Free-slot bitmap: bit set = free. */
  private free = new Uint32Array(1).fill(0xffffffff);
  private readonly slotByEntity = new Map<number, number>();
  /** Slots in use below this; every slot from here on is free. */
  private high = 0;

  /** Number of entities holding a slot. */
  get size(): number {
    return this.slotByEntity.size;
  }

  /** One past the highest occupied slot: write this many records (free ones as zeros). */
  get slotCount(): number {
    return this.high;
  }

  /** Slot of `entity`, or -1. */
  slotOf(entity: number): number {
    return this.slotByEntity.get(entity) ?? -1;
  }

  /** Entity in `slot`, or -1 when free. */
  entityAt(slot: number): number {
    return slot >= 0 && slot < this.entities.length ? this.entities[slot]! : -1;
  }

  /** Frees the slots of `left`, then gives the `entered` entities the lowest free slots. */
  update(entered: ArrayLike<number>, left: ArrayLike<number>): void {
    for (let i = 0; i < left.length; i++) this.release(left[i]!);
    for (let i = 0; i < entered.length; i++) this.assign(entered[i]!);
  }

  /** Gives `entity` the lowest free slot (its current one if it has a slot). Returns the slot. */
  assign(entity: number): number {
    if (!Number.isInteger(entity) || entity < 0) throw invalidArgument(`argument 'entity' must be a non-negative integer, got ${String(entity)}`);
    const have = this.slotByEntity.get(entity);
    if (have !== undefined) return have;
    let w = 0;
    while (w < this.free.length && this.free[w] === 0) w++;
    if (w === this.free.length) {
      const f = new Uint32Array(this.free.length * 2).fill(0xffffffff);
      f.set(this.free);
      this.free = f;
    }
    const word = this.free[w]!;
    const slot = w * 32 + (31 - Math.clz32(word & -word));
    this.free[w] = word & ~(1 << (slot & 31));
    if (slot >= this.entities.length) {
      const e = new Int32Array(Math.max(slot + 1, this.entities.length * 2)).fill(-1);
      e.set(this.entities);
      this.entities = e;
    }
    this.entities[slot] = entity;
    this.slotByEntity.set(entity, slot);
    if (slot >= this.high) this.high = slot + 1;
    return slot;
  }

  /** Frees `entity`'s slot; returns false when it had none. */
  release(entity: number): boolean {
    const slot = this.slotByEntity.get(entity);
    if (slot === undefined) return false;
    this.slotByEntity.delete(entity);
    this.entities[slot] = -1;
    this.free[slot >>> 5]! |= 1 << (slot & 31);
    while (this.high > 0 && this.entities[this.high - 1] === -1) this.high--;
    return true;
  }

  clear(): void {
    this.entities.fill(-1);
    this.free.fill(0xffffffff);
    this.slotByEntity.clear();
    this.high = 0;
  }
}
