/**
 * What @fastnet/metrics costs, measured three ways, each against the same run
 * without it (rounds interleaved A B C A B C):
 *
 * 1. Engine, no sockets: ns per 64 B datagram for a full exchange (client
 *    send + encode, server decode + deliver, ack back and processed), with 1
 *    and 64 peers, for: no plugin; an EMPTY onTrace plugin on the server
 *    (isolates what core spends building trace event objects once any
 *    onTrace is registered); the metrics plugin on the server; on both
 *    endpoints (server and every client).
 * 2. The plugin alone: ns per onTrace call on pre-built events. (Allocation
 *    is not measured: on Bun 1.4 neither heapStats(), heapSize() nor
 *    memoryUsage() resolves short-lived objects; a control loop allocating
 *    one object per iteration also reads 0. The hot path holds no allocation
 *    by construction: field increments and typed-array stores only.)
 * 3. Real UDP, separate echo process: 64 B RTT ping-pong, fastnet core
 *    unreliable with and without metrics on both ends (reuses the core RTT
 *    harness, packages/core/bench/rtt.ts).
 *
 * Run: `bun packages/metrics/bench/overhead.ts [--quick] [--no-rtt]`
 */
import { Channel, connect, Endpoint, listen, SeededRandom, type Address, type Peer, type Plugin, type TraceEvent } from "@fastnet/core";
import { clientPinger, echoAll, rawTransport, runRttMain, type RttTransport } from "../../core/bench/rtt.ts";
import { metrics } from "../src/index.ts";

type Variant = "none" | "empty-onTrace-server" | "metrics-server" | "metrics-both";
const VARIANTS: Variant[] = ["none", "empty-onTrace-server", "metrics-server", "metrics-both"];

const emptyTrace = (): Plugin => ({ name: "empty-trace", onTrace() {} });

function pluginsFor(v: Variant, side: "server" | "client"): Plugin[] {
  if (v === "empty-onTrace-server") return side === "server" ? [emptyTrace()] : [];
  if (v === "metrics-both" || (v === "metrics-server" && side === "server")) return [metrics()];
  return [];
}

interface Wired {
  server: Endpoint;
  clients: { ep: Endpoint; addr: Address; peer: Peer }[];
  serverAddr: Address;
}

const buf = new Uint8Array(65536);

function wire(peers: number, v: Variant): Wired {
  const serverAddr = { host: "10.0.0.1", port: 9000 };
  const server = new Endpoint({ random: new SeededRandom(1), insecurePlaintext: true, acceptConnections: true, maxPeers: 4096, maxPendingHandshakes: 4096, plugins: pluginsFor(v, "server") });
  const clients = [];
  for (let i = 0; i < peers; i++) {
    const ep = new Endpoint({ random: new SeededRandom(100 + i), insecurePlaintext: true, plugins: pluginsFor(v, "client") });
    const addr = { host: "10.0.1.1", port: 20000 + i };
    clients.push({ ep, addr, peer: ep.connect(0, serverAddr) });
  }
  const w = { server, clients, serverAddr };
  for (let t = 0; t < 3; t++) pump(w, t);
  while (server.pollEvent()) { /* connected events */ }
  for (const c of clients) while (c.ep.pollEvent()) { /* drain */ }
  if (clients.some((c) => c.peer.state !== "connected")) throw new Error("bench setup: not all peers connected");
  return w;
}

/** Moves every pending datagram both ways until quiet; returns datagrams moved. */
function pump(w: Wired, now: number): number {
  let total = 0;
  for (let round = 0; round < 100; round++) {
    let moved = 0;
    for (const c of w.clients) {
      for (let t = c.ep.pollTransmit(now, buf); t !== null; t = c.ep.pollTransmit(now, buf)) {
        w.server.handleDatagram(now, c.addr, buf.subarray(0, t.size));
        moved++;
      }
    }
    for (let t = w.server.pollTransmit(now, buf); t !== null; t = w.server.pollTransmit(now, buf)) {
      w.clients[t.to.port - 20000]!.ep.handleDatagram(now, w.serverAddr, buf.subarray(0, t.size));
      moved++;
    }
    total += moved;
    if (moved === 0) return total;
  }
  return total;
}

