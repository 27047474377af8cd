/**
 * FEC on the deterministic simulator: the plugin contract, repair figures,
 * acknowledgement of repaired datagrams, adaptation, authentication under a
 * keyed-MAC plugin that stands in for crypto, and bad input over the wire.
 */
import { describe, expect, test } from "bun:test";
import { type Peer, type Plugin } from "@fastnet/core/protocol";
import { createPair, pluginContract } from "@fastnet/core/testing";
import { macPlugin, runStream } from "../bench/harness.ts";
import { fec, type FecPlugin } from "./fec.ts";
import type { FecOptions } from "./options.ts";
import { KIND_DATA, KIND_PARITY, PARITY_TRAILER, tagOf, writeU16 } from "./wire.ts";

const SEEDS = [1, 2, 3];

/** Runs `body` for each seed, naming the seed when it fails. */
function eachSeed(body: (seed: number) => void): void {
  for (const seed of SEEDS) {
    try {
      body(seed);
    } catch (err) {
      throw new Error(`failing seed ${seed}: ${(err as Error).message}`, { cause: err });
    }
  }
}

pluginContract(() => fec());
pluginContract(() => fec({ adaptive: false }), { name: "fec (xor, fixed groups of 4)" });
pluginContract(() => fec({ mode: "reed-solomon", adaptive: false, groupSize: 6, parityShards: 3 }), { name: "fec (reed-solomon 6+3)" });
pluginContract(() => fec({ adaptive: false, maxGroupDelayMs: 20 }), { name: "fec (groups wait 20 ms)" });
pluginContract(() => fec({ adaptive: false }), {
  name: "fec under a keyed-MAC plugin standing in for crypto",
  stack: (p) => [p, macPlugin(0x1234abcd)],
  secure: true,
});

/** 4 datagrams per 33 ms tick, 15 ms one way: groups of 4 fill within a tick. */
const SNAPSHOTS = { messagesPerTick: 4, messageBytes: 1000, tickMs: 33, latencyMs: 15, ticks: 600 } as const;

