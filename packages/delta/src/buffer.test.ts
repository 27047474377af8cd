import { describe, expect, test } from "bun:test";
import { ErrorCode } from "@fastnet/core/protocol";
import { SnapshotReader, SnapshotWriter } from "./buffer.ts";

describe("SnapshotWriter / SnapshotReader", () => {
  test("write then read gives the same fields, little-endian, growing the buffer as needed", () => {
    const w = new SnapshotWriter(16);
    for (let i = 0; i < 100; i++) {
      w.u8(i).u8(255).u16(65535 - i).i16(-i).i32(-100000 * i).u32(0xfffffff0 + (i % 16)).f32(i / 3).fixed(i * 0.25, 1 / 128).ranged(i, 0, 100, 12).align(4).angle16(i / 10);
    }
    const bytes = w.bytes();
    expect(bytes[2]).toBe(0xff); // u16 65535 low byte first
    const r = new SnapshotReader(bytes);
    for (let i = 0; i < 100; i++) {
      expect(r.u8()).toBe(i);
      expect(r.u8()).toBe(255);
      expect(r.u16()).toBe(65535 - i);
      expect(r.i16() + 0).toBe(-i + 0);
      expect(r.i32() + 0).toBe(-100000 * i + 0);
      expect(r.u32()).toBe(0xfffffff0 + (i % 16));
      expect(r.f32()).toBe(Math.fround(i / 3));
      expect(r.fixed(1 / 128)).toBe(i * 0.25);
      expect(r.ranged(0, 100, 12)).toBeCloseTo(i, 1);
      r.align(4);
      expect(r.angle16()).toBeCloseTo(i / 10 % (Math.PI * 2), 3);
    }
    expect(r.remaining).toBe(0);
  });

  test("reset reuses the buffer", () => {
    const w = new SnapshotWriter(64);
    w.u32(1).u32(2);
    expect(w.reset().u16(7).bytes()).toEqual(new Uint8Array([7, 0]));
  });

  test("reading past the end throws FASTNET_INVALID_ARGUMENT", () => {
    const r = new SnapshotReader(new Uint8Array([1, 2, 3]));
    r.u16();
    let code: string | undefined;
    try {
      r.u16();
    } catch (err) {
      code = (err as { code?: string }).code;
    }
    expect(code).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});
