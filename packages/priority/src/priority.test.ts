import { describe, expect, test } from "bun:test";
import { Endpoint, ErrorCode, FastnetError, type Plugin, SeededRandom } from "@fastnet/core/protocol";
import { createPair, pluginContract } from "@fastnet/core/testing";
import { runSaturation, type Delivery } from "../bench/harness.ts";
import type { PriorityOptions } from "./options.ts";
import { priority, type PrioritySendOptions } from "./priority.ts";

const SEEDS = [1, 2, 3];

function eachSeed(body: (seed: number) => void): void {
  for (const seed of SEEDS) {
    try {
      body(seed);
    } catch (err) {
      throw new Error(`failing seed ${seed}: ${(err as Error).message}`, { cause: err });
    }
  }
}

function expectCode(fn: () => unknown, code: string, mention?: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FastnetError);
  expect((err as FastnetError).code).toBe(code as FastnetError["code"]);
  if (mention !== undefined) expect((err as FastnetError).message).toContain(mention);
}

/** Bytes delivered per offer index between `from` and `to` (virtual ms). */
function bytesBetween(deliveries: Delivery[], offers: number, from: number, to: number): number[] {
  const out = new Array<number>(offers).fill(0);
  for (const d of deliveries) if (d.at >= from && d.at < to) out[d.offer]! += d.bytes;
  return out;
}

pluginContract(() => priority());
pluginContract(() => priority({ channelClass: ["high", "low", "critical", "normal"], channelWeight: [2, 1, 1, 3] }), { name: "priority (per-channel classes and weights)" });

describe("priority: the scheduler slot", () => {
  test("filling the core's scheduler slot a second time throws FASTNET_SLOT_TAKEN", () => {
    const other: Plugin = { name: "other-scheduler", scheduler: { name: "fifo", pick: () => -1 } };
    expectCode(() => new Endpoint({ random: new SeededRandom(1), insecurePlaintext: true, plugins: [priority(), other] }), ErrorCode.SLOT_TAKEN, "scheduler");
    expectCode(() => new Endpoint({ random: new SeededRandom(1), insecurePlaintext: true, plugins: [other, priority()] }), ErrorCode.SLOT_TAKEN, "scheduler");
  });

  test("picks a channel a critical message was just released on first, then by weight; never one without data", () => {
    const p = priority({ channelClass: { 0: "high", 1: "low" } });
    new Endpoint({ random: new SeededRandom(1), insecurePlaintext: true, plugins: [p] });
    const peer = { slots: [undefined] } as never;
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 900; i++) counts[p.scheduler.pick(peer, [100, 100, 0, 0], 1e6)]!++;
    expect(counts[2]! + counts[3]!).toBe(0);
    expect(counts[0]! / counts[1]!).toBeCloseTo(8, 0);
    expect(p.scheduler.pick(peer, [0, 0, 0, 0], 1e6)).toBe(-1);
  });
});

