import { describe, expect, test } from "bun:test";
import { ErrorCode } from "@fastnet/core/protocol";
import fc from "fast-check";
import { dequantizeAngle, dequantizeRange, dequantizeStep, quantizeAngle, quantizeRange, quantizeStep } from "./quantize.ts";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe("quantization helpers", () => {
  test("quantizeRange is within half a step of the value and clamps to the range", () => {
    fc.assert(
      fc.property(fc.double({ min: -1000, max: 1000, noNaN: true }), fc.integer({ min: 2, max: 24 }), (v, bits) => {
        const q = quantizeRange(v, -500, 500, bits);
        expect(q).toBeGreaterThanOrEqual(0);
        expect(q).toBeLessThanOrEqual(2 ** bits - 1);
        const step = 1000 / (2 ** bits - 1);
        const clamped = Math.min(500, Math.max(-500, v));
        expect(Math.abs(dequantizeRange(q, -500, 500, bits) - clamped)).toBeLessThanOrEqual(step / 2 + 1e-9);
      }),
      { seed: 11, numRuns: 500 },
    );
  });

  test("quantizeStep round-trips to the nearest step", () => {
    expect(quantizeStep(1.0, 1 / 128)).toBe(128);
    expect(quantizeStep(-0.004, 1 / 128)).toBe(-1);
    expect(dequantizeStep(quantizeStep(12.3456, 1 / 128), 1 / 128)).toBeCloseTo(12.3456, 2);
  });

  test("quantizeAngle wraps any angle into [0, 2^bits)", () => {
    expect(quantizeAngle(0, 16)).toBe(0);
    expect(quantizeAngle(Math.PI, 16)).toBe(32768);
    expect(quantizeAngle(-Math.PI / 2, 16)).toBe(49152);
    expect(quantizeAngle(Math.PI * 2 - 1e-9, 16)).toBe(0);
    expect(quantizeAngle(Math.PI * 7, 8)).toBe(128);
    expect(dequantizeAngle(16384, 16)).toBeCloseTo(Math.PI / 2, 9);
  });

  test.each([
    ["NaN value", () => quantizeRange(NaN, 0, 1, 8)],
    ["infinite value", () => quantizeRange(Infinity, 0, 1, 8)],
    ["max not above min", () => quantizeRange(0, 1, 1, 8)],
    ["0 bits", () => quantizeRange(0, 0, 1, 0)],
    ["33 bits", () => quantizeRange(0, 0, 1, 33)],
    ["NaN step value", () => quantizeStep(NaN, 1)],
    ["zero step", () => quantizeStep(1, 0)],
    ["a value out of int32 range", () => quantizeStep(1e12, 1)],
    ["an infinite angle", () => quantizeAngle(-Infinity, 16)],
  ])("throws FASTNET_INVALID_ARGUMENT on %s", (_what, fn) => {
    expect(codeOf(fn)).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});
