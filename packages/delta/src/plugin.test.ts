import { describe, expect, test } from "bun:test";
import { Endpoint, ErrorCode, SeededRandom, type Peer, type PluginContext } from "@fastnet/core/protocol";
import { createPair, pluginContract, type Pair } from "@fastnet/core/testing";
import type { LinkConfig } from "@fastnet/core/sim";
import fc from "fast-check";
import { SnapshotWriter } from "./buffer.ts";
import { WordBuffer, encodeDelta, encodeFull } from "./codec.ts";
import { FixtureWorld } from "./fixture/world.ts";
import { DeltaPlugin, delta, type DeltaOptions, type SnapshotEvent } from "./plugin.ts";
import { KIND_RESYNC, RESYNC_HAVE } from "./wire.ts";

pluginContract(() => delta(), { name: "delta (core plugin contract, unreliable channel)" });
pluginContract(() => delta({ channel: 3, history: 16 }), { name: "delta (core plugin contract, sequenced channel)" });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

interface Streamed {
  pair: Pair;
  server: DeltaPlugin;
  client: DeltaPlugin;
  got: SnapshotEvent[];
  mismatches: number;
  outOfOrder: number;
}

interface StreamOptions {
  seed: number;
  link: LinkConfig;
  ticks: number;
  server?: DeltaOptions;
  client?: DeltaOptions;
  /** Snapshot bytes of tick t. Default: the standard fixture world, float layout. */
  snapshot?: (t: number) => Uint8Array;
  /** Called before tick t is sent. */
  before?: (t: number, s: Streamed) => void;
  /** App messages to send on the snapshot channel each tick. */
  appMessages?: boolean;
}

function fixtureSnapshots(seed: number): (t: number) => Uint8Array {
  const world = new FixtureWorld({ seed });
  const writer = new SnapshotWriter(4096);
  return () => {
    world.step();
    return world.writeSnapshot(writer, "float");
  };
}

