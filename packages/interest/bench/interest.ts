/**
 * @fastnet/interest benchmark.
 *
 * 1. Grid operations, ns per op (10,000 entities, 2D).
 * 2. A full 60 Hz tick at 10,000 entities and 1,000 observers: move every
 *    entity, then update every observer's enter/stay/leave sets (hysteresis:
 *    enter 100, leave 110), grid vs the naive O(n·m) scan, same run.
 * 3. The crossover: the same tick for growing n (m = n / 10 observers, same
 *    density), grid vs naive; where the grid starts to win. (Run before 2:
 *    after the 10k runs, the JIT leaves the naive scan at mid sizes slower.)
 *
 * World: entities spread uniformly at 2.44 per 1,000 square units (10,000 in
 * 2,024 x 2,024: about 77 within an observer's enter radius), walking at 1.5
 * to 6 units/s and turning every second or so; observers follow the first m
 * entities (the players).
 *
 * Run: bun packages/interest/bench/interest.ts   (add --quick for fewer ticks)
 */
import { SeededRandom } from "@fastnet/core/protocol";
import { SpatialHash2D } from "../src/grid.ts";
import { InterestManager } from "../src/interest.ts";
import { NaiveInterest } from "../src/naive.ts";

const quick = process.argv.includes("--quick");
const DENSITY = 10_000 / (2024 * 2024);
const ENTER = 100;
const LEAVE = 110;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Median ns per call of fn over rounds. */
function measure(fn: (i: number) => void, n: number): number {
  for (let i = 0; i < n; i++) fn(i);
  const rounds: number[] = [];
  for (let r = 0; r < (quick ? 5 : 11); r++) {
    const t = Bun.nanoseconds();
    for (let i = 0; i < n; i++) fn(i);
    rounds.push((Bun.nanoseconds() - t) / n);
  }
  return median(rounds);
}

class World {
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly vx: Float64Array;
  readonly vy: Float64Array;
  readonly side: number;
  private readonly rng: SeededRandom;
  constructor(readonly n: number, seed = 1) {
    this.side = Math.sqrt(n / DENSITY);
    this.rng = new SeededRandom(seed);
    this.x = new Float64Array(n);
    this.y = new Float64Array(n);
    this.vx = new Float64Array(n);
    this.vy = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      this.x[i] = this.rng.nextFloat() * this.side;
      this.y[i] = this.rng.nextFloat() * this.side;
      this.turn(i);
    }
  }
  private turn(i: number): void {
    const a = this.rng.nextFloat() * Math.PI * 2;
    const s = 1.5 + this.rng.nextFloat() * 4.5;
    this.vx[i] = Math.cos(a) * s;
    this.vy[i] = Math.sin(a) * s;
  }
  /** One 60 Hz step of the simulation (not timed: the game's own work). */
  step(): void {
    const side = this.side;
    for (let i = 0; i < this.n; i++) {
      if (this.rng.nextU32() % 60 === 0) this.turn(i);
      let x = this.x[i]! + this.vx[i]! / 60;
      let y = this.y[i]! + this.vy[i]! / 60;
      if (x < 0 || x > side) {
        this.vx[i] = -this.vx[i]!;
        x = Math.min(side, Math.max(0, x));
      }
      if (y < 0 || y > side) {
        this.vy[i] = -this.vy[i]!;
        y = Math.min(side, Math.max(0, y));
      }
      this.x[i] = x;
      this.y[i] = y;
    }
  }
}

interface TickResult {
  /** Median ms per tick: move every entity + update every observer. */
  tickMs: number;
  moveMs: number;
  updateMs: number;
  visibleMean: number;
}

