/**
 * API misuse on the Endpoint (ARCHITECTURE.md §6, kind 3): bad arguments throw
 * a FastnetError with a stable code and a message naming the argument, and a
 * rejected call leaves the endpoint usable. Covers send/connect/disconnect
 * arguments, connection state, endpoint ownership, close, and plugin
 * registration (names, slots, hook types).
 */
import { describe, expect, test } from "bun:test";
import { Simulator } from "../sim/index.ts";
import type { EndpointConfig } from "./config.ts";
import { Endpoint } from "./endpoint.ts";
import { ErrorCode, FastnetError } from "./errors.ts";
import type { Peer, Plugin, Scheduler } from "./plugin.ts";
import { SeededRandom } from "./random.ts";
import type { EndpointEvent } from "./types.ts";
import { NewReno } from "./congestion.ts";

const SERVER = { host: "10.0.0.1", port: 9000 };
const CLIENT = { host: "10.0.0.2", port: 40000 };

interface Pair {
  sim: Simulator;
  server: Endpoint;
  client: Endpoint;
  serverPeer: Peer;
  clientPeer: Peer;
  serverEvents: EndpointEvent<Peer>[];
  clientEvents: EndpointEvent<Peer>[];
  pump(): void;
}

function drain(ep: Endpoint, into: EndpointEvent<Peer>[]): void {
  for (let e = ep.pollEvent(); e !== undefined; e = ep.pollEvent()) into.push(e);
}

/** A client and a server connected over a 1 ms simulated link. */
function connectedPair(serverExtra: Partial<EndpointConfig> = {}, clientExtra: Partial<EndpointConfig> = {}): Pair {
  const sim = new Simulator({ seed: 7, link: { latencyMs: 1 } });
  const server = new Endpoint({ random: new SeededRandom(1), insecurePlaintext: true, acceptConnections: true, ...serverExtra });
  const client = new Endpoint({ random: new SeededRandom(2), insecurePlaintext: true, ...clientExtra });
  sim.addNode(server, SERVER);
  sim.addNode(client, CLIENT);
  const clientPeer = client.connect(sim.now, SERVER);
  const serverEvents: EndpointEvent<Peer>[] = [];
  const clientEvents: EndpointEvent<Peer>[] = [];
  const pump = (): void => {
    drain(server, serverEvents);
    drain(client, clientEvents);
  };
  const ok = sim.runUntil(() => {
    pump();
    return serverEvents.some((e) => e.type === "connected") && clientEvents.some((e) => e.type === "connected");
  }, { maxMs: 2000 });
  expect(ok).toBe(true);
  const serverPeer = serverEvents.find((e) => e.type === "connected")!.peer;
  return { sim, server, client, serverPeer, clientPeer, serverEvents, clientEvents, pump };
}

function thrown(fn: () => unknown): FastnetError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FastnetError);
  expect((err as FastnetError).name).toBe("FastnetError");
  return err as FastnetError;
}

function expectCode(fn: () => unknown, code: ErrorCode, mention?: string): void {
  const err = thrown(fn);
  expect(err.code).toBe(code);
  if (mention !== undefined) expect(err.message).toContain(mention);
}

/** After a rejected call the pair still delivers a message. */
function stillWorks(p: Pair): void {
  p.client.send(p.clientPeer, 0, new Uint8Array([42]));
  const ok = p.sim.runUntil(() => {
    p.pump();
    return p.serverEvents.some((e) => e.type === "message" && e.data[0] === 42);
  }, { maxMs: 1000 });
  expect(ok).toBe(true);
}

