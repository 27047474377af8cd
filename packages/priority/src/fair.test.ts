import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { FairQueue } from "./fair.ts";

/**
 * Serves `rounds` messages from queues that are backlogged while `backlogged(i)`; sizes(i, n) is the
 * size of queue i's n-th message. Returns bytes per queue.
 */
function serve(weights: number[], sizes: (i: number, n: number) => number, rounds: number, backlogged = (_i: number) => true): number[] {
  const fq = new FairQueue(weights);
  const bytes = weights.map(() => 0);
  const count = weights.map(() => 0);
  for (let n = 0; n < rounds; n++) {
    const i = fq.pick(backlogged);
    if (i < 0) break;
    const s = sizes(i, count[i]!++);
    fq.charge(i, s);
    bytes[i]! += s;
  }
  return bytes;
}

describe("self-clocked fair queueing", () => {
  test("backlogged queues share bytes in proportion to their weights", () => {
    const bytes = serve([8, 4, 1], () => 500, 30_000);
    const total = bytes.reduce((a, b) => a + b, 0);
    expect(bytes[0]! / total).toBeCloseTo(8 / 13, 3);
    expect(bytes[1]! / total).toBeCloseTo(4 / 13, 3);
    expect(bytes[2]! / total).toBeCloseTo(1 / 13, 3);
  });

  test("for any weights and message sizes, bytes / weight differ by at most a largest message / weight", () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 3000 }),
      (weights, sizeTable, rounds) => {
        const bytes = serve(weights, (i, n) => sizeTable[(i + n) % sizeTable.length]!, rounds);
        const max = Math.max(...sizeTable);
        for (let i = 0; i < weights.length; i++) {
          for (let j = 0; j < weights.length; j++) {
            expect(Math.abs(bytes[i]! / weights[i]! - bytes[j]! / weights[j]!)).toBeLessThanOrEqual(max / weights[i]! + max / weights[j]! + 1e-6);
          }
        }
      },
    ), { numRuns: 300 });
  });

  test("a message much larger than the others is paid back by waiting", () => {
    const bytes = serve([1, 1], (i) => (i === 0 ? 100_000 : 100), 3000);
    expect(Math.abs(bytes[0]! - bytes[1]!)).toBeLessThanOrEqual(100_000);
  });

  test("queues without backlog are skipped; with none backlogged it returns -1", () => {
    expect(serve([5, 5, 5], () => 100, 100, (i) => i === 1)).toEqual([0, 10_000, 0]);
    expect(new FairQueue([1, 2]).pick(() => false)).toBe(-1);
  });

  test("an idle queue does not save up credit, and rejoins without waiting", () => {
    const fq = new FairQueue([1, 1]);
    let busy1 = false;
    for (let n = 0; n < 1000; n++) fq.charge(fq.pick((q) => q === 0 || busy1), 100);
    busy1 = true;
    const sent = [0, 0];
    const order: number[] = [];
    for (let n = 0; n < 200; n++) {
      const i = fq.pick(() => true);
      fq.charge(i, 100);
      sent[i]! += 100;
      order.push(i);
    }
    expect(Math.abs(sent[0]! - sent[1]!)).toBeLessThanOrEqual(100);
    expect(order.slice(0, 2)).toContain(1);
  });

  test("ties go to the more important (lower) index", () => {
    const fq = new FairQueue([1, 1, 1]);
    expect(fq.pick(() => true)).toBe(0);
  });
});
