/**
 * One neutral description of every exported series (name, help, unit, type,
 * labelled points), built from a snapshot. The Prometheus text exporter and
 * the OpenTelemetry-shaped view are both renderings of it, so the two never
 * disagree on what is measured.
 *
 * Naming (Prometheus conventions): `fastnet_` prefix, base units in the name
 * (`_seconds`, `_bytes`, `_ratio`), counters end in `_total`, time converted
 * from ms to seconds. Labels are bounded: `reason` (a fixed enum), `channel`
 * (the endpoint's channel layout, at most 255), `peer` (connection id, only
 * for the first `peerSeries` peers by id), plus the plugin's constant labels.
 * OpenTelemetry names are dot-separated with UCUM units (`s`, `By`, `1`,
 * `{packet}`).
 */
import type { MetricsPlugin, MetricsSnapshot, PeerMetrics, TrafficMetrics } from "./metrics.ts";

export type Labels = Record<string, string>;
export type MetricType = "counter" | "gauge" | "histogram" | "summary";

export interface ScalarPoint {
  labels: Labels;
  value: number;
}

export interface HistogramPoint {
  labels: Labels;
  /** Bucket upper bounds, in the family's unit (seconds for time). */
  bounds: number[];
  /** Per-bucket counts, NOT cumulative; length bounds.length + 1 (the last is the +Inf bucket). */
  counts: number[];
  sum: number;
  count: number;
}

export interface SummaryPoint {
  labels: Labels;
  quantiles: { quantile: number; value: number }[];
  sum: number;
  count: number;
}

interface FamilyBase {
  /** Prometheus name (counters include `_total`). */
  name: string;
  help: string;
  /** Prometheus base unit of the name: "seconds", "bytes", "ratio" or "" (a count). */
  unit: "seconds" | "bytes" | "ratio" | "";
  /** OpenTelemetry instrument name. */
  otelName: string;
  /** UCUM unit for OpenTelemetry. */
  otelUnit: string;
}

export type MetricFamily =
  | (FamilyBase & { type: "counter" | "gauge"; points: ScalarPoint[] })
  | (FamilyBase & { type: "histogram"; points: HistogramPoint[] })
  | (FamilyBase & { type: "summary"; points: SummaryPoint[] });

export interface FamilyOptions {
  /** Per-peer series for at most this many peers (lowest ids). Default: the plugin's `peerSeries` option, else 16. */
  peerSeries?: number;
}

const S = 1 / 1000; // ms -> s

type Scalar = FamilyBase & { type: "counter" | "gauge"; points: ScalarPoint[] };

function scalar(type: "counter" | "gauge", name: string, unit: FamilyBase["unit"], otelName: string, otelUnit: string, help: string): Scalar {
  return { type, name, unit, otelName, otelUnit, help, points: [] };
}

