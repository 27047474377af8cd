import { describe, expect, test } from "bun:test";
import { Channel, DROP_REASONS, Endpoint, ErrorCode, SeededRandom } from "@fastnet/core";
import { createPair, pluginContract, SERVER_ADDRESS, CLIENT_ADDRESS, type Pair } from "@fastnet/core/testing";
import type { LinkConfig } from "@fastnet/core/sim";
import { metrics, MetricsPlugin } from "./metrics.ts";

pluginContract(() => metrics());

function metricsPair(seed: number, link: LinkConfig, opts: ConstructorParameters<typeof MetricsPlugin>[0] = {}): { pair: Pair; server: MetricsPlugin; client: MetricsPlugin } {
  const server = metrics(opts);
  const client = metrics(opts);
  const pair = createPair({ seed, link, server: { plugins: [server] }, client: { plugins: [client] } });
  return { pair, server, client };
}

/** The server sends `count` messages of `size` bytes, one every `everyMs`, then the link settles. */
function stream(pair: Pair, channel: number, count: number, size: number, everyMs: number): void {
  const data = new Uint8Array(size).fill(9);
  for (let i = 0; i < count; i++) {
    pair.server.send(pair.serverPeer, channel, data, undefined, pair.sim.now);
    pair.sim.flush();
    pair.runFor(everyMs);
  }
  pair.runFor(1000);
}