/** ns per client datagram for `iterations` rounds in which every peer sends one 64 B message; everything (acks too) is timed. */
function runEngine(w: Wired, iterations: number, startNow: number): { ns: number; now: number } {
  const payload = new Uint8Array(64).fill(7);
  let now = startNow;
  let datagrams = 0;
  const t0 = Bun.nanoseconds();
  for (let it = 0; it < iterations; it++) {
    for (const c of w.clients) c.ep.send(c.peer, Channel.Unreliable, payload, undefined, now);
    datagrams += w.clients.length;
    pump(w, now);
    now += 1;
    w.server.handleTimeout(now);
    for (const c of w.clients) c.ep.handleTimeout(now);
    pump(w, now);
    while (w.server.pollEvent() !== undefined) { /* app consumes */ }
    for (const c of w.clients) while (c.ep.pollEvent() !== undefined) { /* drain */ }
  }
  return { ns: (Bun.nanoseconds() - t0) / datagrams, now };
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export function benchEngineOverhead(peersList: number[], datagrams: number, rounds: number): { peers: number; variant: Variant; ns: number }[] {
  const out: { peers: number; variant: Variant; ns: number }[] = [];
  for (const peers of peersList) {
    const wired = VARIANTS.map((v) => wire(peers, v));
    const nows = VARIANTS.map(() => 10);
    const samples = VARIANTS.map(() => [] as number[]);
    const iterations = Math.max(4, Math.floor(datagrams / peers / rounds));
    for (let r = 0; r < rounds + 1; r++) {
      for (let i = 0; i < VARIANTS.length; i++) {
        const res = runEngine(wired[i]!, iterations, nows[i]!);
        nows[i] = res.now;
        if (r > 0) samples[i]!.push(res.ns); // round 0 warms the JIT
      }
    }
    VARIANTS.forEach((variant, i) => out.push({ peers, variant, ns: median(samples[i]!) }));
  }
  return out;
}

/** The plugin alone on pre-built events: ns per onTrace call. */
export function benchPluginAlone(calls: number): { nsPerEvent: number } {
  const m = metrics();
  const peerLike = { id: 1, address: { host: "127.0.0.1", port: 1 }, state: "connected", rttMs: 1, sendBudget: 0, slots: [] as unknown[], userData: undefined, stats: () => { throw new Error("not in the hot path"); } };
  m.init({ slot: 0, now: 0, channelKind: (c: number) => (c < 4 ? "unreliable" : undefined) } as never);
  m.onConnected(peerLike as unknown as Peer, { now: 0 } as never);
  const peer = peerLike as unknown as Peer;
  const events: TraceEvent[] = [
    { type: "packet-sent", now: 0, peer, seq: 1, size: 80, ackEliciting: true },
    { type: "packet-received", now: 0, peer, seq: 1, size: 80 },
    { type: "packet-acked", now: 0, peer, seq: 1, rttMs: 0.05 },
  ];
  const run = (n: number, t: number): void => {
    for (let i = 0; i < n; i++) {
      const ev = events[i % 3]! as { now: number };
      ev.now = t + i * 0.01;
      m.onTrace(events[i % 3]!);
    }
  };
  run(calls, 0);
  const t0 = Bun.nanoseconds();
  run(calls, 1e6);
  return { nsPerEvent: (Bun.nanoseconds() - t0) / calls };
}

function fastnetUnreliable(name: string, withMetrics: boolean): RttTransport {
  return {
    name,
    async echo(spin) {
      const server = await listen({ host: "127.0.0.1", port: 0, insecurePlaintext: true, spin, plugins: withMetrics ? [metrics()] : [] });
      echoAll(server);
      return server.address.port;
    },
    async pinger(port, spin) {
      return clientPinger(await connect({ host: "127.0.0.1", port }, { insecurePlaintext: true, spin, plugins: withMetrics ? [metrics()] : [] }), Channel.Unreliable);
    },
  };
}

export const rttTransports: RttTransport[] = [rawTransport, fastnetUnreliable("fastnet", false), fastnetUnreliable("fastnet+metrics", true)];

if (import.meta.main) {
  const argv = process.argv.slice(2);
  if (argv[0] === "--echo") {
    await runRttMain(import.meta.path, rttTransports, "");
  } else {
    const quick = argv.includes("--quick");
    const cpu = (await Bun.file("/proc/cpuinfo").text().catch(() => "")).match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
    console.log(`@fastnet/metrics overhead — Bun ${Bun.version}, ${cpu}, ${navigator.hardwareConcurrency} cores${quick ? " (quick)" : ""}\n`);
    console.log("1. Engine, ns per 64 B datagram, full exchange incl. acks (median of interleaved rounds)");
    const rows = benchEngineOverhead([1, 64], quick ? 40_000 : 400_000, quick ? 3 : 9);
    console.log("peers  variant               ns/datagram   vs none");
    for (const r of rows) {
      const base = rows.find((x) => x.peers === r.peers && x.variant === "none")!.ns;
      console.log(`${String(r.peers).padStart(5)}  ${r.variant.padEnd(20)}  ${r.ns.toFixed(0).padStart(11)}   ${r.ns >= base ? "+" : ""}${(r.ns - base).toFixed(0)} ns (${((r.ns / base - 1) * 100).toFixed(1)}%)`);
    }
    const alone = benchPluginAlone(quick ? 300_000 : 3_000_000);
    console.log(`\n2. The plugin alone: ${alone.nsPerEvent.toFixed(1)} ns per onTrace call (pre-built packet-sent/received/acked events)`);
    if (!argv.includes("--no-rtt")) {
      console.log("\n3. Real UDP ping-pong, 64 B, echo in a separate process (core RTT harness):");
      await runRttMain(import.meta.path, rttTransports, "RTT, fastnet core unreliable with and without @fastnet/metrics on both ends");
    }
  }
}
