import { describe, expect, test } from "bun:test";
import { ErrorCode } from "@fastnet/core/protocol";
import fc from "fast-check";
import { InterestManager, type InterestOptions } from "./interest.ts";
import { NaiveInterest } from "./naive.ts";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

const sorted = (a: ArrayLike<number>): number[] => Array.from(a).sort((x, y) => x - y);

const c = fc.oneof(fc.double({ min: -300, max: 300, noNaN: true }), fc.integer({ min: -30, max: 30 }).map((k) => k * 10));
const p3 = fc.tuple(c, c, c);
type TickOp = { kind: 0 | 1 | 2 | 3 | 4; id: number; p: [number, number, number]; step: [number, number, number] };
const tickOp: fc.Arbitrary<TickOp> = fc.record({
  // 0: small step, 1: teleport, 2: remove, 3: (re)add, 4: move an observer
  kind: fc.constantFrom(0, 0, 0, 1, 2, 3, 4) as fc.Arbitrary<0 | 1 | 2 | 3 | 4>,
  id: fc.nat(299),
  p: p3,
  step: fc.tuple(fc.double({ min: -15, max: 15, noNaN: true }), fc.double({ min: -15, max: 15, noNaN: true }), fc.double({ min: -15, max: 15, noNaN: true })),
});

function compareWithNaive(
  dims: 2 | 3, enter: number, leaveFactor: number, cellFactor: number, world: [number, number, number][], observers: [number, number, number][],
  ticks: TickOp[][], onPacked?: () => void,
): void {
  const leave = enter * leaveFactor;
  const m = new InterestManager({ dimensions: dims, enterRadius: enter, leaveRadius: leave, cellSize: leave * cellFactor, initialCapacity: 8 });
  const n = new NaiveInterest(enter, leave);
  const pos = new Map<number, [number, number, number]>();
  const z = (p: [number, number, number]): number => (dims === 3 ? p[2] : 0);
  world.forEach((p, id) => {
    m.addEntity(id, p[0], p[1], p[2]);
    n.setEntity(id, p[0], p[1], z(p));
    pos.set(id, p);
  });
  observers.forEach((p, id) => {
    m.addObserver(id, p[0], p[1], p[2]);
    n.setObserver(id, p[0], p[1], z(p));
  });
  for (const ops of [[], ...ticks]) {
    for (const op of ops) {
      const id = op.id % (world.length + 10);
      const cur = pos.get(id);
      if (op.kind === 4) {
        const o = op.id % observers.length;
        m.moveObserver(o, op.p[0], op.p[1], op.p[2]);
        n.setObserver(o, op.p[0], op.p[1], z(op.p));
      } else if (op.kind === 2) {
        expect(m.removeEntity(id)).toBe(cur !== undefined);
        n.removeEntity(id);
        pos.delete(id);
      } else if (op.kind === 3 || cur === undefined) {
        m.setEntity(id, op.p[0], op.p[1], op.p[2]);
        n.setEntity(id, op.p[0], op.p[1], z(op.p));
        pos.set(id, op.p);
      } else {
        const next: [number, number, number] = op.kind === 1 ? op.p : [cur[0] + op.step[0], cur[1] + op.step[1], cur[2] + op.step[2]];
        m.moveEntity(id, next[0], next[1], next[2]);
        n.setEntity(id, next[0], next[1], z(next));
        pos.set(id, next);
      }
    }
    m.update();
    n.update();
    if (m.lastUpdate.packed) onPacked?.();
    for (let o = 0; o < observers.length; o++) {
      expect(sorted(m.visible(o))).toEqual(sorted(n.visible(o)));
      expect(sorted(m.entered(o))).toEqual(sorted(n.entered(o)));
      expect(sorted(m.left(o))).toEqual(sorted(n.left(o)));
      for (const e of n.visible(o)) expect(m.isVisible(o, e)).toBe(true);
      for (const e of n.left(o)) expect(m.isVisible(o, e)).toBe(false);
    }
  }
}

