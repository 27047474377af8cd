/**
 * `bun run bench` in packages/jitter: ns per frame on the jitter buffer's hot
 * path (push on arrival + poll at playout), the plugin's hooks, and the
 * engine's send + receive of a 160-byte voice frame with and without the
 * plugin, against a baseline measured in the same run (a RingQueue push +
 * shift: the least any buffer does). Then the simulator figures: output
 * cadence, late drops and playout delay under 0 to 50 ms of jitter.
 * `--quick` for a smoke run; `--micro` skips the figures.
 */
import { Endpoint, type Peer, type PluginContext, RingQueue, SeededRandom } from "@fastnet/core/protocol";
import { JitterBuffer, jitter } from "../src/index.ts";
import { intervals, runJitterStream } from "./harness.ts";
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
  const frame = new Uint8Array(160);
  const q = new RingQueue<Uint8Array>();
  results.push({ name: "baseline: RingQueue push + shift of a frame", ns: measure(() => (q.push(frame), q.shift())) });

  for (const [label, reorder] of [["in order", false], ["every 4th pair swapped", true]] as const) {
    const buf = new JitterBuffer();
    const rng = new SeededRandom(1);
    let i = 0;
    results.push({
      name: `JitterBuffer push + poll, 20 ms frames, ±10 ms jitter, ${label}`,
      ns: measure(() => {
        // Frame i arrives at 20 i + 40 + jitter and is polled at its arrival time.
        const n = reorder && (i & 7) === 3 ? i + 1 : reorder && (i & 7) === 4 ? i - 1 : i;
        const t = 20 * i + 40 + rng.nextFloat() * 20;
        buf.push(t, n & 0xffff, 20 * n, frame);
        while (buf.poll(t)) { /* drain */ }
        i++;
      }),
    });
  }

  // The plugin's hooks, called as the endpoint calls them.
  const plugin = jitter();
  const delivered: Uint8Array[] = [];
  let now = 0;
  const ctx = {
    slot: 0, get now() {
      return now;
    }, random: new SeededRandom(1), mtu: 1200, channelKind: () => "unreliable" as const,
    send: () => 0, deliver: (_p: Peer, _c: number, d: Uint8Array) => void delivered.push(d), queueDatagram: () => {},
    sendDatagram: () => {}, injectDatagram: () => {}, countDrop: () => {}, disconnect: () => {},
  } as unknown as PluginContext;
  const peer = { id: 1, address: { host: "h", port: 1 }, state: "connected", rttMs: 1, sendBudget: 1e9, stats: () => ({}), slots: [undefined], userData: undefined } as unknown as Peer;
  plugin.init!(ctx);
  results.push({ name: "plugin: stamp an outgoing frame (outgoingMessage)", ns: measure(() => plugin.outgoingMessage!(peer, 1, frame, ctx)) });
  const stamped = plugin.outgoingMessage!(peer, 1, frame, ctx)!.slice();
  let seq = 0;
  results.push({
    name: "plugin: buffer an incoming frame and play it out (incomingMessage + onTick)",
    ns: measure(() => {
      now = 20 * seq + 30;
      stamped[0] = (seq >> 8) & 0xff;
      stamped[1] = seq & 0xff;
      const ts = Math.round((20 * seq) / 0.125) >>> 0;
      stamped[2] = ts >>> 24;
      stamped[3] = (ts >>> 16) & 0xff;
      stamped[4] = (ts >>> 8) & 0xff;
      stamped[5] = ts & 0xff;
      plugin.incomingMessage!(peer, 1, stamped.slice(), ctx);
      now += 10;
      plugin.onTick!(now, ctx);
      delivered.length = 0;
      seq++;
    }),
  });
  return results;
}

