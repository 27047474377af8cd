/**
 * Scenario 1: RTT ping-pong, 64 B, one ping outstanding. The echo server and
 * the pinging client are two worker processes, pinned to the same core or to
 * two cores with taskset. Every (transport, mode, pinning) configuration runs
 * once per round, rounds interleaved (A B C ... A B C ...), so machine noise
 * hits them alike; samples of all rounds are pooled.
 *
 * Warm-up is by time as well as by count: both processes are fresh every
 * round, and JSC keeps compiling (DFG/FTL, on a thread pinned to the same
 * core) for the first ~1-2 s of traffic. Measured per 4,000-ping block,
 * encrypted reliable, cross-core: p99 ~1,000-1,600 µs until ~1.0 s (spin) /
 * ~1.8 s (normal), then 50-55 µs (spin) / 120-160 µs (normal); raw UDP has
 * too little code to show it. A game server runs for hours: the figures are
 * the steady state, for every transport alike.
 */
import { type PinPlan, type RunContext, rttPinnings, wanted } from "../context.ts";
import { Child, emit, emitAndExit, killAll, spawnServer } from "../proc.ts";
import { emptyRecord, fillLatency, type BenchRecord } from "../schema.ts";
import { ratio, round } from "../stats.ts";
import { RTT_TRANSPORTS, rttTransport, SIZE } from "../transports.ts";

export const RTT_BASELINE = "raw-udp";

/** Worker: start an echo server, print its port, serve until killed. */
export async function rttServer(args: string[]): Promise<void> {
  const port = await rttTransport(args[0]!).echo(args[1] === "spin");
  emit({ port });
}

/** Most warm-up pings, whatever the time: bounds a round even if pings were very fast. */
const MAX_WARMUP_PINGS = 200_000;

/**
 * Worker: ping `pings` times after at least `warmup` pings and `warmupMs` of pinging, print the samples (µs)
 * and the lost count, exit.
 */
export async function rttClient(args: string[]): Promise<void> {
  const [name, mode, port, pings, warmup, warmupMs = "0"] = args;
  const pinger = await rttTransport(name!).pinger(Number(port), mode === "spin");
  const warmUntil = performance.now() + Number(warmupMs);
  for (let i = 0; i < MAX_WARMUP_PINGS && (i < Number(warmup) || performance.now() < warmUntil); i++) await pinger.ping();
  const samples: number[] = [];
  let lost = 0;
  for (let i = 0; i < Number(pings); i++) {
    const us = await pinger.ping();
    if (Number.isNaN(us)) lost++;
    else samples.push(round(us, 1));
  }
  await Promise.race([pinger.close(), Bun.sleep(1000)]);
  await emitAndExit({ samples, lost });
}

interface Config {
  transport: string;
  mode: "normal" | "spin";
  pin: PinPlan;
  samples: number[];
  lost: number;
  rounds: number;
  failures: string[];
}

export async function runRtt(ctx: RunContext): Promise<BenchRecord[]> {
  const rounds = ctx.rounds ?? (ctx.quick ? 1 : 3);
  const pings = ctx.quick ? 300 : 4000;
  const warmup = ctx.quick ? 50 : 500;
  const warmupMs = ctx.quick ? 0 : 2000;
  const configs: Config[] = [];
  for (const pin of rttPinnings(ctx.pinnings)) {
    // Spin on one core does not apply: two busy-looping processes on one CPU time-slice each other
    // (measured p50 ~8 ms for every transport); spin mode means a core of its own.
    for (const mode of pin.name === "same-core" ? (["normal"] as const) : (["normal", "spin"] as const)) {
      for (const t of RTT_TRANSPORTS) {
        if (wanted(ctx, t.name, RTT_BASELINE)) configs.push({ transport: t.name, mode, pin, samples: [], lost: 0, rounds: 0, failures: [] });
      }
    }
  }
  ctx.log(`rtt: ${configs.length} configurations x ${rounds} interleaved rounds, ${pings} pings each after >= ${warmup} warm-up pings and >= ${warmupMs} ms`);
  for (let r = 0; r < rounds; r++) {
    for (const c of configs) {
      let server: Child | undefined;
      let client: Child | undefined;
      try {
        const started = await spawnServer(["rtt-server", c.transport, c.mode], c.pin.server);
        server = started.child;
        const port = started.port;
        client = Child.spawn(["rtt-client", c.transport, c.mode, port, pings, warmup, warmupMs], c.pin.client);
        const res = await client.json<{ samples: number[]; lost: number }>(120_000, "ping results");
        c.samples.push(...res.samples);
        c.lost += res.lost;
        c.rounds++;
      } catch (err) {
        c.failures.push(err instanceof Error ? err.message : String(err));
        ctx.log(`rtt: ${c.transport} ${c.mode} ${c.pin.name} round ${r + 1} failed: ${c.failures[c.failures.length - 1]}`);
      } finally {
        await killAll([client, server]);
      }
    }
    ctx.log(`rtt: round ${r + 1}/${rounds} done`);
  }
  const records = configs.map((c) => {
    const rec = emptyRecord("rtt", c.transport, c.mode, c.pin.name, SIZE);
    rec.rounds = c.rounds;
    rec.lost = c.lost;
    fillLatency(rec, c.samples);
    if (c.failures.length > 0) rec.note = `${c.failures.length} round(s) failed: ${c.failures[0]!.slice(0, 200)}`;
    return rec;
  });
  for (const rec of records) {
    const base = records.find((b) => b.transport === RTT_BASELINE && b.mode === rec.mode && b.pinning === rec.pinning);
    rec.ratio_p50_vs_raw = ratioRounded(rec.p50_us, base?.p50_us);
    rec.ratio_p99_vs_raw = ratioRounded(rec.p99_us, base?.p99_us);
  }
  return records;
}

export function ratioRounded(v: number | null | undefined, b: number | null | undefined): number | null {
  const x = ratio(v, b);
  return x === null ? null : round(x, 2);
}
