/**
 * Tests for replay.ts (RFC 6479-style window): a property test against a naive
 * Set + highest model, and table tests at the window edges.
 */

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { DEFAULT_REPLAY_WINDOW, ReplayWindow } from "./replay.ts";

/** The specification, written the obvious way: everything ever accepted, plus the highest. */
class NaiveWindow {
  readonly seen = new Set<number>();
  highest = -1;
  constructor(readonly size: number) {}
  check(pn: number): boolean {
    if (pn > this.highest) return true;
    return this.highest - pn < this.size && !this.seen.has(pn);
  }
  accept(pn: number): boolean {
    if (!this.check(pn)) return false;
    this.seen.add(pn);
    this.highest = Math.max(this.highest, pn);
    return true;
  }
}

type Op = [kind: "next" | "reorder" | "duplicate" | "jump" | "old" | "edge", n: number];

const opArb: fc.Arbitrary<Op> = fc.tuple(
  fc.constantFrom("next", "next", "next", "reorder", "reorder", "duplicate", "jump", "old", "edge"),
  fc.nat(1_000_000),
);

/** Turns an abstract op into a packet number relative to the model's state, so sequences stay interesting. */
function pnFor([kind, n]: Op, m: NaiveWindow, base: number): number {
  const h = Math.max(m.highest, base);
  const w = m.size;
  switch (kind) {
    case "next":
      return h + 1 + (n % 3);
    case "reorder":
      return Math.max(0, h - (n % w));
    case "duplicate": {
      if (m.seen.size === 0) return h;
      const recent = [...m.seen].slice(-64);
      return recent[n % recent.length]!;
    }
    case "jump":
      return h + w + 1 + (n % (4 * w));
    case "old":
      return Math.max(0, h - w - (n % (3 * w)));
    case "edge":
      return Math.max(0, h - w - 2 + (n % 5));
  }
}

describe("ReplayWindow vs a naive Set model (property)", () => {
  test.each([1024, 2048, 4096])("window %d: check and accept agree on random sequences", (size) => {
    fc.assert(
      fc.property(fc.constantFrom(0, 2 ** 32 - 3000, Number.MAX_SAFE_INTEGER - 10_000_000), fc.array(opArb, { minLength: 1, maxLength: 400 }), (base, ops) => {
        const real = new ReplayWindow(size);
        const model = new NaiveWindow(size);
        for (const op of ops) {
          const pn = pnFor(op, model, base);
          expect(real.check(pn)).toBe(model.check(pn));
          expect(real.accept(pn)).toBe(model.accept(pn));
          expect(real.highest).toBe(model.highest);
        }
        // A full sweep of the window and just below it after the sequence.
        for (let pn = Math.max(0, model.highest - size - 40); pn <= model.highest + 2; pn++) {
          expect(real.check(pn)).toBe(model.check(pn));
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("ReplayWindow edges (window 1024)", () => {
  const W = 1024;

  test("starts empty: highest -1, any packet number is new, including 0", () => {
    const r = new ReplayWindow(W);
    expect(r.highest).toBe(-1);
    expect(r.check(0)).toBe(true);
    expect(r.accept(0)).toBe(true);
    expect(r.accept(0)).toBe(false);
    expect(r.highest).toBe(0);
  });

  test("check does not record", () => {
    const r = new ReplayWindow(W);
    expect(r.check(7)).toBe(true);
    expect(r.check(7)).toBe(true);
    expect(r.highest).toBe(-1);
    expect(r.accept(7)).toBe(true);
    expect(r.check(7)).toBe(false);
  });

  test.each([
    ["highest itself (duplicate)", 0, false],
    ["highest - 1", 1, true],
    ["highest - (W - 1): oldest still in the window", W - 1, true],
    ["highest - W: just too old", W, false],
    ["highest - W - 1", W + 1, false],
  ])("after accepting 5000: %s", (_n, below, expected) => {
    const r = new ReplayWindow(W);
    r.accept(5000);
    expect(r.check(5000 - below)).toBe(expected);
    expect(r.accept(5000 - below)).toBe(expected);
    expect(r.accept(5000 - below)).toBe(false);
    expect(r.highest).toBe(5000);
  });

  test.each([1, 31, 32, 33, W - 1, W, W + 1, 2 * W - 32, 2 * W, 2 * W + 31, 10 * W, 2 ** 40])(
    "after accepting every pn in [0, 3W), a jump of %d: old bits never leak into the new window",
    (jump) => {
      const r = new ReplayWindow(W);
      for (let pn = 0; pn < 3 * W; pn++) expect(r.accept(pn)).toBe(true);
      const top = 3 * W - 1 + jump;
      expect(r.accept(top)).toBe(true);
      for (let pn = top - W + 1; pn < top; pn++) {
        expect(r.check(pn)).toBe(pn >= 3 * W);
      }
      expect(r.check(top - W)).toBe(false);
    },
  );

  test("a window of 2048 accepts a late packet 2047 behind and drops one 2048 behind", () => {
    const r = new ReplayWindow();
    expect(r.size).toBe(DEFAULT_REPLAY_WINDOW);
    r.accept(10_000);
    expect(r.accept(10_000 - 2047)).toBe(true);
    expect(r.accept(10_000 - 2048)).toBe(false);
  });

  test("the largest safe integer works", () => {
    const r = new ReplayWindow(W);
    const max = Number.MAX_SAFE_INTEGER;
    expect(r.accept(max - 5)).toBe(true);
    expect(r.accept(max)).toBe(true);
    expect(r.accept(max - 5)).toBe(false);
    expect(r.check(max - 4)).toBe(true);
    expect(r.check(max - W)).toBe(false);
    expect(r.highest).toBe(max);
  });

  test.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, "5" as unknown as number, undefined as unknown as number])(
    "an invalid packet number (%p) is rejected without throwing or changing state",
    (pn) => {
      const r = new ReplayWindow(W);
      r.accept(100);
      expect(r.check(pn)).toBe(false);
      expect(r.accept(pn)).toBe(false);
      expect(r.highest).toBe(100);
      expect(r.check(99)).toBe(true);
    },
  );

  test.each([0, 512, 1000, 1536, 3000, 2 ** 21, -1024, 1024.5, Number.NaN])("constructor(%p) throws FASTNET_INVALID_ARGUMENT", (size) => {
    expect(() => new ReplayWindow(size)).toThrow(expect.objectContaining({ code: "FASTNET_INVALID_ARGUMENT" }));
  });
});
