/**
 * Tests of per-channel state (channel.ts). The receive rules are checked
 * against naive models under random arrival orders a real sender can produce
 * (never more than MESSAGE_WINDOW messages outstanding; losses, reordering and
 * duplicates), across the 16-bit wrap:
 *   reliable-ordered   delivers exactly 0..n-1, in order, each once;
 *   reliable-unordered delivers each message once;
 *   sequenced          never delivers backwards.
 * The send side: canStart's window rule, advance(), OutMessage fragments.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { FragState, MESSAGE_WINDOW, OutMessage, RecvChannel, SendChannel } from "./channel.ts";
import type { ChannelKind } from "./types.ts";

const SEED = 0xc4a;

/** Message k's payload: its counter, so a delivery can be traced back to k. */
function payload(k: number): Uint8Array {
  const b = new Uint8Array(4 + (k % 7));
  new DataView(b.buffer).setUint32(0, k);
  return b;
}

function counterOf(d: Uint8Array): number {
  return new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(0);
}

/**
 * A random arrival schedule of `n` messages. `picks` drive the choices: each
 * either sends the next new message (if the window allows) or delivers a copy
 * of an already-sent one (a retransmission, a duplicate or a late arrival).
 * Afterwards every message never received arrives once (the sender resends
 * until acked), so the schedule is complete.
 */
function schedule(n: number, picks: number[]): number[] {
  const out: number[] = [];
  const received = new Uint8Array(n);
  let sent = 0;
  let oldest = 0;
  for (const p of picks) {
    while (oldest < n && received[oldest]) oldest++;
    const canSend = sent < n && sent - oldest < MESSAGE_WINDOW;
    let k: number;
    if (canSend && (p % 3 !== 0 || sent === 0)) {
      // A new message; some are lost on the way (p % 5 === 1).
      k = sent++;
      if (p % 5 === 1) continue;
    } else if (sent > 0) {
      // Anything already sent may arrive again: most picks near the window front.
      const span = Math.min(sent, p % 2 === 0 ? 40 : MESSAGE_WINDOW + 200);
      k = sent - 1 - (p % span);
    } else {
      continue;
    }
    out.push(k);
    received[k] = 1;
  }
  for (let k = 0; k < n; k++) if (!received[k]) out.push(k);
  return out;
}

const scheduleArb = fc
  .tuple(fc.integer({ min: 1, max: 2500 }), fc.array(fc.nat(), { maxLength: 4000, size: "max" }))
  .map(([n, picks]) => ({ n, arrivals: schedule(n, picks) }));

/** Channels start at sequence 0; some runs start them near the wrap as if they had been running. */
const startArb = fc.oneof(fc.constant(0), fc.integer({ min: 65536 - 1500, max: 65535 }));

function recv(kind: ChannelKind, start: number): RecvChannel {
  const rc = new RecvChannel(kind);
  rc.base = start;
  return rc;
}

