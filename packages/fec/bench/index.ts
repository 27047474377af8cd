/**
 * `bun run bench` in packages/fec: ns per datagram on FEC's hot path (seal on
 * send, open on receive, repair when something was lost), for 1,000-byte
 * datagrams, against a baseline measured in the same run: copying the same
 * datagram once (what any transform costs at least) and the core engine's
 * own send + receive of it without FEC. Then the simulator figures
 * (figures.ts). `--quick` for a smoke run; `--micro` skips the figures.
 */
import { Endpoint, type Peer, type PluginContext, SeededRandom } from "@fastnet/core/protocol";
import { fec, type FecOptions, type FecPlugin } from "../src/index.ts";
import { printFigures } from "./figures.ts";
import { medianNsPerOp } from "@fastnet/core/bench";

const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 5 : 11;
const ROUND_MS = quick ? 10 : 40;

/** Median ns per call of fn over ROUNDS rounds, each sized to about ROUND_MS. */
function measure(fn: (i: number) => void): number {
  return medianNsPerOp(fn, { rounds: ROUNDS, roundMs: ROUND_MS });
}

const MTU = 1200;
const BODY = 1000;

interface Side {
  plugin: FecPlugin;
  ctx: PluginContext;
  peer: Peer;
  out: Uint8Array[];
}

function side(options: FecOptions): Side {
  const plugin = fec(options);
  const out: Uint8Array[] = [];
  const ctx = {
    slot: 0, now: 0, random: new SeededRandom(1), mtu: MTU, channelKind: () => "reliable-ordered" as const,
    send: () => 0, deliver: () => {}, queueDatagram: () => {}, countDrop: () => {}, disconnect: () => {},
    // Like the endpoint: the bytes are copied into its outbox.
    sendDatagram: (_p: Peer, d: Uint8Array) => void out.push(d.slice()),
    injectDatagram: (_f: unknown, d: Uint8Array) => void out.push(d.slice()),
  } as unknown as PluginContext;
  const peer = {
    id: 1, address: { host: "10.0.0.1", port: 1 }, state: "connected", rttMs: 40, sendBudget: 1e9,
    stats: () => ({}), slots: [undefined], userData: undefined,
  } as unknown as Peer;
  plugin.init!(ctx);
  return { plugin, ctx, peer, out };
}

function packet(seq: number): Uint8Array {
  const b = new Uint8Array(16 + BODY);
  b.set([0xf1, 0x15, 1, 2, 3, 4]);
  b[6] = seq >> 8;
  b[7] = seq & 0xff;
  for (let i = 16; i < b.length; i++) b[i] = (i * 7 + seq) & 0xff;
  return b;
}

/** Wire datagrams of `groups` groups sent by a fresh sender (data, then its parity). */
function stream(options: FecOptions, groups: number, k: number): Uint8Array[] {
  const tx = side(options);
  const wire: Uint8Array[] = [];
  const buf = new Uint8Array(MTU + 64);
  for (let i = 0; i < groups * k; i++) {
    const p = packet(i);
    buf.set(p);
    const n = tx.plugin.sealDatagram!(buf, p.length, tx.peer, tx.ctx);
    wire.push(buf.slice(0, n), ...tx.out.splice(0));
  }
  return wire;
}

export interface MicroResult {
  name: string;
  ns: number;
}

