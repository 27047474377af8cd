/**
 * The FEC plugin (datagram layer). Register it BEFORE crypto:
 *
 *   new Endpoint({ random, plugins: [fec(), crypto(opts)] })
 *
 * Sending: every DATA datagram that carries frames joins the current group
 * (a 4-byte trailer: group, peer loss report, index) and is XORed (or, in
 * Reed-Solomon mode, multiplied in) into the group's parity accumulators.
 * When the group is full, or has been open for maxGroupDelayMs, its parity
 * datagrams go out through ctx.sendDatagram, so crypto seals them like any
 * other datagram. Handshake packets and ack-only datagrams are sent plain
 * (a 2-byte trailer).
 *
 * Receiving: crypto has already authenticated the datagram. Data datagrams
 * pass on to the core unchanged (minus the trailer) and are remembered by
 * their group; parity datagrams are consumed. Once a group can rebuild a
 * missing datagram, it is handed back with ctx.injectDatagram: the core then
 * processes it like an arrival, so it is acknowledged and never resent.
 *
 * Parity is computed on plaintext, inside the AEAD: each parity datagram is
 * itself sealed, so a forged or altered one fails authentication before FEC
 * sees it and can never rebuild a forged payload (README, security notes).
 */
import type { Address, Peer, Plugin, PluginContext } from "@fastnet/core/protocol";
import { CONSUMED } from "@fastnet/core/protocol";
import { coefficient, MUL, mulAddInto } from "./gf256.ts";
import { LossMeter } from "./loss.ts";
import { type FecOptions, type ResolvedFecOptions, resolveFecOptions } from "./options.ts";
import { type Receiver, type RecoverySink, type RxCounters, RsReceiver, XorReceiver } from "./receiver.ts";
import {
  CORE_TYPE_DATA, CORE_TYPE_MASK, DATA_HEADER_SIZE, DATA_TRAILER, FEC_OVERHEAD, HEADER_SIZE, KIND_DATA, KIND_PARITY,
  KIND_PLAIN, OFF_SEQ, PARITY_TRAILER, ParseError, PLAIN_TRAILER, REPORT_UNKNOWN, type Trailer, BODY_OFFSET,
  decodeReport, encodeReport, parseTrailer, readU16, shardHash, tagOf, wordsOf, wordsOfBuffer, writeU16, writeU32, xorRange,
} from "./wire.ts";

export interface FecStats {
  /** Data datagrams sent in a group. */
  datagramsProtected: number;
  /** Datagrams sent without protection (handshake, ack-only, FEC switched off). */
  datagramsPlain: number;
  /** Groups closed (parity sent), and how many of them early by maxGroupDelayMs. */
  groups: number;
  partialGroups: number;
  parityDatagramsSent: number;
  /** Bytes of parity datagrams (before later plugins' overhead) and of the protected data datagrams. */
  parityBytesSent: number;
  protectedBytesSent: number;
  parityReceived: number;
  /** Datagrams rebuilt and handed to the core. */
  recovered: number;
  /** Groups that lost data the parity could not cover. */
  unrecoverable: number;
  /** Dropped input, by reason (each is also a core `plugin` drop). */
  drops: {
    /** Too short to hold a trailer. */
    short: number;
    /** Unknown tag, wrong packet type, inconsistent group. */
    malformed: number;
    /** k, m or an index beyond the limits (32 data, 16 parity). */
    badGroupSize: number;
    /** Parity for a group outside the receive window. */
    unknownGroup: number;
    /** A rebuilt datagram failed its check: not injected. */
    badCheck: number;
  };
}

export interface FecPeerInfo {
  /** Data datagrams per group now (0: not protecting, the link is clean). */
  groupSize: number;
  /** Parity datagrams per group now. */
  parityShards: number;
  /** Loss the peer measures on what we send it (0..1), -1 before its first report. */
  remoteLoss: number;
  /** Loss we measure on what the peer sends us (0..1), -1 before the first sample. */
  localLoss: number;
}

export interface FecPlugin extends Plugin {
  readonly name: "fec";
  readonly datagramOverhead: number;
  readonly options: Readonly<ResolvedFecOptions>;
  /** Counters over every peer since the plugin was created (a snapshot). */
  stats(): FecStats;
  /** What FEC does for one peer now, or undefined if it has no state for it. */
  peerInfo(peer: Peer): FecPeerInfo | undefined;
}

/** Expected losses per group (data + parity) the adaptive xor mode aims at: 1/4. */
const TARGET_LOSSES_PER_GROUP = 0.25;

