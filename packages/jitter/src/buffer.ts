/**
 * Adaptive jitter buffer, sans-IO: frames go in with their sequence number and
 * the sender's timestamp, and come out in sequence order at a steady cadence,
 * each at `timestamp + offset` on the receiver's clock.
 *
 * The offset follows the transit times (arrival - timestamp) of the last
 * `historySize` frames: it aims at their `percentile` plus `marginMs`, kept
 * between `minDelayMs` and `maxDelayMs` above the fastest transit of the
 * window (the playout delay). It grows at once when the target rises (one
 * longer interval) and shrinks by at most `shrinkMsPerSecond` per second of
 * playout (intervals a few percent shorter), so output stays steady. Transit
 * times contain the clock offset between the two ends; because only their
 * distribution matters, clock drift just moves the whole window slowly, and
 * the offset follows it: the buffer neither fills up nor runs dry.
 *
 * A frame that arrives after its turn was taken is late: dropped and counted.
 * A frame that is missing at its turn is a gap, reported so the application
 * can conceal it; after `maxGapFrames` gaps in a row with nothing buffered
 * the stream is considered paused (silence suppression, a stopped sender):
 * no more gaps until frames arrive again, and playout restarts from them.
 *
 * Time is whatever the caller passes as `now` (ms); nothing here reads a
 * clock. O(log n + historySize) per frame for the sorted transit window,
 * O(1) per playout, no allocation after construction.
 */
import { ErrorCode, FastnetError } from "@fastnet/core/protocol";

export interface JitterBufferOptions {
  /** Nominal interval between frames at the sender, ms: spaces gaps and the first playout. Default 20. */
  frameMs?: number;
  /** Playout delay floor above the fastest transit in the window, ms. Default 0. */
  minDelayMs?: number;
  /** Playout delay ceiling, ms. Default 500. */
  maxDelayMs?: number;
  /** Delay before the first frame plays, ms (then it adapts). Default 60. */
  initialDelayMs?: number;
  /** Fraction of frames that should arrive in time, 0.5..1: the transit percentile aimed at. Default 0.97. */
  percentile?: number;
  /** Extra delay on top of the percentile, ms. Default 2. */
  marginMs?: number;
  /** Transit samples in the window (frames). Default 200. */
  historySize?: number;
  /** Fastest shrinking of the playout delay, ms per second of playout. Default 20 (2 %). */
  shrinkMsPerSecond?: number;
  /** Frames held at most (a power of two; frames further ahead reset the stream). Default 256. */
  capacity?: number;
  /** Gaps reported in a row, with nothing buffered, before the stream counts as paused. Default 10. */
  maxGapFrames?: number;
}

export type ResolvedJitterBufferOptions = Required<JitterBufferOptions>;

export const PushResult = {
  /** Buffered for playout. */
  OK: 0,
  /** Its turn is past (played or reported as a gap): dropped. */
  LATE: 1,
  /** Already buffered: dropped. */
  DUPLICATE: 2,
} as const;
export type PushResult = (typeof PushResult)[keyof typeof PushResult];

export type PlayoutEvent =
  | { type: "frame"; seq: number; timestamp: number; data: Uint8Array; at: number }
  | { type: "gap"; seq: number; at: number };

export interface JitterStats {
  /** Frames pushed (late and duplicates included). */
  received: number;
  played: number;
  late: number;
  duplicates: number;
  /** Missing frames reported at their turn. */
  gaps: number;
  /** Frames never reported: lost during a pause, or jumped over by a reset. */
  skipped: number;
  /** Times playout restarted (after a pause or a jump). */
  restarts: number;
  /** Frames buffered now. */
  buffered: number;
  /** Current playout delay above the fastest transit in the window, ms. */
  delayMs: number;
  /** Where the delay is heading, ms. */
  targetDelayMs: number;
}

const DEFAULTS: ResolvedJitterBufferOptions = {
  frameMs: 20, minDelayMs: 0, maxDelayMs: 500, initialDelayMs: 60, percentile: 0.97, marginMs: 2, historySize: 200,
  shrinkMsPerSecond: 20, capacity: 256, maxGapFrames: 10,
};

function fail(option: string, expected: string, got: unknown): never {
  const shown = typeof got === "number" || typeof got === "boolean" || got == null ? String(got) : typeof got === "string" ? JSON.stringify(got) : typeof got;
  throw new FastnetError(ErrorCode.INVALID_CONFIG, `jitter: option '${option}' must be ${expected}, got ${shown}`);
}

