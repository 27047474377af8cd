import { describe, expect, test } from "bun:test";
import { JitterEstimator, jitterStep, transitDifference } from "./jitter.ts";

describe("RFC 3550 §6.4.1 interarrival jitter", () => {
  // D(i-1,i) = (R_i - R_{i-1}) - (S_i - S_{i-1}); values worked by hand.
  const differences: [sentPrev: number, recvPrev: number, sent: number, recv: number, d: number][] = [
    [0, 10, 20, 30, 0], // same transit
    [0, 10, 20, 32, 2], // 2 ms later than expected
    [0, 10, 20, 27, -3], // 3 ms earlier
    [100, 100.5, 100, 100.5, 0], // clock offset cancels
    [1000, 5, 1016.666, 21.666, 0], // offset between clocks of any size cancels
  ];
  test.each(differences)("D for S=%p R=%p then S=%p R=%p is %p", (sp, rp, s, r, d) => {
    expect(transitDifference(sp, rp, s, r)).toBeCloseTo(d, 9);
  });

  // J(i) = J(i-1) + (|D| - J(i-1)) / 16
  const steps: [jitter: number, d: number, next: number][] = [
    [0, 0, 0],
    [0, 16, 1],
    [0, -16, 1], // |D|
    [1, 1, 1], // at equilibrium
    [2, 0, 1.875],
    [0.125, 1, 0.1796875],
  ];
  test.each(steps)("J=%p with D=%p moves to %p", (j, d, next) => {
    expect(jitterStep(j, d)).toBeCloseTo(next, 12);
  });

  test("a transit sequence gives the values computed by hand", () => {
    const est = new JitterEstimator();
    const transits = [10, 12, 11, 15, 15];
    const expected = [0, 0.125, 0.1796875, 0.41845703125, 0.392303466796875];
    transits.forEach((t, i) => expect(est.update(t)).toBeCloseTo(expected[i]!, 12));
  });

  test("a constant |D| converges to |D|; a constant transit stays at 0", () => {
    const a = new JitterEstimator();
    for (let i = 0; i < 400; i++) a.update(i % 2 === 0 ? 10 : 14);
    expect(a.jitter).toBeCloseTo(4, 6);
    const b = new JitterEstimator();
    for (let i = 0; i < 100; i++) b.update(40);
    expect(b.jitter).toBe(0);
    b.reset();
    expect(b.update(5)).toBe(0);
  });
});
