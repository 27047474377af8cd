/**
 * Link model of the simulator: the impairment configuration of one direction
 * between two addresses (latency, jitter, loss, burst loss, duplication,
 * reordering, MTU, bandwidth with a drop-tail queue), its validation and its
 * counters.
 */
import { configError } from "../protocol/errors.ts";

/** Gilbert-Elliott two-state loss model, evaluated once per datagram. */
export interface BurstLossConfig {
  /** Probability of moving from the good to the bad state, per datagram, 0..1. */
  pGoodToBad: number;
  /** Probability of moving from the bad to the good state, per datagram, 0..1. Mean bad run = 1 / pBadToGood. */
  pBadToGood: number;
  /** Probability that a datagram sent in the bad state is lost, 0..1. */
  lossInBad: number;
}

/** Impairments of one link direction. Every field is optional; the defaults are a perfect link. */
export interface LinkConfig {
  /** One-way base delay, ms. Default 0. */
  latencyMs?: number;
  /** Uniform jitter: each datagram's delay is latencyMs + U(-jitterMs, +jitterMs), floored at 0. Default 0. */
  jitterMs?: number;
  /** Independent random loss probability, 0..1. Default 0. */
  loss?: number;
  /** Correlated (bursty) loss, applied in addition to `loss`. Default none. */
  burstLoss?: BurstLossConfig | undefined;
  /** Probability that a datagram is delivered twice (the copy gets its own jitter), 0..1. Default 0. */
  duplicate?: number;
  /** Probability that a datagram gets an extra delay of reorderDelayMs, 0..1. Default 0. */
  reorder?: number;
  /** Extra delay of a reordered datagram, ms. Must exceed the send interval to reorder anything. Default 20. */
  reorderDelayMs?: number;
  /** Datagrams larger than this many bytes are dropped and counted. Default Infinity. */
  mtu?: number;
  /** Serialization rate, bytes per second; datagrams wait in a FIFO queue. Default Infinity (no queue). */
  bandwidthBps?: number;
  /** Drop-tail limit of the bandwidth queue, bytes (including the datagram being serialized). Default Infinity. */
  queueLimitBytes?: number;
}

/** A LinkConfig with every default filled in. */
export interface ResolvedLinkConfig {
  latencyMs: number;
  jitterMs: number;
  loss: number;
  burstLoss: BurstLossConfig | undefined;
  duplicate: number;
  reorder: number;
  reorderDelayMs: number;
  mtu: number;
  bandwidthBps: number;
  queueLimitBytes: number;
}

/** Counters of one link direction. */
export interface LinkStats {
  /** Datagrams offered to the link by an endpoint (not counting injected ones). */
  sent: number;
  bytesSent: number;
  /** Datagrams handed to the destination endpoint, duplicates and injected ones included. */
  delivered: number;
  bytesDelivered: number;
  /** Datagrams lost to random or burst loss. */
  lost: number;
  /** Extra copies created by duplication. */
  duplicated: number;
  /** Datagrams (copies) that got the extra reorder delay. */
  reordered: number;
  /** Datagrams dropped for exceeding the MTU. */
  mtuDropped: number;
  /** Datagrams dropped because the bandwidth queue was full. */
  queueDropped: number;
  /** Datagrams that arrived at an address with no node. */
  noRoute: number;
  /** Datagrams placed on the link with `Simulator.inject`. */
  injected: number;
}

export const DEFAULT_LINK: Readonly<ResolvedLinkConfig> = Object.freeze({
  latencyMs: 0,
  jitterMs: 0,
  loss: 0,
  burstLoss: undefined,
  duplicate: 0,
  reorder: 0,
  reorderDelayMs: 20,
  mtu: Infinity,
  bandwidthBps: Infinity,
  queueLimitBytes: Infinity,
});

export function zeroStats(): LinkStats {
  return {
    sent: 0, bytesSent: 0, delivered: 0, bytesDelivered: 0, lost: 0, duplicated: 0,
    reordered: 0, mtuDropped: 0, queueDropped: 0, noRoute: 0, injected: 0,
  };
}

export function addStats(into: LinkStats, from: LinkStats): void {
  into.sent += from.sent;
  into.bytesSent += from.bytesSent;
  into.delivered += from.delivered;
  into.bytesDelivered += from.bytesDelivered;
  into.lost += from.lost;
  into.duplicated += from.duplicated;
  into.reordered += from.reordered;
  into.mtuDropped += from.mtuDropped;
  into.queueDropped += from.queueDropped;
  into.noRoute += from.noRoute;
  into.injected += from.injected;
}

/**
 * Validates `partial` (named `prefix` in errors) and returns `base` with it applied.
 * Configuration is checked once here so the per-datagram path never re-checks it.
 */
export function resolveLink(base: Readonly<ResolvedLinkConfig>, partial: LinkConfig | undefined, prefix: string): ResolvedLinkConfig {
  const out: ResolvedLinkConfig = { ...base };
  if (partial === undefined) return out;
  if (typeof partial !== "object" || partial === null) throw configError(prefix, "an object", partial);
  if (partial.latencyMs !== undefined) out.latencyMs = nonNegative(partial.latencyMs, `${prefix}.latencyMs`, false);
  if (partial.jitterMs !== undefined) out.jitterMs = nonNegative(partial.jitterMs, `${prefix}.jitterMs`, false);
  if (partial.loss !== undefined) out.loss = probability(partial.loss, `${prefix}.loss`);
  if (partial.duplicate !== undefined) out.duplicate = probability(partial.duplicate, `${prefix}.duplicate`);
  if (partial.reorder !== undefined) out.reorder = probability(partial.reorder, `${prefix}.reorder`);
  if (partial.reorderDelayMs !== undefined) out.reorderDelayMs = nonNegative(partial.reorderDelayMs, `${prefix}.reorderDelayMs`, false);
  if (partial.mtu !== undefined) out.mtu = nonNegative(partial.mtu, `${prefix}.mtu`, true);
  if (partial.bandwidthBps !== undefined) {
    out.bandwidthBps = nonNegative(partial.bandwidthBps, `${prefix}.bandwidthBps`, true);
    if (out.bandwidthBps === 0) throw configError(`${prefix}.bandwidthBps`, "a positive number of bytes per second", 0);
  }
  if (partial.queueLimitBytes !== undefined) out.queueLimitBytes = nonNegative(partial.queueLimitBytes, `${prefix}.queueLimitBytes`, true);
  if ("burstLoss" in partial) {
    const b = partial.burstLoss;
    if (b === undefined) out.burstLoss = undefined;
    else {
      if (typeof b !== "object" || b === null) throw configError(`${prefix}.burstLoss`, "an object or undefined", b);
      // Copied so that later mutation of the caller's object cannot change a running simulation.
      out.burstLoss = {
        pGoodToBad: probability(b.pGoodToBad, `${prefix}.burstLoss.pGoodToBad`),
        pBadToGood: probability(b.pBadToGood, `${prefix}.burstLoss.pBadToGood`),
        lossInBad: probability(b.lossInBad, `${prefix}.burstLoss.lossInBad`),
      };
    }
  }
  return out;
}

function nonNegative(v: unknown, name: string, allowInfinity: boolean): number {
  if (typeof v !== "number" || Number.isNaN(v) || v < 0 || (!allowInfinity && v === Infinity)) {
    throw configError(name, allowInfinity ? "a number >= 0 (Infinity allowed)" : "a finite number >= 0", v);
  }
  return v;
}

function probability(v: unknown, name: string): number {
  if (typeof v !== "number" || !(v >= 0 && v <= 1)) throw configError(name, "a number in [0, 1]", v);
  return v;
}
