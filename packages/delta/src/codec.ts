/**
 * The snapshot codec: pure functions, no endpoint, no state beyond the
 * buffers handed in. A snapshot is compared with its baseline as 32-bit
 * little-endian words (the last one zero-padded). A delta lists the changed
 * words as runs: how many unchanged words to skip, how many changed words
 * follow, then each changed word as the zigzag varint of (new - old) mod 2^32.
 * Quantized integers and slowly changing floats give small differences, so
 * most changed words cost one to three bytes.
 *
 * Decoders never throw on untrusted bytes: they return a status.
 */
import { readVarint, unzigzag, writeVarint, zigzag, type Cursor } from "./varint.ts";
import {
  DELTA_HEADER_MAX, FLAG_CHECKSUM, FLAG_SAME_LENGTH, FULL_HEADER_MAX, KIND_DELTA, KIND_FULL, KIND_MASK, RESERVED_MASK, readU16, readU32,
  writeU16, writeU32,
} from "./wire.ts";

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // Words are compared through Int32Array views; the wire defines them little-endian.
  throw new Error("@fastnet/delta needs a little-endian platform");
}

/** A byte buffer with a 32-bit word view over the same memory; bytes past `length` up to the word end are zero. */
export class WordBuffer {
  bytes: Uint8Array;
  words: Int32Array;
  /** Snapshot length in bytes. */
  length = 0;

  constructor(capacity = 64) {
    const cap = Math.max(4, (capacity + 3) & ~3);
    this.bytes = new Uint8Array(cap);
    this.words = new Int32Array(this.bytes.buffer, 0, cap >> 2);
  }

  /** Number of words covering `length` bytes. */
  get wordCount(): number {
    return (this.length + 3) >>> 2;
  }

  /** Makes room for `byteLength` bytes (contents are not kept when it grows). */
  reserve(byteLength: number): void {
    if (byteLength <= this.bytes.length) return;
    let cap = this.bytes.length;
    while (cap < byteLength) cap *= 2;
    this.bytes = new Uint8Array(cap);
    this.words = new Int32Array(this.bytes.buffer, 0, cap >> 2);
  }

  /** Copies `src` in and zeroes the padding of the last word. */
  set(src: Uint8Array): void {
    const n = src.length;
    this.reserve(n + 4);
    this.bytes.set(src);
    this.length = n;
    this.zeroPadding();
  }

  /** Zeroes the bytes from `length` to the end of its last word. */
  zeroPadding(): void {
    const end = (this.length + 3) & ~3;
    for (let i = this.length; i < end; i++) this.bytes[i] = 0;
  }

  /** True when the padding bytes of the last word are zero (a decoded snapshot must satisfy it). */
  paddingIsZero(): boolean {
    const end = (this.length + 3) & ~3;
    for (let i = this.length; i < end; i++) if (this.bytes[i] !== 0) return false;
    return true;
  }

