/**
 * Tests of RingQueue (queue.ts) against a plain array model under random
 * sequences of push/shift/unshift/peek/at/clear, including growth past the
 * initial capacity and wrap of the head index.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { RingQueue } from "./queue.ts";

const SEED = 0x9e7e;

type Op =
  | { op: "push"; v: number }
  | { op: "unshift"; v: number }
  | { op: "shift" }
  | { op: "peek" }
  | { op: "at"; i: number }
  | { op: "clear" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.integer().map((v): Op => ({ op: "push", v })) },
  { weight: 2, arbitrary: fc.integer().map((v): Op => ({ op: "unshift", v })) },
  { weight: 4, arbitrary: fc.constant<Op>({ op: "shift" }) },
  { weight: 1, arbitrary: fc.constant<Op>({ op: "peek" }) },
  { weight: 2, arbitrary: fc.integer({ min: -3, max: 80 }).map((i): Op => ({ op: "at", i })) },
  { weight: 1, arbitrary: fc.constant<Op>({ op: "clear" }) },
);

/** Applies `ops` to a RingQueue and to an array, comparing every observable after each step. */
function check(initialCapacity: number, ops: Op[]): void {
  const q = new RingQueue<number>(initialCapacity);
  const model: number[] = [];
  for (const o of ops) {
    switch (o.op) {
      case "push":
        q.push(o.v);
        model.push(o.v);
        break;
      case "unshift":
        q.unshift(o.v);
        model.unshift(o.v);
        break;
      case "shift":
        expect(q.shift()).toBe(model.shift());
        break;
      case "peek":
        expect(q.peek()).toBe(model[0]);
        break;
      case "at":
        expect(q.at(o.i)).toBe(o.i >= 0 ? model[o.i] : undefined);
        break;
      case "clear":
        q.clear();
        model.length = 0;
        break;
    }
    expect(q.length).toBe(model.length);
  }
  for (let i = 0; i < model.length; i++) expect(q.at(i)).toBe(model[i]);
  expect(q.at(model.length)).toBeUndefined();
}

describe("RingQueue", () => {
  test.each([
    ["empty shift and peek", 4, [{ op: "shift" }, { op: "peek" }, { op: "at", i: 0 }] as Op[]],
    ["grows past capacity 1", 1, [1, 2, 3, 4, 5].map((v): Op => ({ op: "push", v }))],
    [
      "unshift into a full, wrapped ring",
      4,
      [
        { op: "push", v: 1 }, { op: "push", v: 2 }, { op: "push", v: 3 }, { op: "shift" },
        { op: "push", v: 4 }, { op: "push", v: 5 }, { op: "unshift", v: 0 }, { op: "unshift", v: -1 },
      ] as Op[],
    ],
    ["capacity 0 rounds up", 0, [{ op: "unshift", v: 7 }, { op: "push", v: 8 }, { op: "at", i: 1 }] as Op[]],
  ])("%s", (_name, cap, ops) => {
    check(cap, ops);
  });

  test("FIFO order over 10,000 items with interleaved shifts", () => {
    const q = new RingQueue<number>(2);
    const out: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      q.push(i);
      if (i % 3 === 0) out.push(q.shift()!);
    }
    while (q.length > 0) out.push(q.shift()!);
    expect(out).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
  });

  test("shift releases the reference it held", () => {
    const q = new RingQueue<object>(2);
    const a = {};
    q.push(a);
    expect(q.shift()).toBe(a);
    expect(q.at(0)).toBeUndefined();
    expect(q.peek()).toBeUndefined();
    expect(q.shift()).toBeUndefined();
  });

  test("property: behaves as an array under random operations", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9 }), fc.array(opArb, { maxLength: 300, size: "max" }), (cap, ops) => check(cap, ops)),
      { seed: SEED, numRuns: 400 },
    );
  });
});
