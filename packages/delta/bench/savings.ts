/**
 * The standard fixture's figure: bytes saved by @fastnet/delta against
 * sending every snapshot whole, with 5% simulated loss, and a byte-for-byte
 * check of every snapshot the client reconstructed.
 *
 * Run: bun packages/delta/bench/savings.ts   (or `bun run savings` in packages/delta)
 * Options: --seconds N (default 10), --seeds N (default 5), --latency MS (one way, default 30), --loss P (default 0.05)
 * Exits 1 if any snapshot differs, or (on the standard link) a seed saves under 85%.
 */
import { runFixtureScenario } from "../src/fixture/scenario.ts";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const seconds = arg("seconds", 10);
const seeds = arg("seeds", 5);
const latencyMs = arg("latency", 30);
const loss = arg("loss", 0.05);
const link = { latencyMs, jitterMs: 5, loss };
const standard = latencyMs === 30 && loss === 0.05;
const ticks = Math.round(seconds * 60);

console.log(`@fastnet/delta standard fixture: 64 entities, 60 Hz, ${seconds} s per run, link ${latencyMs} ms one way ±5 ms, ${(loss * 100).toFixed(0)}% loss both ways, seeds 1..${seeds}`);
console.log("");
console.log("| layout | full snapshot | full bytes/s | delta bytes/s | saved (payload) | saved (wire) | delivered | byte-exact | resyncs |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
let failed = false;
for (const format of ["float", "quantized"] as const) {
  let snapshotBytes = 0;
  let messageBytes = 0;
  let wireBytes = 0;
  let delivered = 0;
  let verified = 0;
  let mismatches = 0;
  let resyncs = 0;
  let worst = 1;
  for (let seed = 1; seed <= seeds; seed++) {
    const r = runFixtureScenario({ seed, format, ticks, link });
    snapshotBytes += r.snapshotBytes;
    messageBytes += r.messageBytes;
    wireBytes += r.wireBytes;
    delivered += r.delivered;
    verified += r.verified;
    mismatches += r.mismatches + r.outOfOrder;
    resyncs += r.client?.resyncsSent ?? 0;
    worst = Math.min(worst, 1 - r.messageBytes / r.snapshotBytes);
  }
  const saved = 1 - messageBytes / snapshotBytes;
  const savedWire = 1 - wireBytes / snapshotBytes;
  const perSecond = (b: number): string => `${(b / seconds / seeds / 1000).toFixed(1)} kB`;
  console.log(
    `| ${format} | ${snapshotBytes / ticks / seeds} B | ${perSecond(snapshotBytes)} | ${perSecond(messageBytes)} | **${(saved * 100).toFixed(1)}%** (worst seed ${(worst * 100).toFixed(1)}%) | ${(savedWire * 100).toFixed(1)}% | ${delivered}/${ticks * seeds} | ${verified}/${delivered} | ${resyncs} |`,
  );
  // The 85% bar is for the standard link; other links only report (mismatches always fail).
  if (mismatches > 0 || (standard && worst < 0.85)) failed = true;
}
// The baseline on the same link: whole snapshots through core, no plugin.
const raw = runFixtureScenario({ seed: 1, format: "float", ticks, link, useDelta: false });
console.log("");
console.log(
  `Without delta (seed 1, float): ${raw.snapshotBytes / ticks} B per snapshot sent whole (3 fragments at mtu 1200) on the same link: ` +
  `${raw.delivered}/${ticks} snapshots arrived (${raw.mismatches} corrupt): the rest expired unsent in core's queue, its congestion window being far below ${(raw.snapshotBytes / seconds / 1000).toFixed(0)} kB/s at this RTT and loss; and one lost fragment loses a whole snapshot.`,
);
console.log("saved (payload) = 1 - delta message bytes / snapshot bytes; saved (wire) = 1 - every datagram byte the server sent (core headers, acks, keepalives) / snapshot bytes.");
if (failed) {
  console.error("FAILED: a snapshot differed, or a seed saved under 85%");
  process.exit(1);
}
