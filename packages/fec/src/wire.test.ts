import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  decodeReport, encodeReport, FEC_OVERHEAD, KIND_DATA, KIND_PARITY, KIND_PLAIN, MAX_DATA, ParseError,
  PARITY_TRAILER, parseTrailer, REPORT_UNKNOWN, shardHash, tagOf, type Trailer, wordsOf, writeU16, writeU32, xorRange,
} from "./wire.ts";

const fresh = (): Trailer => ({ kind: -1, index: -1, group: -1, report: -1, k: -1, m: -1, lenParity: -1, typeParity: -1, check: -1, inner: -1 });

/** A core DATA datagram of `body` bytes after the 6-byte header. */
function coreData(body: number): number[] {
  return [0xf1, 0x05, 1, 2, 3, 4, ...new Array<number>(body).fill(7)];
}

function parity(k: number, m: number, row: number, body = 20): Uint8Array {
  const b = new Uint8Array(6 + body + PARITY_TRAILER);
  b.set([0xf1, 0x05, 1, 2, 3, 4]);
  const t = 6 + body;
  writeU16(b, t, 0x0123);
  b[t + 2] = 0x45;
  writeU32(b, t + 3, 0xdeadbeef);
  b[t + 7] = k;
  b[t + 8] = m;
  writeU16(b, t + 9, 513);
  b[t + 11] = 9;
  b[t + 12] = tagOf(KIND_PARITY, row);
  return b;
}

