/**
 * The metrics plugin: observation only. It counts what the endpoint traces
 * (`onTrace`: packets sent/received/acked/lost, drops by reason, send drops)
 * and reads `peer.stats()` (SRTT, RTTVAR, congestion window, retransmits,
 * queues) at snapshot time. It changes nothing on the wire and adds no bytes.
 *
 * Hot path (one call per trace event): counter increments on objects created
 * when a peer connects, one Float64Array store per RTT sample, one linear
 * bucket search for the histogram; no allocation, no Map, no closure. Note
 * that registering any `onTrace` hook makes core build a trace event object
 * per packet: that cost is core's and is measured in bench/overhead.ts.
 *
 * Everything else (percentiles, rates, the snapshot objects) is computed in
 * `snapshot()`, which allocates and is meant for a scrape every few seconds.
 */
import {
  DROP_REASONS, ErrorCode, FastnetError, type DisconnectReason, type DropReason, type Peer, type PeerState, type Plugin, type PluginContext,
  type TraceEvent,
} from "@fastnet/core/protocol";
import { jitterStep } from "./jitter.ts";
import { SampleWindow } from "./window.ts";

export const DISCONNECT_REASONS: readonly DisconnectReason[] = [
  "timeout", "closed-by-peer", "closed-locally", "denied", "handshake-timeout", "protocol-violation",
];

/** Default RTT histogram bucket upper bounds, ms (exported as seconds). */
export const DEFAULT_RTT_BUCKETS_MS: readonly number[] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];

export interface MetricsOptions {
  /** Plugin name (unique per endpoint). Default "metrics". */
  name?: string;
  /** RTT samples per peer kept for the windowed p50/p99. Default 256. */
  rttWindow?: number;
  /** RTT samples (all peers) kept for the endpoint's windowed p50/p99. Default 2048. */
  endpointRttWindow?: number;
  /** Length of the rate window (bytes/packets per second, windowed loss), ms. Default 1000. */
  rateWindowMs?: number;
  /** Upper bounds of the endpoint RTT histogram buckets, ms, ascending. Default DEFAULT_RTT_BUCKETS_MS. */
  rttBucketsMs?: readonly number[];
  /** At most this many peers get per-peer series in the Prometheus/OpenTelemetry views (lowest ids first). 0 = none. Default 16. */
  peerSeries?: number;
  /** Constant labels on every exported series, e.g. `{ endpoint: "eu-1" }`. Keep them few and bounded. */
  labels?: Readonly<Record<string, string>>;
  /** Clock for `snapshot()` without an explicit `now`, ms; must be the endpoint's clock. Default `performance.now()` (the Bun driver's clock). */
  clock?: () => number;
}

/** RTT of a peer or an endpoint. All ms; 0 when there is no sample yet (`samples` tells). */
export interface RttMetrics {
  /** Core's smoothed RTT (RFC 6298 SRTT, peer ack delay subtracted). Endpoint: mean over connected peers. */
  smoothedMs: number;
  /** Core's RTT variation (RFC 6298 RTTVAR). Endpoint: mean over connected peers. */
  varianceMs: number;
  /** Smallest sample seen. */
  minMs: number;
  /** Latest sample. */
  latestMs: number;
  /** Median of the samples in the window. */
  p50Ms: number;
  /** 99th percentile (nearest rank) of the samples in the window. */
  p99Ms: number;
  /** Mean of the samples in the window. */
  meanMs: number;
  /** Samples in the window. */
  windowSamples: number;
  /** Samples ever taken. */
  samples: number;
  /** RFC 3550 interarrival jitter over successive RTT samples. Endpoint: mean over connected peers. */
  jitterMs: number;
}

export interface RateMetrics {
  bytesInPerSec: number;
  bytesOutPerSec: number;
  packetsInPerSec: number;
  packetsOutPerSec: number;
  /** Length of the interval the rates were measured over, ms. */
  windowMs: number;
}

export interface CongestionMetrics {
  /** Congestion window, bytes (endpoint: sum over peers). */
  windowBytes: number;
  /** Bytes sent, not yet acked or lost. */
  bytesInFlight: number;
  /** Bytes that may be sent now within the window. */
  sendBudgetBytes: number;
  /** Bytes queued by the application, not yet sent. */
  queuedBytes: number;
  /** Path queueing delay: smoothed RTT minus min RTT, ms (endpoint: mean over peers). */
  queueDelayMs: number;
  /** Time the local send queue needs to drain at the window-limited rate (queued / (cwnd / SRTT)), ms (endpoint: max over peers). */
  sendQueueDelayMs: number;
  /** Current retransmission timeout, ms (endpoint: mean over peers). */
  rtoMs: number;
}

