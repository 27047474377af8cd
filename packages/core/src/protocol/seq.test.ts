/**
 * Unit and property tests of 16-bit sequence arithmetic (seq.ts) against a
 * naive model on unbounded integers (BigInt): a sequence is an unbounded
 * counter n sent as n mod 2^16, and the helpers must recover the true order
 * and distance whenever the two counters are less than half the space apart.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { SEQ_MOD, seqAdd, seqDiff, seqGreater } from "./seq.ts";

const SEED = 0x5e9;
const MOD = BigInt(SEQ_MOD);

/** Wire form of an unbounded counter. */
function wire(n: bigint): number {
  return Number(((n % MOD) + MOD) % MOD);
}

describe("seq: table", () => {
  const cases: Array<[a: number, b: number, diff: number, greater: boolean]> = [
    [0, 0, 0, false],
    [1, 0, 1, true],
    [0, 1, -1, false],
    [0, 65535, 1, true],
    [65535, 0, -1, false],
    [5, 65530, 11, true],
    [32767, 0, 32767, true],
    [0, 32767, -32767, false],
    [32768, 0, -32768, false],
    [0, 32768, -32768, false],
    [40000, 7232, -32768, false],
    [100, 32867, -32767, false],
    [32867, 100, 32767, true],
  ];
  test.each(cases)("seqDiff(%p, %p) = %p, seqGreater = %p", (a, b, diff, greater) => {
    expect(seqDiff(a, b)).toBe(diff);
    expect(seqGreater(a, b)).toBe(greater);
  });

  test.each([
    [0, 1, 1],
    [65535, 1, 0],
    [65535, 2, 1],
    [0, -1, 65535],
    [10, -20, 65526],
    [30000, 40000, 4464],
  ])("seqAdd(%p, %p) = %p", (a, n, out) => {
    expect(seqAdd(a, n)).toBe(out);
  });
});

describe("seq: properties against unbounded integers", () => {
  const seq = fc.integer({ min: 0, max: 0xffff });
  const dist = fc.integer({ min: -32767, max: 32767 });

  test("seqDiff(seqAdd(a, d), a) === d for every a and |d| <= 32767", () => {
    fc.assert(
      fc.property(seq, dist, (a, d) => {
        expect(seqDiff(seqAdd(a, d), a)).toBe(d);
      }),
      { seed: SEED, numRuns: 5000 },
    );
  });

  test("seqAdd equals (a + d) mod 2^16 computed with BigInt", () => {
    fc.assert(
      fc.property(seq, fc.integer({ min: -200_000, max: 200_000 }), (a, d) => {
        expect(seqAdd(a, d)).toBe(wire(BigInt(a) + BigInt(d)));
      }),
      { seed: SEED + 1, numRuns: 5000 },
    );
  });

  test("order and distance of unbounded counters survive the wrap", () => {
    // Counters far beyond 2^16 (and beyond 2^53 with BigInt) so every wrap position is exercised.
    const counter = fc.bigInt({ min: 0n, max: 1n << 60n });
    fc.assert(
      fc.property(counter, dist, (n, d) => {
        const m = n + BigInt(d);
        const a = wire(m);
        const b = wire(n);
        expect(seqDiff(a, b)).toBe(Number(m - n));
        expect(seqGreater(a, b)).toBe(m > n);
        expect(seqGreater(b, a)).toBe(n > m);
      }),
      { seed: SEED + 2, numRuns: 5000 },
    );
  });

  test("seqGreater agrees with the sign of seqDiff (except at exactly half the space)", () => {
    fc.assert(
      fc.property(seq, seq, (a, b) => {
        const d = seqDiff(a, b);
        expect(d).toBeGreaterThanOrEqual(-32768);
        expect(d).toBeLessThanOrEqual(32767);
        expect(seqDiff(b, a)).toBe(d === -32768 ? -32768 : 0 - d);
        if (d === -32768) {
          expect(seqGreater(a, b)).toBe(false);
          expect(seqGreater(b, a)).toBe(false);
        } else {
          expect(seqGreater(a, b)).toBe(d > 0);
        }
      }),
      { seed: SEED + 3, numRuns: 5000 },
    );
  });

  test("seqGreater is a strict order on a window of less than half the space", () => {
    fc.assert(
      fc.property(seq, fc.array(fc.integer({ min: 0, max: 16383 }), { minLength: 2, maxLength: 20, size: "max" }), (base, offs) => {
        const sorted = [...offs].sort((x, y) => x - y);
        const wrapped = sorted.map((o) => seqAdd(base, o));
        for (let i = 0; i < wrapped.length; i++) {
          for (let j = 0; j < wrapped.length; j++) {
            expect(seqGreater(wrapped[i]!, wrapped[j]!)).toBe(sorted[i]! > sorted[j]!);
          }
        }
      }),
      { seed: SEED + 4, numRuns: 500 },
    );
  });
});
