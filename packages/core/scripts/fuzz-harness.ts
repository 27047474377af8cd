/**
 * Fuzz harness for the protocol engine's datagram parsers, shared by the
 * bounded suite (src/protocol/fuzz.test.ts) and the long-running script
 * (scripts/fuzz.ts), so both use the same generators and the same checks.
 *
 * A World is a server with two connected clients on the deterministic
 * simulator: client A is the fuzz target (forged datagrams arrive at the
 * server from A's address with A's connection id, and at A from the server's
 * address with A's id), client B is a bystander that must never notice.
 * Every endpoint is wrapped in an audit that checks, for each datagram it
 * handles (forged or real): handleDatagram does not throw; the datagram is
 * either accepted (a packet received, an event, a handshake change, a reply)
 * or counted in stats().drops; reassembly memory of every peer stays under
 * receiveWindowBytes + receiveWindowBytes/16 + 65536. At the end of a World
 * the bystander must have received every reliable message in order, and the
 * target connection must either still deliver or have ended with an event
 * (forged but well-formed packets can legitimately break a plaintext
 * connection, never silently wedge it).
 *
 * Generators are fast-check arbitraries: (a) random bytes of length 0..1500,
 * (b) mutations of real datagrams captured from a simulator run that used all
 * four default channels and fragmented messages.
 */
import fc from "fast-check";
import { Endpoint, type EndpointConfig, SeededRandom } from "../src/protocol/index.ts";
import type { Peer } from "../src/protocol/plugin.ts";
import type { Address, DropReason, EndpointEvent, Transmit } from "../src/protocol/types.ts";
import { DROP_REASONS } from "../src/protocol/types.ts";
import {
  DATA_HEADER_SIZE, FrameType, HEADER_SIZE, MAX_DATAGRAM, OFF_ACK, OFF_ACK_BITS, OFF_ACK_DELAY, OFF_SEQ, PacketType,
  VERSION_BYTE, readU16, writeU16, writeU32,
} from "../src/protocol/wire.ts";
import { type SimEndpoint, Simulator } from "../src/sim/index.ts";

export const SERVER_ADDR: Address = { host: "10.0.0.1", port: 9000 };
export const A_ADDR: Address = { host: "10.0.0.2", port: 40000 };
export const B_ADDR: Address = { host: "10.0.0.3", port: 40001 };
export const STRANGER_ADDR: Address = { host: "192.0.2.66", port: 666 };

/** A check failed. `input` is the datagram being handled, if any; the message carries it in hex. */
export class FuzzFailure extends Error {
  constructor(message: string, readonly input?: Uint8Array, options?: { cause?: unknown }) {
    super(input === undefined ? message : `${message}\ninput (${input.length} bytes, hex): ${hex(input)}`, options);
    this.name = "FuzzFailure";
  }
}

export function hex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += bytes[i]!.toString(16).padStart(2, "0");
  return s;
}

export function zeroDrops(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
}

function sumDrops(d: Record<DropReason, number>): number {
  let n = 0;
  for (const r of DROP_REASONS) n += d[r];
  return n;
}

export function memoryCap(receiveWindowBytes: number): number {
  return receiveWindowBytes + (receiveWindowBytes >>> 4) + 65536;
}

/** Deterministic bytes from a seed (fast: fast-check only draws the seed and the length). */
export function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  new SeededRandom(seed).fill(out);
  return out;
}

/**
 * Wraps an Endpoint for the simulator and audits every datagram it handles.
 * Output produced while handling a datagram is pulled at once (to attribute
 * it to that datagram) and handed to the simulator on its next pollTransmit.
 */
export class AuditedEndpoint implements SimEndpoint {
  /** Peers whose received packets and reassembly memory are checked. */
  readonly watched: Peer[] = [];
  /** The fuzzed connection on this endpoint and a model of its ReceivedWindow.largest. */
  focus: Peer | undefined;
  largest = -1;
  handled = 0;
  private readonly pending: { to: Address; data: Uint8Array }[] = [];
  private readonly scratch = new Uint8Array(MAX_DATAGRAM + 1);
  private readonly tx: Transmit = { to: { host: "", port: 0 }, size: 0 };
  private readonly cap: number;

