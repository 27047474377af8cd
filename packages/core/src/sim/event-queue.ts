/**
 * Binary min-heap of simulator events ordered by (time, seq). `seq` is the
 * insertion counter, so events at the same virtual time come out in the order
 * they were scheduled: that is what makes runs deterministic.
 */

export interface Timed {
  time: number;
  seq: number;
}

export class EventQueue<T extends Timed> {
  private readonly heap: T[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): T | undefined {
    return this.heap[0];
  }

  push(item: T): void {
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    // Sift up: move parents down until the slot for `item` is found.
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (!before(item, parent)) break;
      heap[i] = parent;
      i = p;
    }
    heap[i] = item;
  }

  pop(): T | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    const last = heap.pop()!;
    const n = heap.length;
    if (n === 0) return top;
    // Sift down the former last element from the root.
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      let child = heap[l]!;
      if (r < n) {
        const right = heap[r]!;
        if (before(right, child)) {
          c = r;
          child = right;
        }
      }
      if (!before(child, last)) break;
      heap[i] = child;
      i = c;
    }
    heap[i] = last;
    return top;
  }
}

function before(a: Timed, b: Timed): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
