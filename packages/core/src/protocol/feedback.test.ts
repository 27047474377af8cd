/**
 * Loss detection that adapts to reordering (RFC 9002 §6.1), delivery
 * feedback for unreliable fragmented messages, and plugin-context details
 * (CONSUMED datagrams, ctx.send with `now`, the driver's onOutput hook).
 * Scenarios on the simulator.
 */
import { describe, expect, test } from "bun:test";
import { createPair } from "../testing/index.ts";
import { CONSUMED, type Plugin, type PluginContext } from "./plugin.ts";

describe("adaptive loss detection", () => {
  for (const seed of [1, 2, 3]) {
    test(`under ±5 ms jitter, spurious losses widen the thresholds and 2.5 KB snapshots at 60 Hz all arrive (seed ${seed})`, () => {
      const p = createPair({ seed, link: { latencyMs: 30, jitterMs: 5 } });
      for (let t = 0; t < 600; t++) {
        p.client.send(p.clientPeer, 1, new Uint8Array(2500), undefined, p.sim.now);
        p.runFor(1000 / 60);
      }
      p.runFor(500);
      const s = p.clientPeer.stats();
      // Before adaptation, reordering read as loss halved the window until ~70% of snapshots expired unsent.
      expect(p.messages("server", 1).length, `seed ${seed}`).toBeGreaterThanOrEqual(590);
      expect(s.spuriousLosses, `seed ${seed}`).toBeGreaterThan(0);
      expect(s.packetsLost, `seed ${seed}`).toBeLessThan(10);
    });
  }

  test("real loss is still detected and repaired quickly after the thresholds widened", () => {
    const p = createPair({ seed: 4, link: { latencyMs: 30, jitterMs: 5 } });
    for (let t = 0; t < 120; t++) {
      p.client.send(p.clientPeer, 1, new Uint8Array(2500), undefined, p.sim.now);
      p.runFor(1000 / 60);
    }
    p.sim.setLink(p.clientAddress, p.serverAddress, { loss: 0.1 });
    for (let i = 0; i < 500; i++) p.client.send(p.clientPeer, 0, new Uint8Array(new Uint32Array([i]).buffer), undefined, p.sim.now);
    expect(p.runUntil(() => p.messages("server", 0).length === 500, 20_000)).toBe(true);
    const got = p.messages("server", 0).map((m) => new DataView(m.buffer, m.byteOffset).getUint32(0, true));
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(p.clientPeer.stats().packetsLost).toBeGreaterThan(0);
  });
});

describe("delivery feedback for unreliable fragmented messages", () => {
  test("acked means every fragment arrived; a message with a lost fragment is reported lost once and never acked", () => {
    const acked: number[] = [];
    const lost: number[] = [];
    const watcher: Plugin = {
      name: "watcher",
      onMessageAcked: (_p, ch, id) => void (ch === 1 && acked.push(id)),
      onMessageLost: (_p, ch, id) => void (ch === 1 && lost.push(id)),
    };
    const p = createPair({ seed: 5, link: { latencyMs: 10, loss: 0.15 }, client: { plugins: [watcher] } });
    const ids: number[] = [];
    for (let i = 0; i < 200; i++) {
      const m = new Uint8Array(3000);
      new DataView(m.buffer).setUint32(0, i);
      ids.push(p.client.send(p.clientPeer, 1, m, undefined, p.sim.now));
      p.runFor(20);
    }
    p.runFor(2000);
    const delivered = new Set(p.messages("server", 1).map((m) => new DataView(m.buffer, m.byteOffset).getUint32(0)));
    const index = new Map(ids.map((id, i) => [id, i]));
    expect(new Set(lost).size).toBe(lost.length);
    for (const id of acked) {
      expect(lost).not.toContain(id);
      expect(delivered.has(index.get(id)!)).toBe(true);
    }
    expect(acked.length).toBeGreaterThan(50);
    expect(lost.length).toBeGreaterThan(20);
    // Every message not delivered was reported lost (none stays silent for long).
    for (const [id, i] of index) if (!delivered.has(i)) expect(lost).toContain(id);
  });
});

describe("plugin context", () => {
  test("a datagram an open hook returns as CONSUMED stops there and is not counted as a drop", () => {
    let consumed = 0;
    const eater: Plugin = {
      name: "eater",
      openDatagram(data) {
        if ((data[1]! & 0x0f) === 5 && data.length > 100) {
          consumed++;
          return CONSUMED;
        }
        return data;
      },
    };
    const p = createPair({ seed: 6, server: { plugins: [eater] } });
    p.client.send(p.clientPeer, 1, new Uint8Array(500), undefined, p.sim.now);
    p.runFor(50);
    expect(consumed).toBeGreaterThan(0);
    expect(p.messages("server", 1).length).toBe(0);
    expect(p.server.stats().drops.plugin).toBe(0);
  });

  test("ctx.send with now counts expiry from then, and sends call the driver's onOutput hook", () => {
    let ctx: PluginContext | undefined;
    const grab: Plugin = { name: "grab", init: (c) => void (ctx = c) };
    const p = createPair({ seed: 7, client: { plugins: [grab] } });
    let outputs = 0;
    p.client.onOutput = () => void outputs++;
    // Long quiet: the endpoint's last input is far behind the clock.
    p.runFor(700);
    ctx!.send(p.clientPeer, 1, new Uint8Array([42]), undefined, p.sim.now);
    expect(outputs).toBe(1);
    p.client.send(p.clientPeer, 1, new Uint8Array([43]), undefined, p.sim.now);
    expect(outputs).toBe(2);
    p.runFor(20);
    expect(p.messages("server", 1).map((m) => m[0])).toEqual([42, 43]);
  });
});
