/**
 * The FEC figures of the README, measured on the deterministic simulator
 * (harness.ts): for random loss of 1, 5 and 10 % and a bursty link, the share
 * of lost data datagrams FEC rebuilt before any retransmission, the share of
 * isolated losses (nothing else lost in their group) rebuilt, the client's
 * retransmissions, the bandwidth overhead against the same run without FEC,
 * and the delivery latency of reliable-ordered messages (p50 / p99), summed
 * over 3 seeds. Run: `bun packages/fec/bench/figures.ts [--quick]`.
 */
import type { FecOptions } from "../src/index.ts";
import { type LossModel, type RunOptions, runStream } from "./harness.ts";

const LOSSES: [string, LossModel][] = [
  ["1 % random", { kind: "random", p: 0.01 }],
  ["5 % random", { kind: "random", p: 0.05 }],
  ["10 % random", { kind: "random", p: 0.1 }],
  ["bursty (≈2.6 %, bursts ≈3)", { kind: "burst", pGoodToBad: 0.01, pBadToGood: 0.3, lossInBad: 0.8 }],
];

const CONFIGS: [string, FecOptions | null][] = [
  ["none", null],
  ["fec() (adaptive xor)", {}],
  ["xor, N = 4", { adaptive: false, groupSize: 4 }],
  ["reed-solomon 4+2", { mode: "reed-solomon", adaptive: false, groupSize: 4, parityShards: 2 }],
];

export const WORKLOADS: [string, Omit<RunOptions, "seed" | "loss" | "fec">][] = [
  ["4 × 1,000 B messages per 33 ms tick (4 datagrams), 15 ms one way", { messagesPerTick: 4, messageBytes: 1000, tickMs: 33, latencyMs: 15, ticks: 1800 }],
  ["1 × 600 B message per 16 ms tick (1 datagram), 30 ms one way", { messagesPerTick: 1, messageBytes: 600, tickMs: 16, latencyMs: 30, ticks: 3750 }],
];

const SEEDS = [1, 2, 3];

function pct(x: number): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : "–";
}

export function printFigures(quick = false): void {
  for (const [title, workload] of WORKLOADS) {
    const w = { ...workload, ticks: quick ? Math.round(workload.ticks! / 6) : workload.ticks };
    console.log(`Workload: ${title}, ${((w.ticks! * w.tickMs!) / 1000).toFixed(0)} s x ${SEEDS.length} seeds, reliable-ordered`);
    console.log("| loss | FEC | data lost | rebuilt | isolated rebuilt | resent | overhead | p50 ms | p99 ms |");
    console.log("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (const [lossName, loss] of LOSSES) {
      let baseBytes = 0;
      for (const [name, options] of CONFIGS) {
        let lost = 0, rebuilt = 0, iso = 0, isoRebuilt = 0, resent = 0, bytes = 0, p50 = 0, p99 = 0, delivered = 0, total = 0;
        for (const seed of SEEDS) {
          const r = runStream({ seed, loss, fec: options, ...w });
          lost += r.dataLost;
          rebuilt += r.recovered;
          iso += r.isolatedLost;
          isoRebuilt += r.isolatedRecovered;
          resent += r.retransmits;
          bytes += r.bytesSent;
          p50 = Math.max(p50, r.p50);
          p99 = Math.max(p99, r.p99);
          delivered += r.delivered;
          total += r.messages;
          if (r.misordered !== 0) throw new Error(`${lossName}, ${name}, seed ${seed}: ${r.misordered} messages out of order`);
        }
        if (options === null) baseBytes = bytes;
        const late = delivered < total ? ` (${total - delivered} late)` : "";
        console.log(`| ${lossName} | ${name} | ${lost} | ${options ? pct(rebuilt / lost) : "–"} | ${options ? pct(isoRebuilt / iso) : "–"} | ${resent} | ${options ? `+${pct(bytes / baseBytes - 1)}` : "–"} | ${p50.toFixed(0)} | ${p99.toFixed(0)}${late} |`);
      }
    }
    console.log("");
  }
}

if (import.meta.main) printFigures(process.argv.includes("--quick"));
