/**
 * Sliding-window replay protection for packet numbers, after RFC 6479
 * ("IPsec Anti-Replay Algorithm without Bit Shifting"): a ring of 32-bit words
 * indexed by pn / 32; advancing the window clears whole words instead of
 * shifting the bitmap, so check and accept are O(1) (at most one pass over the
 * ring on a jump far ahead).
 *
 * Semantics: with window size W and highest accepted packet number H, a packet
 * number pn is acceptable iff it is above H, or it lies in (H - W, H] and has
 * not been accepted yet. Anything at or below H - W is "too old".
 *
 * Packet numbers are 64-bit on the wire but JS numbers here: every non-negative
 * safe integer (< 2^53) is supported exactly. At one packet per microsecond
 * that is 285 years per key, so a connection never gets there; anything else
 * (negative, fractional, >= 2^53, NaN, non-number) is rejected, never thrown on.
 */

import { argError } from "@fastnet/core/protocol";

export const DEFAULT_REPLAY_WINDOW = 2048;
export const MIN_REPLAY_WINDOW = 1024;
export const MAX_REPLAY_WINDOW = 1 << 20;

function isPacketNumber(pn: number): boolean {
  return Number.isSafeInteger(pn) && pn >= 0;
}

export class ReplayWindow {
  /** Window size W in packets: how far below the highest packet number a late packet is still accepted. */
  readonly size: number;
  private readonly bits: Uint32Array;
  private readonly mask: number;
  private top = -1;

  /** size: a power of two from 1024 to 2^20 (default 2048). Throws FASTNET_INVALID_ARGUMENT otherwise. */
  constructor(size: number = DEFAULT_REPLAY_WINDOW) {
    if (!Number.isInteger(size) || size < MIN_REPLAY_WINDOW || size > MAX_REPLAY_WINDOW || (size & (size - 1)) !== 0) {
      throw argError("size", `a power of two from ${MIN_REPLAY_WINDOW} to ${MAX_REPLAY_WINDOW}`, size);
    }
    this.size = size;
    // RFC 6479 loses up to one word of the hidden bitmap to the partially filled newest word; doubling the
    // ring (a power of two, so indexing is a mask) keeps the full W packets usable: the window spans at most
    // W/32 + 1 words.
    const words = (2 * size) / 32;
    this.bits = new Uint32Array(words);
    this.mask = words - 1;
  }

  /** Highest packet number accepted so far; -1 before any. */
  get highest(): number {
    return this.top;
  }

  /** True if pn could be new (not seen, not too old). Does not record: call before decrypting, record only after authentication. */
  check(pn: number): boolean {
    if (!isPacketNumber(pn)) return false;
    if (pn > this.top) return true;
    if (this.top - pn >= this.size) return false;
    // pn / 32 is exact for pn < 2^53; `& mask` truncates it (ToInt32) and keeps the ring index.
    return (this.bits[(pn / 32) & this.mask]! & (1 << (pn & 31))) === 0;
  }

  /** Records pn as seen (after the packet authenticated). Returns false if it was a replay or too old (no change). */
  accept(pn: number): boolean {
    if (!isPacketNumber(pn)) return false;
    const bits = this.bits;
    const mask = this.mask;
    if (pn > this.top) {
      const newWord = Math.floor(pn / 32);
      const firstFresh = this.top < 0 ? 0 : Math.floor(this.top / 32) + 1;
      // Words between the old newest word and the new one now stand for packet numbers never seen.
      if (newWord - firstFresh >= bits.length) bits.fill(0);
      else for (let w = firstFresh; w <= newWord; w++) bits[w & mask] = 0;
      bits[newWord & mask]! |= 1 << (pn & 31);
      this.top = pn;
      return true;
    }
    if (this.top - pn >= this.size) return false;
    const i = (pn / 32) & mask;
    const bit = 1 << (pn & 31);
    const word = bits[i]!;
    if ((word & bit) !== 0) return false;
    bits[i] = word | bit;
    return true;
  }
}
