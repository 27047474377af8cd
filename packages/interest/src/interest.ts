/**
 * Area of interest: which entities each observer (a client's camera or
 * avatar) should hear about, updated once per tick as enter / stay / leave
 * sets, with hysteresis: an entity enters an observer's set within
 * `enterRadius` and leaves it only beyond `leaveRadius` (>= enterRadius), so
 * an entity walking along the boundary does not flap in and out.
 *
 * update() first packs every entity into arrays sorted by a fine cell
 * (queryCellSize; counting sort, O(n)), so that a row of cells is one
 * contiguous range. Per observer it then scans, row by row, the x-span its
 * leave circle covers: an entity already in the set (a bit in the observer's
 * bitset) stays while within the leave radius, one not in the set enters
 * within the enter radius, and members not seen leave (removed entities
 * included). Cost per observer: the entities near its circle, not the world.
 * A sparse world (populated box much larger than the entity count) skips the
 * packing and walks the hash grid's cells instead. Nothing is allocated per
 * tick once the per-observer lists have grown to their working size.
 */
import { GridCore, checkFinite, invalidArgument, invalidConfig, radiusPad, type Cell, type GridOptions } from "./grid.ts";

export interface InterestOptions extends Omit<GridOptions, "cellSize"> {
  /** 2 (x, y) or 3 (x, y, z). Default 2. */
  dimensions?: 2 | 3;
  /** Default enter radius of observers, world units. Default 100. */
  enterRadius?: number;
  /** Default leave radius, world units, >= enterRadius. Default enterRadius x 1.1. */
  leaveRadius?: number;
  /** Grid cell edge, world units. Default: the leave radius. */
  cellSize?: number;
  /** Largest observer id. Default 2^20. */
  maxObserverId?: number;
  /**
   * Edge of the cells of the sorted index update() builds each tick, world units: finer cells
   * trim each observer's scan closer to its circle. Default: the leave radius / 3.
   */
  queryCellSize?: number;
}

export interface ObserverOptions {
  /** Default: the manager's enterRadius. */
  enterRadius?: number;
  /** Default: the manager's leaveRadius (or enterRadius, if that is larger). */
  leaveRadius?: number;
  /** Entity whose position the observer takes at every update (a player's avatar). Default none. */
  follow?: number;
}

const NONE = -1;

class ObserverState {
  x = 0;
  y = 0;
  z = 0;
  enterRadius = 0;
  leaveRadius = 0;
  enter2 = 0;
  leave2 = 0;
  follow = NONE;
  members = new Int32Array(16);
  memberCount = 0;
  entered = new Int32Array(16);
  enteredCount = 0;
  left = new Int32Array(16);
  leftCount = 0;
  /** Membership bitset by entity id (grown on demand). */
  bits = new Uint32Array(8);
  /** Index in the manager's active list. */
  index = 0;
}

function grown(a: Int32Array, need: number): Int32Array<ArrayBuffer> {
  let cap = a.length * 2;
  while (cap < need) cap *= 2;
  const b = new Int32Array(cap);
  b.set(a);
  return b;
}

export interface UpdateStats {
  /** Observers updated. */
  observers: number;
  /** Entity distance tests made. */
  candidates: number;
  entered: number;
  left: number;
  /** Whether the packed index was used (false: a sparse world, observers walked the hash grid). */
  packed: boolean;
}

