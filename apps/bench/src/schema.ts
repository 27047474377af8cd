/**
 * The JSON output (`--out FILE`), documented in apps/bench/README.md, and
 * its validator (used by the smoke test and by main before writing).
 *
 * One record per (scenario, transport, mode, pinning). Every record has every
 * field below; a figure that does not apply to a scenario is null.
 */

import { cdfPoints, round, summarize } from "./stats.ts";

export const SCHEMA_VERSION = 1;

export type Scenario = "rtt" | "throughput" | "scale" | "badnet";
export const SCENARIOS: readonly Scenario[] = ["rtt", "throughput", "scale", "badnet"];
export type Pinning = "same-core" | "cross-core" | "unpinned";

export interface BenchRecord {
  scenario: Scenario;
  transport: string;
  /** rtt: "normal" | "spin"; throughput: "unpacked-64B" | "packed-1200B" ...; scale: "30hz-n100" ...; badnet: "rtt40ms-loss5pct" ... */
  mode: string;
  pinning: Pinning;
  /** Message payload, bytes. */
  size: number;
  /** Latency samples (rtt: round trips; scale: round trips under load; badnet: age observations). 0 for throughput. */
  samples: number;
  avg_us: number | null;
  p50_us: number | null;
  p99_us: number | null;
  p999_us: number | null;
  max_us: number | null;
  /** p50 / p50 of the raw-UDP baseline of the same run and the same (mode, pinning). */
  ratio_p50_vs_raw: number | null;
  ratio_p99_vs_raw: number | null;
  /** Messages or pings that never arrived (rtt: pings without a reply within 200 ms). */
  lost: number | null;
  // Throughput.
  msgs_per_s: number | null;
  /** Payload megabytes (10^6 B) per second at the receiver. */
  mb_per_s: number | null;
  /** 100 * (sent - received) / sent. Also the configured loss in badnet. */
  loss_pct: number | null;
  ratio_msgs_vs_raw: number | null;
  // Scale.
  clients: number | null;
  hz: number | null;
  /** Server CPU (user + system) µs per datagram received, its reply included. */
  server_cpu_us_per_datagram: number | null;
  /** Server JS heap growth per connected peer (after GC), bytes. */
  mem_per_peer_bytes: number | null;
  /** Server RSS growth per connected peer, bytes. */
  rss_per_peer_bytes: number | null;
  // Bad network.
  /** Round-trip delay the relay adds, ms. */
  rtt_ms: number | null;
  /** Rounds (runs) pooled into this record. */
  rounds: number;
  /** Empirical CDF for the charts: [value µs, fraction] ascending; [] when none. */
  cdf: [number, number][];
  /** Free-text caveats (e.g. "sender-limited"). */
  note: string;
}

export interface BenchDocument {
  schema_version: number;
  generated_at: string;
  command: string;
  bun_version: string;
  cpu_model: string;
  cpus: number;
  /** Whether taskset pinning was available; pinning names in records say what was used. */
  taskset: boolean;
  quick: boolean;
  /** Wall time of the whole run, s. */
  duration_s: number;
  /** Load average (1 min) when the run started and ended: other processes on the machine. */
  loadavg_start: number;
  loadavg_end: number;
  records: BenchRecord[];
}

type FieldKind = "string" | "number" | "number|null" | "cdf" | "scenario" | "pinning";
export const RECORD_FIELDS: Readonly<Record<keyof BenchRecord, FieldKind>> = {
  scenario: "scenario",
  transport: "string",
  mode: "string",
  pinning: "pinning",
  size: "number",
  samples: "number",
  avg_us: "number|null",
  p50_us: "number|null",
  p99_us: "number|null",
  p999_us: "number|null",
  max_us: "number|null",
  ratio_p50_vs_raw: "number|null",
  ratio_p99_vs_raw: "number|null",
  lost: "number|null",
  msgs_per_s: "number|null",
  mb_per_s: "number|null",
  loss_pct: "number|null",
  ratio_msgs_vs_raw: "number|null",
  clients: "number|null",
  hz: "number|null",
  server_cpu_us_per_datagram: "number|null",
  mem_per_peer_bytes: "number|null",
  rss_per_peer_bytes: "number|null",
  rtt_ms: "number|null",
  rounds: "number",
  cdf: "cdf",
  note: "string",
};

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Problems with a document (empty = valid). */
export function validateDocument(doc: unknown): string[] {
  const problems: string[] = [];
  if (typeof doc !== "object" || doc === null) return ["the document is not an object"];
  const d = doc as Record<string, unknown>;
  if (d.schema_version !== SCHEMA_VERSION) problems.push(`schema_version is ${String(d.schema_version)}, expected ${SCHEMA_VERSION}`);
  for (const k of ["generated_at", "command", "bun_version", "cpu_model"]) if (typeof d[k] !== "string") problems.push(`${k} is not a string`);
  for (const k of ["cpus", "duration_s", "loadavg_start", "loadavg_end"]) if (!isNum(d[k])) problems.push(`${k} is not a number`);
  for (const k of ["taskset", "quick"]) if (typeof d[k] !== "boolean") problems.push(`${k} is not a boolean`);
  if (!Array.isArray(d.records)) return [...problems, "records is not an array"];
  const keys = new Set<string>();
  d.records.forEach((r, i) => {
    for (const p of validateRecord(r)) problems.push(`records[${i}]: ${p}`);
    const rec = r as BenchRecord;
    const key = `${rec.scenario}|${rec.transport}|${rec.mode}|${rec.pinning}`;
    if (keys.has(key)) problems.push(`records[${i}]: duplicate (scenario, transport, mode, pinning) ${key}`);
    keys.add(key);
  });
  return problems;
}

