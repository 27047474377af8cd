/**
 * Tests of packet-level ack state (ack.ts). ReceivedWindow is checked against
 * a naive model that keeps every received packet as an unbounded counter in a
 * Set: classification (new / duplicate / too old), the "new largest" result of
 * record, and the 32-bit ack bitfield (bit i = largest-1-i received), across
 * the 16-bit wrap (runs span less than 2^16 counters, as a live connection
 * does). SentRing is checked for its slot/get semantics and for growing
 * rather than overwriting a packet still in flight.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { RECV_WINDOW, ReceivedWindow, SENT_RING_SIZE, type SentPacket, SentRing } from "./ack.ts";
import { OutMessage } from "./channel.ts";

const SEED = 0xac4;

/** Naive receiver: unbounded packet counters in a Set. */
class ModelWindow {
  readonly got = new Set<number>();
  largest = -1;

  classify(n: number): number {
    if (this.largest < 0) return 1;
    if (n <= this.largest - RECV_WINDOW) return -1;
    return this.got.has(n) ? 0 : 1;
  }

  record(n: number): boolean {
    this.got.add(n);
    if (n > this.largest) {
      this.largest = n;
      return true;
    }
    return false;
  }

  ackBits(): number {
    let bits = 0;
    for (let i = 0; i < 32; i++) if (this.got.has(this.largest - 1 - i)) bits |= 1 << i;
    return bits >>> 0;
  }
}

const wire = (n: number): number => n & 0xffff;

/**
 * One arrival relative to a moving "sent so far" pointer: the sender has sent
 * counters up to `sent`; arrivals are drawn behind it (reordering, duplicates,
 * very late packets) and the pointer advances by a step (losses skip counters).
 */
interface Step {
  advance: number;
  back: number;
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  advance: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 3 }) },
    { weight: 1, arbitrary: fc.integer({ min: 4, max: 1500 }) },
  ),
  back: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 40 }) },
    { weight: 1, arbitrary: fc.integer({ min: 41, max: 3000 }) },
  ),
});

