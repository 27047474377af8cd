/**
 * Per-channel state. Send side: a queue of messages not yet fully sent, and
 * for reliable channels the window of messages sent but not yet acked.
 * Receive side: the delivery rule of each kind:
 *   reliable-ordered   deliver in sequence; hold early ones (window 1024 messages);
 *   reliable-unordered deliver on arrival, exactly once (window 1024);
 *   sequenced          deliver only if newer than the last delivered (never backwards);
 *   unreliable         deliver on arrival (packet-level dedupe prevents duplicates).
 */
import { RingQueue } from "./queue.ts";
import { seqDiff, seqGreater } from "./seq.ts";
import type { ChannelKind } from "./types.ts";

/** Reliable window in messages: sender never has more outstanding, receiver holds at most this many. */
export const MESSAGE_WINDOW = 1024;
const WINDOW_MASK = MESSAGE_WINDOW - 1;

export const FragState = { QUEUED: 0, IN_FLIGHT: 1, RESEND: 2, ACKED: 3 } as const;

/** A message being sent. One object per message; fragments are indices into it. */
export class OutMessage {
  seq = -1;
  /** Next fragment not yet sent once. */
  nextFrag = 0;
  ackedFrags = 0;
  acked = false;
  /** Expired reliable message replaced by a tombstone frame that must still be acked. */
  tombstone = false;
  /** Unreliable: a fragment was lost, the loss feedback was given. */
  lostReported = false;
  /** Fragment states when fragCount > 1; `state0` otherwise (saves an allocation per small message). */
  states: Uint8Array | null;
  state0: number = FragState.QUEUED;

  constructor(
    readonly id: number,
    readonly channel: number,
    readonly reliable: boolean,
    public data: Uint8Array,
    public fragCount: number,
    readonly fragSize: number,
    readonly enqueuedAt: number,
    readonly expiresAt: number,
  ) {
    this.states = fragCount > 1 ? new Uint8Array(fragCount) : null;
  }

  state(frag: number): number {
    return this.states ? this.states[frag]! : this.state0;
  }

  setState(frag: number, s: number): void {
    if (this.states) this.states[frag] = s;
    else this.state0 = s;
  }

  fragLength(frag: number): number {
    if (this.fragCount === 1) return this.data.length;
    return frag === this.fragCount - 1 ? this.data.length - frag * this.fragSize : this.fragSize;
  }
}

export class SendChannel {
  readonly reliable: boolean;
  nextSeq = 0;
  readonly queue = new RingQueue<OutMessage>();
  queuedBytes = 0;
  /** Reliable: messages with a sequence number, oldest first, until acked from the front. */
  readonly outstanding = new RingQueue<OutMessage>();
  /** Bytes from the oldest unacked message to the newest sent: what the receiver may have to hold. */
  spanBytes = 0;

  constructor(readonly index: number, readonly kind: ChannelKind) {
    this.reliable = kind === "reliable-ordered" || kind === "reliable-unordered";
  }

  /** May the front message get a sequence number without overrunning the receiver? */
  canStart(msg: OutMessage, peerWindowBytes: number): boolean {
    if (!this.reliable) return true;
    if (this.outstanding.length === 0) return true;
    if (this.outstanding.length >= MESSAGE_WINDOW) return false;
    return this.spanBytes + msg.data.length <= peerWindowBytes;
  }

  /** Drops fully acked messages from the front of the window. */
  advance(): void {
    let m = this.outstanding.peek();
    while (m !== undefined && m.acked) {
      this.spanBytes -= m.data.length;
      this.outstanding.shift();
      m = this.outstanding.peek();
    }
  }
}

/** Receive-side delivery state of one channel. */
export class RecvChannel {
  /** ordered/unordered: lowest sequence not yet delivered. sequenced: last delivered. */
  base = 0;
  hasBase = false;
  /** ordered: complete messages waiting for earlier ones. */
  private readonly held: (Uint8Array | undefined)[];
  /** unordered/ordered: which sequences in [base, base+1024) were taken. */
  private readonly taken: Uint8Array;
  heldBytes = 0;

  constructor(readonly kind: ChannelKind) {
    const windowed = kind === "reliable-ordered" || kind === "reliable-unordered";
    this.held = kind === "reliable-ordered" ? new Array<Uint8Array | undefined>(MESSAGE_WINDOW) : [];
    this.taken = windowed ? new Uint8Array(MESSAGE_WINDOW) : new Uint8Array(0);
  }

  /**
   * Classifies an arriving sequence for reliable channels: 1 = new and in window,
   * 0 = already taken (duplicate), -1 = beyond the window (dropped, the sender will resend).
   */
  classify(seq: number): number {
    const d = seqDiff(seq, this.base);
    if (d < 0) return 0;
    if (d >= MESSAGE_WINDOW) return -1;
    return this.taken[seq & WINDOW_MASK] ? 0 : 1;
  }

  /** Sequenced: is `seq` newer than the last delivered? */
  isNewer(seq: number): boolean {
    return !this.hasBase || seqGreater(seq, this.base);
  }

  markSequenced(seq: number): void {
    this.base = seq;
    this.hasBase = true;
  }

  /** Unordered: marks `seq` taken and slides the window over the taken prefix. */
  takeUnordered(seq: number): void {
    this.taken[seq & WINDOW_MASK] = 1;
    while (this.taken[this.base & WINDOW_MASK]) {
      this.taken[this.base & WINDOW_MASK] = 0;
      this.base = (this.base + 1) & 0xffff;
    }
  }

  /**
   * Ordered: stores `data` (undefined for a tombstone) at `seq`, then calls `deliver`
   * for every message now in order.
   */
  takeOrdered(seq: number, data: Uint8Array | undefined, deliver: (data: Uint8Array) => void): void {
    const i = seq & WINDOW_MASK;
    this.taken[i] = 1;
    if (seq !== this.base) {
      this.held[i] = data;
      if (data) this.heldBytes += data.length;
      return;
    }
    if (data) deliver(data);
    this.taken[i] = 0;
    this.base = (this.base + 1) & 0xffff;
    while (this.taken[this.base & WINDOW_MASK]) {
      const j = this.base & WINDOW_MASK;
      const next = this.held[j];
      this.held[j] = undefined;
      this.taken[j] = 0;
      this.base = (this.base + 1) & 0xffff;
      if (next) {
        this.heldBytes -= next.length;
        deliver(next);
      }
    }
  }
}
