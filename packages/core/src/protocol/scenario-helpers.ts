/**
 * Test harness for the simulator scenario tests (scenarios.test.ts): builds a
 * server and clients (insecure-plaintext Endpoints on a seeded Simulator),
 * drains every endpoint's events into per-peer logs stamped with virtual time,
 * encodes numbered messages ("counters") whose filler detects corruption, and
 * pumps counter streams while keeping the sender's queue bounded. Test code
 * only; it lives beside the engine but keeps to its sans-IO rules.
 */
import type { LinkConfig } from "../sim/link.ts";
import { Simulator, type SimNode } from "../sim/simulator.ts";
import type { EndpointConfig } from "./config.ts";
import { Endpoint } from "./endpoint.ts";
import type { Peer } from "./plugin.ts";
import { SeededRandom } from "./random.ts";
import type { Address, DisconnectReason, SendOptions } from "./types.ts";
import {
  ChannelKindCode, DATA_HEADER_SIZE, FRAGMENT_FRAME_OVERHEAD, FrameType, OFF_SEQ, PacketType, REQUEST_FIXED,
  REQUEST_PADDED_SIZE, varintSize, writeHeader, writeU16, writeU32, writeVarint,
} from "./wire.ts";

export const SERVER_ADDRESS: Address = { host: "10.0.0.1", port: 4000 };

/** Address of the i-th client (0-based). */
export function clientAddress(i: number): Address {
  return { host: `10.0.1.${1 + (i >> 8)}`, port: 5000 + (i & 0xff) };
}

export interface LoggedMessage {
  channel: number;
  data: Uint8Array;
  /** Virtual time of arrival at the application, ms. */
  at: number;
  /** Position among all events of this endpoint. */
  order: number;
}

export interface LoggedDisconnect {
  reason: DisconnectReason;
  detail: string | undefined;
  at: number;
  order: number;
}

/** Everything one endpoint's application saw about one peer. */
export class PeerLog {
  connectedAt = -1;
  readonly messages: LoggedMessage[] = [];
  disconnected: LoggedDisconnect | undefined = undefined;
  constructor(readonly peer: Peer) {}

  /** Decoded counters of the messages received on `channel`, in arrival order (-1 = corrupted payload). */
  counters(channel: number): number[] {
    const out: number[] = [];
    for (const m of this.messages) if (m.channel === channel) out.push(decodeCounter(m.data));
    return out;
  }

  /** Number of messages received on `channel`. */
  count(channel: number): number {
    let n = 0;
    for (const m of this.messages) if (m.channel === channel) n++;
    return n;
  }
}

/** An endpoint attached to the simulator, with the logs of its peers in order of first sight. */
export class SimPeerNode {
  readonly logs: PeerLog[] = [];
  /** Events drained so far. */
  events = 0;
  private readonly byPeer = new Map<Peer, PeerLog>();
  constructor(readonly endpoint: Endpoint, readonly node: SimNode) {}

  get address(): Address {
    return this.node.address;
  }

  log(peer: Peer): PeerLog {
    let log = this.byPeer.get(peer);
    if (log === undefined) {
      log = new PeerLog(peer);
      this.byPeer.set(peer, log);
      this.logs.push(log);
    }
    return log;
  }

  /** Moves every pending event into the logs, stamped with `now`. */
  drain(now: number): void {
    for (let ev = this.endpoint.pollEvent(); ev !== undefined; ev = this.endpoint.pollEvent()) {
      const log = this.log(ev.peer);
      const order = this.events++;
      if (ev.type === "connected") log.connectedAt = now;
      else if (ev.type === "message") log.messages.push({ channel: ev.channel, data: ev.data, at: now, order });
      else log.disconnected = { reason: ev.reason, detail: ev.detail, at: now, order };
    }
  }
}

export interface ScenarioOptions {
  seed: number;
  /** Default impairments of every link direction. */
  link?: LinkConfig;
  trace?: boolean;
  /** Server endpoint options over the defaults (seeded random, insecure plaintext, accepting). */
  server?: Partial<EndpointConfig>;
}

/** A simulator with one server; clients are added with addClient. */
export class Scenario {
  readonly sim: Simulator;
  readonly server: SimPeerNode;
  readonly clients: SimPeerNode[] = [];
  private readonly nodes: SimPeerNode[] = [];
  private readonly seed: number;