export class InterestManager {
  readonly dimensions: 2 | 3;
  readonly enterRadius: number;
  readonly leaveRadius: number;
  readonly maxObserverId: number;
  /** The entities' spatial hash (read it; change entities through the manager). */
  readonly grid: GridCore;
  private observers: (ObserverState | undefined)[] = [];
  private active = new Int32Array(64);
  private activeCount = 0;
  /** Per-observer scratch: bit set = member seen within the leave radius this update (all zero between observers). */
  private seen = new Uint32Array(0);
  // The packed index update() builds: entities sorted by cell, cells dense over the populated box.
  private packed = false;
  private px = new Float64Array(0);
  private py = new Float64Array(0);
  private pz = new Float64Array(0);
  private pid = new Int32Array(0);
  /** Dense fine cell of each entity, by id (pack's scratch). */
  private pcell = new Int32Array(0);
  private cellStart = new Int32Array(0);
  /** Edge of the packed index's cells (finer than the hash grid's). */
  readonly queryCellSize: number;
  private readonly packInv: number;
  private minCx = 0;
  private minCy = 0;
  private minCz = 0;
  private maxCx = 0;
  private maxCy = 0;
  private maxCz = 0;
  private spanX = 0;
  private spanY = 0;
  /** Counters of the last update(). */
  readonly lastUpdate: UpdateStats = { observers: 0, candidates: 0, entered: 0, left: 0, packed: false };

  constructor(options: InterestOptions = {}) {
    if (options === null || typeof options !== "object") throw invalidConfig(`interest options must be an object, got ${String(options)}`);
    const dims = options.dimensions ?? 2;
    if (dims !== 2 && dims !== 3) throw invalidConfig(`option 'dimensions' must be 2 or 3, got ${String(dims)}`);
    const enter = options.enterRadius ?? 100;
    if (typeof enter !== "number" || !(enter > 0) || enter === Infinity) throw invalidConfig(`option 'enterRadius' must be a finite number > 0, got ${String(enter)}`);
    const leave = options.leaveRadius ?? enter * 1.1;
    if (typeof leave !== "number" || !(leave >= enter) || leave === Infinity) {
      throw invalidConfig(`option 'leaveRadius' must be a finite number >= enterRadius (${enter}), got ${String(leave)}`);
    }
    const maxObs = options.maxObserverId ?? 2 ** 20;
    if (!Number.isInteger(maxObs) || maxObs < 0 || maxObs > 2 ** 24) throw invalidConfig(`option 'maxObserverId' must be an integer in [0, 2^24], got ${String(maxObs)}`);
    this.dimensions = dims;
    this.enterRadius = enter;
    this.leaveRadius = leave;
    this.maxObserverId = maxObs;
    const qcs = options.queryCellSize ?? leave / 3;
    if (typeof qcs !== "number" || !(qcs > 0) || qcs === Infinity) throw invalidConfig(`option 'queryCellSize' must be a finite number > 0, got ${String(qcs)}`);
    this.queryCellSize = qcs;
    this.packInv = 1 / qcs;
    this.grid = new GridCore({ ...options, cellSize: options.cellSize ?? leave });
  }

  // ---- Entities ----

  /** Adds entity `id` (z is ignored in 2D). Throws FASTNET_INVALID_ARGUMENT on a bad id or a non-finite coordinate. */
  addEntity(id: number, x: number, y: number, z = 0): void {
    this.grid.insert(id, x, y, this.dimensions === 3 ? z : 0);
  }

  moveEntity(id: number, x: number, y: number, z = 0): void {
    this.grid.move(id, x, y, this.dimensions === 3 ? z : 0);
  }

  /** Adds or moves. */
  setEntity(id: number, x: number, y: number, z = 0): void {
    const zz = this.dimensions === 3 ? z : 0;
    if (this.grid.has(id)) this.grid.move(id, x, y, zz);
    else this.grid.insert(id, x, y, zz);
  }

  /** Removes entity `id`; observers that saw it get it in `left` at the next update. */
  removeEntity(id: number): boolean {
    return this.grid.remove(id);
  }

  hasEntity(id: number): boolean {
    return this.grid.has(id);
  }

  get entityCount(): number {
    return this.grid.count;
  }

  // ---- Observers ----

