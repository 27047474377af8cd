/**
 * Quantization helpers: floats to small integers and back. Sending a position
 * as an integer number of 1/128 m instead of a float32 is where real savings
 * come from: a slow change becomes a one-byte delta, and equal values compare
 * equal. Quantize on the server before writing the snapshot, and use the
 * dequantized value in the server's own simulation too, so that both sides
 * agree exactly.
 *
 * Every function throws FASTNET_INVALID_ARGUMENT on NaN or infinite input:
 * a NaN position is a game bug to surface, not a value to send.
 */
import { ErrorCode, FastnetError } from "@fastnet/core/protocol";

function notFinite(name: string, v: number): FastnetError {
  return new FastnetError(ErrorCode.INVALID_ARGUMENT, `argument '${name}' must be a finite number, got ${String(v)}`);
}

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > 32) {
    throw new FastnetError(ErrorCode.INVALID_ARGUMENT, `argument 'bits' must be an integer in [1, 32], got ${String(bits)}`);
  }
}

/**
 * Maps `value` in [min, max] (clamped) to an unsigned integer of `bits` bits, rounding to the
 * nearest step. Step = (max - min) / (2^bits - 1).
 */
export function quantizeRange(value: number, min: number, max: number, bits: number): number {
  if (value - value !== 0) throw notFinite("value", value);
  if (min - min !== 0) throw notFinite("min", min);
  if (max - max !== 0) throw notFinite("max", max);
  if (!(max > min)) throw new FastnetError(ErrorCode.INVALID_ARGUMENT, `argument 'max' must be greater than min (${min}), got ${max}`);
  checkBits(bits);
  const steps = 2 ** bits - 1;
  const v = value < min ? min : value > max ? max : value;
  return Math.round(((v - min) / (max - min)) * steps);
}

/** Inverse of quantizeRange. */
export function dequantizeRange(q: number, min: number, max: number, bits: number): number {
  checkBits(bits);
  const steps = 2 ** bits - 1;
  return min + (q / steps) * (max - min);
}

/**
 * `value` as a whole number of `step`s (e.g. step 1/128 for positions in metres), as a signed
 * 32-bit integer. Throws when the result does not fit in 32 bits.
 */
export function quantizeStep(value: number, step: number): number {
  if (value - value !== 0) throw notFinite("value", value);
  if (!(step > 0) || step === Infinity) throw new FastnetError(ErrorCode.INVALID_ARGUMENT, `argument 'step' must be a finite number > 0, got ${String(step)}`);
  const q = Math.round(value / step);
  if (q < -0x80000000 || q > 0x7fffffff) {
    throw new FastnetError(ErrorCode.INVALID_ARGUMENT, `argument 'value' (${value}) is out of the int32 range at step ${step}`);
  }
  return q;
}

/** Inverse of quantizeStep. */
export function dequantizeStep(q: number, step: number): number {
  return q * step;
}

const TWO_PI = Math.PI * 2;

/** An angle in radians (any value, wrapped to [0, 2π)) as an unsigned integer of `bits` bits. */
export function quantizeAngle(radians: number, bits: number): number {
  if (radians - radians !== 0) throw notFinite("radians", radians);
  checkBits(bits);
  const steps = 2 ** bits;
  let a = radians % TWO_PI;
  if (a < 0) a += TWO_PI;
  const q = Math.round((a / TWO_PI) * steps);
  return q === steps ? 0 : q;
}

/** Inverse of quantizeAngle: radians in [0, 2π). */
export function dequantizeAngle(q: number, bits: number): number {
  checkBits(bits);
  return (q / 2 ** bits) * TWO_PI;
}

/** Rounds `value` to float32 precision (what a Float32Array or DataView.setFloat32 stores). */
export const toFloat32: (value: number) => number = Math.fround;