  constructor(readonly ep: Endpoint, private readonly onEvent: (e: EndpointEvent<Peer>) => void) {
    this.cap = memoryCap(ep.cfg.receiveWindowBytes);
  }

  handleDatagram(now: number, from: Address, data: Uint8Array): void {
    const ep = this.ep;
    const before = ep.stats();
    const received = this.watched.map((p) => p.stats().packetsReceived);
    const watchedBefore = this.watched.length;
    const focusBefore = this.focus === undefined ? 0 : this.focus.stats().packetsReceived;
    this.handled++;
    try {
      ep.handleDatagram(now, from, data);
    } catch (e) {
      throw new FuzzFailure(`handleDatagram threw: ${String(e)}`, data, { cause: e });
    }
    const events = this.drainEvents();
    const replies = this.drainTransmits(now, data);
    const after = ep.stats();
    let accepted = 0;
    for (let i = 0; i < this.watched.length; i++) {
      const p = this.watched[i]!;
      const s = p.stats();
      accepted += s.packetsReceived - (i < watchedBefore ? received[i]! : 0);
      if (!(s.reassemblyBytes >= 0 && s.reassemblyBytes <= this.cap)) {
        throw new FuzzFailure(`reassembly memory ${s.reassemblyBytes} outside [0, ${this.cap}]`, data);
      }
    }
    const effect = sumDrops(after.drops) - sumDrops(before.drops) + accepted + events + replies +
      Math.abs(after.pendingHandshakes - before.pendingHandshakes) + Math.abs(after.peers - before.peers);
    if (effect === 0) throw new FuzzFailure("datagram neither accepted nor counted in stats().drops", data);
    const focus = this.focus;
    if (focus !== undefined && focus.stats().packetsReceived > focusBefore && (data[1]! & 0x0f) === PacketType.DATA) {
      const seq = readU16(data, OFF_SEQ);
      if (this.largest < 0 || ((seq - this.largest) & 0xffff) < 0x8000) this.largest = seq;
    }
  }

  handleTimeout(now: number): void {
    try {
      this.ep.handleTimeout(now);
    } catch (e) {
      throw new FuzzFailure(`handleTimeout threw: ${String(e)}`, undefined, { cause: e });
    }
    this.drainEvents();
  }

  pollTransmit(now: number, buf: Uint8Array): Transmit | null {
    const out = this.pending.shift();
    if (out === undefined) {
      try {
        return this.ep.pollTransmit(now, buf);
      } catch (e) {
        throw new FuzzFailure(`pollTransmit threw: ${String(e)}`, undefined, { cause: e });
      }
    }
    buf.set(out.data);
    this.tx.to = out.to;
    this.tx.size = out.data.length;
    return this.tx;
  }

  pollTimeout(): number {
    return this.ep.pollTimeout();
  }

  drainEvents(): number {
    let n = 0;
    for (let e = this.ep.pollEvent(); e !== undefined; e = this.ep.pollEvent()) {
      n++;
      if (e.type === "connected" && !this.watched.includes(e.peer)) this.watched.push(e.peer);
      this.onEvent(e);
    }
    return n;
  }

  private drainTransmits(now: number, input: Uint8Array): number {
    let n = 0;
    for (let t = this.ep.pollTransmit(now, this.scratch); t !== null; t = this.ep.pollTransmit(now, this.scratch)) {
      if (++n > 100_000) throw new FuzzFailure("endless output after one datagram", input);
      this.pending.push({ to: { host: t.to.host, port: t.to.port }, data: this.scratch.slice(0, t.size) });
    }
    return n;
  }
}

export interface WorldOptions {
  seed: number;
  server?: Partial<EndpointConfig>;
  client?: Partial<EndpointConfig>;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  writeU32(b, 0, n);
  return b;
}

