/**
 * Spatial hash grid in 2D and 3D. Space is cut into cubic cells of
 * `cellSize`; a cell exists only while it holds (or recently held) entities,
 * in an open-addressing hash table keyed by its integer coordinates. Each
 * cell keeps a packed array of its entities' ids, and each entity its cell,
 * its index there and its cell coordinates, so insert, move and remove are
 * O(1) (removal swaps the cell's last id into the hole) and a move within a
 * cell only writes the coordinates. Nothing is allocated per operation except
 * when a cell's array or the table grows (amortized; empty cells are dropped
 * when the table grows).
 *
 * Entity ids are array indices: small non-negative integers (reuse the ids of
 * removed entities, as with array slots). Memory is about 44 bytes per id up
 * to the largest id used.
 *
 * Queries visit the cells overlapping the query's bounding box and test every
 * entity in them exactly; a query box spanning more cells than the table
 * holds scans the table's cells instead, so a huge radius costs O(cells), not
 * O(volume).
 */
import { ErrorCode, FastnetError } from "@fastnet/core/protocol";

export interface GridOptions {
  /** Edge of a cell, world units. About the typical query radius works well. Default 64. */
  cellSize?: number;
  /** Ids the entity arrays start with room for (they grow as needed). Default 1024. */
  initialCapacity?: number;
  /** Largest entity id accepted (memory grows with it). Default 2^24 - 1. */
  maxId?: number;
}

/** Cell coordinates are kept within ±2^30, so |coordinate / cellSize| must stay below that. */
const MAX_CELL = 2 ** 30;
const EMPTY = -1;

export function invalidArgument(message: string): FastnetError {
  return new FastnetError(ErrorCode.INVALID_ARGUMENT, message);
}

export function invalidConfig(message: string): FastnetError {
  return new FastnetError(ErrorCode.INVALID_CONFIG, message);
}

/** Throws FASTNET_INVALID_ARGUMENT unless `v` is a finite number. */
export function checkFinite(name: string, v: number): void {
  // v - v is 0 for finite numbers, NaN for NaN and ±Infinity (and for non-numbers).
  if (typeof v !== "number" || v - v !== 0) throw invalidArgument(`argument '${name}' must be a finite number, got ${String(v)}`);
}

/**
 * How far past `r` a radius query must look: rounding in (x - r), and squared distances that
 * underflow to 0, must never hide a cell holding an entity the exact distance test accepts.
 */
export function radiusPad(x: number, y: number, z: number, r: number): number {
  return r + (Math.abs(x) + Math.abs(y) + Math.abs(z) + r) * 1e-12 + 1e-150;
}

/** One cell: the ids of its entities, packed (order changes as entities leave). */
export class Cell {
  ids: Int32Array;
  count = 0;
  constructor(readonly cx: number, readonly cy: number, readonly cz: number, capacity: number) {
    this.ids = new Int32Array(capacity);
  }

  grow(): void {
    const ids = new Int32Array(this.ids.length * 2);
    ids.set(this.ids);
    this.ids = ids;
  }
}

/** The shared 3D implementation; SpatialHash2D and SpatialHash3D are its typed faces. */
export class GridCore {
  readonly cellSize: number;
  readonly inv: number;
  readonly maxId: number;
  /** Number of entities in the grid. */
  count = 0;

  // Per entity, indexed by id.
  ex: Float64Array;
  ey: Float64Array;
  ez: Float64Array;
  /** Cell coordinates of the entity (a move within the cell compares with these and stops). */
  ecx: Int32Array;
  ecy: Int32Array;
  ecz: Int32Array;
  /** The entity's cell, as a table slot; -1 when the id is not in the grid. */
  ecell: Int32Array;
  /** The entity's index in its cell's arrays. */
  eidx: Int32Array;

  /** Cell table (open addressing, linear probing): the cell in each slot, or undefined. */
  cells: (Cell | undefined)[];
  mask: number;
  /** Slots in use, empty cells included (dropped when the table grows). */
  cellsUsed = 0;

