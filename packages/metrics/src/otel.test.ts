import { describe, expect, test } from "bun:test";
import { Channel } from "@fastnet/core";
import { createPair } from "@fastnet/core/testing";
import { metrics } from "./metrics.ts";
import { histogramQuantiles, observeWithOpenTelemetry, toOpenTelemetry, type ObservableLike, type ObservableResultLike } from "./otel.ts";

function trafficPair() {
  const m = metrics({ labels: { endpoint: "otel" } });
  const pair = createPair({ seed: 21, link: { latencyMs: 15 }, server: { plugins: [m] } });
  for (let i = 0; i < 60; i++) {
    pair.server.send(pair.serverPeer, Channel.Reliable, new Uint8Array(50), undefined, pair.sim.now);
    pair.sim.flush();
    pair.runFor(10);
  }
  pair.runFor(300);
  return { m, pair };
}

describe("OpenTelemetry shape", () => {
  test("toOpenTelemetry: dotted names, UCUM units, cumulative monotonic sums, histogram buckets", () => {
    const { m, pair } = trafficPair();
    const out = toOpenTelemetry(m.snapshot(pair.sim.now), 123);
    const byName = new Map(out.map((x) => [x.name, x]));
    for (const x of out) {
      expect(x.name).toMatch(/^fastnet(\.[a-z_]+)+$/);
      expect(["s", "By", "1"].includes(x.unit) || /^\{[a-z]+\}$/.test(x.unit)).toBe(true);
    }
    const sent = byName.get("fastnet.packets.sent")!;
    expect(sent.data.type).toBe("sum");
    if (sent.data.type !== "sum") throw new Error("unreachable");
    expect(sent.data.isMonotonic).toBe(true);
    expect(sent.data.aggregationTemporality).toBe("cumulative");
    expect(sent.data.dataPoints[0]!.value).toBeGreaterThan(50);
    expect(sent.data.dataPoints[0]!.attributes).toEqual({ endpoint: "otel" });
    expect(sent.data.dataPoints[0]!.timeMs).toBe(123);
    const rtt = byName.get("fastnet.rtt")!;
    if (rtt.data.type !== "histogram") throw new Error("fastnet.rtt is not a histogram");
    const dp = rtt.data.dataPoints[0]!;
    expect(rtt.unit).toBe("s");
    expect(dp.bucketCounts.length).toBe(dp.explicitBounds.length + 1);
    expect(dp.bucketCounts.reduce((a, b) => a + b, 0)).toBe(dp.count);
    expect(dp.sum / dp.count).toBeGreaterThan(0.029);
    expect(dp.sum / dp.count).toBeLessThan(0.032);
    const peerRtt = byName.get("fastnet.peer.rtt.smoothed")!;
    expect(peerRtt.data.type).toBe("gauge");
    // Plain data: JSON round trip keeps it.
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
  });

  test("observeWithOpenTelemetry: instruments declared once, observations on collection", () => {
    const { m, pair } = trafficPair();
    let nextId = 0;
    const declared: { id: number; name: string; kind: string; unit?: string }[] = [];
    const make = (kind: string) => (name: string, o?: { unit?: string }): ObservableLike => {
      const inst = { id: nextId++ } as unknown as ObservableLike & { id: number };
      declared.push({ id: (inst as { id: number }).id, name, kind, ...(o?.unit !== undefined ? { unit: o.unit } : {}) });
      return inst;
    };
    let callback: ((r: ObservableResultLike) => void) | undefined;
    let removed = false;
    const meter = {
      createObservableGauge: make("gauge"),
      createObservableCounter: make("counter"),
      addBatchObservableCallback: (cb: (r: ObservableResultLike) => void) => void (callback = cb),
      removeBatchObservableCallback: () => void (removed = true),
    };
    // The meter's clock is the plugin's: in a simulator test pass one in; here performance.now() is fine.
    const stop = observeWithOpenTelemetry(meter, m);
    const names = declared.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain("fastnet.packets.sent");
    expect(names).toContain("fastnet.peer.rtt.smoothed");
    expect(names).toContain("fastnet.rtt.quantile");
    expect(declared.find((d) => d.name === "fastnet.packets.sent")!.kind).toBe("counter");
    const seen: { name: string; value: number; attributes?: Record<string, string> }[] = [];
    callback!({ observe: (inst, value, attributes) => void seen.push({ name: declared.find((d) => d.id === (inst as unknown as { id: number }).id)!.name, value, ...(attributes ? { attributes } : {}) }) });
    const sent = seen.find((s) => s.name === "fastnet.packets.sent")!;
    expect(sent.value).toBeGreaterThan(50);
    expect(sent.attributes).toEqual({ endpoint: "otel" });
    const q = seen.filter((s) => s.name === "fastnet.rtt.quantile");
    expect(q.map((s) => s.attributes?.quantile).sort()).toEqual(["0.5", "0.99"]);
    expect(seen.some((s) => s.name === "fastnet.peer.rtt.smoothed" && s.attributes?.peer !== undefined)).toBe(true);
    stop();
    expect(removed).toBe(true);
    void pair;
  });

  test("histogramQuantiles takes the upper bound of the bucket holding the rank", () => {
    expect(histogramQuantiles([1, 2, 4], [50, 49, 1, 0], 100)).toEqual([[0.5, 1], [0.99, 2]]);
    expect(histogramQuantiles([1, 2], [0, 0, 10], 10)).toEqual([[0.5, Infinity], [0.99, Infinity]]);
    expect(histogramQuantiles([1], [0, 0], 0)).toEqual([[0.5, 0], [0.99, 0]]);
  });
});
