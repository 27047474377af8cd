/**
 * Seeded, deterministic network simulator with a virtual clock. It drives
 * sans-IO endpoints (ARCHITECTURE.md §3): delivers datagrams through impaired
 * links (see link.ts), fires endpoint timeouts at their deadlines and pulls
 * every endpoint's output into the network. Same seed and same inputs give the
 * same run, event for event.
 */
import { argError, configError } from "../protocol/errors.ts";
import { SeededRandom } from "../protocol/random.ts";
import type { Address, Transmit } from "../protocol/types.ts";
import { EventQueue } from "./event-queue.ts";
import {
  addStats, DEFAULT_LINK, resolveLink, zeroStats,
  type LinkConfig, type LinkStats, type ResolvedLinkConfig,
} from "./link.ts";
import { hashTrace, type TraceFate, type TraceRecord } from "./trace.ts";

/** What the simulator needs from an endpoint. The protocol's `Endpoint` satisfies it structurally. */
export interface SimEndpoint {
  /** Must not retain `data` after returning. */
  handleDatagram(now: number, from: Address, data: Uint8Array): void;
  /** Called when now >= pollTimeout(). */
  handleTimeout(now: number): void;
  /** Writes one datagram into buf[0, size); returns null when nothing is to be sent now. */
  pollTransmit(now: number, buf: Uint8Array): Transmit | null;
  /** Absolute deadline on the virtual clock, ms; Infinity if none. */
  pollTimeout(): number;
}

export interface SimulatorOptions {
  /** PRNG seed (uint32) for every random impairment. */
  seed: number;
  /** Default impairments of every link direction (setLink overrides per direction). Default: perfect, 0 ms. */
  link?: LinkConfig;
  /** Record every datagram's fate in `sim.trace`. Default false. */
  trace?: boolean;
  /** Events processed at one virtual instant before the run is declared a livelock. Default 1,000,000. */
  maxEventsPerInstant?: number;
  /** Datagrams pulled from one endpoint in one drain before it is declared a livelock. Default 1,000,000. */
  maxTransmitsPerDrain?: number;
}

/** Handle of a node returned by `addNode`. */
export interface SimNode {
  /** Index in `sim.nodes`, in order of addition. */
  readonly id: number;
  readonly address: Address;
  /** Canonical "host:port" ("[v6]:port" for IPv6), as used in traces. */
  readonly key: string;
  readonly endpoint: SimEndpoint;
}

/** Thrown when the run cannot make progress on the virtual clock (e.g. two echo nodes on a 0 ms link). */
export class SimLivelockError extends Error {
  readonly code = "FASTNET_SIM_LIVELOCK";
  constructor(message: string) {
    super(message);
    this.name = "SimLivelockError";
  }
}

/** Size of the scratch buffer handed to pollTransmit: the largest UDP payload. */
export const SIM_SCRATCH_SIZE = 65536;

class Link {
  config: ResolvedLinkConfig;
  readonly stats: LinkStats = zeroStats();
  /** Destination node, kept current by addNode so arrivals need no Map lookup. */
  toNode: NodeState | null = null;
  /** Virtual time at which the bandwidth queue finishes serializing what it holds. */
  busyUntil = 0;
  /** Gilbert-Elliott state. */
  bad = false;
  constructor(readonly fromKey: string, readonly toKey: string, config: ResolvedLinkConfig) {
    this.config = config;
  }
}

class NodeState implements SimNode {
  /** Generation of the live timeout event; older heap entries are stale and skipped. */
  armGen = 0;
  armed = false;
  armedDeadline = Infinity;
  /** One-entry route cache: endpoints usually send to the same peer again. */
  lastHost = "";
  lastPort = -1;
  lastLink: Link | null = null;
  constructor(
    readonly id: number,
    readonly address: Address,
    readonly key: string,
    readonly endpoint: SimEndpoint,
    readonly outLinks: Map<string, Link>,
  ) {}
}

const ARRIVAL = 0;
const TIMEOUT = 1;

