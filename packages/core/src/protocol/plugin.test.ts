/**
 * Tests of the plugin host (plugin.ts, and where endpoint.ts / connection.ts
 * call each hook), driven by small REAL plugins defined here (XOR transforms,
 * a tagging message layer, a challenge-response gate, a timer, a tracer, a
 * highest-channel-first scheduler, a fixed-window congestion controller) over
 * the deterministic simulator. Also runs the plugin contract against
 * well-behaved plugins, and checks that its individual checks report
 * deliberately broken ones.
 */
import { describe, expect, test } from "bun:test";
import { Simulator } from "../sim/simulator.ts";
import { macPlugin } from "../testing/mac.ts";
import {
  checkDeadlines, checkDelivery, checkDeterminism, checkDisconnects, checkGarbage, checkIdentity, checkMtu,
  createPair, createUnconnectedPair, pluginContract, runPluginContract, type Pair,
} from "../testing/index.ts";
import type { CongestionController } from "./congestion.ts";
import { Endpoint } from "./endpoint.ts";
import { ErrorCode } from "./errors.ts";
import type { ConnectRequest, Peer, Plugin, PluginContext, TraceEvent } from "./plugin.ts";
import { SeededRandom } from "./random.ts";
import type { ChannelConfig, DisconnectReason } from "./types.ts";
import { HEADER_SIZE } from "./wire.ts";

const bytes = (...xs: number[]): Uint8Array => new Uint8Array(xs);
const filled = (n: number, seed: number): Uint8Array => new Uint8Array(n).map((_, i) => (i * 7 + seed) & 0xff);

function codeOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return (err as { code?: unknown }).code;
  }
  return undefined;
}

function endpoint(plugins: Plugin[], extra: Record<string, unknown> = {}): Endpoint {
  return new Endpoint({ random: new SeededRandom(1), insecurePlaintext: true, plugins, ...extra });
}

/** Pair with the same plugin factory on both sides. */
function pairWith(make: () => Plugin[], options: Parameters<typeof createPair>[0] = {}): Pair {
  return createPair({ ...options, server: { ...options.server, plugins: make() }, client: { ...options.client, plugins: make() } });
}

/**
 * XORs everything after the cleartext header with `key` and appends `marker` (1 byte of overhead);
 * open checks and strips the marker, then XORs back. Logs every call when given a log.
 */
function xorPlugin(name: string, key: number, marker: number, log?: string[]): Plugin {
  return {
    name,
    datagramOverhead: 1,
    sealDatagram(buf, length) {
      log?.push(`seal:${name}`);
      for (let i = HEADER_SIZE; i < length; i++) buf[i]! ^= key;
      buf[length] = marker;
      return length + 1;
    },
    openDatagram(data) {
      log?.push(`open:${name}`);
      if (data.length <= HEADER_SIZE || data[data.length - 1] !== marker) return null;
      const out = data.slice(0, data.length - 1);
      for (let i = HEADER_SIZE; i < out.length; i++) out[i]! ^= key;
      return out;
    },
  };
}

/** Records what it is handed: registered first, its seal sees the plaintext and its open runs last. */
function recorder(sealed: Uint8Array[], opened: Uint8Array[]): Plugin {
  return {
    name: "recorder",
    sealDatagram(buf, length) {
      sealed.push(buf.slice(0, length));
      return length;
    },
    openDatagram(data) {
      opened.push(data.slice());
      return data;
    },
  };
}

/** Collects every trace event of an endpoint. */
function tracer(events: TraceEvent[]): Plugin {
  return { name: "tracer", onTrace: (ev) => void events.push(ev) };
}

describe("plugin host: registration", () => {
  test.each([
    ["no name", { name: "" }],
    ["a name that is not a string", { name: 7 }],
    ["a hook that is not a function", { name: "x", onTick: 5 }],
    ["a negative datagramOverhead", { name: "x", datagramOverhead: -1 }],
    ["a fractional datagramOverhead", { name: "x", datagramOverhead: 1.5 }],
    ["a scheduler without pick", { name: "x", scheduler: { name: "s" } }],
  ])("a plugin with %s throws FASTNET_INVALID_PLUGIN", (_label, plugin) => {
    expect(codeOf(() => endpoint([plugin as unknown as Plugin]))).toBe(ErrorCode.INVALID_PLUGIN);
  });

  test("two plugins with the same name, or one instance twice, throw FASTNET_INVALID_PLUGIN", () => {
    const p: Plugin = { name: "same" };
    expect(codeOf(() => endpoint([p, { name: "same" }]))).toBe(ErrorCode.INVALID_PLUGIN);
    expect(codeOf(() => endpoint([p, p]))).toBe(ErrorCode.INVALID_PLUGIN);
  });

  test("init is called once with the plugin's context, whose slot is its registration index", () => {
    const seen: [string, number, number][] = [];
    const mk = (name: string): Plugin => ({ name, init: (ctx) => void seen.push([name, ctx.slot, ctx.mtu]) });
    endpoint([mk("a"), mk("b"), mk("c")], { mtu: 1000 });
    expect(seen).toEqual([["a", 0, 1000], ["b", 1, 1000], ["c", 2, 1000]]);
  });

  test("declared overheads add up and shrink the packets the endpoint builds", () => {
    const e = endpoint([xorPlugin("a", 1, 0xa1), xorPlugin("b", 2, 0xb2), { name: "c", datagramOverhead: 10 }]);
    expect(e.plugins.overhead).toBe(12);
    expect(e.maxPacketSize).toBe(1200 - 12);
  });
});

