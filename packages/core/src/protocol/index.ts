/**
 * @fastnet/core/protocol: the sans-IO engine. Imports nothing from Bun or
 * node: (enforced by sans-io.test.ts).
 */
export * from "./types.ts";
export * from "./errors.ts";
export { Endpoint, type EndpointStats } from "./endpoint.ts";
export { type EndpointConfig, DEFAULT_CHANNELS } from "./config.ts";
export { CONSUMED } from "./plugin.ts";
export type {
  Plugin, PluginContext, Peer, ConnectRequest, ConnectDecision, TraceEvent, Scheduler,
} from "./plugin.ts";
export { type CongestionController, NewReno, type NewRenoOptions } from "./congestion.ts";
export { RttEstimator, type RttView } from "./rtt.ts";
export { SeededRandom } from "./random.ts";
export { seqGreater, seqDiff, seqAdd } from "./seq.ts";
export { RingQueue } from "./queue.ts";
export * as wire from "./wire.ts";
