/**
 * SnapshotWriter / SnapshotReader: little-endian field writers over one
 * reused buffer, so that building a snapshot each tick allocates nothing.
 * Keep 32-bit fields 4-byte aligned (the codec compares 32-bit words): order
 * an entity's fields so that u8/u16 fields fill whole words, or call align(4).
 */
import { ErrorCode, FastnetError } from "@fastnet/core/protocol";
import { quantizeAngle, quantizeRange, quantizeStep } from "./quantize.ts";

export class SnapshotWriter {
  private buf: Uint8Array;
  private dv: DataView;
  /** Bytes written since the last reset. */
  offset = 0;

  constructor(initialCapacity = 1024) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
    this.dv = new DataView(this.buf.buffer);
  }

  /** Starts a new snapshot (keeps the buffer). */
  reset(): this {
    this.offset = 0;
    return this;
  }

  /** The bytes written: a view of the writer's buffer, valid until the next reset or write. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.offset);
  }

  private room(n: number): void {
    const need = this.offset + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.offset));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.offset++] = v;
    return this;
  }

  u16(v: number): this {
    this.room(2);
    this.dv.setUint16(this.offset, v, true);
    this.offset += 2;
    return this;
  }

  i16(v: number): this {
    this.room(2);
    this.dv.setInt16(this.offset, v, true);
    this.offset += 2;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    this.dv.setUint32(this.offset, v, true);
    this.offset += 4;
    return this;
  }

  i32(v: number): this {
    this.room(4);
    this.dv.setInt32(this.offset, v, true);
    this.offset += 4;
    return this;
  }

  f32(v: number): this {
    this.room(4);
    this.dv.setFloat32(this.offset, v, true);
    this.offset += 4;
    return this;
  }

  /** `value` as a signed 32-bit number of `step`s (see quantizeStep). */
  fixed(value: number, step: number): this {
    return this.i32(quantizeStep(value, step));
  }

  /** `value` in [min, max] on `bits` bits, written as u8 (bits <= 8), u16 (<= 16) or u32. */
  ranged(value: number, min: number, max: number, bits: number): this {
    const q = quantizeRange(value, min, max, bits);
    return bits <= 8 ? this.u8(q) : bits <= 16 ? this.u16(q) : this.u32(q);
  }

  /** An angle on 16 bits (u16). */
  angle16(radians: number): this {
    return this.u16(quantizeAngle(radians, 16));
  }

  /** Zero bytes up to a multiple of `n`. */
  align(n: number): this {
    while (this.offset % n !== 0) this.u8(0);
    return this;
  }
}

/** Reads what a SnapshotWriter wrote. Reading past the end throws FASTNET_INVALID_ARGUMENT. */
export class SnapshotReader {
  private dv: DataView;
  private data: Uint8Array;
  offset = 0;

  constructor(data: Uint8Array = new Uint8Array(0)) {
    this.data = data;
    this.dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  /** Points the reader at `data`, offset 0. */
  reset(data: Uint8Array): this {
    this.data = data;
    this.dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.offset = 0;
    return this;
  }

  get remaining(): number {
    return this.data.length - this.offset;
  }

  private need(n: number): number {
    const at = this.offset;
    if (at + n > this.data.length) {
      throw new FastnetError(ErrorCode.INVALID_ARGUMENT, `SnapshotReader: reading ${n} bytes at offset ${at} runs past the end (${this.data.length})`);
    }
    this.offset = at + n;
    return at;
  }

  u8(): number {
    return this.data[this.need(1)]!;
  }

  u16(): number {
    return this.dv.getUint16(this.need(2), true);
  }

  i16(): number {
    return this.dv.getInt16(this.need(2), true);
  }

  u32(): number {
    return this.dv.getUint32(this.need(4), true);
  }

  i32(): number {
    return this.dv.getInt32(this.need(4), true);
  }

  f32(): number {
    return this.dv.getFloat32(this.need(4), true);
  }

  fixed(step: number): number {
    return this.i32() * step;
  }

  ranged(min: number, max: number, bits: number): number {
    const q = bits <= 8 ? this.u8() : bits <= 16 ? this.u16() : this.u32();
    return min + (q / (2 ** bits - 1)) * (max - min);
  }

  angle16(): number {
    return (this.u16() / 65536) * Math.PI * 2;
  }

  align(n: number): this {
    while (this.offset % n !== 0) this.need(1);
    return this;
  }
}