  addObserver(id: number, x: number, y: number, z = 0, options: ObserverOptions = {}): void {
    if (!Number.isInteger(id) || id < 0 || id > this.maxObserverId) {
      throw invalidArgument(`argument 'id' must be an integer in [0, ${this.maxObserverId}], got ${String(id)}`);
    }
    if (this.observers[id] !== undefined) throw invalidArgument(`argument 'id': observer ${id} already exists`);
    const st = new ObserverState();
    this.place(st, x, y, z);
    const enter = options.enterRadius ?? this.enterRadius;
    const leave = options.leaveRadius ?? Math.max(this.leaveRadius, enter);
    this.radii(st, enter, leave);
    if (options.follow !== undefined) this.setFollow(st, options.follow);
    while (this.observers.length <= id) this.observers.push(undefined);
    this.observers[id] = st;
    if (this.activeCount === this.active.length) this.active = grown(this.active, this.activeCount + 1);
    st.index = this.activeCount;
    this.active[this.activeCount++] = id;
  }

  moveObserver(id: number, x: number, y: number, z = 0): void {
    this.place(this.observer(id), x, y, z);
  }

  /** Changes an observer's radii (leaveRadius >= enterRadius > 0). */
  setObserverRadius(id: number, enterRadius: number, leaveRadius: number = enterRadius): void {
    this.radii(this.observer(id), enterRadius, leaveRadius);
  }

  /** Makes the observer take entity `entity`'s position at every update (-1: stop following). */
  follow(id: number, entity: number): void {
    this.setFollow(this.observer(id), entity);
  }

  removeObserver(id: number): boolean {
    const st = Number.isInteger(id) && id >= 0 ? this.observers[id] : undefined;
    if (st === undefined) return false;
    this.observers[id] = undefined;
    const last = this.active[--this.activeCount]!;
    this.active[st.index] = last;
    this.observers[last]!.index = st.index;
    return true;
  }

  hasObserver(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && this.observers[id] !== undefined;
  }

  get observerCount(): number {
    return this.activeCount;
  }

  /** Ids of the active observers (a copy). */
  observerIds(): number[] {
    return Array.from(this.active.subarray(0, this.activeCount));
  }

  private observer(id: number): ObserverState {
    const st = Number.isInteger(id) && id >= 0 ? this.observers[id] : undefined;
    if (st === undefined) throw invalidArgument(`argument 'id': observer ${String(id)} does not exist`);
    return st;
  }

  private place(st: ObserverState, x: number, y: number, z: number): void {
    checkFinite("x", x);
    checkFinite("y", y);
    if (this.dimensions === 3) checkFinite("z", z);
    st.x = x;
    st.y = y;
    st.z = this.dimensions === 3 ? z : 0;
  }

  private radii(st: ObserverState, enter: number, leave: number): void {
    checkFinite("enterRadius", enter);
    checkFinite("leaveRadius", leave);
    if (!(enter > 0)) throw invalidArgument(`argument 'enterRadius' must be > 0, got ${enter}`);
    if (!(leave >= enter)) throw invalidArgument(`argument 'leaveRadius' must be >= enterRadius (${enter}), got ${leave}`);
    st.enterRadius = enter;
    st.leaveRadius = leave;
    st.enter2 = enter * enter;
    st.leave2 = leave * leave;
  }

  private setFollow(st: ObserverState, entity: number): void {
    if (!Number.isInteger(entity) || entity < -1) throw invalidArgument(`argument 'follow' must be an entity id or -1, got ${String(entity)}`);
    st.follow = entity;
  }

  // ---- Results (valid until the next update) ----

  /** The observer's interest set after the last update, in no particular order: a view, valid until the next update. */
  visible(id: number): Int32Array {
    const st = this.observer(id);
    return st.members.subarray(0, st.memberCount);
  }

  /** Entities that entered the set at the last update (a view). Those in `visible` but not here stayed. */
  entered(id: number): Int32Array {
    const st = this.observer(id);
    return st.entered.subarray(0, st.enteredCount);
  }

  /** Entities that left the set at the last update (a view): out of the leave radius, or removed. */
  left(id: number): Int32Array {
    const st = this.observer(id);
    return st.left.subarray(0, st.leftCount);
  }

  /** Whether `entity` is in the observer's set (after the last update). O(1). */
  isVisible(id: number, entity: number): boolean {
    const st = this.observers[id];
    if (st === undefined || !(entity >= 0)) return false;
    const w = entity >>> 5;
    return w < st.bits.length && (st.bits[w]! & (1 << (entity & 31))) !== 0;
  }

