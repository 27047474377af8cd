/**
 * Fuzzing of the engine's untrusted-input path, Endpoint.handleDatagram
 * (ARCHITECTURE.md §6, §7): it never throws, and every datagram is either
 * accepted or counted in stats().drops by reason. Uses the shared harness in
 * scripts/fuzz-harness.ts (same generators as `bun run fuzz`):
 *   (a) random bytes of length 0..1500, to a server and to a client;
 *   (b) mutated real datagrams captured from a simulator run over all four
 *       default channels with fragmented messages, re-addressed to a live
 *       connection so they reach the connection's parsers, to both sides;
 *   (c) a table of targeted cases, each asserting the drop reason counter and
 *       that the real connection still works afterwards, plus a fragment bomb.
 * Every world also checks that reassembly memory stays under the cap, that a
 * bystander connection on the same server never notices, and that the fuzzed
 * connection still delivers or ends with an event. Seeds are fixed; a failure
 * prints its fast-check seed and the offending datagram in hex.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  A_ADDR, B_ADDR, type Corpus, STRANGER_ADDR, SERVER_ADDR, World, captureCorpus, memoryCap,
  mutatedCaseArb, newTotals, randomBytes, randomCaseArb, runMutatedBatch, runRandomBatch,
} from "../../scripts/fuzz-harness.ts";
import type { DropReason } from "./types.ts";
import {
  DATA_HEADER_SIZE, DISCONNECT_SIZE, FrameType, MAX_DATAGRAM, PacketType, REQUEST_PADDED_SIZE, writeHeader, writeU16,
  writeVarint,
} from "./wire.ts";

const SEED_RANDOM = 0x0f22a;
const SEED_MUTATED = 0x0f22b;
const BATCH = 250;

/** fc.assert that prints the seed to reproduce with before rethrowing. */
function fuzzAssert<T>(name: string, prop: fc.IPropertyWithHooks<T>, params: fc.Parameters<T> & { seed: number }): void {
  try {
    fc.assert(prop, params);
  } catch (e) {
    console.error(`[fuzz] ${name} failed; reproduce with fast-check seed ${params.seed} (numRuns ${params.numRuns})`);
    throw e;
  }
}

let corpus: Corpus;
beforeAll(() => {
  corpus = captureCorpus(1);
});

describe("fuzz: handleDatagram never throws and counts every drop", () => {
  test("(a) 45,000 random datagrams of 0..1500 bytes, each to a server and to a client", () => {
    const totals = newTotals();
    fuzzAssert(
      "random bytes",
      fc.property(fc.array(randomCaseArb, { minLength: BATCH, maxLength: BATCH }), fc.integer({ min: 0, max: 0xffffff }), (cases, seed) => {
        runRandomBatch(cases, seed, totals);
      }),
      { seed: SEED_RANDOM, numRuns: 180 },
    );
    expect(totals.datagrams).toBeGreaterThanOrEqual(90_000);
    // Nearly all die at the length or version checks; the few that pass them die further in.
    expect(totals.drops["bad-version"] + totals.drops.short).toBeGreaterThan(0.99 * totals.datagrams);
    expect(totals.drops.short).toBeGreaterThan(0);
    expect(totals.drops["bad-version"]).toBeGreaterThan(0);
  });

  test("(b) 100,000 mutated real datagrams, each to the server and to the client of a live connection", () => {
    expect(corpus.toServer.length).toBeGreaterThan(100);
    expect(corpus.toClient.length).toBeGreaterThan(100);
    const totals = newTotals();
    fuzzAssert(
      "mutated datagrams",
      fc.property(fc.array(mutatedCaseArb, { minLength: BATCH, maxLength: BATCH }), fc.integer({ min: 0, max: 0xffffff }), (cases, seed) => {
        runMutatedBatch(cases, corpus, seed, totals);
      }),
      { seed: SEED_MUTATED, numRuns: 400 },
    );
    expect(totals.datagrams).toBeGreaterThanOrEqual(200_000);
    // The mutations reach every layer: header checks, demux, frame validation, windows, fragments.
    const reached: DropReason[] = [
      "short", "oversize", "bad-version", "bad-type", "unknown-connection", "malformed", "duplicate", "stale",
      "bad-channel", "bad-fragment", "message-too-large", "out-of-window", "not-accepting", "wrong-state",
    ];
    expect(reached.filter((r) => totals.drops[r] === 0)).toEqual([]);
  });
});

