/**
 * Conformance test of the fastnet wire protocol v1 (packages/core/PROTOCOL.md)
 * against the vectors in test/vectors/:
 *  (a) a reference decoder written in this file from PROTOCOL.md (it uses
 *      neither src/protocol/wire.ts nor the generator's decoder) decodes every
 *      vector and must agree with its `decoded` fields;
 *  (b) the captured datagrams are replayed into real endpoints built from the
 *      same fixtures: handshake replies must come out byte for byte, events and
 *      drop counters must match, and the messages delivered must be those a
 *      naive delivery model computes from the decoded frames;
 *  (c) each invalid datagram, fed to an endpoint in the stated state, increases
 *      exactly the stated drop counter and gets no reply;
 *  (d) re-running generate.ts produces identical files.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Endpoint } from "../src/protocol/endpoint.ts";
import type { Address, EndpointEvent } from "../src/protocol/types.ts";
import { readVarint, writeVarint } from "../src/protocol/wire.ts";
import type { Peer } from "../src/protocol/plugin.ts";
import {
  type CapturedVector, type ConstructedVector, type Decoded, type EventRecord, type FixtureName, type FrameVector,
  type Json, type ScenarioName, SCENARIOS, type Vector, fixtureConfig,
} from "./vectors/generate.ts";

const DIR = join(import.meta.dir, "vectors");
const FILES = ["handshake.json", "data.json", "frames.json", "varint.json", "invalid.json"] as const;

function load<T>(file: string): T[] {
  return JSON.parse(readFileSync(join(DIR, file), "utf8")) as T[];
}

const handshake = load<CapturedVector>("handshake.json");
const data = load<CapturedVector | ConstructedVector>("data.json");
const frameVectors = load<FrameVector>("frames.json");
const varints = load<Vector>("varint.json");
const invalid = load<ConstructedVector>("invalid.json");
const captured = [...handshake, ...data].filter((v): v is CapturedVector => "scenario" in v);
const constructedValid = data.filter((v): v is ConstructedVector => "target" in v);
const allDatagrams: Vector[] = [...handshake, ...data, ...invalid];
const byName = new Map<string, Vector>([...allDatagrams, ...frameVectors, ...varints].map((v) => [v.name, v]));

function bytesOf(v: Vector): Uint8Array {
  const hex = v.hex;
  const out = new Uint8Array(Math.max(hex.length / 2, v.zeroPadTo ?? 0));
  for (let i = 0; i < hex.length / 2; i++) out[i] = Number.parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

function hexOf(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function parseAddress(s: string): Address {
  const i = s.lastIndexOf(":");
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

// ---- (a) Reference decoder, from PROTOCOL.md sections 2-5 ----

/** Channel kinds of every scenario but `mismatch` (PROTOCOL.md §19). */
const KINDS = ["reliable-ordered", "unreliable", "reliable-unordered", "sequenced"];
const KIND_CODES = ["", "reliable-ordered", "reliable-unordered", "unreliable", "sequenced"];
const TYPES = ["", "CONNECT_REQUEST", "CONNECT_CHALLENGE", "CONNECT_ACCEPT", "CONNECT_DENY", "DATA", "DISCONNECT"];
const DENY_CODES = ["", "REJECTED", "SERVER_FULL", "CHANNEL_MISMATCH"];
const DISCONNECT_CODES = ["", "closed-by-peer", "timeout", "denied", "protocol-violation"];

