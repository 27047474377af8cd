import { describe, expect, test } from "bun:test";
import { ErrorCode } from "@fastnet/core/protocol";
import fc from "fast-check";
import { SpatialHash2D, SpatialHash3D } from "./grid.ts";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

const sorted = (a: number[]): number[] => [...a].sort((x, y) => x - y);

/** Coordinates with plenty of cell-boundary values (multiples of small cell sizes) and negatives. */
const coord = fc.oneof(
  fc.double({ min: -600, max: 600, noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -40, max: 40 }).map((k) => k * 16),
  fc.integer({ min: -600, max: 600 }),
);

type Op =
  | { op: "insert"; id: number; p: [number, number, number] }
  | { op: "move"; id: number; p: [number, number, number] }
  | { op: "remove"; id: number }
  | { op: "radius"; p: [number, number, number]; r: number }
  | { op: "box"; a: [number, number, number]; b: [number, number, number] };

const point = fc.tuple(coord, coord, coord);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant("insert" as const), id: fc.nat(60), p: point }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant("move" as const), id: fc.nat(60), p: point }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant("remove" as const), id: fc.nat(60) }), weight: 1 },
  // ids beyond 60 only insert: the tables and entity arrays grow under test.
  { arbitrary: fc.record({ op: fc.constant("radius" as const), p: point, r: fc.oneof(fc.double({ min: 0, max: 400, noNaN: true }), fc.integer({ min: 0, max: 64 })) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant("box" as const), a: point, b: point }), weight: 2 },
);

/** Runs ops on the grid and on a plain map, comparing every query with a naive scan. */
function runModel(dims: 2 | 3, cellSize: number, ops: Op[]): void {
  const g2 = new SpatialHash2D({ cellSize, initialCapacity: 4 });
  const g3 = new SpatialHash3D({ cellSize, initialCapacity: 4 });
  const model = new Map<number, [number, number, number]>();
  for (const o of ops) {
    switch (o.op) {
      case "insert":
        if (model.has(o.id)) continue;
        model.set(o.id, dims === 2 ? [o.p[0], o.p[1], 0] : o.p);
        if (dims === 2) g2.insert(o.id, o.p[0], o.p[1]);
        else g3.insert(o.id, ...o.p);
        break;
      case "move":
        if (!model.has(o.id)) continue;
        model.set(o.id, dims === 2 ? [o.p[0], o.p[1], 0] : o.p);
        if (dims === 2) g2.move(o.id, o.p[0], o.p[1]);
        else g3.move(o.id, ...o.p);
        break;
      case "remove": {
        const had = model.delete(o.id);
        expect(dims === 2 ? g2.remove(o.id) : g3.remove(o.id)).toBe(had);
        break;
      }
      case "radius": {
        const [x, y, z] = o.p;
        const want: number[] = [];
        for (const [id, [ex, ey, ez]] of model) {
          const dx = ex - x;
          const dy = ey - y;
          const dz = dims === 3 ? ez - z : 0;
          if (dx * dx + dy * dy + dz * dz <= o.r * o.r) want.push(id);
        }
        const got = dims === 2 ? g2.queryRadius(x, y, o.r) : g3.queryRadius(x, y, z, o.r);
        expect(sorted(got)).toEqual(sorted(want));
        break;
      }
      case "box": {
        const lo = o.a.map((v, i) => Math.min(v, o.b[i]!));
        const hi = o.a.map((v, i) => Math.max(v, o.b[i]!));
        const want: number[] = [];
        for (const [id, p] of model) {
          let inside = true;
          for (let i = 0; i < dims; i++) if (p[i]! < lo[i]! || p[i]! > hi[i]!) inside = false;
          if (inside) want.push(id);
        }
        const got = dims === 2 ? g2.queryBox(lo[0]!, lo[1]!, hi[0]!, hi[1]!) : g3.queryBox(lo[0]!, lo[1]!, lo[2]!, hi[0]!, hi[1]!, hi[2]!);
        expect(sorted(got)).toEqual(sorted(want));
        break;
      }
    }
  }
  expect(dims === 2 ? g2.size : g3.size).toBe(model.size);
}

