/**
 * Weighted fair sharing by bytes: self-clocked fair queueing (Golestani 1994).
 *
 * Each queue i has a weight w[i] and a virtual finish tag. The next message
 * comes from the backlogged queue with the smallest tag; sending s bytes from
 * queue i adds s / w[i] to its tag. A queue that was idle rejoins at the
 * current virtual time (the tag of the last message served), so it cannot
 * save up bandwidth while idle, and it does not have to wait for the others
 * either. Over any interval in which two queues stay backlogged, the bytes
 * they send divided by their weights differ by at most one largest message
 * divided by each weight: shares follow the weights, whatever the message
 * sizes. Ties go to the lower index (the more important class).
 *
 * O(queues) per pick, no allocation.
 */
export class FairQueue {
  readonly tags: Float64Array;
  private readonly active: Uint8Array;
  private vtime = 0;

  constructor(private readonly weights: ArrayLike<number>) {
    this.tags = new Float64Array(weights.length);
    this.active = new Uint8Array(weights.length);
  }

  /** The queue to take the next message from, or -1 when `backlogged(i)` is false for all. Then call charge(). */
  pick(backlogged: (i: number) => boolean): number {
    const n = this.weights.length;
    const tags = this.tags;
    let best = -1;
    for (let i = 0; i < n; i++) {
      if (!backlogged(i)) {
        this.active[i] = 0;
        continue;
      }
      if (this.active[i] === 0) {
        this.active[i] = 1;
        if (tags[i]! < this.vtime) tags[i] = this.vtime;
      }
      if (best < 0 || tags[i]! < tags[best]!) best = i;
    }
    if (best >= 0) this.vtime = tags[best]!;
    return best;
  }

  /** Queue i sent `bytes`. */
  charge(i: number, bytes: number): void {
    this.tags[i] = this.tags[i]! + bytes / this.weights[i]!;
  }
}
