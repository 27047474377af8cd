/**
 * The delta plugin: registered on both endpoints, it sends each peer's
 * snapshots as deltas against the newest snapshot that peer is known to hold
 * (a message core reported acked, or one the peer named in a resync request),
 * never simply the last one sent, and reconstructs them byte for byte on the
 * receiving side.
 *
 * Sender, per peer: a ring of the last `history` snapshots sent, each with the
 * message id ctx.send returned and its state (sent, acked, lost, invalid).
 * Receiver, per peer: a ring of the last `history` snapshots decoded, indexed
 * by sequence; a delta whose baseline is not in it is dropped, counted, and
 * answered with a (rate-limited) resync request naming the newest snapshot the
 * receiver holds; the sender then forgets every baseline it believed acked.
 *
 * App messages on the snapshot channel still work: they get a one-byte tag.
 */
import { ErrorCode, FastnetError, RingQueue, type Peer, type Plugin, type PluginContext } from "@fastnet/core/protocol";
import {
  DecodeStatus, FULL_HEADER_MAX, WordBuffer, decodeSnapshotBody, emptyHeader, encodeDelta, encodeFull, parseSnapshotHeader,
  type SnapshotHeader,
} from "./codec.ts";
import {
  DROP_REASONS, KIND_APP, KIND_DELTA, KIND_RESYNC, MAX_HISTORY, MAX_SNAPSHOT_BYTES, RESYNC_HAVE, RESYNC_SIZE, readU16,
  seqDiff16, writeU16, type DeltaDropReason,
} from "./wire.ts";

export interface DeltaOptions {
  /** Plugin name; give two instances different names to run them on two channels. Default "delta". */
  name?: string;
  /** Channel the snapshots travel on: an unreliable or sequenced one. Default 1 (core's `Channel.Unreliable`). */
  channel?: number;
  /** Snapshots kept per peer on each side, a power of two in [2, 256]. Bounds the baseline age. Default 32. */
  history?: number;
  /** At least one full snapshot in every this many (1 = every snapshot full, 0 = only when needed). Default 0. */
  keyframeEvery?: number;
  /**
   * Put a 32-bit checksum of the snapshot (with its sequence and tick) in every message; the
   * receiver drops mismatches, and messages without one. Same value on both sides. Default true.
   */
  checksum?: boolean;
  /** Largest snapshot accepted or sent, bytes. Default 65,536. */
  maxSnapshotBytes?: number;
  /** Least time between two resync requests to one peer, ms. Default 100. */
  resyncIntervalMs?: number;
  /** Snapshots waiting for pollSnapshot() at most; the oldest is dropped beyond. Default 256. */
  maxQueuedSnapshots?: number;
  /**
   * Called for every new snapshot instead of queueing it for pollSnapshot(). Runs inside the
   * endpoint's handleDatagram: `snapshot` is valid only during the call (copy it to keep it), and
   * do not call into the endpoint from it.
   */
  onSnapshot?: (peer: Peer, tick: number, snapshot: Uint8Array) => void;
}

/** A reconstructed snapshot, from pollSnapshot(). `data` is the application's to keep. */
export interface SnapshotEvent {
  peer: Peer;
  tick: number;
  /** The sender's 16-bit snapshot sequence. */
  seq: number;
  data: Uint8Array;
}

export interface DeltaStats {
  // Sender side.
  /** Snapshots handed to sendSnapshot. */
  snapshotsSent: number;
  fullSent: number;
  deltasSent: number;
  /** Full snapshots forced by keyframeEvery. */
  keyframes: number;
  /** Bytes of the snapshots handed to sendSnapshot (what sending them whole would cost). */
  snapshotBytes: number;
  /** Bytes of the messages that carried them (headers included). */
  bytesSent: number;
  /** Snapshot messages core reported acked / lost. */
  acked: number;
  lost: number;
  /** Resync requests received from peers. */
  resyncsReceived: number;
  // Receiver side.
  /** Snapshots decoded and verified. */
  snapshotsReceived: number;
  /** Snapshots handed to the application (newer than the last one handed over). */
  delivered: number;
  /** Snapshots decoded but older than one already delivered (kept as baselines, not delivered). */
  stale: number;
  resyncsSent: number;
  /** Snapshots dropped because the pollSnapshot queue was full. */
  queueOverflow: number;
  /** Incoming messages dropped, by reason. */
  drops: Record<DeltaDropReason, number>;
}

const EMPTY = 0;
const SENT = 1;
const ACKED = 2;
const LOST = 3;
const INVALID = 4;