describe("FEC trailer codec", () => {
  test("the declared overhead covers the largest addition: a parity datagram", () => {
    expect(FEC_OVERHEAD).toBe(PARITY_TRAILER);
  });

  test("plain, data and parity trailers parse back to what was written", () => {
    const t = fresh();
    const plain = Uint8Array.from([...coreData(10), 42, tagOf(KIND_PLAIN, 0)]);
    expect(parseTrailer(plain, t)).toBe(ParseError.OK);
    expect([t.kind, t.report, t.inner]).toEqual([KIND_PLAIN, 42, 16]);

    const data = Uint8Array.from([...coreData(20), 0x12, 0x34, 7, tagOf(KIND_DATA, 31)]);
    expect(parseTrailer(data, t)).toBe(ParseError.OK);
    expect([t.kind, t.group, t.report, t.index, t.inner]).toEqual([KIND_DATA, 0x1234, 7, 31, 26]);

    expect(parseTrailer(parity(8, 3, 2), t)).toBe(ParseError.OK);
    expect([t.kind, t.k, t.m, t.index, t.group, t.report, t.check, t.lenParity, t.typeParity, t.inner]).toEqual([KIND_PARITY, 8, 3, 2, 513, 9, 0xdeadbeef, 0x0123, 0x45, 26]);
  });

  test.each([
    ["an empty datagram", new Uint8Array(0), ParseError.SHORT],
    ["a header without a trailer", Uint8Array.from(coreData(0)), ParseError.SHORT],
    ["a plain tag with low bits set", Uint8Array.from([...coreData(10), 0, 0x01]), ParseError.MALFORMED],
    ["the reserved kind 3", Uint8Array.from([...coreData(10), 0, 0xc0]), ParseError.MALFORMED],
    ["a data trailer on a datagram too short for a core DATA header", Uint8Array.from([...coreData(4), 0, 0, 0, tagOf(KIND_DATA, 0)]), ParseError.SHORT],
    ["a data index beyond 31", Uint8Array.from([...coreData(20), 0, 0, 0, tagOf(KIND_DATA, MAX_DATA)]), ParseError.BAD_SIZE],
    ["data on a packet type that is not DATA", Uint8Array.from([0xf1, 0x06, 1, 2, 3, 4, ...new Array(20).fill(0), 0, 0, 0, tagOf(KIND_DATA, 0)]), ParseError.MALFORMED],
    ["parity with k = 0", parity(0, 1, 0), ParseError.BAD_SIZE],
    ["parity with k = 33", parity(33, 1, 0), ParseError.BAD_SIZE],
    ["parity with k = 255", parity(255, 1, 0), ParseError.BAD_SIZE],
    ["parity with m = 0", parity(4, 0, 0), ParseError.BAD_SIZE],
    ["parity with m = 17", parity(4, 17, 0), ParseError.BAD_SIZE],
    ["a parity row not below m", parity(4, 2, 2), ParseError.BAD_SIZE],
    ["parity shorter than header and trailer", parity(4, 1, 0).subarray(1), ParseError.MALFORMED],
    ["parity cut inside its trailer", parity(4, 1, 0, 0).subarray(2), ParseError.SHORT],
  ])("rejects %s", (_what, bytes, expected) => {
    expect(parseTrailer(bytes, fresh())).toBe(expected);
  });

  test("never throws on random bytes, and what it accepts is self-consistent", () => {
    const t = fresh();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const r = parseTrailer(bytes, t);
      if (r !== ParseError.OK) return;
      expect(t.inner).toBeGreaterThanOrEqual(6);
      expect(t.inner).toBeLessThan(bytes.length);
      if (t.kind === KIND_DATA) expect(t.index).toBeLessThan(MAX_DATA);
      if (t.kind === KIND_PARITY) expect(t.index).toBeLessThan(t.m);
    }), { numRuns: 3000 });
  });

  test("loss reports round-trip within their resolution and saturate", () => {
    expect(encodeReport(-1)).toBe(REPORT_UNKNOWN);
    expect(encodeReport(Number.NaN)).toBe(REPORT_UNKNOWN);
    expect(decodeReport(REPORT_UNKNOWN)).toBe(-1);
    for (const p of [0, 0.001, 0.01, 0.05, 0.1, 0.3, 0.5]) expect(Math.abs(decodeReport(encodeReport(p)) - p)).toBeLessThanOrEqual(0.001);
    expect(encodeReport(0.9)).toBe(254);
  });

  test("the shard hash changes with any single bit, the length or the type byte, and ignores alignment", () => {
    const make = (offset: number): Uint8Array => {
      const store = new Uint8Array(64 + offset);
      const b = store.subarray(offset, offset + 6 + 37);
      for (let i = 6; i < b.length; i++) b[i] = i * 7;
      return b;
    };
    const body = make(0);
    const h = shardHash(body, wordsOf(body), 37, 0x15);
    for (const offset of [1, 2, 3, 4]) expect(shardHash(make(offset), wordsOf(make(offset)), 37, 0x15)).toBe(h);
    for (let i = 6; i < 6 + 37; i++) {
      for (let bit = 0; bit < 8; bit++) {
        body[i]! ^= 1 << bit;
        expect(shardHash(body, wordsOf(body), 37, 0x15)).not.toBe(h);
        body[i]! ^= 1 << bit;
      }
    }
    expect(shardHash(body, wordsOf(body), 36, 0x15)).not.toBe(h);
    expect(shardHash(body, wordsOf(body), 37, 0x05)).not.toBe(h);
    expect(shardHash(body, wordsOf(body), 37, 0x15)).toBe(h);
  });

  test("xorRange matches a byte loop for every alignment and range", () => {
    fc.assert(fc.property(fc.nat(3), fc.nat(3), fc.nat(80), fc.nat(80), fc.uint8Array({ minLength: 200, maxLength: 200 }), (da, sa, from, len, bytes) => {
      const dst = new Uint8Array(300).subarray(da, da + 200);
      const src = new Uint8Array(300).subarray(sa, sa + 200);
      src.set(bytes);
      dst.set(bytes.map((b) => b ^ 0x3c));
      const expected = dst.slice();
      for (let i = from; i < from + len; i++) expected[i]! ^= src[i]!;
      xorRange(dst, wordsOf(dst), src, wordsOf(src), from, from + len);
      expect(dst).toEqual(expected);
    }));
  });
});
