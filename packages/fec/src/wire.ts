/**
 * The FEC layer's bytes on the wire: every offset, size and limit in one place.
 *
 * FEC sits inside crypto, so it sees (and produces) plaintext core datagrams:
 * the 6-byte fixed header (version, type/flags, connection id) then the body.
 * It appends a trailer; its last byte, the tag, says what the datagram is:
 *
 *   tag 0b00_000000  PLAIN   core datagram | report(1) | tag             (+2 bytes)
 *   tag 0b01_iiiiii  DATA    core datagram | group(2) | report(1) | tag  (+4 bytes)
 *                            i = index of the datagram in its group (< MAX_DATA)
 *   tag 0b10_jjjjjj  PARITY  header(6) | body parity | length parity(2) | type parity(1)
 *                            | check(4) | k(1) | m(1) | group(2) | report(1) | tag
 *                            j = parity row (< m), k data + m parity in the group
 *
 * The code protects, for each data datagram, its body (everything after the
 * 6-byte core header, zero-padded to the longest body of the group), its body
 * length and its type/flags byte. A parity datagram carries the parity of the
 * bodies at the same offset as the bodies themselves (so both sides XOR 32-bit
 * words), and the parity of the lengths and type bytes in its trailer. It
 * reuses a DATA fixed header (version, type DATA, the peer's connection id) so
 * that the receiving core routes it to the connection before any plugin runs;
 * FEC consumes it. `check` is the XOR of a 32-bit hash of every data datagram
 * of the group: a rebuilt datagram whose hash does not complete it is
 * discarded. `report` carries the sender's measured loss of the datagrams
 * it receives from us (REPORT_UNKNOWN, or loss * REPORT_SCALE), which drives
 * the adaptive group size. Integers are big-endian.
 */

export const HEADER_SIZE = 6;
/** Core DATA header: fixed header + seq(2) ack(2) ackBits(4) ackDelay(2). */
export const DATA_HEADER_SIZE = 16;
export const OFF_SEQ = 6;
export const CORE_TYPE_MASK = 0x0f;
export const CORE_TYPE_DATA = 5;

export const KIND_PLAIN = 0;
export const KIND_DATA = 1;
export const KIND_PARITY = 2;

export const PLAIN_TRAILER = 2;
export const DATA_TRAILER = 4;
/** Length parity(2) type parity(1) check(4) k(1) m(1) group(2) report(1) tag(1). */
export const PARITY_TRAILER = 13;
/**
 * Bytes FEC may add to a datagram: a parity datagram is as long as the longest core datagram of
 * its group plus PARITY_TRAILER (its own 6-byte header stands for theirs).
 */
export const FEC_OVERHEAD = PARITY_TRAILER;
/**
 * Shard buffers (accumulators, stored shards) mirror the datagram: body length at [0, 2), type at
 * [2], zeros at [3, 6), body from BODY_OFFSET on. So bodies line up with the datagram's bytes.
 */
export const BODY_OFFSET = HEADER_SIZE;

/** Data datagrams per group at most (data index < MAX_DATA). */
export const MAX_DATA = 32;
/** Parity datagrams per group at most. */
export const MAX_PARITY = 16;

export const REPORT_UNKNOWN = 0xff;
/** report = round(loss * REPORT_SCALE), at most 254 (50.8 %). */
export const REPORT_SCALE = 500;
export const REPORT_MAX = 254;

export function tagOf(kind: number, index: number): number {
  return (kind << 6) | index;
}

export function readU16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

export function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

export function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

export function encodeReport(loss: number): number {
  if (!(loss >= 0)) return REPORT_UNKNOWN;
  return Math.min(REPORT_MAX, Math.round(loss * REPORT_SCALE));
}

