/**
 * fastnet bench: side-by-side latency, throughput, server-scale and
 * bad-network measurements of fastnet against raw Bun.udpSocket, node:dgram,
 * TLS 1.3 over TCP and WebSocket. Every client and server is its own process
 * (src/worker.ts); configurations run interleaved (A B C ... A B C ...);
 * ratios divide by the raw-UDP baseline measured in the same run.
 *
 *   bun run bench [--quick] [--scenario rtt,throughput,scale,badnet] [--out FILE]
 *
 * See apps/bench/README.md for the method and the JSON schema.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { CliError, companionPaths, parseArgs, USAGE } from "./cli.ts";
import type { RunContext } from "./context.ts";
import { load1, machineInfo } from "./proc.ts";
import { markdownReport, svgReport, terminalReport } from "./report.ts";
import { runBadnet } from "./scenarios/badnet.ts";
import { runRtt } from "./scenarios/rtt.ts";
import { runScale } from "./scenarios/scale.ts";
import { runThroughput } from "./scenarios/throughput.ts";
import { SCHEMA_VERSION, validateDocument, type BenchDocument, type BenchRecord, type Scenario } from "./schema.ts";

const DEFAULT_OUT = resolve(import.meta.dir, "../results/bench.json");

const RUNNERS: Record<Scenario, (ctx: RunContext) => Promise<BenchRecord[]>> = {
  rtt: runRtt,
  throughput: runThroughput,
  scale: runScale,
  badnet: runBadnet,
};

async function main(argv: string[]): Promise<number> {
  let opts;
  try {
    opts = parseArgs(argv, DEFAULT_OUT);
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`bench: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const machine = machineInfo();
  const started = performance.now();
  const loadStart = load1();
  const command = ["bun run bench", ...argv].join(" ");
  console.log(`fastnet bench — Bun ${machine.bunVersion}, ${machine.cpuModel}, ${machine.cpus} CPUs, taskset ${machine.taskset ? "yes" : "no"}, load ${loadStart.toFixed(2)}`);
  console.log(`scenarios: ${opts.scenarios.join(", ")}${opts.quick ? " (quick)" : ""}\n`);
  const ctx: RunContext = {
    quick: opts.quick,
    rounds: opts.rounds,
    transports: opts.transports,
    pinnings: opts.pinnings,
    log: (line) => console.log(`  [${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`),
  };
  const records: BenchRecord[] = [];
  for (const s of opts.scenarios) records.push(...(await RUNNERS[s](ctx)));
  const doc: BenchDocument = {
    schema_version: SCHEMA_VERSION,
    generated_at: new Date().toISOString(),
    command,
    bun_version: machine.bunVersion,
    cpu_model: machine.cpuModel,
    cpus: machine.cpus,
    taskset: machine.taskset,
    quick: opts.quick,
    duration_s: Math.round((performance.now() - started) / 100) / 10,
    loadavg_start: loadStart,
    loadavg_end: load1(),
    records,
  };
  const { md, svg } = companionPaths(opts.out);
  mkdirSync(dirname(resolve(opts.out)), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(doc, null, 1)}\n`);
  writeFileSync(svg, svgReport(doc));
  writeFileSync(md, markdownReport(doc, basename(svg)));
  console.log(`\n${terminalReport(doc)}`);
  console.log(`wrote ${opts.out}\n      ${md}\n      ${svg}`);
  const problems = validateDocument(doc);
  if (problems.length > 0) {
    console.error(`bench: the JSON does not match its schema:\n  ${problems.slice(0, 20).join("\n  ")}`);
    return 1;
  }
  return 0;
}

process.exit(await main(process.argv.slice(2)));