/** One scheduled event; pooled, so fields are reset on release. */
class SimEvent {
  time = 0;
  seq = 0;
  kind = ARRIVAL;
  node: NodeState | null = null;
  gen = 0;
  link: Link | null = null;
  from: Address | null = null;
  data: Uint8Array | null = null;
  dup = false;
}

export class Simulator {
  /** Every datagram's fate, in order, when the `trace` option is on; otherwise stays empty. */
  readonly trace: TraceRecord[] = [];
  readonly tracing: boolean;
  private _now = 0;
  private readonly rng: SeededRandom;
  private readonly defaultLink: ResolvedLinkConfig;
  private readonly maxEventsPerInstant: number;
  private readonly maxTransmitsPerDrain: number;
  private readonly nodeList: NodeState[] = [];
  private readonly nodesByKey = new Map<string, NodeState>();
  /** fromKey -> toKey -> link. A node's inner map is also its `outLinks`. */
  private readonly links = new Map<string, Map<string, Link>>();
  private readonly queue = new EventQueue<SimEvent>();
  private readonly pool: SimEvent[] = [];
  private seq = 0;
  private readonly scratch = new Uint8Array(SIM_SCRATCH_SIZE);
  private instantTime = -1;
  private instantCount = 0;
  private running = false;

  constructor(options: SimulatorOptions) {
    if (typeof options !== "object" || options === null) throw configError("options", "an object", options);
    const { seed } = options;
    if (typeof seed !== "number" || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw configError("seed", "an integer in [0, 2^32)", seed);
    }
    this.rng = new SeededRandom(seed);
    this.defaultLink = resolveLink(DEFAULT_LINK, options.link, "link");
    this.tracing = options.trace === true;
    this.maxEventsPerInstant = positiveInt(options.maxEventsPerInstant, "maxEventsPerInstant", 1_000_000);
    this.maxTransmitsPerDrain = positiveInt(options.maxTransmitsPerDrain, "maxTransmitsPerDrain", 1_000_000);
  }

  /** Virtual time, ms. Starts at 0. */
  get now(): number {
    return this._now;
  }

  get nodes(): readonly SimNode[] {
    return this.nodeList;
  }

  /** Attaches `endpoint` at `address`. Its output is pulled at the next step, runFor, runUntil or flush. */
  addNode(endpoint: SimEndpoint, address: Address): SimNode {
    if (
      typeof endpoint !== "object" || endpoint === null ||
      typeof endpoint.handleDatagram !== "function" || typeof endpoint.handleTimeout !== "function" ||
      typeof endpoint.pollTransmit !== "function" || typeof endpoint.pollTimeout !== "function"
    ) {
      throw argError("endpoint", "an object with handleDatagram, handleTimeout, pollTransmit and pollTimeout", endpoint);
    }
    const key = addressKey(address, "address");
    if (this.nodesByKey.has(key)) throw argError("address", "an address with no node yet", key);
    let outLinks = this.links.get(key);
    if (outLinks === undefined) {
      outLinks = new Map();
      this.links.set(key, outLinks);
    }
    // Frozen copy: endpoints may keep the `from` address they are handed.
    const frozen: Address = Object.freeze({ host: address.host, port: address.port });
    const node = new NodeState(this.nodeList.length, frozen, key, endpoint, outLinks);
    this.nodeList.push(node);
    this.nodesByKey.set(key, node);
    for (const inner of this.links.values()) {
      const link = inner.get(key);
      if (link !== undefined) link.toNode = node;
    }
    return node;
  }

  /** Overrides impairments of the direction from -> to (merged over its current configuration). */
  setLink(from: Address, to: Address, config: LinkConfig): void {
    const link = this.getLink(addressKey(from, "from"), addressKey(to, "to"));
    link.config = resolveLink(link.config, config, "config");
  }

  /** The effective configuration of the direction from -> to (a copy). */
  linkConfig(from: Address, to: Address): ResolvedLinkConfig {
    return { ...this.getLink(addressKey(from, "from"), addressKey(to, "to")).config };
  }

  /** Counters of the direction from -> to (a snapshot). */
  linkStats(from: Address, to: Address): LinkStats {
    return { ...this.getLink(addressKey(from, "from"), addressKey(to, "to")).stats };
  }