/** Streams one snapshot per 16 ms from the server to the client through delta; checks each one the client gets. */
function stream(o: StreamOptions): Streamed {
  const server = delta(o.server);
  const client = delta(o.client);
  const pair = createPair({ seed: o.seed, link: o.link, server: { plugins: [server] }, client: { plugins: [client] } });
  const s: Streamed = { pair, server, client, got: [], mismatches: 0, outOfOrder: 0 };
  const sent = new Map<number, Uint8Array>();
  const snapshot = o.snapshot ?? fixtureSnapshots(o.seed);
  let last = -1;
  const drain = (): void => {
    for (let e = client.pollSnapshot(); e !== undefined; e = client.pollSnapshot()) {
      s.got.push(e);
      if (e.tick <= last) s.outOfOrder++;
      last = e.tick;
      const want = sent.get(e.tick);
      if (want === undefined || !equal(want, e.data)) s.mismatches++;
    }
  };
  for (let t = 0; t < o.ticks; t++) {
    o.before?.(t, s);
    const snap = snapshot(t);
    sent.set(t, snap.slice());
    if (pair.serverPeer.state === "connected") {
      server.sendSnapshot(pair.serverPeer, t, snap);
      if (o.appMessages) pair.server.send(pair.serverPeer, server.channel, new Uint8Array([t & 0xff, 0xab, t >> 8]));
    }
    pair.runFor(16);
    drain();
  }
  pair.runFor(400);
  drain();
  return s;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const HARSH: LinkConfig = { latencyMs: 20, jitterMs: 8, loss: 0.1, reorder: 0.1, reorderDelayMs: 40, duplicate: 0.05 };

describe("delta: configuration and API misuse", () => {
  test.each<[string, DeltaOptions]>([
    ["history not a power of two", { history: 24 }],
    ["history 1", { history: 1 }],
    ["history 512", { history: 512 }],
    ["a negative channel", { channel: -1 }],
    ["a fractional keyframeEvery", { keyframeEvery: 1.5 }],
    ["maxSnapshotBytes 0", { maxSnapshotBytes: 0 }],
    ["a NaN resyncIntervalMs", { resyncIntervalMs: NaN }],
    ["a non-boolean checksum", { checksum: 1 as unknown as boolean }],
    ["an empty name", { name: "" }],
    ["a non-function onSnapshot", { onSnapshot: 3 as unknown as DeltaOptions["onSnapshot"] }],
  ])("throws FASTNET_INVALID_CONFIG for %s", (_what, options) => {
    expect(codeOf(() => delta(options))).toBe(ErrorCode.INVALID_CONFIG);
  });

  test.each([
    ["a reliable channel", 0],
    ["a channel the endpoint does not have", 9],
  ])("registering on %s throws FASTNET_INVALID_CONFIG at endpoint construction", (_what, channel) => {
    expect(codeOf(() => new Endpoint({ random: new SeededRandom(1), insecurePlaintext: true, plugins: [delta({ channel })] }))).toBe(ErrorCode.INVALID_CONFIG);
  });

  test("sendSnapshot names the bad argument", () => {
    const lonely = delta();
    const fakePeer = { id: 1, state: "connected", slots: [] } as unknown as Peer;
    expect(codeOf(() => lonely.sendSnapshot(fakePeer, 1, new Uint8Array(4)))).toBe(ErrorCode.INVALID_CONFIG);
    const server = delta({ maxSnapshotBytes: 100 });
    const client = delta();
    const pair = createPair({ seed: 1, link: { latencyMs: 5 }, server: { plugins: [server] }, client: { plugins: [client] } });
    expect(codeOf(() => server.sendSnapshot(pair.serverPeer, -1, new Uint8Array(4)))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => server.sendSnapshot(pair.serverPeer, 2 ** 32, new Uint8Array(4)))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => server.sendSnapshot(pair.serverPeer, 1.5, new Uint8Array(4)))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => server.sendSnapshot(pair.serverPeer, 1, [1, 2] as unknown as Uint8Array))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => server.sendSnapshot(pair.serverPeer, 1, new Uint8Array(101)))).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect(codeOf(() => server.sendSnapshot(null as unknown as Peer, 1, new Uint8Array(4)))).toBe(ErrorCode.INVALID_ARGUMENT);
    pair.server.disconnect(pair.serverPeer);
    pair.runFor(200);
    expect(codeOf(() => server.sendSnapshot(pair.serverPeer, 1, new Uint8Array(4)))).toBe(ErrorCode.NOT_CONNECTED);
    // A failed send leaves the plugin usable (and never counted as sent).
    expect(server.stats().snapshotsSent).toBe(0);
  });
});

