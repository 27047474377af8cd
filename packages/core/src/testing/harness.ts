/**
 * Test harness for plugin authors (and for the plugin contract): a server and
 * a client Endpoint wired through the deterministic Simulator, connected, with
 * per-side event logs, optional capture of every datagram's bytes, and small
 * run helpers. Everything is seeded: the same options give the same run.
 */
import type { EndpointConfig } from "../protocol/config.ts";
import { Endpoint } from "../protocol/endpoint.ts";
import type { Peer, Plugin } from "../protocol/plugin.ts";
import { SeededRandom } from "../protocol/random.ts";
import type { Address, EndpointEvent, Transmit } from "../protocol/types.ts";
import type { LinkConfig } from "../sim/link.ts";
import { Simulator, type SimEndpoint, type SimNode } from "../sim/simulator.ts";

/** Where createPair puts the server. */
export const SERVER_ADDRESS: Address = Object.freeze({ host: "10.0.0.1", port: 4000 });
/** Where createPair puts the client. */
export const CLIENT_ADDRESS: Address = Object.freeze({ host: "10.0.0.2", port: 5000 });

export type Side = "server" | "client";

export interface PairOptions {
  /** Seed of the simulator and of both endpoints' random sources (uint32). Default 1. */
  seed?: number;
  /** Impairments of both link directions. Default: perfect, 0 ms. */
  link?: LinkConfig;
  /**
   * Server endpoint configuration over the harness defaults (`random` seeded from `seed`,
   * `acceptConnections: true`, `insecurePlaintext` unless a plugin fills the secure-handshake slot).
   */
  server?: Partial<EndpointConfig>;
  /** Client endpoint configuration over the same defaults (without acceptConnections). */
  client?: Partial<EndpointConfig>;
  /** Record every datagram's fate in `sim.trace` (needed for `sim.traceHash()`). Default true. */
  trace?: boolean;
  /** Keep a copy of every datagram's bytes in `captured`. Default false. */
  capture?: boolean;
  /** createPair: virtual time allowed for connecting, ms. Default 10,000. */
  connectTimeoutMs?: number;
  /** Passed to the Simulator: events at one virtual instant before a livelock is declared. Default 200,000. */
  maxEventsPerInstant?: number;
}

/** One datagram as it left an endpoint (after every seal transform). */
export interface CapturedDatagram {
  /** Virtual send time, ms. */
  t: number;
  from: Side;
  to: Address;
  bytes: Uint8Array;
}

/** Two endpoints on a simulator, not yet connected (see createUnconnectedPair). */
export interface SimPair {
  readonly sim: Simulator;
  readonly server: Endpoint;
  readonly client: Endpoint;
  readonly serverAddress: Address;
  readonly clientAddress: Address;
  readonly serverNode: SimNode;
  readonly clientNode: SimNode;
  /** Every event pulled from the server so far (drainEvents appends; clear it freely). */
  readonly serverEvents: EndpointEvent<Peer>[];
  readonly clientEvents: EndpointEvent<Peer>[];
  /** Datagrams sent by either endpoint, when the `capture` option is on. */
  readonly captured: CapturedDatagram[];
  /** Pulls pending events of both endpoints into the logs; returns the new ones. */
  drainEvents(): { server: EndpointEvent<Peer>[]; client: EndpointEvent<Peer>[] };
  /**
   * Runs the simulator until `predicate` holds (events are drained before every check) or
   * `maxMs` of virtual time pass (default 10,000). Returns whether it held.
   */
  runUntil(predicate: () => boolean, maxMs?: number): boolean;
  /** Runs the simulator for `ms` of virtual time, then drains events. */
  runFor(ms: number): void;
  /** Starts connecting the client to the server; returns the client's peer (state "connecting"). */
  connect(): Peer;
  /** Data of the message events `side` received so far, optionally only on `channel`. */
  messages(side: Side, channel?: number): Uint8Array[];
  /** Disconnected events of `side` so far. */
  disconnects(side: Side): Extract<EndpointEvent<Peer>, { type: "disconnected" }>[];
}

/** A connected pair: `serverPeer` is the client as the server sees it, `clientPeer` the server as the client sees it. */
export interface Pair extends SimPair {
  readonly serverPeer: Peer;
  readonly clientPeer: Peer;
}

function endpointConfig(seed: number, salt: number, server: boolean, extra: Partial<EndpointConfig> | undefined): EndpointConfig {
  const plugins: Plugin[] = extra?.plugins ?? [];
  const secure = plugins.some((p) => p !== null && typeof p === "object" && p.secureHandshake === true);
  return {
    random: new SeededRandom((seed ^ salt) >>> 0),
    insecurePlaintext: !secure,
    ...(server ? { acceptConnections: true } : {}),
    ...extra,
  };
}

