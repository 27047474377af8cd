import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ErrorCode, FastnetError, SeededRandom } from "@fastnet/core/protocol";
import { JitterBuffer, type JitterBufferOptions, type PlayoutEvent, PushResult } from "./buffer.ts";

const frame = (n: number): Uint8Array => Uint8Array.of(n & 0xff, n >> 8);

interface Played {
  type: "frame" | "gap";
  seq: number;
  /** When poll returned it. */
  t: number;
  data?: number;
}

/**
 * Feeds a synthetic stream: frame i is sent at i * frameMs (sender clock = clockScale * t + clockOffset)
 * and arrives at i * frameMs + delay(i) (receiver clock), or never when delay is null. Polls every
 * `stepMs` and returns what came out, in order.
 */
function simulate(
  buf: JitterBuffer,
  frames: number,
  delay: (i: number) => number | null,
  opts: { frameMs?: number; stepMs?: number; clockScale?: number; clockOffset?: number; seqOffset?: number } = {},
): Played[] {
  const frameMs = opts.frameMs ?? 20;
  const step = opts.stepMs ?? 1;
  const arrivals: { t: number; i: number }[] = [];
  for (let i = 0; i < frames; i++) {
    const d = delay(i);
    if (d !== null) arrivals.push({ t: i * frameMs + d, i });
  }
  arrivals.sort((a, b) => a.t - b.t || a.i - b.i);
  const out: Played[] = [];
  const end = frames * frameMs + 2000;
  let k = 0;
  for (let t = 0; t <= end; t += step) {
    for (; k < arrivals.length && arrivals[k]!.t <= t; k++) {
      const i = arrivals[k]!.i;
      const ts = (opts.clockScale ?? 1) * i * frameMs + (opts.clockOffset ?? 0);
      buf.push(arrivals[k]!.t, (i + (opts.seqOffset ?? 0)) & 0xffff, ts, frame(i));
    }
    for (let ev: PlayoutEvent | undefined = buf.poll(t); ev; ev = buf.poll(t)) {
      out.push(ev.type === "frame" ? { type: "frame", seq: ev.seq, t, data: ev.data[0]! | (ev.data[1]! << 8) } : { type: "gap", seq: ev.seq, t });
    }
  }
  return out;
}

const played = (out: Played[]): number[] => out.filter((p) => p.type === "frame").map((p) => p.data!);

