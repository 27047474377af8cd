/**
 * Engine micro-benchmark (no sockets): ns per datagram through the sans-IO
 * engine, sending side (send + pollTransmit = encode) and receiving side
 * (handleDatagram = decode, ack processing, delivery, pollEvent), with 1, 64
 * and 1024 connected peers on one server endpoint. Prints medians of
 * several rounds. Run: `bun packages/core/bench/engine.ts [--quick]`.
 */
import { Endpoint, SeededRandom, type Peer } from "../src/protocol/index.ts";
import type { Address } from "../src/protocol/types.ts";

interface Wired {
  server: Endpoint;
  clients: { ep: Endpoint; addr: Address; peer: Peer }[];
  serverAddr: Address;
}

const buf = new Uint8Array(65536);
const EMPTY = new Uint8Array(0);

/** Moves every pending datagram between the endpoints until quiet (bounded). */
function pump(w: Wired, now: number): void {
  for (let round = 0; round < 100; round++) {
    let moved = 0;
    for (const c of w.clients) {
      for (let t = c.ep.pollTransmit(now, buf); t !== null; t = c.ep.pollTransmit(now, buf)) {
        w.server.handleDatagram(now, c.addr, buf.subarray(0, t.size));
        moved++;
      }
    }
    for (let t = w.server.pollTransmit(now, buf); t !== null; t = w.server.pollTransmit(now, buf)) {
      const c = w.clients[t.to.port - 20000]!;
      c.ep.handleDatagram(now, w.serverAddr, buf.subarray(0, t.size));
      moved++;
    }
    if (moved === 0) return;
  }
}

function wire(peers: number): Wired {
  const serverAddr = { host: "10.0.0.1", port: 9000 };
  const server = new Endpoint({ random: new SeededRandom(1), insecurePlaintext: true, acceptConnections: true, maxPeers: 4096, maxPendingHandshakes: 4096 });
  const clients = [];
  for (let i = 0; i < peers; i++) {
    const ep = new Endpoint({ random: new SeededRandom(100 + i), insecurePlaintext: true });
    const addr = { host: "10.0.1.1", port: 20000 + i };
    clients.push({ ep, addr, peer: ep.connect(0, serverAddr) });
  }
  const w = { server, clients, serverAddr };
  pump(w, 0);
  pump(w, 1);
  while (server.pollEvent()) { /* drain connected events */ }
  for (const c of clients) while (c.ep.pollEvent()) { /* drain */ }
  if (clients.some((c) => c.peer.state !== "connected")) throw new Error("bench setup: not all peers connected");
  return w;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export interface EngineResult {
  peers: number;
  channel: string;
  encodeNs: number;
  handleNs: number;
}

export function benchEngine(peersList = [1, 64, 1024], datagrams = 200_000, rounds = 5): EngineResult[] {
  const results: EngineResult[] = [];
  const payload = new Uint8Array(64).fill(7);
  for (const peers of peersList) {
    for (const [channel, name] of [[1, "unreliable"], [0, "reliable-ordered"]] as const) {
      const w = wire(peers);
      // Each iteration: every peer sends one message (timed encode), the server handles the
      // datagrams (timed), then acks flow back untimed so windows stay open as in a real game.
      const iterations = Math.max(4, Math.floor(datagrams / peers / rounds));
      const encode: number[] = [];
      const handle: number[] = [];
      const captured: Uint8Array[] = [];
      let now = 10;
      for (let r = 0; r < rounds + 1; r++) {
        let encNs = 0;
        let hanNs = 0;
        let count = 0;
        for (let it = 0; it < iterations; it++) {
          captured.length = 0;
          let t0 = Bun.nanoseconds();
          for (let i = 0; i < peers; i++) {
            const c = w.clients[i]!;
            c.ep.send(c.peer, channel, payload);
            const t = c.ep.pollTransmit(now, buf);
            captured.push(t === null ? EMPTY : buf.slice(0, t.size));
          }
          encNs += Bun.nanoseconds() - t0;
          t0 = Bun.nanoseconds();
          for (let i = 0; i < peers; i++) {
            const data = captured[i]!;
            if (data.length === 0) continue;
            w.server.handleDatagram(now, w.clients[i]!.addr, data);
            while (w.server.pollEvent() !== undefined) { /* app consumes */ }
            count++;
          }
          hanNs += Bun.nanoseconds() - t0;
          now += 2;
          w.server.handleTimeout(now);
          pump(w, now);
          for (const c of w.clients) while (c.ep.pollEvent()) { /* drain */ }
        }
        if (count < (iterations * peers) / 2) throw new Error(`bench: only ${count} of ${iterations * peers} datagrams were sent`);
        if (r > 0) {
          encode.push(encNs / (iterations * peers));
          handle.push(hanNs / count);
        }
      }
      results.push({ peers, channel: name, encodeNs: median(encode), handleNs: median(handle) });
    }
  }
  return results;
}

if (import.meta.main) {
  const quick = process.argv.includes("--quick");
  const res = benchEngine(quick ? [1, 64] : [1, 64, 1024], quick ? 20_000 : 200_000);
  console.log(`engine: ns per 64 B datagram (median of rounds), Bun ${Bun.version}`);
  console.log("peers  channel            encode ns  handle ns");
  for (const r of res) {
    console.log(`${String(r.peers).padStart(5)}  ${r.channel.padEnd(17)}  ${r.encodeNs.toFixed(0).padStart(9)}  ${r.handleNs.toFixed(0).padStart(9)}`);
  }
}
