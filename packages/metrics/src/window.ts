/**
 * A fixed-size ring of the latest samples (RTT, ms) with percentiles computed
 * on demand. `push` is the hot path: one typed-array store, no allocation.
 * `percentile` copies into a scratch array it owns and sorts it; it runs at
 * snapshot time, not per packet.
 */

/** Nearest-rank percentile (p in [0, 100]) of an ascending array; NaN when empty. */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (p <= 0) return sorted[0]!;
  if (p >= 100) return sorted[n - 1]!;
  return sorted[Math.max(0, Math.ceil((p / 100) * n) - 1)]!;
}

export class SampleWindow {
  private readonly ring: Float64Array;
  private readonly scratch: Float64Array;
  private next = 0;
  private filled = 0;
  private sortedValid = false;
  /** Samples ever pushed. */
  total = 0;
  /** Sum of every sample ever pushed. */
  sum = 0;
  /** Smallest sample ever pushed (Infinity before the first). */
  min = Infinity;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`SampleWindow capacity must be an integer >= 1, got ${capacity}`);
    this.ring = new Float64Array(capacity);
    this.scratch = new Float64Array(capacity);
  }

  push(value: number): void {
    this.ring[this.next] = value;
    this.next = this.next + 1 === this.capacity ? 0 : this.next + 1;
    if (this.filled < this.capacity) this.filled++;
    this.total++;
    this.sum += value;
    if (value < this.min) this.min = value;
    this.sortedValid = false;
  }

  /** Samples currently in the window. */
  get size(): number {
    return this.filled;
  }

  /** Nearest-rank percentile of the samples in the window; NaN when empty. */
  percentile(p: number): number {
    if (this.filled === 0) return NaN;
    const view = this.scratch.subarray(0, this.filled);
    if (!this.sortedValid) {
      view.set(this.ring.subarray(0, this.filled));
      view.sort();
      this.sortedValid = true;
    }
    return percentileOfSorted(view, p);
  }

  /** Mean of the samples in the window; NaN when empty. */
  mean(): number {
    if (this.filled === 0) return NaN;
    let s = 0;
    for (let i = 0; i < this.filled; i++) s += this.ring[i]!;
    return s / this.filled;
  }

  reset(): void {
    this.next = 0;
    this.filled = 0;
    this.total = 0;
    this.sum = 0;
    this.min = Infinity;
    this.sortedValid = false;
  }
}