function num(o: Record<string, unknown>, key: keyof JitterBufferOptions, lo: number, hi: number, integer = false): number {
  const v = o[key] ?? DEFAULTS[key];
  if (typeof v !== "number" || !(v >= lo && v <= hi) || (integer && !Number.isInteger(v))) {
    fail(key, `${integer ? "an integer" : "a number"} in [${lo}, ${hi}]`, v);
  }
  return v;
}

export const BUFFER_OPTION_KEYS: readonly (keyof JitterBufferOptions)[] = [
  "frameMs", "minDelayMs", "maxDelayMs", "initialDelayMs", "percentile", "marginMs", "historySize", "shrinkMsPerSecond", "capacity", "maxGapFrames",
];

/** Validates buffer options (FASTNET_INVALID_CONFIG naming the option) and fills defaults. */
export function resolveBufferOptions(options: JitterBufferOptions | undefined): ResolvedJitterBufferOptions {
  const o = (options ?? {}) as Record<string, unknown>;
  if (typeof o !== "object" || o === null) fail("options", "an object", o);
  const r: ResolvedJitterBufferOptions = {
    frameMs: num(o, "frameMs", 0.1, 10_000),
    minDelayMs: num(o, "minDelayMs", 0, 10_000),
    maxDelayMs: num(o, "maxDelayMs", 0, 10_000),
    initialDelayMs: num(o, "initialDelayMs", 0, 10_000),
    percentile: num(o, "percentile", 0.5, 1),
    marginMs: num(o, "marginMs", 0, 10_000),
    historySize: num(o, "historySize", 8, 100_000, true),
    shrinkMsPerSecond: num(o, "shrinkMsPerSecond", 0, 1000),
    capacity: num(o, "capacity", 4, 65_536, true),
    maxGapFrames: num(o, "maxGapFrames", 0, 65_536, true),
  };
  if (r.minDelayMs > r.maxDelayMs) fail("minDelayMs", `at most maxDelayMs (${r.maxDelayMs})`, r.minDelayMs);
  if ((r.capacity & (r.capacity - 1)) !== 0) fail("capacity", "a power of two", r.capacity);
  return r;
}

export class JitterBuffer {
  readonly options: Readonly<ResolvedJitterBufferOptions>;
  private readonly mask: number;
  // Frame ring, indexed by unwrapped sequence & mask.
  private readonly seqs: Float64Array;
  private readonly stamps: Float64Array;
  private readonly datas: (Uint8Array | undefined)[];
  private count = 0;
  // Playout.
  private started = false;
  private cursor = 0;
  /** Timestamp of the frame at `cursor` as expected from the last frame played or buffered. */
  private anchorSeq = 0;
  private anchorTs = 0;
  private lastTs = 0;
  private lastPlayAt = -Infinity;
  private paused = false;
  private gapRun = 0;
  /** Newest sequence number pushed (unwrapped). */
  private highest = 0;
  // Transit window: a ring in arrival order and the same values sorted.
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private ringAt = 0;
  private samples = 0;
  /** Playout offset: a frame plays at timestamp + offset. */
  private offset = 0;
  private target = 0;
  private lastShrinkAt = 0;
  private readonly s = { received: 0, played: 0, late: 0, duplicates: 0, gaps: 0, skipped: 0, restarts: 0 };
  private readonly frameEvent: { type: "frame"; seq: number; timestamp: number; data: Uint8Array; at: number } = { type: "frame", seq: 0, timestamp: 0, data: new Uint8Array(0), at: 0 };
  private readonly gapEvent = { type: "gap" as const, seq: 0, at: 0 };

  constructor(options?: JitterBufferOptions) {
    this.options = Object.freeze(resolveBufferOptions(options));
    const cap = this.options.capacity;
    this.mask = cap - 1;
    this.seqs = new Float64Array(cap).fill(-1);
    this.stamps = new Float64Array(cap);
    this.datas = new Array<Uint8Array | undefined>(cap);
    this.ring = new Float64Array(this.options.historySize);
    this.sorted = new Float64Array(this.options.historySize);
  }

