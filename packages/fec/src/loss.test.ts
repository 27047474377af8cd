import { describe, expect, test } from "bun:test";
import { SeededRandom } from "@fastnet/core/protocol";
import { LossMeter } from "./loss.ts";

describe("LossMeter", () => {
  test("knows nothing before a full window, then reads 0 on a clean stream", () => {
    const m = new LossMeter();
    for (let s = 0; s < 100; s++) m.onSeq(s);
    expect(m.loss).toBe(-1);
    for (let s = 100; s < 1000; s++) m.onSeq(s);
    expect(m.loss).toBe(0);
  });

  test.each([0.01, 0.05, 0.1, 0.3])("converges to %p random loss (3 seeds, across the 16-bit wrap)", (p) => {
    for (const seed of [1, 2, 3]) {
      const rng = new SeededRandom(seed);
      const m = new LossMeter();
      for (let i = 0; i < 40_000; i++) if (rng.nextFloat() >= p) m.onSeq((60_000 + i) & 0xffff);
      expect(Math.abs(m.loss - p)).toBeLessThan(0.005 + p * 0.4);
    }
  });

  test("duplicates do not hide loss", () => {
    const m = new LossMeter();
    for (let s = 0; s < 5000; s++) {
      if (s % 10 === 0) continue; // 10 % lost
      m.onSeq(s);
      if (s % 3 === 0) m.onSeq(s); // and many duplicated
    }
    expect(Math.abs(m.loss - 0.1)).toBeLessThan(0.02);
  });

  test("reordering within the window is not loss", () => {
    const m = new LossMeter();
    for (let s = 0; s < 5000; s += 4) for (const d of [1, 0, 3, 2]) m.onSeq(s + d);
    expect(m.loss).toBeLessThan(0.01);
  });

  test("a huge jump (garbage, or a long outage) restarts measuring instead of reading 100 % loss", () => {
    const m = new LossMeter();
    for (let s = 0; s < 1000; s++) m.onSeq(s);
    m.onSeq(30_000);
    for (let s = 30_001; s < 31_000; s++) m.onSeq(s);
    expect(m.loss).toBe(0);
  });
});
