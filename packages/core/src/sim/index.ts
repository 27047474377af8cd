/**
 * Public entry of `@fastnet/core/sim`: the seeded, deterministic network
 * simulator with a virtual clock, for users' tests and every package's tests.
 */
export {
  Simulator,
  SimLivelockError,
  SIM_SCRATCH_SIZE,
  addressKey,
  type SimEndpoint,
  type SimNode,
  type SimulatorOptions,
} from "./simulator.ts";
export {
  DEFAULT_LINK,
  type BurstLossConfig,
  type LinkConfig,
  type LinkStats,
  type ResolvedLinkConfig,
} from "./link.ts";
export { hashTrace, type TraceFate, type TraceRecord } from "./trace.ts";