describe("plugin host: datagram transforms", () => {
  test("outgoing seal runs first to last in registration order, incoming open last to first", () => {
    const log: string[] = [];
    const sealedPlain: Uint8Array[] = [];
    const openedPlain: Uint8Array[] = [];
    const pair = createPair({
      seed: 11,
      capture: true,
      link: { latencyMs: 5 },
      server: { plugins: [recorder([], openedPlain), xorPlugin("A", 0x11, 0xa1), xorPlugin("B", 0x22, 0xb2)] },
      client: { plugins: [recorder(sealedPlain, []), xorPlugin("A", 0x11, 0xa1, log), xorPlugin("B", 0x22, 0xb2, log)] },
    });
    const big = filled(5000, 3);
    pair.client.send(pair.clientPeer, 0, big);
    pair.server.send(pair.serverPeer, 0, bytes(1, 2, 3));
    expect(pair.runUntil(() => pair.messages("server", 0).length === 1 && pair.messages("client", 0).length === 1)).toBe(true);
    expect(pair.messages("server", 0)[0]).toEqual(big);
    expect(pair.messages("client", 0)[0]).toEqual(bytes(1, 2, 3));

    // Client: seal A then B per datagram; open B then A.
    expect(log.filter((l) => l.startsWith("seal")).slice(0, 4)).toEqual(["seal:A", "seal:B", "seal:A", "seal:B"]);
    expect(log.filter((l) => l.startsWith("open")).slice(0, 4)).toEqual(["open:B", "open:A", "open:B", "open:A"]);

    // Every client datagram on the wire is B(A(plaintext)): body ^ 0x11 ^ 0x22, then A's marker (XORed by B), then B's marker.
    const wire = pair.captured.filter((c) => c.from === "client").map((c) => c.bytes);
    expect(wire.length).toBe(sealedPlain.length);
    wire.forEach((w, i) => {
      const plain = sealedPlain[i]!;
      const expected = new Uint8Array(plain.length + 2);
      expected.set(plain);
      for (let j = HEADER_SIZE; j < plain.length; j++) expected[j]! ^= 0x33;
      expected[plain.length] = 0xa1 ^ 0x22;
      expected[plain.length + 1] = 0xb2;
      expect(w).toEqual(expected);
    });
    // The server's first-registered plugin opens last and sees exactly what the client's saw before sealing.
    expect(openedPlain.length).toBe(sealedPlain.length);
    openedPlain.forEach((o, i) => expect(o).toEqual(sealedPlain[i]!));
    // With 2 bytes of declared overhead, full packets fill the mtu exactly and never exceed it.
    expect(Math.max(...wire.map((w) => w.length))).toBe(1200);
  });

  test("ctx.sendDatagram output is sealed by later plugins; ctx.injectDatagram input is opened by earlier ones and core", () => {
    // The wrapper replaces every DATA datagram by a copy behind a second header (flag 0x40) sent with
    // sendDatagram, and unwraps on receipt with injectDatagram: traffic only flows if both paths work.
    const WRAP = 0x40;
    const counts = { wrapped: 0, unwrapped: 0 };
    const wrapper = (): Plugin => ({
      name: "wrapper",
      datagramOverhead: HEADER_SIZE,
      sealDatagram(buf, length, peer, ctx) {
        if ((buf[1]! & 0x0f) !== 5 || peer === undefined) return length;
        const copy = new Uint8Array(HEADER_SIZE + length);
        copy.set(buf.subarray(0, HEADER_SIZE));
        copy[1] = copy[1]! | WRAP;
        copy.set(buf.subarray(0, length), HEADER_SIZE);
        ctx.sendDatagram(peer, copy);
        counts.wrapped++;
        return -1;
      },
      openDatagram(data, _peer, from, ctx) {
        if ((data[1]! & WRAP) === 0) return data;
        ctx.injectDatagram(from, data.subarray(HEADER_SIZE));
        counts.unwrapped++;
        return null;
      },
    });
    const pair = createPair({
      seed: 12,
      capture: true,
      link: { latencyMs: 5 },
      server: { plugins: [wrapper(), xorPlugin("B", 0x22, 0xb2)] },
      client: { plugins: [wrapper(), xorPlugin("B", 0x22, 0xb2)] },
    });
    const big = filled(5000, 9);
    pair.client.send(pair.clientPeer, 0, big);
    pair.server.send(pair.serverPeer, 1, bytes(7, 8));
    expect(pair.runUntil(() => pair.messages("server", 0).length === 1 && pair.messages("client", 1).length === 1)).toBe(true);
    expect(pair.messages("server", 0)[0]).toEqual(big);
    expect(pair.messages("client", 1)[0]).toEqual(bytes(7, 8));
    expect(counts.wrapped).toBeGreaterThan(5);
    expect(counts.unwrapped).toBeGreaterThan(5);
    const data = pair.captured.filter((c) => (c.bytes[1]! & 0x0f) === 5).map((c) => c.bytes);
    expect(data.length).toBeGreaterThan(0);
    for (const d of data) {
      expect(d[1]! & WRAP).toBe(WRAP);
      expect(d[d.length - 1]).toBe(0xb2);
      expect(d.length).toBeLessThanOrEqual(1200);
    }
  });

  test("stateless replies (deny) are sealed too", () => {
    const sealedTypes: number[] = [];
    const pair = createUnconnectedPair({
      server: { plugins: [{ name: "gate", onConnecting: () => ({ accept: false, reason: "no" }) }, xorPlugin("A", 0x5, 0xa1), { name: "spy", sealDatagram: (b, n) => (sealedTypes.push(b[1]! & 0x0f), n) }] },
      client: { plugins: [xorPlugin("A", 0x5, 0xa1)] },
    });
    const peer = pair.connect();
    expect(pair.runUntil(() => peer.state === "disconnected")).toBe(true);
    expect(pair.disconnects("client")[0]).toMatchObject({ reason: "denied", detail: "no" });
    expect(sealedTypes).toContain(4);
  });

  test("a seal returning -1 drops the datagram; the reliable message gets through once it stops", () => {
    let dropping = false;
    const dropper: Plugin = { name: "dropper", sealDatagram: (_b, n) => (dropping ? -1 : n) };
    const pair = createPair({ seed: 2, link: { latencyMs: 5 }, client: { plugins: [dropper] } });
    dropping = true;
    const sentBefore = pair.sim.linkStats(pair.clientAddress, pair.serverAddress).sent;
    pair.client.send(pair.clientPeer, 0, bytes(9, 9));
    pair.runFor(300);
    expect(pair.sim.linkStats(pair.clientAddress, pair.serverAddress).sent).toBe(sentBefore);
    expect(pair.messages("server", 0)).toEqual([]);
    dropping = false;
    expect(pair.runUntil(() => pair.messages("server", 0).length === 1, 5000)).toBe(true);
    expect(pair.messages("server", 0)).toEqual([bytes(9, 9)]);
  });

  test("an open returning null drops the datagram and counts it as 'plugin'", () => {
    let refusing = false;
    let refused = 0;
    const gate: Plugin = {
      name: "gate",
      openDatagram: (d) => {
        if (!refusing) return d;
        refused++;
        return null;
      },
    };
    const events: TraceEvent[] = [];
    const pair = createPair({ seed: 3, link: { latencyMs: 5 }, server: { plugins: [gate, tracer(events)] } });
    refusing = true;
    pair.client.send(pair.clientPeer, 0, bytes(4, 2));
    pair.runFor(200);
    expect(refused).toBeGreaterThan(0);
    expect(pair.server.stats().drops.plugin).toBe(refused);
    expect(events.filter((e) => e.type === "drop" && e.reason === "plugin").length).toBe(refused);
    expect(pair.messages("server", 0)).toEqual([]);
    refusing = false;
    expect(pair.runUntil(() => pair.messages("server", 0).length === 1, 5000)).toBe(true);
  });
});