/** Snapshots sent to one peer. */
class TxState {
  readonly bufs: WordBuffer[] = [];
  readonly seqs: Int32Array;
  readonly ticks: Float64Array;
  readonly ids: Float64Array;
  readonly states: Uint8Array;
  nextSeq = 0;
  /** Snapshots since the last full one. */
  sinceFull = 0;
  /** The receiver's history, learned from its resync requests. */
  peerHistory: number;

  constructor(history: number) {
    for (let i = 0; i < history; i++) this.bufs.push(new WordBuffer(256));
    this.seqs = new Int32Array(history).fill(-1);
    this.ticks = new Float64Array(history);
    this.ids = new Float64Array(history);
    this.states = new Uint8Array(history);
    this.peerHistory = history;
  }
}

/** Snapshots received from one peer. */
class RxState {
  readonly bufs: WordBuffer[] = [];
  readonly seqs: Int32Array;
  readonly ticks: Float64Array;
  /** Newest sequence held, -1 before the first. */
  newest = -1;
  lastDelivered = -1;
  lastResyncAt = -Infinity;

  constructor(history: number) {
    for (let i = 0; i < history; i++) this.bufs.push(new WordBuffer(256));
    this.seqs = new Int32Array(history).fill(-1);
    this.ticks = new Float64Array(history);
  }
}

class PeerDelta {
  tx: TxState | null = null;
  rx: RxState | null = null;
}