// ---- (c) targeted cases ----

function frameMessage(ch: number, seq: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 3 + data.length);
  out[0] = FrameType.MESSAGE;
  out[1] = ch;
  writeU16(out, 2, seq);
  const off = writeVarint(out, 4, data.length);
  out.set(data, off);
  return out.subarray(0, off + data.length);
}

function frameFragment(ch: number, seq: number, index: number, count: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 3 + data.length);
  out[0] = FrameType.FRAGMENT;
  out[1] = ch;
  writeU16(out, 2, seq);
  writeU16(out, 4, index);
  writeU16(out, 6, count);
  const off = writeVarint(out, 8, data.length);
  out.set(data, off);
  return out.subarray(0, off + data.length);
}

function frameTombstone(ch: number, seq: number): Uint8Array {
  const out = new Uint8Array(4);
  out[0] = FrameType.TOMBSTONE;
  out[1] = ch;
  writeU16(out, 2, seq);
  return out;
}

/** A DATA packet for connection `id` carrying raw `frames` (no ack fields). */
function data(id: number, seq: number, ...frames: Uint8Array[]): Uint8Array {
  const size = frames.reduce((n, f) => n + f.length, DATA_HEADER_SIZE);
  const out = new Uint8Array(size);
  writeHeader(out, PacketType.DATA, 0, id);
  writeU16(out, 6, seq);
  let off = DATA_HEADER_SIZE;
  for (const f of frames) {
    out.set(f, off);
    off += f.length;
  }
  return out;
}

function packet(type: number, id: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  writeHeader(out, type, 0, id);
  return out;
}

/** Next packet number the server (or A) will take as new from the other side. */
const nextToServer = (w: World): number => (w.auditServer.largest + 1) & 0xffff;
const nextToA = (w: World): number => (w.auditA.largest + 1) & 0xffff;

interface Target {
  name: string;
  /** Endpoint whose counter must move. */
  at: "server" | "client";
  reason: DropReason;
  count: number;
  inject(w: World): void;
}

