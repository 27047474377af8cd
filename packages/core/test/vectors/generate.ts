/**
 * Generator of the fastnet wire protocol v1 test vectors in this directory
 * (handshake.json, data.json, frames.json, varint.json, invalid.json); the
 * format of each file is described in packages/core/PROTOCOL.md, "Test vectors".
 *
 * Where the bytes come from:
 *  - captured vectors: small scenarios run real `Endpoint`s (SeededRandom, so
 *    connection ids are stable) on the seeded simulator (src/sim); every
 *    datagram put on the wire is recorded with what the receiver did with it
 *    (events, drop counters, handshake replies);
 *  - varints: the engine's own writeVarint;
 *  - constructed vectors (PADDING, plugin flag bits, every invalid datagram):
 *    built here byte by byte, because the core never sends them.
 * The `decoded` fields come from the decoder below, written from PROTOCOL.md
 * without src/protocol/wire.ts, and each scenario checks them against what it
 * meant to send. vectors.test.ts decodes everything again with its own
 * reference decoder, replays the datagrams into real endpoints, and re-runs
 * this script to prove the output deterministic.
 *
 * Usage: bun packages/core/test/vectors/generate.ts [outDir]   (default: this directory)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { EndpointConfig } from "../../src/protocol/config.ts";
import { Endpoint } from "../../src/protocol/endpoint.ts";
import type { ConnectDecision, ConnectRequest, Peer, Plugin } from "../../src/protocol/plugin.ts";
import { SeededRandom } from "../../src/protocol/random.ts";
import type { Address, ChannelKind, DropReason, EndpointEvent, Transmit } from "../../src/protocol/types.ts";
import { writeVarint } from "../../src/protocol/wire.ts";
import { Simulator } from "../../src/sim/simulator.ts";

// ---- File format ----

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Decoded = { [key: string]: Json };

/** Every vector: a name unique across all files, a sentence, the bytes, and their decoding. */
export interface Vector {
  name: string;
  description: string;
  hex: string;
  /** When present, zero bytes are appended to `hex` until the datagram is this long. */
  zeroPadTo?: number;
  decoded: Decoded;
}

/** What an endpoint emitted, without the peer object. */
export interface EventRecord {
  type: "connected" | "message" | "disconnected";
  channel?: number;
  dataHex?: string;
  reason?: string;
  detail?: string;
}

/** A datagram a real endpoint sent during a scenario. */
export interface CapturedVector extends Vector {
  scenario: ScenarioName;
  /** Order of sending within the scenario. */
  step: number;
  from: string;
  to: string;
  sentAtMs: number;
  /** False when the scenario made the network lose it. */
  delivered: boolean;
  /** Arrival time and order within the scenario (delivered datagrams only). */
  receivedAtMs?: number;
  arrival?: number;
  /** Events the receiver emitted while handling it. */
  events?: EventRecord[];
  /** Drop counters that handling it increased. */
  drops?: Record<string, number>;
  /** Names of the datagrams the receiver sent at once in reply (handshake packets only). */
  replies?: string[];
}

/** An endpoint in a known state: a scenario node after replaying the scenario's datagrams up to untilMs. */
export interface TargetSpec {
  scenario: ScenarioName;
  node: string;
  /** Replay connects and arrivals at times <= untilMs (-1: a fresh endpoint). */
  untilMs: number;
  /** Use this fixture for the node instead of the scenario's (same seed and address). */
  fixture?: FixtureName;
}

/** A hand-built datagram fed to a target: what the target must count and emit. */
export interface ConstructedVector extends Vector {
  target: TargetSpec;
  from: string;
  atMs: number;
  drops: Record<string, number>;
  events: EventRecord[];
}

export interface FrameVector extends Vector {
  /** Where the frame sits in a captured datagram, when it comes from one. */
  source?: { vector: string; offset: number };
}

// ---- Fixtures ----

export type FixtureName =
  | "server" | "client" | "cookie-server" | "cookie-client" | "reject-server" | "full-server" | "narrow-client"
  | "long-deny-server" | "one-pending-server";

export type ScenarioName = "session" | "cookie" | "reject" | "full" | "mismatch";

export interface NodeSpec {
  name: string;
  fixture: FixtureName;
  seed: number;
  address: Address;
}

export const SERVER_ADDRESS: Address = { host: "10.0.0.1", port: 4000 };
export const CLIENT_ADDRESS: Address = { host: "10.0.0.2", port: 5000 };
export const CLIENT_B_ADDRESS: Address = { host: "10.0.0.3", port: 5001 };
export const ATTACKER_ADDRESS: Address = { host: "10.6.6.6", port: 6666 };

/** Seed of the simulator and the nodes of each scenario. */
export const SCENARIOS: Record<ScenarioName, { simSeed: number; nodes: NodeSpec[] }> = {
  session: {
    simSeed: 1,
    nodes: [
      { name: "server", fixture: "server", seed: 11, address: SERVER_ADDRESS },
      { name: "client", fixture: "client", seed: 12, address: CLIENT_ADDRESS },
    ],
  },
  cookie: {
    simSeed: 2,
    nodes: [
      { name: "server", fixture: "cookie-server", seed: 21, address: SERVER_ADDRESS },
      { name: "client", fixture: "cookie-client", seed: 22, address: CLIENT_ADDRESS },
    ],
  },
  reject: {
    simSeed: 3,
    nodes: [
      { name: "server", fixture: "reject-server", seed: 31, address: SERVER_ADDRESS },
      { name: "client", fixture: "client", seed: 32, address: CLIENT_ADDRESS },
    ],
  },
  full: {
    simSeed: 4,
    nodes: [
      { name: "server", fixture: "full-server", seed: 41, address: SERVER_ADDRESS },
      { name: "client", fixture: "client", seed: 42, address: CLIENT_ADDRESS },
      { name: "client-b", fixture: "client", seed: 43, address: CLIENT_B_ADDRESS },
    ],
  },
  mismatch: {
    simSeed: 5,
    nodes: [
      { name: "server", fixture: "server", seed: 51, address: SERVER_ADDRESS },
      { name: "client", fixture: "narrow-client", seed: 52, address: CLIENT_ADDRESS },
    ],
  },
};

/** The default channel configuration (DEFAULT_CHANNELS), which every fixture but narrow-client uses. */
export const DEFAULT_KINDS: readonly ChannelKind[] = ["reliable-ordered", "unreliable", "reliable-unordered", "sequenced"];

export const REJECT_REASON = "banned: test vector";
export const LONG_REJECT_REASON = "server closed for maintenance, come back later. ".repeat(5);

export function addressKey(a: Address): string {
  return `${a.host}:${a.port}`;
}