function positiveInt(name: string, v: unknown, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new FastnetError(ErrorCode.INVALID_CONFIG, `option '${name}' must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}

function newStats(): DeltaStats {
  const drops = {} as Record<DeltaDropReason, number>;
  for (const r of DROP_REASONS) drops[r] = 0;
  return {
    snapshotsSent: 0, fullSent: 0, deltasSent: 0, keyframes: 0, snapshotBytes: 0, bytesSent: 0, acked: 0, lost: 0,
    resyncsReceived: 0, snapshotsReceived: 0, delivered: 0, stale: 0, resyncsSent: 0, queueOverflow: 0, drops,
  };
}

/**
 * The delta plugin and its application API. Register the same configuration on both endpoints
 * (`plugins: [delta, ...]`, before FEC and crypto), then call `sendSnapshot` on the sending side
 * and `pollSnapshot` (or `onSnapshot`) on the receiving side.
 */
export class DeltaPlugin implements Plugin {
  readonly name: string;
  readonly channel: number;
  readonly history: number;
  readonly keyframeEvery: number;
  readonly checksum: boolean;
  readonly maxSnapshotBytes: number;
  readonly resyncIntervalMs: number;
  readonly maxQueuedSnapshots: number;
  private readonly onSnapshotCb: DeltaOptions["onSnapshot"];
  private readonly mask: number;
  private ctx: PluginContext | null = null;
  private scratch = new Uint8Array(4096);
  private appScratch = new Uint8Array(1024);
  private readonly resyncBuf = new Uint8Array(RESYNC_SIZE);
  private readonly header: SnapshotHeader = emptyHeader();
  private staging = new WordBuffer(256);
  private readonly queue = new RingQueue<SnapshotEvent>(16);
  private readonly s: DeltaStats = newStats();

  constructor(options: DeltaOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new FastnetError(ErrorCode.INVALID_CONFIG, `delta options must be an object, got ${String(options)}`);
    }
    if (options.name !== undefined && (typeof options.name !== "string" || options.name.length === 0)) {
      throw new FastnetError(ErrorCode.INVALID_CONFIG, `option 'name' must be a non-empty string, got ${String(options.name)}`);
    }
    this.name = options.name ?? "delta";
    this.channel = positiveInt("channel", options.channel, 0, 254, 1);
    this.history = positiveInt("history", options.history, 2, MAX_HISTORY, 32);
    if ((this.history & (this.history - 1)) !== 0) {
      throw new FastnetError(ErrorCode.INVALID_CONFIG, `option 'history' must be a power of two in [2, ${MAX_HISTORY}], got ${this.history}`);
    }
    this.mask = this.history - 1;
    this.keyframeEvery = positiveInt("keyframeEvery", options.keyframeEvery, 0, 1 << 30, 0);
    if (options.checksum !== undefined && typeof options.checksum !== "boolean") {
      throw new FastnetError(ErrorCode.INVALID_CONFIG, `option 'checksum' must be a boolean, got ${String(options.checksum)}`);
    }
    this.checksum = options.checksum ?? true;
    this.maxSnapshotBytes = positiveInt("maxSnapshotBytes", options.maxSnapshotBytes, 1, MAX_SNAPSHOT_BYTES, 65_536);
    const ri = options.resyncIntervalMs ?? 100;
    if (typeof ri !== "number" || !(ri >= 0) || ri === Infinity) {
      throw new FastnetError(ErrorCode.INVALID_CONFIG, `option 'resyncIntervalMs' must be a finite number >= 0, got ${String(ri)}`);
    }
    this.resyncIntervalMs = ri;
    this.maxQueuedSnapshots = positiveInt("maxQueuedSnapshots", options.maxQueuedSnapshots, 1, 1 << 20, 256);
    if (options.onSnapshot !== undefined && typeof options.onSnapshot !== "function") {
      throw new FastnetError(ErrorCode.INVALID_CONFIG, `option 'onSnapshot' must be a function, got ${typeof options.onSnapshot}`);
    }
    this.onSnapshotCb = options.onSnapshot;
  }

  // ---- Application API ----

  /**
   * Sends `snapshot` (the whole game state this peer should see at `tick`) to `peer`: a delta
   * against the newest snapshot the peer is known to hold, or a full one. `snapshot` may be reused
   * once this returns. Returns the size of the message sent, bytes.
   * Throws FASTNET_INVALID_ARGUMENT (tick, snapshot), FASTNET_MESSAGE_TOO_LARGE (over
   * maxSnapshotBytes), FASTNET_NOT_CONNECTED, and whatever the endpoint's send throws.
   */
  sendSnapshot(peer: Peer, tick: number, snapshot: Uint8Array): number {
    const ctx = this.ctx;
    if (ctx === null) throw new FastnetError(ErrorCode.INVALID_CONFIG, `plugin '${this.name}' is not registered on an endpoint`);
    if (typeof tick !== "number" || !Number.isInteger(tick) || tick < 0 || tick > 0xffffffff) {
      throw new FastnetError(ErrorCode.INVALID_ARGUMENT, `argument 'tick' must be an integer in [0, 2^32), got ${String(tick)}`);
    }
    if (!(snapshot instanceof Uint8Array)) {
      throw new FastnetError(ErrorCode.INVALID_ARGUMENT, `argument 'snapshot' must be a Uint8Array, got ${typeof snapshot}`);
    }
    if (snapshot.length > this.maxSnapshotBytes) {
      throw new FastnetError(ErrorCode.MESSAGE_TOO_LARGE, `argument 'snapshot' is ${snapshot.length} bytes, over maxSnapshotBytes (${this.maxSnapshotBytes})`);
    }
    if (peer === null || typeof peer !== "object" || !Array.isArray(peer.slots)) {
      throw new FastnetError(ErrorCode.INVALID_ARGUMENT, "argument 'peer' must be a peer of this endpoint");
    }
    if (peer.state !== "connected") throw new FastnetError(ErrorCode.NOT_CONNECTED, `peer ${peer.id} is ${peer.state}, not connected`);
    const tx = this.txOf(peer);
    const seq = tx.nextSeq;
    const slot = seq & this.mask;

    // Baseline: the newest snapshot the receiver is known to hold, within both histories.
    let base = -1;
    const forceFull = this.keyframeEvery > 0 && tx.sinceFull + 1 >= this.keyframeEvery;
    if (!forceFull) {
      const maxDist = Math.min(this.history, tx.peerHistory) - 1;
      let bestDist = 0x10000;
      for (let i = 0; i < this.history; i++) {
        if (tx.states[i] !== ACKED) continue;
        const d = seqDiff16(seq, tx.seqs[i]!);
        if (d >= 1 && d <= maxDist && d < bestDist) {
          bestDist = d;
          base = i;
        }
      }
    }

    const buf = tx.bufs[slot]!;
    buf.set(snapshot);
    const fullSize = FULL_HEADER_MAX + snapshot.length;
    if (this.scratch.length < fullSize + 32) this.scratch = new Uint8Array(Math.max(fullSize + 32, this.scratch.length * 2));
    let size = -1;
    if (base >= 0) {
      const baseSeq = tx.seqs[base]!;
      size = encodeDelta(this.scratch, seq, tick, seqDiff16(seq, baseSeq), tx.ticks[base]!, buf, tx.bufs[base]!, this.checksum, fullSize - 1);
    }
    const full = size < 0;
    if (full) size = encodeFull(this.scratch, seq, tick, buf, this.checksum);

    tx.states[slot] = EMPTY;
    tx.seqs[slot] = -1;
    const id = ctx.send(peer, this.channel, this.scratch.subarray(0, size));
    tx.seqs[slot] = seq;
    tx.ticks[slot] = tick;
    tx.ids[slot] = id;
    tx.states[slot] = id === 0 ? EMPTY : SENT;
    tx.nextSeq = (seq + 1) & 0xffff;
    const s = this.s;
    s.snapshotsSent++;
    s.snapshotBytes += snapshot.length;
    s.bytesSent += size;
    if (full) {
      s.fullSent++;
      if (forceFull) s.keyframes++;
      tx.sinceFull = 0;
    } else {
      s.deltasSent++;
      tx.sinceFull++;
    }
    return size;
  }

  /** The next reconstructed snapshot (oldest first), or undefined. Unused when `onSnapshot` is set. */
  pollSnapshot(): SnapshotEvent | undefined {
    return this.queue.shift();
  }

  /** Counters since construction (a copy). */
  stats(): DeltaStats {
    return { ...this.s, drops: { ...this.s.drops } };
  }

  // ---- Plugin hooks ----

  init(ctx: PluginContext): void {
    const kind = ctx.channelKind(this.channel);
    if (kind !== "unreliable" && kind !== "sequenced") {
      throw new FastnetError(
        ErrorCode.INVALID_CONFIG,
        `plugin '${this.name}': option 'channel' must name an unreliable or sequenced channel of the endpoint, channel ${this.channel} is ${kind ?? "missing"}`,
      );
    }
    this.ctx = ctx;
  }

  outgoingMessage(_peer: Peer, channel: number, data: Uint8Array): Uint8Array | null {
    if (channel !== this.channel) return data;
    // Application message on the snapshot channel: one tag byte in front (the endpoint copies at once).
    const n = data.length + 1;
    if (this.appScratch.length < n) this.appScratch = new Uint8Array(Math.max(n, this.appScratch.length * 2));
    this.appScratch[0] = KIND_APP;
    this.appScratch.set(data, 1);
    return this.appScratch.subarray(0, n);
  }

  incomingMessage(peer: Peer, channel: number, data: Uint8Array, ctx: PluginContext): Uint8Array | null {
    if (channel !== this.channel) return data;
    if (data.length === 0) return this.drop("truncated", ctx);
    const b0 = data[0]!;
    if (b0 === KIND_APP) return data.subarray(1);
    if (b0 === KIND_RESYNC) {
      this.onResync(peer, data, ctx);
      return null;
    }
    this.onSnapshotMessage(peer, data, ctx);
    return null;
  }

  onMessageAcked(peer: Peer, channel: number, messageId: number, ctx: PluginContext): void {
    if (channel !== this.channel) return;
    const tx = (peer.slots[ctx.slot] as PeerDelta | undefined)?.tx;
    if (tx == null) return;
    for (let i = 0; i < this.history; i++) {
      if (tx.ids[i] === messageId && tx.states[i] === SENT) {
        tx.states[i] = ACKED;
        this.s.acked++;
        return;
      }
    }
  }

  onMessageLost(peer: Peer, channel: number, messageId: number, ctx: PluginContext): void {
    if (channel !== this.channel) return;
    const tx = (peer.slots[ctx.slot] as PeerDelta | undefined)?.tx;
    if (tx == null) return;
    for (let i = 0; i < this.history; i++) {
      if (tx.ids[i] === messageId && tx.states[i] === SENT) {
        tx.states[i] = LOST;
        this.s.lost++;
        return;
      }
    }
  }

  onDisconnected(peer: Peer, _reason: unknown, ctx: PluginContext): void {
    peer.slots[ctx.slot] = undefined;
  }

  // ---- Internals ----

  private stateOf(peer: Peer): PeerDelta {
    const slot = this.ctx!.slot;
    let st = peer.slots[slot] as PeerDelta | undefined;
    if (st === undefined) {
      st = new PeerDelta();
      peer.slots[slot] = st;
    }
    return st;
  }

  private txOf(peer: Peer): TxState {
    const st = this.stateOf(peer);
    return (st.tx ??= new TxState(this.history));
  }

  private rxOf(peer: Peer): RxState {
    const st = this.stateOf(peer);
    return (st.rx ??= new RxState(this.history));
  }

  private drop(reason: DeltaDropReason, ctx: PluginContext): null {
    this.s.drops[reason]++;
    ctx.countDrop(reason === "duplicate" ? "duplicate" : reason === "too-old" ? "stale" : reason === "unknown-baseline" ? "plugin" : "malformed");
    return null;
  }

  private onResync(peer: Peer, data: Uint8Array, ctx: PluginContext): void {
    if (data.length < RESYNC_SIZE) {
      this.drop("truncated", ctx);
      return;
    }
    if (data.length > RESYNC_SIZE || (data[1]! & ~RESYNC_HAVE) !== 0) {
      this.drop("corrupt", ctx);
      return;
    }
    this.s.resyncsReceived++;
    const tx = (peer.slots[ctx.slot] as PeerDelta | undefined)?.tx;
    if (tx == null) return;
    tx.peerHistory = Math.max(2, data[4]! + 1);
    // Everything believed acked may be missing at the receiver: forget it. Only what the
    // receiver names, and snapshots sent from now on, may serve as baselines.
    for (let i = 0; i < this.history; i++) if (tx.states[i] !== EMPTY) tx.states[i] = INVALID;
    if ((data[1]! & RESYNC_HAVE) !== 0) {
      const have = readU16(data, 2);
      const i = have & this.mask;
      if (tx.seqs[i] === have) tx.states[i] = ACKED;
    }
  }

  private requestResync(peer: Peer, rx: RxState, ctx: PluginContext): void {
    const now = ctx.now;
    if (now - rx.lastResyncAt < this.resyncIntervalMs || peer.state !== "connected") return;
    rx.lastResyncAt = now;
    const b = this.resyncBuf;
    const holds = rx.newest >= 0 && rx.seqs[rx.newest & this.mask] === rx.newest;
    b[0] = KIND_RESYNC;
    b[1] = holds ? RESYNC_HAVE : 0;
    writeU16(b, 2, holds ? rx.newest : 0);
    b[4] = this.history - 1;
    try {
      ctx.send(peer, this.channel, b);
      this.s.resyncsSent++;
    } catch {
      // The peer is going away or its queue is full: the next failure asks again.
    }
  }

  private onSnapshotMessage(peer: Peer, data: Uint8Array, ctx: PluginContext): void {
    const h = this.header;
    const st = parseSnapshotHeader(data, h, this.maxSnapshotBytes);
    if (st !== DecodeStatus.OK) {
      this.drop(st === DecodeStatus.TRUNCATED ? "truncated" : st === DecodeStatus.OVERSIZE ? "oversize" : "corrupt", ctx);
      return;
    }
    // Configured with checksums, require them: a flipped flag bit must not switch the check off.
    if (this.checksum && !h.hasChecksum) {
      this.drop("corrupt", ctx);
      return;
    }
    const rx = this.rxOf(peer);
    const seq = h.seq;
    const slot = seq & this.mask;
    if (rx.newest >= 0) {
      const d = seqDiff16(seq, rx.newest);
      if (d <= -this.history) {
        this.drop("too-old", ctx);
        return;
      }
      if (d <= 0 && rx.seqs[slot] === seq) {
        this.drop("duplicate", ctx);
        return;
      }
    }
    const newer = rx.lastDelivered < 0 || seqDiff16(seq, rx.lastDelivered) > 0;
    let base: WordBuffer | null = null;
    let tick = h.tick;
    if (h.kind === KIND_DELTA) {
      const baseSeq = (seq - h.distance) & 0xffff;
      const bslot = baseSeq & this.mask;
      if (h.distance >= this.history || rx.seqs[bslot] !== baseSeq) {
        this.drop("unknown-baseline", ctx);
        if (newer) this.requestResync(peer, rx, ctx);
        return;
      }
      base = rx.bufs[bslot]!;
      tick = (rx.ticks[bslot]! + h.tick) % 0x100000000;
    }
    // Decode into a staging buffer, then swap it into the ring: a failed decode leaves the ring intact.
    const target = this.staging;
    const res = decodeSnapshotBody(data, h, base, target, tick);
    if (res !== DecodeStatus.OK) {
      this.drop(res === DecodeStatus.TRUNCATED ? "truncated" : "corrupt", ctx);
      return;
    }
    const evicted = rx.bufs[slot]!;
    rx.bufs[slot] = target;
    this.staging = evicted;
    rx.seqs[slot] = seq;
    rx.ticks[slot] = tick;
    if (rx.newest < 0 || seqDiff16(seq, rx.newest) > 0) rx.newest = seq;
    this.s.snapshotsReceived++;
    if (!newer) {
      this.s.stale++;
      return;
    }
    rx.lastDelivered = seq;
    this.s.delivered++;
    const view = target.view();
    if (this.onSnapshotCb !== undefined) {
      this.onSnapshotCb(peer, tick, view);
      return;
    }
    if (this.queue.length >= this.maxQueuedSnapshots) {
      this.queue.shift();
      this.s.queueOverflow++;
    }
    this.queue.push({ peer, tick, seq, data: view.slice() });
  }
}

/** Creates the delta plugin (see DeltaPlugin). */
export function delta(options: DeltaOptions = {}): DeltaPlugin {
  return new DeltaPlugin(options);
}