function gridTicks(n: number, m: number, ticks: number, cellSize: number, queryCellSize?: number): TickResult {
  const w = new World(n);
  const mgr = new InterestManager({
    enterRadius: ENTER, leaveRadius: LEAVE, cellSize, initialCapacity: n, ...(queryCellSize !== undefined ? { queryCellSize } : {}),
  });
  for (let i = 0; i < n; i++) mgr.addEntity(i, w.x[i]!, w.y[i]!);
  for (let o = 0; o < m; o++) mgr.addObserver(o, w.x[o]!, w.y[o]!, 0, { follow: o });
  mgr.update();
  const tick: number[] = [];
  const moves: number[] = [];
  const updates: number[] = [];
  let visible = 0;
  const warm = Math.min(60, ticks);
  const { x, y } = w;
  for (let t = 0; t < ticks + warm; t++) {
    w.step();
    const t0 = Bun.nanoseconds();
    for (let i = 0; i < n; i++) mgr.moveEntity(i, x[i]!, y[i]!);
    const t1 = Bun.nanoseconds();
    mgr.update();
    const t2 = Bun.nanoseconds();
    if (t < warm) continue;
    moves.push((t1 - t0) / 1e6);
    updates.push((t2 - t1) / 1e6);
    tick.push((t2 - t0) / 1e6);
    visible += mgr.lastUpdate.observers > 0 ? mgr.visible(t % m).length : 0;
  }
  return { tickMs: median(tick), moveMs: median(moves), updateMs: median(updates), visibleMean: visible / ticks };
}

function naiveTicks(n: number, m: number, ticks: number): TickResult {
  const w = new World(n);
  const nv = new NaiveInterest(ENTER, LEAVE);
  for (let i = 0; i < n; i++) nv.setEntity(i, w.x[i]!, w.y[i]!);
  for (let o = 0; o < m; o++) nv.setObserver(o, w.x[o]!, w.y[o]!);
  nv.update();
  const tick: number[] = [];
  const updates: number[] = [];
  const moves: number[] = [];
  const warm = Math.min(5, ticks);
  const { x, y } = w;
  for (let t = 0; t < ticks + warm; t++) {
    w.step();
    const t0 = Bun.nanoseconds();
    for (let i = 0; i < n; i++) nv.setEntity(i, x[i]!, y[i]!);
    for (let o = 0; o < m; o++) nv.setObserver(o, x[o]!, y[o]!);
    const t1 = Bun.nanoseconds();
    nv.update();
    const t2 = Bun.nanoseconds();
    if (t < warm) continue;
    moves.push((t1 - t0) / 1e6);
    updates.push((t2 - t1) / 1e6);
    tick.push((t2 - t0) / 1e6);
  }
  return { tickMs: median(tick), moveMs: median(moves), updateMs: median(updates), visibleMean: 0 };
}

/** The grid and the naive scan agree on the 10k world (a sanity check of what is being timed). */
function crossCheck(n: number, m: number): void {
  const w = new World(n, 7);
  const mgr = new InterestManager({ enterRadius: ENTER, leaveRadius: LEAVE });
  const nv = new NaiveInterest(ENTER, LEAVE);
  for (let i = 0; i < n; i++) {
    mgr.addEntity(i, w.x[i]!, w.y[i]!);
    nv.setEntity(i, w.x[i]!, w.y[i]!);
  }
  for (let o = 0; o < m; o++) {
    mgr.addObserver(o, w.x[o]!, w.y[o]!, 0, { follow: o });
    nv.setObserver(o, w.x[o]!, w.y[o]!);
  }
  for (let t = 0; t < 5; t++) {
    w.step();
    for (let i = 0; i < n; i++) {
      mgr.moveEntity(i, w.x[i]!, w.y[i]!);
      nv.setEntity(i, w.x[i]!, w.y[i]!);
    }
    for (let o = 0; o < m; o++) nv.setObserver(o, w.x[o]!, w.y[o]!);
    mgr.update();
    nv.update();
    for (let o = 0; o < m; o++) {
      const a = Array.from(mgr.visible(o)).sort((p, q) => p - q).join();
      const b = [...nv.visible(o)].sort((p, q) => p - q).join();
      if (a !== b) throw new Error(`grid and naive disagree for observer ${o} at tick ${t}`);
    }
  }
}

console.log(`@fastnet/interest benchmark, ${quick ? "quick" : "full"} run, Bun ${Bun.version}, ${process.arch}, ${navigator.hardwareConcurrency} CPUs`);