  /** Counters summed over every link (a snapshot). */
  stats(): LinkStats {
    const total = zeroStats();
    for (const inner of this.links.values()) for (const link of inner.values()) addStats(total, link.stats);
    return total;
  }

  /** FNV-1a hash of the trace; requires the `trace` option. */
  traceHash(): string {
    if (!this.tracing) throw configError("trace", "true to use traceHash()", false);
    return hashTrace(this.trace);
  }

  /**
   * Places raw bytes from `from` (any address, node or not) on the wire to `to`,
   * arriving at virtual time `atMs` (default now) untouched by link impairments.
   * For fuzz and attack tests. The bytes are copied.
   */
  inject(from: Address, to: Address, bytes: Uint8Array, atMs?: number): void {
    const fromKey = addressKey(from, "from");
    const toKey = addressKey(to, "to");
    if (!(bytes instanceof Uint8Array)) throw argError("bytes", "a Uint8Array", bytes);
    const at = atMs ?? this._now;
    if (typeof at !== "number" || !(at >= this._now) || at === Infinity) {
      throw argError("atMs", `a finite time >= now (${this._now})`, atMs);
    }
    const link = this.getLink(fromKey, toKey);
    link.stats.injected++;
    const fromNode = this.nodesByKey.get(fromKey);
    const fromAddr = fromNode !== undefined ? fromNode.address : Object.freeze({ host: from.host, port: from.port });
    this.scheduleArrival(at, link, fromAddr, bytes.slice(), false);
  }

  /** Pulls pending output of every node into the network and re-reads their deadlines. */
  flush(): void {
    this.enter();
    try {
      this.flushAll();
    } finally {
      this.running = false;
    }
  }

  /** Virtual time of the next pending event, or Infinity when nothing is scheduled. */
  nextEventTime(): number {
    const ev = this.peekLive();
    return ev === undefined ? Infinity : ev.time;
  }

  /**
   * Flushes every node, then advances the clock to the next event (a datagram
   * arrival or an endpoint deadline) and processes it. Returns false when
   * nothing is left to do.
   */
  step(): boolean {
    this.enter();
    try {
      this.flushAll();
      const ev = this.peekLive();
      if (ev === undefined) return false;
      this.queue.pop();
      this.process(ev);
      return true;
    } finally {
      this.running = false;
    }
  }

  /** Processes every event up to now + ms, then sets the clock to now + ms. */
  runFor(ms: number): void {
    if (typeof ms !== "number" || !(ms >= 0) || ms === Infinity) throw argError("ms", "a finite number >= 0", ms);
    this.enter();
    try {
      const end = this._now + ms;
      // Between events only the endpoint just touched can have new output, so one full flush suffices.
      this.flushAll();
      for (;;) {
        const ev = this.peekLive();
        if (ev === undefined || ev.time > end) break;
        this.queue.pop();
        this.process(ev);
      }
      this._now = end;
    } finally {
      this.running = false;
    }
  }

  /**
   * Processes events until `predicate` holds (checked before the first event and
   * after each one), or until maxMs of virtual time pass. Returns whether it held;
   * on success the clock stays at the event that satisfied it. Nodes are flushed
   * after every predicate call, so a predicate that reacts by sending is picked up.
   */
  runUntil(predicate: () => boolean, options: { maxMs: number }): boolean {
    if (typeof predicate !== "function") throw argError("predicate", "a function", predicate);
    const maxMs = typeof options === "object" && options !== null ? options.maxMs : undefined;
    if (typeof maxMs !== "number" || !(maxMs >= 0) || maxMs === Infinity) {
      throw argError("options.maxMs", "a finite number >= 0", maxMs);
    }
    this.enter();
    try {
      const end = this._now + maxMs;
      this.flushAll();
      if (predicate()) return true;
      // The predicate may have sent: that output leaves now, not at the next timer.
      this.flushAll();
      for (;;) {
        const ev = this.peekLive();
        if (ev === undefined || ev.time > end) break;
        this.queue.pop();
        this.process(ev);
        if (predicate()) return true;
        this.flushAll();
      }
      this._now = end;
      return predicate();
    } finally {
      this.running = false;
    }
  }