/** The families of one snapshot. `peerSeries` bounds the per-peer label values. */
export function snapshotFamilies(snap: MetricsSnapshot, options: FamilyOptions = {}): MetricFamily[] {
  const base = snap.labels;
  const l = (extra?: Labels): Labels => (extra === undefined ? { ...base } : { ...base, ...extra });
  const e = snap.endpoint;
  const out: MetricFamily[] = [];
  const add = <F extends MetricFamily>(f: F): F => {
    out.push(f);
    return f;
  };

  // ---- Endpoint ----
  add(scalar("gauge", "fastnet_peers", "", "fastnet.peers", "{peer}", "Peers connected (or disconnecting) now.")).points.push({ labels: l(), value: e.peers });
  add(scalar("counter", "fastnet_connections_total", "", "fastnet.connections", "{connection}", "Peers that completed the handshake.")).points.push({ labels: l(), value: e.connectsTotal });
  const disc = add(scalar("counter", "fastnet_disconnections_total", "", "fastnet.disconnections", "{connection}", "Peers that ended, by reason."));
  for (const [reason, v] of Object.entries(e.disconnects)) disc.points.push({ labels: l({ reason }), value: v });
  trafficFamilies(add, e, l, "fastnet_", "fastnet.");
  add({
    type: "histogram",
    name: "fastnet_rtt_seconds",
    unit: "seconds",
    otelName: "fastnet.rtt",
    otelUnit: "s",
    help: "Round-trip time samples (send to ack, one per ack), all peers.",
    points: [{ labels: l(), bounds: e.rttHistogram.boundsMs.map((b) => b * S), counts: [...e.rttHistogram.counts], sum: e.rttHistogram.sumMs * S, count: e.rttHistogram.count }],
  });
  add({
    type: "summary",
    name: "fastnet_rtt_window_seconds",
    unit: "seconds",
    otelName: "fastnet.rtt.window",
    otelUnit: "s",
    help: "Round-trip time over the latest samples of all peers (the endpoint window): p50 and p99.",
    points: [{ labels: l(), quantiles: [{ quantile: 0.5, value: e.rtt.p50Ms * S }, { quantile: 0.99, value: e.rtt.p99Ms * S }], sum: e.rtt.meanMs * e.rtt.windowSamples * S, count: e.rtt.windowSamples }],
  });
  add(scalar("gauge", "fastnet_in_flight_bytes", "bytes", "fastnet.in_flight", "By", "Bytes sent and not yet acked or lost, all peers.")).points.push({ labels: l(), value: e.congestion.bytesInFlight });
  add(scalar("gauge", "fastnet_queued_bytes", "bytes", "fastnet.queued", "By", "Bytes queued by the application and not yet sent, all peers.")).points.push({ labels: l(), value: e.congestion.queuedBytes });

  // ---- Per peer (bounded) ----
  const limit = options.peerSeries ?? 16;
  const peers = limit > 0 ? snap.peers.slice(0, limit) : [];
  if (peers.length === 0) return out;
  const pl = (p: PeerMetrics, extra?: Labels): Labels => l({ peer: String(p.id), ...extra });
  const rtt = add<MetricFamily>({ type: "summary", name: "fastnet_peer_rtt_seconds", unit: "seconds", otelName: "fastnet.peer.rtt", otelUnit: "s", help: "Round-trip time of a peer over its latest samples: p50 and p99.", points: [] });
  const g = (name: string, unit: FamilyBase["unit"], otelName: string, otelUnit: string, help: string, f: (p: PeerMetrics) => number): void => {
    const fam = add(scalar("gauge", name, unit, otelName, otelUnit, help));
    for (const p of peers) fam.points.push({ labels: pl(p), value: f(p) });
  };
  const c = (name: string, unit: FamilyBase["unit"], otelName: string, otelUnit: string, help: string, f: (p: PeerMetrics) => number): void => {
    const fam = add(scalar("counter", name, unit, otelName, otelUnit, help));
    for (const p of peers) fam.points.push({ labels: pl(p), value: f(p) });
  };
  for (const p of peers) {
    (rtt.points as SummaryPoint[]).push({
      labels: pl(p),
      quantiles: [{ quantile: 0.5, value: p.rtt.p50Ms * S }, { quantile: 0.99, value: p.rtt.p99Ms * S }],
      sum: p.rtt.meanMs * p.rtt.windowSamples * S,
      count: p.rtt.windowSamples,
    });
  }
  g("fastnet_peer_smoothed_rtt_seconds", "seconds", "fastnet.peer.rtt.smoothed", "s", "Smoothed RTT (RFC 6298 SRTT) of a peer.", (p) => p.rtt.smoothedMs * S);
  g("fastnet_peer_min_rtt_seconds", "seconds", "fastnet.peer.rtt.min", "s", "Smallest RTT sample of a peer.", (p) => p.rtt.minMs * S);
  g("fastnet_peer_jitter_seconds", "seconds", "fastnet.peer.jitter", "s", "RFC 3550 interarrival jitter of a peer over successive RTT samples.", (p) => p.rtt.jitterMs * S);
  g("fastnet_peer_loss_ratio", "ratio", "fastnet.peer.loss", "1", "Packets lost / (acked + lost) of a peer over the last rate window.", (p) => p.lossPercentWindow / 100);
  c("fastnet_peer_packets_sent_total", "", "fastnet.peer.packets.sent", "{packet}", "Packets sent to a peer.", (p) => p.packetsSent);
  c("fastnet_peer_packets_received_total", "", "fastnet.peer.packets.received", "{packet}", "Packets received from a peer.", (p) => p.packetsReceived);
  c("fastnet_peer_sent_bytes_total", "bytes", "fastnet.peer.sent", "By", "Bytes sent to a peer (protocol packets, before plugin overhead).", (p) => p.bytesSent);
  c("fastnet_peer_received_bytes_total", "bytes", "fastnet.peer.received", "By", "Bytes received from a peer (after plugins opened them).", (p) => p.bytesReceived);
  c("fastnet_peer_packets_lost_total", "", "fastnet.peer.packets.lost", "{packet}", "Ack-eliciting packets to a peer declared lost.", (p) => p.packetsLost);
  c("fastnet_peer_retransmits_total", "", "fastnet.peer.retransmits", "{part}", "Reliable message parts resent to a peer.", (p) => p.retransmits);
  g("fastnet_peer_congestion_window_bytes", "bytes", "fastnet.peer.congestion_window", "By", "Congestion window of a peer.", (p) => p.congestion.windowBytes);
  g("fastnet_peer_send_budget_bytes", "bytes", "fastnet.peer.send_budget", "By", "Bytes that may be sent to a peer now within its window.", (p) => p.congestion.sendBudgetBytes);
  g("fastnet_peer_in_flight_bytes", "bytes", "fastnet.peer.in_flight", "By", "Bytes sent to a peer, not yet acked or lost.", (p) => p.congestion.bytesInFlight);
  g("fastnet_peer_queued_bytes", "bytes", "fastnet.peer.queued", "By", "Bytes queued for a peer, not yet sent.", (p) => p.congestion.queuedBytes);
  g("fastnet_peer_queue_delay_seconds", "seconds", "fastnet.peer.queue_delay", "s", "Path queueing delay of a peer: smoothed RTT minus min RTT.", (p) => p.congestion.queueDelayMs * S);
  const pd = add(scalar("counter", "fastnet_peer_drops_total", "", "fastnet.peer.drops", "{datagram}", "Datagrams (or parts) from a peer dropped, by reason (reasons with drops only)."));
  for (const p of peers) for (const [reason, v] of Object.entries(p.drops)) if (v > 0) pd.points.push({ labels: pl(p, { reason }), value: v });
  return out;
}