function u32of(d: Uint8Array): number {
  return d.length === 4 ? ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0 : -1;
}

/** A server, a fuzzed client A and a bystander client B, connected on a 1 ms simulated link. */
export class World {
  readonly sim: Simulator;
  readonly server: Endpoint;
  readonly a: Endpoint;
  readonly b: Endpoint;
  readonly auditServer: AuditedEndpoint;
  readonly auditA: AuditedEndpoint;
  readonly auditB: AuditedEndpoint;
  readonly aPeer: Peer;
  readonly bPeer: Peer;
  sA: Peer | undefined;
  sB: Peer | undefined;
  aConnected = false;
  bConnected = false;
  /** A disconnect was reported for A's connection on either side. */
  aEnded = false;
  /** Messages on channel 0 sent A→server; the server's reliable-ordered receive base follows it. */
  aReliableSent = 0;
  private bSent = 0;
  private bGot = 0;
  private toBSent = 0;
  private toBGot = 0;
  private bystanderError: string | undefined;
  private marker: Uint8Array | undefined;
  private markerSeen = false;
  private readonly rng: SeededRandom;
  private ticks = 0;
  /** Messages delivered to the server from A and to A, when `recordMessages` is set (targeted tests). */
  recordMessages = false;
  readonly fromA: Uint8Array[] = [];
  readonly toAGot: Uint8Array[] = [];

  constructor(opts: WorldOptions) {
    const { seed } = opts;
    this.rng = new SeededRandom(seed ^ 0x7a7a);
    this.sim = new Simulator({ seed, link: { latencyMs: 1 } });
    const base = { insecurePlaintext: true } as const;
    this.server = new Endpoint({ random: new SeededRandom(seed ^ 0x5e5e), ...base, acceptConnections: true, ...opts.server });
    this.a = new Endpoint({ random: new SeededRandom(seed ^ 0xa0a0), ...base, ...opts.client });
    this.b = new Endpoint({ random: new SeededRandom(seed ^ 0xb0b0), ...base, ...opts.client });
    this.auditServer = new AuditedEndpoint(this.server, (e) => this.onServerEvent(e));
    this.auditA = new AuditedEndpoint(this.a, (e) => this.onAEvent(e));
    this.auditB = new AuditedEndpoint(this.b, (e) => this.onBEvent(e));
    this.sim.addNode(this.auditServer, SERVER_ADDR);
    this.sim.addNode(this.auditA, A_ADDR);
    this.sim.addNode(this.auditB, B_ADDR);
    this.aPeer = this.a.connect(0, SERVER_ADDR);
    this.bPeer = this.b.connect(0, SERVER_ADDR);
    this.auditA.watched.push(this.aPeer);
    this.auditA.focus = this.aPeer;
    this.auditB.watched.push(this.bPeer);
    if (!this.sim.runUntil(() => this.aConnected && this.bConnected && this.sA !== undefined && this.sB !== undefined, { maxMs: 2000 })) {
      throw new FuzzFailure("world: clients did not connect");
    }
    this.auditServer.focus = this.sA;
    // Some traffic on every channel so that windows and sequences are not at their initial values.
    for (let i = 0; i < 3; i++) this.tick();
    this.settle();
  }

  private onServerEvent(e: EndpointEvent<Peer>): void {
    if (e.type === "connected") {
      if (e.peer.address.port === A_ADDR.port && this.sA === undefined) this.sA = e.peer;
      else if (e.peer.address.port === B_ADDR.port && this.sB === undefined) this.sB = e.peer;
    } else if (e.type === "disconnected") {
      if (e.peer === this.sA) this.aEnded = true;
      if (e.peer === this.sB) this.bystanderError ??= `server lost the bystander: ${e.reason}`;
    } else if (e.peer === this.sB && e.channel === 0) {
      if (u32of(e.data) !== this.bGot) this.bystanderError ??= `server got bystander message ${u32of(e.data)}, expected ${this.bGot}`;
      this.bGot++;
    } else if (e.peer === this.sA) {
      if (this.recordMessages) this.fromA.push(e.data);
      if (this.marker !== undefined && equal(e.data, this.marker)) this.markerSeen = true;
    }
  }

