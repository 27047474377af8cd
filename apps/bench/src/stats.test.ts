import { describe, expect, test } from "bun:test";
import { cdfPoints, mulberry32, percentile, ratio, round, summarize, trimmedMean } from "./stats.ts";

describe("percentile (nearest rank)", () => {
  const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const thousand = Array.from({ length: 1000 }, (_, i) => i + 1);
  const table: [name: string, xs: number[], p: number, expected: number][] = [
    ["p0 is the min", ten, 0, 1],
    ["p10 of 10", ten, 10, 1],
    ["p10.1 of 10", ten, 10.1, 2],
    ["p50 of 10", ten, 50, 5],
    ["p90 of 10", ten, 90, 9],
    ["p99 of 10", ten, 99, 10],
    ["p100 is the max", ten, 100, 10],
    ["p50 of 1000", thousand, 50, 500],
    ["p99 of 1000", thousand, 99, 990],
    ["p99.9 of 1000", thousand, 99.9, 999],
    ["p99.9 of 10,000-style exact rank", Array.from({ length: 10_000 }, (_, i) => i), 99.9, 9989],
    ["one sample", [42], 99.9, 42],
    ["duplicates", [1, 1, 1, 5], 75, 1],
  ];
  test.each(table)("%s", (_name, xs, p, expected) => expect(percentile(xs, p)).toBe(expected));
  test("empty is NaN", () => expect(percentile([], 50)).toBeNaN());
});

describe("summarize", () => {
  test("avg, min, p50, p99, p99.9, max of an unsorted array; NaN ignored; input untouched", () => {
    const xs = [5, 1, NaN, 3, 2, 4];
    expect(summarize(xs)).toEqual({ samples: 5, avg: 3, min: 1, p50: 3, p99: 5, p999: 5, max: 5 });
    expect(xs[0]).toBe(5);
  });
  test("nothing to summarize is null", () => {
    expect(summarize([])).toBeNull();
    expect(summarize([NaN])).toBeNull();
  });
});

describe("ratio", () => {
  const table: [value: number | null | undefined, base: number | null | undefined, expected: number | null][] = [
    [20, 10, 2],
    [5, 10, 0.5],
    [10, 10, 1],
    [10, 0, null],
    [10, -1, null],
    [null, 10, null],
    [10, undefined, null],
    [NaN, 10, null],
    [10, Infinity, null],
  ];
  test.each(table)("ratio(%p, %p) = %p", (v, b, expected) => expect(ratio(v, b)).toBe(expected));
});

describe("cdfPoints", () => {
  test("ascending fractions from 0 to 1 with the tails, values from the samples", () => {
    const xs = Array.from({ length: 1000 }, (_, i) => i + 1);
    const pts = cdfPoints(xs, 11);
    expect(pts[0]).toEqual([1, 0]);
    expect(pts[pts.length - 1]).toEqual([1000, 1]);
    expect(pts.find(([, f]) => f === 0.5)).toEqual([500, 0.5]);
    expect(pts.find(([, f]) => f === 0.99)).toEqual([990, 0.99]);
    expect(pts.find(([, f]) => f === 0.999)).toEqual([999, 0.999]);
    for (let i = 1; i < pts.length; i++) {
      expect(pts[i]![1]).toBeGreaterThan(pts[i - 1]![1]);
      expect(pts[i]![0]).toBeGreaterThanOrEqual(pts[i - 1]![0]);
    }
    // 11 evenly spaced (0, 0.1, ..., 1; 0.9 among them) + 6 more tail fractions.
    expect(pts.length).toBe(17);
  });
  test("empty gives no points", () => expect(cdfPoints([])).toEqual([]));
});

describe("helpers", () => {
  test("round, trimmed mean, seeded PRNG", () => {
    expect(round(1.234567, 2)).toBe(1.23);
    expect(round(2.5, 0)).toBe(3);
    expect(trimmedMean([100, 1, 2, 3, -50, 2, 2, 3], 0.25)).toBe(2.25);
    const a = mulberry32(7);
    const b = mulberry32(7);
    const xs = Array.from({ length: 5 }, () => a());
    expect(xs).toEqual(Array.from({ length: 5 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});