/** Big-endian cursor over a datagram. */
class Reader {
  constructor(readonly buf: Uint8Array, public pos = 0) {}
  get left(): number {
    return this.buf.length - this.pos;
  }
  u8(): number {
    return this.buf[this.pos++]!;
  }
  u16(): number {
    return this.u8() * 256 + this.u8();
  }
  u32(): number {
    return this.u16() * 65536 + this.u16();
  }
  take(n: number): Uint8Array {
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** 1-3 byte LEB128, or null if it needs a 4th byte or runs out. */
  varint(): number | null {
    let value = 0;
    let scale = 1;
    for (let n = 0; n < 3; n++) {
      if (this.left === 0) return null;
      const b = this.u8();
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return value;
      scale *= 128;
    }
    return null;
  }
}

function ascii(b: Uint8Array): string | null {
  if (b.length === 0 || b.some((x) => x < 32 || x > 126)) return null;
  return new TextDecoder().decode(b);
}

function refFrames(r: Reader, kinds: readonly string[]): { frames: Decoded[]; error?: string } {
  const frames: Decoded[] = [];
  while (r.left > 0) {
    const offset = r.pos;
    const type = r.buf[offset]!;
    if (type === 0) {
      const rest = r.take(r.left);
      if (rest.some((x) => x !== 0)) return { frames, error: "malformed" };
      frames.push({ type: "PADDING", offset, length: rest.length });
      break;
    }
    if (type === 1) {
      r.pos++;
      frames.push({ type: "PING", offset });
      continue;
    }
    if (r.left < 4) return { frames, error: "malformed" };
    r.pos++;
    const channel = r.u8();
    const seq = r.u16();
    if (channel >= kinds.length) return { frames, error: "bad-channel" };
    const reliable = kinds[channel] === "reliable-ordered" || kinds[channel] === "reliable-unordered";
    if (type === 4) {
      if (!reliable) return { frames, error: "bad-channel" };
      frames.push({ type: "TOMBSTONE", offset, channel, seq });
      continue;
    }
    const frame: Decoded = { type: type === 2 ? "MESSAGE" : "FRAGMENT", offset, channel, seq };
    if (type === 3) {
      if (r.left < 4) return { frames, error: "malformed" };
      frame.index = r.u16();
      frame.count = r.u16();
      if ((frame.count as number) < 2 || (frame.index as number) >= (frame.count as number)) return { frames, error: "bad-fragment" };
    } else if (type !== 2) {
      return { frames, error: "malformed" };
    }
    const length = r.varint();
    if (length === null || length > r.left) return { frames, error: "malformed" };
    const bytes = r.take(length);
    frame.length = length;
    frame.dataHex = hexOf(bytes);
    const text = ascii(bytes);
    if (text !== null) frame.text = text;
    frames.push(frame);
  }
  return { frames };
}

function refDecode(b: Uint8Array, kinds: readonly string[] = KINDS): Decoded {
  const d: Decoded = { length: b.length };
  const fail = (error: string): Decoded => ({ ...d, error });
  if (b.length < 6) return fail("short");
  const r = new Reader(b);
  d.versionByte = r.u8();
  const tf = r.u8();
  d.type = TYPES[tf & 15] || null;
  d.typeCode = tf & 15;
  d.flags = tf & 0xf0;
  d.connectionId = r.u32();
  if (b.length > 65507) return fail("oversize");
  if (d.versionByte !== 0xf1) return fail("bad-version");
  if (d.type === null) return fail("bad-type");
  switch (d.type) {
    case "CONNECT_REQUEST": {
      if (b.length < 64) return fail("short");
      d.receiveWindowBytes = r.u32();
      d.maxMessageSize = r.u32();
      const n = r.u8();
      d.channelCount = n;
      if (d.connectionId === 0 || r.left < n + 2) return fail("malformed");
      d.channels = Array.from(r.take(n), (c) => KIND_CODES[c] || `unknown(${c})`);
      const p = r.u16();
      d.payloadLength = p;
      if (r.left < p) return fail("malformed");
      d.payloadHex = hexOf(r.take(p));
      const padding = r.take(r.left);
      d.paddingLength = padding.length;
      d.paddingIsZero = padding.every((x) => x === 0);
      if ((d.receiveWindowBytes as number) < 1024 || (d.maxMessageSize as number) < 1) return fail("malformed");
      return d;
    }
    case "CONNECT_CHALLENGE": {
      if (r.left < 2) return fail("malformed");
      const c = r.u16();
      d.challengeLength = c;
      if (r.left < c) return fail("malformed");
      d.challengeHex = hexOf(r.take(c));
      return d;
    }
    case "CONNECT_ACCEPT": {
      if (r.left < 14) return fail("malformed");
      d.serverConnectionId = r.u32();
      d.receiveWindowBytes = r.u32();
      d.maxMessageSize = r.u32();
      d.payloadLength = r.u16();
      if (d.serverConnectionId === 0 || (d.receiveWindowBytes as number) < 1024 || (d.maxMessageSize as number) < 1) return fail("malformed");
      return d;
    }
    case "CONNECT_DENY": {
      if (r.left < 3) return fail("malformed");
      d.reasonCode = r.u8();
      d.reason = DENY_CODES[d.reasonCode as number] || null;
      const len = r.u16();
      d.detailLength = len;
      d.detail = new TextDecoder().decode(r.take(Math.min(len, r.left)));
      return d;
    }
    case "DATA": {
      if (r.left < 10) return fail("short");
      d.seq = r.u16();
      d.hasAck = ((d.flags as number) & 0x10) !== 0;
      d.ack = r.u16();
      d.ackBits = r.u32();
      d.ackDelay = r.u16();
      d.ackDelayMicros = (d.ackDelay as number) * 10;
      const acked: number[] = [];
      if (d.hasAck) {
        acked.push(d.ack as number);
        for (let i = 0; i < 32; i++) {
          if (Math.floor((d.ackBits as number) / 2 ** i) % 2 === 1) acked.push(((d.ack as number) - 1 - i + 65536) % 65536);
        }
      }
      d.acked = acked;
      const { frames, error } = refFrames(r, kinds);
      d.frames = frames;
      return error === undefined ? d : { ...d, error };
    }
    default: {
      if (r.left < 1) return fail("malformed");
      d.reasonCode = r.u8();
      d.reason = DISCONNECT_CODES[d.reasonCode as number] || null;
      return d;
    }
  }
}

function kindsFor(v: Vector): readonly string[] {
  return "scenario" in v && (v as CapturedVector).scenario === "mismatch" ? ["reliable-ordered", "unreliable"] : KINDS;
}

function framesOf(d: Decoded): Decoded[] {
  return (d.frames ?? []) as Decoded[];
}

describe("(a) the reference decoder agrees with every vector", () => {
  test("vector names are unique across files", () => {
    const names = [...allDatagrams, ...frameVectors, ...varints].map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
  });

  test.each(allDatagrams.map((v) => [v.name, v] as const))("%s", (_name, v) => {
    expect(refDecode(bytesOf(v), kindsFor(v)) as Json).toEqual(v.decoded);
  });

  test.each(frameVectors.map((v) => [v.name, v] as const))("%s", (_name, v) => {
    const bytes = bytesOf(v);
    const { frames, error } = refFrames(new Reader(bytes), KINDS);
    expect(error).toBeUndefined();
    expect(frames.length).toBe(1);
    expect(frames[0] as Json).toEqual(v.decoded);
    if (v.source !== undefined) {
      const src = bytesOf(byName.get(v.source.vector)!);
      expect(hexOf(src.subarray(v.source.offset, v.source.offset + bytes.length))).toBe(v.hex);
    }
  });

  test.each(varints.map((v) => [v.name, v] as const))("%s", (_name, v) => {
    const bytes = bytesOf(v);
    const r = new Reader(bytes);
    const value = r.varint();
    const expected: Decoded = value === null ? { error: "malformed" } : { value, length: r.pos, minimal: r.pos === 1 || bytes[r.pos - 1] !== 0 };
    expect(expected as Json).toEqual(v.decoded);
    // The engine reads the same value (or refuses), and writes minimal values identically.
    const cursor = { off: 0 };
    expect(readVarint(bytes, cursor, bytes.length)).toBe(value === null ? -1 : value);
    if (v.decoded.minimal === true) {
      const out = new Uint8Array(4);
      expect(hexOf(out.subarray(0, writeVarint(out, 0, value!)))).toBe(v.hex);
    }
  });

  test("every CONNECT_REQUEST a real client sent is zero-padded to 1200 bytes", () => {
    const requests = captured.filter((v) => v.decoded.type === "CONNECT_REQUEST");
    expect(requests.length).toBeGreaterThan(0);
    for (const v of requests) {
      expect(v.decoded.length).toBe(1200);
      expect(v.decoded.paddingIsZero).toBe(true);
    }
  });

  test("the vectors cover what PROTOCOL.md promises", () => {
    const types = new Set(captured.map((v) => v.decoded.type));
    for (const t of ["CONNECT_REQUEST", "CONNECT_CHALLENGE", "CONNECT_ACCEPT", "CONNECT_DENY", "DATA", "DISCONNECT"]) expect(types).toContain(t);
    expect(new Set(captured.filter((v) => v.decoded.type === "CONNECT_DENY").map((v) => v.decoded.reasonCode))).toEqual(new Set([1, 2, 3]));
    const multi = captured.find((v) => v.decoded.hasAck === true && new Set(framesOf(v.decoded).filter((f) => f.type === "MESSAGE").map((f) => f.channel)).size >= 3);
    expect(multi).toBeDefined();
    const frameTypes = new Set(frameVectors.map((v) => v.decoded.type));
    for (const t of ["PADDING", "PING", "MESSAGE", "FRAGMENT", "TOMBSTONE"]) expect(frameTypes).toContain(t);
    const reasons = new Set(invalid.flatMap((v) => Object.keys(v.drops)));
    for (const r of [
      "short", "oversize", "bad-version", "bad-type", "unknown-connection", "address-mismatch", "malformed", "duplicate",
      "stale", "bad-channel", "bad-fragment", "message-too-large", "out-of-window", "not-accepting", "handshake-limit",
      "amplification-limit", "wrong-state",
    ]) expect(reasons).toContain(r);
  });
});

// ---- (b) Replaying captured datagrams into real endpoints ----

function eventRecord(e: EndpointEvent<Peer>): EventRecord {
  if (e.type === "connected") return { type: "connected" };
  if (e.type === "message") return { type: "message", channel: e.channel, dataHex: hexOf(e.data) };
  return e.detail === undefined ? { type: "disconnected", reason: e.reason } : { type: "disconnected", reason: e.reason, detail: e.detail };
}

function drain(ep: Endpoint): EventRecord[] {
  const out: EventRecord[] = [];
  for (let e = ep.pollEvent(); e !== undefined; e = ep.pollEvent()) out.push(eventRecord(e));
  return out;
}

function dropDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(after)) if (after[k] !== before[k]) out[k] = after[k]! - before[k]!;
  return out;
}