describe("send arguments", () => {
  test.each<[string, unknown]>([
    ["4 (one past the last)", 4],
    ["-1", -1],
    ["1.5", 1.5],
    ["NaN", Number.NaN],
    ["a string", "0"],
  ])("channel %s → FASTNET_UNKNOWN_CHANNEL", (_name, channel) => {
    const p = connectedPair();
    expectCode(() => p.client.send(p.clientPeer, channel as number, new Uint8Array(1)), ErrorCode.UNKNOWN_CHANNEL, "'channel'");
    stillWorks(p);
  });

  test.each<[string, unknown]>([
    ["a string", "hello"],
    ["an ArrayBuffer", new ArrayBuffer(4)],
    ["a number array", [1, 2, 3]],
    ["a DataView", new DataView(new ArrayBuffer(2))],
    ["null", null],
    ["undefined", undefined],
  ])("data %s → FASTNET_INVALID_ARGUMENT", (_name, data) => {
    const p = connectedPair();
    expectCode(() => p.client.send(p.clientPeer, 0, data as Uint8Array), ErrorCode.INVALID_ARGUMENT, "'data'");
    stillWorks(p);
  });

  test.each<[string, unknown]>([
    ["negative", -1],
    ["NaN", Number.NaN],
    ["a string", "100"],
  ])("options.expiresInMs %s → FASTNET_INVALID_ARGUMENT", (_name, e) => {
    const p = connectedPair();
    expectCode(() => p.client.send(p.clientPeer, 0, new Uint8Array(1), { expiresInMs: e as number }), ErrorCode.INVALID_ARGUMENT, "expiresInMs");
  });

  test("a message over maxMessageSize → FASTNET_MESSAGE_TOO_LARGE; exactly maxMessageSize is accepted", () => {
    const p = connectedPair({}, { maxMessageSize: 5000 });
    expectCode(() => p.client.send(p.clientPeer, 0, new Uint8Array(5001)), ErrorCode.MESSAGE_TOO_LARGE, "5001");
    expect(p.client.send(p.clientPeer, 0, new Uint8Array(5000))).toBeGreaterThan(0);
    const ok = p.sim.runUntil(() => {
      p.pump();
      return p.serverEvents.some((e) => e.type === "message" && e.data.length === 5000);
    }, { maxMs: 1000 });
    expect(ok).toBe(true);
  });

  test("the peer's smaller maxMessageSize applies too", () => {
    const p = connectedPair({ maxMessageSize: 2000 });
    expectCode(() => p.client.send(p.clientPeer, 2, new Uint8Array(2001)), ErrorCode.MESSAGE_TOO_LARGE, "2000");
    stillWorks(p);
  });

  test("queuing beyond maxQueuedBytes → FASTNET_WINDOW_FULL; the queue drains and sending works again", () => {
    const p = connectedPair({}, { maxQueuedBytes: 10_000 });
    for (let i = 0; i < 10; i++) p.client.send(p.clientPeer, 0, new Uint8Array(1000));
    expectCode(() => p.client.send(p.clientPeer, 0, new Uint8Array(1000)), ErrorCode.WINDOW_FULL, "maxQueuedBytes");
    const drained = p.sim.runUntil(() => {
      p.pump();
      return p.clientPeer.stats().queuedBytes === 0;
    }, { maxMs: 2000 });
    expect(drained).toBe(true);
    expect(p.client.send(p.clientPeer, 0, new Uint8Array(1000))).toBeGreaterThan(0);
  });

  test("send before the connection is established → FASTNET_NOT_CONNECTED", () => {
    const client = new Endpoint({ random: new SeededRandom(3), insecurePlaintext: true });
    const peer = client.connect(0, SERVER);
    expect(peer.state).toBe("connecting");
    expectCode(() => client.send(peer, 0, new Uint8Array(1)), ErrorCode.NOT_CONNECTED, "connecting");
  });

  test("send after disconnect → FASTNET_NOT_CONNECTED", () => {
    const p = connectedPair();
    p.client.disconnect(p.clientPeer);
    expectCode(() => p.client.send(p.clientPeer, 0, new Uint8Array(1)), ErrorCode.NOT_CONNECTED);
  });

  test.each<[string, (p: Pair) => Peer]>([
    ["a peer of another endpoint", (p) => p.serverPeer],
    ["a plain object", () => ({ id: 0 }) as unknown as Peer],
    ["null", () => null as unknown as Peer],
  ])("send to %s → FASTNET_INVALID_ARGUMENT", (_name, pick) => {
    const p = connectedPair();
    expectCode(() => p.client.send(pick(p), 0, new Uint8Array(1)), ErrorCode.INVALID_ARGUMENT, "'peer'");
    expectCode(() => p.client.disconnect(pick(p)), ErrorCode.INVALID_ARGUMENT, "'peer'");
    stillWorks(p);
  });
});