  private enter(): void {
    if (this.running) {
      throw argError("this", "a simulator that is not already running (do not drive it from an endpoint or predicate)", "running");
    }
    this.running = true;
  }

  private flushAll(): void {
    const nodes = this.nodeList;
    for (let i = 0; i < nodes.length; i++) this.drain(nodes[i]!);
  }

  private getLink(fromKey: string, toKey: string): Link {
    let inner = this.links.get(fromKey);
    if (inner === undefined) {
      inner = new Map();
      this.links.set(fromKey, inner);
    }
    let link = inner.get(toKey);
    if (link === undefined) {
      link = new Link(fromKey, toKey, { ...this.defaultLink });
      link.toNode = this.nodesByKey.get(toKey) ?? null;
      inner.set(toKey, link);
    }
    return link;
  }

  /** Top of the queue after discarding stale timeout entries (lazy deletion). */
  private peekLive(): SimEvent | undefined {
    const queue = this.queue;
    for (;;) {
      const ev = queue.peek();
      if (ev === undefined || ev.kind === ARRIVAL) return ev;
      const node = ev.node!;
      if (node.armed && ev.gen === node.armGen) return ev;
      queue.pop();
      this.release(ev);
    }
  }

  private process(ev: SimEvent): void {
    const time = ev.time;
    if (time === this.instantTime) {
      if (++this.instantCount > this.maxEventsPerInstant) {
        throw new SimLivelockError(
          `more than ${this.maxEventsPerInstant} events at virtual time ${time} ms: an endpoint keeps a deadline ` +
            `in the past or nodes exchange datagrams over a 0 ms link forever`,
        );
      }
    } else {
      this.instantTime = time;
      this.instantCount = 1;
    }
    this._now = time;
    if (ev.kind === ARRIVAL) {
      const link = ev.link!;
      const from = ev.from!;
      const data = ev.data!;
      const dup = ev.dup;
      this.release(ev);
      this.deliver(link, from, data, dup);
    } else {
      const node = ev.node!;
      this.release(ev);
      node.armed = false;
      // The endpoint may have moved its deadline later since this entry was armed.
      if (node.endpoint.pollTimeout() <= time) node.endpoint.handleTimeout(time);
      this.drain(node);
    }
  }

  private deliver(link: Link, from: Address, data: Uint8Array, dup: boolean): void {
    const node = link.toNode;
    const stats = link.stats;
    if (node === null) {
      stats.noRoute++;
      if (this.tracing) this.record(link, data.length, "no-route");
      return;
    }
    stats.delivered++;
    stats.bytesDelivered += data.length;
    if (this.tracing) this.record(link, data.length, dup ? "duplicated" : "delivered");
    node.endpoint.handleDatagram(this._now, from, data);
    this.drain(node);
  }

  /** Pulls every datagram the endpoint has for now into the network, then re-arms its deadline. */
  private drain(node: NodeState): void {
    const endpoint = node.endpoint;
    const buf = this.scratch;
    const limit = this.maxTransmitsPerDrain;
    for (let n = 0; ; n++) {
      const tx = endpoint.pollTransmit(this._now, buf);
      if (tx === null) break;
      if (n >= limit) {
        throw new SimLivelockError(`node ${node.key} produced more than ${limit} datagrams in one drain`);
      }
      const size = tx.size;
      if (!Number.isInteger(size) || size < 0 || size > buf.length) {
        throw argError("transmit.size", `an integer in [0, ${buf.length}] from node ${node.key}`, size);
      }
      const to = tx.to;
      let link = node.lastLink;
      if (link === null || to.host !== node.lastHost || to.port !== node.lastPort) {
        link = this.getLink(node.key, addressKey(to, "transmit.to"));
        node.lastLink = link;
        node.lastHost = to.host;
        node.lastPort = to.port;
      }
      this.send(link, node.address, size);
    }
    this.arm(node);
  }