describe("spatial hash grid", () => {
  for (const dims of [2, 3] as const) {
    for (const seed of [1, 2, 3]) {
      test(`${dims}D: radius and box queries equal a naive scan for random worlds and moves (seed ${seed})`, () => {
        fc.assert(
          fc.property(fc.constantFrom(1, 7.5, 16, 50, 333), fc.array(opArb, { minLength: 1, maxLength: 150 }), (cellSize, ops) => runModel(dims, cellSize, ops)),
          { seed: seed * 10 + dims, numRuns: 150 },
        );
      });
    }
  }

  for (const dims of [2, 3] as const) {
    test(`${dims}D: in dense worlds (where queries walk cells, not the table) queries equal a naive scan`, () => {
      const small = fc.oneof(fc.double({ min: -200, max: 200, noNaN: true }), fc.integer({ min: -20, max: 20 }).map((k) => k * 10));
      const p3 = fc.tuple(small, small, small);
      fc.assert(
        fc.property(
          fc.constantFrom(10, 25, 64),
          fc.array(p3, { minLength: 100, maxLength: 400 }),
          fc.array(fc.tuple(fc.nat(399), p3), { maxLength: 200 }),
          fc.array(fc.tuple(p3, fc.oneof(fc.double({ min: 0, max: 80, noNaN: true }), fc.constantFrom(0, 10, 25, 64))), { minLength: 1, maxLength: 30 }),
          (cellSize, initial, moves, queries) => {
            const ops: Op[] = initial.map((p, id) => ({ op: "insert", id, p }));
            for (const [id, p] of moves) ops.push({ op: "move", id: id % initial.length, p });
            for (const [p, r] of queries) {
              ops.push({ op: "radius", p, r });
              ops.push({ op: "box", a: [p[0] - r, p[1] - r, p[2] - r], b: [p[0] + r, p[1] + r, p[2] + r] });
            }
            runModel(dims, cellSize, ops);
          },
        ),
        { seed: 40 + dims, numRuns: 60 },
      );
    });
  }

  test("entities crossing many cells keep the table consistent as it grows and drops empty cells", () => {
    const g = new SpatialHash2D({ cellSize: 1, initialCapacity: 2 });
    for (let id = 0; id < 50; id++) g.insert(id, id, 0);
    for (let step = 1; step <= 200; step++) for (let id = 0; id < 50; id++) g.move(id, id + step * 3, step);
    expect(g.core.cellsUsed).toBeLessThan(2000);
    expect(sorted(g.queryBox(-1e6, -1e6, 1e6, 1e6))).toEqual(Array.from({ length: 50 }, (_, i) => i));
    for (let id = 0; id < 50; id++) expect(g.queryRadius(id + 600, 200, 0.5)).toEqual([id]);
  });

  test("a radius wider than the populated world scans the table, not the volume", () => {
    const g = new SpatialHash3D({ cellSize: 0.001 });
    for (let i = 0; i < 10; i++) g.insert(i, i, i, i);
    expect(sorted(g.queryRadius(0, 0, 0, 1e7))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(sorted(g.queryBox(-1e8, -1e8, -1e8, 1e8, 1e8, 1e8))).toHaveLength(10);
  });

  test("set, has, position, remove and clear behave like a map", () => {
    const g = new SpatialHash2D();
    g.set(3, 1, 2);
    g.set(3, 5, 6);
    expect(g.has(3)).toBe(true);
    expect(g.position(3)).toEqual([5, 6]);
    expect(g.remove(3)).toBe(true);
    expect(g.remove(3)).toBe(false);
    expect(g.remove(-1)).toBe(false);
    expect(g.position(3)).toBeUndefined();
    g.set(1, 0, 0);
    g.clear();
    expect(g.size).toBe(0);
    expect(g.queryRadius(0, 0, 10)).toEqual([]);
    g.insert(1, 0, 0);
    expect(g.queryRadius(0, 0, 10)).toEqual([1]);
  });

  const g2 = new SpatialHash2D({ cellSize: 10 });
  g2.insert(1, 0, 0);
  const g3 = new SpatialHash3D({ cellSize: 10 });
  g3.insert(1, 0, 0, 0);
  test.each<[string, () => unknown]>([
    ["insert with x NaN", () => g2.insert(2, NaN, 0)],
    ["insert with y Infinity", () => g2.insert(2, 0, Infinity)],
    ["insert with z -Infinity", () => g3.insert(2, 0, 0, -Infinity)],
    ["move with x NaN", () => g2.move(1, NaN, 0)],
    ["move with z NaN", () => g3.move(1, 0, 0, NaN)],
    ["set with y NaN", () => g2.set(5, 0, NaN)],
    ["a coordinate too far out for the cell size", () => g2.insert(2, 1e300, 0)],
    ["queryRadius with x NaN", () => g2.queryRadius(NaN, 0, 5)],
    ["queryRadius with radius Infinity", () => g2.queryRadius(0, 0, Infinity)],
    ["queryRadius with a negative radius", () => g3.queryRadius(0, 0, 0, -1)],
    ["queryBox with a NaN bound", () => g2.queryBox(0, 0, NaN, 1)],
    ["queryBox 3D with an infinite bound", () => g3.queryBox(0, 0, 0, 1, 1, Infinity)],
    ["a negative id", () => g2.insert(-1, 0, 0)],
    ["a fractional id", () => g2.insert(1.5, 0, 0)],
    ["an id over maxId", () => new SpatialHash2D({ maxId: 10 }).insert(11, 0, 0)],
    ["inserting an id already present", () => g2.insert(1, 0, 0)],
    ["moving an id not present", () => g2.move(7, 0, 0)],
  ])("throws FASTNET_INVALID_ARGUMENT on %s", (_what, fn) => {
    expect(codeOf(fn)).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  test("a failed call leaves the grid unchanged", () => {
    expect(g2.queryRadius(0, 0, 1)).toEqual([1]);
    expect(g2.size).toBe(1);
  });

  test.each<[string, object]>([
    ["cellSize 0", { cellSize: 0 }],
    ["cellSize NaN", { cellSize: NaN }],
    ["cellSize Infinity", { cellSize: Infinity }],
    ["initialCapacity 0", { initialCapacity: 0 }],
    ["maxId -1", { maxId: -1 }],
  ])("throws FASTNET_INVALID_CONFIG on %s", (_what, options) => {
    expect(codeOf(() => new SpatialHash2D(options))).toBe(ErrorCode.INVALID_CONFIG);
  });
});
