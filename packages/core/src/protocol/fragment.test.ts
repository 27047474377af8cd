/**
 * Tests of fragment reassembly (fragment.ts): random splits arriving shuffled
 * and duplicated join byte-exact; parts inconsistent with the others are
 * rejected (and a rejected part never becomes the reference for later ones);
 * duplicates are ignored; memory is charged for what arrived, never for what
 * a header claims.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { PART_OVERHEAD, REASSEMBLY_OVERHEAD, Reassembly, reassemblyKey } from "./fragment.ts";

const SEED = 0xf4a9;

/** Splits like the sender: fixed-size parts, the last one holding the rest (1..size bytes). */
function split(data: Uint8Array, size: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += size) parts.push(data.subarray(off, Math.min(off + size, data.length)));
  return parts;
}

describe("Reassembly", () => {
  test("property: shuffled, duplicated parts of a random split join byte-exact", () => {
    const caseArb = fc
      .tuple(fc.uint8Array({ minLength: 2, maxLength: 6000, size: "max" }), fc.integer({ min: 1, max: 1500 }))
      .filter(([data, size]) => Math.ceil(data.length / size) >= 2)
      .chain(([data, size]) => {
        const count = Math.ceil(data.length / size);
        // Arrival order: a permutation of the parts plus random duplicates mixed in.
        const order = fc.tuple(
          fc.shuffledSubarray(Array.from({ length: count }, (_, i) => i), { minLength: count, maxLength: count }),
          fc.array(fc.integer({ min: 0, max: count - 1 }), { maxLength: 20, size: "max" }),
          fc.array(fc.nat(), { maxLength: 20, size: "max" }),
        );
        return order.map(([perm, dups, at]) => {
          const arrivals = [...perm];
          dups.forEach((d, i) => arrivals.splice((at[i] ?? 0) % (arrivals.length + 1), 0, d));
          return { data, size, count, arrivals };
        });
      });
    fc.assert(
      fc.property(caseArb, ({ data, size, count, arrivals }) => {
        const parts = split(data, size);
        const r = new Reassembly(reassemblyKey(1, 7), count, 0, true);
        const seen = new Set<number>();
        let charge = REASSEMBLY_OVERHEAD;
        for (const i of arrivals) {
          expect(r.complete).toBe(seen.size === count);
          // Fresh copy each time: add must copy, the datagram buffer is reused.
          const part = parts[i]!.slice();
          const res = r.add(i, part);
          part.fill(0xee);
          if (seen.has(i)) {
            expect(res).toBe(0);
          } else {
            expect(res).toBe(1);
            seen.add(i);
            charge += parts[i]!.length + PART_OVERHEAD;
          }
          expect(r.charge).toBe(charge);
          expect(r.got).toBe(seen.size);
        }
        expect(r.complete).toBe(true);
        expect(r.bytes).toBe(data.length);
        expect(r.join()).toEqual(data);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  test.each<[string, number, Array<[index: number, length: number, expected: number]>]>([
    ["non-last parts of different sizes", 4, [[0, 100, 1], [1, 99, -1], [2, 101, -1], [1, 100, 1]]],
    ["last part larger than the others (last first)", 3, [[2, 101, 1], [0, 100, -1]]],
    ["last part larger than the others (last after)", 3, [[0, 100, 1], [2, 101, -1], [2, 100, 1]]],
    ["empty non-last part", 3, [[0, 0, -1], [1, 0, -1]]],
    ["empty last part is allowed", 2, [[1, 0, 1], [0, 5, 1]]],
    ["equal-sized last part", 2, [[0, 8, 1], [1, 8, 1]]],
    ["duplicate of an index, even with another size", 3, [[0, 10, 1], [0, 10, 0], [0, 3, 0], [2, 2, 1], [2, 9, 0]]],
  ])("consistency: %s", (_name, count, steps) => {
    const r = new Reassembly(0, count, 0, false);
    let charge = REASSEMBLY_OVERHEAD;
    for (const [index, length, expected] of steps) {
      expect(r.add(index, new Uint8Array(length).fill(index + 1))).toBe(expected);
      if (expected === 1) charge += length + PART_OVERHEAD;
      expect(r.charge).toBe(charge);
    }
  });

  // Regression: a rejected part used to set the part size, so every genuine part after it was rejected too.
  test.each<[string, number, Array<[index: number, length: number, expected: number]>]>([
    ["a short non-last part after the last part does not set the part size", 3, [[2, 60, 1], [0, 40, -1], [0, 100, 1], [1, 100, 1]]],
    ["an empty non-last part does not set the part size", 3, [[0, 0, -1], [1, 100, 1], [0, 100, 1], [2, 7, 1]]],
  ])("regression: %s", (_name, count, steps) => {
    const r = new Reassembly(0, count, 0, true);
    for (const [index, length, expected] of steps) expect(r.add(index, new Uint8Array(length))).toBe(expected);
    expect(r.complete).toBe(true);
    expect(r.join().length).toBe(steps.filter((s) => s[2] === 1).reduce((a, s) => a + s[1], 0));
  });

  test("charge counts what arrived, not the count a header claims", () => {
    const r = new Reassembly(0, 65535, 0, false);
    expect(r.charge).toBe(REASSEMBLY_OVERHEAD);
    expect(r.add(65534, new Uint8Array(1))).toBe(1);
    expect(r.add(3, new Uint8Array(2))).toBe(1);
    expect(r.charge).toBe(REASSEMBLY_OVERHEAD + 1 + 2 + 2 * PART_OVERHEAD);
    expect(r.complete).toBe(false);
  });

  test("reassemblyKey is unique per (channel, seq)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 254 }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 254 }), fc.integer({ min: 0, max: 0xffff }), (c1, s1, c2, s2) => {
        expect(reassemblyKey(c1, s1) === reassemblyKey(c2, s2)).toBe(c1 === c2 && s1 === s2);
      }),
      { seed: SEED + 1, numRuns: 2000 },
    );
    expect(reassemblyKey(1, 0)).not.toBe(reassemblyKey(0, 65535));
  });
});