  private arm(node: NodeState): void {
    const deadline = node.endpoint.pollTimeout();
    if (!(deadline < Infinity)) {
      node.armed = false;
      return;
    }
    if (node.armed && node.armedDeadline === deadline) return;
    node.armed = true;
    node.armedDeadline = deadline;
    const ev = this.alloc();
    ev.time = deadline > this._now ? deadline : this._now;
    ev.kind = TIMEOUT;
    ev.node = node;
    ev.gen = ++node.armGen;
    this.queue.push(ev);
  }

  /** Runs one datagram (in the scratch buffer, `size` bytes) through the link's impairments. */
  private send(link: Link, from: Address, size: number): void {
    const c = link.config;
    const stats = link.stats;
    const rng = this.rng;
    const now = this._now;
    stats.sent++;
    stats.bytesSent += size;
    if (size > c.mtu) {
      stats.mtuDropped++;
      if (this.tracing) this.record(link, size, "mtu");
      return;
    }
    let departure = now;
    if (c.bandwidthBps !== Infinity) {
      // Bytes still waiting (or being serialized) follow from when the queue drains.
      const backlog = link.busyUntil > now ? ((link.busyUntil - now) * c.bandwidthBps) / 1000 : 0;
      if (backlog + size > c.queueLimitBytes) {
        stats.queueDropped++;
        if (this.tracing) this.record(link, size, "queue");
        return;
      }
      link.busyUntil = (link.busyUntil > now ? link.busyUntil : now) + (size * 1000) / c.bandwidthBps;
      departure = link.busyUntil;
    }
    let lost = false;
    const burst = c.burstLoss;
    if (burst !== undefined) {
      // Transition first, so the datagram is judged in the state it is sent in.
      if (link.bad) {
        if (rng.nextFloat() < burst.pBadToGood) link.bad = false;
      } else if (rng.nextFloat() < burst.pGoodToBad) {
        link.bad = true;
      }
      if (link.bad && rng.nextFloat() < burst.lossInBad) lost = true;
    }
    if (!lost && c.loss > 0 && rng.nextFloat() < c.loss) lost = true;
    if (lost) {
      stats.lost++;
      if (this.tracing) this.record(link, size, "lost");
      return;
    }
    const copies = c.duplicate > 0 && rng.nextFloat() < c.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = c.latencyMs;
      if (c.jitterMs > 0) {
        delay += (rng.nextFloat() * 2 - 1) * c.jitterMs;
        if (delay < 0) delay = 0;
      }
      if (c.reorder > 0 && rng.nextFloat() < c.reorder) {
        delay += c.reorderDelayMs;
        stats.reordered++;
      }
      if (i === 1) stats.duplicated++;
      // Each copy owns its bytes: the endpoint reuses the scratch buffer and may decrypt in place.
      this.scheduleArrival(departure + delay, link, from, this.scratch.slice(0, size), i === 1);
    }
  }

  private scheduleArrival(time: number, link: Link, from: Address, data: Uint8Array, dup: boolean): void {
    const ev = this.alloc();
    ev.time = time;
    ev.kind = ARRIVAL;
    ev.link = link;
    ev.from = from;
    ev.data = data;
    ev.dup = dup;
    this.queue.push(ev);
  }

  private record(link: Link, size: number, fate: TraceFate): void {
    this.trace.push({ t: this._now, from: link.fromKey, to: link.toKey, size, fate });
  }

  private alloc(): SimEvent {
    const ev = this.pool.pop() ?? new SimEvent();
    ev.seq = this.seq++;
    return ev;
  }

  private release(ev: SimEvent): void {
    // Drop references so pooled events do not keep datagrams or nodes alive.
    ev.node = null;
    ev.link = null;
    ev.from = null;
    ev.data = null;
    this.pool.push(ev);
  }
}

/** Canonical "host:port" key ("[host]:port" for IPv6), validating the address. */
export function addressKey(address: Address, name: string): string {
  if (typeof address !== "object" || address === null) throw argError(name, "an address { host, port }", address);
  const { host, port } = address;
  if (typeof host !== "string" || host.length === 0) throw argError(`${name}.host`, "a non-empty string", host);
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw argError(`${name}.port`, "an integer in [0, 65535]", port);
  }
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function positiveInt(v: unknown, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw configError(name, "an integer >= 1", v);
  return v;
}