describe("plugin host: message hooks", () => {
  /** Outgoing: appends `tag`; incoming: checks and strips it, logging the order. Drops outgoing messages starting with `dropByte`. */
  function tagger(name: string, tag: number, log: string[], dropByte = -1): Plugin {
    return {
      name,
      outgoingMessage(_peer, _ch, data) {
        log.push(`out:${name}`);
        if (data[0] === dropByte) return null;
        const out = new Uint8Array(data.length + 1);
        out.set(data);
        out[data.length] = tag;
        return out;
      },
      incomingMessage(_peer, _ch, data) {
        log.push(`in:${name}`);
        if (data[data.length - 1] !== tag) return null;
        return data.subarray(0, data.length - 1);
      },
    };
  }

  test("outgoingMessage runs first to last and can transform; incomingMessage runs last to first", () => {
    const log: string[] = [];
    const wireMessages: Uint8Array[] = [];
    const pair = createPair({
      seed: 4,
      server: { plugins: [tagger("P", 0x50, []), tagger("Q", 0x51, log), { name: "raw", incomingMessage: (_p, _c, d) => (wireMessages.push(d.slice()), d) }] },
      client: { plugins: [tagger("P", 0x50, log), tagger("Q", 0x51, [])] },
    });
    pair.client.send(pair.clientPeer, 0, bytes(1, 2));
    expect(pair.runUntil(() => pair.messages("server", 0).length === 1)).toBe(true);
    // On the wire: P's tag, then Q's.
    expect(wireMessages).toEqual([bytes(1, 2, 0x50, 0x51)]);
    expect(pair.messages("server", 0)).toEqual([bytes(1, 2)]);
    expect(log).toEqual(["out:P", "in:Q"]);
  });

  test("outgoingMessage returning null drops the message: send returns 0 and nothing is sent", () => {
    const pair = pairWith(() => [tagger("P", 0x50, [], 0xff)]);
    expect(pair.client.send(pair.clientPeer, 0, bytes(0xff, 1))).toBe(0);
    expect(pair.client.send(pair.clientPeer, 0, bytes(7))).toBeGreaterThan(0);
    pair.runFor(500);
    expect(pair.messages("server", 0)).toEqual([bytes(7)]);
    expect(pair.clientPeer.stats().messagesSent).toBe(1);
  });

  test("incomingMessage returning null drops the message before the application sees it", () => {
    const veto: Plugin = { name: "veto", incomingMessage: (_p, _c, d) => (d[0] === 0xee ? null : d) };
    const pair = createPair({ server: { plugins: [veto] } });
    pair.client.send(pair.clientPeer, 0, bytes(0xee));
    pair.client.send(pair.clientPeer, 0, bytes(1));
    pair.client.send(pair.clientPeer, 1, bytes(0xee, 2));
    pair.runFor(500);
    expect(pair.messages("server")).toEqual([bytes(1)]);
    expect(pair.serverPeer.stats().messagesReceived).toBe(1);
  });

  test("ctx.send bypasses the outgoingMessage hooks and ctx.deliver bypasses incomingMessage", () => {
    const log: string[] = [];
    let ctxRef: PluginContext | undefined;
    const pair = createPair({
      server: { plugins: [tagger("P", 0x50, log)] },
      client: { plugins: [tagger("P", 0x50, log), { name: "grab", init: (ctx) => void (ctxRef = ctx) }] },
    });
    ctxRef!.send(pair.clientPeer, 0, bytes(3, 0x50));
    ctxRef!.deliver(pair.clientPeer, 2, bytes(8));
    pair.runFor(300);
    expect(log).toEqual(["in:P"]);
    expect(pair.messages("server", 0)).toEqual([bytes(3)]);
    expect(pair.messages("client", 2)).toEqual([bytes(8)]);
  });

  test("onMessageAcked fires once per message with the id send() returned", () => {
    const acked: [number, number][] = [];
    const lost: number[] = [];
    const feedback: Plugin = {
      name: "feedback",
      onMessageAcked: (_peer, ch, id) => void acked.push([ch, id]),
      onMessageLost: (_peer, _ch, id) => void lost.push(id),
    };
    const pair = createPair({ link: { latencyMs: 10 }, client: { plugins: [feedback] } });
    const ids: [number, number][] = [];
    for (let i = 0; i < 5; i++) {
      for (let ch = 0; ch < 4; ch++) ids.push([ch, pair.client.send(pair.clientPeer, ch, filled(ch === 0 && i === 2 ? 10_000 : 50, i))]);
      pair.runFor(16);
    }
    pair.runFor(1000);
    expect(new Set(ids.map(([, id]) => id)).size).toBe(ids.length);
    expect(lost).toEqual([]);
    // Sequenced messages superseded while queued are never sent, so never acked: compare the sent ones.
    const sentSequenced = pair.messages("server", 3).length;
    const expected = ids.filter(([ch]) => ch !== 3);
    expect(acked.filter(([ch]) => ch !== 3).sort((a, b) => a[1] - b[1])).toEqual(expected.sort((a, b) => a[1] - b[1]));
    expect(acked.filter(([ch]) => ch === 3).length).toBe(sentSequenced);
  });

  test("onMessageLost fires under loss for messages that were sent, and reliable ones are still acked", () => {
    const acked = new Set<number>();
    const lost: [number, number][] = [];
    const feedback: Plugin = {
      name: "feedback",
      onMessageAcked: (_peer, _ch, id) => void acked.add(id),
      onMessageLost: (_peer, ch, id) => void lost.push([ch, id]),
    };
    const pair = createPair({ seed: 5, link: { latencyMs: 10, loss: 0.3 }, client: { plugins: [feedback] } });
    const reliable: number[] = [];
    const all = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const id = pair.client.send(pair.clientPeer, 0, filled(100, i));
      reliable.push(id);
      all.add(id);
      all.add(pair.client.send(pair.clientPeer, 1, filled(100, i)));
      pair.runFor(16);
    }
    expect(pair.runUntil(() => pair.messages("server", 0).length === 40, 20_000)).toBe(true);
    pair.runFor(2000);
    expect(lost.length).toBeGreaterThan(0);
    expect(lost.some(([ch]) => ch === 0)).toBe(true);
    for (const [, id] of lost) expect(all.has(id)).toBe(true);
    for (const id of reliable) expect(acked.has(id)).toBe(true);
  });
});

