import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  coefficient, decode, encodeParity, gfDiv, gfInv, gfMul, invertMatrix, mulAddInto,
} from "./gf256.ts";
import { MAX_DATA, MAX_PARITY } from "./wire.ts";

/** Carry-less multiplication reduced by 0x11d, bit by bit: the naive model of gfMul. */
function naiveMul(a: number, b: number): number {
  let r = 0;
  for (let i = 0; i < 8; i++) {
    if (b & (1 << i)) r ^= a << i;
  }
  for (let bit = 15; bit >= 8; bit--) if (r & (1 << bit)) r ^= 0x11d << (bit - 8);
  return r;
}

describe("GF(256) arithmetic", () => {
  test("multiplication matches carry-less multiplication modulo 0x11d for every pair", () => {
    for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) if (gfMul(a, b) !== naiveMul(a, b)) throw new Error(`${a}*${b}`);
  });

  test("every nonzero element has an inverse, and division undoes multiplication", () => {
    for (let a = 1; a < 256; a++) {
      expect(gfMul(a, gfInv(a))).toBe(1);
      for (let b = 1; b < 256; b += 17) expect(gfDiv(gfMul(a, b), b)).toBe(a);
    }
    expect(gfDiv(0, 7)).toBe(0);
  });

  test("multiplication distributes over addition (XOR)", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (a, b, c) => {
      expect(gfMul(a, b ^ c)).toBe(gfMul(a, b) ^ gfMul(a, c));
    }));
  });

  test("parity row 0 is all ones, so parity 0 is the XOR of the data", () => {
    for (let i = 0; i < MAX_DATA; i++) expect(coefficient(0, i)).toBe(1);
    const data = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5]), new Uint8Array([7])];
    const p = new Uint8Array(3);
    encodeParity(0, data, p, 3);
    expect([...p]).toEqual([1 ^ 4 ^ 7, 2 ^ 5, 3]);
  });

  test("mulAddInto adds c times the source", () => {
    const dst = new Uint8Array([9, 9, 9, 9]);
    mulAddInto(dst, 1, new Uint8Array([0, 3, 200]), 1, 2, 29);
    expect([...dst]).toEqual([9, 9 ^ gfMul(29, 3), 9 ^ gfMul(29, 200), 9]);
  });

  test("every square submatrix of the coefficient matrix is invertible (sampled), and the inverse is one", () => {
    const a = new Uint8Array(16 * 16);
    const inv = new Uint8Array(16 * 16);
    fc.assert(fc.property(
      fc.integer({ min: 1, max: MAX_PARITY }).chain((e) => fc.tuple(
        fc.shuffledSubarray([...Array(MAX_PARITY).keys()], { minLength: e, maxLength: e }),
        fc.shuffledSubarray([...Array(MAX_DATA).keys()], { minLength: e, maxLength: e }),
      )),
      ([rows, cols]) => {
        const e = rows.length;
        for (let r = 0; r < e; r++) for (let c = 0; c < e; c++) a[r * e + c] = coefficient(rows[r]!, cols[c]!);
        const copy = a.slice(0, e * e);
        expect(invertMatrix(a, inv, e)).toBe(true);
        for (let r = 0; r < e; r++) {
          for (let c = 0; c < e; c++) {
            let s = 0;
            for (let t = 0; t < e; t++) s ^= gfMul(copy[r * e + t]!, inv[t * e + c]!);
            expect(s).toBe(r === c ? 1 : 0);
          }
        }
      },
    ), { numRuns: 200 });
  });

  test("a singular matrix is reported, not inverted", () => {
    const a = new Uint8Array([1, 2, 1, 2]);
    expect(invertMatrix(a, new Uint8Array(4), 2)).toBe(false);
  });
});

describe("Reed-Solomon erasure code", () => {
  test("any k of the k + m shards rebuild the data (random groups and erasure patterns)", () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: MAX_DATA }),
      fc.integer({ min: 1, max: MAX_PARITY }),
      fc.integer({ min: 1, max: 64 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      (k, m, len, seed) => {
        let s = seed >>> 0;
        const next = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24;
        const data = Array.from({ length: k }, () => Uint8Array.from({ length: len }, next));
        const parity = Array.from({ length: m }, (_, j) => {
          const p = new Uint8Array(len);
          encodeParity(j, data, p, len);
          return p;
        });
        // Erase up to m data shards and keep as many parity shards (any of them) as erased.
        const erased = new Set<number>();
        const e = 1 + (next() % Math.min(m, k));
        while (erased.size < e) erased.add(next() % k);
        const rows = [...Array(m).keys()].sort(() => (next() & 1) - 0.5).slice(0, e);
        const shards = data.map((d, i) => (erased.has(i) ? new Uint8Array(len).fill(0xee) : d.slice()));
        const present = data.map((_, i) => !erased.has(i));
        expect(decode(k, shards, present, rows.map((r) => parity[r]!), rows, len)).toBe(true);
        for (let i = 0; i < k; i++) expect(shards[i]).toEqual(data[i]!);
      },
    ), { numRuns: 300 });
  });

  test("decoding fails cleanly when fewer parity shards than erasures arrived", () => {
    const data = [new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([3])];
    const p0 = new Uint8Array(1);
    encodeParity(0, data, p0, 1);
    const shards = [new Uint8Array(1), new Uint8Array(1), data[2]!.slice()];
    expect(decode(3, shards, [false, false, true], [p0], [0], 1)).toBe(false);
  });

  test("nothing missing is a no-op", () => {
    const shards = [new Uint8Array([5])];
    expect(decode(1, shards, [true], [], [], 1)).toBe(true);
    expect([...shards[0]!]).toEqual([5]);
  });
});