  private onAEvent(e: EndpointEvent<Peer>): void {
    if (e.type === "connected") this.aConnected = true;
    else if (e.type === "disconnected") this.aEnded = true;
    else if (this.recordMessages) this.toAGot.push(e.data);
  }

  private onBEvent(e: EndpointEvent<Peer>): void {
    if (e.type === "connected") this.bConnected = true;
    else if (e.type === "disconnected") this.bystanderError ??= `bystander disconnected: ${e.reason}`;
    else if (e.channel === 0) {
      if (u32of(e.data) !== this.toBGot) this.bystanderError ??= `bystander got message ${u32of(e.data)}, expected ${this.toBGot}`;
      this.toBGot++;
    }
  }

  /** True while A's connection is up on both sides. */
  get aAlive(): boolean {
    return !this.aEnded && this.aPeer.state === "connected" && this.sA !== undefined && this.sA.state === "connected";
  }

  /**
   * Brings every endpoint's clock to the simulator's before the test acts on them: send() and
   * disconnect() stamp deadlines (message expiry, linger) with the endpoint's latest time.
   */
  sync(): void {
    const now = this.sim.now;
    for (const e of [this.auditServer, this.auditA, this.auditB]) e.handleTimeout(now);
    this.sim.flush();
  }

  /** Real traffic on every channel for 1 ms of virtual time. */
  tick(): void {
    this.sync();
    const t = this.ticks++;
    if (this.bPeer.state === "connected" && this.sB?.state === "connected") {
      this.b.send(this.bPeer, 0, u32(this.bSent++));
      this.server.send(this.sB, 0, u32(this.toBSent++));
      if (t % 8 === 0) this.b.send(this.bPeer, 2, randomBytes(2500, t));
    }
    if (this.aAlive) {
      const ch = t % 4;
      this.a.send(this.aPeer, ch, randomBytes(1 + this.rng.nextInt(60), t));
      if (ch === 0) this.aReliableSent++;
      this.server.send(this.sA!, t % 2 === 0 ? 1 : 3, randomBytes(1 + this.rng.nextInt(60), t + 1));
      if (t % 16 === 0) {
        // Fragmented messages both ways.
        this.a.send(this.aPeer, 1, randomBytes(3000, t + 2));
        this.server.send(this.sA!, 3, randomBytes(2600, t + 3));
      }
    }
    this.sim.runFor(1);
  }

  /** Runs until nothing is queued or in flight on the live connections (bounded). */
  settle(maxMs = 2000): void {
    const peers = (): Peer[] => [this.aPeer, this.bPeer, this.sA!, this.sB!].filter((p) => p.state === "connected");
    this.sim.runUntil(() => peers().every((p) => {
      const s = p.stats();
      return s.queuedBytes === 0 && s.bytesInFlight === 0;
    }), { maxMs });
  }

  /** Forged datagram to the server, from A's address unless told otherwise. */
  toServer(bytes: Uint8Array, from: Address = A_ADDR): void {
    this.sim.inject(from, SERVER_ADDR, bytes);
    this.sim.runFor(0);
  }

  /** Forged datagram to client A, from the server's address unless told otherwise. */
  toA(bytes: Uint8Array, from: Address = SERVER_ADDR): void {
    this.sim.inject(from, A_ADDR, bytes);
    this.sim.runFor(0);
  }

  /** The bystander must have received every reliable-ordered message, in order, and still be connected. */
  checkBystander(): void {
    const done = this.sim.runUntil(() => this.bystanderError !== undefined || (this.bGot === this.bSent && this.toBGot === this.toBSent), { maxMs: 5000 });
    if (this.bystanderError !== undefined) throw new FuzzFailure(`bystander: ${this.bystanderError}`);
    if (!done) throw new FuzzFailure(`bystander: ${this.bGot}/${this.bSent} and ${this.toBGot}/${this.toBSent} messages delivered after 5 s`);
  }