  constructor(options: GridOptions = {}) {
    if (options === null || typeof options !== "object") throw invalidConfig(`grid options must be an object, got ${String(options)}`);
    const cs = options.cellSize ?? 64;
    if (typeof cs !== "number" || !(cs > 0) || cs === Infinity) throw invalidConfig(`option 'cellSize' must be a finite number > 0, got ${String(cs)}`);
    const cap = options.initialCapacity ?? 1024;
    if (!Number.isInteger(cap) || cap < 1 || cap > 2 ** 24) throw invalidConfig(`option 'initialCapacity' must be an integer in [1, 2^24], got ${String(cap)}`);
    const maxId = options.maxId ?? 2 ** 24 - 1;
    if (!Number.isInteger(maxId) || maxId < 0 || maxId > 2 ** 28) throw invalidConfig(`option 'maxId' must be an integer in [0, 2^28], got ${String(maxId)}`);
    this.cellSize = cs;
    this.inv = 1 / cs;
    this.maxId = maxId;
    this.ex = new Float64Array(cap);
    this.ey = new Float64Array(cap);
    this.ez = new Float64Array(cap);
    this.ecx = new Int32Array(cap);
    this.ecy = new Int32Array(cap);
    this.ecz = new Int32Array(cap);
    this.ecell = new Int32Array(cap).fill(EMPTY);
    this.eidx = new Int32Array(cap);
    this.cells = new Array<Cell | undefined>(64).fill(undefined);
    this.mask = 63;
  }

  /** Entity capacity (largest id + 1 the arrays hold now). */
  get capacity(): number {
    return this.ecell.length;
  }

  has(id: number): boolean {
    return id >>> 0 === id && id < this.ecell.length && this.ecell[id] !== EMPTY;
  }

  // ---- Mutations ----

  insert(id: number, x: number, y: number, z: number): void {
    if (id >>> 0 !== id || id > this.maxId) throw invalidArgument(`argument 'id' must be an integer in [0, ${this.maxId}], got ${String(id)}`);
    if (x - x !== 0 || y - y !== 0 || z - z !== 0) throw badCoordinate(x, y, z);
    if (id >= this.ecell.length) this.growEntities(id + 1);
    if (this.ecell[id] !== EMPTY) throw invalidArgument(`argument 'id': entity ${id} is already in the grid (use move)`);
    const cx = this.cellCoord("x", x);
    const cy = this.cellCoord("y", y);
    const cz = this.cellCoord("z", z);
    this.ex[id] = x;
    this.ey[id] = y;
    this.ez[id] = z;
    this.append(id, cx, cy, cz);
    this.count++;
  }

  move(id: number, x: number, y: number, z: number): void {
    if (!(id >>> 0 === id && id < this.ecell.length) || this.ecell[id] === EMPTY) {
      throw invalidArgument(`argument 'id': entity ${String(id)} is not in the grid (use insert)`);
    }
    if (x - x !== 0 || y - y !== 0 || z - z !== 0) throw badCoordinate(x, y, z);
    this.ex[id] = x;
    this.ey[id] = y;
    this.ez[id] = z;
    const inv = this.inv;
    const cx = Math.floor(x * inv);
    const cy = Math.floor(y * inv);
    const cz = Math.floor(z * inv);
    if (cx === this.ecx[id] && cy === this.ecy[id] && cz === this.ecz[id]) return;
    this.cellCoord("x", x);
    this.cellCoord("y", y);
    this.cellCoord("z", z);
    this.detach(id);
    this.append(id, cx, cy, cz);
  }

  /** Removes the entity; returns false when it was not in the grid. */
  remove(id: number): boolean {
    if (!this.has(id)) return false;
    this.detach(id);
    this.ecell[id] = EMPTY;
    this.count--;
    return true;
  }

  /** Removes every entity. */
  clear(): void {
    this.ecell.fill(EMPTY);
    this.cells.fill(undefined);
    this.cellsUsed = 0;
    this.count = 0;
  }

  /** Cell coordinate of `v`, checked to stay within ±2^30. */
  private cellCoord(name: string, v: number): number {
    const c = Math.floor(v * this.inv);
    if (c < -MAX_CELL || c > MAX_CELL) throw invalidArgument(`argument '${name}' (${v}) is too far out for cellSize ${this.cellSize} (|${name} / cellSize| must be under 2^30)`);
    return c;
  }

