import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { FLAG_CHECKSUM, FLAG_SAME_LENGTH, KIND_MASK, RESERVED_MASK, readU16, readU32, seqDiff16, writeU16, writeU32 } from "./wire.ts";

describe("wire helpers", () => {
  test("seqDiff16 is the signed distance on the 16-bit circle", () => {
    expect(seqDiff16(5, 3)).toBe(2);
    expect(seqDiff16(3, 5)).toBe(-2);
    expect(seqDiff16(0, 0xffff)).toBe(1);
    expect(seqDiff16(0xffff, 0)).toBe(-1);
    expect(seqDiff16(0x8000, 0)).toBe(-0x8000);
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: -0x8000, max: 0x7fff }), (a, d) => seqDiff16((a + d) & 0xffff, a) === d), { seed: 9 });
  });

  test("u16 and u32 are little-endian and round-trip", () => {
    const b = new Uint8Array(6);
    writeU16(b, 0, 0xbeef);
    writeU32(b, 2, 0xdeadbeef);
    expect(Array.from(b)).toEqual([0xef, 0xbe, 0xef, 0xbe, 0xad, 0xde]);
    expect(readU16(b, 0)).toBe(0xbeef);
    expect(readU32(b, 2)).toBe(0xdeadbeef);
  });

  test("the kind byte's fields do not overlap", () => {
    expect(KIND_MASK & RESERVED_MASK).toBe(0);
    expect((KIND_MASK | RESERVED_MASK) & (FLAG_CHECKSUM | FLAG_SAME_LENGTH)).toBe(0);
    expect(KIND_MASK | RESERVED_MASK | FLAG_CHECKSUM | FLAG_SAME_LENGTH).toBe(0xff);
  });
});