export interface ChannelSendDrops {
  channel: number;
  expired: number;
  superseded: number;
}

export interface SendDropMetrics {
  expired: number;
  superseded: number;
  /** Channels with at least one send drop. */
  byChannel: ChannelSendDrops[];
}

/** Traffic counters shared by peers and endpoints. */
export interface TrafficMetrics {
  packetsSent: number;
  packetsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Ack-eliciting packets acknowledged. */
  packetsAcked: number;
  /** Ack-eliciting packets declared lost. */
  packetsLost: number;
  /** lost / (acked + lost), percent, over the whole life. */
  lossPercent: number;
  /** The same over the last complete rate window (the lifetime figure until one completes). */
  lossPercentWindow: number;
  /** Reliable message parts sent again. */
  retransmits: number;
  rates: RateMetrics;
  /** Dropped input by reason (every reason present, 0 when none). */
  drops: Record<DropReason, number>;
  dropsTotal: number;
  /** Outgoing messages discarded unsent or unacknowledged: expired or superseded. */
  sendDrops: SendDropMetrics;
}

export interface PeerMetrics extends TrafficMetrics {
  /** The peer's connection id on this endpoint. */
  id: number;
  /** "host:port" (IPv6 hosts in brackets). */
  address: string;
  state: PeerState;
  /** When the plugin started tracking it (connected), ms on the endpoint clock. */
  connectedAt: number;
  rtt: RttMetrics;
  congestion: CongestionMetrics;
  messagesSent: number;
  messagesReceived: number;
  messagesDropped: number;
}

export interface RttHistogram {
  /** Bucket upper bounds, ms (the last bucket, above the last bound, is +Inf). */
  boundsMs: number[];
  /** Samples per bucket, NOT cumulative; length boundsMs.length + 1. */
  counts: number[];
  sumMs: number;
  count: number;
}

export interface EndpointMetrics extends TrafficMetrics {
  /** Peers the plugin tracks now (connected or disconnecting). */
  peers: number;
  connectsTotal: number;
  disconnects: Record<DisconnectReason, number>;
  rtt: RttMetrics;
  rttHistogram: RttHistogram;
  congestion: CongestionMetrics;
}

export interface MetricsSnapshot {
  /** Snapshot time, ms on the endpoint clock. */
  at: number;
  /** The constant labels of the plugin. */
  labels: Record<string, string>;
  endpoint: EndpointMetrics;
  /** Tracked peers, ascending id. */
  peers: PeerMetrics[];
}

const DROP_INDEX: Record<string, number> = Object.fromEntries(DROP_REASONS.map((r, i) => [r, i]));
const DISCONNECT_INDEX: Record<string, number> = Object.fromEntries(DISCONNECT_REASONS.map((r, i) => [r, i]));

/** Counters shared by the per-peer and the endpoint meter. Plain fields: monomorphic, cheap to bump. */
class Meter {
  packetsSent = 0;
  packetsReceived = 0;
  bytesSent = 0;
  bytesReceived = 0;
  packetsAcked = 0;
  packetsLost = 0;
  readonly drops = new Float64Array(DROP_REASONS.length);
  readonly expired: Float64Array;
  readonly superseded: Float64Array;
  // Rate window: counters at its start, and the rates of the last complete window.
  winStart: number;
  w0PacketsSent = 0;
  w0PacketsReceived = 0;
  w0BytesSent = 0;
  w0BytesReceived = 0;
  w0Acked = 0;
  w0Lost = 0;
  rated = false;
  rateBytesIn = 0;
  rateBytesOut = 0;
  ratePacketsIn = 0;
  ratePacketsOut = 0;
  rateWindowMs = 0;
  winLossPercent = 0;
  // RTT
  readonly rtt: SampleWindow;
  jitter = 0;
  lastRtt = NaN;
  lastAckAt = NaN;

