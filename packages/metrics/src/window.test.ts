import { describe, expect, test } from "bun:test";
import { percentileOfSorted, SampleWindow } from "./window.ts";

describe("nearest-rank percentiles", () => {
  const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const table: [p: number, expected: number][] = [
    [0, 1], [10, 1], [11, 2], [50, 5], [51, 6], [90, 9], [99, 10], [100, 10],
  ];
  test.each(table)("p%p of 1..10 is %p", (p, expected) => expect(percentileOfSorted(xs, p)).toBe(expected));
  test("empty is NaN, one sample is every percentile", () => {
    expect(percentileOfSorted([], 50)).toBeNaN();
    expect(percentileOfSorted([7], 1)).toBe(7);
    expect(percentileOfSorted([7], 99)).toBe(7);
  });
});

describe("SampleWindow", () => {
  test("keeps the latest `capacity` samples; totals and min cover all", () => {
    const w = new SampleWindow(4);
    for (const x of [100, 1, 2, 3, 4]) w.push(x);
    expect(w.size).toBe(4);
    expect(w.percentile(0)).toBe(1);
    expect(w.percentile(100)).toBe(4);
    expect(w.mean()).toBe(2.5);
    expect(w.total).toBe(5);
    expect(w.sum).toBe(110);
    expect(w.min).toBe(1);
    w.push(0.5);
    expect(w.percentile(50)).toBe(2);
    expect(w.min).toBe(0.5);
  });
  test("empty window: NaN percentile and mean; invalid capacity throws", () => {
    const w = new SampleWindow(8);
    expect(w.percentile(50)).toBeNaN();
    expect(w.mean()).toBeNaN();
    expect(() => new SampleWindow(0)).toThrow(RangeError);
  });
});