  constructor(options: ScenarioOptions) {
    this.seed = options.seed;
    this.sim = new Simulator({ seed: options.seed, ...(options.link ? { link: options.link } : {}), trace: options.trace === true });
    this.server = this.attach(makeEndpoint(options.seed, 0, { acceptConnections: true, ...options.server }), SERVER_ADDRESS);
  }

  addClient(options?: Partial<EndpointConfig>, address: Address = clientAddress(this.clients.length)): SimPeerNode {
    const client = this.attach(makeEndpoint(this.seed, this.clients.length + 1, options ?? {}), address);
    this.clients.push(client);
    return client;
  }

  /** Starts `client` connecting to the server (or `to`); returns the client's log of that peer. */
  startConnect(client: SimPeerNode, to: Address = SERVER_ADDRESS): PeerLog {
    this.sync();
    return client.log(client.endpoint.connect(this.sim.now, to));
  }

  /**
   * Connects `client` and runs until both sides saw "connected" (or the client
   * saw a disconnect). Returns the client's and the server's logs of the new peer.
   */
  connect(client: SimPeerNode, maxMs = 10_000): { clientLog: PeerLog; serverLog: PeerLog | undefined } {
    const clientLog = this.startConnect(client);
    const known = this.server.logs.length;
    this.run(() => clientLog.disconnected !== undefined || (clientLog.connectedAt >= 0 && this.server.logs.length > known && this.server.logs[known]!.connectedAt >= 0), maxMs);
    return { clientLog, serverLog: this.server.logs[known] };
  }

  drain(): void {
    const now = this.sim.now;
    for (const n of this.nodes) n.drain(now);
  }

  /**
   * Runs until `until` holds or maxMs pass. Before every check, events are drained
   * into the logs and `each` runs (it may send; the simulator picks that up).
   */
  run(until: () => boolean, maxMs: number, each?: () => void): boolean {
    return this.sim.runUntil(() => {
      this.drain();
      each?.();
      return until();
    }, { maxMs });
  }

  /** Runs for exactly `ms` of virtual time, draining events (with their times) along the way. */
  runFor(ms: number, each?: () => void): void {
    this.run(() => false, ms, each);
  }

  /**
   * Pulls pending output and brings every endpoint's clock to sim.now. Call it before
   * an API call made between runs (send, disconnect), whose timestamps use the
   * endpoint's last known time.
   */
  sync(): void {
    this.sim.flush();
    this.drain();
  }

  private attach(endpoint: Endpoint, address: Address): SimPeerNode {
    const n = new SimPeerNode(endpoint, this.sim.addNode(endpoint, address));
    this.nodes.push(n);
    return n;
  }
}

/** A connected server + client pair. */
export interface Pair {
  sc: Scenario;
  sim: Simulator;
  client: SimPeerNode;
  /** The client's handle on the server and its log. */
  clientPeer: Peer;
  clientLog: PeerLog;
  /** The server's handle on the client and its log. */
  serverPeer: Peer;
  serverLog: PeerLog;
}

export interface PairOptions extends ScenarioOptions {
  client?: Partial<EndpointConfig>;
  /** Impairments applied only once connected (both directions). */
  linkAfterConnect?: LinkConfig;
  connectMaxMs?: number;
}

/** Builds a scenario with one client and connects it; throws (naming the seed) if that fails. */
export function connectedPair(options: PairOptions): Pair {
  const sc = new Scenario(options);
  const client = sc.addClient(options.client);
  const { clientLog, serverLog } = sc.connect(client, options.connectMaxMs ?? 10_000);
  if (clientLog.connectedAt < 0 || serverLog === undefined || serverLog.connectedAt < 0) {
    throw new Error(`seed ${options.seed}: the pair did not connect (client: ${clientLog.disconnected?.reason ?? "no event"})`);
  }
  if (options.linkAfterConnect) {
    sc.sim.setLink(client.address, SERVER_ADDRESS, options.linkAfterConnect);
    sc.sim.setLink(SERVER_ADDRESS, client.address, options.linkAfterConnect);
  }
  return { sc, sim: sc.sim, client, clientPeer: clientLog.peer, clientLog, serverPeer: serverLog.peer, serverLog };
}