  /**
   * A's connection either still delivers (a fresh unreliable message from A reaches the server)
   * or ends with a disconnected event within the idle timeout: never wedged silently.
   */
  checkTarget(): void {
    this.marker = randomBytes(16, this.rng.nextU32());
    this.markerSeen = false;
    const limit = this.server.cfg.idleTimeoutMs + this.server.cfg.handshakeTimeoutMs + 1000;
    const end = this.sim.now + limit;
    while (!this.markerSeen && !this.aEnded && this.sim.now < end) {
      this.sync();
      if (this.aAlive) this.a.send(this.aPeer, 1, this.marker);
      this.sim.runFor(20);
    }
    if (!this.markerSeen && !this.aEnded) throw new FuzzFailure(`target connection neither delivers nor ends after ${limit} ms (A: ${this.aPeer.state}, server side: ${this.sA?.state})`);
  }

  /** Drop counters of all three endpoints, summed. */
  drops(): Record<DropReason, number> {
    const out = zeroDrops();
    for (const ep of [this.server, this.a, this.b]) {
      const d = ep.stats().drops;
      for (const r of DROP_REASONS) out[r] += d[r];
    }
    return out;
  }
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---- Corpus: real datagrams from a simulator run ----

export interface Corpus {
  /** Datagrams client→server (request, DATA), as sent. */
  toServer: Uint8Array[];
  /** Datagrams server→client (accept, DATA), as sent. */
  toClient: Uint8Array[];
}

/**
 * Captures every datagram of a run where a client and a server connect and
 * exchange messages on all four default channels, including fragmented ones,
 * over a lossy link (so retransmissions, acks with gaps and tombstones occur).
 */
export function captureCorpus(seed = 1): Corpus {
  const corpus: Corpus = { toServer: [], toClient: [] };
  const sim = new Simulator({ seed, link: { latencyMs: 2, jitterMs: 1, loss: 0.1 } });
  const server = new Endpoint({ random: new SeededRandom(seed + 10), insecurePlaintext: true, acceptConnections: true });
  const client = new Endpoint({ random: new SeededRandom(seed + 20), insecurePlaintext: true });
  const tap = (ep: Endpoint, into: Uint8Array[]): SimEndpoint => ({
    handleDatagram: (now, from, data) => ep.handleDatagram(now, from, data),
    handleTimeout: (now) => ep.handleTimeout(now),
    pollTimeout: () => ep.pollTimeout(),
    pollTransmit: (now, buf) => {
      const t = ep.pollTransmit(now, buf);
      if (t !== null) into.push(buf.slice(0, t.size));
      return t;
    },
  });
  sim.addNode(tap(server, corpus.toClient), SERVER_ADDR);
  sim.addNode(tap(client, corpus.toServer), A_ADDR);
  const cPeer = client.connect(0, SERVER_ADDR);
  let sPeer: Peer | undefined;
  const pump = (): void => {
    for (let e = server.pollEvent(); e !== undefined; e = server.pollEvent()) if (e.type === "connected") sPeer = e.peer;
    while (client.pollEvent() !== undefined);
  };
  if (!sim.runUntil(() => {
    pump();
    return sPeer !== undefined && cPeer.state === "connected";
  }, { maxMs: 5000 })) throw new FuzzFailure("corpus: no connection");
  const rng = new SeededRandom(seed);
  const sizes = [1, 30, 200, 1100, 2500, 5000];
  for (let round = 0; round < 40; round++) {
    for (let ch = 0; ch < 4; ch++) {
      const size = sizes[rng.nextInt(sizes.length)]!;
      client.send(cPeer, ch, randomBytes(size, round * 8 + ch));
      server.send(sPeer!, ch, randomBytes(sizes[rng.nextInt(4)]!, round * 8 + ch + 4));
    }
    // A reliable message that expires before it can be resent becomes a tombstone frame.
    client.send(cPeer, round % 2 === 0 ? 0 : 2, randomBytes(300, round), { expiresInMs: 1 });
    server.send(sPeer!, round % 2 === 0 ? 0 : 2, randomBytes(300, round + 1), { expiresInMs: 1 });
    sim.runUntil(() => {
      pump();
      return false;
    }, { maxMs: 5 });
  }
  sim.runUntil(() => {
    pump();
    return false;
  }, { maxMs: 1000 });
  return corpus;
}

// ---- DATA frame locator (naive, independent of the engine's parser) ----

export interface FrameInfo {
  off: number;
  type: number;
  /** Offset and size of the length varint (MESSAGE, FRAGMENT), -1 otherwise. */
  varOff: number;
  varLen: number;
}

export function locateFrames(d: Uint8Array): FrameInfo[] {
  const out: FrameInfo[] = [];
  if (d.length < DATA_HEADER_SIZE || d[0] !== VERSION_BYTE || (d[1]! & 0x0f) !== PacketType.DATA) return out;
  let off = DATA_HEADER_SIZE;
  while (off < d.length && out.length < 512) {
    const type = d[off]!;
    if (type === FrameType.PADDING) break;
    if (type === FrameType.PING) {
      off++;
      continue;
    }
    if (type === FrameType.TOMBSTONE) {
      out.push({ off, type, varOff: -1, varLen: 0 });
      off += 4;
      continue;
    }
    if (type !== FrameType.MESSAGE && type !== FrameType.FRAGMENT) break;
    const varOff = off + (type === FrameType.MESSAGE ? 4 : 8);
    let len = 0;
    let i = 0;
    for (; i < 3 && varOff + i < d.length; i++) {
      const b = d[varOff + i]!;
      len |= (b & 0x7f) << (7 * i);
      if ((b & 0x80) === 0) break;
    }
    out.push({ off, type, varOff, varLen: i + 1 });
    off = varOff + i + 1 + len;
  }
  return out;
}

// ---- Generators ----

/** (a) Random bytes: fast-check draws the length and a seed; the bytes come from the seeded PRNG. */
export interface RandomCase {
  length: number;
  seed: number;
  /** Send from an address with no connection instead of the peer's. */
  stranger: boolean;
}

export const randomCaseArb: fc.Arbitrary<RandomCase> = fc.record({
  length: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 1500 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 24 }) }),
  seed: fc.integer({ min: 0, max: 0xffffffff }),
  stranger: fc.boolean(),
});