  /**
   * A frame arrived at `now`. `seq` is a 16-bit sequence number, `timestamp` the sender's time in ms
   * (any origin; only differences matter). The buffer keeps `data` (it must not be reused). Never throws
   * on what the network delivers; non-finite numbers are ignored as LATE.
   */
  push(now: number, seq: number, timestamp: number, data: Uint8Array): PushResult {
    this.s.received++;
    if (!Number.isFinite(now) || !Number.isFinite(timestamp) || !Number.isFinite(seq)) {
      this.s.late++;
      return PushResult.LATE;
    }
    const o = this.options;
    let u: number;
    if (!this.started && this.count === 0) {
      u = (seq & 0xffff) + 0x10000;
      this.cursor = u;
      this.highest = u;
      this.anchorSeq = u;
      this.anchorTs = timestamp;
      this.lastTs = timestamp;
    } else {
      u = this.unwrapSeq(seq);
      // Before playout starts, an earlier frame may still move the start back.
      if (!this.started && u < this.cursor && this.cursor - u < o.capacity) this.cursor = u;
    }
    const ts = this.unwrapTs(timestamp);
    // A paused stream resumes with any frame newer than all before it: after silence suppression the
    // sender's numbering goes on from its last frame, behind the gaps we reported meanwhile.
    if (this.paused && u > this.highest) this.resume(u, ts);
    if (u > this.highest) this.highest = u;
    const i = u & this.mask;
    if (u < this.cursor) {
      // Played already (a duplicate), or its turn passed: late. Late frames still tell the delay it needed.
      if (this.seqs[i] === -u - 2) {
        this.s.duplicates++;
        return PushResult.DUPLICATE;
      }
      this.observe(now - ts);
      this.s.late++;
      return PushResult.LATE;
    }
    if (u - this.cursor >= o.capacity) {
      // Too far ahead to hold: the stream jumped (a long outage, a restarted sender). Start over from it.
      this.restart(u, ts);
    }
    if (this.seqs[i] === u) {
      this.s.duplicates++;
      return PushResult.DUPLICATE;
    }
    this.seqs[i] = u;
    this.stamps[i] = ts;
    this.datas[i] = data;
    this.count++;
    if (u >= this.anchorSeq) {
      // The newest frame anchors the expected timestamps of missing ones.
      this.anchorSeq = u;
      this.anchorTs = ts;
    }
    this.lastTs = ts;
    this.observe(now - ts);
    return PushResult.OK;
  }

  /**
   * The next playout event due at `now`, or undefined. Call until undefined. The returned object is
   * reused by the next call: copy what you keep.
   */
  poll(now: number): PlayoutEvent | undefined {
    if (this.count === 0 && (!this.started || this.paused)) return undefined;
    this.shrink(now);
    const o = this.options;
    const i = this.cursor & this.mask;
    const present = this.seqs[i] === this.cursor;
    const due = (present ? this.stamps[i]! : this.expectedTs(this.cursor)) + this.offset;
    if (due > now) return undefined;
    this.started = true;
    const at = Math.max(due, this.lastPlayAt);
    this.lastPlayAt = at;
    if (present) {
      const ev = this.frameEvent;
      ev.seq = this.cursor & 0xffff;
      ev.timestamp = this.stamps[i]!;
      ev.data = this.datas[i]!;
      ev.at = at;
      this.lastTs = this.stamps[i]!;
      if (this.cursor >= this.anchorSeq) {
        this.anchorSeq = this.cursor;
        this.anchorTs = this.lastTs;
      }
      // Remember it was played, so a copy arriving later counts as a duplicate, not late.
      this.seqs[i] = -this.cursor - 2;
      this.datas[i] = undefined;
      this.count--;
      this.cursor++;
      this.gapRun = 0;
      this.s.played++;
      return ev;
    }
    if (this.count === 0 && this.gapRun >= o.maxGapFrames) {
      // Nothing buffered for a while: the sender paused. Wait for it, quietly.
      this.paused = true;
      return undefined;
    }
    const ev = this.gapEvent;
    ev.seq = this.cursor & 0xffff;
    ev.at = at;
    this.cursor++;
    this.gapRun++;
    this.s.gaps++;
    if (this.count === 0 && this.gapRun >= o.maxGapFrames) this.paused = true;
    return ev;
  }

  /** When poll next has something (ms, the caller's clock), or Infinity. */
  nextDeadline(): number {
    if (this.count === 0 && (!this.started || this.paused)) return Infinity;
    const i = this.cursor & this.mask;
    const ts = this.seqs[i] === this.cursor ? this.stamps[i]! : this.expectedTs(this.cursor);
    return ts + this.offset;
  }