describe("delta: reconstruction on the simulator", () => {
  for (const seed of [1, 2, 3]) {
    test(`the client reconstructs every snapshot byte for byte under 10% loss, reordering and duplication (seed ${seed})`, () => {
      const s = stream({ seed, link: HARSH, ticks: 300 });
      const why = `seed ${seed}: ${JSON.stringify({ ...s.client.stats(), got: s.got.length })}`;
      expect(s.mismatches, why).toBe(0);
      expect(s.outOfOrder, why).toBe(0);
      // 10% loss, and reordered snapshots arriving after a newer one are kept as baselines, not delivered.
      expect(s.got.length, why).toBeGreaterThan(200);
      const st = s.server.stats();
      expect(st.deltasSent, why).toBeGreaterThan(st.fullSent * 10);
      expect(st.bytesSent, why).toBeLessThan(st.snapshotBytes * 0.2);
    });
  }

  test("duplicated datagrams are dropped as duplicates, not delivered twice", () => {
    const s = stream({ seed: 4, link: { latencyMs: 10, duplicate: 0.5 }, ticks: 120 });
    expect(s.mismatches).toBe(0);
    expect(s.outOfOrder).toBe(0);
    expect(s.got.length).toBe(120);
  });

  test("a burst of lost snapshots is bridged with deltas against the last acked baseline, never the last sent", () => {
    let fullBefore = -1;
    const s = stream({
      seed: 5,
      link: { latencyMs: 10 },
      ticks: 120,
      before: (t, st) => {
        if (t === 50) fullBefore = st.server.stats().fullSent;
        if (t === 50) st.pair.sim.setLink(st.pair.serverAddress, st.pair.clientAddress, { loss: 1 });
        if (t === 62) st.pair.sim.setLink(st.pair.serverAddress, st.pair.clientAddress, { loss: 0 });
      },
    });
    const server = s.server.stats();
    const client = s.client.stats();
    expect(s.mismatches).toBe(0);
    expect(client.drops["unknown-baseline"]).toBe(0);
    expect(client.resyncsSent).toBe(0);
    // The first snapshots are full until one is acked; after that, deltas only, through the outage too.
    expect(fullBefore).toBeGreaterThan(0);
    expect(server.fullSent).toBe(fullBefore);
    expect(server.lost).toBeGreaterThanOrEqual(10);
    // Every snapshot sent after the outage arrived.
    expect(s.got.at(-1)!.tick).toBe(119);
    expect(s.got.length).toBeGreaterThanOrEqual(120 - 14);
  });

  test("the sender falls back to full snapshots once the acked baseline is older than its history", () => {
    const s = stream({
      seed: 6,
      link: { latencyMs: 10 },
      ticks: 140,
      server: { history: 16 },
      client: { history: 16 },
      before: (t, st) => {
        if (t === 40) st.pair.sim.setLink(st.pair.serverAddress, st.pair.clientAddress, { loss: 1 });
        if (t === 80) st.pair.sim.setLink(st.pair.serverAddress, st.pair.clientAddress, { loss: 0 });
      },
    });
    expect(s.mismatches).toBe(0);
    expect(s.client.stats().drops["unknown-baseline"]).toBe(0);
    // 40 ticks of outage with 16 snapshots of history: the baseline aged out and full snapshots took over.
    expect(s.server.stats().fullSent).toBeGreaterThan(10);
    expect(s.got.at(-1)!.tick).toBe(139);
  });

  test("a delta against a baseline the receiver no longer has is detected, counted and recovered by a resync", () => {
    // The client keeps 4 snapshots, the server 64; at 100 ms RTT the newest acked baseline is ~7 snapshots back.
    const s = stream({ seed: 7, link: { latencyMs: 50 }, ticks: 120, server: { history: 64 }, client: { history: 4 } });
    const client = s.client.stats();
    const server = s.server.stats();
    expect(s.mismatches).toBe(0);
    expect(client.drops["unknown-baseline"]).toBeGreaterThan(0);
    expect(client.resyncsSent).toBeGreaterThan(0);
    expect(server.resyncsReceived).toBeGreaterThan(0);
    // After the resync the sender knows the client's history and stops sending deltas it cannot apply.
    expect(client.drops["unknown-baseline"]).toBeLessThan(20);
    expect(s.got.at(-1)!.tick).toBe(119);
    expect(s.got.length).toBeGreaterThan(90);
  });

  test("a receiver that lost its whole history asks for a resync and recovers with a full snapshot", () => {
    const s = stream({
      seed: 8,
      link: { latencyMs: 15 },
      ticks: 120,
      before: (t, st) => {
        // Drop the client's state for this peer, as if it had restarted its snapshot handling.
        if (t === 60) st.pair.clientPeer.slots[0] = undefined;
      },
    });
    const client = s.client.stats();
    expect(s.mismatches).toBe(0);
    expect(client.drops["unknown-baseline"]).toBeGreaterThan(0);
    expect(client.resyncsSent).toBeGreaterThan(0);
    expect(s.server.stats().fullSent).toBeGreaterThanOrEqual(2);
    expect(s.got.at(-1)!.tick).toBe(119);
  });

  for (const seed of [9, 10]) {
    test(`on the sequenced channel, snapshots acked but dropped as out of order are recovered (seed ${seed})`, () => {
      const s = stream({ seed, link: HARSH, ticks: 300, server: { channel: 3 }, client: { channel: 3 } });
      expect(s.mismatches).toBe(0);
      expect(s.outOfOrder).toBe(0);
      expect(s.got.length).toBeGreaterThan(200);
    });
  }

  test("snapshots that grow and shrink (entities joining and leaving) reconstruct exactly", () => {
    const rng = new SeededRandom(11);
    let state = new Uint8Array(200);
    const s = stream({
      seed: 11,
      link: { latencyMs: 15, loss: 0.05 },
      ticks: 200,
      snapshot: () => {
        const len = Math.max(0, state.length + rng.nextInt(41) - 20);
        const next = new Uint8Array(len);
        next.set(state.subarray(0, Math.min(len, state.length)));
        for (let i = 0; i < 8 && len > 0; i++) next[rng.nextInt(len)] = rng.nextInt(256);
        state = next;
        return state;
      },
    });
    expect(s.mismatches).toBe(0);
    expect(s.got.length).toBeGreaterThan(170);
  });

  test("application messages share the snapshot channel, untouched", () => {
    const s = stream({ seed: 12, link: { latencyMs: 10 }, ticks: 60, appMessages: true });
    const msgs = s.pair.messages("client", 1);
    expect(msgs.length).toBe(60);
    msgs.forEach((m, t) => expect(Array.from(m)).toEqual([t & 0xff, 0xab, t >> 8]));
    expect(s.got.length).toBe(60);
  });

  test("keyframeEvery forces a full snapshot at least every N", () => {
    const s = stream({ seed: 13, link: { latencyMs: 10 }, ticks: 100, server: { keyframeEvery: 10 } });
    const st = s.server.stats();
    expect(st.fullSent).toBeGreaterThanOrEqual(10);
    expect(st.keyframes).toBeGreaterThanOrEqual(9);
    expect(s.mismatches).toBe(0);
  });

  test("without checksums snapshots still reconstruct exactly", () => {
    const s = stream({ seed: 14, link: HARSH, ticks: 150, server: { checksum: false }, client: { checksum: false } });
    expect(s.mismatches).toBe(0);
    expect(s.got.length).toBeGreaterThan(110);
  });

  test("onSnapshot receives each snapshot instead of the poll queue", () => {
    const ticks: number[] = [];
    const server = delta();
    const client = delta({ onSnapshot: (_p, tick, snap) => ticks.push(tick + snap.length * 0) });
    const pair = createPair({ seed: 15, link: { latencyMs: 5 }, server: { plugins: [server] }, client: { plugins: [client] } });
    for (let t = 0; t < 10; t++) {
      server.sendSnapshot(pair.serverPeer, 1000 + t, new Uint8Array(64).fill(t));
      pair.runFor(16);
    }
    pair.runFor(100);
    expect(ticks).toEqual([1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009]);
    expect(client.pollSnapshot()).toBeUndefined();
  });

  test("a full poll queue drops the oldest snapshot and counts it", () => {
    const server = delta();
    const client = delta({ maxQueuedSnapshots: 4 });
    const pair = createPair({ seed: 16, link: { latencyMs: 5 }, server: { plugins: [server] }, client: { plugins: [client] } });
    for (let t = 0; t < 10; t++) {
      server.sendSnapshot(pair.serverPeer, t, new Uint8Array(32).fill(t));
      pair.runFor(16);
    }
    pair.runFor(100);
    expect(client.stats().queueOverflow).toBe(6);
    expect([client.pollSnapshot()?.tick, client.pollSnapshot()?.tick]).toEqual([6, 7]);
  });

  test("ticks wrap around 2^32 in deltas", () => {
    const server = delta();
    const client = delta();
    const pair = createPair({ seed: 17, link: { latencyMs: 10 }, server: { plugins: [server] }, client: { plugins: [client] } });
    const got: number[] = [];
    for (let i = 0; i < 8; i++) {
      server.sendSnapshot(pair.serverPeer, (0xfffffffc + i) % 2 ** 32, new Uint8Array(16).fill(i));
      pair.runFor(30);
      for (let e = client.pollSnapshot(); e !== undefined; e = client.pollSnapshot()) got.push(e.tick);
    }
    expect(got).toEqual([0xfffffffc, 0xfffffffd, 0xfffffffe, 0xffffffff, 0, 1, 2, 3]);
    expect(server.stats().deltasSent).toBeGreaterThan(3);
  });
});