  private growEntities(need: number): void {
    let cap = this.ecell.length;
    while (cap < need) cap *= 2;
    const grow = <T extends Float64Array | Int32Array>(a: T, fill?: number): T => {
      const b = new (a.constructor as new (n: number) => T)(cap);
      if (fill !== undefined) b.fill(fill);
      b.set(a);
      return b;
    };
    this.ex = grow(this.ex);
    this.ey = grow(this.ey);
    this.ez = grow(this.ez);
    this.ecx = grow(this.ecx);
    this.ecy = grow(this.ecy);
    this.ecz = grow(this.ecz);
    this.ecell = grow(this.ecell, EMPTY);
    this.eidx = grow(this.eidx);
  }

  private append(id: number, cx: number, cy: number, cz: number): void {
    const slot = this.cellSlot(cx, cy, cz);
    const cell = this.cells[slot]!;
    if (cell.count === cell.ids.length) cell.grow();
    const i = cell.count++;
    cell.ids[i] = id;
    this.ecell[id] = slot;
    this.eidx[id] = i;
    this.ecx[id] = cx;
    this.ecy[id] = cy;
    this.ecz[id] = cz;
  }

  /** Takes `id` out of its cell: the cell's last entity fills its place. */
  private detach(id: number): void {
    const cell = this.cells[this.ecell[id]!]!;
    const i = this.eidx[id]!;
    const last = --cell.count;
    if (i !== last) {
      const moved = cell.ids[last]!;
      cell.ids[i] = moved;
      this.eidx[moved] = i;
    }
  }

  // ---- Cell table ----

  static hash(cx: number, cy: number, cz: number): number {
    let h = Math.imul(cx, 0x9e3779b1) ^ Math.imul(cy, 0x85ebca77) ^ Math.imul(cz, 0xc2b2ae3d);
    h ^= h >>> 15;
    return h;
  }

  /** Table slot of cell (cx, cy, cz), or -1. */
  findCell(cx: number, cy: number, cz: number): number {
    const mask = this.mask;
    const cells = this.cells;
    let i = GridCore.hash(cx, cy, cz) & mask;
    for (let c = cells[i]; c !== undefined; c = cells[i]) {
      if (c.cx === cx && c.cy === cy && c.cz === cz) return i;
      i = (i + 1) & mask;
    }
    return -1;
  }

  /** Table slot of cell (cx, cy, cz), created if needed. */
  private cellSlot(cx: number, cy: number, cz: number): number {
    const found = this.findCell(cx, cy, cz);
    if (found >= 0) return found;
    if ((this.cellsUsed + 1) * 2 > this.cells.length) this.rehash();
    const mask = this.mask;
    let i = GridCore.hash(cx, cy, cz) & mask;
    while (this.cells[i] !== undefined) i = (i + 1) & mask;
    this.cells[i] = new Cell(cx, cy, cz, 4);
    this.cellsUsed++;
    return i;
  }

  /** Rebuilds the table with room for 4x its non-empty cells, dropping empty ones. */
  private rehash(): void {
    const old = this.cells;
    let live = 0;
    for (const c of old) if (c !== undefined && c.count > 0) live++;
    let cap = 64;
    while (cap < (live + 1) * 4) cap *= 2;
    this.cells = new Array<Cell | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
    this.cellsUsed = 0;
    for (const c of old) {
      if (c === undefined || c.count === 0) continue;
      let j = GridCore.hash(c.cx, c.cy, c.cz) & this.mask;
      while (this.cells[j] !== undefined) j = (j + 1) & this.mask;
      this.cells[j] = c;
      this.cellsUsed++;
      for (let k = 0; k < c.count; k++) this.ecell[c.ids[k]!] = j;
    }
  }

  // ---- Queries ----

