/** What every scenario gets from main: options, pinning plan, logging. */
import type { Pinning } from "./schema.ts";
import { taskset } from "./proc.ts";

export interface PinPlan {
  name: Pinning;
  /** CPU of the client / sender / load process; undefined = not pinned. */
  client: number | undefined;
  /** CPU of the server / receiver process. */
  server: number | undefined;
}

export interface RunContext {
  quick: boolean;
  /** Interleaved rounds; undefined = the scenario's default. */
  rounds: number | undefined;
  /** Only these transports (plus the raw-UDP baseline, always kept for the ratios); undefined = all. */
  transports: string[] | undefined;
  /** RTT pinnings asked for on the command line; undefined = the default plan. */
  pinnings?: Pinning[] | undefined;
  log: (line: string) => void;
}

/** Pinning plans of the RTT scenario: same core, across cores and unpinned when taskset works, else unpinned only. */
export function rttPinnings(wantedPins?: Pinning[]): PinPlan[] {
  const unpinned: PinPlan = { name: "unpinned", client: undefined, server: undefined };
  if (taskset() === null) return [unpinned];
  const all: PinPlan[] = [
    { name: "same-core", client: 0, server: 0 },
    { name: "cross-core", client: 0, server: 1 },
    unpinned,
  ];
  return wantedPins === undefined ? all : all.filter((p) => wantedPins.includes(p.name));
}

/** Two-process scenarios (throughput, scale): one core each when possible. */
export function pairPinning(): PinPlan {
  return taskset() === null ? { name: "unpinned", client: undefined, server: undefined } : { name: "cross-core", client: 0, server: 1 };
}

export function wanted(ctx: RunContext, transport: string, baseline: string): boolean {
  return ctx.transports === undefined || transport === baseline || ctx.transports.includes(transport);
}
