import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  DecodeStatus, WordBuffer, decodeRuns, decodeSnapshotBody, emptyHeader, encodeDelta, encodeFull, encodeRuns, hashSnapshot,
  parseSnapshotHeader,
} from "./codec.ts";
import { FLAG_CHECKSUM, FLAG_SAME_LENGTH, KIND_DELTA, KIND_FULL } from "./wire.ts";

const MAX = 65_536;

function wb(bytes: Uint8Array | number[]): WordBuffer {
  const b = new WordBuffer(8);
  b.set(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  return b;
}

/** Decodes a message as the plugin does, with one baseline (seq, tick) available. */
function decode(
  msg: Uint8Array, base: { buf: WordBuffer; seq: number; tick: number } | null, requireChecksum = false,
): { status: DecodeStatus; bytes?: Uint8Array; seq?: number; tick?: number } {
  const h = emptyHeader();
  const st = parseSnapshotHeader(msg, h, MAX);
  if (st !== DecodeStatus.OK) return { status: st };
  if (requireChecksum && !h.hasChecksum) return { status: DecodeStatus.CORRUPT };
  let tick = h.tick;
  let b: WordBuffer | null = null;
  if (h.kind === KIND_DELTA) {
    if (base === null || ((h.seq - h.distance) & 0xffff) !== base.seq) return { status: 99 as DecodeStatus };
    b = base.buf;
    tick = (base.tick + h.tick) % 2 ** 32;
  }
  const target = new WordBuffer(8);
  const res = decodeSnapshotBody(msg, h, b, target, tick);
  return res === DecodeStatus.OK ? { status: res, bytes: target.view().slice(), seq: h.seq, tick } : { status: res };
}

/** A target derived from a base the way game state changes: a few words nudged, bytes set, length changed. */
const arbPair = fc
  .record({
    base: fc.uint8Array({ maxLength: 700 }),
    nudges: fc.array(fc.record({ at: fc.nat(), by: fc.integer({ min: -3000, max: 3000 }) }), { maxLength: 40 }),
    sets: fc.array(fc.record({ at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }), { maxLength: 10 }),
    resize: fc.integer({ min: -40, max: 40 }),
  })
  .map(({ base, nudges, sets, resize }) => {
    const len = Math.max(0, base.length + resize);
    const t = new Uint8Array(len);
    t.set(base.subarray(0, Math.min(len, base.length)));
    const dv = new DataView(t.buffer);
    for (const n of nudges) {
      if (len < 4) break;
      const at = (n.at % (len >> 2)) * 4;
      dv.setInt32(at, (dv.getInt32(at, true) + n.by) | 0, true);
    }
    for (const s of sets) if (len > 0) t[s.at % len] = s.v;
    return { base, target: t };
  });

describe("snapshot codec", () => {
  test("a delta round-trips byte for byte, with and without checksum", () => {
    fc.assert(
      fc.property(arbPair, fc.boolean(), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 255 }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), ({ base, target }, checksum, seq, dist, tick, baseTick) => {
        const out = new Uint8Array(target.length * 6 + 64);
        const n = encodeDelta(out, seq, tick, dist, baseTick, wb(target), wb(base), checksum, out.length - 16);
        expect(n).toBeGreaterThan(0);
        const got = decode(out.subarray(0, n), { buf: wb(base), seq: (seq - dist) & 0xffff, tick: baseTick });
        expect(got.status).toBe(DecodeStatus.OK);
        expect(got.bytes).toEqual(target);
        expect(got.seq).toBe(seq);
        expect(got.tick).toBe(tick);
      }),
      { seed: 1, numRuns: 400 },
    );
  });

  test("a full snapshot round-trips byte for byte", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.boolean(), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }), (snap, checksum, seq, tick) => {
        const out = new Uint8Array(snap.length + 16);
        const n = encodeFull(out, seq, tick, wb(snap), checksum);
        const got = decode(out.subarray(0, n), null);
        expect(got.status).toBe(DecodeStatus.OK);
        expect(got.bytes).toEqual(snap);
        expect(got.tick).toBe(tick);
      }),
      { seed: 2, numRuns: 200 },
    );
  });

  test("an unchanged snapshot costs a header only", () => {
    const snap = wb(new Uint8Array(2564).fill(7));
    const out = new Uint8Array(4000);
    const n = encodeDelta(out, 5, 105, 1, 104, snap, snap, true, 3000);
    // kind, seq(2), distance, tick diff, checksum(4); same length: no length varint; no runs.
    expect(n).toBe(9);
    expect(out[0]).toBe(KIND_DELTA | FLAG_CHECKSUM | FLAG_SAME_LENGTH);
  });

  test("small changes to quantized words cost one byte each plus one run header", () => {
    const base = new Int32Array(64).fill(1000);
    const target = base.slice();
    target[10] = 1010; // +10 -> zigzag 20: one byte
    target[11] = 990;
    target[40] = 1063; // +63 -> zigzag 126: one byte
    const out = new Uint8Array(600);
    const n = encodeRuns(wb(new Uint8Array(target.buffer)), wb(new Uint8Array(base.buffer)), out, 0, 500);
    // run 1: header (skip 10, count 2) + 2 bytes; run 2: header (skip 28, count 1: 1 extension byte) + 1 byte.
    expect(Array.from(out.subarray(0, n))).toEqual([0xa1, 20, 19, 0xf0, 13, 126]);
  });

  test("encodeDelta gives up (-1) once the delta would pass the limit", () => {
    const base = wb(new Uint8Array(400));
    const target = wb(Uint8Array.from({ length: 400 }, (_, i) => (i * 37) & 0xff));
    const out = new Uint8Array(1000);
    expect(encodeDelta(out, 1, 1, 1, 0, target, base, true, 200)).toBe(-1);
  });

  test("words past the baseline's end are encoded against zero and a shorter target drops them", () => {
    const base = wb([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const target of [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], [1, 2, 3], [], [9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]]) {
      const out = new Uint8Array(200);
      const n = encodeDelta(out, 2, 2, 1, 1, wb(target), base, true, 150);
      const got = decode(out.subarray(0, n), { buf: base, seq: 1, tick: 1 });
      expect(got.status).toBe(DecodeStatus.OK);
      expect(Array.from(got.bytes!)).toEqual(target);
    }
  });

  test.each<[string, number[], DecodeStatus]>([
    ["an empty message", [], DecodeStatus.TRUNCATED],
    ["a kind byte alone", [KIND_FULL], DecodeStatus.TRUNCATED],
    ["a full snapshot without its tick", [KIND_FULL, 0, 0], DecodeStatus.TRUNCATED],
    ["a delta without its distance", [KIND_DELTA, 0, 0], DecodeStatus.TRUNCATED],
    ["a delta with distance 0", [KIND_DELTA, 5, 0, 0, 1, 0], DecodeStatus.CORRUPT],
    ["a delta cut inside its checksum", [KIND_DELTA | FLAG_CHECKSUM, 5, 0, 1, 1, 0, 0], DecodeStatus.TRUNCATED],
    ["a delta cut inside its length varint", [KIND_DELTA, 5, 0, 1, 1, 0x80], DecodeStatus.TRUNCATED],
    ["reserved bits set", [KIND_FULL | 0x20, 0, 0, 0], DecodeStatus.CORRUPT],
    ["an unknown kind", [0x07, 0, 0, 0], DecodeStatus.CORRUPT],
    ["a full snapshot claiming the same-length flag", [KIND_FULL | FLAG_SAME_LENGTH, 0, 0, 0], DecodeStatus.CORRUPT],
    ["a length over maxSnapshotBytes", [KIND_DELTA, 5, 0, 1, 1, 0x81, 0x80, 0x08], DecodeStatus.OVERSIZE],
  ])("parseSnapshotHeader rejects %s", (_what, bytes, status) => {
    expect(parseSnapshotHeader(new Uint8Array(bytes), emptyHeader(), MAX)).toBe(status);
  });

  test.each<[string, number[], number, DecodeStatus]>([
    ["a run past the snapshot's end", [0x01, 2, 2], 4, DecodeStatus.CORRUPT],
    ["a skip past the end", [0xf0, 0x7f, 2], 8, DecodeStatus.CORRUPT],
    ["a run cut inside its values", [0x02, 2, 2], 12, DecodeStatus.TRUNCATED],
    ["a run header cut inside its skip extension", [0xf0], 80, DecodeStatus.TRUNCATED],
    ["a run header cut inside its count extension", [0x0f], 80, DecodeStatus.TRUNCATED],
    ["a change in the padding of the last word", [0x00, 0x80, 0x80, 0x80, 0x10], 3, DecodeStatus.CORRUPT],
  ])("decodeRuns rejects %s", (_what, runs, length, status) => {
    const base = wb(new Uint8Array(Math.max(0, length - 1)));
    expect(decodeRuns(new Uint8Array(runs), 0, runs.length, base, new WordBuffer(8), length)).toBe(status);
  });

  test("a checksum mismatch is reported as corrupt", () => {
    const out = new Uint8Array(64);
    const n = encodeFull(out, 3, 9, wb([1, 2, 3, 4, 5]), true);
    out[n - 1]! ^= 1;
    expect(decode(out.subarray(0, n), null).status).toBe(DecodeStatus.CORRUPT);
  });

  test("the checksum covers sequence and tick, not only the bytes", () => {
    const snap = wb([1, 2, 3, 4, 5, 6, 7, 8]);
    const h = hashSnapshot(snap, 1, 100);
    expect(hashSnapshot(snap, 2, 100)).not.toBe(h);
    expect(hashSnapshot(snap, 1, 101)).not.toBe(h);
    expect(hashSnapshot(wb([1, 2, 3, 4, 5, 6, 7, 8, 0]), 1, 100)).not.toBe(h);
  });

  test("random bytes never throw, and with checksums required almost never decode", () => {
    let decoded = 0;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (msg) => {
        if (decode(msg, { buf: wb(new Uint8Array(64)), seq: 0, tick: 0 }, true).status === DecodeStatus.OK) decoded++;
        decode(msg, { buf: wb(new Uint8Array(64)), seq: 0, tick: 0 }, false);
      }),
      { seed: 3, numRuns: 3000 },
    );
    expect(decoded).toBe(0);
  });

  test("a mutated delta (bit flips, cuts, extensions) decodes to the original or is rejected, never to other bytes", () => {
    fc.assert(
      fc.property(arbPair, fc.array(fc.tuple(fc.nat(3), fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), ({ base, target }, edits) => {
        const out = new Uint8Array(target.length * 6 + 64);
        const n = encodeDelta(out, 77, 1000, 2, 990, wb(target), wb(base), true, out.length - 16);
        let msg = out.slice(0, n);
        for (const [op, at, v] of edits) {
          if (op === 0 && msg.length > 0) msg[at % msg.length]! ^= 1 << (v & 7);
          else if (op === 1 && msg.length > 0) msg[at % msg.length] = v;
          else if (op === 2) msg = msg.slice(0, at % (msg.length + 1));
          else msg = Uint8Array.from([...msg, v]);
        }
        // A receiver configured with checksums requires them (a flipped flag must not switch them off).
        const got = decode(msg, { buf: wb(base), seq: 75, tick: 990 }, true);
        if (got.status === DecodeStatus.OK) {
          expect(got.bytes).toEqual(target);
          expect(got.seq).toBe(77);
          expect(got.tick).toBe(1000);
        }
      }),
      { seed: 4, numRuns: 1500 },
    );
  });
});
