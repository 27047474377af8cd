/**
 * `bun run bench` in packages/priority: ns per message on priority's hot path
 * (capture in outgoingMessage + release by the fair scheduler at the tick),
 * the scheduler slot's pick, and the engine's send + receive of a small
 * message with and without the plugin, against a baseline measured in the
 * same run (a RingQueue push + shift). Then the simulator figures: shares of
 * a saturated link by class, and latency of critical messages with and
 * without priority. `--quick` for a smoke run; `--micro` skips the figures.
 */
import { Endpoint, type Peer, type PluginContext, RingQueue, SeededRandom } from "@fastnet/core/protocol";
import { priority } from "../src/index.ts";
import { runSaturation } from "./harness.ts";
import { medianNsPerOp } from "@fastnet/core/bench";

const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 5 : 11;
const ROUND_MS = quick ? 10 : 40;

function measure(fn: (i: number) => void): number {
  return medianNsPerOp(fn, { rounds: ROUNDS, roundMs: ROUND_MS });
}

export interface Result {
  name: string;
  ns: number;
}

export function benchMicro(): Result[] {
  const results: Result[] = [];
  const msg = new Uint8Array(100);
  const q = new RingQueue<Uint8Array>();
  results.push({ name: "baseline: RingQueue push + shift of a message", ns: measure(() => (q.push(msg), q.shift())) });

  // The plugin's hooks with a fake context whose send accepts everything (the core's own cost excluded).
  const plugin = priority();
  let now = 0;
  let sent = 0;
  const kinds = ["reliable-ordered", "unreliable", "reliable-unordered", "sequenced"] as const;
  const ctx = {
    slot: 0, get now() {
      return now;
    }, random: new SeededRandom(1), mtu: 1200, channelKind: (c: number) => kinds[c],
    send: () => ++sent, deliver: () => {}, queueDatagram: () => {}, sendDatagram: () => {}, injectDatagram: () => {},
    countDrop: () => {}, disconnect: () => {},
  } as unknown as PluginContext;
  const peer = {
    id: 1, address: { host: "h", port: 1 }, state: "connected", rttMs: 20, sendBudget: 1e12,
    stats: () => ({ queuedBytes: 0 }), slots: [undefined], userData: undefined,
  } as unknown as Peer;
  plugin.init!(ctx);
  const classes = ["critical", "high", "normal", "low"];
  // Two passes; the first only warms the JIT up.
  for (const [batch, report] of [[1, false], [16, false], [1, true], [16, true]] as const) {
    const ns = measure((i) => {
        for (let b = 0; b < batch; b++) {
          // As prio.send does: per-message options, then the hook.
          plugin.send({ send: (p, c, d) => (plugin.outgoingMessage!(p, c, d, ctx), 0) }, peer, 0, msg, { priority: classes[(i + b) & 3]! });
        }
        now += 1;
        plugin.onTick!(now, ctx);
      }) / batch;
    if (report) results.push({ name: `capture + release, batches of ${batch} messages over 4 classes, per message`, ns });
  }
  const queued = new Float64Array([1000, 1000, 1000, 1000]);
  results.push({ name: "scheduler slot: pick among 4 channels with data", ns: measure(() => plugin.scheduler.pick(peer, queued, 1e6)) });
  return results;
}