export function materializeRandom(c: RandomCase): Uint8Array {
  return randomBytes(c.length, c.seed);
}

export type Mutation =
  | { k: "flip"; pos: number; bit: number }
  | { k: "set"; pos: number; value: number }
  | { k: "truncate"; len: number }
  | { k: "extend"; n: number; seed: number }
  | { k: "resize"; len: number }
  | { k: "splice"; other: number; at: number; from: number }
  | { k: "fragField"; frame: number; field: "index" | "count"; value: number }
  | { k: "varint"; frame: number; bytes: readonly number[] }
  | { k: "channel"; frame: number; value: number }
  | { k: "frameType"; frame: number; value: number }
  | { k: "msgSeq"; frame: number; value: number }
  | { k: "header"; field: "seq" | "ack" | "ackBits" | "ackDelay"; value: number }
  | { k: "type"; value: number }
  | { k: "body"; keep: number; n: number; seed: number };

const u16Arb = fc.oneof(fc.constantFrom(0, 1, 0x7fff, 0x8000, 0xfffe, 0xffff), fc.integer({ min: 0, max: 0xffff }));

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant("flip" as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("set" as const), pos: fc.nat(), value: fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xff), fc.integer({ min: 0, max: 255 })) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("truncate" as const), len: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("extend" as const), n: fc.integer({ min: 1, max: 3000 }), seed: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("resize" as const), len: fc.constantFrom(MAX_DATAGRAM, MAX_DATAGRAM + 1, 70_000) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("splice" as const), other: fc.nat(), at: fc.nat(), from: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant("fragField" as const), frame: fc.nat(), field: fc.constantFrom("index" as const, "count" as const),
      value: fc.oneof(fc.constantFrom(0, 1, 2, 0xfffe, 0xffff), fc.integer({ min: 0, max: 0xffff })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("varint" as const), frame: fc.nat(),
      bytes: fc.constantFrom([0xff, 0xff, 0x7f], [0x80, 0x80, 0x80, 0x01], [0xff, 0xff, 0xff], [0x80], [0xff, 0x7f], [0x00], [0x81, 0x80, 0x00]),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("channel" as const), frame: fc.nat(), value: fc.oneof(fc.integer({ min: 4, max: 255 }), fc.integer({ min: 0, max: 3 })) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("frameType" as const), frame: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("msgSeq" as const), frame: fc.nat(), value: u16Arb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("header" as const), field: fc.constantFrom("seq" as const, "ack" as const, "ackBits" as const, "ackDelay" as const),
      value: fc.oneof(u16Arb, fc.integer({ min: 0, max: 0xffffffff })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("type" as const), value: fc.integer({ min: 0, max: 15 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("body" as const), keep: fc.constantFrom(HEADER_SIZE, DATA_HEADER_SIZE), n: fc.integer({ min: 0, max: 1500 }), seed: fc.nat() }) },
);