describe("connect and close", () => {
  test.each<[string, unknown]>([
    ["null", null],
    ["a non-string host", { host: 1, port: 80 }],
    ["port 0", { host: "10.0.0.1", port: 0 }],
    ["port 65536", { host: "10.0.0.1", port: 65536 }],
    ["a fractional port", { host: "10.0.0.1", port: 80.5 }],
    ["no port", { host: "10.0.0.1" }],
    ["a string address", "10.0.0.1:80"],
  ])("connect to %s → FASTNET_INVALID_ARGUMENT", (_name, to) => {
    const ep = new Endpoint({ random: new SeededRandom(4), insecurePlaintext: true });
    expectCode(() => ep.connect(0, to as never), ErrorCode.INVALID_ARGUMENT, "'to'");
    expect(ep.peers()).toEqual([]);
    expect(ep.connect(0, SERVER).state).toBe("connecting");
  });

  test("connect after close → FASTNET_CLOSED", () => {
    const ep = new Endpoint({ random: new SeededRandom(5), insecurePlaintext: true });
    ep.close();
    expect(ep.isClosed).toBe(true);
    expectCode(() => ep.connect(0, SERVER), ErrorCode.CLOSED, "closed");
  });

  test("close tells connected peers, then send → FASTNET_NOT_CONNECTED", () => {
    const p = connectedPair();
    p.client.close();
    expectCode(() => p.client.send(p.clientPeer, 0, new Uint8Array(1)), ErrorCode.NOT_CONNECTED);
    const ok = p.sim.runUntil(() => {
      p.pump();
      return p.serverEvents.some((e) => e.type === "disconnected" && e.reason === "closed-by-peer");
    }, { maxMs: 1000 });
    expect(ok).toBe(true);
  });

  test("more connections than maxPeers → FASTNET_TOO_MANY_PEERS", () => {
    const ep = new Endpoint({ random: new SeededRandom(6), insecurePlaintext: true, maxPeers: 2 });
    ep.connect(0, SERVER);
    ep.connect(0, { host: "10.0.0.3", port: 1 });
    expectCode(() => ep.connect(0, { host: "10.0.0.4", port: 1 }), ErrorCode.TOO_MANY_PEERS, "maxPeers");
  });
});

describe("plugin registration", () => {
  const sched = (name: string): Scheduler => ({ name, pick: () => -1 });
  const cc = (): Plugin["congestion"] => (_peer, mtu) => new NewReno({ mtu });
  test.each<[string, unknown[], ErrorCode, string]>([
    ["no name", [{}], ErrorCode.INVALID_PLUGIN, "name"],
    ["an empty name", [{ name: "" }], ErrorCode.INVALID_PLUGIN, "name"],
    ["a non-string name", [{ name: 5 }], ErrorCode.INVALID_PLUGIN, "name"],
    ["not an object", [null], ErrorCode.INVALID_PLUGIN, "name"],
    ["a duplicate name", [{ name: "a" }, { name: "a" }], ErrorCode.INVALID_PLUGIN, "'a'"],
    ["two schedulers", [{ name: "s1", scheduler: sched("x") }, { name: "s2", scheduler: sched("y") }], ErrorCode.SLOT_TAKEN, "scheduler"],
    ["two congestion controllers", [{ name: "c1", congestion: cc() }, { name: "c2", congestion: cc() }], ErrorCode.SLOT_TAKEN, "congestion"],
    ["two secure handshakes", [{ name: "t1", secureHandshake: true }, { name: "t2", secureHandshake: true }], ErrorCode.SLOT_TAKEN, "secure"],
    ["a hook that is not a function", [{ name: "h", onTick: 5 }], ErrorCode.INVALID_PLUGIN, "'onTick'"],
    ["a negative datagramOverhead", [{ name: "o", datagramOverhead: -1 }], ErrorCode.INVALID_PLUGIN, "datagramOverhead"],
    ["a fractional datagramOverhead", [{ name: "o", datagramOverhead: 1.5 }], ErrorCode.INVALID_PLUGIN, "datagramOverhead"],
  ])("%s", (_name, plugins, code, mention) => {
    expectCode(() => new Endpoint({ random: new SeededRandom(8), insecurePlaintext: true, plugins: plugins as Plugin[] }), code, mention);
  });

  test("one plugin per slot, with distinct names, is accepted and initialised once", () => {
    let inits = 0;
    const plugins: Plugin[] = [
      { name: "s", scheduler: sched("s"), init: () => void inits++ },
      { name: "c", congestion: cc(), init: () => void inits++ },
      { name: "t", secureHandshake: true },
    ];
    const ep = new Endpoint({ random: new SeededRandom(9), plugins });
    expect(ep.channelCount).toBe(4);
    expect(inits).toBe(2);
  });
});