  /**
   * Calls `visit(id)` for every entity in the cells overlapping the box, and (when `exact`) inside
   * it, bounds inclusive. With `dims` 2 the z bounds are ignored. Returns the number visited.
   */
  visitBox(
    minX: number, minY: number, minZ: number, maxX: number, maxY: number, maxZ: number, dims: number, exact: boolean, visit: (id: number) => void,
  ): number {
    const inv = this.inv;
    const cx0 = Math.floor(minX * inv);
    const cx1 = Math.floor(maxX * inv);
    const cy0 = Math.floor(minY * inv);
    const cy1 = Math.floor(maxY * inv);
    const cz0 = dims === 2 ? 0 : Math.floor(minZ * inv);
    const cz1 = dims === 2 ? 0 : Math.floor(maxZ * inv);
    let n = 0;
    const { ex, ey, ez } = this;
    const visitCell = (c: Cell): void => {
      const ids = c.ids;
      for (let i = 0; i < c.count; i++) {
        const e = ids[i]!;
        if (exact) {
          const x = ex[e]!;
          const y = ey[e]!;
          if (x < minX || x > maxX || y < minY || y > maxY) continue;
          if (dims === 3) {
            const z = ez[e]!;
            if (z < minZ || z > maxZ) continue;
          }
        }
        visit(e);
        n++;
      }
    };
    const span = (cx1 - cx0 + 1) * (cy1 - cy0 + 1) * (cz1 - cz0 + 1);
    if (span > this.cellsUsed) {
      for (const c of this.cells) {
        if (c === undefined || c.count === 0) continue;
        if (c.cx >= cx0 && c.cx <= cx1 && c.cy >= cy0 && c.cy <= cy1 && c.cz >= cz0 && c.cz <= cz1) visitCell(c);
      }
      return n;
    }
    for (let cz = cz0; cz <= cz1; cz++) {
      for (let cy = cy0; cy <= cy1; cy++) {
        for (let cx = cx0; cx <= cx1; cx++) {
          const slot = this.findCell(cx, cy, cz);
          if (slot >= 0) visitCell(this.cells[slot]!);
        }
      }
    }
    return n;
  }

  /** Fills `out` with the ids within `r` of (x, y, z) (z ignored with dims 2). Returns `out`. */
  radius(x: number, y: number, z: number, r: number, dims: number, out: number[]): number[] {
    out.length = 0;
    const r2 = r * r;
    const pad = radiusPad(x, y, z, r);
    const inv = this.inv;
    const cx0 = Math.floor((x - pad) * inv);
    const cx1 = Math.floor((x + pad) * inv);
    const cy0 = Math.floor((y - pad) * inv);
    const cy1 = Math.floor((y + pad) * inv);
    const cz0 = dims === 2 ? 0 : Math.floor((z - pad) * inv);
    const cz1 = dims === 2 ? 0 : Math.floor((z + pad) * inv);
    const zz = dims === 2 ? 0 : z;
    const span = (cx1 - cx0 + 1) * (cy1 - cy0 + 1) * (cz1 - cz0 + 1);
    const cells = this.cells;
    if (span > this.cellsUsed) {
      for (const c of cells) {
        if (c === undefined || c.count === 0) continue;
        if (c.cx >= cx0 && c.cx <= cx1 && c.cy >= cy0 && c.cy <= cy1 && c.cz >= cz0 && c.cz <= cz1) this.radiusCell(c, x, y, zz, r2, out);
      }
      return out;
    }
    for (let cz = cz0; cz <= cz1; cz++) {
      for (let cy = cy0; cy <= cy1; cy++) {
        for (let cx = cx0; cx <= cx1; cx++) {
          const slot = this.findCell(cx, cy, cz);
          if (slot >= 0) this.radiusCell(cells[slot]!, x, y, zz, r2, out);
        }
      }
    }
    return out;
  }

  private radiusCell(c: Cell, x: number, y: number, z: number, r2: number, out: number[]): void {
    const { ex, ey, ez } = this;
    const ids = c.ids;
    const n = c.count;
    for (let i = 0; i < n; i++) {
      const e = ids[i]!;
      const dx = ex[e]! - x;
      const dy = ey[e]! - y;
      const dz = ez[e]! - z;
      if (dx * dx + dy * dy + dz * dz <= r2) out.push(e);
    }
  }
}

function badCoordinate(x: number, y: number, z: number): FastnetError {
  const [name, v] = x - x !== 0 ? ["x", x] : y - y !== 0 ? ["y", y] : ["z", z];
  return invalidArgument(`argument '${name}' must be a finite number, got ${String(v)}`);
}

function checkRadius(r: number): void {
  checkFinite("radius", r);
  if (r < 0) throw invalidArgument(`argument 'radius' must be >= 0, got ${r}`);
}