describe("fec on the simulator", () => {
  test("xor groups of 4 repair at least 90 % of isolated losses at 5 % random loss, and everything arrives in order", () => {
    eachSeed((seed) => {
      const r = runStream({ seed, loss: { kind: "random", p: 0.05 }, fec: { adaptive: false, groupSize: 4 }, ...SNAPSHOTS });
      expect(r.isolatedLost).toBeGreaterThan(30);
      expect(r.isolatedRecovered / r.isolatedLost).toBeGreaterThanOrEqual(0.9);
      // Of all losses, those whose group lost nothing else: about 0.95^4 of them.
      expect(r.recovered / r.dataLost).toBeGreaterThan(0.7);
      expect(r.delivered).toBe(r.messages);
      expect(r.misordered).toBe(0);
    });
  });

  test("a repaired datagram is acknowledged, so the sender never resends it", () => {
    eachSeed((seed) => {
      let target = -1;
      const r = runStream({
        seed,
        // Lose one data datagram of a full group, well after the start.
        loss: { kind: "pick", pick: (d, n) => n > 100 + seed && target < 0 && d.kind === KIND_DATA && d.index === seed % 4 && (target = n) >= 0 },
        fec: { adaptive: false },
        ...SNAPSHOTS,
        ticks: 100,
      });
      expect(target).toBeGreaterThan(0);
      expect(r.dataLost).toBe(1);
      expect(r.recovered).toBe(1);
      expect(r.retransmits).toBe(0);
      expect(r.delivered).toBe(r.messages);
      expect(r.misordered).toBe(0);
    });
  });

  test("without FEC the same loss is resent, and delivery waits for it", () => {
    const r = runStream({ seed: 1, loss: { kind: "pick", pick: (_d, n) => n === 150 }, fec: null, ...SNAPSHOTS, ticks: 100 });
    expect(r.retransmits).toBe(1);
    expect(r.max).toBeGreaterThan(2 * SNAPSHOTS.latencyMs);
    const withFec = runStream({ seed: 1, loss: { kind: "pick", pick: (d, n) => n >= 150 && d.kind === KIND_DATA && n < 151 }, fec: { adaptive: false }, ...SNAPSHOTS, ticks: 100 });
    expect(withFec.max).toBeLessThanOrEqual(SNAPSHOTS.latencyMs + 1);
  });

  test("reed-solomon 4+2 repairs more of a bursty link's losses than xor groups of 4", () => {
    const burst = { kind: "burst", pGoodToBad: 0.01, pBadToGood: 0.4, lossInBad: 0.7 } as const;
    let xor = 0;
    let rs = 0;
    let lost = 0;
    eachSeed((seed) => {
      const a = runStream({ seed, loss: burst, fec: { adaptive: false, groupSize: 4 }, ...SNAPSHOTS });
      const b = runStream({ seed, loss: burst, fec: { mode: "reed-solomon", adaptive: false, groupSize: 4, parityShards: 2 }, ...SNAPSHOTS });
      expect(b.delivered).toBe(b.messages);
      expect(b.misordered).toBe(0);
      xor += a.recovered / a.dataLost;
      rs += b.recovered / b.dataLost;
      lost += b.dataLost;
    });
    expect(lost).toBeGreaterThan(50);
    expect(rs).toBeGreaterThan(xor * 1.3);
  });

  test("reliable messages arrive exactly once and in order under loss, reordering and duplication in both directions", () => {
    eachSeed((seed) => {
      const make = (): { plugins: Plugin[] } => ({ plugins: [fec({ adaptive: false })] });
      const server = make();
      const pair = createPair({ seed, link: { latencyMs: 20, jitterMs: 3, loss: 0.1, reorder: 0.1, reorderDelayMs: 25, duplicate: 0.05 }, server, client: make() });
      const count = 300;
      for (let i = 0; i < count; i++) {
        const m = new Uint8Array(200 + (i % 7) * 150).fill(i & 0xff);
        m[0] = i >> 8;
        m[1] = i & 0xff;
        pair.client.send(pair.clientPeer, 0, m);
        if (i % 3 === 0) pair.server.send(pair.serverPeer, 0, m);
        pair.runFor(8);
      }
      expect(pair.runUntil(() => pair.messages("server", 0).length >= count, 20_000)).toBe(true);
      pair.runFor(500);
      const got = pair.messages("server", 0).map((m) => (m[0]! << 8) | m[1]!);
      expect(got).toEqual([...Array(count).keys()]);
      expect(pair.messages("client", 0).length).toBe(count / 3);
      expect((server.plugins[0] as FecPlugin).stats().recovered).toBeGreaterThan(10);
    });
  });

  test("adaptive FEC sends no parity on a clean link, and adds it when loss appears", () => {
    const client = fec();
    const pair = createPair({ seed: 4, link: { latencyMs: 15 }, server: { plugins: [fec()] }, client: { plugins: [client] } });
    const tick = (n: number): void => {
      for (let t = 0; t < n; t++) {
        for (let i = 0; i < 4; i++) pair.client.send(pair.clientPeer, 1, new Uint8Array(900).fill(i));
        pair.runFor(33);
      }
    };
    tick(90); // ~3 s: the server's first loss reports arrive
    expect(client.peerInfo(pair.clientPeer)).toMatchObject({ groupSize: 0, remoteLoss: 0 });
    const before = client.stats().parityDatagramsSent;
    tick(60);
    expect(client.stats().parityDatagramsSent).toBe(before);
    pair.sim.setLink(pair.clientAddress, pair.serverAddress, { loss: 0.05 });
    tick(300);
    const info = client.peerInfo(pair.clientPeer)!;
    expect(info.remoteLoss).toBeGreaterThan(0.02);
    expect(info.groupSize).toBeGreaterThanOrEqual(2);
    expect(info.groupSize).toBeLessThanOrEqual(10);
    expect(client.stats().parityDatagramsSent).toBeGreaterThan(before + 100);
  });
});