describe("RecvChannel reliable-ordered", () => {
  test("property: delivers exactly 0..n-1 in order, each once, whatever the arrival order", () => {
    let duplicates = 0;
    let held = 0;
    fc.assert(
      fc.property(startArb, scheduleArb, (start, { n, arrivals }) => {
        const rc = recv("reliable-ordered", start);
        const delivered: number[] = [];
        const got = new Set<number>();
        let next = 0;
        let heldModel = 0;
        for (const k of arrivals) {
          const seq = (start + k) & 0xffff;
          const cls = rc.classify(seq);
          const model = k < next || got.has(k) ? 0 : k - next >= MESSAGE_WINDOW ? -1 : 1;
          expect(cls).toBe(model);
          if (cls !== 1) {
            duplicates++;
            continue;
          }
          got.add(k);
          heldModel += payload(k).length;
          rc.takeOrdered(seq, payload(k), (d) => delivered.push(counterOf(d)));
          while (got.has(next)) heldModel -= payload(next++).length;
          expect(rc.base).toBe((start + next) & 0xffff);
          expect(rc.heldBytes).toBe(heldModel);
          if (heldModel > 0) held++;
        }
        expect(delivered).toEqual(Array.from({ length: n }, (_, k) => k));
        expect(rc.heldBytes).toBe(0);
      }),
      { seed: SEED, numRuns: 150 },
    );
    // Duplicates arrived and messages waited for earlier ones: the property was not vacuous.
    expect(duplicates).toBeGreaterThan(0);
    expect(held).toBeGreaterThan(0);
  });

  test("a tombstone fills its place in the order without being delivered", () => {
    const rc = new RecvChannel("reliable-ordered");
    const out: number[] = [];
    const deliver = (d: Uint8Array): void => {
      out.push(counterOf(d));
    };
    rc.takeOrdered(2, payload(2), deliver);
    rc.takeOrdered(1, undefined, deliver);
    expect(out).toEqual([]);
    expect(rc.heldBytes).toBe(payload(2).length);
    rc.takeOrdered(0, payload(0), deliver);
    expect(out).toEqual([0, 2]);
    expect(rc.base).toBe(3);
    expect(rc.heldBytes).toBe(0);
  });

  test.each([
    ["base itself", 0, 1],
    ["last sequence of the window", MESSAGE_WINDOW - 1, 1],
    ["first sequence beyond the window", MESSAGE_WINDOW, -1],
    ["already delivered (behind base)", 65535, 0],
  ])("classify: %s", (_name, seq, expected) => {
    expect(new RecvChannel("reliable-ordered").classify(seq)).toBe(expected);
  });
});

describe("RecvChannel reliable-unordered", () => {
  test("property: delivers every message exactly once", () => {
    fc.assert(
      fc.property(startArb, scheduleArb, (start, { n, arrivals }) => {
        const rc = recv("reliable-unordered", start);
        const got = new Set<number>();
        const delivered: number[] = [];
        let next = 0;
        for (const k of arrivals) {
          const seq = (start + k) & 0xffff;
          const cls = rc.classify(seq);
          expect(cls).toBe(k < next || got.has(k) ? 0 : 1);
          if (cls !== 1) continue;
          rc.takeUnordered(seq);
          got.add(k);
          delivered.push(k);
          while (got.has(next)) next++;
          expect(rc.base).toBe((start + next) & 0xffff);
        }
        expect(delivered.length).toBe(n);
        expect(new Set(delivered).size).toBe(n);
      }),
      { seed: SEED + 1, numRuns: 150 },
    );
  });
});

describe("RecvChannel sequenced", () => {
  test("property: never delivers backwards; delivers exactly what is newer than the last delivered", () => {
    // Arrivals: a moving send pointer; each arrival is some message up to 3000 behind it.
    const step = fc.record({ advance: fc.integer({ min: 0, max: 50 }), back: fc.integer({ min: 0, max: 3000 }) });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.array(step, { minLength: 1, maxLength: 500, size: "max" }), (start, steps) => {
        const rc = new RecvChannel("sequenced");
        let sent = start + 3000;
        let last = -Infinity;
        const delivered: number[] = [];
        for (const st of steps) {
          sent += st.advance;
          const k = sent - st.back;
          const seq = k & 0xffff;
          const newer = rc.isNewer(seq);
          expect(newer).toBe(k > last);
          if (newer) {
            rc.markSequenced(seq);
            delivered.push(k);
            last = k;
          }
        }
        for (let i = 1; i < delivered.length; i++) expect(delivered[i]!).toBeGreaterThan(delivered[i - 1]!);
      }),
      { seed: SEED + 2, numRuns: 300 },
    );
  });

  test("the first message is always newer, then only later ones", () => {
    const rc = new RecvChannel("sequenced");
    expect(rc.isNewer(40000)).toBe(true);
    rc.markSequenced(40000);
    expect([rc.isNewer(40000), rc.isNewer(39999), rc.isNewer(40001)]).toEqual([false, false, true]);
    rc.markSequenced(65535);
    expect([rc.isNewer(0), rc.isNewer(65534)]).toEqual([true, false]);
  });
});