class PeerFec {
  // Sending.
  group = 0;
  /** Target data count of the open group; 0 = no group open. */
  k = 0;
  m = 0;
  count = 0;
  maxBody = 0;
  check = 0;
  /** Incremented when a group closes, so a pending delay timer knows it is stale. */
  epoch = 0;
  readonly parity: Uint8Array[] = [];
  /** parity0's 32-bit view, for the XOR row. */
  parity0Words: Int32Array<ArrayBufferLike> = new Int32Array(0);
  readonly header = new Uint8Array(HEADER_SIZE);
  /** Last loss report from the peer. */
  remoteReport = REPORT_UNKNOWN;
  /** Adaptive: parity is on (hysteresis state; before the first report the configured size is used). */
  protecting = false;
  dead = false;
  // Receiving.
  readonly meter = new LossMeter();
  constructor(readonly peer: Peer, readonly rx: Receiver) {}
}

/** Hands rebuilt datagrams to the endpoint; `ctx` and `from` are those of the datagram being opened. */
class InjectSink implements RecoverySink {
  ctx: PluginContext | undefined = undefined;
  from: Address | undefined = undefined;
  recovered(bytes: Uint8Array): void {
    this.ctx!.injectDatagram(this.from!, bytes);
  }
}

/** A pending maxGroupDelayMs timer (pooled). */
class DelayEntry {
  at = 0;
  st: PeerFec | null = null;
  epoch = 0;
}

/** Binary min-heap on DelayEntry.at. */
class DelayHeap {
  private readonly items: DelayEntry[] = [];
  private readonly pool: DelayEntry[] = [];

  get top(): DelayEntry | undefined {
    return this.items[0];
  }

  push(at: number, st: PeerFec): void {
    const e = this.pool.pop() ?? new DelayEntry();
    e.at = at;
    e.st = st;
    e.epoch = st.epoch;
    const h = this.items;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= e.at) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  pop(): void {
    const h = this.items;
    const top = h[0];
    if (top === undefined) return;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && h[r]!.at < h[l]!.at ? r : l;
        if (h[c]!.at >= last.at) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    top.st = null;
    this.pool.push(top);
  }
}

function emptyStats(): FecStats {
  return {
    datagramsProtected: 0, datagramsPlain: 0, groups: 0, partialGroups: 0, parityDatagramsSent: 0, parityBytesSent: 0,
    protectedBytesSent: 0, parityReceived: 0, recovered: 0, unrecoverable: 0,
    drops: { short: 0, malformed: 0, badGroupSize: 0, unknownGroup: 0, badCheck: 0 },
  };
}

/**
 * Creates the FEC plugin. Both ends must register it (like crypto), before crypto.
 * Throws FASTNET_INVALID_CONFIG on bad options.
 */
