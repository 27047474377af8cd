/**
 * @fastnet/metrics: an observation-only fastnet plugin (per-peer and
 * per-endpoint RTT, jitter, loss, retransmits, rates, congestion, drops),
 * `snapshot()` as plain typed objects, a Prometheus `/metrics` exporter on
 * Bun.serve, and an OpenTelemetry-shaped view with no OTel dependency.
 */
export {
  DEFAULT_RTT_BUCKETS_MS, DISCONNECT_REASONS, MetricsPlugin, metrics,
  type ChannelSendDrops, type CongestionMetrics, type EndpointMetrics, type MetricsOptions, type MetricsSnapshot,
  type PeerMetrics, type RateMetrics, type RttHistogram, type RttMetrics, type SendDropMetrics, type TrafficMetrics,
} from "./metrics.ts";
export {
  collectFamilies, snapshotFamilies,
  type FamilyOptions, type HistogramPoint, type Labels, type MetricFamily, type MetricsSource, type MetricType,
  type ScalarPoint, type SummaryPoint,
} from "./families.ts";
export { PROMETHEUS_CONTENT_TYPE, formatPrometheus, formatValue, prometheusText, serveMetrics, type ServeMetricsOptions } from "./prometheus.ts";
export {
  familyToOtel, histogramQuantiles, observeWithOpenTelemetry, toOpenTelemetry,
  type MeterLike, type ObservableLike, type ObservableResultLike, type OtelAttributes, type OtelHistogramDataPoint,
  type OtelMetric, type OtelMetricData, type OtelNumberDataPoint, type OtelSummaryDataPoint,
} from "./otel.ts";
export { JITTER_GAIN, JitterEstimator, jitterStep, transitDifference } from "./jitter.ts";
export { SampleWindow, percentileOfSorted } from "./window.ts";