describe("interest manager", () => {
  for (const dims of [2, 3] as const) {
    for (const seed of [1, 2, 3]) {
      test(`${dims}D: enter / stay / leave sets equal the naive O(n·m) scan's for random worlds and moves (seed ${seed})`, () => {
        fc.assert(
          fc.property(
            fc.constantFrom(20, 50, 80),
            fc.constantFrom(1, 1.2, 1.5),
            fc.constantFrom(0.25, 0.5, 1, 2),
            fc.array(p3, { minLength: 1, maxLength: 250 }),
            fc.array(p3, { minLength: 1, maxLength: 12 }),
            fc.array(fc.array(tickOp, { maxLength: 120 }), { minLength: 1, maxLength: 6 }),
            (enter, lf, cf, world, observers, ticks) => compareWithNaive(dims, enter, lf, cf, world, observers, ticks),
          ),
          { seed: seed * 100 + dims, numRuns: 40 },
        );
      });
    }
  }

  for (const dims of [2, 3] as const) {
    test(`${dims}D: in dense worlds (the packed index path) the sets equal the naive scan's`, () => {
      const d = fc.oneof(fc.double({ min: -100, max: 100, noNaN: true }), fc.integer({ min: -10, max: 10 }).map((k) => k * 10));
      const q3 = fc.tuple(d, d, d);
      let packedRuns = 0;
      fc.assert(
        fc.property(
          fc.constantFrom(40, 60, 80),
          fc.constantFrom(1, 1.2),
          fc.array(q3, { minLength: 30, maxLength: 250 }),
          fc.array(q3, { minLength: 1, maxLength: 8 }),
          fc.array(fc.array(tickOp.map((o) => ({ ...o, p: [o.p[0] / 3, o.p[1] / 3, o.p[2] / 3] as [number, number, number] })), { maxLength: 80 }), { minLength: 1, maxLength: 4 }),
          (enter, lf, world, observers, ticks) => {
            compareWithNaive(dims, enter, lf, 1, world, observers, ticks, () => packedRuns++);
          },
        ),
        { seed: 70 + dims, numRuns: 40 },
      );
      expect(packedRuns).toBeGreaterThan(40);
    });
  }

  test("hysteresis: an entity pacing across the enter radius, inside the leave radius, enters once and never flaps", () => {
    const m = new InterestManager({ enterRadius: 100, leaveRadius: 120 });
    m.addObserver(0, 0, 0);
    m.addEntity(7, 150, 0);
    const events: string[] = [];
    const xs = [150, 99, 105, 98, 115, 101, 119, 100, 119.9, 121, 110, 100];
    for (const x of xs) {
      m.moveEntity(7, x, 0);
      m.update();
      if (m.entered(0).length > 0) events.push(`enter@${x}`);
      if (m.left(0).length > 0) events.push(`leave@${x}`);
    }
    // In at 99, stays through 119.9 (beyond the enter radius, inside the leave one), out at 121,
    // not back at 110 (outside the enter radius), back in at 100.
    expect(events).toEqual(["enter@99", "leave@121", "enter@100"]);
  });

  test("without hysteresis (leave = enter) the same walk flaps", () => {
    const m = new InterestManager({ enterRadius: 100, leaveRadius: 100 });
    m.addObserver(0, 0, 0);
    m.addEntity(7, 150, 0);
    let changes = 0;
    for (const x of [99, 105, 98, 115, 99, 119]) {
      m.moveEntity(7, x, 0);
      m.update();
      changes += m.entered(0).length + m.left(0).length;
    }
    expect(changes).toBe(6);
  });

  test("a removed entity leaves every observer that saw it at the next update", () => {
    const m = new InterestManager({ enterRadius: 50 });
    m.addObserver(1, 0, 0);
    m.addObserver(2, 10, 0);
    m.addEntity(5, 5, 0);
    m.update();
    expect([...m.visible(1)]).toEqual([5]);
    m.removeEntity(5);
    m.update();
    expect([...m.left(1)]).toEqual([5]);
    expect([...m.left(2)]).toEqual([5]);
    expect(m.isVisible(1, 5)).toBe(false);
  });

  test("an observer following an entity sees around it as it moves", () => {
    const m = new InterestManager({ enterRadius: 10 });
    m.addEntity(0, 0, 0);
    m.addEntity(1, 100, 0);
    m.addObserver(0, 0, 0, 0, { follow: 0 });
    m.update();
    expect(sorted(m.visible(0))).toEqual([0]);
    m.moveEntity(0, 95, 0);
    m.update();
    expect(sorted(m.visible(0))).toEqual([0, 1]);
    expect(m.observerInfo(0).x).toBe(95);
    m.follow(0, -1);
    m.moveEntity(0, 500, 0);
    m.update();
    expect(sorted(m.visible(0))).toEqual([1]);
  });

  test("observers have their own radii, and removing one keeps the others", () => {
    const m = new InterestManager({ enterRadius: 10 });
    for (let i = 0; i < 10; i++) m.addEntity(i, i * 10, 0);
    m.addObserver(0, 0, 0);
    m.addObserver(1, 0, 0, 0, { enterRadius: 45, leaveRadius: 50 });
    m.addObserver(2, 90, 0);
    m.update();
    expect(sorted(m.visible(0))).toEqual([0, 1]);
    expect(sorted(m.visible(1))).toEqual([0, 1, 2, 3, 4]);
    expect(m.removeObserver(0)).toBe(true);
    expect(m.removeObserver(0)).toBe(false);
    m.setObserverRadius(2, 20, 25);
    m.update();
    expect(sorted(m.visible(2))).toEqual([7, 8, 9]);
    expect(m.observerIds().sort()).toEqual([1, 2]);
    m.addObserver(0, 50, 0);
    m.update();
    expect(sorted(m.visible(0))).toEqual([4, 5, 6]);
  });

  test("a 3D manager uses z; a 2D one ignores it", () => {
    const m3 = new InterestManager({ dimensions: 3, enterRadius: 10 });
    const m2 = new InterestManager({ dimensions: 2, enterRadius: 10 });
    for (const m of [m2, m3]) {
      m.addEntity(1, 0, 0, 50);
      m.addObserver(0, 0, 0, 0);
      m.update();
    }
    expect([...m2.visible(0)]).toEqual([1]);
    expect([...m3.visible(0)]).toEqual([]);
  });

  const m = new InterestManager({ dimensions: 3 });
  m.addEntity(1, 0, 0, 0);
  m.addObserver(1, 0, 0, 0);
  test.each<[string, () => unknown]>([
    ["addEntity with x NaN", () => m.addEntity(2, NaN, 0, 0)],
    ["addEntity with z Infinity", () => m.addEntity(2, 0, 0, Infinity)],
    ["moveEntity with y -Infinity", () => m.moveEntity(1, 0, -Infinity, 0)],
    ["setEntity with x NaN", () => m.setEntity(3, NaN, 0, 0)],
    ["addObserver with y NaN", () => m.addObserver(2, 0, NaN, 0)],
    ["moveObserver with z NaN", () => m.moveObserver(1, 0, 0, NaN)],
    ["moveObserver with x Infinity", () => m.moveObserver(1, Infinity, 0, 0)],
    ["an enter radius of NaN", () => m.setObserverRadius(1, NaN, 10)],
    ["an infinite leave radius", () => m.setObserverRadius(1, 10, Infinity)],
    ["a leave radius under the enter radius", () => m.setObserverRadius(1, 10, 5)],
    ["a zero enter radius", () => m.addObserver(3, 0, 0, 0, { enterRadius: 0 })],
    ["an unknown observer", () => m.moveObserver(99, 0, 0, 0)],
    ["a duplicate observer", () => m.addObserver(1, 0, 0, 0)],
    ["a negative observer id", () => m.addObserver(-1, 0, 0, 0)],
    ["a fractional follow id", () => m.follow(1, 0.5)],
    ["reading the sets of an unknown observer", () => m.visible(42)],
  ])("throws FASTNET_INVALID_ARGUMENT on %s", (_what, fn) => {
    expect(codeOf(fn)).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  test("a NaN coordinate changes nothing", () => {
    m.update();
    expect([...m.visible(1)]).toEqual([1]);
    expect(m.entityCount).toBe(1);
    expect(m.observerCount).toBe(1);
  });

  test.each<[string, InterestOptions]>([
    ["dimensions 4", { dimensions: 4 as 2 }],
    ["a NaN enter radius", { enterRadius: NaN }],
    ["a leave radius under the enter radius", { enterRadius: 10, leaveRadius: 9 }],
    ["an infinite leave radius", { leaveRadius: Infinity }],
    ["a zero cell size", { cellSize: 0 }],
  ])("throws FASTNET_INVALID_CONFIG on %s", (_what, options) => {
    expect(codeOf(() => new InterestManager(options))).toBe(ErrorCode.INVALID_CONFIG);
  });
});
