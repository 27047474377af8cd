/**
 * Hot-path benchmark of @fastnet/delta: encoding and decoding one snapshot of
 * the standard fixture (64 entities) against a baseline 4 ticks old (what a
 * 60 ms RTT gives at 60 Hz), the checksum, and the plugin's sendSnapshot
 * against the endpoint's plain send of the same bytes (the baseline, same run).
 *
 * Run: bun packages/delta/bench/codec.ts   (add --quick for fewer rounds)
 */
import { Endpoint, SeededRandom, type Peer } from "@fastnet/core/protocol";
import { Simulator } from "@fastnet/core/sim";
import { SnapshotWriter } from "../src/buffer.ts";
import { DecodeStatus, WordBuffer, decodeSnapshotBody, emptyHeader, encodeDelta, encodeFull, hashSnapshot, parseSnapshotHeader } from "../src/codec.ts";
import { FixtureWorld, type FixtureFormat } from "../src/fixture/world.ts";
import { DeltaPlugin } from "../src/plugin.ts";
import { measure } from "./measure.ts";

const quick = process.argv.includes("--quick");
const ENTITIES = 64;

function snapshots(format: FixtureFormat, n: number): WordBuffer[] {
  const w = new FixtureWorld({ seed: 1 });
  const writer = new SnapshotWriter();
  const out: WordBuffer[] = [];
  for (let i = 0; i < n; i++) {
    w.step();
    const b = new WordBuffer(64);
    b.set(w.writeSnapshot(writer, format));
    out.push(b);
  }
  return out;
}

function row(name: string, ns: number, perEntity = true): void {
  console.log(`| ${name.padEnd(48)} | ${ns.toFixed(0).padStart(8)} | ${perEntity ? (ns / ENTITIES).toFixed(1).padStart(8) : "".padStart(8)} |`);
}

console.log(`@fastnet/delta codec, ${quick ? "quick" : "full"} run, Bun ${Bun.version}, ${process.arch}`);
console.log(`| operation (one snapshot, 64 entities)            |  ns / op | ns / ent |`);
console.log(`|--------------------------------------------------|---------:|---------:|`);
// The first pass warms the JIT up on both layouts; the second is printed.
for (const [pass, format] of [[0, "float"], [0, "quantized"], [1, "float"], [1, "quantized"]] as const) {
  const print = pass === 1 ? row : () => {};
  const snaps = snapshots(format, 240);
  const n = snaps.length;
  const out = new Uint8Array(8192);
  const sizes: number[] = [];
  for (let i = 4; i < n; i++) sizes.push(encodeDelta(out, i, i, 4, i - 4, snaps[i]!, snaps[i - 4]!, true, 6000));
  const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
  print(`${format}: encode delta (${snaps[0]!.length} B -> ~${mean.toFixed(0)} B)`, measure((k) => {
    const i = 4 + (k % (n - 4));
    encodeDelta(out, i, i, 4, i - 4, snaps[i]!, snaps[i - 4]!, true, 6000);
  }, quick));
  const msgs = snaps.map((s, i) => (i < 4 ? new Uint8Array(0) : out.slice(0, encodeDelta(out, i, i, 4, i - 4, s, snaps[i - 4]!, true, 6000))));
  const h = emptyHeader();
  const target = new WordBuffer(4096);
  print(`${format}: parse + decode delta + verify checksum`, measure((k) => {
    const i = 4 + (k % (n - 4));
    parseSnapshotHeader(msgs[i]!, h, 65536);
    if (decodeSnapshotBody(msgs[i]!, h, snaps[i - 4]!, target, i) !== DecodeStatus.OK) throw new Error("decode failed");
  }, quick));
  print(`${format}: encode full`, measure((k) => encodeFull(out, k & 0xffff, k, snaps[k % n]!, true), quick));
  print(`${format}: checksum alone`, measure((k) => hashSnapshot(snaps[k % n]!, k, k), quick));
}

// End to end, one 60 Hz tick on the simulator (30 ms one way): the server sends the snapshot, both
// endpoints run (acks, the client's decode), the client takes what arrived. Baseline: the same
// with endpoint.send of the whole snapshot and no plugin.
function endpointPair(plugins: DeltaPlugin[]): { server: Endpoint; client: Endpoint; peer: Peer; sim: Simulator } {
  const sim = new Simulator({ seed: 1, link: { latencyMs: 30 } });
  const server = new Endpoint({ random: new SeededRandom(1), insecurePlaintext: true, acceptConnections: true, plugins: plugins.slice(0, 1) });
  const client = new Endpoint({ random: new SeededRandom(2), insecurePlaintext: true, plugins: plugins.slice(1, 2) });
  const A = { host: "10.0.0.1", port: 1 };
  sim.addNode(server, A);
  sim.addNode(client, { host: "10.0.0.2", port: 2 });
  client.connect(0, A);
  let peer: Peer | undefined;
  sim.runUntil(() => {
    for (let e = server.pollEvent(); e; e = server.pollEvent()) if (e.type === "connected") peer = e.peer;
    return peer !== undefined;
  }, { maxMs: 5000 });
  return { server, client, peer: peer!, sim };
}
{
  const views = snapshots("float", 240).map((s) => s.view().slice());
  const plain = endpointPair([]);
  let t0 = 0;
  const nsPlain = measure(() => {
    plain.server.send(plain.peer, 1, views[t0++ % views.length]!, undefined, plain.sim.now);
    plain.sim.runFor(17);
    while (plain.client.pollEvent() !== undefined);
  }, quick);
  const d = [new DeltaPlugin(), new DeltaPlugin()];
  const withDelta = endpointPair(d);
  let t1 = 0;
  const nsDelta = measure(() => {
    d[0]!.sendSnapshot(withDelta.peer, t1, views[t1++ % views.length]!);
    withDelta.sim.runFor(17);
    while (d[1]!.pollSnapshot() !== undefined);
  }, quick);
  const st = d[0]!.stats();
  console.log("");
  console.log("| one 60 Hz tick on the simulator, float fixture         | ns / tick |");
  console.log("|--------------------------------------------------------|----------:|");
  console.log(`| endpoint.send(whole snapshot), both endpoints, sim     | ${nsPlain.toFixed(0).padStart(9)} |`);
  console.log(`| delta.sendSnapshot, both endpoints, sim, pollSnapshot  | ${nsDelta.toFixed(0).padStart(9)} |`);
  console.log(`delta / plain: ${(nsDelta / nsPlain).toFixed(2)}x time, ${((st.bytesSent / st.snapshotBytes) * 100).toFixed(1)}% of the message bytes (${st.deltasSent} deltas, ${st.fullSent} full)`);
}
