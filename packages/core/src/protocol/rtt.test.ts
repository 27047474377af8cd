/**
 * Tests of RttEstimator (rtt.ts) against RFC 6298 §2 computed independently:
 * hand-computed tables, and a property against a reference written straight
 * from the RFC text (with the RFC 9002 §5.3 ack-delay rule), plus min RTT,
 * RTO clamping and the ignored-sample cases.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { RttEstimator } from "./rtt.ts";

const SEED = 0x477;

interface Ref {
  srtt: number;
  rttvar: number;
  min: number;
  rto: number;
}

/** RFC 6298 §2.2/2.3 with alpha = 1/8, beta = 1/4, K = 4, and RFC 9002 §5.3's ack-delay adjustment. */
function reference(initial: number, samples: Array<[r: number, ackDelay: number]>, minRto: number, maxRto: number, g = 1): Ref {
  const alpha = 1 / 8;
  const beta = 1 / 4;
  const K = 4;
  let srtt = initial;
  let rttvar = initial / 2;
  let min = Infinity;
  let first = true;
  for (const [r, ackDelay] of samples) {
    if (Number.isNaN(r) || r < 0) continue;
    min = Math.min(min, r);
    // "If latest_rtt >= min_rtt + ack_delay, adjusted_rtt = latest_rtt - ack_delay."
    const rPrime = r >= min + ackDelay ? r - ackDelay : r;
    if (first) {
      srtt = rPrime;
      rttvar = rPrime / 2;
      first = false;
    } else {
      rttvar = (1 - beta) * rttvar + beta * Math.abs(srtt - rPrime);
      srtt = (1 - alpha) * srtt + alpha * rPrime;
    }
  }
  const rto = Math.min(maxRto, Math.max(minRto, srtt + Math.max(g, K * rttvar)));
  return { srtt, rttvar, min, rto };
}

function feed(e: RttEstimator, samples: Array<[number, number]>): void {
  for (const [r, d] of samples) e.update(r, d);
}

describe("RttEstimator: hand-computed table", () => {
  test.each<[string, number, Array<[number, number]>, number, number, number, number]>([
    // name, initial, samples, srtt, rttvar, rto (minRto 20, maxRto 2000), min
    ["before any sample: initial RTT, var = initial/2", 100, [], 100, 50, 300, Infinity],
    ["first sample replaces the initial guess", 100, [[50, 0]], 50, 25, 150, 50],
    ["second sample: RTTVAR uses the old SRTT", 100, [[50, 0], [100, 0]], 56.25, 31.25, 181.25, 50],
    ["third sample", 100, [[50, 0], [100, 0], [20, 0]], 51.71875, 32.5, 181.71875, 20],
    ["RTO clamped to the 20 ms floor", 100, [[2, 0], [2, 0], [2, 0]], 2, 0.5625, 20, 2],
    ["RTO clamped to the ceiling", 100, [[5000, 0]], 5000, 2500, 2000, 5000],
    ["negative and NaN samples are ignored", 100, [[-1, 0], [Number.NaN, 0], [40, 0]], 40, 20, 120, 40],
    ["ack delay subtracted when the result stays above min RTT", 100, [[20, 0], [30, 5]], 20.625, 8.75, 55.625, 20],
    ["ack delay not subtracted when it would go below min RTT", 100, [[20, 0], [30, 15]], 21.25, 10, 61.25, 20],
    ["ack delay never subtracted from the first sample", 100, [[40, 10]], 40, 20, 120, 40],
    ["subtraction to exactly min RTT is allowed", 100, [[20, 0], [30, 10]], 20, 7.5, 50, 20],
  ])("%s", (_name, initial, samples, srtt, rttvar, rto, min) => {
    const e = new RttEstimator(initial, 20, 2000);
    feed(e, samples);
    expect(e.smoothed).toBeCloseTo(srtt, 10);
    expect(e.variance).toBeCloseTo(rttvar, 10);
    expect(e.rto()).toBeCloseTo(rto, 10);
    expect(e.min).toBe(min);
    expect(e.hasSample).toBe(samples.some(([r]) => r >= 0));
  });

  test("latest is the last valid sample, before any ack-delay adjustment", () => {
    const e = new RttEstimator(100, 20, 2000);
    feed(e, [[20, 0], [33, 10], [-5, 0]]);
    expect(e.latest).toBe(33);
  });

  test("clock granularity G bounds the variance term from below", () => {
    const samples: Array<[number, number]> = Array.from({ length: 200 }, () => [10, 0]);
    const fine = new RttEstimator(10, 1, 2000);
    const coarse = new RttEstimator(10, 1, 2000, 5);
    feed(fine, samples);
    feed(coarse, samples);
    expect(fine.rto()).toBeCloseTo(11, 6);
    expect(coarse.rto()).toBeCloseTo(15, 6);
  });
});

describe("RttEstimator: property against the RFC reference", () => {
  test("SRTT, RTTVAR, min RTT and clamped RTO match for random sample streams", () => {
    const sample = fc.tuple(
      fc.oneof(fc.double({ min: 0, max: 3000, noNaN: true }), fc.integer({ min: 0, max: 500 }), fc.constant(-1)),
      fc.oneof(fc.constant(0), fc.double({ min: 0, max: 655.35, noNaN: true })),
    );
    fc.assert(
      fc.property(
        fc.double({ min: 0.001, max: 1000, noNaN: true }),
        fc.array(sample, { maxLength: 60, size: "max" }),
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 0, max: 5000 }),
        (initial, samples, minRto, extra) => {
          const maxRto = minRto + extra;
          const e = new RttEstimator(initial, minRto, maxRto);
          feed(e, samples);
          const ref = reference(initial, samples, minRto, maxRto);
          expect(e.smoothed).toBeCloseTo(ref.srtt, 6);
          expect(e.variance).toBeCloseTo(ref.rttvar, 6);
          expect(e.min).toBe(ref.min);
          expect(e.rto()).toBeCloseTo(ref.rto, 6);
          expect(e.rto()).toBeGreaterThanOrEqual(minRto);
          expect(e.rto()).toBeLessThanOrEqual(maxRto);
        },
      ),
      { seed: SEED, numRuns: 1000 },
    );
  });
});