describe("fec under authentication (a keyed-MAC plugin standing in for crypto, registered after FEC)", () => {
  const KEY = 0x5eed;

  function securePair(seed: number, options?: FecOptions): { pair: ReturnType<typeof createPair>; server: FecPlugin; client: FecPlugin } {
    const server = fec(options);
    const client = fec(options);
    const pair = createPair({
      seed, link: { latencyMs: 10 }, capture: true,
      server: { plugins: [server, macPlugin(KEY)] },
      client: { plugins: [client, macPlugin(KEY)] },
    });
    return { pair, server, client };
  }

  test("parity datagrams are sealed by the plugin after FEC, like every other datagram", () => {
    const { pair, client } = securePair(1, { adaptive: false });
    for (let i = 0; i < 20; i++) pair.client.send(pair.clientPeer, 0, new Uint8Array(500).fill(i));
    pair.runFor(200);
    expect(client.stats().parityDatagramsSent).toBeGreaterThan(0);
    const verifier = macPlugin(KEY);
    const fromClient = pair.captured.filter((c) => c.from === "client");
    let parity = 0;
    for (const c of fromClient) {
      const opened = verifier.openDatagram!(c.bytes.slice(), undefined, pair.clientAddress, undefined as never);
      expect(opened).not.toBeNull();
      if (opened![opened!.length - 1]! >>> 6 === KIND_PARITY) parity++;
    }
    expect(parity).toBe(client.stats().parityDatagramsSent);
  });

  test("a forged or altered parity datagram fails authentication before FEC sees it and never yields a payload", () => {
    const { pair, server, client } = securePair(2, { adaptive: false });
    for (let i = 0; i < 8; i++) pair.client.send(pair.clientPeer, 0, new Uint8Array(500).fill(i));
    pair.runFor(200);
    const parityWire = pair.captured.filter((c) => c.from === "client").map((c) => c.bytes).filter((b) => b[b.length - 5]! >>> 6 === KIND_PARITY);
    expect(parityWire.length).toBeGreaterThan(0);
    const delivered = pair.messages("server", 0).length;
    const dropsBefore = pair.server.stats().drops.plugin;
    let forged = 0;
    for (const real of parityWire) {
      // Altered shard bytes under the original tag; a fresh parity for a future group with a made-up tag.
      for (const at of [6, 7, 8, 30, real.length - 10]) {
        if (at >= real.length) continue;
        const b = real.slice();
        b[at]! ^= 0x5a;
        pair.sim.inject(pair.clientAddress, pair.serverAddress, b);
        forged++;
      }
      const fresh = real.slice();
      writeU16(fresh, fresh.length - 4 - 4 - 2 - 2, 0x7777);
      fresh[fresh.length - 5] = tagOf(KIND_PARITY, 0);
      pair.sim.inject(pair.clientAddress, pair.serverAddress, fresh);
      forged++;
    }
    pair.runFor(100);
    expect(pair.server.stats().drops.plugin - dropsBefore).toBe(forged);
    // FEC saw exactly the genuine parity datagrams (the link loses nothing), none of the forged ones.
    expect(server.stats().parityReceived).toBe(client.stats().parityDatagramsSent);
    expect(server.stats().recovered).toBe(0);
    expect(pair.messages("server", 0).length).toBe(delivered);
    // And the real traffic still flows.
    pair.client.send(pair.clientPeer, 0, new Uint8Array(10).fill(9));
    expect(pair.runUntil(() => pair.messages("server", 0).length === delivered + 1, 2000)).toBe(true);
  });

  test("repair works through the MAC: lost datagrams are rebuilt from authenticated parity", () => {
    const server = fec({ adaptive: false });
    const pair = createPair({
      seed: 3, link: { latencyMs: 10, loss: 0.08 },
      server: { plugins: [server, macPlugin(KEY)] },
      client: { plugins: [fec({ adaptive: false }), macPlugin(KEY)] },
    });
    for (let i = 0; i < 200; i++) {
      for (let j = 0; j < 4; j++) pair.client.send(pair.clientPeer, 0, new Uint8Array(800).fill(i));
      pair.runFor(20);
    }
    expect(pair.runUntil(() => pair.messages("server", 0).length === 800, 10_000)).toBe(true);
    expect(server.stats().recovered).toBeGreaterThan(20);
    expect(server.stats().drops.badCheck).toBe(0);
  });
});

