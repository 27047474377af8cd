/**
 * Micro-benchmark timing shared by the packages' bench/ scripts: median ns
 * per call over several rounds, each round sized to about `roundMs`, after
 * JIT warm-up rounds (pure-JS code such as @noble/ciphers needs them).
 */
export interface MedianOptions {
  /** Rounds recorded; the median is reported. Default 15. */
  rounds?: number;
  /** Target length of one round, ms. Default 40. */
  roundMs?: number;
  /** Unrecorded rounds first. Default 3. */
  warmupRounds?: number;
}

/** Median ns per call of `fn` (called with the iteration index). */
export function medianNsPerOp(fn: (i: number) => void, options: MedianOptions = {}): number {
  const { rounds = 15, roundMs = 40, warmupRounds = 3 } = options;
  // Calibrate: double the batch until one takes 2 ms.
  let n = 1;
  for (;;) {
    const t = Bun.nanoseconds();
    for (let i = 0; i < n; i++) fn(i);
    if (Bun.nanoseconds() - t > 2e6 || n >= 1 << 24) break;
    n *= 2;
  }
  const perRound = Math.max(1, Math.round((n * roundMs) / 2));
  for (let r = 0; r < warmupRounds; r++) for (let i = 0; i < perRound; i++) fn(i);
  const results: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = Bun.nanoseconds();
    for (let i = 0; i < perRound; i++) fn(i);
    results.push((Bun.nanoseconds() - t) / perRound);
  }
  results.sort((a, b) => a - b);
  return results[results.length >> 1]!;
}
