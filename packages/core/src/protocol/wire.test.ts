/**
 * Tests of the wire codec primitives (wire.ts): varints (every value
 * 0..2^21-1 round-trips, 4-byte and truncated encodings are rejected, reads
 * never pass `end`), u16/u32 and the fixed header, plus the layout constants
 * that other files rely on.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  DATA_HEADER_SIZE, FLAG_HAS_ACK, HEADER_SIZE, MAX_VARINT_BYTES, OFF_ACK, OFF_ACK_BITS, OFF_ACK_DELAY, OFF_SEQ,
  PacketType, VERSION_BYTE, connectionIdOf, packetTypeOf, readU16, readU32, readVarint, varintSize, writeHeader,
  writeU16, writeU32, writeVarint,
} from "./wire.ts";

const SEED = 0x3173;
const VARINT_LIMIT = 1 << 21;

describe("varint", () => {
  test("every value in 0..2^21-1 round-trips in varintSize bytes", () => {
    const buf = new Uint8Array(8);
    const cur = { off: 0 };
    let failures = 0;
    for (let v = 0; v < VARINT_LIMIT; v++) {
      const end = writeVarint(buf, 1, v);
      cur.off = 1;
      const back = readVarint(buf, cur, end);
      if (back !== v || end - 1 !== varintSize(v) || cur.off !== end) failures++;
    }
    expect(failures).toBe(0);
  });

  test.each([
    [0, [0x00]],
    [1, [0x01]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [300, [0xac, 0x02]],
    [16383, [0xff, 0x7f]],
    [16384, [0x80, 0x80, 0x01]],
    [VARINT_LIMIT - 1, [0xff, 0xff, 0x7f]],
  ])("encoding of %p", (v, bytes) => {
    const buf = new Uint8Array(4);
    expect(writeVarint(buf, 0, v)).toBe(bytes.length);
    expect([...buf.subarray(0, bytes.length)]).toEqual(bytes);
    expect(varintSize(v)).toBe(bytes.length);
  });

  test.each<[string, number[], number]>([
    ["4-byte varint", [0x80, 0x80, 0x80, 0x01], 4],
    ["3 bytes all with the continuation bit", [0xff, 0xff, 0xff], 3],
    ["empty", [], 0],
    ["truncated after 1 byte", [0x80], 1],
    ["truncated after 2 bytes", [0xff, 0x80], 2],
    ["end before the buffer ends", [0x80, 0x01], 1],
  ])("rejects %s", (_name, bytes, end) => {
    const buf = new Uint8Array([...bytes, 0x00, 0x00]);
    const cur = { off: 0 };
    expect(readVarint(buf, cur, end)).toBe(-1);
    expect(cur.off).toBeLessThanOrEqual(Math.max(end, 0));
  });

  test("property: reads of random bytes never pass `end` nor MAX_VARINT_BYTES, and succeed only on a terminator", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 6 }), fc.nat(6), (bytes, endRaw) => {
        const end = Math.min(endRaw, bytes.length);
        const cur = { off: 0 };
        const v = readVarint(bytes, cur, end);
        expect(cur.off).toBeLessThanOrEqual(Math.min(end, MAX_VARINT_BYTES));
        if (v >= 0) {
          expect(v).toBeLessThan(VARINT_LIMIT);
          expect(bytes[cur.off - 1]! & 0x80).toBe(0);
          for (let i = 0; i < cur.off - 1; i++) expect(bytes[i]! & 0x80).toBe(0x80);
        }
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });
});

describe("integers and header", () => {
  test("property: u16 and u32 round-trip big-endian at any offset", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.nat(8), (a, b, off) => {
        const buf = new Uint8Array(16);
        writeU16(buf, off, a);
        expect(readU16(buf, off)).toBe(a);
        expect(buf[off]).toBe(a >>> 8);
        writeU32(buf, off + 2, b);
        expect(readU32(buf, off + 2)).toBe(b);
        expect(buf[off + 2]).toBe(b >>> 24);
      }),
      { seed: SEED + 1, numRuns: 2000 },
    );
  });

  test("property: header write/read round trip", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 15 }), fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 0xffffffff }), (type, flags, id) => {
        const buf = new Uint8Array(HEADER_SIZE);
        writeHeader(buf, type, flags, id);
        expect(buf[0]).toBe(VERSION_BYTE);
        expect(packetTypeOf(buf)).toBe(type);
        expect(buf[1]! & 0xf0).toBe(flags & 0xf0);
        expect(connectionIdOf(buf)).toBe(id);
      }),
      { seed: SEED + 2, numRuns: 2000 },
    );
  });

  test("layout: version byte, packet types and DATA header offsets", () => {
    expect(VERSION_BYTE).toBe(0xf1);
    expect(Object.values(PacketType)).toEqual([1, 2, 3, 4, 5, 6]);
    expect([OFF_SEQ, OFF_ACK, OFF_ACK_BITS, OFF_ACK_DELAY, DATA_HEADER_SIZE]).toEqual([6, 8, 10, 14, 16]);
    const buf = new Uint8Array(DATA_HEADER_SIZE);
    writeHeader(buf, PacketType.DATA, FLAG_HAS_ACK, 0x01020304);
    expect([...buf.subarray(0, HEADER_SIZE)]).toEqual([0xf1, 0x15, 1, 2, 3, 4]);
  });
});