/** Wraps an endpoint for the simulator so that outgoing datagrams can be captured. */
function simView(endpoint: Endpoint, side: Side, sim: () => Simulator, captured: CapturedDatagram[] | null): SimEndpoint {
  if (captured === null) return endpoint;
  return {
    handleDatagram: (now, from, data) => endpoint.handleDatagram(now, from, data),
    handleTimeout: (now) => endpoint.handleTimeout(now),
    pollTimeout: () => endpoint.pollTimeout(),
    pollTransmit: (now: number, buf: Uint8Array): Transmit | null => {
      const tx = endpoint.pollTransmit(now, buf);
      if (tx !== null) captured.push({ t: sim().now, from: side, to: { host: tx.to.host, port: tx.to.port }, bytes: buf.slice(0, tx.size) });
      return tx;
    },
  };
}

/** Builds a server and a client endpoint on a fresh simulator without connecting them. */
export function createUnconnectedPair(options: PairOptions = {}): SimPair {
  const seed = options.seed ?? 1;
  const sim = new Simulator({
    seed,
    trace: options.trace ?? true,
    maxEventsPerInstant: options.maxEventsPerInstant ?? 200_000,
    ...(options.link !== undefined ? { link: options.link } : {}),
  });
  const server = new Endpoint(endpointConfig(seed, 0x5e5e5e5e, true, options.server));
  const client = new Endpoint(endpointConfig(seed, 0x3c3c3c3c, false, options.client));
  const captured: CapturedDatagram[] = [];
  const capture = options.capture === true ? captured : null;
  const serverNode = sim.addNode(simView(server, "server", () => sim, capture), SERVER_ADDRESS);
  const clientNode = sim.addNode(simView(client, "client", () => sim, capture), CLIENT_ADDRESS);
  const serverEvents: EndpointEvent<Peer>[] = [];
  const clientEvents: EndpointEvent<Peer>[] = [];

  const drainEvents = (): { server: EndpointEvent<Peer>[]; client: EndpointEvent<Peer>[] } => {
    const fresh = { server: [] as EndpointEvent<Peer>[], client: [] as EndpointEvent<Peer>[] };
    for (let ev = server.pollEvent(); ev !== undefined; ev = server.pollEvent()) fresh.server.push(ev);
    for (let ev = client.pollEvent(); ev !== undefined; ev = client.pollEvent()) fresh.client.push(ev);
    serverEvents.push(...fresh.server);
    clientEvents.push(...fresh.client);
    return fresh;
  };
  const log = (side: Side): EndpointEvent<Peer>[] => (side === "server" ? serverEvents : clientEvents);

  return {
    sim,
    server,
    client,
    serverAddress: SERVER_ADDRESS,
    clientAddress: CLIENT_ADDRESS,
    serverNode,
    clientNode,
    serverEvents,
    clientEvents,
    captured,
    drainEvents,
    runUntil(predicate, maxMs = 10_000) {
      const held = sim.runUntil(() => {
        drainEvents();
        return predicate();
      }, { maxMs });
      drainEvents();
      return held;
    },
    runFor(ms) {
      sim.runFor(ms);
      drainEvents();
    },
    connect() {
      const peer = client.connect(sim.now, SERVER_ADDRESS);
      sim.flush();
      return peer;
    },
    messages(side, channel) {
      const out: Uint8Array[] = [];
      for (const ev of log(side)) {
        if (ev.type === "message" && (channel === undefined || ev.channel === channel)) out.push(ev.data);
      }
      return out;
    },
    disconnects(side) {
      return log(side).filter((ev): ev is Extract<EndpointEvent<Peer>, { type: "disconnected" }> => ev.type === "disconnected");
    },
  };
}

/**
 * Builds a server and a client endpoint on a fresh simulator and connects them.
 * Throws (naming what the client saw) when they do not connect within connectTimeoutMs.
 *
 * ```ts
 * const pair = createPair({ seed: 7, link: { latencyMs: 10, loss: 0.05 }, server: { plugins: [myPlugin()] }, client: { plugins: [myPlugin()] } });
 * pair.server.send(pair.serverPeer, 0, new Uint8Array([1, 2, 3]));
 * pair.runUntil(() => pair.messages("client", 0).length === 1);
 * ```
 */
export function createPair(options: PairOptions = {}): Pair {
  const pair = createUnconnectedPair(options);
  const clientPeer = pair.connect();
  let serverPeer: Peer | undefined;
  const ok = pair.runUntil(() => {
    if (serverPeer === undefined) {
      for (const ev of pair.serverEvents) if (ev.type === "connected") serverPeer = ev.peer;
    }
    return (serverPeer !== undefined && clientPeer.state === "connected") || clientPeer.state === "disconnected";
  }, options.connectTimeoutMs ?? 10_000);
  if (!ok || serverPeer === undefined || clientPeer.state !== "connected") {
    const ended = pair.disconnects("client")[0];
    const why = ended !== undefined
      ? `the client got 'disconnected' (${ended.reason}${ended.detail !== undefined ? `: ${ended.detail}` : ""})`
      : `client state '${clientPeer.state}', server ${serverPeer === undefined ? "never saw 'connected'" : "connected"}`;
    throw new Error(`createPair: the endpoints did not connect within ${options.connectTimeoutMs ?? 10_000} ms: ${why}`);
  }
  return { ...pair, serverPeer, clientPeer };
}
