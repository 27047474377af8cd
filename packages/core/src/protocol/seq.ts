/**
 * 16-bit sequence number arithmetic with wraparound (RFC 1982 serial number
 * arithmetic, SERIAL_BITS = 16). Packet and message sequences are 16-bit on
 * the wire; these helpers compare them across the wrap.
 */

export const SEQ_MOD = 0x10000;
const HALF = 0x8000;

/** Sequence `a` is newer than `b` (strictly), modulo 2^16. */
export function seqGreater(a: number, b: number): boolean {
  return ((a > b) && (a - b < HALF)) || ((a < b) && (b - a > HALF));
}

/** Signed distance from `b` to `a` in [-32768, 32767]: positive when `a` is newer. */
export function seqDiff(a: number, b: number): number {
  const d = (a - b) & 0xffff;
  return d >= HALF ? d - SEQ_MOD : d;
}

export function seqAdd(a: number, n: number): number {
  return (a + n) & 0xffff;
}