/** Stateless cookie: 16 bytes from FNV-1a over the source address and client id. */
export function cookieFor(request: ConnectRequest): Uint8Array {
  const text = `${addressKey(request.from)}/${request.clientId}`;
  const out = new Uint8Array(16);
  for (let block = 0; block < 4; block++) {
    let h = 0x811c9dc5 ^ block;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
    out[block * 4] = h >>> 24;
    out[block * 4 + 1] = (h >>> 16) & 0xff;
    out[block * 4 + 2] = (h >>> 8) & 0xff;
    out[block * 4 + 3] = h & 0xff;
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const cookieServer: Plugin = {
  name: "vector-cookie",
  onConnecting(request: ConnectRequest): ConnectDecision {
    const cookie = cookieFor(request);
    return sameBytes(request.payload, cookie) ? { accept: true } : { challenge: cookie };
  },
};

const echoChallenge: Plugin = {
  name: "vector-echo-challenge",
  connectPayload(_peer: Peer, challenge: Uint8Array | undefined): Uint8Array | undefined {
    return challenge;
  },
};

function rejecting(reason: string): Plugin {
  return { name: "vector-reject", onConnecting: (): ConnectDecision => ({ accept: false, reason }) };
}

/** A fresh configuration of a fixture. Every call gets its own SeededRandom(seed). */
export function fixtureConfig(name: FixtureName, seed: number): EndpointConfig {
  const base: EndpointConfig = { random: new SeededRandom(seed), insecurePlaintext: true };
  switch (name) {
    case "server":
      return { ...base, acceptConnections: true };
    case "client":
      return base;
    case "cookie-server":
      return { ...base, acceptConnections: true, plugins: [cookieServer] };
    case "cookie-client":
      return { ...base, plugins: [echoChallenge] };
    case "reject-server":
      return { ...base, acceptConnections: true, plugins: [rejecting(REJECT_REASON)] };
    case "full-server":
      return { ...base, acceptConnections: true, maxPeers: 1 };
    case "narrow-client":
      return { ...base, channels: [{ kind: "reliable-ordered" }, { kind: "unreliable" }] };
    case "long-deny-server":
      return { ...base, acceptConnections: true, plugins: [rejecting(LONG_REJECT_REASON)] };
    case "one-pending-server":
      return { ...base, acceptConnections: true, maxPendingHandshakes: 1 };
  }
}

// ---- Independent decoder (from PROTOCOL.md; does not use wire.ts) ----

const PACKET_NAMES: Record<number, string> = {
  1: "CONNECT_REQUEST", 2: "CONNECT_CHALLENGE", 3: "CONNECT_ACCEPT", 4: "CONNECT_DENY", 5: "DATA", 6: "DISCONNECT",
};
const KIND_NAMES: Record<number, string> = {
  1: "reliable-ordered", 2: "reliable-unordered", 3: "unreliable", 4: "sequenced",
};
const DENY_NAMES: Record<number, string> = { 1: "REJECTED", 2: "SERVER_FULL", 3: "CHANNEL_MISMATCH" };
const DISCONNECT_NAMES: Record<number, string> = {
  1: "closed-by-peer", 2: "timeout", 3: "denied", 4: "protocol-violation",
};

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function printable(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return undefined;
  for (const b of bytes) if (b < 0x20 || b > 0x7e) return undefined;
  return String.fromCharCode(...bytes);
}

/** LEB128 of at most 3 bytes; null when it runs past `end` or needs a 4th byte. */
export function decodeVarintAt(bytes: Uint8Array, at: number, end: number): { value: number; size: number } | null {
  let value = 0;
  for (let i = 0; i < 3; i++) {
    if (at + i >= end) return null;
    const b = bytes[at + i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return { value, size: i + 1 };
  }
  return null;
}

/**
 * Parses the frames of bytes[start, end); offsets are relative to `bytes`.
 * Stops at the first invalid frame with the drop reason the receiver counts.
 */
export function decodeFrames(bytes: Uint8Array, start: number, end: number, kinds: readonly string[]): { frames: Decoded[]; error?: string } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames: Decoded[] = [];
  let off = start;
  while (off < end) {
    const type = bytes[off]!;
    if (type === 0x00) {
      for (let i = off + 1; i < end; i++) if (bytes[i] !== 0) return { frames, error: "malformed" };
      frames.push({ type: "PADDING", offset: off, length: end - off });
      return { frames };
    }
    if (type === 0x01) {
      frames.push({ type: "PING", offset: off });
      off += 1;
      continue;
    }
    if (end - off < 4) return { frames, error: "malformed" };
    const channel = bytes[off + 1]!;
    const kind = kinds[channel];
    if (kind === undefined) return { frames, error: "bad-channel" };
    const seq = dv.getUint16(off + 2);
    if (type === 0x04) {
      if (kind !== "reliable-ordered" && kind !== "reliable-unordered") return { frames, error: "bad-channel" };
      frames.push({ type: "TOMBSTONE", offset: off, channel, seq });
      off += 4;
      continue;
    }
    let head: Decoded;
    let lenAt: number;
    if (type === 0x02) {
      head = { type: "MESSAGE", offset: off, channel, seq };
      lenAt = off + 4;
    } else if (type === 0x03) {
      if (end - off < 8) return { frames, error: "malformed" };
      const index = dv.getUint16(off + 4);
      const count = dv.getUint16(off + 6);
      if (count < 2 || index >= count) return { frames, error: "bad-fragment" };
      head = { type: "FRAGMENT", offset: off, channel, seq, index, count };
      lenAt = off + 8;
    } else {
      return { frames, error: "malformed" };
    }
    const v = decodeVarintAt(bytes, lenAt, end);
    if (v === null || lenAt + v.size + v.value > end) return { frames, error: "malformed" };
    const data = bytes.subarray(lenAt + v.size, lenAt + v.size + v.value);
    const frame: Decoded = { ...head, length: v.value, dataHex: toHex(data) };
    const text = printable(data);
    if (text !== undefined) frame.text = text;
    frames.push(frame);
    off = lenAt + v.size + v.value;
  }
  return { frames };
}

/** Decodes one datagram as far as its structure allows; `error` names the first structural drop reason. */
export function decodeDatagram(bytes: Uint8Array, kinds: readonly string[] = DEFAULT_KINDS): Decoded {
  const out: Decoded = { length: bytes.length };
  if (bytes.length < 6) return { ...out, error: "short" };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const typeCode = bytes[1]! & 0x0f;
  out.versionByte = bytes[0]!;
  out.type = PACKET_NAMES[typeCode] ?? null;
  out.typeCode = typeCode;
  out.flags = bytes[1]! & 0xf0;
  out.connectionId = dv.getUint32(2);
  if (bytes.length > 65507) return { ...out, error: "oversize" };
  if (bytes[0] !== 0xf1) return { ...out, error: "bad-version" };
  if (out.type === null) return { ...out, error: "bad-type" };
  const n = bytes.length;
  switch (typeCode) {
    case 1: {
      if (n < 64) return { ...out, error: "short" };
      out.receiveWindowBytes = dv.getUint32(6);
      out.maxMessageSize = dv.getUint32(10);
      const count = bytes[14]!;
      out.channelCount = count;
      if (out.connectionId === 0) return { ...out, error: "malformed" };
      if (15 + count + 2 > n) return { ...out, error: "malformed" };
      out.channels = [...bytes.subarray(15, 15 + count)].map((c) => KIND_NAMES[c] ?? `unknown(${c})`);
      const payloadLength = dv.getUint16(15 + count);
      out.payloadLength = payloadLength;
      if (17 + count + payloadLength > n) return { ...out, error: "malformed" };
      out.payloadHex = toHex(bytes.subarray(17 + count, 17 + count + payloadLength));
      out.paddingLength = n - (17 + count + payloadLength);
      out.paddingIsZero = bytes.subarray(17 + count + payloadLength).every((b) => b === 0);
      if ((out.receiveWindowBytes as number) < 1024 || out.maxMessageSize === 0) return { ...out, error: "malformed" };
      return out;
    }
    case 2: {
      if (n < 8) return { ...out, error: "malformed" };
      const len = dv.getUint16(6);
      out.challengeLength = len;
      if (8 + len > n) return { ...out, error: "malformed" };
      out.challengeHex = toHex(bytes.subarray(8, 8 + len));
      return out;
    }
    case 3: {
      if (n < 20) return { ...out, error: "malformed" };
      out.serverConnectionId = dv.getUint32(6);
      out.receiveWindowBytes = dv.getUint32(10);
      out.maxMessageSize = dv.getUint32(14);
      out.payloadLength = dv.getUint16(18);
      if (out.serverConnectionId === 0 || (out.receiveWindowBytes as number) < 1024 || out.maxMessageSize === 0) {
        return { ...out, error: "malformed" };
      }
      return out;
    }
    case 4: {
      if (n < 9) return { ...out, error: "malformed" };
      out.reasonCode = bytes[6]!;
      out.reason = DENY_NAMES[bytes[6]!] ?? null;
      const len = dv.getUint16(7);
      out.detailLength = len;
      out.detail = new TextDecoder().decode(bytes.subarray(9, Math.min(n, 9 + len)));
      return out;
    }
    case 5: {
      if (n < 16) return { ...out, error: "short" };
      out.seq = dv.getUint16(6);
      out.hasAck = (bytes[1]! & 0x10) !== 0;
      out.ack = dv.getUint16(8);
      out.ackBits = dv.getUint32(10);
      out.ackDelay = dv.getUint16(14);
      out.ackDelayMicros = dv.getUint16(14) * 10;
      const acked: number[] = [];
      if (out.hasAck) {
        acked.push(out.ack as number);
        for (let i = 0; i < 32; i++) if (((out.ackBits as number) >>> i) & 1) acked.push(((out.ack as number) - 1 - i) & 0xffff);
      }
      out.acked = acked;
      const { frames, error } = decodeFrames(bytes, 16, n, kinds);
      out.frames = frames;
      if (error !== undefined) out.error = error;
      return out;
    }
    default: {
      if (n < 7) return { ...out, error: "malformed" };
      out.reasonCode = bytes[6]!;
      out.reason = DISCONNECT_NAMES[bytes[6]!] ?? null;
      return out;
    }
  }
}

// ---- Capturing scenarios on the simulator ----

interface Rec {
  step: number;
  from: NodeSpec;
  to: NodeSpec;
  sentAtMs: number;
  bytes: Uint8Array;
  arrived: boolean;
  delivered: boolean;
  receivedAtMs: number;
  arrival: number;
  events: EventRecord[];
  drops: Record<string, number>;
  replies: Rec[];
  name: string;
  note: string;
}

function eventRecord(e: EndpointEvent<Peer>): EventRecord {
  switch (e.type) {
    case "connected":
      return { type: "connected" };
    case "message":
      return { type: "message", channel: e.channel, dataHex: toHex(e.data) };
    case "disconnected":
      return e.detail === undefined ? { type: "disconnected", reason: e.reason } : { type: "disconnected", reason: e.reason, detail: e.detail };
  }
}

function dropDelta(before: Record<DropReason, number>, after: Record<DropReason, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(after) as DropReason[]) if (after[k] !== before[k]) out[k] = after[k] - before[k];
  return out;
}

class Capture {
  readonly records: Rec[] = [];
  arrivals = 0;
  /** Datagrams for which this returns true are lost in the network. */
  lose: (r: Rec) => boolean = () => false;
  constructor(readonly scenario: ScenarioName) {}
}

/** Wraps a real endpoint for the simulator and records everything it sends and receives. */
class Tap {
  readonly endpoint: Endpoint;
  readonly events: EndpointEvent<Peer>[] = [];
  private cause: Rec | null = null;

  constructor(readonly node: NodeSpec, private readonly cap: Capture, private readonly nodes: NodeSpec[]) {
    this.endpoint = new Endpoint(fixtureConfig(node.fixture, node.seed));
  }

  handleDatagram(now: number, from: Address, data: Uint8Array): void {
    this.pullEvents();
    this.cause = null;
    const rec = this.cap.records.find((r) => !r.arrived && r.to === this.node && addressKey(r.from.address) === addressKey(from) && sameBytes(r.bytes, data));
    if (rec === undefined) throw new Error(`${this.cap.scenario}: an unrecorded datagram reached ${this.node.name}`);
    rec.arrived = true;
    if (this.cap.lose(rec)) return;
    rec.delivered = true;
    rec.receivedAtMs = now;
    rec.arrival = this.cap.arrivals++;
    const before = this.endpoint.stats().drops;
    this.endpoint.handleDatagram(now, from, data);
    rec.drops = dropDelta(before, this.endpoint.stats().drops);
    rec.events = this.pullEvents();
    this.cause = rec;
  }

  handleTimeout(now: number): void {
    this.pullEvents();
    this.cause = null;
    this.endpoint.handleTimeout(now);
    this.pullEvents();
  }

  pollTimeout(): number {
    return this.endpoint.pollTimeout();
  }

  pollTransmit(now: number, buf: Uint8Array): Transmit | null {
    const tx = this.endpoint.pollTransmit(now, buf);
    if (tx === null) {
      this.cause = null;
      return null;
    }
    const to = this.nodes.find((n) => addressKey(n.address) === addressKey(tx.to));
    if (to === undefined) throw new Error(`${this.cap.scenario}: ${this.node.name} sent to ${addressKey(tx.to)}, which is no node`);
    const rec: Rec = {
      step: this.cap.records.length, from: this.node, to, sentAtMs: now, bytes: buf.slice(0, tx.size),
      arrived: false, delivered: false, receivedAtMs: -1, arrival: -1, events: [], drops: {}, replies: [], name: "", note: "",
    };
    this.cap.records.push(rec);
    this.cause?.replies.push(rec);
    return tx;
  }

  /** Moves pending events into `events`; call after application calls so they are not blamed on a datagram. */
  pullEvents(): EventRecord[] {
    const out: EventRecord[] = [];
    for (let e = this.endpoint.pollEvent(); e !== undefined; e = this.endpoint.pollEvent()) {
      this.events.push(e);
      out.push(eventRecord(e));
    }
    return out;
  }

  take(type: EndpointEvent<Peer>["type"]): EndpointEvent<Peer> {
    const i = this.events.findIndex((e) => e.type === type);
    if (i < 0) throw new Error(`${this.cap.scenario}: ${this.node.name} has no '${type}' event`);
    return this.events.splice(i, 1)[0]!;
  }
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`vector generation: ${what}`);
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

interface Run {
  cap: Capture;
  sim: Simulator;
  taps: Map<string, Tap>;
}

function start(scenario: ScenarioName): Run {
  const spec = SCENARIOS[scenario];
  const cap = new Capture(scenario);
  const sim = new Simulator({ seed: spec.simSeed, link: { latencyMs: 10 } });
  const taps = new Map<string, Tap>();
  for (const node of spec.nodes) {
    const tap = new Tap(node, cap, spec.nodes);
    taps.set(node.name, tap);
    sim.addNode(tap, node.address);
  }
  return { cap, sim, taps };
}

function tap(run: Run, name: string): Tap {
  return run.taps.get(name)!;
}

/** Runs the simulator until virtual time `t` (inclusive). */
function runTo(run: Run, t: number): void {
  check(t >= run.sim.now, `time goes forward (${run.sim.now} -> ${t})`);
  run.sim.runFor(t - run.sim.now);
}

function recordsOf(run: Run, pred: (r: Rec, d: Decoded) => boolean): Rec[] {
  return run.cap.records.filter((r) => pred(r, decodeDatagram(r.bytes, kindsOf(r))));
}

function kindsOf(r: Rec): readonly string[] {
  return r.from.fixture === "narrow-client" || r.to.fixture === "narrow-client" ? ["reliable-ordered", "unreliable"] : DEFAULT_KINDS;
}

function framesOf(d: Decoded): Decoded[] {
  return (d.frames ?? []) as Decoded[];
}

function hasText(d: Decoded, s: string): boolean {
  return framesOf(d).some((f) => f.text === s);
}

/** The session: handshake, messages both ways on every channel kind, a fragmented message, a tombstone, a graceful disconnect. */
function runSession(): Run {
  const run = start("session");
  const server = tap(run, "server");
  const client = tap(run, "client");
  const peer = client.endpoint.connect(0, SERVER_ADDRESS);
  runTo(run, 50);
  client.take("connected");
  const serverPeer = server.take("connected").peer;

  // Four snapshots on the unreliable channel, one packet each; the third is lost, so the client's ack bitfield has a hole.
  run.cap.lose = (r) => r.from === server.node && hasText(decodeDatagram(r.bytes), "snap 3");
  for (let i = 1; i <= 4; i++) {
    server.endpoint.send(serverPeer, 1, text(`snap ${i}`));
    server.pullEvents();
    runTo(run, 50 + i);
  }
  runTo(run, 63);
  // One message per channel kind, packed into one DATA packet that also acks the snapshots.
  client.endpoint.send(peer, 0, text("hello"));
  client.endpoint.send(peer, 1, text("pos 10,20"));
  client.endpoint.send(peer, 2, text("chat: gg"));
  client.endpoint.send(peer, 3, text("input 7"));
  runTo(run, 100);

  // A 1300-byte reliable-ordered message (two FRAGMENT frames) and a 200-byte unreliable one (2-byte varint length).
  const big = new Uint8Array(1300);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  const wide = new Uint8Array(200);
  for (let i = 0; i < wide.length; i++) wide[i] = 0x41 + (i % 26);
  client.endpoint.send(peer, 0, big);
  client.endpoint.send(peer, 1, wide);
  runTo(run, 200);

  // "doomed" never gets through and expires: the sender replaces it with a TOMBSTONE, which releases "after doom".
  run.cap.lose = (r) => r.from === client.node && hasText(decodeDatagram(r.bytes), "doomed");
  // Endpoint.send() measures expiresInMs from the last time the endpoint was handed, not from now:
  // bring the client's clock to the present first, or "doomed" would expire before it is ever sent.
  client.endpoint.handleTimeout(run.sim.now);
  client.endpoint.send(peer, 0, text("doomed"), { expiresInMs: 40 });
  runTo(run, 205);
  client.endpoint.send(peer, 0, text("after doom"));
  runTo(run, 400);
  run.cap.lose = () => false;

  client.endpoint.disconnect(peer);
  client.pullEvents();
  client.take("disconnected");
  runTo(run, 450);
  server.take("disconnected");

  // What the scenario meant to happen, checked on the decoded bytes and on the receivers' events.
  const messagesAt = (t: Tap): string[] => t.events.filter((e) => e.type === "message").map((e) => (e.type === "message" ? `${e.channel}:${toHex(e.data)}` : ""));
  check(
    JSON.stringify(messagesAt(client)) === JSON.stringify(["snap 1", "snap 2", "snap 4"].map((s) => `1:${toHex(text(s))}`)),
    "the client received snapshots 1, 2 and 4",
  );
  check(
    JSON.stringify(messagesAt(server)) === JSON.stringify([
      `0:${toHex(text("hello"))}`, `1:${toHex(text("pos 10,20"))}`, `2:${toHex(text("chat: gg"))}`, `3:${toHex(text("input 7"))}`,
      `1:${toHex(wide)}`, `0:${toHex(big)}`, `0:${toHex(text("after doom"))}`,
    ]),
    "the server received every message but 'doomed', in the expected order",
  );
  const four = recordsOf(run, (r, d) => r.from === client.node && framesOf(d).filter((f) => f.type === "MESSAGE").length === 4);
  check(four.length === 1, "one DATA packet carries the four channel messages");
  const fd = decodeDatagram(four[0]!.bytes);
  check(fd.hasAck === true && fd.ack === 4 && fd.ackBits === 0b1110, "the four-message packet acks 4, 2, 1, 0 (3 lost)");
  check(recordsOf(run, (r, d) => framesOf(d).some((f) => f.type === "TOMBSTONE") && r.delivered).length === 1, "one TOMBSTONE was delivered");
  check(recordsOf(run, (_r, d) => framesOf(d).some((f) => f.type === "FRAGMENT")).length === 2, "two FRAGMENT packets");
  check(recordsOf(run, (r, d) => d.type === "DISCONNECT" && r.sentAtMs === 400).length === 3, "three DISCONNECT copies at once");
  return run;
}

function runCookie(): Run {
  const run = start("cookie");
  tap(run, "client").endpoint.connect(0, SERVER_ADDRESS);
  runTo(run, 70);
  tap(run, "client").take("connected");
  tap(run, "server").take("connected");
  const requests = recordsOf(run, (_r, d) => d.type === "CONNECT_REQUEST");
  check(requests.length === 2, "two requests in the cookie exchange");
  const challenge = recordsOf(run, (_r, d) => d.type === "CONNECT_CHALLENGE");
  check(challenge.length === 1, "one challenge");
  check(decodeDatagram(requests[1]!.bytes).payloadHex === decodeDatagram(challenge[0]!.bytes).challengeHex, "the client echoes the challenge");
  return run;
}

function runDeny(scenario: "reject" | "mismatch", reason: string): Run {
  const run = start(scenario);
  tap(run, "client").endpoint.connect(0, SERVER_ADDRESS);
  runTo(run, 30);
  const e = tap(run, "client").take("disconnected");
  check(e.type === "disconnected" && e.reason === "denied", `${scenario}: the client is denied`);
  check(recordsOf(run, (_r, d) => d.type === "CONNECT_DENY" && d.reason === reason).length === 1, `${scenario}: one ${reason} deny`);
  return run;
}

function runFull(): Run {
  const run = start("full");
  tap(run, "client").endpoint.connect(0, SERVER_ADDRESS);
  runTo(run, 100);
  tap(run, "client").take("connected");
  tap(run, "client-b").endpoint.connect(100, SERVER_ADDRESS);
  runTo(run, 150);
  const e = tap(run, "client-b").take("disconnected");
  check(e.type === "disconnected" && e.reason === "denied" && e.detail === "server full", "client-b is denied: server full");
  return run;
}

const HANDSHAKE_TYPES = new Set(["CONNECT_REQUEST", "CONNECT_CHALLENGE", "CONNECT_ACCEPT"]);

function slug(d: Decoded): string {
  if (d.type !== "DATA") return String(d.type).toLowerCase().replaceAll("_", "-");
  const kinds = [...new Set(framesOf(d).map((f) => String(f.type).toLowerCase()))];
  return `data-${kinds.length === 0 ? "ack-only" : kinds.join("-")}`;
}

function describe(r: Rec, d: Decoded): string {
  const head = `${r.from.name} -> ${r.to.name}, sent at ${r.sentAtMs} ms`;
  let what: string;
  switch (d.type) {
    case "CONNECT_REQUEST":
      what = `CONNECT_REQUEST from client id ${hex32(d.connectionId)}, ${d.length} bytes (padded), channels ${(d.channels as string[]).join(", ")}, payload ${d.payloadLength} bytes`;
      break;
    case "CONNECT_CHALLENGE":
      what = `CONNECT_CHALLENGE to client id ${hex32(d.connectionId)} with a ${d.challengeLength}-byte cookie`;
      break;
    case "CONNECT_ACCEPT":
      what = `CONNECT_ACCEPT to client id ${hex32(d.connectionId)}: server connection id ${hex32(d.serverConnectionId)}`;
      break;
    case "CONNECT_DENY":
      what = `CONNECT_DENY ${d.reason} (${d.reasonCode}) "${d.detail}"`;
      break;
    case "DISCONNECT":
      what = `DISCONNECT ${d.reason} (${d.reasonCode}) to connection ${hex32(d.connectionId)}`;
      break;
    default: {
      const acks = d.hasAck ? `acks ${(d.acked as number[]).join(",")}` : "no ack";
      const frames = framesOf(d).map((f) => {
        if (f.type === "MESSAGE") return `MESSAGE ch${f.channel} seq ${f.seq} ${f.text !== undefined ? JSON.stringify(f.text) : `${f.length} bytes`}`;
        if (f.type === "FRAGMENT") return `FRAGMENT ch${f.channel} seq ${f.seq} part ${f.index}/${f.count} ${f.length} bytes`;
        if (f.type === "TOMBSTONE") return `TOMBSTONE ch${f.channel} seq ${f.seq}`;
        return String(f.type);
      });
      what = `DATA seq ${d.seq}, ${acks}${frames.length > 0 ? `; ${frames.join("; ")}` : " (ack-only, not ack-eliciting)"}`;
    }
  }
  const fate = r.delivered ? "" : " Lost in the network by the scenario.";
  return `${head}: ${what}.${r.note ? ` ${r.note}` : ""}${fate}`;
}

function hex32(v: Json | undefined): string {
  return `0x${Number(v).toString(16).padStart(8, "0")}`;
}

function note(run: Run, pred: (r: Rec, d: Decoded) => boolean, s: string): void {
  for (const r of recordsOf(run, pred)) r.note = r.note ? `${r.note} ${s}` : s;
}

function toCaptured(run: Run): CapturedVector[] {
  check(run.cap.records.every((r) => r.arrived), `${run.cap.scenario}: every datagram reached its destination before the scenario ended`);
  for (const r of run.cap.records) r.name = `${run.cap.scenario}/${String(r.step).padStart(2, "0")}-${r.from.name}-${slug(decodeDatagram(r.bytes, kindsOf(r)))}`;
  return run.cap.records.map((r) => {
    const d = decodeDatagram(r.bytes, kindsOf(r));
    const v: CapturedVector = {
      name: r.name, description: describe(r, d), hex: toHex(r.bytes), decoded: d,
      scenario: run.cap.scenario, step: r.step, from: addressKey(r.from.address), to: addressKey(r.to.address),
      sentAtMs: r.sentAtMs, delivered: r.delivered,
    };
    if (r.delivered) {
      v.receivedAtMs = r.receivedAtMs;
      v.arrival = r.arrival;
      v.events = r.events;
      v.drops = r.drops;
      if (HANDSHAKE_TYPES.has(String(d.type))) v.replies = r.replies.map((x) => x.name);
    }
    return v;
  });
}

// ---- Hand-built datagrams ----

function u16(v: number): number[] {
  return [(v >>> 8) & 0xff, v & 0xff];
}

function u32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

function header(type: number, flags: number, cid: number): number[] {
  return [0xf1, (flags & 0xf0) | type, ...u32(cid)];
}

function dataPacket(cid: number, seq: number, frames: number[]): Uint8Array {
  return Uint8Array.from([...header(5, 0, cid), ...u16(seq), 0, 0, 0, 0, 0, 0, 0, 0, ...frames]);
}

/** A CONNECT_REQUEST body without its padding; the vector pads it with zeroPadTo. */
function request(cid: number, opts: { window?: number; maxMessage?: number; kinds?: number[]; payloadLength?: number } = {}): Uint8Array {
  const kinds = opts.kinds ?? [1, 3, 2, 4];
  return Uint8Array.from([
    ...header(1, 0, cid), ...u32(opts.window ?? 4 << 20), ...u32(opts.maxMessage ?? 1 << 20), kinds.length, ...kinds,
    ...u16(opts.payloadLength ?? 0),
  ]);
}

// ---- Files ----

export interface VectorFiles {
  "handshake.json": CapturedVector[];
  "data.json": (CapturedVector | ConstructedVector)[];
  "frames.json": FrameVector[];
  "varint.json": Vector[];
  "invalid.json": ConstructedVector[];
}

export function generateVectors(): VectorFiles {
  const session = runSession();
  note(session, (r, d) => d.type === "CONNECT_REQUEST" && r.from.name === "client", "Padded with zeros to 1200 bytes so the server's reply fits 3x the request (anti-amplification).");
  note(session, (r, d) => r.from.name === "client" && framesOf(d).some((f) => f.type === "PING") && d.seq === 0, "The client's first DATA after the accept: it confirms the handshake on the server, which emits 'connected'.");
  note(session, (r, d) => framesOf(d).filter((f) => f.type === "MESSAGE").length === 4, "One message per channel kind in one packet, round-robin order; the ack bitfield shows server packet 3 missing.");
  note(session, (r, d) => r.from.name === "client" && d.type === "DATA" && hasText(d, "after doom"), "Reliable-ordered message 3 waits on the receiver until message 2 is delivered or tombstoned.");
  note(session, (_r, d) => framesOf(d).some((f) => f.type === "TOMBSTONE"), "Message 2 ('doomed') expired unacked: the TOMBSTONE tells the receiver to skip it, which releases message 3.");
  note(session, (r, d) => d.type === "DISCONNECT" && r.drops["unknown-connection"] === 1, "A later copy: the first one already released the connection, so the receiver counts it as unknown-connection.");
  const cookie = runCookie();
  note(cookie, (r, d) => d.type === "CONNECT_REQUEST" && d.payloadLength !== 0, "The retry answers the challenge: the cookie rides in the payload field.");
  const reject = runDeny("reject", "REJECTED");
  const full = runFull();
  const mismatch = runDeny("mismatch", "CHANNEL_MISMATCH");
  note(mismatch, (r, d) => d.type === "CONNECT_REQUEST", "This client has only two channels, so the server denies it.");

  const captured = [session, cookie, reject, full, mismatch].flatMap(toCaptured);
  const byName = (pred: (v: CapturedVector) => boolean, what: string): CapturedVector => {
    const found = captured.filter(pred);
    check(found.length >= 1, `a captured vector: ${what}`);
    return found[0]!;
  };
  const handshake = captured.filter((v) => String(v.decoded.type).startsWith("CONNECT_"));
  const data: (CapturedVector | ConstructedVector)[] = captured.filter((v) => !String(v.decoded.type).startsWith("CONNECT_"));

  const accept = byName((v) => v.scenario === "session" && v.decoded.type === "CONNECT_ACCEPT", "session accept");
  const firstData = byName((v) => v.scenario === "session" && v.decoded.type === "DATA" && v.from === addressKey(CLIENT_ADDRESS), "session first client DATA");
  const fourMessages = byName((v) => framesOf(v.decoded).filter((f) => f.type === "MESSAGE").length === 4, "four-message packet");
  const serverId = accept.decoded.serverConnectionId as number;
  const clientId = accept.decoded.connectionId as number;
  const srv: TargetSpec = { scenario: "session", node: "server", untilMs: firstData.receivedAtMs! };
  const cli: TargetSpec = { scenario: "session", node: "client", untilMs: accept.receivedAtMs! };
  const con: TargetSpec = { scenario: "session", node: "client", untilMs: 0 };
  const C = addressKey(CLIENT_ADDRESS);
  const S = addressKey(SERVER_ADDRESS);
  const B = addressKey(CLIENT_B_ADDRESS);
  const A = addressKey(ATTACKER_ADDRESS);
  const AT = 100;

  const fourEvents: EventRecord[] = framesOf(fourMessages.decoded).map((f) => ({ type: "message", channel: f.channel as number, dataHex: f.dataHex as string }));
  const construct = (name: string, description: string, bytes: Uint8Array, target: TargetSpec, from: string, drops: Record<string, number>, events: EventRecord[] = [], zeroPadTo?: number): ConstructedVector => {
    const full = zeroPadTo === undefined ? bytes : (() => {
      const b = new Uint8Array(zeroPadTo);
      b.set(bytes);
      return b;
    })();
    const v: ConstructedVector = { name, description, hex: toHex(bytes), decoded: decodeDatagram(full), target, from, atMs: AT, drops, events };
    if (zeroPadTo !== undefined) v.zeroPadTo = zeroPadTo;
    return v;
  };

  const fourBytes = fromHex(fourMessages.hex);
  const padded = new Uint8Array(fourBytes.length + 8);
  padded.set(fourBytes);
  const flagged = fourBytes.slice();
  flagged[1] = flagged[1]! | 0xe0;
  data.push(
    construct("constructed/data-padding", `${fourMessages.name} with a PADDING frame of 8 zero bytes appended: the receiver ignores the padding and delivers the same four messages. The core never sends PADDING; datagram plugins may.`, padded, srv, C, {}, fourEvents),
    construct("constructed/data-plugin-flags", `${fourMessages.name} with the plugin flag bits 0xE0 of byte 1 set: the core ignores them and delivers the same four messages.`, flagged, srv, C, {}, fourEvents),
  );

  const frames: FrameVector[] = [];
  const addFrame = (name: string, description: string, v: CapturedVector, pick: (f: Decoded) => boolean): void => {
    const bytes = fromHex(v.hex);
    const all = framesOf(v.decoded);
    const i = all.findIndex(pick);
    check(i >= 0, `frame for ${name}`);
    const f = all[i]!;
    const start = f.offset as number;
    const end = i + 1 < all.length ? (all[i + 1]!.offset as number) : bytes.length;
    const frameBytes = bytes.subarray(start, end);
    frames.push({ name, description, hex: toHex(frameBytes), decoded: decodeFrames(frameBytes, 0, frameBytes.length, DEFAULT_KINDS).frames[0]!, source: { vector: v.name, offset: start } });
  };
  addFrame("frame/ping", "PING: one byte 0x01, ack-eliciting, no body (the client's first DATA after the accept).", firstData, (f) => f.type === "PING");
  for (const ch of [0, 1, 2, 3]) {
    addFrame(`frame/message-ch${ch}`, `MESSAGE on channel ${ch} (${DEFAULT_KINDS[ch]}): type, channel, seq u16, varint length, bytes.`, fourMessages, (f) => f.type === "MESSAGE" && f.channel === ch);
  }
  const fragPackets = captured.filter((v) => framesOf(v.decoded).some((f) => f.type === "FRAGMENT"));
  addFrame("frame/message-varint-2", "MESSAGE of 200 bytes: its length needs a 2-byte varint (c8 01).", fragPackets[1]!, (f) => f.type === "MESSAGE");
  addFrame("frame/fragment-first", "FRAGMENT 0 of 2 of a 1300-byte message: 1174 bytes, the most that fits a 1200-byte datagram (1200 - 16 - 8 - 2).", fragPackets[0]!, (f) => f.type === "FRAGMENT");
  addFrame("frame/fragment-last", "FRAGMENT 1 of 2: the remaining 126 bytes; only the last part may be shorter.", fragPackets[1]!, (f) => f.type === "FRAGMENT");
  const tomb = byName((v) => framesOf(v.decoded).some((f) => f.type === "TOMBSTONE"), "tombstone packet");
  addFrame("frame/tombstone", "TOMBSTONE: type, channel, seq; the reliable message with this seq expired and will never be delivered.", tomb, (f) => f.type === "TOMBSTONE");
  const pad = new Uint8Array(8);
  frames.push({ name: "frame/padding", description: "PADDING: a 0x00 byte ends the frame list; every byte after it must be zero too. Constructed: the core never sends it.", hex: toHex(pad), decoded: decodeFrames(pad, 0, pad.length, DEFAULT_KINDS).frames[0]! });

  const varints: Vector[] = [];
  for (const value of [0, 1, 5, 127, 128, 200, 300, 1174, 16383, 16384, 65507, 2097151]) {
    const buf = new Uint8Array(4);
    const size = writeVarint(buf, 0, value);
    const bytes = buf.subarray(0, size);
    const d = decodeVarintAt(bytes, 0, bytes.length)!;
    check(d.value === value, `varint ${value}`);
    varints.push({ name: `varint/${value}`, description: `${value} as written by the engine: ${size} byte(s), 7 bits per byte, least significant group first.`, hex: toHex(bytes), decoded: { value, length: size, minimal: true } });
  }
  const odd: [string, string, string][] = [
    ["varint/non-minimal-0", "8000", "0 in two bytes: not minimal, but readers accept it (senders always write the shortest form)."],
    ["varint/non-minimal-1", "818000", "1 in three bytes: accepted."],
    ["varint/too-long", "80808000", "A fourth byte is never allowed: malformed."],
    ["varint/truncated", "80", "The continuation bit is set on the last byte available: malformed."],
    ["varint/third-byte-continues", "ffffff", "The third byte has the continuation bit set: malformed."],
  ];
  for (const [name, hex, description] of odd) {
    const bytes = fromHex(hex);
    const d = decodeVarintAt(bytes, 0, bytes.length);
    varints.push({ name, description, hex, decoded: d === null ? { error: "malformed" } : { value: d.value, length: d.size, minimal: d.size === 1 || bytes[d.size - 1] !== 0 } });
  }

  const pend: TargetSpec = { ...srv, untilMs: byName((v) => v.scenario === "session" && v.decoded.type === "CONNECT_REQUEST", "session request").receivedAtMs!, fixture: "one-pending-server" };
  const long: TargetSpec = { scenario: "session", node: "server", untilMs: -1, fixture: "long-deny-server" };
  const otherGen = (((serverId >>> 16) ^ 0x0001) << 16 | (serverId & 0xffff)) >>> 0;
  const ping = [0x01];
  const msg = (ch: number, seq: number, payload: number[]): number[] => [0x02, ch, ...u16(seq), payload.length, ...payload];
  const invalid: ConstructedVector[] = [
    construct("invalid/empty", "An empty datagram: shorter than the 6-byte fixed header.", new Uint8Array(0), srv, C, { short: 1 }),
    construct("invalid/header-5-bytes", "Five bytes: one short of the fixed header.", Uint8Array.from(header(5, 0, serverId).slice(0, 5)), srv, C, { short: 1 }),
    construct("invalid/oversize", "65508 bytes: larger than any IPv4 UDP payload (65507).", dataPacket(serverId, 1, ping), srv, C, { oversize: 1 }, [], 65508),
    construct("invalid/version-f2", "Version byte 0xF2 (a future version 2): only 0xF1 is v1.", Uint8Array.from([0xf2, ...dataPacket(serverId, 1, ping).subarray(1)]), srv, C, { "bad-version": 1 }),
    construct("invalid/version-01", "Version byte 0x01: the magic high nibble 0xF is missing.", Uint8Array.from([0x01, ...dataPacket(serverId, 1, ping).subarray(1)]), srv, C, { "bad-version": 1 }),
    construct("invalid/type-0", "Packet type 0 is not assigned.", Uint8Array.from([...header(0, 0, serverId), ...new Array<number>(10).fill(0)]), srv, C, { "bad-type": 1 }),
    construct("invalid/type-7", "Packet type 7 is not assigned in v1.", Uint8Array.from([...header(7, 0, serverId), ...new Array<number>(10).fill(0)]), srv, C, { "bad-type": 1 }),
    construct("invalid/type-15-all-flags", "Byte 1 = 0xFF: type 15 (not assigned) with every flag bit set.", Uint8Array.from([...header(15, 0xf0, serverId), ...new Array<number>(10).fill(0)]), srv, C, { "bad-type": 1 }),
    construct("invalid/unknown-slot", "DATA for slot 5, which holds no connection.", dataPacket(((serverId & 0xffff0000) | 5) >>> 0, 1, ping), srv, C, { "unknown-connection": 1 }),
    construct("invalid/stale-generation", "DATA for the right slot but another generation (upper 16 bits): an id from before the slot was reused.", dataPacket(otherGen, 1, ping), srv, C, { "unknown-connection": 1 }),
    construct("invalid/address-mismatch", "A valid DATA for the connection, but from an address that is not the peer's.", dataPacket(serverId, 1, ping), srv, A, { "address-mismatch": 1 }),
    construct("invalid/request-to-client", "A CONNECT_REQUEST to an endpoint that does not accept connections.", request(0x12340001), cli, A, { "not-accepting": 1 }, [], 1200),
    construct("invalid/request-63-bytes", "A CONNECT_REQUEST of 63 bytes: requests under 64 bytes get no reply, which could amplify.", request(0x12340001), srv, B, { short: 1 }, [], 63),
    construct("invalid/request-id-0", "A CONNECT_REQUEST with connection id 0, which no endpoint ever allocates.", request(0), srv, B, { malformed: 1 }, [], 1200),
    construct("invalid/request-channel-count-overruns", "A 64-byte CONNECT_REQUEST claiming 60 channels: the payload length field would lie past the end.", request(0x12340001, { kinds: new Array<number>(60).fill(1) }).subarray(0, 64), srv, B, { malformed: 1 }),
    construct("invalid/request-payload-overruns", "A CONNECT_REQUEST whose payload length (2000) runs past the end of the 1200-byte datagram.", request(0x12340001, { payloadLength: 2000 }), srv, B, { malformed: 1 }, [], 1200),
    construct("invalid/request-window-1023", "A CONNECT_REQUEST advertising a receive window of 1023 bytes (minimum 1024).", request(0x12340001, { window: 1023 }), srv, B, { malformed: 1 }, [], 1200),
    construct("invalid/request-max-message-0", "A CONNECT_REQUEST advertising maxMessageSize 0 (minimum 1).", request(0x12340001, { maxMessage: 0 }), srv, B, { malformed: 1 }, [], 1200),
    construct("invalid/request-amplification", `A 64-byte CONNECT_REQUEST to a server whose plugin rejects with a 200-byte reason: the DENY (209 bytes) would exceed 3 x 64 = 192 bytes, so no reply is sent.`, request(0x12340001), long, B, { "amplification-limit": 1 }, [], 64),
    construct("invalid/request-handshake-limit", "A CONNECT_REQUEST from a second client while a server with maxPendingHandshakes 1 has one handshake pending.", request(0x12340001), pend, B, { "handshake-limit": 1 }, [], 1200),
    construct("invalid/accept-when-connected", "A CONNECT_ACCEPT to a client that is already connected.", Uint8Array.from([...header(3, 0, clientId), ...u32(0x22220001), ...u32(4 << 20), ...u32(1 << 20), 0, 0]), cli, S, { "wrong-state": 1 }),
    construct("invalid/accept-to-server", "A CONNECT_ACCEPT to the server side of a connection.", Uint8Array.from([...header(3, 0, serverId), ...u32(0x22220001), ...u32(4 << 20), ...u32(1 << 20), 0, 0]), srv, C, { "wrong-state": 1 }),
    construct("invalid/accept-19-bytes", "A CONNECT_ACCEPT one byte short of its 20-byte minimum.", Uint8Array.from([...header(3, 0, clientId), ...u32(0x22220001), ...u32(4 << 20), ...u32(1 << 20), 0]), con, S, { malformed: 1 }),
    construct("invalid/accept-server-id-0", "A CONNECT_ACCEPT naming server connection id 0.", Uint8Array.from([...header(3, 0, clientId), ...u32(0), ...u32(4 << 20), ...u32(1 << 20), 0, 0]), con, S, { malformed: 1 }),
    construct("invalid/accept-window-1000", "A CONNECT_ACCEPT advertising a 1000-byte receive window.", Uint8Array.from([...header(3, 0, clientId), ...u32(0x22220001), ...u32(1000), ...u32(1 << 20), 0, 0]), con, S, { malformed: 1 }),
    construct("invalid/challenge-7-bytes", "A CONNECT_CHALLENGE without its length field.", Uint8Array.from([...header(2, 0, clientId), 0]), con, S, { malformed: 1 }),
    construct("invalid/challenge-overruns", "A CONNECT_CHALLENGE whose length (16) runs past the end.", Uint8Array.from([...header(2, 0, clientId), ...u16(16), 1, 2, 3]), con, S, { malformed: 1 }),
    construct("invalid/challenge-when-connected", "A CONNECT_CHALLENGE to a connected client.", Uint8Array.from([...header(2, 0, clientId), ...u16(2), 1, 2]), cli, S, { "wrong-state": 1 }),
    construct("invalid/deny-8-bytes", "A CONNECT_DENY without a complete detail length.", Uint8Array.from([...header(4, 0, clientId), 1, 0]), con, S, { malformed: 1 }),
    construct("invalid/deny-when-connected", "A CONNECT_DENY to a connected client.", Uint8Array.from([...header(4, 0, clientId), 1, 0, 0]), cli, S, { "wrong-state": 1 }),
    construct("invalid/disconnect-6-bytes", "A DISCONNECT without its reason byte.", Uint8Array.from(header(6, 0, serverId)), srv, C, { malformed: 1 }),
    construct("invalid/data-15-bytes", "A DATA packet one byte short of its 16-byte header.", dataPacket(serverId, 1, []).subarray(0, 15), srv, C, { short: 1 }),
    construct("invalid/data-to-connecting-client", "DATA to a client still waiting for its accept.", dataPacket(clientId, 0, ping), con, S, { "wrong-state": 1 }),
    construct("invalid/data-duplicate", `${firstData.name} again: the receiver already has packet 0.`, fromHex(firstData.hex), srv, C, { duplicate: 1 }),
    construct("invalid/data-stale", "DATA seq 64512 when the largest received is 0: 1024 behind, older than the receive window can judge.", dataPacket(serverId, 64512, ping), srv, C, { stale: 1 }),
    construct("invalid/frame-unknown-type", "Frame type 0x05 (unassigned) on a valid channel.", dataPacket(serverId, 1, [0x05, 0x00, 0x00, 0x00]), srv, C, { malformed: 1 }),
    construct("invalid/frame-unknown-type-bad-channel", "Frame type 0x05 whose second byte is 9: the channel is checked before the type, so this counts as bad-channel.", dataPacket(serverId, 1, [0x05, 0x09, 0x00, 0x00]), srv, C, { "bad-channel": 1 }),
    construct("invalid/padding-not-zero", "PADDING followed by a non-zero byte.", dataPacket(serverId, 1, [0x00, 0x00, 0x01]), srv, C, { malformed: 1 }),
    construct("invalid/message-header-truncated", "A MESSAGE frame cut after 3 bytes.", dataPacket(serverId, 1, [0x02, 0x01, 0x00]), srv, C, { malformed: 1 }),
    construct("invalid/message-overruns", "A MESSAGE frame claiming 5 bytes with 2 left.", dataPacket(serverId, 1, [0x02, 0x01, 0x00, 0x01, 0x05, 0x61, 0x62]), srv, C, { malformed: 1 }),
    construct("invalid/message-varint-4-bytes", "A MESSAGE length written in 4 varint bytes.", dataPacket(serverId, 1, [0x02, 0x01, 0x00, 0x01, 0x81, 0x80, 0x80, 0x00, 0x61]), srv, C, { malformed: 1 }),
    construct("invalid/message-varint-truncated", "A MESSAGE whose length varint is cut after a continuation byte.", dataPacket(serverId, 1, [0x02, 0x01, 0x00, 0x01, 0x80]), srv, C, { malformed: 1 }),
    construct("invalid/message-channel-4", "A MESSAGE on channel 4; the connection has channels 0-3.", dataPacket(serverId, 1, msg(4, 0, [0x61])), srv, C, { "bad-channel": 1 }),
    construct("invalid/tombstone-unreliable", "A TOMBSTONE on channel 1 (unreliable): only reliable channels have tombstones.", dataPacket(serverId, 1, [0x04, 0x01, 0x00, 0x00]), srv, C, { "bad-channel": 1 }),
    construct("invalid/tombstone-sequenced", "A TOMBSTONE on channel 3 (sequenced).", dataPacket(serverId, 1, [0x04, 0x03, 0x00, 0x00]), srv, C, { "bad-channel": 1 }),
    construct("invalid/fragment-header-truncated", "A FRAGMENT frame cut after 7 bytes.", dataPacket(serverId, 1, [0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02]), srv, C, { malformed: 1 }),
    construct("invalid/fragment-count-1", "A FRAGMENT with count 1: a one-part message is a MESSAGE.", dataPacket(serverId, 1, [0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x61]), srv, C, { "bad-fragment": 1 }),
    construct("invalid/fragment-index-equals-count", "A FRAGMENT with index 2 of count 2.", dataPacket(serverId, 1, [0x03, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, 0x01, 0x61]), srv, C, { "bad-fragment": 1 }),
    construct("invalid/valid-message-then-garbage", "A good MESSAGE followed by an unassigned frame type: the whole packet is dropped and the good message is not delivered.", dataPacket(serverId, 1, [...msg(1, 0, [0x61]), 0x07, 0x00, 0x00, 0x00]), srv, C, { malformed: 1 }),
    construct("invalid/fragment-empty-part", "FRAGMENT 0 of 2 with no bytes: only the last part may be shorter than the others, and no part but the last may be empty. The packet is accepted (and acked); the frame is dropped.", dataPacket(serverId, 1, [0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00]), srv, C, { "bad-fragment": 1 }),
    construct("invalid/fragment-too-large", "FRAGMENT 0 of 65535 with 100 bytes: 100 x 65534 exceeds the receiver's maxMessageSize (1 MiB). The packet is accepted; the frame is dropped.", dataPacket(serverId, 1, [0x03, 0x01, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 100, ...new Array<number>(100).fill(0x5a)]), srv, C, { "message-too-large": 1 }),
    construct("invalid/message-out-of-window", "A reliable-ordered MESSAGE with seq 1024 while the receiver expects 0: beyond the 1024-message window. The packet is accepted; the message is dropped (the sender would resend it).", dataPacket(serverId, 1, msg(0, 1024, [0x61])), srv, C, { "out-of-window": 1 }),
  ];

  return { "handshake.json": handshake, "data.json": data, "frames.json": frames, "varint.json": varints, "invalid.json": invalid };
}

export function writeVectors(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files = generateVectors();
  const names = Object.keys(files) as (keyof VectorFiles)[];
  for (const name of names) writeFileSync(join(dir, name), `${JSON.stringify(files[name], null, 2)}\n`);
  return names;
}

if (import.meta.main) {
  const dir = process.argv[2] ?? dirname(fileURLToPath(import.meta.url));
  const names = writeVectors(dir);
  console.log(`wrote ${names.join(", ")} to ${dir}`);
}