export function benchMicro(): MicroResult[] {
  const results: MicroResult[] = [];
  const pkt = packet(1);
  const buf = new Uint8Array(MTU + 64);
  results.push({ name: "baseline: copy one 1,016-byte datagram", ns: measure(() => buf.set(pkt)) });

  for (const [label, options, k] of [
    ["xor, groups of 4", { adaptive: false, groupSize: 4 }, 4],
    ["xor, groups of 4, verify off", { adaptive: false, groupSize: 4, verify: false }, 4],
    ["reed-solomon 8+3", { mode: "reed-solomon", adaptive: false, groupSize: 8, parityShards: 3 }, 8],
  ] as const) {
    const tx = side(options);
    // Seal: copy the datagram in (as the endpoint writes it), seal, and every k-th time emit the parity.
    results.push({
      name: `${label}: seal, per data datagram (parity amortized)`,
      ns: measure(() => {
        buf.set(pkt);
        tx.plugin.sealDatagram!(buf, pkt.length, tx.peer, tx.ctx);
        tx.out.length = 0;
      }),
    });
    // Open: every datagram of many groups, nothing lost (the common case). A long stream so that
    // group numbers keep advancing (the receiver resyncs once when the stream wraps around).
    const groups = 2048;
    const wire = stream(options, groups, k);
    const perGroup = wire.length / groups;
    const openGroups = (lost: number): number => {
      const rx = side(options);
      let g = 0;
      let id = 0;
      return measure(() => {
        const base = g * perGroup;
        for (let j = lost; j < perGroup; j++) {
          // Renumber the group as the stream cycles, so the receiver always sees a new group.
          const d = wire[base + j]!;
          d[d.length - 4] = id >> 8;
          d[d.length - 3] = id & 0xff;
          rx.plugin.openDatagram!(d, rx.peer, rx.peer.address, rx.ctx);
        }
        g = g + 1 === groups ? 0 : g + 1;
        id = (id + 1) & 0xffff;
        rx.out.length = 0;
      });
    };
    const clean = openGroups(0);
    results.push({ name: `${label}: open, per data datagram (parity amortized)`, ns: clean / k });
    // Repair: the same with the first `lostPer` data datagrams of every group lost.
    const lostPer = (options as FecOptions).parityShards ?? 1;
    const lossy = openGroups(lostPer);
    results.push({ name: `${label}: repair, per rebuilt datagram (${lostPer} lost per group)`, ns: (lossy - (clean * (k - lostPer)) / k) / lostPer });
  }
  return results;
}

/** The engine's own cost per datagram (send + receive through two endpoints), with and without FEC. */
export function benchEngine(): MicroResult[] {
  const results: MicroResult[] = [];
  // Two passes over both configurations; the first only warms the JIT up (it is not reported).
  for (const [label, withFec, report] of [["engine without FEC", false, false], ["engine with FEC (xor, groups of 4)", true, false], ["engine without FEC", false, true], ["engine with FEC (xor, groups of 4)", true, true]] as const) {
    const serverAddr = { host: "10.0.0.1", port: 9000 };
    const clientAddr = { host: "10.0.0.2", port: 9001 };
    const server = new Endpoint({ random: new SeededRandom(1), insecurePlaintext: true, acceptConnections: true, plugins: withFec ? [fec({ adaptive: false })] : [] });
    const client = new Endpoint({ random: new SeededRandom(2), insecurePlaintext: true, plugins: withFec ? [fec({ adaptive: false })] : [] });
    const peer = client.connect(0, serverAddr);
    const buf = new Uint8Array(65536);
    let now = 0;
    const pump = (): number => {
      let moved = 0;
      for (let r = 0; r < 10; r++) {
        let any = 0;
        for (let t = client.pollTransmit(now, buf); t; t = client.pollTransmit(now, buf)) (server.handleDatagram(now, clientAddr, buf.subarray(0, t.size)), any++);
        if (client.pollTimeout() <= now) client.handleTimeout(now);
        for (let t = client.pollTransmit(now, buf); t; t = client.pollTransmit(now, buf)) (server.handleDatagram(now, clientAddr, buf.subarray(0, t.size)), any++);
        for (let t = server.pollTransmit(now, buf); t; t = server.pollTransmit(now, buf)) (client.handleDatagram(now, serverAddr, buf.subarray(0, t.size)), any++);
        moved += any;
        if (any === 0) break;
      }
      return moved;
    };
    pump();
    now = 1;
    pump();
    while (server.pollEvent()) { /* connected */ }
    while (client.pollEvent()) { /* connected */ }
    const msg = new Uint8Array(BODY - 6).fill(3);
    const ns = measure(() => {
        now += 0.01;
        client.send(peer, 1, msg, undefined, now);
        pump();
        while (server.pollEvent()) { /* message */ }
      });
    if (report) results.push({ name: `${label}: unreliable 1,000-byte datagram, send + receive`, ns });
  }
  return results;
}

if (import.meta.main) {
  const cpu = (await Bun.file("/proc/cpuinfo").text().catch(() => "")).match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
  console.log(`@fastnet/fec bench — Bun ${Bun.version}, ${cpu}${quick ? " (quick)" : ""}\n`);
  const micro = [...benchMicro(), ...benchEngine()];
  const base = micro[0]!.ns;
  console.log("ns per datagram (median of rounds)              ns    x copy");
  for (const r of micro) console.log(`${r.name.padEnd(72)} ${r.ns.toFixed(0).padStart(6)}  ${(r.ns / base).toFixed(1).padStart(6)}`);
  if (!process.argv.includes("--micro")) {
    console.log("");
    printFigures(quick);
  }
}
