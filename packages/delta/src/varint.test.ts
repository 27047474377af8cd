import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { readVarint, unzigzag, varintSize, writeVarint, zigzag } from "./varint.ts";

describe("varint", () => {
  test("round-trips every 32-bit value and uses varintSize bytes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
        const buf = new Uint8Array(8);
        const end = writeVarint(buf, 1, v);
        expect(end - 1).toBe(varintSize(v));
        const cur = { off: 1 };
        expect(readVarint(buf, cur, end)).toBe(v);
        expect(cur.off).toBe(end);
      }),
      { seed: 6, numRuns: 2000 },
    );
  });

  test.each([
    ["an empty input", [], 0],
    ["a continuation byte at the end", [0x80], 1],
    ["four continuation bytes at the end", [0xff, 0xff, 0xff, 0xff], 4],
    ["a sixth byte", [0x80, 0x80, 0x80, 0x80, 0x80, 0x01], 6],
    ["a fifth byte over 32 bits", [0xff, 0xff, 0xff, 0xff, 0x10], 5],
  ])("returns -1 on %s without moving the cursor", (_what, bytes, end) => {
    const cur = { off: 0 };
    expect(readVarint(new Uint8Array(bytes), cur, end)).toBe(-1);
    expect(cur.off).toBe(0);
  });

  test("reads the largest 32-bit value", () => {
    expect(readVarint(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), { off: 0 }, 5)).toBe(0xffffffff);
  });

  test("never reads past `end` even when the buffer goes on", () => {
    expect(readVarint(new Uint8Array([0x80, 0x01]), { off: 0 }, 1)).toBe(-1);
  });

  test("zigzag maps small magnitudes to small values and round-trips every int32", () => {
    expect([0, -1, 1, -2, 2].map(zigzag)).toEqual([0, 1, 2, 3, 4]);
    expect(zigzag(-0x80000000)).toBe(0xffffffff);
    fc.assert(fc.property(fc.integer({ min: -0x80000000, max: 0x7fffffff }), (n) => unzigzag(zigzag(n)) === n), { seed: 7, numRuns: 2000 });
  });
});