describe("plugin host: lifecycle hooks", () => {
  test("onConnecting rejecting a request: the client gets 'denied' with the reason as detail", () => {
    const requests: ConnectRequest[] = [];
    const gate: Plugin = { name: "gate", onConnecting: (req) => (requests.push(req), { accept: false, reason: "banned: test" }) };
    const reasons: DisconnectReason[] = [];
    const connected: string[] = [];
    const pair = createUnconnectedPair({
      server: { plugins: [gate, { name: "watch", onConnected: () => void connected.push("server") }] },
      client: { plugins: [{ name: "watch", onConnected: () => void connected.push("client"), onDisconnected: (_p, r) => void reasons.push(r) }] },
    });
    const peer = pair.connect();
    expect(pair.runUntil(() => peer.state === "disconnected")).toBe(true);
    expect(pair.disconnects("client")).toEqual([{ type: "disconnected", peer, reason: "denied", detail: "banned: test" }]);
    expect(reasons).toEqual(["denied"]);
    expect(connected).toEqual([]);
    expect(requests[0]).toMatchObject({ from: pair.clientAddress, clientId: peer.id });
    expect(pair.server.stats().peers).toBe(0);
  });

  test("the first non-accept decision wins; later onConnecting hooks are not asked", () => {
    const asked: string[] = [];
    const pair = createUnconnectedPair({
      server: {
        plugins: [
          { name: "yes", onConnecting: () => (asked.push("yes"), { accept: true }) },
          { name: "no", onConnecting: () => (asked.push("no"), { accept: false, reason: "second says no" }) },
          { name: "never", onConnecting: () => (asked.push("never"), { accept: true }) },
        ],
      },
    });
    const peer = pair.connect();
    pair.runUntil(() => peer.state === "disconnected");
    expect(asked).toEqual(["yes", "no"]);
    expect(pair.disconnects("client")[0]?.detail).toBe("second says no");
  });

  test("a challenge: the client's connectPayload gets the challenge bytes, the server sees the answer and accepts", () => {
    const challenge = bytes(0xc0, 0xff, 0xee, 0x01);
    const answer = (c: Uint8Array): Uint8Array => c.map((x) => x ^ 0x5a);
    const payloads: number[][] = [];
    const gate: Plugin = {
      name: "cookie",
      onConnecting(req) {
        payloads.push([...req.payload]);
        const want = answer(challenge);
        if (req.payload.length === want.length && req.payload.every((x, i) => x === want[i])) return { accept: true };
        return { challenge };
      },
    };
    const asked: (number[] | undefined)[] = [];
    const solver: Plugin = {
      name: "cookie",
      connectPayload(_peer, c) {
        asked.push(c === undefined ? undefined : [...c]);
        return c === undefined ? bytes(1) : answer(c);
      },
    };
    const pair = createPair({ link: { latencyMs: 5 }, server: { plugins: [gate] }, client: { plugins: [solver] } });
    expect(pair.clientPeer.state).toBe("connected");
    expect(asked).toEqual([undefined, [...challenge]]);
    expect(payloads).toEqual([[1], [...answer(challenge)]]);
  });

  test("onConnected and onDisconnected fire once per peer with the right reasons", () => {
    const log: string[] = [];
    const watch = (side: string): Plugin => ({
      name: "watch",
      onConnected: (peer) => void log.push(`${side} connected ${peer.state}`),
      onDisconnected: (_peer, reason) => void log.push(`${side} ${reason}`),
    });
    const opts = { link: { latencyMs: 5 }, server: { plugins: [watch("server")] }, client: { plugins: [watch("client")] } };
    const graceful = createPair(opts);
    graceful.client.disconnect(graceful.clientPeer);
    graceful.runFor(1000);
    expect(log).toEqual(["client connected connected", "server connected connected", "client closed-locally", "server closed-by-peer"]);

    log.length = 0;
    const silent = createPair({ ...opts, server: { ...opts.server, idleTimeoutMs: 2000, keepaliveIntervalMs: 500 }, client: { ...opts.client, idleTimeoutMs: 2000, keepaliveIntervalMs: 500 } });
    silent.sim.setLink(silent.clientAddress, silent.serverAddress, { loss: 1 });
    silent.sim.setLink(silent.serverAddress, silent.clientAddress, { loss: 1 });
    silent.runFor(3000);
    expect(log.slice(2).sort()).toEqual(["client timeout", "server timeout"]);

    log.length = 0;
    const nowhere = createUnconnectedPair({ client: { plugins: [watch("client")], handshakeTimeoutMs: 1000 } });
    nowhere.sim.setLink(nowhere.clientAddress, nowhere.serverAddress, { loss: 1 });
    nowhere.connect();
    nowhere.runFor(2000);
    expect(log).toEqual(["client handshake-timeout"]);
  });
});