describe("ReceivedWindow", () => {
  test("first packet is new whatever its sequence", () => {
    const w = new ReceivedWindow();
    expect(w.hasAny).toBe(false);
    expect(w.classify(40000)).toBe(1);
    expect(w.record(40000)).toBe(true);
    expect(w.largest).toBe(40000);
    expect(w.classify(40000)).toBe(0);
  });

  test.each([
    ["just inside the window", 1000, 1000 - (RECV_WINDOW - 1), 1],
    ["exactly one window old", 1000, 1000 - RECV_WINDOW, -1],
    ["inside the window across the wrap", 5, wire(5 - 1000), 1],
    ["too old across the wrap", 5, wire(5 - 1024), -1],
    ["far ahead counts as new", 5, 20000, 1],
    ["half the space away is too old", 0, 32768, -1],
  ])("classify: %s", (_name, largest, seq, expected) => {
    const w = new ReceivedWindow();
    w.record(largest);
    expect(w.classify(seq)).toBe(expected);
  });

  test.each([
    ["no earlier packets", [100], 100, 0],
    ["the one just before", [99, 100], 100, 0b1],
    ["gaps", [100, 98, 96, 69], 100, (1 << 1) | (1 << 3) | (1 << 30)],
    ["bit 31 (largest-32)", [68, 100], 100, 0x80000000],
    ["largest-33 is outside the field", [67, 100], 100, 0],
    ["across the wrap", [65535, 65534, 0, 1], 1, 0b111],
    ["out of order arrival", [10, 7, 9], 10, 0b101],
  ])("ackBits: %s", (_name, seqs, largest, bits) => {
    const w = new ReceivedWindow();
    for (const s of seqs) w.record(s);
    expect(w.largest).toBe(largest);
    expect(w.ackBits()).toBe(bits);
  });

  test("property: matches a Set of unbounded counters across the 16-bit wrap", () => {
    const seen = { new: 0, duplicate: 0, old: 0, wrapped: 0 };
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.array(stepArb, { minLength: 1, maxLength: 400, size: "max" }),
        (start, steps) => {
          const w = new ReceivedWindow();
          const m = new ModelWindow();
          // Unbounded counters start near the wrap so that most runs cross it.
          const first = 0xffff + start - 200;
          let sent = first;
          for (const st of steps) {
            // A 16-bit window cannot tell packets 2^16 apart; a real sender never gets that far ahead of its peer.
            if (sent + st.advance - first > 60_000) break;
            sent += st.advance;
            const n = Math.max(0, sent - st.back);
            const cls = w.classify(wire(n));
            expect(cls).toBe(m.classify(n));
            if (cls === 1) seen.new++;
            else if (cls === 0) seen.duplicate++;
            else seen.old++;
            if (n > 0xffff && m.largest >= 0 && m.largest <= 0xffff + 32) seen.wrapped++;
            if (cls === 1) {
              expect(w.record(wire(n))).toBe(m.record(n));
              expect(w.largest).toBe(wire(m.largest));
              expect(w.hasAny).toBe(true);
              expect(w.ackBits()).toBe(m.ackBits());
            }
          }
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
    // Every class, and arrivals right across the wrap, were exercised.
    expect(Object.values(seen).every((n) => n > 0)).toBe(true);
  });
});

describe("SentRing", () => {
  test("get only returns the record of the exact sequence; slot maps modulo the size", () => {
    const ring = new SentRing(8);
    expect(ring.size).toBe(8);
    expect(ring.get(0)).toBeUndefined();
    const a = ring.slot(5);
    a.reset(5);
    expect(ring.get(5)).toBe(a);
    expect(ring.slot(5 + 8)).toBe(a);
    expect(ring.get(5 + 8)).toBeUndefined();
    a.reset(5 + 8);
    expect(ring.get(5)).toBeUndefined();
    expect(ring.get(5 + 8)).toBe(a);
    expect(ring.slot(6)).not.toBe(a);
  });

  test("defaults: starts small, grows up to 4 x SENT_RING_SIZE", () => {
    const ring = new SentRing();
    expect(ring.size).toBe(64);
    expect(ring.maxSize).toBe(4 * SENT_RING_SIZE);
  });

  test("reset empties the record for reuse; add appends message parts", () => {
    const ring = new SentRing(8);
    const p = ring.slot(3);
    p.reset(3);
    p.inFlight = true;
    p.ackEliciting = true;
    p.add(new OutMessage(1, 0, true, new Uint8Array(1), 1, 0, 0, Infinity), 0);
    p.add(new OutMessage(2, 0, true, new Uint8Array(1), 1, 0, 0, Infinity), -1);
    expect([p.count, p.frags[0], p.frags[1], p.msgs[1]!.id]).toEqual([2, 0, -1, 2]);
    p.reset(11);
    expect(ring.slot(11)).toBe(p);
    expect([p.seq, p.inFlight, p.ackEliciting, p.count]).toEqual([11, false, false, 0]);
  });

  test("claim grows the ring instead of reusing a slot still in flight, and keeps every held record", () => {
    const ring = new SentRing(4, 16);
    for (let s = 0; s < 4; s++) {
      const p = ring.claim(s);
      p.reset(s);
      p.inFlight = true;
    }
    const p4 = ring.claim(4);
    expect(ring.size).toBe(8);
    expect(p4.inFlight).toBe(false);
    for (let s = 0; s < 4; s++) expect(ring.get(s)?.inFlight).toBe(true);
  });

  test("at maxSize, claim hands back the in-flight occupant for the caller to resolve", () => {
    const ring = new SentRing(2, 4);
    for (let s = 0; s < 4; s++) {
      const p = ring.claim(s);
      p.reset(s);
      p.inFlight = true;
    }
    expect(ring.size).toBe(4);
    const p = ring.claim(4);
    expect(ring.size).toBe(4);
    expect([p.seq, p.inFlight]).toEqual([0, true]);
  });

  test("property: used as the connection does, no in-flight record is lost before the ring is full", () => {
    const op = fc.record({
      resolve: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.nat(), { maxLength: 4 }) }),
      inFlight: fc.boolean(),
    });
    let fullClaims = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.array(op, { maxLength: 600, size: "max" }), (start, ops) => {
        const ring = new SentRing(4, 16);
        const flying = new Map<number, SentPacket>();
        let seq = start;
        for (const o of ops) {
          // Acks and losses resolve some in-flight packets.
          for (const r of o.resolve) {
            const keys = [...flying.keys()];
            if (keys.length === 0) break;
            const k = keys[r % keys.length]!;
            flying.get(k)!.inFlight = false;
            flying.delete(k);
          }
          const p = ring.claim(seq);
          if (p.inFlight) {
            // Only when the ring cannot grow: the connection declares the occupant lost.
            expect(ring.size).toBe(ring.maxSize);
            expect(flying.get(p.seq)).toBe(p);
            fullClaims++;
            p.inFlight = false;
            flying.delete(p.seq);
          }
          p.reset(seq);
          p.inFlight = o.inFlight;
          if (o.inFlight) flying.set(seq, p);
          for (const [s, rec] of flying) expect(ring.get(s)).toBe(rec);
          expect(ring.size & (ring.size - 1)).toBe(0);
          expect(ring.size).toBeLessThanOrEqual(ring.maxSize);
          seq = (seq + 1) & 0xffff;
        }
      }),
      { seed: SEED + 1, numRuns: 200 },
    );
    expect(fullClaims).toBeGreaterThan(0);
  });
});