// ---- Bad input, straight into the hooks ----

function fakeCtx(): { ctx: PluginContext; drops: string[]; sent: Uint8Array[] } {
  const drops: string[] = [];
  const sent: Uint8Array[] = [];
  const ctx: PluginContext = {
    slot: 0,
    now: 1000,
    random: new SeededRandom(1),
    mtu: 1200,
    channelKind: (ch) => (ch === 0 ? "reliable-ordered" : ch === 3 ? "sequenced" : "unreliable"),
    send: (_p, _c, data) => {
      sent.push(data.slice());
      return sent.length;
    },
    deliver: () => {},
    queueDatagram: () => {},
    sendDatagram: () => {},
    injectDatagram: () => {},
    countDrop: (r) => drops.push(r),
    disconnect: () => {},
  };
  return { ctx, drops, sent };
}

function fakePeer(): Peer {
  return {
    id: 1, address: { host: "10.0.0.2", port: 5000 }, state: "connected", rttMs: 20, sendBudget: 1e6,
    stats: () => ({}) as ReturnType<Peer["stats"]>, slots: [], userData: undefined,
  };
}

function full(seq: number, tick: number, bytes: number[], checksum = true): Uint8Array {
  const b = new WordBuffer(8);
  b.set(new Uint8Array(bytes));
  const out = new Uint8Array(bytes.length + 16);
  return out.slice(0, encodeFull(out, seq, tick, b, checksum));
}