/** An insecure test endpoint with a seeded random source derived from (seed, index). */
export function makeEndpoint(seed: number, index: number, options: Partial<EndpointConfig>): Endpoint {
  return new Endpoint({
    random: new SeededRandom((Math.imul(seed, 0x9e3779b1) + index * 0x85ebca6b) >>> 0),
    insecurePlaintext: true,
    ...options,
  });
}

// ---- Counters: numbered payloads ----

/** A `size`-byte payload (size >= 4) carrying `n` as a u32, then filler derived from n. */
export function counterPayload(n: number, size = 4): Uint8Array {
  const out = new Uint8Array(Math.max(4, size));
  writeU32(out, 0, n);
  for (let i = 4; i < out.length; i++) out[i] = (n + i * 31) & 0xff;
  return out;
}

/** The counter in a counterPayload, or -1 when the payload is short or its filler is corrupted. */
export function decodeCounter(data: Uint8Array): number {
  if (data.length < 4) return -1;
  const n = ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0;
  for (let i = 4; i < data.length; i++) if (data[i] !== ((n + i * 31) & 0xff)) return -1;
  return n;
}

/** Index of the first position where `got` differs from 0, 1, 2, ..., `total - 1`; -1 when equal. */
export function firstGap(got: readonly number[], total: number): number {
  const n = Math.min(got.length, total);
  for (let i = 0; i < n; i++) if (got[i] !== i) return i;
  return got.length === total ? -1 : n;
}

/** Short description of a counter sequence around index `at`, for assertion messages. */
export function around(got: readonly number[], at: number): string {
  const from = Math.max(0, at - 3);
  return `[${from}..]: ${got.slice(from, at + 4).join(", ")} (length ${got.length})`;
}

/**
 * Sends counters 0..total-1 on one channel, `size` bytes each, as fast as the
 * application may: pump() queues more only while the peer's unsent queue is
 * below maxQueuedBytes, as a well-behaved game would.
 */
export class CounterStream {
  next = 0;
  constructor(
    readonly endpoint: Endpoint,
    readonly peer: Peer,
    readonly channel: number,
    readonly total: number,
    readonly size: number,
    readonly maxQueuedBytes: number,
    readonly options?: SendOptions,
  ) {}

  get done(): boolean {
    return this.next >= this.total;
  }

  pump(): void {
    while (this.next < this.total && this.peer.state === "connected" && this.peer.stats().queuedBytes < this.maxQueuedBytes) {
      this.endpoint.send(this.peer, this.channel, counterPayload(this.next, this.size), this.options);
      this.next++;
    }
  }
}

// ---- Raw datagrams for injection ----

/**
 * A CONNECT_REQUEST as a default-configured client sends it: client id, receive
 * window, max message size, the channel kinds, an empty payload, padded.
 */
export function connectRequest(clientId: number, kinds: readonly (keyof typeof ChannelKindCode)[]): Uint8Array {
  const out = new Uint8Array(REQUEST_PADDED_SIZE);
  writeHeader(out, PacketType.CONNECT_REQUEST, 0, clientId);
  writeU32(out, 6, 4 << 20);
  writeU32(out, 10, 1 << 20);
  out[14] = kinds.length;
  for (let i = 0; i < kinds.length; i++) out[15 + i] = ChannelKindCode[kinds[i]!];
  writeU16(out, REQUEST_FIXED - 2 + kinds.length, 0);
  return out;
}

/** True when the two byte arrays are equal. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A DATA datagram from a client to the server (connection id `connectionId`, the
 * server's id of that client) with packet sequence `packetSeq`, no ack, and one
 * FRAGMENT frame: part `index` of `count` of message `messageSeq` on `channel`.
 */
export function fragmentDatagram(
  connectionId: number, packetSeq: number, channel: number, messageSeq: number, index: number, count: number, part: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(DATA_HEADER_SIZE + FRAGMENT_FRAME_OVERHEAD + varintSize(part.length) + part.length);
  writeHeader(out, PacketType.DATA, 0, connectionId);
  writeU16(out, OFF_SEQ, packetSeq);
  let off = DATA_HEADER_SIZE;
  out[off] = FrameType.FRAGMENT;
  out[off + 1] = channel;
  writeU16(out, off + 2, messageSeq);
  writeU16(out, off + 4, index);
  writeU16(out, off + 6, count);
  off = writeVarint(out, off + 8, part.length);
  out.set(part, off);
  return out;
}