describe("fec: bad input over the wire is dropped and counted, never thrown", () => {
  test("malformed datagrams, parity for unknown groups and absurd group sizes from the peer's address", () => {
    const server = fec({ adaptive: false });
    const pair = createPair({ seed: 5, link: { latencyMs: 5 }, capture: true, server: { plugins: [server] }, client: { plugins: [fec({ adaptive: false })] } });
    for (let i = 0; i < 8; i++) pair.client.send(pair.clientPeer, 0, new Uint8Array(300).fill(i));
    pair.runFor(100);
    const fromClient = pair.captured.filter((c) => c.from === "client").map((c) => c.bytes);
    const parity = fromClient.find((b) => b[b.length - 1]! >>> 6 === KIND_PARITY)!;
    const data = fromClient.find((b) => b[b.length - 1]! >>> 6 === KIND_DATA)!;
    const n = parity.length;
    const craft = (base: Uint8Array, edits: [number, number][]): Uint8Array => {
      const b = base.slice();
      for (const [at, v] of edits) b[at < 0 ? b.length + at : at] = v;
      return b;
    };
    const cases: [string, Uint8Array, string][] = [
      ["parity for a group far behind", craft(parity, [[n - 4, 0x80], [n - 3, 0]]), "unknownGroup"],
      ["parity with k = 0", craft(parity, [[n - 6, 0]]), "badGroupSize"],
      ["parity with k = 200", craft(parity, [[n - 6, 200]]), "badGroupSize"],
      ["parity with m = 99", craft(parity, [[n - 5, 99]]), "badGroupSize"],
      ["data with index 63", craft(data, [[-1, tagOf(KIND_DATA, 63)]]), "badGroupSize"],
      ["a reserved tag", craft(data, [[-1, 0xc1]]), "malformed"],
      ["a header and nothing else", parity.slice(0, 7), "short"],
      ["a parity datagram cut inside its trailer", Uint8Array.from([...parity.slice(0, 6), ...parity.slice(n - PARITY_TRAILER + 2)]), "short"],
    ];
    for (const [what, bytes, reason] of cases) {
      const before = { ...server.stats().drops } as Record<string, number>;
      const plugin = pair.server.stats().drops.plugin;
      expect(() => pair.server.handleDatagram(pair.sim.now, pair.clientAddress, bytes)).not.toThrow();
      const after = server.stats().drops as Record<string, number>;
      expect({ what, counted: after[reason]! - before[reason]! }).toEqual({ what, counted: 1 });
      expect(pair.server.stats().drops.plugin).toBe(plugin + 1);
    }
    pair.client.send(pair.clientPeer, 0, new Uint8Array(50).fill(1));
    const had = pair.messages("server", 0).length;
    expect(pair.runUntil(() => pair.messages("server", 0).length === had + 1, 2000)).toBe(true);
    expect(pair.disconnects("server").length).toBe(0);
  });
});

test("peerInfo is undefined for a peer FEC never saw, and state is dropped at disconnect", () => {
  const client = fec();
  const pair = createPair({ seed: 6, link: { latencyMs: 5 }, server: { plugins: [fec()] }, client: { plugins: [client] } });
  pair.client.send(pair.clientPeer, 0, new Uint8Array(100));
  pair.runFor(50);
  expect(client.peerInfo(pair.clientPeer)).toBeDefined();
  const stranger = { slots: [] as unknown[] } as unknown as Peer;
  expect(client.peerInfo(stranger)).toBeUndefined();
  pair.client.disconnect(pair.clientPeer);
  pair.runFor(1500);
  expect(client.peerInfo(pair.clientPeer)).toBeUndefined();
});