  /** Current playout delay above the fastest transit of the window, ms (0 before the first frame). */
  get delayMs(): number {
    return this.samples === 0 ? 0 : this.offset - this.sorted[0]!;
  }

  stats(): JitterStats {
    const base = this.samples === 0 ? 0 : this.sorted[0]!;
    return {
      ...this.s,
      buffered: this.count,
      delayMs: this.samples === 0 ? 0 : this.offset - base,
      targetDelayMs: this.samples === 0 ? 0 : this.target - base,
    };
  }

  /** Drops every buffered frame and starts over with the next push (stats are kept). */
  reset(): void {
    for (let i = 0; i < this.seqs.length; i++) {
      this.seqs[i] = -1;
      this.datas[i] = undefined;
    }
    this.count = 0;
    this.started = false;
    this.paused = false;
    this.gapRun = 0;
    this.samples = 0;
    this.ringAt = 0;
    this.lastPlayAt = -Infinity;
  }

  // ---- internals ----

  private unwrapSeq(seq: number): number {
    // Nearest to the cursor, modulo 2^16.
    const ref = this.cursor;
    const d = (((seq & 0xffff) - (ref & 0xffff)) << 16) >> 16;
    return ref + d;
  }

  private unwrapTs(ts: number): number {
    // The sender's clock is 32-bit ms on the wire (it wraps): keep it continuous.
    const d = ts - this.lastTs;
    if (d > 2147483648) return ts - 4294967296;
    if (d < -2147483648) return ts + 4294967296;
    return ts;
  }

  private expectedTs(seq: number): number {
    return this.anchorTs + (seq - this.anchorSeq) * this.options.frameMs;
  }

  /** Adds a transit sample and moves the target; the offset grows to it at once. */
  private observe(transit: number): void {
    const o = this.options;
    const sorted = this.sorted;
    let n = this.samples;
    if (n === o.historySize) {
      // Remove the oldest sample from the sorted window.
      const old = this.ring[this.ringAt]!;
      const at = lowerBound(sorted, n, old);
      sorted.copyWithin(at, at + 1, n);
      n--;
    }
    const at = lowerBound(sorted, n, transit);
    sorted.copyWithin(at + 1, at, n);
    sorted[at] = transit;
    n++;
    this.samples = n;
    this.ring[this.ringAt] = transit;
    this.ringAt = this.ringAt + 1 === o.historySize ? 0 : this.ringAt + 1;

    const base = sorted[0]!;
    let target = sorted[Math.min(n - 1, Math.floor(o.percentile * n))]! + o.marginMs;
    if (target < base + o.minDelayMs) target = base + o.minDelayMs;
    if (target > base + o.maxDelayMs) target = base + o.maxDelayMs;
    this.target = target;
    if (!this.started) {
      // Before the first frame plays: the initial delay, or more if the first transits already ask for it.
      this.offset = Math.min(base + o.maxDelayMs, Math.max(target, base + o.initialDelayMs));
    } else if (target > this.offset) {
      this.offset = target;
    }
  }

  /** Moves the offset down toward the target by at most shrinkMsPerSecond per second. */
  private shrink(now: number): void {
    const elapsed = now - this.lastShrinkAt;
    this.lastShrinkAt = now;
    if (this.offset <= this.target || !(elapsed > 0)) return;
    const step = (this.options.shrinkMsPerSecond * Math.min(elapsed, 1000)) / 1000;
    this.offset = Math.max(this.target, this.offset - step);
  }

  private resume(u: number, ts: number): void {
    // Frames lost during the pause were never going to be reported.
    if (u > this.cursor) this.s.skipped += u - this.cursor;
    this.cursor = u;
    this.anchorSeq = u;
    this.anchorTs = ts;
    this.paused = false;
    this.gapRun = 0;
    this.s.restarts++;
  }

  private restart(u: number, ts: number): void {
    this.s.skipped += u - this.cursor;
    for (let i = 0; i < this.seqs.length; i++) {
      this.seqs[i] = -1;
      this.datas[i] = undefined;
    }
    this.count = 0;
    this.cursor = u;
    this.highest = u;
    this.anchorSeq = u;
    this.anchorTs = ts;
    this.paused = false;
    this.gapRun = 0;
    this.s.restarts++;
  }
}

/** First index in sorted[0, n) whose value is >= x. */
function lowerBound(sorted: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