describe("priority on a saturated link", () => {
  const CLASSES = [
    { priority: "high", channel: 0, perTick: 10, bytes: 200 },
    { priority: "normal", channel: 0, perTick: 10, bytes: 200 },
    { priority: "low", channel: 0, perTick: 10, bytes: 200 },
  ] as const;

  test("backlogged classes share the bandwidth in proportion to their weights (8:4:1) within 2 %", () => {
    eachSeed((seed) => {
      const r = runSaturation({ seed, ticks: 600, priority: { maxQueuedBytes: 64 << 20 }, offers: [...CLASSES] });
      const bytes = bytesBetween(r.deliveries, 3, 2000, r.end);
      const total = bytes.reduce((a, b) => a + b, 0);
      expect(total).toBeGreaterThan(500_000);
      [8, 4, 1].forEach((w, i) => expect(Math.abs(bytes[i]! / total - w / 13)).toBeLessThan(0.02));
    });
  });

  test("the shares hold second by second, not only on average", () => {
    const r = runSaturation({ seed: 4, ticks: 600, priority: { maxQueuedBytes: 64 << 20 }, offers: [...CLASSES] });
    for (let t = 2000; t + 1000 <= r.end; t += 1000) {
      const bytes = bytesBetween(r.deliveries, 3, t, t + 1000);
      const total = bytes.reduce((a, b) => a + b, 0);
      [8, 4, 1].forEach((w, i) => expect(Math.abs(bytes[i]! / total - w / 13)).toBeLessThan(0.05));
    }
  });

  test("channels share their class's budget by channel weight (3:1), and channel defaults apply to plain sends", () => {
    const r = runSaturation({
      seed: 5, ticks: 600,
      priority: { maxQueuedBytes: 64 << 20, channelClass: { 0: "high", 2: "high" }, channelWeight: { 0: 3, 2: 1 } },
      offers: [
        { priority: null, channel: 0, perTick: 10, bytes: 200 },
        { priority: null, channel: 2, perTick: 10, bytes: 200 },
        { priority: "low", channel: 0, perTick: 10, bytes: 200 },
      ],
    });
    const bytes = bytesBetween(r.deliveries, 3, 2000, r.end);
    const total = bytes.reduce((a, b) => a + b, 0);
    // Class high (weight 8) is split 3:1 between channels 0 and 2 (their default class); low (weight 1) is explicit.
    expect(bytes[0]! / total).toBeCloseTo((8 / 9) * 0.75, 1);
    expect(bytes[1]! / total).toBeCloseTo((8 / 9) * 0.25, 1);
    expect(bytes[2]! / total).toBeCloseTo(1 / 9, 1);
  });

  test("critical latency stays bounded under saturation, where without priority it grows without bound", () => {
    // On the same reliable-ordered channel as the bulk traffic.
    const critical = { priority: "critical", channel: 0, perTick: 0.1, bytes: 100 } as const;
    eachSeed((seed) => {
      const r = runSaturation({ seed, ticks: 900, priority: { maxQueuedBytes: 64 << 20 }, offers: [...CLASSES, critical] });
      const lat = r.deliveries.filter((d) => d.offer === 3).map((d) => d.at - d.sentAt);
      expect(lat.length).toBe(r.sent[3]!);
      // The link's own queue holds 200 ms (20 KB at 100 KB/s), 20 ms each way, and an earlier message of
      // the channel lost in that queue holds delivery back by a retransmission.
      expect(Math.max(...lat)).toBeLessThan(800);
      const late = lat.slice(-30);
      expect(late.reduce((a, b) => a + b, 0) / late.length).toBeLessThan(400);
    });
    const without = runSaturation({
      seed: 1, ticks: 900, priority: null,
      offers: [{ priority: null, channel: 0, perTick: 30, bytes: 200 }, { priority: null, channel: 0, perTick: 0.1, bytes: 100 }],
    });
    const lat = without.deliveries.filter((d) => d.offer === 1).map((d) => d.at - d.sentAt);
    expect(Math.max(...lat)).toBeGreaterThan(3000);
  });

  test("no starvation: the lowest class keeps a steady share behind a heavier class, second by second", () => {
    const r = runSaturation({
      seed: 6, ticks: 600, priority: { maxQueuedBytes: 64 << 20 },
      offers: [{ priority: "high", channel: 0, perTick: 40, bytes: 200 }, { priority: "low", channel: 0, perTick: 2, bytes: 200 }],
    });
    for (let t = 1000; t + 1000 <= r.end; t += 1000) expect(bytesBetween(r.deliveries, 2, t, t + 1000)[1]).toBeGreaterThan(5000);
  });

  test("no starvation behind critical traffic that fills the whole budget: weighted messages still get out", () => {
    const r = runSaturation({
      seed: 7, ticks: 600, priority: { maxQueuedBytes: 64 << 20, starvationMs: 500 },
      offers: [{ priority: "critical", channel: 0, perTick: 20, bytes: 400 }, { priority: "low", channel: 2, perTick: 0.5, bytes: 100 }],
    });
    const low = r.deliveries.filter((d) => d.offer === 1);
    expect(low.length).toBeGreaterThan(40);
    expect(r.plugin!.stats(r.clientPeer)!.promoted).toBeGreaterThan(0);
    // Once the first ones went, they keep going: no gap longer than a couple of seconds.
    for (let i = 1; i < low.length; i++) expect(low[i]!.at - low[i - 1]!.at).toBeLessThan(2000);
  });

  test("a newer message with the same key replaces the queued one: the queue stays small and the newest state arrives", () => {
    eachSeed((seed) => {
      const entities = 40;
      const r = runSaturation({
        seed, ticks: 500,
        offers: [
          { priority: "normal", channel: 1, perTick: entities, bytes: 150, keys: entities },
          { priority: "high", channel: 0, perTick: 10, bytes: 200 },
        ],
        priority: { maxQueuedBytes: 64 << 20 },
      });
      const st = r.plugin!.stats(r.clientPeer)!;
      expect(st.superseded).toBeGreaterThan(5000);
      expect(st.byClass.normal!.queuedMessages).toBeLessThanOrEqual(entities);
      // Updates of one entity arrive in order (each newer than the last), never an old one after a new one.
      const perKey = new Map<number, number>();
      for (const d of r.deliveries.filter((x) => x.offer === 0)) {
        const key = Math.round(d.sentAt) % entities;
        expect(d.sentAt).toBeGreaterThanOrEqual(perKey.get(key) ?? -1);
        perKey.set(key, d.sentAt);
      }
    });
  });
});