export function fec(options?: FecOptions): FecPlugin {
  const o = resolveFecOptions(options);
  const counters = emptyStats();
  const rxCounters: RxCounters = {
    parityReceived: 0, recovered: 0, unrecoverable: 0, malformed: 0, unknownGroup: 0, badCheck: 0,
  };
  const trailer: Trailer = { kind: 0, index: 0, group: 0, report: 0, k: 0, m: 0, lenParity: 0, typeParity: 0, check: 0, inner: 0 };
  const delays = new DelayHeap();
  let deadline = Infinity;
  let slot = -1;
  let mtu = 1200;
  let out = new Uint8Array(0);
  const rs = o.mode === "reed-solomon";

  // The sink of the datagram being opened: set before each receiver call (no closure per datagram).
  const sink = new InjectSink();

  function stateOf(peer: Peer): PeerFec | undefined {
    const existing = peer.slots[slot] as PeerFec | undefined;
    if (existing !== undefined) return existing;
    if (peer.state === "disconnected") return undefined;
    const rx = rs ? new RsReceiver(o.window, rxCounters, o.verify) : new XorReceiver(o.window, rxCounters, o.verify, mtu);
    const st = new PeerFec(peer, rx);
    peer.slots[slot] = st;
    return st;
  }

  let planK = 0;
  let planM = 0;
  /**
   * Sizes the next group from the peer's loss report into planK/planM (planK 0: send plain).
   * Hysteresis: parity starts at minLoss and stops below minLoss / 2, so a link near the threshold
   * does not flap with the noise of the measurement.
   */
  function plan(st: PeerFec): void {
    planK = o.groupSize;
    planM = o.parityShards;
    const p = decodeReport(st.remoteReport);
    if (!o.adaptive || p < 0) return;
    if (st.protecting ? p < o.minLoss / 2 : p < o.minLoss) {
      st.protecting = false;
      planK = 0;
      planM = 0;
      return;
    }
    st.protecting = true;
    if (rs) {
      // Bursts take several datagrams of a group: about 4x the expected losses, at least one.
      planM = Math.min(o.parityShards, 1 + Math.ceil(planK * p * 4));
    } else {
      // About TARGET_LOSSES_PER_GROUP expected losses per group of k data + 1 parity.
      planK = Math.max(o.minGroupSize, Math.min(o.maxGroupSize, Math.floor(TARGET_LOSSES_PER_GROUP / p) - 1));
    }
  }

  /** Opens a group sized from the peer's loss report; false = send this datagram plain. */
  function openGroup(st: PeerFec, now: number): boolean {
    plan(st);
    if (planK === 0) return false;
    const k = planK;
    const m = planM;
    st.k = k;
    st.m = m;
    st.count = 0;
    st.maxBody = 0;
    st.check = 0;
    while (st.parity.length < m) st.parity.push(new Uint8Array(mtu));
    if (st.parity0Words.length === 0) st.parity0Words = wordsOf(st.parity[0]!);
    if (k > 1) {
      const at = now + o.maxGroupDelayMs;
      delays.push(at, st);
      if (at < deadline) deadline = at;
    }
    return true;
  }

  /** Sends the open group's parity datagrams and closes it. */
  function closeGroup(st: PeerFec, ctx: PluginContext): void {
    const end = BODY_OFFSET + st.maxBody;
    const k = st.count;
    // A partial group keeps the configured parity ratio (rounded up): never more parity than planned per datagram.
    const m = k < st.k ? Math.max(1, Math.min(st.m, Math.ceil((st.m * k) / st.k))) : st.m;
    const report = encodeReport(st.meter.loss);
    const size = end + PARITY_TRAILER;
    if (out.length < size) out = new Uint8Array(size);
    out[0] = st.header[0]!;
    out[1] = CORE_TYPE_DATA;
    out[2] = st.header[2]!;
    out[3] = st.header[3]!;
    out[4] = st.header[4]!;
    out[5] = st.header[5]!;
    for (let j = 0; j < m; j++) {
      const p = st.parity[j]!;
      out.set(p.subarray(BODY_OFFSET, end), HEADER_SIZE);
      out[end] = p[0]!;
      out[end + 1] = p[1]!;
      out[end + 2] = p[2]!;
      writeU32(out, end + 3, st.check);
      out[end + 7] = k;
      out[end + 8] = m;
      writeU16(out, end + 9, st.group);
      out[end + 11] = report;
      out[end + 12] = tagOf(KIND_PARITY, j);
      ctx.sendDatagram(st.peer, out.subarray(0, size));
    }
    for (let j = 0; j < st.m; j++) st.parity[j]!.fill(0, 0, end);
    counters.groups++;
    if (k < st.k) counters.partialGroups++;
    counters.parityDatagramsSent += m;
    counters.parityBytesSent += size * m;
    st.group = (st.group + 1) & 0xffff;
    st.k = 0;
    st.count = 0;
    st.maxBody = 0;
    st.check = 0;
    st.epoch++;
  }

  function writePlain(buf: Uint8Array, length: number, report: number): number {
    buf[length] = report;
    buf[length + 1] = tagOf(KIND_PLAIN, 0);
    counters.datagramsPlain++;
    return length + PLAIN_TRAILER;
  }

  function drop(err: ParseError): null {
    if (err === ParseError.SHORT) counters.drops.short++;
    else if (err === ParseError.BAD_SIZE) counters.drops.badGroupSize++;
    else counters.drops.malformed++;
    return null;
  }

  const plugin: FecPlugin = {
    name: "fec",
    datagramOverhead: FEC_OVERHEAD,
    options: Object.freeze({ ...o }),

    init(ctx) {
      slot = ctx.slot;
      mtu = ctx.mtu;
      out = new Uint8Array(mtu);
    },

    sealDatagram(buf, length, peer, ctx) {
      if (peer === undefined) return writePlain(buf, length, REPORT_UNKNOWN);
      const state = peer.state;
      const st = state === "connected" || state === "disconnecting" ? stateOf(peer) : undefined;
      const report = st === undefined ? REPORT_UNKNOWN : encodeReport(st.meter.loss);
      // Only datagrams that carry frames are worth repairing; acks and handshakes go plain.
      if (st === undefined || length <= DATA_HEADER_SIZE || (buf[1]! & CORE_TYPE_MASK) !== CORE_TYPE_DATA) {
        return writePlain(buf, length, report);
      }
      if (st.k === 0 && !openGroup(st, ctx.now)) return writePlain(buf, length, report);
      const index = st.count;
      const bodyLen = length - HEADER_SIZE;
      const type = buf[1]!;
      // Parity rows: row 0 is a plain XOR (coefficient 1); Reed-Solomon rows multiply.
      const p0 = st.parity[0]!;
      p0[0]! ^= bodyLen >>> 8;
      p0[1]! ^= bodyLen & 0xff;
      p0[2]! ^= type;
      const buf32 = wordsOfBuffer(buf.buffer);
      xorRange(p0, st.parity0Words, buf, buf32, BODY_OFFSET, length);
      for (let j = 1; j < st.m; j++) {
        const c = coefficient(j, index);
        const pj = st.parity[j]!;
        pj[0]! ^= MUL[(c << 8) | (bodyLen >>> 8)]!;
        pj[1]! ^= MUL[(c << 8) | (bodyLen & 0xff)]!;
        pj[2]! ^= MUL[(c << 8) | type]!;
        mulAddInto(pj, BODY_OFFSET, buf, BODY_OFFSET, bodyLen, c);
      }
      if (o.verify) st.check ^= shardHash(buf, buf32, bodyLen, type);
      if (bodyLen > st.maxBody) st.maxBody = bodyLen;
      if (index === 0) st.header.set(buf.subarray(0, HEADER_SIZE));
      writeU16(buf, length, st.group);
      buf[length + 2] = report;
      buf[length + 3] = tagOf(KIND_DATA, index);
      st.count = index + 1;
      counters.datagramsProtected++;
      counters.protectedBytesSent += length + DATA_TRAILER;
      if (st.count >= st.k) closeGroup(st, ctx);
      return length + DATA_TRAILER;
    },

    openDatagram(data, peer, from, ctx) {
      const err = parseTrailer(data, trailer);
      if (err !== ParseError.OK) return drop(err);
      const st = peer === undefined ? undefined : stateOf(peer);
      const inner = trailer.inner;
      if (trailer.kind === KIND_PLAIN) {
        if (st !== undefined) {
          st.remoteReport = trailer.report;
          if (inner >= DATA_HEADER_SIZE && (data[1]! & CORE_TYPE_MASK) === CORE_TYPE_DATA) st.meter.onSeq(readU16(data, OFF_SEQ));
        }
        return data.subarray(0, inner);
      }
      if (st === undefined) {
        // Data or parity needs a connection (the core never routes DATA without one).
        counters.drops.malformed++;
        return null;
      }
      st.remoteReport = trailer.report;
      sink.ctx = ctx;
      sink.from = from;
      if (trailer.kind === KIND_DATA) {
        st.meter.onSeq(readU16(data, OFF_SEQ));
        if (!st.rx.onData(data, inner, trailer.group, trailer.index, sink)) return null;
        return data.subarray(0, inner);
      }
      // KIND_PARITY (parseTrailer accepts nothing else): good parity is consumed, not a drop;
      // parity the receiver refused (counted in our drops) is a drop for core too.
      const r = rxCounters;
      const before = r.malformed + r.unknownGroup + r.badCheck;
      st.rx.onParity(data, inner, trailer, sink);
      return r.malformed + r.unknownGroup + r.badCheck === before ? CONSUMED : null;
    },

    onTick(now, ctx) {
      if (now < deadline) return;
      for (let e = delays.top; e !== undefined && e.at <= now; e = delays.top) {
        const st = e.st!;
        const stale = e.epoch !== st.epoch || st.dead || st.k === 0;
        delays.pop();
        if (stale) continue;
        const s = st.peer.state;
        if (s === "connected" || s === "disconnecting") closeGroup(st, ctx);
      }
      deadline = delays.top?.at ?? Infinity;
    },

    nextDeadline() {
      return deadline;
    },

    onDisconnected(peer) {
      const st = peer.slots[slot] as PeerFec | undefined;
      if (st !== undefined) st.dead = true;
      peer.slots[slot] = undefined;
    },

    stats() {
      const s = counters;
      return {
        ...s,
        parityReceived: rxCounters.parityReceived,
        recovered: rxCounters.recovered,
        unrecoverable: rxCounters.unrecoverable,
        drops: {
          ...s.drops,
          malformed: s.drops.malformed + rxCounters.malformed,
          unknownGroup: rxCounters.unknownGroup,
          badCheck: rxCounters.badCheck,
        },
      };
    },

    peerInfo(peer) {
      const st = peer.slots[slot] as PeerFec | undefined;
      if (st === undefined) return undefined;
      // The open group, or what the next one would be.
      if (st.k === 0) plan(st);
      const k = st.k === 0 ? planK : st.k;
      const m = st.k === 0 ? planM : st.m;
      return { groupSize: k, parityShards: m, remoteLoss: decodeReport(st.remoteReport), localLoss: st.meter.loss };
    },
  };
  return plugin;
}