  /** The observer's current position and radii. */
  observerInfo(id: number): { x: number; y: number; z: number; enterRadius: number; leaveRadius: number; follow: number } {
    const st = this.observer(id);
    return { x: st.x, y: st.y, z: st.z, enterRadius: st.enterRadius, leaveRadius: st.leaveRadius, follow: st.follow };
  }

  // ---- The tick ----

  /** Recomputes every observer's set; read the results with visible / entered / left / isVisible. */
  update(): void {
    const g = this.grid;
    const words = (g.capacity + 31) >>> 5;
    if (this.seen.length < words) this.seen = new Uint32Array(words);
    const stats = this.lastUpdate;
    stats.observers = this.activeCount;
    stats.candidates = 0;
    stats.entered = 0;
    stats.left = 0;
    stats.packed = false;
    if (this.activeCount === 0) return;
    this.packed = this.pack();
    stats.packed = this.packed;
    for (let a = 0; a < this.activeCount; a++) {
      const st = this.observers[this.active[a]!]!;
      if (st.bits.length < words) {
        const b = new Uint32Array(words);
        b.set(st.bits);
        st.bits = b;
      }
      this.updateObserver(st);
    }
  }

  /**
   * Builds the packed index: every entity copied into arrays sorted by a fine cell (queryCellSize),
   * the cells laid out densely (x fastest) over the populated box, so that a row of cells is one
   * contiguous range. An observer then scans, per row, only the x-span its circle covers there.
   * O(entities + box cells); skipped (false) when the box is much larger than the entity count
   * (a sparse world: observers then walk the hash grid's cells).
   */
  private pack(): boolean {
    const g = this.grid;
    const n = g.count;
    if (n === 0) return false;
    const inv = this.packInv;
    const dims3 = this.dimensions === 3;
    const { ex, ey, ez, ecell } = g;
    const cap = ecell.length;
    if (this.pid.length < n) {
      const size = Math.max(n, this.pid.length * 2);
      this.px = new Float64Array(size);
      this.py = new Float64Array(size);
      this.pz = new Float64Array(size);
      this.pid = new Int32Array(size);
    }
    if (this.pcell.length < cap) this.pcell = new Int32Array(Math.max(cap, this.pcell.length * 2));
    // The bounds of the fine cells, from the hash grid's populated cells (a few hundred, not every entity).
    let cx0 = Infinity;
    let cy0 = Infinity;
    let cz0 = Infinity;
    let cx1 = -Infinity;
    let cy1 = -Infinity;
    let cz1 = -Infinity;
    for (const c of g.cells) {
      if (c === undefined || c.count === 0) continue;
      if (c.cx < cx0) cx0 = c.cx;
      if (c.cx > cx1) cx1 = c.cx;
      if (c.cy < cy0) cy0 = c.cy;
      if (c.cy > cy1) cy1 = c.cy;
      if (c.cz < cz0) cz0 = c.cz;
      if (c.cz > cz1) cz1 = c.cz;
    }
    // A coarse cell [c, c + 1) x cellSize covers fine cells floor(c x cellSize / q) .. floor((c + 1) x cellSize / q);
    // one fine cell of margin each side absorbs rounding.
    const cs = g.cellSize;
    const x0 = Math.floor(cx0 * cs * inv) - 1;
    const x1 = Math.floor((cx1 + 1) * cs * inv) + 1;
    const y0 = Math.floor(cy0 * cs * inv) - 1;
    const y1 = Math.floor((cy1 + 1) * cs * inv) + 1;
    const z0 = dims3 ? Math.floor(cz0 * cs * inv) - 1 : 0;
    const z1 = dims3 ? Math.floor((cz1 + 1) * cs * inv) + 1 : 0;
    const w = x1 - x0 + 1;
    const h = y1 - y0 + 1;
    const volume = w * h * (z1 - z0 + 1);
    if (!(volume <= Math.max(4096, n * 4))) return false;
    const vx1 = x1;
    const vy1 = y1;
    const vz1 = z1;
    if (this.cellStart.length < volume + 1) this.cellStart = new Int32Array(Math.max(volume + 1, this.cellStart.length * 2));
    const start = this.cellStart;
    start.fill(0, 0, volume + 1);
    // Pass 2: each entity's dense cell, counted.
    const pcell = this.pcell;
    for (let e = 0; e < cap; e++) {
      if (ecell[e] === -1) continue;
      let fx = Math.floor(ex[e]! * inv);
      let fy = Math.floor(ey[e]! * inv);
      let fz = dims3 ? Math.floor(ez[e]! * inv) : 0;
      // Never outside the box (the margin makes this a no-op; it keeps a rounding surprise from writing out of range).
      fx = fx < x0 ? x0 : fx > vx1 ? vx1 : fx;
      fy = fy < y0 ? y0 : fy > vy1 ? vy1 : fy;
      fz = fz < z0 ? z0 : fz > vz1 ? vz1 : fz;
      const d = ((fz - z0) * h + (fy - y0)) * w + (fx - x0);
      pcell[e] = d;
      start[d + 1]!++;
    }
    for (let d = 0; d < volume; d++) start[d + 1]! += start[d]!;
    // Pass 3: place, using start[] as the cursor, then shift it back (start[d] = old start[d - 1]).
    const { px, py, pz, pid } = this;
    for (let e = 0; e < cap; e++) {
      if (ecell[e] === -1) continue;
      const o = start[pcell[e]!]!++;
      pid[o] = e;
      px[o] = ex[e]!;
      py[o] = ey[e]!;
      pz[o] = ez[e]!;
    }
    for (let d = volume; d > 0; d--) start[d] = start[d - 1]!;
    start[0] = 0;
    this.minCx = x0;
    this.minCy = y0;
    this.minCz = z0;
    this.maxCx = x1;
    this.maxCy = y1;
    this.maxCz = z1;
    this.spanX = w;
    this.spanY = h;
    return true;
  }