  constructor(now: number, channels: number, rttWindow: number) {
    this.winStart = now;
    this.expired = new Float64Array(channels);
    this.superseded = new Float64Array(channels);
    this.rtt = new SampleWindow(rttWindow);
  }

  roll(now: number): void {
    const dt = now - this.winStart;
    if (dt <= 0) return;
    const k = 1000 / dt;
    this.rateBytesIn = (this.bytesReceived - this.w0BytesReceived) * k;
    this.rateBytesOut = (this.bytesSent - this.w0BytesSent) * k;
    this.ratePacketsIn = (this.packetsReceived - this.w0PacketsReceived) * k;
    this.ratePacketsOut = (this.packetsSent - this.w0PacketsSent) * k;
    const acked = this.packetsAcked - this.w0Acked;
    const lost = this.packetsLost - this.w0Lost;
    this.winLossPercent = acked + lost === 0 ? 0 : (100 * lost) / (acked + lost);
    this.rateWindowMs = dt;
    this.rated = true;
    this.winStart = now;
    this.w0BytesReceived = this.bytesReceived;
    this.w0BytesSent = this.bytesSent;
    this.w0PacketsReceived = this.packetsReceived;
    this.w0PacketsSent = this.packetsSent;
    this.w0Acked = this.packetsAcked;
    this.w0Lost = this.packetsLost;
  }

  /** One RTT sample: window, min, jitter (RFC 3550 step over successive samples). */
  sample(rttMs: number): void {
    this.rtt.push(rttMs);
    if (this.lastRtt === this.lastRtt) this.jitter = jitterStep(this.jitter, rttMs - this.lastRtt);
    this.lastRtt = rttMs;
  }
}

class PeerMeter extends Meter {
  /** Index in the plugin's live list (swap-remove). */
  index = -1;
  readonly address: string;
  readonly connectedAt: number;
  constructor(readonly peer: Peer, now: number, channels: number, rttWindow: number) {
    super(now, channels, rttWindow);
    const h = peer.address.host;
    this.address = `${h.includes(":") ? `[${h}]` : h}:${peer.address.port}`;
    this.connectedAt = now;
  }
}

class EndpointMeter extends Meter {
  connects = 0;
  readonly disconnects = new Float64Array(DISCONNECT_REASONS.length);
  /** Retransmits of peers that are gone (live peers are read from peer.stats()). */
  departedRetransmits = 0;
  readonly bounds: Float64Array;
  readonly buckets: Float64Array;
  constructor(now: number, channels: number, rttWindow: number, boundsMs: readonly number[]) {
    super(now, channels, rttWindow);
    this.bounds = Float64Array.from(boundsMs);
    this.buckets = new Float64Array(boundsMs.length + 1);
  }
  observe(rttMs: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && rttMs > b[i]!) i++;
    this.buckets[i]!++;
  }
}