function trafficFamilies(
  add: <F extends MetricFamily>(f: F) => F,
  t: TrafficMetrics,
  l: (extra?: Labels) => Labels,
  prefix: string,
  otelPrefix: string,
): void {
  const one = (type: "counter" | "gauge", name: string, unit: FamilyBase["unit"], otelName: string, otelUnit: string, help: string, v: number): void => {
    add(scalar(type, prefix + name, unit, otelPrefix + otelName, otelUnit, help)).points.push({ labels: l(), value: v });
  };
  one("counter", "packets_sent_total", "", "packets.sent", "{packet}", "Protocol packets sent (before plugin overhead; retransmissions ride in new packets).", t.packetsSent);
  one("counter", "packets_received_total", "", "packets.received", "{packet}", "Protocol packets received and accepted.", t.packetsReceived);
  one("counter", "sent_bytes_total", "bytes", "sent", "By", "Bytes of protocol packets sent (before plugin overhead).", t.bytesSent);
  one("counter", "received_bytes_total", "bytes", "received", "By", "Bytes of protocol packets received (after plugins opened them).", t.bytesReceived);
  one("counter", "packets_acked_total", "", "packets.acked", "{packet}", "Ack-eliciting packets acknowledged.", t.packetsAcked);
  one("counter", "packets_lost_total", "", "packets.lost", "{packet}", "Ack-eliciting packets declared lost.", t.packetsLost);
  one("gauge", "loss_ratio", "ratio", "loss", "1", "Packets lost / (acked + lost) over the last rate window.", t.lossPercentWindow / 100);
  one("counter", "retransmits_total", "", "retransmits", "{part}", "Reliable message parts resent.", t.retransmits);
  const drops = add(scalar("counter", `${prefix}drops_total`, "", `${otelPrefix}drops`, "{datagram}", "Incoming datagrams (or parts) dropped, by reason."));
  for (const [reason, v] of Object.entries(t.drops)) drops.points.push({ labels: l({ reason }), value: v });
  const sd = add(scalar("counter", `${prefix}send_drops_total`, "", `${otelPrefix}send_drops`, "{message}", "Outgoing messages discarded before delivery (expired, superseded), by channel."));
  for (const ch of t.sendDrops.byChannel) {
    sd.points.push({ labels: l({ reason: "expired", channel: String(ch.channel) }), value: ch.expired });
    sd.points.push({ labels: l({ reason: "superseded", channel: String(ch.channel) }), value: ch.superseded });
  }
}

/** Anything an exporter can read: a plugin (snapshotted on each call), a snapshot, or ready families. */
export type MetricsSource = MetricsPlugin | MetricsSnapshot | MetricFamily[] | (() => MetricsSnapshot | MetricFamily[]);

function isPlugin(x: unknown): x is MetricsPlugin {
  return typeof x === "object" && x !== null && typeof (x as MetricsPlugin).snapshot === "function" && "options" in x;
}

/** Families of one or several sources; families of the same name are merged (give each plugin distinct `labels`). */
export function collectFamilies(sources: MetricsSource | MetricsSource[]): MetricFamily[] {
  const list = Array.isArray(sources) && (sources.length === 0 || !isFamily(sources[0])) ? (sources as MetricsSource[]) : [sources as MetricsSource];
  const merged = new Map<string, MetricFamily>();
  for (const src of list) {
    for (const f of familiesOf(src)) {
      const prev = merged.get(f.name);
      if (prev === undefined) merged.set(f.name, { ...f, points: [...f.points] } as MetricFamily);
      else (prev.points as unknown[]).push(...f.points);
    }
  }
  return [...merged.values()];
}

function isFamily(x: unknown): x is MetricFamily {
  return typeof x === "object" && x !== null && "points" in x && "type" in x && "name" in x;
}

function familiesOf(src: MetricsSource): MetricFamily[] {
  const v = typeof src === "function" ? src() : src;
  if (Array.isArray(v)) return v;
  if (isPlugin(v)) return snapshotFamilies(v.snapshot(), { peerSeries: v.options.peerSeries });
  return snapshotFamilies(v);
}