const TARGETED: Target[] = [
  {
    name: "short datagrams (0..5 bytes)", at: "server", reason: "short", count: 6,
    inject: (w) => {
      const full = data(w.sA!.id, nextToServer(w));
      for (let n = 0; n <= 5; n++) w.toServer(full.slice(0, n));
    },
  },
  {
    name: "oversize datagrams (65508 and 100000 bytes)", at: "server", reason: "oversize", count: 2,
    inject: (w) => {
      for (const n of [MAX_DATAGRAM + 1, 100_000]) {
        const d = new Uint8Array(n);
        d.set(data(w.sA!.id, nextToServer(w)));
        w.toServer(d);
      }
    },
  },
  {
    name: "wrong version byte", at: "server", reason: "bad-version", count: 4,
    inject: (w) => {
      for (const v of [0xf0, 0xf2, 0x01, 0xe1]) {
        const d = data(w.sA!.id, nextToServer(w), frameMessage(1, 0, new Uint8Array(3)));
        d[0] = v;
        w.toServer(d);
      }
    },
  },
  {
    name: "unknown packet type", at: "server", reason: "bad-type", count: 4,
    inject: (w) => {
      for (const t of [0, 7, 8, 15]) w.toServer(packet(t, w.sA!.id, 40));
    },
  },
  {
    name: "unknown connection id (random, right slot with a stale generation, zero)", at: "server", reason: "unknown-connection", count: 3,
    inject: (w) => {
      for (const id of [0xdeadbeef, (w.sA!.id ^ 0x10000) >>> 0, 0]) w.toServer(data(id, nextToServer(w), frameMessage(1, 0, new Uint8Array(2))));
    },
  },
  {
    name: "right connection id from a wrong address", at: "server", reason: "address-mismatch", count: 3,
    inject: (w) => {
      const d = data(w.sA!.id, nextToServer(w), frameMessage(1, 0, new Uint8Array(2)));
      for (const from of [B_ADDR, { host: A_ADDR.host, port: A_ADDR.port + 1 }, STRANGER_ADDR]) w.toServer(d, from);
    },
  },
  {
    name: "DATA with a truncated header (6..15 bytes)", at: "server", reason: "short", count: 10,
    inject: (w) => {
      const full = data(w.sA!.id, nextToServer(w));
      for (let n = 6; n < DATA_HEADER_SIZE; n++) w.toServer(full.slice(0, n));
    },
  },
  {
    name: "connect request below 64 bytes", at: "server", reason: "short", count: 1,
    inject: (w) => w.toServer(packet(PacketType.CONNECT_REQUEST, 77, 63), STRANGER_ADDR),
  },
  {
    name: "connect request to a client", at: "client", reason: "not-accepting", count: 1,
    inject: (w) => w.toA(packet(PacketType.CONNECT_REQUEST, 77, REQUEST_PADDED_SIZE)),
  },
  {
    name: "accept, challenge and deny to a connected client", at: "client", reason: "wrong-state", count: 3,
    inject: (w) => {
      for (const t of [PacketType.CONNECT_ACCEPT, PacketType.CONNECT_CHALLENGE, PacketType.CONNECT_DENY]) w.toA(packet(t, w.aPeer.id, 40));
    },
  },
  {
    name: "DISCONNECT without its reason byte", at: "server", reason: "malformed", count: 1,
    inject: (w) => w.toServer(packet(PacketType.DISCONNECT, w.sA!.id, DISCONNECT_SIZE - 1)),
  },
  {
    name: "4-byte, truncated and overlong frame lengths; unknown frame type; bytes after padding", at: "server", reason: "malformed", count: 5,
    inject: (w) => {
      const id = w.sA!.id;
      const seq = nextToServer(w);
      w.toServer(data(id, seq, Uint8Array.of(FrameType.MESSAGE, 1, 0, 0, 0x80, 0x80, 0x80, 0x01, 9)));
      w.toServer(data(id, seq, Uint8Array.of(FrameType.MESSAGE, 1, 0, 0, 0x80)));
      w.toServer(data(id, seq, Uint8Array.of(FrameType.MESSAGE, 1, 0, 0, 10, 1, 2)));
      w.toServer(data(id, seq, Uint8Array.of(0x7e, 1, 0, 0, 0)));
      w.toServer(data(id, seq, Uint8Array.of(FrameType.PADDING, 0, 0, 1)));
    },
  },
  {
    name: "channel id beyond the channels, tombstone on an unreliable channel", at: "server", reason: "bad-channel", count: 3,
    inject: (w) => {
      const id = w.sA!.id;
      const seq = nextToServer(w);
      w.toServer(data(id, seq, frameMessage(4, 0, new Uint8Array(1))));
      w.toServer(data(id, seq, frameFragment(255, 0, 0, 2, new Uint8Array(1))));
      w.toServer(data(id, seq, frameTombstone(1, 0)));
    },
  },
  {
    name: "fragment count below 2 and index not below count", at: "server", reason: "bad-fragment", count: 3,
    inject: (w) => {
      const id = w.sA!.id;
      const seq = nextToServer(w);
      w.toServer(data(id, seq, frameFragment(1, 9, 0, 1, new Uint8Array(4))));
      w.toServer(data(id, seq, frameFragment(1, 9, 0, 0, new Uint8Array(4))));
      w.toServer(data(id, seq, frameFragment(1, 9, 5, 5, new Uint8Array(4))));
    },
  },
  {
    name: "duplicate packet number", at: "server", reason: "duplicate", count: 1,
    inject: (w) => w.toServer(data(w.sA!.id, w.auditServer.largest, frameMessage(1, 0, new Uint8Array(1)))),
  },
  {
    name: "packet number a whole window old", at: "server", reason: "stale", count: 1,
    inject: (w) => w.toServer(data(w.sA!.id, (w.auditServer.largest - 1024) & 0xffff, frameMessage(1, 0, new Uint8Array(1)))),
  },
  {
    name: "reliable message beyond the receive window (frame dropped, packet kept)", at: "server", reason: "out-of-window", count: 2,
    inject: (w) => {
      const beyond = (w.aReliableSent + 1024) & 0xffff;
      w.toServer(data(w.sA!.id, nextToServer(w), frameMessage(0, beyond, new Uint8Array(1)), frameFragment(0, beyond, 0, 2, new Uint8Array(1))));
    },
  },
  {
    name: "fragment claiming more than maxMessageSize in total", at: "server", reason: "message-too-large", count: 1,
    inject: (w) => w.toServer(data(w.sA!.id, nextToServer(w), frameFragment(1, 500, 0, 0xffff, new Uint8Array(17)))),
  },
  {
    name: "two fragments of one message disagreeing on the count", at: "client", reason: "bad-fragment", count: 1,
    inject: (w) => {
      w.toA(data(w.aPeer.id, nextToA(w), frameFragment(3, 30_000, 0, 3, new Uint8Array(8)), frameFragment(3, 30_000, 1, 4, new Uint8Array(8))));
    },
  },
];

