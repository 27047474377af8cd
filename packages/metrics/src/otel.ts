/**
 * OpenTelemetry without a dependency on it.
 *
 * 1. `toOpenTelemetry(source)` returns plain objects shaped like the OTel
 *    metrics data model (name, description, UCUM unit, and Sum / Gauge /
 *    Histogram / Summary data with attributed data points, cumulative
 *    temporality), ready to map onto an OTLP exporter or any collector.
 * 2. `observeWithOpenTelemetry(meter, plugin)` registers observable
 *    instruments on any object that looks like an `@opentelemetry/api`
 *    Meter (structural types below): the SDK then pulls a snapshot on each
 *    collection. Histograms and summaries have no observable instrument in
 *    the OTel API, so they are observed as gauges of their quantiles
 *    (attribute `quantile`) plus `.count`/`.sum` counters.
 */
import { collectFamilies, type Labels, type MetricFamily, type MetricsSource } from "./families.ts";
import type { MetricsPlugin } from "./metrics.ts";

export type OtelAttributes = Record<string, string>;

export interface OtelNumberDataPoint {
  attributes: OtelAttributes;
  /** Snapshot time, ms on the endpoint clock. */
  timeMs: number;
  value: number;
}

export interface OtelHistogramDataPoint {
  attributes: OtelAttributes;
  timeMs: number;
  count: number;
  sum: number;
  /** Upper bounds (OTel: explicit bounds); bucketCounts has one more entry. */
  explicitBounds: number[];
  /** Non-cumulative per-bucket counts, as OTLP wants them. */
  bucketCounts: number[];
}

export interface OtelSummaryDataPoint {
  attributes: OtelAttributes;
  timeMs: number;
  count: number;
  sum: number;
  quantileValues: { quantile: number; value: number }[];
}

export type OtelMetricData =
  | { type: "sum"; isMonotonic: true; aggregationTemporality: "cumulative"; dataPoints: OtelNumberDataPoint[] }
  | { type: "gauge"; dataPoints: OtelNumberDataPoint[] }
  | { type: "histogram"; aggregationTemporality: "cumulative"; dataPoints: OtelHistogramDataPoint[] }
  | { type: "summary"; dataPoints: OtelSummaryDataPoint[] };

export interface OtelMetric {
  name: string;
  description: string;
  /** UCUM: "s", "By", "1", "{packet}". */
  unit: string;
  data: OtelMetricData;
}

/** OTel-shaped metrics of one or several sources (`timeMs`: the time to stamp, default performance.now()). */
export function toOpenTelemetry(sources: MetricsSource | MetricsSource[], timeMs: number = performance.now()): OtelMetric[] {
  return collectFamilies(sources).map((f) => familyToOtel(f, timeMs));
}

export function familyToOtel(f: MetricFamily, timeMs: number): OtelMetric {
  const head = { name: f.otelName, description: f.help, unit: f.otelUnit };
  switch (f.type) {
    case "counter":
      return { ...head, data: { type: "sum", isMonotonic: true, aggregationTemporality: "cumulative", dataPoints: f.points.map((p) => ({ attributes: { ...p.labels }, timeMs, value: p.value })) } };
    case "gauge":
      return { ...head, data: { type: "gauge", dataPoints: f.points.map((p) => ({ attributes: { ...p.labels }, timeMs, value: p.value })) } };
    case "histogram":
      return {
        ...head,
        data: {
          type: "histogram",
          aggregationTemporality: "cumulative",
          dataPoints: f.points.map((p) => ({ attributes: { ...p.labels }, timeMs, count: p.count, sum: p.sum, explicitBounds: [...p.bounds], bucketCounts: [...p.counts] })),
        },
      };
    case "summary":
      return { ...head, data: { type: "summary", dataPoints: f.points.map((p) => ({ attributes: { ...p.labels }, timeMs, count: p.count, sum: p.sum, quantileValues: p.quantiles.map((q) => ({ ...q })) })) } };
  }
}

// ---- Structural slice of @opentelemetry/api (no import) ----

export interface ObservableLike {
  readonly __observable?: never;
}

export interface ObservableResultLike {
  observe(observable: ObservableLike, value: number, attributes?: Labels): void;
}

export interface MeterLike {
  createObservableGauge(name: string, options?: { description?: string; unit?: string }): ObservableLike;
  createObservableCounter(name: string, options?: { description?: string; unit?: string }): ObservableLike;
  addBatchObservableCallback(callback: (result: ObservableResultLike) => void, observables: ObservableLike[]): void;
  removeBatchObservableCallback?(callback: (result: ObservableResultLike) => void, observables: ObservableLike[]): void;
}

