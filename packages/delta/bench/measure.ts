/** Median ns per call of fn over rounds, each sized to about roundMs (after JIT warm-up). */
import { medianNsPerOp } from "@fastnet/core/bench";

export function measure(fn: (i: number) => void, quick: boolean): number {
  return medianNsPerOp(fn, quick ? { rounds: 5, roundMs: 10 } : { rounds: 15, roundMs: 40 });
}
