/**
 * Connect time: from the start of connect() (TCP connect, TLS 1.3 handshake,
 * WELCOME, sealed UDP connect request, accept) to the first UDP message
 * delivered to the server, and to connect() resolving. Server and client in
 * one process so both ends read the same clock. Median and p99 over N runs.
 *
 * Run: `bun packages/fastnet/bench/connect.ts [--runs 200]`
 */
import { Channel, connect, createServer } from "../src/index.ts";

const argv = process.argv.slice(2);
const runs = argv.includes("--runs") ? Number(argv[argv.indexOf("--runs") + 1]) : argv.includes("--quick") ? 30 : 200;

const server = await createServer({ host: "127.0.0.1", port: 0, log: () => {}, tls: { perIpBurst: 1e6, perIpPerSecond: 1e6 } });
const connected: number[] = [];
const delivered: number[] = [];
const payload = new Uint8Array([1]);
for (let i = 0; i < runs + 5; i++) {
  const t0 = performance.now();
  const client = await connect({ host: "127.0.0.1", port: server.port }, { fingerprint: server.fingerprint256 });
  const t1 = performance.now();
  client.send(Channel.Reliable, payload);
  let t2 = NaN;
  for (let k = 0; k < 100 && Number.isNaN(t2); k++) {
    const ev = await server.next(1000);
    if (ev?.type === "message") t2 = performance.now();
  }
  await client.close();
  while (server.poll() !== undefined) { /* drain disconnects */ }
  if (i >= 5) {
    connected.push(t1 - t0);
    delivered.push(t2 - t0);
  }
}
await server.close();
const pct = (xs: number[], p: number): number => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
console.log(`connect time over 127.0.0.1 (TLS 1.3 ECDSA P-256 + UDP bind), ${runs} runs, Bun ${Bun.version}`);
console.log(`connect() resolved:            p50 ${pct(connected, 50).toFixed(2)} ms  p99 ${pct(connected, 99).toFixed(2)} ms`);
console.log(`first UDP message delivered:   p50 ${pct(delivered, 50).toFixed(2)} ms  p99 ${pct(delivered, 99).toFixed(2)} ms`);
process.exit(0);