/** The loss fraction a report byte stands for, or -1 when unknown. */
export function decodeReport(report: number): number {
  return report === REPORT_UNKNOWN ? -1 : report / REPORT_SCALE;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

let cachedBuffer: ArrayBufferLike | null = null;
let cachedView: Int32Array<ArrayBufferLike> = new Int32Array(0);

/**
 * A 32-bit view over a whole ArrayBuffer, cached for the last buffer asked for: the endpoint
 * reuses its transmit buffer, and creating a view costs about as much as XORing 400 bytes.
 */
export function wordsOfBuffer(buffer: ArrayBufferLike): Int32Array<ArrayBufferLike> {
  if (buffer !== cachedBuffer) {
    cachedBuffer = buffer;
    cachedView = new Int32Array(buffer, 0, buffer.byteLength >> 2);
  }
  return cachedView;
}

/** A 32-bit view over the whole buffer under `bytes` (for buffers kept for long: accumulators, scratch). */
export function wordsOf(bytes: Uint8Array): Int32Array<ArrayBufferLike> {
  return new Int32Array(bytes.buffer, 0, bytes.buffer.byteLength >> 2);
}

/**
 * 32-bit hash of a data datagram as FEC protects it: its body length, type/flags byte and body
 * bytes buf[6, 6 + bodyLen). Bytes 6 and 7 are mixed one by one, then little-endian 32-bit words
 * from offset 8 in four interleaved lanes, then the tail. `buf32` is a view of buf's whole buffer
 * (wordsOf); it is used when buf + 8 is 4-byte aligned. Not cryptographic: it catches corrupted
 * and garbage datagrams (random input passes with probability 2^-32), not an attacker, which is
 * crypto's job (README, security notes).
 */
export function shardHash(buf: Uint8Array, buf32: Int32Array<ArrayBufferLike>, bodyLen: number, type: number): number {
  let h = Math.imul(bodyLen ^ (type << 16) ^ 0x9e3779b9, 0x85ebca6b);
  let a = 0x27d4eb2f ^ bodyLen;
  let b = 0x165667b1;
  let c = 0x61c88647;
  const end = BODY_OFFSET + bodyLen;
  let i = BODY_OFFSET;
  for (; i < 8 && i < end; i++) {
    h = Math.imul(h ^ buf[i]!, 0x5bd1e995);
    h ^= h >>> 15;
  }
  const quads = (end - i) >> 4;
  if (quads > 0) {
    if (LITTLE_ENDIAN && ((buf.byteOffset + i) & 3) === 0) {
      let w = (buf.byteOffset + i) >> 2;
      for (let n = 0; n < quads; n++, w += 4) {
        h = Math.imul(h ^ buf32[w]!, 0x5bd1e995);
        a = Math.imul(a ^ buf32[w + 1]!, 0x1b873593);
        b = Math.imul(b ^ buf32[w + 2]!, 0xcc9e2d51);
        c = Math.imul(c ^ buf32[w + 3]!, 0x85ebca77);
        h ^= h >>> 15;
        a ^= a >>> 13;
        b ^= b >>> 16;
        c ^= c >>> 11;
      }
    } else {
      for (let n = 0, j = i; n < quads; n++, j += 16) {
        h = Math.imul(h ^ (buf[j]! | (buf[j + 1]! << 8) | (buf[j + 2]! << 16) | (buf[j + 3]! << 24)), 0x5bd1e995);
        a = Math.imul(a ^ (buf[j + 4]! | (buf[j + 5]! << 8) | (buf[j + 6]! << 16) | (buf[j + 7]! << 24)), 0x1b873593);
        b = Math.imul(b ^ (buf[j + 8]! | (buf[j + 9]! << 8) | (buf[j + 10]! << 16) | (buf[j + 11]! << 24)), 0xcc9e2d51);
        c = Math.imul(c ^ (buf[j + 12]! | (buf[j + 13]! << 8) | (buf[j + 14]! << 16) | (buf[j + 15]! << 24)), 0x85ebca77);
        h ^= h >>> 15;
        a ^= a >>> 13;
        b ^= b >>> 16;
        c ^= c >>> 11;
      }
    }
    i += quads << 4;
  }
  for (; i < end; i++) {
    h = Math.imul(h ^ buf[i]!, 0x5bd1e995);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ a ^ (h >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ b ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ c ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * dst[i] ^= src[i] for i in [from, to): 32-bit words where both buffers are aligned alike.
 * `dst32` and `src32` are views over the whole buffers (wordsOf / wordsOfBuffer).
 */
export function xorRange(
  dst: Uint8Array, dst32: Int32Array<ArrayBufferLike>, src: Uint8Array, src32: Int32Array<ArrayBufferLike>, from: number, to: number,
): void {
  let i = from;
  if (to - from >= 32 && ((dst.byteOffset - src.byteOffset) & 3) === 0) {
    // First index at which both are 4-byte aligned.
    const a = from + ((4 - ((dst.byteOffset + from) & 3)) & 3);
    for (; i < a; i++) dst[i]! ^= src[i]!;
    const words = (to - a) >> 2;
    let d = (dst.byteOffset + a) >> 2;
    let s = (src.byteOffset + a) >> 2;
    const e = d + words;
    // Unrolled by 4: about 0.5 ns per word in Bun 1.4, a quarter of a byte loop.
    for (; d + 4 <= e; d += 4, s += 4) {
      dst32[d] = dst32[d]! ^ src32[s]!;
      dst32[d + 1] = dst32[d + 1]! ^ src32[s + 1]!;
      dst32[d + 2] = dst32[d + 2]! ^ src32[s + 2]!;
      dst32[d + 3] = dst32[d + 3]! ^ src32[s + 3]!;
    }
    for (; d < e; d++, s++) dst32[d] = dst32[d]! ^ src32[s]!;
    i = a + (words << 2);
  }
  for (; i < to; i++) dst[i]! ^= src[i]!;
}

/** What a trailer says; `parseTrailer` fills one reused object (no allocation per datagram). */
export interface Trailer {
  kind: number;
  /** Data: index in the group. Parity: parity row. */
  index: number;
  group: number;
  report: number;
  /** Parity only: group size, parity of the body lengths and of the type bytes, group check. */
  k: number;
  m: number;
  lenParity: number;
  typeParity: number;
  check: number;
  /** Length of what precedes the trailer (the core datagram, or header + body parity). */
  inner: number;
}

export const ParseError = {
  OK: 0,
  SHORT: 1,
  MALFORMED: 2,
  /** k, m or an index outside the limits: "absurd group size". */
  BAD_SIZE: 3,
} as const;
export type ParseError = (typeof ParseError)[keyof typeof ParseError];

/**
 * Parses the trailer of `data` into `out`. Never throws. Checks only what the trailer itself
 * says; group bookkeeping is the receiver's.
 */
export function parseTrailer(data: Uint8Array, out: Trailer): ParseError {
  const n = data.length;
  if (n < HEADER_SIZE + PLAIN_TRAILER) return ParseError.SHORT;
  const tag = data[n - 1]!;
  const kind = tag >>> 6;
  const index = tag & 0x3f;
  out.kind = kind;
  out.index = index;
  out.report = data[n - 2]!;
  if (kind === KIND_PLAIN) {
    if (index !== 0) return ParseError.MALFORMED;
    out.inner = n - PLAIN_TRAILER;
    return ParseError.OK;
  }
  if (kind === KIND_DATA) {
    if (n < DATA_HEADER_SIZE + DATA_TRAILER) return ParseError.SHORT;
    if (index >= MAX_DATA) return ParseError.BAD_SIZE;
    out.group = readU16(data, n - 4);
    out.inner = n - DATA_TRAILER;
    if ((data[1]! & CORE_TYPE_MASK) !== CORE_TYPE_DATA) return ParseError.MALFORMED;
    return ParseError.OK;
  }
  if (kind === KIND_PARITY) {
    if (n < HEADER_SIZE + PARITY_TRAILER) return ParseError.SHORT;
    out.group = readU16(data, n - 4);
    out.k = data[n - 6]!;
    out.m = data[n - 5]!;
    out.check = readU32(data, n - 10);
    out.typeParity = data[n - 11]!;
    out.lenParity = readU16(data, n - 13);
    out.inner = n - PARITY_TRAILER;
    if (out.k < 1 || out.k > MAX_DATA || out.m < 1 || out.m > MAX_PARITY || index >= out.m) return ParseError.BAD_SIZE;
    if ((data[1]! & CORE_TYPE_MASK) !== CORE_TYPE_DATA) return ParseError.MALFORMED;
    return ParseError.OK;
  }
  return ParseError.MALFORMED;
}