  private updateObserver(st: ObserverState): void {
    const g = this.grid;
    if (st.follow !== NONE && g.has(st.follow)) {
      st.x = g.ex[st.follow]!;
      st.y = g.ey[st.follow]!;
      st.z = g.ez[st.follow]!;
    }
    // Membership lives in the observer's bitset (bits), which stays in L1 cache while the
    // observer is processed: a member found within the leave radius is marked in `seen`; a
    // non-member within the enter radius enters (its bit is set at once); members not seen leave.
    const bits = st.bits;
    const seen = this.seen;
    const members = st.members;
    const mc = st.memberCount;
    st.enteredCount = 0;
    st.leftCount = 0;

    const r = radiusPad(st.x, st.y, st.z, st.leaveRadius);
    const inv = g.inv;
    const cx0 = Math.floor((st.x - r) * inv);
    const cx1 = Math.floor((st.x + r) * inv);
    const cy0 = Math.floor((st.y - r) * inv);
    const cy1 = Math.floor((st.y + r) * inv);
    const cz0 = this.dimensions === 3 ? Math.floor((st.z - r) * inv) : 0;
    const cz1 = this.dimensions === 3 ? Math.floor((st.z + r) * inv) : 0;
    const cells = (cx1 - cx0 + 1) * (cy1 - cy0 + 1) * (cz1 - cz0 + 1);
    let candidates = 0;
    if (this.packed) {
      candidates = this.dimensions === 2 ? this.scanPacked2D(st, r) : this.scanPacked3D(st, r);
    } else if (cells > g.cellsUsed) {
      // A radius wider than the populated world: walk the table instead of the volume.
      for (const c of g.cells) {
        if (c === undefined || c.count === 0) continue;
        if (c.cx >= cx0 && c.cx <= cx1 && c.cy >= cy0 && c.cy <= cy1 && c.cz >= cz0 && c.cz <= cz1) candidates += this.scanCell(c, st);
      }
    } else {
      const table = g.cells;
      for (let cz = cz0; cz <= cz1; cz++) {
        for (let cy = cy0; cy <= cy1; cy++) {
          for (let cx = cx0; cx <= cx1; cx++) {
            const slot = g.findCell(cx, cy, cz);
            if (slot >= 0) candidates += this.scanCell(table[slot]!, st);
          }
        }
      }
    }

    // Members not seen within the leave radius leave (their bit is cleared); the rest stay and
    // their `seen` bit is cleared for the next observer; then the entered join.
    let k = 0;
    for (let i = 0; i < mc; i++) {
      const m = members[i]!;
      const w = m >>> 5;
      const b = 1 << (m & 31);
      if ((seen[w]! & b) !== 0) {
        seen[w]! &= ~b;
        members[k++] = m;
      } else {
        if (st.leftCount === st.left.length) st.left = grown(st.left, st.leftCount + 1);
        st.left[st.leftCount++] = m;
        bits[w]! &= ~b;
      }
    }
    const ne = st.enteredCount;
    if (k + ne > members.length) st.members = grown(members, k + ne);
    const out = st.members;
    const entered = st.entered;
    for (let i = 0; i < ne; i++) out[k + i] = entered[i]!;
    st.memberCount = k + ne;
    const stats = this.lastUpdate;
    stats.candidates += candidates;
    stats.entered += ne;
    stats.left += st.leftCount;
  }