function msg(len: number, fragCount = 1, fragSize = 0): OutMessage {
  return new OutMessage(1, 0, true, new Uint8Array(len), fragCount, fragSize, 0, Infinity);
}

describe("SendChannel", () => {
  test.each<[string, ChannelKind, number, number, number, boolean]>([
    // name, kind, outstanding messages (100 bytes each), message length, peer window, expected
    ["unreliable ignores the window", "unreliable", 0, 10_000, 10, true],
    ["sequenced ignores the window", "sequenced", 0, 10_000, 10, true],
    ["empty window always starts, even a message above the peer window", "reliable-ordered", 0, 10_000, 1024, true],
    ["fits the byte window exactly", "reliable-ordered", 3, 700, 1000, true],
    ["one byte over the byte window", "reliable-unordered", 3, 701, 1000, false],
    ["1023 outstanding leaves room for one", "reliable-ordered", MESSAGE_WINDOW - 1, 1, 1 << 30, true],
    ["1024 outstanding messages is full", "reliable-ordered", MESSAGE_WINDOW, 1, 1 << 30, false],
  ])("canStart: %s", (_name, kind, outstanding, len, window, expected) => {
    const sc = new SendChannel(0, kind);
    for (let i = 0; i < outstanding; i++) {
      sc.outstanding.push(msg(100));
      sc.spanBytes += 100;
    }
    expect(sc.canStart(msg(len), window)).toBe(expected);
  });

  test("advance drops acked messages from the front only, and their bytes from the span", () => {
    const sc = new SendChannel(0, "reliable-ordered");
    const ms = [msg(10), msg(20), msg(30), msg(40)];
    for (const m of ms) {
      sc.outstanding.push(m);
      sc.spanBytes += m.data.length;
    }
    ms[1]!.acked = true;
    sc.advance();
    expect([sc.outstanding.length, sc.spanBytes]).toEqual([4, 100]);
    ms[0]!.acked = true;
    ms[3]!.acked = true;
    sc.advance();
    expect([sc.outstanding.length, sc.spanBytes, sc.outstanding.peek()]).toEqual([2, 70, ms[2]]);
  });

  test("property: canStart matches the window rule for any outstanding set", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 1100, size: "max" }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1024, max: 2_000_000 }),
        (sizes, len, window) => {
          const sc = new SendChannel(0, "reliable-ordered");
          let span = 0;
          for (const s of sizes) {
            sc.outstanding.push(msg(s));
            sc.spanBytes += s;
            span += s;
          }
          const expected = sizes.length === 0 || (sizes.length < MESSAGE_WINDOW && span + len <= window);
          expect(sc.canStart(msg(len), window)).toBe(expected);
        },
      ),
      { seed: SEED + 3, numRuns: 200 },
    );
  });
});

describe("OutMessage", () => {
  test("fragment lengths add up to the message and only the last one is short", () => {
    const m = msg(2500, 3, 1000);
    expect([m.fragLength(0), m.fragLength(1), m.fragLength(2)]).toEqual([1000, 1000, 500]);
    expect(msg(77).fragLength(0)).toBe(77);
  });

  test("per-fragment states are independent; single-part messages use one state", () => {
    const m = msg(2500, 3, 1000);
    m.setState(1, FragState.ACKED);
    expect([m.state(0), m.state(1), m.state(2)]).toEqual([FragState.QUEUED, FragState.ACKED, FragState.QUEUED]);
    const s = msg(10);
    expect(s.states).toBeNull();
    s.setState(0, FragState.RESEND);
    expect(s.state(0)).toBe(FragState.RESEND);
  });
});
