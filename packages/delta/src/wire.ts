/**
 * Wire format of @fastnet/delta messages: every kind byte, offset, size and
 * limit in one place. The README ("Wire format") documents the same bytes.
 *
 * Every message on the snapshot channel starts with a kind byte:
 *
 *   bits 0-3 kind: 0 app message, 1 full snapshot, 2 delta snapshot, 3 resync request
 *   bit  4   delta only: the snapshot has its baseline's length (the length varint is left out)
 *   bits 5-6 reserved, must be 0
 *   bit  7   checksum present (full and delta only)
 *
 *   app      [0x00] [application bytes ...]
 *   full     [kind] [seq u16 LE] [tick varint] [checksum u32 LE]? [snapshot bytes ...]
 *   delta    [kind] [seq u16 LE] [baseline distance u8] [tick - baseline tick, varint]
 *            [checksum u32 LE]? [snapshot length varint, unless bit 4] [runs ...]
 *   resync   [0x03] [flags u8: bit 0 = holds a snapshot] [newest held seq u16 LE] [history u8]
 *
 * A run (see codec.ts) is [header u8: skip << 4 | (count - 1)] [skip - 15 varint]?
 * [count - 16 varint]? then `count` zigzag varints, one per 32-bit little-endian word.
 */

export const KIND_APP = 0;
export const KIND_FULL = 1;
export const KIND_DELTA = 2;
export const KIND_RESYNC = 3;
export const KIND_MASK = 0x0f;
export const RESERVED_MASK = 0x60;
export const FLAG_SAME_LENGTH = 0x10;
export const FLAG_CHECKSUM = 0x80;

/** kind + seq. */
export const SNAPSHOT_PREFIX = 3;
/** kind + seq + tick varint (max 5) + checksum. */
export const FULL_HEADER_MAX = SNAPSHOT_PREFIX + 5 + 4;
/** kind + seq + distance + tick diff varint (max 5) + checksum + length varint (max 5). */
export const DELTA_HEADER_MAX = SNAPSHOT_PREFIX + 1 + 5 + 4 + 5;
export const RESYNC_SIZE = 5;
export const RESYNC_HAVE = 0x01;

/** Largest snapshot history: baseline distances travel in one byte. */
export const MAX_HISTORY = 256;
/** Largest snapshot the wire can describe (length varint, 32-bit words). */
export const MAX_SNAPSHOT_BYTES = 1 << 24;

/** Why an incoming delta message was dropped (counted in `DeltaStats.drops`). */
export type DeltaDropReason =
  /** The message ends inside its header, a varint or a run. */
  | "truncated"
  /** Reserved bits set, an unknown kind, a run past the snapshot's end, non-zero padding, a checksum mismatch. */
  | "corrupt"
  /** A delta against a baseline this side does not hold (never received, evicted, or failed). */
  | "unknown-baseline"
  /** A snapshot longer than `maxSnapshotBytes`. */
  | "oversize"
  /** A snapshot sequence already held (a duplicated datagram). */
  | "duplicate"
  /** A snapshot older than the receive history. */
  | "too-old";

export const DROP_REASONS: readonly DeltaDropReason[] = ["truncated", "corrupt", "unknown-baseline", "oversize", "duplicate", "too-old"];

/** Writes a u16 little-endian. */
export function writeU16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v & 0xff;
  buf[off + 1] = (v >>> 8) & 0xff;
}

export function readU16(buf: Uint8Array, off: number): number {
  return buf[off]! | (buf[off + 1]! << 8);
}

export function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v & 0xff;
  buf[off + 1] = (v >>> 8) & 0xff;
  buf[off + 2] = (v >>> 16) & 0xff;
  buf[off + 3] = (v >>> 24) & 0xff;
}

export function readU32(buf: Uint8Array, off: number): number {
  return (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
}

/** 16-bit sequence arithmetic: signed distance a - b in [-32768, 32767]. */
export function seqDiff16(a: number, b: number): number {
  return ((a - b + 0x8000) & 0xffff) - 0x8000;
}