const scratch = new Uint8Array(65536);

function pollAll(ep: Endpoint, now: number, max = Infinity): Uint8Array[] {
  const out: Uint8Array[] = [];
  while (out.length < max) {
    const tx = ep.pollTransmit(now, scratch);
    if (tx === null) break;
    out.push(scratch.slice(0, tx.size));
  }
  return out;
}

/** Naive receiver model from PROTOCOL.md §10-11: which messages a DATA packet's frames deliver. */
class DeliveryModel {
  private readonly ordered = new Map<number, { next: number; held: Map<number, Uint8Array | null> }>();
  private readonly taken = new Map<number, Set<number>>();
  private readonly lastSequenced = new Map<number, number>();
  private readonly parts = new Map<string, Map<number, Uint8Array>>();

  constructor(private readonly kinds: readonly string[]) {}

  apply(frames: Decoded[]): EventRecord[] {
    const out: EventRecord[] = [];
    for (const f of frames) {
      const ch = f.channel as number;
      const seq = f.seq as number;
      if (f.type === "TOMBSTONE") this.take(ch, seq, null, out);
      if (f.type === "MESSAGE") this.take(ch, seq, hexBytes(f.dataHex as string), out);
      if (f.type === "FRAGMENT") {
        const key = `${ch}/${seq}`;
        const got = this.parts.get(key) ?? new Map<number, Uint8Array>();
        this.parts.set(key, got);
        got.set(f.index as number, hexBytes(f.dataHex as string));
        if (got.size === f.count) {
          this.parts.delete(key);
          const all = [...got.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
          const joined = new Uint8Array(all.reduce((n, p) => n + p.length, 0));
          let off = 0;
          for (const p of all) {
            joined.set(p, off);
            off += p.length;
          }
          this.take(ch, seq, joined, out);
        }
      }
    }
    return out;
  }

  private take(ch: number, seq: number, msg: Uint8Array | null, out: EventRecord[]): void {
    const emit = (m: Uint8Array | null): void => {
      if (m !== null) out.push({ type: "message", channel: ch, dataHex: hexOf(m) });
    };
    switch (this.kinds[ch]) {
      case "unreliable":
        emit(msg);
        return;
      case "sequenced": {
        const last = this.lastSequenced.get(ch);
        const d = last === undefined ? 1 : (seq - last + 65536) % 65536;
        if (d === 0 || d >= 32768) return;
        this.lastSequenced.set(ch, seq);
        emit(msg);
        return;
      }
      case "reliable-unordered": {
        const set = this.taken.get(ch) ?? new Set<number>();
        this.taken.set(ch, set);
        if (set.has(seq)) return;
        set.add(seq);
        emit(msg);
        return;
      }
      default: {
        const st = this.ordered.get(ch) ?? { next: 0, held: new Map<number, Uint8Array | null>() };
        this.ordered.set(ch, st);
        st.held.set(seq, msg);
        while (st.held.has(st.next)) {
          emit(st.held.get(st.next)!);
          st.held.delete(st.next);
          st.next = (st.next + 1) % 65536;
        }
      }
    }
  }
}

function hexBytes(hex: string): Uint8Array {
  return bytesOf({ name: "", description: "", hex, decoded: {} });
}

interface Replay {
  endpoints: Map<string, Endpoint>;
  mismatches: string[];
}

/**
 * Rebuilds a scenario's endpoints from their fixtures and feeds them the scenario's
 * connects and delivered datagrams with times <= untilMs, comparing as it goes.
 */
function replay(scenario: ScenarioName, untilMs: number, override?: { node: string; fixture: FixtureName }): Replay {
  const nodes = SCENARIOS[scenario].nodes;
  const endpoints = new Map<string, Endpoint>();
  const models = new Map<string, DeliveryModel>();
  const nodeAt = new Map<string, string>();
  for (const n of nodes) {
    const fixture = override?.node === n.name ? override.fixture : n.fixture;
    endpoints.set(n.name, new Endpoint(fixtureConfig(fixture, n.seed)));
    models.set(n.name, new DeliveryModel(n.fixture === "narrow-client" ? ["reliable-ordered", "unreliable"] : KINDS));
    nodeAt.set(`${n.address.host}:${n.address.port}`, n.name);
  }
  const vectors = captured.filter((v) => v.scenario === scenario).sort((a, b) => a.step - b.step);
  type Action = { t: number; order: number; connect?: CapturedVector; arrive?: CapturedVector };
  const actions: Action[] = [];
  const connected = new Set<string>();
  for (const v of vectors) {
    if (v.decoded.type === "CONNECT_REQUEST" && !connected.has(v.from)) {
      connected.add(v.from);
      actions.push({ t: v.sentAtMs, order: -1, connect: v });
    }
    if (v.delivered) actions.push({ t: v.receivedAtMs!, order: v.arrival!, arrive: v });
  }
  actions.sort((a, b) => a.t - b.t || a.order - b.order);
  const mismatches: string[] = [];
  const same = (what: string, got: unknown, want: unknown): void => {
    if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  };
  for (const a of actions) {
    if (a.t > untilMs) break;
    if (a.connect !== undefined) {
      const v = a.connect;
      const ep = endpoints.get(nodeAt.get(v.from)!)!;
      ep.connect(a.t, parseAddress(v.to));
      same(`${v.name} (sent by connect())`, pollAll(ep, a.t, 1).map(hexOf), [v.hex]);
      continue;
    }
    const v = a.arrive!;
    const to = nodeAt.get(v.to)!;
    const ep = endpoints.get(to)!;
    drain(ep);
    const before = ep.stats().drops;
    ep.handleDatagram(a.t, parseAddress(v.from), bytesOf(v));
    const events = drain(ep);
    same(`${v.name} events`, events, v.events);
    same(`${v.name} drops`, dropDelta(before, ep.stats().drops), v.drops);
    if (v.replies !== undefined) {
      same(`${v.name} replies`, pollAll(ep, a.t, v.replies.length).map(hexOf), v.replies.map((n) => byName.get(n)!.hex));
    }
    if (v.decoded.type === "DATA" && Object.keys(v.drops ?? {}).length === 0) {
      same(`${v.name} deliveries (model)`, events.filter((e) => e.type === "message"), models.get(to)!.apply(framesOf(refDecode(bytesOf(v)))));
    }
  }
  return { endpoints, mismatches };
}

describe("(b) captured datagrams replayed into real endpoints", () => {
  test.each(Object.keys(SCENARIOS).map((s) => [s as ScenarioName]))("scenario %s: same replies, events, drops and deliveries", (scenario) => {
    const { mismatches } = replay(scenario, Infinity);
    expect(mismatches).toEqual([]);
    expect(captured.some((v) => v.scenario === scenario)).toBe(true);
  });

  test("the session delivers every message it describes, and the doomed one never", () => {
    const { endpoints } = replay("session", 300);
    expect(endpoints.get("server")!.peers().length).toBe(1);
    const delivered = data.filter((v): v is CapturedVector => "scenario" in v && v.scenario === "session" && v.to.endsWith(":4000") && v.delivered)
      .flatMap((v) => v.events ?? []).filter((e) => e.type === "message").map((e) => e.dataHex);
    expect(delivered).toContain(hexOf(new TextEncoder().encode("after doom")));
    expect(delivered).not.toContain(hexOf(new TextEncoder().encode("doomed")));
  });

  test.each(constructedValid.map((v) => [v.name, v] as const))("%s", (_name, v) => {
    const { endpoints } = replay(v.target.scenario, v.target.untilMs, v.target.fixture ? { node: v.target.node, fixture: v.target.fixture } : undefined);
    const ep = endpoints.get(v.target.node)!;
    drain(ep);
    const before = ep.stats().drops;
    ep.handleDatagram(v.atMs, parseAddress(v.from), bytesOf(v));
    expect(dropDelta(before, ep.stats().drops)).toEqual(v.drops);
    const events = drain(ep);
    expect(events).toEqual(v.events);
    expect(events).toEqual(new DeliveryModel(KINDS).apply(framesOf(refDecode(bytesOf(v)))));
  });
});

// ---- (c) Invalid datagrams ----

describe("(c) invalid datagrams are dropped for the stated reason", () => {
  test.each(invalid.map((v) => [v.name, v] as const))("%s", (_name, v) => {
    const { endpoints, mismatches } = replay(v.target.scenario, v.target.untilMs, v.target.fixture ? { node: v.target.node, fixture: v.target.fixture } : undefined);
    expect(mismatches).toEqual([]);
    const ep = endpoints.get(v.target.node)!;
    drain(ep);
    pollAll(ep, v.atMs);
    const before = ep.stats().drops;
    const received = ep.stats().datagramsReceived;
    ep.handleDatagram(v.atMs, parseAddress(v.from), bytesOf(v));
    expect(ep.stats().datagramsReceived).toBe(received + 1);
    expect(dropDelta(before, ep.stats().drops)).toEqual(v.drops);
    expect(drain(ep)).toEqual(v.events);
    expect(pollAll(ep, v.atMs).map(hexOf)).toEqual([]);
  });
});

// ---- (d) Determinism ----

describe("(d) generate.ts is deterministic", () => {
  test("a fresh run writes the same bytes as the committed files", () => {
    const dir = mkdtempSync(join(tmpdir(), "fastnet-vectors-"));
    try {
      const run = Bun.spawnSync({ cmd: [process.execPath, join(DIR, "generate.ts"), dir], stdout: "pipe", stderr: "pipe" });
      expect(run.stderr.toString()).toBe("");
      expect(run.exitCode).toBe(0);
      for (const f of FILES) expect(readFileSync(join(dir, f), "utf8")).toBe(readFileSync(join(DIR, f), "utf8"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
