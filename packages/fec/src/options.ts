/**
 * FEC options: defaults and validation, once, at construction (ARCHITECTURE.md
 * §6: bad configuration throws FASTNET_INVALID_CONFIG naming the option).
 */
import { ErrorCode, FastnetError } from "@fastnet/core/protocol";
import { MAX_DATA, MAX_PARITY } from "./wire.ts";

export type FecMode = "xor" | "reed-solomon";

export interface FecOptions {
  /** "xor": one parity datagram per group. "reed-solomon": k data + m parity, survives m losses per group. Default "xor". */
  mode?: FecMode;
  /** Data datagrams per group (k), 1..32. Default 4 (xor), 8 (reed-solomon). With `adaptive`, the size used until the peer reports its loss. */
  groupSize?: number;
  /** Reed-Solomon: parity datagrams per group (m), 1..16; with `adaptive`, the most used. Default 3. */
  parityShards?: number;
  /** Size the groups from the loss the peer measures: none below `minLoss`, more parity as loss rises. Default true. */
  adaptive?: boolean;
  /** Adaptive xor: smallest and largest group size. Default 2 and 16. */
  minGroupSize?: number;
  maxGroupSize?: number;
  /** Adaptive: parity starts when the measured loss (fraction, 0..0.5) reaches this, and stops below half of it. Default 0.005 (0.5 %). */
  minLoss?: number;
  /**
   * How long a group that is not full may wait for more datagrams, ms. 0 (default): it closes at
   * the end of the send burst that opened it (the endpoint's next timeout, same instant), so its
   * parity follows the data at once and a repaired loss is acknowledged before the sender's loss
   * detection (3 later packets, or 9/8 RTT) resends it. Larger values fill groups across bursts
   * (less parity on one-datagram-per-tick streams) at the price of such needless resends.
   */
  maxGroupDelayMs?: number;
  /** Groups the receiver keeps open for repair, a power of two in [2, 256]. Default 16 (xor), 8 (reed-solomon). */
  window?: number;
  /** Check every rebuilt datagram against the 32-bit group check before injecting it. Default true. */
  verify?: boolean;
}

export interface ResolvedFecOptions {
  mode: FecMode;
  groupSize: number;
  parityShards: number;
  adaptive: boolean;
  minGroupSize: number;
  maxGroupSize: number;
  minLoss: number;
  maxGroupDelayMs: number;
  window: number;
  verify: boolean;
}

const KNOWN = new Set([
  "mode", "groupSize", "parityShards", "adaptive", "minGroupSize", "maxGroupSize", "minLoss", "maxGroupDelayMs", "window", "verify",
]);

function fail(option: string, expected: string, got: unknown): never {
  const shown = typeof got === "string" ? JSON.stringify(got) : typeof got === "number" || typeof got === "boolean" || got == null ? String(got) : typeof got;
  throw new FastnetError(ErrorCode.INVALID_CONFIG, `fec: option '${option}' must be ${expected}, got ${shown}`);
}

function int(v: unknown, name: string, lo: number, hi: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) fail(name, `an integer in [${lo}, ${hi}]`, v);
  return v;
}

function bool(v: unknown, name: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") fail(name, "a boolean", v);
  return v;
}

export function resolveFecOptions(options: FecOptions | undefined): ResolvedFecOptions {
  if (options === undefined) options = {};
  if (typeof options !== "object" || options === null) fail("options", "an object", options);
  for (const key of Object.keys(options)) if (!KNOWN.has(key)) fail(key, `one of the known options (${[...KNOWN].join(", ")})`, key);
  const mode = options.mode ?? "xor";
  if (mode !== "xor" && mode !== "reed-solomon") fail("mode", '"xor" or "reed-solomon"', mode);
  const rs = mode === "reed-solomon";
  const groupSize = int(options.groupSize, "groupSize", 1, MAX_DATA, rs ? 8 : 4);
  let parityShards: number;
  if (rs) parityShards = int(options.parityShards, "parityShards", 1, MAX_PARITY, 3);
  else {
    if (options.parityShards !== undefined && options.parityShards !== 1) fail("parityShards", '1 in "xor" mode (use mode "reed-solomon" for more)', options.parityShards);
    parityShards = 1;
  }
  const minGroupSize = int(options.minGroupSize, "minGroupSize", 1, MAX_DATA, 2);
  const maxGroupSize = int(options.maxGroupSize, "maxGroupSize", 1, MAX_DATA, 16);
  if (minGroupSize > maxGroupSize) fail("minGroupSize", `at most maxGroupSize (${maxGroupSize})`, minGroupSize);
  const minLoss = options.minLoss ?? 0.005;
  if (typeof minLoss !== "number" || !(minLoss >= 0 && minLoss <= 0.5)) fail("minLoss", "a number in [0, 0.5]", minLoss);
  const maxGroupDelayMs = options.maxGroupDelayMs ?? 0;
  if (typeof maxGroupDelayMs !== "number" || !(maxGroupDelayMs >= 0 && maxGroupDelayMs <= 10_000)) {
    fail("maxGroupDelayMs", "a number of ms in [0, 10000]", maxGroupDelayMs);
  }
  const window = int(options.window, "window", 2, 256, rs ? 8 : 16);
  if ((window & (window - 1)) !== 0) fail("window", "a power of two", window);
  return {
    mode,
    groupSize,
    parityShards,
    adaptive: bool(options.adaptive, "adaptive", true),
    minGroupSize,
    maxGroupSize,
    minLoss,
    maxGroupDelayMs,
    window,
    verify: bool(options.verify, "verify", true),
  };
}