export function validateRecord(r: unknown): string[] {
  if (typeof r !== "object" || r === null) return ["not an object"];
  const rec = r as Record<string, unknown>;
  const problems: string[] = [];
  for (const [field, kind] of Object.entries(RECORD_FIELDS)) {
    if (!(field in rec)) {
      problems.push(`missing field ${field}`);
      continue;
    }
    const v = rec[field];
    const ok =
      kind === "string" ? typeof v === "string"
      : kind === "number" ? isNum(v)
      : kind === "number|null" ? v === null || isNum(v)
      : kind === "scenario" ? SCENARIOS.includes(v as Scenario)
      : kind === "pinning" ? v === "same-core" || v === "cross-core" || v === "unpinned"
      : Array.isArray(v) && v.every((p, i) => Array.isArray(p) && p.length === 2 && isNum(p[0]) && isNum(p[1]) && p[1] >= 0 && p[1] <= 1 && (i === 0 || p[1] > (v[i - 1] as number[])[1]!));
    if (!ok) problems.push(`field ${field} is ${JSON.stringify(v)}, expected ${kind}`);
  }
  for (const field of Object.keys(rec)) if (!(field in RECORD_FIELDS)) problems.push(`unknown field ${field}`);
  if (problems.length > 0) return problems;
  const x = rec as unknown as BenchRecord;
  if (x.samples > 0 && (x.p50_us === null || x.p99_us === null || x.p999_us === null || x.max_us === null || x.avg_us === null)) problems.push("samples > 0 but a latency figure is null");
  if (x.p50_us !== null && x.p99_us !== null && x.p999_us !== null && x.max_us !== null && !(x.p50_us <= x.p99_us && x.p99_us <= x.p999_us && x.p999_us <= x.max_us)) problems.push("percentiles are not ordered p50 <= p99 <= p99.9 <= max");
  if (x.scenario === "throughput" && (x.msgs_per_s === null || x.mb_per_s === null)) problems.push("a throughput record without msgs_per_s / mb_per_s");
  if (x.scenario === "scale" && (x.clients === null || x.hz === null)) problems.push("a scale record without clients / hz");
  if (x.scenario === "badnet" && (x.rtt_ms === null || x.loss_pct === null)) problems.push("a badnet record without rtt_ms / loss_pct");
  return problems;
}

/** A record with every field null/empty except the key; scenarios fill in what they measure. */
export function emptyRecord(scenario: Scenario, transport: string, mode: string, pinning: Pinning, size: number): BenchRecord {
  return {
    scenario, transport, mode, pinning, size,
    samples: 0, avg_us: null, p50_us: null, p99_us: null, p999_us: null, max_us: null,
    ratio_p50_vs_raw: null, ratio_p99_vs_raw: null, lost: null,
    msgs_per_s: null, mb_per_s: null, loss_pct: null, ratio_msgs_vs_raw: null,
    clients: null, hz: null, server_cpu_us_per_datagram: null, mem_per_peer_bytes: null, rss_per_peer_bytes: null,
    rtt_ms: null, rounds: 0, cdf: [], note: "",
  };
}

/** Fills a record's latency fields (samples, avg, percentiles, max, CDF) from raw µs samples; sorts them. */
export function fillLatency(rec: BenchRecord, samples: number[]): void {
  const s = summarize(samples);
  if (s === null) return;
  rec.samples = s.samples;
  rec.avg_us = round(s.avg);
  rec.p50_us = round(s.p50);
  rec.p99_us = round(s.p99);
  rec.p999_us = round(s.p999);
  rec.max_us = round(s.max);
  rec.cdf = cdfPoints(samples.sort((a, b) => a - b), 48).map(([x, f]) => [round(x), f]);
}