/** (b) A real datagram, re-addressed to the target connection, given a fresh packet number, then mutated. */
export interface MutatedCase {
  pick: number;
  /** Keep the captured connection id instead of writing the target's (mostly "unknown-connection"). */
  keepId: boolean;
  /** DATA: write the packet number the target expects next, so the packet reaches the frame parser. */
  fresh: boolean;
  mutations: Mutation[];
}

export const mutatedCaseArb: fc.Arbitrary<MutatedCase> = fc.record({
  pick: fc.nat(),
  keepId: fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 15, arbitrary: fc.constant(false) }),
  fresh: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  mutations: fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
});

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function applyMutation(d: Uint8Array, m: Mutation, pool: readonly Uint8Array[]): Uint8Array {
  const frames = (): FrameInfo[] => locateFrames(d);
  const frameAt = (i: number, pred: (f: FrameInfo) => boolean = () => true): FrameInfo | undefined => {
    const fs = frames().filter(pred);
    return fs.length === 0 ? undefined : fs[i % fs.length];
  };
  switch (m.k) {
    case "flip":
      if (d.length > 0) d[m.pos % d.length]! ^= 1 << m.bit;
      return d;
    case "set":
      if (d.length > 0) d[m.pos % d.length] = m.value;
      return d;
    case "truncate":
      return d.slice(0, m.len % (d.length + 1));
    case "extend":
      return concat(d, randomBytes(m.n, m.seed));
    case "resize": {
      const out = new Uint8Array(m.len);
      out.set(d.subarray(0, Math.min(d.length, m.len)));
      return out;
    }
    case "splice": {
      const other = pool[m.other % pool.length]!;
      return concat(d.subarray(0, m.at % (d.length + 1)), other.subarray(m.from % (other.length + 1)));
    }
    case "fragField": {
      const f = frameAt(m.frame, (x) => x.type === FrameType.FRAGMENT);
      if (f !== undefined) writeU16(d, f.off + (m.field === "index" ? 4 : 6), m.value);
      return d;
    }
    case "varint": {
      const f = frameAt(m.frame, (x) => x.varOff >= 0);
      if (f === undefined || f.varOff + f.varLen > d.length) return d;
      return concat(concat(d.subarray(0, f.varOff), Uint8Array.from(m.bytes)), d.subarray(f.varOff + f.varLen));
    }
    case "channel": {
      const f = frameAt(m.frame);
      if (f !== undefined && f.off + 1 < d.length) d[f.off + 1] = m.value;
      return d;
    }
    case "frameType": {
      const f = frameAt(m.frame);
      if (f !== undefined) d[f.off] = m.value;
      return d;
    }
    case "msgSeq": {
      const f = frameAt(m.frame);
      if (f !== undefined && f.off + 4 <= d.length) writeU16(d, f.off + 2, m.value);
      return d;
    }
    case "header": {
      if (d.length < DATA_HEADER_SIZE) return d;
      if (m.field === "ackBits") writeU32(d, OFF_ACK_BITS, m.value >>> 0);
      else writeU16(d, m.field === "seq" ? OFF_SEQ : m.field === "ack" ? OFF_ACK : OFF_ACK_DELAY, m.value & 0xffff);
      return d;
    }
    case "type":
      if (d.length > 1) d[1] = (d[1]! & 0xf0) | m.value;
      return d;
    case "body":
      return concat(d.subarray(0, Math.min(m.keep, d.length)), randomBytes(m.n, m.seed));
  }
}