  /**
   * 2D, packed index: per row of fine cells, scans only the x-span the (padded) circle covers
   * in that row. This loop is the tick's hot path: everything in locals, no growth check inside.
   */
  private scanPacked2D(st: ObserverState, r: number): number {
    const cs = this.queryCellSize;
    const pinv = this.packInv;
    const rr = r * r;
    const ox = st.x;
    const oy = st.y;
    const leave2 = st.leave2;
    const enter2 = st.enter2;
    const bits = st.bits;
    const seen = this.seen;
    const px = this.px;
    const py = this.py;
    const pid = this.pid;
    const start = this.cellStart;
    const minCx = this.minCx;
    const maxCx = this.maxCx;
    const minCy = this.minCy;
    const w = this.spanX;
    let entered = st.entered;
    let ne = 0;
    let candidates = 0;
    const slack = cs * 1e-9 + Math.abs(oy) * 1e-12;
    const y0 = Math.max(Math.floor((oy - r) * pinv), minCy);
    const y1 = Math.min(Math.floor((oy + r) * pinv), this.maxCy);
    for (let fy = y0; fy <= y1; fy++) {
      const lo = fy * cs;
      let dy = oy < lo ? lo - oy : oy > lo + cs ? oy - lo - cs : 0;
      dy = dy > slack ? dy - slack : 0;
      const rest = rr - dy * dy;
      if (rest < 0) continue;
      const half = Math.sqrt(rest);
      const x0 = Math.max(Math.floor((ox - half) * pinv), minCx);
      const x1 = Math.min(Math.floor((ox + half) * pinv), maxCx);
      if (x0 > x1) continue;
      const row = (fy - minCy) * w - minCx;
      const from = start[row + x0]!;
      const to = start[row + x1 + 1]!;
      candidates += to - from;
      if (ne + to - from > entered.length) entered = st.entered = grown(entered, ne + to - from);
      for (let i = from; i < to; i++) {
        const dx = px[i]! - ox;
        const ddy = py[i]! - oy;
        const d2 = dx * dx + ddy * ddy;
        if (d2 <= leave2) {
          const e = pid[i]!;
          const wd = e >>> 5;
          const b = 1 << (e & 31);
          if ((bits[wd]! & b) !== 0) seen[wd]! |= b;
          else if (d2 <= enter2) {
            bits[wd]! |= b;
            entered[ne++] = e;
          }
        }
      }
    }
    st.enteredCount = ne;
    return candidates;
  }

