/**
 * The Bun UDP driver: the only code in @fastnet/core that touches sockets,
 * clocks and timers.
 */
export { UdpTransport } from "./udp.ts";
export type {
  UdpBindOptions,
  UdpTransportStats,
  BoundAddress,
  BatchTransport,
  DatagramHandler,
  UdpSocketLike,
  UdpSocketHandlers,
} from "./udp.ts";
export { EndpointRunner } from "./runner.ts";
export type { DrivableEndpoint, EndpointRunnerOptions, RunnerStats, RunnerPhase } from "./runner.ts";