function dropsAt(w: World, at: "server" | "client"): Record<DropReason, number> {
  return (at === "server" ? w.server : w.a).stats().drops;
}

/**
 * The real connection works: A's and the server's next packet numbers may have been taken by an
 * accepted forged packet (plaintext cannot tell), so unreliable fillers go first until one gets
 * through each way; then reliable and fragmented reliable messages are delivered both ways.
 */
/** Unreliable fillers both ways until one gets through each way (see expectWorks). */
function passFillers(w: World): void {
  w.recordMessages = true;
  const filler = randomBytes(12, 99);
  const isFiller = (d: Uint8Array): boolean => d.length === 12 && d[0] === filler[0] && d[11] === filler[11];
  for (let i = 0; i < 600 && !(w.fromA.some(isFiller) && w.toAGot.some(isFiller)); i++) {
    w.sync();
    if (!w.fromA.some(isFiller)) w.a.send(w.aPeer, 1, filler);
    if (!w.toAGot.some(isFiller)) w.server.send(w.sA!, 1, filler);
    w.sim.runFor(5);
  }
  expect({ fillerFromA: w.fromA.some(isFiller), fillerToA: w.toAGot.some(isFiller) }).toEqual({ fillerFromA: true, fillerToA: true });
}

function expectWorks(w: World): void {
  passFillers(w);
  w.sync();
  const small = randomBytes(100, 1);
  const big = randomBytes(5000, 2);
  w.a.send(w.aPeer, 0, small);
  w.a.send(w.aPeer, 0, big);
  w.server.send(w.sA!, 2, small);
  w.server.send(w.sA!, 0, big);
  const has = (list: Uint8Array[], x: Uint8Array): boolean => list.some((d) => d.length === x.length && d.every((b, i) => b === x[i]));
  const ok = w.sim.runUntil(() => has(w.fromA, small) && has(w.fromA, big) && has(w.toAGot, small) && has(w.toAGot, big), { maxMs: 3000 });
  expect(ok).toBe(true);
  expect(w.aAlive).toBe(true);
  w.checkBystander();
}

