/**
 * Scenario 3: server scale. A load process runs N simulated clients (each its
 * own socket/connection, as N players would be) that send a 64 B input
 * message at 30 or 60 Hz, phases spread evenly; the server process echoes
 * each one back to its sender; the client records the round trip. Reported:
 * RTT percentiles under load, server CPU µs per datagram received (its reply
 * included; process.cpuUsage() over the measured window), and server memory
 * per connected peer (JS heap after a full GC, and RSS, with N peers minus
 * before any). The load process's own CPU use is in the record's note: near
 * 100% means the load generator, not the server, bounds the latency.
 */
import { type RunContext, pairPinning, wanted } from "../context.ts";
import { Channel } from "@fastnet/core";
import { LeanFleet } from "../lean.ts";
import { msgTransport, type MsgClient } from "../msg.ts";
import { Child, cpuMicros, emit, emitAndExit, killAll, clockUs, spawnServer, stdinLines } from "../proc.ts";
import { emptyRecord, fillLatency, type BenchRecord } from "../schema.ts";
import { round } from "../stats.ts";
import { ratioRounded } from "./rtt.ts";

export const SCALE_TRANSPORTS = ["raw-udp", "fastnet-unreliable", "fastnet-enc-unreliable", "websocket"];
const SCALE_BASELINE = "raw-udp";
const SIZE = 64;

function memory(): { heap: number; rss: number } {
  Bun.gc(true);
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

/** Worker: echo server with counters. Commands: "mem" (GC, memory), "mark" (start the window), "report". */
export async function scaleServer(args: string[]): Promise<void> {
  const server = await msgTransport(args[0]!).serve({
    onMessage(data, from) {
      server.reply(from, data);
    },
  });
  emit({ port: server.port });
  let cpu0 = 0;
  let in0 = 0;
  let t0 = 0;
  for await (const line of stdinLines()) {
    if (line === "mem") emit({ ...memory(), peers: server.clients() });
    else if (line === "mark") {
      cpu0 = cpuMicros();
      in0 = server.datagramsIn();
      t0 = performance.now();
      emit({ marked: true });
    } else if (line === "report") {
      const cpu = cpuMicros() - cpu0;
      const datagrams = server.datagramsIn() - in0;
      const wallMs = performance.now() - t0;
      emit({ cpuUs: cpu, datagrams, wallMs, peers: server.clients(), ...memory() });
    }
  }
}

/** Worker: N clients at `hz`; prints "ready", waits for "go", measures [warm, warm + measure) ms, prints samples. */
export async function scaleLoad(args: string[]): Promise<void> {
  const [name, portS, nS, hzS, warmS, measureS] = args;
  const port = Number(portS);
  const n = Number(nS);
  const hz = Number(hzS);
  const warm = Number(warmS);
  const measure = Number(measureS);
  const t = msgTransport(name!);
  const samples: number[] = [];
  let measuring = false;
  let received = 0;
  let sent = 0;
  const clients: MsgClient[] = new Array(n);
  const payloads: Uint8Array[] = [];
  let failed = 0;
  let firstError = "";
  // fastnet players: the lean fleet (see lean.ts), not N full clients, so the load process is not the bottleneck.
  const fleet = name!.startsWith("fastnet") ? new LeanFleet() : undefined;
  const connectOne = async (i: number): Promise<void> => {
    const payload = new Uint8Array(SIZE);
    payloads[i] = payload;
    const onMessage = (data: Uint8Array): void => {
      if (!measuring || data.length < 8) return;
      const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
      samples.push(Math.round(clockUs() - dv.getFloat64(0, true)));
      received++;
    };
    try {
      if (fleet !== undefined) {
        const c = await fleet.connect(port, Channel.Unreliable, name!.includes("-enc-"), process.env.FASTNET_BENCH_FP, onMessage);
        clients[i] = { send: (d) => c.send(d), canSend: () => true, owed: () => 0, close: async () => c.close() };
      } else {
        clients[i] = await t.connect(port, { onMessage });
      }
    } catch (err) {
      failed++;
      if (firstError === "") firstError = err instanceof Error ? err.message : String(err);
    }
  };
  // Connect in waves: a real server sees players arrive over time, not 1000 handshakes in one instant.
  const wave = 50;
  for (let i = 0; i < n; i += wave) await Promise.all(Array.from({ length: Math.min(wave, n - i) }, (_, k) => connectOne(i + k)));
  emit({ ready: true, connected: n - failed, failed, error: firstError });
  for await (const line of stdinLines()) if (line === "go") break;
  const period = 1000 / hz;
  const start = performance.now();
  const next = Float64Array.from({ length: n }, (_, i) => start + (i * period) / n);
  let cpu0 = 0;
  let tMeasure = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      if (!measuring && now - start >= warm) {
        measuring = true;
        cpu0 = cpuMicros();
        tMeasure = now;
      }
      if (now - start >= warm + measure) {
        clearInterval(timer);
        resolve();
        return;
      }
      for (let i = 0; i < n; i++) {
        if (next[i]! > now) continue;
        const c = clients[i];
        next[i]! += period;
        if (next[i]! < now) next[i] = now + period; // fell behind: skip, do not burst
        if (c === undefined) continue;
        const p = payloads[i]!;
        new DataView(p.buffer).setFloat64(0, clockUs(), true);
        c.send(p);
        if (measuring) sent++;
      }
    }, 1);
  });
  measuring = false;
  const loadCpuPct = (100 * (cpuMicros() - cpu0)) / 1000 / Math.max(1, performance.now() - tMeasure);
  await emitAndExit({ samples, sent, received, loadCpuPct });
}