function positiveInt(name: string, v: number | undefined, def: number, min: number): number {
  if (v === undefined) return def;
  if (!Number.isInteger(v) || v < min) {
    throw new FastnetError(ErrorCode.INVALID_CONFIG, `@fastnet/metrics: option '${name}' must be an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

function fin(x: number): number {
  return Number.isFinite(x) ? x : 0;
}

/**
 * The metrics plugin. Register it on any endpoint (`plugins: [metrics]`, before
 * crypto or anywhere: it only observes), then call `snapshot()`, or hand it to
 * `serveMetrics()` / `toOpenTelemetry()`.
 */
export class MetricsPlugin implements Plugin {
  readonly name: string;
  readonly options: Readonly<{
    rttWindow: number; endpointRttWindow: number; rateWindowMs: number; rttBucketsMs: readonly number[];
    peerSeries: number; labels: Readonly<Record<string, string>>;
  }>;
  private readonly clock: () => number;
  private slot = -1;
  private channels = 0;
  private ep: EndpointMeter | undefined;
  private readonly live: PeerMeter[] = [];
  private readonly windowMs: number;

  constructor(options: MetricsOptions = {}) {
    this.name = options.name ?? "metrics";
    const buckets = options.rttBucketsMs ?? DEFAULT_RTT_BUCKETS_MS;
    if (!Array.isArray(buckets) || buckets.some((b, i) => !(Number.isFinite(b) && b > 0) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new FastnetError(ErrorCode.INVALID_CONFIG, "@fastnet/metrics: option 'rttBucketsMs' must be ascending finite numbers > 0");
    }
    const rateWindowMs = options.rateWindowMs ?? 1000;
    if (!(Number.isFinite(rateWindowMs) && rateWindowMs > 0)) {
      throw new FastnetError(ErrorCode.INVALID_CONFIG, `@fastnet/metrics: option 'rateWindowMs' must be a number > 0, got ${String(rateWindowMs)}`);
    }
    for (const [k, v] of Object.entries(options.labels ?? {})) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k) || k.startsWith("__") || typeof v !== "string" || k === "peer" || k === "reason" || k === "channel" || k === "quantile" || k === "le") {
        throw new FastnetError(ErrorCode.INVALID_CONFIG, `@fastnet/metrics: option 'labels' has an invalid or reserved label '${k}'`);
      }
    }
    this.options = Object.freeze({
      rttWindow: positiveInt("rttWindow", options.rttWindow, 256, 1),
      endpointRttWindow: positiveInt("endpointRttWindow", options.endpointRttWindow, 2048, 1),
      rateWindowMs,
      rttBucketsMs: Object.freeze([...buckets]),
      peerSeries: positiveInt("peerSeries", options.peerSeries, 16, 0),
      labels: Object.freeze({ ...(options.labels ?? {}) }),
    });
    this.windowMs = rateWindowMs;
    this.clock = options.clock ?? (() => performance.now());
  }

  init(ctx: PluginContext): void {
    if (this.ep !== undefined) {
      throw new FastnetError(ErrorCode.INVALID_PLUGIN, `@fastnet/metrics: plugin '${this.name}' is already registered on an endpoint; create one per endpoint`);
    }
    this.slot = ctx.slot;
    let n = 0;
    while (n < 256 && ctx.channelKind(n) !== undefined) n++;
    this.channels = n;
    this.ep = new EndpointMeter(ctx.now, n, this.options.endpointRttWindow, this.options.rttBucketsMs);
  }

  onConnected(peer: Peer, ctx: PluginContext): void {
    const ep = this.ep!;
    ep.connects++;
    if (peer.slots[this.slot] === undefined) this.attach(peer, ctx.now);
  }

  onDisconnected(peer: Peer, reason: DisconnectReason, _ctx: PluginContext): void {
    const ep = this.ep!;
    const i = DISCONNECT_INDEX[reason];
    if (i !== undefined) ep.disconnects[i]!++;
    const m = peer.slots[this.slot];
    if (!(m instanceof PeerMeter)) return;
    ep.departedRetransmits += peer.stats().retransmits;
    const last = this.live.pop()!;
    if (last !== m) {
      this.live[m.index] = last;
      last.index = m.index;
    }
    m.index = -1;
    peer.slots[this.slot] = undefined;
  }

  onTrace(ev: TraceEvent): void {
    const ep = this.ep!;
    const w = this.windowMs;
    switch (ev.type) {
      case "packet-sent": {
        ep.packetsSent++;
        ep.bytesSent += ev.size;
        if (ev.now - ep.winStart >= w) ep.roll(ev.now);
        const m = this.meter(ev.peer, ev.now);
        if (m !== undefined) {
          m.packetsSent++;
          m.bytesSent += ev.size;
          if (ev.now - m.winStart >= w) m.roll(ev.now);
        }
        return;
      }
      case "packet-received": {
        ep.packetsReceived++;
        ep.bytesReceived += ev.size;
        if (ev.now - ep.winStart >= w) ep.roll(ev.now);
        const m = this.meter(ev.peer, ev.now);
        if (m !== undefined) {
          m.packetsReceived++;
          m.bytesReceived += ev.size;
          if (ev.now - m.winStart >= w) m.roll(ev.now);
        }
        return;
      }
      case "packet-acked": {
        ep.packetsAcked++;
        const m = this.meter(ev.peer, ev.now);
        if (m === undefined) return;
        m.packetsAcked++;
        // One ack resolves several packets at one instant; like core's estimator (RFC 9002 §5.1),
        // only its first (newest) packet is an RTT sample, the older ones would measure send spacing.
        if (ev.now === m.lastAckAt) return;
        m.lastAckAt = ev.now;
        m.sample(ev.rttMs);
        ep.rtt.push(ev.rttMs);
        ep.observe(ev.rttMs);
        return;
      }
      case "packet-lost": {
        ep.packetsLost++;
        const m = this.meter(ev.peer, ev.now);
        if (m !== undefined) m.packetsLost++;
        return;
      }
      case "drop": {
        const i = DROP_INDEX[ev.reason];
        if (i === undefined) return;
        ep.drops[i]!++;
        if (ev.peer !== undefined) {
          const m = this.meter(ev.peer, ev.now);
          if (m !== undefined) m.drops[i]!++;
        }
        return;
      }
      case "send-drop": {
        const c = ev.channel;
        const arr = ev.reason === "expired" ? ep.expired : ep.superseded;
        if (c >= 0 && c < arr.length) arr[c]!++;
        const m = this.meter(ev.peer, ev.now);
        if (m !== undefined && c >= 0 && c < arr.length) (ev.reason === "expired" ? m.expired : m.superseded)[c]!++;
        return;
      }
      default:
        return;
    }
  }

  /** The peer's meter; created on first sight of a connected peer (not for handshakes that may never complete). */
  private meter(peer: Peer, now: number): PeerMeter | undefined {
    const m = peer.slots[this.slot];
    if (m !== undefined) return m as PeerMeter;
    const s = peer.state;
    return s === "connected" || s === "disconnecting" ? this.attach(peer, now) : undefined;
  }

  private attach(peer: Peer, now: number): PeerMeter {
    const m = new PeerMeter(peer, now, this.channels, this.options.rttWindow);
    m.index = this.live.length;
    this.live.push(m);
    peer.slots[this.slot] = m;
    return m;
  }

  /** Peers tracked now. */
  get peerCount(): number {
    return this.live.length;
  }

  /**
   * Plain objects with every figure, computed now. `now` is the endpoint's clock (ms; the
   * simulator's `sim.now` in tests); default the `clock` option (performance.now()).
   */
  snapshot(now: number = this.clock()): MetricsSnapshot {
    // Before registration: all zeros (a scrape may come before the endpoint exists).
    const ep = this.ep ?? new EndpointMeter(now, 0, 1, this.options.rttBucketsMs);
    const peers = this.live.map((m) => this.peerMetrics(m, now)).sort((a, b) => a.id - b.id);
    const n = peers.length;
    let srtt = 0;
    let rttvar = 0;
    let jitter = 0;
    let rto = 0;
    let qdelay = 0;
    let sqdelay = 0;
    let retransmits = ep.departedRetransmits;
    const cong = { windowBytes: 0, bytesInFlight: 0, sendBudgetBytes: 0, queuedBytes: 0 };
    for (const p of peers) {
      srtt += p.rtt.smoothedMs;
      rttvar += p.rtt.varianceMs;
      jitter += p.rtt.jitterMs;
      rto += p.congestion.rtoMs;
      qdelay += p.congestion.queueDelayMs;
      sqdelay = Math.max(sqdelay, p.congestion.sendQueueDelayMs);
      retransmits += p.retransmits;
      cong.windowBytes += p.congestion.windowBytes;
      cong.bytesInFlight += p.congestion.bytesInFlight;
      cong.sendBudgetBytes += p.congestion.sendBudgetBytes;
      cong.queuedBytes += p.congestion.queuedBytes;
    }
    const avg = (x: number): number => (n === 0 ? 0 : x / n);
    const counts = Array.from(ep.buckets);
    const endpoint: EndpointMetrics = {
      peers: n,
      connectsTotal: ep.connects,
      disconnects: Object.fromEntries(DISCONNECT_REASONS.map((r, i) => [r, ep.disconnects[i]!])) as Record<DisconnectReason, number>,
      ...this.traffic(ep, now, retransmits),
      rtt: { ...this.rttOf(ep), smoothedMs: avg(srtt), varianceMs: avg(rttvar), jitterMs: avg(jitter) },
      rttHistogram: { boundsMs: [...this.options.rttBucketsMs], counts, sumMs: ep.rtt.sum, count: ep.rtt.total },
      congestion: { ...cong, queueDelayMs: avg(qdelay), sendQueueDelayMs: sqdelay, rtoMs: avg(rto) },
    };
    return { at: now, labels: { ...this.options.labels }, endpoint, peers };
  }

  private rttOf(m: Meter): RttMetrics {
    const w = m.rtt;
    return {
      smoothedMs: 0,
      varianceMs: 0,
      minMs: fin(w.min),
      latestMs: fin(m.lastRtt),
      p50Ms: fin(w.percentile(50)),
      p99Ms: fin(w.percentile(99)),
      meanMs: fin(w.mean()),
      windowSamples: w.size,
      samples: w.total,
      jitterMs: m.jitter,
    };
  }

  private traffic(m: Meter, now: number, retransmits: number): TrafficMetrics {
    const resolved = m.packetsAcked + m.packetsLost;
    const lossPercent = resolved === 0 ? 0 : (100 * m.packetsLost) / resolved;
    // A window that ran past its length without traffic to roll it: measure the open window instead.
    const dt = now - m.winStart;
    let rates: RateMetrics;
    if (m.rated && dt < this.windowMs) {
      rates = { bytesInPerSec: m.rateBytesIn, bytesOutPerSec: m.rateBytesOut, packetsInPerSec: m.ratePacketsIn, packetsOutPerSec: m.ratePacketsOut, windowMs: m.rateWindowMs };
    } else {
      const k = dt > 0 ? 1000 / dt : 0;
      rates = {
        bytesInPerSec: (m.bytesReceived - m.w0BytesReceived) * k,
        bytesOutPerSec: (m.bytesSent - m.w0BytesSent) * k,
        packetsInPerSec: (m.packetsReceived - m.w0PacketsReceived) * k,
        packetsOutPerSec: (m.packetsSent - m.w0PacketsSent) * k,
        windowMs: Math.max(0, dt),
      };
    }
    const drops = Object.fromEntries(DROP_REASONS.map((r, i) => [r, m.drops[i]!])) as Record<DropReason, number>;
    let dropsTotal = 0;
    for (let i = 0; i < m.drops.length; i++) dropsTotal += m.drops[i]!;
    const byChannel: ChannelSendDrops[] = [];
    let expired = 0;
    let superseded = 0;
    for (let c = 0; c < m.expired.length; c++) {
      const e = m.expired[c]!;
      const s = m.superseded[c]!;
      expired += e;
      superseded += s;
      if (e + s > 0) byChannel.push({ channel: c, expired: e, superseded: s });
    }
    return {
      packetsSent: m.packetsSent,
      packetsReceived: m.packetsReceived,
      bytesSent: m.bytesSent,
      bytesReceived: m.bytesReceived,
      packetsAcked: m.packetsAcked,
      packetsLost: m.packetsLost,
      lossPercent,
      lossPercentWindow: m.rated ? m.winLossPercent : lossPercent,
      retransmits,
      rates,
      drops,
      dropsTotal,
      sendDrops: { expired, superseded, byChannel },
    };
  }

  private peerMetrics(m: PeerMeter, now: number): PeerMetrics {
    const s = m.peer.stats();
    const srtt = s.rttMs;
    const rtt = this.rttOf(m);
    rtt.smoothedMs = srtt;
    rtt.varianceMs = s.rttVarMs;
    if (rtt.samples > 0 && s.minRttMs > 0) rtt.minMs = Math.min(rtt.minMs, s.minRttMs);
    const min = rtt.samples > 0 ? rtt.minMs : srtt;
    const drainRate = s.congestionWindow / Math.max(srtt, 1); // bytes per ms the window lets out
    return {
      id: m.peer.id,
      address: m.address,
      state: m.peer.state,
      connectedAt: m.connectedAt,
      ...this.traffic(m, now, s.retransmits),
      rtt,
      congestion: {
        windowBytes: s.congestionWindow,
        bytesInFlight: s.bytesInFlight,
        sendBudgetBytes: s.sendBudget,
        queuedBytes: s.queuedBytes,
        queueDelayMs: Math.max(0, srtt - min),
        sendQueueDelayMs: s.queuedBytes === 0 ? 0 : s.queuedBytes / Math.max(drainRate, 1e-9),
        rtoMs: s.rtoMs,
      },
      messagesSent: s.messagesSent,
      messagesReceived: s.messagesReceived,
      messagesDropped: s.messagesDropped,
    };
  }
}

/** Creates a metrics plugin: `const m = metrics(); listen({ plugins: [m] }); m.snapshot()`. */
export function metrics(options?: MetricsOptions): MetricsPlugin {
  return new MetricsPlugin(options);
}
