/**
 * Packet-level acknowledgement state.
 *  - SentRing: O(1) ring of sent-packet records indexed by sequence, reused in place.
 *  - ReceivedWindow: which of the last 1024 packet sequences arrived; drops
 *    duplicates and packets too old to judge, and builds the ack + 32-bit
 *    bitfield written in every DATA header (bit i = sequence ack-1-i arrived).
 */
import type { OutMessage } from "./channel.ts";
import { seqDiff, seqGreater } from "./seq.ts";
import { ACK_BITS } from "./wire.ts";

export const SENT_RING_SIZE = 1024;
export const RECV_WINDOW = 1024;

export class SentPacket {
  seq = -1;
  sentAt = 0;
  size = 0;
  ackEliciting = false;
  inFlight = false;
  /** Declared lost: an ack arriving later proves the loss spurious (reordering). */
  lost = false;
  /** Message parts carried: msgs[i] fragment frags[i] (-1 = tombstone frame), for i < count. */
  count = 0;
  readonly msgs: OutMessage[] = [];
  readonly frags: number[] = [];

  /** Reuses the record; the arrays keep their capacity (no truncation per packet). */
  reset(seq: number): void {
    this.seq = seq;
    this.inFlight = false;
    this.lost = false;
    this.ackEliciting = false;
    this.count = 0;
  }

  add(msg: OutMessage, frag: number): void {
    this.msgs[this.count] = msg;
    this.frags[this.count] = frag;
    this.count++;
  }
}

/**
 * Starts small and doubles (up to maxSize) instead of overwriting a packet
 * still in flight, so a quiet game peer costs a few KB while a bulk transfer
 * can keep thousands of packets in flight.
 */
export class SentRing {
  private slots: SentPacket[];
  private mask: number;

  constructor(initialSize = 64, readonly maxSize = SENT_RING_SIZE * 4) {
    this.slots = Array.from({ length: initialSize }, () => new SentPacket());
    this.mask = initialSize - 1;
  }

  get size(): number {
    return this.slots.length;
  }

  /** The slot a sequence maps to (may still hold an older packet). */
  slot(seq: number): SentPacket {
    return this.slots[seq & this.mask]!;
  }

  /** The record of `seq` if it is still held. */
  get(seq: number): SentPacket | undefined {
    const p = this.slots[seq & this.mask]!;
    return p.seq === seq ? p : undefined;
  }

  /**
   * The slot for a new packet `seq`, growing the ring rather than reusing a slot whose packet
   * is still in flight. At maxSize the in-flight occupant is returned and the caller must resolve it.
   */
  claim(seq: number): SentPacket {
    let p = this.slots[seq & this.mask]!;
    while (p.inFlight && this.slots.length < this.maxSize) {
      this.grow();
      p = this.slots[seq & this.mask]!;
    }
    return p;
  }

  /** Doubles the ring. Held sequences are the last `size` sent, so they stay distinct under the new mask. */
  private grow(): void {
    const size = this.slots.length * 2;
    const next = new Array<SentPacket | undefined>(size);
    for (const p of this.slots) if (p.seq >= 0) next[p.seq & (size - 1)] = p;
    for (let i = 0; i < size; i++) next[i] ??= new SentPacket();
    this.slots = next as SentPacket[];
    this.mask = size - 1;
  }
}

export class ReceivedWindow {
  private readonly seen = new Int32Array(RECV_WINDOW).fill(-1);
  largest = 0;
  hasAny = false;

  /** 1 = new, 0 = duplicate, -1 = older than the window can tell. Does not record. */
  classify(seq: number): number {
    if (!this.hasAny) return 1;
    if (seqDiff(seq, this.largest) <= -RECV_WINDOW) return -1;
    return this.seen[seq & (RECV_WINDOW - 1)] === seq ? 0 : 1;
  }

  /** Records `seq`; returns true if it is the new largest. */
  record(seq: number): boolean {
    this.seen[seq & (RECV_WINDOW - 1)] = seq;
    if (!this.hasAny || seqGreater(seq, this.largest)) {
      this.largest = seq;
      this.hasAny = true;
      return true;
    }
    return false;
  }

  /** Bitfield of the 32 sequences before `largest`. */
  ackBits(): number {
    let bits = 0;
    const base = this.largest;
    for (let i = 0; i < ACK_BITS; i++) {
      const s = (base - 1 - i) & 0xffff;
      if (this.seen[s & (RECV_WINDOW - 1)] === s) bits |= 1 << i;
    }
    return bits >>> 0;
  }
}