export async function runScale(ctx: RunContext): Promise<BenchRecord[]> {
  const rounds = ctx.rounds ?? (ctx.quick ? 1 : 2);
  const counts = ctx.quick ? [50] : [100, 500, 1000];
  const rates = ctx.quick ? [60] : [30, 60];
  const warm = ctx.quick ? 300 : 500;
  const measure = ctx.quick ? 700 : 1500;
  const pin = pairPinning();
  interface Cfg { transport: string; n: number; hz: number; samples: number[]; sent: number; received: number; cpuUs: number; datagrams: number; heap: number[]; rss: number[]; loadCpu: number[]; serverCpu: number[]; rounds: number; failures: string[]; notes: Set<string> }
  const configs: Cfg[] = [];
  for (const n of counts) for (const hz of rates) for (const t of SCALE_TRANSPORTS) {
    if (wanted(ctx, t, SCALE_BASELINE)) configs.push({ transport: t, n, hz, samples: [], sent: 0, received: 0, cpuUs: 0, datagrams: 0, heap: [], rss: [], loadCpu: [], serverCpu: [], rounds: 0, failures: [], notes: new Set() });
  }
  ctx.log(`scale: ${configs.length} configurations x ${rounds} interleaved rounds, ${measure} ms window after ${warm} ms`);
  for (let r = 0; r < rounds; r++) {
    for (const c of configs) {
      let server: Child | undefined;
      let load: Child | undefined;
      try {
        const started = await spawnServer(["scale-server", c.transport], pin.server);
        server = started.child;
        const port = started.port;
        server.send("mem");
        const before = await server.json<{ heap: number; rss: number }>(20_000, "memory");
        load = Child.spawn(["scale-load", c.transport, port, c.n, c.hz, warm, measure], pin.client);
        const ready = await load.json<{ connected: number; failed: number; error: string }>(120_000, "the clients connected");
        if (ready.failed > 0) c.notes.add(`${ready.failed} of ${c.n} clients failed to connect (${ready.error.slice(0, 120)})`);
        load.send("go");
        await Bun.sleep(warm);
        server.send("mark");
        await server.json(10_000, "the mark");
        await Bun.sleep(measure);
        server.send("report");
        const rep = await server.json<{ cpuUs: number; datagrams: number; wallMs: number; peers: number; heap: number; rss: number }>(20_000, "the server report");
        const res = await load.json<{ samples: number[]; sent: number; received: number; loadCpuPct: number }>(60_000, "the load results");
        c.samples.push(...res.samples);
        c.sent += res.sent;
        c.received += res.received;
        c.cpuUs += rep.cpuUs;
        c.datagrams += rep.datagrams;
        const peers = Math.max(1, rep.peers);
        c.heap.push((rep.heap - before.heap) / peers);
        c.rss.push((rep.rss - before.rss) / peers);
        c.loadCpu.push(res.loadCpuPct);
        c.serverCpu.push((100 * rep.cpuUs) / 1000 / Math.max(1, rep.wallMs));
        c.rounds++;
      } catch (err) {
        c.failures.push(err instanceof Error ? err.message : String(err));
        ctx.log(`scale: ${c.transport} n=${c.n} ${c.hz} Hz round ${r + 1} failed: ${c.failures[c.failures.length - 1]}`);
      } finally {
        await killAll([load, server]);
      }
    }
    ctx.log(`scale: round ${r + 1}/${rounds} done`);
  }
  const avg = (xs: number[]): number | null => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);
  const records = configs.map((c) => {
    const rec = emptyRecord("scale", c.transport, `${c.hz}hz-n${c.n}`, pin.name, SIZE);
    rec.clients = c.n;
    rec.hz = c.hz;
    rec.rounds = c.rounds;
    fillLatency(rec, c.samples);
    rec.lost = Math.max(0, c.sent - c.received);
    rec.loss_pct = c.sent > 0 ? round((100 * Math.max(0, c.sent - c.received)) / c.sent, 2) : null;
    rec.server_cpu_us_per_datagram = c.datagrams > 0 ? round(c.cpuUs / c.datagrams, 2) : null;
    const heap = avg(c.heap);
    const rss = avg(c.rss);
    rec.mem_per_peer_bytes = heap === null ? null : Math.round(heap);
    rec.rss_per_peer_bytes = rss === null ? null : Math.round(rss);
    const notes = [...c.notes];
    const sc = avg(c.serverCpu);
    const lc = avg(c.loadCpu);
    if (sc !== null) notes.push(`server CPU ${Math.round(sc)}%`);
    if (lc !== null) notes.push(`load CPU ${Math.round(lc)}%`);
    if (c.failures.length > 0) notes.push(`${c.failures.length} round(s) failed: ${c.failures[0]!.slice(0, 200)}`);
    rec.note = notes.join("; ");
    return rec;
  });
  for (const rec of records) {
    const base = records.find((b) => b.transport === SCALE_BASELINE && b.mode === rec.mode);
    rec.ratio_p50_vs_raw = ratioRounded(rec.p50_us, base?.p50_us);
    rec.ratio_p99_vs_raw = ratioRounded(rec.p99_us, base?.p99_us);
  }
  return records;
}