/** Engine send + receive of one 100-byte reliable message per iteration, with and without the plugin. */
export function benchEngine(): Result[] {
  const results: Result[] = [];
  // Two passes over both configurations; the first only warms the JIT up (it is not reported).
  for (const [label, withPlugin, report] of [["engine without priority", false, false], ["engine with priority", true, false], ["engine without priority", false, true], ["engine with priority", true, true]] as const) {
    const serverAddr = { host: "10.0.0.1", port: 9000 };
    const clientAddr = { host: "10.0.0.2", port: 9001 };
    const server = new Endpoint({ random: new SeededRandom(1), insecurePlaintext: true, acceptConnections: true });
    const client = new Endpoint({ random: new SeededRandom(2), insecurePlaintext: true, plugins: withPlugin ? [priority()] : [] });
    const peer = client.connect(0, serverAddr);
    const buf = new Uint8Array(65536);
    let now = 0;
    const pump = (): void => {
      for (let r = 0; r < 10; r++) {
        let moved = 0;
        if (client.pollTimeout() <= now) client.handleTimeout(now);
        for (let t = client.pollTransmit(now, buf); t; t = client.pollTransmit(now, buf)) (server.handleDatagram(now, clientAddr, buf.subarray(0, t.size)), moved++);
        for (let t = server.pollTransmit(now, buf); t; t = server.pollTransmit(now, buf)) (client.handleDatagram(now, serverAddr, buf.subarray(0, t.size)), moved++);
        if (server.pollTimeout() <= now) server.handleTimeout(now);
        if (moved === 0) return;
      }
    };
    pump();
    now = 1;
    pump();
    while (server.pollEvent()) { /* connected */ }
    while (client.pollEvent()) { /* connected */ }
    const msg = new Uint8Array(100).fill(3);
    const ns = measure(() => {
      now += 1;
      client.send(peer, 0, msg, undefined, now);
      pump();
      while (server.pollEvent()) { /* message */ }
    });
    if (report) results.push({ name: `${label}: 100-byte reliable message, send + receive`, ns });
  }
  return results;
}

export function printFigures(quick = false): void {
  const ticks = quick ? 300 : 1800;
  const seeds = [1, 2, 3];
  console.log(`Simulator: 100 KB/s link (20 KB drop-tail queue), 20 ms one way; every 16 ms tick the client offers`);
  console.log(`10 x 200 B per class (3x the link), reliable-ordered channel 0, plus a 100 B critical message every 10 ticks;`);
  console.log(`${((ticks * 16) / 1000).toFixed(0)} s x ${seeds.length} seeds, shares measured after the first 2 s`);
  console.log("| | high | normal | low | critical p50 / p99 / max latency ms |");
  console.log("|---|---:|---:|---:|---:|");
  const offers = [
    { priority: "high", channel: 0, perTick: 10, bytes: 200 },
    { priority: "normal", channel: 0, perTick: 10, bytes: 200 },
    { priority: "low", channel: 0, perTick: 10, bytes: 200 },
    { priority: "critical", channel: 0, perTick: 0.1, bytes: 100 },
  ];
  for (const withPlugin of [true, false]) {
    const bytes = [0, 0, 0];
    const lat: number[] = [];
    for (const seed of seeds) {
      const r = runSaturation({
        seed, ticks, priority: withPlugin ? { maxQueuedBytes: 256 << 20 } : null,
        offers: withPlugin ? offers : offers.map((o) => ({ ...o, priority: null })),
      });
      for (const d of r.deliveries) {
        if (d.offer < 3 && d.at >= 2000 && d.at < r.end) bytes[d.offer]! += d.bytes;
        if (d.offer === 3) lat.push(d.at - d.sentAt);
      }
    }
    const total = bytes[0]! + bytes[1]! + bytes[2]!;
    lat.sort((a, b) => a - b);
    const q = (x: number): string => (lat.length === 0 ? "–" : lat[Math.min(lat.length - 1, Math.floor(x * lat.length))]!.toFixed(0));
    const pct = (i: number): string => `${((100 * bytes[i]!) / total).toFixed(1)} %`;
    console.log(`| ${withPlugin ? "priority() (weights 8 : 4 : 1 → 61.5 / 30.8 / 7.7 %)" : "without priority (one FIFO)"} | ${pct(0)} | ${pct(1)} | ${pct(2)} | ${q(0.5)} / ${q(0.99)} / ${lat.length ? lat[lat.length - 1]!.toFixed(0) : "–"} |`);
  }
}

if (import.meta.main) {
  const cpu = (await Bun.file("/proc/cpuinfo").text().catch(() => "")).match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
  console.log(`@fastnet/priority bench — Bun ${Bun.version}, ${cpu}${quick ? " (quick)" : ""}\n`);
  const micro = [...benchMicro(), ...benchEngine()];
  const base = micro[0]!.ns;
  console.log("ns per message (median of rounds)                                           ns   x baseline");
  for (const r of micro) console.log(`${r.name.padEnd(72)} ${r.ns.toFixed(0).padStart(6)}  ${(r.ns / base).toFixed(1).padStart(6)}`);
  if (!process.argv.includes("--micro")) {
    console.log("");
    printFigures(quick);
  }
}
