/**
 * The statistics every scenario reports, in one place (unit-tested in
 * stats.test.ts): nearest-rank percentiles, summaries (avg, p50, p99, p99.9,
 * max), ratios against a baseline, and CDF points for the charts.
 */

/**
 * Nearest-rank percentile of an ascending array: the smallest sample such that
 * at least p% of the samples are <= it. p in [0, 100]; NaN when empty.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (!(p > 0)) return sorted[0]!;
  if (p >= 100) return sorted[n - 1]!;
  // The epsilon keeps p/100*n that is an integer in exact arithmetic (e.g. 99.9% of 1000) from rounding up.
  return sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n - 1e-9) - 1))]!;
}

export interface Summary {
  samples: number;
  avg: number;
  min: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Sorts a copy of `samples` (NaN ignored) and summarizes it; null when there is none. */
export function summarize(samples: readonly number[]): Summary | null {
  const s = samples.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  let sum = 0;
  for (const x of s) sum += x;
  return {
    samples: s.length,
    avg: sum / s.length,
    min: s[0]!,
    p50: percentile(s, 50),
    p99: percentile(s, 99),
    p999: percentile(s, 99.9),
    max: s[s.length - 1]!,
  };
}

/** value / baseline, or null when either is missing, not finite, or the baseline is not positive. */
export function ratio(value: number | null | undefined, baseline: number | null | undefined): number | null {
  if (value === null || value === undefined || baseline === null || baseline === undefined) return null;
  if (!Number.isFinite(value) || !Number.isFinite(baseline) || baseline <= 0) return null;
  return value / baseline;
}

/** Tail fractions always present in a CDF (the charts stretch the tail). */
export const TAIL_FRACTIONS = [0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999];

/**
 * Points of the empirical CDF of an ascending array for plotting: `[value, fraction]`
 * at `points` evenly spaced fractions from 0 to 1 (values by nearest rank), plus the
 * tail fractions (0.9 ... 0.999) so the chart shows the tail. Fractions ascend strictly.
 */
export function cdfPoints(sorted: readonly number[], points = 64): [number, number][] {
  if (sorted.length === 0) return [];
  const fractions = new Set<number>();
  const k = Math.max(2, points);
  for (let i = 0; i < k; i++) fractions.add(i / (k - 1));
  for (const f of TAIL_FRACTIONS) fractions.add(f);
  return [...fractions].sort((a, b) => a - b).map((f) => [percentile(sorted, f * 100), f]);
}

/** Rounds to `digits` decimals (for JSON that stays readable). */
export function round(x: number, digits = 1): number {
  const k = 10 ** digits;
  return Math.round(x * k) / k;
}

/** Mean of the middle of `xs`: drops the lowest and highest `trim` fraction (0.25 = interquartile mean). */
export function trimmedMean(xs: readonly number[], trim = 0.25): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const cut = Math.floor(s.length * trim);
  const mid = s.slice(cut, s.length - cut);
  return mid.reduce((a, b) => a + b, 0) / mid.length;
}

/** Deterministic PRNG (mulberry32): the relay's loss decisions are reproducible per seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