describe("@fastnet/metrics on the simulator", () => {
  test("RTT figures match a 2 x 20 ms link", () => {
    const { pair, server, client } = metricsPair(1, { latencyMs: 20 });
    stream(pair, Channel.Reliable, 200, 100, 16);
    const p = server.snapshot(pair.sim.now).peers[0]!;
    // Every sample is 40 ms of path plus at most the peer's 1 ms ack delay.
    expect(p.rtt.samples).toBeGreaterThan(150);
    expect(p.rtt.minMs).toBeGreaterThanOrEqual(40);
    expect(p.rtt.p50Ms).toBeGreaterThanOrEqual(40);
    expect(p.rtt.p50Ms).toBeLessThanOrEqual(41);
    expect(p.rtt.p99Ms).toBeLessThanOrEqual(41);
    expect(Math.abs(p.rtt.smoothedMs - 40)).toBeLessThanOrEqual(1);
    expect(p.rtt.jitterMs).toBeLessThan(0.5);
    const e = server.snapshot(pair.sim.now).endpoint;
    expect(e.rtt.p50Ms).toBe(p.rtt.p50Ms);
    expect(e.rttHistogram.count).toBe(p.rtt.samples);
    // 40-41 ms falls in the (25, 50] ms bucket.
    expect(e.rttHistogram.counts[e.rttHistogram.boundsMs.indexOf(50)]).toBe(p.rtt.samples);
    // The client saw the server's keepalive/ack traffic too.
    expect(client.snapshot(pair.sim.now).peers[0]!.packetsReceived).toBeGreaterThan(150);
  });

  test("jitter on the link shows as RFC 3550 jitter; a clean link has next to none", () => {
    const clean = metricsPair(2, { latencyMs: 20 });
    stream(clean.pair, Channel.Unreliable, 300, 64, 16);
    const noisy = metricsPair(2, { latencyMs: 20, jitterMs: 8 });
    stream(noisy.pair, Channel.Unreliable, 300, 64, 16);
    const j0 = clean.server.snapshot(clean.pair.sim.now).peers[0]!.rtt.jitterMs;
    const j1 = noisy.server.snapshot(noisy.pair.sim.now).peers[0]!.rtt.jitterMs;
    // Two independent U(-8, 8) ms delays per round trip: mean |D| of successive RTTs is several ms.
    expect(j1).toBeGreaterThan(2);
    expect(j1).toBeLessThan(16);
    expect(j0).toBeLessThan(0.5);
    const p = noisy.server.snapshot(noisy.pair.sim.now).peers[0]!;
    expect(p.rtt.p99Ms).toBeGreaterThan(p.rtt.p50Ms);
    expect(p.rtt.minMs).toBeGreaterThanOrEqual(24);
  });

  for (const loss of [0.05, 0.1]) {
    test(`loss % matches a configured ${loss * 100}% loss within tolerance (3 seeds)`, () => {
      for (const seed of [11, 12, 13]) {
        const { pair, server } = metricsPair(seed, { latencyMs: 10, loss });
        stream(pair, Channel.Unreliable, 2000, 64, 5);
        const p = server.snapshot(pair.sim.now).peers[0]!;
        const resolved = p.packetsAcked + p.packetsLost;
        expect(resolved).toBeGreaterThan(1900);
        // Binomial sd at n=2000 is <= 0.7 points; allow 2.5 points either way.
        if (Math.abs(p.lossPercent - loss * 100) > 2.5) throw new Error(`seed ${seed}: loss ${p.lossPercent}% vs ${loss * 100}%`);
        expect(server.snapshot(pair.sim.now).endpoint.lossPercent).toBeCloseTo(p.lossPercent, 9);
      }
    });
  }

  test("reliable traffic under loss counts retransmits; a clean link has none", () => {
    const lossy = metricsPair(5, { latencyMs: 10, loss: 0.1 });
    stream(lossy.pair, Channel.Reliable, 300, 200, 10);
    expect(lossy.server.snapshot(lossy.pair.sim.now).peers[0]!.retransmits).toBeGreaterThan(10);
    expect(lossy.server.snapshot(lossy.pair.sim.now).endpoint.retransmits).toBeGreaterThan(10);
    const clean = metricsPair(5, { latencyMs: 10 });
    stream(clean.pair, Channel.Reliable, 100, 200, 10);
    expect(clean.server.snapshot(clean.pair.sim.now).peers[0]!.retransmits).toBe(0);
  });

  test("rates: 100 messages/s of 100 B show as ~100 packets/s out on the sender and in on the receiver", () => {
    const { pair, server, client } = metricsPair(3, { latencyMs: 5 }, { rateWindowMs: 1000 });
    const data = new Uint8Array(100);
    for (let i = 0; i < 300; i++) {
      pair.server.send(pair.serverPeer, Channel.Unreliable, data, undefined, pair.sim.now);
      pair.sim.flush();
      pair.runFor(10);
    }
    const s = server.snapshot(pair.sim.now).peers[0]!;
    const c = client.snapshot(pair.sim.now).peers[0]!;
    expect(s.rates.packetsOutPerSec).toBeGreaterThan(90);
    expect(s.rates.packetsOutPerSec).toBeLessThan(115);
    expect(c.rates.packetsInPerSec).toBeGreaterThan(90);
    expect(c.rates.packetsInPerSec).toBeLessThan(115);
    // 100 B payload + 16 B DATA header + 4-5 B of frame header per packet.
    expect(s.rates.bytesOutPerSec / s.rates.packetsOutPerSec).toBeGreaterThan(110);
    expect(s.rates.bytesOutPerSec / s.rates.packetsOutPerSec).toBeLessThan(130);
    expect(s.rates.windowMs).toBeGreaterThanOrEqual(1000);
    // Long silence: the open window is measured instead of a stale one.
    pair.runFor(5000);
    expect(server.snapshot(pair.sim.now).peers[0]!.rates.packetsOutPerSec).toBeLessThan(5);
  });

  test("congestion window, send budget and queue figures come from core", () => {
    const { pair, server } = metricsPair(4, { latencyMs: 10 });
    stream(pair, Channel.Reliable, 20, 100, 10);
    const p = server.snapshot(pair.sim.now).peers[0]!;
    const s = pair.serverPeer.stats();
    expect(p.congestion.windowBytes).toBe(s.congestionWindow);
    expect(p.congestion.sendBudgetBytes).toBeLessThanOrEqual(p.congestion.windowBytes);
    expect(p.congestion.bytesInFlight).toBe(s.bytesInFlight);
    expect(p.congestion.queuedBytes).toBe(0);
    expect(p.congestion.sendQueueDelayMs).toBe(0);
    expect(p.congestion.queueDelayMs).toBeGreaterThanOrEqual(0);
    expect(p.congestion.queueDelayMs).toBeLessThan(2);
    // Queue 200 KB at once: the send queue delay estimate becomes positive.
    for (let i = 0; i < 200; i++) pair.server.send(pair.serverPeer, Channel.Reliable, new Uint8Array(1000), undefined, pair.sim.now);
    const q = server.snapshot(pair.sim.now).peers[0]!;
    expect(q.congestion.queuedBytes).toBeGreaterThan(100_000);
    expect(q.congestion.sendQueueDelayMs).toBeGreaterThan(0);
    expect(server.snapshot(pair.sim.now).endpoint.congestion.queuedBytes).toBe(q.congestion.queuedBytes);
    expect(q.messagesSent).toBe(s.messagesSent); // queued, not sent yet
  });

  test("drops are counted by reason, per peer and per endpoint", () => {
    const { pair, client } = metricsPair(6, { latencyMs: 10, duplicate: 0.3 });
    stream(pair, Channel.Unreliable, 200, 64, 10);
    // Garbage from an unknown source: an endpoint-level drop with no peer.
    pair.client.handleDatagram(pair.sim.now, { host: "10.9.9.9", port: 1 }, new Uint8Array([1, 2]));
    const snap = client.snapshot(pair.sim.now);
    const p = snap.peers[0]!;
    expect(p.drops.duplicate).toBeGreaterThan(20);
    expect(snap.endpoint.drops.duplicate).toBe(p.drops.duplicate);
    expect(snap.endpoint.drops.short).toBe(1);
    expect(p.drops.short).toBe(0);
    expect(Object.keys(snap.endpoint.drops).sort()).toEqual([...DROP_REASONS].sort());
    expect(snap.endpoint.dropsTotal).toBe(Object.values(snap.endpoint.drops).reduce((a, b) => a + b, 0));
    // The endpoint's own counters agree with what the plugin saw.
    expect(pair.client.stats().drops.duplicate).toBe(snap.endpoint.drops.duplicate);
  });

  test("superseded sequenced messages are counted as send drops on their channel", () => {
    const { pair, server } = metricsPair(7, { latencyMs: 10 });
    for (let i = 0; i < 5; i++) pair.server.send(pair.serverPeer, Channel.Sequenced, new Uint8Array([i]), undefined, pair.sim.now);
    pair.sim.flush();
    pair.runFor(200);
    const snap = server.snapshot(pair.sim.now);
    expect(snap.peers[0]!.sendDrops.superseded).toBe(4);
    expect(snap.endpoint.sendDrops).toEqual({ expired: 0, superseded: 4, byChannel: [{ channel: Channel.Sequenced, expired: 0, superseded: 4 }] });
  });

  test("connects and disconnects by reason; a departed peer leaves the snapshot but not the totals", () => {
    const { pair, server } = metricsPair(8, { latencyMs: 10, loss: 0.1 });
    stream(pair, Channel.Reliable, 100, 100, 10);
    const before = server.snapshot(pair.sim.now).endpoint;
    expect(before.peers).toBe(1);
    expect(before.connectsTotal).toBe(1);
    pair.client.disconnect(pair.clientPeer, pair.sim.now);
    pair.sim.flush();
    pair.runFor(3000);
    const after = server.snapshot(pair.sim.now);
    expect(after.peers).toEqual([]);
    expect(after.endpoint.peers).toBe(0);
    expect(after.endpoint.disconnects["closed-by-peer"]).toBe(1);
    expect(after.endpoint.retransmits).toBeGreaterThanOrEqual(before.retransmits);
    expect(after.endpoint.packetsSent).toBeGreaterThanOrEqual(before.packetsSent);
    expect(server.peerCount).toBe(0);
  });

  test("a snapshot is plain data: it survives JSON unchanged", () => {
    const { pair, server } = metricsPair(9, { latencyMs: 10, jitterMs: 2, loss: 0.02 });
    stream(pair, Channel.Reliable, 100, 300, 10);
    const snap = server.snapshot(pair.sim.now);
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    expect(snap.peers[0]!.address).toBe(`${CLIENT_ADDRESS.host}:${CLIENT_ADDRESS.port}`);
    expect(snap.at).toBe(pair.sim.now);
    expect(SERVER_ADDRESS.port).toBe(4000);
  });

  test("before registration a snapshot is all zeros; options are validated", () => {
    const m = metrics();
    const s = m.snapshot(0);
    expect(s.peers).toEqual([]);
    expect(s.endpoint.packetsSent).toBe(0);
    expect(() => metrics({ rttWindow: 0 })).toThrow("rttWindow");
    expect(() => metrics({ rateWindowMs: -1 })).toThrow("rateWindowMs");
    expect(() => metrics({ rttBucketsMs: [5, 1] })).toThrow("rttBucketsMs");
    expect(() => metrics({ labels: { peer: "x" } })).toThrow("peer");
    expect(() => metrics({ labels: { "bad-name": "x" } })).toThrow("bad-name");
    let code: unknown;
    try {
      metrics({ peerSeries: -1 });
    } catch (err) {
      code = (err as { code?: unknown }).code;
    }
    expect(code).toBe(ErrorCode.INVALID_CONFIG);
  });

  test("one instance on two endpoints is refused (FASTNET_INVALID_PLUGIN)", () => {
    const m = metrics();
    new Endpoint({ random: new SeededRandom(1), insecurePlaintext: true, plugins: [m] });
    expect(() => new Endpoint({ random: new SeededRandom(2), insecurePlaintext: true, plugins: [m] })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_PLUGIN }));
  });
});
