/** Median ns per call of fn over rounds, each sized to about roundMs (after JIT warm-up). */
export function measure(fn: (i: number) => void, quick: boolean): number {
  const rounds = quick ? 5 : 15;
  const roundMs = quick ? 10 : 40;
  let n = 1;
  for (;;) {
    const t = Bun.nanoseconds();
    for (let i = 0; i < n; i++) fn(i);
    if (Bun.nanoseconds() - t > 2e6 || n >= 1 << 24) break;
    n *= 2;
  }
  const perRound = Math.max(1, Math.round((n * roundMs) / 2));
  for (let r = 0; r < 3; r++) for (let i = 0; i < perRound; i++) fn(i);
  const results: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = Bun.nanoseconds();
    for (let i = 0; i < perRound; i++) fn(i);
    results.push((Bun.nanoseconds() - t) / perRound);
  }
  results.sort((a, b) => a - b);
  return results[results.length >> 1]!;
}
