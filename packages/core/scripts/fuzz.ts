/**
 * Bounded fuzz run of the protocol engine's datagram input, longer than the
 * suite's (src/protocol/fuzz.test.ts) and with the same generators and checks
 * (scripts/fuzz-harness.ts): random bytes and mutated real datagrams, fed to a
 * server and a client of a live connection while a bystander connection must
 * stay unaffected.
 *
 *   bun packages/core/scripts/fuzz.ts [--seconds 60] [--seed N]
 *   bun run fuzz -- --seconds 300
 *
 * Prints datagrams/s and drop counts by reason. On any failure (a throw from
 * the engine, a datagram neither accepted nor counted, memory over the cap, a
 * wedged connection) it prints the crashing input as hex on stdout, how to
 * reproduce, and exits with status 1. Same seed, same sequence of batches.
 */
import fc from "fast-check";
import { DROP_REASONS } from "../src/protocol/types.ts";
import {
  FuzzFailure, captureCorpus, hex, mutatedCaseArb, newTotals, randomCaseArb, runMutatedBatch, runRandomBatch,
} from "./fuzz-harness.ts";

const BATCH = 250;

function parseArgs(argv: string[]): { seconds: number; seed: number } {
  let seconds = 60;
  let seed = (Date.now() ^ (performance.now() * 1000)) >>> 0;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split("=", 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--seconds") seconds = Number(value());
    else if (flag === "--seed") seed = Number(value());
    else if (flag === "--help" || flag === "-h") {
      console.log("usage: bun packages/core/scripts/fuzz.ts [--seconds 60] [--seed N]");
      process.exit(0);
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!(seconds > 0) || !Number.isFinite(seconds)) throw new Error("--seconds must be a positive number");
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error("--seed must be an integer in [0, 2^32)");
  return { seconds, seed };
}

function main(): number {
  const { seconds, seed } = parseArgs(process.argv.slice(2));
  console.log(`fastnet fuzz: ${seconds} s, seed ${seed}`);
  const corpus = captureCorpus(1);
  console.log(`corpus: ${corpus.toServer.length} client→server and ${corpus.toClient.length} server→client datagrams`);
  const totals = newTotals();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let batch = 0;
  let lastReport = start;
  while (performance.now() < deadline) {
    const batchSeed = (seed + Math.imul(batch, 0x9e3779b1)) >>> 0;
    const kind = batch % 3 === 0 ? "random" : "mutated";
    try {
      if (kind === "random") {
        const cases = fc.sample(fc.array(randomCaseArb, { minLength: BATCH, maxLength: BATCH }), { seed: batchSeed, numRuns: 1 })[0]!;
        runRandomBatch(cases, batchSeed & 0xffffff, totals);
      } else {
        const cases = fc.sample(fc.array(mutatedCaseArb, { minLength: BATCH, maxLength: BATCH }), { seed: batchSeed, numRuns: 1 })[0]!;
        runMutatedBatch(cases, corpus, batchSeed & 0xffffff, totals);
      }
    } catch (e) {
      console.log(`FAILURE in ${kind} batch ${batch} (batch seed ${batchSeed}) after ${totals.datagrams} datagrams`);
      if (e instanceof FuzzFailure && e.input !== undefined) {
        console.log(`crashing input (${e.input.length} bytes, hex):`);
        console.log(hex(e.input));
      }
      console.log(e instanceof Error ? (e.stack ?? e.message) : String(e));
      if (e instanceof Error && e.cause instanceof Error) console.log(`cause: ${e.cause.stack ?? e.cause.message}`);
      console.log(`reproduce: bun packages/core/scripts/fuzz.ts --seed ${seed} (fails in batch ${batch})`);
      return 1;
    }
    batch++;
    const now = performance.now();
    if (now - lastReport >= 10_000) {
      lastReport = now;
      console.log(`  ${((now - start) / 1000).toFixed(0)} s: ${totals.datagrams} datagrams, ${totals.worlds} worlds`);
    }
  }
  const elapsed = (performance.now() - start) / 1000;
  console.log(`${totals.datagrams} datagrams in ${elapsed.toFixed(1)} s: ${Math.round(totals.datagrams / elapsed)} datagrams/s`);
  console.log(`${batch} batches, ${totals.worlds} worlds (server + fuzzed client + bystander), no failure`);
  console.log("drops by reason (all endpoints, forged and real datagrams):");
  const rows = DROP_REASONS.map((r) => [r, totals.drops[r]] as const).sort((a, b) => b[1] - a[1]);
  for (const [r, n] of rows) console.log(`  ${r.padEnd(20)} ${n}`);
  return 0;
}

process.exitCode = main();