  /** 3D, packed index: the same per row of fine cells (y, z). */
  private scanPacked3D(st: ObserverState, r: number): number {
    const cs = this.queryCellSize;
    const pinv = this.packInv;
    const rr = r * r;
    const ox = st.x;
    const oy = st.y;
    const oz = st.z;
    const leave2 = st.leave2;
    const enter2 = st.enter2;
    const bits = st.bits;
    const seen = this.seen;
    const px = this.px;
    const py = this.py;
    const pz = this.pz;
    const pid = this.pid;
    const start = this.cellStart;
    const minCx = this.minCx;
    const maxCx = this.maxCx;
    const minCy = this.minCy;
    const minCz = this.minCz;
    const w = this.spanX;
    const h = this.spanY;
    let entered = st.entered;
    let ne = 0;
    let candidates = 0;
    const slack = cs * 1e-9 + (Math.abs(oy) + Math.abs(oz)) * 1e-12;
    const y0 = Math.max(Math.floor((oy - r) * pinv), minCy);
    const y1 = Math.min(Math.floor((oy + r) * pinv), this.maxCy);
    const z0 = Math.max(Math.floor((oz - r) * pinv), minCz);
    const z1 = Math.min(Math.floor((oz + r) * pinv), this.maxCz);
    for (let fz = z0; fz <= z1; fz++) {
      const zlo = fz * cs;
      let dz = oz < zlo ? zlo - oz : oz > zlo + cs ? oz - zlo - cs : 0;
      dz = dz > slack ? dz - slack : 0;
      for (let fy = y0; fy <= y1; fy++) {
        const lo = fy * cs;
        let dy = oy < lo ? lo - oy : oy > lo + cs ? oy - lo - cs : 0;
        dy = dy > slack ? dy - slack : 0;
        const rest = rr - dy * dy - dz * dz;
        if (rest < 0) continue;
        const half = Math.sqrt(rest);
        const x0 = Math.max(Math.floor((ox - half) * pinv), minCx);
        const x1 = Math.min(Math.floor((ox + half) * pinv), maxCx);
        if (x0 > x1) continue;
        const row = ((fz - minCz) * h + (fy - minCy)) * w - minCx;
        const from = start[row + x0]!;
        const to = start[row + x1 + 1]!;
        candidates += to - from;
        if (ne + to - from > entered.length) entered = st.entered = grown(entered, ne + to - from);
        for (let i = from; i < to; i++) {
          const dx = px[i]! - ox;
          const ddy = py[i]! - oy;
          const ddz = pz[i]! - oz;
          const d2 = dx * dx + ddy * ddy + ddz * ddz;
          if (d2 <= leave2) {
            const e = pid[i]!;
            const wd = e >>> 5;
            const b = 1 << (e & 31);
            if ((bits[wd]! & b) !== 0) seen[wd]! |= b;
            else if (d2 <= enter2) {
              bits[wd]! |= b;
              entered[ne++] = e;
            }
          }
        }
      }
    }
    st.enteredCount = ne;
    return candidates;
  }

  /** Tests the entities of one cell against the observer (the path without a packed index); returns how many it tested. */
  private scanCell(c: Cell, st: ObserverState): number {
    const { ex, ey, ez } = this.grid;
    const ids = c.ids;
    const n = c.count;
    const bits = st.bits;
    const seen = this.seen;
    const x = st.x;
    const y = st.y;
    const z = st.z;
    const leave2 = st.leave2;
    const enter2 = st.enter2;
    for (let i = 0; i < n; i++) {
      const e = ids[i]!;
      const dx = ex[e]! - x;
      const dy = ey[e]! - y;
      const dz = ez[e]! - z;
      const d2 = dx * dx + dy * dy + dz * dz;
      if (d2 > leave2) continue;
      const w = e >>> 5;
      const b = 1 << (e & 31);
      if ((bits[w]! & b) !== 0) seen[w]! |= b;
      else if (d2 <= enter2) {
        bits[w]! |= b;
        if (st.enteredCount === st.entered.length) st.entered = grown(st.entered, st.enteredCount + 1);
        st.entered[st.enteredCount++] = e;
      }
    }
    return n;
  }
}