// 1. Grid operations.
{
  const n = 10_000;
  const w = new World(n);
  const g = new SpatialHash2D({ cellSize: LEAVE, initialCapacity: n });
  for (let i = 0; i < n; i++) g.insert(i, w.x[i]!, w.y[i]!);
  const out: number[] = [];
  const iters = quick ? 20_000 : 100_000;
  const nsMoveSame = measure((i) => {
    const id = i % n;
    g.move(id, w.x[id]!, w.y[id]! + ((i & 1) === 0 ? 0.001 : -0.001));
  }, iters);
  const nsMoveCross = measure((i) => {
    const id = i % n;
    g.move(id, w.x[id]! + ((i >> 14) & 1 ? 0 : LEAVE), w.y[id]!);
  }, iters);
  const nsInsertRemove = measure((i) => {
    const id = n + (i & 1023);
    g.insert(id, (i * 7919) % w.side, (i * 104729) % w.side);
    g.remove(id);
  }, iters);
  let found = 0;
  const nsQuery = measure((i) => {
    found = g.queryRadius(w.x[i % n]!, w.y[i % n]!, ENTER, out).length;
  }, quick ? 5_000 : 20_000);
  console.log("");
  console.log("| grid operation (10,000 entities, cell 110) | ns / op |");
  console.log("|---|---:|");
  console.log(`| move, same cell | ${nsMoveSame.toFixed(0)} |`);
  console.log(`| move, to another cell | ${nsMoveCross.toFixed(0)} |`);
  console.log(`| insert + remove | ${nsInsertRemove.toFixed(0)} |`);
  console.log(`| queryRadius r=100 (~${found} found, into a reused array) | ${nsQuery.toFixed(0)} |`);
}

// 3. Crossover.
console.log("");
console.log("| n entities (m = n/10 observers) | grid ms/tick | naive ms/tick | naive / grid |");
console.log("|---:|---:|---:|---:|");
let crossover: number | undefined;
for (const n of [20, 50, 100, 200, 500, 1_000, 2_000, 5_000]) {
  const m = Math.max(1, Math.round(n / 10));
  // Small worlds tick in microseconds: run more ticks. A warm-up run of each first, so the JIT
  // has seen this size before anything is recorded.
  const t = Math.max(quick ? 100 : 400, Math.round((quick ? 20_000 : 100_000) / n));
  naiveTicks(n, m, t >> 2);
  const nv = naiveTicks(n, m, t);
  gridTicks(n, m, t >> 2, LEAVE);
  const g = gridTicks(n, m, t, LEAVE);
  if (crossover === undefined && g.tickMs < nv.tickMs) crossover = n;
  console.log(`| ${n} | ${g.tickMs.toFixed(4)} | ${nv.tickMs.toFixed(4)} | ${(nv.tickMs / g.tickMs).toFixed(2)} |`);
}
console.log(`crossover: the grid is faster from n = ${crossover ?? "beyond 5,000"} (m = n/10) at this density.`);

// 2. The full tick at 10k / 1k.
crossCheck(10_000, 1_000);
const ticks = quick ? 60 : 240;
console.log("");
console.log("| full tick: 10,000 entities move, 1,000 observers update (enter 100, leave 110) | ms / tick (median) | move | update | visible / observer |");
console.log("|---|---:|---:|---:|---:|");
let best: TickResult | undefined;
for (const [cell, q] of [[110, undefined], [55, undefined], [220, undefined], [110, 55], [110, 110 / 6]] as const) {
  const r = gridTicks(10_000, 1_000, ticks, cell, q);
  const isDefault = cell === 110 && q === undefined;
  if (isDefault) best = r;
  const label = `grid, cellSize ${cell}, queryCellSize ${q === undefined ? "36.7" : q.toFixed(1)}${isDefault ? " (defaults: leave radius, leave radius / 3)" : ""}`;
  console.log(`| ${label} | ${isDefault ? "**" : ""}${r.tickMs.toFixed(3)}${isDefault ? "**" : ""} | ${r.moveMs.toFixed(3)} | ${r.updateMs.toFixed(3)} | ${r.visibleMean.toFixed(1)} |`);
}
const naive = naiveTicks(10_000, 1_000, quick ? 3 : 8);
console.log(`| naive O(n·m) scan | ${naive.tickMs.toFixed(3)} | ${naive.moveMs.toFixed(3)} | ${naive.updateMs.toFixed(3)} | |`);
console.log(`grid (defaults) is ${(naive.tickMs / best!.tickMs).toFixed(1)}x faster than the naive scan; ${best!.tickMs < 2 ? "under" : "OVER"} the 2 ms target.`);
