/**
 * Unsigned LEB128 varints (at most 5 bytes, values 0..2^32-1) and zigzag
 * mapping of signed 32-bit integers. Readers never throw: they return -1 on
 * truncated or over-long input, so a parser of untrusted bytes can drop it.
 */

/** A read position, advanced by the readers. */
export interface Cursor {
  off: number;
}

/** Bytes `writeVarint` uses for `v` (0..2^32-1). */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return 5;
}

/** Writes `v` (0..2^32-1) at `off`; returns the offset after it. The caller guarantees room (5 bytes). */
export function writeVarint(buf: Uint8Array, off: number, v: number): number {
  while (v >= 0x80) {
    buf[off++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[off++] = v;
  return off;
}

/**
 * Reads a varint at `cur.off` (not past `end`) and advances the cursor. Returns the value
 * (0..2^32-1), or -1 when the input ends first, runs past 5 bytes or exceeds 32 bits.
 */
export function readVarint(buf: Uint8Array, cur: Cursor, end: number): number {
  let off = cur.off;
  if (off >= end) return -1;
  let b = buf[off++]!;
  if (b < 0x80) {
    cur.off = off;
    return b;
  }
  let v = b & 0x7f;
  let mul = 0x80;
  for (let i = 1; i < 5; i++) {
    if (off >= end) return -1;
    b = buf[off++]!;
    // The fifth byte may carry 4 bits only (32 - 4 * 7).
    if (i === 4 && b > 0x0f) return -1;
    v += (b & 0x7f) * mul;
    if (b < 0x80) {
      cur.off = off;
      return v;
    }
    mul *= 0x80;
  }
  return -1;
}

/** Maps a signed 32-bit integer to an unsigned one with small magnitudes first: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ... */
export function zigzag(n: number): number {
  return ((n << 1) ^ (n >> 31)) >>> 0;
}

/** Inverse of `zigzag`: returns a signed 32-bit integer. */
export function unzigzag(u: number): number {
  return (u >>> 1) ^ -(u & 1);
}