/** Engine send + receive of one 160-byte unreliable message, with and without the plugin. */
export function benchEngine(): Result[] {
  const results: Result[] = [];
  // Two passes over both configurations; the first only warms the JIT up (it is not reported).
  for (const [label, withPlugin, report] of [["engine without jitter", false, false], ["engine with jitter", true, false], ["engine without jitter", false, true], ["engine with jitter", true, true]] as const) {
    const serverAddr = { host: "10.0.0.1", port: 9000 };
    const clientAddr = { host: "10.0.0.2", port: 9001 };
    const server = new Endpoint({ random: new SeededRandom(1), insecurePlaintext: true, acceptConnections: true, plugins: withPlugin ? [jitter({ initialDelayMs: 0, marginMs: 0 })] : [] });
    const client = new Endpoint({ random: new SeededRandom(2), insecurePlaintext: true, plugins: withPlugin ? [jitter()] : [] });
    const peer = client.connect(0, serverAddr);
    const buf = new Uint8Array(65536);
    let now = 0;
    const pump = (): void => {
      for (let r = 0; r < 10; r++) {
        let moved = 0;
        for (let t = client.pollTransmit(now, buf); t; t = client.pollTransmit(now, buf)) (server.handleDatagram(now, clientAddr, buf.subarray(0, t.size)), moved++);
        for (let t = server.pollTransmit(now, buf); t; t = server.pollTransmit(now, buf)) (client.handleDatagram(now, serverAddr, buf.subarray(0, t.size)), moved++);
        if (server.pollTimeout() <= now) server.handleTimeout(now);
        if (client.pollTimeout() <= now) client.handleTimeout(now);
        if (moved === 0) return;
      }
    };
    pump();
    now = 1;
    pump();
    while (server.pollEvent()) { /* connected */ }
    while (client.pollEvent()) { /* connected */ }
    const msg = new Uint8Array(160).fill(3);
    const ns = measure(() => {
        now += 20;
        client.send(peer, 1, msg, undefined, now);
        pump();
        while (server.pollEvent()) { /* message */ }
      });
    if (report) results.push({ name: `${label}: 160-byte unreliable frame, send + receive + playout`, ns });
  }
  return results;
}

export function printFigures(quick = false): void {
  const frames = quick ? 500 : 3000;
  console.log(`Simulator: one 160-byte frame every 20 ms on the unreliable channel, 60 ms one way, ${frames} frames x 3 seeds`);
  console.log("| jitter (± ms) | intervals within 20 ± 1 ms | shortest / longest interval ms | late | gaps | playout delay ms |");
  console.log("|---:|---:|---:|---:|---:|---:|");
  for (const j of [0, 5, 10, 20, 30, 50]) {
    let within = 0, total = 0, late = 0, gaps = 0, received = 0, min = Infinity, max = 0, delay = 0;
    for (const seed of [1, 2, 3]) {
      const r = runJitterStream({ seed, phases: [{ frames, link: { latencyMs: 60, jitterMs: j } }] });
      const iv = intervals(r.outputs.slice(100, -11));
      within += iv.filter((x) => Math.abs(x - 20) <= 1).length;
      total += iv.length;
      min = Math.min(min, ...iv);
      max = Math.max(max, ...iv);
      const st = r.plugin.stats(r.peer, 1)!;
      late += st.late;
      gaps += st.gaps - 10; // the last 10 are the end of the stream
      received += st.received;
      delay = Math.max(delay, st.delayMs);
    }
    console.log(`| ${j} | ${((100 * within) / total).toFixed(2)} % | ${min.toFixed(1)} / ${max.toFixed(1)} | ${((100 * late) / received).toFixed(2)} % | ${gaps} | ${delay.toFixed(1)} |`);
  }
  const spike = runJitterStream({
    seed: 1,
    phases: [
      { frames: 500, link: { latencyMs: 60, jitterMs: 5 } },
      { frames: 250, link: { latencyMs: 60, jitterMs: 50 } },
      { frames: 1000, link: { latencyMs: 60, jitterMs: 5 } },
    ],
  });
  const at = (t: number): number => spike.delays.find(([tt]) => tt >= t)![1];
  const [quietEnd, spikeEnd] = spike.phaseEnds as [number, number];
  console.log(`\nJitter spike (±5 ms, then 5 s of ±50 ms, then ±5 ms), playout delay ms: before ${at(quietEnd).toFixed(1)}, ` +
    `+0.5 s ${at(quietEnd + 500).toFixed(1)}, +1 s ${at(quietEnd + 1000).toFixed(1)}, end of spike ${at(spikeEnd).toFixed(1)}, ` +
    `+5 s ${at(spikeEnd + 5000).toFixed(1)}, +10 s ${at(spikeEnd + 10_000).toFixed(1)}, +20 s ${at(spikeEnd + 19_900).toFixed(1)}`);
}

if (import.meta.main) {
  const cpu = (await Bun.file("/proc/cpuinfo").text().catch(() => "")).match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
  console.log(`@fastnet/jitter bench — Bun ${Bun.version}, ${cpu}${quick ? " (quick)" : ""}\n`);
  const micro = [...benchMicro(), ...benchEngine()];
  const base = micro[0]!.ns;
  console.log("ns per frame (median of rounds)                                                    ns   x baseline");
  for (const r of micro) console.log(`${r.name.padEnd(80)} ${r.ns.toFixed(0).padStart(6)}  ${(r.ns / base).toFixed(1).padStart(6)}`);
  if (!process.argv.includes("--micro")) {
    console.log("");
    printFigures(quick);
  }
}