describe("plugin host: time", () => {
  test("onTick fires at nextDeadline, which is folded into pollTimeout", () => {
    const ticks: number[] = [];
    let deadline = 1234.5;
    const timer: Plugin = {
      name: "timer",
      nextDeadline: () => deadline,
      onTick(now, ctx) {
        expect(ctx.now).toBe(now);
        if (now < deadline) return;
        ticks.push(now);
        deadline = deadline < 3000 ? deadline + 1000 : Infinity;
      },
    };
    const e = endpoint([timer]);
    expect(e.pollTimeout()).toBe(1234.5);
    const sim = new Simulator({ seed: 1 });
    sim.addNode(e, { host: "10.0.0.9", port: 9 });
    sim.runFor(10_000);
    expect(ticks).toEqual([1234.5, 2234.5, 3234.5]);
    expect(e.pollTimeout()).toBe(Infinity);
  });

  test("with peers, pollTimeout is the earlier of the connections' and the plugins' deadlines", () => {
    let deadline = Infinity;
    const ticks: number[] = [];
    const timer: Plugin = {
      name: "timer",
      nextDeadline: () => deadline,
      onTick(now) {
        if (now < deadline) return;
        ticks.push(now);
        deadline = Infinity;
      },
    };
    const pair = createPair({ server: { plugins: [timer] } });
    const connectionDeadline = pair.server.pollTimeout();
    expect(connectionDeadline).toBeLessThan(Infinity);
    deadline = pair.sim.now + 0.25;
    expect(pair.server.pollTimeout()).toBe(deadline);
    const at = deadline;
    pair.runFor(0.3);
    expect(ticks).toEqual([at]);
    expect(pair.server.pollTimeout()).toBe(connectionDeadline);
  });
});

describe("plugin host: trace", () => {
  test("onTrace sees packet-sent, packet-received, packet-acked, packet-lost, state and drop events", () => {
    const events: TraceEvent[] = [];
    const pair = createPair({ seed: 6, link: { latencyMs: 10, loss: 0.2 }, client: { plugins: [tracer(events)] } });
    expect(pair.client.hasTrace).toBe(true);
    for (let i = 0; i < 30; i++) {
      pair.client.send(pair.clientPeer, 0, filled(200, i));
      pair.runFor(16);
    }
    pair.runUntil(() => pair.messages("server", 0).length === 30, 10_000);
    pair.client.handleDatagram(pair.sim.now, { host: "192.0.2.1", port: 1 }, bytes(1, 2, 3));
    const types = new Set(events.map((e) => e.type));
    for (const t of ["packet-sent", "packet-received", "packet-acked", "packet-lost", "state", "drop"]) expect(types.has(t as TraceEvent["type"])).toBe(true);
    expect(events.find((e) => e.type === "drop")).toMatchObject({ reason: "short", from: { host: "192.0.2.1", port: 1 } });
    const sent = events.filter((e) => e.type === "packet-sent");
    expect(sent.every((e) => e.peer === pair.clientPeer)).toBe(true);
  });

  test("with no trace plugin the endpoint's hasTrace is false", () => {
    expect(endpoint([]).hasTrace).toBe(false);
    expect(endpoint([xorPlugin("a", 1, 2), { name: "t", onTick: () => {} }]).hasTrace).toBe(false);
    expect(endpoint([{ name: "t", onTrace: () => {} }]).hasTrace).toBe(true);
  });
});