describe("fuzz (c): targeted cases count the expected drop reason and leave the connection working", () => {
  test.each(TARGETED.map((t) => [t.name, t] as const))("%s", (_name, t) => {
    const w = new World({ seed: 11 });
    const before = dropsAt(w, t.at);
    const otherBefore = dropsAt(w, t.at === "server" ? "client" : "server");
    t.inject(w);
    const after = dropsAt(w, t.at);
    expect({ reason: t.reason, delta: after[t.reason] - before[t.reason] }).toEqual({ reason: t.reason, delta: t.count });
    // Nothing else was dropped by that endpoint, and the other side saw nothing.
    const total = (d: Record<DropReason, number>): number => Object.values(d).reduce((a, b) => a + b, 0);
    expect(total(after) - total(before)).toBe(t.count);
    expect(total(dropsAt(w, t.at === "server" ? "client" : "server"))).toBe(total(otherBefore));
    expectWorks(w);
  });

  test("fragment bomb: count 65535 for 78,000 distinct sequences stays under the memory cap, and is released", () => {
    const w = new World({ seed: 12 });
    const cap = memoryCap(w.server.cfg.receiveWindowBytes);
    const before = w.server.stats().drops;
    // 1-byte parts: 10 bytes on the wire, 81 bytes charged for a new reassembly. Channel 1 (unreliable)
    // takes all 65536 sequences, channel 3 (sequenced) the rest, all newer than anything delivered.
    const perDatagram = Math.floor((MAX_DATAGRAM - DATA_HEADER_SIZE) / 10);
    let key = 0;
    let datagrams = 0;
    while (key < 78_000) {
      const frames: Uint8Array[] = [];
      for (let i = 0; i < perDatagram && key < 78_000; i++, key++) {
        const ch = key < 65536 ? 1 : 3;
        const seq = key < 65536 ? key : (w.aReliableSent + 100 + key - 65536) & 0xffff;
        frames.push(frameFragment(ch, seq, key % 0xffff, 0xffff, Uint8Array.of(key & 0xff)));
      }
      w.toServer(data(w.sA!.id, nextToServer(w), ...frames));
      datagrams++;
      const mem = w.sA!.stats().reassemblyBytes;
      expect(mem).toBeLessThanOrEqual(cap);
    }
    expect(datagrams).toBe(12);
    const after = w.server.stats().drops;
    expect(after["reassembly-cap"] - before["reassembly-cap"]).toBeGreaterThan(10_000);
    expect(w.sA!.stats().reassemblyBytes).toBeGreaterThan(cap - 200);
    // Incomplete unreliable reassemblies expire after fragmentTimeoutMs.
    w.sim.runFor(w.server.cfg.fragmentTimeoutMs + 100);
    expect(w.sA!.stats().reassemblyBytes).toBeLessThan(20_000);
    expectWorks(w);
  });
});

describe("regressions", () => {
  test("forged fragments for a reliable sequence release their memory once that sequence is delivered", () => {
    const w = new World({ seed: 13 });
    w.settle();
    expect(w.sA!.stats().reassemblyBytes).toBe(0);
    const base = w.aReliableSent & 0xffff;
    const frames = Array.from({ length: 100 }, (_, i) => frameFragment(0, (base + i) & 0xffff, 1, 0xffff, Uint8Array.of(i)));
    w.toServer(data(w.sA!.id, nextToServer(w), ...frames));
    expect(w.sA!.stats().reassemblyBytes).toBeGreaterThan(100 * 64);
    passFillers(w);
    // A sends those 100 sequences for real, as single-frame messages.
    w.sync();
    for (let i = 0; i < 100; i++) w.a.send(w.aPeer, 0, Uint8Array.of(i));
    w.settle();
    expect(w.fromA.filter((d) => d.length === 1).map((d) => d[0])).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(w.sA!.stats().reassemblyBytes).toBe(0);
    expectWorks(w);
  });

  test("fragments that each pass the size checks cannot assemble a message above maxMessageSize", () => {
    const max = 10_000;
    const w = new World({ seed: 14, server: { maxMessageSize: max } });
    w.recordMessages = true;
    const before = w.server.stats().drops["message-too-large"];
    // 3 parts of 5000 bytes: 5000 * (3 - 1) <= max for each part, yet 15000 in total.
    const seq = w.aReliableSent & 0xffff;
    for (let i = 0; i < 3; i++) w.toServer(data(w.sA!.id, nextToServer(w), frameFragment(0, seq, i, 3, randomBytes(5000, i))));
    expect(w.fromA.filter((d) => d.length > max)).toEqual([]);
    expect(w.server.stats().drops["message-too-large"] - before).toBe(1);
    expect(w.sA!.stats().reassemblyBytes).toBe(0);
    expectWorks(w);
  });

  test("a DISCONNECT for a connection already closed locally is counted as wrong-state", () => {
    const w = new World({ seed: 15 });
    w.settle();
    w.a.disconnect(w.aPeer);
    expect(w.aPeer.state).toBe("disconnected");
    const before = w.a.stats().drops["wrong-state"];
    // Straight into the endpoint, before the driver flushes the DISCONNECT copies it queued.
    const d = packet(PacketType.DISCONNECT, w.aPeer.id, DISCONNECT_SIZE);
    d[DISCONNECT_SIZE - 1] = 1;
    w.a.handleDatagram(w.sim.now, SERVER_ADDR, d);
    expect(w.a.stats().drops["wrong-state"] - before).toBe(1);
  });
});