/**
 * Builds the datagram of a mutated case for one target: `pool` is the corpus
 * of that direction, `targetId` the connection id the target endpoint gave its
 * peer, `largest` the model of the largest packet number the target received.
 */
export function materializeMutated(c: MutatedCase, pool: readonly Uint8Array[], targetId: number, largest: number): Uint8Array {
  let d: Uint8Array = pool[c.pick % pool.length]!.slice();
  if (!c.keepId && d.length >= HEADER_SIZE) writeU32(d, 2, targetId);
  if (c.fresh && d.length >= DATA_HEADER_SIZE && (d[1]! & 0x0f) === PacketType.DATA) {
    writeU16(d, OFF_SEQ, (largest + 1 + (c.pick % 3)) & 0xffff);
  }
  for (const m of c.mutations) d = applyMutation(d, m, pool);
  return d;
}

// ---- Batch runners ----

export interface FuzzTotals {
  datagrams: number;
  worlds: number;
  drops: Record<DropReason, number>;
}

export function newTotals(): FuzzTotals {
  return { datagrams: 0, worlds: 0, drops: zeroDrops() };
}

/** Ends a world: checks the bystander and the target, adds its drop counters to `totals`. */
function finishWorld(w: World, totals: FuzzTotals): void {
  w.checkBystander();
  w.checkTarget();
  const d = w.drops();
  for (const r of DROP_REASONS) totals.drops[r] += d[r];
  totals.worlds++;
}

/** Feeds each random datagram to the server and to client A; real traffic flows every 25 datagrams. */
export function runRandomBatch(cases: readonly RandomCase[], seed: number, totals: FuzzTotals): void {
  let w = new World({ seed });
  let i = 0;
  for (const c of cases) {
    const bytes = materializeRandom(c);
    w.toServer(bytes, c.stranger ? STRANGER_ADDR : A_ADDR);
    w.toA(bytes, c.stranger ? STRANGER_ADDR : SERVER_ADDR);
    totals.datagrams += 2;
    if (++i % 25 === 0) w.tick();
  }
  finishWorld(w, totals);
}

/**
 * Feeds each mutated case to the server (mutating a client→server datagram) and to
 * client A (mutating a server→client one). A world whose target connection ended is
 * checked and replaced by a new one.
 */
export function runMutatedBatch(cases: readonly MutatedCase[], corpus: Corpus, seed: number, totals: FuzzTotals): void {
  let gen = 0;
  let w = new World({ seed });
  let i = 0;
  for (const c of cases) {
    if (!w.aAlive) {
      finishWorld(w, totals);
      w = new World({ seed: (seed + ++gen * 7919) >>> 0 });
    }
    w.toServer(materializeMutated(c, corpus.toServer, w.sA!.id, w.auditServer.largest));
    w.toA(materializeMutated(c, corpus.toClient, w.aPeer.id, w.auditA.largest));
    totals.datagrams += 2;
    if (++i % 25 === 0) w.tick();
  }
  finishWorld(w, totals);
}