function checkBox(names: string[], lo: number[], hi: number[]): void {
  for (let i = 0; i < lo.length; i++) {
    checkFinite(`min${names[i]}`, lo[i]!);
    checkFinite(`max${names[i]}`, hi[i]!);
  }
}

/** A 2D spatial hash grid (x, y). */
export class SpatialHash2D {
  readonly core: GridCore;
  constructor(options: GridOptions = {}) {
    this.core = new GridCore(options);
  }
  get cellSize(): number {
    return this.core.cellSize;
  }
  get size(): number {
    return this.core.count;
  }
  /** Adds entity `id` at (x, y). Throws FASTNET_INVALID_ARGUMENT for a bad id, an id already present, or a non-finite coordinate. */
  insert(id: number, x: number, y: number): void {
    this.core.insert(id, x, y, 0);
  }
  /** Moves entity `id` to (x, y). O(1); free when it stays in its cell. */
  move(id: number, x: number, y: number): void {
    this.core.move(id, x, y, 0);
  }
  /** Inserts or moves. */
  set(id: number, x: number, y: number): void {
    if (this.core.has(id)) this.core.move(id, x, y, 0);
    else this.core.insert(id, x, y, 0);
  }
  remove(id: number): boolean {
    return this.core.remove(id);
  }
  has(id: number): boolean {
    return this.core.has(id);
  }
  clear(): void {
    this.core.clear();
  }
  /** Position of entity `id` as [x, y], or undefined. */
  position(id: number): [number, number] | undefined {
    return this.core.has(id) ? [this.core.ex[id]!, this.core.ey[id]!] : undefined;
  }
  /** Ids within `radius` of (x, y), boundary included, in no particular order. Fills and returns `out`. */
  queryRadius(x: number, y: number, radius: number, out: number[] = []): number[] {
    checkFinite("x", x);
    checkFinite("y", y);
    checkRadius(radius);
    return this.core.radius(x, y, 0, radius, 2, out);
  }
  /** Ids inside the box [minX, maxX] x [minY, maxY], bounds included. Fills and returns `out`. */
  queryBox(minX: number, minY: number, maxX: number, maxY: number, out: number[] = []): number[] {
    checkBox(["X", "Y"], [minX, minY], [maxX, maxY]);
    out.length = 0;
    this.core.visitBox(minX, minY, 0, maxX, maxY, 0, 2, true, (e) => out.push(e));
    return out;
  }
}

/** A 3D spatial hash grid (x, y, z). */
export class SpatialHash3D {
  readonly core: GridCore;
  constructor(options: GridOptions = {}) {
    this.core = new GridCore(options);
  }
  get cellSize(): number {
    return this.core.cellSize;
  }
  get size(): number {
    return this.core.count;
  }
  insert(id: number, x: number, y: number, z: number): void {
    this.core.insert(id, x, y, z);
  }
  move(id: number, x: number, y: number, z: number): void {
    this.core.move(id, x, y, z);
  }
  set(id: number, x: number, y: number, z: number): void {
    if (this.core.has(id)) this.core.move(id, x, y, z);
    else this.core.insert(id, x, y, z);
  }
  remove(id: number): boolean {
    return this.core.remove(id);
  }
  has(id: number): boolean {
    return this.core.has(id);
  }
  clear(): void {
    this.core.clear();
  }
  position(id: number): [number, number, number] | undefined {
    return this.core.has(id) ? [this.core.ex[id]!, this.core.ey[id]!, this.core.ez[id]!] : undefined;
  }
  queryRadius(x: number, y: number, z: number, radius: number, out: number[] = []): number[] {
    checkFinite("x", x);
    checkFinite("y", y);
    checkFinite("z", z);
    checkRadius(radius);
    return this.core.radius(x, y, z, radius, 3, out);
  }
  queryBox(minX: number, minY: number, minZ: number, maxX: number, maxY: number, maxZ: number, out: number[] = []): number[] {
    checkBox(["X", "Y", "Z"], [minX, minY, minZ], [maxX, maxY, maxZ]);
    out.length = 0;
    this.core.visitBox(minX, minY, minZ, maxX, maxY, maxZ, 3, true, (e) => out.push(e));
    return out;
  }
}