  /** A view of the snapshot bytes (valid until the buffer is next written). */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

/**
 * 32-bit hash of a snapshot (its words, length, sequence and tick): detects corruption and state
 * divergence, not forgery (that is the crypto plugin's job).
 */
export function hashSnapshot(buf: WordBuffer, seq: number, tick: number): number {
  const w = buf.words;
  const n = buf.wordCount;
  // Two independent lanes (even and odd words) halve the multiply-rotate dependency chain.
  let a = Math.imul(0x811c9dc5 ^ buf.length, 0x01000193) ^ seq;
  let b = Math.imul(0x7f4a7c15 ^ tick, 0x01000193) ^ n;
  const even = n & ~1;
  for (let i = 0; i < even; i += 2) {
    a = Math.imul(a ^ w[i]!, 0x9e3779b1);
    b = Math.imul(b ^ w[i + 1]!, 0x85ebca77);
    a = (a << 13) | (a >>> 19);
    b = (b << 15) | (b >>> 17);
  }
  if (even < n) a = Math.imul(a ^ w[even]!, 0x9e3779b1);
  let h = a ^ Math.imul(b, 0x27d4eb2f);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Writes the runs of `target` against `base` (words past the base's end count as zero) at `off`.
 * Returns the offset after them, or -1 as soon as the output passes `limit`. `out` must have
 * room for `limit + 16` bytes.
 */
export function encodeRuns(target: WordBuffer, base: WordBuffer | null, out: Uint8Array, off: number, limit: number): number {
  const t = target.words;
  const nt = target.wordCount;
  const b = base === null ? t : base.words;
  // Words below `nb` compare with the base, the rest with zero.
  const nb = base === null ? 0 : Math.min(base.wordCount, nt);
  let w = 0;
  let last = 0;
  for (;;) {
    // Skip unchanged words.
    while (w < nb && t[w] === b[w]) w++;
    if (w >= nb) while (w < nt && t[w] === 0) w++;
    if (w >= nt) return off;
    // Extend the run over changed words.
    const start = w++;
    while (w < nb && t[w] !== b[w]) w++;
    if (w >= nb) while (w < nt && t[w] !== 0) w++;
    const count = w - start;
    const skip = start - last;
    last = w;
    out[off++] = ((skip < 15 ? skip : 15) << 4) | (count - 1 < 15 ? count - 1 : 15);
    if (skip >= 15) off = writeVarint(out, off, skip - 15);
    if (count - 1 >= 15) off = writeVarint(out, off, count - 16);
    if (off + 5 * count > limit) {
      // Near the limit: check after every value, so `out` never needs more than limit + 16 bytes.
      if (off > limit) return -1;
      for (let i = start; i < w; i++) {
        off = writeVarint(out, off, zigzag((t[i]! - (i < nb ? b[i]! : 0)) | 0));
        if (off > limit) return -1;
      }
      continue;
    }
    const mid = w < nb ? w : nb;
    let i = start;
    for (; i < mid; i++) {
      const z = zigzag((t[i]! - b[i]!) | 0);
      if (z < 0x80) out[off++] = z;
      else off = writeVarint(out, off, z);
    }
    for (; i < w; i++) off = writeVarint(out, off, zigzag(t[i]!));
  }
}

/** Decode outcome. */
export const DecodeStatus = { OK: 0, TRUNCATED: 1, CORRUPT: 2, OVERSIZE: 3 } as const;
export type DecodeStatus = (typeof DecodeStatus)[keyof typeof DecodeStatus];

/**
 * Applies the runs in `data[off, end)` to `base`, writing the result (of `length` bytes) into
 * `target` (a different buffer). Never throws.
 */
export function decodeRuns(data: Uint8Array, off: number, end: number, base: WordBuffer | null, target: WordBuffer, length: number): DecodeStatus {
  target.reserve(length + 4);
  target.length = length;
  const nt = target.wordCount;
  const t = target.words;
  const nb = base === null ? 0 : Math.min(base.wordCount, nt);
  if (base !== null && nb > 0) t.set(base.words.subarray(0, nb));
  t.fill(0, nb, nt);
  const cur: Cursor = { off };
  let w = 0;
  while (cur.off < end) {
    const h = data[cur.off++]!;
    let skip = h >>> 4;
    let count = (h & 15) + 1;
    if (skip === 15) {
      const v = readVarint(data, cur, end);
      if (v < 0) return DecodeStatus.TRUNCATED;
      skip += v;
    }
    if (count === 16) {
      const v = readVarint(data, cur, end);
      if (v < 0) return DecodeStatus.TRUNCATED;
      count += v;
    }
    w += skip;
    if (w + count > nt) return DecodeStatus.CORRUPT;
    for (let i = 0; i < count; i++) {
      const v = readVarint(data, cur, end);
      if (v < 0) return DecodeStatus.TRUNCATED;
      t[w] = (t[w]! + unzigzag(v)) | 0;
      w++;
    }
  }
  return target.paddingIsZero() ? DecodeStatus.OK : DecodeStatus.CORRUPT;
}

/** Writes a full snapshot message into `out` (room: FULL_HEADER_MAX + snapshot length). Returns its size. */
export function encodeFull(out: Uint8Array, seq: number, tick: number, snap: WordBuffer, checksum: boolean): number {
  out[0] = KIND_FULL | (checksum ? FLAG_CHECKSUM : 0);
  writeU16(out, 1, seq);
  let off = writeVarint(out, 3, tick);
  if (checksum) {
    writeU32(out, off, hashSnapshot(snap, seq, tick));
    off += 4;
  }
  out.set(snap.bytes.subarray(0, snap.length), off);
  return off + snap.length;
}

/**
 * Writes a delta message of `snap` (sequence `seq`, tick `tick`) against `base` (sent `distance`
 * sequences earlier, at `baseTick`) into `out`. Returns its size, or -1 when it would exceed
 * `limit` bytes (send a full snapshot instead). `out` needs `limit + 16` bytes.
 */
export function encodeDelta(
  out: Uint8Array, seq: number, tick: number, distance: number, baseTick: number, snap: WordBuffer, base: WordBuffer, checksum: boolean,
  limit: number,
): number {
  const sameLength = snap.length === base.length;
  out[0] = KIND_DELTA | (checksum ? FLAG_CHECKSUM : 0) | (sameLength ? FLAG_SAME_LENGTH : 0);
  writeU16(out, 1, seq);
  out[3] = distance;
  let off = writeVarint(out, 4, (tick - baseTick) >>> 0);
  if (checksum) {
    writeU32(out, off, hashSnapshot(snap, seq, tick));
    off += 4;
  }
  if (!sameLength) off = writeVarint(out, off, snap.length);
  return encodeRuns(snap, base, out, off, limit);
}

/** A parsed snapshot header (reused: the parser fills it in place). */
export interface SnapshotHeader {
  kind: number;
  seq: number;
  /** Full: the tick. Delta: tick minus the baseline's tick, mod 2^32. */
  tick: number;
  /** Delta: seq minus the baseline's seq (1..255). 0 for a full snapshot. */
  distance: number;
  hasChecksum: boolean;
  checksum: number;
  /** Delta: the snapshot's length (-1: the baseline's, see `sameLength`). Full: the body's length. */
  length: number;
  /** Delta: the snapshot has its baseline's length (the caller fills `length` in from the baseline). */
  sameLength: boolean;
  /** Where the body (full bytes or runs) starts. */
  body: number;
}

export function emptyHeader(): SnapshotHeader {
  return { kind: 0, seq: 0, tick: 0, distance: 0, hasChecksum: false, checksum: 0, length: 0, sameLength: false, body: 0 };
}

/** Parses the header of a full or delta message. Never throws. */
export function parseSnapshotHeader(data: Uint8Array, h: SnapshotHeader, maxBytes: number): DecodeStatus {
  const end = data.length;
  if (end < 3) return DecodeStatus.TRUNCATED;
  const b0 = data[0]!;
  if ((b0 & RESERVED_MASK) !== 0) return DecodeStatus.CORRUPT;
  const kind = b0 & KIND_MASK;
  if (kind !== KIND_FULL && kind !== KIND_DELTA) return DecodeStatus.CORRUPT;
  h.kind = kind;
  h.hasChecksum = (b0 & FLAG_CHECKSUM) !== 0;
  h.sameLength = (b0 & FLAG_SAME_LENGTH) !== 0;
  if (h.sameLength && kind !== KIND_DELTA) return DecodeStatus.CORRUPT;
  h.seq = readU16(data, 1);
  const cur: Cursor = { off: 3 };
  if (kind === KIND_DELTA) {
    if (end < 4) return DecodeStatus.TRUNCATED;
    h.distance = data[3]!;
    if (h.distance === 0) return DecodeStatus.CORRUPT;
    cur.off = 4;
  } else {
    h.distance = 0;
  }
  const tick = readVarint(data, cur, end);
  if (tick < 0) return DecodeStatus.TRUNCATED;
  h.tick = tick;
  if (h.hasChecksum) {
    if (cur.off + 4 > end) return DecodeStatus.TRUNCATED;
    h.checksum = readU32(data, cur.off);
    cur.off += 4;
  }
  if (h.sameLength) {
    h.length = -1;
  } else if (kind === KIND_DELTA) {
    const len = readVarint(data, cur, end);
    if (len < 0) return DecodeStatus.TRUNCATED;
    h.length = len;
  } else {
    h.length = end - cur.off;
  }
  if (h.length > maxBytes) return DecodeStatus.OVERSIZE;
  h.body = cur.off;
  return DecodeStatus.OK;
}

/**
 * Decodes the body of a parsed message into `target`: a full snapshot is copied, a delta applied
 * to `base` (which the caller looked up from `h.distance`; required for a delta). `tick` is the
 * snapshot's tick (a delta's is its baseline's plus `h.tick`). Checks the checksum. Never throws.
 */
export function decodeSnapshotBody(data: Uint8Array, h: SnapshotHeader, base: WordBuffer | null, target: WordBuffer, tick: number): DecodeStatus {
  if (h.kind !== KIND_FULL && base === null) return DecodeStatus.CORRUPT;
  if (h.sameLength) h.length = base!.length;
  if (h.kind === KIND_FULL) {
    target.reserve(h.length + 4);
    target.bytes.set(data.subarray(h.body, h.body + h.length));
    target.length = h.length;
    target.zeroPadding();
  } else {
    const st = decodeRuns(data, h.body, data.length, base, target, h.length);
    if (st !== DecodeStatus.OK) return st;
  }
  if (h.hasChecksum && hashSnapshot(target, h.seq, tick) !== h.checksum) return DecodeStatus.CORRUPT;
  return DecodeStatus.OK;
}

export { DELTA_HEADER_MAX, FULL_HEADER_MAX };