function deltaMsg(seq: number, tick: number, dist: number, baseTick: number, base: number[], target: number[]): Uint8Array {
  const b = new WordBuffer(8);
  b.set(new Uint8Array(base));
  const t = new WordBuffer(8);
  t.set(new Uint8Array(target));
  const out = new Uint8Array(target.length * 6 + 64);
  return out.slice(0, encodeDelta(out, seq, tick, dist, baseTick, t, b, true, out.length - 16));
}

describe("delta: bad input is dropped and counted, never thrown", () => {
  const SNAP = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const cases: [string, (m: (d: Uint8Array) => void) => void, string][] = [
    ["an empty message", (m) => m(new Uint8Array(0)), "truncated"],
    ["an unknown kind", (m) => m(new Uint8Array([0x05, 1, 2, 3])), "corrupt"],
    ["reserved bits", (m) => m(new Uint8Array([0x41, 1, 2, 3])), "corrupt"],
    ["a truncated header", (m) => m(new Uint8Array([0x82, 1])), "truncated"],
    ["truncated field data (a delta cut in its runs)", (m) => {
      m(full(1, 10, SNAP));
      const d = deltaMsg(2, 11, 1, 10, SNAP, [1, 2, 3, 4, 5, 6, 7, 8, 9, 99]);
      m(d.subarray(0, d.length - 1));
    }, "truncated"],
    ["truncated field data (a full snapshot cut short)", (m) => m(full(1, 10, SNAP).subarray(0, 12)), "corrupt"],
    ["a flipped bit in the values", (m) => {
      m(full(1, 10, SNAP));
      const d = deltaMsg(2, 11, 1, 10, SNAP, [1, 2, 3, 4, 5, 6, 7, 8, 9, 99]);
      d[d.length - 1]! ^= 4;
      m(d);
    }, "corrupt"],
    ["a message without the checksum the receiver requires", (m) => m(full(1, 10, SNAP, false)), "corrupt"],
    ["an unknown baseline id", (m) => m(deltaMsg(9, 11, 3, 10, SNAP, SNAP)), "unknown-baseline"],
    ["a baseline distance beyond the history", (m) => {
      m(full(1, 10, SNAP));
      m(deltaMsg(201, 11, 200, 10, SNAP, SNAP));
    }, "unknown-baseline"],
    ["a duplicate", (m) => {
      m(full(1, 10, SNAP));
      m(full(1, 10, SNAP));
    }, "duplicate"],
    ["a snapshot older than the history", (m) => {
      m(full(100, 10, SNAP));
      m(full(40, 10, SNAP));
    }, "too-old"],
    ["a snapshot over maxSnapshotBytes", (m) => m(full(1, 10, new Array(300).fill(1))), "oversize"],
    ["a truncated resync request", (m) => m(new Uint8Array([KIND_RESYNC, RESYNC_HAVE, 0])), "truncated"],
    ["a resync request with unknown flags", (m) => m(new Uint8Array([KIND_RESYNC, 0x80, 0, 0, 3])), "corrupt"],
  ];

  test.each(cases)("%s", (_what, feed, reason) => {
    const plugin = delta({ maxSnapshotBytes: 256 });
    const { ctx, drops } = fakeCtx();
    plugin.init(ctx);
    const peer = fakePeer();
    const out: (Uint8Array | null)[] = [];
    expect(() => feed((d) => out.push(plugin.incomingMessage(peer, 1, d, ctx)))).not.toThrow();
    expect(out.every((o) => o === null)).toBe(true);
    const st = plugin.stats();
    expect(st.drops[reason as keyof typeof st.drops]).toBe(1);
    expect(drops.length).toBe(1);
  });

  test("an unknown baseline on the newest snapshot sends one resync request per interval", () => {
    const plugin = delta({ resyncIntervalMs: 100 });
    const { ctx, sent } = fakeCtx();
    plugin.init(ctx);
    const peer = fakePeer();
    plugin.incomingMessage(peer, 1, full(1, 10, SNAP), ctx);
    plugin.incomingMessage(peer, 1, deltaMsg(5, 14, 2, 12, SNAP, SNAP), ctx);
    plugin.incomingMessage(peer, 1, deltaMsg(6, 15, 2, 13, SNAP, SNAP), ctx);
    expect(sent.length).toBe(1);
    // kind, flags (holds one), newest held seq 1, history - 1.
    expect(Array.from(sent[0]!)).toEqual([KIND_RESYNC, RESYNC_HAVE, 1, 0, 31]);
    expect(plugin.stats().drops["unknown-baseline"]).toBe(2);
  });

  test("random messages on the snapshot channel never throw and never produce a snapshot", () => {
    const plugin = delta();
    const { ctx } = fakeCtx();
    plugin.init(ctx);
    const peer = fakePeer();
    plugin.incomingMessage(peer, 1, full(1, 10, SNAP), ctx);
    plugin.pollSnapshot();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (msg) => {
        if (msg[0] === 0) return; // an app message: passed through by design
        expect(plugin.incomingMessage(peer, 1, msg, ctx)).toBeNull();
      }),
      { seed: 18, numRuns: 3000 },
    );
    expect(plugin.pollSnapshot()).toBeUndefined();
  });

  test("messages on other channels pass untouched", () => {
    const plugin = delta();
    const { ctx } = fakeCtx();
    plugin.init(ctx);
    const data = new Uint8Array([0x82, 1, 2]);
    expect(plugin.incomingMessage(fakePeer(), 2, data, ctx)).toBe(data);
    expect(plugin.outgoingMessage(fakePeer(), 2, data)).toBe(data);
  });
});