describe("priority: sending", () => {
  function pair(options?: PriorityOptions): ReturnType<typeof createPair> & { prio: ReturnType<typeof priority> } {
    const prio = priority(options);
    const p = createPair({ seed: 9, link: { latencyMs: 10 }, server: {}, client: { plugins: [prio] } });
    return Object.assign(p, { prio });
  }

  test("an older version of a keyed message is dropped: send returns 0", () => {
    const p = pair();
    const a = p.prio.send(p.client, p.clientPeer, 1, Uint8Array.of(2), { key: "door", version: 2 });
    expect(a).toBeGreaterThan(0);
    expect(p.prio.send(p.client, p.clientPeer, 1, Uint8Array.of(1), { key: "door", version: 1 })).toBe(0);
    expect(p.prio.send(p.client, p.clientPeer, 1, Uint8Array.of(3), { key: "door", version: 3 })).toBe(a);
    p.runFor(100);
    expect(p.messages("server", 1).map((m) => m[0])).toEqual([3]);
    expect(p.prio.stats(p.clientPeer)).toMatchObject({ superseded: 1, stale: 1 });
  });

  test("a keyed message sent with a higher priority replaces the queued one and moves up", () => {
    const p = pair();
    p.prio.send(p.client, p.clientPeer, 1, Uint8Array.of(1), { key: 7, priority: "low" });
    p.prio.send(p.client, p.clientPeer, 1, Uint8Array.of(2), { key: 7, priority: "critical" });
    expect(p.prio.stats(p.clientPeer)!.byClass).toMatchObject({ low: { queuedMessages: 0 }, critical: { queuedMessages: 1 } });
    p.runFor(100);
    expect(p.messages("server", 1).map((m) => m[0])).toEqual([2]);
  });

  test("messages of one class keep their order on a reliable-ordered channel; a higher class overtakes", () => {
    const p = pair();
    for (let i = 0; i < 5; i++) p.prio.send(p.client, p.clientPeer, 0, Uint8Array.of(i), { priority: "low" });
    p.prio.send(p.client, p.clientPeer, 0, Uint8Array.of(99), { priority: "critical" });
    p.runFor(200);
    expect(p.messages("server", 0).map((m) => m[0])).toEqual([99, 0, 1, 2, 3, 4]);
  });

  test("everything arrives exactly once and in class order under loss, reordering and duplication", () => {
    eachSeed((seed) => {
      const prio = priority();
      const p = createPair({ seed, link: { latencyMs: 15, jitterMs: 3, loss: 0.1, reorder: 0.1, reorderDelayMs: 20, duplicate: 0.05 }, client: { plugins: [prio] } });
      const classes = ["critical", "high", "normal", "low"] as const;
      for (let i = 0; i < 400; i++) {
        const m = Uint8Array.of(i % 4, i >> 8, i & 0xff);
        prio.send(p.client, p.clientPeer, 0, m, { priority: classes[i % 4] });
        if (i % 8 === 0) p.runFor(16);
      }
      expect(p.runUntil(() => p.messages("server", 0).length === 400, 20_000)).toBe(true);
      p.runFor(300);
      const got = p.messages("server", 0);
      expect(got.length).toBe(400);
      for (let c = 0; c < 4; c++) {
        const idx = got.filter((m) => m[0] === c).map((m) => (m[1]! << 8) | m[2]!);
        expect(idx).toEqual([...idx].sort((a, b) => a - b));
        expect(new Set(idx).size).toBe(100);
      }
    });
  });

  test("unreliable messages held past unreliableTtlMs are dropped and counted", () => {
    const r = runSaturation({
      seed: 8, ticks: 200, priority: { unreliableTtlMs: 100 },
      offers: [{ priority: "normal", channel: 1, perTick: 30, bytes: 300 }],
    });
    expect(r.plugin!.stats(r.clientPeer)!.expired).toBeGreaterThan(100);
    for (const d of r.deliveries) expect(d.at - d.sentAt).toBeLessThan(100 + 400);
  });

  test("channels it does not manage go straight to the core", () => {
    const p = pair({ channels: [0] });
    const id = p.prio.send(p.client, p.clientPeer, 1, Uint8Array.of(1), { priority: "low" });
    expect(id).toBeGreaterThan(0);
    expect(p.prio.stats(p.clientPeer)).toBeUndefined();
    expect(p.runUntil(() => p.messages("server", 1).length === 1, 500)).toBe(true);
  });

  test("flush releases at once, without waiting for the tick", () => {
    const p = pair();
    p.prio.send(p.client, p.clientPeer, 0, Uint8Array.of(1));
    expect(p.prio.stats(p.clientPeer)!.queuedMessages).toBe(1);
    p.prio.flush(p.clientPeer);
    expect(p.prio.stats(p.clientPeer)!.queuedMessages).toBe(0);
    expect(p.clientPeer.stats().queuedBytes).toBe(1);
  });

  test("flush({ all: true }) before a graceful disconnect delivers everything held, whatever the budget", () => {
    const p = pair();
    for (let i = 0; i < 300; i++) p.client.send(p.clientPeer, 0, new Uint8Array(1000).fill(i & 0xff));
    p.prio.flush(p.clientPeer, { all: true });
    expect(p.prio.stats(p.clientPeer)!.queuedMessages).toBe(0);
    p.client.disconnect(p.clientPeer);
    p.runFor(3000);
    expect(p.messages("server", 0).length).toBe(300);
    expect(p.disconnects("server")[0]?.reason).toBe("closed-by-peer");
  });

  test("more than maxQueuedBytes held for a peer throws FASTNET_WINDOW_FULL", () => {
    const p = pair({ maxQueuedBytes: 10_000 });
    for (let i = 0; i < 9; i++) p.client.send(p.clientPeer, 0, new Uint8Array(1000));
    expectCode(() => p.client.send(p.clientPeer, 0, new Uint8Array(2000)), ErrorCode.WINDOW_FULL, "maxQueuedBytes");
  });

  test("a message the core refuses at release (over its maxMessageSize) is dropped and counted", () => {
    const prio = priority();
    const p = createPair({ seed: 10, link: { latencyMs: 5 }, server: { maxMessageSize: 1000 }, client: { plugins: [prio], maxMessageSize: 1000 } });
    p.client.send(p.clientPeer, 0, new Uint8Array(5000));
    p.client.send(p.clientPeer, 0, new Uint8Array(10));
    p.runFor(100);
    expect(prio.stats(p.clientPeer)!.rejected).toBe(1);
    expect(p.messages("server", 0).length).toBe(1);
  });

  test.each<[string, PrioritySendOptions, number, string]>([
    ["an unknown class", { priority: "urgent" }, 0, "options.priority"],
    ["a key on a reliable channel", { key: "x" }, 0, "options.key"],
    ["a key that is an object", { key: {} as unknown as string }, 1, "options.key"],
    ["a NaN version", { key: 1, version: Number.NaN }, 1, "options.version"],
    ["a negative expiry", { expiresInMs: -1 }, 1, "options.expiresInMs"],
  ])("send with %s throws FASTNET_INVALID_ARGUMENT naming it", (_what, options, channel, name) => {
    const p = pair();
    expectCode(() => p.prio.send(p.client, p.clientPeer, channel, Uint8Array.of(1), options), ErrorCode.INVALID_ARGUMENT, name);
  });
});