describe("plugin host: slots", () => {
  const highestFirst = (): Plugin => ({
    name: "highest-first",
    scheduler: {
      name: "highest-first",
      pick(_peer, queued) {
        for (let c = queued.length - 1; c >= 0; c--) if (queued[c]! > 0) return c;
        return -1;
      },
    },
  });

  test("filling the scheduler, congestion or secure-handshake slot twice throws FASTNET_SLOT_TAKEN", () => {
    const cc = (name: string): Plugin => ({ name, congestion: () => fixedWindow(4000) });
    expect(codeOf(() => endpoint([highestFirst(), { ...highestFirst(), name: "other" }]))).toBe(ErrorCode.SLOT_TAKEN);
    expect(codeOf(() => endpoint([cc("a"), cc("b")]))).toBe(ErrorCode.SLOT_TAKEN);
    expect(codeOf(() => endpoint([{ name: "a", secureHandshake: true }, { name: "b", secureHandshake: true }]))).toBe(ErrorCode.SLOT_TAKEN);
  });

  test("a secure-handshake plugin lets an endpoint run without insecurePlaintext", () => {
    expect(codeOf(() => new Endpoint({ random: new SeededRandom(1) }))).toBe(ErrorCode.INSECURE_NOT_ALLOWED);
    expect(() => new Endpoint({ random: new SeededRandom(1), plugins: [{ name: "s", secureHandshake: true }] })).not.toThrow();
  });

  test("a custom scheduler decides the channel order (highest channel first)", () => {
    const channels: ChannelConfig[] = [0, 1, 2, 3].map(() => ({ kind: "reliable-ordered" }));
    const run = (plugins: Plugin[]): number[] => {
      const pair = createPair({ link: { latencyMs: 5 }, server: { channels }, client: { channels, plugins } });
      for (let i = 0; i < 6; i++) for (let ch = 0; ch < 4; ch++) pair.client.send(pair.clientPeer, ch, filled(700, ch * 10 + i));
      pair.runFor(1000);
      return pair.serverEvents.filter((e) => e.type === "message").map((e) => (e as { channel: number }).channel);
    };
    const order = run([highestFirst()]);
    expect(order).toEqual([3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    // The default round robin interleaves them.
    expect(run([])).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
  });

  test("a custom congestion controller is used: its window bounds the bytes in flight", () => {
    const WINDOW = 2400;
    const made: number[] = [];
    const calls = { sent: 0, acked: 0 };
    let maxInFlight = 0;
    const plugin: Plugin = {
      name: "fixed-window",
      congestion(_peer, mtu) {
        made.push(mtu);
        const cc = fixedWindow(WINDOW);
        return {
          ...cc,
          window: () => cc.window(),
          onPacketSent: (now, n) => void calls.sent++,
          onPacketAcked: () => void calls.acked++,
        } satisfies CongestionController;
      },
      onTrace(ev) {
        if (ev.type === "packet-sent") maxInFlight = Math.max(maxInFlight, ev.peer.stats().bytesInFlight);
      },
    };
    const pair = createPair({ link: { latencyMs: 20 }, client: { plugins: [plugin] } });
    expect(made).toEqual([1200]);
    expect(pair.clientPeer.stats().congestionWindow).toBe(WINDOW);
    pair.client.send(pair.clientPeer, 0, filled(50_000, 1));
    expect(pair.runUntil(() => pair.messages("server", 0).length === 1, 20_000)).toBe(true);
    expect(maxInFlight).toBeGreaterThan(0);
    expect(maxInFlight).toBeLessThanOrEqual(WINDOW);
    expect(calls.sent).toBeGreaterThan(20);
    expect(calls.acked).toBeGreaterThan(20);

    // The default controller lets more than that fly for the same transfer.
    let defaultMax = 0;
    const dflt = createPair({ link: { latencyMs: 20 }, client: { plugins: [{ name: "watch", onTrace: (ev) => void (ev.type === "packet-sent" && (defaultMax = Math.max(defaultMax, ev.peer.stats().bytesInFlight))) }] } });
    dflt.client.send(dflt.clientPeer, 0, filled(50_000, 1));
    dflt.runUntil(() => dflt.messages("server", 0).length === 1, 20_000);
    expect(defaultMax).toBeGreaterThan(WINDOW);
  });

  test("peer.slots[ctx.slot] holds per-plugin, per-peer state", () => {
    interface Count { n: number }
    const counter = (name: string): Plugin => ({
      name,
      onConnected: (peer, ctx) => void (peer.slots[ctx.slot] = { n: 0 } satisfies Count),
      incomingMessage(peer, _ch, data, ctx) {
        (peer.slots[ctx.slot] as Count).n += name === "a" ? 1 : 10;
        return data;
      },
    });
    const pair = createPair({ server: { plugins: [xorPlugin("x", 1, 2), counter("a"), counter("b")] }, client: { plugins: [xorPlugin("x", 1, 2)] } });
    // A second client on the same server.
    const other = new Endpoint({ random: new SeededRandom(77), insecurePlaintext: true, plugins: [xorPlugin("x", 1, 2)] });
    pair.sim.addNode(other, { host: "10.0.0.3", port: 6000 });
    const otherPeer = other.connect(pair.sim.now, pair.serverAddress);
    pair.runUntil(() => otherPeer.state === "connected" && pair.server.peers().length === 2 && pair.server.peers()[1]!.state === "connected");
    for (let i = 0; i < 3; i++) pair.client.send(pair.clientPeer, 0, bytes(i));
    other.send(otherPeer, 0, bytes(9));
    pair.runFor(500);
    const [first, second] = pair.server.peers() as [Peer, Peer];
    expect(first.slots.length).toBe(3);
    expect(first.slots[0]).toBeUndefined();
    expect(first.slots.slice(1)).toEqual([{ n: 3 }, { n: 30 }]);
    expect(second.slots.slice(1)).toEqual([{ n: 1 }, { n: 10 }]);
  });
});

describe("plugin host: regressions", () => {
  test("the default round robin does not starve a channel whose message did not fit the packet", () => {
    // One 700-byte message fits a packet: the skipped channel used to lose its turn, so 1 and 3 waited for 0 and 2.
    const pair = createPair({ link: { latencyMs: 5 } });
    for (let i = 0; i < 4; i++) for (const ch of [0, 1, 2]) pair.client.send(pair.clientPeer, ch, filled(700, ch + i));
    pair.runFor(500);
    const order = pair.serverEvents.filter((e) => e.type === "message").map((e) => (e as { channel: number }).channel);
    expect(order).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
  });

  test("the default round robin fills a packet with small messages when another channel's fragment does not fit", () => {
    // A fragment fills a packet alone; the small messages used to go one per packet, alternating with it.
    const pair = createPair({ link: { latencyMs: 5 } });
    const before = pair.clientPeer.stats().packetsSent;
    for (let i = 0; i < 200; i++) pair.client.send(pair.clientPeer, 0, filled(40, i));
    pair.client.send(pair.clientPeer, 2, filled(20_000, 1));
    expect(pair.runUntil(() => pair.messages("server", 0).length === 200 && pair.messages("server", 2).length === 1)).toBe(true);
    const dataPackets = pair.clientPeer.stats().packetsSent - before;
    // 200 x 45 bytes fit in 8 packets and 20 KB in 18 fragments; allow for pure acks.
    expect(dataPackets).toBeLessThan(45);
  });

  test("a hook that disconnects its peer (ctx.disconnect): no message reaches the application after 'disconnected'", () => {
    const kickOnMessage: Plugin = { name: "kick", incomingMessage: (peer, _ch, d, ctx) => (d[0] === 0xbb && ctx.disconnect(peer), d) };
    const pair = createPair({ server: { plugins: [kickOnMessage] } });
    for (let i = 0; i < 5; i++) pair.client.send(pair.clientPeer, i % 2 === 0 ? 0 : 1, bytes(i === 1 ? 0xbb : i));
    pair.runFor(200);
    const types = pair.serverEvents.map((e) => e.type);
    expect(types.indexOf("disconnected")).toBe(types.length - 1);
    expect(pair.clientPeer.state).toBe("disconnected");

    // Kicked in onConnected while the client's first packet already carries a message.
    const kickOnConnect: Plugin = { name: "kick", onConnected: (peer, ctx) => ctx.disconnect(peer) };
    const eager: Plugin = { name: "eager", onConnected: (peer, ctx) => void ctx.send(peer, 0, bytes(1, 2, 3)) };
    const p2 = createUnconnectedPair({ server: { plugins: [kickOnConnect] }, client: { plugins: [eager] } });
    p2.connect();
    p2.runFor(200);
    expect(p2.serverEvents.map((e) => e.type)).toEqual(["connected", "disconnected"]);
    expect(p2.disconnects("client")[0]?.reason).toBe("closed-by-peer");
  });

  test("a connectPayload too large for a request is counted at each retry, not spun on until the handshake timeout", () => {
    const big: Plugin = { name: "big", connectPayload: () => new Uint8Array(1300) };
    const pair = createUnconnectedPair({ client: { plugins: [big], handshakeTimeoutMs: 1000, handshakeRetryMs: 250 } });
    const peer = pair.connect();
    pair.runFor(2000);
    expect(peer.state).toBe("disconnected");
    expect(pair.disconnects("client")[0]?.reason).toBe("handshake-timeout");
    expect(pair.client.stats().drops.oversize).toBe(4);
  });

  test("anti-amplification counts the bytes received on the wire, not what a plugin's open expanded them to", () => {
    // Client side: drops the zero padding of connect requests; server side: restores it.
    const squeeze: Plugin = {
      name: "squeeze",
      datagramOverhead: 2,
      sealDatagram(buf, n) {
        let k = n;
        while (k > HEADER_SIZE && buf[k - 1] === 0) k--;
        buf[k] = n >> 8;
        buf[k + 1] = n & 0xff;
        return k + 2;
      },
      openDatagram(d) {
        const n = (d[d.length - 2]! << 8) | d[d.length - 1]!;
        if (n < d.length - 2 || n > 1200) return null;
        const out = new Uint8Array(n);
        out.set(d.subarray(0, d.length - 2));
        return out;
      },
    };
    const payload: Plugin = { name: "token", connectPayload: () => new Uint8Array(50).fill(7) };
    const bigChallenge: Plugin = { name: "cookie", onConnecting: () => ({ challenge: new Uint8Array(600).fill(1) }) };
    const pair = createUnconnectedPair({ server: { plugins: [squeeze, bigChallenge] }, client: { plugins: [squeeze, payload] } });
    pair.connect();
    pair.runFor(100);
    const received = pair.sim.linkStats(pair.clientAddress, pair.serverAddress).bytesSent;
    const sent = pair.sim.linkStats(pair.serverAddress, pair.clientAddress).bytesSent;
    expect(received).toBeGreaterThanOrEqual(64);
    expect(received).toBeLessThan(200);
    expect(sent).toBeLessThanOrEqual(3 * received);
    expect(pair.server.stats().drops["amplification-limit"]).toBe(1);
  });

  test("ctx.queueDatagram sends raw bytes past every transform, and refuses more than mtu bytes", () => {
    let ctxRef: PluginContext | undefined;
    const pair = createPair({
      capture: true,
      server: { plugins: [{ name: "raw", init: (ctx) => void (ctxRef = ctx) }, xorPlugin("x", 0x0f, 0xaa)] },
      client: { plugins: [xorPlugin("x", 0x0f, 0xaa)] },
    });
    ctxRef!.queueDatagram(pair.clientAddress, bytes(0xf1, 0xff, 1, 2, 3, 4, 5));
    pair.runFor(10);
    expect(pair.captured.filter((c) => c.from === "server").map((c) => c.bytes)).toContainEqual(bytes(0xf1, 0xff, 1, 2, 3, 4, 5));
    expect(codeOf(() => ctxRef!.queueDatagram(pair.clientAddress, new Uint8Array(1201)))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(() => pair.runFor(10)).not.toThrow();
  });

  test("every acked packet is traced: ack-eliciting packets sent = packet-acked + packet-lost", () => {
    const events: TraceEvent[] = [];
    const pair = createPair({ seed: 4, link: { latencyMs: 10, loss: 0.1 }, client: { plugins: [tracer(events)] } });
    for (let i = 0; i < 50; i++) {
      pair.client.send(pair.clientPeer, 0, filled(300, i));
      pair.client.send(pair.clientPeer, 1, filled(300, i));
      pair.runFor(5);
    }
    pair.runFor(3000);
    const count = (t: TraceEvent["type"]): number => events.filter((e) => e.type === t && (e.type !== "packet-sent" || e.ackEliciting)).length;
    const stats = pair.clientPeer.stats();
    expect(count("packet-acked")).toBe(stats.packetsAcked);
    expect(count("packet-lost")).toBe(stats.packetsLost);
    expect(count("packet-sent")).toBe(stats.packetsAcked + stats.packetsLost);
  });

  test("which peer the datagram hooks get: the connecting peer for requests and accepts, undefined for stateless replies and incoming requests", () => {
    const seen: string[] = [];
    const spy = (side: string): Plugin => ({
      name: "spy",
      sealDatagram(buf, n, peer) {
        seen.push(`${side} seal ${buf[1]! & 0x0f} ${peer === undefined ? "-" : peer.state}`);
        return n;
      },
      openDatagram(d, peer) {
        seen.push(`${side} open ${d[1]! & 0x0f} ${peer === undefined ? "-" : peer.state}`);
        return d;
      },
    });
    let challenged = false;
    const once: Plugin = { name: "once", onConnecting: () => (challenged ? { accept: true } : ((challenged = true), { challenge: bytes(1) })) };
    createPair({ server: { plugins: [once, spy("server")] }, client: { plugins: [spy("client")] } });
    expect(seen.slice(0, 10)).toEqual([
      "client seal 1 connecting", "server open 1 -", "server seal 2 -", "client open 2 connecting",
      "client seal 1 connecting", "server open 1 -", "server seal 3 connecting", "client open 3 connecting",
      "client seal 5 connected", "server open 5 connecting",
    ]);
  });
});

/** Fixed window, no pacing. */
function fixedWindow(window: number): CongestionController {
  return {
    name: "fixed",
    window: () => window,
    onPacketSent: () => {},
    onPacketAcked: () => {},
    onPacketLost: () => {},
    onRetransmissionTimeout: () => {},
    nextSendTime: (now) => now,
  };
}

// ---- The contract, against plugins that honour it ----

pluginContract(() => ({ name: "pass-through", sealDatagram: (_b, n) => n, openDatagram: (d) => d }));

pluginContract(() => xorPlugin("xor", 0x3c, 0x77), { name: "xor transform (1 byte overhead)" });

pluginContract(() => ({ name: "client-half" }), {
  name: "different server and client plugins",
  makeServerPlugin: () => ({ name: "server-half", nextDeadline: () => Infinity, onTrace: () => {} }),
  makeClientPlugin: () => xorPlugin("client-half", 0, 0x00),
  stack: (p, side) => (side === "server" ? [p, xorPlugin("client-half", 0, 0x00)] : [p]),
  endpoint: { mtu: 900 },
  loss: false,
});

pluginContract(() => macPlugin(0x1234abcd), { name: "authenticating plugin in the secure-handshake slot", secure: true });

// ---- The contract's checks report broken plugins ----

test("runPluginContract runs every check but the skipped ones and the lossy scenario when loss is off", () => {
  const result = runPluginContract(() => ({ name: "plain" }), { loss: false, skip: ["garbage"] });
  expect(Object.keys(result).sort()).toEqual(["deadlines", "delivery", "determinism", "disconnect", "identity", "mtu", "registration"]);
  expect(Object.values(result).flat()).toEqual([]);
});

describe("the contract reports broken plugins", () => {
  test("a seal that writes more than its declared overhead: checkMtu", () => {
    const liar = (): Plugin => ({
      name: "liar",
      datagramOverhead: 2,
      sealDatagram: (b, n) => (b.fill(0xab, n, n + 10), n + 10),
      openDatagram: (d) => (d.length < HEADER_SIZE + 10 ? null : d.subarray(0, d.length - 10)),
    });
    const problems = checkMtu(liar);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toContain("larger than the endpoint mtu");
    expect(problems[0]).toContain("1208");
  });

  test("an openDatagram that throws on garbage: checkGarbage", () => {
    const fragile = (): Plugin => ({
      name: "fragile",
      datagramOverhead: 1,
      sealDatagram: (b, n) => ((b[n] = 0x42), n + 1),
      openDatagram(d) {
        if (d[d.length - 1] !== 0x42) throw new RangeError("no marker");
        return d.subarray(0, d.length - 1);
      },
    });
    const problems = checkGarbage(fragile);
    expect(problems.some((p) => p.includes("handleDatagram threw") && p.includes("no marker"))).toBe(true);
    // It is otherwise fine.
    expect(checkDelivery(fragile)).toEqual([]);
  });

  test("a 'secure' plugin that authenticates nothing, so forged packets end the connection: checkGarbage", () => {
    const problems = checkGarbage(() => ({ name: "pretend-secure", secureHandshake: true }), { secure: true });
    expect(problems.some((p) => p.includes("after the garbage"))).toBe(true);
  });

  test("an invalid name or overhead: checkIdentity", () => {
    expect(checkIdentity(() => ({ name: "" })).some((p) => p.includes("non-empty string"))).toBe(true);
    expect(checkIdentity(() => ({ name: "x", datagramOverhead: -3 })).some((p) => p.includes("datagramOverhead"))).toBe(true);
  });

  test("a hook that throws for a disconnected peer: checkDisconnects", () => {
    const grumpy = (): Plugin => ({
      name: "grumpy",
      onDisconnected: (peer) => {
        throw new Error(`peer ${peer.id} left`);
      },
    });
    const problems = checkDisconnects(grumpy);
    expect(problems.length).toBe(4);
    expect(problems.every((p) => p.includes("left"))).toBe(true);
  });

  test("a NaN deadline: checkDeadlines", () => {
    expect(checkDeadlines(() => ({ name: "nan", nextDeadline: () => NaN }))[0]).toContain("NaN");
    expect(checkDeadlines(() => ({ name: "none" }))).toEqual([]);
  });

  test("a tick that throws at its own deadline: checkDeadlines", () => {
    const make = (): Plugin => {
      let at = 50;
      return {
        name: "ticker",
        nextDeadline: () => at,
        onTick(now) {
          if (now >= at && at > 200) throw new Error("tick failed");
          if (now >= at) at += 50;
        },
      };
    };
    expect(checkDeadlines(make).some((p) => p.includes("tick failed"))).toBe(true);
  });

  test("a plugin that duplicates reliable messages: checkDelivery", () => {
    const echo = (): Plugin => ({
      name: "echo",
      incomingMessage: (peer, ch, d, ctx) => {
        if (ch === 0 && d.length === 40) ctx.deliver(peer, ch, d);
        return d;
      },
    });
    expect(checkDelivery(echo).some((p) => p.includes("arrived more than once"))).toBe(true);
  });

  test("a plugin using Math.random: checkDeterminism", () => {
    const noisy = (): Plugin => ({
      name: "noisy",
      datagramOverhead: 1,
      sealDatagram: (b, n) => (Math.random() < 0.5 ? n : ((b[n] = 0), n + 1)),
      openDatagram: (d) => d,
    });
    expect(checkDeterminism(noisy)[0]).toContain("different traces");
  });
});

describe("harness", () => {
  test("createPair throws, naming the reason, when the server denies", () => {
    expect(() => createPair({ server: { plugins: [{ name: "no", onConnecting: () => ({ accept: false, reason: "closed for tests" }) }] } }))
      .toThrow(/denied: closed for tests/);
  });

  test("same options, same run", () => {
    const run = (): string => {
      const p = createPair({ seed: 9, link: { latencyMs: 7, jitterMs: 3, loss: 0.1 } });
      for (let i = 0; i < 20; i++) p.client.send(p.clientPeer, 0, filled(300, i));
      p.runFor(2000);
      return p.sim.traceHash();
    };
    expect(run()).toBe(run());
  });
});
