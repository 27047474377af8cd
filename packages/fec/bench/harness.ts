/**
 * Measurement harness for FEC on the deterministic simulator (used by the
 * scenario tests and by `bench/figures.ts`, which prints the README table).
 *
 * A client streams reliable-ordered messages to a server at a game tick rate.
 * Loss on the client -> server direction is applied by an oracle wrapped
 * around the server endpoint (random or Gilbert-Elliott bursty), so every lost
 * datagram is known exactly: its FEC kind, group, index and core sequence
 * number. A spy plugin registered before FEC on the server sees every
 * datagram the core processes, including the ones FEC rebuilt, so "recovered"
 * means: lost on the link, then handed to the core by FEC.
 */
import { Endpoint, type Peer, type Plugin, SeededRandom } from "@fastnet/core/protocol";
import { Simulator, type SimEndpoint } from "@fastnet/core/sim";
import { fec, type FecOptions, type FecPlugin } from "../src/index.ts";
import {
  CORE_TYPE_DATA, CORE_TYPE_MASK, DATA_HEADER_SIZE, KIND_DATA, KIND_PARITY, OFF_SEQ, ParseError, parseTrailer,
  readU16, type Trailer,
} from "../src/wire.ts";
import { macPlugin } from "@fastnet/core/testing/mac";

export { macPlugin };

export type LossModel =
  | { kind: "random"; p: number }
  /** Gilbert-Elliott, per datagram: enter the bad state with pGoodToBad, leave it with pBadToGood, lose lossInBad of datagrams in it. */
  | { kind: "burst"; pGoodToBad: number; pBadToGood: number; lossInBad: number }
  /** Loses exactly the datagrams `pick` selects (n: index among client -> server datagrams after connecting). */
  | { kind: "pick"; pick: (d: SentDatagram, n: number) => boolean };

/** What the oracle knows about a client -> server datagram. */
export interface SentDatagram {
  /** FEC kind (KIND_PLAIN, KIND_DATA, KIND_PARITY), 0 without FEC. */
  kind: number;
  group: number;
  index: number;
  /** Parity: data datagrams in its group. */
  k: number;
  /** Core sequence number of a datagram carrying frames, else -1. */
  seq: number;
  lost: boolean;
}

export interface RunOptions {
  seed: number;
  loss: LossModel;
  /** FEC options on both ends, or null for a run without FEC. */
  fec: FecOptions | null;
  latencyMs?: number;
  jitterMs?: number;
  /** Game ticks to send for, each tickMs apart. */
  ticks?: number;
  tickMs?: number;
  messagesPerTick?: number;
  messageBytes?: number;
  /** Put a keyed-MAC plugin (standing in for crypto) after FEC on both ends. */
  mac?: boolean;
}

export interface RunResult {
  messages: number;
  delivered: number;
  /** Data datagrams (client -> server) the link lost, and those whose group lost nothing else. */
  dataLost: number;
  isolatedLost: number;
  /** Of those, rebuilt by FEC and handed to the core. */
  recovered: number;
  isolatedRecovered: number;
  /** Reliable message parts the client sent again. */
  retransmits: number;
  /** Bytes the client put on the link (lost ones included). */
  bytesSent: number;
  parityBytes: number;
  p50: number;
  p99: number;
  max: number;
  /** Every client -> server datagram after connecting, in order. */
  sent: SentDatagram[];
  /** Messages delivered out of order or twice (must be 0: the channel is reliable-ordered). */
  misordered: number;
  fecClient: FecPlugin | undefined;
  fecServer: FecPlugin | undefined;
}

const SERVER = { host: "10.0.0.1", port: 4000 };
const CLIENT = { host: "10.0.0.2", port: 5000 };