describe("priority options", () => {
  test.each<[string, unknown, string]>([
    ["an unknown option", { starvation: 5 }, "starvation"],
    ["no classes", { classes: [] }, "classes"],
    ["a class without a name", { classes: [{ weight: 1 }] }, "classes[0].name"],
    ["two classes with one name", { classes: [{ name: "a" }, { name: "a" }] }, "classes[1].name"],
    ["a zero weight", { classes: [{ name: "a", weight: 0 }] }, "classes[0].weight"],
    ["an infinite weight", { classes: [{ name: "a", weight: Infinity }] }, "classes[0].weight"],
    ["a strict class after a weighted one", { classes: [{ name: "a" }, { name: "b", strict: true }] }, "classes"],
    ["a default class that does not exist", { defaultClass: "urgent" }, "defaultClass"],
    ["a channel class that does not exist", { channelClass: { 1: "urgent" } }, "channelClass[1]"],
    ["a channel index of 300", { channelClass: { 300: "high" } }, "channelClass[300]"],
    ["a negative channel weight", { channelWeight: [1, -2] }, "channelWeight[1]"],
    ["managed channels that are not indexes", { channels: [0, 1.5] }, "channels"],
    ["a zero starvation delay", { starvationMs: 0 }, "starvationMs"],
    ["a NaN queue limit", { maxQueuedBytes: Number.NaN }, "maxQueuedBytes"],
  ])("%s throws FASTNET_INVALID_CONFIG naming the option", (_what, options, name) => {
    expectCode(() => priority(options as PriorityOptions), ErrorCode.INVALID_CONFIG, `'${name}'`);
  });

  test("managing a channel the endpoint does not have is refused at registration", () => {
    expectCode(() => new Endpoint({ random: new SeededRandom(1), insecurePlaintext: true, plugins: [priority({ channels: [7] })] }), ErrorCode.INVALID_CONFIG, "channels");
  });

  test("custom classes: names, weights and strictness", () => {
    const p = priority({ classes: [{ name: "urgent", strict: true }, { name: "bulk", weight: 3 }, { name: "background" }], defaultClass: "bulk" });
    expect(p.options.classes).toEqual([
      { name: "urgent", weight: 1, strict: true },
      { name: "bulk", weight: 3, strict: false },
      { name: "background", weight: 1, strict: false },
    ]);
    expect(p.options.channelClass[0]).toBe(1);
  });
});
