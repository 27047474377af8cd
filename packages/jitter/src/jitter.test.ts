import { describe, expect, test } from "bun:test";
import { Endpoint, ErrorCode, FastnetError, SeededRandom } from "@fastnet/core/protocol";
import { createPair, pluginContract } from "@fastnet/core/testing";
import { intervals, runJitterStream } from "../bench/harness.ts";
import { jitter, type JitterOptions } from "./jitter.ts";

const SEEDS = [1, 2, 3];

function eachSeed(body: (seed: number) => void): void {
  for (const seed of SEEDS) {
    try {
      body(seed);
    } catch (err) {
      throw new Error(`failing seed ${seed}: ${(err as Error).message}`, { cause: err });
    }
  }
}

// Gap markers are zero-length messages the sender never sent: the contract's traffic check would
// (rightly) flag them, so it runs with them off. Everything else is the plugin as shipped.
pluginContract(() => jitter({ gapMarkers: false }), { name: "jitter (channel 1, no gap markers)" });
pluginContract(() => jitter({ channels: [1, 3], gapMarkers: false, maxDelayMs: 100 }), { name: "jitter (channels 1 and 3)" });

describe("jitter on the simulator", () => {
  test.each([0, 10, 25, 50])("output is steady, one frame every 20 ms, under ±%i ms of jitter", (jitterMs) => {
    eachSeed((seed) => {
      const r = runJitterStream({ seed, phases: [{ frames: 1000, link: { latencyMs: 60, jitterMs } }] });
      // Skip the start (the delay settles) and the end (gap markers after the last frame).
      const iv = intervals(r.outputs.slice(100, -11));
      const off = iv.filter((x) => Math.abs(x - 20) > 1);
      expect(off.length / iv.length).toBeLessThan(0.01);
      expect(Math.min(...iv)).toBeGreaterThanOrEqual(19);
      const frames = r.outputs.filter((o) => o.frame >= 0).map((o) => o.frame);
      for (let i = 1; i < frames.length; i++) expect(frames[i]!).toBeGreaterThan(frames[i - 1]!);
    });
  });

  test.each([10, 25, 50])("late drops stay under 1.5 %% under ±%i ms of jitter", (jitterMs) => {
    eachSeed((seed) => {
      const r = runJitterStream({ seed, phases: [{ frames: 1500, link: { latencyMs: 60, jitterMs } }] });
      const st = r.plugin.stats(r.peer, 1)!;
      expect(st.late / st.received).toBeLessThan(0.015);
      expect(st.played + st.late).toBe(1500);
      // The delay tracks the jitter: about its full spread, not the 500 ms ceiling.
      expect(st.delayMs).toBeLessThan(2 * jitterMs + 10);
    });
  });

  test("the playout delay grows within a second of a jitter spike and converges back after it", () => {
    eachSeed((seed) => {
      const r = runJitterStream({
        seed,
        phases: [
          { frames: 500, link: { latencyMs: 60, jitterMs: 5 } },
          { frames: 250, link: { latencyMs: 60, jitterMs: 50 } },
          { frames: 750, link: { latencyMs: 60, jitterMs: 5 } },
        ],
      });
      const at = (t: number): number => r.delays.find(([tt]) => tt >= t)![1];
      const [quietEnd, spikeEnd] = r.phaseEnds as [number, number];
      const quiet = at(quietEnd);
      expect(quiet).toBeLessThan(15);
      expect(at(quietEnd + 1000)).toBeGreaterThan(50);
      expect(at(spikeEnd)).toBeGreaterThan(80);
      // Converged: within 3 ms of the quiet delay 10 s after the spike, and it stays there.
      for (const [t, d] of r.delays) if (t > spikeEnd + 10_000) expect(Math.abs(d - quiet)).toBeLessThan(3);
    });
  });

  test("lost, reordered and duplicated frames: order kept, gaps reported for the lost, copies never played twice", () => {
    eachSeed((seed) => {
      const r = runJitterStream({ seed, phases: [{ frames: 1000, link: { latencyMs: 40, jitterMs: 10, loss: 0.05, reorder: 0.05, reorderDelayMs: 15, duplicate: 0.05 } }] });
      const st = r.plugin.stats(r.peer, 1)!;
      const frames = r.outputs.filter((o) => o.frame >= 0).map((o) => o.frame);
      for (let i = 1; i < frames.length; i++) expect(frames[i]!).toBeGreaterThan(frames[i - 1]!);
      // The core drops duplicated datagrams before they reach the message layer.
      expect(st.duplicates).toBe(0);
      // Every frame is accounted for: played, or reported as a gap (lost or too late).
      expect(st.played + st.gaps - 10).toBe(1000);
      expect(st.gaps - 10).toBeGreaterThan(20);
      expect(r.outputs.filter((o) => o.frame < 0).length).toBe(st.gaps);
    });
  });

  test("sender clock drift of ±1000 ppm: almost no late frames, the buffer neither fills nor runs dry", () => {
    for (const driftPpm of [1000, -1000]) {
      const r = runJitterStream({ seed: 4, driftPpm, phases: [{ frames: 3000, link: { latencyMs: 60, jitterMs: 5 } }] });
      const st = r.plugin.stats(r.peer, 1)!;
      expect(st.late / st.received).toBeLessThan(0.005);
      expect(st.played + st.late).toBe(3000);
      const delays = r.delays.slice(500).map(([, d]) => d);
      expect(Math.max(...delays)).toBeLessThan(25);
      // Output keeps the pace frames really arrive at (20 ms), whatever the sender's timestamps say.
      const iv = intervals(r.outputs.slice(500, -11));
      const mean = iv.reduce((a, b) => a + b, 0) / iv.length;
      expect(Math.abs(mean - 20)).toBeLessThan(0.005);
      expect(Math.min(...iv)).toBeGreaterThan(19);
    }
  });

  test("a paused sender: a few gap markers, then silence, then playout resumes", () => {
    const r = runJitterStream({
      seed: 5,
      jitter: { maxGapFrames: 5 },
      phases: [
        { frames: 200, link: { latencyMs: 30 } },
        { frames: 200, link: { latencyMs: 30 }, send: false },
        { frames: 200, link: { latencyMs: 30 } },
      ],
    });
    const st = r.plugin.stats(r.peer, 1)!;
    expect(st.played).toBe(400);
    expect(st.restarts).toBe(1);
    expect(st.late).toBe(0);
    expect(r.outputs.filter((o) => o.frame < 0).length).toBe(10); // 5 at the pause, 5 at the end
  });

  test("messages on channels it does not manage pass through untouched and at once", () => {
    const make = (): JitterOptions => ({ channels: [1] });
    const pair = createPair({ seed: 6, link: { latencyMs: 10, jitterMs: 5 }, server: { plugins: [jitter(make())] }, client: { plugins: [jitter(make())] } });
    for (let i = 0; i < 20; i++) pair.client.send(pair.clientPeer, 0, Uint8Array.of(i));
    expect(pair.runUntil(() => pair.messages("server", 0).length === 20, 1000)).toBe(true);
    expect(pair.messages("server", 0).map((m) => m[0])).toEqual([...Array(20).keys()]);
  });

  test("messages too short for the header are dropped and counted, never thrown", () => {
    const server = jitter();
    // The server buffers channel 1; a client without the plugin sends raw bytes on it.
    const pair = createPair({ seed: 7, link: { latencyMs: 5 }, server: { plugins: [server] }, client: {} });
    for (const len of [0, 1, 5]) pair.client.send(pair.clientPeer, 1, new Uint8Array(len));
    pair.client.send(pair.clientPeer, 1, new Uint8Array(50));
    pair.runFor(500);
    expect(server.malformed).toBe(3);
    expect(server.stats(pair.serverPeer, 1)!.received).toBe(1);
  });
});

describe("jitter options", () => {
  test.each<[string, unknown, string]>([
    ["an unknown option", { frameMS: 20 }, "frameMS"],
    ["no channels", { channels: [] }, "channels"],
    ["a channel of 300", { channels: [300] }, "channels"],
    ["a fractional channel", { channels: [1.5] }, "channels"],
    ["gapMarkers not a boolean", { gapMarkers: "yes" }, "gapMarkers"],
    ["a clock that is not a function", { clock: 5 }, "clock"],
    ["a bad buffer option", { percentile: 2 }, "percentile"],
  ])("%s throws FASTNET_INVALID_CONFIG naming the option", (_what, options, name) => {
    let err: unknown;
    try {
      jitter(options as JitterOptions);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FastnetError);
    expect((err as FastnetError).code).toBe(ErrorCode.INVALID_CONFIG);
    expect((err as FastnetError).message).toContain(`'${name}'`);
  });

  test("a channel the endpoint does not have is refused at registration", () => {
    expect(() => new Endpoint({ random: new SeededRandom(1), insecurePlaintext: true, plugins: [jitter({ channels: [9] })] })).toThrow(/channels/);
  });
});