type Sent = SentDatagram;

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export function runStream(opts: RunOptions): RunResult {
  const ticks = opts.ticks ?? 1875;
  const tickMs = opts.tickMs ?? 16;
  const perTick = opts.messagesPerTick ?? 2;
  const size = Math.max(16, opts.messageBytes ?? 600);
  const sim = new Simulator({ seed: opts.seed, link: { latencyMs: opts.latencyMs ?? 30, jitterMs: opts.jitterMs ?? 0 } });
  const fecClient = opts.fec ? fec(opts.fec) : undefined;
  const fecServer = opts.fec ? fec(opts.fec) : undefined;
  const seenSeqs = new Set<number>();
  const spy: Plugin = {
    name: "spy",
    openDatagram(data) {
      if (data.length >= DATA_HEADER_SIZE && (data[1]! & CORE_TYPE_MASK) === CORE_TYPE_DATA) seenSeqs.add(readU16(data, OFF_SEQ));
      return data;
    },
  };
  const tail = (): Plugin[] => (opts.mac ? [macPlugin(0x5eed)] : []);
  const server = new Endpoint({
    random: new SeededRandom(opts.seed ^ 0x1111), acceptConnections: true, insecurePlaintext: !opts.mac,
    plugins: [spy, ...(fecServer ? [fecServer] : []), ...tail()],
  });
  const client = new Endpoint({
    random: new SeededRandom(opts.seed ^ 0x2222), insecurePlaintext: !opts.mac,
    plugins: [...(fecClient ? [fecClient] : []), ...tail()],
  });

  // The loss oracle in front of the server.
  const rng = new SeededRandom(opts.seed ^ 0x3333);
  const sent: Sent[] = [];
  const trailer: Trailer = { kind: 0, index: 0, group: 0, report: 0, k: 0, m: 0, lenParity: 0, typeParity: 0, check: 0, inner: 0 };
  let active = false;
  let bad = false;
  const lose = (d: Sent): boolean => {
    const m = opts.loss;
    if (m.kind === "pick") return m.pick(d, sent.length);
    if (m.kind === "random") return rng.nextFloat() < m.p;
    if (bad) {
      if (rng.nextFloat() < m.pBadToGood) bad = false;
    } else if (rng.nextFloat() < m.pGoodToBad) bad = true;
    return bad && rng.nextFloat() < m.lossInBad;
  };
  const lossyServer: SimEndpoint = {
    handleDatagram(now, from, data) {
      if (!active || from.port !== CLIENT.port) return server.handleDatagram(now, from, data);
      const plain = opts.mac ? data.subarray(0, data.length - 4) : data;
      const rec: Sent = { kind: 0, group: -1, index: 0, k: 0, seq: -1, lost: false };
      if (fecClient && parseTrailer(plain, trailer) === ParseError.OK) {
        rec.kind = trailer.kind;
        rec.group = trailer.group;
        rec.index = trailer.index;
        rec.k = trailer.kind === KIND_PARITY ? trailer.k : 0;
      }
      if (rec.kind !== KIND_PARITY && plain.length > DATA_HEADER_SIZE + (fecClient ? 2 : 0) && (plain[1]! & CORE_TYPE_MASK) === CORE_TYPE_DATA) {
        rec.seq = readU16(plain, OFF_SEQ);
      }
      rec.lost = lose(rec);
      sent.push(rec);
      if (!rec.lost) server.handleDatagram(now, from, data);
    },
    handleTimeout: (now) => server.handleTimeout(now),
    pollTransmit: (now, buf) => server.pollTransmit(now, buf),
    pollTimeout: () => server.pollTimeout(),
  };
  sim.addNode(lossyServer, SERVER);
  sim.addNode(client, CLIENT);

  const clientPeer = client.connect(0, SERVER);
  let serverPeer: Peer | undefined;
  sim.runUntil(() => {
    for (let ev = server.pollEvent(); ev; ev = server.pollEvent()) if (ev.type === "connected") serverPeer = ev.peer;
    while (client.pollEvent()) { /* connected */ }
    return serverPeer !== undefined && clientPeer.state === "connected";
  }, { maxMs: 5000 });
  if (serverPeer === undefined || clientPeer.state !== "connected") throw new Error("harness: did not connect");
  active = true;

  const latencies: number[] = [];
  let misordered = 0;
  const total = ticks * perTick;
  const drain = (): boolean => {
    for (let ev = server.pollEvent(); ev; ev = server.pollEvent()) {
      if (ev.type !== "message") continue;
      const view = new DataView(ev.data.buffer, ev.data.byteOffset, ev.data.byteLength);
      if (view.getUint32(0) !== latencies.length) misordered++;
      latencies.push(sim.now - view.getFloat64(4));
    }
    while (client.pollEvent()) { /* nothing expected */ }
    return latencies.length >= total;
  };
  const payload = new Uint8Array(size);
  const pv = new DataView(payload.buffer);
  let n = 0;
  for (let t = 0; t < ticks; t++) {
    for (let i = 0; i < perTick; i++) {
      pv.setUint32(0, n++);
      pv.setFloat64(4, sim.now);
      payload.fill(n & 0xff, 12);
      client.send(clientPeer, 0, payload, undefined, sim.now);
    }
    sim.runUntil(() => (drain(), false), { maxMs: tickMs });
  }
  sim.runUntil(drain, { maxMs: 30_000 });
  sim.runFor(500);
  drain();

  // Which losses were isolated (nothing else of their group lost), and which were rebuilt.
  const groups = new Map<number, Sent[]>();
  for (const s of sent) {
    if (s.kind !== KIND_DATA && s.kind !== KIND_PARITY) continue;
    let g = groups.get(s.group);
    if (g === undefined) groups.set(s.group, (g = []));
    g.push(s);
  }
  let dataLost = 0;
  let isolatedLost = 0;
  let recovered = 0;
  let isolatedRecovered = 0;
  for (const s of sent) {
    if (!s.lost || s.seq < 0) continue;
    dataLost++;
    const rebuilt = seenSeqs.has(s.seq);
    if (rebuilt) recovered++;
    if (s.kind !== KIND_DATA) continue;
    const g = groups.get(s.group)!;
    const parity = g.filter((x) => x.kind === KIND_PARITY);
    const k = parity[0]?.k ?? 0;
    const othersLost = g.some((x) => x !== s && x.lost);
    const complete = k > 0 && g.filter((x) => x.kind === KIND_DATA).length === k;
    if (!othersLost && complete) {
      isolatedLost++;
      if (rebuilt) isolatedRecovered++;
    }
  }
  latencies.sort((a, b) => a - b);
  const link = sim.linkStats(CLIENT, SERVER);
  return {
    messages: total,
    delivered: latencies.length,
    dataLost,
    isolatedLost,
    recovered,
    isolatedRecovered,
    retransmits: clientPeer.state === "connected" ? clientPeer.stats().retransmits : -1,
    bytesSent: link.bytesSent,
    parityBytes: fecClient?.stats().parityBytesSent ?? 0,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    max: latencies.length > 0 ? latencies[latencies.length - 1]! : NaN,
    sent,
    misordered,
    fecClient,
    fecServer,
  };
}