describe("JitterBuffer", () => {
  test("frames come out in order, each once, whatever order they arrive in", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 60 }), (seed, jitter) => {
      const rng = new SeededRandom(seed);
      const buf = new JitterBuffer({ maxGapFrames: 0 });
      const out = simulate(buf, 200, () => 30 + rng.nextFloat() * jitter);
      const p = played(out);
      for (let i = 1; i < p.length; i++) expect(p[i]!).toBeGreaterThan(p[i - 1]!);
      expect(p.length + buf.stats().late).toBe(200);
    }), { numRuns: 60 });
  });

  test("on a steady link every frame plays, 20 ms apart, after the initial delay", () => {
    const buf = new JitterBuffer({ initialDelayMs: 40 });
    const out = simulate(buf, 100, () => 30);
    expect(played(out)).toEqual([...Array(100).keys()]);
    const times = out.filter((p) => p.type === "frame").map((p) => p.t);
    expect(times[0]).toBe(30 + 40);
    // After the first frames the delay shrinks toward the 2 ms margin at 20 ms/s: intervals of 19.6 ms.
    for (let i = 1; i < times.length; i++) expect(Math.abs(times[i]! - times[i - 1]! - 20)).toBeLessThanOrEqual(1);
    expect(buf.stats().delayMs).toBeCloseTo(2, 5);
  });

  test("a late frame is dropped and counted; a copy of a played frame is a duplicate", () => {
    const buf = new JitterBuffer({ initialDelayMs: 10, maxGapFrames: 100 });
    buf.push(0, 1, 0, frame(1));
    expect(buf.poll(10)?.type).toBe("frame");
    expect(buf.poll(30)).toMatchObject({ type: "gap", seq: 2 });
    expect(buf.push(31, 2, 20, frame(2))).toBe(PushResult.LATE);
    expect(buf.push(31, 1, 0, frame(1))).toBe(PushResult.DUPLICATE);
    expect(buf.push(31, 3, 40, frame(3))).toBe(PushResult.OK);
    expect(buf.push(32, 3, 40, frame(3))).toBe(PushResult.DUPLICATE);
    expect(buf.stats()).toMatchObject({ received: 5, late: 1, duplicates: 2, gaps: 1, played: 1, buffered: 1 });
  });

  test("missing frames are reported as gaps at their turn, between the frames around them", () => {
    const buf = new JitterBuffer();
    const out = simulate(buf, 50, (i) => (i % 10 === 4 ? null : 30));
    const seqs = out.filter((p) => p.t < 50 * 20 + 200).map((p) => (p.type === "gap" ? -p.seq : p.seq));
    expect(seqs.slice(0, 12)).toEqual([0, 1, 2, 3, -4, 5, 6, 7, 8, 9, 10, 11].map((s) => (s === -4 ? -(4 + 0x10000 & 0xffff) : s)));
    expect(buf.stats().gaps).toBeGreaterThanOrEqual(5);
    // Gaps keep the cadence: the gap sits where its frame would have played.
    const t = out.map((p) => p.t);
    expect(t[4]! - t[3]!).toBeCloseTo(20, 0);
    expect(t[5]! - t[4]!).toBeCloseTo(20, 0);
  });

  test("after maxGapFrames gaps with nothing buffered the stream counts as paused, and restarts from the next frame", () => {
    const buf = new JitterBuffer({ maxGapFrames: 3 });
    const out = simulate(buf, 200, (i) => (i >= 50 && i < 150 ? null : 30));
    const gaps = out.filter((p) => p.type === "gap");
    expect(gaps.length).toBe(3 + 3); // 3 when the talkspurt stops, 3 after the end of the stream
    expect(played(out)).toEqual([...Array(50).keys(), ...Array.from({ length: 50 }, (_, i) => 150 + i)]);
    expect(buf.stats()).toMatchObject({ restarts: 1, skipped: 97 });
  });

  test("the delay grows at once to a jitter spike, then shrinks at most shrinkMsPerSecond", () => {
    const buf = new JitterBuffer({ shrinkMsPerSecond: 10, historySize: 50 });
    const rng = new SeededRandom(3);
    // 5 ms of jitter, then 10 s with up to 80 ms, then 20 s of 5 ms again.
    const delay = (i: number): number => 30 + rng.nextFloat() * (i >= 500 && i < 1000 ? 80 : 5);
    const samples: { t: number; d: number }[] = [];
    const frameMs = 20;
    const arrivals = Array.from({ length: 2500 }, (_, i) => ({ i, t: i * frameMs + delay(i) })).sort((a, b) => a.t - b.t);
    let k = 0;
    const playAt: number[] = [];
    for (let t = 0; t < 2500 * frameMs; t++) {
      for (; k < arrivals.length && arrivals[k]!.t <= t; k++) buf.push(arrivals[k]!.t, arrivals[k]!.i, arrivals[k]!.i * frameMs, frame(0));
      for (let ev = buf.poll(t); ev; ev = buf.poll(t)) playAt.push(ev.at);
      if (t % 100 === 0) samples.push({ t, d: buf.delayMs });
    }
    const at = (t: number): number => samples.find((s) => s.t >= t)!.d;
    expect(at(9_900)).toBeLessThan(10);
    expect(at(11_000)).toBeGreaterThan(60); // grew within a second of the spike
    expect(at(19_900)).toBeGreaterThan(60);
    // Shrinking never plays frames more than 1 % (10 ms/s) closer together than they were sent...
    for (let i = 1; i < playAt.length; i++) expect(playAt[i]! - playAt[i - 1]!).toBeGreaterThanOrEqual(20 * 0.99 - 1e-9);
    // ...and the delay is back near the quiet level once the spike left the window.
    expect(at(40_000)).toBeLessThan(10);
    expect(buf.stats().late / 2500).toBeLessThan(0.05);
  });

  test("the delay stays between its floor and ceiling", () => {
    const floor = new JitterBuffer({ minDelayMs: 25 });
    simulate(floor, 300, () => 30);
    expect(floor.delayMs).toBeCloseTo(25, 5);
    const ceiling = new JitterBuffer({ maxDelayMs: 30 });
    const rng = new SeededRandom(9);
    simulate(ceiling, 500, () => 30 + rng.nextFloat() * 200);
    expect(ceiling.delayMs).toBeLessThanOrEqual(30 + 1e-9);
    expect(ceiling.stats().late).toBeGreaterThan(0);
  });

  test.each([1000, -1000, 200, -200])("clock drift of %i ppm between the ends: no late frames, bounded buffering", (ppm) => {
    const rng = new SeededRandom(11);
    const buf = new JitterBuffer();
    let maxBuffered = 0;
    const frames = 3000; // 60 s: 60 ms of drift at 1000 ppm
    const frameMs = 20;
    const scale = 1 + ppm / 1e6;
    const arrivals = Array.from({ length: frames }, (_, i) => ({ i, t: (i * frameMs) / scale + 40 + rng.nextFloat() * 10 })).sort((a, b) => a.t - b.t);
    let k = 0;
    let count = 0;
    for (let t = 0; t < frames * frameMs * 1.01 + 1000; t++) {
      for (; k < arrivals.length && arrivals[k]!.t <= t; k++) buf.push(arrivals[k]!.t, arrivals[k]!.i & 0xffff, 5e6 + arrivals[k]!.i * frameMs, frame(0));
      for (let ev = buf.poll(t); ev; ev = buf.poll(t)) if (ev.type === "frame") count++;
      maxBuffered = Math.max(maxBuffered, buf.stats().buffered);
    }
    expect(buf.stats().late).toBe(0);
    expect(count).toBe(frames);
    expect(maxBuffered).toBeLessThanOrEqual(3);
    expect(buf.delayMs).toBeLessThan(20);
  });

  test("sequence numbers and timestamps wrap around", () => {
    const buf = new JitterBuffer();
    const out = simulate(buf, 300, () => 30, { seqOffset: 0xffff - 100, clockOffset: 4294967296 * 0.125 - 3000 });
    expect(played(out)).toEqual([...Array(300).keys()]);
    expect(buf.stats().late).toBe(0);
  });

  test("a jump further than the capacity restarts playout from the new frame", () => {
    const buf = new JitterBuffer({ capacity: 16, initialDelayMs: 0, marginMs: 0 });
    buf.push(0, 10, 0, frame(10));
    expect(buf.poll(0)?.type).toBe("frame");
    expect(buf.push(1, 500, 9800, frame(500))).toBe(PushResult.OK);
    expect(buf.stats().restarts).toBe(1);
    expect(buf.poll(10_000)).toMatchObject({ type: "frame", seq: 500 });
  });

  test("non-finite input is dropped as late, never thrown", () => {
    const buf = new JitterBuffer();
    expect(buf.push(Number.NaN, 1, 0, frame(0))).toBe(PushResult.LATE);
    expect(buf.push(0, 1, Infinity, frame(0))).toBe(PushResult.LATE);
    expect(buf.push(0, Number.NaN, 0, frame(0))).toBe(PushResult.LATE);
    expect(buf.nextDeadline()).toBe(Infinity);
    expect(buf.poll(100)).toBeUndefined();
  });

  test("reset drops what is buffered and starts over", () => {
    const buf = new JitterBuffer();
    simulate(buf, 20, () => 30);
    buf.push(0, 5000, 0, frame(1));
    buf.reset();
    expect(buf.stats().buffered).toBe(0);
    expect(buf.push(0, 7, 0, frame(7))).toBe(PushResult.OK);
    expect(buf.poll(1000)).toMatchObject({ type: "frame", seq: 7 });
  });

  test.each<[string, JitterBufferOptions, string]>([
    ["a zero frame interval", { frameMs: 0 }, "frameMs"],
    ["a percentile below 0.5", { percentile: 0.2 }, "percentile"],
    ["a percentile above 1", { percentile: 1.5 }, "percentile"],
    ["a floor above the ceiling", { minDelayMs: 100, maxDelayMs: 50 }, "minDelayMs"],
    ["a negative margin", { marginMs: -1 }, "marginMs"],
    ["a fractional history", { historySize: 10.5 }, "historySize"],
    ["a tiny history", { historySize: 2 }, "historySize"],
    ["a capacity that is not a power of two", { capacity: 100 }, "capacity"],
    ["a NaN shrink rate", { shrinkMsPerSecond: Number.NaN }, "shrinkMsPerSecond"],
    ["a string delay", { maxDelayMs: "5" as unknown as number }, "maxDelayMs"],
  ])("%s throws FASTNET_INVALID_CONFIG naming the option", (_what, options, name) => {
    let err: unknown;
    try {
      new JitterBuffer(options);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FastnetError);
    expect((err as FastnetError).code).toBe(ErrorCode.INVALID_CONFIG);
    expect((err as FastnetError).message).toContain(`'${name}'`);
  });
});