/**
 * Registers one observable instrument per metric on an OpenTelemetry Meter and reports a fresh
 * snapshot of `plugin` on every collection. Returns a function that unregisters the callback.
 *
 * ```ts
 * import { metrics as otel } from "@opentelemetry/api";
 * observeWithOpenTelemetry(otel.getMeter("game-server"), m);
 * ```
 */
export function observeWithOpenTelemetry(meter: MeterLike, plugin: MetricsPlugin): () => void {
  // OTel instruments are created up front: declare every family the plugin can export (per-peer
  // ones too, from a stand-in peer), then report whatever a fresh snapshot holds on each collection.
  const instruments = new Map<string, ObservableLike>();
  const make = (name: string, kind: "gauge" | "counter", description: string, unit: string): ObservableLike => {
    let inst = instruments.get(name);
    if (inst === undefined) {
      inst = kind === "counter" ? meter.createObservableCounter(name, { description, unit }) : meter.createObservableGauge(name, { description, unit });
      instruments.set(name, inst);
    }
    return inst;
  };
  for (const f of staticFamilies(plugin)) declare(f, make);
  const callback = (result: ObservableResultLike): void => {
    for (const f of collectFamilies(plugin)) {
      switch (f.type) {
        case "counter":
        case "gauge": {
          const inst = instruments.get(f.otelName);
          if (inst === undefined) continue;
          for (const p of f.points) result.observe(inst, p.value, p.labels);
          break;
        }
        case "histogram":
        case "summary": {
          const q = instruments.get(`${f.otelName}.quantile`);
          const c = instruments.get(`${f.otelName}.count`);
          const s = instruments.get(`${f.otelName}.sum`);
          const points: { labels: Labels; count: number; sum: number; quantiles: { quantile: number; value: number }[] }[] = f.type === "summary"
            ? f.points
            : f.points.map((p) => ({ ...p, quantiles: histogramQuantiles(p.bounds, p.counts, p.count).map(([quantile, value]) => ({ quantile, value })) }));
          for (const p of points) {
            if (c !== undefined) result.observe(c, p.count, p.labels);
            if (s !== undefined) result.observe(s, p.sum, p.labels);
            if (q !== undefined) for (const x of p.quantiles) result.observe(q, x.value, { ...p.labels, quantile: String(x.quantile) });
          }
          break;
        }
      }
    }
  };
  const list = [...instruments.values()];
  meter.addBatchObservableCallback(callback, list);
  return () => meter.removeBatchObservableCallback?.(callback, list);
}

function declare(f: MetricFamily, make: (name: string, kind: "gauge" | "counter", description: string, unit: string) => ObservableLike): void {
  if (f.type === "counter" || f.type === "gauge") {
    make(f.otelName, f.type, f.help, f.otelUnit);
    return;
  }
  make(`${f.otelName}.quantile`, "gauge", `${f.help} (quantiles)`, f.otelUnit);
  make(`${f.otelName}.count`, "counter", `${f.help} (sample count)`, "1");
  make(`${f.otelName}.sum`, "counter", `${f.help} (sample sum)`, f.otelUnit);
}

/** Every family the plugin can ever export, per-peer ones included, with no data needed. */
function staticFamilies(plugin: MetricsPlugin): MetricFamily[] {
  return collectFamilies(() => {
    const snap = plugin.snapshot();
    if (snap.peers.length > 0 || plugin.options.peerSeries === 0) return snap;
    // A stand-in peer so that per-peer families are declared too (no data is reported from it).
    const e = snap.endpoint;
    const fake = { ...e, id: 0, address: "", state: "connected" as const, connectedAt: 0, messagesSent: 0, messagesReceived: 0, messagesDropped: 0 };
    return { ...snap, peers: [fake] };
  });
}

/** p50 and p99 estimated from histogram buckets (upper bound of the bucket that holds the rank). */
export function histogramQuantiles(bounds: readonly number[], counts: readonly number[], total: number): [number, number][] {
  const out: [number, number][] = [];
  for (const q of [0.5, 0.99]) {
    if (total === 0) {
      out.push([q, 0]);
      continue;
    }
    const rank = Math.ceil(q * total);
    let cum = 0;
    let value = Infinity;
    for (let i = 0; i < counts.length; i++) {
      cum += counts[i]!;
      if (cum >= rank) {
        value = i < bounds.length ? bounds[i]! : Infinity;
        break;
      }
    }
    out.push([q, value]);
  }
  return out;
}
